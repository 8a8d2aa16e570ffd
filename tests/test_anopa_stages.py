"""anopa's own stage scripts (aa-stage1, aa-stage2, aa-stage3) booting and
powering off a PID namespace on ovis's aa-* commands.

The scripts come from the seed (../shared/seeds/000_fd1d526f21b0b976.txt beside the repository,
anopa commit 06bf843 "Add stage{0..4}"), with only the mechanical changes
DESIGN.md allows: @BINDIR@ and @LIBEXECDIR@ filled in, and ``import -u VAR``
(gone from execline 2.9) written ``importas -u VAR VAR``.

In ``unshare --pid --fork --mount --mount-proc --propagation private``, as
PID 1: /etc/anopa (env/, services/, enabled/, onboot/default/) and
/bin/aa-chroot (the standalone script) come from the test through overlays
(neither exists on the host), /var/log and /dev/console are test files, /run
is a fresh tmpfs holding /run/initramfs (a tmpfs with the host's /usr, a
/shutdown that records its argument and the processes still alive, and the
test's out/ directory).  aa-stage1 enables the services (aa-enable -f
aa-stage3), becomes s6-svscan, aa-stage2 starts onboot/default and says
"System ready."; the test checks every service with aa-status and ovis
status from inside (nsenter), then ``aa-shutdown -p``: s6-svscan exits into
aa-stage3 with "poweroff", which stops everything, kills what is left, pivots
into /run/initramfs and runs ``/shutdown poweroff``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from ovis.cli.aa.chroot import standalone_script
from tests.vmtools.anopa import SEED, extract_stages, mechanical

from .nsutil import namespace_problem, skip_or_fail

SCRIPTS = Path(sysconfig.get_path("scripts"))
REPO = Path(__file__).resolve().parent.parent
STAGES = ("aa-stage1", "aa-stage2", "aa-stage3")
BINDIR_LINKS = {  # what @BINDIR@ must hold (Debian's places)
    "execlineb": "/usr/bin/execlineb",
    "emptyenv": "/usr/lib/execline/bin/emptyenv",
    "s6-envdir": "/usr/bin/s6-envdir",
    "exec": "/usr/lib/execline/bin/exec",
}

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _skip(reason: str) -> None:
    """Skip, saying why; under CI=true a failure (CI has shared/ beside the clone)."""
    skip_or_fail(reason)


def test_extract_is_mechanical_only() -> None:
    if not SEED.exists():
        _skip(f"seed {SEED} is absent (shared/ beside the repository)")
    stages = extract_stages(SEED.read_text())
    assert set(STAGES) <= set(stages)
    assert stages["aa-stage1"].startswith("#!@BINDIR@/execlineb -P\n")
    assert stages["aa-stage3"].endswith("./aa-chroot . /shutdown ${1}\n")
    out = mechanical(stages["aa-stage2"], Path("/B"), Path("/L"))
    assert "importas -u LISTDIR LISTDIR\n" in out and "import -u" not in out
    assert out.startswith("#!/B/execlineb -P\n")


SETUP = r"""
import os, sys
from ovis.linux import syscalls as sc
if os.getpid() != 1:
    sys.exit(99)                          # not our own PID namespace: touch nothing
T, STAGE1 = sys.argv[1], sys.argv[2]
p = lambda *n: os.path.join(T, *n)
sc.mount("overlay", "/etc", "overlay", 0,
         "lowerdir=/etc,upperdir=%s,workdir=%s" % (p("etc-up"), p("etc-work")))
sc.mount("overlay", "/usr/bin", "overlay", 0,
         "lowerdir=/usr/bin,upperdir=%s,workdir=%s" % (p("bin-up"), p("bin-work")))
sc.mount(p("varlog"), "/var/log", None, sc.MS_BIND)
sc.mount(p("console"), "/dev/console", None, sc.MS_BIND)
sc.mount("run", "/run", "tmpfs", 0, "mode=0755,size=64m")
R = "/run/initramfs"
os.mkdir(R)
sc.mount("initramfs", R, "tmpfs", 0, "mode=0755,size=16m")
for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
    src, dst = "/" + name, os.path.join(R, name)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    elif os.path.isdir(src):
        os.mkdir(dst)
        sc.mount(src, dst, None, sc.MS_BIND | sc.MS_REC)
for d in ("root-fs", "out", "dev", "proc", "tmp"):
    os.mkdir(os.path.join(R, d))
sc.mount(p("out"), R + "/out", None, sc.MS_BIND)
with open(R + "/shutdown", "w") as f:
    f.write('''#!/bin/sh
# what is still alive (the old root's /proc is at /root-fs/proc), then the action
for d in /root-fs/proc/[0-9]*; do
    read -r c < "$d/comm" && echo "${d##*/} $c"
done > /out/procs
echo "$@" > /out/shutdown-arg
''')
os.chmod(R + "/shutdown", 0o755)
os.execv(STAGE1, [STAGE1])
"""


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        if body.startswith("#!"):
            path.chmod(0o755)


def _ns_init(unshare_pid: int) -> int | None:
    try:
        kids = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def test_stage1_to_stage3_in_a_pid_namespace(tmp_path: Path) -> None:
    if not SEED.exists():
        _skip(f"seed {SEED} is absent (shared/ beside the repository)")
    problem = namespace_problem()
    if problem is not None:
        _skip(problem)
    for tool in ("s6-svscan", "execlineb", "s6-envdir", "s6-tai64n", "s6-setsid", "s6-svc", "s6-log",
                 "nsenter"):
        if shutil.which(tool) is None:
            _skip(f"{tool} is not installed")
    for target in BINDIR_LINKS.values():
        if not os.path.exists(target):
            _skip(f"{target} is missing")
    if "overlay" not in Path("/proc/filesystems").read_text():
        _skip("no overlay filesystem (needed to add /etc/anopa and /bin/aa-chroot)")
    for tool in ("aa-enable", "aa-start", "aa-stop", "aa-status", "aa-shutdown", "aa-echo", "aa-test",
                 "aa-kill", "aa-pivot", "aa-mvlog", "aa-incmdline", "aa-sync"):
        if not (SCRIPTS / tool).exists():
            _skip(f"{tool} is not installed (pip install -e .)")

    T = tmp_path
    bindir, libexec = T / "bin", T / "libexec"
    bindir.mkdir()
    libexec.mkdir()
    for name, target in BINDIR_LINKS.items():
        (bindir / name).symlink_to(target)
    for name, text in extract_stages(SEED.read_text()).items():
        if name in STAGES:
            (libexec / name).write_text(mechanical(text, bindir, libexec))
            (libexec / name).chmod(0o755)

    anopa = T / "etc-up" / "anopa"
    path = f"{SCRIPTS}:/usr/lib/execline/bin:/usr/bin:/usr/sbin:/bin:/sbin"
    _tree(anopa, {
        "env/PATH": path + "\n",
        # the catch-all logger: reads the fifo stage 1 points everything at
        "services/uncaught-logs/run": "#!/bin/sh\nexec cat < fifo\n",
        "services/uncaught-logs/log/run": "#!/bin/sh\nexec s6-log t /var/log/uncaught-logs\n",
        "services/setup/start": "#!/bin/sh\necho setting up\n: > /var/log/setup-ran\n",
        "services/setup/stop": "#!/bin/sh\necho tearing down\n",
        "services/daemon/run": "#!/bin/sh\nexec sleep 1000\n",
        "services/daemon/needs/setup": "",
        "services/ready/run": "#!/bin/sh\necho >&3\nexec sleep 1001\n",
        "services/ready/notification-fd": "3\n",
        "enabled/uncaught-logs": "",
        "enabled/daemon": "",
        "enabled/ready": "",
        "onboot/default/daemon": "",
        "onboot/default/ready": "",
    })
    os.mkfifo(anopa / "services/uncaught-logs/fifo")
    for d in ("etc-work", "bin-up", "bin-work", "varlog/boot", "out"):
        (T / d).mkdir(parents=True)
    (T / "bin-up" / "aa-chroot").write_text(standalone_script())
    (T / "bin-up" / "aa-chroot").chmod(0o755)
    (T / "console").touch()

    env = {"PATH": path, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    log = open(T / "unshare.log", "wb")
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private",
         "--kill-child", sys.executable, "-c", SETUP, str(T), str(libexec / "aa-stage1")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)

    def logs() -> str:
        parts = [f"--- {f}:\n{f.read_text(errors='replace')}" for f in
                 [T / "unshare.log", T / "console", *sorted((T / "varlog").rglob("*")),]
                 if f.is_file()]
        return "\n".join(parts)

    def ns(*argv: str) -> subprocess.CompletedProcess[str]:
        init = _ns_init(proc.pid)
        assert init is not None, logs()
        return subprocess.run(["nsenter", "-t", str(init), "-p", "-m", "--", *argv],
                              capture_output=True, text=True, env=env, timeout=30)

    try:
        deadline = time.monotonic() + 40
        while "System ready." not in (T / "console").read_text(errors="replace"):
            assert proc.poll() is None, f"PID 1 exited {proc.returncode}\n{logs()}"
            assert time.monotonic() < deadline, f"no 'System ready.'\n{logs()}"
            time.sleep(0.1)
        console = (T / "console").read_text()
        assert "Stage 2: Initializing system..." in console
        assert "setup: setting up" in console and "==> ready: Ready" in console
        assert (T / "varlog/setup-ran").exists()

        r = ns(str(SCRIPTS / "aa-status"), "-a", "-L", "-N")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert re.match(r"daemon +longrun .* Up \(PID \d+\)$", lines[1]), r.stdout
        assert re.match(r"ready +longrun .* Up & Ready \(PID \d+\)$", lines[2]), r.stdout
        assert re.match(r"setup +oneshot .* Started$", lines[3]), r.stdout
        assert re.match(r"uncaught-logs +longrun .* Up \(PID \d+\)$", lines[4]), r.stdout
        r = ns(sys.executable, "-m", "ovis", "--live", "/run/services", "--json", "status")
        assert r.returncode == 0, r.stderr
        states = {it["name"]: it["state"] for it in json.loads(r.stdout)}
        assert states == {"daemon": "up", "ready": "up", "setup": "up", "uncaught-logs": "up"}

        r = ns(str(SCRIPTS / "aa-shutdown"), "-p")
        assert r.returncode == 0, r.stderr
        assert proc.wait(40) == 0, logs()
    finally:
        if proc.poll() is None:
            proc.kill()  # unshare --kill-child takes the namespace with it
            proc.wait()
        log.close()

    assert (T / "out/shutdown-arg").read_text() == "poweroff\n", logs()
    # nothing but PID 1 (the /shutdown script itself) was left
    assert (T / "out/procs").read_text() == "1 shutdown\n", logs()
    boot_log = "".join(f.read_text(errors="replace") for f in (T / "varlog/boot").iterdir()
                       if f.is_file() and not f.is_symlink())
    assert "Stage 1: Preparing system..." in boot_log and "System ready." in boot_log
    assert "Stage 3: Preparing poweroff..." in boot_log
    assert "==> setup: Stopped" in boot_log and "==> daemon: Stopped" in boot_log
    assert "==> aa-stop: Completed." in boot_log

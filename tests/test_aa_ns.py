"""The aa-* tools that need root, for real, inside fresh PID + mount namespaces.

Each snippet runs as PID 1 of its own namespaces (tests/nsutil.py) and
checks that first, so aa-kill/aa-reboot can only ever hit the namespace.
aa-terminate runs only after pivoting into a private tmpfs root whose mounts
are all ours (it never remounts anything, but it does unmount everything it
sees).  Nothing outlives a snippet: the kernel kills the namespace with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from ovis.cli.aa.chroot import standalone_script

from .nsutil import BIND_SYSTEM, NS_ARGS, REPO, SCRIPTS, require_namespaces, run_ns, script, skip_beyond_ci
from .test_aa_utils import HELP

pytestmark = pytest.mark.root

PRELUDE = f"""
    import json, os, shutil, signal, subprocess, sys, time
    from ovis.linux import syscalls as sc
    from ovis.linux.mounts import read_mounts
    if os.getpid() != 1:
        sys.exit(99)                     # not our own PID namespace: touch nothing
    S = {str(SCRIPTS)!r}

    def aa(name, *args, **kw):
        kw.setdefault("timeout", 10)
        r = subprocess.run([os.path.join(S, name), *map(str, args)], check=False, capture_output=True, text=True, **kw)
        return [r.returncode, r.stdout, r.stderr]

    def targets():
        return {{e.target: e for e in read_mounts()}}

""" + BIND_SYSTEM


def ns(code: str, timeout: float = 20) -> dict:
    """Run PRELUDE + code in fresh namespaces; it prints one JSON object last."""
    require_namespaces()
    for name in ("aa-mount", "aa-pivot", "aa-kill"):
        script(name)  # skip early when the console scripts are not installed
    r = run_ns(PRELUDE + code, timeout=timeout)
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_mount_and_umount(tmp_path) -> None:
    T = str(tmp_path)
    out = ns(f"""
    T = {T!r}
    p = lambda *n: os.path.join(T, *n)
    for d in ("a", "b", "c", "e"):
        os.mkdir(p(d))
    res = {{}}
    res["t"] = aa("aa-mount", "-t", "tmpfs", "-o", "size=1m,mode=0750", "-o", "nosuid", "t-a", p("a"))
    m = targets()[p("a")]
    res["a"] = [m.fstype, m.source, "nosuid" in m.options.split(","), "mode=750" in m.super_options]
    res["d"] = aa("aa-mount", "-Dd", "-r", "--fstype", "tmpfs", "t-d", p("new"))
    res["d_ro"] = targets()[p("new")].read_only
    res["remount_rw"] = aa("aa-mount", "-w", "-o", "remount", "t-d", p("new"))
    res["d_rw"] = not targets()[p("new")].read_only
    res["defaults"] = aa("aa-mount", "-r", "-o", "defaults", "-t", "tmpfs", "t-e", p("e"))  # resets -r
    res["e_rw"] = not targets()[p("e")].read_only
    open(p("a", "file"), "w").write("x")
    res["B"] = aa("aa-mount", "-B", p("a"), p("b"))
    res["b_sees_file"] = os.path.exists(p("b", "file"))
    res["M"] = aa("aa-mount", "--move", p("b"), p("c"))
    m = targets()
    res["after_move"] = [p("b") in m, p("c") in m, m[p("c")].dev == m[p("a")].dev]
    res["U"] = aa("aa-umount", p("c"))
    res["U_again"] = aa("aa-umount", p("c"))
    r, w = os.pipe()
    if os.fork() == 0:
        os.chdir(p("a")); os.write(w, b"x"); time.sleep(30); os._exit(0)
    os.read(r, 1)
    res["busy"] = aa("aa-umount", p("a"))
    res["lazy"] = aa("aa-umount", "-l", p("a"))
    res["gone"] = [x for x in (p("a"), p("c")) if x in targets()]
    res["no_mountpoint"] = aa("aa-mount", "-t", "tmpfs", "x", p("missing"))
    res["no_parent"] = aa("aa-mount", "-d", "-t", "tmpfs", "x", p("no", "dir"))
    res["one_operand"] = aa("aa-mount", "-t", "tmpfs", "x")[0]
    print(json.dumps(res))
    """)
    T_ = T
    assert out["t"] == [0, "", ""]
    assert out["a"] == ["tmpfs", "t-a", True, True]
    assert out["d"] == [0, "", ""] and out["d_ro"] is True
    assert out["remount_rw"][0] == 0 and out["d_rw"] is True
    assert out["defaults"][0] == 0 and out["e_rw"] is True
    assert out["B"] == [0, "", ""] and out["b_sees_file"] is True
    assert out["M"] == [0, "", ""] and out["after_move"] == [False, True, True]
    assert out["U"] == [0, "", ""]
    assert out["U_again"] == [3, "", f"aa-umount: fatal: unable to unmount {T_}/c: Invalid argument\n"]
    assert out["busy"] == [3, "", f"aa-umount: fatal: unable to unmount {T_}/a: Device or resource busy\n"]
    assert out["lazy"] == [0, "", ""] and out["gone"] == []
    assert out["no_mountpoint"] == [3, "", f"aa-mount: fatal: unable to mount x on {T_}/missing: No such file or directory\n"]
    assert out["no_parent"] == [
        2, "", f"aa-mount: fatal: unable to mkdir {T_}/no/dir to mount x: No such file or directory\n"]
    assert out["one_operand"] == 1


def test_pivot_and_chroot_like_aa_stage3(tmp_path) -> None:
    """cd /run/initramfs; cp /bin/aa-chroot .; aa-pivot . root-fs; ./aa-chroot . /shutdown poweroff

    /bin/aa-chroot is the standalone script; the console script works too
    when the new root has Python and ovis.
    """
    standalone = tmp_path / "aa-chroot.standalone"
    standalone.write_text(standalone_script())
    standalone.chmod(0o755)
    T = str(tmp_path)
    prefix = os.path.realpath(sys.base_prefix)
    venv = os.path.realpath(sys.prefix)
    out = ns(f"""
    T = {T!r}
    R = os.path.join(T, "initramfs")
    os.mkdir(R)
    sc.mount("initramfs", R, "tmpfs", 0, "size=8m")
    bind_system(R)
    # the console scripts' python (and its venv, if any) and ovis
    bound = []
    for src in sorted({{{prefix!r}, {venv!r}, {str(REPO)!r}}}):
        if src.startswith("/usr/") or any(src.startswith(b + "/") for b in bound):
            continue
        os.makedirs(R + src, exist_ok=True)
        sc.mount(src, R + src, None, sc.MS_BIND)
        bound.append(src)
    with open(os.path.join(R, "shutdown"), "w") as f:
        f.write('#!/bin/sh\\necho "shutdown $1 in $(pwd) with $(ls / | tr "\\\\n" " ")"\\n')
    os.chmod(os.path.join(R, "shutdown"), 0o755)
    res = {{}}
    res["chroot_from_host"] = aa("aa-chroot", R, "/bin/sh", "-c", "echo in $(pwd); test -x /shutdown && echo has-shutdown")
    res["chroot_options_stop_at_command"] = aa("aa-chroot", R, "/bin/echo", "-V")
    res["chroot_exec_fail"] = aa("aa-chroot", R, "/no/such")
    res["pivot_outside"] = aa("aa-pivot", R, "/tmp")[0:3:2]
    os.chdir(R)
    shutil.copy({str(standalone)!r}, "./aa-chroot")            # cp /bin/aa-chroot .
    res["pivot"] = aa("aa-pivot", ".", "root-fs")
    res["root"] = sorted(os.listdir("/"))
    res["old_root_has_etc"] = os.path.isdir("/root-fs/etc")
    r = subprocess.run(["./aa-chroot", ".", "/shutdown", "poweroff"], check=False, capture_output=True, text=True, timeout=10)
    res["standalone"] = [r.returncode, r.stdout, r.stderr]
    r = subprocess.run(["./aa-chroot", "-D", ".", "/no/such"], check=False, capture_output=True, text=True, timeout=10)
    res["standalone_fail"] = [r.returncode, r.stdout, r.stderr]
    res["console"] = aa("aa-chroot", ".", "/bin/sh", "-c", "echo console in $(pwd)")

    # no python3 in the new root: the sh part falls back to chroot(8), then to a plain exec
    Q = "/noPython"
    os.makedirs(Q + "/bin")
    os.makedirs(Q + "/usr/lib")
    sc.mount("/usr/lib", Q + "/usr/lib", None, sc.MS_BIND | sc.MS_REC)
    for lib in ("lib", "lib64", "lib32", "libx32"):
        if os.path.islink("/" + lib) and os.readlink("/" + lib).startswith("usr/"):
            dst = os.readlink("/" + lib)
            if not os.path.exists(Q + "/" + dst):
                os.makedirs(Q + "/" + dst)
                sc.mount("/" + dst, Q + "/" + dst, None, sc.MS_BIND | sc.MS_REC)
            os.symlink(dst, Q + "/" + lib)
        elif os.path.isdir("/" + lib) and not os.path.islink("/" + lib):
            os.makedirs(Q + "/" + lib)
            sc.mount("/" + lib, Q + "/" + lib, None, sc.MS_BIND | sc.MS_REC)
    shutil.copy(os.path.realpath(shutil.which("sh")), Q + "/bin/sh")
    with open(Q + "/bin/chroot", "w") as f:   # a stand-in that shows how it was called
        f.write('#!/bin/sh\\necho chroot8 "$(pwd)" "$@"\\n')
    os.chmod(Q + "/bin/chroot", 0o755)
    shutil.copy("./aa-chroot", Q + "/aa-chroot")
    def in_q(*argv):
        r = subprocess.run(list(argv), check=False, capture_output=True, text=True, timeout=10, env={{"PATH": "/bin"}},
                           preexec_fn=lambda: (os.chroot(Q), os.chdir("/")))
        return [r.returncode, r.stdout, r.stderr]
    res["q_python"] = in_q("/bin/sh", "-c", "command -v python3 || echo none")
    res["q_chroot8"] = in_q("./aa-chroot", "-D", "/bin", "/shutdown", "poweroff")
    os.unlink(Q + "/bin/chroot")
    res["q_plain"] = in_q("./aa-chroot", "-D", ".", "/bin/sh", "-c", "echo plain in $(pwd)")
    res["q_no_chroot8"] = in_q("./aa-chroot", "/bin", "/bin/sh", "-c", "echo not reached")
    res["q_help"] = in_q("./aa-chroot", "--help")[0:2]
    res["q_bad"] = in_q("./aa-chroot", "/nowhere", "x")
    print(json.dumps(res))
    """)
    assert out["chroot_from_host"] == [0, "in /\nhas-shutdown\n", ""]
    assert out["chroot_options_stop_at_command"] == [0, "-V\n", ""]
    assert out["chroot_exec_fail"] == [4, "", "aa-chroot: fatal: unable to exec /no/such: No such file or directory\n"]
    assert out["pivot_outside"] == [2, f"aa-pivot: fatal: unable to pivot into {tmp_path}/initramfs: Invalid argument\n"]
    assert out["pivot"] == [0, "", ""]
    assert "root-fs" in out["root"] and "shutdown" in out["root"] and out["old_root_has_etc"] is True
    rc, stdout, stderr = out["standalone"]
    assert (rc, stderr) == (0, ""), out["standalone"]
    assert (rc, stderr) == (0, "") and stdout.startswith("shutdown poweroff in / with ")
    assert "root-fs" in stdout.split()
    msg = "aa-chroot: fatal: unable to exec /no/such: No such file or directory\n"
    assert out["standalone_fail"] == [4, msg, msg]
    assert out["console"] == [0, "console in /\n", ""]
    assert out["q_python"][1] == "none\n"
    assert out["q_chroot8"] == [0, "chroot8 /bin . /shutdown poweroff\n", ""]
    assert out["q_no_chroot8"] == [3, "", "aa-chroot: fatal: unable to chroot: no python3 and no chroot(8)\n"]
    assert out["q_plain"] == [0, "plain in /\n", ""]
    synopsis, details = HELP["aa-chroot"]
    assert out["q_help"] == [0, f"Usage: aa-chroot {synopsis}\n\n{details}"]
    assert out["q_bad"][0] == 2 and out["q_bad"][2].startswith("aa-chroot: fatal: unable to chdir to /nowhere")


def test_kill_signals_and_skip_at() -> None:
    sleep = shutil.which("sleep")
    out = ns(f"""
    sleep = {sleep!r}
    def stubborn():
        p = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"],
            stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p
    def status(p, wait=2.0):
        try:
            return p.wait(wait)
        except subprocess.TimeoutExpired:
            return "alive"
    res = {{}}
    res["usage_no_signal"] = aa("aa-kill", "-s")[0]
    res["usage_operand"] = aa("aa-kill", "-t", "1")[0]
    plain = subprocess.Popen([sleep, "30"])
    stopped = subprocess.Popen([sleep, "30"]); os.kill(stopped.pid, signal.SIGSTOP)
    at = subprocess.Popen(["@keeper", "30"], executable=sleep)
    tough = stubborn()
    time.sleep(0.05)
    res["st"] = aa("aa-kill", "-st")
    res["after_st"] = [status(plain), status(stopped), status(tough, 0.3), status(at, 0.1)]
    res["sk"] = aa("aa-kill", "--skip", "--kill")
    res["after_sk"] = [status(tough), status(at, 0.3)]
    hup = subprocess.Popen([sleep, "30"])
    res["su"] = aa("aa-kill", "-s", "--hup")
    res["after_su"] = [status(hup), status(at, 0.1)]
    # without -s: kill(-1), '@' processes included; aa-kill itself survives (it reports 0)
    term = subprocess.Popen([sleep, "30"])
    res["t"] = aa("aa-kill", "-Dt")
    res["after_t"] = [status(term), status(at)]
    print(json.dumps(res))
    """)
    assert out["usage_no_signal"] == 1 and out["usage_operand"] == 1
    assert out["st"] == [0, "", ""]
    assert out["after_st"] == [-signal.SIGTERM, -signal.SIGTERM, "alive", "alive"]
    assert out["sk"] == [0, "", ""]
    assert out["after_sk"] == [-signal.SIGKILL, "alive"]
    assert out["su"] == [0, "", ""]
    assert out["after_su"] == [-signal.SIGHUP, "alive"]
    assert out["t"] == [0, "", ""]
    assert out["after_t"] == [-signal.SIGTERM, -signal.SIGTERM]


def _host_swaps() -> list[str]:
    try:
        with open("/proc/swaps") as f:
            return f.read().splitlines()[1:]
    except OSError:
        return []


def test_terminate_in_private_root(tmp_path) -> None:
    """Swaps, mounts (nested, stacked, busy, with a blank), lazy mode and -a."""
    if _host_swaps():
        # /proc/swaps is not namespaced: aa-terminate would turn the host's swap off
        skip_beyond_ci("the machine has swap active, which aa-terminate would turn off")
    T = str(tmp_path)
    prefix = os.path.realpath(sys.base_prefix)
    venv = os.path.realpath(sys.prefix)
    out = ns(f"""
    from ovis.linux.chroot import pivot
    R = os.path.join({T!r}, "root")
    os.mkdir(R)
    sc.mount("ns-root", R, "tmpfs", 0, "size=16m")
    bind_system(R)
    bound = []
    for src in sorted({{{prefix!r}, {venv!r}}}):  # the interpreter, and its venv if any
        if src.startswith("/usr/") or any(src.startswith(b + "/") for b in bound):
            continue
        os.makedirs(R + src, exist_ok=True)
        sc.mount(src, R + src, None, sc.MS_BIND)
        bound.append(src)
    shutil.copytree(os.path.join({str(REPO)!r}, "ovis"), R + "/opt/ovis",
                    ignore=shutil.ignore_patterns("__pycache__"))   # on / itself: never unmounted
    # The console script, also on /: the first aa-terminate unmounts a venv's bind
    # (nothing holds it busy), the interpreter's own mount stays busy while it runs.
    with open(R + "/opt/aa-terminate", "w") as f:
        f.write("#!" + {os.path.realpath(sys.executable)!r} + "\\nimport sys\\n"
                "from ovis.cli.aa.terminate import entrypoint\\nsys.exit(entrypoint())\\n")
    os.chmod(R + "/opt/aa-terminate", 0o755)
    for d in ("proc", "old", "run", "dev", "t"):
        os.mkdir(os.path.join(R, d))
    pivot(R, "old")
    sc.umount2("/old", sc.MNT_DETACH)
    sc.mount("proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sc.mount("ns-run", "/run", "tmpfs", 0, "size=1m")
    mine = {{"ns-root", "proc", "ns-run"}}
    binds = sorted(e.target for e in read_mounts() if e.source not in mine)
    tmpfs = lambda name, where: sc.mount(name, where, "tmpfs", 0, "size=1m")
    tmpfs("t", "/t")
    for d in ("a", "busy", "with space", "stack"):
        os.mkdir("/t/" + d)
    tmpfs("t-a", "/t/a"); os.mkdir("/t/a/b"); tmpfs("t-b", "/t/a/b")
    tmpfs("t-space", "/t/with space")
    tmpfs("t-stack1", "/t/stack"); tmpfs("t-stack2", "/t/stack")
    tmpfs("t-busy", "/t/busy")
    r, w = os.pipe()
    if os.fork() == 0:
        os.chdir("/t/busy"); os.write(w, b"x"); time.sleep(30); os._exit(0)
    os.read(r, 1)
    env = dict(os.environ, PYTHONPATH="/opt")
    S = "/opt"
    res = {{"binds": binds}}
    res["verbose"] = aa("aa-terminate", "-v", env=env)
    res["after_verbose"] = sorted(targets())
    res["lazy_apis"] = aa("aa-terminate", "--double-output", "--lazy-umounts", "--apis", env=env)
    sc.mount("proc", "/proc", "proc", 0)
    res["after_lazy"] = sorted(targets())
    print(json.dumps(res))
    """, timeout=30)
    binds = out["binds"]
    rc, stdout, stderr = out["verbose"]
    assert rc == 2, (stdout, stderr)
    for line in ("Unmounting /t/a/b...\n  -> Unmounted: /t/a/b\n", "  -> Unmounted: /t/a\n",
                 "  -> Unmounted: /t/with space\n", "Unmounting /t/busy...\nFailed: Device or resource busy\n"):
        assert line in stdout
    assert stdout.count("  -> Unmounted: /t/stack\n") == 2
    assert "Unmounted: /run" not in stdout and "Unmounted: /proc" not in stdout
    warnings = stderr.splitlines()
    assert "==> WARNING: Remaining mountpoint: /t/busy" in warnings
    assert "==> WARNING: Remaining mountpoint: /t" in warnings
    assert all(w.startswith("==> WARNING: Remaining mountpoint: ") for w in warnings)
    left = {w.split(": ", 2)[2] for w in warnings}
    assert left <= {"/t", "/t/busy", *binds}
    assert set(out["after_verbose"]) == {"/", "/proc", "/run"} | left

    rc, stdout, stderr = out["lazy_apis"]
    assert (rc, stdout) == (0, stderr)       # -D: everything on both
    for target in ("/t/busy", "/t", "/run", "/proc"):
        assert f"  -> Unmounted: {target}\n" in stdout
    assert "Unmounted: /sys" not in stdout and "Unmounted: /dev" not in stdout   # not mounted here
    assert "WARNING" not in stdout
    assert out["after_lazy"] == ["/", "/proc"]


@pytest.mark.parametrize("flag, sig", [("--poweroff", signal.SIGINT), ("-p", signal.SIGINT),
                                       ("--reboot", signal.SIGHUP), ("--halt", signal.SIGINT)])
def test_reboot_ends_pid_namespace(flag: str, sig: int) -> None:
    require_namespaces()
    # `test $$ = 1`: only ever exec aa-reboot as the init of a new PID namespace
    r = subprocess.run(["unshare", *NS_ARGS, "sh", "-c", 'test $$ = 1 && exec "$0" "$@"; exit 99',
                        script("aa-reboot"), "-D", flag], check=False, capture_output=True, text=True, timeout=20)
    assert r.returncode == -sig, (r.returncode, r.stdout, r.stderr)


def test_reboot_usage_in_namespace() -> None:
    require_namespaces()
    r = subprocess.run(["unshare", *NS_ARGS, "sh", "-c", 'test $$ = 1 && exec "$0" "$@"; exit 99',
                        script("aa-reboot"), "-D"], check=False, capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and r.stdout == r.stderr and r.stdout.startswith("Usage: aa-reboot OPTION\n")


def test_tty_follows_active_files(tmp_path) -> None:
    if not os.path.isdir("/sys/class/tty"):
        pytest.skip("no /sys/class/tty")
    out = ns("""
    base = "/sys/class/tty"
    sc.mount("fake-tty", base, "tmpfs", 0, "size=64k")
    res = {}
    res["missing"] = aa("aa-tty")
    os.mkdir(base + "/console")
    open(base + "/console/active", "w").write("tty0 ttyS1\\n")
    res["last_entry"] = aa("aa-tty")
    open(base + "/console/active", "w").write("tty0\\n")
    os.mkdir(base + "/tty0")
    open(base + "/tty0/active", "w").write("tty3\\n")
    res["follow"] = aa("aa-tty", "-D")
    print(json.dumps(res))
    """)
    assert out["missing"] == [2, "", "aa-tty: fatal: unable to read /sys/class/tty/console/active: No such file or directory\n"]
    assert out["last_entry"] == [0, "/dev/ttyS1\n", ""]
    assert out["follow"] == [0, "/dev/tty3\n", "/dev/tty3\n"]

"""ovis under a real kernel: QEMU boots ovis's initramfs stage 0, ovis boot, and powers off.

The VM's root is this machine's own ``/`` over 9p under a tmpfs overlay
(tests.vmtools.stage0), so the VM runs this very Python, ovis and s6; a scenario
(skeleton, services, trees) is a host tmp dir reached by its path, and the
results are read from the serial console (tests.vmtools.qemu).

The format and script tests at the top need only busybox; the boots need
qemu-system-x86_64, a kernel with its modules and busybox-static
(``bash scripts/setup.sh --test``), and root (the 9p share of / is read as
root).  They are skipped only when those are really missing and CI is not
set; in CI a missing prerequisite fails.

``OVIS_VM_TIMELINE=FILE`` (``make vm`` sets docs/benchmarks.md) writes the
measured boot timeline of the poweroff test there.
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.vmtools import anopa, initramfs, qemu, stage0, timeline
from tests.defs import LONGRUN, ONESHOT

pytestmark = pytest.mark.vm

#: A guard against hangs, not a speed test (docs/benchmarks.md has the timings): TCG on a
#: shared 2-core machine takes 20-75 s per boot when idle and far more when busy.
BOOT_LIMIT = 240  # seconds, per boot

FACTS = """\
# Reports facts from inside the VM on the console: PID 1, the kernel, stage 0's boot log.
[Main]
Type = oneshot
Description = "VM facts"
Depends = ( vm-marker )

[Start]
Build = custom
Execute = (#!/bin/sh
exec > /dev/console 2>&1
echo "ovis-vm-fact: pid1=`cat /proc/1/comm`"
echo "ovis-vm-fact: kernel=`uname -r`"
echo "ovis-vm-fact: root=`grep ' / ' /proc/mounts`"
while IFS= read -r line; do echo "ovis-vm-bootlog: $line"; done < /run/initramfs/boot.log
)
"""

PIVOT_INIT = """\
#!/bin/sh
# The anopa way back: pivot into the initramfs kept on /run/initramfs, run /shutdown.
echo "ovis-vm: pivoting back into the initramfs"
cd /run/initramfs || exit 1
./bin/pivot_root . root-fs || { echo "ovis-vm: pivot_root failed"; exec ./bin/poweroff -f; }
exec ./bin/chroot . /shutdown poweroff
"""


def _missing(*, boot: bool) -> list[str]:
    pre = qemu.prerequisites()
    missing = pre.missing() if boot else [m for m in pre.missing() if "busybox" in m]
    if boot and os.geteuid() != 0:
        missing.append("needs root (the VM's root is this machine's / shared over 9p)")
    return missing


def require(*, boot: bool = True) -> None:
    missing = _missing(boot=boot)
    if missing:
        if os.environ.get("CI"):
            pytest.fail("VM tests must run in CI: " + "; ".join(missing)
                        + " (bash scripts/setup.sh --test installs them)")
        pytest.skip("; ".join(missing))


def need_vm() -> initramfs.Kernel:
    """Called first by each boot test (not a fixture: in CI a missing piece is a failure
    of the test itself, not a setup error)."""
    require()
    k = initramfs.find_kernel()
    assert k is not None
    return k


def boot(scenario: qemu.Scenario, **kw: object) -> qemu.VMResult:
    result = qemu.boot(scenario, timeout=BOOT_LIMIT, **kw)  # type: ignore[arg-type]
    assert not result.timed_out, result.describe()
    return result


def index(text: str, needle: str) -> int:
    i = text.find(needle)
    assert i >= 0, f"{needle!r} not on the console"
    return i


# The interpreter the VM runs ------------------------------------------------------------------
def _fake_python(path: Path, major: int, minor: int, tag: str) -> Path:
    """A stand-in interpreter that answers python_facts' question with these facts."""
    path.write_text(f"#!/bin/sh\necho {major} {minor} {tag} {major}.{minor}.9\n")
    path.chmod(0o755)
    return path


def test_vm_python_prefers_the_distributions_when_it_fits(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    tag = sys.implementation.cache_tag
    monkeypatch.delenv("OVIS_VM_PYTHON", raising=False)
    good = _fake_python(tmp_path / "good", 3, 12, tag)
    monkeypatch.setattr(qemu, "DISTRO_PYTHON", good)
    assert qemu.distro_python_fits() is None
    assert qemu.vm_python() == good
    assert qemu.describe_python() == f"ovis-vm: the VM runs ovis on {good} (Python 3.12.9, " \
                                     "the distribution's)"
    # too old, another bytecode tag, missing: the test runner's own through the lean venv
    for fake, why in ((_fake_python(tmp_path / "old", 3, 10, tag), "ovis needs 3.11"),
                      (_fake_python(tmp_path / "tag", 3, 11, "cpython-399"), "cpython-399"),
                      (tmp_path / "missing", "not found (Debian package python3)")):
        monkeypatch.setattr(qemu, "DISTRO_PYTHON", fake)
        assert why in (qemu.distro_python_fits() or ""), fake
        assert qemu.vm_python() is None
        line = qemu.describe_python()
        assert "through a venv without site-packages" in line and why in line, line
    # $OVIS_VM_PYTHON overrides either way
    monkeypatch.setattr(qemu, "DISTRO_PYTHON", good)
    monkeypatch.setenv("OVIS_VM_PYTHON", "lean")
    assert qemu.vm_python() is None and "$OVIS_VM_PYTHON=lean" in qemu.describe_python()
    monkeypatch.setenv("OVIS_VM_PYTHON", str(tmp_path / "old"))
    assert qemu.vm_python() == tmp_path / "old"
    assert qemu.describe_python().endswith("(Python 3.10.9, $OVIS_VM_PYTHON)")


# The newc writer ------------------------------------------------------------------------------
def test_newc_entries_round_trip_and_are_aligned() -> None:
    a = initramfs.Archive()
    a.file("etc/hello", b"hello\n")
    a.symlink("bin/sh", "busybox")
    a.chardev("dev/console", 5, 1)
    a.file("empty", b"", 0o600)
    raw = a.to_bytes()
    assert raw.startswith(b"070701") and raw.rstrip(b"\0").endswith(b"TRAILER!!!")
    assert len(raw) % 4 == 0
    back = initramfs.parse_newc(raw)
    # Parents are created first, in order.
    assert [e.name for e in back] == ["etc", "etc/hello", "bin", "bin/sh", "dev", "dev/console",
                                      "empty"]
    by = {e.name: e for e in back}
    assert by["etc/hello"].data == b"hello\n" and stat.S_IMODE(by["etc/hello"].mode) == 0o644
    assert stat.S_ISLNK(by["bin/sh"].mode) and by["bin/sh"].data == b"busybox"
    assert stat.S_ISCHR(by["dev/console"].mode) and by["dev/console"].rdev == (5, 1)
    assert stat.S_ISDIR(by["etc"].mode) and by["etc"].nlink == 2
    # Every header starts on a 4-byte boundary: walk them.
    pos = 0
    for _ in range(len(back) + 1):
        assert pos % 4 == 0 and raw[pos:pos + 6] == b"070701"
        namesize, size = int(raw[pos + 94:pos + 102], 16), int(raw[pos + 54:pos + 62], 16)
        pos += 110 + namesize
        pos += (-pos) % 4
        pos += size + (-size) % 4
    assert pos == len(raw)
    with pytest.raises(ValueError):
        a.file("etc/hello", b"again")
    assert gzip.decompress(a.to_gzip()) == raw
    assert a.to_gzip() == a.to_gzip()  # reproducible: no time in the gzip header


def test_busybox_cpio_reads_the_archive(tmp_path: Path) -> None:
    require(boot=False)
    a = initramfs.Archive()
    a.file("etc/modules", b"9p\noverlay\n")
    a.file("init", b"#!/bin/sh\n", 0o755)
    a.symlink("bin/sh", "busybox")
    out = tmp_path / "x"
    out.mkdir()
    r = subprocess.run([str(initramfs.BUSYBOX), "cpio", "-i", "-d"], input=a.to_bytes(),
                       cwd=out, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert (out / "etc" / "modules").read_bytes() == b"9p\noverlay\n"
    assert os.access(out / "init", os.X_OK)
    assert os.readlink(out / "bin" / "sh") == "busybox"


def fake_kernel(root: Path) -> initramfs.Kernel:
    boot, mods = root / "boot", root / "modules" / "6.6.6-test"
    boot.mkdir(parents=True)
    (boot / "vmlinuz-6.6.6-test").write_bytes(b"kernel")
    d = mods / "kernel" / "fs"
    d.mkdir(parents=True)
    (d / "9p.ko.xz").write_bytes(lzma.compress(b"\x7fELF 9p module"))
    (d / "overlay.ko").write_bytes(b"\x7fELF overlay module")
    (d / "netfs.ko.gz").write_bytes(gzip.compress(b"\x7fELF netfs module"))
    (mods / "modules.builtin").write_text("kernel/drivers/virtio/virtio.ko\n"
                                          "kernel/drivers/virtio/virtio_ring.ko\n")
    k = initramfs.find_kernel(boot=boot, moddirs=(root / "modules",))
    assert k is not None and k.version == "6.6.6-test"
    return k


def test_initramfs_holds_busybox_modules_and_the_stages(tmp_path: Path) -> None:
    require(boot=False)
    k = fake_kernel(tmp_path)
    built = initramfs.build(tmp_path / "initrd.img", k, default_init="/x/init")
    assert built.modules == ["netfs", "9p", "overlay"]  # load order kept
    assert built.builtin == ["virtio_ring", "virtio"]
    assert "virtio_pci" in built.missing and "9pnet_virtio" in built.missing
    entries = {e.name: e for e in initramfs.parse_newc(gzip.decompress(built.path.read_bytes()))}
    assert entries["lib/modules/9p.ko"].data == b"\x7fELF 9p module"  # decompressed
    assert entries["lib/modules/netfs.ko"].data == b"\x7fELF netfs module"
    assert entries["etc/modules"].data == b"netfs\n9p\noverlay\n"
    assert entries["bin/busybox"].data == initramfs.BUSYBOX.read_bytes()
    for applet in ("sh", "mount", "insmod", "chroot", "pivot_root", "poweroff", "reboot"):
        assert entries[f"bin/{applet}"].data == b"busybox", applet
    assert stat.S_ISCHR(entries["dev/console"].mode)
    init = entries["init"].data.decode()
    assert stat.S_IMODE(entries["init"].mode) == 0o755 and init.startswith("#!/bin/sh\n")
    assert "INIT=/x/init\n" in init and "MODULES='netfs 9p overlay'" in init
    assert entries["shutdown"].data.decode().startswith("#!/bin/sh\n")
    for d in ("proc", "sys", "run", "lower", "rw", "root-fs"):
        assert stat.S_ISDIR(entries[d].mode), d


def test_stage_scripts_are_valid_busybox_sh(tmp_path: Path) -> None:
    require(boot=False)
    for name, text in (("init", stage0.init_script(modules=["9p", "overlay"])),
                       ("shutdown", stage0.shutdown_script())):
        p = tmp_path / name
        p.write_text(text)
        r = subprocess.run([str(initramfs.BUSYBOX), "sh", "-n", str(p)], capture_output=True,
                           text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"
    with pytest.raises(ValueError):
        stage0.init_script(default_init="relative/init")


def test_boot_log_stamps_are_tai64n_labels_like_s6_tai64n(tmp_path: Path) -> None:
    require(boot=False)
    funcs = stage0.helpers()
    (tmp_path / "uptime").write_text("12.34 20.00\n")
    script = (f"PROC={tmp_path}\n{funcs}\nT0_EPOCH=1700000000\nT0_CS=$(uptime_cs)\n"
              f"tai64n; echo\necho 13.99 0 > {tmp_path}/uptime\ntai64n; echo\n")
    out = subprocess.run([str(initramfs.BUSYBOX), "sh", "-c", script], capture_output=True,
                         text=True, check=True).stdout.split()
    # 2^62 + UTC + 37 (TAI, as skalibs counts), then nanoseconds (10 ms steps).
    assert out[0] == "@%016x%08x" % (2**62 + 1700000000 + 37, 0)
    assert out[1] == "@%016x%08x" % (2**62 + 1700000001 + 37, 650_000_000)
    if shutil.which("s6-tai64n"):
        ref = subprocess.run(["s6-tai64n"], input="x\n", capture_output=True,
                             text=True).stdout.split()[0]
        assert len(ref) == len(out[0]) and ref[:9] == out[0][:9]


def require_anopa() -> None:
    """What anopa's stages need beyond busybox: the seed, execline, s6, ldd."""
    missing = anopa.missing()
    if missing:
        if os.environ.get("CI"):  # CI has shared/ (the seed) beside the fresh clone
            pytest.fail("VM tests must run in CI: " + "; ".join(missing))
        pytest.skip("; ".join(missing))


def test_anopa_initramfs_runs_ovis_in_a_chroot(tmp_path: Path) -> None:
    """The anopa initramfs: the seed's aa-stage0/aa-stage4 as /init and /shutdown, and
    a Python that runs ovis's aa-* from the archive alone (chroot into its files)."""
    require(boot=False)
    require_anopa()
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    sc = anopa.AnopaScenario(tmp_path / "vm")
    built = sc.build_initramfs(fake_kernel(tmp_path / "k"))
    # subprocess needs its C module: built into Debian's interpreter, an extension in pyenv's
    assert sc.runtime is not None and sc.runtime.has("_posixsubprocess"), sc.runtime
    assert not sc.runtime.has("_tkinter")
    entries = {e.name: e for e in initramfs.parse_newc(gzip.decompress(built.path.read_bytes()))}
    stages = anopa.extract_stages(anopa.SEED.read_text())
    # only the mechanical changes (stage 0 and 4 have no placeholder and no `import -u`)
    assert entries["init"].data.decode() == stages["aa-stage0"].replace(
        "import -u INIT", "importas -u INIT INIT")
    assert entries["shutdown"].data.decode() == stages["aa-stage4"]
    for prog in ("execlineb", "emptyenv", "s6-envdir", "exec", "s6-tai64n", "aa-start",
                 "aa-stop", "aa-chroot", "aa-terminate", "sh"):
        assert f"bin/{prog}" in entries, prog
    assert sorted(n for n in entries if n.startswith("etc/anopa/onboot/")) == sorted(
        f"etc/anopa/onboot/{n}" for n in anopa.ONBOOT)
    root = tmp_path / "root"
    root.mkdir()
    r = subprocess.run([str(initramfs.BUSYBOX), "cpio", "-i", "-d"], cwd=root, check=False,
                       input=gzip.decompress(built.path.read_bytes()), capture_output=True)
    assert r.returncode == 0, r.stderr

    chroot = shutil.which("chroot") or "/usr/sbin/chroot"

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([chroot, str(root), "/bin/execlineb", "-c",
                               "/bin/emptyenv /bin/s6-envdir /etc/anopa/env /bin/exec " + script],
                              capture_output=True, text=True, env={}, timeout=60, check=False)

    r = run("aa-echo -t hello")
    assert (r.returncode, r.stdout) == (0, "  -> hello\n"), r.stderr
    r = run("aa-status -r /services -a")
    assert r.returncode == 0, r.stderr
    assert sorted(line.split()[1] for line in r.stdout.splitlines() if line.startswith("Service:")) \
        == sorted(anopa.ONBOOT)
    r = run("/usr/bin/python3 -S -c \"import ovis, sys; print(ovis.__file__, sys.prefix)\"")
    assert r.stdout.split() == ["/usr/lib/python3.11/ovis/__init__.py", "/usr"], r.stderr


# Booting --------------------------------------------------------------------------------------
def test_poweroff_from_stage0_to_power_down(tmp_path: Path) -> None:
    kernel = need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action="poweroff")
    sc.write("vm-facts", FACTS)
    t0 = time.time()
    result = boot(sc)
    t1 = time.time()
    text = result.transcript
    assert result.powered_off, result.describe()
    assert result.wall < BOOT_LIMIT
    # stage 0 -> ovis boot -> the example tree is up, and a service printed its marker
    assert "ovis stage 0: Stage 0: mounting the root file system" in text
    assert "[Starts stage1 process ...]" in text
    assert qemu.MARKER in text
    ready = next(line.text for line in result.lines if "system ready in" in line.text)
    assert "7 service(s) up" in ready and "failed" not in ready, ready  # + vm-when-ready
    assert "ovis-vm-fact: pid1=s6-svscan" in text  # no Python left as PID 1
    assert f"ovis-vm-fact: kernel={kernel.version}" in text
    assert re.search(r"ovis-vm-fact: root=overlay / overlay rw", text)
    # stage 0's boot log, stamped as s6-tai64n would, near the host's own time
    stamps = re.findall(r"ovis-vm-bootlog: @([0-9a-f]{16})([0-9a-f]{8}) (.*)", text)
    assert stamps and "Stage 0: mounting the root file system..." in stamps[0][2]
    secs = [int(s, 16) - 2**62 - 37 for s, _ns, _msg in stamps]
    assert secs == sorted(secs) and t0 - 5 <= secs[0] <= t1 + 5, (t0, secs, t1)
    # shutdown: services stopped, then stage 4 unmounted or made read-only, then the kernel
    stop = index(text, "ovis: stage 3: preparing poweroff")
    st4 = index(text, "ovis: stage 4:")
    done = index(text, "ovis: stage 4 done")
    end = index(text, qemu.POWER_DOWN)
    assert stop < index(text, "stopped") < st4 < done < end
    report = re.search(r"ovis: unmounted (\d+) filesystem\(s\), (\d+) remounted read-only", text)
    assert report and int(report.group(1)) >= 3, text[st4:]
    assert "ovis: remounted read-only /\n" in text or "ovis: unmounted /\n" in text, text[st4:]
    for m in ("/run/initramfs", "/run", "/sys", "/proc"):
        assert f"ovis: unmounted {m}\n" in text, m
    assert "rescue" not in text and stage0.SHELL_PROMPT not in text
    # the timeline, from inside the VM
    marks = result.marks()
    order = ["stage0", "modules", "stage0-end", "stage1", "stage2", "ready", "poweroff", "end"]
    assert all(e in marks for e in order), marks
    uptimes = [marks[e].uptime for e in order]
    assert uptimes == sorted(uptimes), uptimes
    assert timeline.summary(result)["boot"][0] == marks["ready"].uptime
    md = timeline.markdown(result)
    assert "| **system ready** (tree up) |" in md and "| shutdown |" in md
    target = os.environ.get("OVIS_VM_TIMELINE")
    if target:
        timeline.write(result, Path(target))


def test_reboot_is_seen_as_a_restart(tmp_path: Path) -> None:
    need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action="reboot", examples=False)
    sc.write("d", LONGRUN.format(name="d", extra="", run="sleep 1000"))
    result = boot(sc)
    text = result.transcript
    assert result.restarted and not result.powered_off, result.describe()
    assert result.returncode == 0  # -no-reboot: QEMU exits instead of restarting
    assert "system ready" in text and "ovis: stage 3: preparing reboot" in text
    assert index(text, "ovis: stage 4 done") < index(text, qemu.RESTART)
    assert re.search(r"ovis: stage 4 done in [0-9.]+ s: reboot", text)


def test_broken_definition_still_reaches_ready(tmp_path: Path) -> None:
    need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action="poweroff", examples=False,
                       when_ready='ovis status > /dev/console 2>&1')
    sc.write("good", LONGRUN.format(name="good", extra="", run="sleep 1000"))
    sc.write("early", ONESHOT.format(name="early", extra="", start="true"))
    sc.write("bad", "[Main]\nType = classic\nBogus = 1\n")
    result = boot(sc)
    ready = next((line.text for line in result.lines if "system ready in" in line.text), None)
    assert ready is not None, result.describe()
    assert "3 service(s) up, 1 failed" in ready, ready  # + vm-when-ready
    progress = next(line.text for line in result.lines if line.text.startswith("[FAILED] bad "))
    assert "invalid-definition" in progress and "Bogus: unknown key" in progress, progress
    # `ovis status`, once ready: the broken one failed, the others up
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line.text) for line in result.lines]  # a tty: colours
    rows = {line.split()[0]: line.split() for line in plain
            if re.match(r"(bad|good|early) +(longrun|oneshot) ", line)}
    assert rows["bad"][2] == "failed" and "invalid-definition" in rows["bad"], rows
    assert rows["good"][2] == "up" and rows["early"][2] == "up", rows
    assert result.powered_off, result.describe()


def test_initramfs_shutdown_unmounts_the_old_root(tmp_path: Path) -> None:
    """The path anopa's stage 3 takes: pivot into /run/initramfs, exec /shutdown."""
    need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action=None, examples=False)
    pivot = sc.root / "pivot-init"
    pivot.write_text(PIVOT_INIT)
    pivot.chmod(0o755)
    result = boot(sc, init=str(pivot))
    text = result.transcript
    assert "ovis shutdown: Stage 4: unmounting the old root /root-fs" in text, result.describe()
    for m in ("/root-fs/run", "/root-fs/dev", "/root-fs/proc", "/root-fs/sys", "/root-fs"):
        assert f"ovis shutdown: unmounted {m}\n" in text, m
    assert "ovis shutdown: unmounted 5 filesystem(s), 0 remounted read-only\n" in text
    assert index(text, "ovis shutdown: poweroff") < index(text, qemu.POWER_DOWN)
    assert "initramfs-stage4" in result.marks()


def test_break_on_the_command_line_opens_a_shell(tmp_path: Path) -> None:
    need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action=None, examples=False)
    result = boot(sc, append="break")
    assert result.stopped_on == stage0.SHELL_PROMPT, result.describe()
    text = result.transcript
    assert "ovis stage 0: Break requested" in text
    assert "stage1" not in result.marks()  # the shell comes before the switch


def test_ctrl_alt_del_reboots_cleanly(tmp_path: Path) -> None:
    """The kernel sends SIGINT to PID 1 (stage 1 disabled the immediate reboot):
    s6-svscan's SIGINT script runs `ovis reboot`, services stop in order."""
    need_vm()
    sc = qemu.Scenario(tmp_path / "vm", action=None, examples=False)
    stopped = "ovis-vm: d stopped"
    sc.write("d", LONGRUN.format(name="d", extra="", run="sleep 1000")
             + f'\n[Stop]\nExecute = ( redirfd -w 1 /dev/console echo "{stopped}" )\n')
    sent: list[str] = []

    def press(line: qemu.Line, monitor: qemu.Monitor) -> None:
        if "ovis: system ready in" in line.text and not sent:
            sent.append(monitor.send("sendkey ctrl-alt-delete"))

    result = boot(sc, on_line=press)
    text = result.transcript
    assert sent and not result.callback_errors, result.describe()
    assert result.restarted, result.describe()
    assert index(text, "ovis: stage 3: preparing reboot") < index(text, stopped) \
        < index(text, "ovis: stage 4 done") < index(text, qemu.RESTART)



def test_anopa_stages_0_to_4_from_initramfs_to_poweroff(tmp_path: Path) -> None:
    """anopa's own aa-stage0..aa-stage4 (the seed, mechanical changes only) on ovis's aa-*:
    stage 0 in the initramfs (Python and ovis in it) mounts the root with aa-start's
    oneshots, stage 1..3 run in the root, stage 3 pivots back and stage 4 powers off."""
    need_vm()
    require_anopa()
    sc = anopa.AnopaScenario(tmp_path / "vm")
    result = boot(sc, on_line=anopa.type_exit(), console_input=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.transcript)  # the console is a tty: colours
    assert result.powered_off, result.describe()
    assert result.wall < BOOT_LIMIT
    assert result.built is not None and result.built.size < 40 << 20
    steps = ["==> Stage 0: Mounting root file system...", "==> root-fs: Started",
             "anopa-files: /etc/anopa and /bin/aa-chroot in place", "==> aa-start: Completed.",
             "==> Moving /root-fs to /...", "==> Stage 1: Preparing system...",
             "Enabled: uncaught-logs", "==> Stage 2: Initializing system...", anopa.MARKER,
             "==> System ready.", "==> Stage 3: Preparing poweroff...",
             "==> poweroff-when-ready: Stopped", "==> Killing remaining processes...",
             "==> Pivoting root...", "==> Stage 4: Unmounting root file system...",
             "==> api-fs: Stopped", "==> root-fs: Stopped",
             "==> Mounting /dev & /proc and terminating...", qemu.POWER_DOWN]
    at = [index(text, step) for step in steps]
    assert at == sorted(at), [s for s, i in zip(steps, at) if i != sorted(at)[steps.index(s)]]
    assert "ERROR" not in text and "Trying to open a shell" not in text, result.describe()

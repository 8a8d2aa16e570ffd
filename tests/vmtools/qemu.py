"""Boot ovis in a QEMU virtual machine: scenario, command line, console, timeline.

The VM's root is the host's own ``/`` shared read-only over 9p, under a
tmpfs overlay (see :mod:`tests.vmtools.stage0`): what the VM needs of the host —
Python, ovis, s6, a scenario — is reached by its host path.  A
:class:`Scenario` is a host directory holding the VM's skeleton (written by
``ovis.boot.skel.install``), services, trees, log directory, the ``init``
wrapper stage 0 switches into (``ovis boot -s SKEL``) and the initramfs.
The VM writes only to its overlay: whatever the tests check is read from
the serial console, which :func:`run` captures line by line with host
time stamps.

Boot timeline: the scripts print ``ovis-vm-timeline: EVENT UPTIME`` marks
(guest /proc/uptime) at stage 0 start and end, stage 1 (the ``init``
wrapper), stage 2 (``rc.init``), "system ready" and the shutdown request;
the end is the kernel's own ``reboot: Power down`` / ``Restarting system``
line, stamped by printk.  Each mark also has the host time it appeared at.

KVM does not work on the machines this was written on (nested
virtualisation): TCG is used unless told otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path

from ovis.boot import selfcmd
from tests.vmtools import initramfs, stage0

QEMU = "qemu-system-x86_64"
#: pyproject.toml's requires-python.
MIN_PYTHON = (3, 11)
REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPO / "examples"
POWER_DOWN = "reboot: Power down"
RESTART = "reboot: Restarting system"
HALTED = "reboot: System halted"
KERNEL_PANIC = "Kernel panic"
MARKER_SERVICE = "vm-marker"
MARKER = "OVIS-VM-MARKER: hello from a service on the console"

_TIMELINE = re.compile(re.escape(stage0.TIMELINE) + r" (\S+) ([0-9]+(?:\.[0-9]+)?)")
_PRINTK = re.compile(r"^\[\s*([0-9]+\.[0-9]+)\] (.*)$")


# Prerequisites --------------------------------------------------------------------------------
@dataclass
class Prerequisites:
    qemu: str | None
    kernel: initramfs.Kernel | None
    busybox: Path
    busybox_static: bool

    def missing(self) -> list[str]:
        """What is missing, each naming the Debian package that provides it."""
        out = []
        if self.qemu is None:
            out.append(f"{QEMU} not found (Debian package qemu-system-x86)")
        if self.kernel is None:
            out.append("no kernel with modules: /boot/vmlinuz-* and /usr/lib/modules/<version> "
                       "(Debian package linux-image-amd64)")
        if not self.busybox.is_file():
            out.append(f"{self.busybox} not found (Debian package busybox-static)")
        elif not self.busybox_static:
            out.append(f"{self.busybox} is not statically linked (Debian package busybox-static)")
        return out


def prerequisites(busybox: Path = initramfs.BUSYBOX) -> Prerequisites:
    static = False
    if busybox.is_file():
        try:
            static = initramfs.is_static_elf(busybox)
        except OSError:
            static = False
    return Prerequisites(shutil.which(QEMU), initramfs.find_kernel(), busybox, static)


#: The distribution's own interpreter (Debian's python3 package): what an installed system, a
#: small board, runs ovis with.  Linked statically with libpython, it starts some 0.3-0.4 s
#: sooner under TCG than a shared-libpython build such as pyenv's (the test runner's here).
DISTRO_PYTHON = Path("/usr/bin/python3")
#: ``$OVIS_VM_PYTHON=lean``: the test runner's interpreter through :func:`lean_python`.
LEAN = "lean"


@functools.lru_cache(maxsize=None)
def python_facts(python: str) -> tuple[tuple[int, int], str, str] | None:
    """(version, cache tag, version string) of the interpreter *python*, run ``-I -S``;
    None if it does not run."""
    try:
        out = subprocess.run([python, "-I", "-S", "-c",
                              "import sys; print(*sys.version_info[:2], "
                              "sys.implementation.cache_tag, sys.version.split()[0])"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        major, minor, tag, version = out.split()
        return (int(major), int(minor)), tag, version
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def distro_python_fits(python: Path | None = None) -> str | None:
    """Why the distribution's interpreter cannot run ovis in the VM, or None if it can.

    It must run, be a version ovis supports (pyproject.toml's requires-python:
    3.11 or later) and share this interpreter's bytecode tag, so that the
    ``.pyc`` the host compiles (:func:`precompile`, and the anopa initramfs's
    copy of the standard library) are the ones it loads.
    """
    python = python or DISTRO_PYTHON
    if not (python.is_file() and os.access(python, os.X_OK)):
        return f"{python} not found (Debian package python3)"
    facts = python_facts(str(python))
    if facts is None:
        return f"{python} does not run"
    version, tag, _ = facts
    if version < MIN_PYTHON:
        return f"{python} is Python {version[0]}.{version[1]}, ovis needs " \
               f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or later"
    if tag != sys.implementation.cache_tag:
        return f"{python}'s bytecode is {tag}, the tests' {sys.implementation.cache_tag}"
    return None


def vm_python() -> Path | None:
    """The interpreter the VM runs ovis with, or None for this one through :func:`lean_python`.

    ``$OVIS_VM_PYTHON`` chooses: a host path (the VM reaches it through the
    9p root; it is run ``-I -S`` as everywhere, so no venv is needed), or
    ``lean``.  Unset: the distribution's :data:`DISTRO_PYTHON` when it fits
    (:func:`distro_python_fits`), as an installed Debian system runs ovis;
    otherwise this interpreter through a venv without site-packages.
    """
    chosen = os.environ.get("OVIS_VM_PYTHON")
    if chosen == LEAN:
        return None
    if chosen:
        return Path(chosen)
    return DISTRO_PYTHON if distro_python_fits() is None else None  # (read now: tests patch it)


def describe_python(venv: bool = True) -> str:
    """One line saying which interpreter the VM runs ovis with and why (tests and tools
    print it); *venv*: the test runner's own is run through :func:`lean_python`."""
    chosen = os.environ.get("OVIS_VM_PYTHON")
    python = vm_python()
    if python is None:
        why = "$OVIS_VM_PYTHON=lean" if chosen == LEAN else distro_python_fits()
        how = " through a venv without site-packages" if venv else ""
        return (f"ovis-vm: the VM runs ovis on {Path(sys.executable).resolve()} (Python "
                f"{sys.version.split()[0]}, the test runner's{how}: {why})")
    facts = python_facts(str(python))
    version = f"Python {facts[2]}" if facts else "does not run"
    why = "$OVIS_VM_PYTHON" if chosen else "the distribution's"
    return f"ovis-vm: the VM runs ovis on {python} ({version}, {why})"


def lean_python(dest: Path) -> Path:
    """A virtual environment of this interpreter that sees ovis and nothing else.

    The same Python binary (venv symlinks to ``sys.executable``) and standard
    library, reached through the 9p root, but without the host's
    site-packages, whose ``.pth`` hooks (setuptools' editable finder, and
    whatever else is installed) cost more than a second of every Python
    start under TCG; ovis needs only the standard library at run time.
    Returns the environment's python.
    """
    import sysconfig
    import venv

    python = dest / "bin" / "python3"
    if not python.exists():
        venv.EnvBuilder(system_site_packages=False, symlinks=True, with_pip=False).create(dest)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(dest),
                                                          "platbase": str(dest)}))
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "ovis-vm.pth").write_text(f"{REPO}\n")
    return python


# The scenario ---------------------------------------------------------------------------------
#: The scenario's "when ready" service (a longrun in tree boot): rc.init is the skeleton's own,
#: so that stage 2 runs in stage 1's child as on an installed system; this waits for the boot
#: log stage 2 saves right after "system ready", then does the scenario's work and the action.
WHEN_READY = """\
# Once stage 2 has said "system ready" (it then saves the boot log): {action}.
[Main]
Type = classic
Description = "VM scenario: act once the system is ready"

[Start]
Build = custom
Execute = (#!/bin/bash
mark() {{ read -r up _ < /proc/uptime; echo "{timeline} $1 $up" > /dev/console; }}
ovis() {{ {ovis} "$@"; }}
{wait_for}
wait_for {bootlog}
set -- {bootlog}
{after}
exec sleep 1000000
)
"""
WHEN_READY_SERVICE = "vm-when-ready"

#: bash: ``wait_for PATH`` returns once PATH exists, polled every 0.2 s by ``read -t`` on a
#: fifo nobody writes to: no exec per poll. A loop of ``sleep`` execs costs the one emulated
#: CPU some 0.1 s each (a dynamically linked program started under TCG), taken from the boot
#: being measured while the scenario's services wait for it to end.
WAIT_FOR = """\
wait_for() {
    local fifo=/run/.ovis-vm-wait-for
    if mkfifo -m 600 "$fifo" 2>/dev/null && exec 3<>"$fifo"; then
        rm -f "$fifo"
        until [ -e "$1" ]; do read -r -t 0.2 -u 3 _; done
        exec 3<&-
    else
        until [ -e "$1" ]; do sleep 1; done
    fi
}"""

#: Console lines that stand for a timeline event the scripts do not mark themselves (stage 2
#: is ovis's own, in stage 1's child): their guest time is interpolated (see VMResult.marks).
LINE_EVENTS = {"stage2": "ovis: stage 2: starting tree", "ready": "ovis: system ready in "}

INIT_WRAPPER = """\
#!/bin/sh
# init= of an ovis VM scenario (tests.vmtools.qemu): mark stage 1 on the console, then
# `ovis boot` with the scenario's skeleton. A rescue shell is not interactive
# here (nobody types on the serial console): it prints a line and the boot goes on.
# (export, not `exec env VAR=...`: env would be one more program started before PID 1's
# Python, which the boot's timeline would count as ovis's.)
read -r up _ < /proc/uptime
echo "{timeline} stage1 $up"
export OVIS_RESCUE={rescue}
exec {ovis} boot -s {skel}
"""

RESCUE = """\
#!/bin/sh
echo "ovis-vm: rescue shell requested (not interactive in the VM): going on" > /dev/console
exit 0
"""

MARKER_DEF = f"""\
# Prints the marker on the console once the example services are up.
[Main]
Type = oneshot
Description = "Say hello on the console"
Depends = ( spoold clock )

[Start]
Execute = ( redirfd -w 1 /dev/console echo "{MARKER}" )
"""


class Scenario:
    """A host directory the VM boots from (referenced by absolute path through 9p).

    ``action`` is what rc.init does once the tree is up: ``poweroff``,
    ``reboot``, ``halt`` or ``None`` (stay up).  ``examples`` puts the
    bundled example services in the search path and their tree in ``boot``.
    ``lean`` runs ovis in the VM with :func:`lean_python` rather than with
    ``sys.executable`` itself.  rc.init and rc.shutdown are the skeleton's;
    ``when_ready`` is shell text the service ``vm-when-ready`` runs once
    the system is ready, before the action (the shell function ``ovis`` runs
    ovis; output goes to the service's log unless sent to /dev/console).
    ``when_ready`` finds the boot log's path in ``$1``.  ``python_flags`` go on the interpreter's command line of ``ovis boot``
    and of the action (``("-X", "importtime")`` to profile the imports on
    the console: each line gets the host time it arrived at).
    """

    def __init__(self, root: Path, *, action: str | None = "poweroff", examples: bool = True,
                 marker: bool = True, lean: bool = True, when_ready: str = "",
                 python_flags: tuple[str, ...] = ()) -> None:
        if action not in (None, "poweroff", "reboot", "halt"):
            raise ValueError(f"unknown action {action!r} (poweroff, reboot, halt or None)")
        if examples and not (EXAMPLES / "66").is_dir():
            raise RuntimeError(f"the bundled examples are not there ({EXAMPLES})")
        self.root = root.absolute()
        self.skel = self.root / "skel"
        self.services = self.root / "services"
        self.trees = self.root / "trees"
        self.tree = self.trees / "boot"
        self.logdir = self.root / "log"
        self.init = self.root / "init"
        self.initrd = self.root / "initramfs.img"
        self.console = self.root / "console"
        for d in (self.services, self.tree, self.logdir):
            d.mkdir(parents=True, exist_ok=True)
        self.python = vm_python() or (lean_python(self.root / "python") if lean
                                      else Path(sys.executable))
        self.python_line = describe_python()
        print(self.python_line, file=sys.stderr)
        # This tree's ovis, whatever the VM's current directory or environment.
        words = selfcmd.argv(str(self.python), REPO)
        ovis = shlex.join(words[:1] + list(python_flags) + words[1:])
        # Written by the interpreter the VM will run, so that @OVIS@ names it.
        subprocess.run([*selfcmd.argv(str(self.python), REPO), "skel", "install", "--force",
                        str(self.skel)], check=True, capture_output=True,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        search = [str(self.services)]
        if examples:
            search.append(str(EXAMPLES / "66"))
            for entry in sorted((EXAMPLES / "tree" / "boot").iterdir()):
                (self.tree / entry.name).touch()
        (self.skel / "environment" / "vm").write_text(
            f"OVIS_SERVICES={':'.join(search)}\nOVIS_TREES={self.trees}\n"
            f"OVIS_LOGDIR={self.logdir}\n")
        # Verbosity 2: stage 4 lists what it unmounted and remounted read-only.
        self.set_conf(VERBOSITY="2", GRACETIME="1000")
        after = f"{when_ready}\n" if when_ready else ""
        if action is not None:
            after += f'mark {action}\novis {action} || echo "ovis-vm: {action} failed: $?"'
        if after:
            self.write(WHEN_READY_SERVICE, WHEN_READY.format(
                action=action or "the scenario's commands", timeline=stage0.TIMELINE, ovis=ovis,
                wait_for=WAIT_FOR,
                bootlog=shlex.quote(str(self.logdir / "boot" / "current")), after=after))
        self._exe(self.root / "rescue", RESCUE)
        self._exe(self.init, INIT_WRAPPER.format(
            timeline=stage0.TIMELINE, rescue=shlex.quote(str(self.root / "rescue")), ovis=ovis,
            skel=shlex.quote(str(self.skel))))
        if marker and examples:
            self.write(MARKER_SERVICE, MARKER_DEF)

    @staticmethod
    def _exe(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def write(self, name: str, text: str, enable: bool = True) -> None:
        """A 66 frontend file in the scenario's services, enabled in tree boot."""
        (self.services / name).write_text(text)
        if enable:
            (self.tree / name).touch()

    def set_conf(self, **values: str) -> None:
        """Change init.conf keys in place (other lines kept)."""
        from ovis.boot.skel import set_conf

        set_conf(self.skel / "init.conf", **values)

    def build_initramfs(self, kernel: initramfs.Kernel, **kw: object) -> initramfs.Built:
        return initramfs.build(self.initrd, kernel, default_init=str(self.init), **kw)  # type: ignore[arg-type]


# Running QEMU ---------------------------------------------------------------------------------
@dataclass
class Line:
    wall: float  # seconds since QEMU was started (host clock)
    text: str


@dataclass
class Mark:
    event: str
    uptime: float  # guest seconds since the kernel started
    wall: float  # host seconds since QEMU was started


@dataclass
class VMResult:
    argv: list[str]
    lines: list[Line]
    returncode: int | None
    timed_out: bool
    wall: float
    stopped_on: str | None = None
    console: Path | None = None
    built: initramfs.Built | None = None
    scenario: str = ""
    python: str = ""  # the line of describe_python: the interpreter the VM ran ovis with
    callback_errors: list[str] = field(default_factory=list)

    @property
    def transcript(self) -> str:
        return "".join(line.text + "\n" for line in self.lines)

    @property
    def powered_off(self) -> bool:
        return any(POWER_DOWN in line.text for line in self.lines)

    @property
    def restarted(self) -> bool:
        return any(RESTART in line.text for line in self.lines)

    def first(self, text: str) -> Line | None:
        return next((line for line in self.lines if text in line.text), None)

    def marks(self) -> dict[str, Mark]:
        """Timeline marks by event (first occurrence), the kernel's end line included.

        The events of :data:`LINE_EVENTS` come from ovis's own console lines,
        which carry no uptime: theirs is interpolated between the printed
        marks around them by the host time the lines arrived (under TCG the
        guest clock and the host's advance together: the offset between the
        printed marks' uptime and wall time stays within some 50 ms over a
        boot).  A printed mark of the same event wins.
        """
        out: dict[str, Mark] = {}
        found: dict[str, float] = {}
        for line in self.lines:
            m = _TIMELINE.search(line.text)
            if m and m.group(1) not in out:
                out[m.group(1)] = Mark(m.group(1), float(m.group(2)), line.wall)
                continue
            k = _PRINTK.match(line.text)
            if k and k.group(2).startswith("reboot: ") and "end" not in out:
                out["end"] = Mark("end", float(k.group(1)), line.wall)
                continue
            for event, text in LINE_EVENTS.items():
                if text in line.text and event not in found:
                    found[event] = line.wall
        exact = sorted(((mk.wall, mk.uptime) for mk in out.values()))
        for event, wall in found.items():
            if event in out or not exact:
                continue
            before = [e for e in exact if e[0] <= wall] or exact[:1]
            after = [e for e in exact if e[0] > wall]
            (w0, u0), (w1, u1) = before[-1], (after[0] if after else before[-1])
            rate = (u1 - u0) / (w1 - w0) if w1 > w0 else 1.0
            out[event] = Mark(event, round(u0 + (wall - w0) * rate, 2), wall)
        return out

    def describe(self) -> str:
        """A failure message: how it ended and the end of the console."""
        how = ("timed out" if self.timed_out else f"exit status {self.returncode}") + (
            f", stopped on {self.stopped_on!r}" if self.stopped_on else "") + "".join(
            f"\ncallback error on {e}" for e in self.callback_errors)
        tail = "".join(line.text + "\n" for line in self.lines[-60:])
        return f"VM {self.scenario} {how} after {self.wall:.1f} s; console tail:\n{tail}"


def qemu_argv(kernel: Path, initrd: Path, append: str, *, memory: int = 1024, smp: int = 1,
              accel: str = "tcg", qemu: str = QEMU, share: str = "/",
              monitor: Path | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The QEMU command line; *monitor* is a unix socket for the human monitor, if wanted.

    *extra*: more QEMU options, e.g. ``$OVIS_VM_QEMU_EXTRA`` (shell words):
    ``-icount shift=0`` makes the guest clock count instructions while the
    guest runs (1 ns each), so that the host's load no longer stretches the
    guest's work (what bench/vm_ab.py --icount uses to compare trees).

    ``virtio-rng-pci``: a hardware random number generator, as real machines
    have one (RDRAND on x86 CPUs since 2012, the SoC's RNG on small boards,
    a seed from the boot loader) to seed the kernel's generator at boot.  The
    emulated CPU has none, so the kernel's generator was not ready when the
    first Python started: reading its hash seed from /dev/urandom, that
    Python waited 1.1 s of guest time in the kernel's jitter-entropy loop
    (strace in the VM: ``read(3, ..., 24) <1.118693>``), on every boot.
    """
    mon = f"unix:{monitor},server=on,wait=off" if monitor is not None else "none"
    return [qemu, "-accel", accel, "-m", str(memory), "-smp", str(smp),
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", mon,
            "-device", "virtio-rng-pci",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", append,
            "-virtfs", f"local,path={share},mount_tag={stage0.SHARE_TAG},"
                       "security_model=none,readonly=on,multidevs=remap", *extra]


class Monitor:
    """QEMU's human monitor on a unix socket: ``send("sendkey ctrl-alt-delete")``."""

    def __init__(self, path: Path | None, console: object = None) -> None:
        self.path = path
        self.console = console  # QEMU's stdin (the serial console's input), if a pipe

    def type(self, text: str) -> None:
        """Type *text* on the serial console (``run(..., console_input=True)``)."""
        if self.console is None:
            raise RuntimeError("this VM was started without console input")
        self.console.write(text.encode())  # type: ignore[attr-defined]
        self.console.flush()  # type: ignore[attr-defined]

    def send(self, command: str, timeout: float = 5) -> str:
        import socket

        if self.path is None:
            raise RuntimeError("this VM was started without a monitor")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.path))
            s.recv(4096)  # the banner and prompt
            s.sendall(command.encode() + b"\n")
            time.sleep(0.2)
            try:
                return s.recv(4096).decode(errors="replace")
            except TimeoutError:
                return ""


OnLine = Callable[[Line, Monitor], None]


def run(argv: list[str], *, timeout: float = 90, console: Path | None = None,
        stop_on: tuple[str, ...] = (stage0.SHELL_PROMPT, HALTED),
        on_line: OnLine | None = None, monitor: Path | None = None,
        console_input: bool = False) -> VMResult:
    """Run QEMU with the serial console on its stdout; stop it at *timeout* at the latest.

    A line containing one of ``stop_on`` also stops it: a shell waiting for
    input nobody types, a halted machine (QEMU keeps running a halted CPU).
    The console is written to *console* as it comes; *on_line* sees each
    line as it comes, with the monitor (*monitor*: the socket given to
    :func:`qemu_argv`) to act on the VM; with *console_input* QEMU's stdin
    is a pipe and ``Monitor.type`` types on the serial console.
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if console_input else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[Line] = []
    stopped: list[str] = []
    errors: list[str] = []
    mon = Monitor(monitor, proc.stdin)
    sink = open(console, "w") if console is not None else None  # noqa: SIM115

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.decode(errors="replace").rstrip("\r\n").replace("\r", "")
            line = Line(time.monotonic() - t0, text)
            lines.append(line)
            if sink is not None:
                sink.write(text + "\n")
                sink.flush()
            hit = next((s for s in stop_on if s in text), None)
            if hit is not None and not stopped:
                stopped.append(hit)
                proc.kill()
            if on_line is not None:
                try:
                    on_line(line, mon)
                except Exception as e:  # noqa: BLE001 - reported with the result
                    errors.append(f"{text!r}: {e!r}")

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:  # the hard limit, and no QEMU left behind if we are interrupted
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    thread.join(timeout=5)
    if sink is not None:
        sink.close()
    return VMResult(argv, lines, None if timed_out else proc.returncode, timed_out,
                    time.monotonic() - t0, stopped[0] if stopped else None, console,
                    callback_errors=errors)


def kernel_append(init: str, extra: str = "") -> str:
    """The kernel command line: serial console, quiet, printk times, no wait on panic.

    ``mitigations=off``: the CPU-vulnerability workarounds only slow an
    emulated CPU down (every system call pays for them under TCG).

    ``cryptomgr.notests``: the kernel runs no self-tests of its crypto
    algorithms at boot, as a kernel built with the Kconfig default
    (``CRYPTO_MANAGER_DISABLE_TESTS=y``, what a small board's kernel is
    usually built with) does not either; Debian's kernel turns them on.
    Under TCG, where the SIMD instructions the algorithms use are emulated
    slowest, they were 0.74 s of the kernel's 1.8 s to /init
    (``initcall_debug``: ``crypto_algapi_init``, ``-icount shift=0``).  No
    boot work of init's is skipped: this is the kernel's own, before /init.
    """
    words = ["console=ttyS0", "quiet", "printk.time=1", "panic=-1", "mitigations=off",
             "cryptomgr.notests", f"init={init}"]
    return " ".join(words + ([extra] if extra else []))


def boot(scenario: Scenario, *, timeout: float = 90, append: str = "", smp: int = 1,
         memory: int = 1024, kernel: initramfs.Kernel | None = None,
         init: str | None = None, on_line: OnLine | None = None,
         console_input: bool = False) -> VMResult:
    """Build the scenario's initramfs and boot it; returns when QEMU has exited.

    With *on_line* the VM gets a monitor (see :func:`run`).
    """
    import tempfile

    kernel = kernel or initramfs.find_kernel()
    if kernel is None:
        raise RuntimeError("no kernel found (/boot/vmlinuz-* with /usr/lib/modules/<version>)")
    precompile(getattr(scenario, "python", None))
    built = scenario.build_initramfs(kernel)
    # A unix socket path must stay short (108 bytes): not under a deep tmp_path.
    mondir = Path(tempfile.mkdtemp(prefix="ovis-vm-")) if on_line is not None else None
    monitor = mondir / "monitor" if mondir is not None else None
    argv = qemu_argv(kernel.image, built.path, kernel_append(init or str(scenario.init), append),
                     memory=memory, smp=smp, monitor=monitor,
                     extra=tuple(shlex.split(os.environ.get("OVIS_VM_QEMU_EXTRA", ""))))
    try:
        result = run(argv, timeout=timeout, console=scenario.console, on_line=on_line,
                     monitor=monitor, console_input=console_input)
    finally:
        if mondir is not None:
            shutil.rmtree(mondir, ignore_errors=True)
    result.built = built
    result.scenario = str(scenario.root)
    result.python = getattr(scenario, "python_line", "")
    return result


def precompile(python: Path | None = None) -> None:
    """Byte-compile ovis on the host first: the VM's overlay would compile it on every boot.

    Only what Python itself would write on import (``__pycache__``); best
    effort.  With *python* (the interpreter the VM runs), by that interpreter
    too: the bytecode is then the one it loads, whatever its version.
    """
    import compileall

    try:
        compileall.compile_dir(str(REPO / "ovis"), quiet=1)
    except OSError:
        pass
    if python is not None and Path(python).resolve() != Path(sys.executable).resolve():
        subprocess.run([str(python), "-I", "-S", "-m", "compileall", "-q", str(REPO / "ovis")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def python_ok_in_vm() -> bool:
    """The VM runs this very interpreter through the 9p root: it must be a real path."""
    return Path(sys.executable).resolve().is_file() and os.access(sys.executable, os.X_OK)


__all__ = ["DISTRO_PYTHON", "Line", "Mark", "Monitor", "Scenario", "VMResult", "boot",
           "describe_python", "distro_python_fits", "kernel_append", "lean_python",
           "prerequisites", "qemu_argv", "run", "vm_python"]

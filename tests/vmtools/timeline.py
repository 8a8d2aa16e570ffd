"""The boot timeline of a VM run, as a markdown fragment for ``docs/benchmarks.md``.

Guest times are /proc/uptime read by each stage and printed on the console
(``ovis-vm-timeline: EVENT UPTIME``, 10 ms resolution), and the kernel's own
printk stamp on its last line (``reboot: Power down``).  Wall times are when
the host read each line from the serial console, counted from QEMU's start:
they include the firmware and the kernel's decompression, which come before
uptime 0.  Stage 3 and stage 4 print no uptime: they have wall times only;
stage 2 and "system ready" are ovis's own lines, whose guest time is
interpolated (``VMResult.marks``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.vmtools.qemu import VMResult

#: (event, label) in boot order; "end" is the kernel's reboot: line.
EVENTS = (
    ("stage0", "kernel → stage 0 (`/init` of the initramfs starts)"),
    ("modules", "stage 0: kernel modules loaded"),
    ("stage0-end", "stage 0: root mounted (9p + overlay), switching"),
    ("stage1", "stage 1: `ovis boot` started (init wrapper)"),
    ("stage2", "stage 2: starting the tree (s6-svscan is PID 1)"),
    ("ready", "**system ready** (tree up)"),
    ("poweroff", "`ovis poweroff` asked"),
    ("reboot", "`ovis reboot` asked"),
    ("halt", "`ovis halt` asked"),
    ("@ovis: stage 3:", "stage 3: services stopping"),
    ("@ovis: stage 4:", "stage 4: killing, unmounting"),
    ("end", "kernel: reboot(2) done (`reboot: ...`)"),
)


@dataclass
class Row:
    label: str
    uptime: float | None
    wall: float


def rows(result: VMResult) -> list[Row]:
    marks = result.marks()
    out: list[Row] = [Row("QEMU started", None, 0.0)]
    for event, label in EVENTS:
        if event.startswith("@"):
            line = result.first(event[1:])
            if line is not None:
                out.append(Row(label, None, line.wall))
        elif event in marks:
            out.append(Row(label, marks[event].uptime, marks[event].wall))
    return out


def summary(result: VMResult) -> dict[str, tuple[float, float]]:
    """(guest s, wall s) of the boot (kernel → ready) and of the shutdown (asked → end)."""
    m = result.marks()
    out: dict[str, tuple[float, float]] = {}
    if "ready" in m:
        out["boot"] = (m["ready"].uptime, m["ready"].wall)
        if "stage1" in m:
            out["stage 1 → ready"] = (m["ready"].uptime - m["stage1"].uptime,
                                      m["ready"].wall - m["stage1"].wall)
    asked = next((m[a] for a in ("poweroff", "reboot", "halt") if a in m), None)
    if asked is not None and "end" in m:
        out["shutdown"] = (m["end"].uptime - asked.uptime, m["end"].wall - asked.wall)
    return out


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _qemu_version(argv: list[str]) -> str:
    try:
        out = subprocess.run([argv[0], "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return argv[0]


def _load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _python(result: VMResult) -> str:
    """Which interpreter ran ovis in the VM (tests.vmtools.qemu.describe_python's line)."""
    line = result.python.removeprefix("ovis-vm: the VM runs ovis on ")
    if not line:
        return f"ovis runs on the host's Python {platform.python_version()}"
    return f"ovis runs on `{line.split(' ', 1)[0]}` {line.split(' ', 1)[1]}"


def _append(append: str) -> str:
    """The kernel command line without its ``init=`` (a temporary directory of the run)."""
    return " ".join(w for w in append.split() if not w.startswith("init="))


def markdown(result: VMResult, *, title: str = "Boot timeline in a QEMU virtual machine") -> str:
    argv = result.argv
    opt = {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("-")}
    kernel = result.built.kernel.version if result.built else opt.get("-kernel", "?")
    lines = [
        f"## {title}",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `tests/test_vm.py` (`make vm`): the example "
        "tree plus two test oneshots and the scenario's `vm-when-ready` longrun, booted from "
        "ovis's initramfs stage 0 to `ovis poweroff`. "
        f"Linux {kernel}, {_qemu_version(argv)}, `-accel {opt.get('-accel', '?')}` "
        f"(no KVM: nested virtualisation), `-m {opt.get('-m', '?')} -smp {opt.get('-smp', '?')}`, "
        f"on {_cpu()}. The root is the host's `/` over 9p (read-only, `cache=loose`) under a "
        f"tmpfs overlay; {_python(result)}. Kernel command line "
        f"`{_append(opt.get('-append', ''))}`"
        f"{', and a hardware RNG (`virtio-rng-pci`)' if 'virtio-rng-pci' in argv else ''} "
        "(why each: `tests/vmtools/qemu.py`, `kernel_append` and `qemu_argv`).",
        "",
        "One run on a 2-core machine shared with other test suites (load average "
        f"{_load()} when it ended): under TCG the guest's clock runs with the host's, so "
        "every figure here moves with the host's load; compare runs alternated in one "
        "session, not against this table.",
        "",
        "Guest: /proc/uptime printed by each stage (10 ms resolution; the last line is the "
        "kernel's printk stamp). Wall: when the host read the line on the serial console, "
        "from QEMU's start (firmware and kernel decompression come before uptime 0). "
        "Stages 3 and 4 print no uptime; stage 2 and system ready are interpolated.",
        "",
        "| step | guest uptime (s) | wall (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r.label} | {_fmt(r.uptime)} | {_fmt(r.wall)} |" for r in rows(result)]
    s = summary(result)
    if s:
        lines += ["", "| span | guest (s) | wall (s) |", "|---|---:|---:|"]
        lines += [f"| {k} | {g:.2f} | {w:.2f} |" for k, (g, w) in s.items()]
    lines += [
        "",
        "Under TCG a bare Python start costs about 0.4 s of guest time with Debian's "
        "`/usr/bin/python3` (statically linked with libpython) and 0.75 s with a "
        "shared-libpython build such as pyenv's, and an `ovis` command's imports 1–2 s more. "
        "A boot to ready runs one Python (`ovis boot`: stage 2 "
        "runs in its forked child when rc.init is the skeleton's) and a poweroff two "
        "(`ovis poweroff`, whose detached child runs stage 3 and the stop of the skeleton's "
        "rc.shutdown, then stage 4 through the lean entry of PID 1's scripts); the rest is "
        "the services' own start and stop. Stage 2 and \"system ready\" are ovis's console "
        "lines: their guest time is interpolated from the host time they arrived at.",
        "",
    ]
    return "\n".join(lines)


def write(result: VMResult, path: Path) -> Path:
    """Put the timeline into *path* (docs/benchmarks.md) between its markers."""
    from ovis.docblock import write_block

    path.parent.mkdir(parents=True, exist_ok=True)
    write_block(path, "vm timeline", markdown(result).strip("\n"))
    return path

"""Time shell commands inside the QEMU VM: what a Python start or an import costs under TCG.

    python3 -m tests.vmtools.probe [--repeat N] [--dir DIR] [--timeout S] [--append W] CMD...

Each CMD is a ``sh -c`` command line run in the VM's root (the host's ``/``
through 9p, as the boot tests see it), after stage 0, as PID 1's child;
``$PY`` is the interpreter the VM tests run ovis with
(:func:`tests.vmtools.qemu.vm_python`: Debian's ``/usr/bin/python3`` when it
fits, else the lean venv of :func:`tests.vmtools.qemu.lean_python`;
``$OVIS_VM_PYTHON`` chooses) and ``$OVIS`` the ``python -I -S -c ...`` prefix
that runs this checkout's ovis with it.  The commands run in turn, *N* rounds (alternated: A B A B ...), each
between two /proc/uptime readings; the VM then powers off.  Prints the
median and the minimum guest time of each command, then its last output
(stdout+stderr, 40 lines at most).  A developer's profiling tool (issue 13:
where a boot's seconds go), not a test.
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from ovis.boot import selfcmd
from tests.vmtools import initramfs, qemu, stage0

_STAMP = "ovis-vm-probe:"
_LINE = re.compile(re.escape(_STAMP) + r" (\d+) (\d+) ([0-9.]+) ([0-9.]+)")

SCRIPT = """\
#!/bin/sh
# tests.vmtools.probe: time each command between two /proc/uptime readings, then power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PY={py} OVIS={ovisfile}
printf '#!/bin/sh\nexec %s "$@"\n' {ovis} > $OVIS; chmod +x $OVIS
out=/run/ovis-vm-probe
mkdir -p $out
r=0
while [ $r -lt {repeat} ]; do
{body}
  r=$((r + 1))
done
for f in $out/*.out; do echo "== $f"; tail -n 40 "$f"; done
echo o > /proc/sysrq-trigger
sleep 10
"""

ONE = """\
  read -r a _ < /proc/uptime
  sh -c {cmd} > $out/{i}.out 2>&1
  read -r b _ < /proc/uptime
  echo "{stamp} {i} $r $a $b"
"""


def script(commands: list[str], python: str, repeat: int) -> str:
    ovis = shlex.join(selfcmd.argv(python, qemu.REPO))
    body = "".join(ONE.format(cmd=shlex.quote(c), i=i, stamp=_STAMP)
                   for i, c in enumerate(commands))
    return SCRIPT.format(py=shlex.quote(python), ovis=shlex.quote(ovis), repeat=repeat, body=body,
                         ovisfile="/run/ovis-vm-probe-ovis")


def times(lines: list[str]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for line in lines:
        m = _LINE.search(line)
        if m:
            out.setdefault(int(m.group(1)), []).append(float(m.group(4)) - float(m.group(3)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tests.vmtools.probe",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", type=Path, help="where the initramfs and the script go (kept)")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--quiet", action="store_true", help="no command output")
    p.add_argument("--append", default="", help="more kernel command line words")
    p.add_argument("commands", nargs="+", metavar="CMD")
    args = p.parse_args(argv)
    missing = qemu.prerequisites().missing()
    if missing:
        print("probe: " + "; ".join(missing), file=sys.stderr)
        return 2
    kernel = initramfs.find_kernel()
    assert kernel is not None
    work = (args.dir or Path(tempfile.mkdtemp(prefix="ovis-probe-"))).absolute()
    work.mkdir(parents=True, exist_ok=True)
    python = qemu.vm_python() or qemu.lean_python(work / "python")
    print(qemu.describe_python(), file=sys.stderr)
    init = work / "init"
    init.write_text(script(args.commands, str(python), args.repeat))
    init.chmod(0o755)
    qemu.precompile(python)
    built = initramfs.build(work / "initramfs.img", kernel, default_init=str(init))
    argv_ = qemu.qemu_argv(kernel.image, built.path, qemu.kernel_append(str(init), args.append))
    result = qemu.run(argv_, timeout=args.timeout, console=work / "console",
                      stop_on=(stage0.SHELL_PROMPT, qemu.HALTED, "sysrq: Power Off"))
    got = times([line.text for line in result.lines])
    for i, cmd in enumerate(args.commands):
        t = got.get(i, [])
        med = f"{statistics.median(t):6.2f}" if t else "     -"
        low = f"{min(t):6.2f}" if t else "     -"
        print(f"{med} {low}  ({len(t)} runs)  {cmd}")
    if not args.quiet:
        text = result.transcript
        start = text.find("== ")
        print(text[start:] if start >= 0 else result.describe())
    return 0 if len(got) == len(args.commands) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python3 -m tests.vmtools``: boot the example system in a QEMU VM and show its console.

    python3 -m tests.vmtools [--action poweroff|reboot|halt|none] [--dir DIR]
                       [--append 'WORDS'] [--timeout S] [--timeline FILE]
                       [--importtime]

Builds the initramfs and a scenario (the bundled examples, tree ``boot``) in
DIR (a temporary directory by default, removed afterwards), boots, prints
the serial console as it was captured with host times, and exits 0 when the
VM ended the way the action asked.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.vmtools import qemu, timeline


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tests.vmtools", description=__doc__.split("\n\n")[0])
    p.add_argument("--action", choices=["poweroff", "reboot", "halt", "none"], default="poweroff")
    p.add_argument("--dir", type=Path, help="scenario directory (kept)")
    p.add_argument("--append", default="", help="more kernel command line words (e.g. break)")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--timeline", type=Path, help="write the markdown timeline there")
    p.add_argument("--importtime", action="store_true",
                   help="run ovis boot and the action with python -X importtime (profile)")
    args = p.parse_args(argv)
    missing = qemu.prerequisites().missing()
    if missing:
        print("tests.vmtools: " + "; ".join(missing), file=sys.stderr)
        return 2
    work = args.dir or Path(tempfile.mkdtemp(prefix="ovis-vm-"))
    try:
        scenario = qemu.Scenario(work, action=None if args.action == "none" else args.action,
                                 python_flags=("-X", "importtime") if args.importtime else (),
                                 # stage 2's lines (its imports) went to the boot log: show it
                                 when_ready="sed 's/^/ovis-vm-bootlog: /' \"$1\" > /dev/console"
                                 if args.importtime else "")
        result = qemu.boot(scenario, timeout=args.timeout, append=args.append)
        for line in result.lines:
            print(f"{line.wall:7.2f} {line.text}")
        print(f"tests.vmtools: {'timed out' if result.timed_out else 'QEMU exited'} after "
              f"{result.wall:.1f} s")
        if args.timeline:
            print(f"tests.vmtools: wrote {timeline.write(result, args.timeline)}")
        ok = {"poweroff": result.powered_off, "reboot": result.restarted,
              "halt": qemu.HALTED in result.transcript, "none": True}[args.action]
        return 0 if ok else 1
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

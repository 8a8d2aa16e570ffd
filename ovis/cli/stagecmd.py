"""The lean entry of the commands PID 1's own scripts run: stage 4 and the power verbs.

``.s6-svscan/finish`` (stage 4) and the signal scripts (ctrl-alt-del is
``reboot --repeat-forces``) run while the machine is going down, and where
Python is slow (an emulated CPU, a small board) every import counts: this
entry reads the few fixed command lines stage 1 writes there without
building the argument parser or importing the other commands.  Any other
command line (``--help``, an option it does not know) goes to the full
``ovis`` command, so it behaves exactly as ``ovis`` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

POWER = ("poweroff", "reboot", "halt")


def _parse(argv: Sequence[str]) -> tuple[str, Path, dict[str, object]] | None:
    """(verb, LIVE, options) of ``--live DIR VERB [OPTIONS]``, or None for anything else."""
    if len(argv) < 3 or argv[0] != "--live" or not argv[1].startswith("/"):
        return None
    live, verb, rest = Path(argv[1]), argv[2], list(argv[3:])
    if verb == "stage4":
        if rest not in ([], ["--crash"]):
            return None
        return verb, live, {"crashed": rest == ["--crash"]}
    if verb not in POWER:
        return None
    opts: dict[str, object] = {"repeat_forces": False, "exitcode": None}
    while rest:
        word = rest.pop(0)
        if word == "--repeat-forces":
            opts["repeat_forces"] = True
        elif word == "--exit-code" and rest and rest[0].isdigit():
            opts["exitcode"] = int(rest.pop(0))
        else:
            return None
    return verb, live, opts


def main(argv: Sequence[str]) -> int:
    parsed = _parse(argv)
    if parsed is None:
        from ovis.cli.main import main as full

        return full(argv)
    verb, live, opts = parsed
    if verb == "stage4":
        from ovis.boot import signals

        signals.ignore()
        from ovis.boot.shutdown import stage4

        stage4(live, crashed=bool(opts["crashed"]))
    from ovis.boot.shutdown import shutdown

    if not shutdown(live, verb, exitcode=opts["exitcode"],  # type: ignore[arg-type]
                    repeat_forces=bool(opts["repeat_forces"])):
        print("ovis: a shutdown is already in progress", file=sys.stderr)
        return 1
    print(f"ovis: {verb} requested")
    return 0


def entrypoint() -> None:
    from ovis.errors import OvisError

    try:
        code = main(sys.argv[1:])
    except OvisError as e:
        print(f"ovis: error: {e}", file=sys.stderr)
        code = e.exit_status
    except KeyboardInterrupt:
        code = 130
    except OSError as e:
        from ovis.cli.main import os_error_text

        print(f"ovis: error: {os_error_text(e)}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.exit(code)

"""aa-shutdown's bridge: record the action, then make s6-svscan exit.

s6-svscan 2.11 runs ``.s6-svscan/finish`` without arguments and its control
fifo has no halt/reboot/poweroff letters, so the action is written (atomically)
to the file aa-enable's finish script reads (:func:`ovis.aa.enable.action_file`)
before s6-svscan is told to exit; if that fails, the record is taken back so
a later exit does not reuse it.

Stage 3 of anopa's scripts runs aa-shutdown as a Python of its own: this
module imports neither the repository (the service model, the engine's
state) nor aa-enable (the compiler), which costs seconds under an emulated
CPU; the few names it shares with them are repeated here
(tests/test_aa_utils.py checks they agree).
"""

from __future__ import annotations

import os
from pathlib import Path

from ovis import atomic
from ovis.errors import NotSupervised
from ovis.s6.control import svscan_send

from . import codes as C

#: ovis.aa.repo's DEFAULT_REPODIR and SCANDIR, ovis.aa.enable's SVSCANDIR.
DEFAULT_REPODIR = "/run/services"
SCANDIR = ".scandir"
SVSCANDIR = ".scandir/.s6-svscan"


def action_file(repodir: Path) -> Path:
    """ovis.aa.enable.action_file: where the finish script aa-enable wrote reads the action."""
    return repodir / SVSCANDIR / "action"


def unslash(s: str) -> str:
    """ovis.aa.repo.unslash: anopa's unslash(), one trailing '/' dropped (but "/" kept)."""
    return s[:-1] if len(s) > 1 and s.endswith("/") else s


def request(repodir: str, action: str) -> None:
    """Have the repository's s6-svscan exit so that its finish script runs *action*.

    AaError: ``cause`` is a NotSupervised when no s6-svscan listens, else an OSError.
    """
    scandir = Path(repodir) / SCANDIR
    record = action_file(Path(os.path.abspath(repodir)))
    try:
        svscan_send(scandir, "")  # is anybody listening?
    except (NotSupervised, OSError) as e:
        raise C.AaError(C.ERR_S6, f"control {scandir}", e) from None
    try:
        atomic.write_text(record, action + "\n")
    except OSError as e:
        raise C.AaError(C.ERR_WRITE_STATUS, f"record {action} in {record}", e) from None
    try:
        svscan_send(scandir, "b")
    except (NotSupervised, OSError) as e:
        _forget(record)
        raise C.AaError(C.ERR_S6, f"control {scandir}", e) from None


def _forget(record: Path) -> None:
    try:
        os.unlink(record)
    except OSError:
        pass

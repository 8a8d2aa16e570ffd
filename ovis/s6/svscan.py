"""s6-svscan's command line: the one place that sizes and spells it.

Both ``ovis scandir start`` (outside of a boot) and stage 1 (as PID 1) exec
s6-svscan; they must agree on its table size, so the argv is built here, in
the s6 layer, from plain paths (this package knows nothing of ovis's Paths).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # pathlib (and re, fnmatch...) only for the annotations
if TYPE_CHECKING:
    from pathlib import Path

#: s6-svscan sizes its tables with -c (default 500, and it refuses more).
MIN_MAX_SERVICES = 1000


def svscan_argv(scandir: Path, servicedirs: Path, rescan: int = 0,
                expected: int = 0) -> list[str]:
    """``s6-svscan -c CAP -t RESCAN SCANDIR``, CAP sized from the compiled servicedirs.

    *expected*: services about to be compiled, when s6-svscan starts before
    them (``ovis start --scandir`` on an empty LIVE).
    """
    try:
        count = sum(1 for e in os.listdir(servicedirs) if not e.startswith("."))
    except OSError:
        count = 0
    count = max(count, expected)
    # Each logged service is two supervisors; leave room for services added later.
    cap = min(90000, max(MIN_MAX_SERVICES, 4 * count + 100))
    return ["s6-svscan", "-c", str(cap), "-t", str(rescan), str(scandir)]

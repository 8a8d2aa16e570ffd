"""Value checks shared by every definition format (66, anopa, s6-rc).

A value means the same thing whichever format wrote it (a notification fd,
a signal, a number of milliseconds), so it is checked in one place, with
one message.  These helpers raise :class:`ValueError` (or return None) and
never build a :class:`~ovis.errors.DefinitionError`: each reader turns the
text into an error of its own, naming file, line and key as written.
"""

from __future__ import annotations

import _signal

MAX_DEATH = 4096
MAX_MS = 2**32 - 1
MAX_FD = 2**31 - 1
MAXSIZE_RANGE = (4096, 268_435_455)  # what s6-log accepts for its sNNN directive
SIGNAL_NUMBERS = range(1, 65)
#: Longest piece of user text quoted in a message (a 50 MB line stays out of the terminal).
QUOTE_MAX = 80


def shorten(text: str, limit: int = QUOTE_MAX) -> str:
    """*text* cut to about *limit* characters with ``...``, for messages."""
    return text if len(text) <= limit else text[:limit] + "..."


def normalize_signal(text: str) -> str | None:
    """Canonical spelling of a signal for s6's ``down-signal``, or None if invalid.

    Accepts ``HUP``, ``SIGHUP`` (any case; skalibs compares names without
    case) or a number 1..64.  Names come back as ``SIGHUP`` and numbers as
    decimal, so two definitions meaning the same signal compare equal.
    """
    text = text.strip()
    if len(text) > 20:
        return None
    if text.isascii() and text.isdigit():
        return str(int(text)) if int(text) in SIGNAL_NUMBERS else None
    upper = text.upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    return upper if upper in _signal_names() and not upper.startswith("SIG_") else None


_names: list[frozenset[str]] = []


def _signal_names() -> frozenset[str]:
    """What ``signal.Signals.__members__`` holds (aliases too), from the C module alone.

    signal.py makes its enums of ``_signal``'s upper-case ``SIG*`` names but
    the ``SIG_*`` ones; importing it costs enum and functools (the
    compiler checks a ``down-signal`` with this).
    """
    if not _names:
        _names.append(frozenset(n for n in dir(_signal) if n.isupper() and n.startswith("SIG")
                                and not n.startswith("SIG_")))
    return _names[0]


def parse_uint(text: str, limit: int = MAX_MS) -> int | None:
    """Decimal unsigned integer no larger than *limit*, or None.

    Digits beyond what *limit* can need are refused before conversion, so a
    5,000-digit file costs nothing (and never hits Python's int-string limit).
    """
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    if len(text.lstrip("0")) > len(str(limit)):
        return None
    value = int(text)
    return value if value <= limit else None


def bounded_uint(text: str, low: int = 0, high: int = MAX_MS) -> int:
    """*text* as an unsigned integer in low..high; ValueError with the one message."""
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit():
        raise ValueError(f"not an unsigned integer: '{shorten(stripped)}'")
    value = parse_uint(stripped, limit=high)
    if value is None or value < low:
        shown = stripped.lstrip("0") or "0"
        raise ValueError(f"out of range {low}..{high}: {shorten(shown)}")
    return value


def check_notify(value: int) -> str | None:
    """Why *value* cannot be a notification fd, or None when it can.

    0, 1 and 2 are the service's stdin, stdout (the logger pipe) and stderr:
    s6-supervise would accept them, but readiness would never arrive there.
    """
    if value < 3:
        return "must be 3 or more (0, 1 and 2 are stdin, stdout and stderr)"
    return None


def check_text(text: str) -> str | None:
    """Why *text* cannot go into a script or an environment, or None.

    A NUL byte cannot be passed through execve (argv and environ are C
    strings): the daemon would get a truncated command or variable.
    """
    if "\0" in text:
        return "contains a NUL byte"
    return None

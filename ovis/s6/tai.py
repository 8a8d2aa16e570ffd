"""TAI64N time stamps as s6 writes them.

s6 stores times as a *tain*: 8-byte TAI64 seconds plus 4-byte nanoseconds.
On a normal skalibs build the seconds field is ``2**62 + unix_time + 37``
(2**62 is the TAI64 "magic" bit, 37 = 10 s initial TAI-UTC offset plus the 27
leap seconds inserted up to 2017).  s6-log prints the same value as a label
``@`` + 16 hex digits of seconds + 8 hex digits of nanoseconds.

Leap seconds after 2017 are not accounted for; neither are they in the
skalibs table, so conversions stay exact inverses of what s6 writes.
"""

from __future__ import annotations

import math

TAI_OFFSET = 2**62 + 37
_NANO = 1_000_000_000
#: The digits of a label (``@`` and 24 of these); str methods, not ``re`` (its import
#: costs some 20 modules, and the log reader is on ``ovis status NAME``'s path).
_HEX = frozenset("0123456789abcdefABCDEF")


def tain_to_unix(sec: int, nano: int) -> float:
    """Convert a (TAI64 seconds, nanoseconds) pair to a Unix time stamp."""
    return (sec - TAI_OFFSET) + nano / _NANO


def unix_to_tain(t: float) -> tuple[int, int]:
    """Convert a Unix time stamp to a (TAI64 seconds, nanoseconds) pair."""
    whole = math.floor(t)
    nano = int((t - whole) * _NANO)
    # Float rounding can push the fraction to exactly one second.
    nano = min(max(nano, 0), _NANO - 1)
    return whole + TAI_OFFSET, nano


def tai64n_label(t: float) -> str:
    """The s6-log style label for *t*: ``@`` and 24 lowercase hex digits."""
    sec, nano = unix_to_tain(t)
    return f"@{sec:016x}{nano:08x}"


def parse_tai64n_label(s: str) -> float:
    """Inverse of :func:`tai64n_label`; ``ValueError`` on anything malformed."""
    if len(s) != 25 or s[0] != "@" or not _HEX.issuperset(s[1:]):
        raise ValueError(f"not a TAI64N label: {s!r}")
    sec, nano = int(s[1:17], 16), int(s[17:], 16)
    if nano >= _NANO:
        raise ValueError(f"TAI64N label with nanoseconds out of range: {s!r}")
    if sec < 2**62:
        # Before 1970 minus 37 s: s6 never writes those; treat as garbage.
        raise ValueError(f"TAI64N label before the epoch: {s!r}")
    return tain_to_unix(sec, nano)

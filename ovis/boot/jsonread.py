"""Read and write the few small JSON records of the power path without importing ``json``.

Stage 4 (a fresh Python as PID 1) and ``ovis poweroff`` read ``LIVE/boot.json``
and the shutdown request, and the request is written as JSON.  The ``json``
package imports ``re`` (its decoder's and encoder's patterns), which brings
the regular-expression compiler: ten modules, some 0.2 s of a shutdown where
Python is slow (an emulated CPU, a small board), for two small files.  The
parser here is the C scanner ``json`` itself uses (``_json.make_scanner``),
configured as ``json.loads`` configures it, so the values are the same; where
``_json`` is missing (another Python implementation) it is ``json.loads``.
"""

from __future__ import annotations

_scan = None
_WS = " \t\n\r"


class _Context:
    """What the C scanner reads from a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(text: str) -> object:
    """``json.loads(text)`` for a str; raises ValueError on bad input, as it does."""
    global _scan
    if _scan is None:
        try:
            from _json import make_scanner
        except ImportError:  # not CPython: the real thing
            import json

            return json.loads(text)
        _scan = make_scanner(_Context())
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError("not JSON") from None
    finally:
        _Context.memo.clear()
    if text[end:].strip(_WS):
        raise ValueError("extra data after the JSON value")
    return value


def dumps_flat(record: dict[str, object]) -> str:
    """``json.dumps(record, separators=(",", ":"))`` of a flat record whose keys are plain
    ASCII words and whose values are None, bool, int, float or plain ASCII strings."""
    parts = []
    for key, value in record.items():
        if value is None:
            text = "null"
        elif value is True or value is False:
            text = "true" if value else "false"
        elif type(value) is int or (type(value) is float and value - value == 0):
            text = repr(value)  # (finite floats: json writes NaN and Infinity as words)
        elif isinstance(value, str) and value.isascii() and value.isprintable() \
                and '"' not in value and "\\" not in value:
            text = f'"{value}"'
        else:
            import json

            text = json.dumps(value)
        parts.append(f'"{key}":{text}')
    return "{" + ",".join(parts) + "}"

"""json.loads / json.dumps for ovis's own small files, without importing json.

``import json`` imports ``json.decoder`` and ``json.encoder``, which compile
regular expressions at import: ``re`` and with it ``enum``, ``sre_*``,
``functools``... some 20 modules on every ``ovis status`` and ``ovis
start``, which only read and write state records and the status index.  The
work itself is done by the C accelerator ``_json`` (what json uses too):
its scanner and encoder take their settings from plain attributes, so they
are built here with json's defaults and give json's very answers and bytes.
Anything they do not cover (a decoding error, whose message json composes;
``indent``; a BOM or UTF-16/32 input; an interpreter without ``_json``)
goes to json itself.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"
_scan: Any = None
_encoders: dict[tuple[bool, str, str], Any] = {}


class _Context:
    """What ``_json.make_scanner`` reads of a json.JSONDecoder (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


def _scanner() -> Any:
    global _scan
    if _scan is None:
        try:
            from _json import make_scanner

            _scan = make_scanner(_Context())
        except (ImportError, TypeError):
            _scan = False
    return _scan


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``: the same value, or the same ValueError (json.JSONDecodeError)."""
    scan = _scanner()
    if isinstance(data, (bytes, bytearray)):
        if not scan or data[:3] == b"\xef\xbb\xbf" or b"\x00" in data[:4]:
            import json  # a BOM, UTF-16/32: json's own detection

            return json.loads(data)
        try:
            text = data.decode()
        except UnicodeDecodeError:
            import json

            return json.loads(data)  # json's own error
    else:
        text = data
    if scan and not text.startswith("\ufeff"):
        start = len(text) - len(text.lstrip(_WS))
        try:
            obj, end = scan(text, start)
        except Exception:  # noqa: BLE001
            # Not a JSON value: json.loads says where and why.  (The C scanner's
            # first error in a process, before json.decoder is imported, can
            # even come out as a SystemError.)
            pass
        else:
            if end == len(text) or not text[end:].strip(_WS):
                return obj
    import json

    return json.loads(data)


def load(fp: Any) -> Any:
    """``json.load(fp)``."""
    return loads(fp.read())


def _default(o: object) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: Any, *, sort_keys: bool = False,
          separators: tuple[str, str] | None = None) -> str:
    """``json.dumps(obj, sort_keys=..., separators=...)`` (its other arguments at their defaults)."""
    if type(obj) is str:  # JSONEncoder.encode's own case: the string alone, no encoder
        try:
            from _json import encode_basestring_ascii
        except ImportError:
            import json

            return json.dumps(obj)
        return encode_basestring_ascii(obj)
    item_sep, key_sep = separators if separators is not None else (", ", ": ")
    key = (sort_keys, item_sep, key_sep)
    enc = _encoders.get(key)
    if enc is None:
        try:
            from _json import encode_basestring_ascii, make_encoder

            enc = make_encoder({}, _default, encode_basestring_ascii, None, key_sep, item_sep,
                               sort_keys, False, True)
        except (ImportError, TypeError):
            enc = False
        _encoders[key] = enc
    if enc and not isinstance(obj, str):
        try:
            return "".join(enc(obj, 0))
        except Exception:  # noqa: BLE001  json raises it again, with its own message
            _encoders.pop(key, None)  # (its circularity markers may be left set)
    import json

    return json.dumps(obj, sort_keys=sort_keys, separators=separators)

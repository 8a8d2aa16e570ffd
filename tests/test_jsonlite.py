"""ovis.jsonlite gives json's answers and bytes (state records, the status index).

The state records and the status index are written and read through it on
``ovis start``/``stop``/``status``; a difference in a byte would change what
``--json``, the index's validity checks and other readers of LIVE see.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from ovis import jsonlite

VALUES = [
    {}, [], "", 0, -1, 1.5, 1e300, 2**70, True, False, None, "caf\u00e9 \u2603 \U0001f600",
    {"b": 1, "a": [1, 2, {"z": None, "y": "x\n\t\"\\"}], "c": {"k": 0.1}},
    {"timings": {"start_begun": 1764612345.123456, "ready": 1764612345.5}, "name": "a@b",
     "reset_from": ["x", "y"], "exit": None, "crashes": 0},
    [float("inf"), float("-inf")], {"\u0000": "\u001f", "\ud800": "lone surrogate"},
    {1: "int key", 2.5: "float key", True: "bool key", None: "none key"},
]


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.randrange(-10**6, 10**6)
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
                       for _ in range(rng.randrange(6)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.randrange(2**80)
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(_random_value(rng, 3)): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("separators", [None, (",", ":")])
def test_dumps_is_json_dumps(sort_keys: bool, separators: tuple[str, str] | None) -> None:
    rng = random.Random(13)
    values = VALUES + [_random_value(rng) for _ in range(300)]
    for v in values:
        if sort_keys and isinstance(v, dict) and len({type(k) for k in v}) > 1:
            continue  # mixed key types do not sort (json raises TypeError: so does jsonlite)
        want = json.dumps(v, sort_keys=sort_keys, separators=separators)
        assert jsonlite.dumps(v, sort_keys=sort_keys, separators=separators) == want, v


def test_dumps_raises_what_json_raises_and_recovers() -> None:
    loop: list[object] = []
    loop.append(loop)
    for bad in (loop, {"x": object()}, {"a": 1, 2: "b"}):
        with pytest.raises((TypeError, ValueError)) as got:
            jsonlite.dumps(bad, sort_keys=True)
        with pytest.raises(type(got.value)) as want:
            json.dumps(bad, sort_keys=True)
        assert str(got.value) == str(want.value)
    # a failed call leaves nothing behind for the next one (circularity markers)
    assert jsonlite.dumps([[1], [1]], sort_keys=True) == "[[1], [1]]"


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def test_loads_is_json_loads() -> None:
    rng = random.Random(7)
    texts = [json.dumps(v) for v in VALUES + [_random_value(rng) for _ in range(300)]]
    texts += [" \n{\"a\": 1}\r\n\t", "NaN", "-Infinity", "[1e5, 1E-3, -0, 0.0]", "\"\\ud83d\\ude00\""]
    for t in texts:
        for data in (t, t.encode(), b"\xef\xbb\xbf" + t.encode(), t.encode("utf-16")):
            try:
                want = json.loads(data)
            except ValueError:
                continue  # (a BOM in a str)
            assert _same(jsonlite.loads(data), want) or jsonlite.loads(data) == want, data


@pytest.mark.parametrize("bad", [b"{not json", b"", b"   ", b"[1,", b"{\"a\" 1}", b"1 2", b"\"a\x01\"",
                                 b"\xff\xfe\x00", b"\x80abc", b"[1] x", b"{\"a\": 1,}", "\ufeff{}"])
def test_loads_errs_as_json_does(bad: bytes | str) -> None:
    with pytest.raises(ValueError) as want:
        json.loads(bad)
    with pytest.raises(ValueError) as got:
        jsonlite.loads(bad)
    assert (type(got.value), str(got.value)) == (type(want.value), str(want.value))


def test_first_error_in_a_fresh_interpreter_is_json_s() -> None:
    """The C scanner's first error, before json.decoder was ever imported."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\n"
            "from ovis.jsonlite import loads\n"
            "assert 'json' not in sys.modules and 're' not in sys.modules\n"
            "print(loads(b'{\"a\": [1, 2.5, null]}'))\n"
            "assert 'json' not in sys.modules and 're' not in sys.modules\n"
            "try:\n    loads(b'{not json')\nexcept ValueError as e:\n    print(type(e).__name__, e)\n")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["{'a': [1, 2.5, None]}", "JSONDecodeError Expecting property "
                                     "name enclosed in double quotes: line 1 column 2 (char 1)"]

"""ovis status's own readers of LIVE (engine/status.py) answer as the engine's do.

``ovis status`` reads a state record and an ``ovis.json`` per service with
os.read instead of the buffered readers the engine uses; these tests write
records the engine's way and check both readers agree, for the odd cases
too (missing, garbage, unknown keys, a record larger than one read).
"""

from __future__ import annotations

import os
from pathlib import Path

from ovis.engine import state as statefile
from ovis.engine.status import load_state, read_small
from ovis.paths import Paths


def _paths(tmp_path: Path) -> Paths:
    return Paths.resolve({}, live=str(tmp_path / "live"), services=str(tmp_path / "svc"),
                         trees=str(tmp_path / "trees"), logdir=str(tmp_path / "log"),
                         skel=str(tmp_path / "skel"))


def test_state_records_read_alike(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    st = statefile.ServiceState(name="web", state="failed", wanted="up", reason="timeout", exit=3,
                                detail="x" * 100_000, since=12.5, timings={"start_begun": 1.0})
    statefile.save(paths, st)
    got = load_state(paths, "web")
    assert got == statefile.load(paths, "web") == st  # 100 kB: more than one read
    assert load_state(paths, "nope") is None is statefile.load(paths, "nope")
    rec = Path(statefile._path(paths, "odd"))
    for text in (b"{not json", b"[1, 2]", b'{"name": "odd", "state": "up", "future_key": 1}', b""):
        rec.write_bytes(text)
        assert load_state(paths, "odd") == statefile.load(paths, "odd"), text
    assert load_state(paths, "odd") is None  # the empty file


def test_read_small_whole_file(tmp_path: Path) -> None:
    for size in (0, 35, 65535, 65536, 65537, 200_000):
        f = tmp_path / f"f{size}"
        data = os.urandom(size)
        f.write_bytes(data)
        assert read_small(str(f)) == data, size
    assert read_small(str(tmp_path / "missing")) is None
    assert read_small(str(tmp_path)) is None  # a directory: unreadable, not an exception

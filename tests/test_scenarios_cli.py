"""Every scenario folder, through the real ``ovis`` command.

For each ``tests/scenarios/<case>/``: the command in ``cmd`` (default: ``check``)
must print exactly ``ovis: error: <expected>`` and exit 2 — or succeed when
``expected`` is ``OK`` — and a failing command must leave a live system's
LIVE directory exactly as it was (nothing half-compiled).  A ``stderr`` file,
when present, is the command's whole expected standard error (warnings,
every error of a file); ``{dir}`` stands for the scenario directory, in
``cmd`` too.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Iterator

import pytest

from tests.livesys import LiveSystem, wait_until

SCENARIOS = Path(__file__).parent / "scenarios"
CASES = sorted(c for c in SCENARIOS.iterdir() if (c / "expected").is_file())


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = Path(dirpath) / n
            st = p.lstat()
            kind = "l" if p.is_symlink() else ("d" if p.is_dir() else "f")
            out[str(p.relative_to(root))] = (kind, st.st_size if kind == "f" else 0,
                                             st.st_mtime_ns if kind != "d" else 0)
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """One running system with a service up: the LIVE that bad input must not touch."""
    s = LiveSystem(tmp_path_factory.mktemp("scenarios"))
    s.write("sentinel", """
        [Main]
        Type = classic
        Description = "already running"
        [Start]
        Execute = ( sleep 1000 )
        """)
    s.start_scandir()
    s.ovis("start", "sentinel", check=True)
    # The start returns once sentinel is up; its logger's s6-supervise writes its
    # supervise/ on its own time (under load, after the first case's snapshot).
    assert wait_until(lambda: (s.live / "sv" / "sentinel" / "log" / "supervise" / "status").exists(),
                      timeout=60)
    try:
        yield s
    finally:
        s.stop_scandir()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scenario(case: Path, live: LiveSystem) -> None:
    expected = (case / "expected").read_text().strip().replace("{dir}", str(case))
    cmd = shlex.split((case / "cmd").read_text().replace("{dir}", str(case))) if (case / "cmd").exists() else ["check"]
    live.env["OVIS_SERVICES"] = f"{case / 'service'}:{live.services}"
    before = snapshot(live.live)
    r = live.ovis(*cmd)
    if (case / "stderr").exists():
        assert r.stderr == (case / "stderr").read_text().replace("{dir}", str(case))
    if expected == "OK":
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.splitlines()[0] == f"ovis: error: {expected}"
    assert snapshot(live.live) == before
    # Starting every definition of the scenario fails the same way, untouched.
    # (all or nothing: valid names given together with the bad one start nothing).
    names = sorted(e.name for e in (case / "service").iterdir() if not e.name.endswith("@"))
    if cmd[0] == "start":
        names += cmd[1:]
    r = live.ovis("start", *names)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("ovis: error: ") and len(r.stderr.splitlines()) == 1
    assert snapshot(live.live) == before
    assert live.status("sentinel")["sentinel"]["state"] == "up"

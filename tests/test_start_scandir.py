"""``ovis start --scandir``: one command from definitions never seen to all up.

It spawns the s6-svscan ``ovis scandir start`` would run (same argv and
environment), detached, and must neither hold the caller's output open
(a caller reading to EOF would wait forever) nor start a second one.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.livesys import LiveSystem, _kill_leftovers, svscan_running, wait_until

from ovis.s6.svscan import svscan_argv

LONGRUN = """\
[Main]
Type = classic
Options = ( !log )
{deps}
[Start]
Execute = ( sleep 1000 )
"""


def _svscan_pids(scandir: Path) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"s6-svscan") and str(scandir).encode() in argv:
            out.append(int(pid))
    return out


def _stop(s: LiveSystem) -> None:
    for pid in _svscan_pids(s.live / "scandir"):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_until(lambda: not svscan_running(s.live / "scandir"), timeout=10)
    _kill_leftovers(s.root)


def test_start_with_scandir_from_an_empty_live(tmp_path: Path) -> None:
    s = LiveSystem(tmp_path)
    s.write("base", LONGRUN.format(deps=""))
    s.write("app", LONGRUN.format(deps="Depends = ( base )\n"))
    try:
        assert not (s.live / "scandir").exists()
        t0 = time.monotonic()
        # capture_output reads both pipes to EOF: a s6-svscan holding them would hang this
        proc = s.ovis("start", "--scandir", "app", timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert time.monotonic() - t0 < 100  # hang guard only
        assert "app" in proc.stdout and "base" in proc.stdout
        st = s.status()
        assert st["app"]["state"] == "up" and st["base"]["state"] == "up"
        pids = _svscan_pids(s.live / "scandir")
        assert len(pids) == 1
        assert os.getsid(pids[0]) == pids[0]  # its own session: not the caller's
        # the same argv as `ovis scandir start` (table sized for what is defined)
        argv = Path(f"/proc/{pids[0]}/cmdline").read_bytes().decode().split("\0")[:-1]
        assert argv[1:] == svscan_argv(s.live / "scandir", s.live / "sv")[1:]
        env = Path(f"/proc/{pids[0]}/environ").read_bytes().decode().split("\0")
        assert f"OVIS_LIVE={s.live}" in env
        # a second one finds it running: no other s6-svscan
        again = s.ovis("start", "--scandir", "base", timeout=120)
        assert again.returncode == 0, again.stderr
        assert _svscan_pids(s.live / "scandir") == pids
        # and plain `ovis scandir stop` stops it as if `scandir start` had run it
        stop = s.ovis("scandir", "stop", timeout=120)
        assert stop.returncode == 0, stop.stderr
        assert wait_until(lambda: not _svscan_pids(s.live / "scandir"), timeout=20)
    finally:
        _stop(s)


def test_start_with_scandir_refuses_bad_definitions_first(tmp_path: Path) -> None:
    """A definition error is exit 2 and compiles nothing (s6-svscan may be left running)."""
    s = LiveSystem(tmp_path)
    s.write("bad", "[Main]\nType = classic\nBogus = 1\n[Start]\nExecute = ( sleep 1 )\n")
    try:
        proc = s.ovis("start", "--scandir", "bad", timeout=120)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        assert proc.stderr.startswith("ovis: error: ") and "Bogus" in proc.stderr
        assert not (s.live / "sv" / "bad").exists()
    finally:
        _stop(s)


def test_svscan_table_holds_what_is_about_to_be_compiled(tmp_path: Path) -> None:
    argv = svscan_argv(tmp_path / "scandir", tmp_path / "sv", expected=600)
    assert int(argv[argv.index("-c") + 1]) >= 4 * 600
    assert svscan_argv(tmp_path / "scandir", tmp_path / "sv")[2] == "1000"

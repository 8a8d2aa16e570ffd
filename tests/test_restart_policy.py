"""The restart policy: where each format sets it, and what finish does with it.

The finish script is run here for real (``/bin/sh``, a fake supervise/status
with the want-up flag set or not), without any supervisor: what it decides
is what it records in ``.ovis-restart`` and its exit status (125: give up).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from ovis.errors import DefinitionError
from ovis.paths import Paths
from ovis.service.formats.anopa import parse_anopa_dir
from ovis.service.compiler import Compiler
from ovis.service.formats.sixtysix import parse_frontend
from ovis.service.restart import read_state


def test_66_dialects_and_anopa_set_the_back_off(tmp_path: Path) -> None:
    v08 = tmp_path / "a"
    v08.write_text("[Main]\nType = classic\nRestartDelay = 200\nRestartDelayMax = 5000\n"
                   "[Start]\nExecute = ( sleep 1 )\n")
    at = tmp_path / "b"
    at.write_text("[main]\n@type = classic\n@restart-delay = 200\n@restart-delay-max = 5000\n"
                  "[start]\n@execute = ( sleep 1 )\n")
    an = tmp_path / "c"
    an.mkdir()
    (an / "run").write_text("#!/bin/sh\nexec sleep 1\n")
    (an / "run").chmod(0o755)
    (an / "restart-delay").write_text("200\n")
    (an / "restart-delay-max").write_text("5000\n")
    for svc in (parse_frontend(v08, "a"), parse_frontend(at, "b"), parse_anopa_dir(an, "c")):
        assert (svc.restart_delay, svc.restart_delay_max) == (200, 5000)


def test_bad_back_off_values_are_errors(tmp_path: Path) -> None:
    p = tmp_path / "a"
    p.write_text("[Main]\nType = classic\nRestartDelay = soon\n[Start]\nExecute = ( sleep 1 )\n")
    with pytest.raises(DefinitionError) as e:
        parse_frontend(p, "a")
    assert f"{p}:3: RestartDelay:" in str(e.value)


def compiled(tmp_path: Path, main: str) -> Path:
    defs = tmp_path / "defs"
    defs.mkdir(exist_ok=True)
    (defs / "svc").write_text(f"[Main]\nType = classic\n{main}\n[Start]\nExecute = ( sleep 1 )\n")
    paths = Paths.resolve({}, live=str(tmp_path / "live"), services=str(defs),
                          logdir=str(tmp_path / "log"))
    Compiler(paths).compile(parse_frontend(defs / "svc", "svc"))
    d = paths.servicedir("svc")
    (d / "supervise").mkdir()
    return d


def die(d: Path, want_up: bool, code: int = 3, flags: int | None = None) -> tuple[int, float]:
    """Run finish as s6-supervise does: the flags byte says "finishing" (2), and "want up"
    (4) unless the service was sent down; *flags* writes another byte instead."""
    status = bytearray(35)
    status[34] = flags if flags is not None else (6 if want_up else 2)
    (d / "supervise" / "status").write_bytes(bytes(status))
    t = time.monotonic()
    r = subprocess.run(["./finish", str(code), "0", "svc"], cwd=d, timeout=60)
    return r.returncode, time.monotonic() - t


def test_finish_doubles_the_delay_up_to_the_cap_then_a_limit_gives_up(tmp_path: Path) -> None:
    d = compiled(tmp_path, "RestartDelay = 500\nRestartDelayMax = 1000\nMaxDeath = 4")
    assert int((d / "timeout-finish").read_text()) >= 1000 + 5000
    took = []
    for _ in range(3):
        code, t = die(d, want_up=True)
        assert code == 0
        took.append(t)
    assert took[0] >= 0.5 and took[1] >= 1.0 and took[2] >= 1.0  # 500 ms, 1 s, capped at 1 s
    assert took[2] < took[1] + 5
    st = read_state(d)
    assert st is not None and st.restarts == 3 and not st.waiting and not st.gave_up
    code, t = die(d, want_up=True)  # the 4th death in a row: s6 must not restart it
    assert code == 125 and t < 5
    st = read_state(d)
    assert st is not None and st.gave_up and st.restarts == 3


def test_a_death_while_wanted_down_is_not_a_crash(tmp_path: Path) -> None:
    d = compiled(tmp_path, "RestartDelay = 3000")
    code, t = die(d, want_up=False)
    assert code == 0 and t < 2
    assert read_state(d) is None  # no death was counted: nothing to record
    # flags the builtins do not know (no byte but NULs; a later s6's bit): od reads them
    for flags, restarts, least in ((0, None, 0.0), (0x14, 1, 3.0), (0x12, 1, 0.0)):
        code, t = die(d, want_up=False, flags=flags)
        st = read_state(d)
        assert (st.restarts if st is not None else None) == restarts, flags
        assert code == 0 and least <= t < least + 2, (flags, t)  # 0x14: the 3 s back-off


def test_a_stop_records_only_what_changed(tmp_path: Path) -> None:
    """A stop (wanted down) writes .ovis-restart only when it said waiting, a restart time or
    given up: the usual stop leaves the file as it is (one mv exec less at every stop,
    which a shutdown under an emulated CPU pays per longrun); the counts stay."""
    d = compiled(tmp_path, "RestartDelay = 100")
    die(d, want_up=True)  # one counted death: restarts=1, not waiting any more
    st = read_state(d)
    assert st is not None and st.restarts == 1 and not st.waiting
    before = (d / ".ovis-restart").stat()
    code, _ = die(d, want_up=False)
    after = (d / ".ovis-restart").stat()
    assert code == 0 and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    st = read_state(d)
    assert st is not None and st.restarts == 1
    # a record that says it is waiting for a restart is reset by the stop, the counts kept
    text = (d / ".ovis-restart").read_text().replace("waiting=0", "waiting=1")
    (d / ".ovis-restart").write_text(text.replace("restart_at=0", f"restart_at={int(time.time()) + 99}"))
    die(d, want_up=False)
    st = read_state(d)
    assert st is not None and not st.waiting and st.restarts == 1
    assert "waiting=0\nrestart_at=0\ngaveup=0" in (d / ".ovis-restart").read_text()
    (d / ".ovis-restart").unlink()  # no record at all (a start through ovis removes it):
    code, _ = die(d, want_up=False)  # the stop has nothing to record either
    assert code == 0 and not (d / ".ovis-restart").exists() and read_state(d) is None
    # a crash after it still counts from a fresh record
    die(d, want_up=True)
    st = read_state(d)
    assert st is not None and st.restarts == 1 and not st.waiting


def test_a_stop_runs_no_program_but_the_shell(tmp_path: Path) -> None:
    """At a stop, finish reads s6's flags with shell builtins: no od (nor mv) exec."""
    import shutil

    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    d = compiled(tmp_path, "RestartDelay = 100")
    for flags in (2, 10, 11):  # finishing; finishing + ready (a newline); + paused
        status = bytearray(35)
        status[:12] = b"@\x00\x00\x00\n\x00\x00\x00\x00\n\x00\x00"  # newlines and NULs before
        status[34] = flags
        (d / "supervise" / "status").write_bytes(bytes(status))
        r = subprocess.run([strace, "-f", "-qq", "-e", "trace=execve", "./finish", "256", "15",
                            "svc"], cwd=d, capture_output=True, text=True, timeout=60)
        execs = [line for line in r.stderr.splitlines() if "execve(" in line]
        assert r.returncode == 0 and len(execs) == 1 and '"./finish"' in execs[0], r.stderr
        assert not (d / ".ovis-restart").exists()


def test_stayed_up_long_enough_starts_from_the_first_delay_again(tmp_path: Path) -> None:
    d = compiled(tmp_path, "RestartDelay = 400\nRestartDelayMax = 4000")
    die(d, want_up=True)
    die(d, want_up=True)  # streak 2: 800 ms
    state = (d / ".ovis-restart").read_text()
    # pretend the last restart was 2 minutes ago (longer than the 60 s reset)
    lines = [f"started={int(time.time()) - 120}" if l.startswith("started=") else l
             for l in state.splitlines()]
    (d / ".ovis-restart").write_text("\n".join(lines) + "\n")
    code, t = die(d, want_up=True)
    assert code == 0 and 0.4 <= t < 0.8 + 3, t


def test_a_stop_during_the_wait_cuts_it_short(tmp_path: Path) -> None:
    d = compiled(tmp_path, "RestartDelay = 20000")
    status = bytearray(35)
    status[34] = 6  # finishing, wanted up
    (d / "supervise" / "status").write_bytes(bytes(status))
    t = time.monotonic()
    p = subprocess.Popen(["./finish", "3", "0", "svc"], cwd=d)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = read_state(d)
        if st is not None and st.waiting:
            break
        time.sleep(0.05)
    st = read_state(d)
    assert st is not None and st.waiting and st.restart_at is not None
    assert st.restart_at >= time.time() + 10  # about 20 s from now
    status[34] = 2  # what s6-supervise writes when it gets `d` while finish runs (finishing)
    (d / "supervise" / "status").write_bytes(bytes(status))
    assert p.wait(timeout=10) == 0
    assert time.monotonic() - t < 10
    st = read_state(d)
    assert st is not None and not st.waiting and st.restarts == 0


def test_finish_is_set_aside_only_when_it_would_do_nothing(tmp_path: Path) -> None:
    from ovis.service.restart import FINISH_ASIDE, finish_aside, finish_back

    d = compiled(tmp_path, "RestartDelay = 500")
    text = (d / "finish").read_bytes()
    assert finish_aside(str(d))
    assert not (d / "finish").exists() and (d / FINISH_ASIDE).read_bytes() == text
    finish_back(str(d))
    assert (d / "finish").read_bytes() == text and not (d / FINISH_ASIDE).exists()
    finish_back(str(d))  # nothing aside: nothing happens
    assert (d / "finish").read_bytes() == text
    # a record to clear on the stop: finish must run
    (d / ".ovis-restart").write_text("restarts=1\nstreak=1\nstarted=0\nwaiting=1\nrestart_at=9\ngaveup=0\n")
    assert not finish_aside(str(d)) and (d / "finish").exists()
    (d / ".ovis-restart").unlink()
    # the user's own finish program runs at every stop
    (d / "finish.user").write_text("#!/bin/sh\n")
    assert not finish_aside(str(d)) and (d / "finish").exists()
    (d / "finish.user").unlink()
    # a finish written while the old one was aside (a recompile) is kept
    assert finish_aside(str(d))
    (d / "finish").write_bytes(b"#!/bin/sh\n# new\n")
    finish_back(str(d))
    assert (d / "finish").read_bytes() == b"#!/bin/sh\n# new\n" and not (d / FINISH_ASIDE).exists()

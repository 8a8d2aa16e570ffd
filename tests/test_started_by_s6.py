"""A start that finds s6 already bringing a service up reports it as found, not started.

The moment is real (s6-supervise writes its first status, down and wanting
up, before it forks ``./run``: an ``earlier`` service at boot, see
tests/test_boot.py), but too short to catch on purpose; so the decision is
checked on the status s6 writes at each moment, and the real supervisor's
first status is checked to read as that moment.
"""

from __future__ import annotations

import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

from ovis.engine.s6backend import started_by_s6
from ovis.s6.status import FLAG_FINISHING, FLAG_READY, FLAG_WANTUP, decode_status, read_status


def _status(pid: int, flags: int, wstat: int = 0):  # type: ignore[no-untyped-def]
    return decode_status(struct.pack(">QIQIQHB", 2**62 + 37, 0, 2**62 + 37, 0, pid, wstat, flags))


@pytest.mark.parametrize("pid,flags,wstat,by_s6", [
    (0, FLAG_WANTUP, 0, True),                     # a new supervisor, about to fork ./run
    (42, FLAG_WANTUP, 0, True),                    # up, short of ready
    (42, FLAG_WANTUP | FLAG_READY, 0, True),       # up and ready (found up at once anyway)
    (0, FLAG_WANTUP, 1 << 8, False),               # exited 1, its restart pending
    (0, FLAG_WANTUP, 9, False),                    # killed by SIGKILL, its restart pending
    (42, FLAG_WANTUP | FLAG_FINISHING, 0, False),  # ./finish running
    (0, 0, 0, False),                              # down, not wanted up (a down file)
    (42, 0, 0, False),                             # up, but told to go down (once)
])
def test_which_statuses_mean_s6_was_starting_it(pid: int, flags: int, wstat: int,
                                                by_s6: bool) -> None:
    assert started_by_s6(_status(pid, flags, wstat)) is by_s6


def test_no_status_yet_is_not_taken_for_s6s_start() -> None:
    assert started_by_s6(None) is False


def test_a_new_supervisors_first_status_reads_as_s6_starting(tmp_path: Path) -> None:
    """s6-supervise with a ./down file stops at its first status: down, and,
    with the down file gone, the same status wanting up is what a start sees
    in the instant before ./run is forked."""
    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "run").write_text("#!/bin/sh\nexec sleep 100\n")
    (svc / "run").chmod(0o755)
    (svc / "down").write_text("")
    sup = subprocess.Popen(["s6-supervise", str(svc)])
    try:
        deadline = time.monotonic() + 30
        st = read_status(svc)
        while st is None and time.monotonic() < deadline:
            time.sleep(0.02)
            st = read_status(svc)
        assert st is not None, "s6-supervise wrote no status"
        assert (st.pid, st.wstat, st.finishing, st.want_up) == (0, 0, False, False)
        assert not started_by_s6(st)  # a down file: a start is the user's
        raw = (svc / "supervise" / "status").read_bytes()
        wanting = raw[:-1] + bytes([raw[-1] | FLAG_WANTUP])
        assert started_by_s6(decode_status(wanting))
    finally:
        subprocess.run(["s6-svc", "-x", str(svc)], check=False)
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(sup.pid, 9)
            sup.wait()

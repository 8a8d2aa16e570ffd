"""session_members: one /proc listing per event-loop wake-up, and never a stale one outside it.

Real processes in their own sessions (``setsid``); no mocks of /proc.
"""

from __future__ import annotations

import subprocess
import time

from ovis.linux import procs


def _session() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"], start_new_session=True)


def test_outside_a_round_every_check_lists_proc_again() -> None:
    procs.end_round()
    assert procs.session_members(999_999_999) == []  # a listing that knows nothing of p
    p = _session()
    try:
        assert procs.session_members(p.pid) == [p.pid]
    finally:
        p.kill()
        p.wait()
    assert procs.session_members(p.pid) == []  # reaped: gone


def test_a_round_shares_its_listing_and_rereads_candidates() -> None:
    a = _session()
    b = _session()
    try:
        procs.new_round()
        try:
            assert procs.session_members(a.pid) == [a.pid]  # takes the round's listing
            shared = procs._listing
            assert shared is not None
            b.kill()
            b.wait()
            # b is in the shared listing but is re-read: gone, so not a member
            assert procs.session_members(b.pid) == []
            assert procs._listing is shared
            c = _session()  # started after the listing: only a fresh check sees it
            try:
                assert procs.session_members(c.pid, fresh=True) == [c.pid]
            finally:
                c.kill()
                c.wait()
        finally:
            procs.end_round()
        assert procs._listing is None
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_round_started_after_a_listing_does_not_reuse_it() -> None:
    procs.new_round()
    try:
        procs.session_members(999_999_999)
        time.sleep(0.01)
        procs.new_round()  # the next wake-up
        p = _session()
        try:
            assert procs.session_members(p.pid) == [p.pid]
        finally:
            p.kill()
            p.wait()
    finally:
        procs.end_round()


def test_a_rounds_index_finds_every_member_and_rereads_them() -> None:
    """One index per listing serves every check of the round; a member that
    died after the listing is not reported by a later check of that round."""
    leader = subprocess.Popen(["sh", "-c", "sleep 30 & exec sleep 30"], start_new_session=True)
    other = _session()
    try:
        deadline = time.monotonic() + 10
        while len(procs.session_members(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        procs.new_round()
        try:
            both = procs.session_members(leader.pid)
            assert len(both) == 2 and leader.pid in both
            assert procs.session_members(other.pid) == [other.pid]  # same index, other session
            child = next(p for p in both if p != leader.pid)
            subprocess.run(["kill", "-9", str(child)], check=True)
            deadline = time.monotonic() + 10
            while procs.session_members(leader.pid) != [leader.pid] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert procs.session_members(leader.pid) == [leader.pid]
        finally:
            procs.end_round()
    finally:
        for p in (leader, other):
            p.kill()
            p.wait()

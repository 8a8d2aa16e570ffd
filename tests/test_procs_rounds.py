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


def _listings(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    import os

    calls: list[str] = []
    real = os.listdir

    def spy(path="."):  # type: ignore[no-untyped-def]
        if str(path) == "/proc":
            calls.append(str(path))
        return real(path)

    monkeypatch.setattr(procs.os, "listdir", spy)
    monkeypatch.setattr(procs, "_kept", None)  # no listing kept from an earlier test
    return calls


def _catching_up(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The /proc listings taken, with every kept listing young enough to be caught up."""
    if procs._last_pid() is None:
        import pytest

        pytest.skip("no /proc/sys/kernel/ns_last_pid (kernel without CONFIG_CHECKPOINT_RESTORE)")
    monkeypatch.setattr(procs, "CATCH_UP_AGE", 30.0)
    monkeypatch.setattr(procs, "CATCH_UP_PIDS", 10_000)
    return _listings(monkeypatch)


def _in_a_round(sid: int) -> list[int]:
    """session_members(sid) as one event-loop wake-up asks it."""
    procs.new_round()
    try:
        return procs.session_members(sid)
    finally:
        procs.end_round()


def test_a_round_catches_up_on_processes_created_since_the_last_listing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The next wake-up adds the pids given out since the last listing
    (ns_last_pid) instead of listing /proc again: a process started in
    between, in its own session or forked by a member, is still found."""
    import os

    calls = _catching_up(monkeypatch)
    leader = subprocess.Popen(["sh", "-c", "read x; sleep 30 & exec sleep 30"],
                              stdin=subprocess.PIPE, start_new_session=True)
    try:
        assert _in_a_round(leader.pid) == [leader.pid]
        assert len(calls) == 1
        assert leader.stdin is not None
        leader.stdin.write(b"go\n")  # its child is forked after the listing
        leader.stdin.flush()
        deadline = time.monotonic() + 10
        found: list[int] = []
        while len(found) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
            found = _in_a_round(leader.pid)
        assert len(found) == 2 and leader.pid in found, found
        assert len(calls) == 1  # caught up each time, never listed again
        child = next(p for p in found if p != leader.pid)
        os.kill(child, 9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = _in_a_round(leader.pid)
            if found == [leader.pid]:
                break
            time.sleep(0.02)
        assert found == [leader.pid]  # the dead one dropped from the kept listing
    finally:
        leader.kill()
        leader.wait()
        subprocess.run(["pkill", "-9", "-s", str(leader.pid)], check=False)


def test_too_many_new_pids_or_an_old_listing_mean_a_new_listing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = _listings(monkeypatch)
    procs.new_round()
    procs.session_members(999_999_999)
    procs.end_round()
    n = len(calls)
    assert n == 1
    monkeypatch.setattr(procs, "CATCH_UP_PIDS", 0)
    p = _session()  # one pid given out: more than the 0 allowed
    try:
        assert _in_a_round(p.pid) == [p.pid]
        assert len(calls) == n + 1
        monkeypatch.setattr(procs, "CATCH_UP_PIDS", 10_000)
        monkeypatch.setattr(procs, "CATCH_UP_AGE", -1.0)  # every kept listing too old
        assert _in_a_round(p.pid) == [p.pid]
        assert len(calls) == n + 2
    finally:
        p.kill()
        p.wait()


def test_a_fork_in_flight_during_the_listing_is_found_by_the_next_catch_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The kernel hands a pid out (ns_last_pid moves) before the process shows
    in /proc: one forked while /proc was read has a pid at or below the counter
    read before the listing, and no entry in it.  The next wake-up's catch-up
    must still find it (else a session could be taken for empty while it
    lives); here the listing is made to look as if taken in that instant."""
    calls = _catching_up(monkeypatch)
    p = _session()
    try:
        assert _in_a_round(p.pid) == [p.pid]
        assert len(calls) == 1 and procs._kept is not None
        t, _before, names = procs._kept
        names.discard(str(p.pid))  # not yet in /proc when it was read...
        procs._forget(str(p.pid))
        procs._indexed = None
        monkeypatch.setattr(procs, "_kept", (t, p.pid, names))  # ...though its pid was handed out
        assert _in_a_round(p.pid) == [p.pid]
        assert len(calls) == 1  # caught up, not listed again
    finally:
        p.kill()
        p.wait()

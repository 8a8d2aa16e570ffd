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

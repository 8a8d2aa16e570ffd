"""Fifth pass on the per-service syscalls of a transaction (issue 13, run17).

A known umask spares the chmod of every record and fifo; the fifo names
come from a pool of random bytes; a temporary is created exclusively.  Each
test fails if its shortcut gives a file another mode, follows a planted
link or repeats a name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ovis import atomic
from ovis.s6 import events


@pytest.fixture
def umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    os.umask(old)

    def set_(m: int) -> None:
        os.umask(m)

    yield set_
    os.umask(old)
    atomic.forget_umask()


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277, 0o777])
def test_a_record_has_its_mode_whatever_the_umask(tmp_path: Path, umask, mask: int) -> None:  # type: ignore[no-untyped-def]
    umask(mask)
    for known in (False, True):
        if known:
            atomic.know_umask()
        p = tmp_path / f"r{known}"
        atomic.write_bytes(p, b"x", 0o644)
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, (oct(mask), known)
        assert p.read_bytes() == b"x"
        atomic.forget_umask()


def test_exact_mode_is_only_claimed_for_a_known_umask(umask) -> None:  # type: ignore[no-untyped-def]
    umask(0o022)
    assert not atomic.exact_mode(0o644)  # unknown
    atomic.know_umask()
    assert atomic.exact_mode(0o644) and atomic.exact_mode(0o600) and not atomic.exact_mode(0o666)
    assert os.umask(0o022) == 0o022  # reading it left it as it was
    atomic.forget_umask()
    assert not atomic.exact_mode(0o600)


def test_a_left_temporary_or_a_planted_link_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    dest = tmp_path / "rec.json"
    tmp = tmp_path / f".rec.json.{os.getpid()}.tmp"
    os.symlink(target, tmp)
    atomic.write_bytes(dest, b"new", 0o644)
    assert target.read_text() == "keep" and dest.read_bytes() == b"new"
    assert not os.path.lexists(tmp)
    tmp.write_text("old")
    tmp.chmod(0o666)  # a dead process's (same pid) with another mode
    atomic.know_umask()
    try:
        atomic.write_bytes(dest, b"newer", 0o644)
    finally:
        atomic.forget_umask()
    assert dest.read_bytes() == b"newer" and stat.S_IMODE(dest.stat().st_mode) == 0o644


@pytest.mark.parametrize("mask", [0o022, 0o277])
def test_a_subscription_fifo_is_0600_with_a_known_umask(tmp_path: Path, umask, mask: int) -> None:  # type: ignore[no-untyped-def]
    sd = tmp_path / "svc"
    (sd / "event").mkdir(parents=True)
    umask(mask)
    atomic.know_umask()
    with events.subscribe(sd) as sub:
        assert stat.S_IMODE(os.stat(sub.path).st_mode) == 0o600


def test_fifo_names_are_unique_and_a_forked_child_draws_its_own(tmp_path: Path) -> None:
    names = {events._random_suffix() for _ in range(500)}
    assert len(names) == 500  # the pool is consumed, not reread
    assert all(len(n) == 6 and n.isalnum() and n.isascii() for n in names)
    events._random_suffix()  # the pool is not empty now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        os.write(w, events._random_suffix().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 16).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert child != events._random_suffix()  # not the next name of the parent's pool

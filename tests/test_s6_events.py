"""ovis.s6.events: fifodir subscriptions and race-free waits, on real s6."""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ovis.errors import NotSupervised, StateError
from ovis.s6 import control
from ovis.s6.events import Subscription, Tracker, ensure_fifodir, subscribe, wait
from ovis.s6.status import SupervisorStatus, decode_status, read_status
from ovis.s6.tai import parse_tai64n_label
from tests.s6fixtures import Scandir, wait_for

SLEEP_RUN = "exec sleep 1000\n"
READY_RUN = "echo >&3\nexec 3>&-\nexec sleep 1000\n"
NAME_RE = re.compile(r"ftrig1:(@[0-9a-f]{24}):[A-Za-z0-9]{6}")


def read_until(sub: Subscription, want: str, timeout: float = 2.0) -> str:
    """Collect event letters until *want* occurs as a subsequence."""
    got = ""
    deadline = time.monotonic() + timeout
    while not _subsequence(want, got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"events {got!r} never contained {want!r}")
        select.select([sub], [], [], left)
        got += sub.read()
    return got


def _subsequence(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(c in it for c in needle)


def status_of(pid: int, flags: int, wstat: int = 0) -> SupervisorStatus:
    import struct

    return decode_status(struct.pack(">QIQIQHB", 2**62 + 37, 0, 2**62 + 37, 0, pid, wstat, flags))


# -- fifodir and subscription ---------------------------------------------------


def test_ensure_fifodir_like_s6(tmp_path: Path) -> None:
    fifodir = ensure_fifodir(tmp_path)
    assert fifodir == tmp_path / "event"
    st = os.stat(fifodir)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o3730
    assert st.st_gid == os.getegid()
    assert ensure_fifodir(tmp_path) == fifodir  # idempotent


def test_ensure_fifodir_leaves_existing_alone(tmp_path: Path) -> None:
    (tmp_path / "event").mkdir(mode=0o755)
    os.chmod(tmp_path / "event", 0o755)
    ensure_fifodir(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "event").st_mode) == 0o755
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "event").write_text("")
    with pytest.raises(NotADirectoryError):
        ensure_fifodir(tmp_path / "other")


def test_ensure_fifodir_through_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    os.symlink(tmp_path / "store", tmp_path / "svc" / "event")
    ensure_fifodir(tmp_path / "svc")
    assert stat.S_IMODE(os.stat(tmp_path / "store").st_mode) == 0o3730


def test_same_as_s6_svwait_fifodir(tmp_path: Path) -> None:
    # s6-svwait pre-creates event/ with ftrigw_fifodir_make: compare
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    # no supervise/status: s6-svwait fails, but only after making event/
    subprocess.run(["s6-svwait", "-u", "-t", "500", str(theirs)], capture_output=True, timeout=5)
    assert (theirs / "event").is_dir()
    ensure_fifodir(ours)
    a, b = os.stat(ours / "event"), os.stat(theirs / "event")
    assert (stat.S_IMODE(a.st_mode), a.st_gid) == (stat.S_IMODE(b.st_mode), b.st_gid)


def test_subscription_name_and_lifecycle(tmp_path: Path) -> None:
    t0 = time.time()
    sub = subscribe(tmp_path)
    names = os.listdir(tmp_path / "event")
    assert names == [sub.path.name]  # no leftover dot-file
    name = sub.path.name
    assert len(name) == 39
    m = NAME_RE.fullmatch(name)
    assert m, name
    assert abs(parse_tai64n_label(m.group(1)) - t0) < 2.0
    st = os.stat(sub.path)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert sub.read() == ""  # nothing yet, and no blocking
    assert isinstance(sub.fileno(), int)
    sub.close()
    assert not sub.path.exists() and sub.closed
    sub.close()  # idempotent
    with pytest.raises(ValueError):
        sub.fileno()


def test_subscription_fds_are_cloexec(tmp_path: Path) -> None:
    import fcntl

    with subscribe(tmp_path) as sub:
        assert fcntl.fcntl(sub.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        # one descriptor, read-write: the reader s6 needs and the writer that keeps EOF away
        assert fcntl.fcntl(sub.fileno(), fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR
    assert not sub.path.exists()


def test_s6_ftrig_notify_reaches_subscription(tmp_path: Path) -> None:
    # the real s6 writer finds our fifo by its name alone
    with subscribe(tmp_path) as one, subscribe(tmp_path) as two:
        subprocess.run(["s6-ftrig-notify", str(tmp_path / "event"), "uUdD"], check=True, timeout=5)
        assert one.read() == "uUdD"
        assert two.read() == "uUdD"
        assert one.read() == ""


def test_subscription_stays_quiet_after_a_writer_leaves(tmp_path: Path) -> None:
    # s6-supervise opens, writes, closes: without a writer of our own the fifo
    # would read EOF from then on and poll would wake the event loop forever
    import select

    with subscribe(tmp_path) as sub:
        subprocess.run(["s6-ftrig-notify", str(tmp_path / "event"), "u"], check=True, timeout=5)
        assert sub.read() == "u"
        p = select.poll()
        p.register(sub.fileno(), select.POLLIN)
        assert p.poll(100) == []
        assert sub.read() == ""


def test_subscription_reads_more_than_one_buffer(tmp_path: Path) -> None:
    with subscribe(tmp_path) as sub:
        letters = "uUdD" * 2500  # 10,000 letters: more than one read's worth
        fd = os.open(sub.path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            assert os.write(fd, letters.encode()) == len(letters)
        finally:
            os.close(fd)
        assert sub.read() == letters
        assert sub.read() == ""


# -- Tracker ---------------------------------------------------------------------


def test_tracker_follows_letters() -> None:
    tr = Tracker(status_of(0, 0x08))  # fresh: down and ready
    assert (tr.up, tr.ready, tr.down_finished) == (False, True, True)
    tr.feed("u")
    assert (tr.up, tr.ready, tr.down_finished) == (True, False, False)
    tr.feed("U")
    assert (tr.up, tr.ready) == (True, True)
    tr.feed("d")
    assert (tr.up, tr.ready, tr.down_finished) == (False, False, False)
    tr.feed("D")
    assert (tr.up, tr.ready, tr.down_finished) == (False, True, True)
    tr.feed("udDudOD")
    assert tr.deaths == 3 and tr.permanent_failure and not tr.supervisor_gone
    tr.feed("x")
    assert tr.supervisor_gone


def test_tracker_initial_states() -> None:
    up = Tracker(status_of(42, 0x04))
    assert (up.up, up.ready, up.down_finished) == (True, False, False)
    finishing = Tracker(status_of(43, 0x02 | 0x04, signal.SIGTERM))
    assert (finishing.up, finishing.down_finished) == (False, False)
    none = Tracker(None)
    assert (none.up, none.ready, none.down_finished, none.deaths) == (False, False, False, 0)


# -- events from a real supervisor ---------------------------------------------


def test_events_on_start_and_stop(scandir: Scandir) -> None:
    sd = scandir.add("ev", READY_RUN, notification_fd=3, down=True)
    scandir.wait_supervised("ev")
    with subscribe(sd) as sub:
        control.send(sd, "u")
        assert read_until(sub, "uU") == "uU"
        control.send(sd, "d")
        assert read_until(sub, "dD") == "dD"


def test_wait_up_ready_down_finished(scandir: Scandir) -> None:
    sd = scandir.add("w", READY_RUN, notification_fd=3, down=True, finish="exec sleep 0.3\n")
    scandir.wait_supervised("w")
    st = wait(sd, "up", 2, send="u")
    assert st.pid > 0
    st = wait(sd, "ready", 2)
    assert st.ready and st.up
    st = wait(sd, "ready", 2)  # already there: immediate
    assert st.ready
    st = wait(sd, "down", 2, send="d")
    assert not st.up and st.finishing  # ./finish still sleeping
    st = wait(sd, "finished", 2)
    assert not st.up and not st.finishing and st.pid == 0
    assert st.signal == signal.SIGTERM


def test_wait_ready_straight_from_down(scandir: Scandir) -> None:
    sd = scandir.add("r", READY_RUN, notification_fd=3, down=True)
    scandir.wait_supervised("r")
    st = wait(sd, "ready", 2, send="u")
    assert st.ready
    st = wait(sd, "finished", 2, send="d")
    assert st.pid == 0 and not st.want_up


def test_wait_send_never_misses_fast_transitions(scandir: Scandir) -> None:
    # ./run dies at once: u, d, D follow each other within a millisecond or so.
    # Subscribing after sending (or polling the status) would miss the 'u'.
    sd = scandir.add("blip", "exit 3\n", down=True)
    scandir.wait_supervised("blip")
    t0 = time.monotonic()
    for _ in range(50):
        # a missed letter waits forever: the timeouts are hang guards, wide
        # enough for a machine at load 100 (2 s failed there)
        wait(sd, "up", 30, send="o")
        st = wait(sd, "finished", 30)
        assert st.exit_code == 3
    assert time.monotonic() - t0 < 300
    assert os.listdir(sd / "event") == []  # every subscription cleaned up


def test_wait_start_stop_cycles(scandir: Scandir) -> None:
    sd = scandir.add("cyc", READY_RUN, notification_fd=3, down=True)
    scandir.wait_supervised("cyc")
    for _ in range(50):
        assert wait(sd, "ready", 30, send="u").ready
        assert wait(sd, "finished", 30, send="d").pid == 0


def test_wait_timeout(scandir: Scandir) -> None:
    sd = scandir.add("never", SLEEP_RUN, down=True)
    scandir.wait_supervised("never")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wait(sd, "up", 0.3)
    elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 3  # wide: a busy machine delays the wake-up, not the timeout
    assert os.listdir(sd / "event") == []


def test_wait_ready_times_out_without_notification(scandir: Scandir) -> None:
    sd = scandir.add("nonotif", SLEEP_RUN, down=True)
    scandir.wait_supervised("nonotif")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wait(sd, "ready", 0.3, send="u")
    assert time.monotonic() - t0 < 3
    assert read_status(sd).up  # type: ignore[union-attr]


def test_wait_permanent_failure(scandir: Scandir) -> None:
    sd = scandir.add("perm", "exit 1\n", notification_fd=3, down=True, finish="exit 125\n")
    scandir.wait_supervised("perm")
    with pytest.raises(StateError, match="permanent failure"):
        wait(sd, "ready", 2, send="u")
    st = read_status(sd)
    assert st is not None and not st.want_up
    assert os.listdir(sd / "event") == []


def test_wait_supervisor_exit(scandir: Scandir) -> None:
    sd = scandir.add("bye", SLEEP_RUN, down=True)
    scandir.wait_supervised("bye")
    with pytest.raises(StateError, match="supervisor exited"):
        wait(sd, "up", 2, send="x")


def test_wait_already_in_state_despite_x(scandir: Scandir) -> None:
    sd = scandir.add("fine", SLEEP_RUN, down=True)
    scandir.wait_supervised("fine")
    st = wait(sd, "finished", 2, send="x")  # down already: no error
    assert st.pid == 0


def test_wait_not_supervised(tmp_path: Path) -> None:
    with pytest.raises(NotSupervised):
        wait(tmp_path, "up", 1, send="u")
    assert os.listdir(tmp_path / "event") == []


def test_wait_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        wait(tmp_path, "sideways", 1)
    with pytest.raises(ValueError):
        wait(tmp_path, "up", 1, send="Z")
    assert not (tmp_path / "event").exists()


def test_subscribe_before_supervisor_exists(scandir: Scandir) -> None:
    sd = scandir.add("early", READY_RUN, notification_fd=3, link=False)
    assert read_status(sd) is None
    ensure_fifodir(sd)
    with subscribe(sd) as sub:
        scandir.link("early", rescan=False)
        control.svscan_send(scandir.path, "a")
        got = read_until(sub, "suU")
        assert got.startswith("s")


def test_wait_before_supervisor_exists(scandir: Scandir) -> None:
    sd = scandir.add("later", READY_RUN, notification_fd=3, link=False)
    result: list[object] = []

    def waiter() -> None:
        try:
            result.append(wait(sd, "ready", 3))
        except BaseException as e:  # pragma: no cover - reported below
            result.append(e)

    th = threading.Thread(target=waiter)
    th.start()
    wait_for(lambda: (sd / "event").exists() and os.listdir(sd / "event"), 2, what="subscription")
    scandir.link("later", rescan=False)
    control.svscan_send(scandir.path, "a")
    th.join(4)
    assert not th.is_alive()
    assert len(result) == 1 and isinstance(result[0], SupervisorStatus), result
    assert result[0].ready


def test_wait_never_supervised_times_out(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wait(tmp_path, "down", 0.2)
    assert time.monotonic() - t0 < 3


def test_stale_fifo_without_reader_is_removed(scandir: Scandir) -> None:
    sd = scandir.add("stale", SLEEP_RUN, down=True)
    scandir.wait_supervised("stale")
    stale = sd / "event" / "ftrig1:@400000006b04818c109b209c:44ItjQ"
    os.mkfifo(stale, 0o600)  # a listener that died without cleaning up
    t0 = time.monotonic()
    wait(sd, "up", 2, send="u")
    wait(sd, "finished", 2, send="d")
    assert time.monotonic() - t0 < 4  # each wait has 2 s: a blocked write would reach them
    assert not stale.exists()  # s6-supervise got ENXIO and unlinked it


def test_full_subscriber_does_not_block_supervisor(scandir: Scandir) -> None:
    sd = scandir.add("full", SLEEP_RUN, down=True)
    scandir.wait_supervised("full")
    with subscribe(sd) as lazy:
        fd = os.open(lazy.path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            while True:  # fill the pipe: the lazy reader never reads
                os.write(fd, b"z" * 4096)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        t0 = time.monotonic()
        wait(sd, "up", 2, send="u")
        wait(sd, "finished", 2, send="d")
        assert time.monotonic() - t0 < 4  # each wait has 2 s: a blocked write would reach them
        assert lazy.path.exists()  # EAGAIN: letters dropped, fifo kept

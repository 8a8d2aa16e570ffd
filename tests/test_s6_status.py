"""supervise/status decoding and TAI64N conversions, checked against real s6.

Transitions here are driven with s6-svc/s6-svwait on purpose, so these
tests do not depend on ovis.s6.control or ovis.s6.events.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from ovis.errors import ProtocolError
from ovis.s6.status import STATUS_SIZE, SupervisorStatus, decode_status, read_status
from ovis.s6.tai import (
    TAI_OFFSET,
    parse_tai64n_label,
    tai64n_label,
    tain_to_unix,
    unix_to_tain,
)
from tests.s6fixtures import Scandir, svstat, wait_for

READY_RUN = "echo >&3\nexec 3>&-\nexec sleep 1000\n"


def svc(servicedir: Path, *opts: str) -> None:
    subprocess.run(["s6-svc", *opts, str(servicedir)], check=True, timeout=5)


def svwait(servicedir: Path, opt: str) -> None:
    subprocess.run(["s6-svwait", opt, "-t", "2000", str(servicedir)], check=True, timeout=5)


def expected_svstat(st: SupervisorStatus) -> list[str]:
    """What `s6-svstat -o up,ready,pid,exitcode,signal` must print for *st*."""
    sig = st.signal
    return [
        "true" if st.up else "false",
        "true" if st.ready else "false",
        str(st.pid) if st.up else "-1",
        str(st.exit_code) if st.exit_code is not None else "-1",
        signal.Signals(sig).name if sig is not None else "NA",
    ]


def read(servicedir: Path) -> SupervisorStatus:
    st = read_status(servicedir)
    assert st is not None
    return st


# -- TAI64N -----------------------------------------------------------------


def test_tai_offset_matches_s6() -> None:
    assert TAI_OFFSET == 2**62 + 37
    assert unix_to_tain(0.0) == (2**62 + 37, 0)
    assert tain_to_unix(2**62 + 37 + 1_700_000_000, 500_000_000) == 1_700_000_000.5


def test_tai_roundtrip_and_label_format() -> None:
    t = 1_795_459_825.647194
    sec, nano = unix_to_tain(t)
    assert abs(tain_to_unix(sec, nano) - t) < 1e-6
    label = tai64n_label(t)
    assert len(label) == 25 and label.startswith("@4000000")
    assert label == f"@{sec:016x}{nano:08x}"
    assert abs(parse_tai64n_label(label) - t) < 1e-6
    # a label seen in s6-log output (research notes)
    assert parse_tai64n_label("@400000006b0481842eb978d3") == pytest.approx(
        0x6B048184 - 37 + 0x2EB978D3 / 1e9
    )


def test_unix_to_tain_never_overflows_nanoseconds() -> None:
    sec, nano = unix_to_tain(1_700_000_000.9999999999)
    assert 0 <= nano < 1_000_000_000


@pytest.mark.parametrize(
    "bad",
    ["", "@", "400000006b0481842eb978d3", "@400000006b0481842eb978d", "@400000006b0481842eb978d3 ",
     "@400000006b0481842eb978g3", "@400000006b0481843b9aca00", "@000000006b0481842eb978d3"],
)
def test_parse_label_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_tai64n_label(bad)


# -- decoding ----------------------------------------------------------------


def test_decode_hand_made_blob() -> None:
    wstat = 3 << 8  # exited with code 3
    blob = struct.pack(
        ">QIQIQHB", 2**62 + 37 + 1_700_000_000, 250_000_000,
        2**62 + 37 + 1_700_000_010, 0, 0, wstat, 0x08 | 0x04,
    )
    assert len(blob) == STATUS_SIZE
    st = decode_status(blob)
    assert st.stamp == 1_700_000_000.25
    assert st.ready_stamp == 1_700_000_010.0
    assert (st.pid, st.wstat) == (0, wstat)
    assert (st.paused, st.finishing, st.want_up, st.ready_flag) == (False, False, True, True)
    assert not st.up and not st.ready
    assert st.exit_code == 3 and st.signal is None


def test_decode_flags_and_signal() -> None:
    blob = struct.pack(">QIQIQHB", 2**62 + 37, 0, 2**62 + 37, 0, 1234, signal.SIGKILL, 0x01 | 0x02)
    st = decode_status(blob)
    assert st.paused and st.finishing and not st.want_up and not st.ready_flag
    # pid is ./finish's: not up, and the run death was a signal
    assert not st.up and st.signal == signal.SIGKILL and st.exit_code is None
    up = decode_status(struct.pack(">QIQIQHB", 2**62 + 37, 0, 2**62 + 37, 0, 99, 0, 0x08))
    assert up.up and up.ready and up.exit_code is None and up.signal is None


@pytest.mark.parametrize("size", [0, 20, 34, 36, 70])
def test_decode_wrong_size(size: int) -> None:
    with pytest.raises(ProtocolError):
        decode_status(b"\0" * size)


def test_read_status_missing_and_broken(tmp_path: Path) -> None:
    assert read_status(tmp_path / "nope") is None
    assert read_status(tmp_path) is None  # no supervise/
    (tmp_path / "supervise").write_text("")  # supervise is a file: ENOTDIR
    assert read_status(tmp_path) is None
    sd = tmp_path / "svc"
    (sd / "supervise").mkdir(parents=True)
    (sd / "supervise" / "status").write_bytes(b"\0" * 34)
    with pytest.raises(ProtocolError, match="34"):
        read_status(sd)
    (sd / "supervise" / "status").write_bytes(b"\0" * 36)
    with pytest.raises(ProtocolError, match="36"):
        read_status(sd)


# -- real status files -------------------------------------------------------


def test_status_up(scandir: Scandir) -> None:
    sd = scandir.add("up", "exec sleep 1000\n")
    scandir.wait_supervised("up")
    svwait(sd, "-u")
    st = read(sd)
    assert st.up and st.pid > 0 and st.want_up and not st.finishing and not st.paused
    assert not st.ready  # no notification-fd: never ready
    assert abs(st.stamp - time.time()) < 2.0
    assert abs(st.ready_stamp - time.time()) < 2.0
    assert Path(f"/proc/{st.pid}").exists()
    assert svstat(sd) == expected_svstat(st)


def test_status_fresh_down_service(scandir: Scandir) -> None:
    sd = scandir.add("fresh", "exec sleep 1000\n", down=True)
    scandir.wait_supervised("fresh")
    st = read(sd)
    # S6_SVSTATUS_ZERO: "down and ready"; wantup cleared by ./down
    assert st.pid == 0 and not st.want_up and st.ready_flag
    assert not st.up and not st.ready and not st.finishing
    assert st.exit_code == 0 and st.signal is None
    assert abs(st.stamp - time.time()) < 2.0
    assert svstat(sd) == expected_svstat(st)
    assert svstat(sd, "wantedup,normallyup") == ["false", "false"]


def test_status_down_with_exit_code(scandir: Scandir) -> None:
    sd = scandir.add("exit3", "exit 3\n", down=True)
    scandir.wait_supervised("exit3")
    # Not `s6-svc -wD -o`: its status read may still see the initial "down
    # and ready" and return before ./run even started.  The fresh status has
    # wstat 0, so exit code 3 with pid 0 can only be the finished run.
    svc(sd, "-o")
    wait_for(lambda: svstat(sd, "up,exitcode") == ["false", "3"] and read(sd).pid == 0, 2,
             what="run once and finish")
    st = read(sd)
    assert not st.up and st.pid == 0 and not st.want_up and st.ready_flag
    assert os.WIFEXITED(st.wstat)
    assert st.exit_code == 3 and st.signal is None
    assert svstat(sd) == expected_svstat(st)
    assert svstat(sd, "exitcode") == ["3"]


def test_status_down_with_signal(scandir: Scandir) -> None:
    sd = scandir.add("killed", "exec sleep 1000\n")
    scandir.wait_supervised("killed")
    svwait(sd, "-u")
    svc(sd, "-wD", "-T", "2000", "-Ok")  # want down (no restart), then SIGKILL
    st = read(sd)
    assert not st.up and st.signal == signal.SIGKILL and st.exit_code is None
    assert svstat(sd) == expected_svstat(st)
    assert svstat(sd, "signal,signum") == ["SIGKILL", "9"]


def test_status_ready_with_notification_fd(scandir: Scandir) -> None:
    sd = scandir.add("ready", READY_RUN, notification_fd=3, down=True)
    scandir.wait_supervised("ready")
    assert not read(sd).ready
    svc(sd, "-wU", "-T", "2000", "-u")
    st = read(sd)
    assert st.up and st.ready and st.ready_flag
    assert st.ready_stamp >= st.stamp
    assert abs(st.ready_stamp - time.time()) < 2.0
    assert svstat(sd) == expected_svstat(st) == ["true", "true", str(st.pid), "-1", "NA"]


def test_status_while_finishing(scandir: Scandir) -> None:
    sd = scandir.add("fin", "exec sleep 1000\n", finish="exec sleep 0.5\n")
    scandir.wait_supervised("fin")
    svwait(sd, "-u")
    svc(sd, "-wd", "-T", "2000", "-d")  # wait for down, not finished
    st = read(sd)
    assert st.finishing and st.pid > 0 and not st.up and not st.ready
    assert st.signal == signal.SIGTERM
    assert svstat(sd) == expected_svstat(st)

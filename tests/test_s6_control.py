"""ovis.s6.control against a real s6-supervise / s6-svscan.

State is observed with s6-svstat and s6-svwait (the reference tools), so
these tests do not lean on ovis.s6.events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ovis.errors import NotSupervised
from ovis.s6.control import VALID_LETTERS, is_supervised, send, svscan_running, svscan_send
from ovis.s6.status import SupervisorStatus, read_status
from tests.nsutil import skip_or_fail
from tests.s6fixtures import Scandir, svstat, wait_for

SLEEP_RUN = "exec sleep 1000\n"
READY_RUN = "echo >&3\nexec 3>&-\nexec sleep 1000\n"

# letter -> signal name the run script must see
SIGNAL_LETTERS = {
    "a": "ALRM", "b": "ABRT", "q": "QUIT", "h": "HUP", "t": "TERM",
    "i": "INT", "1": "USR1", "2": "USR2", "y": "WINCH",
}
TRAP_RUN = (
    "for s in " + " ".join(SIGNAL_LETTERS.values()) + "; do\n"
    '  trap "echo $s >> sigs" $s\n'
    "done\n"
    "echo >&3\n"  # ready only once every trap is in place
    "exec 3>&-\n"
    "while :; do sleep 0.01; done\n"
)


def svwait(servicedir: Path, opt: str, timeout_ms: int = 2000) -> None:
    subprocess.run(["s6-svwait", opt, "-t", str(timeout_ms), str(servicedir)], check=True, timeout=5)


def svok(servicedir: Path) -> bool:
    return subprocess.run(["s6-svok", str(servicedir)], timeout=5).returncode == 0


def status(servicedir: Path) -> SupervisorStatus:
    st = read_status(servicedir)
    assert st is not None
    return st


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


# -- argument checking, no supervisor ------------------------------------------


def test_valid_letters_are_what_the_installed_s6_svc_accepts(tmp_path: Path) -> None:
    """s6-svc exits 111 (cannot reach the supervisor) for a control letter, 100 (usage) otherwise."""
    import shutil
    import string

    if shutil.which("s6-svc") is None:
        skip_or_fail("s6 is not installed (s6-svc not in PATH)")
    accepted, refused = set(), set()
    for c in string.ascii_letters + string.digits:
        rc = subprocess.run(["s6-svc", f"-{c}", str(tmp_path / "none")], capture_output=True,
                            timeout=10).returncode
        assert rc in (100, 111), (c, rc)
        (accepted if rc == 111 else refused).add(c)
        if c not in VALID_LETTERS:
            with pytest.raises(ValueError):
                send(tmp_path / "none", c)
    assert set(VALID_LETTERS) == accepted and len(VALID_LETTERS) == len(accepted)


@pytest.mark.parametrize("letters", ["X", "w", "s", "uZ", "u d", "P", "é"])
def test_invalid_letters_rejected_before_touching(tmp_path: Path, letters: str) -> None:
    # a path with no supervisor at all: ValueError must win over NotSupervised
    with pytest.raises(ValueError):
        send(tmp_path / "missing", letters)
    with pytest.raises(ValueError):
        svscan_send(tmp_path / "missing", letters + "u")  # 'u' is no svscan letter either


def test_send_without_reader_is_not_supervised_quickly(tmp_path: Path) -> None:
    (tmp_path / "supervise").mkdir()
    os.mkfifo(tmp_path / "supervise" / "control", 0o600)
    t0 = time.monotonic()
    with pytest.raises(NotSupervised, match="no supervisor is listening") as info:
        send(tmp_path, "u")
    assert time.monotonic() - t0 < 5  # a blocking open would hang: this is a hang guard
    assert info.value.servicedir == tmp_path


def test_send_without_supervise_dir(tmp_path: Path) -> None:
    with pytest.raises(NotSupervised, match=r"not supervised \(no supervise/control\)"):
        send(tmp_path, "u")
    (tmp_path / "supervise").write_text("")  # ENOTDIR
    with pytest.raises(NotSupervised, match="not supervised"):
        send(tmp_path, "d")


def test_send_after_supervisor_is_gone(scandir: Scandir) -> None:
    sd = scandir.add("gone", SLEEP_RUN, down=True)
    scandir.wait_supervised("gone")
    send(sd, "")  # empty: only checks that someone listens
    scandir.stop()
    t0 = time.monotonic()
    with pytest.raises(NotSupervised, match="no supervisor is listening"):
        send(sd, "u")
    assert time.monotonic() - t0 < 5  # a blocking open would hang: this is a hang guard


def test_is_supervised(scandir: Scandir) -> None:
    sd = scandir.add("probe", SLEEP_RUN, down=True, link=False)
    assert not is_supervised(sd) and not svok(sd)
    assert not is_supervised(scandir.root / "nonexistent")
    scandir.link("probe")
    scandir.wait_supervised("probe")
    assert is_supervised(sd) and svok(sd)
    # probing many times never takes the lock (a supervisor would then die)
    for _ in range(200):
        assert is_supervised(sd)
    scandir.stop()
    assert (sd / "supervise" / "lock").exists()
    assert not is_supervised(sd) and not svok(sd)


# -- letters against a real s6-supervise ---------------------------------------


def test_u_and_d(scandir: Scandir) -> None:
    sd = scandir.add("ud", SLEEP_RUN, down=True)
    scandir.wait_supervised("ud")
    send(sd, "u")
    svwait(sd, "-u")
    st = status(sd)
    assert st.up and st.want_up
    assert svstat(sd, "up,wantedup,pid") == ["true", "true", str(st.pid)]
    send(sd, "d")
    svwait(sd, "-D")
    st = status(sd)
    assert not st.up and not st.want_up and st.signal == signal.SIGTERM
    assert svstat(sd, "up,wantedup,signal") == ["false", "false", "SIGTERM"]
    assert (sd / "down").exists()  # d/u leave ./down alone


def test_o_runs_once(scandir: Scandir) -> None:
    sd = scandir.add("once", "echo $$ >> started; exit 4\n", down=True)
    scandir.wait_supervised("once")
    send(sd, "o")
    # initial wstat is 0: exit code 4 with pid 0 = ran and finished
    st = wait_for(lambda: (s := status(sd)).pid == 0 and s.exit_code == 4 and s, 2, what="one run")
    assert len((sd / "started").read_text().split()) == 1
    assert st.exit_code == 4 and not st.want_up  # want down: no restart
    assert svstat(sd, "up,wantedup,exitcode") == ["false", "false", "4"]


def test_O_want_down_without_signal(scandir: Scandir) -> None:
    sd = scandir.add("bigo", SLEEP_RUN)
    scandir.wait_supervised("bigo")
    svwait(sd, "-u")
    pid = status(sd).pid
    send(sd, "O")
    wait_for(lambda: not status(sd).want_up, 2, what="wantup cleared")
    time.sleep(0.1)
    st = status(sd)
    assert st.up and st.pid == pid  # no signal sent
    assert not (sd / "down").exists()
    # once it dies it stays down
    os.kill(pid, signal.SIGKILL)
    svwait(sd, "-D")
    assert svstat(sd, "up,wantedup,signal") == ["false", "false", "SIGKILL"]


def test_D_and_U_manage_down_file(scandir: Scandir) -> None:
    sd = scandir.add("bigd", SLEEP_RUN)
    scandir.wait_supervised("bigd")
    svwait(sd, "-u")
    send(sd, "D")
    svwait(sd, "-D")
    assert (sd / "down").exists() and not status(sd).want_up
    assert svstat(sd, "up,normallyup") == ["false", "false"]
    send(sd, "U")
    svwait(sd, "-u")
    assert not (sd / "down").exists() and status(sd).want_up
    assert svstat(sd, "up,normallyup") == ["true", "true"]


def test_Q_want_down_and_down_file_without_signal(scandir: Scandir) -> None:
    sd = scandir.add("bigq", SLEEP_RUN)
    scandir.wait_supervised("bigq")
    svwait(sd, "-u")
    pid = status(sd).pid
    send(sd, "Q")
    # s6-supervise creates ./down and writes its status one after the other:
    # wait for both (reading the status right after ./down appeared raced it)
    wait_for(lambda: (sd / "down").exists() and not status(sd).want_up, 10,
             what="./down created and want-down recorded")
    st = status(sd)
    assert st.up and st.pid == pid and not st.want_up


def test_signal_letters(scandir: Scandir) -> None:
    # timeout-kill: the script survives SIGTERM, teardown must not wait on it
    sd = scandir.add("sigs", TRAP_RUN, notification_fd=3, files={"timeout-kill": "100\n"})
    scandir.wait_supervised("sigs")
    svwait(sd, "-U")
    pid = status(sd).pid
    sigs = sd / "sigs"
    for letter, name in SIGNAL_LETTERS.items():
        send(sd, letter)
        wait_for(
            lambda: sigs.exists() and sigs.read_text().split()[-1:] == [name],
            2, what=f"{name} after {letter!r}",
        )
    assert sigs.read_text().split() == list(SIGNAL_LETTERS.values())
    assert status(sd).pid == pid  # trapped: still the same process
    send(sd, "k")
    svwait(sd, "-d")
    st = status(sd)
    assert st.signal == signal.SIGKILL
    assert svstat(sd, "signal")[0] == "SIGKILL"


def test_p_and_c(scandir: Scandir) -> None:
    sd = scandir.add("pause", SLEEP_RUN)
    scandir.wait_supervised("pause")
    svwait(sd, "-u")
    pid = status(sd).pid
    send(sd, "p")
    wait_for(lambda: status(sd).paused, 2, what="paused flag")
    wait_for(lambda: proc_state(pid) == "T", 2, what="process stopped")
    assert svstat(sd, "paused,up") == ["true", "true"]
    send(sd, "c")
    wait_for(lambda: not status(sd).paused, 2, what="paused flag cleared")
    wait_for(lambda: proc_state(pid) != "T", 2, what="process continued")
    assert svstat(sd, "paused") == ["false"]


def test_r_restarts(scandir: Scandir) -> None:
    sd = scandir.add("restart", READY_RUN, notification_fd=3)
    scandir.wait_supervised("restart")
    svwait(sd, "-U")
    old = status(sd).pid
    send(sd, "r")
    # s6 waits 1 s between spawns unless the service was ready for > 1 s
    st = wait_for(lambda: (s := status(sd)).up and s.pid != old and s, 2.5, what="new pid")
    assert st.want_up
    assert st.wstat == signal.SIGTERM  # the last death, kept while up again
    assert not Path(f"/proc/{old}").exists() or proc_state(old) == "Z"


def test_x_supervisor_exits_when_down(scandir: Scandir) -> None:
    sd = scandir.add("xdown", SLEEP_RUN, down=True)
    scandir.wait_supervised("xdown")
    send(sd, "x")
    # s6-svscan restarts a dead supervisor only after 1 s
    wait_for(lambda: not is_supervised(sd), 0.9, interval=0.002, what="supervisor exit")
    with pytest.raises(NotSupervised):
        send(sd, "u")


def test_dx_in_one_write_in_order(scandir: Scandir) -> None:
    sd = scandir.add("dx", SLEEP_RUN)
    scandir.wait_supervised("dx")
    svwait(sd, "-u")
    send(sd, "dx")
    wait_for(lambda: not is_supervised(sd), 0.9, interval=0.002, what="supervisor exit")
    st = status(sd)
    assert not st.up and st.signal == signal.SIGTERM and not st.want_up


# -- s6-svscan -------------------------------------------------------------------


def test_svscan_running(scandir: Scandir, tmp_path: Path) -> None:
    assert svscan_running(scandir.path)
    assert not svscan_running(tmp_path / "elsewhere")
    scandir.stop()
    assert not svscan_running(scandir.path)
    with pytest.raises(NotSupervised, match="no s6-svscan is listening"):
        svscan_send(scandir.path, "a")
    with pytest.raises(NotSupervised, match="not supervised"):
        svscan_send(tmp_path / "elsewhere", "a")


def test_svscan_a_rescans(scandir: Scandir) -> None:
    sd = scandir.add("late", SLEEP_RUN, down=True, link=False)
    scandir.link("late", rescan=False)
    time.sleep(0.2)
    assert not is_supervised(sd)  # s6-svscan -t0 never rescans by itself
    svscan_send(scandir.path, "a")
    scandir.wait_supervised("late", 2)


def test_svscan_t_exits(scandir: Scandir) -> None:
    sd = scandir.add("victim", SLEEP_RUN)
    scandir.wait_supervised("victim")
    svwait(sd, "-u")
    pid = status(sd).pid
    svscan_send(scandir.path, "t")
    assert scandir.proc is not None
    assert scandir.proc.wait(2) == 0
    assert not svscan_running(scandir.path)
    assert not is_supervised(sd)
    assert status(sd).signal == signal.SIGTERM
    assert not Path(f"/proc/{pid}").exists() or proc_state(pid) == "Z"

"""ovis.linux.spawn: a oneshot's script starts as subprocess.Popen started it.

The engine runs each oneshot script (and its s6-log) with posix_spawn now;
what a script can observe must not change: its directory, its environment,
its standard descriptors, its session, its signal dispositions, no other
descriptor of ovis's, and the errors and exit statuses ovis reports.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ovis.linux import spawn as sp

ENV = {"PATH": "/usr/bin:/bin", "ONLY": "this"}


def _out(argv: list[str], **kw: object) -> tuple[int, str]:
    r, w = os.pipe()
    try:
        child = sp.spawn(argv, ENV, stdout=w, stderr=sp.STDOUT, **kw)  # type: ignore[arg-type]
    finally:
        os.close(w)
    chunks = []
    while data := os.read(r, 65536):
        chunks.append(data)
    os.close(r)
    return child.wait(), b"".join(chunks).decode()


def test_directory_environment_session_and_stdio(tmp_path: Path) -> None:
    here = os.getcwd()
    code, out = _out(["/bin/sh", "-c",
                      "pwd; env | sort; echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$; "
                      "echo err >&2; read x; echo stdin=$?"], cwd=str(tmp_path), setsid=True)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(tmp_path)
    assert os.getcwd() == here  # ours changed back
    env = {ln.split("=", 1)[0] for ln in lines if "=" in ln and not ln.startswith(("sid", "stdin"))}
    assert env <= {"PATH", "ONLY", "PWD", "SHLVL", "_"} and "ONLY" in env
    sid, pid = (x.split("=")[1] for x in next(ln for ln in lines if ln.startswith("sid")).split())
    assert sid == pid  # a session leader, as start_new_session made it
    assert "err" in lines  # stderr is stdout
    assert lines[-1] == "stdin=1"  # /dev/null: EOF at once


def test_sigpipe_is_default_in_the_child() -> None:
    """Python ignores SIGPIPE; an ignored disposition survives exec: Popen reset it, so must we."""
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    _, out = _out(["/bin/sh", "-c", "grep SigIgn /proc/$$/status"])
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), out


def test_no_descriptor_of_ours_is_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    """close_fds: neither our close-on-exec ones nor one we were handed inheritable."""
    handed = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(handed, True)
    ours = os.open(os.devnull, os.O_RDONLY)  # Python's default: close-on-exec
    monkeypatch.setattr(sp, "_inherited", None)  # listed again at this spawn
    try:
        _, out = _out(["/bin/sh", "-c", "ls /proc/$$/fd"])
    finally:
        os.close(handed)
        os.close(ours)
    fds = {int(x) for x in out.split()}
    assert handed not in fds and ours not in fds, (handed, ours, fds)
    assert {0, 1, 2} <= fds


def test_status_signal_and_errors(tmp_path: Path) -> None:
    assert sp.spawn(["/bin/sh", "-c", "exit 3"], ENV).wait() == 3
    child = sp.spawn(["/bin/sh", "-c", "kill -TERM $$"], ENV)
    assert child.wait() == -signal.SIGTERM  # as Popen's returncode says it
    with pytest.raises(FileNotFoundError):
        sp.spawn([str(tmp_path / "none")], ENV)
    script = tmp_path / "noexec"
    script.write_text("#!/bin/sh\ntrue\n")
    with pytest.raises(PermissionError):
        sp.spawn([str(script)], ENV)
    with pytest.raises(FileNotFoundError):
        sp.spawn(["/bin/true"], ENV, cwd=str(tmp_path / "gone"))
    assert os.getcwd() != str(tmp_path / "gone")


def test_poll_and_wait_with_a_timeout() -> None:
    child = sp.spawn(["/bin/sleep", "0.3"], ENV)
    assert child.poll() is None
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        child.wait(timeout=0.05)
    assert time.monotonic() - t0 < 0.25
    assert child.wait(timeout=5) == 0
    assert child.poll() == 0


def test_a_name_is_found_in_the_given_path(tmp_path: Path) -> None:
    prog = tmp_path / "mine"
    prog.write_text("#!/bin/sh\necho found\n")
    prog.chmod(0o755)
    env = dict(ENV, PATH=f"{tmp_path}:/usr/bin:/bin")
    r, w = os.pipe()
    child = sp.spawn(["mine"], env, stdout=w)
    os.close(w)
    assert os.read(r, 100) == b"found\n"
    os.close(r)
    assert child.wait() == 0
    with pytest.raises(FileNotFoundError):
        sp.spawn(["mine"], ENV)  # not in that PATH: not ours either

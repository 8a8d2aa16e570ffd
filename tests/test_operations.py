"""Everyday operations (issue 12): safe restart, detailed status, logs, apply, reset.

Real s6-svscan, real CLI, real processes, as in test_manager.py.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, offline, system, wait_until  # noqa: F401


def longrun(s: LiveSystem, name: str, run: str = "sleep 1000", extra: str = "") -> Path:
    return s.write(name, LONGRUN.format(name=name, run=run, extra=extra))


def oneshot(s: LiveSystem, name: str, start: str = "exit 0", extra: str = "") -> Path:
    return s.write(name, ONESHOT.format(name=name, start=start, extra=extra))


def pids(s: LiveSystem) -> dict[str, int | None]:
    return {n: it["pid"] for n, it in s.status().items()}


# 1. validate before changing anything --------------------------------------------
def test_restart_with_a_broken_definition_keeps_the_running_pids(system: LiveSystem) -> None:
    longrun(system, "webapp")
    longrun(system, "worker", extra="Depends = ( webapp )")
    system.ovis("start", "worker", check=True)
    before = pids(system)
    # a typo in webapp's definition after it started
    p = system.services / "webapp"
    p.write_text(p.read_text().replace("Type = classic", "Typo = classic"))
    r = system.ovis("restart", "webapp")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("ovis: error: ") and len(r.stderr.splitlines()) == 1
    assert "Typo" in r.stderr
    st = system.status("webapp", "worker")
    assert st["webapp"]["state"] == "up" and st["worker"]["state"] == "up"
    assert pids(system)["webapp"] == before["webapp"]
    assert pids(system)["worker"] == before["worker"]


def test_restart_with_a_broken_dependent_changes_nothing(system: LiveSystem) -> None:
    longrun(system, "webapp")
    longrun(system, "worker", extra="Depends = ( webapp )")
    system.ovis("start", "worker", check=True)
    before = pids(system)
    p = system.services / "worker"
    p.write_text(p.read_text().replace("Depends = ( webapp )", "Depends = ( webapp nosuch )"))
    r = system.ovis("restart", "webapp")
    assert r.returncode == 2 and "nosuch" in r.stderr, r.stdout + r.stderr
    assert pids(system) == before


# 2. status NAME explains ------------------------------------------------------------
def test_status_name_is_a_detailed_view(system: LiveSystem) -> None:
    longrun(system, "db", run='sh -c "echo db is listening; exec sleep 1000"')
    path = longrun(system, "webapp", run='sh -c "echo serving on 8080; exec sleep 1000"',
                   extra="Depends = ( db )")
    longrun(system, "worker", extra="Depends = ( webapp )")
    (system.trees / "boot").mkdir()
    (system.trees / "boot" / "webapp").touch()
    system.ovis("start", "worker", check=True)
    assert wait_until(lambda: "serving" in system.ovis("log", "webapp").stdout)
    pid = system.status()["webapp"]["pid"]
    r = system.ovis("status", "webapp")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert text.splitlines()[0] == "● webapp - webapp (longrun)"
    for label, value in (("State", "up (ready) since "), ("PID", str(pid)), ("Restarts", "0"),
                         ("Definition", str(path)), ("Trees", "boot"), ("Needs", "db"),
                         ("Needed by", "worker")):
        assert f"{label:>11}: {value}" in text, (label, text)
    assert text.rstrip().endswith("serving on 8080")
    # JSON: the same facts, for both forms
    item = json.loads(system.ovis("--json", "status", "webapp").stdout)[0]
    assert item["pid"] == pid and item["restarts"] == 0
    assert item["trees"] == ["boot"] and item["needs"] == ["db"] and item["needed_by"] == ["worker"]
    assert item["log"][-1].endswith("serving on 8080") and item["changed"] is False
    table = json.loads(system.ovis("--json", "status").stdout)
    assert all(isinstance(it["restarts"], int) for it in table)
    # the table without names stays one line per service
    lines = system.ovis("status").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "STATE", "READY", "PID", "SINCE", "REASON"]
    assert [ln.split()[0] for ln in lines[1:]] == ["db", "webapp", "worker"]


def test_status_counts_restarts_and_lists_failed(system: LiveSystem) -> None:
    longrun(system, "flaky", run='sh -c "echo dying; exit 3"')
    oneshot(system, "broken", start="exit 4")
    longrun(system, "fine")
    system.ovis("start", "fine", "flaky", check=True)
    system.ovis("start", "broken")
    # s6 restarts a dying longrun about once a second
    assert wait_until(lambda: system.status("flaky")["flaky"]["restarts"] >= 2, timeout=20)
    failed = json.loads(system.ovis("--json", "status", "--failed").stdout)
    names = [it["name"] for it in failed]
    assert "broken" in names and "fine" not in names
    r = system.ovis("status", "--failed")
    assert "fine" not in r.stdout and "broken" in r.stdout
    r = system.ovis("status", "broken")
    assert r.returncode == 1
    assert "     Reason: exited" in r.stdout


def test_table_honours_the_terminal_width(system: LiveSystem) -> None:
    oneshot(system, "verbose", start="exit 4")
    system.ovis("start", "verbose")
    st = statefile_detail(system, "verbose", "x" * 300)
    assert st
    system.env["COLUMNS"] = "70"
    out = system.ovis("status").stdout
    assert all(len(line) <= 70 for line in out.splitlines()), out
    assert "…" in out
    del system.env["COLUMNS"]
    assert "x" * 300 in system.ovis("status").stdout  # a pipe: nothing cut


def statefile_detail(s: LiveSystem, name: str, detail: str) -> bool:
    p = s.live / "state" / f"{name}.json"
    data = json.loads(p.read_text())
    data["detail"] = detail
    p.write_text(json.dumps(data))
    return True


# 3. logs ---------------------------------------------------------------------------
def test_log_follow_through_a_pipe_delivers_a_line_within_a_second(system: LiveSystem) -> None:
    longrun(system, "talker", run="trap { SIGHUP { echo got-hup } } sleep 1000")
    system.ovis("start", "talker", check=True)
    assert wait_until(lambda: (system.logdir / "talker" / "current").exists())
    proc = subprocess.Popen([sys.executable, "-m", "ovis", "log", "-f", "talker"],
                            env=system.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # let it reach the end of the file and start following
        system.ovis("reload", "talker", check=True)
        t0 = time.monotonic()
        import select

        got = b""
        while b"got-hup" not in got and time.monotonic() - t0 < 5:
            ready, _, _ = select.select([proc.stdout], [], [], 0.05)
            if ready:
                got += os.read(proc.stdout.fileno(), 4096)  # type: ignore[union-attr]
        elapsed = time.monotonic() - t0
        assert b"got-hup" in got, got
        # the follower polls every 0.1 s; a buffered pipe would miss the 5 s above
        assert elapsed < 2.5, elapsed
    finally:
        proc.kill()
        proc.wait()


def test_log_several_names_all_since_json(system: LiveSystem) -> None:
    oneshot(system, "one", start="sh -c \"echo first; sleep 0.05; echo third\"")
    oneshot(system, "two", start="sh -c \"sleep 0.02; echo second\"", extra="")
    system.ovis("start", "one", check=True)
    system.ovis("start", "two", check=True)
    r = system.ovis("log", "one", "two")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    texts = [ln.split(" ", 2)[2] for ln in lines]
    assert "one: first" in texts and "two: second" in texts
    stamps = [ln.split(" ", 2)[:2] for ln in lines]
    assert stamps == sorted(stamps)  # interleaved by time
    # one name: no prefix
    assert all(not ln.split(" ", 2)[2].startswith("one:") for ln in
               system.ovis("log", "one").stdout.splitlines())
    # --all covers both, -n limits, --json one object per line
    objs = [json.loads(ln) for ln in system.ovis("--json", "log", "--all").stdout.splitlines()]
    assert {o["service"] for o in objs} >= {"one", "two"}
    assert all(isinstance(o["time"], float) and isinstance(o["text"], str) for o in objs)
    assert len(system.ovis("log", "--all", "-n", "1").stdout.splitlines()) == 1
    assert system.ovis("log", "one", "--since", "@" + str(time.time() + 3600)).stdout == ""
    assert "first" in system.ovis("log", "one", "--since=-1h").stdout
    assert "first" in system.ovis("log", "one", "--since", "1h ago").stdout
    r = system.ovis("log", "one", "--since", "yesterday-ish")
    assert r.returncode == 2 and "--since" in r.stderr
    assert system.ovis("log", "nosuch").returncode == 2
    assert system.ovis("log").returncode == 2


# 6. failed services -------------------------------------------------------------------
def blame(s: LiveSystem) -> dict[str, str]:
    out = {}
    for line in s.ovis("analyze", "blame").stdout.splitlines()[1:]:
        _, name, outcome = line.split(None, 2)
        out[name] = outcome
    return out


def test_stop_of_a_crash_looping_service_reports_it_and_blame_keeps_the_failure(
        system: LiveSystem) -> None:
    longrun(system, "looper", run='sh -c "exit 3"')
    system.ovis("start", "looper", check=True)
    assert wait_until(lambda: system.status("looper")["looper"]["restarts"] >= 1, timeout=20)
    r = system.ovis("stop", "looper")
    assert r.returncode == 0, r.stderr
    assert "stopped 1 service" in r.stdout, r.stdout
    assert system.status("looper")["looper"]["state"] == "down"
    outcome = blame(system)["looper"]
    assert outcome != "ok" and outcome.startswith("crashed"), outcome


def test_reset_clears_a_failure_and_keeps_its_history(system: LiveSystem) -> None:
    oneshot(system, "migrate", start="exit 4")
    oneshot(system, "ok1")
    system.ovis("start", "migrate")
    system.ovis("start", "ok1", check=True)
    assert system.status("migrate")["migrate"]["state"] == "failed"
    r = system.ovis("reset", "migrate", "ok1")
    assert r.returncode == 0, r.stderr
    assert "ovis: migrate: failure cleared" in r.stdout and "ok1: not failed" in r.stdout
    st = system.status("migrate")["migrate"]
    assert st["state"] == "down" and st["reason"] == "reset"
    assert json.loads(system.ovis("--json", "status", "--failed").stdout) == []
    assert blame(system)["migrate"].startswith("exited")  # history kept for analyze
    assert system.ovis("reset", "nosuch").returncode == 2
    # reset-failed is the same verb, for systemd users
    system.ovis("start", "migrate")
    r = system.ovis("reset-failed")
    assert r.returncode == 0 and "migrate: failure cleared" in r.stdout


# 7. apply -------------------------------------------------------------------------------
def test_apply_restarts_only_the_edited_service(system: LiveSystem) -> None:
    for n in ("alpha", "beta", "gamma"):
        longrun(system, n)
    system.ovis("start", "alpha", "beta", "gamma", check=True)
    before = pids(system)
    time.sleep(0.05)
    p = system.services / "beta"
    p.write_text(p.read_text().replace("sleep 1000", "sleep 2000"))
    # status marks it
    table = system.ovis("status").stdout
    assert "beta*" in table and "alpha*" not in table and "definition changed" in table
    assert system.status("beta")["beta"]["changed"] is True
    dry = system.ovis("apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == ["ovis: beta: would restart (definition changed)"]
    assert pids(system) == before
    r = system.ovis("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ovis: beta: restart (definition changed)" in r.stdout
    after = pids(system)
    assert after["alpha"] == before["alpha"] and after["gamma"] == before["gamma"]
    assert after["beta"] != before["beta"] and after["beta"]
    assert "sleep 2000" in (system.live / "sv" / "beta" / "run").read_text()
    assert "beta*" not in system.ovis("status").stdout
    assert system.ovis("apply").stdout.strip() == "ovis: nothing to apply: LIVE matches the definitions"
    # a comment changes nothing compiled: nothing to restart, and status does not mark it
    time.sleep(0.05)
    p.write_text("# edited by hand\n" + p.read_text())
    assert "beta*" not in system.ovis("status").stdout
    assert system.ovis("apply", "--dry-run").stdout.strip() == \
        "ovis: nothing to apply: LIVE matches the definitions"


def test_apply_with_a_broken_definition_changes_nothing(system: LiveSystem) -> None:
    longrun(system, "alpha")
    longrun(system, "beta")
    system.ovis("start", "alpha", "beta", check=True)
    before = pids(system)
    longrun(system, "alpha", run="sleep 2000")
    b = system.services / "beta"
    b.write_text(b.read_text() + "Bogus = 1\n")
    r = system.ovis("apply")
    assert r.returncode == 2 and r.stderr.startswith("ovis: error: "), r.stdout + r.stderr
    assert pids(system) == before
    assert "sleep 1000" in (system.live / "sv" / "alpha" / "run").read_text()


def test_deleted_definitions_are_stopped_and_leave_status_and_analyze(system: LiveSystem) -> None:
    longrun(system, "keep")
    longrun(system, "gone")
    system.ovis("start", "keep", "gone", check=True)
    (system.services / "gone").unlink()
    r = system.ovis("apply", "--dry-run")
    assert r.stdout.splitlines() == ["ovis: gone: would remove (definition deleted, was up)"]
    keep_pid = pids(system)["keep"]
    r = system.ovis("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    st = system.status()
    assert "gone" not in st and st["keep"]["pid"] == keep_pid
    assert "gone" not in system.ovis("analyze", "blame").stdout
    assert "gone" not in system.ovis("analyze", "dot").stdout
    assert not (system.live / "scandir" / "gone").exists()


# 9. discoverability ----------------------------------------------------------------
def test_deps_of_services_not_compiled(offline: LiveSystem) -> None:
    longrun(offline, "db")
    longrun(offline, "cache")
    longrun(offline, "webapp", extra="Depends = ( db )\nOptsDepends = ( cache )")
    longrun(offline, "worker", extra="Depends = ( webapp )")
    r = offline.ovis("deps", "worker")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["worker", "  needs webapp", "    needs db", "    wants cache"]
    r = offline.ovis("deps", "--reverse", "db")
    assert r.stdout.splitlines() == ["db", "  needed by webapp", "    needed by worker"]
    assert offline.ovis("deps", "nosuch").returncode == 2
    assert not (offline.live / "sv").exists()  # nothing compiled


def test_enable_now_disable_now_and_is_enabled(system: LiveSystem) -> None:
    longrun(system, "sshd")
    r = system.ovis("is-enabled", "sshd")
    assert r.returncode == 1 and r.stdout == "disabled\n"
    r = system.ovis("enable", "--now", "-t", "boot", "sshd")
    assert r.returncode == 0, r.stderr
    assert system.status("sshd")["sshd"]["state"] == "up"
    r = system.ovis("is-enabled", "-t", "boot", "sshd")
    assert r.returncode == 0 and r.stdout == "enabled\n"
    r = system.ovis("disable", "--now", "-t", "boot", "sshd")
    assert r.returncode == 0, r.stderr
    assert system.status("sshd")["sshd"]["state"] == "down"
    assert system.ovis("is-enabled", "-t", "boot", "sshd").returncode == 1
    assert system.ovis("is-enabled", "nosuch").returncode == 2


def test_ovis_alone_prints_a_summary(system: LiveSystem) -> None:
    longrun(system, "up1")
    oneshot(system, "bad", start="exit 1")
    system.ovis("start", "up1", check=True)
    system.ovis("start", "bad")
    r = system.ovis()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ovis: 2 services: 1 up, 1 failed, 0 down"
    assert lines[1] == "  failed: bad (exited)"
    data = json.loads(system.ovis("--json").stdout)
    assert data == {"services": 2, "up": 1, "failed": 1, "down": 0, "failed_names": ["bad"]}


def test_help_has_examples_and_positional_help() -> None:
    import argparse

    from ovis.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    internal = {a.dest for a in sub._choices_actions if str(a.help).startswith("(internal)")}
    verbs = sorted(set(sub.choices) - internal)
    assert {"apply", "deps", "reset", "is-enabled", "status", "log"} <= set(verbs)
    for verb in verbs:
        p = sub.choices[verb]
        assert "examples:" in (p.epilog or ""), verb
        for a in p._actions:
            if not a.option_strings:
                assert a.help, (verb, a.metavar or a.dest)
    r = subprocess.run([sys.executable, "-m", "ovis", "log", "--help"], capture_output=True,
                       text=True, cwd=Path(__file__).parent.parent)
    assert r.returncode == 0 and "examples:" in r.stdout
    assert "services whose logs to show" in r.stdout


def test_stopping_a_service_whose_definition_is_gone_removes_it(system: LiveSystem) -> None:
    longrun(system, "old")
    system.ovis("start", "old", check=True)
    (system.services / "old").unlink()
    r = system.ovis("stop", "old")
    assert r.returncode == 0, r.stderr
    assert "old: definition deleted: removed from LIVE" in r.stdout
    assert "old" not in system.status()
    assert "old" not in system.ovis("analyze", "blame").stdout


# 10. output --------------------------------------------------------------------------
def test_durations_stay_in_their_column_on_failed_lines(system: LiveSystem) -> None:
    import re

    oneshot(system, "good")
    oneshot(system, "bad", start="exit 3")
    r = system.ovis("start", "good", "bad")
    lines = {ln[9:].split()[0]: ln for ln in r.stdout.splitlines() if ln.startswith("[")}
    dur = re.compile(r"\d+\.\d{3}s")
    cols = {n: dur.search(ln).start() for n, ln in lines.items()}  # type: ignore[union-attr]
    assert cols["good"] == cols["bad"], r.stdout
    assert lines["bad"].rstrip().endswith("exited: exited 3"), lines["bad"]


def test_scandir_stop_says_what_it_stopped(system: LiveSystem) -> None:
    longrun(system, "a")
    longrun(system, "b")
    system.ovis("start", "a", "b", check=True)
    r = system.ovis("scandir", "stop")
    assert r.returncode == 0, r.stderr
    assert f"ovis: stopped 2 services and s6-svscan on {system.live / 'scandir'} in " in r.stdout


# 11. docs that match the program ------------------------------------------------------
def test_examples_readme_sequence_runs(tmp_path: Path) -> None:
    """The command sequence of examples/README.md, as written, against both formats."""
    import re

    repo = Path(__file__).resolve().parent.parent
    text = (repo / "examples" / "README.md").read_text()
    block = re.search(r"\n((?:    .*\n)+)", text).group(1)  # type: ignore[union-attr]
    cmds = [ln.strip() for ln in block.splitlines() if ln.strip().startswith("ovis ")]
    assert cmds[0] == "ovis scandir start &" and cmds[-1] == "ovis scandir stop"
    for fmt in ("66", "anopa"):
        s = LiveSystem(tmp_path / fmt)
        s.env["OVIS_SERVICES"] = str(repo / "examples" / fmt)
        s.env["OVIS_TREES"] = str(repo / "examples" / "tree")
        s.start_scandir()
        try:
            for c in cmds[1:-1]:
                if c.startswith("ovis log"):  # s6-log creates current a moment after the start
                    assert wait_until(lambda: (s.logdir / "clock" / "current").exists())
                r = s.ovis(*c.split()[1:])
                assert r.returncode == 0, (fmt, c, r.stdout, r.stderr)
                if c.startswith("ovis log"):
                    assert wait_until(lambda: "clock" in s.ovis(*c.split()[1:]).stdout), c
            r = s.ovis("scandir", "stop")
            assert r.returncode == 0, r.stderr
        finally:
            s.stop_scandir()


def test_docs_do_not_point_outside_the_repository() -> None:
    repo = Path(__file__).resolve().parent.parent
    for p in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]:
        assert "shared/DESIGN.md" not in p.read_text(), p
    for p in sorted((repo / "docs").glob("*.md")):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", p.read_text()):
            assert (p.parent / target).exists(), (p, target)
    index = (repo / "docs" / "README.md").read_text()
    for page in ("contract.md", "ovis-apply.md", "ovis-deps.md", "ovis-reset.md"):
        assert f"({page})" in index, page


def test_a_down_service_whose_definition_is_gone_leaves_the_table(system: LiveSystem) -> None:
    longrun(system, "old")
    longrun(system, "running")
    system.ovis("start", "old", "running", check=True)
    system.ovis("stop", "old", check=True)
    (system.services / "old").unlink()
    (system.services / "running").unlink()
    st = system.status()
    assert "old" not in st  # down and no definition: nothing to show
    assert st["running"]["state"] == "up" and st["running"]["changed"] is True  # still runs
    assert "running*" in system.ovis("status").stdout


def test_blame_fits_the_terminal(system: LiveSystem) -> None:
    oneshot(system, "verbose", start="exit 4")
    system.ovis("start", "verbose")
    statefile_detail(system, "verbose", "y" * 200)
    system.env["COLUMNS"] = "60"
    out = system.ovis("analyze", "blame").stdout
    assert out and all(len(line) <= 60 for line in out.splitlines()), out


def test_a_terminal_of_unknown_width_cuts_nothing() -> None:
    """A serial console (the VM's) reports 0 columns: that is no width at all."""
    import pty

    from ovis.terminal import terminal_width

    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            env = os.environ.pop("COLUMNS", None)
            try:
                import fcntl
                import struct
                import termios

                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
                assert terminal_width(tty) is None
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 50, 0, 0))
                assert terminal_width(tty) == 50
            finally:
                if env is not None:
                    os.environ["COLUMNS"] = env
    finally:
        os.close(master)
        os.close(slave)


def test_a_stop_runs_no_finish_yet_a_later_crash_is_counted(system: LiveSystem) -> None:
    """A stop moves the restart policy's finish aside while the service goes down
    (restart.finish_aside: no /bin/sh for a finish that would do nothing) and puts it
    back: the next start's crash goes through the policy again."""
    longrun(system, "svc")
    system.ovis("start", "svc", check=True)
    d = system.live / "sv" / "svc"
    text = (d / "finish").read_bytes()
    system.ovis("stop", "svc", check=True)
    assert (d / "finish").read_bytes() == text
    assert not (d / ".ovis-finish-aside").exists()
    assert system.status("svc")["svc"]["restarts"] == 0
    system.ovis("start", "svc", check=True)
    os.kill(system.status("svc")["svc"]["pid"], 9)
    assert wait_until(lambda: system.status("svc")["svc"]["restarts"] == 1, timeout=20)

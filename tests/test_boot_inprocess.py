"""Stages 2 and 3 without a new Python when the skeleton's scripts only exec ovis.

Where Python is slow (an emulated CPU, a small board) every interpreter
start costs seconds: stage 1's stage-2 child runs ``ovis stage2`` itself
when rc.init is the skeleton's ``exec @OVIS@ stage2``, and ``ovis
poweroff``'s detached child runs stage 3, and the stop of rc.shutdown when it
is the skeleton's ``exec @OVIS@ stop --all --force``, in-process.  A script
with a command of its own must still run as written.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from ovis.boot import selfcmd, skel
from tests.bootsys import BootedSystem, booted  # noqa: F401
from tests.defs import LONGRUN as DAEMON
from tests.defs import ONESHOT


def _installed(tmp_path: Path) -> Path:
    dest = tmp_path / "skel"
    skel.install(dest)
    return dest


def test_the_skeletons_scripts_are_recognised(tmp_path: Path) -> None:
    d = _installed(tmp_path)
    assert selfcmd.script_runs_self(str(d / "rc.init")) == ["stage2"]
    assert selfcmd.script_runs_self(str(d / "rc.shutdown")) == ["stop", "--all", "--force"]
    # rc.init.container runs the container command: never ovis alone
    assert selfcmd.script_runs_self(str(d / "rc.init.container")) is None


def test_the_command_puts_the_package_after_the_standard_library_and_old_scripts_count(
        tmp_path: Path) -> None:
    """The command appends this ovis to sys.path (first, it would cost a directory stat per
    standard-library import); a skeleton installed by an ovis that put it first still runs
    in-process."""
    import subprocess

    words = selfcmd.argv()
    code = words[-1]
    assert "sys.path.append(" in code and "insert(" not in code, code
    r = subprocess.run([*words[:-1], code.replace("from ovis.cli.main import entrypoint;"
                                                  "entrypoint()", "import ovis;print(ovis.__file__)"
                                                  ";print(sys.path[-1])")],
                       capture_output=True, text=True, timeout=60)
    here = str(selfcmd.package_root())
    assert r.stdout.split() == [str(Path(here) / "ovis" / "__init__.py"), here], r
    d = _installed(tmp_path)
    old = (d / "rc.init").read_text().replace("sys.path.append(", "sys.path.insert(0,")
    assert old != (d / "rc.init").read_text()
    (d / "rc.init").write_text(old)
    assert selfcmd.script_runs_self(str(d / "rc.init")) == ["stage2"]


def test_a_script_with_anything_else_is_not(tmp_path: Path) -> None:
    d = _installed(tmp_path)
    original = (d / "rc.init").read_text()
    ovis = selfcmd.command()
    cases = {
        "extra command": original.replace("exec ", "echo hello\nexec ", 1),
        "operator": original.rstrip("\n") + " && echo hi\n",
        "redirection": original.rstrip("\n") + " >/dev/null\n",
        "variable": original.rstrip("\n") + " $EXTRA\n",
        "other interpreter": original.replace(shlex.quote(sys.executable), "/usr/bin/python3"),
        "other package": original.replace(json_root(), json_root("/elsewhere")),
        "no exec": f"#!/bin/sh\n{ovis} stage2\n",
        "not sh": f"#!/bin/bash\nexec {ovis} stage2\n",
    }
    for what, text in cases.items():
        assert text != original, what
        p = tmp_path / "rc.case"
        p.write_text(text)
        assert selfcmd.script_runs_self(str(p)) is None, what
    assert selfcmd.script_runs_self(str(tmp_path / "missing")) is None


def json_root(root: str | None = None) -> str:
    import json

    return shlex.quote(json.dumps(str(root or selfcmd.package_root())))[1:-1]


def _cmdlines(b: BootedSystem) -> list[str]:
    out = []
    for pid in b.namespace_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return out


def _watch(b: BootedSystem, until: str, timeout: float = 60) -> list[str]:
    """Every namespace command line seen until *until* is on the console."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while until not in b.console_text() and time.monotonic() < deadline:
        seen += _cmdlines(b)
        time.sleep(0.01)
    return seen


def test_default_rc_init_and_rc_shutdown_start_no_new_python(booted: BootedSystem) -> None:
    started = booted.root / "slow-started"
    # Keeps stage 2 busy for a while, and the stop too: time to look at the processes.
    booted.write("slow", ONESHOT.format(
        name="slow", extra="", start=f"foreground {{ touch {started} }} sleep 2")
        + "[Stop]\nExecute = ( sleep 2 )\n")
    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot(wait_ready=False)
    seen = _watch(booted, "system ready")
    assert "system ready" in booted.console_text(), booted.console_text()
    assert started.exists()
    assert seen and not [c for c in seen if " stage2" in c], seen
    r = booted.ovis("poweroff")
    assert r.returncode == 0, r.stderr
    seen = _watch(booted, "stage 4:")
    assert not [c for c in seen if " stage3" in c or " stop --all" in c], seen
    assert booted.wait_exit(60) is not None
    console = booted.console_text()
    # what `ovis stop --all` would have said, in order, before stage 4
    assert "ovis: stage 3: preparing poweroff" in console
    i = console.index("ovis: stage 3: preparing poweroff")
    assert console.index(" slow ", i) < console.index("ovis: stopped 2 services in", i) \
        < console.index("ovis: stage 4:", i), console[i:]
    assert "warning" not in console[i:console.index("ovis: stage 4:", i)], console[i:]
    booted.assert_nothing_survived_stage4()


def test_edited_scripts_still_run_as_written(booted: BootedSystem) -> None:
    mark_init = booted.root / "rc-init-ran"
    mark_shutdown = booted.root / "rc-shutdown-ran"
    for name, mark in (("rc.init", mark_init), ("rc.shutdown", mark_shutdown)):
        p = booted.skel / name
        p.write_text(p.read_text().replace("exec ", f"echo $1 > {mark}\nexec ", 1))
    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot()
    assert mark_init.read_text().strip() == str(booted.skel / "init.conf")
    assert booted.ovis("poweroff").returncode == 0
    assert booted.wait_exit(60) is not None
    assert mark_shutdown.read_text().strip() == str(booted.skel / "init.conf")
    console = booted.console_text()
    assert "ovis: stopped 1 service in" in console, console
    booted.assert_nothing_survived_stage4()


def test_failing_in_process_stop_still_reaches_stage4(booted: BootedSystem) -> None:
    """A stop that fails is a warning: stage 3 goes on into stage 4 all the same."""
    booted.write("stubborn", ONESHOT.format(name="stubborn", extra="", start="true")
                 + "[Stop]\nExecute = ( exit 3 )\n")
    booted.boot()
    assert booted.ovis("poweroff").returncode == 0
    assert booted.wait_exit(60) is not None
    console = booted.console_text()
    i = console.index("ovis: stage 3: preparing poweroff")
    assert "1 failed: stubborn" in console[i:], console[i:]
    assert "exited 1; shutting down anyway" in console[i:], console[i:]
    assert console.index("shutting down anyway", i) < console.index("ovis: stage 4 done", i)
    booted.assert_nothing_survived_stage4()
    assert os.path.exists(booted.console)


def test_the_lean_stage_entry_reads_only_what_stage1_writes() -> None:
    from ovis.cli import stagecmd

    live = "/run/ovis"  # a str: stage 4 imports no pathlib
    assert stagecmd._parse(["--live", "/run/ovis", "stage4"]) == ("stage4", live, {"crashed": False})
    assert stagecmd._parse(["--live", "/run/ovis", "stage4", "--crash"])[2] == {"crashed": True}
    assert stagecmd._parse(["--live", "/run/ovis", "halt", "--repeat-forces", "--exit-code",
                            "143"]) == ("halt", live, {"repeat_forces": True, "exitcode": 143})
    # anything else: the full command line parser
    for argv in (["stage4"], ["--live", "rel", "stage4"], ["--live", "/l", "stage4", "--help"],
                 ["--live", "/l", "reboot", "-f"], ["--live", "/l", "stop", "--all"],
                 ["--live", "/l", "halt", "--exit-code", "x"]):
        assert stagecmd._parse(argv) is None, argv


def test_stage_entry_falls_back_to_the_full_command(tmp_path: Path) -> None:
    import subprocess

    r = subprocess.run([*selfcmd.stage_argv(), "--live", str(tmp_path), "stage4", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage: ovis stage4" in r.stdout, r
    r = subprocess.run([*selfcmd.stage_argv(), "--live", str(tmp_path), "poweroff"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "was not set up by `ovis boot`" in r.stderr, r


def test_pid1_scripts_use_the_lean_entry_with_live(booted: BootedSystem) -> None:
    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot()
    d = booted.live() / "scandir" / ".s6-svscan"
    # The interpreter straight from the #! line (no /bin/sh before it), isolated, this
    # package appended to sys.path, the lean entry with LIVE named.
    args = {"finish": ["stage4"], "crash": ["stage4", "--crash"],
            "SIGINT": ["reboot", "--repeat-forces"], "SIGUSR1": ["poweroff", "--repeat-forces"]}
    for name, want in args.items():
        text = (d / name).read_text()
        assert text.startswith(f"#!{sys.executable} -IS\n"), (name, text)
        assert text == selfcmd.stage_script(["--live", "/run/ovis", *want]), (name, text)
        assert f"sys.path.append({str(selfcmd.package_root())!r}".replace("'", '"') in text
        assert "from ovis.cli.stagecmd import entrypoint" in text
    assert (d / "SIGHUP").read_text() == "#!/bin/sh\nexit 0\n"
    os.kill(booted.pid1, 2)  # ctrl-alt-del: SIGINT script -> reboot through the lean entry
    assert booted.wait_exit(60) is not None
    console = booted.console_text()
    assert "ovis: stage 3: preparing reboot" in console and "stage 4 done" in console, console
    booted.assert_nothing_survived_stage4()


def test_catchall_logger_runs_without_debians_wrapper(booted: BootedSystem) -> None:
    """The catch-all logger (which stage 2 waits for) is started by the real execlineb with
    execline's commands named absolutely, as the compiler writes run scripts: Debian's
    wrapper script would add four execs before it opens its fifo. Its log still works."""
    from ovis.boot.config import CATCHALL
    from ovis.service import execline

    booted.write("d", DAEMON.format(name="d", extra="", run="sleep 1000"))
    booted.boot()
    run = (booted.live() / "scandir" / CATCHALL / "run").read_text()
    it = execline.interpreter()
    assert run.startswith(f"#!{it.path} -P\n"), run
    if it.path != execline.WRAPPER:  # a real execlineb was found (Debian's is a wrapper)
        assert execline.WRAPPER not in run, run
    for line in run.splitlines()[1:]:
        word = line.split()[0]
        assert it.bindir is None or word not in it.names, line  # absolute, not by PATH
    # stage 2 wrote its lines through the logger, then had the file rotated and saved
    from tests.livesys import wait_until

    log = booted.live() / "log" / CATCHALL / "current"
    # the console's "system ready" comes before the save: wait for its line
    def saved_line() -> bool:
        try:
            return "ovis: boot log saved as " in log.read_text()
        except FileNotFoundError:  # s6-log between its rename and the new current
            return False

    assert wait_until(saved_line, 30), log.read_text()
    current = log.read_text()
    saved = Path(current.split("ovis: boot log saved as ", 1)[1].split()[0])
    assert "ovis: system ready in" in saved.read_text(), saved.read_text()
    os.kill(booted.pid1, 10)  # SIGUSR1: poweroff
    assert booted.wait_exit(60) is not None

"""Lazy CLI dispatch: a named command imports only what implements it.

Boot scripts call ``ovis status``, ``aa-echo`` and friends dozens of times,
and where Python is slow (QEMU without KVM, small boards) every module
imported is paid on each call.  These tests pin down *which* modules a verb
may import (the speed itself is measured by bench/hotspots.py, not here),
and that the table the dispatcher uses agrees with what the CLI modules
really register, so no command is lost from ``ovis --help`` or from its own
command line.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ovis.cli import main as climain

REPO = Path(__file__).resolve().parent.parent


def registered(module: str) -> list[str]:
    """The command names a CLI module's ``register`` declares."""
    import argparse

    names: list[str] = []

    def cmd(name: str, *_a: object, **_k: object) -> argparse.ArgumentParser:
        names.append(name)
        return argparse.ArgumentParser(add_help=False)

    importlib.import_module(f"ovis.cli.{module}").register(cmd)
    return names


def test_dispatch_table_matches_registrations() -> None:
    seen = {n: m for m in climain._MODULE_ORDER for n in registered(m)}
    assert seen == climain.COMMAND_MODULES
    assert set(climain.COMMAND_MODULES.values()) == set(climain._MODULE_ORDER)


def test_full_parser_lists_every_command() -> None:
    assert climain.build_parser().ovis_commands == sorted(climain.COMMAND_MODULES)


@pytest.mark.parametrize("word", sorted(climain.COMMAND_MODULES))
def test_named_parser_has_exactly_its_command(word: str) -> None:
    assert climain.build_parser(word).ovis_commands == [word]


def modules_after(argv: list[str], env: dict[str, str] | None = None,
                  code: str = "from ovis.cli.main import main\ntry:\n    main({argv!r})\n"
                              "except (Exception, SystemExit):\n    pass") -> set[str]:
    """The modules a fresh interpreter holds after running *argv* (its errors are ignored)."""
    probe = (f"import sys, json\n{code.format(argv=argv)}\n"
             "sys.stdout.flush()\n"
             "sys.__stderr__.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n")
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = str(REPO)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=e,
                       cwd=str(REPO), timeout=120)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("MODULES ")]
    assert line, p.stderr
    return set(json.loads(line[-1][len("MODULES "):]))


def test_version_builds_no_parser() -> None:
    mods = modules_after(["--version"])
    assert "argparse" not in mods
    assert not {m for m in mods if m.startswith("ovis.cli.") and m != "ovis.cli.main"}


def test_named_command_imports_only_its_module(tmp_path: Path) -> None:
    env = dict(os.environ, OVIS_LIVE=str(tmp_path / "live"), OVIS_TREES=str(tmp_path / "trees"),
               OVIS_SKEL=str(tmp_path / "skel"), OVIS_SERVICES=str(tmp_path / "svc"))
    mods = modules_after(["is-enabled", "foo"], env)
    assert "ovis.cli.opscmds" in mods
    assert not mods & {"ovis.cli.commands", "ovis.cli.bootcmds", "ovis.cli.analyzecmd",
                       "ovis.cli.statusview", "ovis.engine.manager"}


def test_reading_verbs_import_no_engine(tmp_path: Path) -> None:
    """ovis log and ovis is-enabled read LIVE and the trees: they answer without the engine."""
    paths = _compiled_tree(tmp_path)
    (paths.trees / "boot").mkdir(parents=True)
    (paths.trees / "boot" / "web").touch()
    (paths.logdir / "web").mkdir(parents=True, exist_ok=True)
    (paths.logdir / "web" / "current").write_text("@400000006000000000000000 hello from web\n")
    env = dict(os.environ, OVIS_LIVE=str(paths.live), OVIS_SERVICES=str(tmp_path / "svc"),
               OVIS_TREES=str(paths.trees), OVIS_SKEL=str(paths.skel), OVIS_LOGDIR=str(paths.logdir))
    for argv, out, rc in ((["is-enabled", "web"], "enabled\n", 0),
                          (["is-enabled", "web", "db"], "enabled\ndisabled\n", 1),
                          (["log", "web"], "hello from web", 0)):
        mods = modules_after(argv, env)
        assert not mods & {"ovis.engine.manager", "ovis.engine.transaction"}, argv
        if argv[0] == "is-enabled":
            assert "argparse" not in mods, argv  # read by quick_status
        p = subprocess.run([sys.executable, "-m", "ovis", *argv], capture_output=True, text=True,
                           env=dict(env, PYTHONPATH=str(REPO)), cwd=str(REPO), timeout=120)
        assert (p.returncode, out in p.stdout) == (rc, True), (argv, p.stdout, p.stderr)


def _compiled_tree(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three compiled services (a notifying longrun with a dependency, a oneshot, a bundle)."""
    from ovis.paths import Paths
    from ovis.service.compiler import Compiler
    from ovis.service.repository import Repository

    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "db").write_text('[Main]\nType = classic\nDescription = "the db"\n'
                            "Notify = 3\n[Start]\nExecute = ( sleep 100 )\n")
    (svc / "init").write_text('[Main]\nType = oneshot\nDescription = "init"\n'
                              "[Start]\nExecute = ( true )\n")
    (svc / "web").write_text('[Main]\nType = classic\nDepends = ( db init )\n'
                             "[Start]\nExecute = ( sleep 100 )\n")
    paths = Paths.resolve({}, live=str(tmp_path / "live"), services=str(svc),
                          trees=str(tmp_path / "trees"), logdir=str(tmp_path / "log"),
                          skel=str(tmp_path / "skel"))
    repo, comp = Repository(paths.services), Compiler(paths)
    for n in ("db", "init", "web"):
        comp.compile(repo.load(n))
    return paths


def test_view_reads_live_as_the_compiler_does(tmp_path: Path) -> None:
    """engine.status.View's own reader of LIVE gives the very models compiled_services does."""
    from ovis.engine.status import View
    from ovis.service.compiler import compiled_services

    paths = _compiled_tree(tmp_path)
    expected = compiled_services(paths)
    assert sorted(expected) == ["db", "init", "web"]
    assert View(paths).live_services() == expected


def test_view_edges_and_log_are_the_compilers(tmp_path: Path) -> None:
    """ovis status NAME's (depends, wants) and log file from LIVE without the compiler agree
    with what the compiler's model gives (the index, ovis.json alone, a logger elsewhere, an
    ovis.json that is no model), and describe() says the same through a View as a Manager."""
    import json as json_

    from ovis.engine import status
    from ovis.engine.manager import Manager
    from ovis.logs.reader import log_file

    paths = _compiled_tree(tmp_path)
    (tmp_path / "svc" / "logged").write_text(
        "[Main]\nType = classic\nDepends = ( db )\n[Start]\nExecute = ( sleep 100 )\n"
        f"[Logger]\nDestination = {tmp_path}/elsewhere//logs/\n")
    from ovis.service.compiler import Compiler
    from ovis.service.repository import Repository

    Compiler(paths).compile(Repository(paths.services).load("logged"))
    (paths.trees / "boot").mkdir(parents=True)
    (paths.trees / "boot" / "web").touch()
    m = Manager(paths)
    whole = status.View(paths)
    whole.live_services()  # this one answers from its whole models, the other from LIVE's files
    for view in (status.View(paths), whole):
        for n in ("db", "init", "web", "logged", "nothere"):
            svc = m.live_services().get(n)
            assert view.live_edges(n) == ((svc.depends, svc.wants) if svc else None), n
            assert view.log_current(n) == (str(log_file(m, n)) if svc else None), n
    for n in ("db", "init", "web", "logged"):
        assert status.describe(status.View(paths), {"name": n}, 3) == \
            status.describe(m, {"name": n}, 3), n
    # an ovis.json that is no model: neither answers from it
    meta_file = paths.servicedir("init") / "ovis.json"
    meta = json_.loads(meta_file.read_text())
    for broken in ({**meta, "kind": "nope"}, {k: v for k, v in meta.items() if k != "name"},
                   {k: v for k, v in meta.items() if k != "kind"}):
        meta_file.write_text(json_.dumps(broken))
        os.utime(meta_file, None)
        view = status.View(paths)
        assert view.live_edges("init") is None and view.log_current("init") is None
        assert view.live_service("init") is None


def test_status_imports_no_engine(tmp_path: Path) -> None:
    """The status table is read without the engine: manager, transactions, runner, s6 control."""
    paths = _compiled_tree(tmp_path)
    env = dict(os.environ, OVIS_LIVE=str(paths.live), OVIS_SERVICES=str(tmp_path / "svc"),
               OVIS_TREES=str(paths.trees), OVIS_SKEL=str(paths.skel), OVIS_LOGDIR=str(paths.logdir))
    for argv in (["status"], ["--json", "status"], ["status", "web"]):
        mods = modules_after(argv, env)
        assert "ovis.engine.status" in mods
        assert "argparse" not in mods, argv  # read by quick_status
        assert not mods & {"ovis.engine.manager", "ovis.engine.transaction", "ovis.engine.runner",
                           "ovis.s6.control", "ovis.cli.bootcmds", "ovis.cli.opscmds"}, argv
        p = subprocess.run([sys.executable, "-m", "ovis", *argv], capture_output=True, text=True,
                           env=dict(env, PYTHONPATH=str(REPO)), cwd=str(REPO), timeout=120)
        assert "Traceback" not in p.stderr and "web" in p.stdout, (argv, p.stdout, p.stderr)


def test_status_table_drift_agrees_with_the_engine(tmp_path: Path) -> None:
    """View.changed (the table's cheap drift check) answers as engine.drift with a Manager."""
    from ovis.engine.drift import definition_changed
    from ovis.engine.manager import Manager
    from ovis.engine.status import View

    paths = _compiled_tree(tmp_path)
    svc = tmp_path / "svc"

    def both() -> dict[str, tuple[bool | None, bool | None]]:
        m = Manager(paths)
        return {n: (View(paths).changed(n), definition_changed(m, n))
                for n in ("db", "init", "web", "nothere")}

    assert both() == {"db": (False, False), "init": (False, False), "web": (False, False),
                      "nothere": (None, None)}
    future = os.stat(paths.servicedir("web") / "ovis.json").st_mtime + 100
    os.utime(svc / "init", (future, future))  # touched, same text: the digest decides
    (svc / "web").write_text("[Main]\nType = classic\nDepends = ( db )\n"
                             "[Start]\nExecute = ( sleep 200 )\n")
    os.utime(svc / "web", (future, future))
    (svc / "db").unlink()  # gone from disk
    assert both() == {"db": (True, True), "init": (False, False), "web": (True, True),
                      "nothere": (None, None)}


STATUS_LINES = [
    ["status"], ["--json", "status"], ["status", "--json"], ["status", "web", "db"],
    ["-v", "0", "status", "--live", "/x"], ["status", "--failed"], ["status", "-n", "3", "web"],
    ["status", "web", "--lines", "0"], ["--live", "/a", "status", "--live", "/b"],
    ["--services", "/s:/t", "--skel", "/k", "--trees", "/t", "--logdir", "/l", "status"],
    ["status", "--verbosity", "2", "status"], ["status", "web", "-n", "2", "db"],
    ["status", "--fail"], ["status", "-h"], ["--help", "status"], ["status", "--lines=3"],
    ["status", "-n", "x"], ["status", "-n", "-1"], ["status", "-n"], ["--live"], ["-v", "x", "status"],
    ["status", "--", "web"], ["status", "-x"], ["restart", "web"], ["--json"], [], ["stat"],
    ["status", "web", "--json", "db"], ["status", "-n", " 4"], ["-v", "+1", "status"],
]


def assert_quick_reads_as_argparse(argv: list[str], command: str, func: str) -> None:
    """What the argparse-free reader accepts of *command*, argparse reads the same."""
    quick = climain.quick_status(argv)
    try:
        full = vars(climain.build_parser(command).parse_args(argv))
    except SystemExit:
        full = None
    if quick is None:
        return  # argparse answers these itself (help, error, another command...)
    assert full is not None, argv
    got = dict(vars(quick))
    assert got.pop("func").__name__ == full.pop("func").__name__ == func
    assert got == full


@pytest.mark.parametrize("argv", STATUS_LINES, ids=" ".join)
def test_quick_status_parses_as_argparse(argv: list[str]) -> None:
    """What the argparse-free reader of ``ovis status`` accepts, argparse reads the same."""
    assert_quick_reads_as_argparse(argv, "status", "cmd_status")


IS_ENABLED_LINES = [
    ["is-enabled", "web"], ["is-enabled", "web", "db"], ["is-enabled"], ["--json", "is-enabled", "a"],
    ["is-enabled", "-t", "boot", "web"], ["is-enabled", "web", "--tree", "x"], ["is-enabled", "-t", "web"],
    ["is-enabled", "web", "-t", "x", "db"], ["is-enabled", "-t", "-x", "web"], ["is-enabled", "--tree=x", "a"],
    ["-v", "0", "is-enabled", "a"], ["is-enabled", "a", "--failed"], ["is-enabled", "a", "-n", "3"],
    ["is-enabled", "-h"], ["is-enabled", "a", "--live", "/l", "-t", "t"], ["is-enabled", "--", "a"],
]


@pytest.mark.parametrize("argv", IS_ENABLED_LINES, ids=" ".join)
def test_quick_is_enabled_parses_as_argparse(argv: list[str]) -> None:
    """The argparse-free reader of ``ovis is-enabled`` reads what argparse reads."""
    assert_quick_reads_as_argparse(argv, "is-enabled", "cmd_is_enabled")


def test_quick_status_takes_the_plain_lines() -> None:
    """The usual spellings really skip argparse (else the fast path would be dead code)."""
    for argv in (["status"], ["--json", "status"], ["status", "web", "--failed"],
                 ["-v", "0", "status", "-n", "3", "web"]):
        assert climain.quick_status(argv) is not None, argv
    for argv in (["status", "-h"], ["status", "--lines=3"], ["status", "a", "--json", "b"]):
        assert climain.quick_status(argv) is None, argv
    for argv in (["is-enabled", "a"], ["is-enabled", "-t", "boot", "a", "b"], ["--json", "is-enabled", "a"]):
        assert climain.quick_status(argv) is not None, argv


START_STOP_LINES = [
    ["start", "web"], ["start", "web", "db"], ["start"], ["--json", "start", "a"], ["-v", "0", "start", "a"],
    ["start", "--scandir", "web"], ["start", "web", "--scandir"], ["start", "a", "--scandir", "b"],
    ["start", "--live", "/l", "a"], ["start", "a", "-v", "2"], ["start", "-h"], ["start", "--", "a"],
    ["start", "a", "--all"], ["start", "-x", "a"], ["start", "--scan", "a"],
    ["stop", "web"], ["stop"], ["stop", "--all"], ["stop", "-a"], ["stop", "-a", "-f"], ["stop", "-af"],
    ["stop", "--all", "--force"], ["stop", "web", "--force"], ["stop", "a", "-f", "b"],
    ["-v", "0", "stop", "--all"], ["--json", "stop", "-a"], ["stop", "--al"], ["stop", "a", "--scandir"],
    ["stop", "-v", "x", "a"], ["stop", "--", "-a"],
]


@pytest.mark.parametrize("argv", START_STOP_LINES, ids=" ".join)
def test_quick_start_and_stop_parse_as_argparse(argv: list[str]) -> None:
    """The argparse-free reader of ``ovis start`` and ``ovis stop`` reads what argparse reads."""
    assert_quick_reads_as_argparse(argv, argv[argv.index("start") if "start" in argv else
                                             argv.index("stop")],
                                   "cmd_start" if "start" in argv else "cmd_stop")


def test_quick_start_and_stop_take_the_plain_lines() -> None:
    for argv in (["start", "web"], ["-v", "0", "start", "a", "b"], ["start", "--scandir", "a"],
                 ["stop", "--all"], ["-v", "0", "stop", "-a"], ["stop", "web", "--force"]):
        assert climain.quick_status(argv) is not None, argv

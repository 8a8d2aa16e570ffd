"""anopa service directories into the service model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ovis.errors import DefinitionError
from ovis.service.formats.anopa import parse_anopa_dir
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind

SCRIPT = "#!/bin/sh\nexec true\n"
EXECUTABLES = {"run", "finish", "start", "stop", "log/run"}


def make(root: Path, files: dict[str, str | None]) -> Path:
    """Create a service directory: path -> content, None for a directory.

    The usual script names are made executable.
    """
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
            continue
        path.write_text(content)
        if rel in EXECUTABLES:
            path.chmod(0o755)
    return root


def error(root: Path, name: str | None = None) -> str:
    with pytest.raises(DefinitionError) as info:
        parse_anopa_dir(root, name or root.name)
    return str(info.value)


# --------------------------------------------------------------------------
# Kinds and scripts
# --------------------------------------------------------------------------


def test_longrun_with_finish(tmp_path: Path) -> None:
    root = make(tmp_path / "food", {"run": SCRIPT, "finish": SCRIPT})
    svc = parse_anopa_dir(root, "food")
    assert svc.name == "food" and svc.source == str(root)
    assert svc.kind is Kind.LONGRUN
    assert svc.start == Program(ProgramKind.FILE, path=str(root / "run"))
    assert svc.stop == Program(ProgramKind.FILE, path=str(root / "finish"))
    assert svc.logger is None  # anopa: a logger only from log/
    assert svc.extra_files == {}
    assert svc.where("start") == (str(root / "run"), 1)


def test_oneshot_with_start_and_stop(tmp_path: Path) -> None:
    root = make(tmp_path / "mount", {"start": SCRIPT, "stop": SCRIPT})
    svc = parse_anopa_dir(root, "mount")
    assert svc.kind is Kind.ONESHOT
    assert svc.start == Program(ProgramKind.FILE, path=str(root / "start"))
    assert svc.stop == Program(ProgramKind.FILE, path=str(root / "stop"))


def test_oneshot_without_scripts_is_an_ordering_node(tmp_path: Path) -> None:
    root = make(tmp_path / "target", {"needs/a": ""})
    svc = parse_anopa_dir(root, "target")
    assert svc.kind is Kind.ONESHOT
    assert svc.start is None and svc.stop is None
    assert svc.depends == ("a",)


def test_model_defaults(tmp_path: Path) -> None:
    svc = parse_anopa_dir(make(tmp_path / "x", {"run": SCRIPT}), "x")
    assert svc.depends == svc.wants == svc.after == svc.before == ()
    assert svc.notify is None and not svc.gets_ready
    assert svc.timeout_start is None and svc.timeout_stop is None
    assert svc.max_death is None and svc.down_signal is None
    assert not svc.down and not svc.essential and svc.env == {}


# --------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------


def test_dependency_dirs_sorted(tmp_path: Path) -> None:
    root = make(tmp_path / "app", {
        "run": SCRIPT,
        "needs/zeta": "", "needs/alpha": "",
        "wants/syslog": "",
        "after/net": "", "after/clock": "",
        "before/login": "",
    })
    svc = parse_anopa_dir(root, "app")
    assert svc.depends == ("alpha", "zeta")
    assert svc.wants == ("syslog",)
    assert svc.after == ("clock", "net")
    assert svc.before == ("login",)
    assert svc.where("depends/zeta") == (str(root / "needs" / "zeta"), 1)
    assert svc.key_as_written("depends/zeta") == "needs/zeta"
    assert svc.key_as_written("wants") == "wants"


def test_symlinks_dirs_and_hidden_entries_are_ignored(tmp_path: Path) -> None:
    root = make(tmp_path / "app", {"run": SCRIPT, "needs/real": "", "needs/.hidden": "",
                                   "needs/subdir": None, "elsewhere": ""})
    os.symlink(root / "elsewhere", root / "needs" / "link")
    svc = parse_anopa_dir(root, "app")
    assert svc.depends == ("real",)


def test_instance_is_appended_to_template_entries(tmp_path: Path) -> None:
    root = make(tmp_path / "getty@", {"run": SCRIPT, "needs/setup@": "", "after/udev": ""})
    svc = parse_anopa_dir(root, "getty@tty1")
    assert svc.name == "getty@tty1"
    assert svc.depends == ("setup@tty1",)
    assert svc.after == ("udev",)
    assert svc.key_as_written("depends/setup@tty1") == "needs/setup@"
    # the template itself (ovis check getty@) has no instance to append
    assert parse_anopa_dir(root, "getty@").depends == ("setup@",)
    # nor has a plain service: the template name is kept as written
    plain = make(tmp_path / "plain", {"run": SCRIPT, "wants/setup@": ""})
    assert parse_anopa_dir(plain, "plain").wants == ("setup@",)


# --------------------------------------------------------------------------
# Readiness, timeouts, flags, s6 files
# --------------------------------------------------------------------------


def test_notification_fd_and_gets_ready(tmp_path: Path) -> None:
    svc = parse_anopa_dir(make(tmp_path / "a", {"run": SCRIPT, "notification-fd": "3\n"}), "a")
    assert svc.notify == 3 and svc.has_readiness and not svc.gets_ready
    assert svc.where("notify") == (str(tmp_path / "a" / "notification-fd"), 1)
    svc = parse_anopa_dir(make(tmp_path / "b", {"run": SCRIPT, "gets-ready": ""}), "b")
    assert svc.notify is None and svc.gets_ready


def test_timeout_seconds_to_ms(tmp_path: Path) -> None:
    svc = parse_anopa_dir(make(tmp_path / "a", {"start": SCRIPT, "timeout": "7\nignored\n"}), "a")
    assert (svc.timeout_start, svc.timeout_stop) == (7000, 7000)
    svc = parse_anopa_dir(make(tmp_path / "b", {"start": SCRIPT, "timeout": "0"}), "b")
    assert (svc.timeout_start, svc.timeout_stop) == (0, 0)  # 0 = forever


def test_flag_files(tmp_path: Path) -> None:
    svc = parse_anopa_dir(make(tmp_path / "a", {"start": SCRIPT, "essential": "", "down": ""}), "a")
    assert svc.essential and svc.down


def test_s6_files(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "max-death-tally": "4096", "down-signal": "hup\n",
                                 "timeout-kill": "1500", "timeout-finish": "2500"})
    svc = parse_anopa_dir(root, "a")
    assert svc.max_death == 4096
    assert svc.down_signal == "SIGHUP"
    assert (svc.timeout_kill, svc.timeout_finish) == (1500, 2500)
    assert svc.extra_files == {}


def test_other_entries_go_to_extra_files(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "data/check": "x", "env/FOO": "1",
                                 "nosetsid": "", "lock-fd": "3", "supervise/status": "",
                                 "event": None, "status.anopa": "", ".git-keep": ""})
    svc = parse_anopa_dir(root, "a")
    assert svc.extra_files == {"data": str(root / "data"), "env": str(root / "env"),
                               "lock-fd": str(root / "lock-fd"), "nosetsid": str(root / "nosetsid")}
    assert list(svc.extra_files) == ["data", "env", "lock-fd", "nosetsid"]


# --------------------------------------------------------------------------
# Logger
# --------------------------------------------------------------------------


def test_log_directory(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "log/run": SCRIPT, "log/notification-fd": "4",
                                 "log/timeout-kill": "100", "log/down-signal": "TERM",
                                 "log/data": None})
    svc = parse_anopa_dir(root, "a")
    log = root / "log"
    assert svc.logger == LoggerSpec(program=Program(ProgramKind.FILE, path=str(log / "run")), notify=4,
                                    timeout_kill=100,
                                    extra_files={"data": str(log / "data"),
                                                 "down-signal": str(log / "down-signal")})
    assert svc.where("logger") == (str(log), 1)


def test_log_file_means_standard_logger(tmp_path: Path) -> None:
    svc = parse_anopa_dir(make(tmp_path / "a", {"run": SCRIPT, "log": ""}), "a")
    assert svc.logger == LoggerSpec()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_error_bad_notification_fd(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "notification-fd": "three\n"})
    assert error(root) == f"{root}/notification-fd:1: notification-fd: not an unsigned integer: 'three'"
    (root / "notification-fd").write_text("2\n")
    assert error(root) == (f"{root}/notification-fd:1: notification-fd: "
                           "must be 3 or more (0, 1 and 2 are stdin, stdout and stderr)")
    (root / "notification-fd").write_text("\n")
    assert error(root) == f"{root}/notification-fd:1: notification-fd: empty value"


def test_error_bad_needs_name(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "needs/a@b@c": ""})
    assert error(root) == f"{root}/needs/a@b@c:1: needs/a@b@c: invalid service name 'a@b@c'"
    root = make(tmp_path / "b", {"run": SCRIPT, "wants/-x": ""})
    assert error(root) == f"{root}/wants/-x:1: wants/-x: invalid service name '-x'"


def test_error_run_not_executable(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT})
    (root / "run").chmod(0o644)
    assert error(root) == f"{root}/run:1: run: not executable"


def test_error_script_is_a_directory(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"start": None})
    assert error(root) == f"{root}/start:1: start: not a regular file"
    root = make(tmp_path / "b", {"run": None})
    assert error(root) == f"{root}/run:1: run: not a regular file"


def test_error_dependency_dir_is_a_file(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "needs": "foo\n"})
    assert error(root) == f"{root}/needs:1: needs: not a directory"


def test_error_mixed_longrun_and_oneshot_scripts(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "start": SCRIPT})
    assert error(root) == f"{root}/start:1: start: only a oneshot (no run file) has start/stop scripts"
    root = make(tmp_path / "b", {"finish": SCRIPT})
    assert error(root) == f"{root}/finish:1: finish: only a longrun (with a run file) has a finish script"


@pytest.mark.parametrize("rel, content, message", [
    ("timeout", "10s", "not an unsigned integer: '10s'"),
    ("timeout", "-1", "not an unsigned integer: '-1'"),
    ("max-death-tally", "5000", "out of range 0..4096: 5000"),
    ("timeout-kill", "x", "not an unsigned integer: 'x'"),
    ("timeout-finish", "1.5", "not an unsigned integer: '1.5'"),
    ("down-signal", "SIGFOO", "unknown signal 'SIGFOO'"),
])
def test_error_bad_s6_files(tmp_path: Path, rel: str, content: str, message: str) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, rel: content})
    assert error(root) == f"{root}/{rel}:1: {rel}: {message}"


def test_error_in_log_dir(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "log/notification-fd": "3"})
    assert error(root) == f"{root}/log/run:1: log/run: missing: a log/ directory needs a run script"
    root = make(tmp_path / "b", {"run": SCRIPT, "log/run": SCRIPT, "log/notification-fd": "x"})
    assert error(root) == (f"{root}/log/notification-fd:1: log/notification-fd: "
                           "not an unsigned integer: 'x'")
    (root / "log" / "notification-fd").unlink()
    (root / "log" / "run").chmod(0o600)
    assert error(root) == f"{root}/log/run:1: log/run: not executable"


def test_error_not_a_directory_or_bad_name(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    assert error(path) == f"{path}:1: file: not a directory"
    root = make(tmp_path / "ok", {"run": SCRIPT})
    assert error(root, "bad name") == f"{root}:1: bad name: invalid service name"


def test_error_unreadable_value_file(tmp_path: Path) -> None:
    root = make(tmp_path / "a", {"run": SCRIPT, "notification-fd": "3"})
    (root / "notification-fd").write_bytes(b"\xff\n")
    assert error(root).startswith(f"{root}/notification-fd:1: notification-fd: cannot read:")


# --------------------------------------------------------------------------
# Files anopa does not know, definitions with nothing to run (issue 9 point 5)
# --------------------------------------------------------------------------


def test_unknown_files_and_nothing_to_run_are_warnings(tmp_path: Path) -> None:
    root = tmp_path / "cleanup"
    root.mkdir()
    (root / "runn").write_text("#!/bin/sh\n")
    (root / "down.bak").write_text("")
    (root / "nosetsid").write_text("")  # an s6 file: copied, no warning
    svc = parse_anopa_dir(root, "cleanup")
    assert [(path, key, message.split(",")[0]) for path, _, key, message in svc.warnings] == [
        (str(root / "down.bak"), "down.bak", "unknown file"),
        (str(root / "runn"), "runn", "unknown file"),
        (str(root), "cleanup", "nothing to run: no run"),
    ]
    assert set(svc.extra_files) == {"down.bak", "nosetsid", "runn"}


def test_known_layouts_have_no_warnings(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "log").mkdir(parents=True)
    for rel in ("run", "log/run"):
        (root / rel).write_text("#!/bin/sh\n")
        (root / rel).chmod(0o755)
    (root / "log" / "down-signal").write_text("TERM\n")
    (root / "data").mkdir()
    (root / "timeout-kill").write_text("100\n")
    assert parse_anopa_dir(root, "web").warnings == []
    (root / "log" / "rum").write_text("")
    assert [key for _, _, key, _ in parse_anopa_dir(root, "web").warnings] == ["log/rum"]


def test_format_readers_do_not_import_each_other() -> None:
    """Each format module stands alone: shared checks come from values/sources only."""
    import ast

    import ovis.service.formats.anopa as anopa_module

    tree = ast.parse(Path(anopa_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m and ("sixtysix" in m or "frontend" in m)}
    assert "ovis.service.values" in imported

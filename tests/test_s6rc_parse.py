"""The s6-rc source format: what each file means, warnings, and the compiled servicedir.

Definitions are written as s6-rc-compile's documentation describes them;
the compiled oneshot scripts are run for real through execlineb to check
that ``up`` means what s6-rc makes of it.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ovis.errors import DefinitionError
from ovis.paths import Paths
from ovis.service.compiler import Compiler, pipe_path
from ovis.service.formats.s6rc import execline_words, parse_s6rc_dir
from ovis.service.model import Kind, ProgramKind
from ovis.service.repository import Repository, parse_definition


def make(root: Path, name: str, files: dict[str, str], mode: int = 0o644) -> Path:
    d = root / name
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            p.mkdir(exist_ok=True)
            continue
        p.write_text(text)
        p.chmod(mode)
    return d


def paths_for(tmp: Path, services: Path) -> Paths:
    return Paths(skel=tmp / "skel", services=(services,), trees=tmp / "trees", live=tmp / "live",
                 logdir=tmp / "log")


def test_detection_rule_type_file_means_s6rc(tmp_path: Path) -> None:
    s6rc = make(tmp_path, "a", {"type": "oneshot\n", "up": "echo hi\n"})
    anopa = make(tmp_path, "b", {"start": "#!/bin/sh\n"}, mode=0o755)
    assert parse_definition(s6rc, "a").kind is Kind.ONESHOT
    assert parse_definition(s6rc, "a").start.kind is ProgramKind.EXECLINE  # type: ignore[union-attr]
    assert parse_definition(anopa, "b").start.kind is ProgramKind.FILE  # type: ignore[union-attr]


@pytest.mark.parametrize("raw,ok", [("longrun\n", True), ("longrun", True), ("bundle\n", True),
                                    ("longrun\n\n", False), (" longrun\n", False),
                                    ("Longrun\n", False), ("classic\n", False), ("", False)])
def test_type_is_strict_as_in_s6rc_compile(tmp_path: Path, raw: str, ok: bool) -> None:
    d = make(tmp_path, "x", {"type": raw, "run": "#!/bin/sh\n", "contents.d/": ""})
    if ok:
        parse_s6rc_dir(d, "x")
    else:
        with pytest.raises(DefinitionError) as e:
            parse_s6rc_dir(d, "x")
        assert (e.value.path, e.value.line, e.value.key) == (d / "type", 1, "type")


def test_longrun_files(tmp_path: Path) -> None:
    d = make(tmp_path, "web", {
        "type": "longrun\n", "run": "#!/bin/sh\nexec sleep 1\n", "finish": "#!/bin/sh\n",
        "notification-fd": "4\n", "timeout-up": "3000\n", "timeout-down": "2000\n",
        "timeout-kill": "1500\n", "timeout-finish": "700\n", "max-death-tally": "42\n",
        "down-signal": "SIGHUP\n", "lock-fd": "5\n", "flag-essential": "", "flag-recommended": "",
        "dependencies.d/net": "", "dependencies.d/db": "", "env/PORT": "80\n",
        "data/conf": "x\n"})
    svc = parse_s6rc_dir(d, "web")
    assert svc.kind is Kind.LONGRUN and svc.essential
    assert svc.depends == ("db", "net")
    assert (svc.notify, svc.timeout_start, svc.timeout_stop) == (4, 3000, 2000)
    assert (svc.timeout_kill, svc.timeout_finish, svc.down_signal) == (1500, 700, "SIGHUP")
    assert svc.max_death is None  # max-death-tally is s6's own file, copied as is
    assert set(svc.extra_files) == {"env", "data", "lock-fd", "max-death-tally"}
    assert svc.logger is None  # s6-rc: output goes to the supervision tree, or to a consumer
    assert svc.warnings == []
    assert svc.where("depends/db") == (str(d / "dependencies.d" / "db"), 1)


def test_absent_timeout_up_is_forever_absent_timeout_down_keeps_the_stop_defaults(tmp_path: Path) -> None:
    svc = parse_s6rc_dir(make(tmp_path, "w", {"type": "longrun\n", "run": "#!/bin/sh\n"}), "w")
    assert (svc.timeout_start, svc.timeout_stop, svc.timeout_kill) == (0, None, None)
    svc = parse_s6rc_dir(make(tmp_path, "v", {"type": "longrun\n", "run": "#!/bin/sh\n",
                                              "timeout-down": "0\n"}), "v")
    assert (svc.timeout_stop, svc.timeout_kill) == (0, 0)  # written 0: forever, no SIGKILL


def test_dependencies_list_file(tmp_path: Path) -> None:
    d = make(tmp_path, "w", {"type": "oneshot\n", "up": "true\n",
                             "dependencies": "# comment\n\n  net\n\tdb\nnet\n"})
    svc = parse_s6rc_dir(d, "w")
    assert svc.depends == ("net", "db")
    assert svc.where("depends/db") == (str(d / "dependencies"), 4)


def test_dependencies_d_wins_over_dependencies_with_a_warning(tmp_path: Path) -> None:
    d = make(tmp_path, "w", {"type": "oneshot\n", "up": "true\n", "dependencies": "a\n",
                             "dependencies.d/b": ""})
    svc = parse_s6rc_dir(d, "w")
    assert svc.depends == ("b",)
    assert [w[2] for w in svc.warnings] == ["dependencies"]


def test_trailing_blank_in_a_list_is_part_of_the_name(tmp_path: Path) -> None:
    d = make(tmp_path, "w", {"type": "oneshot\n", "up": "true\n", "dependencies": "net \n"})
    with pytest.raises(DefinitionError) as e:
        parse_s6rc_dir(d, "w")
    assert e.value.key == "dependencies" and "net " in e.value.message


def test_bundle_contents_forms(tmp_path: Path) -> None:
    a = parse_s6rc_dir(make(tmp_path, "a", {"type": "bundle\n", "contents.d/x": "",
                                            "contents.d/y": "", "flag-essential": ""}), "a")
    b = parse_s6rc_dir(make(tmp_path, "b", {"type": "bundle\n", "contents": "# all\n x\ny\n"}), "b")
    empty = parse_s6rc_dir(make(tmp_path, "c", {"type": "bundle\n", "contents.d/": ""}), "c")
    assert a.kind is b.kind is Kind.BUNDLE
    assert a.contents == b.contents == ("x", "y") and a.essential
    assert empty.contents == () and a.start is None


def test_oneshot_up_down(tmp_path: Path) -> None:
    d = make(tmp_path, "s", {"type": "oneshot\n", "up": "if { true }\necho up\n",
                             "down": "echo down\n", "timeout-up": "0\n"})
    svc = parse_s6rc_dir(d, "s")
    assert svc.start is not None and svc.start.text == "if { true }\necho up\n"
    assert svc.stop is not None and svc.stop.kind is ProgramKind.EXECLINE
    assert svc.logger is not None  # its output is kept in LOGDIR/NAME


def test_empty_up_is_nothing_to_run_with_a_warning(tmp_path: Path) -> None:
    d = make(tmp_path, "s", {"type": "oneshot\n", "up": "  # only a comment\n\n"})
    svc = parse_s6rc_dir(d, "s")
    assert svc.start is None
    assert svc.warnings == [(str(d / "up"), 1, "up", "empty: nothing to run")]


@pytest.mark.parametrize("text,words", [("echo a b\n", 3), ('echo "a b # c"\n', 2),
                                        ("if { echo a }\necho b # x\n", 7), ("# all\n", 0),
                                        ('echo "a \\" }"\n', 2)])
def test_execline_words(text: str, words: int) -> None:
    assert execline_words(text) == words


@pytest.mark.parametrize("text", ["if { echo\n", "echo }\n", 'echo "open\n'])
def test_execline_syntax_errors(text: str) -> None:
    with pytest.raises(ValueError):
        execline_words(text)


@pytest.mark.parametrize("files,rel", [
    ({"down.bak": "x"}, "down.bak"),
    ({"runn": "x"}, "runn"),
    ({"log/run": "#!/bin/sh\n"}, "log"),
    ({"down": ""}, "down"),
    ({"pipeline-name": "p\n"}, "pipeline-name"),
    ({"notification-fd": "1\n"}, "notification-fd"),
])
def test_unknown_or_ignored_files_are_warnings(tmp_path: Path, files: dict[str, str], rel: str) -> None:
    d = make(tmp_path, "w", {"type": "longrun\n", "run": "#!/bin/sh\n", **files})
    svc = parse_s6rc_dir(d, "w")
    assert [(w[0], w[2]) for w in svc.warnings] == [(str(d / rel), rel)]
    assert svc.notify is None


def test_reserved_names_and_lock_fd_clash(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="reserved"):
        parse_s6rc_dir(make(tmp_path, "s6rc-x", {"type": "bundle\n", "contents.d/": ""}), "s6rc-x")
    d = make(tmp_path, "w", {"type": "longrun\n", "run": "#!/bin/sh\n", "notification-fd": "3\n",
                             "lock-fd": "3\n"})
    with pytest.raises(DefinitionError) as e:
        parse_s6rc_dir(d, "w")
    assert e.value.key == "lock-fd"


def test_max_death_tally_range(tmp_path: Path) -> None:
    d = make(tmp_path, "w", {"type": "longrun\n", "run": "#!/bin/sh\n", "max-death-tally": "5000\n"})
    with pytest.raises(DefinitionError, match="out of range 0..4096"):
        parse_s6rc_dir(d, "w")


def test_producer_depends_on_its_consumer(tmp_path: Path) -> None:
    p = parse_s6rc_dir(make(tmp_path, "app", {"type": "longrun\n", "run": "#!/bin/sh\n",
                                              "producer-for": "app-log\n",
                                              "dependencies.d/net": ""}), "app")
    c = parse_s6rc_dir(make(tmp_path, "app-log", {"type": "longrun\n", "run": "#!/bin/sh\n",
                                                  "consumer-for": "app\n",
                                                  "pipeline-name": "app-pipe\n"}), "app-log")
    assert p.producer_for == "app-log" and p.depends == ("net", "app-log")
    assert c.consumer_for == ("app",) and c.pipeline_name == "app-pipe" and c.depends == ()


def test_pipeline_bundle_and_overlay_base_are_virtual(tmp_path: Path) -> None:
    root = tmp_path / "s6-rc.d"
    make(root, "a", {"type": "longrun\n", "run": "#!/bin/sh\n", "producer-for": "b\n"})
    make(root, "b", {"type": "longrun\n", "run": "#!/bin/sh\n", "producer-for": "c\n",
                     "consumer-for": "a\n"})
    make(root, "c", {"type": "longrun\n", "run": "#!/bin/sh\n", "consumer-for": "b\n",
                     "pipeline-name": "abc\n"})
    make(root, "user", {"type": "bundle\n", "contents.d/abc": ""})
    repo = Repository([root])
    assert repo.load("abc").contents == ("a", "b", "c")
    assert repo.load("base").kind is Kind.BUNDLE and repo.load("base").contents == ()
    assert {"abc", "base"} <= set(repo.names())
    assert set(repo.closure(["user"])) == {"user", "abc", "a", "b", "c"}
    # A real base wins over the empty one.
    make(root, "base", {"type": "bundle\n", "contents.d/c": ""})
    assert Repository([root]).load("base").contents == ("c",)


def test_no_base_without_an_s6_overlay_user_bundle(tmp_path: Path) -> None:
    make(tmp_path, "a", {"type": "oneshot\n", "up": "true\n"})
    assert Repository([tmp_path]).locate("base") is None


def test_compiled_longrun_run_is_executable_and_pipelined(tmp_path: Path) -> None:
    root = tmp_path / "src"
    make(root, "app", {"type": "longrun\n", "run": "#!/bin/sh\necho hi\n", "finish": "#!/bin/sh\n",
                       "producer-for": "app-log\n", "max-death-tally": "7\n", "env/X": "1\n"})
    make(root, "app-log", {"type": "longrun\n", "run": "#!/bin/sh\ncat\n", "consumer-for": "app\n"})
    paths = paths_for(tmp_path, root)
    comp = Compiler(paths)
    repo = Repository([root])
    for n in ("app", "app-log"):
        comp.compile(repo.load(n))
    sv = paths.servicedir("app")
    assert stat.S_IMODE((sv / "run.user").stat().st_mode) == 0o755  # 0644 in the source
    assert (sv / "run.user").read_text() == "#!/bin/sh\necho hi\n"
    fifo = pipe_path(paths, "app-log")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert f'redirfd -u 1 "{fifo}"' in (sv / "run").read_text()
    assert f'redirfd -u 1 "{fifo}"' in (sv / "finish.user").read_text()  # what finish calls
    assert "./finish.user" in (sv / "finish").read_text()
    assert f'redirfd -u 0 "{fifo}"' in (paths.servicedir("app-log") / "run").read_text()
    assert (sv / "max-death-tally").read_text() == "7\n" and (sv / "env" / "X").is_file()
    assert (sv / "timeout-kill").read_text() == "10000\n"  # no timeout-down: ovis's stop default
    assert not (sv / "log").exists()


def test_compiled_oneshot_runs_up_as_s6_rc_does(tmp_path: Path) -> None:
    """``up`` is one execline command line: it may span lines, braces make blocks,
    ``#`` starts a comment, and ``$1`` is not a positional parameter (no shebang,
    no positional substitution in s6-rc)."""
    root = tmp_path / "src"
    make(root, "s", {"type": "oneshot\n",
                     "up": "# set things up\nforeground {\n  echo first }\necho\n  $1 \"a b\"\n  last\n"})
    paths = paths_for(tmp_path, root)
    Compiler(paths).compile(Repository([root]).load("s"))
    start = paths.servicedir("s") / "start"
    out = subprocess.run([str(start)], capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin:/usr/lib/execline/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "first\n$1 a b last\n"


def test_reload_is_one_warning(tmp_path: Path) -> None:
    one = parse_s6rc_dir(make(tmp_path, "o", {"type": "oneshot\n", "up": "true\n",
                                              "reload": "true\n"}), "o")
    lr = parse_s6rc_dir(make(tmp_path, "l", {"type": "longrun\n", "run": "#!/bin/sh\n",
                                             "reload": "true\n"}), "l")
    assert [w[2] for w in one.warnings] == ["reload"] == [w[2] for w in lr.warnings]


def test_bundle_ignores_dependencies_with_a_warning(tmp_path: Path) -> None:
    svc = parse_s6rc_dir(make(tmp_path, "b", {"type": "bundle\n", "contents.d/x": "",
                                              "dependencies.d/y": ""}), "b")
    assert svc.depends == () and [w[2] for w in svc.warnings] == ["dependencies.d"]

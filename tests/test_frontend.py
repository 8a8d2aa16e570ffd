"""66 frontend files (both dialects) into the service model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovis.errors import EXIT_CONFIG, DefinitionError
from ovis.service.envfile import parse_env_lines, parse_envfile
from ovis.service.formats.sixtysix import (
    find_closing_paren,
    parse_frontend,
    strip_comment,
    substitute_instance,
)
from ovis.service.values import normalize_signal, parse_uint
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind

SRC = "/etc/ovis/service/svc"  # the model's paths are str


def parse(text: str, name: str = "svc", path: Path = SRC):
    return parse_frontend(path, name, text)


def error(text: str, name: str = "svc", path: Path = SRC) -> str:
    with pytest.raises(DefinitionError) as info:
        parse_frontend(path, name, text)
    assert info.value.exit_status == EXIT_CONFIG
    return str(info.value)


V08_FULL = """\
# a full 0.8 definition
[Main]
Type = classic
Version = 0.0.1
Description = "the # daemon"
User = ( root )
Depends = ( dbus
            udevd )   # trailing comment
OptsDepends = ( syslog )
RequiredBy = ( desktop )
Flags = ( down earlier )
Notify = 3
TimeoutStart = 3000
TimeoutStop = 4000
MaxDeath = 5
DownSignal = HUP

[Start]
RunAs = daemon
Execute = (
    foreground { echo "starting)" }
    food -f
)

[Stop]
Build = custom
Execute = (#!/bin/sh
echo bye
)

[Environment]
FOO=bar
MODE=!fast
PATH = /x:${PATH}

[Logger]
Destination = /var/log/food
Backup = 5
MaxSize = 8192
Timestamp = iso
RunAs = log
TimeoutStart = 100
TimeoutStop = 200
"""

AT_FULL = """\
[main]
@type = classic
@version = 0.0.1
@description = "the # daemon"
@user = ( root )
@depends = ( dbus udevd )
@optsdepends = ( syslog )
@requiredby = ( desktop )
@flags = ( down earlier )
@notify = 3
@timeout-up = 3000
@timeout-down = 4000
@timeout-kill = 500
@timeout-finish = 600
@maxdeath = 5
@down-signal = SIGHUP
@options = ( log )

[start]
@runas = daemon
@execute = ( food -f )

[stop]
@build = custom
@shebang = "/bin/sh"
@execute = ( echo bye )

[environment]
FOO=bar

[logger]
@destination = /var/log/food
@backup = 5
@maxsize = 8192
@timestamp = iso
@runas = log
@timeout-up = 100
@timeout-down = 200
@timeout-kill = 300
@timeout-finish = 400
"""


# --------------------------------------------------------------------------
# Whole files
# --------------------------------------------------------------------------


def test_full_08_definition() -> None:
    svc = parse(V08_FULL)
    assert svc.name == "svc" and svc.source == SRC
    assert svc.kind is Kind.LONGRUN
    assert svc.version == "0.0.1"
    assert svc.description == "the # daemon"
    assert svc.user == ("root",)
    assert svc.depends == ("dbus", "udevd")
    assert svc.wants == ("syslog",)
    assert svc.requiredby == ("desktop",)
    assert svc.after == () and svc.before == ()
    assert svc.down and svc.earlier and not svc.essential
    assert svc.notify == 3 and svc.has_readiness
    assert (svc.timeout_start, svc.timeout_stop) == (3000, 4000)
    assert (svc.timeout_kill, svc.timeout_finish) == (None, None)
    assert svc.max_death == 5
    assert svc.down_signal == "SIGHUP"
    assert svc.start == Program(ProgramKind.EXECLINE,
                                text='foreground { echo "starting)" }\nfood -f', runas="daemon")
    assert svc.stop == Program(ProgramKind.VERBATIM, text="#!/bin/sh\necho bye\n")
    assert svc.env == {"FOO": "bar", "MODE": "fast", "PATH": "/x:${PATH}"}
    assert list(svc.env) == ["FOO", "MODE", "PATH"]
    assert svc.logger == LoggerSpec(destination="/var/log/food", backup=5, maxsize=8192,
                                    timestamp="iso", runas="log", timeout_start=100, timeout_stop=200)


def test_full_at_definition() -> None:
    svc = parse(AT_FULL)
    assert svc.kind is Kind.LONGRUN
    assert svc.depends == ("dbus", "udevd") and svc.wants == ("syslog",)
    assert svc.requiredby == ("desktop",)
    assert svc.down and svc.earlier
    assert svc.notify == 3
    assert (svc.timeout_start, svc.timeout_stop, svc.timeout_kill, svc.timeout_finish) == (
        3000, 4000, 500, 600)
    assert svc.max_death == 5 and svc.down_signal == "SIGHUP"
    assert svc.start == Program(ProgramKind.EXECLINE, text="food -f", runas="daemon")
    # @shebang gives the custom script its interpreter line
    assert svc.stop == Program(ProgramKind.VERBATIM, text="#!/bin/sh\necho bye\n")
    assert svc.env == {"FOO": "bar"}
    assert svc.logger == LoggerSpec(destination="/var/log/food", backup=5, maxsize=8192,
                                    timestamp="iso", runas="log", timeout_start=100,
                                    timeout_stop=200, timeout_kill=300, timeout_finish=400)


def test_minimal_definitions_get_model_defaults() -> None:
    for text in ("[Main]\nType = classic\n[Start]\nExecute = ( true )\n",
                 "[main]\n@type = classic\n[start]\n@execute = ( true )\n"):
        svc = parse(text)
        assert svc.kind is Kind.LONGRUN
        assert svc.version is None and svc.description == ""
        assert svc.depends == svc.wants == svc.requiredby == ()
        assert svc.stop is None and svc.notify is None
        assert svc.timeout_start is None and svc.max_death is None and svc.down_signal is None
        assert svc.env == {} and not svc.down and not svc.earlier
        assert svc.logger == LoggerSpec()  # frontend services log unless !log


def test_reads_the_file_when_no_text(tmp_path: Path) -> None:
    path = tmp_path / "svc"
    path.write_text("[Main]\nType = oneshot\n[Start]\nExecute = ( true )\n")
    assert parse_frontend(path, "svc").kind is Kind.ONESHOT


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DefinitionError, match=r"nope:1: nope: cannot read: No such file"):
        parse_frontend(missing, "nope")
    binary = tmp_path / "bin"
    binary.write_bytes(b"[Main]\nType = \xff\n")
    with pytest.raises(DefinitionError, match=r"bin:1: bin: not UTF-8 text"):
        parse_frontend(binary, "bin")


def test_invalid_service_name() -> None:
    assert error("[Main]\nType = classic\n", name="a b") == f"{SRC}:1: a b: invalid service name"


# --------------------------------------------------------------------------
# Type, flags, options, logger
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value, kind", [("classic", Kind.LONGRUN), ("longrun", Kind.LONGRUN),
                                         ("oneshot", Kind.ONESHOT)])
def test_types(value: str, kind: Kind) -> None:
    assert parse(f"[Main]\nType = {value}\n[Start]\nExecute = ( true )\n").kind is kind


def test_oneshot_gets_a_logger_too() -> None:
    svc = parse("[Main]\nType = oneshot\n[Start]\nExecute = ( true )\n[Stop]\nExecute = ( false )\n")
    assert svc.kind is Kind.ONESHOT
    assert svc.start == Program(ProgramKind.EXECLINE, text="true")
    assert svc.stop == Program(ProgramKind.EXECLINE, text="false")
    assert svc.logger == LoggerSpec()


def test_no_log_option_drops_logger_and_logger_section() -> None:
    svc = parse("[Main]\nType = classic\nOptions = ( !log )\n[Start]\nExecute = ( x )\n"
                "[Logger]\nBackup = 4\n")
    assert svc.logger is None
    svc = parse("[main]\n@type = classic\n@options = ( env !log )\n[start]\n@execute = ( x )\n")
    assert svc.logger is None


def test_env_option_alone_keeps_the_default_logger() -> None:
    svc = parse("[main]\n@type = classic\n@options = ( env )\n[start]\n@execute = ( x )\n")
    assert svc.logger == LoggerSpec()


def test_logger_custom_program() -> None:
    svc = parse("[Main]\nType = classic\n[Start]\nExecute = ( x )\n"
                "[Logger]\nBuild = custom\nExecute = (#!/bin/sh\nexec cat\n)\n")
    assert svc.logger == LoggerSpec(program=Program(ProgramKind.VERBATIM, text="#!/bin/sh\nexec cat\n"))
    svc = parse("[Main]\nType = classic\n[Start]\nExecute = ( x )\n"
                "[Logger]\nExecute = ( s6-log n3 /tmp/x )\n")
    assert svc.logger == LoggerSpec(program=Program(ProgramKind.EXECLINE, text="s6-log n3 /tmp/x"))


def test_flags_each_alone() -> None:
    base = "[Main]\nType = classic\nFlags = ( {} )\n[Start]\nExecute = ( x )\n"
    svc = parse(base.format("down"))
    assert svc.down and not svc.earlier
    svc = parse(base.format("earlier"))
    assert svc.earlier and not svc.down


@pytest.mark.parametrize("value, expected", [("0", 0), ("4096", 4096)])
def test_max_death_bounds(value: str, expected: int) -> None:
    text = f"[Main]\nType = classic\nMaxDeath = {value}\n[Start]\nExecute = ( x )\n"
    assert parse(text).max_death == expected


@pytest.mark.parametrize("value, expected", [("HUP", "SIGHUP"), ("SIGTERM", "SIGTERM"),
                                             ("sigusr1", "SIGUSR1"), ("9", "9"), ("64", "64")])
def test_down_signal_spellings(value: str, expected: str) -> None:
    text = f"[Main]\nType = classic\nDownSignal = {value}\n[Start]\nExecute = ( x )\n"
    assert parse(text).down_signal == expected


def test_timeout_zero_means_forever_and_is_kept() -> None:
    text = "[Main]\nType = classic\nTimeoutStart = 0\n[Start]\nExecute = ( x )\n"
    assert parse(text).timeout_start == 0


def test_runas_forms() -> None:
    for runas in ("daemon", "1000:1000", "1000:", ":100"):
        text = f"[Main]\nType = classic\n[Start]\nRunAs = {runas}\nExecute = ( x )\n"
        assert parse(text).start.runas == runas  # type: ignore[union-attr]


# --------------------------------------------------------------------------
# Syntax: comments, lists, blocks, quotes
# --------------------------------------------------------------------------


def test_comment_inside_list_drops_rest_of_line() -> None:
    svc = parse("[Main]\nType = classic\nDepends = ( a #b\n c )\n[Start]\nExecute = ( x )\n")
    assert svc.depends == ("a", "c")


def test_list_paren_on_next_line_and_bare_list() -> None:
    svc = parse("[Main]\nType = classic\nDepends =\n\n  ( a\n b )\nOptsDepends = c d\n"
                "[Start]\nExecute =\n(\n  true\n)\n")
    assert svc.depends == ("a", "b") and svc.wants == ("c", "d")
    assert svc.start == Program(ProgramKind.EXECLINE, text="true")


def test_duplicate_names_in_a_list_are_merged() -> None:
    svc = parse("[Main]\nType = classic\nDepends = ( a b a )\n[Start]\nExecute = ( x )\n")
    assert svc.depends == ("a", "b")


def test_execute_keeps_nested_parens_quotes_comments_and_newlines() -> None:
    body = ('foreground { echo "a ) b" }\n'
            "# a comment with ) in it\n"
            "if { test ( -e /x ) }\n"
            "echo \\) 'it)s'")
    svc = parse(f"[Main]\nType = classic\n[Start]\nExecute = (\n{body}\n)\n")
    assert svc.start.text == body  # type: ignore[union-attr]


def test_execute_is_dedented_for_execline() -> None:
    svc = parse("[Main]\nType = classic\n[Start]\nExecute = (\n    a\n      b\n    c\n)\n")
    assert svc.start.text == "a\n  b\nc"  # type: ignore[union-attr]


def test_custom_build_verbatim_and_leading_space_tolerated() -> None:
    script = '#!/bin/sh\necho "$(date)"\ncase x in (x) echo y ;; esac\n'
    svc = parse(f"[Main]\nType = classic\n[Start]\nBuild = custom\nExecute = (\n{script})\n")
    assert svc.start == Program(ProgramKind.VERBATIM, text=script)


def test_custom_build_with_its_own_shebang_ignores_at_shebang() -> None:
    svc = parse("[main]\n@type = oneshot\n[start]\n@build = custom\n@shebang = \"/bin/bash\"\n"
                "@execute = (#!/bin/sh\ntrue\n)\n")
    assert svc.start.text == "#!/bin/sh\ntrue\n"  # type: ignore[union-attr]


def test_shebang_is_ignored_by_auto_build() -> None:
    svc = parse("[main]\n@type = oneshot\n[start]\n@shebang = \"/usr/bin/execlineb -P\"\n"
                "@execute = ( true )\n")
    assert svc.start == Program(ProgramKind.EXECLINE, text="true")


def test_description_quotes_and_comments() -> None:
    base = "[Main]\nType = classic\nDescription = {}\n[Start]\nExecute = ( x )\n"
    assert parse(base.format('"a # b" # comment')).description == "a # b"
    assert parse(base.format("plain words # comment")).description == "plain words"
    assert parse(base.format('"say \\"hi\\""')).description == 'say "hi"'


def test_environment_values() -> None:
    svc = parse("[Main]\nType = classic\n[Start]\nExecute = ( x )\n[Environment]\n"
                "# comment\n\nB=2\nA = \"with space\"\nC=!unexported\nD=\nE=#fff\n")
    assert svc.env == {"B": "2", "A": "with space", "C": "unexported", "D": "", "E": "#fff"}
    assert list(svc.env) == ["B", "A", "C", "D", "E"]


def test_sections_in_any_order_and_blank_lines_and_comments() -> None:
    svc = parse("\n# c\n[Start]\n  # indented comment\nExecute = ( x )\n\n[Main]\n  Type = oneshot  # c\n")
    assert svc.kind is Kind.ONESHOT


# --------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------

TEMPLATE = """\
[Main]
Type = classic
Description = "getty on @I"
Depends = ( setup@@I )
[Start]
Execute = ( agetty @I 38400 )
[Environment]
TTY=/dev/@I
"""


def test_instance_substitution() -> None:
    svc = parse(TEMPLATE, name="getty@tty1", path=Path("/s/getty@"))
    assert svc.name == "getty@tty1"
    assert svc.description == "getty on tty1"
    assert svc.depends == ("setup@tty1",)
    assert svc.start.text == "agetty tty1 38400"  # type: ignore[union-attr]
    assert svc.env == {"TTY": "/dev/tty1"}


def test_substitution_rules() -> None:
    assert substitute_instance("x @I y @I", "getty@tty1") == "x tty1 y tty1"
    assert substitute_instance("x @I", "plain") == "x plain"
    assert substitute_instance("x @I", "a@b@c") == "x b@c"  # after the first @
    assert substitute_instance("x @I", "getty@") == "x "


# --------------------------------------------------------------------------
# Where things came from
# --------------------------------------------------------------------------


def test_lines_and_keys_are_recorded() -> None:
    svc = parse(V08_FULL)
    assert svc.where("kind") == (SRC, 3)
    assert svc.where("depends") == (SRC, 7)
    assert svc.where("depends/udevd") == (SRC, 8)  # each name's own line
    assert svc.key_as_written("depends/udevd") == "Depends"
    assert svc.where("wants/syslog") == (SRC, 9)
    assert svc.key_as_written("wants") == "OptsDepends"
    assert svc.where("down") == svc.where("earlier") == (SRC, 11)
    assert svc.where("notify") == (SRC, 12)
    assert svc.where("start") == (SRC, 20)
    assert svc.where("env/MODE") == (SRC, 33)
    assert svc.where("logger") == (SRC, 36)
    at = parse(AT_FULL)
    assert at.key_as_written("depends") == "@depends"
    assert at.key_as_written("timeout_start") == "@timeout-up"
    assert at.where("nothing") == (SRC, 1)


# --------------------------------------------------------------------------
# Errors: exact messages
# --------------------------------------------------------------------------

MAIN = "[Main]\nType = classic\n"
START = "[Start]\nExecute = ( x )\n"
F = str(SRC)

ERRORS = [
    # structure
    (MAIN + "[Foo]\n", f"{F}:3: [Foo]: unknown section"),
    (MAIN + "[MAIN]\n", f"{F}:3: [MAIN]: unknown section"),
    (MAIN + "[Regex]\n",
     f"{F}:3: [Regex]: not supported: only used by 66 modules, which ovis does not support"),
    (MAIN + START + "[Main]\n", f"{F}:5: [Main]: duplicate section (first at line 1)"),
    ("Type = classic\n[Main]\n", f"{F}:1: Type: text outside any section"),
    ("hello\n", f"{F}:1: hello: text outside any section"),
    ("# only a comment\n", f"{F}:1: [Main]: missing required section"),
    ("[main]\n", f"{F}:1: @type: missing required key"),
    ("[start]\n@execute = ( x )\n", f"{F}:1: [main]: missing required section"),
    # keys
    (MAIN + "Foo = 1\n", f"{F}:3: Foo: unknown key"),
    (MAIN + "type = classic\n", f"{F}:3: type: unknown key"),
    ("[main]\n@type = classic\n@foo = 1\n", f"{F}:3: @foo: unknown key"),
    (MAIN + "Contents = ( a )\n", f"{F}:3: Contents: not supported by ovis: bundles are not supported"),
    ("[main]\n@type = classic\n@contents = ( a )\n",
     f"{F}:3: @contents: not supported by ovis: bundles are not supported"),
    (MAIN + "[Start]\nNotify = 3\n", f"{F}:4: Notify: not allowed in [Start] (only in [Main])"),
    (MAIN + "Execute = ( x )\n",
     f"{F}:3: Execute: not allowed in [Main] (only in [Start], [Stop], [Logger])"),
    ("[main]\n@type = classic\n[start]\n@destination = /x\n",
     f"{F}:4: @destination: not allowed in [start] (only in [logger])"),
    (MAIN + "Type = oneshot\n", f"{F}:3: Type: duplicate key (first set at line 2)"),
    (MAIN + "Type classic\n", f"{F}:3: Type: expected KEY = VALUE"),
    # mixing
    (MAIN + "[start]\n",
     f"{F}:3: [start]: mixes dialects: @key syntax in a file written in the 0.8 dialect (since line 1)"),
    ("[main]\n@type = classic\nDepends = ( a )\n",
     f"{F}:3: Depends: mixes dialects: 0.8 syntax in a file written in the @key dialect (since line 1)"),
    ("[Main]\n@type = classic\n",
     f"{F}:2: @type: mixes dialects: @key syntax in a file written in the 0.8 dialect (since line 1)"),
    # empty values
    ("[Main]\nType =\n", f"{F}:2: Type: empty value"),
    ("[Main]\nType = # nothing\n", f"{F}:2: Type: empty value"),
    ('[Main]\nType = classic\nDescription = ""\n', f"{F}:3: Description: empty value"),
    (MAIN + "Depends = ( )\n", f"{F}:3: Depends: empty value"),
    (MAIN + "Depends =\n", f"{F}:3: Depends: empty value"),
    (MAIN + "[Start]\nExecute =\n", f"{F}:4: Execute: expected ( ... )"),
    # bad values
    ("[Main]\nType = bundle\n", f"{F}:2: Type: type 'bundle' is not supported (use classic or oneshot)"),
    ("[main]\n@type = module\n", f"{F}:2: @type: type 'module' is not supported (use classic or oneshot)"),
    ("[Main]\nType = daemon\n", f"{F}:2: Type: unknown type 'daemon' (expected classic or oneshot)"),
    (MAIN + "Version = 0.1\n", f"{F}:3: Version: invalid version '0.1' (expected N.N.N, e.g. 0.0.1)"),
    (MAIN + "Version = 0.1.rc1\n", f"{F}:3: Version: invalid version '0.1.rc1' (expected N.N.N, e.g. 0.0.1)"),
    (MAIN + "Notify = three\n", f"{F}:3: Notify: not an unsigned integer: 'three'"),
    (MAIN + "Notify = 1\n", f"{F}:3: Notify: must be 3 or more (0, 1 and 2 are stdin, stdout and stderr)"),
    (MAIN + "TimeoutStart = -5\n", f"{F}:3: TimeoutStart: not an unsigned integer: '-5'"),
    (MAIN + "TimeoutStop = 1.5\n", f"{F}:3: TimeoutStop: not an unsigned integer: '1.5'"),
    (MAIN + "TimeoutStop = 99999999999\n", f"{F}:3: TimeoutStop: out of range 0..4294967295: 99999999999"),
    (MAIN + "MaxDeath = 4097\n", f"{F}:3: MaxDeath: out of range 0..4096: 4097"),
    ("[main]\n@type = classic\n@maxdeath = x\n", f"{F}:3: @maxdeath: not an unsigned integer: 'x'"),
    (MAIN + "DownSignal = FOO\n",
     f"{F}:3: DownSignal: unknown signal 'FOO' (expected a name like TERM or SIGHUP, or 1..64)"),
    (MAIN + "DownSignal = 65\n",
     f"{F}:3: DownSignal: unknown signal '65' (expected a name like TERM or SIGHUP, or 1..64)"),
    (MAIN + "DownSignal = 0\n",
     f"{F}:3: DownSignal: unknown signal '0' (expected a name like TERM or SIGHUP, or 1..64)"),
    (MAIN + "Depends = ( ok bad/name )\n", f"{F}:3: Depends: invalid service name 'bad/name'"),
    (MAIN + "Depends = ( ok\n   a@b@c )\n", f"{F}:4: Depends: invalid service name 'a@b@c'"),
    ("[main]\n@type = classic\n@optsdepends = ( -x )\n", f"{F}:3: @optsdepends: invalid service name '-x'"),
    (MAIN + "RequiredBy = ( .hidden )\n", f"{F}:3: RequiredBy: invalid service name '.hidden'"),
    (MAIN + "Flags = ( up )\n",
     f"{F}:3: Flags: unknown flag 'up' (expected down or earlier or essential or nosetsid)"),
    (MAIN + "Options = ( logs )\n",
     f"{F}:3: Options: unknown option 'logs' (expected log or !log or env or pipeline)"),
    (MAIN + "Options = ( log !log )\n", f"{F}:3: Options: both log and !log given"),
    (MAIN + "User = ( root b@d )\n", f"{F}:3: User: invalid user name 'b@d'"),
    (MAIN + 'Description = "open\n', f"{F}:3: Description: unterminated '\"'"),
    (MAIN + "[Start]\nBuild = fast\n", f"{F}:4: Build: unknown build 'fast' (expected auto or custom)"),
    (MAIN + "[Start]\nRunAs = a:b:c\n",
     f"{F}:4: RunAs: invalid RunAs 'a:b:c' (expected user, user:group, uid:gid, uid: or :gid)"),
    ("[main]\n@type = classic\n[start]\n@shebang = bin/sh\n",
     f"{F}:4: @shebang: not an absolute interpreter path: 'bin/sh'"),
    (MAIN + START + "[Logger]\nDestination = var/log\n",
     f"{F}:6: Destination: not an absolute path: 'var/log'"),
    (MAIN + START + "[Logger]\nMaxSize = 100\n", f"{F}:6: MaxSize: out of range 4096..268435455: 100"),
    (MAIN + START + "[Logger]\nTimestamp = utc\n",
     f"{F}:6: Timestamp: unknown timestamp 'utc' (expected tai, iso or none)"),
    (MAIN + START + "[Logger]\nBuild = custom\n", f"{F}:5: Execute: missing required key"),
    (MAIN + "[Start]\nBuild = custom\nExecute = ( echo hi )\n",
     f"{F}:5: Execute: a custom build needs a script starting with #! (e.g. #!/bin/sh)"),
    # parentheses
    (MAIN + "Depends = ( a\n b\n" + START, f"{F}:3: Depends: unterminated '(' (no matching ')')"),
    (MAIN + "Depends = ( a b\n", f"{F}:3: Depends: unterminated '(' (no matching ')')"),
    (MAIN + "[Start]\nExecute = ( foo\n  bar\n", f"{F}:4: Execute: unterminated '(' (no matching ')')"),
    (MAIN + '[Start]\nExecute = ( echo "x )\n', f"{F}:4: Execute: unterminated '(' (no matching ')')"),
    (MAIN + "[Start]\nExecute = ( x ) y\n", f"{F}:4: Execute: unexpected text after ')'"),
    (MAIN + "Depends = ( a\n ) b\n", f"{F}:4: Depends: unexpected text after ')'"),
    # required parts
    ("[Main]\nVersion = 0.0.1\n" + START, f"{F}:1: Type: missing required key"),
    ("# c\n[main]\n@version = 0.0.1\n", f"{F}:2: @type: missing required key"),
    (MAIN, f"{F}:1: [Start]: missing required section"),
    ("[main]\n@type = oneshot\n", f"{F}:1: [start]: missing required section"),
    (MAIN + "[Start]\nRunAs = root\n", f"{F}:3: Execute: missing required key"),
    (MAIN + START + "[Stop]\nRunAs = root\n", f"{F}:5: Execute: missing required key"),
    # environment
    (MAIN + START + "[Environment]\n1A=2\n", f"{F}:6: 1A: invalid variable name"),
    (MAIN + START + "[Environment]\nA-B=2\n", f"{F}:6: A-B: invalid variable name"),
    (MAIN + START + "[Environment]\nA=1\nA=2\n", f"{F}:7: A: duplicate variable (first set at line 6)"),
    (MAIN + START + "[Environment]\njunk here\n", f"{F}:6: junk here: expected KEY=VALUE"),
]


@pytest.mark.parametrize("text, expected", ERRORS, ids=[e[1].split(": ", 2)[-1][:40] for e in ERRORS])
def test_errors(text: str, expected: str) -> None:
    assert error(text) == expected


def test_error_carries_fields() -> None:
    with pytest.raises(DefinitionError) as info:
        parse(MAIN + "Notify = x\n")
    assert (info.value.path, info.value.line, info.value.key) == (Path(SRC), 3, "Notify")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def test_find_closing_paren() -> None:
    assert find_closing_paren("(a (b) c) d") == 8
    assert find_closing_paren('("))" x)') == 7
    assert find_closing_paren("(a \\) b)") == 7
    assert find_closing_paren("(# ) comment\n)") == 13
    assert find_closing_paren("(a#b) c") == 4  # '#' inside a word is not a comment
    assert find_closing_paren("(${#x})") == 6
    assert find_closing_paren("(a (b)") is None


def test_strip_comment() -> None:
    assert strip_comment('a "b # c" # d') == 'a "b # c" '
    assert strip_comment("no comment") == "no comment"


def test_normalize_signal() -> None:
    assert normalize_signal("term") == "SIGTERM"
    assert normalize_signal("SIGKILL") == "SIGKILL"
    assert normalize_signal(" 15 ") == "15"
    assert normalize_signal("SIG_DFL") is None
    assert normalize_signal("SIGFOO") is None
    assert normalize_signal("-1") is None


def test_parse_uint() -> None:
    assert parse_uint("42") == 42
    assert parse_uint("+4") is None
    assert parse_uint("٣") is None  # only ASCII digits
    assert parse_uint("5", limit=4) is None


def test_envfile(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text('# c\nA=1\n B = "two words" \nC=x=y\n')
    assert parse_envfile(path) == {"A": "1", "B": "two words", "C": "x=y"}
    env, where = parse_env_lines(path, [(3, "X=1"), (5, "Y=2")])
    assert env == {"X": "1", "Y": "2"} and where == {"X": 3, "Y": 5}
    with pytest.raises(DefinitionError, match=r"env:2: A: duplicate variable \(first set at line 1\)"):
        parse_envfile(path, "A=1\nA=2\n")
    with pytest.raises(DefinitionError, match=r"env:1: =: invalid variable name"):
        parse_envfile(path, "=1\n")


# --------------------------------------------------------------------------
# 66 fidelity: keys real files use (issue 9 point 3)
# --------------------------------------------------------------------------

V08_MIN = "[Main]\nType = classic\n"


def test_case_pattern_does_not_end_a_custom_script() -> None:
    text = ("[Main]\nType = classic\n[Start]\nBuild = custom\nExecute = (#!/bin/sh\n"
            "case \"$1\" in\n  start) exec foo ;;\n  *) exit 1 ;;\nesac\n)\n[Stop]\nExecute = ( true )\n")
    svc = parse(text)
    assert svc.start.text == "#!/bin/sh\ncase \"$1\" in\n  start) exec foo ;;\n  *) exit 1 ;;\nesac\n"
    assert svc.stop.text == "true"


@pytest.mark.parametrize("after, closes", [
    ("", True), ("\n\n[Stop]\n", True), ("\nRunAs = foo\n", True), ("\n#Build = auto\n", True),
    ("\n# a comment\n\n@build = auto\n", True), ("\n  foo ;;\n", False), ("\nesac\n", False),
])
def test_find_closing_paren_follows_66(after: str, closes: bool) -> None:
    text = "( case x in a) foo" + after
    found = find_closing_paren(text)
    assert (found == text.index(")")) is closes


def test_list_comments_as_66_writes_them() -> None:
    svc = parse(V08_MIN + "Depends = ( a #b c )\n[Start]\nExecute = ( x )\n")
    assert svc.depends == ("a", "c")
    svc = parse(V08_MIN + "Depends = (\n  # why: ( a b )\n  d # e f\n  g\n)\n[Start]\nExecute = ( x )\n")
    assert svc.depends == ("d", "g")


def test_extdepends_is_depends() -> None:
    svc = parse("[main]\n@type = classic\n@depends = ( a )\n@extdepends = ( b a )\n[start]\n@execute = ( x )\n")
    assert svc.depends == ("a", "b")
    assert svc.where("depends/b") == (SRC, 4)


@pytest.mark.parametrize("runas", ["oblive", "1000:19", ":19", "1000:", "http:http", "root:0", ":wheel"])
def test_runas_forms_kept_as_written(runas: str) -> None:
    svc = parse(V08_MIN + f"[Start]\nRunAs = {runas}\nExecute = ( x )\n")
    assert svc.start.runas == runas


@pytest.mark.parametrize("key, value, field", [
    ("StdIn", "tty:/dev/tty1", "stdin"), ("StdIn", "null", "stdin"), ("StdIn", "close", "stdin"),
    ("StdIn", "parent", "stdin"), ("StdIn", "s6log", "stdin"), ("StdOut", "file:/var/log/x", "stdout"),
    ("StdOut", "console", "stdout"), ("StdOut", "syslog", "stdout"), ("StdOut", "tty:/dev/tty2", "stdout"),
    ("StdErr", "inherit", "stderr"), ("StdErr", "file:/x/y", "stderr"), ("StdErr", "null", "stderr"),
])
def test_stdio_forms(key: str, value: str, field: str) -> None:
    svc = parse(V08_MIN + f"{key} = {value}\n[Start]\nExecute = ( x )\n")
    assert getattr(svc, field) == value


@pytest.mark.parametrize("line, message", [
    ("StdIn = inherit", "unknown redirection 'inherit'"),
    ("StdIn = file:/x", "unknown redirection 'file:/x'"),
    ("StdOut = tty:dev/tty1", "tty: needs an absolute path"),
])
def test_stdio_errors(line: str, message: str) -> None:
    assert message in error(V08_MIN + line + "\n[Start]\nExecute = ( x )\n")


def test_stdout_elsewhere_means_no_logger() -> None:
    assert parse(V08_MIN + "StdOut = console\n[Start]\nExecute = ( x )\n").logger is None
    assert parse(V08_MIN + "StdOut = s6log\n[Start]\nExecute = ( x )\n").logger is not None


def test_environment_unexported_and_escapes() -> None:
    svc = parse(V08_MIN + "[Start]\nExecute = ( x )\n[Environment]\nA=!/run/a\nB=${A}/b\n"
                'PATH=/x:${PATH}\nC=say \\"hi\\"\n')
    assert svc.env == {"A": "/run/a", "B": "${A}/b", "PATH": "/x:${PATH}", "C": 'say "hi"'}
    assert svc.env_unexported == ("A",)
    assert "no space allowed after '!'" in error(V08_MIN + "[Start]\nExecute = ( x )\n[Environment]\nA=! x\n")


def test_nul_bytes_are_refused_where_written() -> None:
    assert error(V08_MIN + "[Start]\nExecute = ( a\0b )\n") == f"{SRC}:4: Execute: contains a NUL byte"
    assert error(V08_MIN + "[Start]\nExecute = ( x )\n[Environment]\nA=x\0y\n") == \
        f"{SRC}:6: A: contains a NUL byte"


def test_huge_values_are_not_quoted_whole() -> None:
    message = error(V08_MIN + "Notify = " + "x" * 100_000 + "\n[Start]\nExecute = ( x )\n")
    assert len(message) < 400 and message.endswith("...'")
    message = error(V08_MIN + "K" * 100_000 + " = 1\n")
    assert len(message) < 400


def test_lenient_keys_warn() -> None:
    svc = parse("[main]\n@type = longrun\n@name = other\n@intree = boot\n@options = ( log pipeline )\n"
                "@flags = ( nosetsid essential )\n[start]\n@execute = ( x )\n")
    assert svc.essential
    assert [(line, key) for _, line, key, _ in svc.warnings] == [
        (2, "@type"), (3, "@name"), (4, "@intree"), (5, "@options"), (6, "@flags")]
    assert parse("[main]\n@type = classic\n@name = svc\n[start]\n@execute = ( x )\n").warnings == []


def test_all_errors_of_a_file_are_collected() -> None:
    with pytest.raises(DefinitionError) as info:
        parse(V08_MIN + "Notify = 1\nMaxDeath = x\nFoo = 1\n[Start]\nExecute = ( x )\n")
    found = [info.value, *info.value.more]
    assert [(e.line, e.key) for e in found] == [(3, "Notify"), (4, "MaxDeath"), (5, "Foo")]


def test_copyfrom_next_to_the_frontend(tmp_path: Path) -> None:
    home = tmp_path / "dbus"
    (home / "data").mkdir(parents=True)
    (home / "data" / "a.conf").write_text("x\n")
    (home / "dbus").write_text(V08_MIN + "CopyFrom = ( data )\n[Start]\nExecute = ( x )\n")
    svc = parse_frontend(home / "dbus", "dbus")
    assert svc.extra_files == {"data": str(home / "data")}
    (home / "data" / "loop").symlink_to(home / "data")
    with pytest.raises(DefinitionError, match="data/loop:1: data/loop: cannot be copied: symbolic link loop"):
        parse_frontend(home / "dbus", "dbus")
    (home / "dbus").write_text(V08_MIN + "CopyFrom = ( nothere )\n[Start]\nExecute = ( x )\n")
    with pytest.raises(DefinitionError, match="CopyFrom: no such file or directory"):
        parse_frontend(home / "dbus", "dbus")
    (home / "dbus").write_text(V08_MIN + "CopyFrom = ( ../etc )\n[Start]\nExecute = ( x )\n")
    with pytest.raises(DefinitionError, match="'..' not allowed"):
        parse_frontend(home / "dbus", "dbus")


def test_logger_depends_of_old_66_is_a_warning() -> None:
    svc = parse("[main]\n@type = classic\n[start]\n@execute = ( x )\n[logger]\n@depends = ( a )\n")
    assert svc.depends == () and [key for _, _, key, _ in svc.warnings] == ["@depends"]


@pytest.mark.parametrize("lines, names", [
    ("( #a b )", ("b",)), ("(\n  #fooB fooC )", ("fooC",)), ("( a # b c\n d )", ("a", "d")),
    ("(\n  # a note\n  x\n)", ("x",)),
])
def test_commented_words_in_lists(lines: str, names: tuple[str, ...]) -> None:
    assert parse(V08_MIN + f"Depends = {lines}\n[Start]\nExecute = ( x )\n").depends == names


def test_huge_dependency_lists_parse_in_linear_time() -> None:
    """100,000 names (issue 11: list membership made this take over a minute)."""
    import time

    names = " ".join(f"n{i}" for i in range(100_000))
    began = time.monotonic()
    svc = parse(V08_MIN + f"Depends = ( {names} n5 )\n[Start]\nExecute = ( x )\n"
                "[Logger]\n")
    assert time.monotonic() - began < 20  # linear: well under 1 s on an idle machine
    assert len(svc.depends) == 100_000 and svc.depends[-1] == "n99999"


#: (written in [Main], effective StdIn, StdOut, StdErr), after 66's standard IO documentation.
STDIO_RULES = [
    ("", (None, None, None)),
    ("StdIn = s6log\n", ("s6log", "s6log", "inherit")),
    ("StdIn = s6log\nStdOut = console\nStdErr = null\n", ("s6log", "s6log", "inherit")),
    ("StdOut = s6log\n", ("s6log", "s6log", "inherit")),
    ("StdIn = tty:/dev/tty1\n", ("tty:/dev/tty1", "tty:/dev/tty1", "inherit")),
    ("StdIn = tty:/dev/tty1\nStdOut = syslog\n", ("tty:/dev/tty1", "tty:/dev/tty1", "inherit")),
    ("StdIn = null\nStdOut = syslog\n", ("null", "syslog", "syslog")),
    ("StdIn = null\n", ("null", "inherit", "inherit")),
    ("StdIn = close\n", ("close", "parent", "inherit")),
    ("StdOut = syslog\n", ("parent", "syslog", "syslog")),
    ("StdOut = tty:/dev/tty1\n", ("parent", "tty:/dev/tty1", "inherit")),
    ("StdOut = tty:/dev/tty2\nStdErr = tty:/dev/tty2\n", ("parent", "tty:/dev/tty2", "inherit")),
    ("StdOut = tty:/dev/tty1\nStdErr = file:/var/log/c.log\n", ("parent", "tty:/dev/tty1", "file:/var/log/c.log")),
    ("Options = ( !log )\nStdOut = s6log\nStdErr = file:/var/log/c.log\n",
     ("parent", "parent", "file:/var/log/c.log")),
    ("Options = ( !log )\nStdErr = s6log\n", ("parent", "parent", "parent")),
]


@pytest.mark.parametrize("written, effective", STDIO_RULES, ids=[w.replace("\n", ";") for w, _ in STDIO_RULES])
def test_stdio_redefinitions_follow_66(written: str, effective: tuple) -> None:
    svc = parse(V08_MIN + written + "[Start]\nExecute = ( x )\n")
    assert (svc.stdin, svc.stdout, svc.stderr) == effective
    assert (svc.logger is not None) == ("!log" not in written and effective[1] in (None, "s6log"))

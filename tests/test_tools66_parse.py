"""The 66-tools commands' parsing, without running anything.

The expected words are written out by hand from 66-tools' documentation
(execl-cmdline.md, execl-toc.md, 66's execl-envfile.md) and from what the
real execlineb puts into argv (checked against it in test_tools66_run.py).
"""

from __future__ import annotations

import os
import pwd

import pytest

from ovis.tools66 import cmdline, envfile, subuidgid, toc
from ovis.tools66.argv import read_block, scan_options, substitute, substitute_word
from ovis.tools66.errors import EXIT_SYS, EXIT_USAGE, ToolError, UsageError


# Options and blocks ------------------------------------------------------------

def test_scan_options_attached_separate_clustered_and_double_dash() -> None:
    opts, i = scan_options(["-lv4", "-v", "2", "--", "-x"], "hl", "v")
    assert opts == [("l", ""), ("v", "4"), ("v", "2")]
    assert i == 4
    opts, i = scan_options(["--split", "--owner=bob", "prog"], "s", "o", {"split": "s", "owner": "o"})
    assert opts == [("s", ""), ("o", "bob")] and i == 2


def test_scan_options_refuses_unknown_and_missing_argument() -> None:
    with pytest.raises(UsageError, match="-q"):
        scan_options(["-q"], "h", "v")
    with pytest.raises(UsageError, match="-v needs"):
        scan_options(["-v"], "h", "v")


def test_block_as_execlineb_writes_it() -> None:
    # execlineb -c 'x { a "b c" "" { d } } y' gives these words
    argv = ["-s", " a", " b c", " ", "  d", " ", "", "y"]
    words, after = read_block(argv, 1)
    assert words == ["a", "b c", "", " d", ""]
    assert argv[after:] == ["y"]


def test_block_from_a_shell_runs_to_the_matching_brace() -> None:
    words, after = read_block(["{", "a", "{", "b", "}", "}", "z"], 0)
    assert words == ["a", "{", "b", "}"] and after == 6


def test_unterminated_block_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unterminated"):
        read_block([" a", " b"], 0)


def test_strict_mode_refuses_unquoted_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECLINE_STRICT", "2")
    with pytest.raises(UsageError, match="unquoted"):
        read_block([" a", "b", ""], 0)


# Substitution (execline's rules) --------------------------------------------------

@pytest.mark.parametrize("word, expected", [
    ("${foo}", "X"), ("$foo", "X"), ("${foo}bar", "Xbar"), ("$foobar", "$foobar"),
    ("a$foo-b", "a$foo-b"), ("$foo$foo", "XX"), ("a${foo}b", "aXb"),
    ("\\${foo}", "${foo}"), ("\\\\${foo}", "\\X"), ("\\${bar}", "\\${bar}"),
    ("${foo", "${foo"), ("$", "$"), (" ${foo}", " X"),
])
def test_substitution_follows_execline(word: str, expected: str) -> None:
    assert substitute_word(word, {"foo": "X"}) == expected


def test_substitution_keeps_one_word_per_word() -> None:
    assert substitute(["a", "${v}", "${e}"], {"v": "x y", "e": ""}) == ["a", "x y", ""]


# execl-cmdline --------------------------------------------------------------------

def test_cmdline_drops_empty_words_and_squeezes_blanks() -> None:
    # 66-tools' example: execl-cmdline { /usr/bin/ntpd -d "" -S }
    req = cmdline.parse([" /usr/bin/ntpd", " -d", " ", " -S", " ", "  a   b ", ""])
    assert req.command == ["/usr/bin/ntpd", "-d", "-S", "a b"]


def test_cmdline_split_and_quotes() -> None:
    # execl-cmdline -s { /usr/bin/ntpd "-d -S" }
    assert cmdline.parse(["-s", " /usr/bin/ntpd", " -d -S", ""]).command == ["/usr/bin/ntpd", "-d", "-S"]
    # nginx's cmd_args=-g \"daemon off;\" after execl-envfile
    req = cmdline.parse(["--split", " nginx", ' -g "daemon off;"', ""])
    assert req.command == ["nginx", "-g", "daemon off;"]
    assert cmdline.split_word('a"b c"d ""') == ["a", "b c", "d"]


def test_cmdline_errors() -> None:
    with pytest.raises(ToolError, match="odd number") as e:
        cmdline.parse(["-s", ' a "b', ""])
    assert e.value.status == EXIT_SYS
    with pytest.raises(UsageError, match="empty command"):
        cmdline.parse([" ", ""])
    with pytest.raises(UsageError, match="missing block"):
        cmdline.parse(["-s"])
    with pytest.raises(UsageError):
        cmdline.parse(["-x", " a", ""])
    assert cmdline.parse(["-h"]).help


def test_cmdline_reports_words_after_the_block() -> None:
    assert cmdline.parse([" a", "", "b"]).ignored == ["b"]


# execl-toc ----------------------------------------------------------------------

def test_toc_three_parts() -> None:
    req = toc.parse(["-v", "3", "-D", "-X", "-d", "/run/x", "-m", "0700", "-M", "750", "-u", "0", "-g", "0"])
    assert (req.verbosity, req.no_create, req.no_prog, req.test, req.element) == (3, True, True, "d", "/run/x")
    assert (req.mode, req.parent_mode, req.uid, req.gid, req.prog) == (0o700, 0o750, 0, 0, [])


def test_toc_create_options_end_at_prog() -> None:
    req = toc.parse(["-S", "/run/bus", "-s", "-B", "-b", "5", "-D", "dbus-daemon", "-m", "x"])
    assert (req.dgram, req.blocking, req.backlog, req.no_rebind) == (True, True, 5, True)
    assert req.prog == ["dbus-daemon", "-m", "x"]


def test_toc_test_only_options_take_no_create_options() -> None:
    req = toc.parse(["-f", "/etc/x", "-m", "0700"])
    assert req.test == "f" and req.prog == ["-m", "0700"]


def test_toc_n_and_t_are_main_options_before_another_option_else_tests() -> None:
    req = toc.parse(["-n", "-d", "/x", "prog"])
    assert req.negate and req.test == "d"
    req = toc.parse(["-n", "", "prog"])
    assert not req.negate and req.test == "n" and req.element == "" and req.prog == ["prog"]
    req = toc.parse(["-t", "-n", "-t", "0", "prog"])
    assert req.fail_ok and req.negate and req.test == "t" and req.element == "0"


def test_toc_uid_and_gid_by_name() -> None:
    nobody = pwd.getpwnam("nobody")
    req = toc.parse(["-d", "/x", "-u", "nobody", "-g", "nobody", "p"])
    assert (req.uid, req.gid) == (nobody.pw_uid, nobody.pw_gid)


@pytest.mark.parametrize("argv, match", [
    (["-d", "/x", "-u", "no-such-user-66", "p"], "unknown user: no-such-user-66"),
    (["-d", "/x", "-g", "no-such-group-66", "p"], "unknown group: no-such-group-66"),
])
def test_toc_unknown_user_or_group_is_a_system_error(argv: list[str], match: str) -> None:
    with pytest.raises(ToolError, match=match) as e:
        toc.parse(argv)
    assert e.value.status == EXIT_SYS


@pytest.mark.parametrize("argv, match", [
    ([], "missing test option"),
    (["-q", "/x", "p"], "expected a test option"),
    (["-d", "/x"], "missing argument prog"),
    (["-d"], "needs an element"),
    (["-d", "/x", "-m", "9z", "p"], "octal"),
    (["-d", "/x", "-Q", "p"], "unknown create option"),
    (["-m", "/mnt", "-t", "tmpfs", "p"], "-t type and -d device"),
    (["-L", "/l", "p"], "-t target"),
])
def test_toc_usage_errors(argv: list[str], match: str) -> None:
    with pytest.raises(UsageError, match=match) as e:
        toc.parse(argv)
    assert e.value.status == EXIT_USAGE


def test_toc_only_tests(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    d = os.fspath(tmp_path)
    f = os.path.join(d, "f")
    with open(f, "w") as fh:
        fh.write("x")
    os.chmod(f, 0o4750)
    monkeypatch.setenv("TOC_SET", "1")
    monkeypatch.delenv("TOC_UNSET", raising=False)

    def ok(*argv: str) -> bool:
        return toc.run(toc.parse([*argv, "prog"])).ok

    assert ok("-e", f) and not ok("-e", f + ".no")
    assert ok("-f", f) and not ok("-f", d)
    assert ok("-s", f) and ok("-u", f) and not ok("-g", f) and not ok("-k", f)
    assert ok("-x", f) and ok("-r", f) and ok("-w", f)
    assert ok("-O", f) and ok("-c", "/dev/null") and not ok("-b", "/dev/null")
    assert ok("-V", "TOC_SET") and not ok("-V", "TOC_UNSET")
    assert ok("-z", "") and not ok("-z", "a")
    assert ok("-E", os.path.join(d)) is False
    os.mkdir(os.path.join(d, "empty"))
    assert ok("-E", os.path.join(d, "empty"))


# execl-envfile --------------------------------------------------------------------

def test_envfile_lines() -> None:
    text = ("# comment\n\n  key = value  \nbang=!hidden\nq=\"  two\\tsp \\\"x\\\"  \"\n"
            "cmd_args=-g \\\"daemon off;\\\"\nempty=\nhex=\"\\x41\\101\"\n")
    assert envfile.parse_text(text, "f") == [
        ("key", "value", False), ("bang", "hidden", True), ("q", '  two\tsp "x"  ', False),
        ("cmd_args", '-g "daemon off;"', False), ("empty", "", False), ("hex", "AA", False),
    ]


def test_envfile_line_without_equals_names_file_and_line() -> None:
    with pytest.raises(envfile.EnvFileError, match="conf:2: expected key=value"):
        envfile.parse_text("a=1\nnot an assignment\n", "conf")


def test_envfile_expansion_is_order_independent_and_falls_back_to_the_environment() -> None:
    raw = {"PATH": "/usr/local/bin:${PATH}", "socket": "${socket_dir}/${socket_name}",
           "socket_name": "sname", "socket_dir": "dname", "home": "${HOME}/x",
           "lost": "${NOWHERE}", "plain": "$socket_dir", "a": "${b}", "b": "${a}"}
    got = envfile.expand(raw, {"PATH": "/bin", "HOME": "/root"})
    assert got["PATH"] == "/usr/local/bin:/bin"
    assert got["socket"] == "dname/sname"
    assert got["home"] == "/root/x"
    assert got["lost"] == "${NOWHERE}"
    assert got["plain"] == "$socket_dir"
    assert (got["a"], got["b"]) == ("${a}", "${a}")  # a cycle stays literal


def test_envfile_self_reference_without_environment_stays_literal() -> None:
    assert envfile.expand({"PATH": "/x:${PATH}"}, {})["PATH"] == "/x:${PATH}"


def test_envfile_directory_later_file_wins_and_unexport(tmp_path: object) -> None:
    d = os.fspath(tmp_path)
    for name, text in (("10-base", "A=1\nB=!secret\nC=c\n"), ("20-over", "A=2\nC=!c2\n"),
                       (".hidden", "A=hidden\n")):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    os.mkdir(os.path.join(d, "subdir"))
    plan = envfile.plan(d, ["prog", "${A}", "${B}", "$C"], {"KEEP": "k", "B": "old"})
    assert plan.argv == ["prog", "2", "secret", "c2"]
    env = plan.environment({"KEEP": "k", "B": "old"})
    assert env == {"KEEP": "k", "A": "2"}


def test_envfile_missing_source_and_empty_directory(tmp_path: object) -> None:
    d = os.fspath(tmp_path)
    with pytest.raises(envfile.EnvFileError, match="No such file"):
        envfile.plan(os.path.join(d, "none"), ["p"], {})
    with pytest.raises(envfile.EnvFileError, match="no regular file"):
        envfile.plan(d, ["p"], {})


# execl-subuidgid -------------------------------------------------------------------

def test_subuidgid_substitutes_uid_and_gid() -> None:
    me = pwd.getpwuid(os.getuid())
    assert subuidgid.command(None, ["chown", "$UID:${GID}", "/x", "${HOME}"]) == [
        "chown", f"{me.pw_uid}:{me.pw_gid}", "/x", "${HOME}"]
    nobody = pwd.getpwnam("nobody")
    assert subuidgid.command("nobody", ["${UID}"]) == [str(nobody.pw_uid)]
    assert subuidgid.parse(["-o", "root", "p"]) == (False, "root", ["p"])


def test_subuidgid_unknown_owner() -> None:
    with pytest.raises(ToolError, match="unknown user: no-such-user-66"):
        subuidgid.command("no-such-user-66", ["p"])


def test_identifier_mode_ends_keys_like_a_shell() -> None:
    assert substitute_word("$UID:$GID", {"UID": "0", "GID": "5"}) == "$UID:5"  # execline
    assert substitute_word("$UID:$GID", {"UID": "0", "GID": "5"}, identifier=True) == "0:5"


# Forms found in a distribution's collection of 66 frontends (void-66-services) ---------

def test_toc_forms_of_packaged_frontends() -> None:
    req = toc.parse(["-d", "/var/run/chrony", "-m0750", "-u", "0", "-g", "0", "chronyd"])
    assert (req.mode, req.uid, req.gid, req.prog) == (0o750, 0, 0, ["chronyd"])
    req = toc.parse(["-d", "/run/dbus", "-m", "755", "-g", "22", "-u", "22", "dbus-daemon"])
    assert (req.mode, req.uid, req.gid) == (0o755, 22, 22)
    req = toc.parse(["-d", "/run/nsd", "-m", "0755", "-o", "nsd", "-g", "0", "nsd"])
    assert req.mount_opts == "nsd" and req.prog == ["nsd"]  # -o has no effect on a directory
    req = toc.parse(["-X", "-S", "/run/docker.sock", "-m", "0600"])
    assert req.no_prog and req.test == "S" and req.prog == []
    req = toc.parse(["-X", "-m", "/sys/fs/cgroup/systemd", "-t", "cgroup", "-o", "none,name=systemd",
                     "-d", "cgroup"])
    assert (req.test, req.type, req.mount_opts, req.device) == ("m", "cgroup", "none,name=systemd", "cgroup")
    req = toc.parse(["-x", "/usr/bin/elogind-inhibit", "dbus-send", "--system"])
    assert req.test == "x" and req.prog == ["dbus-send", "--system"]


def test_cmdline_with_words_before_the_block() -> None:
    # execl-cmdline -s cgrulesengd { ${cmd_args} }: execline gives a bare word, then the block
    assert cmdline.parse(["-s", "cgrulesengd", " -n -g cgred", ""]).command == ["cgrulesengd", "-n", "-g", "cgred"]

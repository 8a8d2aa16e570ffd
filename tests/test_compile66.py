"""66 semantics of the compiled scripts, run for real.

Each test writes a small frontend the way 66's documentation writes them,
compiles it into a temporary LIVE with the real compiler, and runs the
generated ``run``/``finish``/``start`` script with the real ``execlineb``.
The Execute text calls a dumper that records what the daemon would get:
its argv, environment, uid/gid/groups and where its fds point.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from ovis.errors import DefinitionError
from ovis.paths import Paths
from ovis.service import execline
from ovis.service.compiler import Compiler, read_metadata, validate
from ovis.service.formats.sixtysix import parse_frontend
from ovis.service.model import Kind, Program, ProgramKind, Service
from ovis.service.repository import Repository

pytestmark = pytest.mark.skipif(shutil.which("execlineb") is None, reason="execline is not installed")

DUMPER = """#!/usr/bin/python3
import json, os, sys
out = sys.argv[1]
fds = {}
for fd in (0, 1, 2):
    try:
        fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        fds[fd] = None
data = {"argv": sys.argv[2:], "env": dict(os.environ), "uid": os.getuid(), "gid": os.getgid(),
        "groups": sorted(os.getgroups()), "fds": fds}
with open(out + ".tmp", "w") as f:
    json.dump(data, f)
os.rename(out + ".tmp", out)
"""

HEAD = """\
[Main]
Type = {kind}
Version = 0.0.1
Description = "compile test"
User = ( root )
{main}
[Start]
{start}
"""


class Box:
    """A world-traversable temp dir (RunAs tests run the dumper as nobody)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ovis-c66-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.out = self.root / "out"
        self.out.mkdir()
        os.chmod(self.out, 0o777)
        self.dump = self.root / "dump"
        self.dump.write_text(DUMPER)
        self.dump.chmod(0o755)
        self.services = self.root / "services"
        self.services.mkdir()
        self.paths = Paths(skel=self.root / "skel", services=(self.services,), trees=self.root / "trees",
                           live=self.root / "live", logdir=self.root / "log")

    def frontend(self, name: str, text: str) -> Path:
        p = self.services / name
        p.write_text(textwrap.dedent(text))
        return p

    def service(self, name: str, *, start: str, main: str = "", rest: str = "",
                kind: str = "classic") -> Service:
        text = HEAD.format(kind=kind, main=main, start=start) + rest
        self.frontend(name, text)
        return Repository((self.services,)).load(name)

    def compile(self, svc: Service) -> Path:
        Compiler(self.paths).compile(svc)
        return self.paths.servicedir(svc.name)

    def run(self, svc: Service, script: str = "run", args: tuple[str, ...] = (),
            env: dict[str, str] | None = None, tag: str = "o") -> dict[str, Any]:
        """Run one compiled script from its servicedir; the dumper's record."""
        sd = self.compile(svc)
        out = self.out / tag
        if out.exists():
            out.unlink()
        base = {"PATH": f"{self.root / 'bin'}:/usr/bin:/bin"}
        proc = subprocess.run([str(sd / script), *args], cwd=sd, env=base | (env or {}),
                              capture_output=True, text=True, timeout=60)
        assert out.exists(), f"{script} ran nothing (exit {proc.returncode}): {proc.stderr}"
        return json.loads(out.read_text())

    def call(self, words: str, tag: str = "o") -> str:
        """Execute text calling the dumper with *words*."""
        return f"Execute = ( {self.dump} {self.out / tag} {words} )"


@pytest.fixture
def box() -> Iterator[Box]:
    b = Box()
    try:
        yield b
    finally:
        shutil.rmtree(b.root, ignore_errors=True)


# -- [Environment] substitution ---------------------------------------------------


def test_variables_substituted_in_any_order_each_one_word(box: Box) -> None:
    svc = box.service("web", start=box.call("-f ${conf_file} ${args} $socket"), rest="""
[Environment]
conf_file=${conf_dir}/web.conf
args=-a "b c"  d
conf_dir=/etc/web
socket=/run/web.sock
""")
    got = box.run(svc)
    # ${x} and $x both substituted (execline's substitution, which 66's
    # execl-envfile uses); a value with spaces or quotes stays one word.
    assert got["argv"] == ["-f", "/etc/web/web.conf", '-a "b c"  d', "/run/web.sock"]
    assert got["env"]["conf_file"] == "/etc/web/web.conf"
    assert got["env"]["conf_dir"] == "/etc/web"


def test_dollar_without_braces_inside_a_value_is_kept(box: Box) -> None:
    svc = box.service("lit", start=box.call("${pattern}"), rest="""
[Environment]
dir=/srv
pattern=$dir/*.log
""")
    got = box.run(svc)
    assert got["argv"] == ["$dir/*.log"]
    assert got["env"]["pattern"] == "$dir/*.log"


def test_escaped_quotes_in_a_value(box: Box) -> None:
    svc = box.service("nginxish", start=box.call("${cmd_args}"), rest="""
[Environment]
cmd_args=-g \\"daemon off;\\"
""")
    got = box.run(svc)
    assert got["argv"] == ['-g "daemon off;"']


def test_bang_value_substituted_but_not_exported(box: Box) -> None:
    svc = box.service("sec", start=box.call("--password ${secret} ${user}"), rest="""
[Environment]
secret=!hunter2
user=!alice
plain=yes
""")
    # Even a variable of that name inherited from s6-supervise is gone.
    got = box.run(svc, env={"secret": "inherited"})
    assert got["argv"] == ["--password", "hunter2", "alice"]
    assert "secret" not in got["env"] and "user" not in got["env"]
    assert got["env"]["plain"] == "yes"
    assert svc.env_unexported == ("secret", "user")


def test_path_extends_the_inherited_path(box: Box) -> None:
    svc = box.service("pathy", start=box.call("${PATH} ${other}"), rest="""
[Environment]
PATH=/opt/pathy/bin:${PATH}
other=${NOT_SET_ANYWHERE}/x
""")
    got = box.run(svc, env={"PATH": f"{box.root / 'bin'}:/usr/local/bin:/usr/bin:/bin"})
    path = got["env"]["PATH"]
    assert path.startswith("/opt/pathy/bin:") and path.endswith(":/usr/local/bin:/usr/bin:/bin")
    assert got["argv"][0] == path
    # 66 leaves a reference to a variable that exists nowhere as written.
    assert got["argv"][1] == "${NOT_SET_ANYWHERE}/x"


def test_variables_only_from_the_section_reach_execute(box: Box) -> None:
    svc = box.service("scope", start=box.call("${HOME} ${a}"), rest="""
[Environment]
a=1
""")
    got = box.run(svc, env={"HOME": "/root"})
    assert got["argv"] == ["${HOME}", "1"]


def test_positional_parameters_never_reach_values(box: Box) -> None:
    """Issue 11: a finish script must not turn a value's ${1} into the exit code."""
    svc = box.service("fin", start="Execute = ( sleep 100 )",
                      rest=f"""
[Stop]
Execute = ( {box.dump} {box.out / 'f'} ${{1}} ${{2}} ${{v}} $@ )

[Environment]
v=${{1}}-$2
""")
    got = box.run(svc, script="finish", args=("256", "15"), tag="f")
    assert got["argv"] == ["256", "15", "${1}-$2", "256", "15"]
    assert got["env"]["v"] == "${1}-$2"
    assert "1" not in got["env"] and "#" not in got["env"]


def test_custom_build_stop_gets_its_arguments_and_the_variables(box: Box) -> None:
    svc = box.service("cust", start="Execute = ( sleep 100 )", rest=f"""
[Stop]
Build = custom
Execute = (#!/bin/sh
exec {box.dump} {box.out / 'c'} "$@" "$v" "$s"
)

[Environment]
v=${{1}}
s=!kept-for-custom
""")
    got = box.run(svc, script="finish", args=("0", "15"), tag="c")
    # Nothing is substituted into a custom script; 66's `!` has no effect there.
    assert got["argv"] == ["0", "15", "${1}", "kept-for-custom"]


def test_a_plain_custom_script_is_the_run_script_itself(box: Box) -> None:
    """Nothing to set up (no variables, RunAs, redirection, execline command by name):
    s6 runs the user's script directly, no execlineb exec in front of it, and
    the daemon gets the same argv and environment as through the wrapper."""
    svc = box.service("plain", main="Options = ( !log )", start=f"""Build = custom
Execute = (#!/bin/sh
cd /
exec {box.dump} {box.out / 'o'} "$@" one
)""", rest=f"""
[Stop]
Build = custom
Execute = (#!/bin/sh
exec {box.dump} {box.out / 'f'} "$@"
)
""")
    sd = box.compile(svc)
    run = (sd / "run").read_text()
    assert run.startswith("#!/bin/sh\n") and "execlineb" not in run
    assert not (sd / "run.user").exists()
    assert stat.S_IMODE((sd / "run").stat().st_mode) == 0o755
    got = box.run(svc)
    assert got["argv"] == ["one"]
    assert got["env"]["PATH"] == f"{box.root / 'bin'}:/usr/bin:/bin"  # as s6 gave it
    assert box.run(svc, script="finish.user", args=("0", "15"), tag="f")["argv"] == ["0", "15"]
    # with a logger, stderr goes to it (fdmove -c 2 1 in front): the wrapper stays
    logged = box.service("logged", start=f"""Build = custom
Execute = (#!/bin/sh
exec {box.dump} {box.out / 'o'} logged
)""")
    sd = box.compile(logged)
    assert (sd / "run.user").exists()
    got = box.run(logged)
    assert got["argv"] == ["logged"] and got["fds"]["2"] == got["fds"]["1"]
    assert got["env"]["PATH"] == f"{box.root / 'bin'}:/usr/bin:/bin"  # `exec` is the shell's


def test_a_custom_script_calling_execline_by_name_keeps_the_wrapper(box: Box) -> None:
    """``fdmove`` is found only on the PATH Debian's execlineb wrapper gives: the
    wrapper stays (and so it does for variables)."""
    svc = box.service("named", main="Options = ( !log )", start=f"""Build = custom
Execute = (#!/bin/sh
exec fdmove -c 2 1 {box.dump} {box.out / 'o'} named
)""")
    sd = box.compile(svc)
    if execline.interpreter().bindir is not None:
        assert (sd / "run.user").exists() and "execlineb" in (sd / "run").read_text()
    assert box.run(svc)["argv"] == ["named"]
    svc = box.service("withenv", main="Options = ( !log )", start=f"""Build = custom
Execute = (#!/bin/sh
exec {box.dump} {box.out / 'o'} "$v"
)""", rest="""
[Environment]
v=set
""")
    sd = box.compile(svc)
    assert (sd / "run.user").exists()
    got = box.run(svc)
    assert got["argv"] == ["set"] and got["env"]["v"] == "set"


def test_a_oneshot_gets_the_same_semantics(box: Box) -> None:
    svc = box.service("once", kind="oneshot", start=box.call("${a} ${b}"), rest="""
[Environment]
b=!${a}/b
a=/x
""")
    assert svc.kind is Kind.ONESHOT
    got = box.run(svc, script="start")
    assert got["argv"] == ["/x", "/x/b"]
    assert "b" not in got["env"]


def test_no_environment_means_no_extra_commands(box: Box) -> None:
    svc = box.service("bare", start=box.call("a"))
    text = (box.compile(svc) / "run").read_text()
    assert "importas" not in text and "export" not in text
    assert box.run(svc)["argv"] == ["a"]


@pytest.mark.parametrize("rest, key, message", [
    ("[Environment]\na=x\x00y\n", "a", "NUL byte"),
    ("[Environment]\na=${b}\nb=${c}\nc=${a}\n", "a", "cycle: a -> b -> c -> a"),
])
def test_bad_environment_is_one_line_error(box: Box, rest: str, key: str, message: str) -> None:
    with pytest.raises(DefinitionError) as e:
        box.service("bad", start="Execute = ( true )", rest=rest)
    text = str(e.value)
    assert text.startswith(f"{box.services / 'bad'}:") and f": {key}: " in text and message in text
    assert "\n" not in text


def test_nul_in_execute_is_refused(box: Box) -> None:
    svc = Service(name="nul", kind=Kind.LONGRUN, source=box.services / "nul",
                  start=Program(ProgramKind.EXECLINE, text="echo a\x00b"))
    with pytest.raises(DefinitionError, match="Execute holds a NUL byte"):
        validate(svc)


# -- Secrets ------------------------------------------------------------------------


def _nobody_can_read(path: Path) -> bool:
    r = subprocess.run(["s6-setuidgid", "nobody", "cat", str(path)], capture_output=True, timeout=30)
    return r.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to nobody")
def test_values_are_not_readable_by_other_users(box: Box) -> None:
    svc = box.service("db", start=box.call("${password}"),
                      rest=f"""
[Stop]
Execute = ( {box.dump} {box.out / 's'} ${{password}} )

[Environment]
password=!s3cr3t-value
""")
    sd = box.compile(svc)
    # The value sits in a private env file; the scripts that read it are private too.
    secret = sd / "ovis-env" / "password"
    assert secret.read_text() == "s3cr3t-value"
    for path in (secret, sd / "run", sd / "finish.user"):
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) in (0o600, 0o700) and st.st_uid == 0, path
        assert not _nobody_can_read(path), path
    # Files without values stay readable (s6 tools, status): only the values are private.
    assert _nobody_can_read(sd / "finish")
    readable = [p for p in sd.rglob("*") if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o004]
    assert readable and not any(b"s3cr3t-value" in p.read_bytes() for p in readable)
    assert box.run(svc)["argv"] == ["s3cr3t-value"]


def test_a_path_without_the_tools_still_runs(box: Box) -> None:
    svc = box.service("ownpath", start=box.call("${PATH} ${a}"), rest="""
[Environment]
PATH=/nonexistent/bin
a=1
""")
    got = box.run(svc)
    assert got["argv"] == ["/nonexistent/bin", "1"] and got["env"]["PATH"] == "/nonexistent/bin"


def test_a_dropped_variable_does_not_linger(box: Box) -> None:
    svc = box.service("edit", start=box.call("x"), rest="[Environment]\nold=1\nkept=2\n")
    assert box.run(svc)["env"]["old"] == "1"
    svc = box.service("edit", start=box.call("x"), rest="[Environment]\nkept=3\nempty=\n")
    got = box.run(svc)
    assert "old" not in got["env"] and got["env"]["kept"] == "3" and got["env"]["empty"] == ""


# -- RunAs ----------------------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="RunAs only applies as root")


def _ids(name: str) -> tuple[int, int]:
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


@needs_root
@pytest.mark.parametrize("spec", ["nobody", "nobody:users", "65534:100", ":100", "65534:",
                                  ":users", "65534:users", "nobody:100"])
def test_runas_forms_all_run(box: Box, spec: str) -> None:
    svc = box.service("who", start=f"RunAs = {spec}\n" + box.call("x"))
    got = box.run(svc)
    user, _, group = spec.partition(":")
    uid = (pwd.getpwnam(user).pw_uid if not user.isdigit() else int(user)) if user else os.geteuid()
    if group:
        gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    elif ":" in spec:
        gid = os.getegid()
    else:
        gid = _ids(user)[1]
    assert (got["uid"], got["gid"]) == (uid, gid)
    assert gid in got["groups"]
    if user.isdigit() or not user:  # numeric forms: no supplementary groups of root's left
        assert got["groups"] == [gid]


@pytest.mark.parametrize("spec, message", [
    ("no_such_user_x", "unknown user 'no_such_user_x'"),
    ("nobody:no_such_group_x", "unknown group 'no_such_group_x'"),
])
def test_unknown_runas_names_are_one_line_errors(box: Box, spec: str, message: str) -> None:
    box.frontend("svc", HEAD.format(kind="classic", main="", start=f"RunAs = {spec}\nExecute = ( true )"))
    with pytest.raises(DefinitionError) as e:
        Repository((box.services,)).load("svc")
    assert str(e.value) == f"{box.services / 'svc'}:8: RunAs: {message}"


@needs_root
def test_logger_runas_by_name(box: Box) -> None:
    svc = box.service("logged", start="Execute = ( true )", rest="""
[Logger]
RunAs = nobody:users
""")
    sd = box.compile(svc)
    uid, _ = _ids("nobody")
    users = grp.getgrnam("users").gr_gid
    assert f"s6-applyuidgid -u {uid} -g {users} " in (sd / "log" / "run").read_text()
    st = os.lstat(box.paths.logdir_of("logged"))
    assert (st.st_uid, st.st_gid) == (uid, users)


# -- StdIn / StdOut / StdErr --------------------------------------------------------------


def test_stdout_file_appends_and_means_no_logger(box: Box) -> None:
    log = box.root / "var" / "app" / "out.log"
    svc = box.service("filed", main=f"StdOut = file:{log}\n",
                      start=f"Execute = ( foreground {{ echo line }} {box.dump} {box.out / 'o'} )")
    first = box.run(svc)
    box.run(svc)
    assert log.read_text() == "line\nline\n"
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o755
    assert first["fds"]["1"] == str(log) and first["fds"]["2"] == str(log)  # StdErr inherit
    sd = box.paths.servicedir("filed")
    assert not (sd / "log").exists()
    assert read_metadata(sd)["logged"] is False


@pytest.mark.parametrize("main, fds", [
    ("StdIn = null\nStdOut = null\nStdErr = null\n", {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}),
    ("StdOut = null\nStdErr = close\n", {"1": "/dev/null", "2": None}),
    ("StdIn = close\nStdOut = close\n", {"0": None, "1": None, "2": None}),
    ("StdIn = tty:/dev/null\n", {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}),
    ("StdOut = file:/dev/null\nStdErr = inherit\n", {"1": "/dev/null", "2": "/dev/null"}),
    # 66: an unset StdOut after StdIn null is "inherit", a copy of stdin.
    ("StdIn = null\n", {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}),
])
def test_stdio_forms(box: Box, main: str, fds: dict[str, str | None]) -> None:
    svc = box.service("io", main=main, start=box.call("x"))
    got = box.run(svc)
    for fd, target in fds.items():
        assert got["fds"][fd] == target, (fd, got["fds"])


def test_stderr_alone_to_a_file_keeps_stdout_on_the_logger(box: Box) -> None:
    err = box.root / "err.log"
    svc = box.service("half", main=f"StdErr = file:{err}\n",
                      start=f"Execute = ( foreground {{ fdmove -c 1 2 echo oops }} {box.dump} {box.out / 'o'} )")
    assert (svc.stdin, svc.stdout, svc.stderr) == ("s6log", "s6log", f"file:{err}")
    got = box.run(svc)
    assert err.read_text() == "oops\n" and got["fds"]["2"] == str(err)
    assert (box.paths.servicedir("half") / "log" / "run").exists()


def test_stdout_parent_keeps_supervisor_streams(box: Box) -> None:
    svc = box.service("par", main="StdOut = parent\nStdErr = parent\n", start=box.call("x"))
    text = (box.compile(svc) / "run").read_text()
    assert "redirfd" not in text and "fdmove" not in text
    assert not (box.paths.servicedir("par") / "log").exists()


def test_stdout_syslog_goes_through_logger(box: Box) -> None:
    # A stand-in for logger(1) on PATH records what it is given: the wiring is real.
    bindir = box.root / "bin"
    bindir.mkdir()
    (bindir / "logger").write_text(f"#!/bin/sh\necho \"$@\" > {box.out}/logger.args\n"
                                   f"cat > {box.out}/logger.in\n")
    (bindir / "logger").chmod(0o755)
    svc = box.service("sl", main="StdOut = syslog\n",
                      start="Execute = ( fdmove -c 1 2 echo to-syslog )")
    sd = box.compile(svc)
    subprocess.run([str(sd / "run")], cwd=sd, env={"PATH": f"{bindir}:/usr/bin:/bin"}, timeout=30)
    from tests.livesys import wait_until

    assert wait_until(lambda: (box.out / "logger.in").exists()
                      and (box.out / "logger.in").read_text() == "to-syslog\n", timeout=20)
    assert (box.out / "logger.args").read_text().split() == ["-t", "sl"]
    assert not (sd / "log").exists()


def test_console_compiles_to_dev_console(box: Box) -> None:
    svc = box.service("con", main="StdOut = console\n", start="Execute = ( true )")
    text = (box.compile(svc) / "run").read_text()
    # Generated commands are named as the script must (absolutely off PATH).
    assert (f"{execline.command('redirfd')} -w 1 /dev/console\n"
            f"{execline.command('fdmove')} -c 2 1\n") in text


@pytest.mark.parametrize("main, key", [
    ("StdOut = file:relative\n", "StdOut"),
    ("StdIn = file:/x\n", "StdIn"),
    ("StdIn = inherit\n", "StdIn"),
    ("StdErr = null:/x\n", "StdErr"),
])
def test_bad_stdio_is_refused(box: Box, main: str, key: str) -> None:
    # The wording is the reader's; what matters here: one line naming file, line and key.
    with pytest.raises(DefinitionError) as e:
        box.service("bad", main=main, start="Execute = ( true )")
    assert str(e.value).startswith(f"{box.services / 'bad'}:6: {key}: ") and "\n" not in str(e.value)


# -- Through the command line --------------------------------------------------------------

from tests.livesys import LiveSystem, offline  # noqa: E402,F401


def test_check_and_start_refuse_an_unknown_runas_user_changing_nothing(offline: LiveSystem) -> None:
    offline.write("app", """
        [Main]
        Type = oneshot
        Version = 0.0.1
        Description = "app"
        User = ( root )

        [Start]
        RunAs = no_such_user_x:nogroup
        Execute = ( true )
    """)
    for args in (("check", "app"), ("start", "app")):
        r = offline.ovis(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr == f"ovis: error: {offline.services / 'app'}:8: RunAs: unknown user 'no_such_user_x'\n"
    assert not (offline.live / "sv" / "app").exists()

"""The 66-tools commands run for real, through execlineb, as run scripts use them.

Each script is what a 66 frontend's Execute becomes: ``#!/usr/bin/execlineb
-P`` and the command line.  A tiny program prints its argv and environment
as JSON, so the tests see exactly what a daemon would receive.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nsutil import require_namespaces, script

SHOW = "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}))"


@pytest.fixture
def env() -> dict[str, str]:
    bindir = os.path.dirname(script("execl-cmdline"))
    return dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}")


@pytest.fixture
def show(tmp_path: Path) -> str:
    p = tmp_path / "show"
    p.write_text(f"#!{sys.executable}\n{SHOW}\n")
    p.chmod(0o755)
    return str(p)


def execline(text: str, env: dict[str, str], tmp_path: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run *text* as an execlineb -P script file (what ovis writes as run)."""
    run = tmp_path / "script.el"
    run.write_text("#!/usr/bin/execlineb -P\n" + text + "\n")
    run.chmod(0o755)
    return subprocess.run([str(run)], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def shown(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# execl-cmdline -----------------------------------------------------------------------

def test_cmdline_split_of_a_substituted_variable(env: dict[str, str], show: str, tmp_path: Path) -> None:
    r = execline(f'define args "-d  -s \\"x  y\\"" execl-cmdline -s {{ {show} ${{args}} "" "a b" }}',
                 env, tmp_path)
    assert shown(r)["argv"] == ["-d", "-s", "x y", "a", "b"]


def test_cmdline_without_split_keeps_words(env: dict[str, str], show: str, tmp_path: Path) -> None:
    r = execline(f'execl-cmdline {{ {show} -d "" -S " a  b " }}', env, tmp_path)
    assert shown(r)["argv"] == ["-d", "-S", "a b"]


def test_cmdline_inside_foreground_then_more(env: dict[str, str], show: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = execline(f'foreground {{ redirfd -w 1 {out} execl-cmdline -s {{ {show} "1 2" }} }} echo after',
                 env, tmp_path)
    assert r.returncode == 0 and r.stdout == "after\n"
    assert json.loads(out.read_text())["argv"] == ["1", "2"]


def test_cmdline_missing_program_fails_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    r = execline("execl-cmdline -s { /nonexistent/daemon -x }", env, tmp_path)
    assert r.returncode == 127
    assert r.stderr.splitlines() == ["execl-cmdline: fatal: unable to exec /nonexistent/daemon: "
                                     "No such file or directory"]


def test_cmdline_bad_option_is_usage_100(env: dict[str, str], tmp_path: Path) -> None:
    r = execline("execl-cmdline -q { true }", env, tmp_path)
    assert r.returncode == 100
    assert r.stderr.splitlines() == ["execl-cmdline: fatal: unknown option: -q; "
                                     "usage: execl-cmdline [ -h ] [ -s ] { command... }"]


# execl-toc -----------------------------------------------------------------------------

def test_toc_creates_directory_with_mode_owner_then_execs(env: dict[str, str], show: str, tmp_path: Path) -> None:
    target = tmp_path / "run" / "deep" / "svc"
    r = execline(f"execl-toc -d {target} -m 0750 -u nobody -g nogroup {show} started", env, tmp_path)
    assert shown(r)["argv"] == ["started"]
    st = target.stat()
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    # Already there: nothing changes (66-tools chown only what it creates), prog runs.
    target.chmod(0o700)
    r = execline(f"execl-toc -d {target} -m 0750 {show} again", env, tmp_path)
    assert shown(r)["argv"] == ["again"] and stat.S_IMODE(target.stat().st_mode) == 0o700


def test_toc_chain_as_frontends_write_it(env: dict[str, str], show: str, tmp_path: Path) -> None:
    # openntpd's frontend: execl-toc -d /var/empty/openntpd execl-toc -d ${socket_dir} execl-cmdline ...
    a, b = tmp_path / "empty" / "ntpd", tmp_path / "sock"
    r = execline(f'define socket_dir {b} define cmd_args "-d -s" '
                 f"execl-toc -d {a} execl-toc -d ${{socket_dir}} execl-cmdline -s {{ {show} ${{cmd_args}} }}",
                 env, tmp_path)
    assert shown(r)["argv"] == ["-d", "-s"]
    assert a.is_dir() and b.is_dir()


def test_toc_fifo_symlink_and_socket_on_stdin(env: dict[str, str], tmp_path: Path) -> None:
    fifo, link, sock = tmp_path / "f" / "fifo", tmp_path / "l" / "link", tmp_path / "s" / "bus"
    check = tmp_path / "check.py"
    check.write_text("import os, stat, socket, sys\n"
                     "s = socket.socket(fileno=0)\n"
                     "print(stat.S_ISSOCK(os.fstat(0).st_mode), s.getsockname(), s.type.name)\n"
                     "s.detach()\n")
    r = execline(f"execl-toc -p {fifo} -m 0620 execl-toc -L {link} -t {fifo} "
                 f"execl-toc -S {sock} -m 0700 {sys.executable} {check}", env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", str(sock), "SOCK_STREAM"]
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_IMODE(fifo.stat().st_mode) == 0o620
    assert os.readlink(link) == str(fifo)
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o700


def test_toc_unknown_user_or_group_one_line_no_exec(env: dict[str, str], tmp_path: Path) -> None:
    for opt, name, what in (("-u", "no-such-user-66", "user"), ("-g", "no-such-group-66", "group")):
        marker = tmp_path / f"ran{opt}"
        r = execline(f"execl-toc -d {tmp_path}/d {opt} {name} touch {marker}", env, tmp_path)
        assert r.returncode == 111
        assert r.stderr.splitlines() == [f"execl-toc: fatal: unknown {what}: {name}"]
        assert not marker.exists() and not (tmp_path / "d").exists()


def test_toc_test_results_and_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    plain = tmp_path / "plain"
    plain.write_text("")
    cases = [
        (f"execl-toc -D -d {missing} echo yes", 111, ""),
        (f"execl-toc -t -D -d {missing} echo yes", 0, ""),
        (f"execl-toc -n -D -d {missing} echo yes", 0, "yes\n"),
        (f"execl-toc -X -d {tmp_path} echo yes", 0, ""),
        (f"execl-toc -f {plain} echo yes", 0, "yes\n"),
        (f"execl-toc -s {plain} echo yes", 111, ""),
        (f"execl-toc -E {tmp_path / 'emptydir'} echo yes", 111, ""),
        (f"if -n {{ execl-toc -X -D -d {missing} }} echo absent", 0, "absent\n"),
        ("execl-toc -V PATH echo yes", 0, "yes\n"),
    ]
    for text, rc, out in cases:
        r = execline(text, env, tmp_path)
        assert (r.returncode, r.stdout) == (rc, out), text
    assert not missing.exists()


def test_toc_wrong_type_when_creating_is_said(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    r = execline(f"execl-toc -d {f} echo yes", env, tmp_path)
    assert r.returncode == 111
    assert r.stderr.splitlines() == [f"execl-toc: fatal: {f} exists but is not a directory"]


def test_toc_mountpoint(env: dict[str, str], tmp_path: Path) -> None:
    require_namespaces()
    mnt = tmp_path / "mnt" / "tmp"
    run = tmp_path / "mountrun"
    run.write_text(f"#!/usr/bin/execlineb -P\n"
                   f"execl-toc -m {mnt} -o size=1m,mode=0711 -t tmpfs -d ovistest\n"
                   f"execl-toc -m {mnt} -t tmpfs -d again\n"
                   f"awk \"$2 == \\\"{mnt}\\\" {{ print $1, $3 }}\" /proc/self/mounts\n")
    run.chmod(0o755)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", str(run)], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["ovistest tmpfs"]  # mounted once: the second saw it mounted


# execl-envfile -------------------------------------------------------------------------

def test_envfile_substitutes_exports_and_unexports(env: dict[str, str], show: str, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("PATH=/opt/ovis-test:${PATH}\n"
                    "socket=${socket_dir}/${socket_name}\n"
                    "socket_name=!bus\n"
                    "socket_dir = /run/dbus\n"
                    'cmd_args=--nofork \\"--address unix\\"\n')
    r = execline(f"execl-envfile {conf} execl-cmdline -s {{ {show} ${{cmd_args}} ${{socket}} }}", env, tmp_path)
    got = shown(r)
    assert got["argv"] == ["--nofork", "--address unix", "/run/dbus/bus"]
    assert got["env"]["socket"] == "/run/dbus/bus"
    assert got["env"]["socket_dir"] == "/run/dbus"
    assert "socket_name" not in got["env"]
    # execlineb put its own directory first; execl-envfile prepends to what it got
    path = got["env"]["PATH"]
    assert path.startswith("/opt/ovis-test:") and path.endswith(":" + env["PATH"])


def test_envfile_directory_and_loose(env: dict[str, str], show: str, tmp_path: Path) -> None:
    d = tmp_path / "envdir"
    d.mkdir()
    (d / "a").write_text("X=first\nY=y\n")
    (d / "b").write_text("X=second\n")
    r = execline(f"execl-envfile {d} {show} ${{X}} ${{Y}}", env, tmp_path)
    assert shown(r)["argv"] == ["second", "y"]
    r = execline(f"execl-envfile -l {tmp_path}/none {show} ${{X}}", env, tmp_path)
    assert shown(r)["argv"] == ["${X}"]


def test_envfile_missing_source_fails_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    r = execline(f"execl-envfile {tmp_path}/none echo never", env, tmp_path)
    assert r.returncode == 111 and r.stdout == ""
    assert r.stderr.splitlines() == [f"execl-envfile: fatal: unable to read environment from "
                                     f"{tmp_path}/none: No such file or directory"]
    r = execline("execl-envfile -z x echo", env, tmp_path)
    assert r.returncode == 100
    assert r.stderr.splitlines() == ["execl-envfile: fatal: unknown option: -z; "
                                     "usage: execl-envfile [ -h ] [ -v verbosity ] [ -l ] src prog..."]


# execl-subuidgid ------------------------------------------------------------------------

def test_subuidgid(env: dict[str, str], show: str, tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid())
    r = execline(f"execl-subuidgid {show} $UID:$GID ${{UID}}", env, tmp_path)
    assert shown(r)["argv"] == [f"{me.pw_uid}:{me.pw_gid}", str(me.pw_uid)]
    nobody = pwd.getpwnam("nobody")
    r = execline(f"execl-subuidgid -o nobody {show} ${{UID}} ${{GID}}", env, tmp_path)
    assert shown(r)["argv"] == [str(nobody.pw_uid), str(nobody.pw_gid)]
    r = execline("execl-subuidgid -o no-such-user-66 echo x", env, tmp_path)
    assert r.returncode == 111
    assert r.stderr.splitlines() == ["execl-subuidgid: fatal: unknown user: no-such-user-66"]


def test_block_words_as_the_real_execlineb_writes_them(env: dict[str, str], show: str, tmp_path: Path) -> None:
    """The block format read_block expects is the one execlineb produces here."""
    from ovis.tools66.argv import read_block

    argv = shown(execline(f'{show} -s {{ a "b c" "" {{ d }} }} after', env, tmp_path))["argv"]
    assert argv == ["-s", " a", " b c", " ", "  d", " ", "", "after"]
    words, end = read_block(argv, 1)
    assert words == ["a", "b c", "", " d", ""] and argv[end:] == ["after"]

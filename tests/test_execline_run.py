"""Generated run scripts: the real execlineb, and the wrapper's PATH only where needed.

Debian's /usr/bin/execlineb is a wrapper script (PATH set-up, then the real
binary). ovis writes the real binary into shebangs and names what it
generates by absolute path. A plain definition reaches its program in two
``execve`` and keeps the PATH it was started with; a definition whose
words name execline commands gets, as before, execline's directory first
on PATH. Both are checked on the running daemon (/proc/PID/environ) and
counted with strace on the compiled script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ovis.paths import Paths
from ovis.service import execline
from ovis.service.compiler import Compiler
from ovis.service.model import Kind
from ovis.service.repository import Repository
from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, system, wait_until  # noqa: F401

IT = execline.interpreter()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(e.split("=", 1) for e in raw.decode().split("\0") if "=" in e)


def _pid_of(system: LiveSystem, name: str) -> int:
    pid = [0]

    def up() -> bool:
        p = system.status(name)[name].get("pid")
        pid[0] = int(p or 0)
        return pid[0] > 0 and Path(f"/proc/{pid[0]}/cmdline").read_bytes().startswith(b"sleep")
    assert wait_until(up, timeout=30), system.status(name)
    return pid[0]


def test_interpreter_is_a_binary_not_a_script() -> None:
    if IT.path == execline.WRAPPER:
        pytest.fail(f"no real execlineb found (wrapper {execline.WRAPPER} only)")
    with open(IT.path, "rb") as f:
        assert f.read(2) != b"#!", IT.path
    assert os.access(IT.path, os.X_OK)


def test_finder_follows_a_wrapper_and_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "lib" / "bin"
    bindir.mkdir(parents=True)
    real = bindir / "execlineb"
    real.write_bytes(b"\x7fELF fake")
    real.chmod(0o755)
    (bindir / "fdmove").write_bytes(b"\x7fELF")
    wrapper = tmp_path / "execlineb"
    wrapper.write_text(f"#!{real} -S0\nexport PATH x\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(execline, "_CANDIDATES", (str(tmp_path / "missing"), str(wrapper)))
    found = execline._find()
    assert found.path == str(real) and found.bindir == str(bindir)
    assert "fdmove" in found.names and "execlineb" in found.names
    # A wrapper whose interpreter is itself a script is no real execlineb.
    real.write_text("#!/bin/sh\n")
    assert execline._find() == execline.Interpreter(execline.WRAPPER, None, frozenset())


def test_words_and_needs_path() -> None:
    assert execline._words('a "b c" # note\n d"e f"g') == ["a", "b c", "de fg"]
    assert execline._words('unbalanced "quote') is None
    assert not execline.needs_path(['/bin/sh -c "exec sleep 1; exit 0"'])
    if IT.bindir is not None:  # execline commands off PATH (Debian)
        assert execline.needs_path(["foreground { true } sleep 1"])
        assert execline.needs_path(["s6-envdir env fdmove -c 2 1 prog"])
        assert execline.needs_path(['unbalanced "quote'])


def test_lead_names_a_leading_execline_command_absolutely() -> None:
    if IT.bindir is None:
        pytest.skip("execline's commands are on every PATH here: nothing to name")
    b = IT.bindir
    assert execline.lead("  # c\nforeground { true } x") == f"  # c\n{b}/foreground {{ true }} x"
    assert execline.lead('"fdmove" -c 2 1 x') == f'"{b}/fdmove" -c 2 1 x'
    assert execline.lead("s6-envdir env fdmove -c 2 1 x") == "s6-envdir env fdmove -c 2 1 x"


def _wrapper_path(inherited: str) -> str:
    """The PATH Debian's wrapper gives a script started with PATH=*inherited*."""
    out = subprocess.run([execline.WRAPPER, "-c", "importas P PATH /bin/echo $P"],
                         env={"PATH": inherited}, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_daemon_path_plain_and_execline(system: LiveSystem) -> None:
    system.write("plain", LONGRUN.format(name="plain", extra="Options = ( !log )",
                                         run="sleep 1000"))
    system.write("blocks", LONGRUN.format(
        name="blocks", extra="Options = ( !log )",
        run='foreground { /bin/true } fdmove -c 2 1 sleep 1001'))
    system.write("extends", LONGRUN.format(
        name="extends", extra="[Environment]\nPATH=/opt/x:${PATH}\nA=b\n", run="sleep 1002"))
    system.write("once", ONESHOT.format(name="once", extra="", start="exit 0"))
    system.start_scandir()
    r = system.ovis("start", "plain", "blocks", "extends", "once")
    assert r.returncode == 0, r.stdout + r.stderr
    inherited = _environ(_pid_of(system, "plain"))["PATH"]
    sv = system.live / "sv"
    assert (sv / "plain" / "run").read_text() == f"#!{IT.path} -P\nsleep 1000\n"
    assert (sv / "blocks" / "run").read_text().startswith(f"#!{IT.path} -P\n")
    # What the supervisor gave: the plain daemon's PATH is that, unchanged.
    assert inherited == _environ(int(Path(f"/proc/{_pid_of(system, 'plain')}/stat")
                                         .read_text().rsplit(")", 1)[1].split()[1]))["PATH"]
    # A body naming execline commands: exactly the wrapper's PATH.
    assert _environ(_pid_of(system, "blocks"))["PATH"] == _wrapper_path(inherited)
    ext = _environ(_pid_of(system, "extends"))
    assert ext["PATH"] == "/opt/x:" + inherited and ext["A"] == "b"
    st = system.status()
    assert all(st[n]["state"] == "up" for n in ("plain", "blocks", "extends", "once")), st


def test_a_boot_path_is_written_out_in_one_export(system: LiveSystem) -> None:
    """With LIVE/environment (a boot's), s6-svscan and the oneshots start with its PATH:
    the scripts write that PATH out (one export, no importas) and give the same PATH."""
    if IT.bindir is None:
        pytest.skip("execline's commands are on every PATH here: no PATH set-up at all")
    boot = "/usr/bin:/bin:/opt/ovis-boot"
    system.live.mkdir(parents=True, exist_ok=True)
    (system.live / "environment").write_text(f"PATH={boot}\nOTHER=1\n")
    system.write("blocks", LONGRUN.format(
        name="blocks", extra="Options = ( !log )",
        run='foreground { /bin/true } fdmove -c 2 1 sleep 1001'))
    out = system.root / "once.path"
    system.write("once", ONESHOT.format(
        name="once", extra="", start=f'foreground {{ /bin/true }} /bin/sh -c "echo $PATH > {out}"'))
    system.start_scandir()
    r = system.ovis("start", "blocks", "once")
    assert r.returncode == 0, r.stdout + r.stderr
    text = (system.live / "sv" / "blocks" / "run").read_text()
    assert "importas" not in text and f'export PATH "{IT.bindir}:{boot}"' in text, text
    assert _environ(_pid_of(system, "blocks"))["PATH"] == _wrapper_path(boot)
    assert out.read_text().strip() == _wrapper_path(boot)
    assert "importas" not in (system.live / "sv" / "once" / "start").read_text()


def test_a_user_reads_the_boot_path_from_boot_json() -> None:
    """LIVE/environment is root's (0600): a user's ovis (status, its drift check) compiles
    with the PATH stage 1 also wrote into boot.json, so its digests are root's."""
    import sys
    import tempfile

    from ovis.service.compiler import boot_path

    if os.geteuid() != 0:
        pytest.skip("needs root (the file is root's, read as nobody)")
    top = Path(tempfile.mkdtemp(prefix="ovis-bootpath-", dir="/tmp"))  # (pytest's is 0700)
    try:
        top.chmod(0o755)
        live = top / "live"
        live.mkdir()
        (live / "environment").write_text("PATH=/usr/bin:/bin:/opt/root-only\n")
        (live / "environment").chmod(0o600)
        (live / "boot.json").write_text('{"live": "x", "path": "/usr/bin:/bin:/opt/root-only"}\n')
        assert boot_path(Paths.resolve({}, live=str(live))) == "/usr/bin:/bin:/opt/root-only"
        repo = str(Path(__file__).resolve().parent.parent)
        code = (f"import sys; sys.path.insert(0, {repo!r}); from ovis.paths import Paths; "
                "from ovis.service.compiler import boot_path; "
                f"print(boot_path(Paths.resolve({{}}, live={str(live)!r})))")
        # the distribution's interpreter: a venv's may be root's only
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

        def as_nobody() -> subprocess.CompletedProcess[str]:
            return subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                                  timeout=60, user="nobody", cwd="/", env={})
        r = as_nobody()
        if r.returncode != 0 and ("Permission denied" in r.stderr or "No module" in r.stderr):
            pytest.skip(f"nobody cannot run this checkout's ovis: {r.stderr.splitlines()[-1:]}")
        assert r.returncode == 0 and r.stdout.strip() == "/usr/bin:/bin:/opt/root-only", r.stderr
        (live / "boot.json").write_text('{"live": "x"}\n')  # an older boot's: no PATH known
        r = as_nobody()
        assert r.stdout.strip() == "None", r.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _execs(tmp_path: Path, frontend: str, program: str, boot_path: str | None = None) -> list[str]:
    """Programs execve'd by the compiled run script, up to and including *program*;
    *boot_path*: the PATH of a LIVE/environment written first."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed (scripts/setup.sh --test)")
    services = tmp_path / "services"
    services.mkdir(parents=True, exist_ok=True)
    (services / "svc").write_text(frontend)
    paths = Paths(skel=tmp_path / "skel", services=(services,), trees=tmp_path / "trees",
                  live=tmp_path / "live", logdir=tmp_path / "log")
    if boot_path is not None:
        (tmp_path / "live").mkdir(parents=True, exist_ok=True)
        (tmp_path / "live" / "environment").write_text(f"PATH={boot_path}\n")
    svc = Repository((services,)).load("svc")
    Compiler(paths).compile(svc)
    sd = paths.servicedir("svc")
    prog = sd / ("run" if svc.kind is Kind.LONGRUN else "start")
    log = tmp_path / "strace.log"
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none",
                    "-o", str(log), str(prog)], cwd=sd, env={"PATH": "/usr/bin:/bin"},
                   capture_output=True, timeout=60, check=False)
    names = [line.split('execve("', 1)[1].split('"', 1)[0] for line in log.read_text().splitlines()
             if 'execve("' in line and "= 0" in line.rsplit(")", 1)[-1]]
    assert any(os.path.basename(n) == program for n in names), names
    return names[: [os.path.basename(n) for n in names].index(program) + 1]


PLAIN = "[Main]\nType = classic\nDescription = \"x\"\nOptions = ( !log )\n[Start]\nExecute = ( true )\n"


def test_execve_per_start(tmp_path: Path) -> None:
    """The counts bench/hotspots.py reports, measured on the compiled script."""
    plain = _execs(tmp_path / "a", PLAIN, "true")
    assert [os.path.basename(n) for n in plain] == ["run", "true"], plain
    logged = _execs(tmp_path / "b", PLAIN.replace("Options = ( !log )\n", ""), "true")
    assert [os.path.basename(n) for n in logged] == ["run", "fdmove", "true"], logged
    blocks = _execs(tmp_path / "c", PLAIN.replace("( true )", "( foreground { true } true )"), "true")
    want = ["run", "importas", "export", "foreground", "true"] if IT.bindir else \
        ["run", "foreground", "true"]
    # foreground forks: its child's `true` is the first one
    assert [os.path.basename(n) for n in blocks] == want, blocks
    # a boot's LIVE/environment says the PATH: written out, no importas to read it
    booted = _execs(tmp_path / "f", PLAIN.replace("( true )", "( foreground { true } true )"),
                    "true", boot_path="/usr/bin:/bin")
    assert [os.path.basename(n) for n in booted] == [w for w in want if w != "importas"], booted
    # [Environment] values: one s6-envdir for them; an importas only for a variable the
    # text names (substituted), none for one it does not (the value is exported all the same)
    env = PLAIN.replace("( true )", "( true ${A} )") + "[Environment]\nA=x\nB=y\n"
    valued = _execs(tmp_path / "d", env, "true")
    assert [os.path.basename(n) for n in valued] == ["run", "s6-envdir", "importas", "true"], valued
    unnamed = _execs(tmp_path / "e", env.replace("${A}", "a"), "true")
    assert [os.path.basename(n) for n in unnamed] == ["run", "s6-envdir", "true"], unnamed

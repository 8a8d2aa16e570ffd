"""The hot commands import no pathlib (nor re where nothing needs it).

The model's paths are plain ``str`` (Service.source, lines, warnings,
extra_files, Program.path, LoggerSpec.destination), so reading a definition,
unpickling the compile cache, starting, stopping and showing a status no
longer import pathlib, and with it fnmatch, re, enum, urllib.parse and
ipaddress: some 25 modules, each paid again by every command under an
emulated CPU, where anopa's stage scripts start some 30 Pythons.  These
tests run the commands as the lean launchers do (a fresh ``python -I -S``)
against real s6 and fail when one of those modules is imported again.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from ovis.service import cache
from ovis.service.model import Kind, Service

from .livesys import LiveSystem

REPO = Path(__file__).resolve().parent.parent
#: What pathlib brings (re and enum come with fnmatch; other modules import those too).
PATHLIB = {"pathlib", "fnmatch", "urllib.parse", "ipaddress", "ntpath"}



def run_isolated(entry: str, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, set[str]]:
    """Run ``entry``'s main(argv) in a fresh ``python -I -S``; (exit status, modules held).

    (The child writes its modules without json, which would add re and its own.)
    """
    import subprocess
    import sys

    module, func = entry.split(":")
    prog = (f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            f"from {module} import {func} as main\n"
            "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            "sys.__stderr__.write('\\nMODULES %s %s\\n' % (rc or 0, ' '.join(sorted(sys.modules))))\n")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", prog, *argv], capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=120)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("MODULES ")]
    assert line, p.stdout + p.stderr
    _, rc, *mods = line[-1].split(" ")
    return int(rc) if rc.lstrip("-").isdigit() else 1, set(mods)


needs_s6 = pytest.mark.skipif(shutil.which("s6-svscan") is None, reason="s6 is not installed")

LONGRUN = """
    [Main]
    Type = classic
    {extra}
    [Start]
    Execute = ( sleep 1000 )
"""


def _env(live: LiveSystem) -> dict[str, str]:
    env = dict(live.env)
    env.pop("PYTHONPATH", None)
    return env


def test_status_of_definitions_not_compiled_imports_neither_pathlib_nor_re(tmp_path: Path) -> None:
    """``ovis status`` of the bundled 66 examples, none compiled: each is parsed."""
    env = {"PATH": os.environ["PATH"], "OVIS_LIVE": str(tmp_path / "live"),
           "OVIS_SERVICES": str(REPO / "examples" / "66"), "OVIS_TREES": str(tmp_path / "trees"),
           "OVIS_LOGDIR": str(tmp_path / "log"), "OVIS_SKEL": str(tmp_path / "skel")}
    rc, mods = run_isolated("ovis.cli.main:main", ["status"], env, tmp_path)
    assert rc == 0
    assert "ovis.service.formats.sixtysix" in mods  # it did parse them
    assert not mods & PATHLIB, sorted(mods & PATHLIB)
    assert "re" not in mods  # the 66 reader matches with str methods (sixtysix.plain)
    # ovis status NAME of one not compiled (its log path joined as a str), and is-enabled
    for argv in (["status", "clock"], ["is-enabled", "clock"], ["--json", "is-enabled", "clock"]):
        rc, mods = run_isolated("ovis.cli.main:main", argv, env, tmp_path)
        assert rc in (0, 1), argv
        assert not mods & (PATHLIB | {"re", "typing"}), (argv, sorted(mods & (PATHLIB | {"re", "typing"})))
    # a broken definition is reported without pathlib too (DefinitionError makes no Path)
    services = tmp_path / "services"
    services.mkdir()
    (services / "bad").write_text("[Main]\nType = classic\nNope = 1\n")
    env["OVIS_SERVICES"] = str(services)
    rc, mods = run_isolated("ovis.cli.main:main", ["status", "bad"], env, tmp_path)
    assert "ovis.errors" in mods and not mods & PATHLIB, sorted(mods & PATHLIB)


@needs_s6
def test_start_and_stop_import_no_pathlib(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path)
    try:
        live.write("db", LONGRUN.format(extra=""))
        live.write("web", LONGRUN.format(extra="Depends = ( db )"))
        live.write("setup", "[Main]\nType = oneshot\n[Start]\nExecute = ( true )\n")
        live.start_scandir()
        env = _env(live)
        # cold (parses and compiles), stop, warm (from the compile cache): longruns only
        for argv in (["start", "web"], ["stop", "--all"], ["start", "web"], ["stop", "web"]):
            rc, mods = run_isolated("ovis.cli.main:main", ["-v", "0", *argv], env, live.root)
            assert rc == 0, argv
            assert "ovis.engine.manager" in mods
            assert not mods & PATHLIB, (argv, sorted(mods & PATHLIB))
            assert "re" not in mods, argv  # no oneshot run: no re at all, parsing included
        # a oneshot is spawned by ovis.linux.spawn (posix_spawn): no subprocess, no pathlib, no re
        rc, mods = run_isolated("ovis.cli.main:main", ["-v", "0", "start", "setup"], env, live.root)
        assert rc == 0 and "ovis.linux.spawn" in mods
        assert not mods & (PATHLIB | {"subprocess", "re"}), sorted(mods & (PATHLIB | {"subprocess", "re"}))
        got = live.status()
        assert got["setup"]["state"] == "up" and got["web"]["state"] == "down", got
    finally:
        live.stop_scandir()


def test_model_paths_are_str_and_the_cache_refuses_pathlib(tmp_path: Path) -> None:
    from ovis.service.formats.anopa import parse_anopa_dir

    d = tmp_path / "svc"
    (d / "needs").mkdir(parents=True)
    (d / "needs" / "db").write_text("")
    (d / "run").write_text("#!/bin/sh\nexec sleep 1\n")
    (d / "run").chmod(0o755)
    (d / "data").mkdir()
    svc = parse_anopa_dir(d, "svc")  # given a Path: the model still holds str
    assert type(svc.source) is str and svc.source == str(d)
    assert svc.start is not None and type(svc.start.path) is str
    assert all(type(p) is str for p, _ in svc.lines.values())
    assert all(type(p) is str for p in svc.extra_files.values())
    # format 5 unpickles the model's classes only: a pathlib object in a bucket is refused
    blob = pickle.dumps({"x": Service("x", Kind.LONGRUN, Path("/x"))})  # type: ignore[arg-type]
    with pytest.raises(pickle.UnpicklingError):
        cache._ModelUnpickler(__import__("io").BytesIO(blob)).load()
    ok = pickle.dumps({"x": Service("x", Kind.LONGRUN, "/x")})
    assert cache._ModelUnpickler(__import__("io").BytesIO(ok)).load()["x"].source == "/x"

"""The suite tests the checkout it sits in, or refuses to run (conftest's session start).

Several layers do not run the ``ovis`` this pytest process imported: the
console scripts (aa-*, ovis) carry their own interpreter in their shebang
and import whatever ``ovis`` that interpreter finds with a clean
environment, ``python -m ovis`` subprocesses put their current directory
first on sys.path, and a booted system finds ``ovis`` on its boot PATH.  On
a machine where another checkout is installed (editable) into the same
interpreter, any of them can quietly exercise that other tree.  Each is
asked here, the way it will really run, where its ``ovis`` comes from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Printed by every probe: the file of the ovis package it imported.
_PROBE = "import ovis, sys; sys.stdout.write(ovis.__file__)"


def inside_repo(path: str | os.PathLike[str]) -> bool:
    try:
        Path(path).resolve().relative_to(REPO / "ovis")
        return True
    except ValueError:
        return False


def console_script_names() -> list[str]:
    """pyproject.toml's [project.scripts]: every console script the package installs."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return sorted(data["project"]["scripts"])


def _shebang(path: Path) -> list[str] | None:
    try:
        with open(path, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    return first[2:].decode(errors="replace").split()


def _probe(argv: list[str], env: dict[str, str], cwd: str) -> str:
    """What ``argv + [-c PROBE]`` imports as ovis (or why it could not say)."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"<cannot run {argv[0]}: {e}>"
    if r.returncode != 0:
        return f"<{argv[0]} exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}>"
    return r.stdout.strip()


def script_ovis(path: Path, env: dict[str, str]) -> str:
    """The ovis package file a console script imports, probed as the script would run.

    A script run as a file has its own directory first on sys.path and its
    shebang's interpreter; only the import differs from the real script.
    A lean launcher (``#!PYTHON -IS``, ovis/cli/launchers.py) is isolated:
    no script directory on sys.path, only the path its own lines set up,
    which the probe runs too (the script's lines before its ovis import).
    """
    shebang = _shebang(path)
    if not shebang:
        return f"<{path} has no #! line>"
    return _probe_cached(tuple(shebang), str(path.parent), _prelude(path),
                         tuple(sorted(env.items())))


def _prelude(path: Path) -> str:
    """The script's lines after its #! line and before it imports ovis."""
    lines = path.read_text(errors="replace").splitlines()[1:]
    out = []
    for line in lines:
        if line.startswith(("from ovis", "import ovis")):
            break
        out.append(line)
    return "\n".join(out)


def _isolated(shebang: tuple[str, ...]) -> bool:
    return any(w.startswith("-") and not w.startswith("--") and ("I" in w or "P" in w)
               for w in shebang[1:])


@lru_cache(maxsize=None)
def _probe_cached(shebang: tuple[str, ...], where: str, prelude: str,
                  env: tuple[tuple[str, str], ...]) -> str:
    """One probe per interpreter, directory and path set-up: the scripts differ in their entry point."""
    first = "" if _isolated(shebang) else f"import sys; sys.path[0] = {where!r}\n"
    code = f"{first}{prelude}\n{_PROBE}"
    return _probe([*shebang, "-c", code], dict(env), "/")


def stage_env() -> dict[str, str]:
    """The environment a booted stage runs with: the boot PATH and nothing else."""
    from ovis.boot.skel import boot_path

    return {"PATH": boot_path()}


def problems(scripts_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    """Every way the suite would run another ovis than REPO's; empty when none.

    *scripts_dir* is where tests/nsutil.py takes console scripts from; a
    script missing there is looked up on PATH, as nsutil does.
    """
    import ovis

    out: list[str] = []
    if not inside_repo(ovis.__file__):
        out.append(f"this pytest imports ovis from {ovis.__file__}, not from {REPO}")
    # `sys.executable -m ovis` as livesys/bootsys run it: PYTHONPATH=REPO, our cwd first.
    got = _probe([sys.executable, "-c", _PROBE], dict(os.environ, PYTHONPATH=str(REPO)), os.getcwd())
    if not inside_repo(got):
        out.append(f"`{sys.executable} -m ovis` from {os.getcwd()} imports {got} "
                   "(run pytest from the checkout)")
    clean = env if env is not None else stage_env()
    for name in console_script_names():
        path = scripts_dir / name
        if not path.exists():
            found = shutil.which(name)
            if found is None:
                continue  # not installed: the tests that need it skip (and fail in CI)
            path = Path(found)
        got = script_ovis(path, clean)
        if not inside_repo(got):
            out.append(f"console script {path} imports {got}")
    # What a booted system (and its rc.init, a container's command) finds as `ovis`.
    found = shutil.which("ovis", path=clean["PATH"])
    if found is not None and Path(found).parent != scripts_dir:
        got = script_ovis(Path(found), clean)
        if not inside_repo(got):
            out.append(f"the boot PATH's ovis ({found}) imports {got}")
    return out


def missing_scripts(scripts_dir: Path) -> list[str]:
    return [n for n in console_script_names()
            if not (scripts_dir / n).exists() and shutil.which(n) is None]

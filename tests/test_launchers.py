"""The installed commands are lean launchers of this tree (ovis/cli/launchers.py).

Every ``ovis`` and ``aa-*`` command starts Python with ``-I -S``: no ``site``
(whose ``.pth`` hooks cost most of a command's start-up on some machines),
no PYTHONPATH, user site or current directory on sys.path (nothing a user
plants there is imported by root's commands), and exactly the directory
of the ovis it was installed from.  These tests run the launchers installed
next to this interpreter (tests/nsutil.SCRIPTS), the way a user runs them,
and one real ``pip install`` + ``pip uninstall`` of a copy of the tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ovis.cli import launchers
from tests import selfcheck
from tests.nsutil import SCRIPTS, skip_or_fail

REPO = Path(__file__).resolve().parent.parent
FIX = "(rewrite them: python3 -m ovis.cli.launchers, as scripts/setup.sh does)"


def test_every_entry_point_has_its_lean_launcher() -> None:
    """pyproject's scripts are all installed, each the launcher the generator writes."""
    want = launchers.expected()
    installed = {p.name: p for p in want}
    assert sorted(installed) == selfcheck.console_script_names(), \
        f"the installed entry points differ from pyproject.toml's: reinstall (pip install -e) {FIX}"
    for name in selfcheck.console_script_names():
        path = SCRIPTS / name
        assert installed[name] == path, (name, installed[name], path)
        text = path.read_text()
        assert text == want[path], f"{path} is not the lean launcher {FIX}"
        first = text.splitlines()[0].split()
        assert first[1:] == ["-IS"] and os.path.samefile(first[0][2:], sys.executable), first
        assert os.access(path, os.X_OK)


def _decoys(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory holding a decoy ``ovis`` and ``sitecustomize``, and an env pointing at it."""
    decoy = tmp_path / "decoy"
    (decoy / "ovis" / "cli").mkdir(parents=True)
    for f in ("ovis/__init__.py", "ovis/cli/__init__.py"):
        (decoy / f).write_text("import sys\nsys.stdout.write('DECOY\\n')\nsys.exit(99)\n")
    (decoy / "sitecustomize.py").write_text("import sys\nsys.stdout.write('DECOY-SITE\\n')\n")
    (decoy / "x.py").write_text("print('DECOY-STARTUP')\n")
    env = dict(os.environ, PYTHONPATH=str(decoy), PYTHONSTARTUP=str(decoy / "x.py"))
    return decoy, env


def test_launcher_is_isolated_without_site_on_this_tree(tmp_path: Path) -> None:
    """The installed launcher's own lines, run as it runs, import this tree's ovis only."""
    decoy, env = _decoys(tmp_path)
    text = (SCRIPTS / "aa-echo").read_text()
    head = text.split("\nfrom ovis", 1)[0]
    probe = (head + "\nimport ovis, json\n"
             "print(json.dumps({'file': ovis.__file__, 'no_site': sys.flags.no_site,"
             " 'isolated': sys.flags.isolated, 'site': 'site' in sys.modules, 'path': sys.path}))\n")
    script = decoy / "aa-probe"  # beside the decoy package, as a script's own dir would be
    script.write_text(probe)
    script.chmod(0o755)
    p = subprocess.run([str(script)], capture_output=True, text=True, env=env, cwd=decoy, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert selfcheck.inside_repo(got["file"]), got
    assert (got["no_site"], got["isolated"], got["site"]) == (1, 1, False), got
    assert str(decoy) not in got["path"] and "" not in got["path"], got["path"]
    assert got["path"][-1] == str(REPO), got["path"]  # after the standard library


def test_launchers_pass_argv_and_exit_codes(tmp_path: Path) -> None:
    """Real commands with decoys planted on PYTHONPATH and in the cwd: same output as the tree's code."""
    decoy, env = _decoys(tmp_path)

    def run(argv: list[str]) -> tuple[int, str, str]:
        p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=decoy, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def module(mod: str, args: list[str]) -> tuple[int, str, str]:
        e = dict(os.environ, PYTHONPATH=str(REPO))
        code = f"import sys; sys.argv[0] = 'aa-echo'; from {mod} import entrypoint; entrypoint()"
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           env=e, cwd=REPO, timeout=120)
        return p.returncode, p.stdout, p.stderr

    import ovis

    echo = run([str(SCRIPTS / "aa-echo"), "-w", "a b", "++x", "+r", "y"])
    assert echo == module("ovis.cli.aa.echo", ["-w", "a b", "++x", "+r", "y"]), echo
    assert "a b+xy" in echo[1] + echo[2]
    assert run([str(SCRIPTS / "aa-echo"), "--bogus"])[0] == 1
    assert run([str(SCRIPTS / "aa-test"), "-e", str(tmp_path / "none")])[0] == 3
    assert run([str(SCRIPTS / "aa-test"), "-e", str(tmp_path)])[0] == 0
    assert run([str(SCRIPTS / "ovis"), "--version"]) == (0, f"ovis {ovis.__version__}\n", "")
    rc, out, err = run([str(SCRIPTS / "ovis"), "no-such-verb"])
    assert (rc, out) == (2, "") and "usage: ovis" in err, err
    assert "DECOY" not in out + err


def test_check_reports_a_pip_script(tmp_path: Path) -> None:
    """--check fails on a script that is not the lean launcher (e.g. right after pip install)."""
    from importlib import metadata

    site, bindir = _fake_install(tmp_path)
    dist = next(iter(metadata.distributions(name="ovis", path=[str(site)])))
    want = launchers.expected(dist)
    assert sorted(p.name for p in want) == ["aa-echo", "ovis"]
    assert launchers.stale(dist) == sorted(want)
    launchers.install(dist)
    assert launchers.stale(dist) == []
    assert (bindir / "ovis").read_text().splitlines()[5] == f"sys.path.append({str(REPO)!r})"
    record = (site / "ovis-0.1.0.dist-info" / "RECORD").read_text()
    data = (bindir / "aa-echo").read_bytes()
    assert f"../bin/aa-echo,{launchers._record_hash(data)},{len(data)}" in record, record
    (bindir / "ovis").write_text("#!/bin/sh\n")
    assert launchers.stale(dist) == [bindir / "ovis"]


def test_refuses_a_package_dir_others_can_write(tmp_path: Path) -> None:
    from importlib import metadata

    site, _ = _fake_install(tmp_path, copy=True)
    dist = next(iter(metadata.distributions(name="ovis", path=[str(site)])))
    os.chmod(site / "tree" / "ovis", 0o777)
    with pytest.raises(launchers.LauncherError, match="writable by everyone"):
        launchers.install(dist)


def test_an_entry_point_without_a_script_fails(tmp_path: Path) -> None:
    from importlib import metadata

    site, _ = _fake_install(tmp_path, extra_entry="aa-lost = ovis.cli.aa.echo:entrypoint\n")
    dist = next(iter(metadata.distributions(name="ovis", path=[str(site)])))
    with pytest.raises(launchers.LauncherError, match="aa-lost: not listed"):
        launchers.expected(dist)


def _fake_install(tmp_path: Path, copy: bool = False, extra_entry: str = "") -> tuple[Path, Path]:
    """A compat editable install as pip lays it out: dist-info, .pth naming the tree, two scripts."""
    site, bindir = tmp_path / "site", tmp_path / "bin"
    info = site / "ovis-0.1.0.dist-info"
    info.mkdir(parents=True)
    bindir.mkdir()
    tree = REPO
    if copy:
        tree = site / "tree"
        shutil.copytree(REPO / "ovis", tree / "ovis", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "__editable__.ovis-0.1.0.pth").write_text(f"{tree}\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ovis\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\naa-echo = ovis.cli.aa.echo:entrypoint\novis = ovis.cli.main:entrypoint\n"
        + extra_entry)
    for name in ("aa-echo", "ovis"):
        (bindir / name).write_text(f"#!{sys.executable}\nimport re\n")
        (bindir / name).chmod(0o755)
    (info / "RECORD").write_text(
        "../bin/aa-echo,sha256=x,1\n../bin/ovis,sha256=y,1\n__editable__.ovis-0.1.0.pth,,\n"
        "ovis-0.1.0.dist-info/METADATA,,\novis-0.1.0.dist-info/entry_points.txt,,\n"
        "ovis-0.1.0.dist-info/RECORD,,\n")
    return site, bindir


def _wheel_builder() -> str:
    for py in (sys.executable, "/usr/bin/python3"):
        if os.access(py, os.X_OK) and subprocess.run(
                [py, "-c", "import setuptools.build_meta, wheel"], capture_output=True).returncode == 0:
            return py
    skip_or_fail("no python3 with setuptools and wheel to build a wheel (apt-get install python3-wheel)")
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_plain_pip_install_then_launchers_then_uninstall(tmp_path: Path) -> None:
    """A regular (non-editable) pip install into a fresh venv: lean launchers on its site-packages; pip uninstall removes them."""
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / f, src / f)
    shutil.copytree(REPO / "ovis", src / "ovis", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(py), "--disable-pip-version-check", "-q"]
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_BREAK_SYSTEM_PACKAGES="1")
    # The wheel is built as pip would (setuptools' PEP 517 backend, no network) by an
    # interpreter that has setuptools and wheel (Debian's python3-wheel: setup.sh --test).
    builder = _wheel_builder()
    r = subprocess.run([builder, "-c", "import sys; from setuptools import build_meta; "
                        "build_meta.build_wheel(sys.argv[1])", str(tmp_path / "wheels")],
                       capture_output=True, text=True, cwd=src, timeout=600)
    assert r.returncode == 0, r.stderr
    wheel, = (tmp_path / "wheels").glob("ovis-*.whl")
    r = subprocess.run([*pip, "install", "--no-deps", str(wheel)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(py), "-m", "ovis.cli.launchers"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    names = selfcheck.console_script_names()
    for name in names:
        first = (venv / "bin" / name).read_text().splitlines()[0]
        assert first == f"#!{py} -IS", (name, first)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    decoy, denv = _decoys(tmp_path)
    out = subprocess.run([str(venv / "bin" / "aa-echo"), "-n", "hello"], capture_output=True, text=True,
                         env=denv, cwd=decoy, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "hello"), out
    probe = (venv / "bin" / "ovis").read_text().split("\nfrom ovis", 1)[0] + "\nimport ovis\nprint(ovis.__file__)\n"
    (decoy / "p").write_text(probe)
    (decoy / "p").chmod(0o755)
    got = subprocess.run([str(decoy / "p")], capture_output=True, text=True, env=denv, timeout=120).stdout.strip()
    assert got == str(Path(site) / "ovis" / "__init__.py"), got
    r = subprocess.run([*pip, "uninstall", "-y", "ovis"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert [n for n in names if (venv / "bin" / n).exists()] == []


def test_closed_stdout_is_no_error() -> None:
    """``ovis --version | true``: the reader is gone, ovis says nothing and exits 0 (no traceback)."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([str(SCRIPTS / "ovis"), "--version"], stdout=w, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (0, "")

"""The session's self-check (tests/selfcheck.py) really notices another tree."""

from __future__ import annotations

import sys
from pathlib import Path

from tests import selfcheck

SCRIPT = """\
#!{python}
import sys
from ovis.cli.aa.echo import entrypoint
sys.exit(entrypoint())
"""


def _bin(tmp_path: Path, decoy: bool) -> Path:
    """A scripts directory holding aa-echo; with *decoy*, an ``ovis`` package beside it.

    A script's own directory comes first on its sys.path, so the decoy is
    what it would import: the way another installed copy shadows this one.
    """
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "aa-echo").write_text(SCRIPT.format(python=sys.executable))
    (bindir / "aa-echo").chmod(0o755)
    if decoy:
        (bindir / "ovis").mkdir()
        (bindir / "ovis" / "__init__.py").write_text("")
    return bindir


def test_a_console_script_importing_another_ovis_is_reported(tmp_path: Path) -> None:
    bindir = _bin(tmp_path, decoy=True)
    bad = selfcheck.problems(bindir, env={"PATH": "/usr/bin:/bin"})
    assert f"console script {bindir / 'aa-echo'} imports {bindir / 'ovis' / '__init__.py'}" in bad


def test_a_console_script_importing_this_ovis_passes(tmp_path: Path) -> None:
    bindir = _bin(tmp_path, decoy=False)
    bad = selfcheck.problems(bindir, env={"PATH": "/usr/bin:/bin"})
    assert not [b for b in bad if str(bindir) in b], bad


def test_a_script_without_shebang_is_reported(tmp_path: Path) -> None:
    (tmp_path / "aa-echo").write_text("import ovis\n")
    assert selfcheck.script_ovis(tmp_path / "aa-echo", {"PATH": "/usr/bin"}).startswith("<")
    assert not selfcheck.inside_repo("/elsewhere/ovis/__init__.py")
    assert selfcheck.inside_repo(selfcheck.REPO / "ovis" / "__init__.py")

"""Values that reach generated execline scripts arrive intact: compile, then RUN the script.

Comparing the generated text with an expected string would only restate the
quoting code; here the real execlineb runs the compiled ``run`` script and
the program it starts reports the exact bytes it received.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ovis.paths import Paths
from ovis.record import replace
from ovis.service.compiler import Compiler
from ovis.service.formats.sixtysix import parse_frontend

from .nsutil import skip_or_fail

NASTY = {
    "QUOTES": 'say "hi" and "" done',
    "BACKSLASHES": "C:\\dir\\ \\\\server\\share\\",
    "ESCAPE_LOOKALIKES": "\\n is not a newline, \\t not a tab, \\\" not a quote",
    # ${PATH} would be 66's reference to the inherited PATH (substituted, as
    # 66 does); a name defined nowhere stays as written, braces and all.
    "EXECLINE_SYNTAX": "${OVIS_TEST_UNDEFINED} $HOME { } ; # not a comment",
    "NEWLINES": "first line\nsecond line\n\nafter a blank\n",
    "TABS_AND_CR": "a\tb\r\nc",
    "TRAILING_BACKSLASH": "ends with \\",
    "EMPTY": "",
}


def _run_compiled(tmp_path: Path, text: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """Compile the 66 file *text* as service ``q``, run its run script, return the env it saw."""
    if shutil.which("execlineb") is None:
        skip_or_fail("execline is not installed (execlineb not in PATH)")
    out = tmp_path / "env.out"
    svc = parse_frontend(tmp_path / "q", "q", text.format(out=out))
    if extra_env:
        svc = replace(svc, env={**svc.env, **extra_env})
    paths = Paths.resolve({}, live=str(tmp_path / "live"), logdir=str(tmp_path / "log"),
                          services=str(tmp_path), trees=str(tmp_path / "trees"),
                          skel=str(tmp_path / "skel"))
    Compiler(paths).compile(svc)
    sdir = paths.servicedir("q")
    # As s6-supervise would: in the servicedir, with a minimal environment.
    r = subprocess.run([str(sdir / "run")], cwd=sdir, env={"PATH": os.environ["PATH"]},
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stderr.decode(errors="replace"), (sdir / "run").read_text())
    env = {}
    for item in out.read_bytes().split(b"\0"):
        if item:
            k, _, v = item.decode().partition("=")
            env[k] = v
    return env


DEF = """\
[Main]
Type = classic
Description = "quoting"

[Start]
Execute = ( redirfd -w 1 {out} env -0 )

[Environment]
QUOTES = "say \\"hi\\" and \\"\\" done"
BACKSLASHES = C:\\dir\\ \\\\server\\share\\
ESCAPE_LOOKALIKES = \\n is not a newline, \\t not a tab, \\" not a quote
EXECLINE_SYNTAX = ${{OVIS_TEST_UNDEFINED}} $HOME {{ }} ; # not a comment
TRAILING_BACKSLASH = ends with \\
EMPTY =
"""


def test_values_from_a_66_file_reach_the_process_unchanged(tmp_path: Path) -> None:
    env = _run_compiled(tmp_path, DEF)
    for key in ("QUOTES", "BACKSLASHES", "ESCAPE_LOOKALIKES", "EXECLINE_SYNTAX",
                "TRAILING_BACKSLASH", "EMPTY"):
        # 66 reads \" in an [Environment] value as a quote; nothing else is unescaped
        want = NASTY[key].replace('\\"', '"') if key == "ESCAPE_LOOKALIKES" else NASTY[key]
        assert env.get(key) == want, (key, env.get(key))


@pytest.mark.parametrize("key", sorted(NASTY))
def test_any_value_in_the_model_reaches_the_process_unchanged(tmp_path: Path, key: str) -> None:
    """Newlines, tabs, CRs: not writable in a 66 file, but the model (and so the compiler) takes them."""
    base = "[Main]\nType = classic\n[Start]\nExecute = ( redirfd -w 1 {out} env -0 )\n"
    env = _run_compiled(tmp_path, base, extra_env={key: NASTY[key]})
    assert env.get(key) == NASTY[key], (key, env.get(key))

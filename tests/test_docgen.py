"""Man pages from docs/ and shell completion from the parser, as scripts/setup.sh installs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def install(prefix: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "ovis.docgen", "install", str(prefix)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{tool} is missing: scripts/setup.sh --test installs it")
        pytest.skip(f"{tool} is not installed")


def test_every_doc_page_becomes_a_man_page_that_man_finds_and_renders(tmp_path: Path) -> None:
    need("man")
    install(tmp_path)
    mandir = tmp_path / "share" / "man"
    docs = sorted(p.stem for p in (REPO / "docs").glob("ovis*.md"))
    assert "ovis-status" in docs and "ovis" in docs
    for page in docs:
        r = subprocess.run(["man", "-M", str(mandir), "-w", page], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.strip().endswith(f"{page}.1"), (page, r.stderr)
    env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0")
    r = subprocess.run(["man", "-M", str(mandir), "ovis-status"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    import re

    text = re.sub(r".\x08", "", r.stdout)  # man's overstrike bold, on a pipe
    assert "NAME" in text and "SYNOPSIS" in text and "ovis status" in text
    assert "--failed" in text  # the options of the doc page, not a stale copy
    assert "warning" not in r.stderr.lower(), r.stderr


def test_markdown_to_roff_subset() -> None:
    from ovis.docgen.man import convert

    md = ("# ovis x\n\n`ovis x` — does a thing. More.\n\n## Options\n\n"
          "- `-a`: all *items*, **bold**\n\n| A | B |\n|---|---|\n| `x` | y \\| z |\n\n"
          "```\n.starts with a dot\n```\n\nSee [ovis status](ovis-status.md).\n")
    roff = convert(md, "ovis-x", 1, date="2026-12-01")
    assert '.TH "OVIS-X" "1" "2026-12-01"' in roff
    assert "ovis\\-x \\- does a thing" in roff
    assert '.SH "OPTIONS"' in roff and '.IP "\\(bu" 4' in roff
    assert "\\fB\\-a\\fR" in roff and "\\fIitems\\fR" in roff and "\\fBbold\\fR" in roff
    assert ".TS" in roff and "y | z" in roff
    assert "\\&.starts with a dot" in roff
    assert "ovis\\-status(1)" in roff


def _bash_complete(script: Path, env: dict[str, str], *words: str) -> list[str]:
    line = " ".join(words)
    prog = (f"source {script}\nCOMP_WORDS=({line})\nCOMP_CWORD={len(words) - 1}\n"
            "_ovis\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w)


def _names(tmp_path: Path) -> dict[str, str]:
    svc = tmp_path / "svc"
    svc.mkdir()
    for n in ("nginx", "ntpd", "getty@"):
        (svc / n).write_text("")
    trees = tmp_path / "trees"
    (trees / "boot").mkdir(parents=True)
    (trees / "net").mkdir()
    return dict(os.environ, OVIS_SERVICES=str(svc), OVIS_TREES=str(trees),
                OVIS_LIVE=str(tmp_path / "live"))


def test_bash_completion_commands_options_services_trees(tmp_path: Path) -> None:
    install(tmp_path)
    script = tmp_path / "share" / "bash-completion" / "completions" / "ovis"
    env = _names(tmp_path)
    assert {"apply", "status", "start", "deps", "is-enabled"} <= set(
        _bash_complete(script, env, "ovis", "''"))
    assert _bash_complete(script, env, "ovis", "sta") == ["start", "status"]
    assert _bash_complete(script, env, "ovis", "start", "n") == ["nginx", "ntpd"]
    assert _bash_complete(script, env, "ovis", "--live", "/x", "stop", "ng") == ["nginx"]
    assert "--failed" in _bash_complete(script, env, "ovis", "status", "--f")
    assert _bash_complete(script, env, "ovis", "tree", "start", "''") == ["boot", "net", "start",
                                                                          "stop"]
    assert "HUP" in _bash_complete(script, env, "ovis", "signal", "H")


def test_zsh_completion(tmp_path: Path) -> None:
    need("zsh")
    install(tmp_path)
    script = tmp_path / "share" / "zsh" / "site-functions" / "_ovis"
    env = _names(tmp_path)

    def complete(prefix: str, *words: str) -> list[str]:
        # compadd stands in for zsh's completion builtin: print what would be offered
        prog = ("compadd() { [[ $1 == -- ]] && shift; print -l -- $@ }\n"
                f"words=(ovis {' '.join(words)} '{prefix}'); CURRENT={len(words) + 2}; "
                f"PREFIX='{prefix}'\nsource {script}\n")
        r = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        return sorted(w for w in r.stdout.split("\n") if w)

    assert {"apply", "status", "deps"} <= set(complete(""))
    assert {"nginx", "ntpd"} <= set(complete("", "start"))
    assert "getty@" not in complete("", "start")
    assert "--dry-run" in complete("-", "apply")
    assert {"boot", "net"} <= set(complete("", "tree", "start"))

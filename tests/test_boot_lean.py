"""What ``ovis boot`` imports before it execs s6-svscan, and the helpers that keep it lean.

Under an emulated CPU every module PID 1 imports is tens of milliseconds of
the boot (the first Python of a boot also reads each one cold over the
VM's root): stage 1 must not bring in modules that nothing else of the boot
imports (typing, the json package).  Each check runs in a fresh
``python -I -S`` as PID 1's command does.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from ovis.boot import selfcmd

ROOT = Path(__file__).resolve().parent.parent


def imported_by(code: str) -> set[str]:
    """The modules a fresh isolated interpreter holds after *code* (read back by a file, so
    that the reader's own imports do not count)."""
    prog = (f"import sys; sys.path.append({str(ROOT)!r})\n{code}\n"
            "sys.stdout.write('\\n'.join(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", prog], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_stage1_imports_neither_typing_nor_json(tmp_path: Path) -> None:
    """ovis boot's modules up to stage 1's work, and the scripts and boot.json it writes."""
    mods = imported_by(
        "from ovis.cli import main, bootcmds\n"
        "from ovis.boot import signals, stage1, selfcmd\n"
        "assert bootcmds.quick(['boot', '-s', '/etc/ovis']) is not None\n"
        "selfcmd.argv(); selfcmd.stage_script(['--live', '/run/ovis', 'stage4'])\n"
        "from ovis.jsonlite import dumps\n"
        f"open({str(tmp_path / 'boot.json')!r}, 'w').write(dumps({{'a': [1, None], 'b': 'c'}}))\n")
    assert "ovis.boot.stage1" in mods
    assert not mods & {"typing", "json", "json.decoder", "json.encoder"}, \
        sorted(mods & {"typing", "json", "json.decoder", "json.encoder"})
    assert json.loads((tmp_path / "boot.json").read_text()) == {"a": [1, None], "b": "c"}


def test_literal_is_what_json_dumps_writes() -> None:
    rnd = random.Random(13)
    alphabet = "ab /\"'\\\n\t\x00\x7fé€😀$`"
    for _ in range(300):
        words = ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(12)))
                 for _ in range(rnd.randrange(4))]
        assert selfcmd._literal(words) == json.dumps(words)
        for w in words:
            assert selfcmd._literal(w) == json.dumps(w)
            if all(ord(c) < 0x10000 for c in w):  # (json writes others as surrogate pairs)
                assert eval(selfcmd._literal(w)) == w  # noqa: S307 - what the -c code does


def test_the_written_commands_still_run_this_ovis(tmp_path: Path) -> None:
    """The root written by _literal is the one the command puts on sys.path (a quote in it)."""
    root = tmp_path / "it's \"here\""
    (root / "ovis" / "cli").mkdir(parents=True)
    (root / "ovis" / "__init__.py").write_text("")
    (root / "ovis" / "cli" / "__init__.py").write_text("")
    (root / "ovis" / "cli" / "main.py").write_text(
        "import sys\ndef entrypoint():\n    print('ran', sys.argv[1:])\n")
    r = subprocess.run([*selfcmd.argv(sys.executable, root), "x", "y"], capture_output=True,
                       text=True, timeout=60)
    assert r.stdout == "ran ['x', 'y']\n", r.stderr


def test_aa_kill_and_aa_mvlog_stay_lean() -> None:
    """anopa's stage 3 runs aa-kill twice and stage 2 aa-mvlog once, each a new Python."""
    kill = imported_by("from ovis.cli.aa.kill import entrypoint, signals_for\n"
                       "import os\nassert signals_for(True, True, True) == [1, 15, 18, 9]")
    assert "ovis.cli.aa.kill" in kill and not kill & {"signal", "enum", "functools"}, \
        sorted(kill & {"signal", "enum", "functools"})
    mv = imported_by("from ovis.cli.aa.mvlog import entrypoint")
    assert "ovis.logs.mvlog" in mv and not mv & {"pathlib", "re", "shutil"}, \
        sorted(mv & {"pathlib", "re", "shutil"})


def test_mvlog_takes_str_or_path(tmp_path: Path) -> None:
    from ovis.logs.mvlog import mvlog

    label = "@400000006b0f60b71844f133"
    for kind in (str, Path):
        log = tmp_path / "boot.log"
        log.write_text(f"{label} first line\nsecond\n")
        log.chmod(0o640)
        dest = tmp_path / "var" / kind.__name__
        got = mvlog(kind(log), kind(dest))
        assert got == str(dest / label)
        assert (dest / label).read_text() == f"{label} first line\nsecond\n"
        assert (dest / label).stat().st_mode & 0o777 == 0o640
        assert os.readlink(dest / "current") == label and not log.exists()
        assert sorted(os.listdir(dest)) == [label, "current"]


def test_stage2_adds_neither_signal_py_nor_typing_nor_json() -> None:
    """Stage 2 (in stage 1's forked child) on top of what the engine's start imports."""
    mods = imported_by("from ovis.boot import stage2\n"
                       "from ovis.engine import install, s6backend, manager\n"
                       "from ovis.terminal import TerminalReporter")
    assert "ovis.boot.stage2" in mods
    assert not mods & {"signal", "typing", "json"}, sorted(mods & {"signal", "typing", "json"})

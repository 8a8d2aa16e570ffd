"""The read-only commands import little while they work, not only at import.

``ovis status`` and ``aa-status`` are what boot scripts call dozens of
times, and under an emulated CPU each module costs tens of milliseconds.
These tests run each command for real (a real s6-svscan, services up,
down and a oneshot) in a fresh ``python -I -S`` as the installed
launchers do, and read ``sys.modules`` at its exit: they fail when a change
brings pathlib (with fnmatch, re, enum, urllib.parse, ipaddress), json,
typing or enum back onto those paths, at import or lazily.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.livesys import REPO, system  # noqa: F401  (fixture)
from tests.test_aa_engine import Anopa, an, smoke  # noqa: F401  (fixture)

#: What the short read-only commands must not import, however they run.
NEVER = {"pathlib", "re", "fnmatch", "enum", "urllib", "urllib.parse", "ipaddress", "typing",
         "json", "dataclasses", "argparse", "signal", "shlex", "functools"}


def run_modules(entry: str, argv: list[str], env: dict[str, str] | None = None,
                cwd: Path | None = None) -> tuple[int, str, set[str]]:
    """(exit status, stdout, modules at exit) of *entry*'s entrypoint run as a launcher runs it."""
    prog = (f"import sys; sys.path.insert(0, {str(REPO)!r}); sys.argv = {[entry, *argv]!r}\n"
            "import atexit, os\n"
            "def dump():\n"
            "    with open(os.environ['MODS_OUT'], 'w') as f:\n"
            "        f.write('\\n'.join(sorted(sys.modules)))\n"
            "atexit.register(dump)\n"
            f"from {entry} import entrypoint\n"
            "sys.exit(entrypoint())\n")
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".mods") as f:
        e = dict(env or {}, MODS_OUT=f.name, PATH="/usr/bin:/bin")
        r = subprocess.run([sys.executable, "-I", "-S", "-c", prog], env=e, capture_output=True,
                           text=True, timeout=120, cwd=cwd)
        mods = set(f.read().split("\n"))
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout, mods


@pytest.fixture
def up(system):  # type: ignore[no-untyped-def]  # noqa: F811
    system.write("web", """
        [main]
        @type = classic
        @description = "a longrun up"
        [start]
        @execute = ( sleep 1000 )
    """)
    system.write("halted", """
        [main]
        @type = classic
        [start]
        @execute = ( sleep 1000 )
    """)
    system.write("setup", """
        [main]
        @type = oneshot
        [start]
        @execute = ( true )
    """)
    system.ovis("start", "web", "halted", "setup", check=True)
    system.ovis("stop", "halted", check=True)
    return system


# ovis status NAME, the detailed view: its dependencies and log file from the status index or
# the one ovis.json (no compiler), its log lines without re
@pytest.mark.parametrize("argv", [["status"], ["status", "-v", "0"], ["status", "web"],
                                  ["status", "-n", "3", "web", "halted", "setup"]], ids=" ".join)
def test_ovis_status_of_compiled_services_imports_no_heavy_module(up, argv) -> None:  # type: ignore[no-untyped-def]
    rc, out, mods = run_modules("ovis.cli.main", argv, up.env)
    shown = [a for a in argv[1:] if a.isalpha()] or ["web", "halted", "setup"]
    assert rc in (0, 1) and all(n in out for n in shown), out  # (1: a service asked for is down)
    assert "ovis.engine.status" in mods  # the command did its work (the test can see a broken run)
    assert not mods & NEVER, sorted(mods & NEVER)


def test_ovis_status_json_needs_json_alone(up) -> None:  # type: ignore[no-untyped-def]
    rc, out, mods = run_modules("ovis.cli.main", ["status", "--json"], up.env)
    assert rc == 0 and {d["name"] for d in json.loads(out)} >= {"web", "halted", "setup"}
    assert not mods & (NEVER - {"json", "re", "enum", "functools"}), sorted(mods & NEVER)


def _enabled_and_supervised(an: Anopa) -> None:
    """The smoke services enabled into the repository, their supervisors up."""
    smoke(an)
    rc, _, err = an.enable("-l", str(an.list))
    assert rc == 0, err
    an.start_svscan()
    an.wait_supervised("alpha")


def test_aa_status_imports_no_heavy_module(an: Anopa) -> None:  # noqa: F811
    _enabled_and_supervised(an)
    rc, _, err = an.aa("aa-start", "-r", str(an.repo), "-l", str(an.list))
    assert rc == 0, err
    for argv in (["-r", str(an.repo), "-a"], ["-r", str(an.repo), "alpha"],
                 ["-r", str(an.repo), "-a", "-n"]):
        rc, out, mods = run_modules("ovis.cli.aa.status", argv, cwd=an.root)
        assert rc == 0 and "alpha" in out, out
        assert "ovis.aa.status" in mods and not mods & NEVER, (argv, sorted(mods & NEVER))


#: What ovis start/stop and aa-start/aa-stop must not import (they still need pathlib, and re
#: and enum with it, for the compiler and the parsers); textwrap (66's Execute), shlex (a
#: finish script's quoting) have str-method stand-ins (tests/test_lean_helpers.py).
NOT_ON_START = {"typing", "json", "dataclasses", "argparse", "inspect", "ast", "textwrap",
                "shlex"}


def test_ovis_start_and_stop_import_no_typing_nor_json(up) -> None:  # type: ignore[no-untyped-def]
    up.write("late", """
        [main]
        @type = classic
        [start]
        @execute = ( sleep 1000 )
    """)
    for argv in (["start", "late"], ["stop", "late"], ["start", "late", "web"], ["stop", "--all"]):
        rc, _, mods = run_modules("ovis.cli.main", argv, up.env)
        assert rc == 0 and "ovis.engine.manager" in mods, argv
        # nor signal.py for longruns (a down-signal's name, the s6 backend's kill: the C
        # module _signal; a oneshot's subprocess brings it, as aa-start's below)
        assert not mods & (NOT_ON_START | {"signal"}), (argv, sorted(mods & NOT_ON_START))
    assert up.status("late")["late"]["state"] == "down"


def test_aa_start_and_stop_import_no_typing_nor_json(an: Anopa) -> None:  # noqa: F811
    _enabled_and_supervised(an)
    for entry, argv in (("ovis.cli.aa.start", ["-r", str(an.repo), "-l", str(an.list)]),
                        ("ovis.cli.aa.stop", ["-r", str(an.repo), "-a"])):
        rc, out, mods = run_modules(entry, argv, cwd=an.root)
        assert rc == 0 and "ovis.aa.run" in mods, (entry, out)
        assert not mods & NOT_ON_START, (entry, sorted(mods & NOT_ON_START))
        # they compile nothing (the repository is aa-enable's): no compile cache, no pickle
        assert not mods & {"ovis.service.cache", "pickle", "zlib"}, (entry, sorted(mods))


def test_aa_enable_imports_no_tempfile(an: Anopa) -> None:  # noqa: F811
    """aa-enable (anopa's stage 1, once per boot) stages each servicedir in a directory of its
    own without tempfile (random, bisect, weakref, sha512...), and leaves none behind."""
    smoke(an)
    rc, out, mods = run_modules("ovis.cli.aa.enable", ["-r", str(an.repo), "-S", str(an.src),
                                                       "-l", str(an.list)], cwd=an.root)
    assert rc == 0 and "Enabled: alpha" in out, out
    assert "ovis.aa.enable" in mods and (an.repo / "alpha" / "run").exists()
    assert not mods & (NOT_ON_START | {"tempfile", "random", "bisect"}), \
        sorted(mods & (NOT_ON_START | {"tempfile", "random", "bisect"}))
    assert not [p for p in an.repo.iterdir() if p.name.startswith(".aa-enable")]


def test_aa_enable_of_plain_servicedirs_imports_no_copy_or_cache_machinery(an: Anopa) -> None:  # noqa: F811
    """Plain servicedirs are compiled where they are (no staging copy: no shutil with its
    bz2, lzma and zlib) by a compiler whose models never come from the compile cache
    (no cache, no pickle), and no state record is written: each module costs tens of ms
    in anopa's stage 1 under TCG."""
    smoke(an)
    rc, out, mods = run_modules("ovis.cli.aa.enable", ["-r", str(an.repo), "-S", str(an.src),
                                                       "-l", str(an.list)], cwd=an.root)
    assert rc == 0 and "Enabled: alpha" in out and "Enabled: beta" in out, out
    assert (an.repo / "beta" / "needs" / "alpha").exists()
    # nor the engine's state records: aa-enable writes none
    heavy = {"shutil", "bz2", "lzma", "zlib", "ovis.service.cache", "pickle", "ovis.engine.state"}
    assert "ovis.service.compiler" in mods and not mods & heavy, sorted(mods & heavy)

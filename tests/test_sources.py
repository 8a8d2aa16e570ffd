"""Hostile search paths (issue 11): FIFOs, devices, huge files, link loops.

Each case is reproduced through the real ``ovis`` command with a hard
timeout (a hang fails the test instead of hanging the suite) and, where
memory could grow, under an address-space cap (``prlimit --as``): the
definition is refused with one ``ovis: error: FILE:LINE: KEY: ...`` line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from ovis.errors import DefinitionError
from ovis.service.repository import parse_definition
from ovis.service.sources import MAX_DEFINITION_BYTES, check_tree, read_source
from tests.livesys import LiveSystem

GOOD = "[Main]\nType = classic\n[Start]\nExecute = ( sleep 1000 )\n"
#: Address-space cap for commands that could be fooled into reading /dev/zero.
MEMORY_CAP = 400 * 1024 * 1024


@pytest.fixture()
def system(tmp_path: Path) -> Iterator[LiveSystem]:
    s = LiveSystem(tmp_path)
    s.write("good", GOOD)
    try:
        yield s
    finally:
        s.stop_scandir()


def ovis(system: LiveSystem, *args: str, cap: bool = False) -> subprocess.CompletedProcess[str]:
    """The real command, killed after 30 s (a hang is a failure, not a stuck suite)."""
    prefix = ["prlimit", f"--as={MEMORY_CAP}"] if cap else []
    cmd = [*prefix, sys.executable, "-m", "ovis", *args]
    return subprocess.run(cmd, env=system.env, capture_output=True, text=True, timeout=30)


def one_error(r: subprocess.CompletedProcess[str], where: Path, message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ovis: error: {where}:1: "), r.stderr
    assert message in lines[0]


def test_fifo_in_search_path_does_not_hang(system: LiveSystem) -> None:
    fifo = system.services / "pipe"
    os.mkfifo(fifo)
    one_error(ovis(system, "check", "pipe"), fifo, "not a regular file (a FIFO)")
    one_error(ovis(system, "start", "pipe"), fifo, "not a regular file (a FIFO)")
    r = ovis(system, "check")  # the whole search path: the good file is still checked
    assert r.returncode == 2 and "pipe" in r.stderr and "good" not in r.stderr
    system.start_scandir()
    r = ovis(system, "--json", "status")
    assert r.returncode == 0, r.stderr
    assert '"pipe"' in r.stdout and '"good"' in r.stdout


def test_definition_linked_to_dev_zero(system: LiveSystem) -> None:
    (system.services / "zero").symlink_to("/dev/zero")
    one_error(ovis(system, "check", "zero", cap=True), system.services / "zero", "not a regular file (a device)")
    one_error(ovis(system, "start", "zero", cap=True), system.services / "zero", "not a regular file (a device)")


def test_huge_definition_is_refused_unread(system: LiveSystem) -> None:
    big = system.services / "big"
    with big.open("wb") as f:
        f.truncate(MAX_DEFINITION_BYTES * 50)  # sparse: 50 MiB that cost no disk
    one_error(ovis(system, "check", "big", cap=True), big, "too large")


def test_read_source_bounds_and_types(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x" * 10)
    assert read_source(path, "f") == "x" * 10
    with pytest.raises(DefinitionError, match="too large"):
        read_source(path, "f", limit=5)
    with pytest.raises(DefinitionError, match=r":1: f: not a regular file \(a directory\)"):
        read_source(tmp_path, "f")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(DefinitionError, match="symbolic link loop"):
        read_source(loop, "loop")


def anopa(root: Path, name: str, files: dict[str, str]) -> Path:
    d = root / name
    d.mkdir()
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
        if rel.endswith("run") or rel in ("start", "stop"):
            (d / rel).chmod(0o755)
    return d


def test_anopa_number_of_5000_digits(system: LiveSystem) -> None:
    d = anopa(system.services, "digits", {"run": "#!/bin/sh\nexec sleep 100\n", "timeout-kill": "9" * 5000})
    one_error(ovis(system, "check", "digits"), d / "timeout-kill", "out of range 0..4294967295: 999")
    assert len(ovis(system, "check", "digits").stderr) < 300
    system.start_scandir()
    r = ovis(system, "--json", "status")
    assert r.returncode == 0 and '"digits"' in r.stdout, r.stderr


def test_anopa_extra_file_linked_to_dev_zero(system: LiveSystem) -> None:
    d = anopa(system.services, "zeroed", {"run": "#!/bin/sh\nexec sleep 100\n"})
    (d / "data").mkdir()
    (d / "data" / "blob").symlink_to("/dev/zero")
    one_error(ovis(system, "start", "zeroed", cap=True), d / "data" / "blob", "cannot be copied: a device")


def test_anopa_data_symlink_loop_leaves_nothing_behind(system: LiveSystem) -> None:
    d = anopa(system.services, "looped", {"run": "#!/bin/sh\nexec sleep 100\n"})
    (d / "data").mkdir()
    (d / "data" / "again").symlink_to(d / "data")
    system.start_scandir()
    before = sorted(p.relative_to(system.live) for p in system.live.rglob("*"))
    one_error(ovis(system, "start", "looped"), d / "data" / "again", "symbolic link loop")
    after = sorted(p.relative_to(system.live) for p in system.live.rglob("*"))
    assert after == before


def test_anopa_log_link_to_itself(system: LiveSystem) -> None:
    d = anopa(system.services, "selflog", {"run": "#!/bin/sh\nexec sleep 100\n"})
    (d / "log").symlink_to("log")
    one_error(ovis(system, "check", "selflog"), d / "log", "log: cannot read: symbolic link loop")


def test_unreadable_anopa_dir_is_one_error(tmp_path: Path) -> None:
    """As a user who cannot read one anopa dir, it is one error line; the others still parse.

    (``ovis status`` lists a definition raising a DefinitionError as invalid.)
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")  # CI runs as root
    root = tmp_path / "search"
    root.mkdir()
    for parent in (tmp_path, *tmp_path.parents):  # let the other user walk down to it
        if parent != Path("/"):
            parent.chmod(parent.stat().st_mode | 0o005)
    anopa(root, "ok", {"run": "#!/bin/sh\n"})
    (root / "closed").mkdir(mode=0o700)
    code = (
        "import json, pathlib\n"
        "from ovis.errors import DefinitionError\n"
        "from ovis.service.repository import parse_definition\n"
        f"root = pathlib.Path({str(root)!r})\n"
        "out = {}\n"
        "for n in ('ok', 'closed'):\n"
        "    try:\n"
        "        parse_definition(root / n, n)\n"
        "        out[n] = 'ok'\n"
        "    except DefinitionError as e:\n"
        "        out[n] = str(e)\n"
        "print(json.dumps(out))\n"
    )
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"ok": "ok", "closed": f"{root}/closed:1: closed: cannot read: Permission denied"}


def test_check_tree_bounds(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_text("x")
    os.mkfifo(tmp_path / "d" / "fifo")
    check_tree(tmp_path / "d", "d")  # files, dirs and FIFOs are fine
    (tmp_path / "d" / "e" / "up").symlink_to("..")
    with pytest.raises(DefinitionError, match=r"d/e/up:1: d/e/up: cannot be copied: symbolic link loop"):
        check_tree(tmp_path / "d", "d")


def test_frontend_in_its_own_directory(tmp_path: Path) -> None:
    home = tmp_path / "dbus"
    home.mkdir()
    (home / "dbus").write_text(GOOD)
    (home / "data").mkdir()
    assert parse_definition(home, "dbus").source == str(home / "dbus")
    (tmp_path / "s6rc").mkdir()
    (tmp_path / "s6rc" / "type").write_text("longrun\n")  # a type file wins: s6-rc, even without run
    with pytest.raises(DefinitionError, match=r"s6rc/run.*"):
        parse_definition(tmp_path / "s6rc", "s6rc")


def test_copyfrom_data_reaches_the_servicedir(system: LiveSystem) -> None:
    """A frontend in its own directory with its data: started, the data is in the servicedir."""
    home = system.services / "web"
    (home / "data").mkdir(parents=True)
    (home / "data" / "index.html").write_text("hello\n")
    (home / "web").write_text("[Main]\nType = classic\nCopyFrom = ( data )\n"
                              "[Start]\nExecute = ( cat data/index.html )\n")
    system.start_scandir()
    r = ovis(system, "start", "web")
    assert r.returncode == 0, r.stdout + r.stderr
    copied = [p for p in system.live.rglob("index.html")]
    assert copied and all(p.read_text() == "hello\n" for p in copied)
    assert any(p.parent.name == "data" and p.parent.parent.name == "web" for p in copied)

"""How the compiler writes a new servicedir (its cold-start path: strings, one open per file).

Modes must not depend on the caller's umask, the link and the servicedir
must survive their directories being removed under a long-lived process,
and ovis.json stays a JSON document holding the digest.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from ovis.paths import Paths
from ovis.service import cache
from ovis.service.compiler import Compiler
from ovis.service.repository import Repository

FRONTEND = """[Main]
Type = classic
{options}
[Start]
Execute = ( sleep 1 )
[Environment]
SECRET=value
"""


def _world(tmp_path: Path, options: str = "Options = ( !log )") -> tuple[Paths, Repository]:
    services = tmp_path / "services"
    services.mkdir()
    for n in ("a", "b"):
        (services / n).write_text(FRONTEND.format(options=options))
    (tmp_path / "live").mkdir(mode=0o700)
    p = Paths(skel=tmp_path / "skel", services=(services,), trees=tmp_path / "trees",
              live=tmp_path / "live", logdir=tmp_path / "log")
    cache.reset()
    return p, Repository(p.services)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    paths, repo = _world(tmp_path, options="")  # logged: log/run too
    old = os.umask(umask)
    try:
        Compiler(paths).compile(repo.load("a"))
    finally:
        os.umask(old)
    sd = paths.servicedir("a")
    assert _mode(sd / "run") == 0o700  # holds [Environment] values: root's only
    assert _mode(sd / "finish") == 0o755 and _mode(sd / "log" / "run") == 0o755
    assert _mode(sd / "ovis-env" / "SECRET") == 0o600
    assert (sd / "ovis-env" / "SECRET").read_bytes() == b"value"
    assert stat.S_ISDIR(os.lstat(sd / "event").st_mode) and _mode(sd / "event") & 0o7777 == 0o3730
    assert stat.S_ISDIR(os.lstat(sd / "log" / "event").st_mode)
    meta = json.loads((sd / "ovis.json").read_text())
    assert meta["name"] == "a" and len(meta["digest"]) == 64
    assert (sd / "down").exists()
    assert not [e for e in os.listdir(paths.servicedirs) if e.startswith(".")]  # no temporaries


def test_removed_directories_are_made_again(tmp_path: Path) -> None:
    """A Compiler remembers the directories it made; removed behind it, they are made again."""
    paths, repo = _world(tmp_path)
    comp = Compiler(paths)
    comp.compile(repo.load("a"))
    assert comp.link("a") and not comp.link("a")
    shutil.rmtree(paths.servicedirs)
    shutil.rmtree(paths.scandir)
    assert comp.compile(repo.load("b"))
    assert comp.link("b")
    assert os.readlink(paths.scandir / "b") == os.path.relpath(paths.servicedir("b"), paths.scandir)
    assert (paths.scandir / "b" / "run").is_file()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_copied_files_keep_their_bytes_mode_and_digest(tmp_path: Path, umask: int) -> None:
    """An anopa directory's files are copied with one read each: same bytes, the
    source's exact mode whatever the umask, and the digest of a file is what
    it always was (sha256 of its bytes and octal mode: a changed formula would
    make ``ovis apply`` restart every such service after an upgrade)."""
    from hashlib import sha256

    from ovis.service.compiler import _path_digest

    src = tmp_path / "services" / "d"
    src.mkdir(parents=True)
    (src / "run").write_text("#!/bin/sh\nexec sleep 1\n")
    (src / "run").chmod(0o750)
    (src / "data").write_bytes(b"\x00binary\xff")
    (src / "data").chmod(0o604)
    paths = Paths(skel=tmp_path / "skel", services=(tmp_path / "services",),
                  trees=tmp_path / "trees", live=tmp_path / "live", logdir=tmp_path / "log")
    old = os.umask(umask)
    try:
        cache.reset()
        svc = Repository(paths.services).load("d")
        Compiler(paths).compile(svc)
    finally:
        os.umask(old)
    sd = paths.servicedir("d")
    assert (sd / "run").read_bytes() == (src / "run").read_bytes()
    assert stat.S_IMODE((sd / "run").stat().st_mode) == 0o750
    assert (sd / "data").read_bytes() == b"\x00binary\xff"  # an extra file of the directory
    assert stat.S_IMODE((sd / "data").stat().st_mode) == 0o604
    for f in ("run", "data"):
        p = src / f
        want = sha256(p.read_bytes() + oct(p.stat().st_mode).encode()).hexdigest()
        assert _path_digest(p) == want
    os.mkfifo(tmp_path / "fifo")
    assert _path_digest(tmp_path / "fifo") == sha256(b"fifo").hexdigest()
    assert _path_digest(tmp_path / "absent") == sha256().hexdigest()


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_000])
def test_a_file_is_read_whole_whatever_the_size_given(tmp_path: Path, size: int) -> None:
    """_read_file reads one byte more than the stat's size and stops at a short read: a
    file that grew (or shrank) since its stat is still read whole."""
    from ovis.service.compiler import _read_file

    f = tmp_path / "f"
    data = bytes(i % 251 for i in range(size))
    f.write_bytes(data)
    for told in (size, 0, max(0, size - 1), size + 10):
        assert _read_file(f, told) == data, told


def test_a_copied_file_is_written_with_the_bytes_and_mode_digested(tmp_path: Path) -> None:
    """An anopa run file copied into a new servicedir: its bytes and mode, read once."""
    from ovis.service.formats.anopa import parse_anopa_dir

    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "run").write_text("#!/bin/sh\nexec sleep 1\n")
    (src / "run").chmod(0o750)
    (src / "nosetsid").write_text("")
    (src / "nosetsid").chmod(0o640)
    (tmp_path / "live").mkdir(mode=0o700)
    p = Paths(skel=tmp_path / "skel", services=(tmp_path / "src",), trees=tmp_path / "trees",
              live=tmp_path / "live", logdir=tmp_path / "log")
    comp = Compiler(p, cached=False)
    old = os.umask(0o077)
    try:
        assert comp.compile(parse_anopa_dir(src, "a"))
    finally:
        os.umask(old)
    d = p.servicedir("a")
    assert (d / "run").read_bytes() == b"#!/bin/sh\nexec sleep 1\n"
    assert stat.S_IMODE((d / "run").stat().st_mode) == 0o750
    assert stat.S_IMODE((d / "nosetsid").stat().st_mode) == 0o640
    digest = json.loads((d / "ovis.json").read_text())["digest"]
    assert comp.digest(parse_anopa_dir(src, "a")) == digest

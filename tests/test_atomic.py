"""ovis.atomic: temporaries named after the writing process, whole files only."""

from __future__ import annotations

import os
from pathlib import Path

from ovis import atomic


def test_write_bytes_replaces_the_file_whole_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "rec.json"
    target.write_text("old\n")
    atomic.write_bytes(target, b"new\n", mode=0o640)
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["rec.json"]  # no temporary left


def test_a_forked_child_names_its_temporaries_after_itself(tmp_path: Path) -> None:
    # The pid in a temporary's name is cached per process: a child writing
    # with its parent's pid would collide with the parent's temporaries, and
    # clean_stale_temporaries would take a live child's file for the parent's.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            real_rename = os.rename
            seen: list[str] = []

            def spy(src: str, dst: str) -> None:
                seen.append(os.path.basename(src))
                real_rename(src, dst)

            os.rename = spy  # type: ignore[assignment]
            atomic.write_bytes(tmp_path / "child.json", b"x")
            os.write(w, f"{os.getpid()} {seen[0]}".encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 200).decode()
    os.close(r)
    os.waitpid(pid, 0)
    child, tmpname = out.split()
    assert tmpname == f".child.json.{child}.tmp"
    assert int(child) != os.getpid()
    assert (tmp_path / "child.json").read_bytes() == b"x"


def test_write_with_streams_into_a_temporary_renamed_whole(tmp_path: Path) -> None:
    import pickle

    target = tmp_path / "cache"
    target.write_bytes(b"old")
    data = {"x": list(range(100_000))}  # several pickle frames
    atomic.write_with(str(target), lambda f: pickle.dump(data, f, protocol=5), 0o600)
    assert pickle.loads(target.read_bytes()) == data
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["cache"]

    def half(f) -> None:  # type: ignore[no-untyped-def]
        f.write(b"half of it")
        raise OSError("disk full")

    try:
        atomic.write_with(target, half, 0o600)
    except OSError as e:
        assert str(e) == "disk full"
    else:
        raise AssertionError("the writer's error was swallowed")
    assert pickle.loads(target.read_bytes()) == data  # the old file, whole
    assert sorted(os.listdir(tmp_path)) == ["cache"]  # and no temporary

"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every state file ovis writes goes through here: write a temporary sibling,
then rename(2) it over the target (rename is atomic within a filesystem).
"""

from __future__ import annotations

import os
from pathlib import Path


def write_bytes(path: Path, data: bytes, mode: int = 0o644, fsync: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_text(path: Path, text: str, mode: int = 0o644, fsync: bool = False) -> None:
    write_bytes(path, text.encode(), mode, fsync)


def mkdir_p(path: Path, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)

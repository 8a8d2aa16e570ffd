"""``ovis log NAME``: a service's s6-log output with TAI64N stamps as local time."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

from ovis.engine.manager import Manager
from ovis.errors import StateError, UnknownService
from ovis.s6.tai import parse_tai64n_label


def localise(line: str) -> str:
    """``@4000...  text`` -> ``2026-11-23 18:09:35.783 text``; other lines unchanged."""
    if line.startswith("@") and len(line) >= 25:
        try:
            t = parse_tai64n_label(line[:25])
        except ValueError:
            return line
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"
        return stamp + line[25:]
    return line


def log_file(manager: Manager, name: str) -> Path:
    from ovis.service.compiler import log_destination

    live = manager.live_services()
    svc = live.get(name)
    if svc is None:
        if manager.repo.locate(name) is None:
            raise UnknownService(name)
        svc = manager.repo.load(name)
    return (log_destination(svc, manager.paths) or manager.paths.logdir_of(name)) / "current"


def tail(path: Path, n: int) -> list[str]:
    with open(path, errors="replace") as f:
        return list(deque(f, maxlen=n)) if n > 0 else []


def follow(path: Path) -> Iterator[str]:
    """New lines as s6-log writes them, surviving rotation (inode change)."""
    f = open(path, errors="replace")
    f.seek(0, os.SEEK_END)
    ino = os.fstat(f.fileno()).st_ino
    while True:
        line = f.readline()
        if line:
            yield line
            continue
        time.sleep(0.2)
        try:
            if os.stat(path).st_ino != ino:
                f.close()
                f = open(path, errors="replace")
                ino = os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            pass


def emit(lines: Iterable[str]) -> None:
    for line in lines:
        sys.stdout.write(localise(line.rstrip("\n")) + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace, manager: Manager) -> int:
    path = log_file(manager, args.name)
    if not path.exists():
        raise StateError(f"{args.name}: no log yet ({path})")
    emit(tail(path, args.lines))
    if args.follow:
        try:
            emit(follow(path))
        except KeyboardInterrupt:
            return 0
    return 0

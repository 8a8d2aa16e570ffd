"""A runner job that settles when its pipe is written to (as an s6 event fifo would):
the engine's runner tests drive the loop with it, without s6."""

from __future__ import annotations

import os

from ovis.engine.transaction import Result


class PipeJob:
    """Writes ``begin NAME`` to *log* when made and ``close NAME`` when closed."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.r, self.w = os.pipe()
        self.deadline = None
        self.log.append(f"begin {name}")

    def fileno(self) -> int:
        return self.r

    def on_readable(self, now: float) -> Result | None:
        os.read(self.r, 10)
        return Result(True)

    def on_timeout(self, now: float) -> Result | None:
        return None

    def close(self) -> None:
        self.log.append(f"close {self.name}")
        os.close(self.r)
        os.close(self.w)

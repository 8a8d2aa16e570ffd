"""Reading services' s6-log output: the library behind ``ovis log`` and ``ovis status NAME``.

s6-log writes ``DIR/current`` (rotated to ``@stamp.s`` archives), each line
prefixed by a TAI64N label (``t``) or an ISO 8601 stamp (``T``) or nothing.
Lines are parsed into :class:`Line` (service, epoch time, text) so that
several services can be merged by time, filtered by ``--since`` and
printed as local time or JSON.  Nothing here prints.
"""

from __future__ import annotations

import os
import time
from _collections import deque  # (collections itself: keyword, reprlib, itertools... for this one type)

from ovis.errors import UnknownService
from ovis.record import Record
from ovis.s6.tai import parse_tai64n_label

TYPE_CHECKING = False  # typing costs ~10 modules at import
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Iterator

    from ovis.engine.manager import Manager

#: The regular expressions of ``ovis log`` (stamps, --since), compiled on first use:
#: ``ovis status NAME`` reads its log lines through localise() and tail(), and re
#: costs some 20 modules (enum, functools...) at import.
_PATTERNS = {"iso": r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?\s",
             "rel": r"^-?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?(?:\s*ago)?$"}
_compiled: dict[str, Any] = {}


def _pattern(name: str) -> Any:
    p = _compiled.get(name)
    if p is None:
        import re

        p = _compiled[name] = re.compile(_PATTERNS[name])
    return p


class Line(Record):
    __slots__ = ("service", "time", "text")

    def __init__(self, service: str, time: float | None, text: str) -> None:
        self.service = service
        self.time = time  # epoch seconds; None when the line carries no stamp
        self.text = text

    def local(self, prefix: bool = False) -> str:
        """``2026-11-23 18:09:35.783 [name: ]text``."""
        who = f"{self.service}: " if prefix else ""
        if self.time is None:
            return who + self.text
        return f"{stamp(self.time)} {who}{self.text}"


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def parse(service: str, raw: str) -> Line:
    line = raw.rstrip("\n")
    if line.startswith("@") and len(line) >= 25:
        try:
            return Line(service, parse_tai64n_label(line[:25]), line[25:].lstrip(" "))
        except ValueError:
            pass
    m = _pattern("iso").match(line)
    if m:
        try:
            t = time.mktime(time.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S"))
            frac = float(m.group(3)) if m.group(3) else 0.0
            return Line(service, t + frac, line[m.end():])
        except ValueError:
            pass
    return Line(service, None, line)


def localise(line: str) -> str:
    """``@4000...  text`` -> ``2026-11-23 18:09:35.783 text``; other lines unchanged."""
    if line.startswith("@") and len(line) >= 25:
        try:
            t = parse_tai64n_label(line[:25])
        except ValueError:
            return line
        return stamp(t) + line[25:]
    return line


def log_file(manager: Manager, name: str) -> Path:
    """``current`` of *name*'s log: compiled model first, else its definition."""
    from pathlib import Path  # (ovis log; ovis status NAME reads log_current_of's str)

    return Path(log_current_of(manager, name))


def log_current_of(manager: Manager, name: str) -> str:
    """:func:`log_file` as a str: no pathlib for ``ovis status NAME`` of a service not compiled."""
    from ovis.paths import check_name
    from ovis.service.compiler import log_destination

    one = getattr(manager, "live_service", None)  # a status View reads this one's model alone
    svc = one(name) if one is not None else manager.live_services().get(name)
    if svc is None:
        if manager.repo.locate(name) is None:
            raise UnknownService(name)
        svc = manager.repo.load(name)
    dest = log_destination(svc, manager.paths) or f"{manager.paths.logdir_str}/{check_name(name)}"
    return f"{dest}/current"


def logged_services(manager: Manager) -> list[str]:
    """Every service with a log: compiled in LIVE, or a directory under the log dir."""
    names = set(manager.live_services())
    try:
        names |= {e for e in os.listdir(manager.paths.logdir)
                  if not e.startswith(".") and (manager.paths.logdir / e / "current").exists()}
    except OSError:
        pass
    return sorted(names)


def tail(path: Path, n: int) -> list[str]:
    with open(path, errors="replace") as f:
        return list(deque(f, maxlen=n)) if n > 0 else []


def read_lines(path: Path, service: str) -> list[Line]:
    try:
        with open(path, errors="replace") as f:
            return [parse(service, raw) for raw in f]
    except FileNotFoundError:
        return []


def last(files: dict[str, Path], n: int | None, since: float | None = None) -> list[Line]:
    """The last *n* lines (None: all) of several logs merged by time.

    A line without a stamp keeps its place after the previous stamped line
    of its own log; ``since`` drops lines stamped earlier (and unstamped
    ones, which cannot be placed).
    """
    if n == 0:
        return []
    merged: list[tuple[float, int, int, Line]] = []
    for k, (name, path) in enumerate(sorted(files.items())):
        if n is not None and since is None:
            lines = [parse(name, raw) for raw in _tail_or_empty(path, n)]  # no need to read it all
        else:
            lines = read_lines(path, name)
        t_prev = 0.0
        for i, ln in enumerate(lines):
            t_prev = ln.time if ln.time is not None else t_prev
            if since is not None and (ln.time is None or ln.time < since):
                continue
            merged.append((t_prev if len(files) > 1 else 0.0, k, i, ln))
    merged.sort(key=lambda x: (x[0], x[1], x[2]))
    out = [x[3] for x in merged]
    return out[-n:] if n is not None and len(out) > n else out


def _tail_or_empty(path: Path, n: int) -> list[str]:
    try:
        return tail(path, n)
    except FileNotFoundError:
        return []


class _Followed:
    """One log file being followed; reopened when s6-log rotates it."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.f = None
        self.ino = None
        self.partial = ""
        self._open(at_end=True)

    def _open(self, at_end: bool) -> None:
        try:
            f = open(self.path, errors="replace")
        except FileNotFoundError:
            return
        if at_end:
            f.seek(0, os.SEEK_END)
        self.f = f
        self.ino = os.fstat(f.fileno()).st_ino

    def read(self) -> list[Line]:
        out: list[Line] = []
        if self.f is None:
            self._open(at_end=False)  # appeared after we started: all of it is new
            if self.f is None:
                return out
        while True:
            chunk = self.f.readline()
            if not chunk:
                break
            if not chunk.endswith("\n"):
                self.partial += chunk  # s6-log is mid-line: wait for the rest
                break
            out.append(parse(self.name, self.partial + chunk))
            self.partial = ""
        if not out:
            try:
                if os.stat(self.path).st_ino != self.ino:  # rotated: read the new current
                    self.f.close()
                    self._open(at_end=False)
            except FileNotFoundError:
                pass
        return out


def follow(files: dict[str, Path], interval: float = 0.1) -> Iterator[Line]:
    """New lines of several logs as s6-log writes them, surviving rotation."""
    followed = [_Followed(n, p) for n, p in sorted(files.items())]
    while True:
        batch: list[Line] = []
        for fl in followed:
            batch.extend(fl.read())
        if batch:
            batch.sort(key=lambda ln: ln.time if ln.time is not None else 0.0)
            yield from batch
        else:
            time.sleep(interval)


_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: ``@EPOCH``, ``-5m`` / ``5min ago``, ``HH:MM[:SS]`` (today),
    ``YYYY-MM-DD[ HH:MM[:SS]]`` (local time), ``today``, ``yesterday``.

    Raises ValueError for anything else (the CLI makes it a usage error).
    """
    now = time.time() if now is None else now
    s = text.strip()
    if s.startswith("@"):
        return float(s[1:])
    midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    if s in ("today", "yesterday"):
        return midnight - (86400 if s == "yesterday" else 0)
    if s == "now":
        return now
    m = _pattern("rel").match(s)
    if m and (s.startswith("-") or "ago" in s or m.group(2)):
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(s, fmt))
        except ValueError:
            pass
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            t = time.strptime(s, fmt)
            return midnight + t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec
        except ValueError:
            pass
    raise ValueError(text)

"""``LIVE/status-index``: what the status table needs of every compiled service, in one file.

Why: ``ovis status`` of a thousand services opened and decoded a thousand
``ovis.json`` files (one per servicedir) before reading a single
``supervise/status``.  The engine writes this index after it compiled a
transaction's services; ``ovis status`` then reads one file and ``stat``\\ s
each ``ovis.json`` instead of reading it.

It is a cache, never a source of truth.  Each entry records the identity
of the ``ovis.json`` it was taken from (device, inode, size, mtime and ctime
in ns: the compiler writes ``ovis.json`` by temp + rename, so any rewrite
makes a new inode and moves the ctime, which no user can set back); a
reader uses the entry only while the servicedir's ``ovis.json`` still has
that identity, and reads the file itself otherwise.  A servicedir the index
does not know (compiled by an older ovis, or by a transaction killed before
it wrote the index) is read the old way; an entry whose servicedir is gone
is dropped.  So a stale, missing or corrupt index costs reads, never a
wrong line.

Trust: the index is used only when it is a regular file (not a symlink)
owned by root or by the reader, writable by nobody else, in a LIVE directory
owned by root or by the reader and writable by nobody else; otherwise it is
ignored (and the writer does not write it).  Its entries hold what the
``ovis.json`` files hold, which are world-readable too.  Written atomically
(temp + rename, :mod:`ovis.atomic`), 0644.

Stdlib ``os``/``stat``/``json`` only: ``ovis status`` imports it.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # no typing at run time: ovis status imports this module
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

FILE = "status-index"
#: In an anopa repository (LIVE's anopa layout) ovis's own files are hidden
#: from anopa's tools, which list the repository: the index too.
ANOPA_FILE = ".ovis-status-index"
META = "ovis.json"  # ovis.service.compiler.META (not imported: the reader needs no compiler)
_FORMAT = 1
_MAX_SIZE = 64 << 20

#: Positions in an entry (a JSON list): the ovis.json identity, then the model's fields.
IDENT = slice(0, 5)
KIND, DESCRIPTION, SOURCE, NOTIFY, ESSENTIAL, CONTENTS, DEPENDS, WANTS = range(5, 13)


def ident(st: os.stat_result) -> list[int]:
    """The identity of an ``ovis.json`` an entry is valid for."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _trusted(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def file_of(layout: str) -> str:
    """The index's name in a LIVE of *layout* (ovis.paths.Paths.layout)."""
    return ANOPA_FILE if layout == "anopa" else FILE


def load(live: str, file: str = FILE) -> dict[str, list]:
    """The entries of *live*'s index *file* ({} when missing, untrusted or corrupt).

    An entry is checked by :func:`valid` only where it is used.
    """
    try:
        if not _trusted(os.stat(live)):
            return {}
        fd = os.open(f"{live}/{file}", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _trusted(st) or st.st_size > _MAX_SIZE:
            return {}
        from ovis.jsonlite import loads
        from ovis.smallfile import read_fd

        data = loads(read_fd(fd))
    except (OSError, ValueError):
        return {}
    finally:
        os.close(fd)
    if not (isinstance(data, dict) and data.get("format") == _FORMAT
            and isinstance(data.get("services"), dict)):
        return {}
    return data["services"]


def valid(e: object, st: os.stat_result) -> bool:
    """*e* is an entry :func:`entry` could have written, for the ``ovis.json`` whose stat is *st*."""
    if type(e) is not list or len(e) != 13 or e[4] != st.st_ctime_ns or e[1] != st.st_ino:
        return False
    contents = e[CONTENTS]
    return (e[IDENT] == ident(st) and e[KIND] in _KINDS and type(e[DESCRIPTION]) is str
            and type(e[SOURCE]) is str and (e[NOTIFY] is None or type(e[NOTIFY]) is int)
            and type(e[ESSENTIAL]) is bool and type(contents) is list
            and (not contents or all(type(x) is str for x in contents))
            and type(e[DEPENDS]) is list and type(e[WANTS]) is list)


_KINDS = frozenset(("longrun", "oneshot", "bundle"))


def source_text(src: str) -> str:
    """What ``str(Service.source)`` prints for the ``source`` an ``ovis.json`` holds."""
    if not src or "//" in src or "/." in src or src.startswith("./") or src.endswith("/"):
        from ovis.paths import normpath

        src = normpath(src)
    return src


def entry(st: os.stat_result, meta: dict) -> list:
    """The index entry of a decoded ``ovis.json`` whose stat is *st* (ValueError if malformed)."""
    def names(key: str) -> list[str]:
        return [str(x) for x in meta.get(key) or []]

    kind = meta["kind"] if isinstance(meta, dict) else None
    if kind not in _KINDS:
        raise ValueError(f"not a kind: {kind!r}")
    notify = meta.get("notify")
    return [*ident(st), kind, str(meta.get("description", "")),
            source_text(str(meta.get("source", ""))),
            int(notify) if isinstance(notify, int) else None, bool(meta.get("essential")),
            names("contents"), names("depends"), names("wants")]


def read_meta(path: str) -> tuple[os.stat_result, dict] | None:
    """(fstat, decoded) of the ``ovis.json`` at *path*, None when unreadable or not an object."""
    from ovis.smallfile import read_json_object

    return read_json_object(path)


def refresh(live: str, servicedirs: str, names: Iterable[str], file: str = FILE) -> None:
    """Bring the index up to date for *names* (just compiled) and for servicedirs it lacks.

    Called by the engine at the end of each start transaction.  An entry
    whose ``ovis.json`` kept its identity is kept without a read; other
    entries are checked when their service is in a transaction again (a
    reader checks each one anyway); a servicedir that is gone loses its
    entry.  Two transactions ending at once may each write: the last rename
    wins, and what it lacks is read by ``ovis status`` and added by the next
    refresh.  Never raises for a file it cannot read or write: it is a cache.
    """
    try:
        if not _trusted(os.stat(live)):
            return
    except OSError:
        return
    old = load(live, file)
    new = dict(old)
    try:
        present = set(os.listdir(servicedirs))
    except OSError:
        present = set()
    # this transaction's services, and servicedirs the index does not know yet
    # (compiled by a transaction killed before its refresh, or by an older ovis)
    todo = {n for n in names if n in present} | {n for n in present - old.keys()
                                                  if not n.startswith(".")}
    for n in todo:
        path = f"{servicedirs}/{n}/{META}"
        try:
            st = os.stat(path)
        except OSError:
            new.pop(n, None)
            continue
        e = old.get(n)
        if e is not None and valid(e, st):
            continue
        got = read_meta(path)
        if got is None or got[1].get("name") != n:
            new.pop(n, None)
            continue
        try:
            new[n] = entry(*got)
        except (ValueError, KeyError, TypeError):
            new.pop(n, None)
    for n in [n for n in new if n not in present]:
        del new[n]
    if new == old:  # also: no index yet and nothing to index (a start refused as bad input)
        return
    from ovis import atomic

    try:
        atomic.write_with(f"{live}/{file}", lambda f: _write(f, new), 0o644)
    except OSError:
        pass


#: Entries encoded per piece by :func:`_write`.
_CHUNK = 64


def _write(f: Any, services: dict[str, list]) -> None:
    """``dumps({"format": _FORMAT, "services": services}, separators=(",", ":"))``, written
    a few entries at a time: json's encoder keeps every small piece of its output until it
    joins them (some 30,000 strings for 1000 services: a megabyte and more at the end of a
    cold start, its peak RSS); the bytes are the same."""
    from ovis.jsonlite import dumps

    f.write(b'{"format":%d,"services":{' % _FORMAT)
    items = list(services.items())
    for i in range(0, len(items), _CHUNK):
        text = dumps(dict(items[i:i + _CHUNK]), separators=(",", ":"))
        f.write((b"," if i else b"") + text[1:-1].encode())
    f.write(b"}}")

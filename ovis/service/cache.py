"""The compiled-model cache: unchanged definitions are neither parsed nor recompiled.

Why: ``ovis start``/``apply`` of hundreds of services parsed and compiled
every definition of the closure at each call (about 0.6 ms of CPU per
service), only to find the servicedir already up to date.  This cache keeps,
per service name, the parsed and validated :class:`Service` and the digest
its compilation gave, keyed by everything the result depends on:

* every file the definition was read from: the search path entry (a
  directory format's whole tree), the files it copies (``CopyFrom``,
  anopa's extra files) and any other file read through
  :func:`ovis.service.sources.read_bytes`, each by path, ``st_dev``,
  ``st_ino``, ``st_size``, ``st_mtime_ns``, ``st_ctime_ns`` and mode (a
  write always moves ``st_ctime_ns``, which no user can set back);
* the instance name and the path the search path chose;
* ovis itself (its version and the identity of the files of
  ``ovis/service/`` and the modules they use);
* for a service with a RunAs: ``/etc/passwd``, ``/etc/group`` and
  ``/etc/nsswitch.conf`` (names are resolved when loading and compiling);
* for its digest also the compile environment: LIVE and log paths, root or
  not, the ``execlineb`` found, the PATH tools are looked up on, container
  console logs, the interpreter named by essential services' ``finish``.

The file holds the keys of every entry (plain data) and the models in a
few pickles (buckets of about :data:`CHUNK` services, by a CRC of the name), each
unpickled at the first lookup of one of its services whose key still
matches: a warm start of hundreds paid one unpickle (and its class
look-ups) per service before, now a few per command, and a command that
needs one service of thousands unpickles one bucket.  A save re-pickles
only the buckets whose entries changed.

It lives in ``LIVE/compile-cache`` (0600, written atomically, in a LIVE
owned by the caller and writable by nobody else); a file that is not a
regular file owned by the caller with no group/other access, or that does
not unpickle into exactly the model's classes, is ignored and rewritten,
never trusted: unpickling allows no other class, so a planted file cannot
run code, and a planted but well-formed one cannot be placed there by
anyone but the owner.  A stale or lost cache only costs a parse.
"""

from __future__ import annotations

import atexit
import io
import os
import _pickle as pickle  # what pickle re-exports, without pickle.py's import of re
import stat
import sys
import zlib
TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Any

from ovis.service.model import Service

FILE = "compile-cache"
_PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL of the Pythons ovis runs on (3.8+)
_FORMAT = 5  # 1: one model pickle per entry; 2: one for the tree; 3: chunks read at once;
#             4: buckets of models by the name's CRC, each read when one of it is needed;
#             5: the models' paths are str (no pathlib in a start or a status)
#: Models per bucket, about (the count is 1 + entries // CHUNK): a pickler's memo holds
#: every object it wrote until it is done (3.3 MB for 1000 services in one pickle, the
#: cold start's peak RSS; a third of a megabyte in pickles of 50), and a command that
#: needs one service unpickles one bucket.
CHUNK = 50
_MAX_ENTRIES = 10_000  # entries walked per definition tree; beyond, not cached
_ID_FILES = ("/etc/passwd", "/etc/group", "/etc/nsswitch.conf")


def _ident(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def tree_key(path: str) -> list[Any] | None:
    """Identity of *path* and, for a directory, of everything under it (links followed).

    None when the tree is too large or loops: such a definition is not cached.
    """
    out: list[Any] = []
    budget = [_MAX_ENTRIES]

    def walk(p: str, seen: frozenset[tuple[int, int]]) -> bool:
        ident = _ident(p)
        out.append((p, ident))
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if ident is None or not stat.S_ISDIR(ident[5]):
            return True
        if (ident[0], ident[1]) in seen:
            return False
        try:
            names = sorted(os.listdir(p))
        except OSError:
            return False
        inner = seen | {(ident[0], ident[1])}
        return all(walk(os.path.join(p, n), inner) for n in names)

    return out if walk(path, frozenset()) else None


def _code_key() -> tuple[Any, ...]:
    """What ovis's own code contributes: its version and the compiler's sources."""
    import ovis

    root = os.path.dirname(os.path.abspath(ovis.__file__))
    files: list[Any] = []
    for base, dirs, names in os.walk(os.path.join(root, "service")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [(os.path.join(base, n), _ident(os.path.join(base, n)))
                  for n in sorted(names) if n.endswith(".py")]
    for mod in ("paths.py", "atomic.py", "errors.py", "record.py", "__init__.py"):
        files.append((mod, _ident(os.path.join(root, mod))))
    return (_FORMAT, ovis.__version__, sys.version, tuple(files))


def ids_key() -> tuple[Any, ...]:
    """Identity of the user and group databases (RunAs resolution)."""
    return tuple(_ident(p) for p in _ID_FILES)


def _uses_ids(svc: Service) -> bool:
    progs = [svc.start, svc.stop] + ([svc.logger.program] if svc.logger else [])
    return bool(any(p is not None and p.runas for p in progs) or (svc.logger and svc.logger.runas))


class _ModelUnpickler(pickle.Unpickler):
    """Builds only ovis's model classes (their paths are str): nothing in the file can run code."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "ovis.service.model" and name in ("Service", "Program", "LoggerSpec",
                                                       "Kind", "ProgramKind"):
            import ovis.service.model as model

            return getattr(model, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed")


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed")


class Entry:
    """One service: where it was read, the key, its model, its digest.

    *model* is None for an entry read from the file until its bucket of
    models is unpickled (:meth:`CompileCache._models`, once, at the first
    lookup in it whose key matches); an entry made by this process keeps its model, which
    is pickled, with its bucket, only when the cache is saved after the
    transaction: a cold start does not pay a pickle before starting anything.
    """

    __slots__ = ("path", "key", "ids", "compiled", "model")

    def __init__(self, path: str, key: list[Any], ids: tuple[Any, ...] | None,
                 compiled: tuple[Any, ...] | None = None, model: Service | None = None) -> None:
        self.path, self.key, self.ids, self.compiled = path, key, ids, compiled
        self.model = model

    def row(self) -> tuple[Any, ...]:
        """The entry's keys as saved (its model goes into its bucket's pickle)."""
        return (self.path, self.key, self.ids, self.compiled)


class CompileCache:
    """The cache of one LIVE directory, shared by the repository and the compiler."""

    def __init__(self, live: str | os.PathLike[str]) -> None:
        from ovis.paths import normpath

        self.dir = normpath(live)
        self.file = f"{self.dir}/{FILE}"
        self._entries: dict[str, Entry] | None = None
        self._blobs: list[bytes] = []  # the file's buckets of models, pickled
        self._unpickled: set[int] = set()  # buckets whose models were given to their entries
        self._changed: set[int] = set()  # buckets (of the file's count) with an entry stored anew
        self._by_id: dict[int, tuple[Service, Entry]] = {}
        self._dirty = False
        self._code: tuple[Any, ...] | None = None
        self._ids: tuple[Any, ...] | None = None
        self.parsed = 0  # definitions parsed by this process (what the tests count)

    # Reading ------------------------------------------------------------------
    def _trusted_dir(self) -> bool:
        try:
            st = os.stat(self.dir)
        except OSError:
            return False
        return st.st_uid == os.geteuid() and not st.st_mode & 0o022

    def _load(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        self._entries = {}
        if not self._trusted_dir():
            return self._entries
        try:
            fd = os.open(self.file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return self._entries
        try:
            st = os.fstat(fd)
            if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()
                    or st.st_mode & 0o077 or st.st_size > 256 << 20):
                return self._entries
            with os.fdopen(os.dup(fd), "rb") as f:
                data = _PlainUnpickler(f).load()
            if not (isinstance(data, tuple) and len(data) == 4 and data[0] == _FORMAT
                    and data[1] == self.code_key() and isinstance(data[2], dict)
                    and isinstance(data[3], tuple) and data[3]
                    and all(isinstance(b, bytes) for b in data[3])):
                return self._entries
            for name, row in data[2].items():
                if (isinstance(name, str) and isinstance(row, tuple) and len(row) == 4
                        and isinstance(row[0], str)):
                    self._entries[name] = Entry(*row)
            self._blobs = list(data[3])
        except Exception:  # a corrupt file is only a cache miss  # noqa: BLE001
            self._entries = {}
        finally:
            os.close(fd)
        return self._entries

    def code_key(self) -> tuple[Any, ...]:
        if self._code is None:
            self._code = _code_key()
        return self._code

    def _ids_key(self) -> tuple[Any, ...]:
        if self._ids is None:
            self._ids = ids_key()
        return self._ids

    def lookup(self, name: str, path: str) -> Service | None:
        """The cached model of *name* read from *path*, if nothing it depends on changed."""
        entry = self._load().get(name)
        if entry is None or entry.path != str(path):
            return None
        if entry.ids is not None and entry.ids != self._ids_key():
            return None
        roots, walked = entry.key
        if _walk(roots) != walked:
            return None
        if entry.model is None and self._blobs:
            self._models(_bucket(name, len(self._blobs)))
        svc = entry.model
        if svc is None or svc.name != name:
            return None
        self._by_id[id(svc)] = (svc, entry)
        return svc

    def _models(self, bucket: int) -> None:
        """Give the file's entries of *bucket* their models: its pickle, unpickled once.

        Only the model's classes can be built (:class:`_ModelUnpickler`); a
        pickle that fails, or holds anything but ``{name: Service}``, leaves
        its entries without a model: misses, parsed again (and the bucket
        rewritten at the next save).
        """
        if bucket in self._unpickled or self._entries is None:
            return
        self._unpickled.add(bucket)
        try:
            models = _ModelUnpickler(io.BytesIO(self._blobs[bucket])).load()
        except Exception:  # noqa: BLE001
            models = None
        if not isinstance(models, dict):
            self._changed.add(bucket)
            return
        # Keys written by the parser are new strings per service ("kind",
        # "Type"...): the interned ones instead, shared by all.
        intern = sys.intern
        count = len(self._blobs)
        for name, svc in models.items():
            entry = self._entries.get(name) if isinstance(name, str) else None
            if (entry is None or entry.model is not None or not isinstance(svc, Service)
                    or svc.name != name or _bucket(name, count) != bucket):
                continue
            svc.lines = {intern(k): v for k, v in svc.lines.items()}
            svc.keys = {intern(k): intern(v) for k, v in svc.keys.items()}
            entry.model = svc

    # Writing ------------------------------------------------------------------
    def store(self, name: str, path: str, svc: Service, reads: list[str],
              before: list[Any] | None) -> None:
        """Remember *svc*, parsed and validated from *path*; *before*: the entry's key before parsing."""
        if before is None:
            return
        roots = [str(path)]
        for src in list(svc.extra_files.values()) + (
                list(svc.logger.extra_files.values()) if svc.logger else []):
            roots.append(str(src))
        roots = list(dict.fromkeys(roots + reads))
        walked = _walk(roots)
        if walked is None or walked[: len(before)] != before:
            return  # too large, unreadable, or changed while it was read: not cached
        entry = Entry(str(path), [roots, walked], self._ids_key() if _uses_ids(svc) else None,
                      model=svc)
        self._load()[name] = entry
        if self._blobs:
            self._changed.add(_bucket(name, len(self._blobs)))
        self._by_id[id(svc)] = (svc, entry)
        # Written only by a process that compiles (set_digest): a read-only
        # command (check, status) or a refused transaction leaves LIVE as it was.

    def digest(self, svc: Service, env: str) -> str | None:
        """The digest compiling *svc* gave in the compile environment *env*, if known."""
        hit = self._by_id.get(id(svc))
        if hit is None or hit[0] is not svc or not hit[1].compiled:
            return None
        return hit[1].compiled[1] if hit[1].compiled[0] == env else None

    def confirmed(self, svc: Service, env: str, meta: str) -> bool:
        """Whether the ``ovis.json`` at *meta* is, unchanged, the one that held this digest."""
        hit = self._by_id.get(id(svc))
        if hit is None or hit[0] is not svc or not hit[1].compiled:
            return False
        c = hit[1].compiled
        return c[0] == env and len(c) > 2 and c[2] is not None and c[2] == _ident(meta)

    def set_digest(self, svc: Service, env: str, digest: str, *, compiled: bool,
                   meta: str | None = None) -> None:
        """Remember *svc*'s digest; *compiled*: its servicedir was made to match it
        (saved at exit), its ``ovis.json`` being *meta*."""
        hit = self._by_id.get(id(svc))
        if hit is None or hit[0] is not svc:
            return
        hit[1].compiled = (env, digest, _ident(meta) if meta is not None else None)
        if compiled:
            self._mark()

    def _mark(self) -> None:
        if not self._dirty:
            self._dirty = True
            atexit.register(self.save)

    def save(self) -> None:
        """Write the cache (atomically) if this process changed it."""
        if not self._dirty or self._entries is None:
            return
        self._dirty = False
        if not self._trusted_dir():
            return
        from ovis import atomic

        entries = self._entries
        k = 1 + len(entries) // CHUNK
        old_k = len(self._blobs)
        # The file's buckets made anew (all of them for a new bucket count) get
        # their unread entries' models first: pickled again with the rest.
        for b in range(old_k) if k != old_k else sorted(self._changed):
            self._models(b)
        groups: list[dict[str, Service]] = [{} for _ in range(k)]
        keep: list[bool] = [k == old_k and b not in self._changed for b in range(k)]
        rows: dict[str, tuple[Any, ...]] = {}
        for name, e in entries.items():
            b = _bucket(name, k)
            if keep[b]:  # its pickle is saved as it was read (models of this process too)
                rows[name] = e.row()
            elif e.model is not None:
                groups[b][name] = e.model
        blobs: list[bytes] = []
        for b, models in enumerate(groups):
            if keep[b]:
                blobs.append(self._blobs[b])
                continue
            try:
                blob = pickle.dumps(models, protocol=_PROTOCOL)
            except Exception:  # noqa: BLE001  (a model that does not pickle is not cached)
                models = {n: m for n, m in models.items() if _pickles(m)}
                blob = pickle.dumps(models, protocol=_PROTOCOL)
            rows.update((n, entries[n].row()) for n in models)
            blobs.append(blob)
        try:  # pickled into the file: no second copy of the whole in memory (a cold start's peak)
            atomic.write_with(self.file, lambda f: pickle.dump(
                (_FORMAT, self.code_key(), rows, tuple(blobs)), f,
                protocol=_PROTOCOL), 0o600)
        except OSError:
            pass


def _bucket(name: str, count: int) -> int:
    """The bucket of models *name* is saved in, of *count* (the same in every process)."""
    return zlib.crc32(name.encode()) % count if count > 1 else 0


def _pickles(svc: Service) -> bool:
    try:
        pickle.dumps(svc, protocol=_PROTOCOL)
    except Exception:  # noqa: BLE001
        return False
    return True


def _walk(roots: list[str]) -> list[Any] | None:
    """The identities of the trees *roots*, in order; None if one cannot be cached."""
    out: list[Any] = []
    for root in roots:
        t = tree_key(root)
        if t is None:
            return None
        out += t
    return out


_CACHES: dict[str, CompileCache] = {}


def for_live(live: str | os.PathLike[str]) -> CompileCache:
    """The one cache object of *live* in this process."""
    k = str(live)
    c = _CACHES.get(k)
    if c is None:
        c = _CACHES[k] = CompileCache(k)
    return c


def reset() -> None:
    """Forget every cache object of this process (tests: a fresh process)."""
    _CACHES.clear()

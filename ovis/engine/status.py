"""What ``ovis status`` reports about a service.

s6's ``supervise/status`` says what the process is doing now; ovis's state
file says what was asked and why the last transition failed.  Combining the
two answers both "is it up?" and "why not?", e.g. a longrun that s6 stopped
restarting (finish exited 125 after too many deaths) is *failed*, not merely
down, because ovis was asked to keep it up.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing costs ~30 modules at import: ovis status imports this

from ovis.engine import state as statefile
from ovis.engine import statusindex as ix
from ovis.paths import Paths
from ovis.s6.status import read_status, signal_name

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Callable

    from ovis.engine.manager import Manager
from ovis.service.model import Kind, Service

FIELDS = ("name", "type", "state", "ready", "pid", "since", "exit", "reason")
_UNREAD = object()  # supervise/status not read yet

def service_status(paths: Paths, svc: Service | TableModel, compiled: bool,
                   brief: bool = False) -> dict[str, Any]:
    """What ``ovis status`` says of one service (see ``--json`` in docs/ovis-status.md).

    *brief*: only what the table prints (name, type, state, ready, pid,
    since, reason, detail) is sure to be right.  A compiled longrun that is
    up then costs one read (``supervise/status``): its state record,
    restart-policy file and death tally only feed ``--json``'s fields.
    """
    sup: Any = _UNREAD
    if brief and compiled and svc.kind is Kind.LONGRUN:
        sup = read_status(f"{paths.servicedirs_str}/{svc.name}")
        if sup is not None and sup.up:
            return {"name": svc.name, "type": "longrun", "state": "up",
                    "ready": sup.ready if svc.notify is not None else True, "pid": sup.pid,
                    "since": sup.stamp, "exit": None, "reason": None, "detail": "",
                    "compiled": True}
    st = statefile.load(paths, svc.name)
    out: dict[str, Any] = {
        "name": svc.name,
        "type": svc.kind.value,
        "state": "down",
        "ready": False,
        "pid": None,
        "since": None,
        "exit": None,
        "reason": "never-started",
        "description": svc.description,
        "wanted": st.wanted if st else None,
        "detail": st.detail if st else "",
        "source": str(svc.source),
        "compiled": compiled,
        "timings": st.timings if st else {},
        "restarts": 0,
    }
    if svc.kind is Kind.ONESHOT:
        if st is not None:
            out.update(state=st.state, ready=st.state == "up", since=st.since, exit=st.exit,
                       reason=None if st.state == "up" else st.reason)
        return out
    sd = f"{paths.servicedirs_str}/{svc.name}"
    if sup is _UNREAD:
        sup = read_status(sd) if compiled else None
    rs = None
    if compiled and sup is not None:
        from ovis.service.restart import read_state  # (shlex, its own model) not for an up table

        rs = read_state(sd)
    out.update(essential=svc.essential, waiting=False, restart_at=None)
    if sup is not None and rs is not None:
        out["restarts"] = rs.restarts  # what the finish script (restart policy) decided
    elif sup is not None:
        deaths = restarts(paths, svc.name, st)
        # the last death of a service s6 gave up on was not followed by a restart
        out["restarts"] = max(0, deaths - 1) if deaths and not sup.up and not sup.want_up else deaths
    if sup is not None and sup.up:
        out.update(state="up", pid=sup.pid, since=sup.stamp, reason=None,
                   ready=sup.ready if svc.notify is not None else True)
        if svc.notify is not None:
            out["ready_since"] = sup.ready_stamp if sup.ready else None
        return out
    if sup is not None and sup.want_up:
        # Down, and s6 will start it again (after the back-off delay): not failed.
        code = sup.signal if sup.signal is not None else sup.exit_code
        how = (f"killed by {(signal_name(code) or str(code))}" if sup.signal is not None
               else f"exited {code}")
        waiting = bool(rs and rs.waiting and sup.finishing)
        at = rs.restart_at if waiting and rs else None
        out.update(state="down", reason="restarting", exit=code, since=sup.stamp, waiting=waiting,
                   restart_at=at, detail=f"{how}; {out['restarts']} restart(s)" + (
                       f"; next in {max(0, round(at - time.time()))} s" if at else ""))
        return out
    if st is not None and st.state == "failed":
        out.update(state="failed", reason=st.reason, exit=st.exit, since=st.since)
        if sup is not None and st.reason in ("exited", "signalled"):
            out["exit"] = sup.signal if sup.signal is not None else sup.exit_code
        return out
    if sup is not None and st is not None and st.wanted == "up":
        # Asked to be up, yet down: crashed (and maybe given up on by s6).
        reason = "signalled" if sup.signal is not None else "exited"
        code = sup.signal if sup.signal is not None else sup.exit_code
        out.update(state="failed", reason=reason, exit=code, since=sup.stamp,
                   detail=(f"killed by {(signal_name(code) or str(code))}" if reason == "signalled" and code
                           else f"exited {code}") + ("" if sup.want_up else ", not restarted")
                   + (f" after {out['restarts']} restart(s)" if rs and rs.gave_up else ""))
        return out
    if st is not None and st.wanted == "down":
        out.update(reason=st.reason or "stopped", since=st.since,
                   exit=(sup.signal if sup and sup.signal is not None
                         else (sup.exit_code if sup else st.exit)))
    return out


def collect(paths: Paths, defined: dict[str, Service],
            live: dict[str, Service] | dict[str, TableModel], names: list[str] | None,
            lookup: Callable[[str], Service | TableModel | None] | None = None,
            brief: bool = False) -> list[dict[str, Any]]:
    """Status of *names*, or of everything defined or compiled.

    *lookup* finds a bundle's members that are neither in *defined* nor in
    *live* (by default they count as never started).
    """
    wanted = names if names else sorted(set(defined) | set(live))
    out = []
    for n in wanted:
        svc = live.get(n) or defined[n]
        # Prefer the live model (what is really running); fall back to the definition.
        item = service_status(paths, svc, n in live, brief)
        if svc.kind is Kind.BUNDLE:
            find = lookup or (lambda m: live.get(m) or defined.get(m))
            item.update(bundle_status(paths, svc, find, live))
        out.append(item)
    return out


def bundle_status(paths: Paths, svc: Service | TableModel,
                  lookup: Callable[[str], Service | TableModel | None],
                  live: dict[str, Service] | dict[str, TableModel],
                  seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A bundle is up when all its members are up, failed when one failed.

    Members are judged by their own status (bundles inside bundles
    recursively); an empty bundle is up once started.  ``contents`` lists
    the members, ``detail`` names those not up.
    """
    st = statefile.load(paths, svc.name)
    not_up: list[str] = []
    failed = False
    for m in svc.contents:
        msvc = lookup(m) if m not in seen else None
        if msvc is None:
            not_up.append(m)
            continue
        if msvc.kind is Kind.BUNDLE:
            mst = bundle_status(paths, msvc, lookup, live, seen | {svc.name})
        else:
            mst = service_status(paths, msvc, m in live, True)  # its state alone
        if mst["state"] != "up":
            not_up.append(m)
            failed |= mst["state"] == "failed"
    out: dict[str, Any] = {"contents": list(svc.contents), "pid": None, "exit": None}
    if svc.contents and not not_up or not svc.contents and st is not None and st.state == "up":
        out.update(state="up", ready=True, reason=None, detail="",
                   since=st.since if st else None)
    elif failed:
        out.update(state="failed", ready=False, reason="dependency-failed",
                   detail="not up: " + ", ".join(not_up), since=st.since if st else None)
    else:
        reason = (st.reason or "stopped") if st is not None and st.wanted == "down" else (
            "never-started" if st is None else "dependency-failed")
        out.update(state="down", ready=False, reason=reason,
                   detail=("not up: " + ", ".join(not_up)) if not_up else "",
                   since=st.since if st else None)
    return out


def broken_status(paths: Paths, name: str, source: str | None, error: str) -> dict[str, Any]:
    """A service whose definition cannot be loaded: failed, invalid-definition.

    Its type cannot be parsed either; it is guessed from the source (a
    directory with ``run``, or a file that says ``oneshot``) so the JSON
    keeps its documented shape.
    """
    st = statefile.load(paths, name)
    kind = "longrun"
    if source is not None:
        if os.path.isdir(source) and os.path.isfile(f"{source}/type"):  # s6-rc: it says so
            with open(f"{source}/type", errors="replace") as f:
                word = f.read().strip()
            kind = word if word in ("longrun", "oneshot", "bundle") else "longrun"
        elif os.path.isdir(source):
            kind = "longrun" if os.path.exists(f"{source}/run") else "oneshot"
        else:
            from ovis.errors import DefinitionError
            from ovis.service.sources import read_bytes

            try:  # bounded and non-blocking: the source may be a FIFO or a device
                kind = "oneshot" if b"oneshot" in read_bytes(source, name) else "longrun"
            except DefinitionError:
                pass
    return {
        "name": name, "type": kind, "state": "failed", "ready": False, "pid": None,
        "since": st.since if st else None, "exit": None, "reason": "invalid-definition",
        "description": "", "wanted": st.wanted if st else None, "detail": error,
        "source": str(source) if source else None, "compiled": False,
        "timings": st.timings if st else {},
        "restarts": 0,
    }


def restarts(paths: Paths, name: str, st: statefile.ServiceState | None,
             until: float | None = None) -> int:
    """Deaths s6 recorded since ovis last started the service (and before it stopped it).

    Each is a crash that s6 answered with a restart (or, for the last one,
    gave up on): what an administrator means by "restarts".  A stop asked
    for through ovis is a death too, and is not counted.
    """
    from ovis.s6.status import read_death_stamps

    stamps = read_death_stamps(f"{paths.servicedirs_str}/{name}")
    if not stamps:
        return 0
    t = st.timings if st else {}
    begun = t.get("start_begun", 0.0)
    stop = t.get("stop_begun")
    end = stop if stop is not None and stop >= begun else float("inf")
    if until is not None:
        end = min(end, until)
    return sum(1 for x in stamps if begun <= x < end)


def log_path(paths: Paths, name: str) -> Path:
    return paths.logdir_of(name) / "current"


_KINDS = {k.value: k for k in Kind}

#: The compiled model's file in each servicedir (ovis.service.compiler.META,
#: not imported from there: the table needs none of the compiler).
META = "ovis.json"


class TableModel:
    """The fields of a compiled Service that :func:`service_status` and
    :func:`bundle_status` read, from ``ovis.json`` as
    :func:`ovis.service.compiler.service_from_metadata` reads them.

    Building the whole Service (every field, a Path, the logger) was a good
    part of ``ovis status`` of many services; the detailed view, logs and
    drift still get real Services from :meth:`View.live_services`.
    """

    __slots__ = ("name", "kind", "description", "source", "notify", "essential", "contents")

    def __init__(self, name: str, kind: Kind, description: str, source: str, notify: int | None,
                 essential: bool, contents: tuple[str, ...]) -> None:
        self.name, self.kind, self.description, self.source = name, kind, description, source
        self.notify, self.essential, self.contents = notify, essential, contents

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> TableModel:
        src = ix.source_text(str(meta.get("source", "")))  # what str(Service.source) would print
        notify = meta.get("notify")
        return cls(str(meta["name"]), Kind(meta["kind"]), str(meta.get("description", "")), src,
                   int(notify) if isinstance(notify, int) else None, bool(meta.get("essential")),
                   tuple(str(x) for x in meta.get("contents") or []))

    @classmethod
    def from_entry(cls, name: str, e: list[Any]) -> TableModel:
        """The model a ``status-index`` entry recorded (what from_metadata made of its ovis.json)."""
        return cls(name, _KINDS[e[ix.KIND]], e[ix.DESCRIPTION], e[ix.SOURCE], e[ix.NOTIFY],
                   e[ix.ESSENTIAL], tuple(e[ix.CONTENTS]))


def meta_edges(meta: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(depends, wants) of the Service compiler.service_from_metadata makes of *meta*.

    Raises what it raises for an ovis.json that is no model (KeyError,
    ValueError; a malformed list what ``tuple(str(x) for x in it)`` raises),
    so a reader skips the same services; tests/test_cli_lazy.py holds the two
    to the same answers.
    """
    def names(key: str) -> tuple[str, ...]:
        return tuple(str(x) for x in meta.get(key) or [])

    str(meta["name"])
    Kind(meta["kind"])
    for key in ("after", "before", "requiredby", "contents"):
        names(key)
    return names("depends"), names("wants")


class View:
    """What the status readers use of a Manager (paths, definitions, LIVE), and no more.

    ``ovis status`` is called dozens of times by boot scripts: it need not
    import the engine's manager, transactions, runner and s6 control code.
    LIVE's compiled models are read once per invocation (the table and the
    detailed view ask for them several times); the compiler is built only
    when a definition newer than its compiled form must be digested.
    """

    def __init__(self, paths: Paths) -> None:
        from ovis.service.repository import Repository

        self.paths = paths
        self.repo = Repository(paths.services_strs)
        self._live: dict[str, Service] | None = None
        self._table: dict[str, TableModel] | None = None
        self._metas: dict[str, dict[str, Any]] | None = None
        self._entries: dict[str, list[Any]] | None = None  # status-index entries standing for ovis.json
        self._one: dict[str, Service | None] = {}  # live_service's answers
        self._compiled_at: dict[str, float] = {}  # mtime of each ovis.json read
        self._search = list(paths.services_strs)
        self._compiler: Any = None

    def _scan(self) -> None:
        """Each compiled service once per invocation: its index entry, else its ``ovis.json``.

        An entry of ``LIVE/status-index`` (:mod:`ovis.engine.statusindex`)
        stands for the servicedir's ``ovis.json`` only while that file has
        the identity the entry recorded (one ``stat``); any other servicedir
        is read as before.  Either way the same table models come out.
        """
        if self._metas is not None:
            return
        self._metas, self._entries = {}, {}
        base = self.paths.servicedirs_str
        try:
            entries = os.listdir(base)
        except OSError:
            return
        live = self.paths.live_str
        index = ix.load(live, ix.file_of(self.paths.layout)) if entries else {}
        for e in entries:
            if e.startswith("."):
                continue
            ent = index.get(e)
            if ent is not None:
                try:
                    st = os.stat(f"{base}/{e}/{META}")
                except OSError:
                    continue
                if ix.valid(ent, st):
                    self._entries[e] = ent
                    self._compiled_at[e] = st.st_mtime
                    continue
            self._read_meta(base, e)

    def _read_meta(self, base: str, e: str) -> None:
        """Keep *e*'s ``ovis.json``, decoded, and the mtime of the very file read."""
        assert self._metas is not None
        got = ix.read_meta(f"{base}/{e}/{META}")
        if got is not None:
            self._metas[e] = got[1]
            self._compiled_at[e] = got[0].st_mtime  # of the file read, not of a later one

    def _read_metas(self) -> dict[str, dict[str, Any]]:
        """Each compiled service's ``ovis.json``, decoded, read once per invocation."""
        self._scan()
        assert self._metas is not None
        if self._entries:  # the full models: read what the index stood for
            base = self.paths.servicedirs_str
            for e in list(self._entries):
                self._read_meta(base, e)
            self._entries = {}
            self._table = None
        return self._metas

    def live_services(self) -> dict[str, Service]:
        """Every service compiled into LIVE (as compiler.compiled_services, string paths)."""
        if self._live is None:
            self._live = {}
            metas = self._read_metas()
            if not metas:  # nothing compiled: the compiler need not even be imported
                return self._live
            from ovis.service.compiler import service_from_metadata

            for e, meta in metas.items():
                try:
                    self._live[e] = service_from_metadata(meta)
                except (ValueError, KeyError):
                    continue
        return self._live

    def live_service(self, name: str) -> Service | None:
        """One compiled service's model (its ``ovis.json`` alone, not all of LIVE's)."""
        if self._live is not None:
            return self._live.get(name)
        if name in self._one:
            return self._one[name]
        self._one[name] = svc = self._read_one(name)
        return svc

    def _meta(self, name: str) -> dict[str, Any] | None:
        """*name*'s compiled ``ovis.json``: as the scan read it, or read now
        where the status index held it (None if not compiled or unreadable)."""
        self._scan()
        assert self._metas is not None and self._entries is not None
        meta = self._metas.get(name)
        if meta is None and name in self._entries:
            got = ix.read_meta(f"{self.paths.servicedirs_str}/{name}/{META}")
            meta = got[1] if got is not None else None
        return meta

    def _read_one(self, name: str) -> Service | None:
        meta = self._meta(name)
        if meta is None:
            return None
        from ovis.service.compiler import service_from_metadata

        try:
            return service_from_metadata(meta)
        except (ValueError, KeyError):
            return None

    def compiled_edges(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """(depends, wants) of every compiled service, as :meth:`live_services` would give them.

        From the index where it holds the service; the rest (read from
        their ``ovis.json``) through the compiler's own reader.
        """
        self._scan()
        assert self._metas is not None and self._entries is not None
        out = {e: (tuple(ent[ix.DEPENDS]), tuple(ent[ix.WANTS])) for e, ent in self._entries.items()}
        for e, meta in self._metas.items():
            try:
                out[e] = meta_edges(meta)
            except (ValueError, KeyError):
                continue
        return out

    def live_edges(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """(depends, wants) of :meth:`live_service` (*name*), None where it is None.

        From the status index or the one ``ovis.json``, without the compiler
        (and the pathlib it imports): ``ovis status NAME`` needs no more.
        """
        if self._live is not None or name in self._one:
            svc = self.live_service(name)
            return (svc.depends, svc.wants) if svc is not None else None
        self._scan()
        assert self._metas is not None and self._entries is not None
        ent = self._entries.get(name)
        if ent is not None:
            return tuple(ent[ix.DEPENDS]), tuple(ent[ix.WANTS])
        meta = self._metas.get(name)
        if meta is None:
            return None
        try:
            return meta_edges(meta)
        except (ValueError, KeyError):
            return None

    def log_current(self, name: str) -> str | None:
        """``current`` of a compiled service's log (what reader.log_file gives), None if not compiled.

        The compiled ``ovis.json`` says whether it is logged and where
        (``log_destination``); a service whose ovis.json does not read as
        a model is left to reader.log_file, as one that is not compiled.
        """
        meta = self._meta(name)
        if meta is None:
            return None
        try:
            meta_edges(meta)  # (the validity service_from_metadata checks)
            rot = meta.get("log_rotation")
            if meta.get("logged") and isinstance(rot, list) and len(rot) == 3:
                int(rot[0]), int(rot[1])  # type: ignore[call-overload]
        except (ValueError, KeyError):
            return None
        from ovis.paths import check_name, normpath

        dest = meta.get("log_destination") if meta.get("logged") else None
        base = normpath(str(dest)) if dest else f"{self.paths.logdir_str}/{check_name(name)}"
        return base + "/current"

    def table_models(self) -> dict[str, TableModel]:
        """:meth:`live_services`, each with only what the status table reads (no compiler import)."""
        if self._table is None:
            self._scan()
            assert self._metas is not None and self._entries is not None
            self._table = {}
            for e, ent in self._entries.items():
                self._table[e] = TableModel.from_entry(e, ent)
            for e, meta in self._metas.items():
                try:
                    self._table[e] = TableModel.from_metadata(meta)
                except (ValueError, KeyError):
                    continue
        return self._table

    def changed(self, name: str) -> bool | None:
        """:func:`ovis.engine.drift.definition_changed`, its common case without pathlib.

        A compiled service whose definition is a plain file in the search
        path, not modified after its ``ovis.json`` was written, is
        unchanged; anything else (a directory, a symlink, an instance, a
        newer file, no definition) is drift's to decide.
        """
        import os
        import stat

        self._scan()  # records when each ovis.json was written
        at = self._compiled_at.get(name)
        if at is not None and "@" not in name:
            for d in self._search:
                try:
                    st = os.lstat(f"{d}/{name}")
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_mtime <= at:
                    return False
                break
        from ovis.engine.drift import definition_changed

        return definition_changed(self, name)  # type: ignore[arg-type]

    @property
    def compiler(self) -> Any:
        if self._compiler is None:
            from ovis.service.compiler import Compiler

            self._compiler = Compiler(self.paths)
        return self._compiler


def gather(manager: Manager | View, names: list[str] | None,
           brief: bool = False) -> list[dict[str, Any]]:
    """What ``ovis status [NAME...]`` shows: compiled, defined and broken services.

    Unknown names raise :class:`~ovis.errors.UnknownService`; a definition
    that exists but does not parse is listed as failed (invalid-definition).
    *brief*: items good for the table only (:func:`service_status`).
    """
    from ovis.errors import ConfigError

    # A View gives the table's light models; a Manager its Services.
    live = dict(manager.table_models() if isinstance(manager, View) else manager.live_services())
    defined: dict[str, Service] = {}
    broken: dict[str, dict[str, Any]] = {}
    listed = [] if names else manager.repo.names()
    for n in names or listed:
        if n in live:
            continue
        try:
            defined[n] = manager.repo.load(n)
        except ConfigError as e:
            source = manager.repo.locate(n)
            if source is None:
                raise
            broken[n] = broken_status(manager.paths, n, source, str(e))
    if not names:  # a definition deleted from disk, its service down: it is gone
        on_disk = set(listed)  # found by the listing: no lookup per service
        for n in [n for n in live if n not in defined and n not in broken and n not in on_disk
                  and manager.repo.locate(n) is None]:
            if not _still_running(manager.paths, live[n]):
                del live[n]
    wanted = names or sorted(set(defined) | set(live) | set(broken))
    def lookup(m: str) -> Service | TableModel | None:
        if m in live or m in defined:
            return live.get(m) or defined[m]
        try:
            return manager.repo.load(m)
        except ConfigError:
            return None

    good = collect(manager.paths, defined, live, [n for n in wanted if n not in broken], lookup,
                   brief)
    by_name = {it["name"]: it for it in good}
    by_name.update(broken)
    return [by_name[n] for n in wanted]


def _still_running(paths: Paths, svc: Service | TableModel) -> bool:
    st = service_status(paths, svc, True)
    return st["state"] != "down" or st.get("wanted") == "up"


def trees_of(manager: Manager, name: str) -> list[str]:
    """The trees *name* is enabled in (one file per member under TREES/TREE/)."""
    import os

    try:
        trees = sorted(os.listdir(manager.paths.trees_str))
    except OSError:
        return []
    base = manager.paths.trees_str
    return [t for t in trees if not t.startswith(".") and os.path.isfile(f"{base}/{t}/{name}")]


def dependents_of(manager: Manager, name: str) -> tuple[list[str], list[str]]:
    """(needed-by, wanted-by) *name*: every compiled or defined service that names it.

    Definitions that do not parse are skipped: they cannot start anyway.  A
    compiled service whose definition did not change since (View.changed)
    is read from LIVE instead of parsed: ``ovis status NAME`` among a
    thousand services parsed all thousand.
    """
    from ovis.errors import ConfigError

    # (depends, wants) of each service: a View reads the compiled ones' from
    # the status index (no model of each built), a Manager from its models
    edges: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    view = isinstance(manager, View)
    if view:
        live = manager.compiled_edges()  # type: ignore[union-attr]
    else:
        live = {n: (s.depends, s.wants) for n, s in manager.live_services().items()}
    edges = {}
    for n in manager.repo.names():
        if view and n in live and manager.changed(n) is False:  # type: ignore[union-attr]
            edges[n] = live[n]  # compiled from this very definition: no parse of it
            continue
        try:
            svc = manager.repo.load(n)
        except ConfigError:
            continue
        edges[n] = (svc.depends, svc.wants)
    for n, e in live.items():
        edges.setdefault(n, e)
    needed = sorted(n for n, (d, _) in edges.items() if name in d)
    wanted = sorted(n for n, (_, w) in edges.items() if name in w)
    return needed, wanted


def last_log_lines(manager: Manager, name: str, n: int) -> list[str]:
    """The last *n* lines of the service's log, time stamps as local time."""
    from ovis.logs.reader import localise, tail

    try:
        own = getattr(manager, "log_current", None)  # a View: from ovis.json, no compiler
        path = own(name) if own is not None else None
        if path is None:
            from ovis.logs.reader import log_current_of

            path = log_current_of(manager, name)
        return [localise(line.rstrip("\n")) for line in tail(path, n)]
    except (OSError, Exception):  # no log yet, no definition: the view shows none
        return []


def describe(manager: Manager, item: dict[str, Any], lines: int = 10) -> dict[str, Any]:
    """*item* (from :func:`gather`) plus what ``ovis status NAME`` explains.

    Adds ``trees``, ``needs``, ``wants``, ``needed_by``, ``wanted_by``,
    ``changed`` (definition differs on disk from what was compiled) and
    ``log`` (the last *lines* lines).
    """
    name = item["name"]
    view = isinstance(manager, View)
    if view:  # (depends, wants) without building the model: no compiler
        edges = manager.live_edges(name)  # type: ignore[union-attr]
    else:
        svc = manager.live_services().get(name)
        edges = (svc.depends, svc.wants) if svc is not None else None
    if edges is None:
        try:
            svc = manager.repo.load(name)
            edges = (svc.depends, svc.wants)
        except Exception:
            edges = None
    needed_by, wanted_by = dependents_of(manager, name)
    out = dict(item)
    out.update(
        trees=trees_of(manager, name),
        needs=list(edges[0]) if edges else [],
        wants=list(edges[1]) if edges else [],
        needed_by=needed_by,
        wanted_by=wanted_by,
        log=last_log_lines(manager, name, lines) if lines > 0 else [],
    )
    if "changed" not in out:
        if view:  # its cheap check first, then drift's (the same answers: test_cli_lazy)
            out["changed"] = manager.changed(name)  # type: ignore[union-attr]
        else:
            from ovis.engine.drift import definition_changed

            out["changed"] = definition_changed(manager, name)
    return out

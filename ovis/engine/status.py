"""What ``ovis status`` reports about a service.

s6's ``supervise/status`` says what the process is doing now; ovis's state
file says what was asked and why the last transition failed.  Combining the
two answers both "is it up?" and "why not?", e.g. a longrun that s6 stopped
restarting (finish exited 125 after too many deaths) is *failed*, not merely
down, because ovis was asked to keep it up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ovis.engine import state as statefile
from ovis.paths import Paths
from ovis.s6.status import signal_name

if TYPE_CHECKING:
    from ovis.engine.manager import Manager
from ovis.service.model import Kind, Service

FIELDS = ("name", "type", "state", "ready", "pid", "since", "exit", "reason")


def service_status(paths: Paths, svc: Service, compiled: bool) -> dict[str, Any]:
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
    }
    if svc.kind is Kind.ONESHOT:
        if st is not None:
            out.update(state=st.state, ready=st.state == "up", since=st.since, exit=st.exit,
                       reason=None if st.state == "up" else st.reason)
        return out
    from ovis.s6.status import read_status

    sup = read_status(paths.servicedir(svc.name)) if compiled else None
    if sup is not None and sup.up:
        out.update(state="up", pid=sup.pid, since=sup.stamp, reason=None,
                   ready=sup.ready if svc.notify is not None else True)
        if svc.notify is not None:
            out["ready_since"] = sup.ready_stamp if sup.ready else None
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
                           else f"exited {code}") + ("" if sup.want_up else ", not restarted"))
        return out
    if st is not None and st.wanted == "down":
        out.update(reason=st.reason or "stopped", since=st.since,
                   exit=(sup.signal if sup and sup.signal is not None
                         else (sup.exit_code if sup else st.exit)))
    return out


def collect(paths: Paths, defined: dict[str, Service], live: dict[str, Service],
            names: list[str] | None,
            lookup: Callable[[str], Service | None] | None = None) -> list[dict[str, Any]]:
    """Status of *names*, or of everything defined or compiled.

    *lookup* finds a bundle's members that are neither in *defined* nor in
    *live* (by default they count as never started).
    """
    wanted = names if names else sorted(set(defined) | set(live))
    out = []
    for n in wanted:
        svc = live.get(n) or defined[n]
        # Prefer the live model (what is really running); fall back to the definition.
        item = service_status(paths, svc, n in live)
        if svc.kind is Kind.BUNDLE:
            find = lookup or (lambda m: live.get(m) or defined.get(m))
            item.update(bundle_status(paths, svc, find, live))
        out.append(item)
    return out


def bundle_status(paths: Paths, svc: Service, lookup: Callable[[str], Service | None],
                  live: dict[str, Service], seen: frozenset[str] = frozenset()) -> dict[str, Any]:
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
            mst = service_status(paths, msvc, m in live)
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


def broken_status(paths: Paths, name: str, source: Path | None, error: str) -> dict[str, Any]:
    """A service whose definition cannot be loaded: failed, invalid-definition.

    Its type cannot be parsed either; it is guessed from the source (a
    directory with ``run``, or a file that says ``oneshot``) so the JSON
    keeps its documented shape.
    """
    st = statefile.load(paths, name)
    kind = "longrun"
    if source is not None:
        if source.is_dir() and (source / "type").is_file():  # s6-rc: it says so
            word = (source / "type").read_text(errors="replace").strip()
            kind = word if word in ("longrun", "oneshot", "bundle") else "longrun"
        elif source.is_dir():
            kind = "longrun" if (source / "run").exists() else "oneshot"
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
    }


def log_path(paths: Paths, name: str) -> Path:
    return paths.logdir_of(name) / "current"


def gather(manager: Manager, names: list[str] | None) -> list[dict[str, Any]]:
    """What ``ovis status [NAME...]`` shows: compiled, defined and broken services.

    Unknown names raise :class:`~ovis.errors.UnknownService`; a definition
    that exists but does not parse is listed as failed (invalid-definition).
    """
    from ovis.errors import ConfigError

    live = manager.live_services()
    defined: dict[str, Service] = {}
    broken: dict[str, dict[str, Any]] = {}
    for n in names or manager.repo.names():
        if n in live:
            continue
        try:
            defined[n] = manager.repo.load(n)
        except ConfigError as e:
            source = manager.repo.locate(n)
            if source is None:
                raise
            broken[n] = broken_status(manager.paths, n, source, str(e))
    wanted = names or sorted(set(defined) | set(live) | set(broken))
    def lookup(m: str) -> Service | None:
        if m in live or m in defined:
            return live.get(m) or defined[m]
        try:
            return manager.repo.load(m)
        except ConfigError:
            return None

    good = collect(manager.paths, defined, live, [n for n in wanted if n not in broken], lookup)
    by_name = {it["name"]: it for it in good}
    by_name.update(broken)
    return [by_name[n] for n in wanted]

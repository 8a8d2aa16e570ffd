"""What an aa-start or aa-stop transaction holds: anopa's loading rules.

anopa decides *what* a transaction holds (src/libanopa/service.c,
service_start.c, src/anopa/aa-start.c, aa-stop.c), and this module keeps
those rules: services already up are left out ("Already up", and silently
for dependencies), a dependency that cannot be loaded fails its dependent
before anything runs ("Failed dependency: DEP: Unknown service"), ``wants``
is soft and does not order, ``after``/``before`` only order services that
are in the transaction, dependency loops are broken with anopa's warning,
aa-stop reverses the edges among the services that are up.  The edges are
read from the repository's ``needs/``, ``wants/``, ``after/`` and
``before/`` directories when the transaction is loaded, as anopa does
(:meth:`ovis.aa.repo.Services.edges`): one added after aa-enable counts.

Nothing is printed here: what anopa prints while loading is reported to a
:class:`ovis.aa.notes.Notes`, at the same points.  :mod:`ovis.aa.run` then
runs the transaction on ovis's engine.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing costs ~10 modules at import (aa-start imports this)
if TYPE_CHECKING:
    from typing import Callable

from ovis.record import Record, replace
from ovis.service.model import Kind, Service

from . import codes as C
from . import repo as R
from .notes import Notes


class Tally(Record):
    """What the summary lists, in anopa's order."""

    __slots__ = ("nb_already", "nb_done", "timedout", "failed", "depend", "io", "unknown",
                 "skipped", "rc")

    def __init__(self, nb_already: int = 0, nb_done: int = 0, timedout: list[str] | None = None,
                 failed: list[str] | None = None, depend: list[str] | None = None,
                 io: list[str] | None = None, unknown: list[str] | None = None,
                 skipped: list[str] | None = None, rc: int = 0) -> None:
        self.nb_already = nb_already
        self.nb_done = nb_done
        self.timedout = [] if timedout is None else timedout
        self.failed = [] if failed is None else failed
        self.depend = [] if depend is None else depend
        self.io = [] if io is None else io
        self.unknown = [] if unknown is None else unknown
        self.skipped = [] if skipped is None else skipped
        self.rc = rc


class _Names(dict[str, None]):
    """Names in the order met, with list-like append/remove and O(1) ``in``
    (lists made loading a few hundred services quadratic)."""

    def append(self, name: str) -> None:
        self[name] = None

    def remove(self, name: str) -> None:
        del self[name]


class _Loader:
    """The part of anopa's service table both modes share."""

    def __init__(self, services: R.Services, notes: Notes, tally: Tally, *, dry: bool,
                 verbose: bool) -> None:
        self.services = services
        self.notes = notes
        self.tally = tally
        self.dry = dry
        self.verbose = verbose
        self.main = _Names()  # in the transaction, in the order met
        self.tmp = _Names()  # known, not (or no longer) in it
        self.ls: dict[str, str] = {}  # "ing" | "done" | "fail"
        self.code: dict[str, int] = {}
        self.needs: dict[str, list[str]] = {}
        self.after: dict[str, list[str]] = {}

    def get(self, name: str, in_main: bool) -> int:
        """anopa's aa_get_service: 0, or -ERR_* when *name* is no servicedir."""
        if name in self.main or name in self.tmp:
            return 0
        r = R.check_name(name)
        if r == 0 and R.is_logger(name):
            # Loggers are part of their service's servicedir in ovis, supervised
            # with it; they are no services of their own to start or stop.
            r = -C.ERR_UNKNOWN
        if r < 0:
            return r
        (self.main if in_main else self.tmp).append(name)
        self.needs.setdefault(name, [])
        self.after.setdefault(name, [])
        return 0

    def _to_main(self, name: str) -> None:
        if name in self.tmp:
            self.tmp.remove(name)
        if name not in self.main:
            self.main.append(name)

    def _to_tmp(self, name: str) -> None:
        if name in self.main:
            self.main.remove(name)
        if name not in self.tmp:
            self.tmp.append(name)

    def auto_add(self, who: str, verb: str, name: str) -> None:
        if self.verbose:
            self.notes.auto_added(who, verb, name)

    def check_essential(self, name: str) -> None:
        if self.tally.rc == 0 and os.path.lexists(f"{self.services.dir(name)}/essential"):
            self.tally.rc = 1

    def break_loops(self) -> None:
        """anopa's aa_prepare_mainlist: drop after-edges leaving the
        transaction, then break each loop at its first after-only edge (or, a
        loop of needs, at its last edge), saying so."""
        inside = set(self.main)
        for n in self.main:
            self.after[n] = [a for a in self.after[n] if a in inside]
            self.needs[n] = [a for a in self.needs[n] if a in inside]
        checked: set[str] = set()
        for root in self.main:
            while (cycle := self._find_loop(root, checked)) is not None:
                text = " -> ".join(cycle)
                for cur, nxt in zip(cycle, cycle[1:]):
                    if nxt not in self.needs[cur]:
                        self.after[cur].remove(nxt)
                        self.notes.warned(cur, f"remove {cur} after {nxt} to break loop: {text}")
                        break
                else:
                    cur, nxt = cycle[-2], cycle[-1]
                    self.needs[cur].remove(nxt)
                    self.after[cur].remove(nxt)
                    self.notes.failed(cur, f"remove {cur} needs/after {nxt} to break dependency loop: {text}")

    def _find_loop(self, root: str, checked: set[str]) -> list[str] | None:
        if root in checked:
            return None
        path, onpath = [root], {root}
        iters = [iter(list(self.after[root]))]
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                n = path.pop()
                onpath.discard(n)
                checked.add(n)
                iters.pop()
                continue
            if nxt in checked:
                continue
            if nxt in onpath:
                return path[path.index(nxt):] + [nxt]
            path.append(nxt)
            onpath.add(nxt)
            iters.append(iter(list(self.after[nxt])))
        return None

    def waves(self) -> list[str]:
        """-n: the transaction in a valid order, wave by wave (anopa's dry run)."""
        left = list(self.main)
        out: list[str] = []
        while left:
            done = set(out)
            wave = [n for n in left if all(a in done for a in self.after[n])]
            if not wave:  # cannot happen once loops are broken
                wave = left[:1]
            out.extend(wave)
            left = [n for n in left if n not in wave]
        return out


class StartLoader(_Loader):
    """anopa's aa_mark_service/aa_ensure_service_loaded in start mode."""

    def __init__(self, services: R.Services, notes: Notes, tally: Tally, *, dry: bool,
                 dry_full: bool, verbose: bool, no_wants: bool) -> None:
        super().__init__(services, notes, tally, dry=dry, verbose=verbose)
        self.dry_full = dry_full
        self.no_wants = no_wants
        self.wants: dict[str, list[str]] = {}
        self.nb_mark: dict[str, int] = {}
        self.msg: dict[str, str] = {}
        self.getting_ready: set[str] = set()
        #: (name, "DEP: errmsg") to record as failed once the loading is over
        self.load_errors: list[tuple[str, str]] = []

    def add(self, name: str) -> None:
        """A service asked for (listdir or command line): anopa's add_service."""
        r = self.get(name, True)
        if r == 0:
            r = self.mark(name)
        if r == 0:
            return
        if r == -C.ERR_UNKNOWN:
            self.notes.failed(name, C.ERRMSG[C.ERR_UNKNOWN])
            self.tally.unknown.append(name)
        elif r == -C.ERR_IO and name not in self.ls:
            self.notes.failed(name, C.ERRMSG[C.ERR_IO])
            self.tally.io.append(name)
        elif r == -C.ERR_ALREADY_UP:
            if not self.dry:
                self.notes.already(name, C.ERRMSG[C.ERR_ALREADY_UP])
            self.tally.nb_already += 1
        else:
            msg = self.msg.get(name)
            self.notes.failed(name, C.ERRMSG[-r] + (f": {msg}" if msg and not self.dry else ""))
            (self.tally.depend if r == -C.ERR_DEPEND else self.tally.failed).append(name)
            if name in self.ls:
                self.check_essential(name)

    def mark(self, name: str) -> int:
        in_main = name in self.main
        r = self.ensure_loaded(name)
        if r < 0:
            if in_main:
                self._to_tmp(name)
            return r
        if not in_main:
            self._to_main(name)
        self.nb_mark[name] = self.nb_mark.get(name, 0) + 1
        return 0

    def unmark(self, name: str) -> None:
        self.nb_mark[name] = self.nb_mark.get(name, 1) - 1
        if self.nb_mark[name] > 0:
            return
        for n in self.needs.get(name, []) + self.wants.get(name, []):
            self.unmark(n)
        self._to_tmp(name)

    def fail(self, name: str, code: int) -> int:
        self.ls[name] = "fail"
        self.code[name] = code
        return -code

    def ensure_loaded(self, name: str) -> int:
        ls = self.ls.get(name)
        if ls in ("ing", "done"):
            return 0
        if ls == "fail":
            return -self.code[name]
        svc = self.services.get(name)
        if svc is None:
            return self.fail(name, C.ERR_IO)
        if not self.dry_full:
            level = R.up_level(self.services, name, stopping=False)
            if svc.kind is Kind.LONGRUN and self.services.readiness(name) and level < 2:
                if level == 1:
                    self.getting_ready.add(name)
            elif level:
                return self.fail(name, C.ERR_ALREADY_UP)
        try:
            edges = self.services.edges(name, svc)
        except OSError:
            return self.fail(name, C.ERR_IO)
        self.ls[name] = "ing"
        self.wants[name] = []
        for dep in edges.needs:
            if self._need(name, dep) < 0:
                return self.fail(name, C.ERR_DEPEND)
        if not self.no_wants:
            for dep in edges.wants:
                self._want(name, dep)
        for dep in edges.after:
            if self.get(dep, False) == 0 and dep not in self.after[name]:
                self.after[name].append(dep)
        for dep in edges.before:
            if self.get(dep, False) == 0 and name not in self.after[dep]:
                self.after[dep].append(name)
        self.ls[name] = "done"
        return 0

    def _need(self, name: str, dep: str) -> int:
        r = self.get(dep, True)
        if r == 0:
            r = self.mark(dep)
        if r == -C.ERR_ALREADY_UP:
            return 0
        if r < 0:
            for n in self.needs[name]:
                self.unmark(n)
            self.msg[name] = f"{dep}: {C.ERRMSG[-r]}"
            if not self.dry:
                self.load_errors.append((name, self.msg[name]))
        else:
            self.needs[name].append(dep)
            if dep not in self.after[name]:
                self.after[name].append(dep)
        self.auto_add(name, "needs", dep)
        return r

    def _want(self, name: str, dep: str) -> None:
        r = self.get(dep, True)
        if r == 0:
            r = self.mark(dep)
        if r == -C.ERR_ALREADY_UP:
            return
        if r == 0:
            self.wants[name].append(dep)
        self.auto_add(name, "wants", dep)
        if r < 0:
            # Documented anopa behaviour: a wanted service is soft, its failure
            # to load only skips it (anopa 0.5.0's code failed the wanter).
            self.notes.warned(name, f"Skipping wanted service {dep}: {C.ERRMSG[-r]}")
            self.tally.skipped.append(dep)

    def transaction(self, default_timeout: int) -> dict[str, Service]:
        """The services to start, as the engine gets them: hard edges = needs,
        order = needs + after (wants neither), anopa's timeouts and readiness."""
        self.break_loops()
        out = {}
        for n in self.main:
            svc = self.services.get(n)
            assert svc is not None
            notify = svc.notify
            if notify is None and svc.kind is Kind.LONGRUN and self.services.readiness(n):
                notify = 3  # gets-ready: the engine only needs to know to wait for 'U'
            timeout = svc.timeout_start if svc.timeout_start is not None else default_timeout * 1000
            out[n] = _changed(
                svc, depends=tuple(self.needs[n]), wants=(), after=tuple(self.after[n]),
                before=(), requiredby=(), notify=notify, timeout_start=timeout)
        return out


def _changed(svc: Service, **changes: object) -> Service:
    """A shallow copy of *svc* with *changes* set (ovis.record.replace)."""
    return replace(svc, **changes)


class StopLoader(_Loader):
    """aa-stop: every servicedir preloaded, edges reversed among those up."""

    def __init__(self, services: R.Services, notes: Notes, tally: Tally, *, dry: bool,
                 verbose: bool, skip: str | None) -> None:
        super().__init__(services, notes, tally, dry=dry, verbose=verbose)
        self.skip = skip

    def preload_all(self) -> None:
        for name, is_dir in R.scan_dir(".", files_only=False):
            if is_dir and not name.startswith("."):
                self.preload(name)

    def preload(self, name: str) -> None:
        if self.get(name, False) < 0 or name in self.ls:
            return
        svc = self.services.get(name)
        if svc is None:
            self.ls[name], self.code[name] = "fail", C.ERR_IO
            return
        if not R.up_level(self.services, name, stopping=True):
            self.ls[name], self.code[name] = "fail", C.ERR_NOT_UP
            return
        try:
            edges = self.services.edges(name, svc)
        except OSError:
            self.ls[name], self.code[name] = "fail", C.ERR_IO
            return
        self.ls[name] = "done"
        for dep in edges.needs:  # stopping DEP needs stopping NAME first
            if self.get(dep, False) == 0:
                self.auto_add(dep, "needs", name)
                if name not in self.needs[dep]:
                    self.needs[dep].append(name)
                if name not in self.after[dep]:
                    self.after[dep].append(name)
        for dep in edges.after:
            if self.get(dep, False) == 0 and name not in self.after[dep]:
                self.after[dep].append(name)
        for dep in edges.before:
            if self.get(dep, False) == 0 and dep not in self.after[name]:
                self.after[name].append(dep)

    def add(self, name: str) -> None:
        """A service asked for: it, and first whatever up needs it."""
        if self.skip is not None and name == self.skip:
            return
        r = self.get(name, False)
        if r < 0:
            if r == -C.ERR_IO:
                self.notes.failed(name, C.ERRMSG[C.ERR_IO])
                self.tally.io.append(name)
            else:
                self.notes.failed(name, C.ERRMSG[-r])
                if r == -C.ERR_UNKNOWN:
                    self.tally.unknown.append(name)
            return
        if name in self.main:
            return
        if name not in self.ls:
            self.preload(name)
        if self.ls[name] == "fail":
            if self.code[name] == C.ERR_NOT_UP:
                if not self.dry:
                    self.notes.already(name, C.ERRMSG[C.ERR_NOT_UP])
                self.tally.nb_already += 1
            else:
                self.notes.failed(name, C.ERRMSG[self.code[name]])
                self.tally.failed.append(name)
            return
        self._to_main(name)
        for dependent in list(self.needs[name]):
            self.add(dependent)

    def add_all(self, on_not_up: Callable[[str], None] | None,
                on_skip: Callable[[str], None] | None) -> None:
        """-a: every service up, but the skipped one."""
        skip = self.skip
        for name in list(self.tmp):
            if self.ls.get(name) == "done":
                if skip is None or name != skip:
                    self._to_main(name)
                else:
                    skip = None
                    if on_skip is not None:
                        on_skip(name)
            elif on_not_up is not None and self.code.get(name) == C.ERR_NOT_UP:
                on_not_up(name)

    def transaction(self, default_timeout: int, stop_all: bool) -> dict[str, Service]:
        """The services to stop, edges turned back into the engine's forward
        form (it walks them in reverse to stop)."""
        self.break_loops()
        # Reversed once, in transaction order (a scan of every service's
        # lists for each service was quadratic: a 1000-service aa-stop -a).
        needed_by: dict[str, list[str]] = {}
        after_of: dict[str, list[str]] = {}
        for m in self.main:
            for n in dict.fromkeys(self.needs[m]):
                needed_by.setdefault(n, []).append(m)
            for n in dict.fromkeys(self.after[m]):
                after_of.setdefault(n, []).append(m)
        out = {}
        for n in self.main:
            svc = self.services.get(n)
            assert svc is not None
            t = svc.timeout_stop
            if t is None:
                t = default_timeout * 1000
            elif stop_all and (t == 0 or t > default_timeout * 1000):
                t = default_timeout * 1000  # in stop-all mode the default is also a maximum
            depends = tuple(needed_by.get(n, ()))
            after = tuple(after_of.get(n, ()))
            out[n] = _changed(svc, depends=depends, wants=(), after=after, before=(),
                                         requiredby=(), timeout_stop=t)
        return out

"""Finding service definitions in the search path and loading closures.

:func:`detect_format` is the one place that decides which reader a search
path entry goes to (s6-rc-compile's ``add_source`` does the same on its
``type`` file), and :func:`parse_definition` dispatches on it.

Detection rules, for an entry NAME of a search directory:

================================  ===========================================
regular file NAME                 a 66 frontend file
directory holding ``type``        an s6-rc source definition
directory holding a regular file  a 66 frontend with its data: NAME/NAME is
NAME (``dbus/dbus``)              the frontend, NAME/ its CopyFrom base
any other directory               an anopa service directory
================================  ===========================================

The search path is ordered: the first directory holding a definition of a
name wins (``/etc/ovis/service`` overrides ``/usr/lib/ovis/service``);
``name@`` entries are instance templates.

Loading is all-or-nothing: :meth:`Repository.closure` parses every
definition a transaction needs and checks names, missing hard dependencies
and cycles before the caller changes anything on disk.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing costs ~30 modules at import (ovis status imports this)

from ovis.errors import ConfigError, DefinitionError, UnknownService
from ovis.service.model import Service, is_valid_name, split_instance

if TYPE_CHECKING:  # only for annotations: ovis.paths would be an import cycle later
    from pathlib import Path
    from typing import Iterable, Sequence

    from ovis.paths import Paths
    from ovis.service.cache import CompileCache


def _join(d: str, name: str) -> str:
    """``str(Path(d) / name)`` for a normalised *d* (a plain join for a valid name)."""
    if is_valid_name(name):
        return f"{d}/{name}"
    from ovis.paths import normpath

    return normpath(name if name.startswith("/") else f"{d}/{name}")


class Repository:
    def __init__(self, search: Sequence[Path | str], live: Path | None = None) -> None:
        """*live*: the LIVE directory whose compile cache spares re-parsing
        unchanged definitions (:mod:`ovis.service.cache`); None: none."""
        from ovis.paths import normpath

        self.search = tuple(search)
        self._dirs = tuple(normpath(d) for d in self.search)  # joined as strings
        if live is not None:
            from ovis.service.cache import for_live

            self._compiled: CompileCache | None = for_live(live)
        else:
            self._compiled = None
        self._cache: dict[str, Service] = {}
        self.warnings: list[str] = []
        self._virtual: dict[str, Service] | None = None

    # Lookup ----------------------------------------------------------------
    def locate(self, name: str) -> str | None:
        """Definition path for *name* (an instance uses its template): a str, as all the model's paths."""
        from ovis.paths import check_name

        base, inst = split_instance(check_name(name))
        for d in self._dirs:
            p = f"{d}/{name}"
            if os.path.lexists(p):
                return p
            if inst is not None:
                t = f"{d}/{base}"
                if os.path.lexists(t):
                    return t
        v = self.virtual().get(name)
        return v.source if v is not None else None

    def names(self) -> list[str]:
        """Every concrete (non-template) service name in the search path."""
        seen: set[str] = set()
        for d in self.search:
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for e in entries:
                if e.startswith(".") or e.endswith("@") or not is_valid_name(e):
                    continue
                seen.add(e)
        return sorted(seen | set(self.virtual()))

    def load(self, name: str) -> Service:
        """Parse one definition (cached)."""
        if name in self._cache:
            return self._cache[name]
        if not is_valid_name(name) or name.endswith("@"):
            raise ConfigError(f"invalid service name: {name!r}")
        path = self.locate(name)
        if path is None:
            raise UnknownService(name)
        virtual = self.virtual().get(name)
        if virtual is not None and virtual.source == path:
            svc = virtual
            validate_compile(svc)
        elif self._compiled is not None:
            svc = self._load_cached(name, path)
        else:
            svc = parse_definition(path, name)
            validate_compile(svc)
        self._cache[name] = svc
        return svc

    def _load_cached(self, name: str, path: str) -> Service:
        """Parse and validate *name* unless the compile cache holds it unchanged."""
        from ovis.service import cache, sources

        assert self._compiled is not None
        svc = self._compiled.lookup(name, path)
        if svc is not None:
            return svc
        before = cache.tree_key(path)
        reads: list[str] = []
        outer, sources.RECORD = sources.RECORD, reads
        try:
            svc = parse_definition(path, name)
        finally:
            sources.RECORD = outer
        validate_compile(svc)
        self._compiled.parsed += 1
        self._compiled.store(name, path, svc, reads, before)
        return svc

    def load_path(self, path: str | os.PathLike[str]) -> Service:
        """Parse a definition given by path (``ovis check PATH``)."""
        from ovis.paths import normpath

        path = normpath(path)
        name = path.rpartition("/")[2]
        if name.endswith("@"):
            name = name + "check"
        svc = parse_definition(path, name)
        validate_compile(svc)
        return svc

    # Closures ----------------------------------------------------------------
    def closure(self, names: Iterable[str]) -> dict[str, Service]:
        """*names* and everything they need or want, validated.

        A missing hard dependency is a configuration error pointing at the
        line that asked for it; a missing soft dependency is only skipped
        (and remembered in :attr:`warnings`), as 66's optsdepends and
        anopa's wants do.
        """
        out: dict[str, Service] = {}
        stack = list(names)
        for n in stack:
            self.load(n)  # unknown names given by the user fail first, plainly
        while stack:
            n = stack.pop()
            if n in out:
                continue
            svc = self.load(n)
            out[n] = svc
            for key in ("depends", "contents"):
                for dep in getattr(svc, key):
                    if dep not in out:
                        self._require(svc, key, dep)
                        stack.append(dep)
            for dep in svc.wants:
                if dep in out:
                    continue
                if self.locate(dep) is None:
                    from ovis.engine.graph import where_edge

                    path, line, spelled = where_edge(svc, "wants", dep)
                    self.warnings.append(f"{path}:{line}: {spelled}: wanted service '{dep}' not found: skipped")
                    continue
                stack.append(dep)
        if any(s.producer_for or s.consumer_for for s in out.values()):
            from ovis.service.formats.s6rc import check_pipelines

            check_pipelines(out, self.load)
        return out

    # s6-rc bundles that no directory defines -----------------------------------
    def virtual(self) -> dict[str, Service]:
        """Bundles s6-rc makes without a definition directory of their own.

        A pipeline's last consumer names a bundle of the whole pipeline
        (``pipeline-name``); and s6-overlay's services depend on a ``base``
        bundle that s6-overlay itself defines outside ``s6-rc.d``: when a
        search directory holds s6-overlay's ``user`` bundle and no ``base`` is
        defined anywhere, ``base`` is an empty bundle.
        """
        if self._virtual is None:
            self._virtual = {}
            if not self._may_have_virtual():  # (nor need s6rc, the model's Paths...)
                return self._virtual
            from ovis.service.formats.s6rc import overlay_base, pipeline_bundles

            found: dict[str, Service] = {}
            dirs = list(self._dirs)
            for d in reversed(dirs):  # earlier directories win
                found.update(pipeline_bundles(d, self._real_locate))
            for d in dirs:
                if "base" not in found and self._real_locate("base") is None:
                    base = overlay_base(d)
                    if base is not None:
                        found["base"] = base
            self._virtual = {n: v for n, v in found.items() if self._real_locate(n) is None}
        return self._virtual

    def _may_have_virtual(self) -> bool:
        """Whether :meth:`virtual` can find anything: a directory with
        ``pipeline-name`` or a ``user/type`` in a search directory (what
        pipeline_bundles and overlay_base look for first)."""
        for d in self._dirs:
            if os.path.lexists(f"{d}/user/type"):
                return True
            try:
                with os.scandir(d) as it:
                    for e in it:
                        if (not e.name.startswith(".") and e.is_dir()
                                and os.path.isfile(f"{d}/{e.name}/pipeline-name")):
                            return True
            except OSError:
                continue
        return False

    def _real_locate(self, name: str) -> str | None:
        for d in self._dirs:
            p = _join(d, name)
            if os.path.lexists(p):
                return p
        return None

    def _require(self, svc: Service, key: str, dep: str) -> None:
        if self.locate(dep) is None:
            from ovis.engine.graph import where_edge

            path, line, spelled = where_edge(svc, key, dep)
            raise DefinitionError(path, line, spelled, f"unknown service '{dep}'")


FRONTEND, FRONTEND_DIR, S6RC, ANOPA = "66", "66-dir", "s6-rc", "anopa"


def detect_format(path: str) -> str:
    """Which reader the search path entry *path* is for (see the module docstring)."""
    try:
        st = os.stat(path)
    except OSError:
        return FRONTEND  # read_source reports why it cannot be read
    if not stat.S_ISDIR(st.st_mode):
        return FRONTEND
    if os.path.lexists(f"{path}/type"):
        return S6RC
    inner = f"{path}/{path.rpartition('/')[2]}"
    try:
        if stat.S_ISREG(os.stat(inner).st_mode):
            return FRONTEND_DIR
    except OSError:
        pass
    return ANOPA


def parse_definition(path: str | os.PathLike[str], name: str) -> Service:
    """Parse the search path entry *path* as the service *name*, in its format."""
    from ovis.paths import normpath

    path = normpath(path)
    fmt = detect_format(path)
    if fmt == ANOPA:
        from ovis.service.formats.anopa import parse_anopa_dir

        return parse_anopa_dir(path, name)
    if fmt == S6RC:
        from ovis.service.formats.s6rc import parse_s6rc_dir

        return parse_s6rc_dir(path, name)
    from ovis.service.formats.sixtysix import parse_frontend

    if fmt == FRONTEND_DIR:
        return parse_frontend(f"{path}/{path.rpartition('/')[2]}", name)
    return parse_frontend(path, name)


def validate_compile(svc: Service) -> None:
    """What only the compiler can check (variables, RunAs names, NUL bytes)."""
    from ovis.service.compiler import validate

    validate(svc)


class LiveRepository(Repository):
    """Definitions read back from what is already compiled in LIVE.

    anopa's tools work on the live repository (/run/services) that
    ``aa-enable`` filled, not on the sources; ovis's front ends for them load
    services this way, with the same closure and error semantics.
    """

    def __init__(self, paths: Paths) -> None:
        super().__init__(())
        from ovis.service.compiler import compiled_services

        self._live = compiled_services(paths)

    def locate(self, name: str) -> str | None:
        svc = self._live.get(name)
        return svc.source if svc is not None else None

    def names(self) -> list[str]:
        return sorted(self._live)

    def load(self, name: str) -> Service:
        svc = self._live.get(name)
        if svc is None:
            if not is_valid_name(name):
                raise ConfigError(f"invalid service name: {name!r}")
            raise UnknownService(name)
        return svc

    def _require(self, svc: Service, key: str, dep: str) -> None:
        if dep not in self._live:
            raise DefinitionError(svc.source, 1, key, f"unknown service '{dep}'")

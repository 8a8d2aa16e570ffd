"""Finding service definitions in the search path and loading closures.

The search path is ordered: the first directory holding a definition of a
name wins (``/etc/ovis/service`` overrides ``/usr/lib/ovis/service``).  Which
format an entry is written in is decided in one place,
:func:`ovis.service.sources.detect_format`; ``name@`` entries are instance
templates.

Loading is all-or-nothing: :meth:`Repository.closure` parses every
definition a transaction needs and checks names, missing hard dependencies
and cycles before the caller changes anything on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ovis.errors import ConfigError, DefinitionError, UnknownService
from ovis.service.model import Service, is_valid_name, split_instance

if TYPE_CHECKING:  # only for annotations: ovis.paths would be an import cycle later
    from ovis.paths import Paths


class Repository:
    def __init__(self, search: Sequence[Path]) -> None:
        self.search = tuple(search)
        self._cache: dict[str, Service] = {}
        self.warnings: list[str] = []

    # Lookup ----------------------------------------------------------------
    def locate(self, name: str) -> Path | None:
        """Definition path for *name* (an instance uses its template)."""
        from ovis.paths import check_name

        base, inst = split_instance(check_name(name))
        for d in self.search:
            p = d / name
            if os.path.lexists(p):
                return p
            if inst is not None:
                t = d / base
                if os.path.lexists(t):
                    return t
        return None

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
        return sorted(seen)

    def load(self, name: str) -> Service:
        """Parse one definition (cached)."""
        if name in self._cache:
            return self._cache[name]
        if not is_valid_name(name) or name.endswith("@"):
            raise ConfigError(f"invalid service name: {name!r}")
        path = self.locate(name)
        if path is None:
            raise UnknownService(name)
        svc = parse_definition(path, name)
        self._cache[name] = svc
        return svc

    def load_path(self, path: Path) -> Service:
        """Parse a definition given by path (``ovis check PATH``)."""
        name = path.name
        if name.endswith("@"):
            name = name + "check"
        svc = parse_definition(path, name)
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
            for dep in svc.depends:
                if dep not in out:
                    self._require(svc, "depends", dep)
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
        return out

    def _require(self, svc: Service, key: str, dep: str) -> None:
        if self.locate(dep) is None:
            from ovis.engine.graph import where_edge

            path, line, spelled = where_edge(svc, key, dep)
            raise DefinitionError(path, line, spelled, f"unknown service '{dep}'")


def parse_definition(path: Path, name: str) -> Service:
    """Parse one search path entry in its format (see :mod:`ovis.service.sources`)."""
    from ovis.service.sources import parse_definition as parse

    return parse(path, name)


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

    def locate(self, name: str) -> Path | None:
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

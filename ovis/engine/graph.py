"""The dependency graph of a set of loaded services.

Three kinds of edges, kept apart because they mean different things:

* ``hard``: X needs Y up and ready first; if Y fails, X is not started.
* ``soft``: X wants Y; Y is started too, X waits for it to settle, but Y's
  failure does not block X.
* ``order``: X merely comes after Y when both are in the same transaction
  (``after``, ``before`` reversed, plus every hard and soft edge).

Stopping walks the same ``order`` edges backwards.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 modules at import (ovis start imports this)
if TYPE_CHECKING:
    from typing import Iterable, Mapping

from ovis.errors import DependencyCycle
from ovis.record import Record
from ovis.service.model import Service


#: The edges of a service that has none (read-only: the sets are never
#: changed once the graph is built).
NONE: frozenset[str] = frozenset()


class Graph(Record):
    __slots__ = ("services", "hard", "soft", "order")

    def __init__(self, services: dict[str, Service], hard: dict[str, set[str]] | None = None,
                 soft: dict[str, set[str]] | None = None,
                 order: dict[str, set[str]] | None = None) -> None:
        self.services = services
        self.hard = {} if hard is None else hard
        self.soft = {} if soft is None else soft
        self.order = {} if order is None else order

    @classmethod
    def build(cls, services: Mapping[str, Service]) -> "Graph":
        """Edges among *services* only: names outside the set are ignored here
        (the repository has already checked that hard dependencies exist)."""
        g = cls(dict(services))
        for name in services:
            g.hard[name] = set()
            g.soft[name] = set()
            g.order[name] = set()
        for name, svc in services.items():
            for dep in svc.depends + svc.contents:  # a bundle needs all its members up
                if dep in services:
                    g.hard[name].add(dep)
                    g.order[name].add(dep)
            for dep in svc.wants:
                if dep in services:
                    g.soft[name].add(dep)
                    g.order[name].add(dep)
            for dep in svc.after:
                if dep in services:
                    g.order[name].add(dep)
            for other in svc.before:
                if other in services:
                    g.order[other].add(name)
            for other in svc.requiredby:
                if other in services:
                    g.hard[other].add(name)
                    g.order[other].add(name)
        # Most services of a wide start have no edge of some kind: one shared
        # empty set for them, not three empty sets (216 bytes each) per service.
        for edges in (g.hard, g.soft, g.order):
            for n, deps in edges.items():
                if not deps:
                    edges[n] = NONE
        return g

    # Queries -------------------------------------------------------------
    def dependents(self, name: str) -> set[str]:
        """Services that hard-depend on *name* (directly)."""
        return {n for n, deps in self.hard.items() if name in deps}

    def hard_dependents_closure(self, names: Iterable[str]) -> set[str]:
        """*names* plus everything that (transitively) hard-depends on them."""
        rev: dict[str, set[str]] = {n: set() for n in self.services}
        for n, deps in self.hard.items():
            for d in deps:
                rev[d].add(n)
        seen: set[str] = set()
        stack = [n for n in names if n in self.services]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(rev[n] - seen)
        return seen

    def find_cycle(self) -> list[str] | None:
        """A cycle over ``order`` edges as ``[a, b, ..., a]``, or None.

        Iterative DFS (a 1000-long chain must not hit the recursion limit),
        visiting names in sorted order so the reported cycle is stable.
        """
        white, grey, black = 0, 1, 2
        colour = {n: white for n in self.services}
        for root in sorted(self.services):
            if colour[root] != white:
                continue
            path: list[str] = [root]
            iters = [iter(sorted(self.order[root]))]
            colour[root] = grey
            while iters:
                nxt = next(iters[-1], None)
                if nxt is None:
                    colour[path.pop()] = black
                    iters.pop()
                    continue
                if colour[nxt] == grey:
                    return path[path.index(nxt):] + [nxt]
                if colour[nxt] == white:
                    colour[nxt] = grey
                    path.append(nxt)
                    iters.append(iter(sorted(self.order[nxt])))
        return None

    def check_acyclic(self) -> None:
        """Raise :class:`DependencyCycle` naming the loop and where it is declared."""
        cycle = self.find_cycle()
        if cycle is None:
            return
        svc, key, target = self._edge_origin(cycle[0], cycle[1])
        path, line, spelled = where_edge(svc, key, target)
        raise DependencyCycle(cycle, path, line, spelled)

    def _edge_origin(self, first: str, second: str) -> tuple[Service, str, str]:
        """The definition, key and target that made *first* come after *second*."""
        a, b = self.services[first], self.services[second]
        for key in ("depends", "contents", "wants", "after"):
            if second in getattr(a, key):
                return a, key, second
        for key in ("before", "requiredby"):
            if first in getattr(b, key):
                return b, key, first
        return a, "depends", second


    def topological(self) -> list[str]:
        """Names with every ``order`` prerequisite before its dependent."""
        indeg = {n: len(self.order[n]) for n in self.services}
        rev: dict[str, list[str]] = {n: [] for n in self.services}
        for n, deps in self.order.items():
            for d in deps:
                rev[d].append(n)
        ready = sorted(n for n, k in indeg.items() if k == 0)
        out: list[str] = []
        while ready:
            n = ready.pop(0)
            out.append(n)
            for m in rev[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        return out


def where_edge(svc: Service, key: str, target: str) -> tuple[str, int, str]:
    """File, line and spelling of the entry of *svc*'s *key* naming *target*.

    anopa definitions record each ``needs/NAME`` file separately; 66 files
    record the line of the ``Depends`` key.
    """
    for k in (f"{key}/{target}", key):
        if k in svc.lines:
            path, line = svc.lines[k]
            return path, line, svc.key_as_written(k)
    return svc.source, 1, key

"""``analyze critical-chain``: what the start of a service waited for.

From the service, walk back one dependency at a time, each time to the
dependency whose start *ended last* among those that ended before the
service's own start began: that is the one it was waiting for, so shaving
time off anything else on the list would not have made it start sooner.
This is ``systemd-analyze critical-chain``'s rule.

The edges followed are the engine's ``order`` edges (graph.py): hard and
soft dependencies, plus ``after``/``before`` ordering, because the engine
holds a start back for all three when both ends are in the same
transaction.  A dependency whose start ended *after* the service began (it
was restarted later, or it was outside the transaction) did not delay it
and is skipped.

Failed and timed-out services are walked like any other and carry their
reason, so a chain ending in ``dependency-failed`` leads straight to the
service that broke it (systemd#8182: critical-chain must not be silent on
failures).
"""

from __future__ import annotations

from typing import Any, Callable

from ovis.analyze.timeline import Entry, Timeline, seconds
from ovis.engine.graph import Graph
from ovis.errors import StateError, UnknownService
from ovis.record import Frozen

#: Clock slack when comparing a dependency's end with a dependent's beginning:
#: both are read by the same process, but a dependency-failed cascade records
#: identical times and float rounding must not drop that link.
SLACK = 0.001


class Link(Frozen):
    """One service on the chain; ``via`` is how its dependent reached it."""

    __slots__ = ("entry", "depth", "via")

    def __init__(self, entry: Entry, depth: int, via: str | None) -> None:
        s = object.__setattr__
        s(self, "entry", entry)
        s(self, "depth", depth)
        s(self, "via", via)  # None for the service asked about; else hard | soft | order

    def as_json(self, tl: Timeline) -> dict[str, Any]:
        d = self.entry.as_json()
        d.update(at=round(tl.at(self.entry.ended), 6), depth=self.depth, via=self.via)
        return d


def last_ready(tl: Timeline) -> str:
    """The service that became ready last (the default subject of the chain).

    Failed starts are only considered when nothing succeeded: "what did boot
    wait for" is about what came up.
    """
    pool = [e for e in tl.entries.values() if e.ok] or list(tl.entries.values())
    if not pool:
        raise StateError("no service start is recorded in this LIVE directory")
    return max(pool, key=lambda e: (e.ended, e.name)).name


def _edge_kind(graph: Graph, name: str, dep: str) -> str:
    if dep in graph.hard.get(name, ()):
        return "hard"
    if dep in graph.soft.get(name, ()):
        return "soft"
    return "order"


def critical_chain(tl: Timeline, name: str | None = None) -> list[Link]:
    """The chain from *name* (default :func:`last_ready`) back to a root.

    Raises :class:`UnknownService` for a name that is not a live service and
    has no record, :class:`StateError` for one whose start was never recorded.
    """
    if name is None:
        name = last_ready(tl)
    if name not in tl.entries:
        if name not in tl.services:
            raise UnknownService(name)
        raise StateError(f"{name}: no start recorded (not started since LIVE was set up)")
    graph = Graph.build(tl.services)
    chain = [Link(tl.entries[name], 0, None)]
    seen = {name}
    current = tl.entries[name]
    while True:
        deps = graph.order.get(current.name, set())
        before = [tl.entries[d] for d in deps
                  if d in tl.entries and d not in seen
                  and tl.entries[d].ended <= current.begun + SLACK]
        if not before:
            return chain
        nxt = max(before, key=lambda e: (e.ended, e.name))
        chain.append(Link(nxt, len(chain), _edge_kind(graph, current.name, nxt.name)))
        seen.add(nxt.name)
        current = nxt


def chain_json(tl: Timeline, chain: list[Link]) -> dict[str, Any]:
    """The ``--json`` form: origin, and the links from the service back to the root."""
    return {"origin": tl.origin, "origin_source": tl.origin_source,
            "chain": [link.as_json(tl) for link in chain]}


def render(tl: Timeline, chain: list[Link],
           paint: Callable[[str, Entry], str] | None = None) -> str:
    """The chain as the tree ``systemd-analyze critical-chain`` prints.

    ``NAME @T +D``: T is when its start ended (seconds since the origin), D
    how long the start itself took.  A failed start adds its reason.  *paint*
    may decorate each line (the CLI colours failures).
    """
    from ovis.analyze.blame import outcome_text

    lines = []
    for link in chain:
        e = link.entry
        text = f"{e.name} @{seconds(tl.at(e.ended))} +{seconds(e.duration)}"
        if not e.ok:
            text += f" [{outcome_text(e)}]"
        if paint is not None:
            text = paint(text, e)
        prefix = "" if link.depth == 0 else "  " * (link.depth - 1) + "└─"
        lines.append(prefix + text)
    return "\n".join(lines)

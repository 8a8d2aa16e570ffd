"""``analyze dot``: the dependency graph of the live services for Graphviz.

An edge goes from a service to what it depends on (``a -> b``: a needs b),
as ``systemd-analyze dot`` draws them.  Style says what kind of edge it is,
the three kinds the engine tells apart (graph.py):

* solid: hard dependency (``depends``/``needs``, or ``requiredby`` of b);
* dashed: soft dependency (``wants``/``optsdepends``);
* dotted: ordering only (``after``, or ``before`` of b).

An ordering edge that duplicates a dependency is not drawn twice.  Names
are always quoted (``getty@tty1`` or ``a.b`` are not dot identifiers) and
escaped, so the output is valid dot whatever the names.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ovis.analyze.timeline import DEPENDENCY_FAILED, FAILED, OK, Entry
from ovis.engine.graph import Graph
from ovis.record import Frozen
from ovis.service.model import Kind, Service

STYLES = {"hard": "solid", "soft": "dashed", "order": "dotted"}
#: Node fill by start outcome when timings are known (same colours as the plot).
FILLS = {OK: "#c8e6c9", FAILED: "#ffcdd2", DEPENDENCY_FAILED: "#e0e0e0"}


class Edge(Frozen):
    __slots__ = ("source", "target", "kind")

    def __init__(self, source: str, target: str, kind: str) -> None:
        s = object.__setattr__
        s(self, "source", source)  # the dependent
        s(self, "target", target)  # what it depends on / comes after
        s(self, "kind", kind)  # hard | soft | order

    def __lt__(self, other: Edge) -> bool:
        return self._values(self) < other._values(other)

    def as_json(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target, "kind": self.kind}


def edges(services: Mapping[str, Service]) -> list[Edge]:
    """Every edge among *services*, one per pair, the strongest kind winning."""
    g = Graph.build(services)
    out: list[Edge] = []
    for name in sorted(services):
        for dep in sorted(g.order[name]):
            kind = "hard" if dep in g.hard[name] else "soft" if dep in g.soft[name] else "order"
            out.append(Edge(name, dep, kind))
    return out


def closure(services: Mapping[str, Service], roots: Iterable[str]) -> set[str]:
    """*roots* and everything they (transitively) depend on or come after."""
    g = Graph.build(services)
    seen: set[str] = set()
    stack = [r for r in roots if r in services]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(g.order[n] - seen)
    return seen


def quote(name: str) -> str:
    """A dot double-quoted string: backslash and double quote escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(services: Mapping[str, Service], entries: Mapping[str, Entry] | None = None,
           names: Iterable[str] | None = None) -> str:
    """The graph as a dot document.

    *entries* (timings) colour nodes by how their last start went; *names*
    restricts the graph to those services and what they depend on.
    """
    entries = entries or {}
    keep = closure(services, names) if names is not None else set(services)
    sub = {n: s for n, s in services.items() if n in keep}
    lines = [
        "digraph ovis {",
        "  // a -> b: a depends on b. solid: hard, dashed: soft, dotted: ordering only",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="white", fontname="monospace"];',
    ]
    for name in sorted(sub):
        attrs = []
        if sub[name].kind is Kind.ONESHOT:
            attrs.append('shape=ellipse')
        e = entries.get(name)
        if e is not None:
            attrs.append(f'fillcolor="{FILLS[e.outcome]}"')
            if not e.ok:
                attrs.append(f"tooltip={quote(e.reason or 'failed')}")
        lines.append(f"  {quote(name)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for edge in edges(sub):
        lines.append(f"  {quote(edge.source)} -> {quote(edge.target)} "
                     f"[style={STYLES[edge.kind]}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_json(services: Mapping[str, Service], names: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``--json`` form: nodes (name, type) and edges (from, to, kind)."""
    keep = closure(services, names) if names is not None else set(services)
    sub = {n: s for n, s in services.items() if n in keep}
    return {"nodes": [{"name": n, "type": sub[n].kind.value} for n in sorted(sub)],
            "edges": [e.as_json() for e in edges(sub)]}

"""The engine's scheduling logic and its runner, with no s6 and no processes.

The runner is driven by a fake backend whose jobs complete when the test's
own clock says so: deterministic and fast, while tests/test_manager.py runs
the same engine against real s6.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from ovis.engine.graph import Graph
from ovis.engine.runner import run
from ovis.engine.transaction import Action, Plan, Reason, Result
from ovis.errors import DependencyCycle
from ovis.service.model import Kind, Service


def svc(name: str, depends=(), wants=(), after=(), before=(), requiredby=()) -> Service:
    return Service(name=name, kind=Kind.LONGRUN, source=Path(f"/defs/{name}"),
                   depends=tuple(depends), wants=tuple(wants), after=tuple(after),
                   before=tuple(before), requiredby=tuple(requiredby),
                   lines={"depends": (Path(f"/defs/{name}"), 7)}, keys={"depends": "Depends"})


def graph(*services: Service) -> Graph:
    return Graph.build({s.name: s for s in services})


class FakeJob:
    """Completes at ``done_at`` on the fake clock with a fixed result."""

    def __init__(self, done_at: float, result: Result, deadline: float | None) -> None:
        self.r, self.w = os.pipe()
        self.done_at = done_at
        self.result = result
        self.deadline = min(done_at, deadline) if deadline is not None else done_at
        self.timeout = deadline

    def fileno(self) -> int:
        return self.r

    def on_readable(self, now: float) -> Result | None:
        return None

    def on_timeout(self, now: float) -> Result | None:
        if self.timeout is not None and now >= self.timeout and self.timeout < self.done_at:
            return Result(False, Reason.TIMED_OUT)
        return self.result

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0


class FakeBackend:
    def __init__(self, durations: dict[str, float], fail: set[str] = frozenset(),
                 timeouts: dict[str, float] | None = None) -> None:
        self.durations = durations
        self.fail = fail
        self.timeouts = timeouts or {}
        self.begun: list[tuple[str, float]] = []
        self.clock = FakeClock()

    def now(self) -> float:
        # Time jumps straight to the next event: selectors would otherwise
        # really sleep; the deadlines drive everything.
        return self.clock.t

    def begin(self, name: str, action: Action, now: float) -> FakeJob | Result:
        self.begun.append((name, now))
        res = Result(False, Reason.EXITED, exit=1) if name in self.fail else Result(True)
        d = self.durations.get(name, 0.0)
        t = self.timeouts.get(name)
        return FakeJob(now + d, res, now + t if t is not None else None)

    def finish(self) -> None:
        pass


def drive(plan: Plan, backend: FakeBackend) -> tuple[dict[str, Result], list[str]]:
    order: list[str] = []

    def clock() -> float:
        return backend.clock.t

    # Advance the fake clock to the earliest deadline whenever the runner waits.
    import selectors

    real_select = selectors.DefaultSelector.select

    def fake_select(self, timeout=None):  # type: ignore[no-untyped-def]
        if timeout:
            backend.clock.t += timeout
        return []

    selectors.DefaultSelector.select = fake_select  # type: ignore[method-assign]
    try:
        results = run(plan, backend, lambda n, r: order.append(n), clock=clock)
    finally:
        selectors.DefaultSelector.select = real_select  # type: ignore[method-assign]
    return results, order


def test_chain_starts_in_order_and_stops_in_reverse() -> None:
    g = graph(svc("a"), svc("b", depends=["a"]), svc("c", depends=["b"]))
    res, order = drive(Plan.make(g, g.services, Action.START), FakeBackend({"a": 1, "b": 1}))
    assert order == ["a", "b", "c"]
    assert all(r.ok for r in res.values())
    res, order = drive(Plan.make(g, g.services, Action.STOP), FakeBackend({}))
    assert order == ["c", "b", "a"]


def test_independent_services_begin_together_not_in_waves() -> None:
    # b needs a (slow); d needs c (fast): d must begin as soon as c is done,
    # long before a finishes.
    g = graph(svc("a"), svc("b", depends=["a"]), svc("c"), svc("d", depends=["c"]))
    be = FakeBackend({"a": 10, "c": 1})
    drive(Plan.make(g, g.services, Action.START), be)
    began = dict(be.begun)
    assert began["a"] == began["c"] == 0
    assert began["d"] == pytest.approx(1)
    assert began["b"] == pytest.approx(10)


def test_hard_failure_blocks_exactly_the_dependents() -> None:
    g = graph(svc("a"), svc("b", depends=["a"]), svc("c", depends=["b"]),
              svc("d", wants=["a"]), svc("e"))
    be = FakeBackend({}, fail={"a"})
    res, _ = drive(Plan.make(g, g.services, Action.START), be)
    assert res["a"].reason is Reason.EXITED
    assert res["b"].reason is Reason.DEPENDENCY_FAILED and res["b"].detail == "a"
    assert res["c"].reason is Reason.DEPENDENCY_FAILED and res["c"].detail == "b"
    assert res["d"].ok and res["e"].ok  # soft dependency and unrelated: started
    assert {n for n, _ in be.begun} == {"a", "d", "e"}


def test_timeout_is_a_failure_with_its_reason() -> None:
    g = graph(svc("slow"), svc("user", depends=["slow"]))
    be = FakeBackend({"slow": 100}, timeouts={"slow": 5})
    res, _ = drive(Plan.make(g, g.services, Action.START), be)
    assert res["slow"].reason is Reason.TIMED_OUT
    assert res["slow"].elapsed == pytest.approx(5)
    assert res["user"].reason is Reason.DEPENDENCY_FAILED


def test_stop_failure_blocks_dependencies_unless_forced() -> None:
    g = graph(svc("a"), svc("b", depends=["a"]))
    res, _ = drive(Plan.make(g, g.services, Action.STOP), FakeBackend({}, fail={"b"}))
    assert res["a"].reason is Reason.DEPENDENCY_FAILED
    res, _ = drive(Plan.make(g, g.services, Action.STOP, force=True), FakeBackend({}, fail={"b"}))
    assert res["a"].ok


def test_after_and_before_only_order() -> None:
    g = graph(svc("a", after=["b"]), svc("b"), svc("c", before=["b"]))
    res, order = drive(Plan.make(g, g.services, Action.START), FakeBackend({}, fail={"b"}))
    assert order == ["c", "b", "a"]
    assert res["a"].ok  # b failed, but after is not a dependency


def test_requiredby_makes_the_other_side_depend() -> None:
    g = graph(svc("base", requiredby=["app"]), svc("app"))
    assert g.hard["app"] == {"base"}
    _, order = drive(Plan.make(g, g.services, Action.START), FakeBackend({}))
    assert order == ["base", "app"]


def test_cycle_names_the_loop_and_where_it_is_declared() -> None:
    g = graph(svc("a", depends=["b"]), svc("b", depends=["c"]), svc("c", depends=["a"]))
    with pytest.raises(DependencyCycle) as e:
        g.check_acyclic()
    assert e.value.chain == ("a", "b", "c", "a")
    assert str(e.value) == "/defs/a:7: Depends: dependency cycle: a -> b -> c -> a"


def test_cycle_through_ordering_edges_is_found() -> None:
    g = graph(svc("a", after=["b"]), svc("b", before=["a"], after=["a"]), svc("c", after=["a"]))
    assert g.find_cycle() == ["a", "b", "a"]
    assert graph(svc("a", after=["b"]), svc("b", before=["a"])).find_cycle() is None


def test_random_dag_respects_every_edge() -> None:
    rng = random.Random(7)
    services = []
    for i in range(300):
        deps = rng.sample(range(i), k=min(i, rng.randint(0, 4)))
        services.append(svc(f"s{i}", depends=[f"s{d}" for d in deps]))
    g = graph(*services)
    be = FakeBackend({s.name: rng.random() for s in services})
    res, order = drive(Plan.make(g, g.services, Action.START), be)
    pos = {n: i for i, n in enumerate(order)}
    assert len(order) == 300
    for s in services:
        for d in s.depends:
            assert pos[d] < pos[s.name]
    assert g.topological() and len(g.topological()) == 300


def test_long_chain_has_no_recursion_limit() -> None:
    services = [svc("n0")] + [svc(f"n{i}", depends=[f"n{i-1}"]) for i in range(1, 3000)]
    g = graph(*services)
    assert g.find_cycle() is None
    assert g.topological()[0] == "n0"

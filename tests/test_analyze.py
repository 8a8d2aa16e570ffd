"""``ovis analyze``: blame, critical-chain, plot, dot.

Most tests run on hand-made LIVE directories (compiled ``ovis.json`` files
and state files with chosen timings), so every order and every choice is
deterministic; one end-to-end test starts a real readiness chain under a
real s6-svscan and checks the analysis of what the engine recorded.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ovis import atomic
from ovis.analyze import blame, chain, dot, svg
from ovis.analyze.timeline import Timeline, gather, make_timeline, seconds
from ovis.cli import analyzecmd
from ovis.engine import state as statefile
from ovis.errors import OvisError
from ovis.paths import Paths
from ovis.service.compiler import META, metadata
from ovis.service.model import Kind, Service
from tests.livesys import LiveSystem, system  # noqa: F401

T0 = 1_700_000_000.0  # a fixed epoch, so every time below is exact
SVG_NS = "{http://www.w3.org/2000/svg}"


# Hand-made LIVE -----------------------------------------------------------------
class FakeLive:
    """A LIVE directory with compiled services and state files, nothing running."""

    def __init__(self, root: Path) -> None:
        self.paths = Paths.resolve({}, live=str(root / "live"), services=str(root / "services"),
                                   skel=str(root / "skel"), trees=str(root / "trees"),
                                   logdir=str(root / "log"))
        (root / "services").mkdir()

    def service(self, name: str, kind: Kind = Kind.LONGRUN, **deps: tuple[str, ...]) -> None:
        d = self.paths.servicedir(name)
        d.mkdir(parents=True, exist_ok=True)
        svc = Service(name, kind, Path(f"/defs/{name}"), **deps)
        (d / META).write_text(json.dumps(metadata(svc)))

    def started(self, name: str, begun: float, ended: float, state: str = "up",
                reason: str | None = None, detail: str = "",
                stopped: tuple[float, float] | None = None) -> None:
        """State file of a start from T0+begun to T0+ended (and maybe a later stop)."""
        timings = {"start_begun": T0 + begun, "start_ended": T0 + ended}
        if stopped is not None:
            timings.update(stop_begun=T0 + stopped[0], stop_ended=T0 + stopped[1])
        statefile.save(self.paths, statefile.ServiceState(
            name, state=state, wanted="up", reason=reason, detail=detail,
            since=T0 + ended, timings=timings))

    def boot(self, stage1_start: float) -> None:
        self.paths.live.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.paths.live / "boot.json",
                          json.dumps({"stage1_start": T0 + stage1_start}))


@pytest.fixture
def live(tmp_path: Path) -> FakeLive:
    return FakeLive(tmp_path)


def diamond(live: FakeLive) -> None:
    """top needs left and right, both need base; right is the slow branch.

    base 0.0-0.1, left 0.1-0.2, right 0.1-0.6, top 0.6-0.7; plus a oneshot
    ``setup`` (soft dependency of base, ended before base began) and
    ``late``, a dependency of top restarted at 5.0: it did not delay top.
    """
    live.service("setup", Kind.ONESHOT)
    live.service("base", wants=("setup",))
    live.service("left", depends=("base",))
    live.service("right", depends=("base",))
    live.service("late")
    live.service("top", depends=("left", "right", "late"))
    live.started("setup", -0.05, -0.01)
    live.started("base", 0.0, 0.1)
    live.started("left", 0.1, 0.2)
    live.started("right", 0.1, 0.6)
    live.started("late", 5.0, 5.5)
    live.started("top", 0.6, 0.7)


# CLI driver: the same parser shape as ovis.cli.main.build_parser --------------
def parser() -> argparse.ArgumentParser:
    from ovis.cli import main as climain

    p = argparse.ArgumentParser(prog="ovis")
    climain._add_globals(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    climain._add_globals(common, suppress=True)

    def cmd(name: str, handler: Any, summary: str, description: str = "",
            epilog: str = "") -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=summary, parents=[common],
                            description=description or summary, epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=handler)
        return sp

    analyzecmd.register(cmd)
    return p


def ovis(paths: Paths, *argv: str) -> tuple[int, str, str]:
    """Run ``ovis --live LIVE ... ARGV`` in process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        args = parser().parse_args(["--live", str(paths.live),
                                    "--services", ":".join(map(str, paths.services)), *argv])
        try:
            code = int(args.func(args) or 0)
        except OvisError as e:
            print(f"ovis: error: {e}", file=err)
            code = e.exit_status
    return code, out.getvalue(), err.getvalue()


# Timeline -----------------------------------------------------------------------
def test_timeline_reads_state_files_and_infers_start_outcome(live: FakeLive) -> None:
    live.service("a")
    live.service("b", Kind.ONESHOT)
    live.service("c")
    live.service("never")
    live.started("a", 0.0, 0.3)
    live.started("b", 0.1, 0.2, state="failed", reason="exited", detail="exited 3")
    # Started fine, then its stop failed: the start was ok.
    live.started("c", 0.0, 0.1, state="failed", reason="timed-out", stopped=(2.0, 3.0))
    live.started("gone", 0.2, 0.4)  # state file left behind, no longer compiled
    tl = gather(live.paths)
    assert sorted(tl.entries) == ["a", "b", "c", "gone"]
    assert tl.origin == T0 and tl.origin_source == "first-start"
    assert tl.entries["a"].ok and tl.entries["a"].type == "longrun"
    assert (tl.entries["b"].ok, tl.entries["b"].reason, tl.entries["b"].type) == (
        False, "exited", "oneshot")
    assert tl.entries["c"].ok and tl.entries["c"].reason is None
    assert tl.entries["gone"].type is None
    assert tl.at(tl.entries["a"].ended) == pytest.approx(0.3)


def test_origin_is_stage1_start_unless_after_the_first_start(live: FakeLive) -> None:
    diamond(live)
    live.boot(-1.0)
    tl = gather(live.paths)
    assert (tl.origin, tl.origin_source) == (T0 - 1.0, "boot")
    live.boot(3.0)  # later than the first start: would give negative times
    tl = gather(live.paths)
    assert (tl.origin, tl.origin_source) == (T0 - 0.05, "first-start")


def test_empty_live(tmp_path: Path) -> None:
    tl = gather(Paths.resolve({}, live=str(tmp_path / "nothing")))
    assert tl.entries == {} and blame.blame(tl) == []
    with pytest.raises(OvisError):
        chain.critical_chain(tl)
    ET.fromstring(svg.plot(tl))


def test_seconds_format() -> None:
    assert seconds(0.2054) == "0.205s"
    assert seconds(12.3) == "12.300s"
    assert seconds(123.4) == "2min 3.400s"


# Blame --------------------------------------------------------------------------
def test_blame_sorts_longest_first_and_marks_failures(live: FakeLive) -> None:
    live.service("fast")
    live.service("slow")
    live.service("mid")
    live.service("bad", Kind.ONESHOT)
    live.service("skipped", depends=("bad",))
    live.service("hung")
    live.started("fast", 0.0, 0.01)
    live.started("slow", 0.0, 2.0)
    live.started("mid", 0.0, 0.5)
    live.started("bad", 0.0, 0.3, state="failed", reason="exited", detail="exited 3")
    live.started("skipped", 0.3, 0.3, state="failed", reason="dependency-failed", detail="bad")
    live.started("hung", 0.0, 1.0, state="failed", reason="timed-out", detail="not ready in 1s")
    tl = gather(live.paths)
    assert [e.name for e in blame.blame(tl)] == ["slow", "hung", "mid", "bad", "fast", "skipped"]
    code, out, _ = ovis(live.paths, "analyze", "blame")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["DURATION", "NAME", "OUTCOME"]
    assert lines[1].split() == ["2.000s", "slow", "ok"]
    assert "hung" in lines[2] and "timed-out (not ready in 1s)" in lines[2]
    assert "bad" in lines[4] and "exited (exited 3)" in lines[4]
    assert "skipped" in lines[6] and "dependency-failed (bad)" in lines[6]
    code, out, _ = ovis(live.paths, "--json", "analyze", "blame")
    data = json.loads(out)
    assert [d["name"] for d in data] == ["slow", "hung", "mid", "bad", "fast", "skipped"]
    assert set(data[0]) >= {"name", "type", "begun", "ended", "duration", "ok", "reason"}
    assert data[0] == {**data[0], "type": "longrun", "begun": T0, "ended": T0 + 2.0,
                       "duration": 2.0, "ok": True, "reason": None}
    assert data[1]["ok"] is False and data[1]["reason"] == "timed-out"


# Critical chain -------------------------------------------------------------------
def test_chain_follows_the_slow_branch_of_a_diamond(live: FakeLive) -> None:
    diamond(live)
    tl = gather(live.paths)
    links = chain.critical_chain(tl, "top")
    assert [link.entry.name for link in links] == ["top", "right", "base", "setup"]
    assert [link.via for link in links] == [None, "hard", "hard", "soft"]
    # Default: the service that became ready last ("late", restarted at 5.5).
    assert chain.critical_chain(tl)[0].entry.name == "late"
    text = chain.render(tl, links)
    assert text.splitlines() == [
        "top @0.750s +0.100s",
        "└─right @0.650s +0.500s",
        "  └─base @0.150s +0.100s",
        "    └─setup @0.040s +0.040s",
    ]
    # Make the other branch the slow one: the choice follows.
    live.started("left", 0.1, 0.65)
    live.started("top", 0.65, 0.7)
    names = [link.entry.name for link in chain.critical_chain(gather(live.paths), "top")]
    assert names == ["top", "left", "base", "setup"]


def test_chain_shows_a_failed_service_and_its_reason(live: FakeLive) -> None:
    live.service("db")
    live.service("migrate", Kind.ONESHOT, depends=("db",))
    live.service("app", depends=("migrate",))
    live.service("web", depends=("app",), after=("cache",))
    live.service("cache")
    live.started("db", 0.0, 0.2)
    live.started("migrate", 0.2, 1.2, state="failed", reason="timed-out", detail="after 1s")
    live.started("app", 1.2, 1.2, state="failed", reason="dependency-failed", detail="migrate")
    live.started("web", 1.2, 1.2, state="failed", reason="dependency-failed", detail="app")
    live.started("cache", 0.0, 0.05)
    tl = gather(live.paths)
    links = chain.critical_chain(tl, "web")
    assert [link.entry.name for link in links] == ["web", "app", "migrate", "db"]
    text = chain.render(tl, links).splitlines()
    assert "[timed-out (after 1s)]" in text[2]
    assert text[2].strip().startswith("└─migrate @1.200s")
    assert "[dependency-failed (app)]" in text[0]
    code, out, _ = ovis(live.paths, "--json", "analyze", "critical-chain", "web")
    assert code == 0
    data = json.loads(out)
    assert data["origin"] == T0 and data["origin_source"] == "first-start"
    assert [(c["name"], c["depth"], c["ok"], c["reason"]) for c in data["chain"]] == [
        ("web", 0, False, "dependency-failed"), ("app", 1, False, "dependency-failed"),
        ("migrate", 2, False, "timed-out"), ("db", 3, True, None)]
    assert data["chain"][2]["at"] == pytest.approx(1.2)
    assert data["chain"][2]["duration"] == pytest.approx(1.0)
    code, out, _ = ovis(live.paths, "-v", "0", "analyze", "critical-chain", "web")
    assert code == 0 and out.splitlines()[0].startswith("web @1.200s +0.000s")


def test_chain_errors(live: FakeLive) -> None:
    diamond(live)
    live.service("idle")
    (live.paths.services[0] / "defined").write_text("[Main]\nType = classic\n")
    code, _, err = ovis(live.paths, "analyze", "critical-chain", "nosuch")
    assert code == 2 and "unknown service: nosuch" in err
    code, _, err = ovis(live.paths, "analyze", "critical-chain", "idle")
    assert code == 1 and "idle: no start recorded" in err
    code, _, err = ovis(live.paths, "analyze", "critical-chain", "defined")
    assert code == 1 and "defined: no start recorded" in err
    code, _, err = ovis(live.paths, "analyze", "dot", "defined")
    assert code == 1 and "defined: no start recorded" in err
    code, _, err = ovis(live.paths, "analyze", "critical-chain", "..")
    assert code == 2 and "unknown service" in err
    code, _, err = ovis(live.paths, "analyze", "blame", "top")
    assert code == 2 and "takes no NAME" in err
    code, _, err = ovis(live.paths, "analyze", "dot", "-o", "x.svg")
    assert code == 2 and "plot only" in err
    code, _, err = ovis(live.paths, "--json", "analyze", "plot")
    assert code == 2 and "needs -o" in err
    nowhere = str(live.paths.live / "no/such/dir.svg")
    code, _, err = ovis(live.paths, "analyze", "plot", "-o", nowhere)
    assert code == 1 and "cannot write" in err


# Plot ---------------------------------------------------------------------------
def test_plot_is_svg_with_one_bar_per_service(live: FakeLive, tmp_path: Path) -> None:
    diamond(live)
    live.service("x&<y>")  # names are escaped (not valid for ovis, but the SVG must hold)
    live.started("x&<y>", 0.2, 0.3, state="failed", reason="exited", detail='said "no"')
    live.service("skip", depends=("x&<y>",))
    live.started("skip", 0.3, 0.3, state="failed", reason="dependency-failed", detail="x&<y>")
    out = tmp_path / "boot.svg"
    code, stdout, err = ovis(live.paths, "analyze", "plot", "-o", str(out))
    assert code == 0 and stdout == "" and "wrote" in err
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG_NS}svg"
    bars = [r for r in root.iter(f"{SVG_NS}rect") if "bar" in r.get("class", "").split()]
    assert len(bars) == 8
    by = {b.get("data-name"): b for b in bars}
    assert set(by) == {"setup", "base", "left", "right", "late", "top", "x&<y>", "skip"}
    assert by["top"].get("class") == "bar ok"
    assert by["x&<y>"].get("class") == "bar failed"
    assert by["skip"].get("class") == "bar dependency-failed"
    # Bars are proportional: right took 5x as long as left and starts where left does.
    w = {n: float(b.get("width", 0)) for n, b in by.items()}
    assert w["right"] == pytest.approx(5 * w["left"], rel=1e-3)
    assert float(by["right"].get("x", 0)) == pytest.approx(float(by["left"].get("x", 0)))
    assert w["skip"] >= 1.0  # zero-length starts stay visible
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "x&<y>" in texts and "top" in texts
    ticks = [t.text or "" for t in root.iter(f"{SVG_NS}text") if t.get("class") == "tick"]
    assert len(ticks) >= 5 and all(re.fullmatch(r"\d+(\.\d+)?s", t) for t in ticks)
    assert float(ticks[0][:-1]) == 0 and float(ticks[-1][:-1]) <= 5.55  # the time axis
    title = by["x&<y>"].find(f"{SVG_NS}title")
    assert title is not None and 'said "no"' in (title.text or "")
    # Without -o: the SVG on stdout.
    code, stdout, _ = ovis(live.paths, "analyze", "plot")
    assert code == 0 and ET.fromstring(stdout.encode()).tag == f"{SVG_NS}svg"


def test_plot_width_is_bounded(live: FakeLive) -> None:
    live.service("boot")
    live.service("restarted")
    live.started("boot", 0.0, 0.5)
    live.started("restarted", 7200.0, 7200.1)  # restarted two hours later
    root = ET.fromstring(svg.plot(gather(live.paths)))
    assert float(root.get("width", 0)) < svg.MAX_PLOT_WIDTH + 1000


def test_tick_step() -> None:
    assert svg.tick_step(1000.0) == pytest.approx(0.1)
    assert svg.tick_step(100.0) == pytest.approx(1.0)
    assert svg.tick_step(50.0) == pytest.approx(2.0)
    assert svg.tick_step(10.0) == pytest.approx(10.0)


# Dot ----------------------------------------------------------------------------
EDGE_RE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[style=(\w+)\];$')


def test_dot_edges_and_styles(live: FakeLive) -> None:
    live.service("a", depends=("b",), wants=("c",), after=("d",))
    live.service("b")
    live.service("c", Kind.ONESHOT)
    live.service("d", before=("e",))
    live.service("e", requiredby=("a",))
    live.service("getty@tty1", after=("b",), depends=("b",))
    live.started("b", 0.0, 0.1, state="failed", reason="exited")
    code, out, _ = ovis(live.paths, "analyze", "dot")
    assert code == 0
    assert out.startswith("digraph ovis {") and out.rstrip().endswith("}")
    edges = {m.groups() for line in out.splitlines() if (m := EDGE_RE.match(line))}
    assert edges == {
        ("a", "b", "solid"), ("a", "c", "dashed"), ("a", "d", "dotted"),
        ("a", "e", "solid"), ("e", "d", "dotted"), ("getty@tty1", "b", "solid"),
    }
    assert '"c" [shape=ellipse];' in out
    assert '"b" [fillcolor="#ffcdd2", tooltip="exited"];' in out
    # Balanced braces and quotes: every line is a statement or the frame.
    assert out.count("{") == out.count("}") and out.count('"') % 2 == 0
    code, out, _ = ovis(live.paths, "analyze", "dot", "e")
    sub = {m.groups() for line in out.splitlines() if (m := EDGE_RE.match(line))}
    assert sub == {("e", "d", "dotted")} and '"a"' not in out
    code, out, _ = ovis(live.paths, "--json", "analyze", "dot")
    data = json.loads(out)
    assert {"from": "a", "to": "c", "kind": "soft"} in data["edges"]
    assert {"name": "c", "type": "oneshot"} in data["nodes"]
    code, _, err = ovis(live.paths, "analyze", "dot", "zz")
    assert code == 2 and "unknown service" in err


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_dot_output_is_accepted_by_graphviz(live: FakeLive) -> None:
    live.service("a", depends=("b",), wants=("c@x",), after=("d.e",))
    for n in ("b", "c@x", "d.e"):
        live.service(n)
    live.started("b", 0.0, 0.1, state="failed", reason="exited")
    code, out, _ = ovis(live.paths, "analyze", "dot")
    assert code == 0
    r = subprocess.run(["dot", "-Tcanon"], input=out, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, r.stderr


def test_dot_quotes_awkward_names() -> None:
    svc = {'we"ird\\': Service('we"ird\\', Kind.LONGRUN, Path("/x"))}
    text = dot.to_dot(svc)
    assert '"we\\"ird\\\\";' in text


def test_blame_on_a_timeline_built_by_hand() -> None:
    from ovis.analyze.timeline import Entry

    tl: Timeline = make_timeline({
        "a": Entry("a", "longrun", 10.0, 10.5, True),
        "b": Entry("b", "oneshot", 10.0, 12.0, False, "timed-out"),
    }, stage1_start=9.0)
    assert [e.name for e in blame.blame(tl)] == ["b", "a"]
    assert tl.origin == 9.0 and blame.outcome_text(tl.entries["b"]) == "timed-out"


# End to end: a real readiness chain under s6 --------------------------------------
READY = """\
[Main]
Type = classic
Description = "{name}"
Notify = 3
{extra}
[Start]
Execute = ( foreground {{ sleep 0.2 }} if {{ fdmove 1 3 echo }} fdclose 3 sleep 1000 )
"""


def test_end_to_end_readiness_chain(system: LiveSystem) -> None:  # noqa: F811
    system.write("a", READY.format(name="a", extra=""))
    system.write("b", READY.format(name="b", extra="Depends = ( a )"))
    system.write("c", READY.format(name="c", extra="Depends = ( b )"))
    system.write("other", READY.format(name="other", extra=""))
    r = system.ovis("start", "c", "other")
    assert r.returncode == 0, r.stdout + r.stderr
    paths = Paths.resolve(system.env)
    tl = gather(paths)
    assert set(tl.entries) == {"a", "b", "c", "other"}
    for e in tl.entries.values():
        assert e.ok and 0.15 < e.duration < 30, e  # upper bound: a hang guard (6.6 s at load 200)
    assert tl.entries["a"].ended <= tl.entries["b"].begun + chain.SLACK
    assert tl.entries["b"].ended <= tl.entries["c"].begun + chain.SLACK
    code, out, err = ovis(paths, "analyze", "critical-chain", "c")
    assert code == 0, err
    tree = [line for line in out.splitlines() if " @" in line]
    assert [re.sub(r"^[ └─]*", "", line).split()[0] for line in tree] == ["c", "b", "a"]
    ats = [float(m.group(1)) for line in tree if (m := re.search(r"@([\d.]+)s", line))]
    assert len(ats) == 3
    assert ats[0] > ats[1] > ats[2] >= 0.15
    code, out, err = ovis(paths, "--json", "analyze", "blame")
    assert code == 0, err
    data = json.loads(out)
    assert sorted(d["name"] for d in data) == ["a", "b", "c", "other"]
    assert all(d["ok"] and d["duration"] >= 0.15 for d in data)
    durations = [d["duration"] for d in data]
    assert durations == sorted(durations, reverse=True)
    code, out, _ = ovis(paths, "analyze", "blame")
    assert code == 0 and {line.split()[1] for line in out.splitlines()[1:]} == {
        "a", "b", "c", "other"}
    # And through the real `ovis` command.
    r = system.ovis("-v", "0", "analyze", "critical-chain", "c")
    assert r.returncode == 0, r.stderr
    assert [re.sub(r"^[ └─]*", "", line).split()[0] for line in r.stdout.splitlines()] == [
        "c", "b", "a"]

"""s6-rc source sets run end to end on a real s6-svscan (tests/s6rc_sets/).

``demo`` is written in the style of skarnet's example sets (oneshots whose
``up`` is a bare execline command line, a longrun with readiness whose
``run`` is not executable, a two-long pipeline with its ``pipeline-name``,
bundles of bundles, the deprecated ``contents``/``dependencies`` list
files).  ``overlay`` is an s6-overlay v3 tree (``/etc/s6-overlay/s6-rc.d``
with its ``user`` bundle and services depending on ``base``).  The sets use
absolute paths, as real sets do; the test copies them and points those paths
into its own directory.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.livesys import LiveSystem, system, wait_until  # noqa: F401  (fixture)

SETS = Path(__file__).parent / "s6rc_sets"


def install(src: Path, dest: Path, old: str, new: str) -> None:
    """Copy a source set, rewriting its absolute path *old* into *new* (modes kept)."""
    shutil.copytree(src, dest, dirs_exist_ok=True)
    for root, _dirs, files in os.walk(dest):
        for f in files:
            p = Path(root) / f
            text = p.read_text()
            if old in text:
                mode = p.stat().st_mode
                p.write_text(text.replace(old, new))
                p.chmod(mode)


def demo(s: LiveSystem) -> Path:
    shutil.rmtree(s.services)
    out = s.root / "demo-out"
    install(SETS / "demo", s.services, "/tmp/s6-rc-demo", str(out))
    return out


def ticks(current: Path) -> list[tuple[int, int]]:
    """(tick number, producer pid) of each line the logger wrote, archives included."""
    lines = []
    for f in sorted(current.parent.iterdir()):
        if f.name == "current" or f.name.startswith("@"):
            lines += f.read_text().splitlines()
    return [(int(m[1]), int(m[2])) for m in (re.search(r"tick (\d+) from (\d+)", ln) for ln in lines)
            if m]


def test_demo_set_checks_clean(system: LiveSystem) -> None:
    demo(system)
    r = system.ovis("check")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    assert "11 definitions ok" in r.stdout


def test_demo_bundle_start_order_pipeline_stop(system: LiveSystem) -> None:
    out = demo(system)
    r = system.ovis("start", "default")
    assert r.returncode == 0, r.stdout + r.stderr
    # Every member of the bundles of bundles came up, bundles have their own lines.
    st = system.status()
    for name in ("boot-dirs", "net-up", "mounts", "clock", "ticker", "ticker-log"):
        assert st[name]["state"] == "up", (name, st[name])
    for name in ("default", "essentials", "extras", "ticker-pipeline"):
        assert st[name]["type"] == "bundle" and st[name]["state"] == "up", st[name]
    assert st["clock"]["ready"] is True  # notification-fd 3, run file mode 0644 in the set
    assert st["empty"]["state"] == "down" and st["empty"]["reason"] == "never-started"
    assert sorted(st["essentials"]["contents"]) == ["boot-dirs", "clock", "ticker-pipeline"]
    # Oneshot chain order: dependencies.d, then the deprecated dependencies list.
    assert (out / "order").read_text().split() == ["boot-dirs", "net-up", "mounts"]
    # s6-rc's rule: the consumer is up before its producer starts.
    tl = st["ticker-log"]["timings"]
    tp = st["ticker"]["timings"]
    assert tl["start_ended"] <= tp["start_begun"]
    # The producer's lines reach the logger's current file.
    current = out / "ticker" / "current"
    assert wait_until(lambda: current.exists() and len(ticks(current)) >= 3, 20)
    assert "ticker starting" in current.read_text()
    # A oneshot's output (echo in up) is kept in its log.
    assert wait_until(lambda: "net-up" in (system.logdir / "net-up" / "current").read_text(), 10)

    # Stopping a bundle stops its members (and what needs them), dependents first.
    r = system.ovis("stop", "essentials")
    assert r.returncode == 0, r.stdout + r.stderr
    st = system.status()
    for name in ("boot-dirs", "net-up", "mounts", "clock", "ticker", "ticker-log",
                 "essentials", "ticker-pipeline", "default"):
        assert st[name]["state"] == "down", (name, st[name])
    order = (out / "order").read_text().split()
    assert order.index("net-down") > order.index("mounts")
    assert "clock-finish" in order  # the finish script ran (non-executable in the set too)
    assert st["essentials"]["reason"] == "stopped"


def test_pipeline_survives_restarts_of_either_end(system: LiveSystem) -> None:
    out = demo(system)
    system.ovis("start", "ticker-pipeline", check=True)
    current = out / "ticker" / "current"
    assert wait_until(lambda: current.exists() and len(ticks(current)) >= 3, 20)
    st = system.status("ticker", "ticker-log")
    producer, consumer = st["ticker"]["pid"], st["ticker-log"]["pid"]
    # Kill the consumer: s6 restarts it, the producer keeps running and its
    # lines keep arriving, none lost (the pipe outlives the consumer).
    os.kill(consumer, 9)
    assert wait_until(lambda: (system.status("ticker-log")["ticker-log"]["pid"] or consumer)
                      != consumer, 20)
    before = len(ticks(current))
    assert wait_until(lambda: len(ticks(current)) >= before + 3, 20)
    assert system.status("ticker")["ticker"]["pid"] == producer
    # Kill the producer: the consumer stays, the new producer's lines arrive.
    consumer = system.status("ticker-log")["ticker-log"]["pid"]
    os.kill(producer, 9)
    assert wait_until(lambda: any(pid != producer for _, pid in ticks(current)), 20)
    assert system.status("ticker-log")["ticker-log"]["pid"] == consumer
    old = [n for n, pid in ticks(current) if pid == producer]
    assert old == list(range(1, len(old) + 1)), "lines of the first producer were lost"


def test_empty_bundle_says_nothing_to_run(system: LiveSystem) -> None:
    demo(system)
    r = system.ovis("start", "empty")
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if " empty " in ln][0]
    assert "[  OK  ]" in line and "nothing to run" in line
    assert system.status("empty")["empty"]["state"] == "up"


def test_oneshot_without_up_words_and_anopa_without_scripts(system: LiveSystem) -> None:
    """Issue 9 point 5: something with nothing to run says so on its start line."""
    d = system.services / "noop"
    d.mkdir()
    (d / "type").write_text("oneshot\n")
    (d / "up").write_text("# nothing here yet\n")
    system.anopa("idle", {"needs/noop": ""})
    r = system.ovis("check")
    assert r.returncode == 0
    assert f"ovis: warning: {d / 'up'}:1: up: empty: nothing to run" in r.stderr
    r = system.ovis("start", "idle")
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[3]: ln for ln in r.stdout.splitlines() if ln.startswith("[")}
    assert "nothing to run" in lines["noop"] and "nothing to run" in lines["idle"]


def test_s6_overlay_tree(system: LiveSystem) -> None:
    """s6-overlay v3 layout: start its user bundle; base is an empty bundle."""
    root = system.root / "image"
    install(SETS / "overlay", root, "/etc/s6-overlay", str(root / "etc/s6-overlay"))
    system.env["OVIS_SERVICES"] = str(root / "etc/s6-overlay/s6-rc.d")
    r = system.ovis("check")
    assert r.returncode == 0, r.stderr
    r = system.ovis("start", "user")
    assert r.returncode == 0, r.stdout + r.stderr
    ran = root / "etc/s6-overlay/ran"
    assert wait_until(lambda: ran.exists() and "myapp" in ran.read_text().split(), 10)
    assert ran.read_text().splitlines()[0] == "myapp-init ran"  # the oneshot came first
    st = system.status()
    assert st["base"]["type"] == "bundle" and st["base"]["state"] == "up"
    assert st["user"]["state"] == "up" and st["myapp"]["state"] == "up"
    r = system.ovis("stop", "user")
    assert r.returncode == 0
    assert system.status("myapp")["myapp"]["state"] == "down"


def test_bundle_enabled_in_a_tree(system: LiveSystem) -> None:
    """A tree holding a bundle brings up the bundle's members (boot's tree start)."""
    out = demo(system)
    system.ovis("enable", "-t", "main", "extras", check=True)
    r = system.ovis("tree", "start", "main")
    assert r.returncode == 0, r.stdout + r.stderr
    st = system.status("extras", "mounts", "net-up", "boot-dirs", "clock")
    assert [st[n]["state"] for n in ("extras", "mounts", "net-up", "boot-dirs")] == ["up"] * 4
    assert st["clock"]["state"] == "down"  # not a member of extras
    assert (out / "order").read_text().split() == ["boot-dirs", "net-up", "mounts"]


def test_s6_overlay_tree_boots_in_container_mode(tmp_path: Path) -> None:
    """An s6-overlay image's s6-rc.d as the search path of a container boot (PID 1)."""
    from tests.bootsys import BootedSystem, require_namespaces

    require_namespaces()
    b = BootedSystem(tmp_path)
    try:
        image = tmp_path / "image"
        install(SETS / "overlay", image, "/etc/s6-overlay", str(image / "etc/s6-overlay"))
        env = b.skel / "environment" / "test"
        env.write_text(env.read_text().replace(f"OVIS_SERVICES={b.services}",
                                               f"OVIS_SERVICES={image / 'etc/s6-overlay/s6-rc.d'}"))
        (b.tree / "user").touch()
        b.set_conf(CONTAINER="1")
        marker = tmp_path / "status.json"
        b.boot("sh", "-c", f"ovis --json status > {marker}", wait_ready=False)
        assert b.wait_exit(timeout=60) == 0, b.console_text()
        import json

        st = {it["name"]: it for it in json.loads(marker.read_text())}
        assert [st[n]["state"] for n in ("user", "base", "myapp-init", "myapp")] == ["up"] * 4
        assert st["base"]["type"] == "bundle"
        ran = (image / "etc/s6-overlay/ran").read_text().split("\n")
        assert ran[0] == "myapp-init ran" and "myapp" in ran
        assert b.namespace_pids() == []
    finally:
        b.cleanup()


def s6rc(s: LiveSystem, name: str, files: dict[str, str]) -> None:
    d = s.services / name
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_funnel_and_three_long_pipeline(system: LiveSystem) -> None:
    """Two producers into one filter, the filter into a logger: s6-rc's "funnels"."""
    logdir = system.root / "funnel-log"
    for n in ("left", "right"):
        s6rc(system, n, {"type": "longrun\n", "producer-for": "filter\n",
                         "run": f"#!/bin/sh\nwhile :; do echo {n}; sleep 0.1; done\n"})
    s6rc(system, "filter", {"type": "longrun\n", "consumer-for": "left\nright\n",
                            "producer-for": "logger\n",
                            "run": "#!/bin/sh\nexec sed -u 's/^/via-filter /'\n"})
    s6rc(system, "logger", {"type": "longrun\n", "consumer-for": "filter\n",
                            "pipeline-name": "funnel\n",
                            "run": f"#!/usr/bin/execlineb -P\ns6-log {logdir}\n"})
    r = system.ovis("start", "funnel")
    assert r.returncode == 0, r.stdout + r.stderr
    current = logdir / "current"

    def seen() -> set[str]:
        return set(current.read_text().splitlines()) if current.exists() else set()

    assert wait_until(lambda: {"via-filter left", "via-filter right"} <= seen(), 20), seen()
    st = system.status("funnel")["funnel"]
    assert st["type"] == "bundle" and sorted(st["contents"]) == ["filter", "left", "logger", "right"]
    system.ovis("stop", "logger", check=True)
    st = system.status()
    assert all(st[n]["state"] == "down" for n in ("left", "right", "filter", "logger", "funnel"))
    # Consumers stop last: each producer was down before its consumer began stopping.
    assert st["left"]["timings"]["stop_ended"] <= st["filter"]["timings"]["stop_begun"]
    assert st["filter"]["timings"]["stop_ended"] <= st["logger"]["timings"]["stop_begun"]

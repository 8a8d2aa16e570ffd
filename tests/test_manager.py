"""The service manager end to end: real s6-svscan, real CLI, real processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, offline, system, wait_until  # noqa: F401


def longrun(s: LiveSystem, name: str, run: str = "sleep 1000", extra: str = "") -> None:
    s.write(name, LONGRUN.format(name=name, run=run, extra=extra))


def oneshot(s: LiveSystem, name: str, start: str = "exit 0", extra: str = "") -> None:
    s.write(name, ONESHOT.format(name=name, start=start, extra=extra))


def test_start_status_stop_roundtrip(system: LiveSystem) -> None:
    oneshot(system, "prep", "exit 0")
    longrun(system, "daemon", extra="Depends = ( prep )")
    r = system.ovis("start", "daemon")
    assert r.returncode == 0, r.stderr
    assert "prep" in r.stdout and "daemon" in r.stdout
    st = system.status()
    assert st["daemon"]["state"] == "up" and st["daemon"]["pid"] > 0
    assert st["prep"]["state"] == "up" and st["prep"]["pid"] is None
    r = system.ovis("stop", "prep")  # stops daemon first: it needs prep
    assert r.returncode == 0, r.stderr
    assert r.stdout.index("daemon") < r.stdout.index("prep")
    st = system.status()
    assert st["daemon"]["state"] == "down" and st["daemon"]["reason"] == "stopped"
    assert st["prep"]["state"] == "down"


def test_json_status_has_the_documented_fields(system: LiveSystem) -> None:
    longrun(system, "up1")
    oneshot(system, "once")
    longrun(system, "never")
    system.ovis("start", "up1", "once", check=True)
    items = json.loads(system.ovis("--json", "status").stdout)
    assert [i["name"] for i in items] == ["never", "once", "up1"]
    types = {"name": str, "type": str, "state": str, "ready": bool}
    for it in items:
        for k, t in types.items():
            assert isinstance(it[k], t), (k, it)
        for k in ("pid", "exit"):
            assert it[k] is None or isinstance(it[k], int)
        assert it["since"] is None or isinstance(it["since"], float)
        assert it["reason"] is None or isinstance(it["reason"], str)
        assert it["type"] in ("longrun", "oneshot")
        assert it["state"] in ("up", "down", "failed")
    by = {i["name"]: i for i in items}
    assert by["up1"]["state"] == "up" and isinstance(by["up1"]["pid"], int)
    assert abs(by["up1"]["since"] - time.time()) < 30
    assert by["once"] == {**by["once"], "type": "oneshot", "pid": None, "ready": True}
    assert by["never"]["state"] == "down" and by["never"]["reason"] == "never-started"
    # --json after the command is accepted too, and stdout is nothing but JSON.
    json.loads(system.ovis("status", "--json", "up1").stdout)
    r = system.ovis("--json", "start", "never")
    assert json.loads(r.stdout)["ok"] is True


def test_random_dag_starts_in_dependency_order_and_stops_in_reverse(system: LiveSystem) -> None:
    rng = random.Random(1234)
    order_log = system.root / "order.log"
    n = 200
    deps: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for i in range(n):
        name = f"s{i:03d}"
        pool = [f"s{j:03d}" for j in range(i)]
        # Non-readiness longruns count as started when spawned, before their
        # script runs: only readiness longruns and oneshots get dependents.
        pool = [p for p in pool if kinds[p] != "plain"]
        deps[name] = sorted(rng.sample(pool, k=min(len(pool), rng.randint(0, 3))))
        kinds[name] = rng.choice(["oneshot", "ready", "plain"])
        dep_line = f"Depends = ( {' '.join(deps[name])} )" if deps[name] else ""
        log = f"redirfd -a 1 {order_log}"
        stop = f"\n[Stop]\nExecute = ( {log} echo stop {name} )\n"
        # "ready NAME" is logged just before the service is really up (a
        # oneshot's exit, a readiness notification), after a pause: a
        # dependent started before its dependency was ready logs its own
        # "start" before that line.
        ready = f"foreground {{ sleep 0.05 }} foreground {{ {log} echo ready {name} }}"
        if kinds[name] == "oneshot":
            system.write(name, ONESHOT.format(name=name, extra=dep_line,
                                              start=f"foreground {{ {log} echo start {name} }} "
                                                    f"{ready} exit 0") + stop)
        elif kinds[name] == "ready":
            run = (f"foreground {{ {log} echo start {name} }} {ready} "
                   f"if {{ fdmove 1 3 echo }} fdclose 3 sleep 1000")
            system.write(name, LONGRUN.format(name=name, run=run,
                                              extra=dep_line + "\nNotify = 3") + stop)
        else:
            system.write(name, LONGRUN.format(
                name=name, extra=dep_line,
                run=f"foreground {{ {log} echo start {name} }} sleep 1000") + stop)
    r = system.ovis("start", *deps, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(s["state"] == "up" for s in system.status().values())
    assert wait_until(lambda: order_log.read_text().count("start ") == n)
    events = order_log.read_text().split("\n")
    pos = {e: i for i, e in enumerate(events)}
    assert sum(e.startswith("ready ") for e in events) == sum(k != "plain" for k in kinds.values())
    for name, ds in deps.items():
        for d in ds:
            assert pos[f"ready {d}"] < pos[f"start {name}"], (d, name)
    r = system.ovis("stop", "--all", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_until(lambda: order_log.read_text().count("stop ") == n)
    events = order_log.read_text().split("\n")
    pos = {e: i for i, e in enumerate(events)}
    for name, ds in deps.items():
        for d in ds:
            assert pos[f"stop {name}"] < pos[f"stop {d}"], (name, d)
    assert all(s["state"] == "down" for s in system.status().values())


def test_failures_block_exactly_their_dependents(system: LiveSystem) -> None:
    oneshot(system, "bad", "exit 3")
    longrun(system, "never-ready", extra="Notify = 3\nTimeoutStart = 500")
    longrun(system, "needs-bad", extra="Depends = ( bad )")
    longrun(system, "needs-nr", extra="Depends = ( never-ready )")
    longrun(system, "deep", extra="Depends = ( needs-bad )")
    longrun(system, "wants-bad", extra="OptsDepends = ( bad never-ready )")
    longrun(system, "fine")
    names = ["deep", "needs-nr", "wants-bad", "fine"]
    r = system.ovis("start", *names)
    assert r.returncode == 1
    st = system.status()
    assert st["bad"]["state"] == "failed" and st["bad"]["reason"] == "exited"
    assert st["bad"]["exit"] == 3
    assert st["never-ready"]["state"] == "failed" and st["never-ready"]["reason"] == "timed-out"
    assert st["never-ready"]["pid"] is None  # brought down after the timeout
    for n in ("needs-bad", "needs-nr", "deep"):
        assert st[n]["state"] == "failed" and st[n]["reason"] == "dependency-failed", n
        assert st[n]["pid"] is None
    assert st["wants-bad"]["state"] == "up"  # soft dependency failure does not block
    assert st["fine"]["state"] == "up"
    assert "dependency failed: bad" in r.stdout
    assert "bad, deep, needs-bad, needs-nr, never-ready" in r.stderr


def test_crash_looping_longrun_is_failed_after_max_death(system: LiveSystem) -> None:
    longrun(system, "crasher", run="exit 7", extra="MaxDeath = 2")
    system.ovis("start", "crasher")
    assert wait_until(lambda: system.status("crasher")["crasher"]["state"] == "failed"
                      and "not restarted" in system.status("crasher")["crasher"]["detail"],
                      timeout=15)
    st = system.status("crasher")["crasher"]
    assert st["reason"] == "exited" and st["exit"] == 7
    r = system.ovis("status", "crasher")
    assert r.returncode == 1 and "failed" in r.stdout


def test_concurrent_starts_both_succeed_consistently(system: LiveSystem) -> None:
    for i in range(30):
        longrun(system, f"c{i}", extra=f"Depends = ( c{i - 1} )" if i else "")
        oneshot(system, f"o{i}", "sleep 0.01")
    cmd = [sys.executable, "-m", "ovis", "start"]
    a = subprocess.Popen(cmd + [f"c{i}" for i in range(30)] + ["o1"], env=system.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen(cmd + [f"o{i}" for i in range(30)] + ["c29"], env=system.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=60) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    assert any("waiting for another ovis command" in err for _, err in outs)
    st = system.status()
    assert len(st) == 60 and all(s["state"] == "up" for s in st.values())
    # Each oneshot ran exactly once: the second caller saw it up.
    started = "".join(o for o, _ in outs)
    for i in range(30):
        assert started.count(f" o{i} ") == 1, f"o{i}"


def test_oneshot_gets_its_definition_environment_not_the_callers(system: LiveSystem) -> None:
    out = system.root / "env.out"
    system.write("envy", f"""
        [Main]
        Type = oneshot
        Description = "env"
        [Start]
        Execute = ( redirfd -w 1 {out} env )
        [Environment]
        GREETING=hello world
        """)
    system.env["LEAKY"] = "caller-only"
    system.ovis("start", "envy", check=True)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert env["GREETING"] == "hello world"
    assert "LEAKY" not in env
    assert env["OVIS_LIVE"] == str(system.live)


def test_oneshot_output_goes_to_its_log(system: LiveSystem) -> None:
    oneshot(system, "talker", "foreground { echo to-stdout } fdmove -c 1 2 echo to-stderr")
    system.ovis("start", "talker", check=True)
    current = system.logdir / "talker" / "current"
    text = current.read_text()
    assert "to-stdout" in text and "to-stderr" in text
    assert text.startswith("@4000")
    r = system.ovis("log", "talker")
    assert r.returncode == 0 and "to-stdout" in r.stdout and not r.stdout.startswith("@")


def test_longrun_logger_and_log_command(system: LiveSystem) -> None:
    longrun(system, "chatty", run="foreground { echo hello-log } sleep 1000")
    system.ovis("start", "chatty", check=True)
    current = system.logdir / "chatty" / "current"
    assert wait_until(lambda: current.exists() and "hello-log" in current.read_text())
    r = system.ovis("log", "chatty", "-n", "1")
    assert r.stdout.strip().endswith("hello-log")
    assert r.stdout[:4].isdigit()  # a local date, not a TAI64N label


def test_instances_substitute_the_instance_name(system: LiveSystem) -> None:
    out = system.root / "inst"
    system.write("greet@", f"""
        [Main]
        Type = oneshot
        Description = "greet @I"
        [Start]
        Execute = ( redirfd -a 1 {out} echo hello @I )
        """)
    system.ovis("start", "greet@alice", "greet@bob", check=True)
    assert sorted(out.read_text().split("\n")[:-1]) == ["hello alice", "hello bob"]
    st = system.status("greet@alice")
    assert st["greet@alice"]["description"] == "greet alice"


def test_restart_reload_and_signal(system: LiveSystem) -> None:
    trap = system.root / "sig"
    longrun(system, "sig", run=f"trap {{ SIGHUP {{ redirfd -a 1 {trap} echo hup }} "
                                f"SIGUSR1 {{ redirfd -a 1 {trap} echo usr1 }} }} sleep 1000")
    system.ovis("start", "sig", check=True)
    pid = system.status()["sig"]["pid"]
    time.sleep(0.2)
    system.ovis("reload", "sig", check=True)
    system.ovis("signal", "USR1", "sig", check=True)
    assert wait_until(lambda: trap.exists() and trap.read_text() == "hup\nusr1\n")
    r = system.ovis("signal", "BOGUS", "sig")
    assert r.returncode == 2 and "unsupported signal" in r.stderr
    system.ovis("restart", "sig", check=True)
    st = system.status()["sig"]
    assert st["state"] == "up" and st["pid"] != pid


def test_enable_disable_and_tree_start_stop(system: LiveSystem) -> None:
    longrun(system, "a")
    longrun(system, "b", extra="Depends = ( a )")
    longrun(system, "manual", extra="Flags = ( down )")
    system.ovis("enable", "-t", "main", "b", "manual", check=True)
    assert sorted(p.name for p in (system.trees / "main").iterdir()) == ["b", "manual"]
    r = system.ovis("tree", "start", "main")
    assert r.returncode == 0, r.stderr
    st = system.status()
    assert st["a"]["state"] == st["b"]["state"] == "up"
    assert st["manual"]["state"] == "down"  # flagged down: left for an explicit start
    system.ovis("tree", "stop", "main", check=True)
    st = system.status()
    assert st["b"]["state"] == "down"
    system.ovis("disable", "-t", "main", "manual", check=True)
    assert [p.name for p in (system.trees / "main").iterdir()] == ["b"]
    r = system.ovis("enable", "-t", "main", "ghost")
    assert r.returncode == 2 and "unknown service: ghost" in r.stderr


def test_start_without_svscan_is_a_clear_error(offline: LiveSystem) -> None:
    longrun(offline, "x")
    r = offline.ovis("start", "x")
    assert r.returncode == 1
    assert "no s6-svscan is running" in r.stderr


def test_unknown_service_is_exit_2(system: LiveSystem) -> None:
    r = system.ovis("start", "nope")
    assert r.returncode == 2
    assert r.stderr.strip() == "ovis: error: unknown service: nope"
    assert not (system.live / "sv" / "nope").exists()


def test_scandir_stop_brings_everything_down(system: LiveSystem) -> None:
    longrun(system, "a")
    longrun(system, "b", extra="Depends = ( a )")
    system.ovis("start", "b", check=True)
    pids = [system.status()[n]["pid"] for n in ("a", "b")]
    r = system.ovis("scandir", "stop")
    assert r.returncode == 0, r.stderr
    assert r.stdout.index("b ") < r.stdout.index("a ")
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_restart_brings_back_only_what_was_up(system: LiveSystem) -> None:
    longrun(system, "base")
    longrun(system, "up-dep", extra="Depends = ( base )")
    longrun(system, "down-dep", extra="Depends = ( base )")
    system.ovis("start", "up-dep", check=True)
    before = system.status()["up-dep"]["pid"]
    system.ovis("restart", "base", check=True)
    st = system.status()
    assert st["base"]["state"] == "up" and st["up-dep"]["state"] == "up"
    assert st["up-dep"]["pid"] != before  # restarted with what it needs
    assert st["down-dep"]["state"] == "down"  # was not up: stays down


def test_failed_start_without_svscan_leaves_no_live_dir(offline: LiveSystem) -> None:
    longrun(offline, "x")
    r = offline.ovis("start", "x")
    assert r.returncode == 1 and "no s6-svscan is running" in r.stderr, r.stderr
    assert not offline.live.exists()


def test_broken_definition_shows_as_invalid_definition(system: LiveSystem) -> None:
    longrun(system, "good")
    system.write("broken", "[Main]\nType = oneshot\nNope = 1\n")
    system.ovis("enable", "-t", "t", "good", check=True)
    (system.trees / "t" / "broken").touch()
    r = system.ovis("tree", "start", "t")
    assert r.returncode == 1
    st = system.status()
    assert st["good"]["state"] == "up"
    assert st["broken"]["state"] == "failed" and st["broken"]["reason"] == "invalid-definition"
    assert st["broken"]["type"] == "oneshot" and "Nope: unknown key" in st["broken"]["detail"]
    r = system.ovis("status", "broken")
    assert r.returncode == 1 and "invalid-definition" in r.stdout


def test_disable_is_all_or_nothing_and_signal_needs_an_up_service(system: LiveSystem) -> None:
    longrun(system, "a")
    system.ovis("enable", "-t", "t", "a", check=True)
    r = system.ovis("disable", "-t", "t", "a", "ghost")
    assert r.returncode == 2 and (system.trees / "t" / "a").exists()
    system.ovis("start", "a", check=True)
    system.ovis("stop", "a", check=True)
    r = system.ovis("reload", "a")
    assert r.returncode == 1 and "not up" in r.stderr

"""Everyday operations (issue 12): safe restart, detailed status, logs, apply, reset.

Real s6-svscan, real CLI, real processes, as in test_manager.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, offline, system, wait_until  # noqa: F401


def longrun(s: LiveSystem, name: str, run: str = "sleep 1000", extra: str = "") -> Path:
    return s.write(name, LONGRUN.format(name=name, run=run, extra=extra))


def oneshot(s: LiveSystem, name: str, start: str = "exit 0", extra: str = "") -> Path:
    return s.write(name, ONESHOT.format(name=name, start=start, extra=extra))


def pids(s: LiveSystem) -> dict[str, int | None]:
    return {n: it["pid"] for n, it in s.status().items()}


# 1. validate before changing anything --------------------------------------------
def test_restart_with_a_broken_definition_keeps_the_running_pids(system: LiveSystem) -> None:
    longrun(system, "webapp")
    longrun(system, "worker", extra="Depends = ( webapp )")
    system.ovis("start", "worker", check=True)
    before = pids(system)
    # a typo in webapp's definition after it started
    p = system.services / "webapp"
    p.write_text(p.read_text().replace("Type = classic", "Typo = classic"))
    r = system.ovis("restart", "webapp")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("ovis: error: ") and len(r.stderr.splitlines()) == 1
    assert "Typo" in r.stderr
    st = system.status("webapp", "worker")
    assert st["webapp"]["state"] == "up" and st["worker"]["state"] == "up"
    assert pids(system)["webapp"] == before["webapp"]
    assert pids(system)["worker"] == before["worker"]


def test_restart_with_a_broken_dependent_changes_nothing(system: LiveSystem) -> None:
    longrun(system, "webapp")
    longrun(system, "worker", extra="Depends = ( webapp )")
    system.ovis("start", "worker", check=True)
    before = pids(system)
    p = system.services / "worker"
    p.write_text(p.read_text().replace("Depends = ( webapp )", "Depends = ( webapp nosuch )"))
    r = system.ovis("restart", "webapp")
    assert r.returncode == 2 and "nosuch" in r.stderr, r.stdout + r.stderr
    assert pids(system) == before

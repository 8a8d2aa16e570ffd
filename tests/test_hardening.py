"""Issue 11 (hardening): hostile names, signals to PID 1, shutdown under faults.

Each test reproduces one finding of the hostile review on the real thing
(real s6-svscan in a temp dir, real PID 1 in namespaces) and checks the
promise of docs/guarantees.md that covers it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.defs import LONGRUN, ONESHOT
from tests.livesys import LiveSystem, offline, system  # noqa: F401


# Item 5: path traversal ------------------------------------------------------
@pytest.mark.parametrize("verb", ["disable", "enable", "stop", "start", "status", "reload",
                                  "restart", "log"])
@pytest.mark.parametrize("name", ["../../victim", "..", "a/b", "web\n", ".hidden"])
def test_names_reaching_a_path_are_rejected(offline: LiveSystem, verb: str, name: str) -> None:
    victim = offline.root / "victim"
    victim.write_text("precious\n")
    (offline.trees / "boot").mkdir(parents=True)
    (offline.trees / "boot" / "web").touch()
    offline.write("web", LONGRUN.format(name="web", extra="", run="sleep 100"))
    (offline.live / "sv").mkdir(parents=True)
    r = offline.ovis(verb, name, timeout=30)
    assert r.returncode == 2, (verb, name, r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [f"ovis: error: invalid service name: {name!r}"]
    assert victim.read_text() == "precious\n"
    assert (offline.trees / "boot" / "web").exists()


def test_tree_name_is_validated_too(offline: LiveSystem) -> None:
    offline.write("web", LONGRUN.format(name="web", extra="", run="sleep 100"))
    r = offline.ovis("enable", "-t", "../x", "web")
    assert r.returncode == 2 and "invalid tree name: '../x'" in r.stderr, r.stderr
    assert not (offline.root / "x").exists()

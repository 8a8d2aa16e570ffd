"""Output scenarios of the everyday commands, through the real ``ovis`` command.

Each ``tests/scenarios/ops-<case>/`` holds ``service/`` (definitions),
optionally ``tree/`` (trees), ``cmd`` (one ovis command line) and
``expected-output``: the exact stdout, ``{dir}`` standing for the case's
folder; ``exit`` holds the expected exit status (default 0).  Nothing is
started, so the output is the same on every machine.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"
CASES = sorted(c for c in SCENARIOS.iterdir() if (c / "expected-output").is_file())
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_output_scenario(case: Path, tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
           "OVIS_SERVICES": str(case / "service"), "OVIS_TREES": str(case / "tree"),
           "OVIS_LIVE": str(tmp_path / "live"), "OVIS_LOGDIR": str(tmp_path / "log"),
           "OVIS_SKEL": str(tmp_path / "skel")}
    cmd = shlex.split((case / "cmd").read_text())
    r = subprocess.run([sys.executable, "-m", "ovis", *cmd], env=env, capture_output=True,
                       text=True, timeout=60)
    expected = (case / "expected-output").read_text().replace("{dir}", str(case))
    code = int((case / "exit").read_text()) if (case / "exit").exists() else 0
    assert (r.returncode, r.stdout) == (code, expected), r.stderr
    assert not (tmp_path / "live" / "sv").exists()  # looking changes nothing


def test_output_scenarios_exist() -> None:
    assert {"ops-deps-needs", "ops-deps-reverse", "ops-status-detail-never-started",
            "ops-status-table-with-broken", "ops-is-enabled"} <= {c.name for c in CASES}

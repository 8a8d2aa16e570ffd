"""The README's first command: ``ovis demo`` boots, shows, and powers off."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.bootsys import REPO, require_namespaces


def test_demo_boots_shows_and_powers_off_quickly() -> None:
    require_namespaces()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "ovis", "demo"], capture_output=True, text=True,
                       timeout=60, cwd=REPO)
    elapsed = time.monotonic() - t0
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "system ready in" in out and "4 service(s) up" in out
    table = out[out.index("NAME"):]
    for name in ("clock", "greeter@world", "prepare", "spoold"):
        assert any(line.startswith(name) and " up " in line for line in table.splitlines()), name
    assert out.index("system ready") < out.index("stage 3") < out.index("stage 4")
    assert "powered off cleanly" in out
    assert elapsed < 5, elapsed

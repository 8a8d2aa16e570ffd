"""Namespace boots: what stage 4 leaves behind, and which ovis a booted system runs.

Stage 4's own report ("unmounted N filesystem(s)") is not trusted here:
rc.shutdown.final (tests/bootsys.py FINAL_PROBE) mounts a fresh /proc of
the namespace at the very end and lists every process and mount left.
"""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

from tests.bootsys import BootedSystem, booted  # noqa: F401
from tests.defs import LONGRUN as DAEMON
from tests.defs import ONESHOT
from tests.selfcheck import REPO


def _mountinfo(pid: int) -> dict[str, list[str]]:
    lines = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    return {f[4]: f for f in (l.split() for l in lines)}


def test_stage4_unmounts_or_remounts_read_only_everything(booted: BootedSystem) -> None:
    mnt = booted.root / "mnt"
    (mnt / "outer").mkdir(parents=True)
    booted.write("mounts", ONESHOT.format(
        name="mounts", extra="",
        start=f"if {{ mount -t tmpfs t-outer {mnt}/outer }} if {{ mkdir {mnt}/outer/inner }} "
              f"mount -t tmpfs t-inner {mnt}/outer/inner"))
    booted.write("d", DAEMON.format(name="d", extra="", run=f"cd {mnt}/outer sleep 1000"))
    booted.boot()
    assert booted.pid1 is not None
    before = _mountinfo(booted.pid1)
    # Mounted in the namespace, rw: the service's two tmpfs and stage 1's LIVE.
    for target in (f"{mnt}/outer", f"{mnt}/outer/inner"):
        assert target in before and "rw" in before[target][5].split(","), before.keys()
    assert booted.ovis("poweroff").returncode == 0
    assert booted.wait_exit() == -signal.SIGINT, booted.console_text()
    view = booted.final_view()
    left = view.mount_points()
    assert f"{mnt}/outer" not in left and f"{mnt}/outer/inner" not in left, sorted(left)
    assert not any(f[4] == "/run" and f[-3] == "tmpfs" for f in view.mounts), sorted(left)
    writable = [f[4] for f in view.mounts
                if "ro" not in f[5].split(",") and f[-3] != "proc"]  # the probe's own /proc
    assert writable == [], f"still mounted read-write after stage 4: {writable}"
    assert "ro" in left["/"][5].split(",")
    assert view.others() == {}, view.others()


DECOY_MAIN = """\
import os, sys
with open({marker!r}, "a") as f:
    f.write("decoy ovis ran: " + " ".join(sys.argv) + "\\n")
sys.exit(111)
"""


def test_booted_system_runs_the_ovis_that_booted_it(booted: BootedSystem, tmp_path: Path) -> None:
    """Another ovis is first on every stage's default import path: it must never run.

    init.conf's PYTHONPATH reaches every process of the boot (rc.init, stage 3,
    s6-svscan's finish and signal scripts, the console scripts on the boot
    PATH); a plain ``python -m ovis`` or console script there imports the decoy.
    """
    decoy = tmp_path / "decoy"
    marker = tmp_path / "decoy-ran"
    for mod in ("ovis/__init__.py", "ovis/__main__.py", "ovis/cli/__init__.py",
                "ovis/cli/main.py"):
        (decoy / mod).parent.mkdir(parents=True, exist_ok=True)
        (decoy / mod).write_text(textwrap.dedent(DECOY_MAIN.format(marker=str(marker))))
    (decoy / "ovis" / "cli" / "main.py").write_text(
        textwrap.dedent(DECOY_MAIN.format(marker=str(marker))).replace(
            "sys.exit(111)", "def entrypoint():\n    sys.exit(111)"))
    booted.set_conf(PYTHONPATH=str(decoy), GRACETIME="1000")
    probe = tmp_path / "probe"
    booted.write("who", ONESHOT.format(name="who", extra="", start=f"redirfd -w 1 {probe} env"))
    booted.boot()
    env = dict(l.split("=", 1) for l in probe.read_text().splitlines() if "=" in l)
    assert env.get("PYTHONPATH") == str(decoy)  # the decoy really is on the stages' path
    assert booted.pid1 is not None
    # s6-svscan's stage 4 and the signal handlers name this checkout and interpreter.
    finish = (booted.live() / "scandir" / ".s6-svscan" / "finish").read_text()
    assert str(REPO) in finish, finish
    import os

    os.kill(booted.pid1, signal.SIGUSR1)  # SIGUSR1 script -> poweroff -> stage 3 -> stage 4
    assert booted.wait_exit() == -signal.SIGINT, booted.console_text()
    console = booted.console_text()
    assert not marker.exists(), marker.read_text() + console
    assert "ovis: stopped 1 service" in console, console  # stage 3 ran (the real one)
    assert "stage 4 done" in console, console
    booted.assert_nothing_survived_stage4()

"""``ovis demo``: boot the bundled example system as PID 1, show it, power off.

Everything happens in new PID and mount namespaces (``unshare``; with a user
namespace too when not root), so the demo touches nothing on the machine:
LIVE is a tmpfs on the namespace's /run, the skeleton and logs live in a
temporary directory.  The demo's rc.init runs the normal stage 2, prints
the status table, then asks for a poweroff; reboot(2) in the namespace ends
it with SIGINT, which is how the demo knows the shutdown went through.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ovis.boot import skel
from ovis.errors import StateError


def examples_dir() -> Path:
    here = Path(__file__).resolve().parent.parent.parent / "examples"
    if (here / "66").is_dir():
        return here
    raise StateError(f"the bundled examples are not there ({here})")


DEMO_RC_INIT = """\
#!/bin/sh
# The demo's stage 2: the normal one, then a look around, then poweroff.
{ovis} stage2 --status
{ovis} poweroff
"""


def unshare_argv() -> list[str]:
    argv = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private",
            "--kill-child"]
    if os.geteuid() != 0:
        argv[1:1] = ["--user", "--map-root-user"]
    return argv


#: The demo powers off in about a second; this only bounds a broken run.
BOOT_TIMEOUT = 30


def import_path() -> str:
    """PYTHONPATH that lets stages 2-4 import this very ovis (a user's checkout, not root's venv).

    Stage 1 gives its children the boot environment, not the caller's: a
    ``python3 -m ovis`` in rc.init finds ovis only through this.
    """
    here = str(Path(__file__).resolve().parent.parent.parent)
    extra = os.environ.get("PYTHONPATH", "")
    return ":".join(p for p in dict.fromkeys([here, *extra.split(":")]) if p)


def preflight(env: dict[str, str], python: str = sys.executable) -> None:
    """Fail in seconds, with one line, when the stages could not import ovis.

    Run with the environment and the interpreter the stages get, from ``/``,
    as the same user: what it can import, they can (the namespaces change
    neither the files nor the permissions), and it costs no namespace set-up.
    """
    argv = [python, "-c", "import ovis.cli.main"]
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=15, cwd="/")
    except subprocess.TimeoutExpired:
        raise StateError("demo: starting Python took over 15 s") from None
    except OSError as e:
        raise StateError(f"demo: cannot run {python}: {e}") from None
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        raise StateError(f"demo: the boot stages could not import ovis ({python}): {last}")


def run(verbose: bool = True) -> int:
    if shutil.which("unshare") is None:
        raise StateError("the demo needs unshare (util-linux)")
    ex = examples_dir()
    work = Path(tempfile.mkdtemp(prefix="ovis-demo-"))
    try:
        sk = work / "skel"
        skel.install(sk)
        rc = DEMO_RC_INIT.format(ovis=skel.ovis_command())
        (sk / "rc.init").write_text(rc)
        pythonpath = import_path()
        (sk / "environment" / "demo").write_text(
            f"OVIS_SERVICES={ex / '66'}\nOVIS_TREES={ex / 'tree'}\nOVIS_LOGDIR={work / 'log'}\n"
            f"PYTHONPATH={pythonpath}\n")
        skel.set_conf(sk / "init.conf", GRACETIME="1000")
        cmdline = work / "cmdline"
        cmdline.write_text("demo\n")
        env = {"PATH": os.environ.get("PATH", skel.DEFAULT_PATH), "OVIS_CMDLINE": str(cmdline),
               "PYTHONPATH": pythonpath}
        preflight(env)
        argv = unshare_argv() + [sys.executable, "-m", "ovis", "boot", "-s", str(sk),
                                 "-b", "[ovis demo: booting the example system as PID 1]"]
        if verbose:
            print(f"$ {' '.join(shlex.quote(a) for a in argv)}", flush=True)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, timeout=BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise StateError(f"demo: the example system did not power off within {BOOT_TIMEOUT} s "
                             "(its PID 1 was killed)") from None
        elapsed = time.monotonic() - t0
        ok = p.returncode in (-signal.SIGINT, 128 + signal.SIGINT)
        if verbose:
            if ok:
                print(f"\novis demo: powered off cleanly (PID 1 ended by SIGINT, as reboot(2) "
                      f"does in a PID namespace); whole run {elapsed:.2f} s")
            else:
                print(f"\novis demo: unexpected end of PID 1 (status {p.returncode})")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Stage 2 (the default rc.init): start TREE, say "system ready", keep the boot log.

Progress goes both to stdout (the catch-all logger, i.e. the boot log) and
to the console, so that the person watching the screen sees the boot too.
A failed service only earns a warning: the machine stays up and ``ovis
status`` says which service failed and why; unless it is *essential*: then
a container shuts down (PID 1's exit status is that service's exit code, or
1) and on a machine stage 2 fails, so stage 1 opens the rescue shell.
"""

from __future__ import annotations

import os
import time

try:  # the C module: signal.py (its enums) is imported by nothing else of the boot
    import _signal as signal
except ImportError:  # pragma: no cover - CPython always has it
    import signal  # type: ignore[no-redef]
from pathlib import Path

from ovis.boot.shutdown import FdText, console_fd, boot_info
from ovis.engine.manager import Manager, Outcome
from ovis.engine.transaction import Action
from ovis.errors import StateError
from ovis.paths import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ovis.service.repository import Repository


def _drained(fd: int, limit: float = 2.0) -> None:
    """Wait (bounded) until the pipe or fifo on *fd* holds no unread bytes.

    s6-log takes its SIGALRM and its input in whichever order they come: a
    rotation asked right after a write may cut before the written lines.
    """
    import fcntl
    import stat
    import struct
    import termios

    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return  # a console or a file: nothing is left unread in it
    except OSError:
        return
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            left = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return
        if left == 0:
            return
        time.sleep(0.005)


def save_boot_log(paths: Paths, live: Path) -> Path | None:
    """Rotate the catch-all log and move the finished file to LOGDIR/boot (aa-mvlog)."""
    from ovis.boot.config import CATCHALL
    from ovis.logs.mvlog import mvlog
    from ovis.s6.control import send

    logdir = live / "log" / CATCHALL
    _drained(1)  # what stage 2 wrote is read by s6-log before it is told to rotate
    before = set(os.listdir(logdir)) if logdir.is_dir() else set()
    send(live / "scandir" / CATCHALL, "a")  # SIGALRM: s6-log rotates current now
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        new = [n for n in os.listdir(logdir) if n.startswith("@") and n.endswith(".s")
               and n not in before]
        if new:
            return mvlog(logdir / sorted(new)[-1], paths.logdir / "boot")
        time.sleep(0.02)
    return None


def _essential_failures(manager: Manager, outcome: Outcome) -> list[tuple[str, int]]:
    """(name, exit status for PID 1) of each essential service that failed to start.

    The status is the service's own exit code when it exited with one, else 1.
    """
    live = manager.live_services()
    out = []
    for n in outcome.failed:
        svc = live.get(n)
        if svc is None:
            try:
                svc = manager.repo.load(n)
            except Exception:  # noqa: BLE001 - a broken definition is not essential
                continue
        if svc.essential:
            r = outcome.results[n]
            code = r.exit if isinstance(r.exit, int) else 0
            if r.reason is not None and r.reason.value == "signalled":
                code += 128
            out.append((n, code if 0 < code < 256 else 1))
    return out


def run(paths: Paths, show_status: bool = False, repo: Repository | None = None) -> int:
    """*repo*: the definitions stage 1 loaded already (stage 2 in its forked child)."""
    from ovis.terminal import TerminalReporter

    live = paths.live
    info = boot_info(live)
    echoed = info.get("container") and info.get("namespace") and info.get("catchlog")
    console = None if echoed else console_fd(info)  # else every line twice
    out = FdText(1) if console is None else FdText(1, console)  # stdout and the console
    tree = os.environ.get("TREE") or info.get("tree") or "boot"
    out.write(f"ovis: stage 2: starting tree {tree}...\n")
    reporter = TerminalReporter(stream=out, err=out)  # type: ignore[arg-type]
    reporter.colour = bool(info.get("colour"))  # `ovis boot -z`
    manager = Manager(paths, reporter, repo=repo)
    try:
        outcome: Outcome = manager.tree_start(tree)
    except StateError:
        if not manager.shutting_down():
            raise
        outcome = Outcome(Action.START)
    if manager.shutting_down():
        out.write("ovis: stage 2: a shutdown is in progress: stopped starting\n")
        if info.get("container"):
            # rc.init.container runs the command once stage 2 returns: never
            # return, stage 4 ends this process with the rest.
            out.write("ovis: stage 2: the container command is not started\n")
            while True:
                signal.pause()
        return 0
    essential = _essential_failures(manager, outcome)
    if essential:
        names = ", ".join(n for n, _ in essential)
        out.write(f"ovis: ESSENTIAL SERVICE(S) FAILED TO START: {names} (see: ovis status)\n")
        if info.get("container"):
            from ovis.boot.shutdown import shutdown

            code = essential[0][1]
            out.write(f"ovis: stage 2: shutting the container down (exit status {code}); "
                      "the container command is not started\n")
            shutdown(live, "halt", exitcode=code, caller_exits=False)  # it pauses
            while True:  # as above: stage 4 ends this process
                signal.pause()
        return 1  # rc.init fails: stage 1 opens the rescue shell
    up = sum(1 for r in outcome.results.values() if r.ok)
    elapsed = time.time() - float(info.get("stage1_start", time.time()))
    if outcome.failed:
        out.write(f"ovis: warning: {len(outcome.failed)} service(s) failed: "
                  f"{', '.join(outcome.failed)} (see: ovis status)\n")
    out.write(f"ovis: system ready in {elapsed:.3f} s: tree {tree}, {up} service(s) up"
              f"{', ' + str(len(outcome.failed)) + ' failed' if outcome.failed else ''}\n")
    if show_status:
        from ovis.terminal import status_table
        from ovis.engine.status import gather

        names = sorted(set(manager.live_services()) | set(outcome.results))
        out.write("\n" + status_table(gather(manager, names), reporter.colour) + "\n\n")
    if not info.get("container") and info.get("catchlog"):
        try:
            saved = save_boot_log(paths, live)
            if saved is not None:
                out.write(f"ovis: boot log saved as {saved}\n")
        except Exception as e:  # noqa: BLE001 - a log problem must not fail the boot
            out.write(f"ovis: warning: could not save the boot log: {e}\n")
    return 0  # a failed service is a warning: the machine stays up (rescue is for rc.init itself)

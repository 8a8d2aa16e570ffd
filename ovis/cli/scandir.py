"""``ovis scandir start|stop``: the s6-svscan of LIVE/scandir, outside of a boot."""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing (and re with it) costs the first command of a cold start

from ovis.errors import StateError
from ovis.paths import DEFAULT_PATH, Paths
from ovis.s6.svscan import svscan_argv

if TYPE_CHECKING:
    import argparse
    from typing import Callable

    from ovis.engine.manager import Manager


def svscan_env(paths: Paths) -> dict[str, str]:
    """s6-svscan's environment is every service's: keep it clean and explicit."""
    return paths.boot_env(os.environ.get("PATH", DEFAULT_PATH))


def start_detached(paths: Paths) -> Callable[[], None]:
    """``ovis start --scandir``: an s6-svscan on LIVE/scandir unless one runs; returns the wait.

    The same s6-svscan as ``scandir start`` (argv, environment), spawned in
    its own session with its output on /dev/null (a caller reading ours to
    EOF must not wait for it), and left running when ovis exits.  It is
    spawned first and waited for by the returned function, so it starts
    while the caller imports and parses.
    """
    from ovis.s6.control import svscan_running

    if svscan_running(paths.scandir):
        return lambda: None
    paths.scandir.mkdir(parents=True, exist_ok=True)
    paths.servicedirs.mkdir(parents=True, exist_ok=True)
    expected = 0
    for d in paths.services:  # its table must hold what is about to be compiled
        try:
            expected += len(os.listdir(d))
        except OSError:
            pass
    argv = svscan_argv(paths.scandir, paths.servicedirs, expected=expected)
    null = os.devnull
    try:
        pid = os.posix_spawnp(argv[0], argv, svscan_env(paths), setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, 1, 2)])
    except OSError as e:
        raise StateError(f"cannot run s6-svscan: {e.strerror}") from None

    def wait() -> None:
        deadline = time.monotonic() + 30
        while not svscan_running(paths.scandir):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if svscan_running(paths.scandir):  # another one got there first
                    return
                raise StateError(f"s6-svscan on {paths.scandir} exited at once "
                                 f"(status {os.waitstatus_to_exitcode(status)})")
            if time.monotonic() > deadline:
                raise StateError(f"s6-svscan on {paths.scandir} did not start in 30 s")
            time.sleep(0.002)
    return wait


def quick_start(options: list[str]) -> Callable[[], int] | None:
    """``ovis [-v N] scandir start`` (*options*: the words before ``scandir``)
    without argparse, or None for anything else (argparse then reads it).

    It is the first command of every cold start outside a boot and it only
    execs s6-svscan: building the parser (argparse, re, gettext) cost more
    than everything else it does.
    """
    if options and not (len(options) == 2 and options[0] == "-v"
                        and options[1].isascii() and options[1].isdigit()):
        return None
    from types import SimpleNamespace

    from ovis.cli.context import paths_of

    args = SimpleNamespace(action="start", live=None, skel=None, services=None, trees=None,
                           logdir=None, json=False,
                           verbosity=int(options[1]) if options else 1)

    def start() -> int:
        return run(args, paths_of(args), lambda: None)  # type: ignore[arg-type,return-value]
    return start


def run(args: argparse.Namespace, paths: Paths, manager: Callable[[], Manager]) -> int:
    """``manager`` builds the engine only for ``stop`` (the caller owns how: no import back)."""
    from ovis.s6.control import svscan_running, svscan_send

    if args.action == "start":
        if svscan_running(paths.scandir):
            raise StateError(f"an s6-svscan already runs on {paths.scandir}")
        paths.scandir.mkdir(parents=True, exist_ok=True)
        paths.servicedirs.mkdir(parents=True, exist_ok=True)
        argv = svscan_argv(paths.scandir, paths.servicedirs)
        os.execvpe(argv[0], argv, svscan_env(paths))
    if not svscan_running(paths.scandir):
        raise StateError(f"no s6-svscan is running on {paths.scandir}")
    t0 = time.monotonic()
    outcome = manager().stop([], everything=True, force=True)
    svscan_send(paths.scandir, "t")
    deadline = time.monotonic() + 10
    told = False
    while svscan_running(paths.scandir) and time.monotonic() < deadline:
        if not told and time.monotonic() > deadline - 9:  # a second of silence is enough
            told = True
            if args.verbosity > 0:
                print(f"ovis: waiting for s6-svscan on {paths.scandir} to exit...",
                      file=sys.stderr, flush=True)
        time.sleep(0.02)
    if svscan_running(paths.scandir):
        raise StateError(f"s6-svscan on {paths.scandir} did not exit")
    if args.verbosity > 0 and not args.json:
        from ovis.terminal import duration

        n = sum(1 for r in outcome.results.values() if r.ok and not r.already)
        print(f"ovis: stopped {n} service{'s' if n != 1 else ''} and s6-svscan on {paths.scandir} "
              f"in {duration(time.monotonic() - t0)}")
    return 0

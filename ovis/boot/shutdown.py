"""Stages 3 and 4: stop the services, then kill, unmount and reboot.

Stage 3 (``ovis poweroff|reboot|halt``) records the request in
``LIVE/shutdown`` (the first request wins, so a container's SIGTERM and its
command ending at the same time cannot fight), runs ``RCSHUTDOWN`` while
supervision still works (services stop in reverse dependency order), then
tells s6-svscan to leave (``b``: without waiting for anything) so it execs
its ``finish`` script: stage 4, ``ovis stage4``, now PID 1.

Stage 4 kills every remaining process (TERM, then KILL after GRACETIME),
syncs, turns swap off, unmounts every filesystem (read-only remount for what
cannot be unmounted), runs ``RCSHUTDOWNFINAL`` and calls reboot(2) — or, in
container mode, exits with the container command's exit code.

The action travels in a file because s6-svscan 2.11 runs ``finish`` without
arguments and ``s6-svscanctl`` has no halt/reboot/poweroff letters.
"""

from __future__ import annotations

import os
import time

# typing costs ~30 modules and pathlib with re, enum, fnmatch, urllib.parse ~30 more: stage 4
# and poweroff run where Python is slow, so paths here are plain str (a Path is accepted).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NoReturn

from ovis.jsonlite import dumps, loads  # json's C parts without re: some 10 modules less
from ovis.errors import StateError

ACTIONS = ("poweroff", "reboot", "halt")
HALTCODES = {"poweroff": "p", "reboot": "r", "halt": "h"}
SIGTERM_EXIT = 143  # 128 + SIGTERM: "terminated", as shells report it


def boot_info(live: str | Path) -> dict[str, Any]:
    from ovis.smallfile import read_json_object

    got = read_json_object(f"{os.fspath(live)}/boot.json")
    if got is None:
        raise StateError(f"{live} was not set up by `ovis boot` (no {live}/boot.json)")
    return got[1]


def halt_file(skel: str | Path) -> str:
    return f"{os.fspath(skel)}/container/{os.getuid()}/halt"


def write_halt_file(skel: str | Path, code: int, action: str = "poweroff") -> None:
    """66's container halt file: ``EXITCODE=`` and ``HALTCODE=`` lines."""
    from ovis import atomic

    p = halt_file(skel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    atomic.write_text(p, f"EXITCODE={code}\nHALTCODE={HALTCODES.get(action, 'p')}\n")


def read_request(live: str | Path) -> dict[str, Any] | None:
    """The shutdown request, or None.  It is the *target* of the symlink
    ``LIVE/shutdown`` (a regular file holding the same JSON is read too)."""
    p = f"{os.fspath(live)}/shutdown"
    try:
        text = os.readlink(p)
    except OSError:
        try:
            with open(p) as f:
                text = f.read()
        except OSError:
            return None
    try:
        data = loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _request_text(action: str, exitcode: int | None, force: bool) -> str:
    # Short on purpose: a tmpfs keeps a symlink target below 128 bytes (ext4:
    # below 60) inside the inode, so asking for a shutdown needs no free block.
    return dumps({"action": action, "exitcode": exitcode, "force": force,
                  "requested": round(time.time(), 3), "by": os.getpid()}, separators=(",", ":"))


def request_shutdown(live: str | Path, action: str, *, exitcode: int | None = None,
                     force: bool = False) -> bool:
    """Record the request; False when another shutdown already claimed it.

    The request is a symlink whose target is the request itself: symlink(2)
    is atomic and exclusive (the first request wins) and needs no data
    block, so a full LIVE (``ENOSPC``) cannot make shutdown impossible.
    A forced request (``-f``) over an unforced one in progress replaces it
    (rename(2) needs no space either) and wins: True.
    """
    if action not in ACTIONS:
        raise ValueError(action)
    text = _request_text(action, exitcode, force)
    target = f"{os.fspath(live)}/shutdown"
    try:
        os.symlink(text, target)
        return True
    except FileExistsError:
        pass
    old = read_request(live) or {}
    if not force or old.get("force"):
        return False
    if exitcode is None and old.get("exitcode") is not None:
        text = _request_text(action, old["exitcode"], force)
    tmp = f"{os.fspath(live)}/.shutdown.{os.getpid()}"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(text, tmp)
    os.rename(tmp, target)
    return True


def shutdown(live: str | Path, action: str, *, exitcode: int | None = None,
             force: bool = False, repeat_forces: bool = False,
             caller_exits: bool = True) -> bool:
    """Stage 3 entry point (``ovis poweroff`` & co.).

    Returns False when a shutdown was already in progress.  The stop of the
    services runs in a detached session so that it survives the death of
    whoever asked (a login shell whose sshd is being stopped...).
    """
    info = boot_info(live)
    if repeat_forces and os.path.lexists(f"{os.fspath(live)}/shutdown"):
        force = True  # a signal sent again (ctrl-alt-del twice, docker stop twice) insists
    if not request_shutdown(live, action, exitcode=exitcode, force=force):
        return False
    if info.get("container"):
        code = exitcode if exitcode is not None else 0
        try:
            write_halt_file(info["skel"], code, action)
        except OSError:
            pass
    caller = os.getpid()
    pid = os.fork()
    if pid == 0:  # detach: new session, no tie to the caller's terminal
        try:
            os.setsid()
            if os.fork() == 0:
                if caller_exits:
                    _wait_gone(caller, 2.0)
                # Detached from the caller: it writes to the console (or nowhere).
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                # Stage 3 right here, not in a new Python (`ovis stage3`): the
                # same code, without paying for an interpreter start again.
                code = 1
                try:
                    code = run_stage3(live)
                finally:
                    os._exit(code)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return True


def _wait_gone(pid: int, timeout: float) -> None:
    """Let the command that asked (``ovis poweroff``) return before stage 3 goes on.

    Stage 3 runs in this process now, not in a Python started afresh: a
    forced shutdown would otherwise reach stage 4's kill while the caller is
    still exiting, and it would die of SIGTERM instead of returning 0.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except OSError:
            return
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    return  # exited, not reaped yet
        except OSError:
            return
        time.sleep(0.005)


def console_fd(info: dict[str, Any]) -> int | None:
    """The console: inherited from stage 1, reopened through PID 1, or /dev/console.

    In a namespace PID 1 (s6-svscan, then stage 4) keeps the console it was
    started with as ``console_fd``; any process of the namespace can reopen
    it as ``/proc/1/fd/N``.
    """
    fd = info.get("console_fd")
    if fd is not None:
        if os.getpid() == 1:
            try:
                os.fstat(fd)
                return int(fd)
            except OSError:
                return None
        try:  # any other fd number here may be something else: go through PID 1
            return os.open(f"/proc/1/fd/{fd}", os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        except OSError:
            pass
        # /proc/1/fd is closed to an unprivileged user's namespace: use the
        # inherited fd when it is the very file PID 1 keeps.
        ident = info.get("console_id")
        try:
            st = os.fstat(int(fd))
            if ident and [st.st_dev, st.st_ino] == list(ident):
                return os.dup(int(fd))
        except (OSError, TypeError, ValueError):
            pass
        return None
    if info.get("namespace"):
        return None
    try:
        return os.open("/dev/console", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return None


def say(fd: int | None, text: str) -> None:
    line = (text + "\n").encode()
    for target in {fd, 1} - {None}:
        try:
            os.write(target, line)  # type: ignore[arg-type]
        except OSError:
            pass


def run_stage3(live: str | Path) -> int:
    """Run RCSHUTDOWN (unless forced), then make s6-svscan exit into stage 4."""
    from ovis.s6.control import svscan_send

    from ovis.paths import read_env_file

    info = boot_info(live)
    req = read_request(live) or {}
    console = console_fd(info)
    # The boot environment, not the one of whoever asked for the shutdown.
    env = read_env_file(f"{os.fspath(live)}/environment") or dict(os.environ)
    if not info.get("colour"):
        env["NO_COLOR"] = "1"  # colours on the console only with `ovis boot -z`
    say(console, f"ovis: stage 3: preparing {req.get('action', 'reboot')}...")
    code = 0
    if not req.get("force"):
        rc = info.get("rcshutdown")
        stop = _inprocess_stop(rc, live, env, console, bool(info.get("colour")))
        try:
            out = console if console is not None else None
            code = stop() if stop is not None else _subprocess().run(
                [rc, os.path.join(info["skel"], "init.conf")], stdin=_subprocess().DEVNULL,
                stdout=out, stderr=out, env=env).returncode
        except OSError as e:
            say(console, f"ovis: warning: cannot run {rc}: {e}")
            code = 126
        if code != 0:
            say(console, f"ovis: warning: {rc} exited {code}; shutting down anyway")
    try:
        svscan_send(f"{os.fspath(live)}/scandir", "b")
    except OSError as e:
        say(console, f"ovis: fatal: cannot reach s6-svscan: {e}")
        return 1
    return code


class FdText:
    """A text stream onto raw fds (console, stdout) for the stages' reporters.

    os.write per line, errors ignored: a console that went away must not
    stop a boot or a shutdown, and nothing is buffered across a fork.
    """

    def __init__(self, *fds: int) -> None:
        self.fds = list(dict.fromkeys(fds))

    def write(self, text: str) -> int:
        data = text.encode()
        for fd in self.fds:
            try:
                os.write(fd, data)
            except OSError:
                pass
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _inprocess_stop(rc: str | None, live: str | Path, env: dict[str, str], console: int | None,
                    colour: bool) -> Any:
    """The stop of rc.shutdown, in this process, when rc.shutdown only execs ``ovis stop --all``.

    That is the skeleton's rc.shutdown: a new Python for it would cost more
    than the stop itself where Python is slow.  Returns a function giving
    the exit status the command would have had (1 when a service failed to
    stop), or None: a rc.shutdown with commands of its own runs as written.
    The stop runs with the boot environment the script would have had; the
    one thing ``ovis stop`` does that this skips is removing the LIVE entries
    of services whose definitions were deleted (LIVE is about to go).
    """
    from ovis.boot import selfcmd

    words = selfcmd.script_runs_self(rc) if rc else None
    if words is None or words[:1] != ["stop"] or sorted(words[1:]) not in (
            ["--all"], ["--all", "--force"]):
        return None
    force = "--force" in words

    def run() -> int:
        from ovis.errors import OvisError

        out = FdText(1 if console is None else console)
        try:
            from ovis.engine.manager import Manager
            from ovis.paths import Paths
            from ovis.terminal import TerminalReporter, duration

            os.environ.clear()
            os.environ.update(env)
            reporter = TerminalReporter(stream=out, err=out)  # type: ignore[arg-type]
            reporter.colour = colour
            paths = Paths.resolve({**env, "OVIS_LIVE": env.get("OVIS_LIVE") or str(live)})
            outcome = Manager(paths, reporter).stop([], everything=True, force=force)
        except OvisError as e:
            out.write(f"ovis: error: {e}\n")
            return e.exit_status
        except Exception as e:  # noqa: BLE001 - stage 3 must reach s6-svscan whatever happens
            out.write(f"ovis: error: stop --all: {e!r}\n")
            return 1
        changed = sum(1 for r in outcome.results.values() if r.ok and not r.already)
        msg = f"ovis: stopped {changed} service{'s' if changed != 1 else ''} in " \
              f"{duration(outcome.elapsed)}"
        if outcome.failed:
            msg += f"; {len(outcome.failed)} failed: {', '.join(outcome.failed)}"
        out.write(msg + "\n")
        return 1 if outcome.failed else 0

    return run


def stage4(live: str | Path, crashed: bool = False) -> NoReturn:
    """PID 1's last words: kill, sync, swapoff, unmount, final hook, reboot(2)."""
    from ovis.linux import procs, swap
    from ovis.linux.mounts import umount_all

    os.chdir("/")  # s6-svscan ran in the scandir: do not keep LIVE busy
    try:
        info = boot_info(live)
    except StateError:
        info = {}
    console = console_fd(info)
    # s6-svscan's stdout was the catch-all fifo, whose reader is about to die.
    target = console if console is not None else os.open("/dev/null", os.O_WRONLY)
    os.dup2(target, 1)
    os.dup2(target, 2)
    req = read_request(live) or {}
    action = req.get("action") or "reboot"
    container = bool(info.get("container"))
    namespace = bool(info.get("namespace"))
    grace = int(info.get("gracetime", 3000)) / 1000.0
    final = info.get("rcshutdownfinal")
    exitcode = req.get("exitcode")
    if container and exitcode is None:
        exitcode = _halt_exitcode(info.get("skel", "/etc/ovis"))
    t0 = time.monotonic()
    if crashed:
        say(None, "ovis: s6-svscan crashed: shutting down")
    say(None, f"ovis: stage 4: sending all processes the TERM signal ({grace:g} s grace)...")
    try:
        clean = procs.terminate_all(grace, log=lambda m: say(None, f"ovis: {m}"))
        if not clean:
            say(None, "ovis: warning: some processes survived SIGKILL")
    except Exception as e:  # noqa: BLE001 - never stop halfway at stage 4
        say(None, f"ovis: warning: killing processes: {e}")
    os.sync()
    if not container:
        if not namespace:  # swap is not namespaced: only a real machine turns it off
            _guard(lambda: swap.swapoff_all(log=lambda m: say(None, f"ovis: {m}")), "swapoff")
        detail: list[str] = []
        # /proc last: the mount table is read from it.
        _guard(lambda: umount_all(keep=("/proc",), log=detail.append,
                                  superblock=not namespace), "unmount")
        _guard(lambda: _umount_proc(detail.append), "unmount /proc")
        if int(info.get("verbosity", 1)) >= 2:
            for m in detail:
                say(None, f"ovis: {m}")
        done = sum(m.startswith("unmounted") for m in detail)
        ro = sum(m.startswith("remounted read-only") for m in detail)
        kept = [m.split(": ", 1)[1].split(" (")[0] for m in detail if m.startswith("still")]
        say(None, f"ovis: unmounted {done} filesystem(s), {ro} remounted read-only"
                  + (f"; left mounted read-only: {', '.join(kept)}" if kept else "")
                  + "".join(f"; {m}" for m in detail if m.startswith("cannot")))
        os.sync()
    if final and os.access(final, os.X_OK):
        _guard(lambda: _subprocess().run([final], stdin=_subprocess().DEVNULL, timeout=30), final)
    say(None, f"ovis: stage 4 done in {time.monotonic() - t0:.3f} s: {action}")
    if container:
        os._exit(int(exitcode or 0) & 0xFF)
    from ovis.linux.power import reboot_system

    try:
        reboot_system(action)
    except OSError as e:
        say(None, f"ovis: fatal: reboot(2) failed: {e}")
    from ovis.boot.rescue import rescue

    while True:  # PID 1 must not return: the kernel would panic
        rescue("could not reboot")
        time.sleep(5)


def _umount_proc(log: Any) -> None:
    from ovis.linux import syscalls as sc

    try:
        sc.umount2("/proc", sc.MNT_DETACH)
        log("unmounted /proc")
    except OSError as e:
        log(f"cannot unmount /proc: {e.strerror}")


def _subprocess() -> Any:
    """subprocess, imported when a script really is run: some 40 modules stage 4 and the
    in-process stop of the skeleton's rc.shutdown do not need."""
    import subprocess

    return subprocess


def _guard(fn: Any, what: str) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        say(None, f"ovis: warning: {what}: {e}")


def _halt_exitcode(skel: str | Path) -> int:
    try:
        with open(halt_file(skel)) as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.startswith("EXITCODE="):
                return int(line.split("=", 1)[1])
    except (OSError, ValueError):
        pass
    return 0

"""Start a child program with ``posix_spawn``, not the subprocess module.

Why: a start that runs oneshots ran each script (and its ``s6-log``)
through ``subprocess.Popen``, whose import brings signal's enums,
threading, locale and contextlib (4 to 7 ms on this project's machines,
the first time) and whose Python side costs some 100 µs per child (its
error pipe, its argument and environment handling).  ``os.posix_spawn``
is one call: glibc's ``clone(CLONE_VFORK)`` and the ``execve``, an exec
failure raised here as ``OSError`` as Popen raises it.

What Popen did that is done here too: stdin from ``/dev/null`` unless
given; the signals Python ignores (SIGPIPE, SIGXFSZ) back to their
default in the child (Popen's ``restore_signals``); no descriptor of ours
inherited (``close_fds``): Python makes every descriptor close-on-exec
(PEP 446), and the inheritable ones this process was started with are
closed in the child.

What posix_spawn cannot do is start the child in another directory
(glibc's ``posix_spawn_file_actions_addchdir_np`` is not in Python 3.11):
:func:`spawn` changes this process's directory around the call and back
by descriptor (a relative or a removed one comes back as it was).  Its
callers are single-threaded while they spawn (the engine's loop).
"""

from __future__ import annotations

import fcntl
import os
import select

try:  # the C module: signal.py's enums are what this module avoids importing
    import _signal as signal
except ImportError:  # pragma: no cover - not CPython
    import signal

#: Reset to their default in the child: Python ignores them, and an ignored
#: disposition survives execve (a shell script's `yes | head` would see EPIPE).
RESTORED = (signal.SIGPIPE, getattr(signal, "SIGXFSZ", signal.SIGPIPE))
#: ``stderr=STDOUT``: the child's stderr is its stdout.
STDOUT = -2

#: The inheritable descriptors (3 and up) this process was started with,
#: listed at the first spawn; None until then.
_inherited: list[int] | None = None


class Child:
    """A spawned process: what the engine used of ``subprocess.Popen``."""

    __slots__ = ("pid", "returncode")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        #: as Popen's: the exit status, or minus the signal that killed it
        self.returncode: int | None = None

    def _reaped(self, status: int) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The returncode if it has ended (reaping it), else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: as Popen says
                self.returncode = 0
                return 0
            if pid == self.pid:
                return self._reaped(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end; TimeoutError after *timeout* seconds."""
        if self.returncode is not None:
            return self.returncode
        if timeout is not None:
            fd = os.pidfd_open(self.pid)
            try:
                if not select.select([fd], [], [], max(0.0, timeout))[0]:
                    raise TimeoutError(f"pid {self.pid} still runs after {timeout} s")
            finally:
                os.close(fd)
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            self.returncode = 0
            return 0
        return self._reaped(status)


def _inheritable_fds() -> list[int]:
    """The descriptors from 3 up that an exec would pass on, still open now."""
    global _inherited
    if _inherited is None:
        found = []
        try:
            names = os.listdir("/proc/self/fd")
        except OSError:
            names = []
        for name in names:
            fd = int(name)
            if fd >= 3:
                try:
                    if os.get_inheritable(fd):
                        found.append(fd)
                except OSError:  # the listing's own descriptor, closed by now
                    pass
        _inherited = sorted(found)
    live = []
    for fd in _inherited:
        try:
            if os.get_inheritable(fd):
                live.append(fd)
        except OSError:
            pass
    _inherited = live
    return live


def _above_stdio(fd: int, made: list[int]) -> int:
    """*fd*, or a close-on-exec copy of it numbered 3 or more (a dup2 onto itself would keep
    close-on-exec): recorded in *made*, for the caller to close."""
    if fd >= 3:
        return fd
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    made.append(copy)
    return copy


#: (name, PATH) -> the program found, for :func:`find`
_found: dict[tuple[str, str], str] = {}


def find(name: str, env: dict[str, str]) -> str:
    """*name* as Popen runs it with *env*: a path as it is, else the first
    executable of that name in *env*'s PATH (FileNotFoundError if none)."""
    if "/" in name:
        return name
    key = (name, env.get("PATH", os.defpath))
    hit = _found.get(key)
    if hit is None:
        for d in os.get_exec_path(env):
            cand = os.path.join(d, name)
            if os.access(cand, os.X_OK) and not os.path.isdir(cand):
                hit = _found[key] = cand
                break
        else:
            raise FileNotFoundError(2, "No such file or directory", name)
    return hit


#: Popen objects of the fallback (:func:`_popen`): kept, so that none is
#: collected while its child runs and reaped behind the Child's back.
_kept: list = []


def _popen(argv: list[str], env: dict[str, str], cwd: str, stdin: int | None,
           stdout: int | None, stderr: int | None, setsid: bool) -> Child:
    """subprocess.Popen's way, where this process's directory cannot be
    reopened to come back to (no search permission on it)."""
    import subprocess

    def std(fd: int | None) -> int:
        return subprocess.DEVNULL if fd is None else (subprocess.STDOUT if fd == STDOUT else fd)

    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=std(stdin), stdout=std(stdout),
                         stderr=std(stderr), start_new_session=setsid)
    _kept.append(p)
    return Child(p.pid)


def spawn(argv: list[str], env: dict[str, str], *, cwd: str | None = None,
          stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
          setsid: bool = False) -> Child:
    """Start *argv* with exactly *env*, ``argv[0]`` found as :func:`find` says.

    *stdin*, *stdout*, *stderr*: a descriptor to give the child, None for
    ``/dev/null``, or (*stderr*) :data:`STDOUT`.  *setsid*: the child leads
    a new session (``start_new_session``).  OSError when it cannot be run.
    """
    prog = find(argv[0], env)
    back = None
    if cwd is not None:
        try:
            back = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                           | getattr(os, "O_PATH", 0))
        except OSError:
            return _popen(argv, env, cwd, stdin, stdout, stderr, setsid)
    made: list[int] = []
    actions: list[tuple] = []
    try:
        for target, fd, mode in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY)):
            if fd is None:
                actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, mode, 0))
            else:
                actions.append((os.POSIX_SPAWN_DUP2, _above_stdio(fd, made), target))
        if stderr == STDOUT:
            actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
        elif stderr is None:
            actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, _above_stdio(stderr, made), 2))
        for fd in _inheritable_fds():
            actions.append((os.POSIX_SPAWN_CLOSE, fd))
        if cwd is not None:
            os.chdir(cwd)
        try:
            pid = os.posix_spawn(prog, argv, env, file_actions=actions, setsid=setsid,
                                 setsigdef=RESTORED)
        finally:
            if back is not None:
                os.fchdir(back)
    finally:
        if back is not None:
            os.close(back)
        for fd in made:
            os.close(fd)
    return Child(pid)

"""Stage 1: ``ovis boot`` as PID 1, following 66's ``boot`` step by step.

In order: banner, environment importation (init.conf < SKEL/environment <
-e DIR < kernel command line), chdir /, umask, new session, optional
devtmpfs, stdin from /dev/null, a tmpfs on LIVE's first component, the live
scandir with its catch-all logger and ``.s6-svscan`` control scripts, the
early services of TREE, the fifo trick, the stage-2 child (blocked until the
catch-all logger reads its fifo), and finally exec into ``s6-svscan``.

PID 1 must never die on a machine: every failing step prints what went
wrong and opens a rescue shell on the console; when the shell exits, the
boot carries on.  In container mode there is nobody at a console and the
runtime restarts what exits, so a failing step ends PID 1 at once with one
``ovis: fatal: ...`` line on stderr and a documented exit status
(:data:`EXIT_CONFIG`, :data:`EXIT_STAGE1`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

TYPE_CHECKING = False  # typing (with contextlib): imported by nothing else a boot runs
if TYPE_CHECKING:
    from typing import Callable, NoReturn

from ovis import atomic
from ovis.boot import config
from ovis.boot.rescue import configure as configure_rescue
from ovis.boot.rescue import rescue
from ovis.paths import CONSOLE_LOGS  # noqa: F401  (LIVE marker while log lines reach PID 1's stdout)
from ovis.record import Record

CATCHALL = config.CATCHALL
#: In a namespace or container, PID 1 keeps its original stdout here for
#: stage 2, the catch-all logger (container mode) and stage 4's messages.
CONSOLE_FD = 19  # keep in step with rescue.KEPT_CONSOLE
#: In LIVE: the environment PID 1 was started with (the runtime's ``-e``), as an envdir
#: that only ``with-contenv`` (or ``s6-envdir -Lfn``) brings into a service.
CONTENV = "container-environment"
DEFAULT_BANNER = "[Starts stage1 process ...]"
#: Container mode: PID 1's exit status when init.conf or an environment file is wrong.
EXIT_CONFIG = 2
#: Container mode: PID 1's exit status when a step of stage 1 failed (mount, LIVE, exec).
EXIT_STAGE1 = 111


class BootOptions(Record):
    __slots__ = ("skel", "log_user", "envdir", "dev", "banner", "remount", "colour", "command")

    def __init__(self, skel: Path = Path("/etc/ovis"), log_user: str = "root",
                 envdir: Path | None = None, dev: Path | None = None, banner: str = DEFAULT_BANNER,
                 remount: bool = False, colour: bool = False,
                 command: list[str] | None = None) -> None:
        self.skel = skel
        self.log_user = log_user
        self.envdir = envdir
        self.dev = dev
        self.banner = banner
        self.remount = remount
        self.colour = colour
        self.command = [] if command is None else command


def in_namespace() -> bool:
    """True when this PID 1 is not the machine's: no kernel threads in sight.

    On a real machine (or VM) kthreadd is PID 2; in a PID namespace (tests,
    ``ovis demo``, containers) the kernel's threads are invisible.
    """
    try:
        with open("/proc/2/stat") as f:
            return "(kthreadd)" not in f.read(64)
    except OSError:
        return True


def ovis_argv() -> list[str]:
    """How the stage scripts written here run this same ovis (interpreter and package)."""
    from ovis.boot import selfcmd

    return selfcmd.argv()


def _say(text: str, fd: int = 1) -> None:
    try:
        os.write(fd, (text + "\n").encode())
    except OSError:
        pass


class Stage1:
    def __init__(self, opts: BootOptions, original_env: dict[str, str]) -> None:
        self.opts = opts
        self.original_env = original_env
        self.t0 = time.time()
        self.namespace = in_namespace()
        self.cmdline = Path(original_env.get("OVIS_CMDLINE") or "/proc/cmdline")
        try:  # the runtime's stderr, for a fatal line even once fd 2 is the catch-all fifo
            self.err_fd = os.dup(2)
        except OSError:
            self.err_fd = 2

    def container_mode(self) -> bool:
        """Container mode, also before init.conf is read (a container command was given)."""
        cfg = getattr(self, "cfg", None)
        return bool(cfg.container) if cfg is not None else bool(self.opts.command)

    def fail(self, what: str, code: int = EXIT_STAGE1) -> None:
        if self.container_mode():
            fatal(what, code, self.err_fd)
        rescue(what, env=dict(os.environ))

    # The sequence ------------------------------------------------------------
    def run(self) -> NoReturn:
        configure_rescue(self.original_env)
        skel = self.opts.skel
        if not skel.is_absolute():
            self.fail(f"skeleton directory must be an absolute path: {skel}", EXIT_CONFIG)
            skel = Path("/etc/ovis")
        if self.opts.envdir is not None and not self.opts.envdir.is_absolute():
            self.fail(f"environment directory must be an absolute path: {self.opts.envdir}",
                      EXIT_CONFIG)
            self.opts.envdir = None
        env, errors = config.load(skel, self.opts.envdir, self.cmdline)
        cfg, verrors = config.validate(env, skel)
        self.cfg = cfg
        if self.namespace:
            self._keep_console()
        if not cfg.container:
            self._banner()
            if not self.namespace:
                self._step("ctrl-alt-del to SIGINT", self._cad)
        self._set_environment(cfg)
        for e in errors + verrors:
            if cfg.container:
                self.fail(str(e), EXIT_CONFIG)
            self.fail(f"init.conf: {e}")
        self._step("chdir /", lambda: os.chdir("/"))
        os.umask(cfg.umask)
        try:
            os.setsid()
        except OSError:
            pass  # already a session leader (PID 1 of a fresh namespace)
        if self.opts.dev is not None:
            self._step(f"mount devtmpfs on {self.opts.dev}", self._devtmpfs)
        self._step("stdin from /dev/null", self._stdin_null)
        if cfg.container:  # docker gives no CAP_SYS_ADMIN: a writable /run will do
            try:
                self._mount_live()
            except OSError as e:
                _say(f"ovis: warning: no tmpfs on {self._live_top()} ({e.strerror}): "
                     "using the directory as it is")
        else:
            self._step(f"tmpfs on {self._live_top()}", self._mount_live)
        while not self._step("create the live directory", self._make_live):
            pass
        self._step(f"early services of tree {cfg.tree}", self._early_services)
        if cfg.catchlog:
            self._fifo_trick()
        self._fork_stage2()
        self._exec_svscan()

    def _step(self, what: str, fn: Callable[[], object]) -> bool:
        try:
            fn()
            return True
        except Exception as e:  # noqa: BLE001 - PID 1 reports everything and goes on
            self.fail(f"{what}: {e}")
            return False

    # Steps -------------------------------------------------------------------
    def _keep_console(self) -> None:
        import fcntl

        try:
            os.dup2(1, CONSOLE_FD)
            os.set_inheritable(CONSOLE_FD, True)
            # Others reopen it through /proc/1/fd: with O_APPEND on every
            # description, nobody overwrites anybody when it is a plain file.
            fl = fcntl.fcntl(CONSOLE_FD, fcntl.F_GETFL)
            fcntl.fcntl(CONSOLE_FD, fcntl.F_SETFL, fl | os.O_APPEND)
        except OSError:
            pass

    def _banner(self) -> None:
        text = (self.opts.banner + "\n").encode()
        try:
            if self.namespace:
                raise OSError
            fd = os.open("/dev/console", os.O_WRONLY | os.O_NOCTTY)
            os.write(fd, text)
            os.close(fd)
        except OSError:
            _say(self.opts.banner)

    def _set_environment(self, cfg: config.BootConfig) -> None:
        """The merged environment, and nothing of the kernel's, for everything."""
        env = dict(cfg.env)
        env["PATH"] = cfg.path
        env["OVIS_LIVE"] = str(cfg.live)  # init.conf LIVE is where stage 1 builds it
        env["OVIS_SKEL"] = str(cfg.skel)
        env["OVIS_INITCONF"] = str(cfg.skel / "init.conf")
        os.environ.clear()
        os.environ.update(env)

    def _cad(self) -> None:
        """Ctrl-Alt-Del sends SIGINT to PID 1 (.s6-svscan/SIGINT reboots cleanly)."""
        from ovis.linux.power import set_ctrl_alt_del

        set_ctrl_alt_del(False)

    def _devtmpfs(self) -> None:
        from ovis.linux import syscalls as sc

        dev = str(self.opts.dev)
        os.makedirs(dev, exist_ok=True)
        sc.mount("dev", dev, "devtmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, None)
        if self.namespace:
            return  # the console is the one PID 1 was given (CONSOLE_FD), not the machine's
        fd = os.open(os.path.join(dev, "console"), os.O_RDWR | os.O_NOCTTY)
        for target in (1, 2):
            os.dup2(fd, target)
        os.close(fd)

    def _stdin_null(self) -> None:
        fd = os.open("/dev/null", os.O_RDONLY)
        if fd != 0:
            os.dup2(fd, 0)
            os.close(fd)

    def _live_top(self) -> str:
        parts = Path(self.cfg.live).parts
        return "/" + parts[1] if len(parts) > 1 else "/"

    def _mount_live(self) -> None:
        from ovis.linux import syscalls as sc
        from ovis.linux.mounts import is_mountpoint

        top = self._live_top()
        os.makedirs(top, exist_ok=True)
        flags = sc.MS_NODEV | sc.MS_NOSUID
        if is_mountpoint(top):
            if not self.opts.remount:
                return
            sc.umount2(top, sc.MNT_DETACH)
        sc.mount("tmpfs", top, "tmpfs", flags, "mode=0755")

    def _make_live(self) -> None:
        cfg = self.cfg
        live = cfg.live
        scandir = live / "scandir"
        for d in (live, scandir, live / "sv", live / "state", live / "log"):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)  # whatever UMASK says: the catch-all's user must get through
        atomic.write_text(live / "environment",  # 0600: values may be secrets
                          "".join(f"{k}={v}\n" for k, v in sorted(os.environ.items())
                                  if "\n" not in v), mode=0o600)
        self._save_contenv(live / CONTENV)
        info = {
            "stage1_start": self.t0, "skel": str(cfg.skel), "live": str(live),
            "tree": cfg.tree, "rcshutdown": str(cfg.rcshutdown),
            "rcshutdownfinal": str(cfg.rcshutdownfinal), "container": cfg.container,
            "gracetime": cfg.gracetime, "catchlog": cfg.catchlog, "namespace": self.namespace,
            "console_fd": CONSOLE_FD if self.namespace else None, "verbosity": cfg.verbosity,
            "command": self.opts.command, "colour": self.opts.colour,
            "console_id": _file_id(CONSOLE_FD) if self.namespace else None,
            # LIVE/environment's PATH, for a user's ovis (the compiler's boot_path)
            "path": os.environ.get("PATH"),
        }
        # jsonlite: json's own encoder without the json package (the engine imports none of
        # it either): one line, where json.dumps(indent=1) wrote one key a line.
        from ovis.jsonlite import dumps

        atomic.write_text(live / "boot.json", dumps(info) + "\n")
        self._svscan_scripts(scandir / ".s6-svscan")
        if cfg.catchlog:
            self._catchall(scandir / CATCHALL, live / "log" / CATCHALL)
        if cfg.container:
            self._halt_file(0)
        marker = live / CONSOLE_LOGS
        if cfg.container and cfg.container_logs:
            marker.touch()  # read by the compiler of the services' loggers
        elif marker.exists():
            marker.unlink()

    def _save_contenv(self, d: Path) -> None:
        """PID 1's initial environment, one file per variable, root only (0700/0600).

        Services never inherit it (66's rule: the boot environment is init.conf
        and the environment directories); ``with-contenv`` reads it on request.
        """
        tmp = d.with_name(f".{d.name}.new")
        _remove_tree(tmp)
        os.mkdir(tmp, 0o700)
        os.chmod(tmp, 0o700)
        for k, v in self.original_env.items():
            if k and "/" not in k and "=" not in k and not k.startswith("."):
                fd = os.open(tmp / k, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, v.encode(errors="surrogateescape"))
                finally:
                    os.close(fd)
        _remove_tree(d)
        os.rename(tmp, d)

    def _svscan_scripts(self, d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        from ovis.boot import selfcmd

        # The lean entry (ovis.cli.stagecmd), with LIVE named: these run at
        # shutdown, where every import is time the machine takes to go down.
        live = ["--live", str(self.cfg.live)]
        container = self.cfg.container
        scripts: dict[str, list[str] | None] = {  # the lean entry's arguments; None: exit 0
            "finish": ["stage4"],
            "crash": ["stage4", "--crash"],
            # ctrl-alt-del (SIGINT to PID 1) reboots; SIGUSR1/SIGPWR power off;
            # SIGUSR2 halts; SIGTERM stops a container (what runtimes send).
            # In a container SIGINT (docker's ctrl-C) ends it as a shell would: 130.
            # --repeat-forces: the same signal again, during a shutdown, forces it.
            "SIGINT": (["halt", "--repeat-forces", "--exit-code", "130"] if container
                       else ["reboot", "--repeat-forces"]),
            "SIGUSR1": ["poweroff", "--repeat-forces"],
            "SIGPWR": ["poweroff", "--repeat-forces"],
            "SIGUSR2": ["halt", "--repeat-forces"],
            "SIGTERM": ["halt", "--repeat-forces", "--exit-code", "143"] if container else None,
            # In a container SIGQUIT (docker kill -s QUIT) ends it as a shell would: 131.
            "SIGQUIT": ["halt", "--repeat-forces", "--exit-code", "131"] if container else None,
            "SIGHUP": None,
            "SIGWINCH": None,
        }
        for name, args in scripts.items():
            # The lean entry's Python straight from the #! line (selfcmd.stage_script):
            # these run while the machine goes down, where every exec counts.
            text = "#!/bin/sh\nexit 0\n" if args is None else selfcmd.stage_script([*live, *args])
            atomic.write_text(d / name, text, 0o755)

    def _catchall(self, sdir: Path, logdir: Path) -> None:
        from ovis.service import execline

        sdir.mkdir(parents=True, exist_ok=True)
        logdir.mkdir(parents=True, exist_ok=True)
        os.chmod(logdir, 0o2755)
        user = self.opts.log_user
        if user and user != "root":
            import pwd

            pw = pwd.getpwnam(user)
            os.chown(logdir, pw.pw_uid, pw.pw_gid)
        fifo = sdir / "fifo"
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
        echo = self.cfg.container and self.namespace
        # The real execlineb and execline's commands by absolute path, as the compiler
        # writes them: Debian's wrapper would add four execs on the way to the fifo, which
        # stage 2 waits for (seconds of a boot under an emulated CPU).
        lines = [execline.header("-P").rstrip("\n"),
                 execline.command(f"fdmove 1 {CONSOLE_FD}" if echo else "redirfd -w 1 /dev/null"),
                 execline.command("redirfd -rnb 0 fifo")]
        if user and user != "root":
            lines.append(f"s6-setuidgid {execline.quote(user)}")
        lines.append(f"s6-log -bd3 -- {'1 ' if echo else ''}t {execline.quote(str(logdir))}")
        atomic.write_text(sdir / "run", "\n".join(lines) + "\n", 0o755)
        atomic.write_text(sdir / "notification-fd", "3\n")

    def _halt_file(self, code: int) -> None:
        from ovis.boot.shutdown import write_halt_file

        try:
            write_halt_file(self.cfg.skel, code)
        except OSError as e:
            _say(f"ovis: warning: cannot write the container halt file: {e}")

    def _early_services(self) -> None:
        from ovis.engine.manager import Manager
        from ovis.paths import Paths

        paths = Paths.resolve(dict(os.environ))
        manager = Manager(paths)
        # Kept for stage 2 in the forked child: the tree's definitions are loaded once.
        self.repo = manager.repo
        errors = manager.init_tree(self.cfg.tree)
        for e in errors:
            _say(f"ovis: warning: tree {self.cfg.tree}: {e}")

    def _fifo_trick(self) -> None:
        """stdout/stderr into the catch-all fifo before its reader even exists.

        Opening the reading end first (non-blocking) lets the writing end open
        without blocking; the reader is then closed again.  Stage 2 reopens the
        fifo itself, blocking until the logger really reads.
        """
        fifo = self.cfg.live / "scandir" / CATCHALL / "fifo"
        try:
            rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            wfd = os.open(fifo, os.O_WRONLY)
            os.dup2(wfd, 1)
            os.close(wfd)
            os.close(rfd)
        except OSError as e:
            self.fail(f"the fifo trick on {fifo}: {e}")

    def _fork_stage2(self) -> None:
        from ovis.boot import signals

        pid1 = os.getpid()
        late = signals.relay_pipe()
        pid = os.fork()
        if pid == 0:
            try:
                pending = signals.received()
                signals.restore()
                self._stage2_child(pid1, pending, late)
            finally:
                os._exit(111)
        os.close(late)
        if self.cfg.catchlog:
            try:
                os.dup2(1, 2)
            except OSError:
                pass

    def _stage2_child(self, pid1: int, pending: list[int], late: int) -> None:
        import signal

        from ovis.boot import signals

        cfg = self.cfg
        os.setsid()
        if cfg.catchlog:
            fifo = cfg.live / "scandir" / CATCHALL / "fifo"
            fd = os.open(fifo, os.O_WRONLY)  # blocks until the catch-all logger reads
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        self._wait_svscan()  # at once when the fifo opened: its reader is s6-svscan's
        pending += [s for s in signals.late_signals(late) if s not in pending]
        deadline = time.monotonic() + 30  # s6-svscan traps its whole set at once
        while pending and not signals.traps_set(pid1, signal.SIGTERM) \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        for sig in pending:  # what PID 1 was asked while it was Python: s6-svscan acts now
            _say(f"ovis: stage 1 received signal {sig}: passing it to s6-svscan")
            try:
                os.kill(pid1, sig)
            except OSError:
                pass
        if pending:
            self._wait_shutdown_request(pending)
        initconf = str(cfg.skel / "init.conf")
        if cfg.container:
            script = cfg.rcinit_container
            try:
                os.execv(str(script), [str(script), *self.opts.command])
            except OSError as e:
                _say(f"ovis: fatal: cannot run {script}: {e}")
                from ovis.boot.shutdown import shutdown

                shutdown(cfg.live, "halt", exitcode=126)
                os._exit(126)
        inproc = self._inprocess_stage2()
        try:
            keep = (CONSOLE_FD,) if self.namespace else ()
            if inproc is not None:
                code = inproc()
            else:  # (subprocess, threading, locale: not imported for the in-process stage 2)
                import subprocess

                code = subprocess.run([str(cfg.rcinit), initconf], pass_fds=keep).returncode
        except OSError as e:
            code, why = 126, f"cannot run {cfg.rcinit}: {e}"
        else:
            why = f"{cfg.rcinit} exited {code}" if code >= 0 else \
                f"{cfg.rcinit} killed by signal {-code}"
        if code != 0:
            _say(f"rc.init: fatal: {why}; see the log at {cfg.live}/log/{CATCHALL}/current")
            self._rescue_on_console(why)
        os._exit(0)

    def _inprocess_stage2(self) -> Callable[[], int] | None:
        """Stage 2 in this child when rc.init only execs ``ovis stage2`` (the skeleton's).

        The script would start a new Python just to import what this process
        has imported already (the engine, for the early services): seconds
        of a boot where Python is slow.  Same environment, descriptors and
        session as the script's exec would have; a rc.init with any command
        of its own runs as written.
        """
        from ovis.boot import selfcmd

        words = selfcmd.script_runs_self(str(self.cfg.rcinit))
        if words is None or words[0] != "stage2" or set(words[1:]) - {"--status"}:
            return None
        show = "--status" in words

        def run() -> int:
            from ovis.boot import stage2
            from ovis.errors import OvisError
            from ovis.paths import Paths

            try:
                return stage2.run(Paths.resolve(dict(os.environ)), show_status=show,
                                  repo=getattr(self, "repo", None))
            except OvisError as e:  # what `ovis stage2` would have printed and returned
                _say(f"ovis: error: {e}", 2)
                return e.exit_status
            except Exception:  # noqa: BLE001 - the script's Python would have died of it
                import traceback

                _say(traceback.format_exc().rstrip(), 2)
                return 1
            finally:  # this child ends in os._exit, which flushes nothing
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass

        return run

    def _wait_shutdown_request(self, pending: list[int]) -> None:
        """A re-sent signal that means shutdown: let its request land before rc.init.

        s6-svscan runs its signal script asynchronously; waiting for the request
        makes stage 2 see it, so a container command is never started after it.
        """
        import signal as sig

        stops = {sig.SIGINT, sig.SIGUSR1, sig.SIGUSR2, sig.SIGPWR}
        if self.cfg.container:
            stops |= {sig.SIGTERM, sig.SIGQUIT}
        if not stops & set(pending):
            return
        deadline = time.monotonic() + 10
        while not os.path.lexists(self.cfg.live / "shutdown") and time.monotonic() < deadline:
            time.sleep(0.01)

    def _rescue_on_console(self, why: str) -> None:
        if self.namespace:
            try:
                os.dup2(CONSOLE_FD, 1)
                os.dup2(CONSOLE_FD, 2)
            except OSError:
                pass
        rescue(why, env=dict(os.environ))

    def _wait_svscan(self) -> None:
        from ovis.s6.control import svscan_running

        scandir = self.cfg.live / "scandir"
        deadline = time.monotonic() + 30
        while not svscan_running(scandir) and time.monotonic() < deadline:
            time.sleep(0.01)

    def _exec_svscan(self) -> NoReturn:
        cfg = self.cfg
        from ovis.paths import Paths
        from ovis.s6.svscan import svscan_argv

        paths = Paths.resolve(dict(os.environ))
        argv = svscan_argv(paths.scandir, paths.servicedirs, cfg.rescan)
        while True:
            try:
                os.execvp(argv[0], argv)
            except OSError as e:
                self.fail(f"cannot exec {argv[0]}: {e}")
                time.sleep(1)


def _remove_tree(d: Path) -> None:
    """shutil.rmtree(d, ignore_errors=True) for the flat directory of files stage 1 writes.

    shutil is imported only for anything else found there (a directory):
    its compression imports are part of a second of PID 1's start under TCG.
    """
    if os.path.islink(d):
        return  # rmtree leaves a symbolic link alone too (and the rename replaces it)
    try:
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(d, name))
        except IsADirectoryError:
            import shutil

            shutil.rmtree(os.path.join(d, name), ignore_errors=True)
        except OSError:
            pass
    try:
        os.rmdir(d)
    except OSError:
        pass


def fatal(what: str, code: int, fd: int = 2) -> NoReturn:
    """Container mode: one line on stderr, then PID 1 exits (the namespace ends with it)."""
    try:
        os.write(fd, f"ovis: fatal: {what}\n".encode())
    except OSError:
        pass
    os._exit(code)


def boot(opts: BootOptions) -> NoReturn:
    Stage1(opts, dict(os.environ)).run()


def _file_id(fd: int) -> list[int] | None:
    """(st_dev, st_ino) of *fd*: lets a process that inherited the console recognise it
    where ``/proc/1/fd`` is closed to it (a user namespace of an unprivileged user)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return [st.st_dev, st.st_ino]

"""aa-enable's work: fill an anopa repository (/run/services) from source servicedirs.

anopa 0.5.0's rules (doc/aa-enable.pod, src/anopa/aa-enable.c,
src/libanopa/enable_service.c); what it prints goes to a
:class:`ovis.aa.notes.Notes` (the tool is ovis/cli/aa/enable.py).  The copy follows
anopa's rules (first source holding the name wins; ``getty@tty1`` from
``getty@`` with ``needs/foo@`` renamed ``needs/foo@tty1``; a ``log`` file or
directory brings in the ``log`` service as the logger; a listdir directory is
merged in, ``-foo`` deleting and ``+foo`` appending; ``log/run-args`` appended
to ``log/run``) into a hidden staging directory, which is then compiled by
ovis's compiler into ``REPODIR/NAME``.  A plain source servicedir, whose copy
would be itself file for file (:meth:`Enabler.plain`), is compiled where it
is, without the staging copy.  ``ovis.json`` is there for ``ovis
status``, and the anopa files the compiler does not write (``needs/``,
``wants/``, ``after/``, ``before/``, ``essential``, ``gets-ready``,
``timeout``) are added, with ``down``, ``supervise/`` (0711) and the
``.scandir/NAME -> ../NAME`` link for longruns, so the servicedir stays a
valid anopa servicedir.

Differences: a logger gets no ``down`` file (ovis's s6-svscan runs it with its
service; it is not a service of its own); ``-f``/``-c`` write small scripts
rather than symlinks, because s6-svscan 2.11 runs ``.s6-svscan/finish``
without arguments: they run TARGET with the action aa-shutdown recorded in
``REPODIR/.scandir/.s6-svscan/action`` (default reboot).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ovis import atomic
from ovis.errors import OvisError
from ovis.paths import Paths, normpath
from ovis.service.compiler import Compiler
from ovis.service.model import Kind
from ovis.service.model import is_valid_name as ovis_valid_name

from . import codes as C
from . import repo as R
from .notes import Notes

SOURCES = ("/etc/anopa/services", "/usr/lib/services")
SVSCANDIR = ".scandir/.s6-svscan"
DEP_DIRS = R.DEP_DIRS
#: anopa files the compiler does not write; copied as they are.
ANOPA_FILES = ("essential", "gets-ready", "timeout")

FINISH_SCRIPT = """#!/bin/sh
# Written by aa-enable {opt}: s6-svscan runs .s6-svscan/{what} with no
# arguments, so aa-shutdown records the action (halt, reboot or poweroff)
# before making s6-svscan exit, in
#   {action}
# Without one, the action is reboot.
action=reboot
if [ -r {action} ]; then
    read -r action < {action} || :
fi
case "$action" in
    halt|reboot|poweroff) ;;
    *) action=reboot ;;
esac
exec {target} "$action"
"""


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def action_file(repodir: Path) -> Path:
    """Where aa-shutdown records the action for the finish script."""
    return repodir / SVSCANDIR / "action"



def mkdtemp(prefix: str, parent: str) -> str:
    """``tempfile.mkdtemp(prefix=prefix, dir=parent)``: a new 0700 directory, its absolute path.

    tempfile brings random, bisect, weakref and hashlib's sha512 (some eight
    modules, each tens of ms under an emulated CPU where anopa's stage 1 runs
    aa-enable) for this one call; the name's random part is os.urandom's.
    """
    for _ in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return os.path.abspath(path)
    raise FileExistsError(errno.EEXIST, "No usable temporary directory name found")

class Failed(Exception):
    """One service could not be enabled: anopa error number, and the errno
    text for I/O errors."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class Enabler:
    """anopa's enable_service for each name, in anopa's order (auto-enabled last in, first out)."""

    def __init__(self, notes: Notes, paths: Paths, sources: list[str], *, needs: bool, wants: bool,
                 skip: str | None, upgrade: bool, supervise: bool, quiet: bool) -> None:
        self.notes = notes
        self.paths = paths
        self.sources = sources
        self.auto_needs = needs
        self.auto_wants = wants
        self.skip = skip
        self.upgrade = upgrade
        self.supervise = supervise
        self.quiet = quiet
        # Its models are parsed here, never taken from LIVE's compile cache.
        self.compiler = Compiler(paths, cached=False)
        self._as_root = os.geteuid() == 0
        self.names: list[str] = []  # every name seen (anopa's "names")
        self.next: list[str] = []  # auto-enabled, still to do (LIFO)
        self.failed: list[str] = []
        self.nb_enabled = 0
        self.cur = ""

    # -- bookkeeping and output (anopa's enable_service) -------------------
    def enable(self, arg: str, from_next: bool = False) -> None:
        self.cur = arg.rsplit("/", 1)[-1] if arg.startswith("/") else arg
        if not from_next:
            if self.cur in self.next:
                self.next.remove(self.cur)
            else:
                self.names.append(self.cur)
        try:
            has_log = self.enable_one(arg, self.cur, self.skip is not None and self.cur == self.skip)
        except Failed as e:
            if e.code == C.ERR_IO:
                self.notes.failed(self.cur, f"{C.ERRMSG[C.ERR_IO]}: {e.reason}")
            else:
                self.notes.failed(self.cur, C.ERRMSG[e.code])
            self.failed.append(self.cur)
            return
        if not self.quiet:
            self.notes.enabled(self.cur)
            if has_log:
                self.notes.enabled(f"{self.cur}/log")
        self.nb_enabled += 1 + int(has_log)

    def auto_enable(self, name: str) -> None:
        if name not in self.names:
            self.next.append(name)
            self.names.append(name)

    def warn(self, path: str, err: OSError | int) -> None:
        code = err if isinstance(err, int) else err.errno
        text = os.strerror(code) if isinstance(code, int) else str(err)
        self.notes.warned(self.cur, f"{path}: {text}")

    # -- one service -------------------------------------------------------
    def enable_one(self, arg: str, name: str, skip_down: bool) -> bool:
        if not R.is_valid_name(name) or "/" in name or not ovis_valid_name(name):
            raise Failed(C.ERR_INVALID_NAME)
        config = None
        if arg.startswith("/"):
            try:
                st = os.stat(arg)
            except OSError as e:
                raise Failed(C.ERR_IO, e.strerror) from None
            if stat.S_ISDIR(st.st_mode):
                config = arg
            elif not stat.S_ISREG(st.st_mode):
                raise Failed(C.ERR_IO, os.strerror(errno.EINVAL))
        base, _, instance = name.partition("@")
        base = base + "@" if _ else base
        source = self.source_of(base)
        if source is None:
            raise Failed(C.ERR_UNKNOWN)
        d = f"{self.paths.servicedirs_str}/{name}"  # a string: no Path per service
        exists = os.path.lexists(d)
        if self.upgrade and not os.path.isdir(d):
            raise Failed(C.ERR_IO, os.strerror(errno.ENOTDIR if exists else errno.ENOENT))
        if self.upgrade and not os.path.exists(f"{d}/ovis.json"):
            # recompiling would replace it whole, supervise/ and down included
            raise Failed(C.ERR_IO, "not enabled by ovis (no ovis.json): enable it anew")
        if not self.upgrade and exists:
            raise Failed(C.ERR_IO, os.strerror(errno.EEXIST if os.path.isdir(d) else errno.ENOTDIR))
        if config is None:
            plain = self.plain(source, instance or None)
            if plain is not None:
                return self.install_plain(name, source, plain[0], plain[1], d, skip_down,
                                          new=not exists)
        import shutil  # (with bz2, lzma, zlib: only where a copy is staged)

        dst = self.paths.servicedir(name)
        stage_root = mkdtemp(".aa-enable.", self.paths.live_str)
        try:
            stage = os.path.join(stage_root, "svc")
            has_log = self.stage(source, config, stage, instance or None)
            return self.install(name, source, stage, dst, has_log, skip_down, new=not exists)
        finally:
            shutil.rmtree(stage_root, ignore_errors=True)

    def source_of(self, base: str) -> str | None:
        for src in self.sources:
            path = os.path.join(src, base)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            except OSError as e:
                self.warn(path, e)
                continue
            if not stat.S_ISDIR(st.st_mode):
                self.warn(path, errno.ENOTDIR)
                continue
            return path
        return None

    def plain(self, source: str, instance: str | None
              ) -> tuple[frozenset[str], dict[str, list[tuple[str, str, int]]]] | None:
        """What a source servicedir holds, when it can be compiled where it is.

        A staging copy (:meth:`stage`) only changes what the compiler sees
        when there is something to merge or resolve: a ``log`` (the logger
        brought in from the sources), a configuration directory, a symlink
        (followed by the copy), a fifo or device node (recreated), a
        directory other than ``needs/``, ``wants/``, ``after/``, ``before/``
        (copied through), or in those anything but regular files.  Without
        any of these the copy is the source itself, file for file, mode for
        mode, so the source is parsed and compiled as it is and only the four
        dependency directories are copied (:meth:`install_plain`): no
        staging directory made, filled and removed for each service.

        Returns the top-level names and, per dependency directory, its
        (target name, source path, mode) entries in the source's readdir
        order (an instance's ``foo@`` becoming ``foo@INSTANCE`` as the
        copy renames it); None when the servicedir needs the copy.
        """
        names: list[str] = []
        deps: dict[str, list[tuple[str, str, int]]] = {}
        try:
            with os.scandir(source) as it:
                for e in it:
                    if e.is_file(follow_symlinks=False):
                        if e.name == "log":
                            return None
                    elif e.name in DEP_DIRS and e.is_dir(follow_symlinks=False):
                        got = self._dep_files(e.path, instance)
                        if got is None:
                            return None
                        deps[e.name] = got
                    else:
                        return None
                    names.append(e.name)
        except OSError:
            return None  # the copy reports it
        if not self._as_root and not all(os.access(f"{source}/{n}", os.R_OK) for n in names):
            return None  # the copy names the file it cannot read
        return frozenset(names), deps

    def _dep_files(self, path: str, instance: str | None) -> list[tuple[str, str, int]] | None:
        out = []
        with os.scandir(path) as it:
            for e in it:
                if not e.is_file(follow_symlinks=False):
                    return None
                if not self._as_root and not os.access(e.path, os.R_OK):
                    return None
                target = e.name + instance if instance and e.name.endswith("@") else e.name
                out.append((target, e.path, stat.S_IMODE(e.stat(follow_symlinks=False).st_mode)))
        return out

    def install_plain(self, name: str, source: str, entries: frozenset[str],
                      deps: dict[str, list[tuple[str, str, int]]], d: str, skip_down: bool,
                      new: bool) -> bool:
        """:meth:`install` for a servicedir :meth:`plain` found: parsed and compiled
        from the source itself, the same servicedir the staged copy gives."""
        from ovis.service.formats.anopa import parse_anopa_dir

        try:
            svc = parse_anopa_dir(source, name)
        except OvisError as e:
            self.notes.warned(name, str(e))
            raise Failed(C.ERR_FAILED_ENABLE) from None
        linked = False
        try:
            self.compiler.compile(svc, down=svc.down or not skip_down)
            for sub, files in deps.items():
                target = f"{d}/{sub}"
                if not new and os.path.isdir(target) and not os.path.islink(target):
                    import shutil

                    shutil.rmtree(target)
                _copy_files(f"{source}/{sub}", target, files)
            for f in ANOPA_FILES:
                if f in entries:
                    _copy_file(f"{source}/{f}", f"{d}/{f}")
                elif not new and os.path.lexists(f"{d}/{f}"):
                    os.unlink(f"{d}/{f}")
            if svc.kind is Kind.LONGRUN and new:
                if "down" not in entries and not skip_down:
                    try:
                        os.chmod(f"{d}/down", 0o666)  # what anopa's open_create under umask 0 gives
                    except FileNotFoundError:
                        pass
                if self.supervise:  # no log/: plain() found no "log"
                    _private_dir(f"{d}/supervise", 0o711)
                linked = self.compiler.link(name)
        except OSError as e:
            self.warn(e.filename or d, e)
            self._set_aside(name, d, linked)
            raise Failed(C.ERR_FAILED_ENABLE) from None
        for sub, on in (("needs", self.auto_needs), ("wants", self.auto_wants)):
            if on and sub in deps:  # as anopa: the repository's copy, in its readdir order
                for entry, _ in R.scan_dir(f"{d}/{sub}", files_only=True):
                    self.auto_enable(entry)
        return False

    def stage(self, source: str, config: str | None, stage: str, instance: str | None) -> bool:
        """anopa's copy into *stage*: source servicedir, logger, config dir, run-args."""
        try:
            has_log = self.copy_dir(source, stage, 0, servicedir=True, instance=instance)
            if config is not None:
                has_log |= self.copy_dir(config, stage, 0, config=True, instance=instance)
        except OSError as e:
            self.warn(e.filename or stage, e)
            raise Failed(C.ERR_FAILED_ENABLE) from None
        if has_log:
            args = os.path.join(stage, "log", "run-args")
            if os.path.isfile(args) and not os.path.islink(args):
                with open(args, "rb") as f, open(os.path.join(stage, "log", "run"), "ab") as g:
                    g.write(f.read())
                os.unlink(args)
        return has_log

    def copy_dir(self, src: str, dst: str, depth: int, *, servicedir: bool = False,
                 config: bool = False, instance: str | None = None, one_of_four: bool = False,
                 logger: bool = False) -> bool:
        """copy_dir of enable_service.c: symlinks followed, fifos and device
        nodes recreated, modes and owners kept.  True when a logger was added."""
        import shutil

        has_log = False
        src_mode = os.stat(src).st_mode
        os.makedirs(dst, exist_ok=True)
        for entry in os.listdir(src):
            s, d = os.path.join(src, entry), os.path.join(dst, entry)
            st = os.stat(s)
            rename = depth == 1 and instance and one_of_four
            if stat.S_ISREG(st.st_mode):
                if servicedir and depth == 0 and not logger and entry == "log":
                    self.copy_log(dst, None)
                    has_log = True
                    continue
                if config and len(entry) > 1 and entry[0] in "-+":
                    target = entry[1:] + (instance if rename and entry.endswith("@") else "")  # type: ignore[operator]
                    t = os.path.join(dst, target)
                    if entry[0] == "-":
                        try:
                            os.unlink(t)
                        except FileNotFoundError:
                            pass
                        continue
                    with open(s, "rb") as f, open(t, "ab") as g:
                        g.write(f.read())
                    d = t
                else:
                    if rename and entry.endswith("@"):
                        d += instance  # type: ignore[operator]
                    if os.path.lexists(d) and not os.path.isfile(d):
                        os.unlink(d)
                    shutil.copyfile(s, d)
            elif stat.S_ISDIR(st.st_mode):
                if servicedir and depth == 0 and not logger and entry == "log":
                    self.copy_log(dst, s)
                    has_log = True
                    continue
                self.copy_dir(s, d, depth + 1, config=config, instance=instance,
                              one_of_four=depth == 0 and entry in DEP_DIRS)
                self._owner(d, st)
                continue
            elif stat.S_ISFIFO(st.st_mode):
                os.mkfifo(d, stat.S_IMODE(st.st_mode))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                os.mknod(d, st.st_mode, st.st_rdev)
            else:
                raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP), s)
            self._owner(d, st)
            os.chmod(d, stat.S_IMODE(st.st_mode))
        os.chmod(dst, stat.S_IMODE(src_mode))
        return has_log

    @staticmethod
    def _owner(path: str, st: os.stat_result) -> None:
        try:
            os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
        except PermissionError:
            pass  # not root: the files are ours

    def copy_log(self, servicedir: str, config: str | None) -> None:
        """The ``log`` servicedir from the sources becomes NAME/log, then the
        service's own ``log`` directory (if any) is merged into it."""
        dst = os.path.join(servicedir, "log")
        source = self.source_of("log")
        if source is None:
            if config is not None and os.path.exists(os.path.join(config, "run")):
                # ovis: a complete log/ of its own needs no "log" service
                self.copy_dir(config, dst, 0, servicedir=True, logger=True)
                return
            raise OSError(errno.ENOENT, "no servicedir 'log' in the sources", dst)
        self.copy_dir(source, dst, 0, servicedir=True, logger=True)
        if config is not None:
            self.copy_dir(config, dst, 0, config=True)

    def install(self, name: str, source: str, stage: str, dst: Path, has_log: bool,
                skip_down: bool, new: bool) -> bool:
        """Compile the staged servicedir into the repository, add anopa's files."""
        import shutil

        from ovis.service.formats.anopa import parse_anopa_dir

        try:
            svc = parse_anopa_dir(stage, name)
        except OvisError as e:
            self.notes.warned(name, str(e).replace(stage, source))
            raise Failed(C.ERR_FAILED_ENABLE) from None
        svc.source = normpath(source)  # the model's paths are str
        longrun = svc.kind is Kind.LONGRUN
        linked = False
        try:
            self.compiler.compile(svc, down=svc.down or not skip_down)
            for sub in DEP_DIRS:
                target = dst / sub
                if os.path.isdir(os.path.join(stage, sub)):
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    shutil.copytree(os.path.join(stage, sub), target, symlinks=True)
            for f in ANOPA_FILES:
                if os.path.lexists(os.path.join(stage, f)):
                    shutil.copy2(os.path.join(stage, f), dst / f)
                elif os.path.lexists(dst / f):
                    os.unlink(dst / f)
            if longrun and new:
                if (dst / "down").exists() and not os.path.lexists(os.path.join(stage, "down")):
                    os.chmod(dst / "down", 0o666)  # what anopa's open_create under umask 0 gives
                if self.supervise:
                    for d in (dst, dst / "log"):
                        if d.is_dir():
                            os.makedirs(d / "supervise", exist_ok=True)
                            os.chmod(d / "supervise", 0o711)
                linked = self.compiler.link(name)
        except OSError as e:
            self.warn(e.filename or str(dst), e)
            self._set_aside(name, dst, linked)
            raise Failed(C.ERR_FAILED_ENABLE) from None
        if self.auto_needs or self.auto_wants:
            for prefix in ("log/", ""):  # anopa enables the logger's first
                for sub, on in (("needs", self.auto_needs), ("wants", self.auto_wants)):
                    deps = os.path.join(stage, prefix + sub)
                    if on and os.path.isdir(deps):
                        for entry, _ in R.scan_dir(deps, files_only=True):
                            self.auto_enable(entry)
        return has_log

    def _set_aside(self, name: str, dst: Path | str, linked: bool) -> None:
        """As anopa: a half-made servicedir becomes @NAME, where aa-start won't find it."""
        if linked:
            try:
                os.unlink(f"{self.paths.scandir_str}/{name}")
            except OSError:
                pass
        if os.path.lexists(dst):
            try:
                os.rename(dst, f"{self.paths.servicedirs_str}/@{name}")
            except OSError as e:
                self.warn(str(dst), e)


def _copy_file(src: str, dst: str, mode: int | None = None, fresh: bool = False) -> None:
    """*src*'s bytes and mode into *dst* (created, or truncated as ``shutil.copy2`` does).

    *fresh*: *dst* is new (its directory was made just now): created
    exclusively with *mode*, which needs no fchmod where the umask leaves it.
    A file that existed keeps its mode through open(2): it always gets one.
    """
    with open(src, "rb", buffering=0) as f:
        data = f.read()
        if mode is None:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if fresh else os.O_TRUNC)
    fd = os.open(dst, flags, mode)
    try:
        done = 0
        while done < len(data):
            done += os.write(fd, data[done:])
        if not (fresh and atomic.exact_mode(mode)):
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _copy_files(src: str, dst: str, files: list[tuple[str, str, int]]) -> None:
    """A dependency directory: its regular files (target name, source, mode) into *dst*,
    which gets *src*'s mode."""
    os.mkdir(dst)
    for target, path, mode in files:
        _copy_file(path, f"{dst}/{target}", mode, fresh=True)
    os.chmod(dst, stat.S_IMODE(os.stat(src).st_mode))


def _private_dir(path: str, mode: int) -> None:
    """A directory of exactly *mode* (``supervise/``), made if need be."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        os.chmod(path, mode)
        return
    if not atomic.exact_mode(mode):
        os.chmod(path, mode)


def write_finish(paths: Paths, what: str, target: str, opt: str) -> None:
    """.s6-svscan/finish (or crash): run TARGET with the recorded action.  OSError."""
    path = paths.live / SVSCANDIR / what
    action = action_file(paths.live)
    atomic.write_text(path, FINISH_SCRIPT.format(
        opt=opt, what=what, action=_sh_quote(str(action)), target=_sh_quote(target)), mode=0o755)


def create_repo(repodir: str) -> None:
    """anopa's aa_init_repo in write mode: REPODIR (0755) and its .scandir (0700) exist
    after this, or AaError."""
    for path, what, code in ((repodir, "repository ", C.ERR_IO_REPODIR),
                             (os.path.join(repodir, R.SCANDIR), "scandir ", C.ERR_IO_SCANDIR)):
        try:
            os.mkdir(path)
            os.chmod(path, 0o755 if path == repodir else 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise C.AaError(code, f"create {what}{path}", errno.ENOTDIR) from None
        except OSError as e:
            raise C.AaError(code, f"create {what}{path}", e) from None

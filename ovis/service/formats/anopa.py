"""anopa service directories into the model (research/anopa.md §1, §2).

An anopa service directory is an s6 service directory plus a few anopa
files.  What ovis reads from it:

=====================  =====================================================
``run`` (+ ``finish``)  a longrun; ``run`` is start, ``finish`` is stop
``start`` / ``stop``    a oneshot's scripts (both optional, as in anopa)
``needs/ wants/``       hard / soft dependencies (entries named after services)
``after/ before/``      ordering only
``notification-fd``     readiness fd (3 or more)
``gets-ready``          readiness comes from elsewhere (aa-setready): recorded
                        as ``gets_ready``; ``notify`` stays None
``timeout``             seconds -> timeout_start and timeout_stop (0 = forever)
``essential``           its failure fails the whole transaction
``down``                normally down
``max-death-tally``     s6 file, 0..4096
``down-signal``         s6 file, a signal name or number
``timeout-kill``        s6 file, ms
``timeout-finish``      s6 file, ms
``log/``                the logger: ``log/run`` plus the same s6 files
``log`` (a file)        aa-enable's "use the shared ``log`` service": ovis
                        gives the service its standard s6-log logger
=====================  =====================================================

Entries of ``needs/`` etc. are regular files (symlinks and directories are
ignored, as anopa does); a name ending in ``@`` gets the instance appended
(``needs/foo@`` in ``getty@`` enabled as ``getty@tty1`` means
``foo@tty1``), as aa-enable does.  Names are sorted, since readdir order
means nothing.  Any other top-level file or directory (``data/``, ``env/``,
``nosetsid``, ``lock-fd`` ...) is kept in ``extra_files`` for the compiler
to copy.  Hidden entries and the runtime state s6 and anopa create
(``supervise/``, ``event/``, ``status.anopa``) are skipped.

Errors are :class:`~ovis.errors.DefinitionError` naming the offending file,
line 1, and the file's name relative to the service directory.
"""

from __future__ import annotations

import errno
import os
import stat

from ovis.errors import DefinitionError
from ovis.paths import normpath
from ovis.service.sources import read_bytes
from ovis.service.values import MAX_DEATH, MAX_FD, MAX_MS, bounded_uint, check_notify, normalize_signal, shorten
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind, Service, is_valid_name, split_instance

DEPENDENCY_DIRS = {"needs": "depends", "wants": "wants", "after": "after", "before": "before"}
SCRIPTS = ("run", "finish", "start", "stop")
FLAG_FILES = {"essential": "essential", "down": "down", "gets-ready": "gets_ready"}
RUNTIME = frozenset({"supervise", "event", "status.anopa"})

#: Integer s6 files -> (model field, upper bound).  ``timeout`` is special.
INTEGER_FILES = {
    "max-death-tally": ("max_death", MAX_DEATH),
    "timeout-kill": ("timeout_kill", MAX_MS),
    "timeout-finish": ("timeout_finish", MAX_MS),
    # ovis: the restart back-off (ms before the first restart, and its cap)
    "restart-delay": ("restart_delay", MAX_MS),
    "restart-delay-max": ("restart_delay_max", MAX_MS),
}
MAX_TIMEOUT_SECONDS = MAX_MS // 1000

KNOWN = frozenset({*DEPENDENCY_DIRS, *SCRIPTS, *FLAG_FILES, *INTEGER_FILES,
                   "notification-fd", "timeout", "down-signal", "log"})
#: Files of log/ that become LoggerSpec fields; the rest is copied verbatim.
LOG_KNOWN = frozenset({"run", "notification-fd", "timeout", "timeout-kill", "timeout-finish"})
#: Files s6 itself reads in a servicedir (copied as they are; ovis does not interpret them).
S6_FILES = frozenset({"data", "env", "nosetsid", "lock-fd", "flag-newpidns", "template", "instance",
                      "instances", "timeout-up", "timeout-down"})
LOGGER_FIELDS = ("notify", "timeout_start", "timeout_stop", "timeout_kill", "timeout_finish")


class _Dir:
    """One service directory being read; collects model fields as it goes."""

    def __init__(self, root: str, name: str, prefix: str = "") -> None:
        self.root = root
        self.name = name
        self.prefix = prefix  # "log/" while reading the logger's directory
        self.fields: dict[str, object] = {}
        self.lines: dict[str, tuple[str, int]] = {}
        self.keys: dict[str, str] = {}
        self.extra: dict[str, str] = {}
        self.warnings: list[tuple[str, int, str, str]] = []

    def warn(self, relname: str, message: str) -> None:
        self.warnings.append((f"{self.root}/{relname}", 1, self.prefix + relname, message))

    def error(self, relname: str, message: str) -> DefinitionError:
        return DefinitionError(f"{self.root}/{relname}", 1, self.prefix + relname, message)

    def set(self, field: str, relname: str, value: object) -> None:
        self.fields[field] = value
        self.lines[field] = (f"{self.root}/{relname}", 1)
        self.keys[field] = self.prefix + relname

    # -- file readers ------------------------------------------------------

    def first_line(self, relname: str) -> str:
        """First line of a small value file (``notification-fd`` ...)."""
        data = read_bytes(f"{self.root}/{relname}", self.prefix + relname)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(relname, f"cannot read: not UTF-8 text: {exc.reason}") from None
        line = text.split("\n", 1)[0].strip()
        if not line:
            raise self.error(relname, "empty value")
        return line

    def integer(self, relname: str, limit: int) -> int:
        try:
            return bounded_uint(self.first_line(relname), high=limit)
        except ValueError as exc:
            raise self.error(relname, str(exc)) from None

    def script(self, relname: str) -> Program:
        """An executable regular file, used as is."""
        path = f"{self.root}/{relname}"
        if not os.path.isfile(path):
            raise self.error(relname, "not a regular file")
        if not os.stat(path).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
            raise self.error(relname, "not executable")
        return Program(ProgramKind.FILE, path=path)

    # -- the s6 knobs shared by a service and its logger -------------------

    def read_knobs(self, entries: set[str]) -> None:
        """notification-fd, timeout, the integer s6 files and down-signal."""
        if "notification-fd" in entries:
            value = self.integer("notification-fd", MAX_FD)
            problem = check_notify(value)
            if problem:
                raise self.error("notification-fd", problem)
            self.set("notify", "notification-fd", value)
        if "timeout" in entries:
            seconds = self.integer("timeout", MAX_TIMEOUT_SECONDS)
            self.set("timeout_start", "timeout", seconds * 1000)
            self.set("timeout_stop", "timeout", seconds * 1000)
        for relname, (field, limit) in INTEGER_FILES.items():
            if relname in entries:
                self.set(field, relname, self.integer(relname, limit))
        if "down-signal" in entries:
            text = self.first_line("down-signal")
            signame = normalize_signal(text)
            if signame is None:
                raise self.error("down-signal", f"unknown signal '{shorten(text)}'")
            self.set("down_signal", "down-signal", signame)

    def read_extras(self, entries: set[str], known: frozenset[str]) -> None:
        """Keep every other file for the compiler to copy, checked and bounded.

        A name neither anopa nor s6 knows (``runn``, ``down.bak``) is kept too,
        as anopa does, with a warning: it is most often a typo or a leftover.
        """
        from ovis.service.sources import check_tree

        for relname in sorted(entries - known):
            check_tree(f"{self.root}/{relname}", self.prefix + relname)
            self.extra[relname] = f"{self.root}/{relname}"
            if relname not in S6_FILES and relname not in KNOWN:
                self.warn(relname, "unknown file, neither anopa nor s6 reads it (copied as it is)")


def _entries(root: str) -> set[str]:
    """Top-level names worth reading: no hidden files, no runtime state."""
    return {entry for entry in os.listdir(root)
            if not entry.startswith(".") and entry not in RUNTIME}


# --------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------


def _dependency_names(sdir: _Dir, dirname: str, instance: str | None) -> list[tuple[str, str]]:
    """(service name, entry file name) for each regular file of *dirname*."""
    folder = f"{sdir.root}/{dirname}"
    if not os.path.isdir(folder):
        raise sdir.error(dirname, "not a directory")
    found: list[tuple[str, str]] = []
    for entry in sorted(os.listdir(folder)):
        full = f"{folder}/{entry}"
        if entry.startswith(".") or os.path.islink(full) or not os.path.isfile(full):
            continue
        relname = f"{dirname}/{entry}"
        target = entry
        if target.endswith("@") and instance is not None:
            target += instance
        if not is_valid_name(target):
            raise sdir.error(relname, f"invalid service name '{target}'")
        found.append((target, relname))
    return sorted(found)


def _read_dependencies(sdir: _Dir, entries: set[str]) -> None:
    instance = split_instance(sdir.name)[1] or None  # the template itself has none
    for dirname, field in DEPENDENCY_DIRS.items():
        if dirname not in entries:
            continue
        names: dict[str, None] = {}  # ordered, O(1) membership
        for target, relname in _dependency_names(sdir, dirname, instance):
            if target not in names:
                names[target] = None
                sdir.lines[f"{field}/{target}"] = (f"{sdir.root}/{relname}", 1)
                sdir.keys[f"{field}/{target}"] = relname
        sdir.set(field, dirname, tuple(names))


# --------------------------------------------------------------------------
# Scripts, flags, logger
# --------------------------------------------------------------------------


def _read_scripts(sdir: _Dir, entries: set[str]) -> Kind:
    """Decide the kind (``run`` exists -> longrun) and read the scripts."""
    if "run" in entries:
        for wrong in ("start", "stop"):
            if wrong in entries:
                raise sdir.error(wrong, "only a oneshot (no run file) has start/stop scripts")
        sdir.set("start", "run", sdir.script("run"))
        if "finish" in entries:
            sdir.set("stop", "finish", sdir.script("finish"))
        return Kind.LONGRUN
    if "finish" in entries:
        raise sdir.error("finish", "only a longrun (with a run file) has a finish script")
    for relname in ("start", "stop"):
        if relname in entries:
            sdir.set(relname, relname, sdir.script(relname))
    return Kind.ONESHOT


def _read_flags(sdir: _Dir, entries: set[str]) -> None:
    for relname, field in FLAG_FILES.items():
        if relname in entries:
            sdir.set(field, relname, True)


def _read_logger(sdir: _Dir, entries: set[str]) -> None:
    """``log/`` with a ``run`` script, or a ``log`` file (standard logger).

    The logger's own notification-fd and timeouts land in the LoggerSpec;
    its other files (``down-signal``, ``max-death-tally``, ``data/`` ...) are
    checked where ovis knows them and copied verbatim, since s6 reads them.
    """
    if "log" not in entries:
        return
    root = f"{sdir.root}/log"
    try:
        is_dir = stat.S_ISDIR(os.stat(root).st_mode)
    except OSError as exc:
        reason = "symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror
        raise sdir.error("log", f"cannot read: {reason}") from None
    if not is_dir:
        sdir.set("logger", "log", LoggerSpec())
        return
    logdir = _Dir(root, sdir.name, prefix="log/")
    log_entries = _entries(root)
    if "run" not in log_entries:
        raise DefinitionError(f"{root}/run", 1, "log/run", "missing: a log/ directory needs a run script")
    program = logdir.script("run")
    logdir.read_knobs(log_entries)
    logdir.read_extras(log_entries, LOG_KNOWN)
    settings = {field: value for field, value in logdir.fields.items() if field in LOGGER_FIELDS}
    spec = LoggerSpec(program=program, extra_files=logdir.extra, **settings)  # type: ignore[arg-type]
    sdir.warnings.extend(logdir.warnings)
    sdir.set("logger", "log", spec)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def parse_anopa_dir(path: str | os.PathLike[str], name: str) -> Service:
    """Parse the anopa service directory *path* as the service *name*.

    For an instance, *path* is the template directory (``getty@``) and
    *name* the instance (``getty@tty1``).  Raises
    :class:`~ovis.errors.DefinitionError` at the first problem.
    """
    path = normpath(path)  # the model's paths are str: no pathlib on the aa-* paths
    if not is_valid_name(name):
        raise DefinitionError(path, 1, name, "invalid service name")
    if not os.path.isdir(path):
        raise DefinitionError(path, 1, name, "not a directory")
    sdir = _Dir(path, name)
    try:
        entries = _entries(path)
        kind = _read_scripts(sdir, entries)
        sdir.read_knobs(entries)
        _read_flags(sdir, entries)
        _read_dependencies(sdir, entries)
        _read_logger(sdir, entries)
    except OSError as exc:
        raise DefinitionError(exc.filename or path, 1, name, f"cannot read: {exc.strerror}") from None
    sdir.read_extras(entries, KNOWN)
    if kind is Kind.ONESHOT and "start" not in entries and "stop" not in entries:
        sdir.warnings.append((path, 1, name, "nothing to run: no run, start or stop file"))
    service = Service(name=name, kind=kind, source=path, extra_files=sdir.extra,
                      **sdir.fields)  # type: ignore[arg-type]
    service.lines, service.keys = sdir.lines, sdir.keys
    service.warnings = sdir.warnings
    return service

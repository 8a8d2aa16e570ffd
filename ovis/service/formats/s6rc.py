"""s6-rc source definition directories into the model.

A directory holding a ``type`` file is read the way ``s6-rc-compile`` reads
it (skarnet's s6-rc-compile page, "Source format"), with its validity rules:

===========================  ================================================
``type``                     ``longrun``, ``oneshot`` or ``bundle`` and at most
                             one newline; anything else is an error
``flag-essential``           presence: ``Service.essential``
``flag-recommended``         presence only matters to s6-rc's repo tools:
                             accepted, nothing to do
``dependencies.d/``          entries (of any type) named after services: hard
                             dependencies; if absent, ``dependencies``: one
                             name per line, leading blanks ignored, ``#`` lines
                             ignored (s6-rc's deprecated list format)
``timeout-up/-down``         ms the engine waits for the transition; absent or
                             0 means forever, as in s6-rc
``contents.d/``,``contents`` a bundle's members (same two forms)
``up``, ``down``             a oneshot's scripts: one execline command line
                             each (lexed by execlineb, no shebang, no
                             positional parameters); ``up`` is mandatory
``run``, ``finish``          a longrun's scripts, copied with mode 0755
                             (``run`` is mandatory and must be a regular file)
``notification-fd`` ...      ``lock-fd``, ``timeout-kill``, ``timeout-finish``,
                             ``max-death-tally``, ``down-signal``: s6 files
``producer-for`` ...         ``consumer-for``, ``pipeline-name``: pipelines
``data/``, ``env/``          copied verbatim (also ``instance/``, ``instances/``)
===========================  ================================================

Anything else (a ``down.bak``, a ``runn``, a ``log/`` directory, a ``down``
file in a longrun) is ignored by s6-rc-compile: here it is a warning in
``Service.warnings`` naming the file, never an error.

As in s6-rc, a producer depends on its consumer (the consumer starts first
and stops last), which is written into ``depends``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~30 modules at import (ovis status imports this)
if TYPE_CHECKING:
    from typing import Callable

from ovis.errors import DefinitionError, UnknownService
from ovis.paths import normpath
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind, Service, is_valid_name

TYPES = {"longrun": Kind.LONGRUN, "oneshot": Kind.ONESHOT, "bundle": Kind.BUNDLE}
UINT32 = 2**32 - 1
MAX_DEATH_TALLY = 4096
RESERVED_PREFIXES = ("s6rc-", "s6-rc-")

COMMON = frozenset({"type", "flag-essential", "flag-recommended"})
ATOMIC = COMMON | {"dependencies", "dependencies.d", "timeout-up", "timeout-down"}
KNOWN = {
    Kind.BUNDLE: COMMON | {"contents", "contents.d"},
    Kind.ONESHOT: ATOMIC | {"up", "down", "reload"},
    Kind.LONGRUN: ATOMIC | {"run", "finish", "notification-fd", "lock-fd", "timeout-kill",
                            "timeout-finish", "max-death-tally", "down-signal", "producer-for",
                            "consumer-for", "pipeline-name", "data", "env", "instance",
                            "instances"},
}
#: Directories s6-rc-compile copies verbatim into a longrun's servicedir.
COPIED_DIRS = ("data", "env", "instance", "instances")
#: Why s6-rc-compile ignores some well-known names (said in the warning).
IGNORED_WHY = {
    "log": "s6-rc ignores log/ directories: define the logger as a consumer (consumer-for)",
    "down": "s6-rc ignores a down file in a longrun definition",
    "reload": "s6-rc 0.6 reload scripts are not supported: ignored",
}


class _Reader:
    """One definition directory being read."""

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.name = name
        self.fields: dict[str, object] = {}
        self.lines: dict[str, tuple[str, int]] = {}
        self.keys: dict[str, str] = {}
        self.extra: dict[str, str] = {}
        self.warnings: list[tuple[str, int, str, str]] = []

    def error(self, rel: str, message: str, line: int = 1) -> DefinitionError:
        return DefinitionError(f"{self.root}/{rel}", line, rel, message)

    def warn(self, rel: str, message: str, line: int = 1) -> None:
        self.warnings.append((f"{self.root}/{rel}", line, rel, message))

    def set(self, field: str, rel: str, value: object, line: int = 1) -> None:
        self.fields[field] = value
        self.lines[field] = (f"{self.root}/{rel}", line)
        self.keys[field] = rel

    # -- file readers ------------------------------------------------------

    def text(self, rel: str) -> str:
        path = f"{self.root}/{rel}"
        if not os.path.isfile(path):
            raise self.error(rel, "not a regular file")
        try:
            with open(path, errors="strict") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(rel, f"cannot read: {exc}") from None

    def uint(self, rel: str, limit: int = UINT32) -> int:
        """An integer file as s6-rc reads it: trailing newlines stripped, decimal."""
        raw = self.text(rel).rstrip("\n")
        if not raw.isascii() or not raw.isdigit():
            raise self.error(rel, f"not an unsigned integer: '{raw}'")
        value = int(raw)
        if value > limit:
            raise self.error(rel, f"out of range 0..{limit}: {value}")
        return value

    def name_list(self, rel: str) -> list[tuple[str, int]]:
        """(name, line) of a list file: blanks before a name ignored, ``#`` lines skipped."""
        found: list[tuple[str, int]] = []
        for number, line in enumerate(self.text(rel).split("\n"), 1):
            word = line.lstrip(" \t")
            if not word or word.startswith("#"):
                continue
            if not is_valid_name(word):
                raise self.error(rel, f"invalid service name '{word}'", number)
            if word not in (n for n, _ in found):
                found.append((word, number))
        return found

    def name_dir(self, rel: str) -> list[tuple[str, int]]:
        folder = f"{self.root}/{rel}"
        if not os.path.isdir(folder):
            raise self.error(rel, "not a directory")
        found = []
        for entry in sorted(os.listdir(folder)):
            if entry.startswith("."):
                continue
            if not is_valid_name(entry):
                raise DefinitionError(f"{folder}/{entry}", 1, f"{rel}/{entry}",
                                      f"invalid service name '{entry}'")
            found.append((entry, 0))
        return found

    def names(self, entries: set[str], dirname: str, filename: str, field: str) -> None:
        """``dirname/`` wins over ``filename`` (as in s6-rc); records each name's place."""
        if dirname in entries:
            listed, rel = self.name_dir(dirname), dirname
            if filename in entries:
                self.warn(filename, f"ignored: {dirname}/ is used when both exist")
        elif filename in entries:
            listed, rel = self.name_list(filename), filename
        else:
            return
        names: list[str] = []
        for target, line in listed:
            names.append(target)
            if line:
                self.lines[f"{field}/{target}"] = (f"{self.root}/{rel}", line)
                self.keys[f"{field}/{target}"] = rel
            else:
                self.lines[f"{field}/{target}"] = (f"{self.root}/{rel}/{target}", 1)
                self.keys[f"{field}/{target}"] = f"{rel}/{target}"
        self.set(field, rel, tuple(names))

    def one_name(self, rel: str) -> str:
        listed = self.name_list(rel)
        if len(listed) != 1:
            raise self.error(rel, "should only contain one service name")
        return listed[0][0]


# --------------------------------------------------------------------------
# execline lexing (only as far as s6-rc-compile checks it)
# --------------------------------------------------------------------------


def execline_words(text: str) -> int:
    """Number of words *text* lexes into; raises ValueError on unbalanced blocks.

    s6-rc-compile lexes ``up``/``down`` with execlineb's lexer at compile
    time and refuses unmatched braces; an empty result means "nothing to do".
    Comments run from a ``#`` at the start of a word to the end of the line.
    """
    words = depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n\r\f\v":
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        while i < n and text[i] not in " \t\n\r\f\v":
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                i += 1
                while i < n and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
                if i >= n:
                    raise ValueError("unterminated quoted string")
            i += 1
        word = text[start:i]
        if word == "{":
            depth += 1
        elif word == "}":
            if depth == 0:
                raise ValueError("unmatched }")
            depth -= 1
        words += 1
    if depth:
        raise ValueError("unmatched {")
    return words


# --------------------------------------------------------------------------
# Per kind
# --------------------------------------------------------------------------


def _read_timeouts(r: _Reader, entries: set[str]) -> None:
    if "timeout-up" in entries:
        r.set("timeout_start", "timeout-up", r.uint("timeout-up"))
    else:
        r.fields["timeout_start"] = 0  # s6-rc: no file means no timeout
    # An absent timeout-down keeps ovis's stop defaults (wait 10 s, then s6
    # sends SIGKILL): s6-rc would wait forever, but one daemon ignoring
    # SIGTERM must never wedge a shutdown (docs/guarantees.md).
    if "timeout-down" in entries:
        r.set("timeout_stop", "timeout-down", r.uint("timeout-down"))


def _oneshot(r: _Reader, entries: set[str]) -> None:
    if "up" not in entries:
        raise DefinitionError(f"{r.root}/up", 1, "up", "missing: a oneshot needs an up file")
    for rel, field in (("up", "start"), ("down", "stop")):
        if rel not in entries:
            continue
        text = r.text(rel)
        try:
            words = execline_words(text)
        except ValueError as exc:
            raise r.error(rel, f"execline syntax error: {exc}") from None
        if words:
            r.set(field, rel, Program(ProgramKind.EXECLINE, text=text))
        elif rel == "up":
            r.warn(rel, "empty: nothing to run")
    # s6-rc sends a oneshot's output to the supervision tree's catch-all
    # logger; ovis keeps it in the service's own log instead of dropping it.
    r.fields["logger"] = LoggerSpec()


def _script(r: _Reader, rel: str) -> Program:
    path = f"{r.root}/{rel}"
    if not os.path.isfile(path):
        raise r.error(rel, "not a regular file")
    return Program(ProgramKind.FILE, path=path)


def _longrun(r: _Reader, entries: set[str]) -> None:
    if "run" not in entries:
        raise DefinitionError(f"{r.root}/run", 1, "run", "missing: a longrun needs a run file")
    r.set("start", "run", _script(r, "run"))
    if "finish" in entries:
        r.set("stop", "finish", _script(r, "finish"))
    notify = None
    if "notification-fd" in entries:
        notify = r.uint("notification-fd")
        if notify < 3:
            r.warn("notification-fd", f"{notify} is not usable for readiness: ignored (as s6-rc does)")
            notify = None
        else:
            r.set("notify", "notification-fd", notify)
    if "lock-fd" in entries:
        lock = r.uint("lock-fd")
        if notify is not None and lock == notify:
            raise r.error("lock-fd", "same value as notification-fd")
        r.extra["lock-fd"] = f"{r.root}/lock-fd"
    for rel, field in (("timeout-kill", "timeout_kill"), ("timeout-finish", "timeout_finish")):
        if rel in entries:
            r.set(field, rel, r.uint(rel))
    if "timeout-down" in entries:  # s6: no timeout-kill file, no SIGKILL after the down signal
        r.fields.setdefault("timeout_kill", 0)
    if "max-death-tally" in entries:
        r.uint("max-death-tally", MAX_DEATH_TALLY)
        r.extra["max-death-tally"] = f"{r.root}/max-death-tally"  # s6's own file, as is
    if "down-signal" in entries:
        from ovis.service.values import normalize_signal

        raw = r.text("down-signal").strip()
        signame = normalize_signal(raw)
        if signame is None:
            raise r.error("down-signal", f"unknown signal '{raw}'")
        r.set("down_signal", "down-signal", signame)
    for rel in COPIED_DIRS:
        if rel in entries:
            if not os.path.isdir(f"{r.root}/{rel}"):
                raise r.error(rel, "not a directory")
            r.extra[rel] = f"{r.root}/{rel}"
    _pipeline(r, entries)


def _pipeline(r: _Reader, entries: set[str]) -> None:
    producer_for = r.one_name("producer-for") if "producer-for" in entries else None
    consumers = r.name_list("consumer-for") if "consumer-for" in entries else []
    if producer_for is not None:
        if producer_for == r.name:
            raise r.error("producer-for", "a service cannot be its own consumer")
        r.set("producer_for", "producer-for", producer_for)
        # s6-rc: the producer depends on its consumer (consumer up first, down last).
        deps = tuple(r.fields.get("depends", ()))  # type: ignore[arg-type]
        if producer_for not in deps:
            r.fields["depends"] = deps + (producer_for,)
            r.lines.setdefault("depends", (f"{r.root}/producer-for", 1))
            r.keys.setdefault("depends", "producer-for")
        r.lines[f"depends/{producer_for}"] = (f"{r.root}/producer-for", 1)
        r.keys[f"depends/{producer_for}"] = "producer-for"
    if consumers:
        r.set("consumer_for", "consumer-for", tuple(n for n, _ in consumers))
        for n, line in consumers:
            r.lines[f"consumer_for/{n}"] = (f"{r.root}/consumer-for", line)
            r.keys[f"consumer_for/{n}"] = "consumer-for"
    if "pipeline-name" in entries:
        if consumers and producer_for is None:
            r.set("pipeline_name", "pipeline-name", r.one_name("pipeline-name"))
        else:
            r.warn("pipeline-name", "ignored: only the last consumer of a pipeline names it")


def _bundle(r: _Reader, entries: set[str]) -> None:
    if "contents.d" not in entries and "contents" not in entries:
        raise DefinitionError(f"{r.root}/contents.d", 1, "contents.d",
                              "missing: a bundle needs contents.d/ or contents")
    r.names(entries, "contents.d", "contents", "contents")
    if r.name in r.fields.get("contents", ()):  # type: ignore[operator]
        path, line = r.lines[f"contents/{r.name}"]
        raise DefinitionError(path, line, r.keys[f"contents/{r.name}"],
                              f"dependency cycle: {r.name} -> {r.name}")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def is_s6rc_dir(path: str) -> bool:
    """The detection rule: a directory holding a ``type`` file."""
    return os.path.isdir(path) and os.path.lexists(f"{path}/type")


def read_type(path: str) -> Kind:
    """The kind named by *path*/type, with s6-rc-compile's strictness."""
    tfile = f"{path}/type"
    try:
        with open(tfile, "rb") as f:
            raw = f.read()
    except IsADirectoryError:
        raise DefinitionError(tfile, 1, "type", "not a regular file") from None
    except OSError as exc:
        raise DefinitionError(tfile, 1, "type", f"cannot read: {exc.strerror}") from None
    word = raw[:-1] if raw.endswith(b"\n") else raw
    kind = TYPES.get(word.decode("utf-8", "replace"))
    if kind is None:
        shown = word.decode("utf-8", "replace").split("\n", 1)[0].strip()
        raise DefinitionError(tfile, 1, "type", f"must be longrun, oneshot or bundle, not '{shown}'")
    return kind


def parse_s6rc_dir(path: str | os.PathLike[str], name: str) -> Service:
    """Parse the s6-rc source definition directory *path* as the service *name*.

    Raises :class:`~ovis.errors.DefinitionError` at the first problem, the
    way s6-rc-compile stops at the first one.
    """
    path = normpath(path)  # the model's paths are str
    if not is_valid_name(name):
        raise DefinitionError(path, 1, name, "invalid service name")
    if name.startswith(RESERVED_PREFIXES):
        raise DefinitionError(path, 1, name, "names starting with s6rc- or s6-rc- are reserved")
    kind = read_type(path)
    r = _Reader(path, name)
    try:
        entries = {e for e in os.listdir(path) if not e.startswith(".")}
        if kind is not Kind.BUNDLE:
            r.names(entries, "dependencies.d", "dependencies", "depends")
            _read_timeouts(r, entries)
        if "flag-essential" in entries:
            r.set("essential", "flag-essential", True)
        if kind is Kind.BUNDLE:
            _bundle(r, entries)
        elif kind is Kind.ONESHOT:
            _oneshot(r, entries)
        else:
            _longrun(r, entries)
    except OSError as exc:
        raise DefinitionError(exc.filename or path, 1, name, f"cannot read: {exc.strerror}") from None
    for rel in sorted(entries - KNOWN[kind]):
        r.warn(rel, IGNORED_WHY.get(rel, f"not an s6-rc {kind.value} file: ignored "
                                          "(as s6-rc-compile does)"))
    if kind is Kind.ONESHOT and "reload" in entries:
        r.warn("reload", IGNORED_WHY["reload"])
    service = Service(name=name, kind=kind, source=path, extra_files=r.extra,
                      **r.fields)  # type: ignore[arg-type]
    service.lines, service.keys = r.lines, r.keys
    service.warnings = r.warnings
    return service


# --------------------------------------------------------------------------
# Bundles s6-rc creates without a directory: pipelines, s6-overlay's base
# --------------------------------------------------------------------------


def _list_file(path: str) -> list[str]:
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    return [w for w in (line.lstrip(" \t") for line in text.split("\n")) if w and not w.startswith("#")]


def pipeline_bundles(directory: str, locate: Callable[[str], str | None]) -> dict[str, Service]:
    """``pipeline-name`` bundles declared by last consumers in *directory*.

    The bundle holds every service of the pipeline ending at that consumer
    (found by following ``consumer-for`` back through the producers).  Only
    the files needed for that are read here; the members themselves are
    parsed (and checked) when the bundle is loaded.
    """
    out: dict[str, Service] = {}
    try:  # only directories can hold pipeline-name: files (66 definitions) cost no stat
        with os.scandir(directory) as it:
            entries = sorted(e.name for e in it if e.is_dir())
    except OSError:
        return out
    for entry in entries:
        if entry.startswith(".") or not os.path.isfile(f"{directory}/{entry}/pipeline-name"):
            continue
        root = f"{directory}/{entry}"
        if not os.path.lexists(f"{root}/type") or os.path.lexists(f"{root}/producer-for"):
            continue
        names = _list_file(f"{root}/pipeline-name")
        if len(names) != 1 or not is_valid_name(names[0]) or not _list_file(f"{root}/consumer-for"):
            continue  # the consumer's own parse reports it
        members: list[str] = []
        stack = [entry]
        while stack:
            member = stack.pop()
            if member in members:
                continue
            members.append(member)
            where = root if member == entry else locate(member)
            if where is not None and os.path.isdir(where):
                stack.extend(reversed(_list_file(f"{where}/consumer-for")))
        bundle = Service(name=names[0], kind=Kind.BUNDLE, source=f"{root}/pipeline-name",
                         contents=tuple(sorted(members)),
                         description=f"pipeline ending at {entry}")
        bundle.lines["contents"] = (f"{root}/pipeline-name", 1)
        bundle.keys["contents"] = "pipeline-name"
        out[names[0]] = bundle
    return out


def overlay_base(directory: str) -> Service | None:
    """s6-overlay's ``base`` bundle, empty, for an ``s6-rc.d`` that has a ``user`` bundle."""
    try:
        if read_type(f"{directory}/user") is not Kind.BUNDLE:
            return None
    except DefinitionError:
        return None
    return Service(name="base", kind=Kind.BUNDLE, source=directory,
                   description="s6-overlay's base (not defined here: empty)")


def check_pipelines(services: dict[str, Service], load: Callable[[str], Service]) -> None:
    """s6-rc-compile's consistency rule: both ends of each link declare it.

    A producer's ``producer-for`` names a longrun whose ``consumer-for``
    lists it back, and each name in a ``consumer-for`` is a longrun whose
    ``producer-for`` names this consumer.
    """
    for svc in list(services.values()):
        if svc.producer_for:
            other = load(svc.producer_for)
            if other.kind is not Kind.LONGRUN or svc.name not in other.consumer_for:
                path, line = svc.where("producer_for")
                raise DefinitionError(path, line, svc.key_as_written("producer_for"),
                                      f"'{svc.producer_for}' does not declare it back "
                                      f"(consumer-for {svc.name})")
        for producer in svc.consumer_for:
            path, line = svc.where(f"consumer_for/{producer}")
            try:
                other = load(producer)
            except UnknownService:  # say where it was asked for
                raise DefinitionError(path, line, "consumer-for",
                                      f"unknown service '{producer}'") from None
            if other.kind is not Kind.LONGRUN or other.producer_for != svc.name:
                raise DefinitionError(path, line, "consumer-for",
                                      f"'{producer}' does not declare it back "
                                      f"(producer-for {svc.name})")

"""Compile a :class:`Service` into a real s6 service directory under LIVE.

Layout of ``LIVE/sv/NAME`` (longrun, linked as ``LIVE/scandir/NAME``)::

    run, finish, finish.user   scripts (execline, or the user's verbatim file)
    notification-fd, timeout-kill, timeout-finish, max-death-tally, down-signal
    down                        present while the service should stay down
    log/run                     s6-log logger, unless the definition says !log
    event/                      pre-created, so ovis can subscribe before s6-supervise runs
    ovis.json                   the model, for status/stop when definitions changed or vanished

A oneshot gets ``start``/``stop`` scripts and ``ovis.json`` only: it is run
by the engine, not supervised.

A new servicedir is built in a temporary sibling and renamed into place, so
a crash never leaves half of one.  An existing one is updated file by file,
each file atomically; s6-supervise re-reads its files at each use, so an
edited definition takes effect at the next (re)start.
"""

from __future__ import annotations

from ovis import jsonlite as json  # json's bytes and answers without importing json (and re)
import os
import stat

from ovis import atomic
from ovis.errors import DefinitionError
from ovis.paths import CONSOLE_LOGS, Paths, normpath, parent
from ovis.record import Frozen
from ovis.smallfile import identity, read_fd, read_json_object
from ovis.service import envsubst, execline, restart, runas, stdio
from ovis.service.model import (
    DEFAULT_TIMEOUT_STOP_MS,
    Kind,
    LoggerSpec,
    Program,
    ProgramKind,
    Service,
)

# Every longrun's finish is the restart policy of ovis/service/restart.py
# (back-off, MaxDeath as the limit of deaths in a row, essential deaths).
META = "ovis.json"
#: Entries s6 owns inside a live servicedir: never replaced by a recompile.
LIVE_ENTRIES = {"supervise", "event", "down", "log"}
#: [Environment] values known at compile time, one 0600 file each, read by
#: ``s6-envdir -fn`` (exact bytes) as root before RunAs applies.
ENVDIR = "ovis-env"


def effective_logger(svc: Service) -> LoggerSpec | None:
    """The logger the service really gets: none when StdOut is not ``s6log`` (as in 66)."""
    if svc.logger is None or not streams_of(svc).logged:
        return None
    return svc.logger


def streams_of(svc: Service) -> stdio.Streams:
    """Where the service's standard streams go, 66's redefinitions applied."""
    return stdio.effective(svc.stdin, svc.stdout, svc.stderr, svc.logger is not None)


#: The unexported names of a service that has none: one shared empty set,
#: not one per service (216 bytes each, kept for the whole transaction).
_NO_NAMES: frozenset[str] = frozenset()


class _Env(Frozen):
    """One service's [Environment], resolved once for all its scripts."""

    __slots__ = ("values", "unexported", "alias")

    def __init__(self, values: dict[str, envsubst.Template], unexported: frozenset[str],
                 alias: dict[str, str]) -> None:
        s = object.__setattr__
        s(self, "values", values)
        s(self, "unexported", unexported or _NO_NAMES)
        s(self, "alias", alias)  # inherited name -> private execline substitution name

    @property
    def empty(self) -> bool:
        return not self.values

    @property
    def static(self) -> tuple[str, ...]:
        """Variables whose value is known now and not empty: they go to ENVDIR.

        (s6-envdir unsets a variable whose file is empty, so empty values,
        and values built from the inherited environment, are exported by
        the script itself.)
        """
        return tuple(k for k, t in self.values.items() if not t.inherited and t.parts[0])


#: What validate() resolved for a service (its [Environment], RunAs ids), for
#: its compilation in the same process: resolved once, not twice.  Keyed by
#: id() with the service kept alive, so an id is never reused while listed.
_RESOLVED: dict[int, tuple[Service, _Env, dict[tuple[str, str], runas.Ids]]] = {}


def _resolved(svc: Service) -> tuple[_Env, dict[tuple[str, str], runas.Ids]]:
    hit = _RESOLVED.get(id(svc))
    if hit is not None and hit[0] is svc:
        return hit[1], hit[2]
    env: _Env = _environment_of(svc)
    memo: dict[tuple[str, str], runas.Ids] = {}
    _RESOLVED[id(svc)] = (svc, env, memo)
    return env, memo


def _environment(svc: Service) -> _Env:
    return _resolved(svc)[0]


def _environment_of(svc: Service) -> _Env:
    where = {k[4:]: v for k, v in svc.lines.items() if k.startswith("env/")}
    values = envsubst.resolve(svc.env, where, svc.source)
    inherited = {n for t in values.values() for n in t.inherited}
    texts = [p.text for p in (svc.start, svc.stop) if p is not None] + list(svc.env.values())
    return _Env(values, frozenset(svc.env_unexported), envsubst.import_names(inherited, texts))


def _ids(svc: Service, prog: Program | None, key: str) -> runas.Ids | None:
    spec = prog.runas if prog is not None else None
    if not spec:
        return None
    memo = _resolved(svc)[1]
    got = memo.get((key, spec))
    if got is None:
        path, line = svc.where(f"{key}/runas")
        got = memo[(key, spec)] = runas.resolve(spec, path, line, svc.key_as_written(
            f"{key}/runas") if f"{key}/runas" in svc.keys else "RunAs")
    return got


def validate(svc: Service) -> None:
    """Refuse, as DefinitionError, what would only fail when the service runs.

    Called when a definition is loaded (``check`` and every transaction), so
    a NUL byte, a cycle between variables or an unknown RunAs user is one
    error line before anything in LIVE changes.
    """
    _environment(svc)
    for key, prog in (("start", svc.start), ("stop", svc.stop)):
        if prog is not None and "\0" in prog.text:
            path, line = svc.where(key)
            raise DefinitionError(path, line, svc.key_as_written(key), "Execute holds a NUL byte")
        _ids(svc, prog, key)
    if svc.logger is not None and svc.logger.runas:
        _ids(svc, Program(ProgramKind.EXECLINE, runas=svc.logger.runas), "logger")


def boot_path(paths: Paths) -> str | None:
    """The PATH every script of LIVE starts with, when the boot recorded it; else None.

    ``LIVE/environment`` is written by stage 1 before it execs s6-svscan, with
    the environment it execs it with; ``ovis scandir start`` gives s6-svscan
    that file's PATH too, and the engine runs oneshots with it
    (:meth:`Paths.boot_env`): longruns (through s6-supervise), their loggers
    and oneshots all start with it.  Not for an anopa repository (aa-start
    runs oneshots with its caller's environment), nor without the file (an
    ``ovis scandir start`` outside a boot gives s6-svscan its caller's PATH,
    which a later command cannot know).
    """
    if paths.layout == "anopa":
        return None
    from ovis.paths import read_env_file

    env = paths.live_str + "/environment"
    try:
        if not stat.S_ISREG(os.stat(env).st_mode):
            return None
    except OSError:
        return None
    if not os.access(env, os.R_OK):
        # A user's ``ovis status`` (the file is root's: values may be secrets): stage 1
        # wrote the same PATH into boot.json, which anyone reads.
        got = read_json_object(paths.live_str + "/boot.json")
        path = got[1].get("path") if got is not None else None
        return path if isinstance(path, str) else None
    return read_env_file(env).get("PATH")


def _files_for(svc: Service, paths: Paths, as_root: bool,
               known_path: str | None = None) -> dict[str, tuple[bytes | str, int]]:
    """Every file of the servicedir: relative name -> (content or source path, mode).

    *known_path*: :func:`boot_path`, the PATH its scripts start with, if known.
    """
    files: dict[str, tuple[bytes | str, int]] = {}
    env = _environment(svc)
    streams = streams_of(svc)
    logger = effective_logger(svc)
    if svc.kind is Kind.LONGRUN:
        assert svc.start is not None
        _program(files, "run", svc.start, env,
                 stdio.redirections(streams, svc.name, execline.command),
                 _ids(svc, svc.start, "start") if as_root else None, positional=False,
                 known_path=known_path)
        if svc.stop is not None:
            _program(files, "finish.user", svc.stop, env,
                     execline.command("fdmove -c 2 1\n") if logger is not None else "",
                     _ids(svc, svc.stop, "stop") if as_root else None, positional=True,
                     known_path=known_path)
        _restart_policy(files, svc, paths)
        if svc.notify is not None:
            files["notification-fd"] = (f"{svc.notify}\n".encode(), 0o644)
        kill = svc.timeout_kill if svc.timeout_kill is not None else (
            svc.timeout_stop if svc.timeout_stop is not None else DEFAULT_TIMEOUT_STOP_MS)
        if kill:
            files["timeout-kill"] = (f"{kill}\n".encode(), 0o644)
        if (svc.max_death or 0) > 100:
            files["max-death-tally"] = (f"{min(svc.max_death or 0, 4096)}\n".encode(), 0o644)
        if svc.down_signal:
            files["down-signal"] = (f"{svc.down_signal}\n".encode(), 0o644)
        if logger is not None:
            ids = _ids(svc, Program(ProgramKind.EXECLINE, runas=logger.runas), "logger") \
                if as_root else None
            files["log/run"] = (_logger_run(svc.name, logger, paths, ids, known_path), 0o755)
        if svc.producer_for or svc.consumer_for:
            _pipe_wrappers(files, svc, paths)
    else:
        # A oneshot's output is the engine's to collect unless StdOut says otherwise.
        redirs = "" if streams.logged else stdio.redirections(streams, svc.name, execline.command)
        if svc.start is not None:
            _program(files, "start", svc.start, env, redirs,
                     _ids(svc, svc.start, "start") if as_root else None, positional=False,
                     known_path=known_path)
        if svc.stop is not None:
            _program(files, "stop", svc.stop, env, redirs,
                     _ids(svc, svc.stop, "stop") if as_root else None, positional=False,
                     known_path=known_path)
    for rel, src in sorted(svc.extra_files.items()):
        files[rel] = (src, -1)
    if svc.kind is Kind.LONGRUN and logger is not None:
        lg = logger
        if lg.notify is not None:
            files["log/notification-fd"] = (f"{lg.notify}\n".encode(), 0o644)
        kill = lg.timeout_kill if lg.timeout_kill is not None else lg.timeout_stop
        if kill:
            files["log/timeout-kill"] = (f"{kill}\n".encode(), 0o644)
        if lg.timeout_finish is not None:
            files["log/timeout-finish"] = (f"{lg.timeout_finish}\n".encode(), 0o644)
        for rel, src in sorted(lg.extra_files.items()):
            files[f"log/{rel}"] = (src, -1)
    return files


def _restart_policy(files: dict[str, tuple[bytes | str, int]], svc: Service,
                    paths: Paths) -> None:
    """``finish`` carries the back-off, the restart limit and essential deaths."""
    first = svc.restart_delay if svc.restart_delay is not None else restart.FIRST_MS
    top = max(first, svc.restart_delay_max if svc.restart_delay_max is not None
              else restart.MAX_MS)
    text = restart.finish_script(svc.name, paths.live_str, first_ms=first, max_ms=top,
                                 limit=svc.max_death or 0, essential=svc.essential,
                                 user_finish=svc.stop is not None)
    files["finish"] = (text.encode(), 0o755)
    files["timeout-finish"] = (f"{restart.timeout_finish(top, svc.timeout_finish)}\n".encode(),
                               0o644)


def _program(files: dict[str, tuple[bytes | str, int]], name: str, prog: Program,
             env: _Env, redirs: str, ids: runas.Ids | None, positional: bool,
             known_path: str | None = None) -> None:
    """The script *name* for *prog*: streams, environment, RunAs, then the user's text.

    A script that holds [Environment] values is 0700: values are often
    secrets, and only root (s6-supervise, the engine) runs these scripts.
    """
    if prog.kind is ProgramKind.FILE:
        assert prog.path is not None
        # s6-rc's run/finish need not be executable: copied with mode 0755 then.
        files[name] = (prog.path, -1 if os.access(prog.path, os.X_OK) else 0o755)
        return
    verbatim = prog.kind is ProgramKind.VERBATIM
    no_path = verbatim and _calls_no_execline(prog.text)
    if no_path and env.empty and not env.alias and ids is None and not redirs:
        # Nothing to set up before the user's script: it is the script s6
        # runs, with its own #! line: no execlineb exec in front of it at
        # every start (the wrapper would only have exec'd ./NAME.user).
        files[name] = (prog.text.encode(), 0o755)
        return
    # With values in the text, positional parameters must not be substituted
    # into them (execlineb -S0 would turn a value's ${1} into the exit code):
    # push them, and substitute them only after the values are exported.
    push = positional and not env.empty
    values = [v.render(env.alias) for v in env.values.values()]
    # The real execlineb; the wrapper's PATH only if the user's text may call
    # execline commands by name. Every generated command is named absolutely.
    script = execline.header("" if push else ("-S0" if positional else "-P"),
                             None if no_path else [prog.text], values, known_path) + redirs
    # Once the service's variables are set, its own PATH may hide the tools:
    # from there on they are called by absolute path.
    cmd = execline.absolute if "PATH" in env.values else execline.command
    for inherited, alias in sorted(env.alias.items()):
        # 66 leaves ${NAME} as written when NAME is not in the environment.
        script += (f"{execline.command('importas')} -D {execline.quote('${' + inherited + '}')} "
                   f"{alias} {inherited}\n")
    if env.static:  # one exec for all of them, values kept out of the script
        script += f"{cmd('s6-envdir')} -fn {ENVDIR}\n"
    for key, value in env.values.items():  # `!` ones too: unset once substituted
        if key not in env.static:
            script += (f"{cmd('export')} {execline.quote(key)} "
                       f"{execline.quote(value.render(env.alias))}\n")
    if ids is not None:
        script += cmd("s6-applyuidgid") + ids.command().removeprefix("s6-applyuidgid")
    if push:
        script += f"{cmd('elgetpositionals')}\n{cmd('emptyenv')} -P\n"
    if verbatim:
        files[name + ".user"] = (prog.text.encode(), 0o755)
        body = f"./{name}.user" + (" $@" if positional else "")
    else:
        # Only the variables the text names: an importas of one it never names is an
        # exec that substitutes nothing (the value is in the environment either way);
        # an unexported one's importas -u also unsets it, so it stays.
        script += execline.substitutions([n for n in env.values if n in env.unexported
                                          or n in prog.text], env.unexported, cmd)
        body = execline.lead(prog.text.strip("\n"))
    files[name] = ((script + body + "\n").encode(), 0o755 if env.empty else 0o700)
    for key in env.static:
        files[f"{ENVDIR}/{key}"] = (env.values[key].parts[0].encode(), 0o600)


#: Names of execline's directory that a shell runs as its own builtins or
#: keywords, never looked up on PATH (what follows ``exec`` is a word of its own).
_SH_OWN = frozenset(("case", "cd", "exec", "exit", "export", "if", "shift", "trap", "umask",
                     "wait"))
_SHELLS = frozenset(("sh", "dash", "bash", "ash", "ksh", "mksh", "zsh"))
_SH_SEPARATORS = str.maketrans({c: " " for c in ";&|()`<>{}'\"$="})


def _calls_no_execline(text: str) -> bool:
    """Whether a custom script cannot call an execline command by bare name.

    Such a call needs the PATH of Debian's ``execlineb`` wrapper (execline's
    directory first), which the script's wrapper then gives it
    (:func:`execline.header`).  A shell's own builtins that share those
    names (``exec``, ``cd``...) are no such call; any other such word, in a
    shell script split at its operators and quotes (more words than the
    shell sees: a doubt counts as a call), is.
    """
    if not text.startswith("#!"):
        return False
    it = execline.interpreter()
    if it.bindir is None:
        return True
    first, _, body = text.partition("\n")
    argv = first[2:].split()
    if argv and argv[0].rpartition("/")[2] in _SHELLS:
        words = body.translate(_SH_SEPARATORS).split()
        return not any(w in it.names and w not in _SH_OWN for w in words)
    return not execline.needs_path([text])


def pipe_path(paths: Paths, consumer: str) -> str:
    """The fifo that feeds *consumer*'s stdin (all its producers write into it)."""
    return f"{paths.live_str}/pipe/{consumer}"


def _pipe_wrappers(files: dict[str, tuple[bytes | str, int]], svc: Service, paths: Paths) -> None:
    """s6-rc pipelines: ``run`` (and ``finish``) get the pipeline fds, then exec the user's file.

    Each end opens its fifo read-write (``redirfd -u``): that never blocks,
    and as long as either end lives the pipe, with whatever is buffered in
    it, survives a restart of the other; the consumer never sees EOF.
    """
    lines = ""
    redirfd = execline.command("redirfd")
    if svc.consumer_for:
        lines += f"{redirfd} -u 0 {execline.quote(pipe_path(paths, svc.name))}\n"
    if svc.producer_for:
        lines += f"{redirfd} -u 1 {execline.quote(pipe_path(paths, svc.producer_for))}\n"
    files["run.user"] = files.pop("run")
    files["run"] = ((execline.header("-P") + lines + "./run.user\n").encode(), 0o755)
    if "finish.user" in files:  # the restart policy's finish calls ./finish.user: fds for it too
        files["finish.pipe"] = files.pop("finish.user")
        files["finish.user"] = ((execline.header("-S0") + lines + "./finish.pipe $@\n").encode(), 0o755)


def _logger_run(name: str, spec: LoggerSpec, paths: Paths, ids: runas.Ids | None,
                known_path: str | None = None) -> bytes | str:
    if spec.program is not None and spec.program.kind is ProgramKind.FILE:
        assert spec.program.path is not None
        return spec.program.path
    # (the name is a checked service name: no Paths.logdir_of check and Path again)
    dest = spec.destination or f"{paths.logdir_str}/{name}"
    script = execline.header("-P", [spec.program.text] if spec.program is not None else None,
                             known_path=known_path)
    if ids is not None:
        script += ids.command()
    if spec.program is not None:
        script += execline.lead(spec.program.text.strip("\n")) + "\n"
    else:
        script += (f"s6-log -- {' '.join(s6log_script(spec))} "
                   f"{execline.quote(dest)}{_console_copy(name, paths)}\n")
    return script.encode()


def _console_copy(name: str, paths: Paths) -> str:
    """Container mode (CONTAINER_LOGS=1): s6-log also writes ``NAME: line`` to its stdout.

    That stdout is s6-svscan's: the catch-all fifo, which the catch-all logger
    copies to PID 1's stdout.  s6-log writes it without blocking and without
    ``-b`` goes on reading its input, so a stdout nobody reads never blocks
    the service (the lines wait in the logger's memory).
    """
    if not os.path.exists(f"{paths.live_str}/{CONSOLE_LOGS}"):
        return ""
    return f" {execline.quote('p' + name + ':')} 1"


def log_destination(svc: Service, paths: Paths) -> str | None:
    """Where *svc*'s logger writes (a str, as the model's paths); None: no logger."""
    logger = effective_logger(svc)
    if logger is None:
        return None
    if logger.destination:
        return logger.destination
    from ovis.paths import check_name

    return f"{paths.logdir_str}/{check_name(svc.name)}"


def metadata(svc: Service) -> dict[str, object]:
    logger = effective_logger(svc)
    return {
        "name": svc.name,
        "kind": svc.kind.value,
        "source": str(svc.source),  # (str already, unless a caller set a Path)
        "description": svc.description,
        "depends": list(svc.depends),
        "wants": list(svc.wants),
        "after": list(svc.after),
        "before": list(svc.before),
        "requiredby": list(svc.requiredby),
        "notify": svc.notify,
        "timeout_start": svc.timeout_start,
        "timeout_stop": svc.timeout_stop,
        "down": svc.down,
        "earlier": svc.earlier,
        "essential": svc.essential,
        "logged": logger is not None,
        "log_destination": (str(logger.destination)
                            if logger is not None and logger.destination else None),
        "log_rotation": ([logger.backup, logger.maxsize, logger.timestamp]
                         if logger is not None else None),
        **({"contents": list(svc.contents)} if svc.kind is Kind.BUNDLE else {}),
    }


def service_from_metadata(meta: dict[str, object]) -> Service:
    """A Service good enough for graphs and status, from a compiled ``ovis.json``."""
    def names(key: str) -> tuple[str, ...]:
        v = meta.get(key) or []
        return tuple(str(x) for x in v)  # type: ignore[union-attr]

    def opt_int(key: str) -> int | None:
        v = meta.get(key)
        return int(v) if isinstance(v, int) else None

    return Service(
        name=str(meta["name"]),
        kind=Kind(meta["kind"]),
        source=normpath(str(meta.get("source", ""))),
        description=str(meta.get("description", "")),
        depends=names("depends"), wants=names("wants"), after=names("after"),
        before=names("before"), requiredby=names("requiredby"),
        notify=opt_int("notify"), timeout_start=opt_int("timeout_start"),
        timeout_stop=opt_int("timeout_stop"), down=bool(meta.get("down")),
        earlier=bool(meta.get("earlier")), essential=bool(meta.get("essential")),
        logger=_logger_from_metadata(meta), contents=names("contents"),
    )


def _logger_from_metadata(meta: dict[str, object]) -> LoggerSpec | None:
    if not meta.get("logged"):
        return None
    dest = meta.get("log_destination")
    rot = meta.get("log_rotation")
    spec = LoggerSpec(destination=normpath(str(dest)) if dest else None)
    if isinstance(rot, list) and len(rot) == 3:
        spec = LoggerSpec(destination=spec.destination, backup=int(rot[0]),
                          maxsize=int(rot[1]), timestamp=str(rot[2]))
    return spec


def s6log_script(spec: LoggerSpec) -> list[str]:
    """The s6-log directives of a logger: timestamp, archives kept, rotation size."""
    stamp = {"tai": ["t"], "iso": ["T"], "none": []}.get(spec.timestamp, ["t"])
    return [*stamp, f"n{spec.backup}", f"s{spec.maxsize}"]


def _digest(files: dict[str, tuple[bytes | str, int]], meta: dict[str, object],
            read: dict[str, tuple[int, bytes]] | None = None) -> str:
    """The digest of a servicedir's files and model.

    *read*: filled with (mode, bytes) of each copied regular file, by its
    relative name, for :meth:`Compiler._create` to write the very bytes
    digested instead of reading each source again.
    """
    from ovis.service.sha import sha256  # here: a warm start never needs it

    h = sha256(json.dumps(meta, sort_keys=True).encode())
    for rel in sorted(files):
        content, mode = files[rel]
        h.update(rel.encode() + b"\0" + str(mode).encode() + b"\0")
        if isinstance(content, str):
            h.update(_path_digest(content, read, rel).encode())
        else:
            h.update(content)
        h.update(b"\0")
    return h.hexdigest()


def _is_fifo(p: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(p).st_mode)
    except OSError:
        return False


def _path_digest(p: str, read: dict[str, tuple[int, bytes]] | None = None,
                 rel: str = "") -> str:
    from ovis.service.sha import sha256

    h = sha256()
    try:
        st: os.stat_result | None = os.stat(p)
    except OSError:
        st = None
    if st is not None and stat.S_ISFIFO(st.st_mode):
        h.update(b"fifo")
    elif st is not None and stat.S_ISREG(st.st_mode):  # the common case: one stat, one read
        data = _read_file(p, st.st_size)
        if read is not None:
            read[rel] = (st.st_mode, data)
        h.update(data + oct(st.st_mode).encode())
    elif st is not None and stat.S_ISDIR(st.st_mode):
        for root, dirs, fnames in sorted(os.walk(p)):
            dirs.sort()
            for f in sorted(fnames):
                fp = f"{root}/{f}"
                h.update((f if root == p else f"{root[len(p) + 1:]}/{f}").encode() + b"\0")
                h.update(_read_file(fp) if os.path.isfile(fp) and not _is_fifo(fp) else b"")
                h.update(oct(os.stat(fp).st_mode).encode() if os.path.exists(fp) else b"")
    elif st is not None:
        h.update(_read_file(p) + oct(os.stat(p).st_mode).encode())
    return h.hexdigest()


def _read_file(p: str, size: int = 4096) -> bytes:
    """A file's bytes in three syscalls when *size* (its stat's) holds them.

    (open(2), read(2) of one byte more than *size*, close(2): a short read
    of a regular file is its end; io's readall adds two fstat and an lseek.)
    """
    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_fd(fd, size + 1)
    finally:
        os.close(fd)


def _copy_entry(src: str, dst: str) -> None:
    if _is_fifo(src):
        os.mkfifo(dst, os.stat(src).st_mode & 0o777)
    else:
        import shutil

        shutil.copy2(src, dst)


def _write(dest: str, rel: str, content: bytes | str, mode: int,
           atomic_write: bool, known: tuple[int, bytes] | None = None) -> None:
    """*known*: the (mode, bytes) of the source *content* as :func:`_digest` read it."""
    if known is not None and not atomic_write:
        _write_new(f"{os.fspath(dest)}/{rel}", known[1], known[0] & 0o7777 if mode < 0 else mode,
                   exact=True)
        return
    if isinstance(content, str) and not atomic_write:
        # A file copied into a servicedir being built (its subdirectory made
        # by _create): one stat of the source, one read, one new file.
        try:
            st = os.stat(content)
        except OSError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            _write_new(f"{os.fspath(dest)}/{rel}", _read_file(content, st.st_size),
                       st.st_mode & 0o7777 if mode < 0 else mode, exact=True)
            return
    target = normpath(f"{os.fspath(dest)}/{rel}")
    os.makedirs(parent(target), exist_ok=True)
    if isinstance(content, str):
        if _is_fifo(content):  # anopa's catch-all logger ships its fifo: recreate it
            if not _is_fifo(target):
                if os.path.lexists(target):
                    os.unlink(target)
                os.mkfifo(target, os.stat(content).st_mode & 0o777)
            return
        if os.path.isdir(content):
            import shutil

            head, _, tail = target.rpartition("/")
            tmp = f"{head}/.{tail}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(content, tmp, symlinks=False, copy_function=_copy_entry)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(tmp, target)
        else:
            data = _read_file(content)
            m = os.stat(content).st_mode & 0o7777 if mode < 0 else mode
            if atomic_write:
                atomic.write_bytes(target, data, m)
            else:
                with open(target, "wb") as f:
                    f.write(data)
                os.chmod(target, m)
        return
    if atomic_write:
        atomic.write_bytes(target, content, mode)
    else:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        if mode & 0o111:
            os.chmod(target, mode)


def _meta_text(meta: dict[str, object]) -> str:
    """``ovis.json``: one line, by json's C encoder (``indent`` takes its pure-Python one)."""
    return json.dumps(meta, sort_keys=True) + "\n"


def _write_new(path: str, content: bytes, mode: int, exact: bool = False) -> None:
    """Write a new file of a servicedir being built (not yet visible to anyone).

    *exact*: *mode* whatever the umask (a copied file keeps its source's).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        done = os.write(fd, content)
        while done < len(content):
            done += os.write(fd, content[done:])
        # the umask must not take an executable's bits (nor a copy's), unless it
        # is known to leave them (a transaction's, aa-enable's: atomic.know_umask)
        if (mode & 0o111 or exact) and not atomic.exact_mode(mode):
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


class _NoCache:
    """The compile cache of a compiler whose models never came from it (aa-enable
    parses each source itself): nothing known, nothing to remember, and
    neither the cache nor pickle imported."""

    def digest(self, svc: Service, env: str) -> None:
        return None

    def confirmed(self, svc: Service, env: str, meta: str) -> bool:
        return False

    def set_digest(self, svc: Service, env: str, digest: str, *, compiled: bool,
                   meta: str | None = None) -> None:
        pass


class Compiler:
    """Writes servicedirs for one LIVE directory."""

    def __init__(self, paths: Paths, *, cached: bool = True) -> None:
        """*cached*: the models compiled may come from LIVE's compile cache
        (:mod:`ovis.service.cache`); False when none can (a model the cache
        gave no digest is compiled from scratch either way)."""
        self.paths = paths
        self.as_root = os.geteuid() == 0
        if cached:
            from ovis.service.cache import for_live

            self.cache = for_live(paths.live_str)
        else:
            self.cache = _NoCache()  # type: ignore[assignment]
        self._env: str | None = None
        self._path: str | None = None  # boot_path(paths), read with _env
        self._made: set[str] = set()  # directories known to exist (made once per process)
        self._links: tuple[str, str] | None = None  # scandir, servicedirs relative to it
        #: services whose servicedir this compiler created (not updated)
        self.created: set[str] = set()

    def _compile_env(self) -> str:
        """Everything outside a definition that changes what it compiles to."""
        if self._env is None:
            import sys

            from ovis.service.cache import ids_key

            p, it = self.paths, execline.interpreter()
            self._path = boot_path(p)
            self._env = repr((p.live_str, p.logdir_str, p.servicedirs_str, self.as_root,
                              it.path, it.bindir, sorted(it.names), os.environ.get("PATH"),
                              sys.executable, ids_key(), self._path))
        # Not kept: a boot may turn container logs on between two compiles.
        console = os.path.exists(f"{self.paths.live_str}/{CONSOLE_LOGS}")
        return self._env + ("+console" if console else "")

    def digest(self, svc: Service) -> str:
        """What :meth:`compile` would record as ``digest`` for *svc* (``ovis apply``)."""
        known = self.cache.digest(svc, self._compile_env())
        if known is not None:
            return known
        digest = _digest(_files_for(svc, self.paths, self.as_root, self._path), metadata(svc))
        self.cache.set_digest(svc, self._compile_env(), digest, compiled=False)
        return digest

    def compile(self, svc: Service, *, down: bool = True) -> bool:
        """Make ``LIVE/sv/NAME`` match *svc*; True when something was written.

        *down* only matters for a servicedir created now: whether s6-supervise
        should leave it down when it first sees it (``earlier`` services at
        boot are created up so that s6-svscan starts them at once).
        """
        self._ensure_pipes(svc)
        # a string (Paths.servicedir builds Paths): a cold start does this per service
        dest = f"{self.paths.servicedirs_str}/{svc.name}"
        # (the environment only keys the cache's digests: not made for none)
        env = self._compile_env() if not isinstance(self.cache, _NoCache) else ""
        meta_file = f"{dest}/{META}"
        known = self.cache.digest(svc, env)
        # Unchanged definition and the ovis.json that recorded its digest
        # untouched (atomic writes change its inode): nothing to rebuild.
        if known is not None and self.cache.confirmed(svc, env, meta_file):
            return False
        old = read_metadata(dest)
        if known is not None and old is not None and old.get("digest") == known:
            self.cache.set_digest(svc, env, known, compiled=True, meta=meta_file)
            return False
        files = _files_for(svc, self.paths, self.as_root, self._path)
        meta = metadata(svc)
        read: dict[str, tuple[int, bytes]] = {}
        digest = _digest(files, meta, read)
        meta["digest"] = digest
        if old is not None and old.get("digest") == digest:
            self.cache.set_digest(svc, env, digest, compiled=True, meta=meta_file)
            return False
        self._ensure_logdir(svc)
        if old is None or old.get("kind") != svc.kind.value:
            self._create(dest, svc, files, meta, down, read)
            self.created.add(svc.name)
        else:
            self._update(dest, files, meta)
        self.cache.set_digest(svc, env, digest, compiled=True, meta=meta_file)
        return True

    def _ensure_pipes(self, svc: Service) -> None:
        """Create the fifos a pipelined longrun opens (LIVE/pipe/CONSUMER)."""
        if svc.kind is not Kind.LONGRUN:
            return
        for consumer in ([svc.name] if svc.consumer_for else []) + (
                [svc.producer_for] if svc.producer_for else []):
            fifo = pipe_path(self.paths, consumer)
            if not _is_fifo(fifo):
                os.makedirs(parent(fifo), exist_ok=True)
                if os.path.lexists(fifo):
                    os.unlink(fifo)
                os.mkfifo(fifo, 0o600)

    def _ensure_logdir(self, svc: Service) -> None:
        logger = effective_logger(svc)
        dest = log_destination(svc, self.paths)
        if logger is not None and dest is not None and logger.program is None:
            ids = (_ids(svc, Program(ProgramKind.EXECLINE, runas=logger.runas), "logger")
                   if logger.runas and self.as_root else None)
            if ids is not None:  # created and chowned without following a planted symlink
                atomic.owned_dir(dest, ids.uid, ids.gid)
            else:
                os.makedirs(dest, exist_ok=True)
        # 66 creates a StdOut/StdErr file's directory (0755); the file itself
        # is opened for appending (and created) by the run script.
        for value in (streams_of(svc).stdout, streams_of(svc).stderr):
            if value.startswith("file:"):
                os.makedirs(parent(normpath(value[5:])), 0o755, exist_ok=True)

    def _create(self, dest: str, svc: Service, files: dict[str, tuple[bytes | str, int]],
                meta: dict[str, object], down: bool,
                read: dict[str, tuple[int, bytes]] | None = None) -> None:
        # Strings and one syscall per file, not pathlib: a cold start of
        # hundreds runs this once per service, on the core its supervisors need.
        d = os.fspath(dest)
        parent, _, name = d.rpartition("/")
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        tmp = f"{parent}/.{name}.{os.getpid()}.new"
        try:
            os.mkdir(tmp)
        except FileNotFoundError:  # LIVE/sv removed since this process made it
            os.makedirs(parent, exist_ok=True)
            os.mkdir(tmp)
        except FileExistsError:  # left by a killed run of this pid: start afresh
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            os.mkdir(tmp)
        subdirs = {""}
        for rel, (content, mode) in files.items():
            sub = rel.rpartition("/")[0]
            if sub not in subdirs:
                os.makedirs(f"{tmp}/{sub}", exist_ok=True)
                subdirs.add(sub)
            if isinstance(content, str):
                _write(tmp, rel, content, mode, atomic_write=False,
                       known=read.get(rel) if read else None)
            else:
                _write_new(f"{tmp}/{rel}", content, mode)
        if svc.kind is Kind.LONGRUN:
            if down:
                os.close(os.open(f"{tmp}/down", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
            from ovis.s6.events import make_fifodir

            make_fifodir(tmp)
            # also a log/ tree copied whole (an extra file named log): only
            # the files written here can have made one
            if ("log" in subdirs or any(d.startswith("log/") for d in subdirs)
                    or ("log" in files and os.path.isdir(f"{tmp}/log"))):
                make_fifodir(f"{tmp}/log")
        _write_new(f"{tmp}/{META}", _meta_text(meta).encode(), 0o644)
        if os.path.lexists(d):
            # Kind changed (oneshot <-> longrun): the old one is down by now.
            import shutil

            trash = f"{parent}/.{name}.{os.getpid()}.old"
            os.rename(d, trash)
            os.rename(tmp, d)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, d)

    def _update(self, dest: str, files: dict[str, tuple[bytes | str, int]],
                meta: dict[str, object]) -> None:
        for rel, (content, mode) in files.items():
            _write(dest, rel, content, mode, atomic_write=True)
        if "log/run" in files:
            from ovis.s6.events import ensure_fifodir

            ensure_fifodir(f"{dest}/log")
        envdir = f"{dest}/{ENVDIR}"
        if os.path.isdir(envdir):  # a variable dropped from the definition must not linger
            for entry in os.listdir(envdir):
                if f"{ENVDIR}/{entry}" not in files:
                    os.unlink(f"{envdir}/{entry}")
        wanted = set(files) | {META}
        for entry in os.listdir(dest):
            if entry not in LIVE_ENTRIES and entry not in wanted and not entry.startswith("."):
                p = f"{dest}/{entry}"
                if not any(w.startswith(entry + "/") for w in wanted):
                    if os.path.isdir(p) and not os.path.islink(p):
                        import shutil

                        shutil.rmtree(p)
                    else:
                        os.unlink(p)
        atomic.write_text(f"{dest}/{META}", _meta_text(meta))

    def link(self, name: str) -> bool:
        """Link a longrun into the scandir; True when the link is new.

        symlink(2) creates the name atomically or fails if it exists: no
        temporary and rename needed.
        """
        if self._links is None:
            scandir = self.paths.scandir_str
            os.makedirs(scandir, exist_ok=True)
            self._links = (scandir, os.path.relpath(self.paths.servicedirs_str, scandir))
        scandir, rel = self._links
        link = f"{scandir}/{name}"
        try:  # Paths.servicedir(name) is servicedirs/name
            os.symlink(f"{rel}/{name}", link)
        except FileExistsError:
            return False
        except FileNotFoundError:  # the scandir removed since this process made it
            os.makedirs(scandir, exist_ok=True)
            os.symlink(f"{rel}/{name}", link)
        return True

    def unlink(self, name: str) -> bool:
        link = f"{self.paths.scandir_str}/{name}"
        if os.path.lexists(link):
            os.unlink(link)
            return True
        return False


def read_metadata(servicedir: str) -> dict[str, object] | None:
    got = read_json_object(f"{os.fspath(servicedir)}/{META}")
    return None if got is None else got[1]


def compiled_services(paths: Paths,
                      memo: dict[str, tuple[tuple[int, ...], Service]] | None = None
                      ) -> dict[str, Service]:
    """Every service compiled into LIVE, rebuilt from its ``ovis.json``.

    *memo* (name -> identity of the ``ovis.json`` read, its service), kept
    by the caller between two reads of one command (a stop reads LIVE again
    once it holds its claims): a file whose identity is unchanged is not
    read again.  Every write of ``ovis.json`` is a rename (a new inode), so
    an unchanged identity is an unchanged file.
    """
    try:
        entries = os.listdir(paths.servicedirs_str)
    except OSError:
        return {}
    if memo is None:
        memo = {}
    out: dict[str, Service] = {}
    for e in entries:
        if e.startswith("."):
            continue
        path = f"{paths.servicedirs_str}/{e}/{META}"
        hit = memo.get(e)
        if hit is not None:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if hit[0] == identity(st):
                out[e] = hit[1]
                continue
        got = read_json_object(path)
        if got is None:
            continue
        try:
            svc = service_from_metadata(got[1])
        except (KeyError, ValueError):
            continue
        memo[e] = (identity(got[0]), svc)
        out[e] = svc
    return out

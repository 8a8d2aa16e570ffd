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

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

from ovis import atomic
from ovis.paths import Paths
from ovis.service import execline, restart
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


def _files_for(svc: Service, paths: Paths, as_root: bool) -> dict[str, tuple[bytes | Path, int]]:
    """Every file of the servicedir: relative name -> (content or source path, mode)."""
    files: dict[str, tuple[bytes | Path, int]] = {}
    logged = svc.logger is not None
    runas_ok = as_root
    if svc.kind is Kind.LONGRUN:
        assert svc.start is not None
        _program(files, "run", svc.start, svc.env, logged, runas_ok, positional=False)
        if svc.stop is not None:
            _program(files, "finish.user", svc.stop, svc.env, logged, runas_ok, positional=True)
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
        if svc.logger is not None:
            files["log/run"] = (_logger_run(svc.name, svc.logger, paths, runas_ok), 0o755)
    else:
        if svc.start is not None:
            _program(files, "start", svc.start, svc.env, False, runas_ok, positional=False)
        if svc.stop is not None:
            _program(files, "stop", svc.stop, svc.env, False, runas_ok, positional=False)
    for rel, src in sorted(svc.extra_files.items()):
        files[rel] = (src, -1)
    if svc.kind is Kind.LONGRUN and svc.logger is not None:
        lg = svc.logger
        if lg.notify is not None:
            files["log/notification-fd"] = (f"{lg.notify}\n".encode(), 0o644)
        kill = lg.timeout_kill if lg.timeout_kill is not None else lg.timeout_stop
        if kill:
            files["log/timeout-kill"] = (f"{kill}\n".encode(), 0o644)
        if lg.timeout_finish is not None:
            files["log/timeout-finish"] = (f"{lg.timeout_finish}\n".encode(), 0o644)
        for rel, src in sorted(svc.logger.extra_files.items()):
            files[f"log/{rel}"] = (src, -1)
    return files


def _restart_policy(files: dict[str, tuple[bytes | Path, int]], svc: Service,
                    paths: Paths) -> None:
    """``finish`` carries the back-off, the restart limit and essential deaths."""
    first = svc.restart_delay if svc.restart_delay is not None else restart.FIRST_MS
    top = max(first, svc.restart_delay_max if svc.restart_delay_max is not None
              else restart.MAX_MS)
    text = restart.finish_script(svc.name, paths.live, first_ms=first, max_ms=top,
                                 limit=svc.max_death or 0, essential=svc.essential,
                                 user_finish=svc.stop is not None)
    files["finish"] = (text.encode(), 0o755)
    files["timeout-finish"] = (f"{restart.timeout_finish(top, svc.timeout_finish)}\n".encode(),
                               0o644)


def _program(files: dict[str, tuple[bytes | Path, int]], name: str, prog: Program,
             env: dict[str, str], logged: bool, runas_ok: bool, positional: bool) -> None:
    if prog.kind is ProgramKind.FILE:
        assert prog.path is not None
        files[name] = (prog.path, -1)
        return
    prelude = execline.shebang(positional)
    if logged:
        prelude += "fdmove -c 2 1\n"
    prelude += execline.export_lines(env)
    if prog.runas and runas_ok:
        prelude += f"s6-setuidgid {execline.quote(prog.runas)}\n"
    if prog.kind is ProgramKind.EXECLINE:
        files[name] = ((prelude + prog.text.strip("\n") + "\n").encode(), 0o755)
    else:  # VERBATIM: the user's own script, wrapped for env/runas/logging
        files[name + ".user"] = (prog.text.encode(), 0o755)
        files[name] = ((prelude + f"./{name}.user" + (" $@" if positional else "") + "\n").encode(),
                       0o755)


def _logger_run(name: str, spec: LoggerSpec, paths: Paths, runas_ok: bool) -> bytes | Path:
    if spec.program is not None and spec.program.kind is ProgramKind.FILE:
        assert spec.program.path is not None
        return spec.program.path
    dest = spec.destination or paths.logdir_of(name)
    script = execline.shebang()
    if spec.runas and runas_ok:
        script += f"s6-setuidgid {execline.quote(spec.runas)}\n"
    if spec.program is not None:
        script += spec.program.text.strip("\n") + "\n"
    else:
        script += (f"s6-log -- {' '.join(s6log_script(spec))} "
                   f"{execline.quote(str(dest))}{_console_copy(name, paths)}\n")
    return script.encode()


def _console_copy(name: str, paths: Paths) -> str:
    """Container mode (CONTAINER_LOGS=1): s6-log also writes ``NAME: line`` to its stdout.

    That stdout is s6-svscan's: the catch-all fifo, which the catch-all logger
    copies to PID 1's stdout.  s6-log writes it without blocking and without
    ``-b`` goes on reading its input, so a stdout nobody reads never blocks
    the service (the lines wait in the logger's memory).
    """
    from ovis.boot.stage1 import CONSOLE_LOGS

    if not (paths.live / CONSOLE_LOGS).exists():
        return ""
    return f" {execline.quote('p' + name + ':')} 1"


def log_destination(svc: Service, paths: Paths) -> Path | None:
    if svc.logger is None:
        return None
    return svc.logger.destination or paths.logdir_of(svc.name)


def metadata(svc: Service) -> dict[str, object]:
    return {
        "name": svc.name,
        "kind": svc.kind.value,
        "source": str(svc.source),
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
        "logged": svc.logger is not None,
        "log_destination": (str(svc.logger.destination)
                            if svc.logger is not None and svc.logger.destination else None),
        "log_rotation": ([svc.logger.backup, svc.logger.maxsize, svc.logger.timestamp]
                         if svc.logger is not None else None),
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
        source=Path(str(meta.get("source", ""))),
        description=str(meta.get("description", "")),
        depends=names("depends"), wants=names("wants"), after=names("after"),
        before=names("before"), requiredby=names("requiredby"),
        notify=opt_int("notify"), timeout_start=opt_int("timeout_start"),
        timeout_stop=opt_int("timeout_stop"), down=bool(meta.get("down")),
        earlier=bool(meta.get("earlier")), essential=bool(meta.get("essential")),
        logger=_logger_from_metadata(meta),
    )


def _logger_from_metadata(meta: dict[str, object]) -> LoggerSpec | None:
    if not meta.get("logged"):
        return None
    dest = meta.get("log_destination")
    rot = meta.get("log_rotation")
    spec = LoggerSpec(destination=Path(str(dest)) if dest else None)
    if isinstance(rot, list) and len(rot) == 3:
        spec = LoggerSpec(destination=spec.destination, backup=int(rot[0]),
                          maxsize=int(rot[1]), timestamp=str(rot[2]))
    return spec


def s6log_script(spec: LoggerSpec) -> list[str]:
    """The s6-log directives of a logger: timestamp, archives kept, rotation size."""
    stamp = {"tai": ["t"], "iso": ["T"], "none": []}.get(spec.timestamp, ["t"])
    return [*stamp, f"n{spec.backup}", f"s{spec.maxsize}"]


def _digest(files: dict[str, tuple[bytes | Path, int]], meta: dict[str, object]) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for rel in sorted(files):
        content, mode = files[rel]
        h.update(rel.encode() + b"\0" + str(mode).encode() + b"\0")
        if isinstance(content, Path):
            h.update(_path_digest(content).encode())
        else:
            h.update(content)
        h.update(b"\0")
    return h.hexdigest()


def _is_fifo(p: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(p).st_mode)
    except OSError:
        return False


def _path_digest(p: Path) -> str:
    h = hashlib.sha256()
    if _is_fifo(p):
        h.update(b"fifo")
    elif p.is_dir():
        for root, dirs, fnames in sorted(os.walk(p)):
            dirs.sort()
            for f in sorted(fnames):
                fp = Path(root) / f
                h.update(str(fp.relative_to(p)).encode() + b"\0")
                h.update(fp.read_bytes() if fp.is_file() and not _is_fifo(fp) else b"")
                h.update(oct(fp.stat().st_mode).encode() if fp.exists() else b"")
    elif p.exists():
        h.update(p.read_bytes() + oct(p.stat().st_mode).encode())
    return h.hexdigest()


def _copy_entry(src: str, dst: str) -> None:
    if _is_fifo(Path(src)):
        os.mkfifo(dst, os.stat(src).st_mode & 0o777)
    else:
        shutil.copy2(src, dst)


def _write(dest: Path, rel: str, content: bytes | Path, mode: int, atomic_write: bool) -> None:
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        if _is_fifo(content):  # anopa's catch-all logger ships its fifo: recreate it
            if not _is_fifo(target):
                if os.path.lexists(target):
                    os.unlink(target)
                os.mkfifo(target, os.stat(content).st_mode & 0o777)
            return
        if content.is_dir():
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(content, tmp, symlinks=False, copy_function=_copy_entry)
            if target.exists():
                shutil.rmtree(target)
            os.rename(tmp, target)
        else:
            data = content.read_bytes()
            m = content.stat().st_mode & 0o7777
            if atomic_write:
                atomic.write_bytes(target, data, m)
            else:
                target.write_bytes(data)
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


class Compiler:
    """Writes servicedirs for one LIVE directory."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.as_root = os.geteuid() == 0

    def digest(self, svc: Service) -> str:
        """What :meth:`compile` would record as ``digest`` for *svc* (``ovis apply``)."""
        return _digest(_files_for(svc, self.paths, self.as_root), metadata(svc))

    def compile(self, svc: Service, *, down: bool = True) -> bool:
        """Make ``LIVE/sv/NAME`` match *svc*; True when something was written.

        *down* only matters for a servicedir created now: whether s6-supervise
        should leave it down when it first sees it (``earlier`` services at
        boot are created up so that s6-svscan starts them at once).
        """
        files = _files_for(svc, self.paths, self.as_root)
        meta = metadata(svc)
        digest = _digest(files, meta)
        meta["digest"] = digest
        dest = self.paths.servicedir(svc.name)
        old = read_metadata(dest)
        if old is not None and old.get("digest") == digest:
            return False
        self._ensure_logdir(svc)
        if old is None or old.get("kind") != svc.kind.value:
            self._create(dest, svc, files, meta, down)
        else:
            self._update(dest, files, meta)
        return True

    def _ensure_logdir(self, svc: Service) -> None:
        dest = log_destination(svc, self.paths)
        if dest is None or (svc.logger and svc.logger.program is not None):
            return
        runas = svc.logger.runas if svc.logger else None
        if runas and self.as_root:
            import pwd

            try:
                pw = pwd.getpwnam(runas.split(":")[0])
            except KeyError:
                pw = None
            if pw is not None:
                atomic.owned_dir(dest, pw.pw_uid, pw.pw_gid)  # no chown through a symlink
                return
        dest.mkdir(parents=True, exist_ok=True)

    def _create(self, dest: Path, svc: Service, files: dict[str, tuple[bytes | Path, int]],
                meta: dict[str, object], down: bool) -> None:
        parent = dest.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{dest.name}.{os.getpid()}.new"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for rel, (content, mode) in files.items():
            _write(tmp, rel, content, mode, atomic_write=False)
        if svc.kind is Kind.LONGRUN:
            if down:
                (tmp / "down").touch()
            from ovis.s6.events import ensure_fifodir

            ensure_fifodir(tmp)
            if (tmp / "log").is_dir():
                ensure_fifodir(tmp / "log")
        (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if dest.exists() or dest.is_symlink():
            # Kind changed (oneshot <-> longrun): the old one is down by now.
            trash = parent / f".{dest.name}.{os.getpid()}.old"
            os.rename(dest, trash)
            os.rename(tmp, dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, dest)

    def _update(self, dest: Path, files: dict[str, tuple[bytes | Path, int]],
                meta: dict[str, object]) -> None:
        for rel, (content, mode) in files.items():
            _write(dest, rel, content, mode, atomic_write=True)
        if "log/run" in files:
            from ovis.s6.events import ensure_fifodir

            ensure_fifodir(dest / "log")
        wanted = set(files) | {META}
        for entry in os.listdir(dest):
            if entry not in LIVE_ENTRIES and entry not in wanted and not entry.startswith("."):
                p = dest / entry
                if not any(w.startswith(entry + "/") for w in wanted):
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
        atomic.write_text(dest / META, json.dumps(meta, indent=1, sort_keys=True) + "\n")

    def link(self, name: str) -> bool:
        """Link a longrun into the scandir; True when the link is new."""
        scandir = self.paths.scandir
        scandir.mkdir(parents=True, exist_ok=True)
        link = scandir / name
        if os.path.lexists(link):
            return False
        tmp = scandir / f".{name}.{os.getpid()}.lnk"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.symlink(os.path.relpath(self.paths.servicedir(name), scandir), tmp)
        os.rename(tmp, link)
        return True

    def unlink(self, name: str) -> bool:
        link = self.paths.scandir / name
        if os.path.lexists(link):
            os.unlink(link)
            return True
        return False


def read_metadata(servicedir: Path) -> dict[str, object] | None:
    try:
        with open(servicedir / META) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def compiled_services(paths: Paths) -> dict[str, Service]:
    """Every service compiled into LIVE, rebuilt from its ``ovis.json``."""
    out: dict[str, Service] = {}
    try:
        entries = os.listdir(paths.servicedirs)
    except OSError:
        return out
    for e in entries:
        if e.startswith("."):
            continue
        meta = read_metadata(paths.servicedirs / e)
        if meta is not None:
            try:
                out[e] = service_from_metadata(meta)
            except (KeyError, ValueError):
                continue
    return out

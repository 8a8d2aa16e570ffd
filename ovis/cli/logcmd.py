"""``ovis log NAME... | --all [-f] [-n N] [--since T] [--json]``: services' logs as local time.

One name prints its lines as they are (stamp, text); several names or
``--all`` merge them by time and prefix each line with its service, as
``journalctl -f`` does.  ``-f`` writes and flushes line by line, so that
``ovis log -f NAME | grep ...`` sees each line when it is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ovis.errors import StateError, UsageError
from ovis.logs import reader

if TYPE_CHECKING:  # what is read of it: paths, repository, LIVE's models (engine.status.View)
    from ovis.engine.manager import Manager


def files_of(args: argparse.Namespace, manager: Manager) -> dict[str, Path]:
    if args.all and args.names:
        raise UsageError("log: name services or give --all, not both")
    if not args.all and not args.names:
        raise UsageError("log: name at least one service, or --all")
    names = reader.logged_services(manager) if args.all else list(dict.fromkeys(args.names))
    files = {n: reader.log_file(manager, n) for n in names}  # unknown names: exit 2 first
    if not args.follow:
        missing = [n for n, p in files.items() if not p.exists()]
        if missing and len(missing) == len(files):
            raise StateError(f"{', '.join(missing)}: no log yet ({files[missing[0]]})")
    return files


def emit(lines: Iterable[reader.Line], as_json: bool, prefix: bool) -> None:
    out = sys.stdout
    for ln in lines:
        if as_json:
            out.write(json.dumps({"service": ln.service, "time": ln.time, "text": ln.text}) + "\n")
        else:
            out.write(ln.local(prefix) + "\n")
        out.flush()  # line by line: a pipe must see each line now, not at 8 kB


def run(args: argparse.Namespace, manager: Manager) -> int:
    since = None
    if args.since is not None:
        try:
            since = reader.parse_since(args.since)
        except ValueError:
            raise UsageError(f"log: --since: cannot read time {args.since!r} "
                             "(e.g. 10:30, '2026-12-01 10:30', -5m, '1h ago', today)") from None
    files = files_of(args, manager)
    prefix = args.all or len(files) > 1
    n = None if (args.lines is None and since is not None) else (20 if args.lines is None else args.lines)
    emit(reader.last(files, n, since), args.json, prefix)
    if args.follow:
        try:
            emit(reader.follow(files), args.json, prefix)
        except KeyboardInterrupt:
            return 0
    return 0

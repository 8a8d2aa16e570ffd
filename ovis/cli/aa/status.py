"""aa-status: the status of services of an anopa repository, as anopa shows it.

anopa 0.5.0's options, formats (normal, -L list, -n names), filters, sorting
and exit codes (doc/aa-status.pod, src/anopa/aa-status.c).  The data is
ovis's: s6's ``supervise/status`` for longruns (read by ovis.s6.status) and
ovis's state files for the rest; which of them is shown, and the filters,
are :mod:`ovis.aa.status`.  This module draws it, with anopa's column
arithmetic.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
import time

from ovis.aa import codes as C
from ovis.aa import repo as R
from ovis.aa import status as S

from . import common
from .output import (
    ANSI_BLUE_ON,
    ANSI_GREEN_ON,
    ANSI_HIGHLIGHT_ON,
    ANSI_OFF,
    ANSI_RED_ON,
    COMMON_LONGOPTS,
    NO_ARG,
    OUT,
    REQUIRED_ARG,
    Output,
    Tool,
)

PROG = "aa-status"
DETAILS = (
    " -D, --double-output           Enable double-output mode\n"
    " -r, --repodir DIR             Use DIR as repository directory\n"
    " -l, --listdir DIR             Use DIR to list services to get status of\n"
    " -a, --all                     Show status of all services\n"
    " -f, --filter FILTER           Only process services matching FILTER, one of:\n"
    "   oneshot, longrun, log, logged, all, up, down, error   (see aa-status(1) for more)\n"
    " -s, --sort SORT               Sort by SORT, one of: none, name, time (default)\n"
    " -R, --reverse                 Reverse sort order\n"
    " -N, --name                    Sort by name\n"
    " -L, --list                    Show statuses as one-liners list\n"
    " -n, --dry-list                Only show service names\n"
    " -h, --help                    Show this help screen and exit\n"
    " -V, --version                 Show version information and exit\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("all", NO_ARG, "a"),
    ("filter", REQUIRED_ARG, "f"),
    ("listdir", REQUIRED_ARG, "l"),
    ("list", NO_ARG, "L"),
    ("name", NO_ARG, "N"),
    ("dry-list", NO_ARG, "n"),
    ("reverse", NO_ARG, "R"),
    ("repodir", REQUIRED_ARG, "r"),
    ("sort", REQUIRED_ARG, "s"),
)

NORMAL, LIST, DRY_LIST = range(3)


def _time_text(stamp: float, strict: bool) -> str:
    """localtmn_fmt: "YYYY-MM-DD HH:MM:SS.nnnnnnnnn", then " (1d 2h 3m 4s ago)"."""
    sec = int(stamp // 1)
    nano = min(999_999_999, int(round((stamp - sec) * 1e9)))
    base = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))
    if strict:
        return base + " "
    ago = max(0, int(time.time() - stamp))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if ago > size:
            parts.append(f"{ago // size}{unit} ")
            ago -= size * (ago // size)
    return f"{base}.{nano:09d} (" + "".join(parts) + f"{ago}s ago)\n"


class Show:
    """status_service() and its helpers, with anopa's column arithmetic."""

    def __init__(self, out: Output, mode: int, cols: int) -> None:
        self.out = out
        self.mode = mode
        self.cols = cols
        self.max_name = 0
        self.col = [8, 8, 20, 15]
        self.titles = ("Service", "Type", "Since", "Status")
        self.first = True
        # A line's pieces, joined and handed to Output once at its end (a
        # thousand services drew 17,000 pieces one by one); with -D (each
        # piece mirrored to stderr, colour by each fd's tty) piece by piece.
        self._line: list[str] | None = None if out.double else []

    def bs(self, s: str) -> None:
        if self._line is not None:
            self._line.append(s)
        else:
            self.out.bs(OUT, s)

    def ansi(self, code: str) -> None:
        if self._line is not None:
            if self.out.is_tty(OUT):  # Output.ansi: colour codes only to a tty
                self._line.append(code)
        else:
            self.out.ansi(OUT, code)

    def end_line(self) -> None:
        """The newline that ends a service's (or the header's) text, and the flush."""
        if self._line is not None:
            self._line.append("\n")
            text = "".join(self._line)
            self._line.clear()
            self.out.bs(OUT, text, flush=True)
        else:
            self.out.bs(OUT, "\n", flush=True)

    def pad(self, i: int, done: int) -> None:
        if self.col[i] and self.col[i] > done:
            self.bs(" " * (self.col[i] - done))

    def put_s_max(self, s: str, mx: int, pad: bool) -> int:
        if mx <= 4:
            return 0
        if len(s) >= mx:
            self.bs(s[: mx - 4] + "... ")
            return mx
        self.bs(s)
        if not pad:
            return len(s)
        self.pad(0, len(s))
        return mx

    def header(self) -> bool:
        col = self.col
        best = max(self.max_name + 1, col[0])
        if self.cols == 0:
            col[0], col[3] = best, 0
        else:
            length = best + col[1] + col[2] + col[3]
            if self.cols >= length:
                col[0] = best
            else:
                added, n = best - col[0], length - self.cols
                if added >= n:
                    length -= n
                    col[0] = best - n
                else:
                    length = sum(col)
                    if self.cols < length:
                        length -= col[1]
                        if self.cols < length:
                            self.out.strerr("warning: ", "Terminal too small, disabling list mode")
                            self.mode = NORMAL
                            return False
                        col[1] = 0
            col[3] += self.cols - length
        self.ansi(ANSI_HIGHLIGHT_ON)
        for i, title in enumerate(self.titles):
            if i < 3 and col[i] == 0:
                continue
            self.bs(title)
            if i < 3:
                self.pad(i, len(title))
        self.ansi(ANSI_OFF)
        self.end_line()
        return True

    def wstat(self, wstat: int, mx: int) -> None:
        self.put_s_max(R.wstat_text(wstat), mx, False)

    def service(self, e: S.Entry) -> None:
        if self.mode == DRY_LIST:
            self.out.bs(OUT, e.name + "\n", flush=True)
            return
        if self.mode == LIST:
            if self.first and not self.header():
                self.bs("\n")
        elif not self.first:
            self.bs("\n")
        self.first = False
        if self.mode == LIST:
            self.put_s_max(e.name, self.col[0], True)
            if self.col[1]:
                self.bs("longrun" if e.longrun else "oneshot")
                self.pad(1, 7)
            if e.no_status or e.stamp is None:
                self.bs("-")
                self.pad(2, 1)
            else:
                self.bs(_time_text(e.stamp, True))
        else:
            self.bs("Service: ")
            self.ansi(ANSI_HIGHLIGHT_ON)
            self.bs(e.name)
            self.ansi(ANSI_OFF)
            self.bs(" (long-run)\n" if e.longrun else " (one-shot)\n")
            self.bs("Since:   ")
            self.bs("-\n" if e.no_status or e.stamp is None else _time_text(e.stamp, False))
            if e.is_s6 and e.s6 is not None and e.s6.ready_flag:
                self.bs("Ready:   ")
                self.bs(_time_text(e.s6.ready_stamp, False))
            self.bs("Status:  ")
        mx = self.col[3]
        listing = self.mode == LIST

        def put_s(s: str) -> None:
            nonlocal mx
            if listing:
                mx -= self.put_s_max(s, mx, False)
            else:
                self.bs(s)

        if e.is_s6:
            st = e.s6
            assert st is not None
            if st.up:
                self.ansi(ANSI_GREEN_ON)
                put_s("Up")
                if st.ready_flag:
                    put_s(" & Ready")
                elif e.readiness:
                    put_s("; Getting ready...")
                self.ansi(ANSI_OFF)
                put_s(f" (PID {st.pid}")
                if listing and not st.want_up:
                    put_s("; Once")
                put_s(")")
                if not listing:
                    self.bs("\nMode:    ")
                    put_s("Automatic restart (want up)" if st.want_up else "Once (want down)")
            else:
                self.ansi(ANSI_HIGHLIGHT_ON)
                put_s("Down")
                if st.ready_flag:
                    put_s(" & Ready")
                self.ansi(ANSI_OFF)
                put_s(" (")
                self.wstat(st.wstat, mx)
                if st.want_up:
                    put_s("; ")
                    self.ansi(ANSI_BLUE_ON)
                    put_s("To be restarted")
                    self.ansi(ANSI_OFF)
                put_s(")")
                if not listing and st.want_up:
                    self.bs("\nMode:    ")
                    put_s("Automatic restart (want up)")
        else:
            a = e.anopa
            ev = a.event
            msg = C.EVENTMSG[ev]
            if ev == C.EVT_NONE:
                put_s(msg)
            elif ev == C.EVT_ERROR:
                self.ansi(ANSI_RED_ON)
                put_s(msg)
                self.ansi(ANSI_OFF)
                put_s(": ")
                put_s(C.ERRMSG[a.code] if a.code < len(C.ERRMSG) else "")
                if a.msg:
                    put_s(": ")
                    put_s(a.msg)
            elif ev in (C.EVT_STARTING, C.EVT_STOPPING):
                self.ansi(ANSI_BLUE_ON)
                put_s(msg)
                self.ansi(ANSI_OFF)
            elif ev in (C.EVT_STARTING_FAILED, C.EVT_STOPPING_FAILED,
                        C.EVT_START_FAILED, C.EVT_STOP_FAILED):
                self.ansi(ANSI_RED_ON)
                put_s(msg)
                self.ansi(ANSI_OFF)
                if listing and mx <= 6:
                    if mx > 1:
                        self.bs("..."[: 3 if mx > 4 else mx - 1])
                    self.bs(" ")
                elif ev in (C.EVT_STARTING_FAILED, C.EVT_STOPPING_FAILED):
                    put_s(": ")
                    put_s(C.ERRMSG[a.code] if a.code < len(C.ERRMSG) else "")
                    if a.msg:
                        put_s(": ")
                        put_s(a.msg)
                else:
                    put_s(": ")
                    self.wstat(a.code, mx)
            elif ev == C.EVT_STARTED:
                self.ansi(ANSI_GREEN_ON)
                put_s(msg)
                self.ansi(ANSI_OFF)
            else:  # Stopped
                put_s(msg)
        self.end_line()


def _columns() -> int:
    if not os.isatty(1):
        return 999999
    try:
        return int(struct.unpack("HHHH", fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))[1])
    except OSError:
        return 80


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] [service...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        repodir = R.DEFAULT_REPODIR
        listdir = None
        all_ = False
        mode = NORMAL
        ftype = fstatus = None
        sort = "time"
        reverse = False
        for c, arg in tool.options(args, "aDf:hl:LNnRr:s:V", LONGOPTS):
            if c == "a":
                all_ = True
            elif c == "f":
                assert arg is not None
                if arg in S.TYPE_FILTERS:
                    ftype = S.TYPE_FILTERS[arg]
                elif arg in S.STATUS_FILTERS:
                    fstatus = S.STATUS_FILTERS[arg]
                else:
                    out.die(1, f"unable to set filter '{arg}': Invalid argument")
            elif c == "l":
                listdir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "L":
                mode = LIST
            elif c == "N":
                sort = "name"
            elif c == "n":
                mode = DRY_LIST
            elif c == "R":
                reverse = True
            elif c == "r":
                repodir = R.unslash(arg)  # type: ignore[arg-type]
            elif c == "s":
                if arg not in ("none", "name", "time"):
                    out.die(1, f"unable to set sort order '{arg}': Invalid argument")
                sort = str(arg)
        if not all_ and listdir is None and not tool.operands:
            tool.usage(1)
        paths = common.open_repo(out, repodir, write=False, rc=2)
        services = R.Services(paths)
        show = Show(out, mode, _columns() if mode == LIST else 0)
        entries: list[S.Entry] = []

        def load(name: str) -> S.Entry | None:
            r = R.check_name(name)
            if r < 0:
                out.error(name, C.ERRMSG[-r])
                return None
            longrun = services.is_longrun(name)
            if not S.type_matches(ftype, name, longrun):
                return None
            e = S.entry_for(services, name, longrun, ready_stamp=mode == LIST)
            if fstatus is not None and not S.match_status(e, fstatus):
                return None
            if mode == LIST:
                show.max_name = max(show.max_name, len(name))
            entries.append(e)
            return e

        if all_:
            try:
                listing = R.scan_dir(".", files_only=False)
            except OSError as err:
                out.die_unable(C.ERR_IO, f"scan repo directory {repodir}", err)
            for name, is_dir in listing:
                if name.startswith(".") or not is_dir:
                    continue
                e = load(name)
                if ftype in ("all", "log", "logged") and (e is None or e.longrun):
                    if os.path.lexists(os.path.join(name, "log", "run")):
                        load(f"{name}/log")
        elif listdir is not None:
            path = R.listdir_path(listdir)
            try:
                listing = R.scan_dir(path, files_only=True)
            except OSError as err:
                common.die_listdir(out, path, err, C.ERR_IO)
            for name, _ in listing:
                if not name.startswith("."):
                    load(name)
        else:
            for arg in tool.operands:
                for name in (common.names_from_stdin() if arg == "-" else [arg]):
                    load(name)

        if sort == "name":
            entries.sort(key=lambda e: e.name.encode("utf-8", "surrogateescape"), reverse=reverse)
        elif sort == "time":
            entries.sort(key=lambda e: (0, 0.0) if e.no_status else (1, e.stamp or 0.0),
                         reverse=reverse)
        for e in entries:
            show.service(e)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())

"""How ovis looks on a terminal: progress lines, the status table, durations, colour.

Both the ``ovis`` command and boot stage 2 (which runs without the CLI)
draw with these, so the text is the same wherever a service is started.
Nothing here decides anything; it only formats what the engine reports.
Colour only when the stream is a terminal and ``NO_COLOR`` is unset; under
``--json`` the CLI silences progress so stdout holds nothing but JSON.
"""

from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False  # no typing at run time: ovis status imports this module
if TYPE_CHECKING:  # a status table needs no engine: progress lines get these from it
    from typing import Any, Sequence, TextIO

    from ovis.engine.transaction import Action, Result

RESET = "\033[0m"
GREEN = "\033[1;32m"
RED = "\033[1;31m"
YELLOW = "\033[1;33m"
BOLD = "\033[1m"


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, colour: str, on: bool) -> str:
    return f"{colour}{text}{RESET}" if on else text


def duration(seconds: float | None) -> str:
    """Compact human duration: 0.012s, 4.5s, 3m12s, 2h05m, 3d04h."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.3f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


VERBS = {"start": "started", "stop": "stopped"}  # by Action value


class TerminalReporter:
    """One line per service as it settles: ``[  OK  ] name: ready (0.012s)``."""

    def __init__(self, stream: TextIO = sys.stdout, err: TextIO = sys.stderr,
                 quiet: bool = False, width: int = 24) -> None:
        self.stream = stream
        self.err = err
        self.quiet = quiet
        self.colour = use_colour(stream)
        self.width = width

    def progress(self, name: str, action: Action, result: Result) -> None:
        if self.quiet or result.already:
            return
        c = self.colour
        if result.ok:
            tag = paint("[  OK  ]", GREEN, c)
            what = VERBS[action.value]
            if action.value == "start" and result.detail:
                what += f" ({result.detail})"
            line = f"{tag} {name:<{self.width}} {what:<10} {duration(result.elapsed)}"
        elif result.reason is not None and result.reason.value == "dependency-failed":
            tag = paint("[ SKIP ]", YELLOW, c)
            line = f"{tag} {name:<{self.width}} dependency failed: {result.detail}"
        else:
            tag = paint("[FAILED]", RED, c)
            reason = result.reason.value if result.reason else "failed"
            extra = f": {result.detail}" if result.detail else ""
            # "failed" where OK lines say "started": the duration stays in its column
            line = f"{tag} {name:<{self.width}} {'failed':<10} {duration(result.elapsed):<7} {reason}{extra}"
        print(line, file=self.stream, flush=True)

    def message(self, text: str) -> None:
        print(f"ovis: {text}", file=self.err, flush=True)


def table(rows: Sequence[Sequence[str]], header: Sequence[str], colour: bool) -> str:
    widths = [max(len(h), *map(len, col)) if col else len(h)
              for h, col in zip(header, zip(*rows) if rows else [()] * len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths).format  # one call per row (ovis status of 1000)
    lines = [fmt(*header).rstrip()]
    if colour:
        lines[0] = paint(lines[0], BOLD, True)
    lines += [fmt(*r).rstrip() for r in rows]
    return "\n".join(lines)


STATE_COLOURS = {"up": GREEN, "failed": RED}


def terminal_width(stream: TextIO = sys.stdout) -> int | None:
    """Columns of the terminal (``$COLUMNS`` wins); None when not a terminal: no limit."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    try:
        if stream.isatty():  # a serial console says 0 columns: unknown, no limit
            return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        pass
    return None


def fit_last_column(rows: list[list[str]], header: Sequence[str], width: int | None) -> None:
    """Truncate the last column (the reason) with ``…`` so each row fits *width*."""
    if width is None or not rows:
        return
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header[:-1])]
    room = width - sum(widths) - 2 * (len(header) - 1)
    room = max(room, len(header[-1]), 8)
    for r in rows:
        if len(r[-1]) > room:
            r[-1] = r[-1][:room - 1] + "…"


def status_table(items: list[dict[str, Any]], colour: bool, now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = []
    for it in items:
        state = it["state"]
        since = duration(now - it["since"]) if it.get("since") else "-"
        why = it.get("reason") or "-"
        if it.get("detail") and it["state"] != "up":
            why = f"{why} ({it['detail']})"
        rows.append([
            it["name"] + ("*" if it.get("changed") else ""), it["type"], state,
            "yes" if it["ready"] else "no",
            str(it["pid"]) if it.get("pid") else "-",
            since, why,
        ])
    fit_last_column(rows, ["NAME", "TYPE", "STATE", "READY", "PID", "SINCE", "REASON"],
                    terminal_width())
    text = table(rows, ["NAME", "TYPE", "STATE", "READY", "PID", "SINCE", "REASON"], colour)
    if colour:
        out = []
        for line, it in zip(text.splitlines()[1:], items):
            col = STATE_COLOURS.get(it["state"])
            out.append(line.replace(f"  {it['state']} ", f"  {paint(it['state'], col, True)} ", 1)
                       if col else line)
        text = "\n".join([text.splitlines()[0]] + out)
    return text

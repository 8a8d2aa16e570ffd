"""aa-echo: print a message the way anopa's tools do (stage scripts use it).

Arguments are concatenated without spaces; "+g", "+red", ... switch colour
(on ttys only) and "+x" prints "x", so "++x" prints "+x".
"""

from __future__ import annotations

import sys

from .output import (
    ANSI_BLUE_ON,
    ANSI_GREEN_ON,
    ANSI_HIGHLIGHT_ON,
    ANSI_OFF,
    ANSI_RED_ON,
    ANSI_YELLOW_ON,
    COMMON_LONGOPTS,
    DOUBLE_LINE,
    ERR,
    HELP_LINES,
    NO_ARG,
    OUT,
    Tool,
)

PROG = "aa-echo"
DETAILS = (
    DOUBLE_LINE
    + " -B, --blank-first             Print a blank line (LF) first\n"
    " -T, --title                   Show a main title (default)\n"
    " -t, --title2                  Show a secondary title\n"
    " -w, --warning                 Show a warning\n"
    " -e, --error                   Show an error\n"
    ' -n, --normal                  Show "normal" text\n'
    + HELP_LINES
    + "\n"
    "MESSAGE can be used to set the text color:\n"
    "\n"
    " +g, +green                    Set color to green\n"
    " +b, +blue                     Set color to blue\n"
    " +y, +yellow                   Set color to yellow\n"
    " +r, +red                      Set color to red\n"
    " +w, +white                    Set color to white\n"
    " +n, +normal                   Set color to normal\n"
    " ++TEXT                        To just print +TEXT\n"
)
LONGOPTS = COMMON_LONGOPTS + (
    ("blank-first", NO_ARG, "B"),
    ("error", NO_ARG, "e"),
    ("normal", NO_ARG, "n"),
    ("title", NO_ARG, "T"),
    ("title2", NO_ARG, "t"),
    ("warning", NO_ARG, "w"),
)
COLOURS = {
    "+g": ANSI_GREEN_ON, "+green": ANSI_GREEN_ON,
    "+b": ANSI_BLUE_ON, "+blue": ANSI_BLUE_ON,
    "+y": ANSI_YELLOW_ON, "+yellow": ANSI_YELLOW_ON,
    "+r": ANSI_RED_ON, "+red": ANSI_RED_ON,
    "+w": ANSI_HIGHLIGHT_ON, "+white": ANSI_HIGHLIGHT_ON,
    "+n": ANSI_OFF, "+normal": ANSI_OFF,
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION...] MESSAGE...", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        blank = False
        kind = "T"
        for c, _ in tool.options(args, "BDehnTtVw", LONGOPTS):
            if c == "B":
                blank = True
            else:  # T t w e n: the last one wins
                kind = c
        if not tool.operands:
            tool.usage(1)
        where = ERR if kind in "we" else OUT
        if blank:
            out.bs(where, "\n")
        if kind == "T":
            out.title(True, "", end=False)
        elif kind == "t":
            out.title(False, "", end=False)
        elif kind == "w":
            out.warn("", end=False)
        elif kind == "e":
            out.error("", end=False)
        for arg in tool.operands:
            if arg.startswith("+"):
                colour = COLOURS.get(arg)
                if colour is not None:
                    out.ansi(where, colour)
                else:
                    out.bs(where, arg[1:])
            else:
                out.bs(where, arg)
        out.end(where)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())

"""aa-incmdline: look for NAME on the kernel command line (stage scripts' "if").

Exit 0 found, 1 syntax, 2 cannot read, 3 absent (or, with -r, no value; with
-s, a value containing C).  Follows anopa's documentation where its code
differs: ``--file`` takes FILE, and ``-q -r`` on an argument that has a value
exits 0 (the code exits 3); the last value is not cut by one byte when the
file does not end with a newline.
"""

from __future__ import annotations

import sys

from .output import (
    COMMON_LONGOPTS,
    DOUBLE_LINE,
    HELP_LINES,
    NO_ARG,
    OPTIONAL_ARG,
    OUT,
    REQUIRED_ARG,
    Tool,
)

PROG = "aa-incmdline"
DETAILS = (
    DOUBLE_LINE
    + " -f, --file FILE               Use FILE instead of /proc/cmdline\n"
    " -q, --quiet                   Don't write value (if any) to stdout\n"
    " -s, --safe[=C]                Ignore argument if value contain C (default: '/')\n"
    " -r, --required                Ignore argument if no value specified\n"
    + HELP_LINES
)
LONGOPTS = COMMON_LONGOPTS + (
    ("file", REQUIRED_ARG, "f"),
    ("quiet", NO_ARG, "q"),
    ("required", NO_ARG, "r"),
    ("safe", OPTIONAL_ARG, "s"),
)
_SEPARATORS = b" \t\n\0"


def find_arg(cmdline: bytes, name: bytes) -> tuple[bool, bytes | None]:
    """(found, value) of the first ``name`` or ``name=value`` word.

    A value starting with '"' runs to the next '"' (spaces included), as the
    kernel parses it; value None means the word had no '='.
    """
    i, n = 0, len(cmdline)
    while i < n:
        while i < n and cmdline[i] in _SEPARATORS:
            i += 1
        start = i
        while i < n and cmdline[i] not in _SEPARATORS and cmdline[i] != 0x3D:  # '='
            i += 1
        word = cmdline[start:i]
        value: bytes | None = None
        if i < n and cmdline[i] == 0x3D:
            i += 1
            if i < n and cmdline[i] == 0x22:  # '"'
                end = cmdline.find(b'"', i + 1)
                end = n if end < 0 else end
                value = cmdline[i + 1 : end]
                i = end + 1
            else:
                vstart = i
                while i < n and cmdline[i] not in _SEPARATORS:
                    i += 1
                value = cmdline[vstart:i]
        if word and word == name:
            return True, value
    return False, None


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "[OPTION] NAME", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        path = "/proc/cmdline"
        quiet = required = False
        safe: str | None = None
        for c, arg in tool.options(args, "Df:hqrs::V", LONGOPTS):
            if c == "f":
                path = arg or ""
            elif c == "q":
                quiet = True
            elif c == "r":
                required = True
            elif c == "s":
                if arg is None:
                    safe = "/"
                elif len(arg) != 1:
                    tool.usage(1)
                else:
                    safe = arg
        if not tool.operands:
            tool.usage(1)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            out.die_unable(2, f"read {path}", e)
        found, value = find_arg(data, tool.operands[0].encode("utf-8", "surrogateescape"))
        if not found:
            return 3
        if value is None:
            return 3 if required else 0
        if safe is not None and safe.encode("utf-8", "surrogateescape") in value:
            return 3
        if required and not value:
            return 3
        if not quiet:
            out.bs(OUT, value)
            out.bs(OUT, "\n", flush=True)
        return 0

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())

"""``ovis analyze``: blame, critical-chain, plot, dot.

A thin front end over ``ovis.analyze``: read LIVE once, call the library,
print (or write the SVG).  Nothing here talks to s6 or takes the LIVE lock:
an analysis only reads files the engine wrote atomically, so it is safe to
run while a transaction is in flight (it then sees the starts recorded so
far).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ovis.cli.commands import Register, paths_of
from ovis.errors import EXIT_OK, OvisError, StateError, UnknownService, UsageError
from ovis.paths import Paths

if TYPE_CHECKING:  # the library is imported by the handler: every `ovis` builds this parser
    from ovis.analyze.timeline import Entry, Timeline

ACTIONS = ("blame", "critical-chain", "plot", "dot")

DESCRIPTION = """\
Where did the start time go?  Reads the start timings ovis records for each
service in LIVE/state (and LIVE/boot.json when the system was booted by
`ovis boot`); changes nothing.

  blame                 every recorded start, longest first, failures marked
  critical-chain [NAME] what NAME's start waited for, link by link (default:
                        the service that became ready last); @T = when the
                        start ended, seconds since boot (or the first start);
                        +D = how long the start itself took
  plot -o FILE.svg      an SVG Gantt chart of the starts (stdout without -o)
  dot [NAME]            the dependency graph in Graphviz dot (only NAME and
                        what it depends on, if given): solid = hard, dashed =
                        soft, dotted = ordering only
"""

EPILOG = """\
examples:
  ovis analyze blame
  ovis analyze critical-chain nginx
  ovis analyze plot -o boot.svg
  ovis analyze dot | dot -Tsvg > deps.svg
  ovis --json analyze critical-chain"""


def _say(args: argparse.Namespace, text: str) -> None:
    """A note for humans on stderr, so stdout stays pipeable (dot, SVG)."""
    if args.verbosity > 0:
        print(f"ovis: {text}", file=sys.stderr)


def _not_in_live(paths: Paths, name: str | None) -> None:
    """Raise StateError (exit 1) for a *name* that is defined but not in LIVE.

    The contract keeps exit 2 ("unknown service") for names that match no
    definition; a defined service that was simply never started is a
    state, not a usage error.
    """
    from ovis.service.model import is_valid_name
    from ovis.service.repository import Repository

    if name and is_valid_name(name) and Repository(paths.services).locate(name) is not None:
        raise StateError(f"{name}: no start recorded "
                         f"(not started since {paths.live} was set up)")


def _painter(colour: bool) -> Callable[[str, Entry], str]:
    from ovis.analyze.timeline import DEPENDENCY_FAILED
    from ovis.terminal import RED, YELLOW, paint

    def p(text: str, e: Entry) -> str:
        if e.ok or not colour:
            return text
        return paint(text, YELLOW if e.reason == DEPENDENCY_FAILED else RED, True)

    return p


def do_blame(args: argparse.Namespace, tl: Timeline, paths: Paths) -> int:
    from ovis.analyze import blame as blamemod
    from ovis.analyze.timeline import seconds
    from ovis.terminal import table, use_colour

    if args.json:
        print(json.dumps(blamemod.blame_json(tl), indent=1))
        return EXIT_OK
    entries = blamemod.blame(tl)
    if not entries:
        _say(args, f"no service start is recorded in {paths.live}")
        return EXIT_OK
    durations = [seconds(e.duration) for e in entries]
    w = max(len("DURATION"), *(len(d) for d in durations))
    rows = [[d.rjust(w), e.name, blamemod.outcome_text(e)]
            for d, e in zip(durations, entries, strict=True)]
    colour = use_colour(sys.stdout)
    from ovis.terminal import fit_last_column, terminal_width

    fit_last_column(rows, ["DURATION", "NAME", "OUTCOME"], terminal_width())
    lines = table(rows, ["DURATION", "NAME", "OUTCOME"], colour).split("\n")
    paint = _painter(colour)
    body = [paint(line, e) for line, e in zip(lines[1:], entries, strict=True)]
    print("\n".join([lines[0]] + body))
    return EXIT_OK


def do_chain(args: argparse.Namespace, tl: Timeline, paths: Paths) -> int:
    from ovis.analyze import chain as chainmod
    from ovis.terminal import use_colour

    try:
        chain = chainmod.critical_chain(tl, args.name)
    except UnknownService:
        _not_in_live(paths, args.name)
        raise
    if args.json:
        print(json.dumps(chainmod.chain_json(tl, chain), indent=1))
        return EXIT_OK
    origin = "boot (stage 1)" if tl.origin_source == "boot" else "the first recorded start"
    if args.verbosity > 0:
        print(f"@T: when the start ended, seconds since {origin}\n"
              "+D: how long the start itself took\n")
    print(chainmod.render(tl, chain, _painter(use_colour(sys.stdout))))
    return EXIT_OK


def do_plot(args: argparse.Namespace, tl: Timeline) -> int:
    from ovis.analyze.svg import plot

    if args.json and not args.output:
        raise UsageError("analyze plot: --json needs -o FILE (stdout holds only JSON)")
    svg = plot(tl)
    if not args.output or args.output == "-":
        sys.stdout.write(svg)
        return EXIT_OK
    try:
        Path(args.output).write_text(svg)
    except OSError as e:
        raise OvisError(f"cannot write {args.output}: {e.strerror or e}") from None
    if args.json:
        print(json.dumps({"output": args.output, "services": len(tl.entries)}))
    else:
        _say(args, f"wrote {args.output} ({len(tl.entries)} "
                   f"service{'s' if len(tl.entries) != 1 else ''})")
    return EXIT_OK


def do_dot(args: argparse.Namespace, tl: Timeline, paths: Paths) -> int:
    from ovis.analyze import dot

    names = [args.name] if args.name else None
    if args.name and args.name not in tl.services:
        _not_in_live(paths, args.name)
        raise UnknownService(args.name)
    if args.json:
        print(json.dumps(dot.dot_json(tl.services, names), indent=1))
    else:
        sys.stdout.write(dot.to_dot(tl.services, tl.entries, names))
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.name and args.action in ("blame", "plot"):
        raise UsageError(f"analyze {args.action}: takes no NAME")
    if args.output and args.action != "plot":
        raise UsageError("analyze: -o FILE is for plot only")
    from ovis.analyze.timeline import gather

    paths = paths_of(args)
    tl = gather(paths)
    if args.action == "blame":
        return do_blame(args, tl, paths)
    if args.action == "critical-chain":
        return do_chain(args, tl, paths)
    if args.action == "plot":
        return do_plot(args, tl)
    return do_dot(args, tl, paths)


def register(cmd: Register) -> None:
    p = cmd("analyze", cmd_analyze, "where the start time went: blame, critical-chain, plot, dot",
            description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("action", choices=ACTIONS, metavar="ACTION",
                   help="one of: " + ", ".join(ACTIONS))
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="critical-chain: the service to explain; dot: restrict to it and its deps")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="plot: write the SVG to FILE (default: stdout)")

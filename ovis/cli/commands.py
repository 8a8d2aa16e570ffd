"""Handlers of the service-manager verbs: parse arguments, call the library, print."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing and json (re, enum...) only where used: ovis start imports this

from ovis.errors import EXIT_FAILED, EXIT_OK, UsageError
from ovis.cli.context import default_tree, manager_of, paths_of  # noqa: F401  (other CLI modules import them from here)

if TYPE_CHECKING:  # the engine is imported by the handlers that need it (start-up time)
    import argparse  # only the parser builder imports it: ovis start/stop run without it

    from typing import Any

    from ovis.engine.manager import Manager, Outcome

from collections.abc import Callable  # (not typing's: ~10 modules more)

Register = Callable[..., "argparse.ArgumentParser"]


def outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "action": o.action.value,
        "elapsed": round(o.elapsed, 6),
        "ok": not o.failed,
        "services": [
            {"name": n, "ok": r.ok, "already": r.already,
             "reason": r.reason.value if r.reason else None, "exit": r.exit,
             "detail": r.detail, "elapsed": round(r.elapsed, 6)}
            for n, r in sorted(o.results.items())
        ],
    }


def finish(args: argparse.Namespace, *outcomes: Outcome) -> int:
    """Print the summary (or JSON) of transactions; exit 1 when anything failed."""
    failed = sorted({n for o in outcomes for n in o.failed})
    if args.json:
        data = [outcome_json(o) for o in outcomes]
        import json  # (json imports re and enum: only for --json)
        print(json.dumps(data[0] if len(data) == 1 else data, indent=1))
    elif args.verbosity > 0:
        from ovis.terminal import duration
        from ovis.engine.transaction import Action

        for o in outcomes:
            changed = sum(1 for r in o.results.values() if r.ok and not r.already)
            verb = "started" if o.action is Action.START else "stopped"
            msg = f"ovis: {verb} {changed} service{'s' if changed != 1 else ''} in {duration(o.elapsed)}"
            if o.failed:
                msg += f"; {len(o.failed)} failed: {', '.join(o.failed)}"
            print(msg, file=sys.stderr if o.failed else sys.stdout)
    return EXIT_FAILED if failed else EXIT_OK


# Verbs ----------------------------------------------------------------------
def cmd_start(args: argparse.Namespace) -> int:
    if args.scandir:  # spawned first: it starts while the engine is imported
        from ovis.cli.scandir import start_detached

        wait = start_detached(paths_of(args))
        m = manager_of(args)
        wait()
        return finish(args, m.start(args.names))
    return finish(args, manager_of(args).start(args.names))


def cmd_stop(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise UsageError("stop: name at least one service, or --all")
    m = manager_of(args)
    outcome = m.stop(args.names, everything=args.all, force=args.force)
    gone = [n for n, r in outcome.results.items() if r.ok and m.repo.locate(n) is None]
    if gone:  # stopped, and its definition deleted: nothing left to show or start
        from ovis.engine.apply import remove_from_live

        remove_from_live(m, gone)
        if not args.json and args.verbosity > 0:
            for n in gone:
                print(f"ovis: {n}: definition deleted: removed from LIVE")
    return finish(args, outcome)


def cmd_restart(args: argparse.Namespace) -> int:
    stopped, started = manager_of(args).restart(args.names)
    return finish(args, stopped, started)


def cmd_reload(args: argparse.Namespace) -> int:
    sent = manager_of(args).send_letters(args.names, "h")
    if args.json:
        import json  # (json imports re and enum: only for --json)
        print(json.dumps({"reloaded": sent}))
    elif args.verbosity > 0:
        for n in sent:
            print(f"ovis: {n}: sent SIGHUP")
    return EXIT_OK


SIGNAL_LETTERS = {
    "ALRM": "a", "ABRT": "b", "QUIT": "q", "HUP": "h", "KILL": "k", "TERM": "t", "INT": "i",
    "USR1": "1", "USR2": "2", "WINCH": "y", "STOP": "p", "CONT": "c",
}


def cmd_signal(args: argparse.Namespace) -> int:
    sig = args.signal.upper()
    sig = sig[3:] if sig.startswith("SIG") else sig
    if sig.isdigit():
        from ovis.s6.status import signal_name

        name = signal_name(int(sig))
        sig = name[3:] if name else "?"
    letter = SIGNAL_LETTERS.get(sig)
    if letter is None:
        raise UsageError(f"signal: unsupported signal {args.signal!r} "
                         f"(one of {', '.join(sorted(SIGNAL_LETTERS))})")
    sent = manager_of(args).send_letters(args.names, letter)
    if args.json:
        import json  # (json imports re and enum: only for --json)
        print(json.dumps({"signal": "SIG" + sig, "sent": sent}))
    elif args.verbosity > 0:
        for n in sent:
            print(f"ovis: {n}: sent SIG{sig}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from ovis.cli import statusview

    return statusview.cmd_status(args)


def _tree_membership(args: argparse.Namespace, enable: bool) -> int:
    """enable/disable: the same report, with the verb and its negation."""
    m = manager_of(args)
    tree = args.tree or default_tree(m.paths)
    done = (m.enable if enable else m.disable)(args.names, tree)
    key, yes, no = (("enabled", "enabled in", "already enabled in") if enable
                    else ("disabled", "disabled in", "was not enabled in"))
    outcome = None
    if getattr(args, "now", False):
        outcome = m.start(args.names) if enable else m.stop(
            [n for n in args.names if n in m.live_services()])
    if args.json:
        data: dict[str, Any] = {"tree": tree, key: done}
        if outcome is not None:
            data["transaction"] = outcome_json(outcome)
        import json  # (json imports re and enum: only for --json)
        print(json.dumps(data))
    elif args.verbosity > 0:
        for n in args.names:
            print(f"ovis: {n}: {yes if n in done else no} tree {tree}")
    if outcome is not None and not args.json:
        return finish(args, outcome)
    return EXIT_FAILED if outcome is not None and outcome.failed else EXIT_OK


def cmd_enable(args: argparse.Namespace) -> int:
    return _tree_membership(args, enable=True)


def cmd_disable(args: argparse.Namespace) -> int:
    return _tree_membership(args, enable=False)


def cmd_tree(args: argparse.Namespace) -> int:
    m = manager_of(args)
    tree = args.tree or default_tree(m.paths)
    if args.action == "start":
        return finish(args, m.tree_start(tree))
    return finish(args, m.tree_stop(tree, force=args.force))


def cmd_check(args: argparse.Namespace) -> int:
    from ovis.service.check import check

    report = check(manager_of(args).repo, args.targets)
    if args.json:
        import json  # (json imports re and enum: only for --json)
        print(json.dumps({"ok": report.ok, "checked": sorted(report.checked), "errors": report.errors,
                          "warnings": report.warnings}))
    else:
        for e in report.errors:
            print(f"ovis: error: {e}", file=sys.stderr)
        for warning in report.warnings:
            print(f"ovis: warning: {warning}", file=sys.stderr)
        if report.ok and args.verbosity > 0:
            count = len(report.checked)
            print(f"ovis: {count} definition{'s' if count != 1 else ''} ok")
    return EXIT_OK if report.ok else 2


def cmd_scandir(args: argparse.Namespace) -> int:
    from ovis.cli import scandir

    return scandir.run(args, paths_of(args), lambda: manager_of(args))


def cmd_log(args: argparse.Namespace) -> int:
    from ovis.cli import logcmd
    from ovis.engine.status import View

    return logcmd.run(args, View(paths_of(args)))  # type: ignore[arg-type]  (reads, no engine)


def register(cmd: Register) -> None:
    p = cmd("start", cmd_start, "start services and what they need; wait until up+ready",
            epilog="examples:\n  ovis start nginx\n  ovis --json start getty@tty1")
    p.add_argument("names", nargs="+", metavar="NAME", help="services (instances as name@arg)")
    p.add_argument("--scandir", action="store_true",
                   help="first start an s6-svscan on LIVE/scandir, in the background, "
                        "unless one runs")
    p = cmd("stop", cmd_stop, "stop services and, first, whatever depends on them",
            epilog="examples:\n  ovis stop nginx\n  ovis stop --all")
    p.add_argument("names", nargs="*", metavar="NAME", help="services to stop (or --all)")
    p.add_argument("-a", "--all", action="store_true", help="stop every service in LIVE")
    p.add_argument("-f", "--force", action="store_true",
                   help="a dependent that fails to stop does not hold back what it needs")
    p = cmd("restart", cmd_restart, "stop then start services (and their dependents)",
            epilog="Every definition needed is checked first: exit 2 means nothing was stopped.\n\n"
                   "examples:\n  ovis restart nginx\n  ovis apply        # restart whatever changed")
    p.add_argument("names", nargs="+", metavar="NAME", help="services to restart")
    p = cmd("reload", cmd_reload, "send SIGHUP to longruns (their usual 'reload configuration')",
            epilog="examples:\n  ovis reload nginx")
    p.add_argument("names", nargs="+", metavar="NAME", help="up longruns")
    p = cmd("signal", cmd_signal, "send a signal to longruns",
            epilog="SIG: " + " ".join(sorted(SIGNAL_LETTERS)) + " (with or without SIG, or a number)"
                   "\n\nexamples:\n  ovis signal USR1 nginx\n  ovis signal 15 worker")
    p.add_argument("signal", metavar="SIG", help="signal name or number")
    p.add_argument("names", nargs="+", metavar="NAME", help="up longruns")
    p = cmd("status", cmd_status, "show services: a table, or details of the named ones",
            epilog="Without names, one line per service; with names, a detailed view of each\n"
                   "(state, reason, pid, since, restarts, definition, trees, dependencies, the\n"
                   "last log lines), and exit status 1 when any of them is not up.\n"
                   "JSON fields: name type state ready pid since exit reason restarts (+ description,\n"
                   "wanted, detail, source, compiled, changed, timings; with names also trees,\n"
                   "needs, wants, needed_by, wanted_by, log)\n\n"
                   "examples:\n  ovis status\n  ovis status --failed\n  ovis status nginx\n"
                   "  ovis --json status nginx")
    p.add_argument("names", nargs="*", metavar="NAME", help="services to show in detail")
    p.add_argument("--failed", action="store_true", help="only failed services")
    p.add_argument("-n", "--lines", type=int, default=10, metavar="N",
                   help="log lines in the detailed view (10; 0 for none)")
    for verb, fn, what, now in (("enable", cmd_enable, "add services to a tree", "start them too"),
                                ("disable", cmd_disable, "remove services from a tree",
                                 "stop them too")):
        p = cmd(verb, fn, what, epilog=f"examples:\n  ovis {verb} sshd\n  ovis {verb} --now -t boot sshd")
        p.add_argument("-t", "--tree", metavar="TREE", help="tree (default: init.conf TREE)")
        p.add_argument("--now", action="store_true", help=now)
        p.add_argument("names", nargs="+", metavar="NAME", help="services")
    p = cmd("tree", cmd_tree, "bring a whole tree up or down",
            epilog="examples:\n  ovis tree start\n  ovis tree stop --force net")
    p.add_argument("action", choices=["start", "stop"], help="start or stop")
    p.add_argument("tree", nargs="?", metavar="TREE", help="default: init.conf TREE")
    p.add_argument("-f", "--force", action="store_true",
                   help="stop: a dependent that fails to stop does not hold back its dependencies")
    p = cmd("check", cmd_check, "parse and validate definitions; change nothing",
            epilog="With no argument, every definition in the search path is checked.\n\n"
                   "examples:\n  ovis check\n  ovis check nginx ./my-service")
    p.add_argument("targets", nargs="*", metavar="NAME|PATH",
                   help="service names, or paths of definitions (a path has a /)")
    p = cmd("scandir", cmd_scandir, "run or stop the s6-svscan of LIVE/scandir",
            epilog="examples:\n  ovis --live /tmp/l scandir start &\n  ovis --live /tmp/l scandir stop")
    p.add_argument("action", choices=["start", "stop"],
                   help="start: exec s6-svscan (foreground); stop: stop everything, end it")
    p = cmd("log", cmd_log, "show services' logs, timestamps as local time",
            epilog="Several names or --all: merged by time, each line prefixed with its service.\n"
                   "--since: 10:30, '2026-12-01 10:30', -5m, '1h ago', today, @EPOCH.\n"
                   "--json: one object per line: {\"service\", \"time\" (epoch|null), \"text\"}\n\n"
                   "examples:\n  ovis log nginx\n  ovis log -f nginx | grep error\n"
                   "  ovis log --all -f\n  ovis log --since '10 min ago' db webapp")
    p.add_argument("names", nargs="*", metavar="NAME", help="services whose logs to show")
    p.add_argument("-a", "--all", action="store_true", help="every service's log, interleaved")
    p.add_argument("-n", "--lines", type=int, default=None, metavar="N",
                   help="last N lines (20; with --since, all since then)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--since", metavar="TIME", help="only lines stamped at or after TIME")

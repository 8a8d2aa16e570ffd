"""Everyday-operation verbs: apply, reset, deps, is-enabled.

Kept apart from commands.py (the transaction verbs) so each stays small;
each handler parses, calls the library, prints.
"""

from __future__ import annotations

from ovis import jsonlite as json  # json.dumps's text without json (and its re)
from ovis.errors import EXIT_FAILED, EXIT_OK

TYPE_CHECKING = False  # typing costs ~10 modules (ovis is-enabled imports this)
if TYPE_CHECKING:  # ovis is-enabled is read without argparse (cli.main.quick_status)
    import argparse
    from typing import Callable

    Register = Callable[..., "argparse.ArgumentParser"]


def cmd_apply(args: argparse.Namespace) -> int:
    from ovis.cli.commands import finish, manager_of
    from ovis.engine import apply
    from ovis.record import asdict

    m = manager_of(args)
    p = apply.plan(m, args.names or None)
    if args.json and args.dry_run:
        print(json.dumps({"dry_run": True, "changes": [asdict(c) for c in p.changes],
                          "unchanged": p.unchanged}, indent=1))
        return EXIT_OK
    if not args.json and args.verbosity > 0:
        for c in p.changes:
            print(f"ovis: {c.name}: {'would ' if args.dry_run else ''}{c.action} ({c.why})")
        if not p.changes:
            print("ovis: nothing to apply: LIVE matches the definitions")
    if args.dry_run:
        return EXIT_OK
    outcomes = apply.execute(m, p)
    if args.json:
        print(json.dumps({"dry_run": False, "changes": [asdict(c) for c in p.changes],
                          "unchanged": p.unchanged,
                          "failed": sorted({n for o in outcomes for n in o.failed})}, indent=1))
        return EXIT_FAILED if any(o.failed for o in outcomes) else EXIT_OK
    return finish(args, *outcomes) if outcomes else EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    from ovis.cli.context import manager_of
    from ovis.engine.reset import reset_failed

    done = reset_failed(manager_of(args), args.names or None)
    if args.json:
        print(json.dumps({"reset": done}))
    elif args.verbosity > 0:
        for n in done:
            print(f"ovis: {n}: failure cleared (history kept for ovis analyze)")
        for n in args.names:
            if n not in done:
                print(f"ovis: {n}: not failed, nothing to reset")
        if not done and not args.names:
            print("ovis: no failed service")
    return EXIT_OK


def _model(m, name: str):  # type: ignore[no-untyped-def]
    """The definition on disk, else the compiled model (a definition deleted since)."""
    from ovis.errors import UnknownService

    if m.repo.locate(name) is not None:
        return m.repo.load(name)
    live = m.live_services()
    if name in live:
        return live[name]
    raise UnknownService(name)


def cmd_deps(args: argparse.Namespace) -> int:
    from ovis.cli.context import manager_of
    from ovis.engine.status import dependents_of

    m = manager_of(args)
    root = args.name
    _model(m, root)  # unknown name: exit 2

    def edges(n: str) -> list[tuple[str, str]]:
        if args.reverse:
            needed, wanted = dependents_of(m, n)
            return [("needed by", x) for x in needed] + [("wanted by", x) for x in wanted]
        try:
            svc = _model(m, n)
        except Exception:
            return []
        return [("needs", x) for x in svc.depends] + [("wants", x) for x in svc.wants] + \
            [("after", x) for x in svc.after]

    if args.json:
        print(json.dumps({"name": root, "reverse": args.reverse,
                          "edges": [{"kind": k, "name": x} for k, x in edges(root)]}))
        return EXIT_OK
    out = [root]

    def walk(n: str, depth: int, seen: frozenset[str]) -> None:
        for kind, x in edges(n):
            loop = " (cycle)" if x in seen else ""
            out.append(f"{'  ' * depth}{kind} {x}{loop}")
            if not loop and kind != "after":
                walk(x, depth + 1, seen | {x})

    walk(root, 1, frozenset({root}))
    print("\n".join(out))
    return EXIT_OK


def cmd_is_enabled(args: argparse.Namespace) -> int:
    import os

    from ovis.cli.context import default_tree, paths_of
    from ovis.engine.status import View
    from ovis.errors import UnknownService
    from ovis.paths import check_name

    m = View(paths_of(args))  # a read: no engine imported
    tree = args.tree or default_tree(m.paths)
    d = f"{m.paths.trees_str}/{check_name(tree, 'tree')}"  # as Manager.tree_members
    try:
        members = {e for e in os.listdir(d) if not e.startswith(".") and os.path.isfile(f"{d}/{e}")}
    except FileNotFoundError:
        members = set()
    for n in args.names:
        if n not in members and m.repo.locate(n) is None and n not in m.live_services():
            raise UnknownService(n)
    res = {n: n in members for n in args.names}
    if args.json:
        print(json.dumps({"tree": tree, "enabled": res}))
    elif args.verbosity > 0:
        for n, yes in res.items():
            print("enabled" if yes else "disabled")
    return EXIT_OK if all(res.values()) else EXIT_FAILED


def register(cmd: Register) -> None:
    p = cmd("apply", cmd_apply,
            "recompile definitions; restart exactly the services whose compiled form changed",
            description="Compile the definitions again and compare with LIVE: restart the services "
                        "whose compiled form changed (and, first, what hard-depends on them), stop "
                        "and remove those whose definitions are gone, leave the rest untouched.",
            epilog="examples:\n  ovis apply --dry-run\n  ovis apply webapp")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="only these services (default: every compiled service)")
    p.add_argument("-n", "--dry-run", action="store_true", help="list the changes, change nothing")
    for name in ("reset", "reset-failed"):
        p = cmd(name, cmd_reset, "clear the failure of failed services (history kept for analyze)",
                epilog="examples:\n  ovis reset db-migrate\n  ovis reset        # every failed service")
        p.add_argument("names", nargs="*", metavar="NAME",
                       help="services to reset (default: every failed one)")
    p = cmd("deps", cmd_deps, "what a service needs (or, --reverse, what needs it)",
            epilog="Works from the definitions on disk: the service need not be compiled.\n\n"
                   "examples:\n  ovis deps webapp\n  ovis deps --reverse db")
    p.add_argument("name", metavar="NAME", help="the service")
    p.add_argument("-r", "--reverse", action="store_true",
                   help="the services that need or want NAME, recursively")
    p = cmd("is-enabled", cmd_is_enabled, "say whether services are enabled in a tree",
            epilog="Prints enabled or disabled per name; exit 0 only when all are enabled.\n\n"
                   "examples:\n  ovis is-enabled sshd\n  ovis is-enabled -t boot getty@tty1")
    p.add_argument("-t", "--tree", metavar="TREE", help="tree (default: init.conf TREE)")
    p.add_argument("names", nargs="+", metavar="NAME", help="services to ask about")

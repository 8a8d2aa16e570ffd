"""``ovis status``: the one-line table, the detailed view of named services, the summary.

``ovis status`` lists every service, one line each; ``ovis status NAME...``
explains each named one the way ``systemctl status`` does (state and reason,
pid and since, restarts, definition, trees, dependencies, last log lines).
``--json`` gives the same data as objects.  Kept lean: ``ovis status`` is
called a lot, and the detailed parts are computed only for named services.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # no typing at run time (start-up cost)
if TYPE_CHECKING:  # ovis status reads its command line without argparse (cli.main.quick_status)
    import argparse
    from typing import Any

from ovis.errors import EXIT_FAILED, EXIT_OK

LABEL = 11  # width of the detailed view's labels


def _items(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]]]:
    from ovis.cli.context import paths_of
    from ovis.engine.status import View, gather

    m = View(paths_of(args))  # reads LIVE once; no engine imported
    # The table (and the summary's counts) print a few fields: an up longrun
    # is then one read of supervise/status; --json and the detailed view get all.
    items = gather(m, args.names or None, brief=not args.names and not args.json)
    if not args.names:
        for it in items:
            if it.get("compiled"):
                it["changed"] = m.changed(it["name"])
    if getattr(args, "failed", False):
        items = [it for it in items if it["state"] == "failed"]
    return m, items


def cmd_status(args: argparse.Namespace) -> int:
    from ovis.terminal import status_table, use_colour

    m, items = _items(args)
    if args.names:
        from ovis.engine.status import describe

        items = [describe(m, it, args.lines) for it in items]
    if args.json:
        import json

        print(json.dumps(items, indent=1))
    elif args.names:
        colour = use_colour(sys.stdout)
        print("\n\n".join(detail(it, colour) for it in items))
    elif items or not getattr(args, "failed", False):
        print(status_table(items, use_colour(sys.stdout)))
        if any(it.get("changed") for it in items):
            print("* definition changed on disk since it was compiled: see ovis apply --dry-run")
    if args.names and any(it["state"] != "up" for it in items):
        return EXIT_FAILED
    return EXIT_OK


def _when(t: float | None, now: float) -> str:
    from ovis.terminal import duration

    if not t:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f"; {duration(now - t)} ago"


def _row(label: str, value: str) -> str:
    return f"{label:>{LABEL}}: {value}"


def detail(it: dict[str, Any], colour: bool, now: float | None = None) -> str:
    """The ``systemctl status``-like block of one service (see :func:`describe`)."""
    from ovis.terminal import GREEN, RED, paint

    now = time.time() if now is None else now
    state = it["state"]
    dot = paint("●", {"up": GREEN, "failed": RED}.get(state, ""), colour and state in ("up", "failed"))
    head = f"{dot} {it['name']}" + (f" - {it['description']}" if it.get("description") else "")
    head += f" ({it['type']})"
    st = state
    if state == "up" and it["type"] == "longrun":
        st += " (ready)" if it["ready"] else " (not ready)"
    since = _when(it.get("since"), now)
    if since:
        st += f" since {since}"
    lines = [head, _row("State", paint(st, {"up": GREEN, "failed": RED}.get(state, ""),
                                       colour and state in ("up", "failed")))]
    if state != "up":
        why = it.get("reason") or "-"
        if it.get("detail"):
            why += f" ({it['detail']})"
        lines.append(_row("Reason", why))
    if it.get("pid"):
        lines.append(_row("PID", str(it["pid"])))
    if it["type"] == "longrun":
        lines.append(_row("Restarts", str(it.get("restarts", 0))))
    if it.get("essential"):
        lines.append(_row("Essential", "yes: its failure fails the boot, "
                                       "its death for good ends a container"))
    src = it.get("source") or "-"
    if it.get("changed"):
        src += " (changed on disk since compiled: ovis apply)"
    elif not it.get("compiled"):
        src += " (not compiled yet)"
    lines.append(_row("Definition", src))
    lines.append(_row("Trees", " ".join(it.get("trees") or []) or "-"))
    lines.append(_row("Needs", " ".join(it.get("needs") or []) or "-"))
    if it.get("wants"):
        lines.append(_row("Wants", " ".join(it["wants"])))
    lines.append(_row("Needed by", " ".join(it.get("needed_by") or []) or "-"))
    if it.get("wanted_by"):
        lines.append(_row("Wanted by", " ".join(it["wanted_by"])))
    log = it.get("log") or []
    if log:
        lines.append("")
        lines.extend(log)
    return "\n".join(lines)


def summary(args: argparse.Namespace) -> int:
    """``ovis`` alone: one line of counts, the failed services, where to look next."""
    from ovis.errors import OvisError

    args.names, args.failed = [], False
    try:
        _, items = _items(args)
    except (OvisError, OSError) as e:  # no LIVE, no permission...: still a useful answer
        print(f"ovis: no status ({e}); see ovis --help")
        return EXIT_OK
    counts = {s: sum(1 for it in items if it["state"] == s) for s in ("up", "failed", "down")}
    if args.json:
        import json

        print(json.dumps({"services": len(items), **counts,
                          "failed_names": [it["name"] for it in items if it["state"] == "failed"]}))
        return EXIT_OK
    print(f"ovis: {len(items)} service{'s' if len(items) != 1 else ''}: "
          f"{counts['up']} up, {counts['failed']} failed, {counts['down']} down")
    for it in items:
        if it["state"] == "failed":
            print(f"  failed: {it['name']} ({it.get('reason') or '-'})")
    print("ovis status: the table; ovis status NAME: details; ovis --help: every command")
    return EXIT_OK

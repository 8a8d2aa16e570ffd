"""What every CLI handler needs first: the paths and the engine an invocation works on.

Kept apart from the handlers so that any CLI module can build them without
importing the others (no import cycles inside the CLI either).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing at run time (ovis status imports this)

from ovis.paths import Paths, read_env_file

if TYPE_CHECKING:  # the engine is imported only when a handler asks for it (start-up time)
    import argparse

    from ovis.engine.manager import Manager


def paths_of(args: argparse.Namespace) -> Paths:
    """Options, else the environment, else what the boot recorded, else defaults.

    On a machine booted by ``ovis boot`` the OVIS_* variables of the boot
    environment (LIVE/environment) apply to a user's ``ovis`` too, so that
    ``ovis status`` in a login shell sees what the stages set up.
    """
    env = dict(os.environ)
    from ovis.paths import DEFAULT_LIVE, normpath

    live = args.live or env.get("OVIS_LIVE") or DEFAULT_LIVE
    boot_env = read_env_file(normpath(live) + "/environment")
    for k, v in boot_env.items():
        if k.startswith("OVIS_") and k not in env:
            env[k] = v
    return Paths.resolve(env, skel=args.skel, services=args.services, trees=args.trees,
                         live=args.live, logdir=args.logdir)


def default_tree(paths: Paths) -> str:
    """init.conf's TREE: the tree enable/disable/is-enabled/tree act on by default."""
    return read_env_file(paths.skel_str + "/init.conf").get("TREE") or "boot"


def manager_of(args: argparse.Namespace) -> Manager:
    from ovis.terminal import TerminalReporter
    from ovis.engine.manager import Manager

    quiet = args.json or args.verbosity <= 0
    return Manager(paths_of(args), TerminalReporter(quiet=quiet))

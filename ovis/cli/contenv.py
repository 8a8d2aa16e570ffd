"""``with-contenv PROG ARGS...``: run PROG with the container's environment added.

The variables a container runtime gives PID 1 (``docker run -e``) are kept
out of services, as 66 keeps the kernel's: a service sees only init.conf and
the environment directories.  A service that wants them asks, as with
s6-overlay's ``with-contenv``: ``Execute = ( with-contenv mydaemon -f )``.
Stage 1 saved them in ``LIVE/container-environment`` (one file per
variable); they are added over the current environment, then PROG is
exec'd (no process stays behind).
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: with-contenv PROG [ARG...]"


def contenv_dir() -> str:
    from ovis.boot.stage1 import CONTENV

    return os.path.join(os.environ.get("OVIS_LIVE") or "/run/ovis", CONTENV)


def read_contenv(directory: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or "=" in name:
            continue
        with open(os.path.join(directory, name), "rb") as f:
            out[name] = f.read().decode(errors="surrogateescape")
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    d = contenv_dir()
    try:
        env = read_contenv(d)
    except OSError as e:
        print(f"with-contenv: error: cannot read {d}: {e.strerror}", file=sys.stderr)
        return 111
    merged = dict(os.environ)
    merged.update(env)
    try:
        os.execvpe(argv[0], argv, merged)
    except OSError as e:
        print(f"with-contenv: error: cannot run {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    entrypoint()

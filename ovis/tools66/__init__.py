"""The 66-tools commands that 66 frontend files call in their Execute lines.

Obarun's 66 runs ``execl-envfile`` before every Execute line, and real
frontends call ``execl-cmdline``, ``execl-toc`` and ``execl-subuidgid``
from the ``66-tools`` package, which Debian does not ship.  This package
holds their logic (argv and block parsing, execline-style substitution,
test-or-create, environment files); ``ovis.cli.tools66`` holds the thin
commands that then ``exec`` into the rest of their command line.

These run inside every service start: every module here imports only a
few cheap stdlib modules (no pathlib, no ovis engine), and nothing stays
resident.
"""

"""How a booted system runs ovis again: this interpreter and this very package.

Stage 1 writes the command into s6-svscan's scripts (stage 4, the signal
handlers), the skeleton writes it into rc.init and rc.shutdown, and stage 3
re-executes itself with it.  Those run with the clean boot environment, in
whatever directory s6-svscan sits, so ``python -m ovis`` there would import
whichever ``ovis`` the interpreter finds first (another checkout installed
editable, a copy in the current directory, a PYTHONPATH from init.conf).
Instead the command names the package's directory itself and runs Python
isolated (``-I``: no PYTHONPATH, no user site, no current directory), so
the system that booted keeps running exactly the code it booted with.  It
also skips ``site`` (``-S``): ovis needs nothing but the standard library,
and the ``.pth`` hooks of whatever else is installed cost a good part of
every start where Python is slow (a small board, an emulated CPU: the boot
and shutdown stages run this command several times).

:func:`runs_self` recognises a script line that only execs this command, so
that a stage can do that work in-process instead of starting Python again.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

# What json.dumps writes of a str or a list of str (also a Python literal of it), without
# the json package (stage 1 imports none of it).
from ovis.jsonlite import dumps as _literal


#: Run by ``python -I -S -c``: the package root goes on sys.path ({root}: a JSON string),
#: after the standard library, as the lean launchers put it: with ``-I -S`` nothing else
#: is there (no site-packages, no PYTHONPATH, no current directory), so this ovis is the
#: one imported; first, it would be one more directory stat'ed for every standard-library
#: import (the import system checks each entry's mtime): some 80 per start of the engine,
#: each a round trip to the disk where file metadata is slow (a VM's 9p root).
_CODE = ("import sys;sys.path.append({root});sys.argv[0]=\"ovis\";"
         "from ovis.cli.main import entrypoint;entrypoint()")
#: What ovis wrote before (the root first): still recognised in an installed skeleton's scripts.
_OLD_CODE = _CODE.replace("sys.path.append(", "sys.path.insert(0,")


#: The same for the commands of PID 1's own scripts (ovis.cli.stagecmd: stage 4, power verbs).
_STAGE_CODE = ("import sys;sys.path.append({root});sys.argv[0]=\"ovis\";"
               "from ovis.cli.stagecmd import entrypoint;entrypoint()")


def package_root() -> Path:
    """The directory holding the ``ovis`` package that is running now."""
    import ovis

    return Path(ovis.__file__).resolve().parent.parent


def argv(python: str | None = None, root: Path | None = None) -> list[str]:
    """The argv prefix that runs this ovis: ``argv() + ["status"]``."""
    code = _CODE.format(root=_literal(str(root or package_root())))
    return [python or sys.executable, "-I", "-S", "-c", code]


def stage_argv(python: str | None = None, root: Path | None = None) -> list[str]:
    """:func:`argv` through the lean entry of stage 4 and the power verbs."""
    code = _STAGE_CODE.format(root=_literal(str(root or package_root())))
    return [python or sys.executable, "-I", "-S", "-c", code]


#: A script of PID 1's (``.s6-svscan/finish``, the signal handlers) as the Python it runs.
_STAGE_SCRIPT = """\
#!{python} -IS
# Written by `ovis boot`: the lean entry of this ovis (see ovis.cli.stagecmd), run by the
# kernel straight from this line: no /bin/sh exec'd before Python at shutdown.
import sys
sys.path.append({root})
sys.argv[0] = "ovis"
sys.argv[1:] = {args}
from ovis.cli.stagecmd import entrypoint
entrypoint()
"""


def stage_script(args: list[str], python: str | None = None, root: Path | None = None) -> str:
    """The text of a script that runs :func:`stage_argv` + *args* (its own arguments ignored).

    The interpreter is the script's ``#!`` line (``-IS`` as one word: the kernel passes
    one argument); one whose path a ``#!`` line cannot hold (a space, over 200 bytes)
    gets the ``#!/bin/sh`` + ``exec`` script instead.
    """
    python = python or sys.executable
    if any(c.isspace() for c in python) or len(python) > 200:
        return f"#!/bin/sh\nexec {shlex.join([*stage_argv(python, root), *args])}\n"
    return _STAGE_SCRIPT.format(python=python, root=_literal(str(root or package_root())),
                                args=_literal(list(args)))


def command(python: str | None = None, root: Path | None = None) -> str:
    """:func:`argv` as shell words, for the scripts the boot writes."""
    return shlex.join(argv(python, root))


def runs_self(words: list[str]) -> list[str] | None:
    """The ovis arguments when *words* (``exec`` + a command line) run this very ovis.

    This very ovis: this interpreter, isolated, on this package (what
    :func:`argv` writes, with or without ``-S``).  Anything else, None: the
    caller then runs the script as it is.
    """
    if len(words) < 5 or words[0] != "exec" or words[1] != sys.executable:
        return None
    try:
        c = words.index("-c", 2)
    except ValueError:
        return None
    if set(words[2:c]) - {"-I", "-S"} or "-I" not in words[2:c] or c + 1 >= len(words):
        return None
    root = _literal(str(package_root()))
    if words[c + 1] not in (_CODE.format(root=root), _OLD_CODE.format(root=root)):
        return None
    rest = words[c + 2:]
    if not all(w and all(ch.isalnum() or ch in "-_" for ch in w) for w in rest):
        return None  # an operator, a redirection, a variable: shell work, not just ovis
    return rest


def script_runs_self(path: str) -> list[str] | None:
    """:func:`runs_self` for a shell script made of comments and one ``exec`` line.

    The skeleton's rc.init and rc.shutdown are such scripts (``exec @OVIS@
    stage2``); once a user adds a command of their own, the script runs as
    written.
    """
    try:
        with open(path) as f:
            text = f.read(65536)
    except (OSError, UnicodeDecodeError):
        return None
    body = [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    if len(body) != 1 or not text.startswith("#!/bin/sh\n"):
        return None
    try:
        words = shlex.split(body[0])
    except ValueError:
        return None
    return runs_self(words)

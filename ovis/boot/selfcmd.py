"""How a booted system runs ovis again: this interpreter and this very package.

Stage 1 writes the command into s6-svscan's scripts (stage 4, the signal
handlers), the skeleton writes it into rc.init and rc.shutdown, and stage 3
re-executes itself with it.  Those run with the clean boot environment, in
whatever directory s6-svscan sits, so ``python -m ovis`` there would import
whichever ``ovis`` the interpreter finds first (another checkout installed
editable, a copy in the current directory, a PYTHONPATH from init.conf).
Instead the command names the package's directory itself and runs Python
isolated (``-I``: no PYTHONPATH, no user site, no current directory), so
the system that booted keeps running exactly the code it booted with.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

#: Run by ``python -I -c``: the package root goes first on sys.path ({root}: a JSON string).
_CODE = ("import sys;sys.path.insert(0,{root});sys.argv[0]=\"ovis\";"
         "from ovis.cli.main import entrypoint;entrypoint()")


def package_root() -> Path:
    """The directory holding the ``ovis`` package that is running now."""
    import ovis

    return Path(ovis.__file__).resolve().parent.parent


def argv(python: str | None = None, root: Path | None = None) -> list[str]:
    """The argv prefix that runs this ovis: ``argv() + ["status"]``."""
    code = _CODE.format(root=json.dumps(str(root or package_root())))
    return [python or sys.executable, "-I", "-c", code]


def command(python: str | None = None, root: Path | None = None) -> str:
    """:func:`argv` as shell words, for the scripts the boot writes."""
    return shlex.join(argv(python, root))

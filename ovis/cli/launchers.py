"""Lean launchers: rewrite the console scripts pip installed for ovis.

pip writes every console script as ``#!PYTHON`` + ``import re`` + the
entry point, so each ``ovis`` or ``aa-*`` command first runs ``site``:
every ``.pth`` file of the interpreter (on some machines one imports
certifi, pathlib, zipfile... at each start), the user site, PYTHONPATH and,
for ``python -m``, the current directory.  ovis needs none of it (it uses
the standard library only), and boot scripts call these commands dozens of
times, where a slow CPU makes each start cost seconds.

This rewrites each script pip listed in the installed distribution's
RECORD (so ``pip uninstall ovis`` still removes it) into::

    #!PYTHON -IS
    import sys
    sys.path.append(ROOT)
    from MODULE import FUNC
    from ovis.cli.leave import run
    run(FUNC)

``-I`` (isolated) leaves out PYTHONPATH, the user site and the script's or
current directory, so nobody can plant a module that a root command then
imports; ``-S`` skips ``site``.  ROOT is the directory holding the ``ovis``
package of the installation (site-packages, or the checkout of an editable
install in compat mode), appended after the standard library, so exactly
that ovis runs.  :func:`ovis.cli.leave.run` ends the process once the
command returned, without the interpreter's finalisation (5 to 9 ms of a
command).  The entry points are read from the distribution's own
metadata: pyproject.toml's ``[project.scripts]`` is the only list.

Run it with the interpreter pip installed into, after each install::

    python3 -m ovis.cli.launchers           # rewrite
    python3 -m ovis.cli.launchers --check   # list scripts that are not lean (exit 1)
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import stat
import sys
from pathlib import Path

from ovis.record import Frozen

#: The interpreter flags of a lean launcher (one word: the kernel passes a
#: shebang's arguments as a single one).
FLAGS = "-IS"

_TEXT = """\
#!{python} {flags}
# ovis launcher for the entry point {name} = {value}, written by
# `python3 -m ovis.cli.launchers` over pip's script (the RECORD still lists it).
# -I: no PYTHONPATH, user site or current directory; -S: no site, no .pth.
import sys
sys.path.append({root!r})
from {module} import {func}
from ovis.cli.leave import run
run({func})
"""


class LauncherError(Exception):
    """The installation cannot be given lean launchers (the message says why)."""


class Launcher(Frozen):
    __slots__ = ("name", "value", "path")

    def __init__(self, name: str, value: str, path: Path) -> None:
        s = object.__setattr__
        s(self, "name", name)  # the command, e.g. aa-echo
        s(self, "value", value)  # the entry point, module:function
        s(self, "path", path)  # where pip installed the script


#: The first lines for an interpreter a #! line cannot name (a space in its
#: path, or longer than the kernel reads): sh execs it, Python reads a string.
_TRAMPOLINE = """\
#!/bin/sh
'''exec' {python} {flags} "$0" "$@"
' '''
"""


def launcher_text(python: str, root: str, name: str, value: str) -> str:
    """The lean launcher of entry point ``name = value`` for *python* and the ovis in *root*."""
    import shlex

    module, _, func = value.partition(":")
    func = func.strip()
    if not module or not func.isidentifier() or "[" in value:
        raise LauncherError(f"{name}: unsupported entry point {value!r}")
    text = _TEXT.format(python=python, flags=FLAGS, name=name, value=value, root=root,
                        module=module.strip(), func=func)
    if any(c.isspace() for c in python) or len(python) > 200:
        if "'" in python:
            raise LauncherError(f"{name}: cannot start an interpreter whose path has a quote: {python!r}")
        text = _TRAMPOLINE.format(python=shlex.quote(python), flags=FLAGS) + text.split("\n", 1)[1]
    return text


def _distribution():  # type: ignore[no-untyped-def]
    from importlib import metadata

    # The first one pip installed (it has a RECORD): not an ovis.egg-info
    # that a checkout in the current directory puts first on sys.path.
    for dist in metadata.distributions(name="ovis"):
        if dist.read_text("RECORD") is not None:
            return dist
    raise LauncherError(f"ovis is not installed for {sys.executable} (pip install ovis first)")


def package_root(dist) -> Path:  # type: ignore[no-untyped-def]
    """The directory holding the installed ``ovis`` package (not whatever the cwd shadows).

    A regular install lists ovis/__init__.py in RECORD; an editable install
    in compat mode lists a ``.pth`` file naming the checkout.
    """
    files = list(dist.files or ())
    for f in files:
        if f.as_posix() == "ovis/__init__.py":
            return Path(dist.locate_file("")).resolve()
    for f in files:
        if f.name.endswith(".pth"):
            try:
                lines = Path(dist.locate_file(f)).read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import")) and (Path(line) / "ovis" / "__init__.py").is_file():
                    return Path(line).resolve()
    raise LauncherError("cannot tell where the installed ovis package lives (an editable install "
                        "needs --config-settings editable_mode=compat)")


def launchers(dist) -> list[Launcher]:  # type: ignore[no-untyped-def]
    """Every console script of *dist* with the file pip wrote for it."""
    scripts = {}
    for f in dist.files or ():
        scripts.setdefault(f.name, Path(dist.locate_file(f)))
    out = []
    for ep in dist.entry_points:
        if ep.group != "console_scripts":
            continue
        path = scripts.get(ep.name)
        if path is None:
            raise LauncherError(f"{ep.name}: not listed in the installation's RECORD")
        out.append(Launcher(ep.name, ep.value, Path(os.path.normpath(path))))
    return sorted(out, key=lambda x: x.name)


def _check_root(root: Path) -> list[str]:
    """Refuse a package directory everyone may write: root would run what anybody put there.

    One owned by another user is only warned about: an editable install
    from a user's checkout runs that user's code as root with pip's
    scripts too (its .pth names the same directory), and setup.sh must
    keep working for it.
    """
    warnings = []
    for d in (root, root / "ovis"):
        st = d.stat()
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            raise LauncherError(f"{d} is writable by everyone: not putting it on root's sys.path")
        if os.geteuid() == 0 and st.st_uid != 0:
            warnings.append(f"{d} is owned by uid {st.st_uid}: root's ovis commands run code that user can change")
    return warnings


def _interpreter(path: Path) -> str:
    """The interpreter of pip's script (the venv's, not the base's), else this one."""
    try:
        with open(path, "rb") as f:
            first = f.readline(512).decode()
    except (OSError, UnicodeDecodeError):
        first = ""
    if first.startswith("#!") and not first.startswith("#!/bin/sh"):  # pip's sh trampoline
        words = first[2:].split()
        if words and os.path.isabs(words[0]) and os.access(words[0], os.X_OK):
            return words[0]
    return sys.executable


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _update_record(dist, written: dict[Path, bytes]) -> None:  # type: ignore[no-untyped-def]
    """Give RECORD the new scripts' hashes and sizes (pip uninstall works either way)."""
    record = None
    for f in dist.files or ():
        if f.name == "RECORD" and f.parent.name.endswith(".dist-info"):
            record = Path(dist.locate_file(f))
    if record is None:
        return
    rows = list(csv.reader(io.StringIO(record.read_text())))
    base = record.parent.parent
    for row in rows:
        if row and (data := written.get(Path(os.path.normpath(base / row[0])))) is not None:
            row[1:] = [_record_hash(data), str(len(data))]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    _write(record, buf.getvalue().encode(), record.stat().st_mode & 0o777)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def expected(dist=None) -> dict[Path, str]:  # type: ignore[no-untyped-def]
    """Each console script's path and the lean launcher it should hold."""
    dist = dist or _distribution()
    root = str(package_root(dist))
    return {ln.path: launcher_text(_interpreter(ln.path), root, ln.name, ln.value)
            for ln in launchers(dist)}


def install(dist=None) -> list[Path]:  # type: ignore[no-untyped-def]
    """Rewrite every console script of the installed ovis (or *dist*) into its lean launcher."""
    dist = dist or _distribution()
    for w in _check_root(package_root(dist)):
        print(f"ovis: warning: launchers: {w}", file=sys.stderr)
    written: dict[Path, bytes] = {}
    for path, text in expected(dist).items():
        data = text.encode()
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        if current != data:
            _write(path, data, 0o755)
        written[path] = data
    _update_record(dist, written)
    return sorted(written)


def stale(dist=None) -> list[Path]:  # type: ignore[no-untyped-def]
    """The console scripts that are missing or not the lean launcher they should be."""
    out = []
    for path, text in expected(dist).items():
        try:
            ok = path.read_text() == text
        except (OSError, UnicodeDecodeError):
            ok = False
        if not ok:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--check"]):
        print("usage: python3 -m ovis.cli.launchers [--check]", file=sys.stderr)
        return 2
    try:
        if args == ["--check"]:
            bad = stale()
            for p in bad:
                print(f"ovis: not a lean launcher: {p}", file=sys.stderr)
            return 1 if bad else 0
        done = install()
    except (LauncherError, OSError) as e:
        print(f"ovis: error: launchers: {e}", file=sys.stderr)
        return 2
    print(f"ovis: {len(done)} lean launchers in {done[0].parent if done else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

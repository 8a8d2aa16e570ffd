"""The default skeleton (init.conf, rc.*, environment/) shipped with ovis.

``ovis skel install DIR`` writes it, filling in the absolute command that
runs this very ovis (``@OVIS@``), the skeleton directory (``@SKEL@``) and a
PATH that finds both the system tools and ovis (``@PATH@``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ovis import atomic
from ovis.paths import DEFAULT_PATH

FILES = ("init.conf", "rc.init", "rc.init.container", "rc.shutdown", "rc.shutdown.final",
         "environment/00-ovis")
EXECUTABLE = {"rc.init", "rc.init.container", "rc.shutdown", "rc.shutdown.final"}


def ovis_command() -> str:
    """How a script runs this ovis: this interpreter on this package (see selfcmd)."""
    from ovis.boot import selfcmd

    return selfcmd.command()


def boot_path() -> str:
    extra = str(Path(sys.executable).parent)
    parts = DEFAULT_PATH.split(":")
    return DEFAULT_PATH if extra in parts else f"{DEFAULT_PATH}:{extra}"


def template(name: str) -> str:
    return (Path(__file__).resolve().parent.parent / "skel" / name).read_text()


def install(dest: Path, *, overwrite: bool = False) -> list[Path]:
    """Write the skeleton into *dest*; existing files are kept unless *overwrite*."""
    written = []
    for name in FILES:
        target = dest / name
        if target.exists() and not overwrite:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (template(name).replace("@OVIS@", ovis_command()).replace("@SKEL@", str(dest))
                .replace("@PATH@", boot_path()))
        atomic.write_text(target, text, 0o755 if name in EXECUTABLE else 0o644)
        written.append(target)
    return written


def has_sulogin() -> bool:
    return shutil.which("sulogin") is not None


def set_conf(initconf: Path, **values: str) -> None:
    """Set init.conf keys in place: a key's line is replaced, a new key appended.

    Comments and the other lines stay as they are, so an installed skeleton
    keeps its documentation (tests and the VM scenarios tune it this way).
    """
    lines = initconf.read_text().splitlines()
    for key, value in values.items():
        for i, line in enumerate(lines):
            if line.startswith(key + "="):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
    atomic.write_text(initconf, "\n".join(lines) + "\n")

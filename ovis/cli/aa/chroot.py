"""aa-chroot: chroot into NEWROOT and exec COMMAND (the last step of stage 3).

aa-stage3 does ``cp /bin/aa-chroot .``, pivots into the shutdown initramfs,
then runs ``./aa-chroot . /shutdown ACTION`` from there, where the ovis
package is not importable.  So this module and output.py use the standard
library only, and :func:`standalone_script` turns the pair into one file that
runs anywhere: an sh/Python polyglot that uses python3 when the new root has
one, else chroot(8), else (NEWROOT already is "/", as right after aa-pivot)
a plain exec.  Install it as /bin/aa-chroot in the initramfs and on the root
filesystem (:func:`write_standalone`); the console script of the same name
works as usual on a full system.

Exit 2 cannot chdir to NEWROOT, 3 chroot failed, 4 exec failed.  Option
parsing stops at COMMAND (anopa's getopt would take "-l" in
``aa-chroot . ls -l`` as its own option, against its documented synopsis).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path  # the writers of the standalone script only: pathlib (with re,
    # enum, urllib...) is some 35 modules of each start, and anopa's stages run this twice

from .output import COMMON_LONGOPTS, DOUBLE_LINE, HELP_LINES, VERSION, Tool

PROG = "aa-chroot"
DETAILS = DOUBLE_LINE + HELP_LINES


def main(argv: list[str] | None = None) -> int:
    tool = Tool(PROG, "NEWROOT COMMAND [ARG...]", DETAILS)
    out = tool.out

    def body(args: list[str]) -> int:
        for _ in tool.options(args, "+DhV", COMMON_LONGOPTS):
            pass
        if len(tool.operands) < 2:
            tool.usage(1)
        newroot, command = tool.operands[0], tool.operands[1:]
        try:
            os.chdir(newroot)
        except OSError as e:
            out.die_unable(2, f"chdir to {newroot}", e)
        try:
            os.chroot(".")
        except OSError as e:
            out.die_unable(3, "chroot", e)
        try:
            os.chdir("/")
        except OSError as e:
            out.die_unable(3, "chdir to new root", e)
        out.flush()
        try:
            os.execvp(command[0], command)
        except OSError as e:
            out.die_unable(4, f"exec {command[0]}", e)
        return 4  # not reached

    return tool.run(body, argv)


def entrypoint() -> None:
    sys.exit(main())


_SH_PART = """\
#!/bin/sh
''':'
# aa-chroot (ovis @VERSION@), standalone: this file needs no ovis package.
# This part is sh: run the Python below with python3 if there is one, else
# fall back to chroot(8), else (NEWROOT already is /) to a plain exec.
# No redirection to /dev/null: the new root may have no /dev yet.
for py in python3 /usr/bin/python3 /bin/python3; do
    if found=$(command -v "$py"); then exec "$found" -S "$0" "$@"; fi
done
usage='Usage: aa-chroot NEWROOT COMMAND [ARG...]

@DETAILS@'
while [ $# -gt 0 ]; do
    case $1 in
        -D|--double-output) shift ;;
        -h|--help) printf '%s' "$usage"; exit 0 ;;
        -V|--version) echo "aa-chroot (ovis) @VERSION@"; exit 0 ;;
        --) shift; break ;;
        -?*) echo "aa-chroot: unrecognized option '$1'" >&2; printf '%s' "$usage"; exit 1 ;;
        *) break ;;
    esac
done
if [ $# -lt 2 ]; then printf '%s' "$usage"; exit 1; fi
if [ ! -d "$1" ] || ! cd "$1"; then echo "aa-chroot: fatal: unable to chdir to $1" >&2; exit 2; fi
shift
if found=$(command -v chroot); then exec "$found" . "$@"; fi
if [ "$(pwd -P)" = / ]; then exec "$@"; fi
echo "aa-chroot: fatal: unable to chroot: no python3 and no chroot(8)" >&2
exit 3
'''
"""


def _module_body(path: Path) -> str:
    """A module's source minus what cannot work standalone.

    Dropped: ``from __future__`` (the script has one at its top), relative
    imports (the modules are inlined instead) and lines tagged
    "standalone: drop" (output.py's ovis import).
    """
    keep: list[str] = []
    skipping = False
    for line in path.read_text().splitlines():
        if skipping:
            skipping = ")" not in line
            continue
        if line.startswith(("from .", "from __future__ import")):
            skipping = line.rstrip().endswith("(")
            continue
        if line.rstrip().endswith("# standalone: drop"):
            continue
        keep.append(line)
    return "\n".join(keep) + "\n"


def standalone_script() -> str:
    """The self-contained aa-chroot: sh/Python polyglot, stdlib only.

    In sh, ``''':'`` is the no-op command ":" and the sh part exits before
    the closing quotes; in Python the sh part is the module docstring.
    """
    from pathlib import Path

    here = Path(__file__).resolve().parent
    header = _SH_PART.replace("@VERSION@", VERSION).replace("@DETAILS@", DETAILS)
    inner = header.split("''':'", 1)[1].rsplit("'''", 1)[0]
    assert "'''" not in inner and "\\" not in inner, "the sh part must stay a plain Python string"
    assert "'" not in DETAILS, "DETAILS is single-quoted in sh"
    return (
        header
        + "from __future__ import annotations\n\n"
        + f'VERSION = "{VERSION}"\n'
        + _module_body(here / "output.py")
        + _module_body(here / "chroot.py").split("\ndef entrypoint()")[0]
        + '\n\nif __name__ == "__main__":\n    sys.exit(main())\n'
    )


def write_standalone(path: str | os.PathLike[str]) -> None:
    """Install :func:`standalone_script` at *path*, mode 0755 (atomically)."""
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(standalone_script())
    os.chmod(tmp, 0o755)
    os.rename(tmp, path)

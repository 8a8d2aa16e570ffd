"""Paths as normalised strings: what ``str(pathlib.PurePosixPath(p))`` gives, without pathlib.

pathlib brings fnmatch, re, enum, urllib.parse and ipaddress (some 25
modules) into whatever imports it; the model, the engine and the errors
join and normalise plain strings with these instead.  (A leaf module:
:mod:`ovis.errors` uses it, and :mod:`ovis.paths` imports the errors.)
"""

from __future__ import annotations

import os


def normpath(p: str | os.PathLike[str]) -> str:
    """``str(pathlib.PurePosixPath(p))`` without importing pathlib.

    pathlib brings fnmatch, re, enum, urllib.parse and ipaddress (some 35
    modules, ~25 ms) into every command that resolves its paths; this gives
    the same string (repeated and trailing slashes and ``.`` components
    dropped, ``..`` kept, a leading ``//`` kept, ``""`` is ``.``).
    """
    if not isinstance(p, str):
        return str(p) if type(p).__module__ == "pathlib" else normpath(os.fspath(p))
    if "//" not in p and "/./" not in p and p[-1:] not in ("/", ".") and p[:2] != "./":
        return p if p else "."
    root = "/" if p[:1] == "/" else ""
    if p[:2] == "//" and p[2:3] != "/":
        root = "//"
    return (root + "/".join(c for c in p.split("/") if c and c != ".")) or "."


def parent(p: str) -> str:
    """``str(PurePosixPath(p).parent)`` for a normalised *p* (see :func:`normpath`)."""
    head, sep, _tail = p.rpartition("/")
    if not sep:
        return "."
    return head if head and head != "/" * len(head) else p[:len(head) + 1] if head else "/"

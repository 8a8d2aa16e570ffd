"""66 frontend service files, in both dialects 66 has used, into the model.

Two dialects describe the same things (see research/66.md §3):

``@key`` dialect (66 ≤ 0.7)::

    [main]
    @type = classic
    @depends = ( dbus )
    [start]
    @execute = ( foo -d )

0.8 dialect::

    [Main]
    Type = classic
    Depends = ( dbus )
    [Start]
    Execute = ( foo -d )

A file must stick to one of them: mixing is almost always a half-done
migration, and guessing which half the author meant would be worse than
saying so.

Syntax, as in 66: ``key = value``; ``#`` starts a comment to the end of the
line; in ``( ... )`` lists a ``#word`` comments out that word and a lone
``#`` the rest of the line; lists may span lines, and the ``(`` may be on
the line after the key; ``Execute = ( ... )`` takes the text up to its
closing ``)`` verbatim, found as 66 finds it (see
:func:`find_closing_paren`: a shell ``case x)`` stays in the script);
``Description`` may be double-quoted.

Lenient where 66 is, and where being lenient is harmless (each such case
is recorded in ``Service.warnings`` for ``ovis check``):

- only ``Type`` and ``[Start] Execute`` are required (66 also wants Version,
  Description and User); a ``Version`` that is given must be ``N.N.N``;
- ``longrun`` (old name of ``classic``), ``@name``, ``InTree``, the
  ``pipeline`` option, the ``nosetsid`` flag, ``[logger] @depends``:
  accepted with a warning; bundles, modules and ``[regex]`` are refused,
  since running them differently would change what the service does;
- list keys also accept a bare value on one line (``Depends = a b``);
- a custom ``Execute`` may have blank space before its ``#!`` line (66
  needs ``#!`` right after ``(``), ovis strips it;
- ``@shebang`` (deprecated in 66): with a custom build it becomes the
  script's ``#!`` line when the body has none; with the auto build it is
  accepted and ignored, since ovis always writes the execline interpreter;
- ``[Environment]`` ``KEY=!value`` keeps ``value`` and lists KEY in
  ``Service.env_unexported``; ``${var}`` references are kept for the
  compiler; a NUL byte (in a value or an Execute) is refused;
- ``[Logger]`` keys are ignored when ``Options = ( !log )`` or StdOut is not
  ``s6log``; a ``[Logger]`` ``Execute`` replaces the generated s6-log
  command line (an execline body with the auto build, a whole script with
  the custom build).

Instances and identifiers: for ``getty@tty1`` read from the template
``getty@``, every ``@I`` becomes ``tty1`` before parsing
(:func:`substitute_instance`), and ``@U @u @G @g @H @S @R`` become the
identifiers of the user running ovis (:func:`substitute_identifiers`).

Errors are :class:`~ovis.errors.DefinitionError` naming the file, the line
of the offending key (or, in a list, of the offending element) and the key
as written.  ``Service.lines``/``keys`` record the same for later errors,
including one ``depends/NAME`` entry per listed name.

Layout: :mod:`.keys` (the vocabulary), :mod:`.lexer` (syntax, shared by
both dialects), :mod:`.convert` (values), :mod:`.build` (sections ->
Service); this module holds the entry points.
"""

from __future__ import annotations

import os

from ovis.errors import DefinitionError
from ovis.service.formats.sixtysix.build import _Builder
from ovis.service.formats.sixtysix.keys import MAIN, SECTION_TITLE, V08
from ovis.service.formats.sixtysix.lexer import _Lexer, find_closing_paren, strip_comment
from ovis.service.formats.sixtysix.plain import identifiers_in, substitute
from ovis.paths import normpath
from ovis.service.model import Service, is_valid_name
from ovis.service.sources import read_source

__all__ = ["parse_frontend", "substitute_instance", "read_definition", "find_closing_paren",
           "strip_comment"]


def substitute_instance(text: str, name: str) -> str:
    """Replace ``@I`` as 66 does: by the text after the first ``@`` of *name*,
    or by the whole name when it is not an instance."""
    instance = name.split("@", 1)[1] if "@" in name else name
    return text.replace("@I", instance)


def identifiers(uid: int | None = None) -> dict[str, str]:
    """66's user identifiers for the user running the service manager.

    ``@U`` user name, ``@u`` uid, ``@G`` group name, ``@g`` gid, ``@H``
    home, ``@S`` shell, ``@R`` runtime directory (``/run`` for root, else
    ``$XDG_RUNTIME_DIR`` or ``/run/user/UID``).  The manager is whoever runs
    ovis: its effective uid, looked up in the user database.
    """
    import grp
    import pwd

    uid = os.geteuid() if uid is None else uid
    try:
        entry = pwd.getpwuid(uid)
        user, gid, home, shell = entry.pw_name, entry.pw_gid, entry.pw_dir, entry.pw_shell
    except KeyError:
        user, gid, home, shell = str(uid), os.getegid(), os.environ.get("HOME", "/"), "/bin/sh"
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    if uid == 0:
        runtime = "/run"
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    return {"U": user, "u": str(uid), "G": group, "g": str(gid), "H": home, "S": shell, "R": runtime}


#: ``@U`` ... ``@R`` not followed by a letter or digit: ``@user`` stays a key
#: (:func:`.plain.identifiers_in`, which ``@([UuGgHSR])(?![A-Za-z0-9_])`` found).


def substitute_identifiers(text: str, values: dict[str, str] | None = None) -> str:
    """Replace 66's user identifiers (see :func:`identifiers`) in *text*."""
    if "@" not in text or not identifiers_in(text):
        return text
    table = identifiers() if values is None else values
    return substitute(text, table)


def read_definition(path: str, name: str) -> str:
    """Text of a definition file, with unreadable files as DefinitionError."""
    return read_source(path, name)


def parse_frontend(path: str | os.PathLike[str], name: str, text: str | None = None) -> Service:
    """Parse the 66 frontend file *path* as the service *name*.

    *text* defaults to the file's content.  For an instance (``getty@tty1``
    read from the template ``getty@``) ``@I`` is replaced before parsing.
    Raises :class:`~ovis.errors.DefinitionError` for the first problem; the
    other statement errors of the file are in its ``more`` attribute.
    """
    path = normpath(path)  # the model's paths are str: no pathlib on the start/status paths
    if not is_valid_name(name):
        raise DefinitionError(path, 1, name, "invalid service name")
    if text is None:
        text = read_definition(path, name)
    lexer = _Lexer(path, substitute_identifiers(substitute_instance(text, name)))
    sections = lexer.run()
    if lexer.errors:
        first = lexer.errors[0]
        first.more = lexer.errors[1:]  # type: ignore[attr-defined]  # for ovis check
        raise first
    if lexer.dialect is None:  # nothing but comments: not even a [Main]
        raise DefinitionError(path, 1, SECTION_TITLE[V08][MAIN], "missing required section")
    service = _Builder(path, name, lexer.dialect, sections).build()
    service.warnings[:0] = lexer.warnings
    return service

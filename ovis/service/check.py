"""``ovis check``: every problem of a set of definitions, as a report.

The CLI only prints the :class:`CheckReport`; deciding what is checked and
how lives here, so other front ends (``aa-*``, tests) get the same verdict.

What is reported:

- errors: everything that stops a definition from being used: every
  statement error of a file (the readers collect them), unknown hard
  dependencies, cycles;
- warnings: what is accepted but probably not meant: the readers' lenient
  cases (``Service.warnings``), wanted services that do not exist, an
  Execute whose command is not on the service's PATH, unbalanced execline
  ``{ }`` blocks.

A file named by path gets the same verdict as by name: its dependencies
are looked up in the search path either way.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Iterable

from ovis.errors import OvisError
from ovis.paths import DEFAULT_PATH  # the PATH of a service that sets none
from ovis.record import Record
from ovis.service.model import Program, ProgramKind, Service
from ovis.service.repository import Repository

#: Where Debian keeps execline's programs (execlineb finds them there).
EXECLINE_BIN = "/usr/lib/execline/bin"


class CheckReport(Record):
    """What ``ovis check`` found: lines are ``FILE:LINE: KEY: message``."""

    __slots__ = ("checked", "errors", "warnings")

    def __init__(self, checked: dict[str, Service] | None = None, errors: list[str] | None = None,
                 warnings: list[str] | None = None) -> None:
        self.checked = {} if checked is None else checked
        self.errors = [] if errors is None else errors
        self.warnings = [] if warnings is None else warnings

    @property
    def ok(self) -> bool:
        return not self.errors


def _messages(exc: OvisError) -> list[str]:
    return [str(exc), *(str(more) for more in getattr(exc, "more", ()))]


def _by_path(repo: Repository, target: str) -> bool:
    return "/" in target or (os.path.exists(target) and repo.locate(target) is None)


def check(repo: Repository, targets: Iterable[str] | None = None) -> CheckReport:
    """Check *targets* (names or paths; default: every name in the search path)."""
    from ovis.engine.graph import Graph, where_edge

    report = CheckReport()
    repo.warnings.clear()
    names = list(targets) if targets else repo.names()
    for target in names:
        try:
            if _by_path(repo, target):
                svc = repo.load_path(Path(target))
                report.checked[svc.name] = svc
                needed = []
                for dep in svc.depends:
                    if repo.locate(dep) is None:
                        path, line, spelled = where_edge(svc, "depends", dep)
                        report.errors.append(f"{path}:{line}: {spelled}: unknown service '{dep}'")
                    else:
                        needed.append(dep)
                for dep in svc.wants:
                    if repo.locate(dep) is None:
                        path, line, spelled = where_edge(svc, "wants", dep)
                        repo.warnings.append(f"{path}:{line}: {spelled}: wanted service '{dep}' not found: skipped")
                    else:
                        needed.append(dep)
                report.checked.update(repo.closure(needed))
            else:
                report.checked.update(repo.closure([target]))
        except OvisError as exc:
            report.errors.extend(_messages(exc))
    if not report.errors:
        try:
            Graph.build(report.checked).check_acyclic()
        except OvisError as exc:
            report.errors.extend(_messages(exc))
    for name in sorted(report.checked):
        report.warnings.extend(service_warnings(report.checked[name]))
    report.warnings.extend(dict.fromkeys(repo.warnings))
    return report


def service_warnings(svc: Service) -> list[str]:
    """The warnings of one parsed service, formatted."""
    lines = [f"{path}:{line}: {key}: {message}" for path, line, key, message in svc.warnings]
    search = svc.env.get("PATH", DEFAULT_PATH).replace("${PATH}", DEFAULT_PATH)
    for field_name, program in (("start", svc.start), ("stop", svc.stop)):
        if program is None:
            continue
        path, line = svc.where(field_name)
        key = svc.key_as_written(field_name)
        lines.extend(f"{path}:{line}: {key}: {message}" for message in program_warnings(program, search))
    return lines


def program_warnings(program: Program, search: str) -> list[str]:
    """Why *program* will probably not start: missing command, unbalanced blocks."""
    found: list[str] = []
    if program.kind is ProgramKind.EXECLINE:
        words = _words(program.text)
        opened = closed = 0
        for word in words:
            if word == "{":
                opened += 1
            elif word == "}":
                closed += 1
                if closed > opened:
                    break
        if opened != closed:
            found.append(f"unbalanced execline block: {opened} '{{' and {closed} '}}'")
        if words and not _on_path(words[0], search):
            found.append(f"command not found on PATH ({search}): {words[0]}")
    elif program.kind is ProgramKind.VERBATIM:
        first = program.text.split("\n", 1)[0]
        interpreter = first[2:].split()[0] if first.startswith("#!") and first[2:].split() else ""
        if interpreter and not os.access(interpreter, os.X_OK):
            found.append(f"interpreter not found: {interpreter}")
    return found


def _words(text: str) -> list[str]:
    """Words of an execline text, roughly as execlineb splits them."""
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote: execlineb will say so
        return text.split()


def _on_path(command: str, search: str) -> bool:
    """True when *command* can be run, or when whether it can is not knowable now."""
    if "$" in command or "@" in command:
        return True  # substituted at start time
    if "/" in command:
        return os.access(command, os.X_OK)
    # ovis's own console scripts (66-tools replacements ...) sit next to the interpreter.
    dirs = [*search.split(":"), str(Path(sys.executable).parent), EXECLINE_BIN]
    return any(os.access(os.path.join(d, command), os.X_OK) for d in dirs if d)

"""From the lexed sections of one 66 file to a :class:`~ovis.service.model.Service`."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~10 modules at import (a start that compiles imports this)
if TYPE_CHECKING:
    from typing import Any

from ovis.errors import DefinitionError
from ovis.service.formats.sixtysix.keys import (
    ENVIRONMENT, EXECUTE_KEY, LOGGER, MAIN, SECTION_TITLE, START, STOP, TYPE_KEY,
)
from ovis.service.formats.sixtysix.lexer import Entry, Section
from ovis.service.model import LoggerSpec, Program, ProgramKind, Service
from ovis.service.stdio import derive as derive_stdio  # 66's rules between the three keys

#: Canonical [Main] key -> model field it lands in (for ``lines``/``keys``).
MAIN_FIELDS = {
    "type": "kind", "version": "version", "description": "description", "user": "user",
    "depends": "depends", "requiredby": "requiredby", "optsdepends": "wants",
    "notify": "notify", "timeout_start": "timeout_start", "timeout_stop": "timeout_stop",
    "timeout_kill": "timeout_kill", "timeout_finish": "timeout_finish",
    "max_death": "max_death", "down_signal": "down_signal", "options": "logger",
    "restart_delay": "restart_delay", "restart_delay_max": "restart_delay_max",
    "extdepends": "depends", "copyfrom": "extra_files", "stdin": "stdin", "stdout": "stdout",
    "stderr": "stderr", "name": "name", "intree": "intree",
}

#: Names a CopyFrom entry may not take in the servicedir: the files ovis writes there.
RESERVED = frozenset({"run", "finish", "down", "notification-fd", "timeout-kill", "timeout-finish",
                      "max-death-tally", "down-signal", "log", "supervise", "event", "env",
                      "ovis-env", "ovis.json"})


class _Builder:
    """Turns the lexed sections of one file into a :class:`Service`."""

    def __init__(self, path: str, name: str, dialect: str, sections: dict[str, Section]) -> None:
        self.path = path
        self.name = name
        self.dialect = dialect
        self.sections = sections
        self.lines: dict[str, tuple[str, int]] = {}
        self.keys: dict[str, str] = {}

        self.warnings: list[tuple[str, int, str, str]] = []

    def error(self, line: int, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, line, key, message)

    def warn(self, entry: Entry, message: str) -> None:
        self.warnings.append((self.path, entry.line, entry.key, message))

    def record(self, field_name: str, entry: Entry | Section) -> None:
        self.lines[field_name] = (self.path, entry.line)
        self.keys[field_name] = entry.key if isinstance(entry, Entry) else entry.written

    def title(self, canon: str) -> str:
        return SECTION_TITLE[self.dialect][canon]

    def build(self) -> Service:
        main = self.require_section(MAIN)
        kind = self.require_key(main, "type", TYPE_KEY).value
        values = {canon: entry.value for canon, entry in main.entries.items()}
        for canon, entry in main.entries.items():
            if canon != "flags":
                self.record(MAIN_FIELDS[canon], entry)
        flags = self.flags(main)
        self.lenient(main, kind)
        env, unexported = self.environment()
        options = values.get("options", {"log"})
        stdin, stdout, stderr = derive_stdio(values.get("stdin"), values.get("stdout"),
                                                values.get("stderr"), "nolog" not in options)
        # 66: the logger only exists while stdout goes to it (StdOut unset or s6log).
        log = "nolog" not in options and stdout in (None, "s6log")
        service = Service(
            name=self.name,
            kind=kind,
            source=self.path,
            description=values.get("description", ""),
            version=values.get("version"),
            depends=self.merge(self.dependencies(main, "depends", "depends"),
                               self.dependencies(main, "extdepends", "depends")),
            wants=self.dependencies(main, "optsdepends", "wants"),
            requiredby=self.dependencies(main, "requiredby", "requiredby"),
            start=self.program(START, required=True),
            stop=self.program(STOP, required=STOP in self.sections),
            notify=values.get("notify"),
            timeout_start=values.get("timeout_start"),
            timeout_stop=values.get("timeout_stop"),
            timeout_kill=values.get("timeout_kill"),
            timeout_finish=values.get("timeout_finish"),
            down_signal=values.get("down_signal"),
            max_death=values.get("max_death"),
            restart_delay=values.get("restart_delay"),
            restart_delay_max=values.get("restart_delay_max"),
            env=env,
            env_unexported=unexported,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            logger=self.logger(log),
            down="down" in flags,
            earlier="earlier" in flags,
            essential="essential" in flags,
            user=values.get("user", ()),
            extra_files=self.copyfrom(main),
        )
        service.lines, service.keys = self.lines, self.keys
        service.warnings = self.warnings
        return service

    @staticmethod
    def merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(first + second))

    # -- what 66 accepts and ovis runs the same without ----------------------

    def lenient(self, main: Section, kind: Any) -> None:
        """Warnings for keys and words ovis accepts but does not act on."""
        entries = main.entries
        if "type" in entries and entries["type"].raw == "longrun":
            self.warn(entries["type"], "'longrun' is the old name of 'classic': read as classic")
        if "name" in entries and entries["name"].value != self.name:
            self.warn(entries["name"], f"ignored: the service is named after its file ('{self.name}')")
        if "intree" in entries:
            self.warn(entries["intree"], "ignored: a tree is chosen with 'ovis enable -t TREE'")
        if "options" in entries and "pipeline" in entries["options"].value:
            self.warn(entries["options"], "pipeline: ignored, the logger is fed by a plain pipe as without it")
        if "flags" in entries and "nosetsid" in entries["flags"].value:
            self.warn(entries["flags"], "nosetsid: ignored, s6 starts every service in a new session")

    def copyfrom(self, main: Section) -> dict[str, str]:
        """``CopyFrom`` / ``@hiercopy``: files next to the frontend, by servicedir name.

        A relative name is looked up in the frontend's directory (for
        ``dbus/dbus`` that is ``dbus/``, where its data lives) and keeps its
        relative path in the servicedir; an absolute one keeps its last
        component.  Each is checked now (exists, bounded, no link loops),
        so a start never copies something that cannot be copied.
        """
        from ovis.paths import normpath, parent
        from ovis.service.sources import check_tree

        entry = main.entries.get("copyfrom")
        if entry is None:
            return {}
        files: dict[str, str] = {}
        base = parent(self.path)
        for lineno, word in entry.items:
            source = normpath(word if word.startswith("/") else f"{base}/{word}")
            rel = normpath(word).rpartition("/")[2] if word.startswith("/") else normpath(word)
            if rel in RESERVED or rel.split("/")[0] in RESERVED:
                raise self.error(lineno, entry.key, f"'{rel}' would overwrite a file ovis writes")
            if not os.path.lexists(source):
                raise self.error(lineno, entry.key, f"no such file or directory: {source}")
            check_tree(source, rel)
            files[rel] = source
        return files

    # -- required parts --------------------------------------------------

    def require_section(self, canon: str) -> Section:
        if canon not in self.sections:
            raise self.error(1, self.title(canon), "missing required section")
        return self.sections[canon]

    def require_key(self, section: Section, canon: str, written: dict[str, str]) -> Entry:
        if canon not in section.entries:
            raise self.error(section.line, written[self.dialect], "missing required key")
        return section.entries[canon]

    # -- [Main] pieces -----------------------------------------------------

    def flags(self, main: Section) -> set[str]:
        entry = main.entries.get("flags")
        if entry is None:
            return set()
        for flag in entry.value:
            self.record(flag, entry)
        return set(entry.value)

    def dependencies(self, main: Section, canon: str, field_name: str) -> tuple[str, ...]:
        """Names of a dependency list; each name's own line goes to ``lines``."""
        entry = main.entries.get(canon)
        if entry is None:
            return ()
        for lineno, word in entry.items:
            key = f"{field_name}/{word}"
            if key not in self.lines:
                self.lines[key] = (self.path, lineno)
                self.keys[key] = entry.key
        return tuple(entry.value)

    # -- [Start] / [Stop] / [Logger] ---------------------------------------

    def program(self, canon: str, required: bool) -> Program | None:
        """The Program of a script section (None when the section is absent)."""
        if canon not in self.sections:
            if required:
                raise self.error(1, self.title(canon), "missing required section")
            return None
        section = self.sections[canon]
        if "execute" not in section.entries:
            if not required:
                return None
            raise self.error(section.line, EXECUTE_KEY[self.dialect], "missing required key")
        program = self.script(section)
        self.record(canon, section.entries["execute"])
        return program

    def script(self, section: Section) -> Program:
        """Execute + Build + RunAs (+ @shebang) of one section as a Program."""
        entries = section.entries
        execute = entries["execute"]
        build = entries["build"].value if "build" in entries else "auto"
        runas = entries["runas"].value if "runas" in entries else None
        if runas is not None:  # the compiler's RunAs errors name this line
            canon = next(c for c, s in self.sections.items() if s is section)
            self.record(f"{canon}/runas", entries["runas"])
        if build == "auto":  # layout is not significant in execline: tidy it
            text = dedent(execute.value.lstrip("\n")).strip()
            return Program(ProgramKind.EXECLINE, text=text, runas=runas)
        text = execute.value.strip()
        if not text.startswith("#!") and "shebang" in entries:
            text = f"#!{entries['shebang'].value}\n{text}"
        if not text.startswith("#!"):
            raise self.error(execute.line, execute.key,
                             "a custom build needs a script starting with #! (e.g. #!/bin/sh)")
        return Program(ProgramKind.VERBATIM, text=text + "\n", runas=runas)

    def logger(self, enabled: bool) -> LoggerSpec | None:
        """The s6-log logger every frontend service gets, unless ``!log``."""
        if not enabled:
            return None
        section = self.sections.get(LOGGER)
        if section is None:
            return LoggerSpec()
        entries = section.entries
        if entries.get("build") and entries["build"].value == "custom" and "execute" not in entries:
            raise self.error(section.line, EXECUTE_KEY[self.dialect], "missing required key")
        settings: dict[str, Any] = {
            canon: entries[canon].value
            for canon in ("destination", "backup", "maxsize", "timestamp", "runas",
                          "timeout_start", "timeout_stop", "timeout_kill", "timeout_finish")
            if canon in entries
        }
        if "execute" in entries:
            settings["program"] = self.script(section)
        if "depends" in entries:
            self.warn(entries["depends"], "ignored: a logger starts with its service, whatever it depends on")
        self.record("logger", section)
        return LoggerSpec(**settings)

    # -- [Environment] -----------------------------------------------------

    def environment(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """``[Environment]`` variables in file order, and those written ``KEY=!value``."""
        section = self.sections.get(ENVIRONMENT)
        if section is None:
            return {}, ()
        for key, (lineno, _) in section.env.items():
            self.lines[f"env/{key}"] = (self.path, lineno)
            self.keys[f"env/{key}"] = key
        self.record("env", section)
        return {key: value for key, (_, value) in section.env.items()}, tuple(section.unexported)


def dedent(text: str) -> str:
    """What ``textwrap.dedent`` returns, with str methods (textwrap imports ``re``).

    Lines holding only spaces and tabs become empty; the longest run of
    spaces and tabs that every other line starts with is cut from them all.
    Lines are what ``\\n`` separates (textwrap's ``^``/``$`` in MULTILINE).
    """
    lines = [line if line.strip(" \t") else "" for line in text.split("\n")]
    indents = [line[:len(line) - len(line.lstrip(" \t"))] for line in lines if line]
    if not indents:
        return "\n".join(lines)
    # the prefix common to all is that of the first and last in sorted order
    low, high = min(indents), max(indents)
    cut = next((i for i, (a, b) in enumerate(zip(low, high)) if a != b), len(low))
    return "\n".join(line[cut:] for line in lines) if cut else "\n".join(lines)

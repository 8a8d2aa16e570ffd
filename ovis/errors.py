"""Typed errors raised by the ovis library.

The library never prints or exits: it raises one of these, and ``ovis.cli``
turns it into a one-line message and an exit status.  Each error carries the
exit status it stands for so that the mapping lives next to the meaning
(0 success, 1 a service failed or is not in the asked state, 2 usage or
configuration error).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's costs ~30 modules at import (every ovis command imports this)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


class OvisError(Exception):
    """Base class: anything ovis reports to a user as a plain message."""

    exit_status = EXIT_FAILED


class ConfigError(OvisError):
    """Bad input from a user: nothing was changed."""

    exit_status = EXIT_CONFIG


class UsageError(ConfigError):
    """Bad command line."""


class DefinitionError(ConfigError):
    """A service definition (or init.conf) is wrong at a given place.

    Rendered as ``FILE:LINE: KEY: message`` so editors and humans can jump
    straight to the spot.
    """

    def __init__(self, path: Path | str, line: int, key: str, message: str) -> None:
        from ovis.pathstr import normpath

        self.where = normpath(path)  # what str(Path(path)) prints: pathlib costs ~25 modules
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    @property
    def path(self) -> Path:
        """The file, as a :class:`pathlib.Path` (made when asked for: ``ovis status`` of a
        broken definition reports it without importing pathlib)."""
        from pathlib import Path

        return Path(self.where)

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.key}: {self.message}"


class DependencyCycle(DefinitionError):
    """Hard or ordering dependencies loop back on themselves."""

    def __init__(self, chain: Sequence[str], path: Path | str, line: int, key: str) -> None:
        self.chain = tuple(chain)
        super().__init__(path, line, key, "dependency cycle: " + " -> ".join(self.chain))


class UnknownService(ConfigError):
    """A name given by the user matches no definition."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown service: {name}")


class StateError(OvisError):
    """The live system is not in a shape that allows the operation."""


class NotSupervised(StateError):
    """No s6-supervise is reading a service's control fifo."""

    def __init__(self, servicedir: Path | str, detail: str = "no supervisor is listening") -> None:
        from ovis.pathstr import normpath

        self._servicedir = normpath(servicedir)
        super().__init__(f"{servicedir}: {detail}")

    @property
    def servicedir(self) -> Path:
        """As a :class:`pathlib.Path`, made when asked for (a start may catch many of these)."""
        from pathlib import Path

        return Path(self._servicedir)


class ProtocolError(StateError):
    """An s6 on-disk file did not have the expected shape."""


class TransitionFailed(OvisError):
    """Some services did not reach the asked state (exit status 1)."""

    def __init__(self, failed: Sequence[str]) -> None:
        self.failed = tuple(failed)
        super().__init__("failed: " + ", ".join(self.failed))

"""Golden parse scenarios under tests/scenarios/ (dinit igr-tests style).

Each ``tests/scenarios/<case>/`` holds:

- ``service/``: definitions, as in a services directory (a file is a 66
  frontend file, a directory an anopa service directory; the entry's name is
  the service name);
- ``expected``: ``OK``, or the exact one-line error of the first definition
  (in name order) that fails, with ``{dir}`` standing for the scenario
  directory.

Scenarios whose outcome needs more than parsing (a missing dependency, a
cycle: whole-CLI scenarios) carry a ``cmd`` file with their command line;
this test leaves them to the CLI runner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ovis.errors import DefinitionError
from ovis.service.formats.anopa import parse_anopa_dir
from ovis.service.formats.sixtysix import parse_frontend

SCENARIOS = Path(__file__).parent / "scenarios"


def parse_scenarios() -> list[Path]:
    return sorted(case for case in SCENARIOS.iterdir()
                  if (case / "service").is_dir() and (case / "expected").is_file()
                  and not (case / "cmd").exists())


def outcome(case: Path) -> str:
    """``OK`` or the str() of the first DefinitionError, in entry name order."""
    for entry in sorted((case / "service").iterdir()):
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                parse_anopa_dir(entry, entry.name)
            else:
                parse_frontend(entry, entry.name)
        except DefinitionError as exc:
            return str(exc)
    return "OK"


def test_scenarios_exist() -> None:
    names = {case.name for case in parse_scenarios()}
    required = {"unknown-section", "unknown-key", "bad-notify", "bad-type", "empty-value",
                "unterminated-list", "bad-signal", "bad-name-in-depends",
                "anopa-bad-notification-fd", "anopa-bad-needs-name", "mixed-dialects"}
    assert required <= names
    assert sum((SCENARIOS / name / "expected").read_text().strip() == "OK" for name in names) >= 3


@pytest.mark.parametrize("case", parse_scenarios(), ids=lambda case: case.name)
def test_scenario(case: Path) -> None:
    expected = (case / "expected").read_text().strip().replace("{dir}", str(case))
    assert outcome(case) == expected

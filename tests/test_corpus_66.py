"""A corpus of 66 frontend files written the way distributions write them.

``tests/corpus/66/service/`` holds frontends in both dialects, in the style
of packaged collections (Obarun's ``*-66serv``, void-66-services) and of
66's own documentation: ``[environment]`` with ``!``, 66-tools calls in
Execute, ``@hiercopy``/``CopyFrom`` with a frontend in its own directory,
0.8 stdio keys, comments in lists, a shell ``case`` in a custom script,
instances and user identifiers.  ``tests/corpus/66/expected/NAME.json``
holds what the reader must make of each: only the fields listed there are
compared, so each file states what it is about.  ``{U}``, ``{H}``, ``{R}``
... in expected texts stand for the identifiers of the user running the
test (66's ``@U`` ...), looked up in the user database.
"""

from __future__ import annotations

import json
import pwd
from pathlib import Path
from typing import Any

import pytest

from ovis.service.formats.sixtysix import identifiers
from ovis.service.model import Service
from ovis.service.repository import parse_definition

CORPUS = Path(__file__).parent / "corpus" / "66"
SERVICES = CORPUS / "service"
EXPECTED = sorted((CORPUS / "expected").glob("*.json"))


def project(svc: Service) -> dict[str, Any]:
    """The comparable view of a parsed service (paths relative to the corpus)."""
    def program(p: Any) -> Any:
        return None if p is None else {"kind": p.kind.value, "text": p.text, "runas": p.runas}

    logger = svc.logger
    return {
        "kind": svc.kind.value,
        "depends": list(svc.depends),
        "wants": list(svc.wants),
        "start": program(svc.start),
        "stop": program(svc.stop),
        "env": svc.env,
        "env_unexported": list(svc.env_unexported),
        "stdin": svc.stdin,
        "stdout": svc.stdout,
        "stderr": svc.stderr,
        "logger": None if logger is None else {
            "destination": None if logger.destination is None else str(logger.destination),
            "backup": logger.backup, "maxsize": logger.maxsize, "timestamp": logger.timestamp,
            "runas": logger.runas},
        "extra_files": {rel: str(Path(src).relative_to(SERVICES)) for rel, src in svc.extra_files.items()},
        "essential": svc.essential,
        "down": svc.down,
        "earlier": svc.earlier,
        "notify": svc.notify,
        "max_death": svc.max_death,
        "down_signal": svc.down_signal,
        "timeouts": [svc.timeout_start, svc.timeout_stop, svc.timeout_kill, svc.timeout_finish],
        "warnings": [[line, key, message] for _, line, key, message in svc.warnings],
    }


def fill(value: Any, table: dict[str, str]) -> Any:
    if isinstance(value, str):
        for ident, text in table.items():
            value = value.replace("{" + ident + "}", text)
        return value
    if isinstance(value, list):
        return [fill(v, table) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, table) for k, v in value.items()}
    return value


def test_corpus_is_complete() -> None:
    """Every frontend of the corpus has its expectations, and the other way round."""
    names = {p.name for p in SERVICES.iterdir()}
    assert {p.stem.split("+")[0] for p in EXPECTED} == names
    assert len(names) >= 10


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.stem)
def test_corpus(expected: Path) -> None:
    spec = json.loads(expected.read_text())
    entry = SERVICES / expected.stem.split("+")[0]
    got = project(parse_definition(entry, spec.get("instance", entry.name)))
    want = fill(spec["parsed"], identifiers())
    assert {key: got[key] for key in want} == want


def test_identifiers_come_from_the_user_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """@U/@H/@S are the user's entry; root's runtime dir is /run, others' /run/user/UID."""
    me = pwd.getpwuid(0)
    table = identifiers(0)
    assert (table["U"], table["u"], table["H"], table["S"], table["R"]) == (
        me.pw_name, "0", me.pw_dir, me.pw_shell, "/run")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    uid = next(u for u in range(4321, 5000) if u not in {e.pw_uid for e in pwd.getpwall()})
    assert identifiers(uid)["R"] == f"/run/user/{uid}"
    assert identifiers(uid)["u"] == identifiers(uid)["U"] == str(uid)

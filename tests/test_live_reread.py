"""compiled_services with a memo: what a stop reads again once it holds its claims.

The second read must see exactly what a fresh read sees (a service compiled,
recompiled or removed in between), while an unchanged ``ovis.json`` is not
parsed again.  Real compiler, real servicedirs; no supervisor needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ovis.paths import Paths
from ovis.service import compiler
from ovis.service.compiler import Compiler, compiled_services
from ovis.service.repository import Repository
from tests.defs import LONGRUN


def _setup(tmp_path: Path) -> tuple[Paths, Repository, Compiler]:
    paths = Paths.resolve({}, live=str(tmp_path / "live"), services=str(tmp_path / "services"),
                          trees=str(tmp_path / "trees"), logdir=str(tmp_path / "log"),
                          skel=str(tmp_path / "skel"))
    (tmp_path / "services").mkdir()
    return paths, Repository(paths.services, live=paths.live), Compiler(paths)


def _define(tmp_path: Path, name: str, run: str, extra: str = "") -> None:
    (tmp_path / "services" / name).write_text(LONGRUN.format(name=name, run=run, extra=extra))


def test_a_reread_sees_what_changed_and_parses_only_that(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    paths, repo, comp = _setup(tmp_path)
    for n in ("a", "b", "c"):
        _define(tmp_path, n, "sleep 100")
        comp.compile(repo.load(n))
    memo: dict = {}
    first = compiled_services(paths, memo)
    assert first.keys() == compiled_services(paths).keys() == {"a", "b", "c"}

    # between the two reads: b recompiled (another command), c removed, d added
    _define(tmp_path, "b", "sleep 200", extra="Depends = ( a )")
    comp2 = Compiler(paths)
    comp2.compile(Repository(paths.services, live=paths.live).load("b"))
    import shutil

    shutil.rmtree(paths.servicedir("c"))
    _define(tmp_path, "d", "sleep 300")
    comp2.compile(Repository(paths.services, live=paths.live).load("d"))

    parsed: list[str] = []
    real = compiler.service_from_metadata

    def counting(meta: dict) -> object:
        parsed.append(str(meta.get("name")))
        return real(meta)

    monkeypatch.setattr(compiler, "service_from_metadata", counting)
    again = compiled_services(paths, memo)
    fresh = compiled_services(paths)
    assert again.keys() == fresh.keys() == {"a", "b", "d"}
    for n in again:
        assert again[n] == fresh[n], n
    assert again["a"] is first["a"]  # unchanged: the same model, not parsed again
    assert again["b"].depends == ("a",) and first["b"].depends == ()  # replaced: read again
    assert sorted(parsed[: len(parsed) - len(fresh)]) == ["b", "d"]

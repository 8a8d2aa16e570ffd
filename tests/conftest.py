"""Shared pytest fixtures, the session's self-check and the CI rule for skips.

``scandir``: a running s6-svscan on an empty scandir under ``tmp_path``
(see tests/s6fixtures.py); add services with ``scandir.add(...)`` (linking
them triggers a rescan) and ``scandir.wait_supervised(name)``.  Teardown
always stops the tree and reaps every process of it.

At session start the suite proves it runs this checkout (tests/selfcheck.py)
and stops otherwise.  Under CI=true every skip is turned into a failure
unless its reason starts with ``nsutil.CI_CANNOT`` (a condition the CI
machine cannot provide); see docs/testing.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.nsutil import CI_CANNOT, SCRIPTS, ci_strict, skip_or_fail
from tests.s6fixtures import Scandir


#: Test files that boot ovis as PID 1 in namespaces (their tests need root).
BOOT_FILES = {"test_boot.py", "test_boot_stage4.py", "test_demo.py"}
#: Fixtures and files that run a real s6-svscan.
S6_FIXTURES = {"system", "scandir", "booted"}
S6_FILES = {"test_aa_engine.py", "test_anopa_stages.py"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "s6: runs a real s6-svscan/s6-supervise (no root needed)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Layers by what a test really runs, so ``-m`` selects them (docs/testing.md)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        name = item.path.name
        if name in BOOT_FILES or "booted" in fixtures:
            item.add_marker(pytest.mark.root)
        if fixtures & S6_FIXTURES or name in S6_FILES or name in BOOT_FILES:
            item.add_marker(pytest.mark.s6)


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests import selfcheck

    bad = selfcheck.problems(SCRIPTS)
    if ci_strict():
        bad += [f"console script {n} is not installed (pip install -e {selfcheck.REPO})"
                for n in selfcheck.missing_scripts(SCRIPTS)]
    if bad:
        pytest.exit("the suite would not test this checkout (" + str(selfcheck.REPO) + "):\n  "
                    + "\n  ".join(bad) + "\ninstall it (pip install -e .) into the interpreter "
                    "that runs pytest, see docs/testing.md", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    """In CI a skip is a failure, unless CI cannot provide what the test needs."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail") or not ci_strict():
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if reason.startswith("Skipped: "):
        reason = reason[len("Skipped: "):]
    if reason.startswith(CI_CANNOT):
        return
    rep.outcome = "failed"
    rep.longrepr = f"skipped under CI=true, which must run every test: {reason}"


@pytest.fixture
def scandir(tmp_path: Path) -> Iterator[Scandir]:
    if shutil.which("s6-svscan") is None:
        skip_or_fail("s6 is not installed (s6-svscan not in PATH)")
    sd = Scandir(tmp_path / "s6")
    try:
        sd.start()
        yield sd
    finally:
        sd.stop()

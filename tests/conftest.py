"""Shared pytest fixtures.

``scandir``: a running s6-svscan on an empty scandir under ``tmp_path``
(see tests/s6fixtures.py); add services with ``scandir.add(...)`` (linking
them triggers a rescan) and ``scandir.wait_supervised(name)``.  Teardown
always stops the tree and reaps every process of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.s6fixtures import Scandir


@pytest.fixture
def scandir(tmp_path: Path) -> Iterator[Scandir]:
    if shutil.which("s6-svscan") is None:
        pytest.skip("s6 is not installed (s6-svscan not in PATH)")
    sd = Scandir(tmp_path / "s6")
    try:
        sd.start()
        yield sd
    finally:
        sd.stop()

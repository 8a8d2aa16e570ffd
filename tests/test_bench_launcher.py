"""bench/boot.launcher: benchmarks run the installed ovis of the tree they measure.

A console script that imports another checkout's ovis (a lean launcher
ignores PYTHONPATH, a venv's editable install points elsewhere) would make
every figure of bench/compare.py and start_ab.py describe the wrong tree:
the launcher is refused, with what it runs instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import boot  # noqa: E402


def _script(bindir: Path, root: Path) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    s = bindir / "ovis"
    s.write_text(f"#!{sys.executable} -IS\nimport sys\nsys.path.insert(0, {str(root)!r})\n"
                 "import ovis\nprint('ovis fake')\n")
    s.chmod(0o755)
    return s


def test_a_launcher_of_another_tree_is_refused_and_the_right_one_taken(tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "ovis").mkdir(parents=True)
    (other / "ovis" / "__init__.py").write_text("")
    wrong = _script(tmp_path / "wrong", other)
    right = _script(tmp_path / "right", REPO)
    try:
        boot.BINDIRS[str(REPO)] = wrong.parent
        with pytest.raises(SystemExit, match=str(other / "ovis")):
            boot.launcher("ovis", REPO, "installed")
        boot.BINDIRS[str(REPO)] = right.parent
        assert boot.launcher("ovis", REPO, "installed") == [str(right)]
    finally:
        boot.BINDIRS.pop(str(REPO), None)


def test_module_runs_name_the_interpreter_and_the_site_flag() -> None:
    assert boot.launcher("ovis", REPO, "module") == [sys.executable, "-m", "ovis"]
    assert boot.launcher("ovis", REPO, "module-S") == [sys.executable, "-S", "-m", "ovis"]
    aa = boot.launcher("aa-start", REPO, "module-S")
    assert aa[:3] == [sys.executable, "-S", "-c"] and "ovis.cli.aa.start" in aa[3]


def test_memory_peak_is_the_clients_own_not_its_spawners(tmp_path: Path) -> None:
    """bench/memory.py's figure: Linux hands a process spawned from the benchmark the RSS the
    benchmark had before execve; peak_of measures through a small forker, so a small client
    spawned from a large parent reports its own peak, and a large client its own too."""
    import os
    import subprocess

    import memory

    hog = bytearray(64 << 20)  # this process: 64 MB more, all touched
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c", "pass"])
    _, _, ru = os.wait4(p.pid, 0)
    assert ru.ru_maxrss / 1024 > 60  # what spawning it directly reports (the test can see it)
    rc, small = memory.peak_of([sys.executable, "-I", "-S", "-c", "pass"], dict(os.environ))
    assert rc == 0 and 1 < small < 40, small
    rc, big = memory.peak_of([sys.executable, "-I", "-S", "-c",
                              "x = bytearray(80 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1"],
                             dict(os.environ))
    assert rc == 0 and big > small + 70, (small, big)
    del hog

"""ovis.cli.leave: a launcher's process ends as ``sys.exit`` would end it, only sooner.

Each case runs a small entry point the way a lean launcher runs it (``run(FUNC)``
as the main program, output into a pipe, so stdout is block-buffered and only
the flush at exit writes it) and compares what a parent sees with the same entry
point ended by ``sys.exit(FUNC())``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

ENTRIES = {
    "returns": "def f():\n    print('out'); return None\n",
    "returns-int": "def f():\n    print('out'); return 3\n",
    "exits-int": "def f():\n    print('out'); sys.exit(7)\n",
    "exits-str": "def f():\n    print('out'); sys.exit('ovis: no')\n",
    "exits-big": "def f():\n    sys.exit(258)\n",
    "atexit": ("def f():\n    import atexit\n"
               "    atexit.register(lambda: print('saved', flush=False))\n    print('out')\n"),
    "stderr": "def f():\n    sys.stderr.write('partial line'); return 2\n",
}


def _run(body: str, fast: bool) -> tuple[int, str, str]:
    end = "from ovis.cli.leave import run\nrun(f)\n" if fast else "sys.exit(f())\n"
    prog = f"import sys\nsys.path.append({str(REPO)!r})\n{body}{end}"
    p = subprocess.run([sys.executable, "-I", "-S", "-c", prog], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("case", sorted(ENTRIES))
def test_same_status_and_output_as_sys_exit(case: str) -> None:
    fast = _run(ENTRIES[case], fast=True)
    assert fast == _run(ENTRIES[case], fast=False)
    assert fast[0] == {"returns": 0, "returns-int": 3, "exits-int": 7, "exits-str": 1,
                       "exits-big": 2, "atexit": 0, "stderr": 2}[case]


def test_atexit_handlers_run_before_the_flush() -> None:
    """The compile cache is saved by an atexit handler: it must run (and its output appear)."""
    code, out, _ = _run(ENTRIES["atexit"], fast=True)
    assert (code, out) == (0, "out\nsaved\n")


def test_a_failed_flush_of_stdout_is_status_120(tmp_path: Path) -> None:
    """stdout closed by the reader: the interpreter's own status for it, no traceback."""
    body = "def f():\n    sys.stdout.write('x' * 100)\n"
    prog = (f"import sys, os\nsys.path.append({str(REPO)!r})\n{body}"
            "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "from ovis.cli.leave import run\nrun(f)\n")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", prog], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 120, p.stderr
    assert "Traceback" not in p.stderr


def test_an_exception_still_goes_up() -> None:
    """Not SystemExit: the interpreter reports it as usual (traceback, status 1)."""
    code, _, err = _run("def f():\n    raise RuntimeError('boom')\n", fast=True)
    assert code == 1 and "RuntimeError: boom" in err

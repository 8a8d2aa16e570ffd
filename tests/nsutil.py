"""Run Python snippets inside fresh Linux namespaces (unshare(1)) for the tests.

Every snippet runs as PID 1 of a new PID namespace with its own mount
namespace and /proc (``unshare --pid --fork --mount-proc --kill-child``):
whatever it mounts vanishes with the namespace, and whatever it starts is
killed by the kernel when it exits, even if the test times out (unshare's
--kill-child makes the namespace init die with unshare).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Where pip put the console scripts (aa-*, ovis) of this interpreter.
SCRIPTS = Path(sysconfig.get_path("scripts"))
NS_ARGS = ["--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child"]


@lru_cache(maxsize=None)
def namespace_problem() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN for unshare/mount, CAP_SYS_BOOT for reboot(2))"
    if shutil.which("unshare") is None:
        return "needs unshare(1) from util-linux"
    # The tests run as real root and need no user namespace; this is the probe
    # that matters (CAP_SYS_ADMIN, namespaces enabled, not blocked by seccomp).
    probes = (
        (["unshare", "--mount", "--pid", "--fork", "true"], "mount+PID namespaces (CAP_SYS_ADMIN, CLONE_NEWNS|CLONE_NEWPID)"),
    )
    for cmd, what in probes:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"needs {what}: {' '.join(cmd)}: {e}"
        if r.returncode != 0:
            return f"needs {what}: {' '.join(cmd)} failed: {r.stderr.strip()}"
    return None


def require_root() -> None:
    """Skip (printing the reason) unless we are root; for host-wide syscalls such as swapon."""
    if os.geteuid() != 0:
        skip_or_fail("needs root (CAP_SYS_ADMIN)")


#: A skip reason starting with this names a condition the CI machine cannot
#: provide; under CI=true every other skip fails (tests/conftest.py).
CI_CANNOT = "CI cannot provide: "


def ci_strict() -> bool:
    """CI=true (or OVIS_REQUIRE_NS=1): every test must really run."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("OVIS_REQUIRE_NS") == "1"


def skip_or_fail(problem: str) -> None:
    """Skip with the reason printed; fail instead in CI (setup.sh installs what tests need)."""
    print(f"SKIP: {problem}", file=sys.stderr)
    if ci_strict():
        pytest.fail(problem)
    pytest.skip(problem)


def skip_beyond_ci(reason: str) -> None:
    """Skip for a condition CI cannot provide either (the reason must say which)."""
    print(f"SKIP: {reason}", file=sys.stderr)
    pytest.skip(CI_CANNOT + reason)


def script(name: str) -> str:
    """The installed console script (not the pyenv shim: a bash wrapper costing 50 ms)."""
    path = SCRIPTS / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} is not installed (pip install -e .)")
        raise AssertionError("unreachable")
    return found


#: Snippet for run_ns code: bind_system(root) gives a new root the host's
#: /usr, /bin, /lib*... (symlinks copied, directories bound).
BIND_SYSTEM = """
    def bind_system(root):
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
            src, dst = "/" + name, os.path.join(root, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif os.path.isdir(src):
                os.mkdir(dst)
                sc.mount(src, dst, None, sc.MS_BIND | sc.MS_REC)
"""


def require_namespaces() -> None:
    """Skip (printing the reason) unless root namespaces work.

    OVIS_REQUIRE_NS=1 turns the skip into a failure (CI on a root runner).
    """
    problem = namespace_problem()
    if problem is None:
        return
    skip_or_fail(problem)


def run_ns(code: str, *, timeout: float = 20, extra_args: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) with this checkout's ovis importable, as PID 1 of new namespaces."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    cmd = ["unshare", *NS_ARGS, *(extra_args or []), sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def run_ns_json(code: str, **kw: object) -> dict:
    """Run ``code``, which must print one JSON object as its last stdout line."""
    r = run_ns(code, **kw)  # type: ignore[arg-type]
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    lines = r.stdout.strip().splitlines()
    assert lines, f"no output\nstderr:\n{r.stderr}"
    return json.loads(lines[-1])

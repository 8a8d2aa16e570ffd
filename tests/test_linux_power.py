"""reboot(2) for real: inside a PID namespace it ends the namespace, not the machine.

Each snippet checks that it is PID 1 (so it is in a fresh PID namespace)
before it dares to call reboot(2).
"""

from __future__ import annotations

import signal

import pytest

from .nsutil import require_namespaces, run_ns, run_ns_json

pytestmark = pytest.mark.root

GUARD = """
    import os, sys
    if os.getpid() != 1:
        sys.exit(99)                   # not in our own PID namespace: never reboot
"""


@pytest.mark.parametrize(
    "action, sig",
    [("poweroff", signal.SIGINT), ("halt", signal.SIGINT), ("reboot", signal.SIGHUP)],
)
def test_reboot_system_ends_pid_namespace(action: str, sig: int) -> None:
    require_namespaces()
    r = run_ns(GUARD + f"""
    from ovis.linux.power import reboot_system
    reboot_system({action!r})
    print("still here")
    """)
    assert r.returncode == -sig, (r.returncode, r.stdout, r.stderr)
    assert "still here" not in r.stdout


def test_reboot_without_sync_and_from_a_child() -> None:
    """Any process of the namespace may do it; the kernel kills its init."""
    require_namespaces()
    r = run_ns(GUARD + """
    import subprocess
    child = subprocess.run([sys.executable, "-c",
        "from ovis.linux.power import reboot_system; reboot_system('reboot', sync_first=False)"])
    print("init survived", child.returncode, flush=True)
    import time; time.sleep(5)
    """)
    assert r.returncode == -signal.SIGHUP, (r.returncode, r.stdout, r.stderr)
    assert "init survived" not in r.stdout


def test_ctrl_alt_del_is_refused_in_pid_namespace() -> None:
    require_namespaces()
    out = run_ns_json(GUARD + """
    import errno, json
    from ovis.linux.power import set_ctrl_alt_del
    try:
        set_ctrl_alt_del(False)
        res = None
    except OSError as e:
        res = [e.errno, str(e)]
    print(json.dumps({"res": res}))
    """)
    import errno

    assert out["res"][0] == errno.EINVAL
    assert out["res"][1].endswith("reboot 0x0")

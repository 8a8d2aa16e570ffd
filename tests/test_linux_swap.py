"""swapoff_all against a real swap file (swap is not namespaced: host-wide).

Runs only when no other swap is active, so that it can never turn off the
machine's own swap; the file name has a space to check /proc/swaps decoding.
"""

from __future__ import annotations

import errno
import os
import struct

import pytest

from ovis.linux import syscalls as sc
from ovis.linux.swap import read_swaps, swapoff_all

from .nsutil import require_root

pytestmark = pytest.mark.root


def _make_swapfile(path: str, pages: int = 1024) -> None:
    """What mkswap writes: version-1 header with last_page, magic at the page end."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open(path, "wb") as f:
        f.write(b"\0" * page * pages)  # no holes: swap files must be fully allocated
        f.seek(1024)
        f.write(struct.pack("=II", 1, pages - 1))  # version, last_page
        f.seek(page - 10)
        f.write(b"SWAPSPACE2")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o600)


def test_read_swaps_decodes_escapes(tmp_path) -> None:
    p = tmp_path / "swaps"
    p.write_text(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/vdb                                partition\t1048572\t\t0\t\t-2\n"
        "/var/swap\\040file                      file\t\t4092\t\t0\t\t-3\n"
    )
    assert read_swaps(str(p)) == ["/dev/vdb", "/var/swap file"]
    assert read_swaps(str(tmp_path / "absent")) == []


def test_swapoff_all_turns_off_a_real_swap_file(tmp_path) -> None:
    require_root()
    if not os.path.exists("/proc/swaps"):
        pytest.skip("kernel without swap support (no /proc/swaps)")
    if read_swaps():
        pytest.skip(f"swap already active on this machine ({read_swaps()}): not touching it")
    path = str(tmp_path / "swap file")
    _make_swapfile(path)
    try:
        sc.swapon(path)
    except OSError as e:
        if e.errno == errno.EPERM:
            pytest.skip(f"needs CAP_SYS_ADMIN for swapon(2): {e}")
        pytest.skip(f"swapon on {tmp_path} refused ({e}): filesystem without swap file support")
    try:
        assert read_swaps() == [path]
        logs: list[str] = []
        assert swapoff_all(log=logs.append) == []
        assert read_swaps() == []
        assert logs == [f"swap turned off: {path}"]
    finally:
        if path in read_swaps():
            sc.swapoff(path)

"""swapon/swapoff_all against a real swap area (swap is not namespaced: host-wide).

Runs only when no other swap is active, so that it can never turn off the
machine's own swap (that skip, and a kernel without swap, are the only ones
CI accepts); the file name has a space to check /proc/swaps decoding.  On a
filesystem that refuses swap files the same bytes go on a loop device: an
error of the swapon wrapper is a failure, never a skip.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
from contextlib import contextmanager
from typing import Iterator

import pytest

from ovis.linux import syscalls as sc
from ovis.linux.swap import read_swaps, swapoff_all

from .nsutil import require_root, skip_beyond_ci, skip_or_fail

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


def _swap_preconditions() -> None:
    require_root()
    if not os.path.exists("/proc/swaps"):
        skip_beyond_ci("the kernel is built without swap (no /proc/swaps)")
    if read_swaps():
        # Swap is host-wide: swapoff_all would turn the machine's own swap off.
        skip_beyond_ci(f"the machine has swap active ({read_swaps()}): not touching it")


@contextmanager
def _loop_device(backing: str) -> Iterator[str]:
    """A loop block device over *backing* (for filesystems without swap file support)."""
    if shutil.which("losetup") is None or not os.path.exists("/dev/loop-control"):
        skip_or_fail("no loop devices (losetup, /dev/loop-control) for a swap area")
    r = subprocess.run(["losetup", "--find", "--show", backing], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"losetup failed: {r.stderr}"
    dev = r.stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=30)


def _swapon_really(path: str, flags: int = 0) -> None:
    """swapon(2) through ovis's wrapper; only a missing capability may skip."""
    try:
        sc.swapon(path, flags)
    except OSError as e:
        if e.errno == errno.EPERM:
            skip_or_fail(f"needs CAP_SYS_ADMIN for swapon(2): {e}")
        raise


@contextmanager
def _active_swap(tmp_path, flags: int = 0) -> Iterator[str]:
    """A real swap area, active: a swap file, or the same bytes on a loop device.

    A file is tried first; a filesystem that takes no swap files (tmpfs,
    overlayfs: EINVAL) gets a loop device over it instead, never a skip.
    """
    path = str(tmp_path / "swap file")
    _make_swapfile(path)
    try:
        _swapon_really(path, flags)
        area = path
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        with _loop_device(path) as dev:
            _swapon_really(dev, flags)
            try:
                yield dev
            finally:
                if dev in read_swaps():
                    sc.swapoff(dev)
        return
    try:
        yield area
    finally:
        if area in read_swaps():
            sc.swapoff(area)


def test_swapon_wrapper_activates_a_real_swap_area_with_its_priority(tmp_path) -> None:
    _swap_preconditions()
    with _active_swap(tmp_path, sc.SWAP_FLAG_PREFER | 7) as area:
        lines = open("/proc/swaps").read().splitlines()[1:]
        assert read_swaps() == [area]
        assert lines[0].split()[-1] == "7", lines  # the flags reached the kernel


def test_swapoff_all_turns_off_a_real_swap_file(tmp_path) -> None:
    _swap_preconditions()
    with _active_swap(tmp_path) as area:
        assert read_swaps() == [area]
        logs: list[str] = []
        assert swapoff_all(log=logs.append) == []
        assert read_swaps() == []
        assert logs == [f"swap turned off: {area}"]

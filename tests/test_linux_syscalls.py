"""ovis.linux without namespaces: flag parsing, mountinfo parsing, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ovis.linux import syscalls as sc
from ovis.linux.mounts import MountEntry, parse_mountinfo, read_mounts, unescape, unmount_order
from ovis.linux.power import ACTIONS, reboot_system


@pytest.mark.parametrize(
    "options, flags, data",
    [
        ("", 0, ""),
        ("defaults", 0, ""),
        ("ro", sc.MS_RDONLY, ""),
        ("ro,rw", 0, ""),
        ("rw,ro", sc.MS_RDONLY, ""),
        ("ro,nosuid,bind,mode=0755", sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_BIND, "mode=0755"),
        ("nosuid,nodev,noexec,relatime", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RELATIME, ""),
        ("nosuid,suid", 0, ""),
        ("remount,ro", sc.MS_REMOUNT | sc.MS_RDONLY, ""),
        ("rbind", sc.MS_BIND | sc.MS_REC, ""),
        ("move", sc.MS_MOVE, ""),
        ("rprivate", sc.MS_PRIVATE | sc.MS_REC, ""),
        ("slave", sc.MS_SLAVE, ""),
        ("rshared", sc.MS_SHARED | sc.MS_REC, ""),
        ("noatime,nodiratime", sc.MS_NOATIME | sc.MS_NODIRATIME, ""),
        ("strictatime,lazytime,sync,dirsync", sc.MS_STRICTATIME | sc.MS_LAZYTIME | sc.MS_SYNCHRONOUS | sc.MS_DIRSYNC, ""),
        ("size=10%,mode=1777,nr_inodes=1k", 0, "size=10%,mode=1777,nr_inodes=1k"),
        ("defaults,noauto,nofail,user,_netdev,x-systemd.automount,comment=foo,uid=0", 0, "uid=0"),
        (" ro , mode=0700 ,,", sc.MS_RDONLY, "mode=0700"),
    ],
)
def test_parse_mount_flags(options: str, flags: int, data: str) -> None:
    assert sc.parse_mount_flags(options) == (flags, data)


def test_constants_are_the_kernel_abi() -> None:
    assert (sc.MS_RDONLY, sc.MS_NOSUID, sc.MS_NODEV, sc.MS_NOEXEC, sc.MS_REMOUNT) == (1, 2, 4, 8, 32)
    assert (sc.MS_BIND, sc.MS_MOVE, sc.MS_REC) == (4096, 8192, 16384)
    assert (sc.MS_PRIVATE, sc.MS_SLAVE, sc.MS_SHARED) == (1 << 18, 1 << 19, 1 << 20)
    assert (sc.MNT_FORCE, sc.MNT_DETACH) == (1, 2)
    assert ACTIONS == {"poweroff": 0x4321FEDC, "reboot": 0x01234567, "halt": 0xCDEF0123}
    assert (sc.RB_DISABLE_CAD, sc.RB_ENABLE_CAD) == (0, 0x89ABCDEF)


def test_import_is_lean() -> None:
    """Importing the layer must not load ctypes (PID 1 start-up cost)."""
    code = (
        "import sys; import ovis.linux.syscalls, ovis.linux.mounts, ovis.linux.procs, "
        "ovis.linux.swap, ovis.linux.power, ovis.linux.chroot; print('ctypes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip() == "False"


def test_errors_name_errno_and_object(tmp_path) -> None:
    missing = str(tmp_path / "no such dir")
    with pytest.raises(OSError) as info:
        sc.umount2(missing)
    # ENOENT as root, EPERM otherwise: either way errno and object are there
    assert info.value.errno in (2, 1)
    assert info.value.strerror == f"{os.strerror(info.value.errno)}: umount {missing}"


def test_reboot_system_rejects_unknown_action_before_acting() -> None:
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        reboot_system("explode")


MOUNTINFO = rb"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
40 27 0:40 / /mnt/with\040space rw,nosuid,nodev - tmpfs my\040src rw,size=1024k
41 40 0:41 /sub/dir /mnt/with\040space/tab\011back\134slash ro,relatime shared:5 master:2 - tmpfs tmpfs ro
42 27 0:42 / /mnt/a rw - tmpfs a rw
43 42 0:43 / /mnt/a rw - tmpfs a2 rw
44 27 0:44 / /mnt/b rw propagate_from:3 unbindable - tmpfs b rw
garbage line
"""


def test_parse_mountinfo_fields_and_escapes(tmp_path) -> None:
    p = tmp_path / "mountinfo"
    p.write_bytes(MOUNTINFO)
    entries = read_mounts(str(p))
    by_id = {e.mount_id: e for e in entries}
    assert len(entries) == 7
    assert by_id[27] == MountEntry(27, 1, "/dev/vda", "/", "ext4", "rw,relatime", root="/",
                                   super_options="rw,discard", propagation="shared:1", dev="254:0")
    assert by_id[27].shared and not by_id[40].shared
    assert by_id[40].target == "/mnt/with space" and by_id[40].source == "my src"
    assert by_id[41].target == "/mnt/with space/tab\tback\\slash"
    assert by_id[41].root == "/sub/dir" and by_id[41].read_only and by_id[41].fully_read_only
    assert by_id[41].propagation == "shared:5 master:2"
    assert by_id[44].propagation == "propagate_from:3 unbindable"
    assert unescape(b"a\\012b") == "a\nb"
    assert unescape("caf\u00e9".encode() + b"\\040\xff") == "caf\u00e9 " + os.fsdecode(b"\xff")


def test_unmount_order_is_children_first_latest_first() -> None:
    entries = parse_mountinfo(MOUNTINFO)
    order = [e.mount_id for e in unmount_order(entries)]
    # children before parents
    for e in entries:
        if e.parent_id in order:
            assert order.index(e.mount_id) < order.index(e.parent_id)
    # the stacked mount 43 (on top of 42) goes before 42; the latest sibling first
    assert order.index(43) < order.index(42)
    assert order.index(44) < order.index(42) < order.index(40) < order.index(22)
    assert order[-1] == 27


def test_read_mounts_of_this_process_has_root() -> None:
    assert any(e.target == "/" for e in read_mounts())

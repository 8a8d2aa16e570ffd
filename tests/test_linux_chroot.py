"""pivot_root and chroot_exec for real, in a private mount namespace.

The tiny root is a tmpfs with the host's /usr (and /bin, /lib*, ... as the
host has them: symlinks copied, directories bind-mounted) so that
/bin/sh runs inside it.  Binds are never remounted (that could touch the
host's filesystem, whose superblock is shared).
"""

from __future__ import annotations

import pytest

from .nsutil import BIND_SYSTEM, require_namespaces, run_ns

pytestmark = pytest.mark.root

BUILD_ROOT = """
    import json, os, sys
    from ovis.linux import syscalls as sc
    from ovis.linux.mounts import read_mounts
    from ovis.linux.chroot import chroot_exec, pivot

""" + BIND_SYSTEM


def test_chroot_exec_runs_inside_new_root(tmp_path) -> None:
    require_namespaces()
    r = run_ns(BUILD_ROOT + f"""
    R = os.path.join({str(tmp_path)!r}, "root")
    os.mkdir(R)
    sc.mount("tiny", R, "tmpfs", 0, "size=1m")
    bind_system(R)
    open(os.path.join(R, "marker"), "w").close()
    chroot_exec(R, ["sh", "-c", 'echo "chrooted pwd=$(pwd)"; test -e /marker && echo has-marker'])
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["chrooted pwd=/", "has-marker"]


def test_chroot_exec_failure_raises(tmp_path) -> None:
    require_namespaces()
    r = run_ns(BUILD_ROOT + f"""
    R = os.path.join({str(tmp_path)!r}, "root")
    os.mkdir(R)
    sc.mount("tiny", R, "tmpfs", 0, "size=1m")
    try:
        chroot_exec(R, ["no-such-program"])
    except FileNotFoundError:
        print("not found", os.getcwd())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "not found /"


def test_pivot_then_chroot_like_aa_stage3(tmp_path) -> None:
    """aa-stage3: cd NEWROOT; aa-pivot . root-fs; aa-chroot . /bin/sh ...

    NEWROOT is a plain directory (not a mount point) and / is made shared
    first, so pivot() has to bind NEWROOT onto itself and make the tree
    private: the two reasons pivot_root(2) says EINVAL.
    """
    require_namespaces()
    r = run_ns(BUILD_ROOT + f"""
    base = os.path.join({str(tmp_path)!r}, "base")
    os.mkdir(base)
    sc.mount("base", base, "tmpfs", 0, "size=1m")
    R = os.path.join(base, "initramfs")
    os.mkdir(R)
    bind_system(R)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SHARED)
    assert next(e for e in read_mounts() if e.target == "/").shared
    os.chdir(R)
    pivot(".", "root-fs")
    # no /proc in the new root: the old root's /proc still tells (paths as seen from the new root)
    m = {{e.target: e for e in read_mounts("/root-fs/proc/self/mountinfo")}}
    print(json.dumps({{
        "cwd": os.getcwd(), "ls": sorted(os.listdir("/")),
        "root_fstype": m["/"].fstype, "root_shared": m["/"].shared,
        "old_root": m["/root-fs"].fstype if "/root-fs" in m else None,
        "old_has_etc": os.path.isdir("/root-fs/etc"),
    }}), flush=True)
    chroot_exec(".", ["/bin/sh", "-c", "echo pivoted"])
    """)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    import json

    info = json.loads(lines[0])
    assert lines[1:] == ["pivoted"]
    assert info["cwd"] == "/"
    assert "root-fs" in info["ls"] and "usr" in info["ls"]
    assert info["root_fstype"] == "tmpfs" and info["root_shared"] is False
    assert info["old_root"] is not None and info["old_has_etc"] is True

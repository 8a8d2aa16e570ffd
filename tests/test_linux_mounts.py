"""Mount table reading and umount_all, for real, inside private mount namespaces.

Safety: every snippet runs in its own mount (and PID) namespace, only
mounts tmpfs or binds under the test's temp dir, and calls umount_all with
only_under= that temp dir, except in the pivoted test whose root holds
nothing but our own tmpfs (checked before anything is unmounted).
Read-only remounts of a filesystem are global (the superblock is shared
between namespaces), so only our own tmpfs may ever be remounted.
"""

from __future__ import annotations


import pytest

from .nsutil import require_namespaces, run_ns_json
from ovis.linux.mounts import is_mountpoint

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _namespaces() -> None:
    require_namespaces()


def test_read_mounts_and_is_mountpoint(tmp_path) -> None:
    T = str(tmp_path)
    out = run_ns_json(f"""
        import json, os
        from ovis.linux import syscalls as sc
        from ovis.linux.mounts import read_mounts, is_mountpoint
        T = {T!r}
        p = lambda *n: os.path.join(T, *n)
        for d in ("a", "b", "with space", "odd\\tname\\\\x", "samefs", "plainsrc", "plain"):
            os.mkdir(p(d))
        sc.mount("ovistest", p("a"), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=1m,mode=0750")
        os.mkdir(p("a", "sub"))
        sc.mount(p("a", "sub"), p("b"), None, sc.MS_BIND)
        sc.mount("src with space", p("with space"), "tmpfs")
        sc.mount("odd", p("odd\\tname\\\\x"), "tmpfs", sc.MS_RDONLY)
        sc.mount(p("plainsrc"), p("samefs"), None, sc.MS_BIND)  # same filesystem as T
        os.symlink(p("a"), p("link"))
        m = {{e.target: e.__dict__ | {{"ro": e.read_only}} for e in read_mounts() if e.target.startswith(T)}}
        checks = {{n: is_mountpoint(p(n)) for n in ("a", "b", "with space", "odd\\tname\\\\x", "samefs",
                                                   "link", "plain", "a/sub", "missing")}}
        print(json.dumps({{"m": m, "is": checks, "ismount_samefs": os.path.ismount(p("samefs"))}}))
    """)
    m, is_ = out["m"], out["is"]
    a = m[f"{T}/a"]
    assert (a["fstype"], a["source"], a["root"]) == ("tmpfs", "ovistest", "/")
    assert {"nosuid", "nodev"} <= set(a["options"].split(","))
    assert "size=1024k" in a["super_options"] and "mode=750" in a["super_options"]
    b = m[f"{T}/b"]
    assert (b["fstype"], b["root"], b["dev"]) == ("tmpfs", "/sub", a["dev"])
    assert m[f"{T}/with space"]["source"] == "src with space"
    assert m[f"{T}/odd\tname\\x"]["ro"] is True
    assert m[f"{T}/samefs"]["root"].endswith("/plainsrc")
    assert is_ == {"a": True, "b": True, "with space": True, "odd\tname\\x": True, "samefs": True,
                   "link": True, "plain": False, "a/sub": False, "missing": False}
    # the reason is_mountpoint reads mountinfo: st_dev comparison misses same-fs binds
    assert out["ismount_samefs"] is False
    # and none of it leaked out of the namespace
    assert not is_mountpoint(f"{T}/a") and not is_mountpoint(f"{T}/with space")


TREE = """
    import json, os, signal, subprocess, time
    from ovis.linux import syscalls as sc
    from ovis.linux.mounts import read_mounts, umount_all
    T = {T!r}
    S = os.path.join(T, "scope")
    p = lambda *n: os.path.join(S, *n)
    os.makedirs(p()); os.makedirs(os.path.join(T, "outside"))
    tmpfs = lambda name, where, flags=0: sc.mount(name, where, "tmpfs", flags, "size=1m")
    for d in ("top", "bind", "with space", "busy", "keepme", "ro"):
        os.mkdir(p(d))
    tmpfs("t-top", p("top"))
    os.makedirs(p("top", "x"))
    tmpfs("t-x", p("top", "x")); os.makedirs(p("top", "x", "y"))
    tmpfs("t-y", p("top", "x", "y"))
    tmpfs("t-x2", p("top", "x"))                     # stacked on t-x, hides t-y
    os.makedirs(p("top", "x", "z")); tmpfs("t-z", p("top", "x", "z"))
    sc.mount(p("top"), p("bind"), None, sc.MS_BIND | sc.MS_REC)  # copies the whole subtree
    tmpfs("t-space", p("with space"))
    tmpfs("t-keep", p("keepme")); os.mkdir(p("keepme", "inner")); tmpfs("t-inner", p("keepme", "inner"))
    tmpfs("t-ro", p("ro"), sc.MS_RDONLY)
    tmpfs("t-busy", p("busy"))
    tmpfs("t-outside", os.path.join(T, "outside"))
    holder = subprocess.Popen(["sleep", "30"], cwd=p("busy"))
    time.sleep(0.05)
    before = sorted(e.target for e in read_mounts() if e.target.startswith(S))
    logs = []
    left = umount_all(keep=(p("keepme"),), only_under=S, lazy={lazy}, log=logs.append)
    after = {{e.target: e for e in read_mounts() if e.target.startswith(T)}}
    holder.kill(); holder.wait()
    second = umount_all(keep=(p("keepme"),), only_under=S)
    final = sorted(e.target for e in read_mounts() if e.target.startswith(T))
    print(json.dumps({{
        "before": before, "left": left, "logs": logs, "second": second, "final": final,
        "after": sorted(after), "busy_ro": after[p("busy")].fully_read_only if p("busy") in after else None,
        "keep_ro": after[p("keepme")].read_only,
    }}))
"""


def test_umount_all_nested_tree_with_busy_mount(tmp_path) -> None:
    T = str(tmp_path)
    S = f"{T}/scope"
    out = run_ns_json(TREE.format(T=T, lazy=False))
    assert len(out["before"]) >= 14, out["before"]
    # only the busy mount is left (keepme is kept, hence not reported), remounted read-only
    assert out["left"] == [f"{S}/busy"]
    assert out["busy_ro"] is True
    assert sorted(out["after"]) == [f"{T}/outside", f"{S}/busy", f"{S}/keepme"]
    assert out["keep_ro"] is False
    assert any(line.startswith(f"remounted read-only {S}/busy") for line in out["logs"]), out["logs"]
    assert f"unmounted {S}/with space" in out["logs"]
    # stacked mounts went top first: t-x2 then t-y's parent t-x (both at top/x)
    assert out["logs"].count(f"unmounted {S}/top/x") == 2
    # once the holder is gone, the rest goes; outside the scope nothing was touched
    assert out["second"] == []
    assert out["final"] == [f"{T}/outside", f"{S}/keepme"]


def test_umount_all_lazy_detaches_busy_mount(tmp_path) -> None:
    T = str(tmp_path)
    S = f"{T}/scope"
    out = run_ns_json(TREE.format(T=T, lazy=True))
    assert out["left"] == []
    assert f"unmounted {S}/busy (lazily)" in out["logs"]
    assert sorted(out["after"]) == [f"{T}/outside", f"{S}/keepme"]


def test_umount_all_whole_namespace_after_pivot(tmp_path) -> None:
    """Stage 4 for real: no only_under, / remounted read-only, API fs kept.

    The namespace first pivots into a fresh tmpfs and detaches the old root,
    so every filesystem umount_all can see is one this test created.
    """
    T = str(tmp_path)
    out = run_ns_json(f"""
        import json, os, sys, time
        from ovis.linux import syscalls as sc
        from ovis.linux.mounts import read_mounts, umount_all
        from ovis.linux.chroot import pivot
        R = os.path.join({T!r}, "root")
        os.mkdir(R)
        sc.mount("ns-root", R, "tmpfs", 0, "size=4m")
        for d in ("proc", "old", "a", "c", "busy", "run"):
            os.mkdir(os.path.join(R, d))
        pivot(R, "old")
        sc.umount2("/old", sc.MNT_DETACH)
        sc.mount("proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
        sc.mount("ns-run", "/run", "tmpfs", 0, "size=1m")
        mine = {{"ns-root", "proc", "ns-run"}}
        foreign = [(e.target, e.source) for e in read_mounts() if e.source not in mine]
        if foreign:  # never remount a filesystem we do not own
            print(json.dumps({{"foreign": foreign}})); sys.exit(3)
        sc.mount("ns-a", "/a", "tmpfs", 0, "size=1m"); os.mkdir("/a/b")
        sc.mount("ns-b", "/a/b", "tmpfs", 0, "size=1m")
        sc.mount("/a/b", "/c", None, sc.MS_BIND)
        sc.mount("ns-busy", "/busy", "tmpfs", 0, "size=1m")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.chdir("/busy"); os.write(w, b"x"); time.sleep(30); os._exit(0)
        os.read(r, 1)
        logs = []
        left = umount_all(log=logs.append)
        m = {{e.target: e for e in read_mounts()}}
        print(json.dumps({{"left": left, "logs": logs, "targets": sorted(m),
                           "root_ro": m["/"].fully_read_only, "busy_ro": m["/busy"].fully_read_only,
                           "proc_ro": m["/proc"].read_only, "run_ro": m["/run"].read_only}}))
    """)
    assert out["left"] == ["/busy"]
    assert out["targets"] == ["/", "/busy", "/proc", "/run"]
    assert out["root_ro"] and out["busy_ro"]
    assert not out["proc_ro"] and not out["run_ro"]
    assert "remounted read-only /" in out["logs"]

"""LIVE/status-index: ``ovis status`` reads one index instead of every ``ovis.json``.

The index is a cache written by ``ovis start``; these tests check that the
status table and ``--json`` are the same with it, without it, with a stale,
planted or corrupt one, and after a start killed before it wrote the index;
and that an entry is used only while its ``ovis.json`` is the file it was
taken from.  Real s6-svscan, real CLI, real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ovis.engine import statusindex
from ovis.paths import Paths
from tests.defs import LONGRUN, ONESHOT
from tests.livesys import REPO, LiveSystem, system, wait_until  # noqa: F401

NOW = 2_000_000_000.0  # the table's durations, measured from a fixed "now"


def _paths(s: LiveSystem) -> Paths:
    return Paths.resolve({}, live=str(s.live), services=str(s.services), trees=str(s.trees),
                         logdir=str(s.logdir), skel=str(s.skel))


def _populate(s: LiveSystem) -> None:
    """Services in every state the table knows, started through the CLI."""
    ready = "if { fdmove 1 3 echo } fdclose 3 sleep 1000"
    s.write("db", LONGRUN.format(name="the db", run=ready, extra="Notify = 3"))
    s.write("web", LONGRUN.format(name="web", run="sleep 1000", extra="Depends = ( db )"))
    s.write("crash", LONGRUN.format(name="crash", run='sh -c "exit 3"', extra=""))
    s.write("init", ONESHOT.format(name="init", start="exit 0", extra=""))
    s.write("bad1", ONESHOT.format(name="bad1", start="exit 4", extra=""))
    s.write("idle", LONGRUN.format(name="idle", run="sleep 1000", extra=""))
    s.write("never", LONGRUN.format(name="never compiled", run="sleep 1000", extra=""))
    s.write("broken", "[Main]\nType = classic\nNope = 1\n")
    grp = s.services / "grp"
    grp.mkdir()
    (grp / "type").write_text("bundle\n")
    (grp / "contents").write_text("web\ninit\n")
    for n in range(30):  # many of one kind: the case the index is for
        s.write(f"w{n:02d}", LONGRUN.format(name=f"w{n:02d}", run="sleep 1000", extra=""))
    s.ovis("start", "grp", "idle", *[f"w{n:02d}" for n in range(30)], check=True, timeout=120)
    s.ovis("start", "bad1", "crash")
    s.ovis("stop", "idle", check=True)
    # crash: s6 restarts it about once a second; let it settle into "restarting"
    assert wait_until(lambda: s.status("crash")["crash"]["restarts"] >= 1, timeout=30)


def _table_and_json(paths: Paths, monkeypatch: pytest.MonkeyPatch,
                    names: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    """What ``ovis status [NAME...]`` and ``ovis --json status [NAME...]`` print, read in
    this process, at NOW."""
    import io

    from ovis.cli import statusview
    from ovis.cli.main import quick_status

    where = ["--live", str(paths.live), "--services", str(paths.services[0]),
             "--trees", str(paths.trees), "--logdir", str(paths.logdir), "--skel", str(paths.skel)]
    out = []
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: NOW)
        m.setenv("COLUMNS", "200")
        for argv in ([*where, "status", *names], [*where, "--json", "status", *names]):
            args = quick_status(argv)
            assert args is not None
            buf = io.StringIO()
            m.setattr(sys, "stdout", buf)
            statusview.cmd_status(args)
            out.append(buf.getvalue())
    items = json.loads(out[1])
    for it in items:  # a restarting service's "next in N s" is measured from the real clock
        it.pop("restart_at", None)
        if it.get("reason") == "restarting":
            it["detail"] = it["detail"].split("; next in")[0]
    return out[0], items


def _without_index(paths: Paths, monkeypatch: pytest.MonkeyPatch,
                   names: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    index = paths.live / statusindex.FILE
    saved = index.read_bytes() if index.exists() else None
    if saved is not None:
        index.unlink()
    try:
        return _table_and_json(paths, monkeypatch, names)
    finally:
        if saved is not None:
            index.write_bytes(saved)
            os.chmod(index, 0o644)


def _frozen(s: LiveSystem) -> None:
    """Stop the crash-looping service so that two reads see the same thing."""
    s.ovis("stop", "crash")


def test_start_writes_an_index_and_status_reads_it(system: LiveSystem,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(system)
    paths = _paths(system)
    index = system.live / statusindex.FILE
    st = index.lstat()
    assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o644)
    entries = statusindex.load(str(system.live))
    assert {"db", "web", "init", "grp", "w00", "w29", "crash", "bad1", "idle"} <= set(entries)
    assert "never" not in entries and "broken" not in entries
    assert entries["db"][statusindex.DESCRIPTION] == "the db"
    # With the index, no ovis.json is read at all for the table
    reads: list[str] = []
    real = statusindex.read_meta
    monkeypatch.setattr(statusindex, "read_meta", lambda p: reads.append(p) or real(p))
    with_index = _table_and_json(paths, monkeypatch)
    assert reads == []
    without = _without_index(paths, monkeypatch)
    assert len(reads) >= 30  # the control: without it, each ovis.json is read
    # "crash" dies and restarts about once a second: two reads that straddle
    # one of its deaths differ; read both again until a pair falls between two
    for _ in range(20):
        if with_index == without:
            break
        time.sleep(0.05)
        with_index = _table_and_json(paths, monkeypatch)
        without = _without_index(paths, monkeypatch)
    assert with_index == without
    table = with_index[0]
    assert "never" in table and "broken" in table and "invalid-definition" in table
    by = {it["name"]: it for it in with_index[1]}
    assert by["db"]["ready"] is True and by["db"]["state"] == "up"
    assert by["crash"]["reason"] == "restarting" and by["bad1"]["state"] == "failed"
    assert by["idle"]["state"] == "down" and by["grp"]["state"] == "up"


def test_status_table_with_index_is_the_full_computation(system: LiveSystem,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's brief items (an up longrun: supervise/status only) print what full items do."""
    from ovis.engine.status import View, gather
    from ovis.terminal import status_table

    _populate(system)
    _frozen(system)
    paths = _paths(system)
    monkeypatch.setenv("COLUMNS", "200")
    full = gather(View(paths), None)
    brief = gather(View(paths), None, brief=True)
    assert [it["name"] for it in full] == [it["name"] for it in brief]
    assert status_table(full, False, now=NOW) == status_table(brief, False, now=NOW)
    assert status_table(full, True, now=NOW) == status_table(brief, True, now=NOW)
    for a, b in zip(full, brief):
        for k in ("name", "type", "state", "ready", "pid", "since", "reason"):
            assert a[k] == b[k], (a["name"], k)


def test_detailed_view_is_the_same_with_the_index(system: LiveSystem,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``ovis status NAME...``: needs, needed-by, wanted-by from the index, as from each ovis.json."""
    from ovis.engine.manager import Manager
    from ovis.engine.status import dependents_of

    _populate(system)
    _frozen(system)
    paths = _paths(system)
    names = ("db", "web", "init", "grp", "crash", "bad1", "idle", "never", "broken", "w00")
    reads: list[str] = []
    real = statusindex.read_meta
    monkeypatch.setattr(statusindex, "read_meta", lambda p: reads.append(p) or real(p))
    detailed = _table_and_json(paths, monkeypatch, names)
    # the named ones' models (once per View: table and JSON), not all of LIVE's
    assert reads and {Path(p).parent.name for p in reads} <= set(names), reads
    assert len(reads) <= 2 * len(names), reads
    assert detailed == _without_index(paths, monkeypatch, names)
    by = {it["name"]: it for it in detailed[1]}
    assert by["db"]["needed_by"] == ["web"] and by["web"]["needs"] == ["db"]
    assert by["init"]["needed_by"] == [] and "Needed by: -" in detailed[0]
    m = Manager(paths)  # the engine's models give the same edges
    for n in names:
        assert (by[n]["needed_by"], by[n]["wanted_by"]) == tuple(dependents_of(m, n)), n


def test_a_recompiled_service_is_read_from_its_ovis_json(system: LiveSystem,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry stands for one ovis.json: a new one (another inode) is read instead."""
    _populate(system)
    _frozen(system)
    paths = _paths(system)
    before = statusindex.load(str(system.live))["w03"]
    system.write("w03", LONGRUN.format(name="w03 edited", run="sleep 1000", extra=""))
    # ovis apply recompiles and restarts w03 ...
    r = system.ovis("apply", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    after = statusindex.load(str(system.live))["w03"]
    assert after[statusindex.DESCRIPTION] == "w03 edited" and after[:5] != before[:5]
    # ... and an index that still holds the old entry is not believed
    idx = json.loads((system.live / statusindex.FILE).read_text())
    idx["services"]["w03"] = before
    (system.live / statusindex.FILE).write_text(json.dumps(idx))
    out = _table_and_json(paths, monkeypatch)
    assert {it["name"]: it for it in out[1]}["w03"]["description"] == "w03 edited"
    assert out == _without_index(paths, monkeypatch)


def test_a_definition_edited_since_start_is_marked_with_or_without_index(
        system: LiveSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(system)
    _frozen(system)
    paths = _paths(system)
    future = time.time() + 100
    p = system.write("w05", LONGRUN.format(name="w05", run="sleep 2000", extra=""))
    os.utime(p, (future, future))
    out = _table_and_json(paths, monkeypatch)
    assert "w05*" in out[0] and "w04*" not in out[0]
    assert out == _without_index(paths, monkeypatch)


def _forge(s: LiveSystem) -> dict[str, Any]:
    """An index that says w07 is "FORGED", with w07's real ovis.json identity."""
    idx = json.loads((s.live / statusindex.FILE).read_text())
    idx["services"]["w07"][statusindex.DESCRIPTION] = "FORGED"
    return idx


def _description(paths: Paths, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    out = _table_and_json(paths, monkeypatch)
    return {it["name"]: it for it in out[1]}[name]["description"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the planted index")
def test_a_planted_or_foreign_index_is_ignored(system: LiveSystem,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(system)
    _frozen(system)
    paths = _paths(system)
    index = system.live / statusindex.FILE
    reference = _without_index(paths, monkeypatch)
    forged = json.dumps(_forge(system))
    # the control: the same bytes as the owner's own 0644 file are believed (a cache)
    index.write_text(forged)
    os.chmod(index, 0o644)
    assert _description(paths, monkeypatch, "w07") == "FORGED"
    # owned by another user, or writable by group/others, or a symlink: ignored
    for how in ("foreign", "group-writable", "other-writable", "symlink", "live-writable"):
        index.unlink()
        if how == "symlink":
            target = system.root / "elsewhere"
            target.write_text(forged)
            index.symlink_to(target)
        else:
            index.write_text(forged)
            os.chmod(index, {"group-writable": 0o664, "other-writable": 0o646}.get(how, 0o644))
            if how == "foreign":
                os.chown(index, 65534, 65534)
        if how == "live-writable":
            os.chmod(system.live, 0o777)
        try:
            assert _table_and_json(paths, monkeypatch) == reference, how
        finally:
            os.chmod(system.live, 0o755)
    # and the next start replaces what it does not trust
    index.unlink()
    index.write_text(forged)
    os.chown(index, 65534, 65534)
    system.ovis("start", "w07", check=True)
    st = index.lstat()
    assert st.st_uid == os.geteuid() and "FORGED" not in index.read_text()


@pytest.mark.parametrize("garbage", [
    b"", b"{not json", b"[]", b'{"format": 2, "services": {}}', b'{"format": 1, "services": []}',
    b'{"format": 1, "services": {"w01": 3, "w02": [1, 2], "w03": "x"}}',
    b'{"format": 1, "services": {"w01": [0, 0, 0, 0, 0, "longrun", "", "", null, false, [], [], []]}}',
    b"\xff\xfe\x00garbage",
])
def test_a_corrupt_index_costs_reads_not_lines(system: LiveSystem, monkeypatch: pytest.MonkeyPatch,
                                               garbage: bytes) -> None:
    for n in ("w01", "w02", "w03"):
        system.write(n, LONGRUN.format(name=n, run="sleep 1000", extra=""))
    system.ovis("start", "w01", "w02", "w03", check=True)
    paths = _paths(system)
    reference = _without_index(paths, monkeypatch)
    (system.live / statusindex.FILE).write_bytes(garbage)
    assert _table_and_json(paths, monkeypatch) == reference
    r = system.ovis("status")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert all(n in r.stdout for n in ("w01", "w02", "w03"))


def test_a_start_killed_before_the_index_leaves_status_right(system: LiveSystem,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL while waiting for readiness: compiled and up, not in the index; status still says so."""
    for n in ("w01", "w02"):
        system.write(n, LONGRUN.format(name=n, run="sleep 1000", extra=""))
    system.ovis("start", "w01", "w02", check=True)
    system.write("slow", LONGRUN.format(name="slow starter", run="sleep 1000",
                                        extra="Notify = 3\nTimeoutStart = 600000"))
    p = subprocess.Popen([sys.executable, "-m", "ovis", "start", "slow"], env=system.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    paths = _paths(system)
    try:
        assert wait_until(lambda: (paths.servicedir("slow") / "supervise" / "status").exists(),
                          timeout=60)
        time.sleep(0.3)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    entries = statusindex.load(str(system.live))
    assert "slow" not in entries and "w01" in entries  # killed before refresh
    out = _table_and_json(paths, monkeypatch)
    by = {it["name"]: it for it in out[1]}
    assert by["slow"]["description"] == "slow starter" and by["slow"]["compiled"] is True
    assert by["slow"]["state"] == "up" and by["slow"]["ready"] is False
    assert out == _without_index(paths, monkeypatch)
    # the next transaction's index knows it
    system.ovis("start", "w01", check=True)
    assert statusindex.load(str(system.live))["slow"][statusindex.DESCRIPTION] == "slow starter"


def test_a_removed_servicedir_leaves_the_index(system: LiveSystem,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for n in ("w01", "w02"):
        system.write(n, LONGRUN.format(name=n, run="sleep 1000", extra=""))
    system.ovis("start", "w01", "w02", check=True)
    (system.services / "w02").unlink()
    r = system.ovis("apply", timeout=120)  # stops w02 and removes it from LIVE
    assert r.returncode == 0, r.stdout + r.stderr
    paths = _paths(system)
    out = _table_and_json(paths, monkeypatch)
    assert [it["name"] for it in out[1]] == ["w01"]
    assert out == _without_index(paths, monkeypatch)
    system.ovis("start", "w01", check=True)
    left = os.listdir(paths.servicedirs)
    assert set(statusindex.load(str(system.live))) == {"w01"} | ({"w02"} & set(left)), left


def test_status_of_an_indexed_tree_needs_no_parser_nor_compiler(system: LiveSystem) -> None:
    """The table of compiled, unchanged, up services: the index, s6's status files, no more."""
    for n in ("w01", "w02"):
        system.write(n, LONGRUN.format(name=n, run="sleep 1000", extra=""))
    system.ovis("start", "w01", "w02", check=True)
    probe = ("import sys, json\nfrom ovis.cli.main import main\nmain(['status'])\n"
             "sys.stdout.flush()\nsys.__stderr__.write('MODULES ' + json.dumps(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-S", "-c", probe], env=system.env, capture_output=True,
                       text=True, cwd=str(REPO), timeout=120)
    mods = set(json.loads(p.stderr.split("MODULES ", 1)[1]))
    assert "w01" in p.stdout and "ovis.engine.statusindex" in mods
    assert not mods & {"ovis.service.compiler", "ovis.service.formats.sixtysix",
                       "ovis.engine.drift", "ovis.engine.manager"}, sorted(m for m in mods if "ovis" in m)
    # nor typing, dataclasses, inspect (each costs its start-up at every call of a boot script)
    assert not mods & {"typing", "dataclasses", "inspect", "argparse", "ovis.service.restart"}, \
        sorted(mods & {"typing", "dataclasses", "inspect", "argparse", "ovis.service.restart"})


def test_an_anopa_repository_gets_a_hidden_index(tmp_path: Path) -> None:
    """aa-start writes the index as .ovis-status-index: anopa's tools list the repository."""
    from tests.test_aa_engine import Anopa, smoke

    an = Anopa(tmp_path)
    try:
        smoke(an)
        assert an.enable("-l", str(an.list))[0] == 0
        an.start_svscan()
        an.wait_supervised("alpha")
        assert an.aa("aa-start", "-r", str(an.repo), "-l", str(an.list))[0] == 0
        assert (an.repo / statusindex.ANOPA_FILE).is_file()
        assert not (an.repo / statusindex.FILE).exists()
        entries = statusindex.load(str(an.repo), statusindex.ANOPA_FILE)
        assert set(entries) == {"alpha", "beta"}
        env = dict(os.environ, PYTHONPATH=str(REPO))

        def status() -> str:
            p = subprocess.run([sys.executable, "-m", "ovis", "--live", str(an.repo), "--json",
                                "status"], capture_output=True, text=True, env=env, timeout=60)
            assert p.returncode == 0, p.stderr
            return p.stdout

        with_index = status()
        (an.repo / statusindex.ANOPA_FILE).unlink()
        assert json.loads(with_index) == json.loads(status())
        assert {it["name"] for it in json.loads(with_index)} >= {"alpha", "beta"}
        rc, out, _ = an.aa("aa-status", "-r", str(an.repo), "-a", "-n")
        assert (rc, out) == (0, "alpha\nbeta\n")
    finally:
        an.close()


@pytest.mark.parametrize("n", [0, 1, statusindex._CHUNK - 1, statusindex._CHUNK,
                               statusindex._CHUNK + 1, 3 * statusindex._CHUNK + 5])
def test_the_index_is_written_in_pieces_as_one_dumps_writes_it(n: int) -> None:
    import io

    services = {f"svc{i}@x\u00e9": [i, 2**40 + i, 3, 4, 5, "longrun", 'a "quoted" \\ d\u00e9',
                                     f"/s/svc{i}", None if i % 2 else 3, bool(i % 3), [],
                                     ["db", f"d{i}"], []] for i in range(n)}
    out = io.BytesIO()
    statusindex._write(out, services)
    assert out.getvalue() == json.dumps({"format": statusindex._FORMAT, "services": services},
                                        separators=(",", ":")).encode()


def test_an_entry_is_valid_only_for_the_very_identity_it_recorded(tmp_path: Path) -> None:
    meta = tmp_path / "ovis.json"
    meta.write_text(json.dumps({"name": "a", "kind": "longrun", "source": "/s/a"}))
    st = os.stat(meta)
    e = statusindex.entry(st, json.loads(meta.read_text()))
    assert statusindex.valid(e, st) and e[statusindex.IDENT] == statusindex.ident(st)
    for i in range(5):  # dev, ino, size, mtime, ctime: any one differing is another file
        other = list(e)
        other[i] += 1
        assert not statusindex.valid(other, st), i
    assert not statusindex.valid(e[:12], st) and not statusindex.valid(tuple(e), st)

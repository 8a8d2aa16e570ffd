"""The compiled-model cache (ovis/service/cache.py): reused only while nothing changed.

Each test loads definitions the way a transaction does (Repository with the
LIVE cache, then Compiler.compile), "restarts" the process (the cache
object is dropped and re-read from LIVE/compile-cache) and counts real
parses (parse_definition calls) and real compilations (_files_for calls).
Unchanged definitions must be neither; each kind of change must be both.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from ovis.errors import DefinitionError
from ovis.paths import Paths
from ovis.service import cache, compiler, repository
from ovis.service.compiler import Compiler
from ovis.service.repository import Repository
from tests.nsutil import require_namespaces, run_ns_json

FRONTEND = """[Main]
Type = classic
Description = "cached"
{main}
[Start]
Execute = ( {run} )
"""


class World:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.services = root / "services"
        self.services.mkdir()
        self.paths = Paths(skel=root / "skel", services=(self.services,), trees=root / "trees",
                           live=root / "live", logdir=root / "log")
        self.paths.live.mkdir(mode=0o700)
        self.parses: list[str] = []
        self.compiles: list[str] = []
        real_parse, real_files = repository.parse_definition, compiler._files_for

        def parse(path: Path, name: str) -> Any:
            self.parses.append(name)
            return real_parse(path, name)

        def files_for(svc: Any, paths: Paths, as_root: bool, *rest: Any) -> Any:
            self.compiles.append(svc.name)
            return real_files(svc, paths, as_root, *rest)
        monkeypatch.setattr(repository, "parse_definition", parse)
        monkeypatch.setattr(compiler, "_files_for", files_for)

    def write(self, name: str, run: str = "sleep 1", main: str = "") -> Path:
        p = self.services / name
        p.write_text(FRONTEND.format(main=main, run=run))
        return p

    def transaction(self, *names: str) -> dict[str, Any]:
        """One process's load + compile of *names*; returns the services, cache saved."""
        cache.reset()
        self.parses.clear()
        self.compiles.clear()
        repo = Repository(self.paths.services, live=self.paths.live)
        comp = Compiler(self.paths)
        services = repo.closure(names)
        for svc in services.values():
            comp.compile(svc)
        cache.for_live(self.paths.live).save()
        return services

    def run_text(self, name: str) -> str:
        return (self.paths.servicedir(name) / "run").read_text()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    cache.reset()
    yield World(tmp_path, monkeypatch)
    cache.reset()


def test_unchanged_definitions_are_neither_parsed_nor_compiled(world: World) -> None:
    for n in ("a", "b", "c"):
        world.write(n, run=f"sleep {n}")
    world.transaction("a", "b", "c")
    assert sorted(world.parses) == ["a", "b", "c"] and sorted(world.compiles) == ["a", "b", "c"]
    services = world.transaction("a", "b", "c")
    assert world.parses == [] and world.compiles == []
    assert services["b"].start is not None and services["b"].start.text.strip() == "sleep b"
    st = os.stat(world.paths.live / cache.FILE)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid()


def test_edit_with_same_size_and_mtime_is_seen(world: World) -> None:
    p = world.write("a", run="sleep 1")
    world.transaction("a")
    st = os.stat(p)
    p.write_text(FRONTEND.format(main="", run="sleep 2"))  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime, to the ns
    assert os.stat(p).st_size == st.st_size and os.stat(p).st_mtime_ns == st.st_mtime_ns
    world.transaction("a")
    assert world.parses == ["a"] and world.compiles == ["a"]
    assert "sleep 2" in world.run_text("a")


def test_copyfrom_source_and_anopa_files_are_keys(world: World) -> None:
    data = world.services / "conf"
    data.write_text("one\n")
    world.write("a", main="CopyFrom = ( conf )")
    anopa = world.services / "b"
    anopa.mkdir()
    (anopa / "run").write_text("#!/bin/sh\nexec sleep 1\n")
    (anopa / "run").chmod(0o755)
    world.transaction("a", "b")
    world.transaction("a", "b")
    assert world.parses == []
    data.write_text("two\n")  # a file the definition copies
    (anopa / "notification-fd").write_text("3\n")  # a new file in an anopa directory
    services = world.transaction("a", "b")
    assert sorted(world.parses) == ["a", "b"] and sorted(world.compiles) == ["a", "b"]
    assert services["b"].notify == 3
    assert (world.paths.servicedir("a") / "conf").read_text() == "two\n"


def test_instance_name_and_search_path_choice_are_keys(world: World, tmp_path: Path) -> None:
    (world.services / "getty@").write_text(FRONTEND.format(main="", run="sleep @I"))
    world.transaction("getty@tty1")
    world.transaction("getty@tty2")
    assert world.parses == ["getty@tty2"]
    # The same name found in an earlier directory of the search path now.
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(world.services / "getty@", first / "getty@")
    world.paths = Paths(skel=world.paths.skel, services=(first, world.services),
                        trees=world.paths.trees, live=world.paths.live, logdir=world.paths.logdir)
    world.transaction("getty@tty1")
    assert world.parses == ["getty@tty1"]


def test_compile_environment_is_a_key(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.write("a", main="[Environment]\nPATH=/opt/x:${PATH}")
    world.transaction("a")
    world.transaction("a")
    assert world.compiles == []
    monkeypatch.setenv("PATH", "/nowhere:" + os.environ.get("PATH", ""))
    world.transaction("a")
    assert world.parses == [] and world.compiles == ["a"]


def test_the_boot_path_is_a_key(world: World) -> None:
    """A boot's LIVE/environment PATH is written into scripts naming execline commands:
    a new one (another boot on this LIVE) compiles them again."""
    from ovis.service import execline

    if execline.interpreter().bindir is None:
        pytest.skip("execline's commands are on every PATH here: no PATH in the scripts")
    world.write("a", run="foreground { true } sleep 1")
    world.transaction("a")
    assert "importas" in world.run_text("a")
    env = world.paths.live / "environment"
    for path in ("/usr/bin:/bin", "/usr/bin:/bin:/opt/b"):
        env.write_text(f"PATH={path}\n")
        world.transaction("a")
        assert world.parses == [] and world.compiles == ["a"]
        assert f':{path}"\n' in world.run_text("a") and "importas" not in world.run_text("a")
    world.transaction("a")
    assert world.compiles == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign-mode", "symlink",
                                    "planted-code"])
def test_a_bad_cache_file_is_ignored_and_rebuilt(world: World, tmp_path: Path, damage: str) -> None:
    world.write("a")
    world.transaction("a")
    f = world.paths.live / cache.FILE
    marker = tmp_path / "pwned"
    if damage == "garbage":
        f.write_bytes(b"\x80\x05not a pickle at all")
    elif damage == "truncated":
        f.write_bytes(f.read_bytes()[: os.path.getsize(f) // 2])
    elif damage == "foreign-mode":
        f.chmod(0o644)  # readable (so writable at some point) by others: not trusted
    elif damage == "symlink":
        other = tmp_path / "elsewhere"
        shutil.copy(f, other)
        other.chmod(0o600)
        f.unlink()
        f.symlink_to(other)
    else:
        class Evil:
            def __reduce__(self) -> Any:
                return (os.system, (f"touch {marker}",))
        f.write_bytes(pickle.dumps(Evil()))
        f.chmod(0o600)
    world.transaction("a")
    assert world.parses == ["a"], damage
    assert not marker.exists()
    assert not f.is_symlink() and os.stat(f).st_mode & 0o777 == 0o600  # rewritten
    world.transaction("a")
    assert world.parses == []


def test_a_planted_model_class_is_refused(world: World, tmp_path: Path) -> None:
    """A bucket of models that names any class but the model's is a miss (for all its entries)."""
    world.write("a")
    world.write("b")
    world.transaction("a", "b")
    f = world.paths.live / cache.FILE
    fmt, code, rows, _blob = pickle.loads(f.read_bytes())

    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, (f"touch {tmp_path / 'pwned'}",))
    assert len(_blob) == 1  # two services: one bucket
    f.write_bytes(pickle.dumps((fmt, code, rows, (pickle.dumps({"a": Evil()}),))))
    world.transaction("a", "b")
    assert sorted(world.parses) == ["a", "b"] and not (tmp_path / "pwned").exists()
    world.transaction("a", "b")
    assert world.parses == []


def test_one_pickle_for_the_whole_tree(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm load of many unpickles their bucket once, not once per service."""
    names = [f"s{i}" for i in range(20)]
    for n in names:
        world.write(n, run=f"sleep {n[1:]}")
    world.transaction(*names)
    loads: list[int] = []
    real = cache._ModelUnpickler.load

    def load(self: Any) -> Any:
        loads.append(1)
        return real(self)
    monkeypatch.setattr(cache._ModelUnpickler, "load", load)
    services = world.transaction(*names)
    assert world.parses == [] and world.compiles == [] and len(loads) == 1
    assert [services[n].start.text.strip() for n in names] == [f"sleep {n[1:]}" for n in names]


def _buckets(world: World) -> tuple[Any, ...]:
    return pickle.loads((world.paths.live / cache.FILE).read_bytes())[3]


def test_one_service_of_many_unpickles_one_bucket(world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that needs one service of hundreds unpickles its bucket only, and a
    save after one change re-pickles only that bucket (the others' bytes as read)."""
    monkeypatch.setattr(cache, "CHUNK", 8)
    names = [f"s{i}" for i in range(40)]
    for n in names:
        world.write(n)
    world.transaction(*names)
    before = _buckets(world)
    assert len(before) == 1 + 40 // 8
    from ovis.service.model import Service

    built: list[str] = []
    real = Service.__init__

    def init(self: Any, *a: Any, **kw: Any) -> None:
        built.append(a[0] if a else kw.get("name"))
        real(self, *a, **kw)
    monkeypatch.setattr(Service, "__init__", init)
    world.write("s7", run="sleep 7")
    world.transaction("s3", "s7")
    assert world.parses == ["s7"]
    # s3's bucket unpickled (and s7's parse): not the 40 models of the six buckets
    assert "s3" in built and len(built) <= 12, built
    after = _buckets(world)
    changed = cache._bucket("s7", len(before))
    assert [a == b for a, b in zip(before, after)] == [i != changed for i in range(len(before))]
    services = world.transaction(*names)
    assert world.parses == [] and world.compiles == []
    assert services["s7"].start is not None and services["s7"].start.text.strip() == "sleep 7"


def test_a_new_bucket_count_keeps_every_entry(world: World,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CHUNK", 4)
    for i in range(6):
        world.write(f"s{i}", run=f"sleep {i}")
    world.transaction(*[f"s{i}" for i in range(6)])
    assert len(_buckets(world)) == 2
    for i in range(6, 9):
        world.write(f"s{i}", run=f"sleep {i}")
    world.transaction("s6", "s7", "s8")  # 9 entries: 3 buckets, the file's unread ones moved
    assert len(_buckets(world)) == 3
    services = world.transaction(*[f"s{i}" for i in range(9)])
    assert world.parses == [] and world.compiles == []
    assert [services[f"s{i}"].start.text.strip() for i in range(9)] == [f"sleep {i}" for i in range(9)]


def test_the_models_are_pickled_a_bucket_at_a_time(world: World, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pickles of about CHUNK models each (one pickle of all kept a memo of every object
    written: the cold start's peak RSS), each service in the bucket its name's CRC says;
    a planted class in one of them is a miss for every entry of that bucket, and the
    bucket is rebuilt."""
    monkeypatch.setattr(cache, "CHUNK", 3)
    names = [f"s{i}" for i in range(7)]
    for n in names:
        world.write(n, run=f"sleep {n[1:]}")
    world.transaction(*names)
    f = world.paths.live / cache.FILE
    fmt, code, rows, blobs = pickle.loads(f.read_bytes())
    assert len(blobs) == 1 + 7 // 3 and sorted(rows) == names
    held = [sorted(pickle.loads(b)) for b in blobs]
    assert sorted(n for h in held for n in h) == names
    assert all(cache._bucket(n, len(blobs)) == i for i, h in enumerate(held) for n in h)
    services = world.transaction(*names)
    assert world.parses == [] and world.compiles == []
    assert [services[n].start.text.strip() for n in names] == [f"sleep {n[1:]}" for n in names]

    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, (f"touch {tmp_path / 'pwned'}",))
    bad = cache._bucket("s3", len(blobs))
    planted = tuple(pickle.dumps({"s3": Evil()}) if i == bad else b for i, b in enumerate(blobs))
    f.write_bytes(pickle.dumps((fmt, code, rows, planted)))
    world.transaction(*names)
    assert sorted(world.parses) == held[bad] and not (tmp_path / "pwned").exists()
    world.transaction(*names)
    assert world.parses == []


def test_entries_not_looked_up_survive_a_save(world: World) -> None:
    """A command that compiles one service keeps the others' entries (and models)."""
    for n in ("a", "b", "c"):
        world.write(n, run=f"sleep {n}")
    world.transaction("a", "b", "c")
    world.write("d")
    world.transaction("d")  # loads only d: the file's other models are kept unread
    assert world.parses == ["d"]
    services = world.transaction("a", "b", "c", "d")
    assert world.parses == [] and world.compiles == []
    assert services["c"].start is not None and services["c"].start.text.strip() == "sleep c"


def test_one_changed_definition_among_many_is_parsed_again(world: World) -> None:
    """The whole tree in one pickle: a stale entry is still a miss of its own."""
    names = [f"s{i}" for i in range(10)]
    for n in names:
        world.write(n, run="sleep 1")
    world.transaction(*names)
    world.write("s7", run="sleep 7")
    services = world.transaction(*names)
    assert world.parses == ["s7"] and world.compiles == ["s7"]
    assert services["s7"].start is not None and services["s7"].start.text.strip() == "sleep 7"
    assert "sleep 7" in world.run_text("s7")
    world.transaction(*names)
    assert world.parses == [] and world.compiles == []


def test_an_untrusted_live_is_not_used(world: World) -> None:
    world.write("a")
    world.paths.live.chmod(0o777)
    try:
        world.transaction("a")
        world.transaction("a")
        assert world.parses == ["a"]
        assert not (world.paths.live / cache.FILE).exists()
    finally:
        world.paths.live.chmod(0o700)


def test_errors_are_not_cached(world: World) -> None:
    p = world.write("a", main="Notify = 3")
    world.transaction("a")
    p.write_text(p.read_text().replace("Notify = 3", "Notify = x"))
    with pytest.raises(DefinitionError):
        world.transaction("a")
    with pytest.raises(DefinitionError):  # still refused: never served from the cache
        world.transaction("a")


def test_user_database_is_a_key_for_runas_services(tmp_path: Path) -> None:
    """/etc/passwd changes (bind-mounted copy in a mount namespace): RunAs services reload."""
    require_namespaces()
    out = run_ns_json(f"""
        import json, os, subprocess
        from pathlib import Path
        from ovis.paths import Paths
        from ovis.service import cache, repository
        from ovis.service.compiler import Compiler
        from ovis.service.repository import Repository
        root = Path({str(tmp_path)!r})
        svcdir = root / "services"; svcdir.mkdir()
        for n, extra in (("who", "RunAs = ovisc\\n"), ("plain", "")):
            (svcdir / n).write_text('[Main]\\nType = classic\\nDescription = "x"\\n'
                                    '[Start]\\n' + extra + 'Execute = ( sleep 1 )\\n')
        pw = root / "passwd"
        base = open("/etc/passwd").read()
        pw.write_text(base + "ovisc:x:4242:4242::/:/bin/false\\n")
        subprocess.run(["mount", "--bind", str(pw), "/etc/passwd"], check=True)
        live = root / "live"; live.mkdir(mode=0o700)
        paths = Paths(skel=root / "skel", services=(svcdir,), trees=root / "t", live=live,
                      logdir=root / "log")
        parses = []
        real = repository.parse_definition
        repository.parse_definition = lambda p, n: (parses.append(n), real(p, n))[1]
        def tx():
            cache.reset(); parses.clear()
            r = Repository((svcdir,), live=live); c = Compiler(paths)
            for s in r.closure(["who", "plain"]).values():
                c.compile(s)
            cache.for_live(live).save()
            return sorted(parses), (paths.servicedir("who") / "run").read_text()
        first = tx()
        again = tx()
        pw.write_text(base + "ovisc:x:4343:4242::/:/bin/false\\n")  # same file, new uid
        changed = tx()
        print(json.dumps({{"first": first, "again": again, "changed": changed}}))
    """, timeout=120)
    assert out["first"][0] == ["plain", "who"] and "4242" in out["first"][1]
    assert out["again"][0] == []
    assert out["changed"][0] == ["who"], out["changed"]
    assert "-u 4343" in out["changed"][1] and "4242 " not in out["changed"][1].split("-g")[0]


def test_a_servicedir_changed_behind_ovis_is_rebuilt(world: World) -> None:
    world.write("a")
    world.write("b")
    world.transaction("a", "b")
    shutil.rmtree(world.paths.servicedir("a"))  # removed
    meta = world.paths.servicedir("b") / "ovis.json"
    meta.write_text(meta.read_text().replace('"digest": "', '"digest": "x'))  # edited in place
    world.transaction("a", "b")
    assert world.parses == [] and sorted(world.compiles) == ["a", "b"]
    assert (world.paths.servicedir("a") / "run").exists()
    world.transaction("a", "b")
    assert world.compiles == []


def test_models_kept_until_saved_are_still_keyed(world: World) -> None:
    """An entry this process stored (pickled only when saved) is checked like a saved one."""
    p = world.write("a", run="sleep 1")
    cache.reset()
    Repository(world.paths.services, live=world.paths.live).load("a")
    Repository(world.paths.services, live=world.paths.live).load("a")  # not saved yet: a hit
    assert world.parses == ["a"]
    st = p.stat()
    p.write_text(FRONTEND.format(main="", run="sleep 2"))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    svc = Repository(world.paths.services, live=world.paths.live).load("a")
    assert world.parses == ["a", "a"] and svc.start is not None and "sleep 2" in svc.start.text
    Compiler(world.paths).compile(svc)  # only a process that compiles saves the cache
    cache.for_live(world.paths.live).save()
    cache.reset()
    world.parses.clear()
    again = Repository(world.paths.services, live=world.paths.live).load("a")
    assert world.parses == [] and again.start is not None and "sleep 2" in again.start.text

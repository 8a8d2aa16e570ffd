"""The model and the engine are plain slotted records, not dataclasses.

``dataclasses`` brings ``inspect``, ``ast``, ``dis``, ``tokenize``... into
every command that starts or stops a service: import time (tens of
milliseconds per module under an emulated CPU, where anopa's stages start
some 30 Pythons) and memory (a ``__dict__`` per model).  These tests run
real starts and stops (``ovis start``/``stop``, cold and from the compile
cache, and anopa's ``aa-start``/``aa-stop``) in a fresh ``python -I -S``, as
the installed launchers run them, against a real s6-svscan, and fail when
one of those modules is imported again; and they hold the records to what
the dataclasses gave (equality, hashing, immutability, pickling through
the compile cache, replace/asdict/fields).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import pkgutil
import shutil
from pathlib import Path

import pytest

import ovis
from ovis.record import Frozen, Record, asdict, fields, replace
from ovis.service.model import Kind, LoggerSpec, Program, ProgramKind, Service

from .livesys import LiveSystem
from .test_lean_paths import PATHLIB, run_isolated
from .test_aa_engine import Anopa, smoke

REPO = Path(__file__).resolve().parent.parent
#: What dataclasses imported (typing is another matter: Path-typed code still uses it).
HEAVY = {"dataclasses", "inspect", "ast", "dis", "tokenize", "linecache"}

needs_s6 = pytest.mark.skipif(shutil.which("s6-svscan") is None, reason="s6 is not installed")


@pytest.fixture
def live(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = LiveSystem(tmp_path)
    try:
        yield s
    finally:
        s.stop_scandir()


@needs_s6
def test_ovis_start_and_stop_import_no_dataclasses(live: LiveSystem) -> None:
    live.write("db", """
        [Main]
        Type = classic
        [Start]
        Execute = ( sleep 1000 )
    """)
    live.write("web", """
        [Main]
        Type = classic
        Depends = ( db setup )
        [Start]
        Execute = ( sleep 1000 )
    """)
    live.write("setup", """
        [Main]
        Type = oneshot
        [Start]
        Execute = ( true )
    """)
    live.start_scandir()
    env = dict(live.env)
    del env["PYTHONPATH"]
    # cold (compiles: the compiler's digests), stop, warm (from the compile cache and LIVE)
    for argv, want in ((["start", "web"], "up"), (["stop", "--all"], "down"),
                       (["start", "web"], "up")):
        rc, mods = run_isolated("ovis.cli.main:main", ["-v", "0", *argv], env, live.root)
        assert rc == 0, argv
        assert not mods & HEAVY, (argv, sorted(mods & HEAVY))
        assert "ovis.engine.manager" in mods  # it did run the engine
        assert "_hashlib" not in mods  # OpenSSL: 3.5 MB for the compiler's digests
        # the plain command lines are read without argparse (and its shutil, gettext...)
        assert not mods & {"argparse", "shutil"}, argv
        got = live.status()
        assert {n: got[n]["state"] for n in ("db", "web", "setup")} == dict.fromkeys(
            ("db", "web", "setup"), want), got


@needs_s6
def test_aa_start_and_stop_import_no_dataclasses_nor_pathlib(tmp_path: Path) -> None:
    an = Anopa(tmp_path)
    try:
        smoke(an)
        W = str(an.root)
        rc, _, err = an.aa("aa-enable", "-r", f"{W}/REPO", "-S", f"{W}/SRC", "-l", f"{W}/LIST")
        assert rc == 0, err
        an.start_svscan()
        an.wait_supervised("alpha")
        env = {"PATH": os.environ["PATH"]}
        rc, mods = run_isolated("ovis.cli.aa.start:main", ["-r", f"{W}/REPO", "-l", f"{W}/LIST"],
                                env, an.root)
        assert rc == 0
        assert not mods & (HEAVY | PATHLIB), sorted(mods & (HEAVY | PATHLIB))
        # shutil (bz2, lzma...): only to remove a stale temporary dir or find a tool to compile
        assert "shutil" not in mods
        rc, out, _ = an.aa("aa-status", "-r", f"{W}/REPO", "alpha")
        assert "Up" in out, out
        rc, mods = run_isolated("ovis.cli.aa.stop:main", ["-r", f"{W}/REPO", "-a"], env, an.root)
        assert rc == 0
        assert not mods & (HEAVY | PATHLIB), sorted(mods & (HEAVY | PATHLIB))
        assert not mods & {"shutil", "subprocess", "threading"}, mods & {"shutil", "subprocess"}
        rc, out, _ = an.aa("aa-status", "-r", f"{W}/REPO", "alpha")
        assert "Down" in out, out
    finally:
        an.close()


def record_classes() -> list[type[Record]]:
    """Every record class of the ovis package (each module imported)."""
    for m in pkgutil.walk_packages(ovis.__path__, "ovis."):
        if m.name not in ("ovis.__main__",):
            importlib.import_module(m.name)
    out: list[type[Record]] = []
    todo: list[type[Record]] = [Record]
    while todo:
        c = todo.pop()
        for sub in c.__subclasses__():
            todo.append(sub)
            if sub is not Frozen and sub.__module__.startswith("ovis."):
                out.append(sub)
    return out


def test_no_ovis_module_imports_dataclasses() -> None:
    import ast

    assert len(record_classes()) >= 30  # the model, the engine, the boot, the readers...
    users = []
    for f in sorted(Path(ovis.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("dataclasses", "inspect") for n in names):
                users.append(str(f.relative_to(REPO)))
    assert not users, users


def test_every_record_takes_its_fields_in_order() -> None:
    """``__reduce__`` (pickle, copy) and replace() rebuild a record through ``__init__``
    with its fields in ``_fields`` order: a field added to one and not the other breaks them."""
    for cls in record_classes():
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        assert params == list(cls._fields), cls
        # each field is stored (a slot) or derived from stored ones (Paths: its Path
        # properties over the strings it keeps)
        assert all(f in cls.__slots__ or isinstance(getattr(cls, f, None), property)
                   for f in cls._fields), cls


def model() -> Service:
    prog = Program(ProgramKind.EXECLINE, "sleep 1000", runas="nobody")
    return Service("web", Kind.LONGRUN, Path("/etc/ovis/service/web"), depends=("db",),
                   start=prog, env={"A": "1"}, lines={"depends": (Path("/x"), 3)},
                   logger=LoggerSpec(backup=5, extra_files={"x": Path("/y")}))


def test_records_compare_hash_and_freeze_as_the_dataclasses_did() -> None:
    a, b = model(), model()
    assert a == b and a is not b
    b.env["B"] = "2"  # a Service is mutable, and compared field by field
    assert a != b
    with pytest.raises(TypeError):
        hash(a)
    p = Program(ProgramKind.EXECLINE, "x")
    assert p == Program(ProgramKind.EXECLINE, "x") and hash(p) == hash(Program(ProgramKind.EXECLINE, "x"))
    assert p != Program(ProgramKind.EXECLINE, "y") and p != ("execline", "x")
    with pytest.raises(AttributeError):
        p.text = "y"  # type: ignore[misc]
    assert p.text == "x"
    # LoggerSpec's extra_files is compared but not hashed (a dict)
    l1, l2 = LoggerSpec(extra_files={"a": Path("/a")}), LoggerSpec(extra_files={"b": Path("/b")})
    assert l1 != l2 and hash(l1) == hash(l2)
    assert repr(p) == "Program(kind=<ProgramKind.EXECLINE: 'execline'>, text='x', path=None, runas=None)"
    assert not hasattr(a, "__dict__")  # slots: no per-instance dict


def test_records_pickle_and_copy() -> None:
    import copy

    a = model()
    for b in (pickle.loads(pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL)), copy.copy(a),
              copy.deepcopy(a)):
        assert b == a and b is not a
        assert b.start == a.start and isinstance(b.start, Program)
    assert copy.copy(a).env is a.env and copy.deepcopy(a).env is not a.env


def test_replace_asdict_fields() -> None:
    a = model()
    b = replace(a, name="api", depends=())
    assert (b.name, b.depends, b.env) == ("api", (), a.env) and a.name == "web"
    assert asdict(b)["name"] == "api" and list(asdict(b)) == list(fields(Service))
    assert fields(a) == fields(Service) and fields(Service)[:3] == ("name", "kind", "source")
    with pytest.raises(TypeError):
        replace(a, nosuch=1)
    p = replace(Program(ProgramKind.FILE, path=Path("/run")), runas="root")
    assert (p.kind, p.path, p.runas) == (ProgramKind.FILE, Path("/run"), "root")


def test_the_compilers_sha256_is_sha256() -> None:
    import hashlib

    from ovis.service.sha import sha256

    for data in (b"", b"abc", bytes(range(256)) * 300):
        h = sha256(data[:7])
        h.update(data[7:])
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()

"""The readers of LIVE that ``ovis status`` uses answer as json.loads would.

State records and ``ovis.json`` are read with os.read and decoded with a
faster exact JSON call (engine/state.py) instead of a buffered file and
json.loads; these tests write records the engine's way and check the
answer is json.loads's, for the odd cases too (missing, garbage, unknown
keys, a record larger than one read).
"""

from __future__ import annotations

import os
from pathlib import Path

from ovis.engine import state as statefile
from ovis.engine.state import read_small
from ovis.paths import Paths


def _paths(tmp_path: Path) -> Paths:
    return Paths.resolve({}, live=str(tmp_path / "live"), services=str(tmp_path / "svc"),
                         trees=str(tmp_path / "trees"), logdir=str(tmp_path / "log"),
                         skel=str(tmp_path / "skel"))


def _json_load(paths: Paths, name: str) -> statefile.ServiceState | None:
    """A record read the plain way: a buffered file and json.loads."""
    import json

    try:
        data = json.loads(Path(statefile._path(paths, name)).read_bytes())
        return statefile.ServiceState(**{k: v for k, v in data.items()
                                         if k in statefile._KNOWN})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def test_state_records_read_alike(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    st = statefile.ServiceState(name="web", state="failed", wanted="up", reason="timeout", exit=3,
                                detail="x" * 100_000, since=12.5, timings={"start_begun": 1.0})
    statefile.save(paths, st)
    got = statefile.load(paths, "web")
    assert got == _json_load(paths, "web") == st  # 100 kB: more than one read
    assert statefile.load(paths, "nope") is None is _json_load(paths, "nope")
    rec = Path(statefile._path(paths, "odd"))
    for text in (b"{not json", b"[1, 2]", b'{"name": "odd", "state": "up", "future_key": 1}', b""):
        rec.write_bytes(text)
        assert statefile.load(paths, "odd") == _json_load(paths, "odd"), text
    assert statefile.load(paths, "odd") is None  # the empty file


def test_read_small_whole_file(tmp_path: Path) -> None:
    for size in (0, 35, 65535, 65536, 65537, 200_000):
        f = tmp_path / f"f{size}"
        data = os.urandom(size)
        f.write_bytes(data)
        assert read_small(str(f)) == data, size
    assert read_small(str(tmp_path / "missing")) is None
    assert read_small(str(tmp_path)) is None  # a directory: unreadable, not an exception


def test_table_models_are_the_compiled_services(tmp_path: Path) -> None:
    """View.table_models gives, field for field, what service_from_metadata gives the table."""
    from ovis.engine.status import TableModel, View
    from ovis.service.compiler import META, compiled_services
    from tests.test_cli_lazy import _compiled_tree

    import ovis.engine.status as status

    assert status.META == META
    paths = _compiled_tree(tmp_path)
    full = compiled_services(paths)
    light = View(paths).table_models()
    assert sorted(light) == sorted(full) == ["db", "init", "web"]
    for name, svc in full.items():
        got = light[name]
        want = (svc.name, svc.kind, svc.description, str(svc.source), svc.notify, svc.essential,
                tuple(svc.contents))
        assert (got.name, got.kind, got.description, got.source, got.notify, got.essential,
                got.contents) == want
    odd = {"name": "x", "kind": "bundle", "source": "", "contents": ["a", "b"], "notify": True}
    m = TableModel.from_metadata(odd)
    from ovis.service.compiler import service_from_metadata

    s = service_from_metadata(odd)
    assert (m.source, m.contents, m.notify) == (str(s.source), s.contents, s.notify)


def _modules(code: str, *args: str) -> set[str]:
    """The modules a ``python -I -S`` (a lean launcher) holds after *code* ran."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    probe = (f"import sys; sys.path.append({str(repo)!r})\n{code}\n"
             "sys.stdout.flush()\nsys.__stderr__.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", "import json\n" + probe, *args],
                       capture_output=True, text=True, timeout=120)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("MODULES ")]
    assert line, p.stderr
    return set(json.loads(line[-1][len("MODULES "):]))


def test_version_imports_only_the_main_module() -> None:
    mods = _modules("from ovis.cli.main import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass")
    assert {m for m in mods if m.startswith("ovis")} == {"ovis", "ovis.cli", "ovis.cli.main"}
    assert not mods & {"typing", "pathlib", "argparse"}


def test_aa_status_imports_no_compiler(tmp_path: Path) -> None:
    """aa-status reads s6's status and the state records: the compiled models are not loaded."""
    (tmp_path / "repo").mkdir()
    code = ("from ovis.cli.aa.status import main\ntry:\n"
            f"    main(['aa-status', '-r', {str(tmp_path / 'repo')!r}, '-a'])\n"
            "except SystemExit:\n    pass")
    mods = _modules(code)
    assert "ovis.cli.aa.status" in mods
    assert not mods & {"ovis.service.compiler", "ovis.service.repository", "hashlib"}, mods


def test_needed_by_follows_an_edited_definition(tmp_path: Path) -> None:
    """ovis status NAME's needed-by: compiled models while unchanged, the edited file once it changed."""
    import time

    from ovis.engine.status import View, dependents_of
    from tests.test_cli_lazy import _compiled_tree

    paths = _compiled_tree(tmp_path)  # web: Depends = ( db init )
    assert dependents_of(View(paths), "db") == (["web"], [])
    web = tmp_path / "svc" / "web"
    web.write_text('[Main]\nType = classic\nDepends = ( init )\n[Start]\nExecute = ( sleep 100 )\n')
    later = time.time() + 5  # newer than its ovis.json whatever the clock's granularity
    os.utime(web, (later, later))
    assert dependents_of(View(paths), "db") == ([], [])
    assert dependents_of(View(paths), "init") == (["web"], [])
    (tmp_path / "svc" / "other").write_text(
        '[Main]\nType = classic\nDepends = ( db )\n[Start]\nExecute = ( sleep 100 )\n')
    assert dependents_of(View(paths), "db") == (["other"], [])  # defined, never compiled: parsed


def test_loads_answers_as_json_loads() -> None:
    """engine.state.loads: json.loads's value, or an error where json.loads raises one."""
    import json

    from ovis.engine.state import loads

    cases = [b'{"a": 1}', b' \n{"a": [1, 2.5, null, true]}\n', b'{"a": 1} x', b'{"a": 1}{}', b"",
             b"   ", b"[1, 2]", b'"s"', b"12", b"\xef\xbb\xbf{\"a\": 1}", '{"é": "ü"}'.encode(),
             '{"a": 1}'.encode("utf-16"), b"\xff\xfe", b'{"a": 1}\x0c', b'{"a": NaN}', b"{'a': 1}",
             b'{"a": "\\ud800"}', b"\x80abc"]
    for data in cases:
        try:
            want: object = ("ok", json.loads(data))
        except ValueError:
            want = "error"
        try:
            got: object = ("ok", loads(data))
        except ValueError:
            got = "error"
        assert repr(got) == repr(want), data  # repr: NaN equals itself there

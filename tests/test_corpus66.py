"""A corpus of 66 frontends written as distributions write them, with the
command line each one must exec once compiled (tests/corpus/66compile/).

Each ``NAME`` is a frontend; ``NAME.expected`` (JSON) says what the daemon
gets: ``argv`` (argv[0] as written), ``env`` (variables it must see with
these values), ``env_prefix`` (values that must start so, e.g. an extended
PATH), ``absent`` (``key=!value`` variables it must not see) and ``uid``.
The test compiles the frontend with ovis's compiler and runs the compiled
script with the real execlineb and 66-tools commands; the daemon itself is
a stand-in of the same name on PATH that records what it was given.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from ovis.paths import Paths
from ovis.service.compiler import Compiler
from ovis.service.model import Kind
from ovis.service.repository import Repository
from tests.nsutil import script

CORPUS = Path(__file__).parent / "corpus" / "66compile"
CASES = sorted(p.name[: -len(".expected")] for p in CORPUS.glob("*.expected"))

STUB = """#!/usr/bin/python3
import json, os, sys
out = os.path.join(os.environ["CORPUS_OUT"], os.path.basename(sys.argv[0]) + ".json")
env = {k: v for k, v in os.environ.items() if k != "CORPUS_OUT"}
with open(out + ".tmp", "w") as f:
    json.dump({"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]], "env": env,
               "uid": os.getuid()}, f)
os.rename(out + ".tmp", out)
"""


@pytest.fixture(scope="module")
def world() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ovis-corpus-", dir="/tmp"))
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", CASES)
def test_corpus_compiles_to_the_expected_command_line(world: Path, name: str) -> None:
    expected = json.loads((CORPUS / f"{name}.expected").read_text())
    case = world / name
    bindir, out = case / "bin", case / "out"
    bindir.mkdir(parents=True)
    out.mkdir()
    os.chmod(case, 0o755)
    os.chmod(out, 0o777)
    stub = bindir / expected["argv"][0]
    stub.write_text(STUB)
    stub.chmod(0o755)
    paths = Paths(skel=case / "skel", services=(CORPUS,), trees=case / "trees",
                  live=case / "live", logdir=case / "log")
    svc = Repository((CORPUS,)).load(name)
    Compiler(paths).compile(svc)
    sd = paths.servicedir(name)
    tools = os.path.dirname(script("execl-cmdline"))
    env = {"PATH": f"{bindir}:{tools}:/usr/bin:/bin", "CORPUS_OUT": str(out)}
    prog = sd / ("run" if svc.kind is Kind.LONGRUN else "start")
    proc = subprocess.run([str(prog)], cwd=sd, env=env, capture_output=True, text=True, timeout=60)
    record = out / f"{stub.name}.json"
    assert record.exists(), f"{prog.name} exited {proc.returncode}: {proc.stderr}\n{prog.read_text()}"
    got = json.loads(record.read_text())
    assert got["argv"] == expected["argv"]
    for key, value in expected.get("env", {}).items():
        assert got["env"].get(key) == value, key
    for key, prefix in expected.get("env_prefix", {}).items():
        assert got["env"].get(key, "").startswith(prefix), (key, got["env"].get(key))
    for key in expected.get("absent", []):
        assert key not in got["env"], key
    if "uid" in expected and os.geteuid() == 0:
        assert got["uid"] == pwd.getpwnam(expected["uid"]).pw_uid

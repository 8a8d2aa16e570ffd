"""aa-enable compiles a plain source servicedir where it is, with no staging copy.

A servicedir with nothing to merge or resolve (no ``log``, no configuration
directory, no symlink, fifo or directory other than the four dependency
ones) is parsed and compiled from the source itself; anything else goes
through the staging copy as before.  Both must give the same servicedir,
file for file, mode for mode, and the same output: these tests enable the
same sources both ways (an empty configuration directory in the listdir
forces the staged copy of a service) and compare the repositories.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from ovis.aa.enable import Enabler
from ovis.aa.notes import Notes
from ovis.paths import Paths

from .nsutil import script


def _write(path: Path, text: str = "", mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _sources(src: Path) -> list[str]:
    """Plain servicedirs of every shape aa-enable copies; the names to enable."""
    run = "#!/bin/sh\nexec sleep 1000\n"
    _write(src / "a/run", run, 0o755)
    for sub, n, mode in (("needs", "b", 0o644), ("needs", "c", 0o600), ("wants", "d", 0o644),
                         ("after", "e", 0o640), ("before", "zz", 0o644), ("needs", ".hid", 0o644)):
        _write(src / "a" / sub / n, "x" if mode == 0o640 else "", mode)
    (src / "a/needs").chmod(0o750)
    _write(src / "b/start", "#!/bin/sh\ntrue\n", 0o755)
    _write(src / "b/stop", "#!/bin/sh\ntrue\n", 0o700)
    _write(src / "b/timeout", "7\n")
    _write(src / "b/essential")
    _write(src / "c/run", run, 0o750)
    _write(src / "c/finish", "#!/bin/sh\ntrue\n", 0o755)
    _write(src / "c/notification-fd", "3\n")
    _write(src / "c/down")
    _write(src / "c/.hidden", "h")
    _write(src / "c/nosetsid")
    _write(src / "d/run", run, 0o755)
    _write(src / "d/gets-ready")
    _write(src / "d/unknown-file", "w", 0o640)
    _write(src / "d/timeout-kill", "500\n")
    _write(src / "getty@/run", run, 0o755)
    _write(src / "getty@/needs/setup@")
    _write(src / "setup@/start", "#!/bin/sh\ntrue\n", 0o755)
    _write(src / "e/start", "#!/bin/sh\ntrue\n", 0o755)
    _write(src / "zz/run", run, 0o644)  # not executable: fails the same way
    return ["a", "getty@tty1", "zz"]


def _snapshot(repo: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for base, dirs, files in os.walk(repo):
        for n in dirs + files:
            p = Path(base) / n
            st = p.lstat()
            rel = str(p.relative_to(repo))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                # the repository's path is in an essential longrun's finish (and so its digest)
                data = p.read_bytes().replace(bytes(repo), b"REPO")
                out[rel] = ("file", oct(st.st_mode), re.sub(rb'"digest": "[0-9a-f]+"', b"D", data))
            else:
                out[rel] = ("other", oct(st.st_mode))
    return out


def _enable(root: Path, repo: str, listdir: Path, *args: str) -> tuple[int, str, str]:
    r = subprocess.run([script("aa-enable"), "-r", str(root / repo), "-S", str(root / "src"),
                        "-l", str(listdir), *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("args", [(), ("-k", "c"), ("-N",), ("--no-supervise",)])
def test_plain_servicedirs_compile_as_their_staged_copies(tmp_path: Path, args: tuple[str, ...]) -> None:
    names = _sources(tmp_path / "src")
    plain, staged = tmp_path / "plain-list", tmp_path / "staged-list"
    for n in names:
        _write(plain / n)
        (staged / n).mkdir(parents=True)  # a configuration directory, empty: the copy is made
    # the auto-enabled (b, c, d, setup@tty1) are named too, so that each is staged as well
    for n in ("b", "c", "d", "setup@tty1", "e"):
        _write(plain / n)
        (staged / n).mkdir()
    got_plain = _enable(tmp_path, "A", plain, *args)
    got_staged = _enable(tmp_path, "B", staged, *args)
    assert got_plain[0] == 0, got_plain[2]
    assert got_plain == got_staged
    a, b = _snapshot(tmp_path / "A"), _snapshot(tmp_path / "B")
    assert "zz" not in {k.split("/")[0] for k in a}  # failed, set aside or not made
    assert "a/needs/b" in a and "getty@tty1/needs/setup@tty1" in a and "c/nosetsid" in a
    assert a == b


def test_upgrade_of_a_plain_servicedir_replaces_its_files(tmp_path: Path) -> None:
    """-u: the same servicedir as a staged upgrade; down and supervise/ kept."""
    names = _sources(tmp_path / "src")
    src = tmp_path / "src"
    plain, staged = tmp_path / "plain-list", tmp_path / "staged-list"
    for n in names[:2] + ["b"]:
        _write(plain / n)
        (staged / n).mkdir(parents=True)
    _write(src / "b/gets-ready", "", 0o640)
    for repo, lst in (("A", plain), ("B", staged)):
        assert _enable(tmp_path, repo, lst)[0] == 0
        _write(tmp_path / repo / "a/supervise/keep")
        # the upgrade gives a file it replaces the source's mode again
        (tmp_path / repo / "b/gets-ready").chmod(0o600)
        (tmp_path / repo / "b/timeout").chmod(0o600)
    _write(src / "a/run", "#!/bin/sh\nexec sleep 999\n", 0o700)
    _write(src / "a/needs/new")
    _write(src / "a/essential")
    for sub in ("wants", "before"):
        for f in (src / "a" / sub).iterdir():
            f.unlink()
        (src / "a" / sub).rmdir()
    got = [_enable(tmp_path, repo, lst, "-u", "-N") for repo, lst in (("A", plain), ("B", staged))]
    assert got[0][0] == 0 and got[0] == got[1], got
    a, b = _snapshot(tmp_path / "A"), _snapshot(tmp_path / "B")
    assert a["a/run"][2] == b"#!/bin/sh\nexec sleep 999\n" and "a/supervise/keep" in a
    assert "a/essential" in a and "a/needs/new" in a and "a/wants/d" not in a
    assert a["b/gets-ready"][1] == oct(stat.S_IFREG | 0o640)
    assert a["b/timeout"][1] == oct(stat.S_IFREG | 0o644)
    assert a == b


class _Quiet(Notes):
    def warned(self, name: str, text: str) -> None:
        pass

    def failed(self, name: str, text: str) -> None:
        pass

    def enabled(self, name: str) -> None:
        pass


@pytest.mark.parametrize("shape", ["log-file", "log-dir", "data-dir", "symlink", "fifo",
                                   "dir-in-needs", "symlink-in-needs"])
def test_what_needs_the_staging_copy_gets_it(tmp_path: Path, shape: str) -> None:
    sd = tmp_path / "svc"
    _write(sd / "run", "#!/bin/sh\nexec true\n", 0o755)
    _write(sd / "needs/x")
    en = Enabler(_Quiet(), Paths.resolve().with_anopa_repo(str(tmp_path / "repo")), [str(tmp_path)],
                 needs=True, wants=True, skip=None, upgrade=False, supervise=True, quiet=True)
    assert en.plain(str(sd), None) is not None
    if shape == "log-file":
        _write(sd / "log")
    elif shape == "log-dir":
        _write(sd / "log/run", "#!/bin/sh\nexec cat\n", 0o755)
    elif shape == "data-dir":
        _write(sd / "data/conf", "x")
    elif shape == "symlink":
        (sd / "finish").symlink_to("run")
    elif shape == "fifo":
        os.mkfifo(sd / "fifo")
    elif shape == "dir-in-needs":
        (sd / "needs/sub").mkdir()
    else:
        (sd / "needs/y").symlink_to("x")
    assert en.plain(str(sd), None) is None


def test_an_instance_gets_its_dependencies_renamed(tmp_path: Path) -> None:
    sd = tmp_path / "getty@"
    _write(sd / "run", "#!/bin/sh\nexec true\n", 0o755)
    _write(sd / "needs/setup@", "", 0o600)
    _write(sd / "needs/plain")
    en = Enabler(_Quiet(), Paths.resolve().with_anopa_repo(str(tmp_path / "repo")), [str(tmp_path)],
                 needs=True, wants=True, skip=None, upgrade=False, supervise=True, quiet=True)
    got = en.plain(str(sd), "tty1")
    assert got is not None
    names, deps = got
    assert names == {"run", "needs"}
    assert sorted((t, m) for t, _, m in deps["needs"]) == [("plain", 0o644), ("setup@tty1", 0o600)]

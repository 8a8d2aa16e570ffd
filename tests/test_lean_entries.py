"""The commands of the boot, the shutdown and anopa's stage scripts import little.

Under an emulated CPU (QEMU TCG: tests/test_vm.py) every module a Python
start imports costs tens of milliseconds, and anopa's stages start some 30
Pythons (one per aa-* call), the boot and the poweroff a few: these tests
fail when a change brings the heavy modules (typing, dataclasses, argparse,
the service model, the engine) back into a tool or an entry that does not
use them.  Each runs the entry's import in a fresh ``python -I -S`` (as the
installed launchers and PID 1's scripts run it) and reads ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Never needed by the lean entries below; each costs many modules.
HEAVY = {"typing", "dataclasses", "inspect", "argparse", "ast"}
#: What only a tool that starts or stops services needs.
ENGINE = {"ovis.engine.manager", "ovis.service.model", "ovis.service.compiler", "ovis.aa.repo",
          "ovis.aa.enable"}


def imported(code: str) -> set[str]:
    """The modules a fresh isolated interpreter holds after running *code*."""
    prog = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}\n"
            "import json; print(json.dumps(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", prog], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.splitlines()[-1])) - {"json", "json.decoder", "json.scanner",
                                                         "json.encoder", "_json"}


# The aa-* tools of anopa's stage 0, 3 and 4 (aa-echo and aa-status are the launchers' own).
AA_TOOLS = ["mount", "umount", "kill", "terminate", "reboot", "pivot", "sync", "incmdline",
            "filetest", "ctty", "shutdown", "mvlog"]


@pytest.mark.parametrize("tool", AA_TOOLS)
def test_stage_aa_tools_import_no_heavy_module(tool: str) -> None:
    mods = imported(f"from ovis.cli.aa.{tool} import entrypoint")
    assert not mods & (HEAVY | ENGINE), sorted(mods & (HEAVY | ENGINE))


def test_aa_chroot_imports_no_pathlib(tmp_path: Path) -> None:
    """aa-chroot (stage 0 in the initramfs, and the standalone copy stage 3 runs after the
    pivot) needs os and sys: pathlib would bring re, enum, urllib... (some 35 modules)."""
    mods = imported("from ovis.cli.aa.chroot import entrypoint")
    # (re is the helper's own json here; the standalone run below checks it too)
    assert "ovis.cli.aa.chroot" in mods and not mods & (HEAVY | ENGINE | {"pathlib"}), \
        sorted(mods & (HEAVY | ENGINE | {"pathlib"}))
    from ovis.cli.aa.chroot import write_standalone

    script = tmp_path / "aa-chroot"
    write_standalone(script)
    r = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", str(script), "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "aa-chroot (ovis)" in r.stdout, r
    loaded = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
              if line.startswith("import time:")}
    assert "ovis" not in loaded and "encodings" in loaded, r.stderr  # it sees imports at all
    assert not loaded & {"pathlib", "re", "typing"}, sorted(loaded & {"pathlib", "re", "typing"})


def test_aa_enable_imports_no_engine_runner() -> None:
    """aa-enable compiles servicedirs; it starts nothing: no manager, runner or s6 backend
    (anopa's stage 1 runs it once per boot, where each module costs tens of ms)."""
    mods = imported("from ovis.cli.aa.enable import entrypoint")
    runner = {"ovis.engine.manager", "ovis.engine.runner", "ovis.engine.s6backend",
              "ovis.aa.run", "ovis.aa.plan", "subprocess"}
    assert "ovis.service.compiler" in mods  # what it does need (the test can see imports)
    assert not mods & runner, sorted(mods & runner)


def test_stage4_entry_imports_no_heavy_module() -> None:
    """What .s6-svscan/finish runs (stage 4) up to the stage's own work: no pathlib either
    (with fnmatch, urllib.parse and ipaddress, some 10 modules more: its paths are str)."""
    mods = imported("import ovis.cli.stagecmd, ovis.cli.main, ovis.boot.shutdown, "
                    "ovis.boot.signals, ovis.linux.procs, ovis.linux.swap, ovis.linux.mounts, "
                    "ovis.linux.power")
    assert "ovis.linux.power" in mods  # (the test sees the imports)
    assert not mods & (HEAVY | ENGINE | {"pathlib"}), sorted(mods & (HEAVY | ENGINE | {"pathlib"}))
    # nor json and the regular expressions it brings (ovis.jsonlite reads boot.json)
    r = subprocess.run([sys.executable, "-I", "-S", "-c",
                        f"import sys, os; sys.path.insert(0, {str(ROOT)!r})\n"
                        "import ovis.cli.stagecmd, ovis.cli.main, ovis.boot.shutdown as s\n"
                        "import ovis.boot.signals, ovis.linux.procs, ovis.linux.swap\n"
                        "import ovis.linux.mounts, ovis.linux.power\n"
                        "d = os.environ.get('TMPDIR', '/tmp') + f'/ovis-lean-{os.getpid()}'\n"
                        "os.makedirs(d)\n"
                        "open(d + '/boot.json', 'w').write('{\"gracetime\": 1000}')\n"
                        "s.request_shutdown(d, 'poweroff')\n"
                        "print(s.boot_info(d), s.read_request(d)['action'])\n"
                        "os.unlink(d + '/shutdown'); os.unlink(d + '/boot.json'); os.rmdir(d)\n"
                        "print(' '.join(sorted(sys.modules)))"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "{'gracetime': 1000} poweroff", out
    # nor signal.py's enums (the C module _signal serves ovis.boot.signals and ovis.linux.procs)
    assert not set(out[1].split()) & {"json", "re", "enum", "signal"}, out[1]


def test_aa_shutdown_names_agree_with_the_repository_and_aa_enable(tmp_path: Path) -> None:
    """aa-shutdown repeats a few names of ovis.aa.repo and ovis.aa.enable (not to import them)."""
    from ovis.aa import enable, repo, shutdown

    assert (shutdown.DEFAULT_REPODIR, shutdown.SCANDIR, shutdown.SVSCANDIR) == (
        repo.DEFAULT_REPODIR, repo.SCANDIR, enable.SVSCANDIR)
    assert shutdown.action_file(tmp_path) == enable.action_file(tmp_path)
    for s in ("/", "/run/services/", "/run/services", "a//", ""):
        assert shutdown.unslash(s) == repo.unslash(s)


# ovis boot: PID 1's command line without argparse ------------------------------------------
BOOT_LINES = [[], ["-s", "/etc/ovis"], ["-z", "-m", "-s", "/s", "-l", "log", "-e", "/env", "-d",
              "/dev", "-b", "[hello]"], ["-s", "/a", "-s", "/b"], ["single"], ["a", "-s", "x"],
              ["-s", "/x", "--", "nginx", "-g", "daemon off;"], ["-z", "--", "-x"], ["--", "--"],
              ["-m", "sh", "-c", "exit 3"]]
#: Not read by quick_boot (argparse answers them, or errs, as before).
BOOT_OTHERS = [["--help"], ["-sSKEL"], ["-zm"], ["-s"], ["-s", "-z"], ["--skel", "/x"],
               ["-v", "2"], ["-x"], ["-b", "--", "x"]]


@pytest.mark.parametrize("argv", BOOT_LINES, ids=lambda a: " ".join(a) or "(none)")
def test_quick_boot_reads_what_argparse_reads(argv: list[str]) -> None:
    from ovis.cli.bootcmds import cmd_boot, quick_boot
    from ovis.cli.main import build_parser

    quick = quick_boot(list(argv))
    assert quick is not None
    full = build_parser("boot").parse_args(["boot", *argv])
    keys = ("boot_skel", "skel", "log_user", "environment", "dev", "banner", "remount", "colour",
            "command")
    assert {k: getattr(quick, k) for k in keys} == {k: getattr(full, k) for k in keys}
    assert quick.func is full.func is cmd_boot  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", BOOT_OTHERS, ids=" ".join)
def test_quick_boot_leaves_the_rest_to_argparse(argv: list[str]) -> None:
    from ovis.cli.bootcmds import quick_boot

    assert quick_boot(list(argv)) is None


def test_ovis_boot_builds_no_parser() -> None:
    """`ovis boot -s SKEL` (what init= runs) reaches cmd_boot with argparse never imported."""
    mods = imported("import ovis.cli.bootcmds as b\n"
                    "def stop(args):\n"
                    "    import json; print(json.dumps(sorted(sys.modules))); raise SystemExit(0)\n"
                    "b.cmd_boot = stop\n"
                    "from ovis.cli.main import main\nmain(['boot', '-s', '/etc/ovis'])")
    assert "ovis.cli.bootcmds" in mods and not mods & HEAVY, sorted(mods & HEAVY)


# ovis poweroff|reboot|halt without argparse ------------------------------------------------
POWER_LINES = [["poweroff"], ["reboot", "-f"], ["halt", "--force", "--exit-code", "3"],
               ["poweroff", "--repeat-forces"], ["reboot", "--exit-code", "0", "--repeat-forces"]]
POWER_OTHERS = [["poweroff", "--help"], ["reboot", "--exit-code", "-1"], ["halt", "-v", "0"],
                ["poweroff", "--live", "/x"], ["reboot", "now"], ["halt", "--exit-code"]]


@pytest.mark.parametrize("argv", POWER_LINES, ids=" ".join)
def test_quick_power_reads_what_argparse_reads(argv: list[str]) -> None:
    from ovis.cli.main import build_parser
    from ovis.cli.bootcmds import quick_power

    quick = quick_power(argv)
    assert quick is not None
    full = build_parser(argv[0]).parse_args(argv)
    verb, opts = quick
    assert (verb, opts) == (full.command_name, {"exitcode": full.exit_code, "force": full.force,
                                                 "repeat_forces": full.repeat_forces})
    assert full.verbosity > 0 and full.live is None  # what quick's request_power assumes


@pytest.mark.parametrize("argv", POWER_OTHERS, ids=" ".join)
def test_quick_power_leaves_the_rest_to_argparse(argv: list[str]) -> None:
    from ovis.cli.bootcmds import quick_power

    assert quick_power(argv) is None


def test_ovis_poweroff_builds_no_parser(tmp_path: Path) -> None:
    """`ovis poweroff` asks for the shutdown of OVIS_LIVE's system with argparse never imported."""
    mods = imported("import os, ovis.cli.bootcmds as s\n"
                    f"os.environ['OVIS_LIVE'] = {str(tmp_path)!r}\n"
                    "def ask(live, verb, **kw):\n"
                    "    assert (str(live), verb, kw) == (os.environ['OVIS_LIVE'], 'reboot', "
                    "{'exitcode': 3, 'force': True, 'repeat_forces': False}), (live, verb, kw)\n"
                    "    import json; print(json.dumps(sorted(sys.modules))); raise SystemExit(0)\n"
                    "s.request_power = ask\n"
                    "from ovis.cli.main import main\nmain(['reboot', '-f', '--exit-code', '3'])")
    assert "ovis.cli.bootcmds" in mods and "argparse" not in mods


def test_stage1_module_imports_no_parser_and_no_shutil() -> None:
    """PID 1's Python up to its steps: no argparse, no shutil (and its zlib, bz2, lzma)."""
    mods = imported("import ovis.cli.main, ovis.cli.stagecmd, ovis.cli.bootcmds, "
                    "ovis.boot.stage1, ovis.boot.rescue, ovis.boot.signals")
    assert not mods & {"argparse", "shutil", "bz2", "lzma", "subprocess"}, \
        sorted(mods & {"argparse", "shutil", "bz2", "lzma", "subprocess"})


def test_a_second_power_request_is_refused_with_one_line(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`ovis poweroff` while a shutdown is under way: exit 1 and one line (request_power's
    message had no `sys` to print with); LIVE's paths as str or Path alike."""
    from ovis.boot.shutdown import read_request, request_shutdown
    from ovis.cli.bootcmds import request_power

    (tmp_path / "boot.json").write_text("{}")
    assert request_shutdown(str(tmp_path), "poweroff", exitcode=4)
    assert request_power(str(tmp_path), "reboot", exitcode=None) == 1
    assert capsys.readouterr().err == "ovis: a shutdown is already in progress\n"
    req = read_request(tmp_path) or {}
    assert (req.get("action"), req.get("exitcode"), req.get("force")) == ("poweroff", 4, False)
    # forced over an unforced one: it wins, keeping the exit code asked first
    assert request_shutdown(tmp_path, "halt", force=True)
    req = read_request(str(tmp_path)) or {}
    assert (req.get("action"), req.get("exitcode"), req.get("force")) == ("halt", 4, True)

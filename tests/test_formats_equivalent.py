"""The same service written in each source format parses to the same model.

The 66 ``@key`` dialect, the 66 0.8 dialect and (where the concept exists)
an anopa service directory are compared on the fields that change what the
service does; where each came from (``source``, ``lines``) and how scripts
are stored (execline text vs a file) naturally differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovis.service.formats.anopa import parse_anopa_dir
from ovis.service.formats.sixtysix import parse_frontend
from ovis.service.model import Kind, Service

SEMANTIC_FIELDS = (
    "kind", "depends", "wants", "after", "before", "notify",
    "timeout_start", "timeout_stop", "timeout_kill", "timeout_finish",
    "down_signal", "max_death", "env", "down", "earlier",
)
UNORDERED = ("depends", "wants", "after", "before")


def semantics(svc: Service, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """What *svc* means, independent of how it was written.

    Dependency lists are compared as sets (order carries no meaning), and
    scripts and the logger only by presence.
    """
    found: dict[str, Any] = {}
    for name in SEMANTIC_FIELDS:
        if name in skip:
            continue
        value = getattr(svc, name)
        found[name] = tuple(sorted(value)) if name in UNORDERED else value
    found["has_start"] = svc.start is not None
    found["has_stop"] = svc.stop is not None
    found["has_logger"] = svc.logger is not None
    return found


def assert_equivalent(*services: Service, skip: tuple[str, ...] = ()) -> None:
    first = semantics(services[0], skip)
    for other in services[1:]:
        assert semantics(other, skip) == first, f"{other.source} differs from {services[0].source}"


def write_dir(root: Path, files: dict[str, str]) -> Path:
    """An anopa service directory; scripts are made executable."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        if rel.rsplit("/", 1)[-1] in ("run", "finish", "start", "stop"):
            path.chmod(0o755)
    return root


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------
# A longrun with dependencies, readiness, timeouts, env and a logger
# --------------------------------------------------------------------------

DAEMON_AT = """\
[main]
@type = classic
@version = 1.0.0
@description = "a daemon"
@depends = ( dbus udevd )
@optsdepends = ( syslog )
@flags = ( down )
@notify = 3
@timeout-up = 5000
@timeout-down = 5000
@maxdeath = 10
@down-signal = SIGHUP
[start]
@execute = ( food -f )
[stop]
@execute = ( s6-echo stopped )
[environment]
FOO=bar
LEVEL=!debug
[logger]
@backup = 4
"""

DAEMON_08 = """\
[Main]
Type = classic
Version = 1.0.0
Description = "a daemon"
Depends = ( udevd
            dbus )
OptsDepends = ( syslog )
Flags = ( down )
Notify = 3
TimeoutStart = 5000
TimeoutStop = 5000
MaxDeath = 10
DownSignal = HUP
[Start]
Execute = (
    food -f
)
[Stop]
Execute = ( s6-echo stopped )
[Environment]
FOO=bar
LEVEL=debug
[Logger]
Backup = 4
"""

DAEMON_ANOPA = {
    "run": "#!/bin/sh\nexec food -f\n",
    "finish": "#!/bin/sh\necho stopped\n",
    "needs/dbus": "", "needs/udevd": "",
    "wants/syslog": "",
    "down": "",
    "notification-fd": "3\n",
    "timeout": "5\n",
    "max-death-tally": "10\n",
    "down-signal": "SIGHUP\n",
    "log/run": "#!/bin/sh\nexec s6-log n4 /var/log/food\n",
}


def test_longrun_in_three_formats(tmp_path: Path) -> None:
    at = parse_frontend(write_file(tmp_path / "at" / "food", DAEMON_AT), "food")
    v08 = parse_frontend(write_file(tmp_path / "v08" / "food", DAEMON_08), "food")
    anopa = parse_anopa_dir(write_dir(tmp_path / "anopa" / "food", DAEMON_ANOPA), "food")
    assert at.kind is Kind.LONGRUN and at.has_readiness
    assert at.env == {"FOO": "bar", "LEVEL": "debug"}
    assert_equivalent(at, v08)
    # anopa has no per-service environment (an env/ dir is copied, not read)
    assert_equivalent(at, v08, anopa, skip=("env",))


def test_kill_and_finish_timeouts_at_dialect_and_anopa(tmp_path: Path) -> None:
    """The 0.8 dialect has no kill/finish keys; the @key dialect and s6 files do."""
    at = parse_frontend(write_file(tmp_path / "k", "[main]\n@type = classic\n@timeout-kill = 300\n"
                                   "@timeout-finish = 400\n@options = ( !log )\n"
                                   "[start]\n@execute = ( x )\n"), "k")
    anopa = parse_anopa_dir(write_dir(tmp_path / "d" / "k", {
        "run": "#!/bin/sh\n", "timeout-kill": "300", "timeout-finish": "400"}), "k")
    assert (at.timeout_kill, at.timeout_finish) == (300, 400)
    assert_equivalent(at, anopa)


# --------------------------------------------------------------------------
# A oneshot with start and stop
# --------------------------------------------------------------------------

MOUNT_AT = """\
[main]
@type = oneshot
@depends = ( udevd )
@timeout-up = 0
@timeout-down = 0
@options = ( !log )
[start]
@execute = ( mount -a )
[stop]
@execute = ( umount -a )
"""

MOUNT_08 = """\
[Main]
Type = oneshot
Depends = ( udevd )
TimeoutStart = 0
TimeoutStop = 0
Options = ( !log )
[Start]
Execute = ( mount -a )
[Stop]
Execute = ( umount -a )
"""

MOUNT_ANOPA = {
    "start": "#!/bin/sh\nmount -a\n",
    "stop": "#!/bin/sh\numount -a\n",
    "needs/udevd": "",
    "timeout": "0\n",
}


def test_oneshot_in_three_formats(tmp_path: Path) -> None:
    at = parse_frontend(write_file(tmp_path / "at" / "mount", MOUNT_AT), "mount")
    v08 = parse_frontend(write_file(tmp_path / "v08" / "mount", MOUNT_08), "mount")
    anopa = parse_anopa_dir(write_dir(tmp_path / "anopa" / "mount", MOUNT_ANOPA), "mount")
    assert at.kind is Kind.ONESHOT and at.timeout_start == 0
    assert_equivalent(at, v08, anopa)


def test_oneshot_logs_by_default_in_frontend_only(tmp_path: Path) -> None:
    """66 gives every frontend service a logger unless !log; anopa only with log/."""
    text = MOUNT_08.replace("Options = ( !log )\n", "")
    v08 = parse_frontend(write_file(tmp_path / "m", text), "m")
    assert v08.logger is not None
    anopa = parse_anopa_dir(write_dir(tmp_path / "d" / "m", {**MOUNT_ANOPA, "log": ""}), "m")
    assert_equivalent(v08, anopa)


# --------------------------------------------------------------------------
# An instance template
# --------------------------------------------------------------------------

GETTY_AT = """\
[main]
@type = classic
@depends = ( setup@@I )
@optsdepends = ( console-@I )
[start]
@execute = ( agetty @I 38400 )
[logger]
@destination = /var/log/getty-@I
"""

GETTY_08 = """\
[Main]
Type = classic
Depends = ( setup@@I )
OptsDepends = ( console-@I )
[Start]
Execute = ( agetty @I 38400 )
[Logger]
Destination = /var/log/getty-@I
"""


def test_instance_template_in_three_formats(tmp_path: Path) -> None:
    at = parse_frontend(write_file(tmp_path / "at" / "getty@", GETTY_AT), "getty@tty2")
    v08 = parse_frontend(write_file(tmp_path / "v08" / "getty@", GETTY_08), "getty@tty2")
    anopa = parse_anopa_dir(write_dir(tmp_path / "anopa" / "getty@", {
        "run": "#!/bin/sh\n", "needs/setup@": "", "log/run": "#!/bin/sh\n",
    }), "getty@tty2")
    assert at.depends == ("setup@tty2",) and at.wants == ("console-tty2",)
    assert at.logger is not None and at.logger.destination == "/var/log/getty-tty2"
    assert_equivalent(at, v08)
    # anopa has no @I in file names other than a trailing '@'
    assert_equivalent(at, v08, anopa, skip=("wants",))
    assert anopa.depends == ("setup@tty2",)

"""The anopa-compatible aa-* utilities, run as real console scripts.

Help texts, exit codes and output are anopa 0.5.0's (help texts copied from
its sources; outputs from ../shared/research/anopa-ref.md).  Tools that
could hurt the host when run as root (aa-kill, aa-reboot, aa-terminate,
aa-mount, aa-umount, aa-pivot, aa-chroot) only ever run here inside fresh
PID+mount namespaces (or unprivileged); their real work is in test_aa_ns.py.
"""

from __future__ import annotations

import os
import pty
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ovis import __version__
from ovis.cli.aa.chroot import standalone_script

from .nsutil import NS_ARGS, require_namespaces, script
from .s6fixtures import Scandir, svstat, wait_for

DANGEROUS = {"aa-kill", "aa-reboot", "aa-terminate", "aa-mount", "aa-umount", "aa-pivot", "aa-chroot"}
GREEN, BLUE, YELLOW, RED, BOLD, OFF = "\x1b[1;32m", "\x1b[1;36m", "\x1b[1;33m", "\x1b[1;31m", "\x1b[1;39m", "\x1b[0m"

HELP = {
    "aa-echo": (
        '[OPTION...] MESSAGE...',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -B, --blank-first             Print a blank line (LF) first\n'
            ' -T, --title                   Show a main title (default)\n'
            ' -t, --title2                  Show a secondary title\n'
            ' -w, --warning                 Show a warning\n'
            ' -e, --error                   Show an error\n'
            ' -n, --normal                  Show "normal" text\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
            '\n'
            'MESSAGE can be used to set the text color:\n'
            '\n'
            ' +g, +green                    Set color to green\n'
            ' +b, +blue                     Set color to blue\n'
            ' +y, +yellow                   Set color to yellow\n'
            ' +r, +red                      Set color to red\n'
            ' +w, +white                    Set color to white\n'
            ' +n, +normal                   Set color to normal\n'
            ' ++TEXT                        To just print +TEXT\n'
        ),
    ),
    "aa-incmdline": (
        '[OPTION] NAME',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -f, --file FILE               Use FILE instead of /proc/cmdline\n'
            " -q, --quiet                   Don't write value (if any) to stdout\n"
            " -s, --safe[=C]                Ignore argument if value contain C (default: '/')\n"
            ' -r, --required                Ignore argument if no value specified\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-test": (
        'OPTION FILE',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -b, --block                   Test whether FILE is a block special\n'
            ' -d, --directory               Test whether FILE is a directory\n'
            ' -e, --exists                  Test whether FILE exists\n'
            ' -f, --file                    Test whether FILE is a regular file\n'
            ' -L, --symlink                 Test whether FILE is a symbolic link\n'
            ' -p, --pipe                    Test whether FILE is a named pipe\n'
            ' -S, --socket                  Test whether FILE is a socket\n'
            ' -r, --read                    Test for read permission on FILE\n'
            ' -w, --write                   Test for write permission on FILE\n'
            ' -x, --execute                 Test for execute permission on FILE\n'
            ' -R, --repeat[=TIMES]          Repeat test every second up to TIMES times\n'
            '\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-sync": (
        '[OPTION]',
        (
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-pivot": (
        'NEWROOT OLDROOT',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-chroot": (
        'NEWROOT COMMAND [ARG...]',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-mount": (
        '[OPTION...] DEVICE MOUNTPOINT',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -B, --bind                    Remount a subtree somewhere else\n'
            ' -M, --move                    Move a subtree to some other place\n'
            ' -t, --type FSTYPE             Use FSTYPE as type of filesystem\n'
            ' -o, --options OPTIONS         Use OPTIONS as mount options\n'
            ' -r, --read-only               Mount read-only\n'
            ' -w, --read-write              Mount read-write\n'
            ' -d, --mkdir                   Create MOUNTPOINT before mounting\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-umount": (
        '[OPTIONS...] MOUNTPOINT',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -f, --force                   Force unmount even if busy (NFS only)\n'
            ' -l, --lazy                    Perform lazy unmounting\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-kill": (
        '[OPTION...]',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -u, --hup                     Send SIGHUP\n'
            ' -t, --term                    Send SIGTERM then SIGCONT\n'
            ' -k, --kill                    Send SIGKILL\n'
            " -s, --skip-at                 Skip processes whose cmdline starts with '@'\n"
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-reboot": (
        'OPTION',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -r, --reboot                  Reboot the machine NOW\n'
            ' -H, --halt                    Halt the machine NOW\n'
            ' -p, --poweroff                Power off the machine NOW\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-ctty": (
        '[OPTION...] PROG...',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -f, --fd=FD                   Use FD as terminal (Default: 0)\n'
            ' -s, --steal                   Steal terminal from other session if needed\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-tty": (
        '',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-setready": (
        '[OPTION] SERVICEDIR',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -U, --ready                   Mark service ready; This is the default.\n'
            ' -N, --unready                 Mark service not ready\n'
            '\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-service": (
        '[OPTION] PROG...',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -l, --log                     Use parent directory as servicedir\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-terminate": (
        '[OPTION...]',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -v, --verbose                 Show what was done\n'
            " -q, --quiet                   No warnings for what's left\n"
            ' -l, --lazy-umounts            Try lazy umount as last resort\n'
            ' -a, --apis                    Umount /run, /sys, /proc & /dev too\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
    "aa-mvlog": (
        '[OPTION] LOGFILE DESTDIR',
        (
            ' -D, --double-output           Enable double-output mode\n'
            ' -h, --help                    Show this help screen and exit\n'
            ' -V, --version                 Show version information and exit\n'
        ),
    ),
}




def guard(name: str) -> list[str]:
    """Prefix for running *name*: fresh namespaces for dangerous tools when we are root."""
    if name not in DANGEROUS or os.geteuid() != 0:
        return []
    require_namespaces()
    return ["unshare", *NS_ARGS]


def run(name: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("timeout", 10)
    return subprocess.run([*guard(name), script(name), *args], check=False, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def run_many(calls: list[list[str]], **kw: object) -> list[subprocess.CompletedProcess[str]]:
    """run() each [name, *args] concurrently (process start-up dominates these tests)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: run(c[0], *c[1:], **kw), calls))


def run_pty(argv: list[str], stderr_pipe: bool = False) -> tuple[int, bytes, bytes]:
    """Run with stdout (and stderr unless *stderr_pipe*) on a pty: (rc, pty bytes, stderr bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.PIPE if stderr_pipe else slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every slave end is closed
            break
        if not data:
            break
        chunks.append(data)
    err = p.stderr.read() if p.stderr else b""
    rc = p.wait(10)
    os.close(master)
    return rc, b"".join(chunks), err


ALL = sorted(HELP)


# -- conventions shared by every tool --------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_help_version_and_bad_option(name: str) -> None:
    """--help exits 0; -V prints "aa-NAME (ovis) VERSION"; a bad option prints
    glibc's getopt message on stderr, then anopa's usage (on stdout) and exits 1."""
    synopsis, details = HELP[name]
    usage = f"Usage: {name} {synopsis}\n\n{details}"
    getopt_msg = "" if name == "aa-sync" else f"{name}: invalid option -- 'z'\n"  # aa-sync has no getopt
    got = run_many([[name, "--help"], [name, "-V"], [name, "-z"]])
    assert [(r.returncode, r.stdout, r.stderr) for r in got] == [
        (0, usage, ""),
        (0, f"{name} (ovis) {__version__}\n", ""),
        (1, usage, getopt_msg),
    ]


@pytest.mark.parametrize("name", ["aa-echo", "aa-kill", "aa-setready"])
def test_option_spellings_and_double_usage(name: str) -> None:
    synopsis, details = HELP[name]
    usage = f"Usage: {name} {synopsis}\n\n{details}"
    got = run_many([[name, "-h"], [name, "--he"], [name, "--version"], [name, "--no-such-option"], [name, "-D", "-z"]])
    assert [(r.returncode, r.stdout) for r in got[:3]] == [(0, usage), (0, usage), (0, f"{name} (ovis) {__version__}\n")]
    assert (got[3].returncode, got[3].stderr) == (1, f"{name}: unrecognized option '--no-such-option'\n")
    # -D first: the usage goes to both streams
    assert (got[4].returncode, got[4].stdout) == (1, usage)
    assert got[4].stderr == f"{name}: invalid option -- 'z'\n" + usage


@pytest.mark.parametrize("name", ["aa-echo", "aa-incmdline", "aa-test", "aa-mvlog", "aa-setready", "aa-service", "aa-ctty"])
def test_missing_operand_is_usage(name: str) -> None:
    r = run(name)
    assert r.returncode == 1 and r.stdout.startswith(f"Usage: {name} ") and r.stderr == ""


def test_getopt_details() -> None:
    r = run("aa-incmdline", "--file")
    assert r.returncode == 1 and r.stderr == "aa-incmdline: option '--file' requires an argument\n"
    r = run("aa-incmdline", "-f")
    assert r.returncode == 1 and r.stderr == "aa-incmdline: option requires an argument -- 'f'\n"
    r = run("aa-echo", "--title=x", "m")
    assert r.returncode == 1 and r.stderr == "aa-echo: option '--title' doesn't allow an argument\n"
    r = run("aa-echo", "--t", "m")  # --title / --title2
    assert r.returncode == 1
    assert r.stderr == "aa-echo: option '--t' is ambiguous; possibilities: '--title' '--title2'\n"
    # permutation: options after operands still count; "--" ends them
    assert run("aa-echo", "hello", "-t").stdout == "  -> hello\n"
    assert run("aa-echo", "--", "-t").stdout == "==> -t\n"


# -- aa-echo --------------------------------------------------------------------------

ECHO_CASES = [
    (["-t", "hello"], "  -> hello\n", ""),
    (["hello"], "==> hello\n", ""),
    (["-T", "hello"], "==> hello\n", ""),
    (["-w", "warn"], "", "==> WARNING: warn\n"),
    (["-e", "err"], "", "==> ERROR: err\n"),
    (["-B", "-t", "hi"], "\n  -> hi\n", ""),
    (["-n", "plain"], "plain\n", ""),
    (["-Dt", "Trying to open a shell; ", "+g", "exit", "+w", " to continue"],
     "  -> Trying to open a shell; exit to continue\n", "  -> Trying to open a shell; exit to continue\n"),
    (["-DBe", "Mouting root file system failed"], "\n==> ERROR: Mouting root file system failed\n",
     "\n==> ERROR: Mouting root file system failed\n"),
    (["foo", "bar", "++plus", "+x", "+red", "+n"], "==> foobar+plusx\n", ""),
    (["-w", "-t", "last wins"], "  -> last wins\n", ""),
]


def test_echo_plain() -> None:
    got = run_many([["aa-echo", *args] for args, _, _ in ECHO_CASES])
    for (args, out, err), r in zip(ECHO_CASES, got):
        assert (r.returncode, r.stdout, r.stderr) == (0, out, err), args


def test_echo_colours_on_a_tty() -> None:
    rc, data, _ = run_pty([script("aa-echo"), "-t", "hello"])
    assert rc == 0 and data == f"{BLUE}  -> {BOLD}hello{OFF}\r\n".encode()  # as anopa-ref.md step 4 bis
    rc, data, _ = run_pty([script("aa-echo"), "-w", "The file ", "+r", "/foo/bar", "+n", " doesn't exist"])
    assert data == f"{YELLOW}==> WARNING: {BOLD}The file {RED}/foo/bar{OFF} doesn't exist{OFF}\r\n".encode()
    rc, data, _ = run_pty([script("aa-echo"), "-B", "-e", "x"])
    assert data == f"\r\n{RED}==> ERROR: {BOLD}x{OFF}\r\n".encode()
    rc, data, _ = run_pty([script("aa-echo"), "-n", "+g", "x"])
    assert data == f"{GREEN}x{OFF}\r\n".encode()


def test_echo_double_output_colours_only_the_tty() -> None:
    rc, data, err = run_pty([script("aa-echo"), "-D", "Stage", " 1"], stderr_pipe=True)
    assert rc == 0
    assert data == f"{GREEN}==> {BOLD}Stage 1{OFF}\r\n".encode()
    assert err == b"==> Stage 1\n"


# -- aa-incmdline ---------------------------------------------------------------------

CMDLINE = "quiet aa=rescue root=/dev/vda\n"


INCMDLINE_CASES = [  # the anopa-ref.md table first
    (["-r", "aa"], 0, "rescue\n"),
    (["aa"], 0, "rescue\n"),
    (["-q", "aa"], 0, ""),
    (["quiet"], 0, ""),
    (["-r", "quiet"], 3, ""),
    (["-r", "nosuch"], 3, ""),
    (["-s", "aa"], 0, "rescue\n"),
    # and more
    (["nosuch"], 3, ""),
    (["-s", "root"], 3, ""),          # value contains '/'
    (["--safe=v", "root"], 3, ""),
    (["-sx", "root"], 0, "/dev/vda\n"),
    (["-qr", "aa"], 0, ""),           # documented: has a value, so found (anopa's code says 3)
    (["-rs", "aa"], 0, "rescue\n"),   # what aa-stage2 runs
    (["-D", "root"], 0, "/dev/vda\n"),
    (["qui"], 3, ""),                 # whole words only
    (["rescue"], 3, ""),              # values are not names
]


def test_incmdline(tmp_path: Path) -> None:
    f = tmp_path / "cmdline"
    f.write_text(CMDLINE)
    got = run_many([["aa-incmdline", "-f", str(f), *args] for args, _, _ in INCMDLINE_CASES])
    for (args, rc, out), r in zip(INCMDLINE_CASES, got):
        assert (r.returncode, r.stdout, r.stderr) == (rc, out, out if "-D" in args else ""), args


def test_incmdline_quotes_empty_values_and_no_trailing_newline(tmp_path: Path) -> None:
    f = tmp_path / "cmdline"
    f.write_text('init=/sbin/init msg="hello world" empty= last=tail')  # no newline at the end
    def ask(*a: str) -> tuple[int, str]:
        r = run("aa-incmdline", "--file", str(f), *a)
        return r.returncode, r.stdout
    assert ask("msg") == (0, "hello world\n")
    assert ask("empty") == (0, "\n")
    assert ask("-r", "empty") == (3, "")
    assert ask("last") == (0, "tail\n")
    assert ask("-r", "init") == (0, "/sbin/init\n")   # aa-stage0: aa-incmdline -rf FILE init
    assert ask("-qf", str(f), "init") == (0, "")


def test_incmdline_errors(tmp_path: Path) -> None:
    r = run("aa-incmdline", "-f", str(tmp_path / "missing"), "aa")
    assert r.returncode == 2
    assert r.stderr == f"aa-incmdline: fatal: unable to read {tmp_path / 'missing'}: No such file or directory\n"
    r = run("aa-incmdline", "--safe=", "aa")   # C must be one character
    assert r.returncode == 1 and r.stdout.startswith("Usage: aa-incmdline")
    # The real /proc/cmdline works too: its first word is found, a made-up one is not.
    words = open("/proc/cmdline").read().split()
    assert words, "empty /proc/cmdline"
    first = words[0].split("=", 1)[0]
    absent = "ovis_test_absent_" + str(os.getpid())
    assert absent not in " ".join(words)
    r, r_absent = run_many([["aa-incmdline", "-q", first], ["aa-incmdline", "-q", absent]])
    assert (r.returncode, r.stdout) == (0, ""), (first, r.stderr)
    assert (r_absent.returncode, r_absent.stdout) == (3, ""), r_absent.stderr


# -- aa-test --------------------------------------------------------------------------

def test_test_file_types(tmp_path: Path) -> None:
    d = tmp_path / "dir"; d.mkdir()
    f = tmp_path / "file"; f.write_text("x")
    exe = tmp_path / "exe"; exe.write_text("#!/bin/sh\n"); exe.chmod(0o755)
    ln = tmp_path / "link"; ln.symlink_to(d)
    dangling = tmp_path / "dangling"; dangling.symlink_to(tmp_path / "nowhere")
    fifo = tmp_path / "fifo"; os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX); sock.bind(str(sock_path))
    blk = next((p for p in Path("/dev").iterdir()
                if not p.is_symlink() and p.exists() and stat.S_ISBLK(p.lstat().st_mode)), None)
    try:
        cases = {
            "-d": {d: 0, ln: 4},
            "-f": {f: 0, Path("/dev/null"): 4},
            "-e": {dangling: 0, tmp_path / "missing": 3},
            "-L": {ln: 0, f: 4},
            "-p": {fifo: 0, f: 4},
            "-S": {sock_path: 0, fifo: 4},
            "-b": {blk: 0} if blk else {f: 4},
            "-x": {exe: 0, f: 4},
            "-r": {f: 0},
            "-w": {f: 0},
        }
        long = {"-d": "--directory", "-f": "--file", "-e": "--exists", "-L": "--symlink", "-p": "--pipe",
                "-S": "--socket", "-b": "--block", "-x": "--execute", "-r": "--read", "-w": "--write"}
        calls = [(["aa-test", opt, str(path)], rc) for opt, paths in cases.items() for path, rc in paths.items()]
        calls += [(["aa-test", long[opt], str(path)], rc)
                  for opt, paths in cases.items() for path, rc in list(paths.items())[:1]]
        for (call, rc), r in zip(calls, run_many([c for c, _ in calls])):
            assert (r.returncode, r.stdout, r.stderr) == (rc, "", ""), call
    finally:
        sock.close()


def test_test_errors_and_syntax(tmp_path: Path) -> None:
    r = run("aa-test", "-f", "/etc/passwd/x")
    assert r.returncode == 2 and r.stderr == "aa-test: fatal: unable to stat /etc/passwd/x: Not a directory\n"
    assert run("aa-test", "/tmp").returncode == 1                # no test
    assert run("aa-test", "-d", "/tmp", "/etc").returncode == 1  # two files
    r = run("aa-test", "--repeat=abc", "-d", "/tmp")
    assert r.returncode == 1 and r.stderr == "aa-test: fatal: unable to set repeat counter to abc: Invalid argument\n"
    # -D mirrors errors to stdout
    r = run("aa-test", "-D", "-f", "/etc/passwd/x")
    assert r.returncode == 2 and r.stdout == r.stderr != ""


def test_test_repeat(tmp_path: Path) -> None:
    """-R retries once a second; TIMES tries in all (0 or none: forever), also as a separate word."""
    never, later1, later2 = tmp_path / "never", tmp_path / "later1", tmp_path / "later2"
    t0 = time.monotonic()
    once = subprocess.Popen([script("aa-test"), "-R1", "-e", str(never)])
    twice = subprocess.Popen([script("aa-test"), "--repeat=2", "-e", str(never)])
    forever = subprocess.Popen([script("aa-test"), "-R", "-p", str(later1)])
    separate = subprocess.Popen([script("aa-test"), "-R", "5", "-p", str(later2)])
    ended: dict[str, float] = {}
    deadline = t0 + 10
    while len(ended) < 2 and time.monotonic() < deadline:  # each one's own end, as it happens
        for name, proc in (("once", once), ("twice", twice)):
            if name not in ended and proc.poll() is not None:
                ended[name] = time.monotonic()
        time.sleep(0.005)
    assert (once.wait(1), twice.wait(1)) == (3, 3)
    # Started together; only the second try of -R2 waits a second, so -R1
    # ends first, and -R2 not before that second (a busy machine's start-up
    # delays both alike: no margin between them is assumed).
    assert ended["twice"] - t0 >= 1.0 and ended["once"] < ended["twice"], ended
    os.mkfifo(later1)
    os.mkfifo(later2)
    assert (forever.wait(10), separate.wait(10)) == (0, 0)
    assert time.monotonic() - t0 >= 1.0


# -- aa-mvlog -------------------------------------------------------------------------

LABEL = "@4000000065a1b2c3d4e5f601"


def test_mvlog_moves_and_links_current(tmp_path: Path) -> None:
    log = tmp_path / "boot.log"
    content = f"{LABEL} Stage 1: Preparing system...\n@4000000065a1b2c3d4e5f700 System ready.\n"
    log.write_text(content)
    dest = tmp_path / "var-log-boot"
    dest.mkdir()
    (dest / "current").symlink_to("@4000000011111111111111111")  # an older boot's
    r = run("aa-mvlog", str(log), str(dest))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert not log.exists()
    assert (dest / LABEL).read_text() == content
    assert os.readlink(dest / "current") == LABEL
    assert sorted(p.name for p in dest.iterdir()) == [LABEL, "current"]


def test_mvlog_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text("no label at the start of this line\n")
    r = run("aa-mvlog", str(bad), str(tmp_path / "dest"))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"aa-mvlog: fatal: invalid new name read from {bad}\n"
    assert bad.exists()
    short = tmp_path / "short.log"
    short.write_text("@4000")
    assert run("aa-mvlog", str(short), str(tmp_path / "dest")).returncode == 2
    r = run("aa-mvlog", str(tmp_path / "missing"), str(tmp_path / "dest"))
    assert r.returncode == 2
    assert r.stderr == f"aa-mvlog: fatal: unable to stat {tmp_path / 'missing'}: No such file or directory\n"
    r = run("aa-mvlog", "-D", str(tmp_path), str(tmp_path / "dest"))
    assert r.returncode == 2 and r.stderr == r.stdout == f"aa-mvlog: fatal: {tmp_path}: not a file\n"
    assert run("aa-mvlog", str(bad)).returncode == 1


# -- aa-service -----------------------------------------------------------------------

def test_service_substitutes_names(tmp_path: Path) -> None:
    sd = tmp_path / "getty@tty1"
    (sd / "log").mkdir(parents=True)
    words = ["${SERVICE_NAME}", "${SERVICE}", "${INSTANCE}", "$SERVICE", "x$SERVICE/y", "[${SERVICE}]",
             "\\${SERVICE}", "\\\\${SERVICE}", "\\\\\\$INSTANCE", "${OTHER}", "$$SERVICE"]
    r = run("aa-service", "printf", "%s\\n", *words, cwd=sd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "getty@tty1", "getty", "tty1", "getty", "x$SERVICE/y", "[getty]",
        "${SERVICE}", "\\getty", "\\$INSTANCE", "${OTHER}", "$getty",
    ]
    r = run("aa-service", "-l", "echo", "/var/log/${SERVICE_NAME}", "${INSTANCE}", cwd=sd / "log")
    assert (r.returncode, r.stdout) == (0, "/var/log/getty@tty1 tty1\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    r = run("aa-service", "echo", "[${SERVICE}]", "[${INSTANCE}]", cwd=plain)
    assert r.stdout == "[plain] []\n"
    # options stop at PROG
    assert run("aa-service", "echo", "-l", cwd=plain).stdout == "-l\n"


def test_service_errors(tmp_path: Path) -> None:
    r = run("aa-service", "-l", "true", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "aa-service: fatal: option --log used while not in a subfolder 'log'\n"
    r = run("aa-service", "no-such-program-ovis", cwd=tmp_path)
    assert r.returncode == 6
    assert r.stderr == "aa-service: fatal: unable to exec no-such-program-ovis: No such file or directory\n"


# -- aa-ctty / aa-tty / aa-sync -------------------------------------------------------

PROBE = ("import os\ntry:\n    os.close(os.open('/dev/tty', os.O_RDWR)); print('ctty')\n"
         "except OSError as e:\n    print('none', e.errno)\n")


def test_ctty_sets_controlling_terminal() -> None:
    master, slave = pty.openpty()
    try:
        base = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "timeout": 10, "start_new_session": True}
        r = subprocess.run([sys.executable, "-c", PROBE], stdin=slave, check=False, **base)  # type: ignore[call-overload]
        assert r.stdout.split()[0] == "none"   # a new session has no controlling tty
        r = subprocess.run([script("aa-ctty"), sys.executable, "-c", PROBE], stdin=slave, check=False, **base)  # type: ignore[call-overload]
        assert (r.returncode, r.stdout, r.stderr) == (0, "ctty\n", "")
        r = subprocess.run([script("aa-ctty"), "--fd", str(slave), sys.executable, "-c", PROBE],
                           stdin=subprocess.DEVNULL, pass_fds=(slave,), check=False, **base)  # type: ignore[call-overload]
        assert (r.returncode, r.stdout) == (0, "ctty\n")
    finally:
        os.close(master)
        os.close(slave)


def test_ctty_failures() -> None:
    r = run("aa-ctty", sys.executable, "-c", "print('ran')", stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (0, "ran\n")
    assert r.stderr == "aa-ctty: warning: unable to set controlling terminal: Inappropriate ioctl for device\n"
    r = run("aa-ctty", "-D", "no-such-program-ovis", stdin=subprocess.DEVNULL)
    assert r.returncode == 111
    assert r.stderr.endswith("aa-ctty: fatal: unable to exec no-such-program-ovis: No such file or directory\n")
    assert r.stdout == r.stderr
    r = run("aa-ctty", "-f", "x", "true")
    assert r.returncode == 1 and r.stderr == "aa-ctty: fatal: unable to set fd: Invalid argument\n"


def test_tty_reads_sysfs() -> None:
    if not os.path.exists("/sys/class/tty/console/active"):
        pytest.skip("no /sys/class/tty/console/active here")
    r = run("aa-tty")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("/dev/") and r.stdout.endswith("\n") and len(r.stdout.split()) == 1
    assert run("aa-tty", "extra").returncode == 1


def test_sync() -> None:
    r = run("aa-sync")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert run("aa-sync", "x").returncode == 1


# -- aa-setready against a real s6-supervise -------------------------------------------

def test_setready_marks_ready_and_wakes_svwait(scandir: Scandir) -> None:
    sd = scandir.add("svc", "exec sleep 100")
    scandir.wait_supervised("svc")
    wait_for(lambda: svstat(sd, "up") == ["true"], what="svc up")
    assert svstat(sd, "ready") == ["false"]
    waiter = subprocess.Popen(["s6-svwait", "-U", "-t", "5000", str(sd)])
    try:
        wait_for(lambda: any(n.startswith("ftrig1:") for n in os.listdir(sd / "event")), what="s6-svwait listening")
        assert waiter.poll() is None
        r = run("aa-setready", str(sd))
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        assert waiter.wait(5) == 0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert svstat(sd, "up,ready") == ["true", "true"]
    assert ", ready " in subprocess.run(["s6-svstat", str(sd)], check=False, capture_output=True, text=True).stdout
    r = run("aa-setready", "--unready", str(sd))
    assert r.returncode == 0
    assert svstat(sd, "up,ready") == ["true", "false"]
    assert run("aa-setready", "-U", str(sd)).returncode == 0
    assert svstat(sd, "ready") == ["true"]


def test_setready_errors(scandir: Scandir, tmp_path: Path) -> None:
    sd = scandir.add("down", "exec sleep 100", down=True)
    scandir.wait_supervised("down")
    r = run("aa-setready", str(sd))
    assert (r.returncode, r.stderr) == (3, "aa-setready: fatal: service is not up\n")
    r = run("aa-setready", str(tmp_path / "nothing"))
    assert r.returncode == 2
    assert r.stderr == "aa-setready: fatal: unable to read s6 status: No such file or directory\n"
    # an "up" status but no event/ fifodir: the status is written, the event cannot be sent
    fake = tmp_path / "fake"
    (fake / "supervise").mkdir(parents=True)
    (fake / "supervise" / "status").write_bytes(bytes(24) + (4242).to_bytes(8, "big") + bytes(3))
    r = run("aa-setready", str(fake))
    assert r.returncode == 6
    assert r.stderr == f"aa-setready: fatal: unable to send event U via {fake}/event: No such file or directory\n"
    assert (fake / "supervise" / "status").read_bytes()[34] & 8


def test_setready_notifies_the_fifodir_like_s6(tmp_path: Path) -> None:
    """'U'/'N' go to every 39-char ftrig1 fifo with a reader; reader-less ones are removed."""
    sd = tmp_path / "svc"
    (sd / "supervise").mkdir(parents=True)
    (sd / "event").mkdir()
    (sd / "supervise" / "status").write_bytes(bytes(24) + (4242).to_bytes(8, "big") + bytes(2) + b"\x04")
    listener = sd / "event" / "ftrig1:@400000006790e5b1c0ffee00:abcdef"
    stale = sd / "event" / "ftrig1:@400000006790e5b1c0ffee01:ghijkl"
    other = sd / "event" / "ftrig1:short"
    for fifo in (listener, stale, other):
        os.mkfifo(fifo)
    assert len(listener.name) == len(stale.name) == 39
    rfd = os.open(listener, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert run("aa-setready", str(sd)).returncode == 0
        assert run("aa-setready", "-N", str(sd)).returncode == 0
        assert os.read(rfd, 16) == b"UN"
    finally:
        os.close(rfd)
    assert listener.exists() and other.exists() and not stale.exists()
    assert (sd / "supervise" / "status").read_bytes()[34] == 0x04   # want-up kept, ready cleared


# -- the standalone aa-chroot (what the initramfs gets) --------------------------------

def test_standalone_chroot_script_cli(tmp_path: Path) -> None:
    """Same help/version/usage as the console script, with no ovis importable."""
    sa = tmp_path / "aa-chroot"
    sa.write_text(standalone_script())
    sa.chmod(0o755)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}  # no PYTHONPATH: ovis must not be needed
    synopsis, details = HELP["aa-chroot"]
    usage = f"Usage: aa-chroot {synopsis}\n\n{details}"
    def sa_run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(sa), *args], check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=10, **kw)  # type: ignore[call-overload]
    assert (sa_run("--help").returncode, sa_run("--help").stdout) == (0, usage)
    assert sa_run("-V").stdout == f"aa-chroot (ovis) {__version__}\n"
    r = sa_run("-z")
    assert (r.returncode, r.stdout, r.stderr) == (1, usage, "aa-chroot: invalid option -- 'z'\n")
    r = sa_run(str(tmp_path / "missing"), "true")
    assert r.returncode == 2
    assert r.stderr == f"aa-chroot: fatal: unable to chdir to {tmp_path / 'missing'}: No such file or directory\n"
    # run with a python that cannot import ovis even by accident (-S -I)
    r = subprocess.run(["/bin/sh", "-c", f"cd / && {sys.executable} -I {sa} -D x"], check=False, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == r.stderr == usage

"""``execl-toc``: test an element, create it when it is missing, then exec.

The command line has three parts in this order, as in 66-tools::

    execl-toc [main options] -X element [create options] prog...

- main options: ``-h``, ``-v N``, ``-n`` (negate the test), ``-t`` (exit
  0 when the test fails), ``-D`` (test only, never create), ``-X`` (do not
  exec prog);
- one test option and its element.  ``-d`` (directory), ``-p`` (fifo),
  ``-S`` (socket), ``-m`` (mountpoint), ``-L`` (symlink) create what is
  missing; ``-e -b -c -k -n -g -r -s -t -u -w -x -f -z -O -U -N -V -E``
  only test;
- create options (for the five that create): ``-o opts``, ``-t type``
  (mount type, or the symlink's target), ``-d device``, ``-u user``,
  ``-g group``, ``-m mode``, ``-M mode`` (parents), ``-s`` (datagram),
  ``-D`` (no rebinding), ``-B`` (blocking), ``-b backlog``.

``-n`` and ``-t`` are both main options and tests; 66-tools always read
them as main options, which makes the tests unreachable.  Here a ``-n`` or
``-t`` among the main options is the main option when another option
follows it, and the test otherwise: ``execl-toc -n -d /x prog`` negates,
``execl-toc -n "${v}" prog`` tests the string.

A socket that is created is bound, listened on and left open as the
standard input of prog (66-tools do the same, as
``s6-ipcserver-socketbinder`` does).
"""

from __future__ import annotations

import os
import stat

from .accounts import group_id, user_id
from .errors import ToolError, UsageError, why

USAGE = ("execl-toc [ -h ] [ -v verbosity ] [ -n ] [ -t ] [ -D ] [ -X ] "
         "-d|p|S|m|L|e|b|c|k|n|g|r|s|t|u|w|x|f|z|O|U|N|V|E element "
         "[ -o opts ] [ -t type ] [ -d device ] [ -u user ] [ -g group ] "
         "[ -m mode ] [ -M mode ] [ -s ] [ -D ] [ -B ] [ -b backlog ] prog...")

CREATE_TESTS = "dpSmL"
ONLY_TESTS = "ebcknrgstuwxfzOUNVE"
TESTS = CREATE_TESTS + ONLY_TESTS
MAIN_FLAGS = "ntDX"
CREATE_WITH_ARG = "otdugmMb"
CREATE_FLAGS = "sDB"
DEFAULT_MODES = {"d": 0o755, "p": 0o666, "S": 0o777, "m": 0o755}


class TocRequest:
    """A parsed ``execl-toc`` command line."""

    __slots__ = ("help", "verbosity", "negate", "fail_ok", "no_create", "no_prog",
                 "test", "element", "mount_opts", "type", "device", "uid", "gid",
                 "mode", "parent_mode", "dgram", "no_rebind", "blocking", "backlog", "prog")

    def __init__(self) -> None:
        self.help = False
        self.verbosity = 1
        self.negate = False
        self.fail_ok = False
        self.no_create = False
        self.no_prog = False
        self.test = ""
        self.element = ""
        self.mount_opts: str | None = None
        self.type: str | None = None
        self.device: str | None = None
        self.uid = -1
        self.gid = -1
        self.mode: int | None = None
        self.parent_mode: int | None = None
        self.dgram = False
        self.no_rebind = False
        self.blocking = False
        self.backlog: int | None = None
        self.prog: list[str] = []


class Outcome:
    """The test's result; *message* says why it failed, *loud* if it is an error to show."""

    __slots__ = ("ok", "message", "loud")

    def __init__(self, ok: bool, message: str = "", loud: bool = False) -> None:
        self.ok = ok
        self.message = message
        self.loud = loud


def _octal(text: str, option: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise UsageError(f"{option}: not an octal mode: {text}") from None
    if not 0 <= value <= 0o7777:
        raise UsageError(f"{option}: not an octal mode: {text}")
    return value


def _main_options(argv: list[str], req: TocRequest) -> int:
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "-h":
            req.help = True
            return i
        if word.startswith("-v"):
            value = word[2:]
            if not value:
                i += 1
                if i >= len(argv):
                    raise UsageError("option -v needs an argument")
                value = argv[i]
            if not value.isdigit():
                raise UsageError(f"-v: not a number: {value}")
            req.verbosity = int(value)
            i += 1
            continue
        letters = word[1:]
        if len(word) < 2 or word[0] != "-" or any(c not in MAIN_FLAGS for c in letters):
            return i
        if letters in ("n", "t"):
            following = argv[i + 1] if i + 1 < len(argv) else ""
            if not (following.startswith("-") and len(following) > 1):
                return i  # the test -n/-t with its element
        for c in letters:
            if c == "n":
                req.negate = True
            elif c == "t":
                req.fail_ok = True
            elif c == "D":
                req.no_create = True
            else:
                req.no_prog = True
        i += 1
    return i


def _create_options(argv: list[str], i: int, req: TocRequest) -> int:
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return i + 1
        if len(word) < 2 or word[0] != "-" or (len(word) > 2 and word[1] not in CREATE_WITH_ARG):
            return i
        c = word[1]
        if c in CREATE_FLAGS:
            if c == "s":
                req.dgram = True
            elif c == "D":
                req.no_rebind = True
            else:
                req.blocking = True
            i += 1
            continue
        if c not in CREATE_WITH_ARG:
            raise UsageError(f"unknown create option: {word}")
        if len(word) > 2:  # attached, as in -m0750
            value, step = word[2:], 1
        elif i + 1 >= len(argv):
            raise UsageError(f"option {word} needs an argument")
        else:
            value, step = argv[i + 1], 2
        if c == "o":
            req.mount_opts = value
        elif c == "t":
            req.type = value
        elif c == "d":
            req.device = value
        elif c == "u":
            req.uid = user_id(value)
        elif c == "g":
            req.gid = group_id(value)
        elif c == "m":
            req.mode = _octal(value, "-m")
        elif c == "M":
            req.parent_mode = _octal(value, "-M")
        else:
            if not value.isdigit():
                raise UsageError(f"-b: not a number: {value}")
            req.backlog = int(value)
        i += step
    return i


def parse(argv: list[str]) -> TocRequest:
    """Main options, the test and its element, create options, prog."""
    req = TocRequest()
    i = _main_options(argv, req)
    if req.help:
        return req
    if i >= len(argv):
        raise UsageError("missing test option")
    word = argv[i]
    if len(word) < 2 or word[0] != "-" or word[1] not in TESTS:
        raise UsageError(f"expected a test option, got: {word}")
    req.test = word[1]
    if len(word) > 2:
        req.element = word[2:]
        i += 1
    else:
        if i + 1 >= len(argv):
            raise UsageError(f"option {word} needs an element")
        req.element = argv[i + 1]
        i += 2
    if req.test in CREATE_TESTS:
        i = _create_options(argv, i, req)
    elif i < len(argv) and argv[i] == "--":
        i += 1
    req.prog = argv[i:]
    if not req.prog and not req.no_prog:
        raise UsageError("missing argument prog")
    if not req.no_create:
        if req.test == "m" and (req.type is None or req.device is None):
            raise UsageError("a mountpoint to create needs -t type and -d device")
        if req.test == "L" and req.type is None:
            raise UsageError("a symlink to create needs -t target")
    return req


# Creating -------------------------------------------------------------------

def _makedirs(path: str, mode: int, exact: bool) -> None:
    """``mkdir -p`` with *mode* for each directory made (exact: despite the umask)."""
    path = path.rstrip("/") or "/"
    missing = []
    probe = path
    while probe and not os.path.isdir(probe):
        if os.path.lexists(probe):
            raise ToolError(f"{probe} exists but is not a directory")
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue
        except OSError as e:
            raise ToolError(f"unable to create directory {directory}: {why(e)}") from None
        if exact:
            os.chmod(directory, mode)


def _parents(req: TocRequest) -> None:
    parent = os.path.dirname(req.element.rstrip("/"))
    if parent:
        _makedirs(parent, req.parent_mode if req.parent_mode is not None else 0o755,
                  req.parent_mode is not None)


def _chown(req: TocRequest) -> None:
    if req.uid == -1 and req.gid == -1:
        return
    try:
        os.chown(req.element, req.uid, req.gid, follow_symlinks=False)
    except OSError as e:
        raise ToolError(f"unable to chown {req.element}: {why(e)}") from None


def _kind(path: str, follow: bool = True) -> int | None:
    """``S_IFMT`` of *path*, or None when it does not exist."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return stat.S_IFMT(st.st_mode)


_NAMES = {"d": "a directory", "p": "a fifo", "S": "a socket", "m": "a mountpoint", "L": "a symlink"}
_IFMT = {"d": stat.S_IFDIR, "p": stat.S_IFIFO, "S": stat.S_IFSOCK, "L": stat.S_IFLNK}


def is_mountpoint(path: str) -> bool:
    """True when *path* is listed in /proc/self/mountinfo (bind mounts included)."""
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.split(b" ", 5)
                if len(fields) > 4 and _unescape(fields[4]) == real:
                    return True
        return False
    except OSError:
        parent = os.path.dirname(real.rstrip("/")) or "/"
        return real == "/" or os.stat(real).st_dev != os.stat(parent).st_dev


def _unescape(field: bytes) -> str:
    text = field.decode("utf-8", "surrogateescape")
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1:i + 4].isdigit():
            out.append(chr(int(text[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _mount(req: TocRequest) -> None:
    argv = ["mount"]
    if req.mount_opts:
        argv += ["-o", req.mount_opts]
    argv += ["-t", req.type or "", req.device or "", req.element]
    try:
        pid = os.posix_spawnp("mount", argv, os.environ)
    except OSError as e:
        raise ToolError(f"unable to run mount: {why(e)}") from None
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ToolError(f"unable to mount {req.device} on {req.element}")


def _bind_socket(req: TocRequest, mode: int) -> None:
    import socket as _socket  # only here: it pulls in enum, costly at every start

    kind = _socket.SOCK_DGRAM if req.dgram else _socket.SOCK_STREAM
    try:
        sock = _socket.socket(_socket.AF_UNIX, kind)
        sock.setblocking(req.blocking)
        old = os.umask(~mode & 0o777)
        try:
            sock.bind(req.element)
        finally:
            os.umask(old)
        if not req.dgram:
            sock.listen(req.backlog if req.backlog else _socket.SOMAXCONN)
    except OSError as e:
        raise ToolError(f"unable to bind socket {req.element}: {why(e)}") from None
    fd = sock.detach()
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)
    os.set_inheritable(0, True)


def create_or_test(req: TocRequest) -> Outcome:
    """Test the element of a creating test (``-d -p -S -m -L``), create it if missing."""
    t, path = req.test, req.element
    if t == "m":
        if os.path.isdir(path) and is_mountpoint(path):
            return Outcome(True)
        if req.no_create:
            return Outcome(False, f"{path} is not a mountpoint")
        if os.path.lexists(path) and not os.path.isdir(path):
            return Outcome(False, f"{path} exists but is not a directory", loud=True)
        mode = req.mode if req.mode is not None else DEFAULT_MODES["m"]
        _makedirs(path, mode, req.mode is not None)
        _mount(req)
        return Outcome(True)
    kind = _kind(path, follow=(t != "L"))
    if kind == _IFMT[t]:
        return Outcome(True)
    if kind is not None:
        return Outcome(False, f"{path} exists but is not {_NAMES[t]}", loud=not req.no_create)
    if req.no_create:
        return Outcome(False, f"{path} is not {_NAMES[t]}")
    if t == "d":
        mode = req.mode if req.mode is not None else DEFAULT_MODES["d"]
        _makedirs(path, mode, req.mode is not None)
        _chown(req)
    elif t == "p":
        _parents(req)
        mode = (req.mode if req.mode is not None else DEFAULT_MODES["p"]) & ~0o111
        try:
            os.mkfifo(path, mode)
            os.chmod(path, mode)
        except OSError as e:
            raise ToolError(f"unable to create fifo {path}: {why(e)}") from None
        _chown(req)
    elif t == "S":
        _parents(req)
        _bind_socket(req, req.mode if req.mode is not None else DEFAULT_MODES["S"])
    else:
        _parents(req)
        try:
            os.symlink(req.type or "", path)
        except OSError as e:
            raise ToolError(f"unable to create symlink {path}: {why(e)}") from None
    return Outcome(True)


def _class_bit(st: os.stat_result, user: int, group: int, other: int) -> bool:
    """The permission bit of the class the effective user falls in (as 66-tools test it)."""
    if st.st_uid == os.geteuid():
        return bool(st.st_mode & user)
    if st.st_gid == os.getegid():
        return bool(st.st_mode & group)
    return bool(st.st_mode & other)


def only_test(req: TocRequest) -> Outcome:
    """The tests that never create (``-e -b -c ... -E``)."""
    t, x = req.test, req.element
    if t == "n":
        return Outcome(bool(x), "the string is empty")
    if t == "z":
        return Outcome(not x, f"{x} is not empty")
    if t == "V":
        return Outcome(x in os.environ, f"variable {x} is not set")
    if t == "t":
        return Outcome(x.isdigit() and os.isatty(int(x)), f"{x} does not refer to a terminal")
    try:
        st = os.stat(x)
    except OSError as e:
        return Outcome(False, f"{x}: {why(e)}")
    mode = st.st_mode
    checks = {
        "e": (True, "exists"),
        "b": (stat.S_ISBLK(mode), "is not a block device"),
        "c": (stat.S_ISCHR(mode), "is not a character device"),
        "f": (stat.S_ISREG(mode), "is not a regular file"),
        "k": (bool(mode & stat.S_ISVTX), "has no sticky bit"),
        "g": (bool(mode & stat.S_ISGID), "is not set-group-id"),
        "u": (bool(mode & stat.S_ISUID), "is not set-user-id"),
        "s": (st.st_size > 0, "is empty"),
        "O": (st.st_uid == os.geteuid(), "is not owned by the effective user id"),
        "U": (st.st_gid == os.getegid(), "is not owned by the effective group id"),
        "N": (st.st_mtime >= st.st_atime, "was not modified since it was last read"),
        "r": (_class_bit(st, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH), "is not readable"),
        "w": (_class_bit(st, stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH), "is not writable"),
        "x": (_class_bit(st, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH), "is not executable"),
    }
    if t == "E":
        if not stat.S_ISDIR(mode):
            return Outcome(False, f"{x} is not a directory")
        try:
            with os.scandir(x) as entries:
                for entry in entries:
                    if not stat.S_ISSOCK(entry.stat(follow_symlinks=False).st_mode):
                        return Outcome(False, f"directory {x} is not empty")
        except OSError as e:
            return Outcome(False, f"{x}: {why(e)}")
        return Outcome(True)
    ok, reason = checks[t]
    return Outcome(ok, f"{x} {reason}")


def run(req: TocRequest) -> Outcome:
    """Do the test (and the creation); :class:`ToolError` when creating fails."""
    if req.test in CREATE_TESTS:
        return create_or_test(req)
    return only_test(req)

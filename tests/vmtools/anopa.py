"""anopa's own stage scripts, ``aa-stage0`` to ``aa-stage4``, booting a VM on ovis's aa-* commands.

The scripts come from the seed (``shared/seeds/000_fd1d526f21b0b976.txt``
beside the repository: anopa commit 06bf843 "Add stage{0..4}") with only the
mechanical changes: ``@BINDIR@`` and ``@LIBEXECDIR@`` filled in, and
``import -u VAR`` (gone from execline 2.9) written ``importas -u VAR VAR``.

aa-stage0 is ``/init`` and aa-stage4 ``/shutdown`` of an initramfs that can
run ovis: besides what :func:`tests.vmtools.initramfs.build` puts there (busybox,
the kernel modules, /dev/console) it holds

- a Python runtime (:func:`add_python`): the host's real interpreter (the
  lean venv and pyenv resolved) as ``/usr/bin/python3``, its shared
  libraries at the paths the loader looks them up (``ldd``), the standard
  library as sourceless ``.pyc`` in ``/usr/lib/python3.X`` minus what ovis
  never imports (tests, tkinter, idlelib, ..., the extension modules that
  need libraries beyond zlib, bz2, lzma, libffi, libuuid, libcrypt), and the
  ``ovis`` package in the same directory (sources and unchecked-hash
  ``.pyc``), so no ``sys.path`` setting is needed and nothing compiles at
  run time;
- ``/bin/aa-*``: a small sh wrapper per console script of pyproject.toml
  (``/usr/bin/python3 -S -c 'from ovis.cli.aa.X import entrypoint; ...'``),
  and ``/bin/aa-chroot``, the standalone polyglot;
- execline's programs (``/usr/lib/execline/bin/*``, ``execlineb``) and the
  s6 programs the scripts call (``s6-envdir``, ``s6-tai64n``) in ``/bin``,
  with their libraries; busybox's applets for what is left;
- ``/etc/anopa/env/PATH`` (``/bin:/usr/bin``) and ``/etc/anopa/onboot``;
- ``/services``: an anopa repository made at build time by ``aa-enable``
  with stage 0's services (oneshots): ``modules`` (insmod), ``root-fs``
  (essential: 9p share, tmpfs, overlay on /root-fs and a tmpfs on
  /root-fs/run, the ``mount_root`` of :mod:`tests.vmtools.stage0`), ``api-fs``
  (devtmpfs, proc, sysfs in /root-fs) and ``anopa-files`` (copies the
  scenario's ``etc-anopa`` to /root-fs/etc/anopa with the catch-all
  logger's fifo, and the standalone aa-chroot to /root-fs/bin, for stage 3's
  ``cp /bin/aa-chroot .``).  Their stop scripts are what aa-stage4's
  ``aa-stop -r /services -a`` runs: they unmount /root-fs.

The new root is the host's ``/`` (read-only 9p under a tmpfs overlay), where
the scenario directory holds BINDIR (links to the host's execlineb,
emptyenv, s6-envdir, exec), LIBEXECDIR (aa-stage1..3), ``aa-bin`` (aa-*
launchers: Python scripts run by the host's interpreter, ``#!PYTHON -IS``,
that put this checkout on sys.path (after the standard library), as the installed lean launchers
do: no site-packages and their ``.pth`` hooks, which cost seconds per start
under TCG, and no shell or ``env`` exec'd before Python) and ``etc-anopa`` (env, services,
enabled/, onboot/default/): the catch-all ``uncaught-logs``, a oneshot
printing :data:`MARKER` on the console and ``poweroff-when-ready``, a
longrun that waits for aa-stage2 to move the boot log to /var/log/boot
(which it does right after "System ready.") and runs ``aa-shutdown -p``.
The kernel's ``init=`` is LIBEXECDIR/aa-stage1.

The seed's aa-stage4 still has a ``foreground { sh -i }`` before
``aa-reboot``: an interactive shell on the console.  Someone has to type
``exit`` there, as a person at the console would: :func:`type_exit` does,
through QEMU's serial input (``qemu.boot(..., console_input=True)``).

Two things differ from a packaged anopa initramfs, both on the ovis side:

- the initramfs's ``/bin/aa-chroot`` is a wrapper like the other aa-*, not
  the standalone polyglot of :mod:`ovis.cli.aa.chroot`: aa-stage0 runs it
  as ``./run/initramfs/bin/aa-chroot`` from a working directory the process
  root cannot reach (the root fs was just moved onto ``/``), and the
  polyglot's ``exec python3 -S "$0"`` then makes Python look for
  ``//./run/initramfs/bin/aa-chroot`` in the initramfs, where it is not.
  The new root's ``/bin/aa-chroot`` (stage 3's ``cp /bin/aa-chroot .``) is
  the polyglot;
- stage 0's ``aa-start -r /services`` runs oneshots with no s6-svscan on
  ``/services/.scandir``, as anopa's aa-start does.

Size: about 14 MB of gzip (39 MB unpacked: libpython stripped of its
debugging sections is 6 MB, the standard library's .pyc some 10 MB).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from importlib._bootstrap_external import _code_to_hash_pyc, _code_to_timestamp_pyc  # type: ignore
from pathlib import Path

from tests.vmtools import initramfs, qemu, stage0

REPO = Path(__file__).resolve().parent.parent.parent
#: shared/ sits beside the repository (in CI: beside the fresh clone), or beside
#: the folder of git worktrees (REPO/../../shared): the nearest one up wins.
SEED_NAME = Path("shared") / "seeds" / "000_fd1d526f21b0b976.txt"
SEED = next((p / SEED_NAME for p in REPO.parents if (p / SEED_NAME).is_file()),
            REPO.parent / SEED_NAME)
MARKER = "OVIS-VM-MARKER: hello from an anopa service on the console"
#: What @BINDIR@ must hold, and where Debian has it.  execlineb is the program itself, as
#: upstream installs it in BINDIR, not Debian's /usr/bin/execlineb: that is an execline script
#: of Debian's (it puts /usr/lib/execline/bin on PATH, which /etc/anopa/env/PATH does here)
#: costing four more execs before each of aa-stage1..3 (some 0.5 s of guest time each under
#: TCG).
BINDIR_LINKS = {
    "execlineb": "/usr/lib/execline/bin/execlineb",
    "emptyenv": "/usr/lib/execline/bin/emptyenv",
    "s6-envdir": "/usr/bin/s6-envdir",
    "exec": "/usr/lib/execline/bin/exec",
}
EXECLINE_BIN = Path("/usr/lib/execline/bin")
#: s6 programs the initramfs needs (aa-stage0/4 and aa-start/aa-stop without a supervisor).
S6_PROGRAMS = ("s6-envdir", "s6-tai64n")
#: busybox applets of the anopa initramfs (execline's programs win over same-named ones).
APPLETS = initramfs.APPLETS + ("cp", "mkfifo", "ln", "grep", "sed", "true", "false", "stat")
#: Not in the initramfs's standard library: never imported by ovis.
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "distutils",
               "site-packages", "pydoc_data", "__pycache__", "sqlite3", "curses", "dbm",
               "xmlrpc", "wsgiref", "unittest", "venv", "__phello__", "msilib"}
STDLIB_SKIP_PREFIX = ("config-",)
#: Extension modules are kept when they need nothing but these libraries (and libc...).
EXT_LIBS_OK = ("libz.so", "libbz2.so", "liblzma.so", "libffi.so", "libuuid.so", "libcrypt.so",
               "libc.so", "libm.so", "ld-linux", "libpython")
EXT_SKIP = ("_test", "xxlimited", "_ctypes_test", "xxsubtype")


# The seed -------------------------------------------------------------------------------------
def extract_stages(seed: str) -> dict[str, str]:
    """The added lines ('+' after the '@@' line) of each src/scripts/aa-stageN hunk."""
    scripts: dict[str, list[str]] = {}
    current: str | None = None
    in_hunk = False
    for line in seed.splitlines():
        if line.startswith("diff --git "):
            m = re.match(r"diff --git a/src/scripts/(aa-stage\d) ", line)
            current = m.group(1) if m else None
            in_hunk = False
            if current:
                scripts[current] = []
        elif current and line.startswith("@@"):
            in_hunk = True
        elif current and in_hunk and line.startswith("+"):
            scripts[current].append(line[1:])
    return {name: "\n".join(lines) + "\n" for name, lines in scripts.items()}


def mechanical(text: str, bindir: Path | str, libexecdir: Path | str) -> str:
    """The only changes made to the seed's scripts."""
    text = text.replace("@BINDIR@", str(bindir)).replace("@LIBEXECDIR@", str(libexecdir))
    return re.sub(r"\bimport -u (\w+)", r"importas -u \1 \1", text)


# A Python runtime in the archive --------------------------------------------------------------
def real_python() -> Path:
    """The interpreter binary behind sys.executable (through a venv and pyenv's shims),
    or ``$OVIS_VM_PYTHON`` (:func:`tests.vmtools.qemu.vm_python`)."""
    base = qemu.vm_python() or getattr(sys, "_base_executable", None) or sys.executable
    return Path(base).resolve()


def stdlib_of(exe: Path) -> Path:
    """The standard library directory of the interpreter *exe* (this one's, or asked)."""
    if exe == Path(getattr(sys, "_base_executable", None) or sys.executable).resolve():
        return Path(sysconfig.get_path("stdlib"))
    out = subprocess.run([str(exe), "-I", "-S", "-c",
                          "import sys, sysconfig; print(sys.implementation.cache_tag); "
                          "print(sysconfig.get_path('stdlib'))"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    if out[0] != sys.implementation.cache_tag:
        raise RuntimeError(f"{exe} is {out[0]}, not {sys.implementation.cache_tag} as the tests")
    return Path(out[1])


def console_scripts() -> dict[str, str]:
    """pyproject.toml's [project.scripts]: name -> "module:function"."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return dict(data["project"]["scripts"])


def wrapper(name: str, target: str, python: str = "/usr/bin/python3", flags: str = "-S") -> str:
    code = wrapper_code(name, target)
    return f"#!/bin/sh\nexec {python} {flags} -c {shlex.quote(code)} \"$@\"\n"


def launcher(name: str, target: str, python: str, root: Path) -> str:
    """An aa-* of the new root: a Python script of the host's interpreter, ovis from *root*.

    The kernel starts the interpreter itself (no ``sh`` and no ``env`` exec'd
    first: each exec of a dynamically linked program costs tens of ms under
    TCG, and anopa's stages run some twenty aa-* in the root).
    """
    return (f"#!{python} -IS\nimport sys; sys.path.append({str(root)!r}); "
            f"{wrapper_code(name, target)}\n")


def _pyc(src: Path, *, checked_source: bool) -> bytes:
    source = src.read_bytes()
    code = compile(source, str(src), "exec", dont_inherit=True)
    if checked_source:  # next to its source, never checked against it
        return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))
    return bytes(_code_to_timestamp_pyc(code, 0, 0))


def _ext_ok(so: Path) -> bool:
    if so.name.startswith(EXT_SKIP):
        return False
    try:
        libs = initramfs.shared_libraries(so)
    except RuntimeError:
        return False
    return all(any(ok in lib.name for ok in EXT_LIBS_OK) for lib in libs)


@dataclass
class PythonRuntime:
    interpreter: Path  # on the host
    stdlib: Path
    modules: int  # .pyc files of the standard library
    extensions: list[str]
    libraries: list[str]
    builtin: tuple[str, ...] = ()  # modules linked into the interpreter (Debian's: many)

    def has(self, module: str) -> bool:
        """Whether *module*, a C module, is there: built in or an extension copied."""
        return module in self.builtin or module in self.extensions


def add_python(a: initramfs.Archive, *, ovis: Path | None = REPO / "ovis") -> PythonRuntime:
    """The host's Python (binary, libraries, standard library) and ovis, under /usr."""
    exe = real_python()
    stdlib = stdlib_of(exe)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    dest = f"usr/lib/{ver}"
    libs = {str(p) for p in initramfs.add_program(a, exe, "usr/bin/python3")}
    a.symlink(f"usr/bin/{ver}", "python3")
    count = 0
    exts = []
    for root, dirs, files in os.walk(stdlib):
        rel = Path(root).relative_to(stdlib)
        dirs[:] = sorted(d for d in dirs if d not in STDLIB_SKIP
                         and not d.startswith(STDLIB_SKIP_PREFIX))
        for fn in sorted(files):
            src = Path(root) / fn
            if fn.endswith(".py"):
                cached = Path(root) / "__pycache__" / f"{fn[:-3]}.{sys.implementation.cache_tag}.pyc"
                try:
                    data = cached.read_bytes()
                    if data[:4] != importlib.util.MAGIC_NUMBER:
                        raise OSError
                except OSError:
                    data = _pyc(src, checked_source=False)
                a.file(f"{dest}/{rel}/{fn}c", data)
                count += 1
            elif fn.endswith(".so") and rel.name == "lib-dynload" and _ext_ok(src):
                libs.update(str(p) for p in initramfs.add_program(a, src, f"{dest}/{rel}/{fn}"))
                exts.append(fn.split(".")[0])
    a.dir(f"{dest}/lib-dynload")  # getpath's landmark of the platform library
    if ovis is not None:
        add_ovis(a, f"{dest}/ovis", ovis)
    return PythonRuntime(exe, stdlib, count, exts, sorted(libs), builtin_modules(exe))


def builtin_modules(exe: Path) -> tuple[str, ...]:
    """``sys.builtin_module_names`` of the interpreter *exe*."""
    if exe == Path(getattr(sys, "_base_executable", None) or sys.executable).resolve():
        return sys.builtin_module_names
    out = subprocess.run([str(exe), "-I", "-S", "-c",
                          "import sys; print(*sys.builtin_module_names)"],
                         capture_output=True, text=True, check=True).stdout
    return tuple(out.split())


def add_ovis(a: initramfs.Archive, dest: str, src: Path = REPO / "ovis") -> None:
    tag = sys.implementation.cache_tag
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = Path(root).relative_to(src)
        for fn in sorted(files):
            if not fn.endswith(".py"):
                continue
            p = Path(root) / fn
            a.file(f"{dest}/{rel}/{fn}", p.read_bytes())
            a.file(f"{dest}/{rel}/__pycache__/{fn[:-3]}.{tag}.pyc", _pyc(p, checked_source=True))


def add_tree(a: initramfs.Archive, dest: str, src: Path) -> None:
    """A host directory, recursively (files, directories, symbolic links, fifos skipped)."""
    a.dir(dest, stat.S_IMODE(src.stat().st_mode))
    for entry in sorted(src.iterdir()):
        d = f"{dest}/{entry.name}"
        if entry.is_symlink():
            a.symlink(d, os.readlink(entry))
        elif entry.is_dir():
            add_tree(a, d, entry)
        elif entry.is_file():
            initramfs.add_host_file(a, d, entry)


# Stage 0's services ---------------------------------------------------------------------------
_HEAD = """#!/bin/sh
NINEP_OPTIONS={ninep}
SHARE_TAG={tag}
NEWROOT={newroot}
log() {{ echo "$*"; }}
"""

_UMOUNT = r"""
# Unmount, lazily if busy; what is not mounted (any more) is no error.
off() {
    for m in "$@"; do
        grep -q " $m " /proc/mounts 2>/dev/null || [ ! -r /proc/mounts ] || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
"""


def initramfs_services(modules: list[str], files: Path) -> dict[str, str]:
    """Stage 0's service definitions: relative path -> text (executable when it starts #!)."""
    head = _HEAD.format(ninep=shlex.quote(stage0.NINEP_OPTIONS),
                        tag=shlex.quote(stage0.SHARE_TAG), newroot=shlex.quote(stage0.NEWROOT))
    nr = stage0.NEWROOT
    return {
        "modules/start": "#!/bin/sh\nfor m in " + " ".join(modules) + "; do\n"
                         '    insmod "/lib/modules/$m.ko" || echo "warning: cannot load module $m"\n'
                         "done\nexit 0\n",
        "root-fs/start": head + stage0.MOUNT_ROOT + "mount_root\n",
        "root-fs/stop": "#!/bin/sh\n" + _UMOUNT + f"off {nr}/run/initramfs {nr}/run {nr} /rw /lower\n",
        "root-fs/needs/modules": "",
        "root-fs/essential": "",
        "api-fs/start": "#!/bin/sh\nset -e\n"
                        f"mount -t devtmpfs -o nosuid,mode=0755 dev {nr}/dev\n"
                        f"mount -t proc -o nosuid,nodev,noexec proc {nr}/proc\n"
                        f"mount -t sysfs -o nosuid,nodev,noexec sys {nr}/sys\n",
        "api-fs/stop": "#!/bin/sh\n" + _UMOUNT + f"off {nr}/sys {nr}/proc {nr}/dev\n",
        "api-fs/needs/root-fs": "",
        "anopa-files/start": "#!/bin/sh\nset -e\n"
                             f"cp -a {nr}{files}/etc-anopa {nr}/etc/anopa\n"
                             f"mkfifo {nr}/etc/anopa/services/uncaught-logs/fifo\n"
                             f"cp {nr}{files}/aa-chroot {nr}/bin/aa-chroot\n"
                             f"mkdir -p {nr}/var/log/boot\n"
                             "echo \"/etc/anopa and /bin/aa-chroot in place\"\n",
        "anopa-files/needs/root-fs": "",
    }


ONBOOT = ("modules", "root-fs", "api-fs", "anopa-files")


# The new root's anopa files -------------------------------------------------------------------
def root_files(path: str) -> dict[str, str]:
    return {
        "env/PATH": path + "\n",
        "services/uncaught-logs/run": "#!/bin/sh\nexec cat < fifo\n",
        "services/uncaught-logs/log/run": "#!/bin/sh\nexec s6-log t /var/log/uncaught-logs\n",
        "services/vm-marker/start": f"#!/bin/sh\necho \"{MARKER}\" > /dev/console\n",
        # aa-stage2 moves the boot log to /var/log/boot right after "System ready.".
        "services/poweroff-when-ready/run":
            "#!/bin/bash\n" + qemu.WAIT_FOR + "\nwait_for /var/log/boot/current\n"
            "echo \"ovis-vm: the system is ready: aa-shutdown -p\" > /dev/console\n"
            "aa-shutdown -p\nexec sleep 1000\n",
        "services/poweroff-when-ready/needs/vm-marker": "",
        "enabled/uncaught-logs": "",
        "enabled/vm-marker": "",
        "enabled/poweroff-when-ready": "",
        "onboot/default/vm-marker": "",
        "onboot/default/poweroff-when-ready": "",
    }


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
        p.chmod(0o755 if body.startswith("#!") else 0o644)


# The scenario ---------------------------------------------------------------------------------
def missing(seed: Path = SEED) -> list[str]:
    """What the anopa boot needs on the host beyond the VM's own prerequisites."""
    out = []
    if not seed.is_file():
        out.append(f"the seed {seed} is absent")
    for p in [*BINDIR_LINKS.values(), *(f"/usr/bin/{n}" for n in S6_PROGRAMS),
              "/usr/bin/s6-svscan", "/usr/bin/s6-log", "/usr/bin/s6-setsid", "/usr/bin/s6-svc"]:
        if not os.path.exists(p):
            out.append(f"{p} is missing (Debian packages execline and s6)")
    if shutil.which("ldd") is None:
        out.append("ldd is missing (Debian package libc-bin)")
    return out


class AnopaScenario:
    """A host directory for :func:`tests.vmtools.qemu.boot`: anopa's stages from initramfs to poweroff."""

    def __init__(self, root: Path, seed: Path = SEED, ovis: Path = REPO / "ovis") -> None:
        self.root = root.absolute()
        self.bindir = self.root / "bin"
        self.libexec = self.root / "libexec"
        self.aabin = self.root / "aa-bin"
        self.etc = self.root / "etc-anopa"
        self.initrd = self.root / "initramfs.img"
        self.console = self.root / "console"
        self.init = self.libexec / "aa-stage1"
        for d in (self.bindir, self.libexec, self.aabin):
            d.mkdir(parents=True, exist_ok=True)
        self.stages = extract_stages(seed.read_text())
        for name, target in BINDIR_LINKS.items():
            link = self.bindir / name
            if not link.is_symlink():
                link.symlink_to(target)
        for name in ("aa-stage1", "aa-stage2", "aa-stage3"):
            p = self.libexec / name
            p.write_text(mechanical(self.stages[name], self.bindir, self.libexec))
            p.chmod(0o755)
        # aa-* in the new root: the host's interpreter without site (no site-packages
        # and their .pth hooks: each costs seconds under TCG), ovis put on sys.path.
        self.python = real_python()
        self.python_line = qemu.describe_python(venv=False)
        print(self.python_line, file=sys.stderr)
        for name, target in console_scripts().items():
            if name.startswith("aa-"):
                w = self.aabin / name
                w.write_text(launcher(name, target, str(self.python), REPO))
                w.chmod(0o755)
        path = f"{self.aabin}:{EXECLINE_BIN}:/usr/bin:/usr/sbin:/bin:/sbin"
        write_tree(self.etc, root_files(path))
        from ovis.cli.aa.chroot import standalone_script

        (self.root / "aa-chroot").write_text(standalone_script())
        (self.root / "aa-chroot").chmod(0o755)
        self.runtime: PythonRuntime | None = None
        self.ovis = ovis  # the package copied into the initramfs

    def build_initramfs(self, kernel: initramfs.Kernel, **_kw: object) -> initramfs.Built:
        built, self.runtime = build(self.initrd, kernel, files=self.root,
                                    stage0_text=self.stages["aa-stage0"],
                                    stage4_text=self.stages["aa-stage4"],
                                    work=self.root / "initramfs-work", ovis=self.ovis)
        return built


def build(dest: Path, kernel: initramfs.Kernel, *, files: Path, stage0_text: str,
          stage4_text: str, work: Path, ovis: Path = REPO / "ovis",
          busybox: Path = initramfs.BUSYBOX) -> tuple[initramfs.Built, PythonRuntime]:
    """The anopa initramfs: aa-stage0 as /init, aa-stage4 as /shutdown, ovis able to run."""
    if not busybox.is_file() or not initramfs.is_static_elf(busybox):
        raise RuntimeError(f"{busybox} is missing or not static (Debian package busybox-static)")
    a = initramfs.Archive()
    for d in ("dev", "proc", "sys", "run", "tmp", "lower", "rw", "root-fs", "lib/modules"):
        a.dir(d)
    a.chardev("dev/console", 5, 1)
    a.chardev("dev/null", 1, 3, 0o666)
    a.chardev("dev/zero", 1, 5, 0o666)
    a.chardev("dev/random", 1, 8, 0o666)
    a.chardev("dev/urandom", 1, 9, 0o666)  # Python's start before the kernel's RNG is ready
    # execline and s6 first: their names win over busybox applets.
    for prog in sorted(EXECLINE_BIN.iterdir()):
        initramfs.add_program(a, prog.resolve(), f"bin/{prog.name}")
    initramfs.add_program(a, Path("/usr/bin/execlineb"), "bin/execlineb")
    for name in S6_PROGRAMS:
        initramfs.add_program(a, Path("/usr/bin") / name, f"bin/{name}")
    a.file("bin/busybox", busybox.read_bytes(), 0o755)
    known = initramfs.busybox_applets(busybox)
    for applet in APPLETS:
        if (known is None or applet in known) and f"bin/{applet}" not in a:
            a.symlink(f"bin/{applet}", "busybox")
    a.symlink("sbin", "bin")
    runtime = add_python(a, ovis=ovis)
    for name, target in console_scripts().items():
        if name.startswith("aa-") or name == "ovis":
            a.file(f"bin/{name}", wrapper(name, target).encode(), 0o755)
    where = initramfs.locate_modules(kernel)
    loaded = []
    for name in initramfs.MODULES:
        path = where.files.get(name)
        if path is not None:
            a.file(f"lib/modules/{name}.ko", initramfs.module_bytes(path))
            loaded.append(name)
    # /etc/anopa: the environment, the onboot listdir; /services: made by aa-enable now.
    a.file("etc/anopa/env/PATH", b"/bin:/usr/bin\n")
    for name in ONBOOT:
        a.file(f"etc/anopa/onboot/{name}", b"")
    src = work / "sources"
    repo = work / "services"
    shutil.rmtree(work, ignore_errors=True)
    write_tree(src, initramfs_services(loaded, files))
    enable = subprocess.run(
        [sys.executable, "-c", wrapper_code("aa-enable", console_scripts()["aa-enable"]),
         "-r", str(repo), "-S", str(src), "-q", *ONBOOT],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    if enable.returncode != 0 or not all((repo / n).is_dir() for n in ONBOOT):
        raise RuntimeError(f"aa-enable of stage 0's services failed:\n{enable.stdout}{enable.stderr}")
    add_tree(a, "services", repo)
    a.file("init", mechanical(stage0_text, "/bin", "/lib/anopa").encode(), 0o755)
    a.file("shutdown", mechanical(stage4_text, "/bin", "/lib/anopa").encode(), 0o755)
    data = a.to_gzip()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return (initramfs.Built(dest, kernel, loaded, where.builtin, where.missing, len(data),
                            len(a.entries)), runtime)


def wrapper_code(name: str, target: str) -> str:
    module, func = target.split(":")
    return f"import sys; sys.argv[0] = {name!r}; from {module} import {func}; sys.exit({func}())"


def type_exit(trigger: str = "Mounting /dev & /proc and terminating") -> qemu.OnLine:
    """An ``on_line`` for :func:`tests.vmtools.qemu.boot` (with ``console_input=True``): type
    ``exit`` for the seed's stage 4 shell once stage 4 gets near it.

    The shell starts seconds later (aa-mount twice, aa-terminate): the line waits in
    the console's input buffer until ``sh -i`` reads it.
    """
    typed: list[str] = []

    def on_line(line: qemu.Line, monitor: qemu.Monitor) -> None:
        if trigger in line.text and not typed:
            typed.append(line.text)
            monitor.type("exit\n")

    return on_line

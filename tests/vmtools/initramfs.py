"""The initramfs of the VM: a gzip'd newc cpio archive written in Python.

The archive holds busybox-static and the applet links stage 0 uses, the
kernel modules that reach the root (virtio PCI, 9p over virtio, overlayfs;
compressed modules are decompressed, built-in ones skipped), ``/dev/console``
(so the kernel can give ``/init`` its stdio), and the two scripts of
:mod:`tests.vmtools.stage0`: ``/init`` and ``/shutdown``.

The newc format (``cpio -H newc``, what the kernel unpacks; see the kernel's
Documentation/driver-api/early-userspace/buffer-format.rst): for each entry a
110-byte ASCII header, ``070701`` then thirteen 8-digit hexadecimal fields
(ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
rdevmajor, rdevminor, namesize with its NUL, check = 0), the name and its
NUL padded to a multiple of 4, then the data padded to a multiple of 4;
the archive ends with the entry ``TRAILER!!!``.  A symbolic link's data is
its target.  Parents come before their children: the kernel creates entries
in archive order.  Times are 0 and the gzip header carries no date, so the
same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import stat
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tests.vmtools import stage0

#: Loaded in this order by /init (a module built into the kernel is skipped).  ``virtio-rng``:
#: the VM's hardware random number generator (see :func:`tests.vmtools.qemu.qemu_argv`), first
#: after the bus so that the kernel's generator is seeded before anything asks it.
MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "virtio-rng", "netfs", "fscache", "9pnet", "9pnet_virtio", "9p",
           "overlay")

#: The busybox applets the two scripts use (linked in /bin).
APPLETS = ("sh", "mount", "umount", "insmod", "mkdir", "cat", "echo", "printf", "date", "sleep",
           "chroot", "pivot_root", "env", "poweroff", "reboot", "halt", "sync", "tac", "ls",
           "cut", "test", "[", "mknod", "setsid", "cttyhack", "dmesg", "uname", "rm")

BUSYBOX = Path("/bin/busybox")
MAGIC = b"070701"
TRAILER = "TRAILER!!!"


# The newc format ------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str  # relative, no leading "/" ("bin/sh")
    mode: int  # file type and permission bits
    data: bytes = b""
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    nlink: int = 1
    rdev: tuple[int, int] = (0, 0)

    @property
    def kind(self) -> str:
        return {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
                stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev"}.get(stat.S_IFMT(self.mode), "other")


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def encode_entry(e: Entry, ino: int) -> bytes:
    name = e.name.encode() + b"\0"
    fields = (ino, e.mode, e.uid, e.gid, e.nlink, e.mtime, len(e.data), 0, 0,
              e.rdev[0], e.rdev[1], len(name), 0)
    header = MAGIC + b"".join(b"%08x" % f for f in fields)
    assert len(header) == 110
    return (header + name + b"\0" * _pad4(110 + len(name))
            + e.data + b"\0" * _pad4(len(e.data)))


def parse_newc(data: bytes) -> list[Entry]:
    """Read a newc archive back (up to its trailer); ValueError if it is not one."""
    entries: list[Entry] = []
    pos = 0
    while True:
        if data[pos:pos + 6] != MAGIC:
            raise ValueError(f"offset {pos}: bad magic {data[pos:pos + 6]!r}")
        try:
            f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise ValueError(f"offset {pos}: bad header") from None
        namesize, size = f[11], f[6]
        start = pos + 110
        name = data[start:start + namesize - 1].decode()
        pos = start + namesize + _pad4(110 + namesize)
        body = data[pos:pos + size]
        if len(body) != size:
            raise ValueError(f"{name}: truncated")
        pos += size + _pad4(size)
        if name == TRAILER:
            return entries
        entries.append(Entry(name, f[1], body, f[2], f[3], f[5], f[4], (f[9], f[10])))


class Archive:
    """Entries in the order the kernel will create them; parents are added as needed."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._names: dict[str, Entry] = {}

    @staticmethod
    def _norm(path: str) -> str:
        p = str(PurePosixPath("/", path)).lstrip("/")
        if not p or ".." in p.split("/"):
            raise ValueError(f"bad archive path {path!r}")
        return p

    def _add(self, e: Entry) -> Entry:
        parent = str(PurePosixPath(e.name).parent)
        if parent != "." and parent not in self._names:
            self.dir(parent)
        old = self._names.get(e.name)
        if old is not None:
            if old.kind == "dir" and e.kind == "dir":
                return old
            raise ValueError(f"{e.name}: already in the archive")
        self.entries.append(e)
        self._names[e.name] = e
        return e

    def __contains__(self, path: str) -> bool:
        return self._norm(path) in self._names

    def dir(self, path: str, mode: int = 0o755) -> Entry:
        return self._add(Entry(self._norm(path), stat.S_IFDIR | mode, nlink=2))

    def file(self, path: str, data: bytes, mode: int = 0o644) -> Entry:
        return self._add(Entry(self._norm(path), stat.S_IFREG | mode, data))

    def symlink(self, path: str, target: str) -> Entry:
        return self._add(Entry(self._norm(path), stat.S_IFLNK | 0o777, target.encode()))

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> Entry:
        return self._add(Entry(self._norm(path), stat.S_IFCHR | mode, rdev=(major, minor)))

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        for ino, e in enumerate(self.entries, 1):  # distinct inode numbers: no hard links
            out.write(encode_entry(e, ino))
        out.write(encode_entry(Entry(TRAILER, 0), 0))
        return out.getvalue()

    def to_gzip(self) -> bytes:
        return gzip.compress(self.to_bytes(), compresslevel=6, mtime=0)


# What goes in it ------------------------------------------------------------------------------
@dataclass
class Kernel:
    version: str
    image: Path
    modules: Path  # /usr/lib/modules/VERSION


def _version_key(v: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", v)]


def find_kernel(version: str | None = None, boot: Path = Path("/boot"),
                moddirs: tuple[Path, ...] = (Path("/usr/lib/modules"), Path("/lib/modules"))) -> Kernel | None:
    """The newest (or the given) kernel with both an image in /boot and its modules."""
    try:
        images = {p.name[len("vmlinuz-"):]: p for p in boot.glob("vmlinuz-*") if p.is_file()}
    except OSError:
        return None
    for v in sorted(images, key=_version_key, reverse=True):
        if version is not None and v != version:
            continue
        for d in moddirs:
            if (d / v).is_dir():
                return Kernel(v, images[v], d / v)
    return None


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (PT_INTERP)."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF":
            return False
        is64, little = ident[4] == 2, ident[5] == 1
        end = "<" if little else ">"
        if is64:
            phoff, = struct.unpack_from(end + "Q", ident, 32)
            phentsize, phnum = struct.unpack_from(end + "HH", ident, 54)
        else:
            phoff, = struct.unpack_from(end + "I", ident, 28)
            phentsize, phnum = struct.unpack_from(end + "HH", ident, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, = struct.unpack_from(end + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP: needs a dynamic loader the initramfs does not have
            return False
    return True


def busybox_applets(busybox: Path) -> set[str] | None:
    try:
        out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


def _canon(name: str) -> str:
    return name.replace("-", "_")


@dataclass
class ModuleFiles:
    """Where each wanted module is: a file, built into the kernel, or nowhere."""

    files: dict[str, Path] = field(default_factory=dict)
    builtin: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def locate_modules(kernel: Kernel, names: tuple[str, ...] = MODULES) -> ModuleFiles:
    moddir = kernel.modules
    builtin: set[str] = set()
    try:
        for line in (moddir / "modules.builtin").read_text().splitlines():
            builtin.add(_canon(PurePosixPath(line.strip()).name.split(".ko")[0]))
    except OSError:
        pass
    found: dict[str, Path] = {}
    for root, _dirs, files in os.walk(moddir):
        for fn in files:
            if ".ko" in fn:
                base, _, ext = fn.partition(".ko")
                if ext in ("", ".xz", ".gz", ".zst"):
                    found.setdefault(_canon(base), Path(root) / fn)
    res = ModuleFiles()
    for n in names:
        c = _canon(n)
        if c in found:
            res.files[n] = found[c]
        elif c in builtin:
            res.builtin.append(n)
        else:
            res.missing.append(n)
    return res


def module_bytes(path: Path) -> bytes:
    """The module's ELF object, decompressed (insmod of busybox takes plain .ko best)."""
    name = path.name
    if name.endswith(".ko.xz"):
        import lzma

        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):  # no zstd in the 3.11 standard library
        zstd = shutil.which("zstd")
        if zstd is None:
            raise RuntimeError(f"{path}: zstd-compressed module and no zstd command")
        return subprocess.run([zstd, "-dcq", str(path)], capture_output=True, check=True).stdout
    return path.read_bytes()


@dataclass
class Built:
    path: Path
    kernel: Kernel
    modules: list[str]  # in the archive, in load order
    builtin: list[str]
    missing: list[str]
    size: int
    entries: int


def build(dest: Path, kernel: Kernel, *, default_init: str = "/sbin/init",
          busybox: Path = BUSYBOX, modules: tuple[str, ...] = MODULES,
          share_tag: str = stage0.SHARE_TAG, ninep_options: str = stage0.NINEP_OPTIONS) -> Built:
    """Write the initramfs to *dest*; returns what went in.

    RuntimeError when busybox is missing or is not a static binary.
    """
    if not busybox.is_file():
        raise RuntimeError(f"{busybox} is missing (Debian package busybox-static)")
    if not is_static_elf(busybox):
        raise RuntimeError(f"{busybox} is not statically linked: install busybox-static")
    known = busybox_applets(busybox)
    a = Archive()
    for d in ("bin", "dev", "proc", "sys", "run", "tmp", "etc", "lib/modules", "lower", "rw",
              "root-fs"):
        a.dir(d)
    a.chardev("dev/console", 5, 1)
    a.chardev("dev/null", 1, 3, 0o666)
    a.file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in APPLETS:
        if known is None or applet in known:
            a.symlink(f"bin/{applet}", "busybox")  # relative: also right under /run/initramfs
    a.symlink("sbin", "bin")
    where = locate_modules(kernel, modules)
    loaded = []
    for name in modules:
        path = where.files.get(name)
        if path is not None:
            a.file(f"lib/modules/{name}.ko", module_bytes(path))
            loaded.append(name)
    a.file("etc/modules", "".join(m + "\n" for m in loaded).encode())
    a.file("init", stage0.init_script(default_init=default_init, share_tag=share_tag,
                                      ninep_options=ninep_options,
                                      modules=loaded).encode(), 0o755)
    a.file("shutdown", stage0.shutdown_script().encode(), 0o755)
    data = a.to_gzip()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return Built(dest, kernel, loaded, where.builtin, where.missing, len(data), len(a.entries))


# Dynamically linked programs ------------------------------------------------------------------
_LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(/\S+) \(0x[0-9a-f]+\)$")


def shared_libraries(path: Path) -> list[Path]:
    """The shared objects *path* loads (the dynamic loader included), as ``ldd`` resolves them.

    The paths are the ones the loader will look up (``/lib/x86_64-linux-gnu/libc.so.6``,
    a RUNPATH directory...): put each file at that same path in the archive and the
    loader finds it there without a cache.  Empty for a static binary.
    RuntimeError when ldd is missing or reports a library "not found".
    """
    ldd = shutil.which("ldd")
    if ldd is None:
        raise RuntimeError("ldd not found (Debian package libc-bin)")
    out = subprocess.run([ldd, str(path)], capture_output=True, text=True, check=False)
    libs = []
    for line in out.stdout.splitlines():
        if "not found" in line:
            raise RuntimeError(f"{path}: {line.strip()}")
        m = _LDD_LINE.match(line)
        if m:
            libs.append(Path(m.group(2)))
    return libs


def add_host_file(a: Archive, dest: str, src: Path, mode: int | None = None) -> None:
    """Copy the host file *src* (symbolic links followed) to *dest*, keeping its mode."""
    if dest in a:
        return
    st = src.stat()
    a.file(dest, src.read_bytes(), stat.S_IMODE(st.st_mode) if mode is None else mode)


#: Larger ELF files lose their debugging sections on the way in (pyenv's libpython: 23 MB -> 6 MB).
STRIP_ABOVE = 2 << 20


def elf_bytes(path: Path) -> bytes:
    """The file's bytes; without debugging sections when it is a large ELF file and strip exists."""
    strip = shutil.which("strip")
    if strip is None or path.stat().st_size < STRIP_ABOVE:
        return path.read_bytes()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / path.name
        r = subprocess.run([strip, "--strip-debug", "-o", str(out), str(path)],
                           capture_output=True, check=False)
        return out.read_bytes() if r.returncode == 0 else path.read_bytes()


def add_program(a: Archive, src: Path, dest: str | None = None) -> list[Path]:
    """Copy an ELF program (or shared object) and the libraries it loads; returns those."""
    name = dest or str(src)
    if name not in a:
        a.file(name, elf_bytes(src), stat.S_IMODE(src.stat().st_mode))
    libs = shared_libraries(src)
    for lib in libs:
        if str(lib) not in a:
            real = lib.resolve()
            a.file(str(lib), elf_bytes(real), stat.S_IMODE(real.stat().st_mode))
    return libs

"""ovis as PID 1 of a real OCI container, run by ``runc``.

The bundle is what ``runc spec`` writes, edited the way an image would be
run: a read-only root assembled from the host's directories with bind
mounts (/usr and the merged-/usr symlinks, /etc, the interpreter, the
repository, the venv), a tmpfs /run, the test's own directory read-write at
the same path, Docker's default capabilities (no CAP_SYS_ADMIN: stage 1
cannot mount its tmpfs and must make do with /run), no terminal.  PID 1's
stdout and stderr (what ``docker logs`` shows) go to a file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.bootsys import BootedSystem
from tests.nsutil import REPO, skip_or_fail

#: What ``docker run`` grants by default (moby's oci/caps/defaults.go list).
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def runc_problem() -> str | None:
    """None when runc can run containers here, else why not."""
    if shutil.which("runc") is None:
        return "needs runc (Debian package runc; scripts/setup.sh --test installs it)"
    if os.geteuid() != 0:
        return "runc containers need root here"
    return None


def require_runc() -> None:
    problem = runc_problem()
    if problem is not None:
        skip_or_fail(problem)


def _bind(path: str, ro: bool = True) -> dict[str, object]:
    return {"destination": path, "type": "bind", "source": path,
            "options": ["rbind", "ro" if ro else "rw"]}


class RuncContainer(BootedSystem):
    """A :class:`BootedSystem` whose PID 1 runs in a runc container."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bundle = root / "bundle"
        self.id = f"ovis-test-{uuid.uuid4().hex[:12]}"

    def _config(self, argv: list[str], env: dict[str, str]) -> dict[str, object]:
        rootfs = self.bundle / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["runc", "spec"], cwd=self.bundle, check=True, capture_output=True)
        cfg = json.loads((self.bundle / "config.json").read_text())
        binds = ["/usr", "/etc"]
        for p in (sys.base_prefix, sys.prefix, str(REPO), str(self.root)):
            real = os.path.realpath(p)
            if not any(real == b or real.startswith(b + "/") for b in binds):
                binds.append(real)
        for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
            host = Path("/") / name
            if host.is_symlink():
                os.symlink(os.readlink(host), rootfs / name)
            elif host.is_dir():
                binds.append(str(host))
        for b in binds:
            (rootfs / b.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for d in ("run", "tmp"):
            (rootfs / d).mkdir(exist_ok=True)
        mounts = list(cfg["mounts"])  # /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys...
        mounts += [{"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=755"]},
                   {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777"]}]
        # after /tmp: the test's directory may be below it
        mounts += [_bind(b, ro=(b != os.path.realpath(self.root))) for b in binds]
        cfg["mounts"] = mounts
        cfg["root"] = {"path": "rootfs", "readonly": True}
        proc = cfg["process"]
        proc["terminal"] = False
        proc["args"] = argv
        proc["env"] = [f"{k}={v}" for k, v in env.items()]
        proc["capabilities"] = {k: list(DOCKER_CAPS) for k in
                                ("bounding", "effective", "permitted")}
        cfg["hostname"] = "ovis-test"
        return cfg

    def boot_argv(self, init: list[str], extra_env: dict[str, str] | None = None,
                  wait_ready: bool = True, timeout: float = 20) -> None:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "PYTHONPATH": str(REPO), "OVIS_CMDLINE": str(self.cmdline)}
        env.update(extra_env or {})
        self.bundle.mkdir(parents=True, exist_ok=True)
        (self.bundle / "config.json").write_text(json.dumps(self._config(init, env), indent=1))
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(["runc", "run", "--bundle", str(self.bundle), self.id],
                                     stdin=subprocess.DEVNULL, stdout=open(self.console, "wb"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.pid1 is None and time.monotonic() < deadline:
            r = subprocess.run(["runc", "state", self.id], capture_output=True, text=True)
            if r.returncode == 0:
                pid = json.loads(r.stdout).get("pid") or 0
                if pid > 0:
                    self.pid1 = pid
                    break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if wait_ready:
            assert self.wait_console("system ready", timeout), self.console_text()

    def kill(self, sig: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runc", "kill", self.id, sig], capture_output=True, text=True,
                              timeout=30)

    def live(self) -> Path:
        return Path(f"/proc/{self.pid1}/root/run/ovis")

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill("KILL")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["runc", "delete", "-f", self.id], capture_output=True, timeout=30)

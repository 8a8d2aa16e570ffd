"""Whether a compiled service still matches its definition on disk.

``ovis status`` marks such services and ``ovis apply`` acts on them; both
ask here, so neither imports the other.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing and pathlib cost ~35 modules (ovis status imports this)

from ovis.errors import ConfigError
from ovis.service.compiler import read_metadata

if TYPE_CHECKING:
    from ovis.engine.manager import Manager


def compiled_digest(manager: Manager, name: str) -> str | None:
    meta = read_metadata(f"{manager.paths.servicedirs_str}/{name}")
    d = meta.get("digest") if meta else None
    return str(d) if d else None


def _newest_mtime(p: str) -> float:
    try:
        newest = os.lstat(p).st_mtime
    except OSError:
        return 0.0
    if os.path.isdir(p):
        for root, dirs, files in os.walk(p):
            for n in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, n)).st_mtime)
                except OSError:
                    pass
    return newest


def definition_changed(manager: Manager, name: str) -> bool | None:
    """Whether the definition on disk would compile differently from LIVE.

    None when *name* is not compiled.  A definition deleted or broken since
    counts as changed.  Cheap first: a source not modified after
    ``ovis.json`` was written cannot have changed (``ovis status`` calls
    this for every compiled service); the digest decides otherwise.
    """
    meta_path = f"{manager.paths.servicedirs_str}/{name}/ovis.json"
    try:
        compiled_at = os.stat(meta_path).st_mtime
    except OSError:
        return None
    source = manager.repo.locate(name)
    if source is None:
        return True
    if _newest_mtime(source) <= compiled_at:
        return False
    try:
        svc = manager.repo.load(name)
    except ConfigError:
        return True
    return manager.compiler.digest(svc) != compiled_digest(manager, name)

"""Replace a marked block of a markdown file with freshly measured figures.

Used by the benchmarks (bench/) and the VM timeline (tests/vmtools) to keep
docs/benchmarks.md current without touching the prose around the tables.
"""

from __future__ import annotations

from pathlib import Path


def write_block(path: Path, marker: str, body: str) -> None:
    """Put *body* between ``<!-- MARKER start -->`` and ``<!-- MARKER end -->``."""
    text = path.read_text() if path.exists() else ""
    start, end = f"<!-- {marker} start -->", f"<!-- {marker} end -->"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)

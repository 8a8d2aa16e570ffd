"""A small Markdown -> roff (man(7)) converter for the pages in docs/.

It knows the subset docs/ uses: ``#`` headings, paragraphs, fenced code
blocks, pipe tables (through tbl), ``-`` / ``1.`` lists, and inline
```code```, ``**bold**``, ``*italic*`` and ``[text](link)``.  Links to other
pages become their man page names (``ovis-status(1)``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

#: docs pages that are not commands: their man section.
SECTIONS = {"definitions": 5, "contract": 7, "boot": 7, "benchmarks": 7, "contract-changes": 7,
            "aa-commands": 8}


def page_name(md: Path) -> tuple[str, int]:
    """docs/ovis-status.md -> ("ovis-status", 1); docs/boot.md -> ("ovis-boot", 7)."""
    stem = md.stem
    section = SECTIONS.get(stem, 1)
    if stem == "ovis" or stem.startswith("ovis-"):
        return stem, section
    return f"ovis-{stem}", section


def _escape(text: str) -> str:
    text = text.replace("\\", "\\e")
    return text.replace("-", "\\-")


def _link(m: re.Match[str]) -> str:
    text, target = m.group(1), m.group(2)
    if target.endswith(".md") and "/" not in target:
        name, sec = page_name(Path(target))
        return f"\x01B{text}\x01R ({name}({sec}))" if text.strip("`") != name else f"\x01B{name}\x01R({sec})"
    return text


def inline(text: str) -> str:
    """Inline markup to roff font escapes (\x01 stands for a backslash until escaping is done)."""
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", _link, text)
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) >= 2:
            out.append("\x01B" + _escape(p[1:-1]) + "\x01R")
            continue
        p = _escape(p)
        p = re.sub(r"\*\*([^*]+)\*\*", "\x01B\\1\x01R", p)
        p = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", "\x01I\\1\x01R", p)
        out.append(p)
    return "".join(out).replace("\x01", "\\f")


def _line(text: str) -> str:
    """A text line that roff will not take for a request."""
    return "\\&" + text if text.startswith((".", "'")) else text


def convert(md_text: str, name: str, section: int, date: str | None = None) -> str:
    date = date or time.strftime("%Y-%m-%d")
    lines = md_text.splitlines()
    out = ["'\\\" t", f'.TH "{name.upper()}" "{section}" "{date}" "ovis" "ovis manual"']
    i = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(".PP")
            out.extend(_line(inline(p)) for p in para)
            para.clear()

    first_heading = True
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            flush()
            out.append(".PP")
            out.append(".nf")
            out.append(".RS 4")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(_line(_escape(lines[i])))
                i += 1
            out.append(".RE")
            out.append(".fi")
            i += 1
            continue
        m = re.match(r"^(#+)\s+(.*)$", ln)
        if m:
            flush()
            level, title = len(m.group(1)), m.group(2).strip()
            if level == 1 and first_heading:
                first_heading = False
                out.append(".SH NAME")
                summary = _summary(lines[i + 1:])
                out.append(_line(_escape(name)) + (" \\- " + inline(summary) if summary else ""))
                if summary and _one_sentence(lines[i + 1:]):  # it became NAME's line whole
                    i += 1
                    while i < len(lines) and not lines[i].strip():
                        i += 1
                    while i < len(lines) and lines[i].strip():
                        i += 1
                    continue
            elif level <= 2:
                out.append(f'.SH "{_escape(title.upper())}"')
            else:
                out.append(f'.SS "{_escape(title)}"')
            i += 1
            continue
        if ln.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1]):
            flush()
            rows = [_cells(ln)]
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.extend(_table(rows))
            continue
        m = re.match(r"^(\s*)([-*]|\d+\.)\s+(.*)$", ln)
        if m:
            flush()
            bullet = "\\(bu" if m.group(2) in "-*" else m.group(2)
            item = [m.group(3)]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() \
                    and not re.match(r"^\s*([-*]|\d+\.)\s+", lines[i]):
                item.append(lines[i].strip())
                i += 1
            out.append(f'.IP "{bullet}" 4')
            out.extend(_line(inline(t)) for t in item)
            continue
        if not ln.strip():
            flush()
        else:
            para.append(ln.strip())
        i += 1
    flush()
    return "\n".join(out) + "\n"


def _first_paragraph(rest: list[str], stop_at_markup: bool) -> str:
    """The first paragraph after the title, joined; optionally ended by a heading, fence or table."""
    text = []
    for ln in rest:
        if not ln.strip():
            if text:
                break
            continue
        if stop_at_markup and ln.startswith(("#", "```", "|")):
            break
        text.append(ln.strip())
    return " ".join(text)


def _summary(rest: list[str]) -> str:
    """The first paragraph after the title, minus a leading ``ovis x`` —."""
    s = re.sub(r"^`[^`]*`\s*[—-]+\s*", "", _first_paragraph(rest, stop_at_markup=True))
    return s.split(". ")[0].rstrip(".")


def _one_sentence(rest: list[str]) -> bool:
    return ". " not in _first_paragraph(rest, stop_at_markup=False).rstrip(".")


def _cells(row: str) -> list[str]:
    row = row.strip().strip("|")
    cells, cur, code = [], "", False
    for ch_i, ch in enumerate(row):
        if ch == "`":
            code = not code
        if ch == "|" and not code and (ch_i == 0 or row[ch_i - 1] != "\\"):
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return [c.replace("\\|", "|") for c in cells]


def _table(rows: list[list[str]]) -> list[str]:
    n = max(len(r) for r in rows)
    fmt = " ".join(["lb"] * n) + "\n" + " ".join(["l"] + ["lx" if k == n - 1 else "l"
                                                           for k in range(1, n)]) + "."
    out = [".PP", ".TS", "allbox tab(\x02);", fmt]
    for k, r in enumerate(rows):
        cells = [inline(c) for c in r] + [""] * (n - len(r))
        if k > 0:
            cells = [f"T{{\n{c}\nT}}" if len(c) > 30 else c for c in cells]
        out.append("\x02".join(cells))
    out.append(".TE")
    return [ln.replace("\x02", "\t") for ln in out]


def build(docs: Path, dest: Path) -> list[Path]:
    """Write one page per docs/*.md (README.md excepted) under dest/manN/."""
    written = []
    for md in sorted(docs.glob("*.md")):
        if md.name == "README.md":
            continue
        name, section = page_name(md)
        d = dest / f"man{section}"
        d.mkdir(parents=True, exist_ok=True)
        target = d / f"{name}.{section}"
        target.write_text(convert(md.read_text(), name, section))
        written.append(target)
    return written

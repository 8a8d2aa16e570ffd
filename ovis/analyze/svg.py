"""``analyze plot``: the starts as an SVG Gantt chart.

Hand-written SVG (no plotting library: ovis is stdlib only), one row per
service in the order the starts began, a bar from the start's beginning to
its end, coloured by outcome, and a time axis in seconds since the origin
(see timeline.py).  Every bar carries a ``<title>`` so a browser shows the
exact times and the failure reason on hover.

The scale keeps short boots readable and long ones proportionate: the plot
area is at least PLOT_WIDTH pixels wide and never less than MIN_PX_PER_S
pixels per second, so a 60 s boot becomes a wide, scrollable picture as
``systemd-analyze plot``'s does rather than a smear of one-pixel bars; but
never wider than MAX_PLOT_WIDTH, for a span of hours (a service restarted
long after boot keeps the boot as its origin).
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from ovis.analyze.blame import outcome_text
from ovis.analyze.timeline import DEPENDENCY_FAILED, FAILED, OK, Entry, Timeline, seconds

PLOT_WIDTH = 1000  # px, plot area for the whole span
MIN_PX_PER_S = 50.0
MAX_PLOT_WIDTH = 20000  # px: a restart hours after boot must not make a 1e6 px picture
ROW = 20  # px per service row
BAR = 14  # px bar height
CHAR = 7.2  # px per character of the 12px monospace font (column widths)
TITLE_CHAR = 8.5  # px per character of the 14px bold title
TOP = 70  # px above the first row: title, legend, axis labels
PAD = 10

COLOURS = {OK: "#4caf50", FAILED: "#e53935", DEPENDENCY_FAILED: "#9e9e9e"}
LEGEND = ((OK, "started"), (FAILED, "failed"), (DEPENDENCY_FAILED, "dependency failed"))

STYLE = """\
text { font-family: monospace; font-size: 12px; fill: #212121; }
text.title { font-size: 14px; font-weight: bold; }
text.tick { fill: #616161; }
line.grid { stroke: #e0e0e0; stroke-width: 1; }
line.axis { stroke: #616161; stroke-width: 1; }
rect.stripe { fill: #f5f5f5; }
text.failed { fill: #c62828; }
text.dependency-failed { fill: #757575; }
""" + "".join(f"rect.{k} {{ fill: {v}; }}\n" for k, v in COLOURS.items())


def tick_step(px_per_s: float, min_gap_px: float = 60.0) -> float:
    """The smallest 1/2/5 x 10^k seconds at least *min_gap_px* apart on the axis."""
    raw = min_gap_px / px_per_s
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if base * m >= raw:
            return base * m
    return base * 10.0  # pragma: no cover - the loop always returns


def _label(t: float, step: float) -> str:
    """Axis label with as many decimals as the step needs (0.05 -> two)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{t:.{decimals}f}s"


def _bar_title(tl: Timeline, e: Entry) -> str:
    return (f"{e.name} ({e.type or 'unknown'}): {outcome_text(e)}; "
            f"began @{seconds(tl.at(e.begun))}, ended @{seconds(tl.at(e.ended))}, "
            f"took {seconds(e.duration)}")


def plot(tl: Timeline, title: str = "ovis: service starts") -> str:
    """The SVG document (a string) for *tl*: one ``rect.bar`` per service."""
    rows = tl.by_start()
    span = max(tl.end - tl.origin, 1e-3)
    px = min(max(PLOT_WIDTH / span, MIN_PX_PER_S), MAX_PLOT_WIDTH / span)
    names_w = PAD + CHAR * max([len(e.name) for e in rows] + [12]) + PAD
    notes = [f"+{seconds(e.duration)}" + ("" if e.ok else f" {outcome_text(e)}") for e in rows]
    notes_w = CHAR * max([len(n) for n in notes] + [10]) + 2 * PAD
    plot_w = span * px
    width = math.ceil(names_w + plot_w + notes_w)
    height = TOP + ROW * max(len(rows), 1) + 2 * PAD
    x0 = names_w

    def x(t: float) -> float:
        return x0 + (t - tl.origin) * px

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<style>\n{STYLE}</style>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text class="title" x="{PAD}" y="20">{escape(title)}</text>',
        f'<text x="{PAD}" y="38">time since {escape(_origin_words(tl))}; '
        f'{len(rows)} service{"s" if len(rows) != 1 else ""}, last start ended '
        f'@{escape(seconds(tl.end - tl.origin))}</text>',
    ]
    lx = max(x0, PAD + TITLE_CHAR * len(title) + 3 * PAD)
    for key, words in LEGEND:
        out.append(f'<rect class="{key}" x="{lx:.1f}" y="10" width="12" height="12"/>')
        out.append(f'<text x="{lx + 16:.1f}" y="20">{escape(words)}</text>')
        lx += 16 + CHAR * len(words) + 2 * PAD
    # Layers from back to front: row stripes, grid and axis, then bars and words.
    bottom = TOP + ROW * max(len(rows), 1)
    for i in range(1, len(rows), 2):
        out.append(f'<rect class="stripe" x="0" y="{TOP + i * ROW}" width="{width}" '
                   f'height="{ROW}"/>')
    step = tick_step(px)
    axis_y = TOP - 8
    out.append(f'<line class="axis" x1="{x0:.1f}" y1="{axis_y}" x2="{x0 + plot_w:.1f}" '
               f'y2="{axis_y}"/>')
    for i in range(int(span / step + 1e-9) + 1):
        tx = x0 + i * step * px
        out.append(f'<line class="grid" x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" '
                   f'y2="{bottom}"/>')
        out.append(f'<text class="tick" x="{tx:.1f}" y="{axis_y - 4}" '
                   f'text-anchor="middle">{escape(_label(i * step, step))}</text>')
    for i, (e, note) in enumerate(zip(rows, notes, strict=True)):
        y = TOP + i * ROW
        ty = y + ROW - 6
        out.append(f'<text class="name {e.outcome}" x="{x0 - PAD:.1f}" y="{ty}" '
                   f'text-anchor="end">{escape(e.name)}</text>')
        bx, bw = x(e.begun), max(e.duration * px, 1.0)
        out.append(f'<rect class="bar {e.outcome}" data-name={quoteattr(e.name)} '
                   f'x="{bx:.2f}" y="{y + (ROW - BAR) / 2:.1f}" width="{bw:.2f}" '
                   f'height="{BAR}"><title>{escape(_bar_title(tl, e))}</title></rect>')
        out.append(f'<text class="note" x="{bx + bw + 4:.2f}" y="{ty}">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _origin_words(tl: Timeline) -> str:
    return "boot (stage 1)" if tl.origin_source == "boot" else "the first start"

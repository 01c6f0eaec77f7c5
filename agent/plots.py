"""Inline SVG plots for the report: no JavaScript and nothing fetched, so the page opens from disk.

Four kinds, each a function returning an ``<svg>`` string: horizontal bars of rates (success per suite or
env), stacked horizontal bars (where step time goes, by phase), vertical bars of signed values (reward per
episode) and a histogram of small integers (steps to success). Colours are fixed so tests can find them.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence

#: The bar colour of success rates.
RATE_RGB = (46, 139, 87)
#: Phase colours for the stacked step-time bars, in the order StepTimings lists the phases.
PHASE_RGB: dict[str, tuple[int, int, int]] = {
    "capture": (31, 119, 180), "preprocess": (255, 127, 14), "model": (214, 39, 40), "parse": (148, 103, 189),
    "execute": (44, 160, 44), "settle": (140, 86, 75), "record": (127, 127, 127),
}
#: Rewards above zero and below it.
POSITIVE_RGB = (31, 119, 180)
NEGATIVE_RGB = (214, 39, 40)
#: Histogram bars.
HIST_RGB = (148, 103, 189)

_FONT = 'font-family="DejaVu Sans, sans-serif" font-size="12"'


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _t(text: object) -> str:
    return html.escape(str(text))


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_t(title)}"><title>{_t(title)}</title>'
            f'<text x="4" y="14" {_FONT} font-weight="bold">{_t(title)}</text>{body}</svg>')


def rate_bars(rows: Sequence[tuple[str, float, str]], title: str, *, width: int = 560) -> str:
    """One bar per ``(label, rate in [0, 1], note)``; the note (``3/4``) is printed after the percentage.

    Example:
        >>> "66.7%" in rate_bars([("synthetic", 2 / 3, "2/3")], "success rate per suite")
        True
    """
    label_w, bar_w, row_h = 190, width - 190 - 170, 22
    body = []
    for i, (label, rate, note) in enumerate(rows):
        y = 24 + i * row_h
        w = max(0.0, min(rate, 1.0)) * bar_w
        body.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {_FONT}>{_t(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#eeeeee"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{_hex(RATE_RGB)}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 15}" {_FONT}>{rate:.1%} {_t(note)}</text>'
        )
    return _svg(width, 30 + row_h * len(rows), "".join(body), title)


def stacked_bars(rows: Sequence[tuple[str, Mapping[str, float]]], title: str, *, unit: str = "ms",
                 width: int = 560) -> str:
    """One bar per ``(label, {phase: value})``, the phases stacked in :data:`PHASE_RGB` order, with a legend.

    Example:
        >>> svg = stacked_bars([("gym", {"model": 3.0, "execute": 1.0})], "step time")
        >>> "4.0 ms" in svg and "model" in svg
        True
    """
    label_w, row_h = 190, 22
    bar_w = width - label_w - 80
    biggest = max((sum(v.values()) for _, v in rows), default=0.0) or 1.0
    body = []
    for i, (label, values) in enumerate(rows):
        y = 24 + i * row_h
        x = float(label_w)
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {_FONT}>{_t(label)}</text>')
        for phase, rgb in PHASE_RGB.items():
            w = values.get(phase, 0.0) / biggest * bar_w
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{_hex(rgb)}">'
                            f"<title>{_t(phase)}: {values[phase]:.1f} {unit}</title></rect>")
                x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 15}" {_FONT}>{sum(values.values()):.1f} {unit}</text>')
    legend_y = 30 + row_h * len(rows)
    lx = 4
    for phase, rgb in PHASE_RGB.items():
        body.append(f'<rect x="{lx}" y="{legend_y}" width="10" height="10" fill="{_hex(rgb)}"/>'
                    f'<text x="{lx + 14}" y="{legend_y + 10}" {_FONT}>{phase}</text>')
        lx += 22 + 7 * len(phase)
    return _svg(width, legend_y + 20, "".join(body), title)


def value_bars(rows: Sequence[tuple[str, float]], title: str, *, width: int = 560) -> str:
    """One vertical bar per ``(label, value)`` from a zero line (values may be negative), labels as tooltips.

    Example:
        >>> "-1" in value_bars([("a", 1.0), ("b", -1.0)], "reward per episode")
        True
    """
    height, top, bottom = 210, 38, 34
    hi = max([0.0, *(v for _, v in rows)])
    lo = min([0.0, *(v for _, v in rows)])
    span = (hi - lo) or 1.0
    plot_h = height - top - bottom
    zero = top + hi / span * plot_h
    n = max(len(rows), 1)
    slot = (width - 50) / n
    body = [f'<line x1="40" y1="{zero:.1f}" x2="{width - 4}" y2="{zero:.1f}" stroke="#888"/>',
            f'<text x="36" y="{top + 10}" text-anchor="end" {_FONT}>{hi:g}</text>',
            f'<text x="36" y="{height - bottom}" text-anchor="end" {_FONT}>{lo:g}</text>']
    for i, (label, v) in enumerate(rows):
        h = abs(v) / span * plot_h
        y = zero - h if v >= 0 else zero
        x = 44 + i * slot
        rgb = POSITIVE_RGB if v >= 0 else NEGATIVE_RGB
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 4, 2):.1f}" height="{max(h, 1):.1f}" '
                    f'fill="{_hex(rgb)}"><title>{_t(label)}: {v:g}</title></rect>')
        if n <= 12:  # room for words: the value by the bar, the episode under the plot
            ty = y - 3 if v >= 0 else y + h + 12
            body.append(f'<text x="{x + slot / 2:.1f}" y="{ty:.1f}" text-anchor="middle" {_FONT}>{v:g}</text>')
            short = label if len(label) <= slot / 7 else label[: max(int(slot / 7) - 1, 1)] + "…"
            body.append(f'<text x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" {_FONT}>{_t(short)}</text>')
    return _svg(width, height, "".join(body), title)


def histogram(values: Sequence[int], title: str, *, width: int = 560) -> str:
    """Counts of each integer value (steps to success), one bar per value from the smallest to the largest.

    Example:
        >>> svg = histogram([3, 3, 5], "steps to success")
        >>> svg.count("<rect") == 3  # 3, 4 and 5 steps
        True
    """
    counts = Counter(values)
    if not counts:
        return _svg(width, 40, f'<text x="4" y="32" {_FONT}>no successful episode</text>', title)
    keys = list(range(min(counts), max(counts) + 1))
    height, top, bottom = 190, 38, 36
    plot_h = height - top - bottom
    most = max(counts.values())
    slot = (width - 20) / len(keys)
    body = []
    for i, k in enumerate(keys):
        h = counts[k] / most * plot_h
        x = 10 + i * slot
        body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(slot - 3, 2):.1f}" height="{h:.1f}" '
                    f'fill="{_hex(HIST_RGB)}"><title>{k} steps: {counts[k]}</title></rect>')
        if len(keys) <= 30:
            body.append(f'<text x="{x + slot / 2:.1f}" y="{height - 20}" text-anchor="middle" {_FONT}>{k}</text>')
            if counts[k]:
                body.append(f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                            f"{_FONT}>{counts[k]}</text>")
    body.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle" {_FONT}>steps</text>')
    return _svg(width, height, "".join(body), title)

"""Server-side SVG charts for the viewer: no JavaScript, no CDN, readable in print and on phones.

Pure functions from plain numbers to an SVG string (``viewBox`` sized, ``width="100%"``), with
a ``<title>`` and ``role="img"`` for screen readers. Text is escaped. Colours are the Okabe-Ito
palette (distinguishable with colour-vision deficiencies); print keeps them (``print-color-
adjust``) and every chart shows its numbers as text too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
)
BAR = "#0b5cad"
GRID = "#d0d7de"
TEXT = "#1b1f24"
MUTED = "#57606a"
FONT = 'font-family="system-ui, sans-serif"'


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str], css_class: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every piece of text inside is escaped
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def label_bars(
    rows: Sequence[tuple[str, float]],
    *,
    max_value: float | None = None,
    title: str = "Top labels",
    width: int = 200,
    label_chars: int = 15,
) -> SafeString:
    """Compact horizontal bars (a card's top labels): label, bar, score."""
    if not rows:
        return mark_safe("")
    top = max_value if max_value and max_value > 0 else max(v for _, v in rows) or 1.0
    row_h = 18
    label_w = int(width * 0.46)
    value_w = 32
    bar_w = width - label_w - value_w - 4
    body = []
    for i, (label, value) in enumerate(rows):
        y = i * row_h
        w = max(1.0, bar_w * min(value / top, 1.0)) if value > 0 else 0
        body.append(
            f'<text x="0" y="{y + 13}" font-size="12" fill="{TEXT}" {FONT}>'
            f"{escape(_clip(label, label_chars))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="11" rx="2" fill="{BAR}"/>'
            f'<text x="{width}" y="{y + 13}" font-size="11" fill="{MUTED}" text-anchor="end" '
            f"{FONT}>{_fmt(value)}</text>"
        )
    return _svg(width, row_h * len(rows), title, body, "chart-bars")


@dataclass(frozen=True)
class StackedRow:
    label: str
    total: float
    segments: Sequence[tuple[int, float]]  # (series key, value)


def stacked_bars(
    rows: Sequence[StackedRow],
    *,
    series: Sequence[tuple[int, str]],
    title: str,
    width: int = 420,
) -> SafeString:
    """Horizontal bars stacked by series (label scores by sub-cluster), with a legend."""
    if not rows:
        return mark_safe("")
    top = max((r.total for r in rows), default=0.0) or 1.0
    row_h = 20
    label_w = 130
    value_w = 40
    bar_w = width - label_w - value_w - 6
    index = {key: i for i, (key, _) in enumerate(series)}
    body = []
    for i, row in enumerate(rows):
        y = i * row_h
        body.append(
            f'<text x="0" y="{y + 14}" font-size="12" fill="{TEXT}" {FONT}>'
            f"{escape(_clip(row.label, 22))}</text>"
        )
        x = float(label_w)
        for key, value in row.segments:
            if value <= 0:
                continue
            w = bar_w * value / top
            name = dict(series).get(key, str(key))
            body.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="13" '
                f'fill="{colour(index.get(key, 0))}"><title>{escape(row.label)}: '
                f"{escape(name)} {_fmt(value)}</title></rect>"
            )
            x += w
        body.append(
            f'<text x="{width}" y="{y + 14}" font-size="11" fill="{MUTED}" text-anchor="end" '
            f"{FONT}>{_fmt(row.total)}</text>"
        )
    height = row_h * len(rows)
    if len(series) > 1:
        x = 0
        y = height + 6
        for i, (_, name) in enumerate(series):
            text = _clip(name, 24)
            step = 18 + 7 * len(text)
            if x + step > width:
                x = 0
                y += 16
            body.append(
                f'<rect x="{x}" y="{y}" width="11" height="11" fill="{colour(i)}"/>'
                f'<text x="{x + 14}" y="{y + 10}" font-size="11" fill="{TEXT}" {FONT}>'
                f"{escape(text)}</text>"
            )
            x += step
        height = y + 16
    return _svg(width, height, title, body, "chart-stacked")


def weighted_bars(
    rows: Sequence[tuple[str, float, float]],
    *,
    title: str,
    width: int = 320,
) -> SafeString:
    """Global labels: label, G(s) as a bar, and the mean weight of its groups as text."""
    if not rows:
        return mark_safe("")
    top = max(v for _, v, _ in rows) or 1.0
    row_h = 20
    label_w = 110
    value_w = 92
    bar_w = width - label_w - value_w - 4
    body = []
    for i, (label, value, weight) in enumerate(rows):
        y = i * row_h
        w = bar_w * value / top if value > 0 else 0
        body.append(
            f'<text x="0" y="{y + 14}" font-size="12" fill="{TEXT}" {FONT}>'
            f"{escape(_clip(label, 17))}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="13" rx="2" '
            f'fill="{colour(i)}"/>'
            f'<text x="{width}" y="{y + 14}" font-size="11" fill="{MUTED}" text-anchor="end" '
            f"{FONT}>G {_fmt(value)} · w {weight:.0f}%</text>"
        )
    return _svg(width, row_h * len(rows), title, body, "chart-global")


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    width: int = 560,
    height: int = 240,
    y_label: str = "mean score",
) -> SafeString:
    """Label trajectories across depth: one line per label (gaps where a layer has no value)."""
    if not series or not x_labels:
        return mark_safe("")
    values = [v for _, vs in series for v in vs if v is not None and math.isfinite(v)]
    top = max(values, default=1.0) or 1.0
    left, right, top_pad, bottom = 40, 120, 10, 36
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    n = len(x_labels)

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    body = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" '
        f'stroke="{GRID}"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="{GRID}"/>',
        f'<text x="4" y="{top_pad + 10}" font-size="10" fill="{MUTED}" {FONT}>{_fmt(top)}</text>',
        f'<text x="4" y="{top_pad + plot_h}" font-size="10" fill="{MUTED}" {FONT}>0</text>',
        f'<text x="4" y="{height - 2}" font-size="10" fill="{MUTED}" {FONT}>'
        f"{escape(y_label)} by layer (shallow → deep)</text>",
    ]
    for i, name in enumerate(x_labels):
        body.append(
            f'<text x="{px(i):.1f}" y="{top_pad + plot_h + 13}" font-size="9" fill="{MUTED}" '
            f'text-anchor="middle" {FONT}>{escape(_clip(name, 12))}</text>'
        )
    for k, (name, vs) in enumerate(series):
        c = colour(k)
        path: list[str] = []
        pen_up = True
        for i, v in enumerate(vs):
            if v is None or not math.isfinite(v):
                pen_up = True
                continue
            path.append(f"{'M' if pen_up else 'L'}{px(i):.1f},{py(v):.1f}")
            pen_up = False
            body.append(
                f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.5" fill="{c}"><title>'
                f"{escape(name)} at {escape(x_labels[i])}: {_fmt(v)}</title></circle>"
            )
        if path:
            body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{c}" stroke-width="2"/>')
        ly = top_pad + 12 + 14 * k
        body.append(
            f'<rect x="{left + plot_w + 8}" y="{ly - 9}" width="10" height="10" fill="{c}"/>'
            f'<text x="{left + plot_w + 22}" y="{ly}" font-size="11" fill="{TEXT}" {FONT}>'
            f"{escape(_clip(name, 14))}</text>"
        )
    return _svg(width, height, title, body, "chart-lines")

"""Hand-drawn inline SVG charts for the HTML report: no scripts, no external files, every label escaped.

Colours follow the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
series also differ by marker shape, and the heatmap ramp changes lightness monotonically so it
reads in greyscale too. Every mark carries a ``<title>`` with its exact counts (a hover tooltip).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from gateway.reports.stats import Rate

FONT = 12
INK = "#1f2328"
MUTED = "#59636e"
GRID = "#d8dee4"
TRACK = "#f0f2f4"

# Okabe-Ito.
BLUE = "#0072B2"
VERMILION = "#D55E00"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
PURPLE = "#CC79A7"
GREY = "#8c959f"
SERIES_COLOURS = (BLUE, VERMILION, GREEN, ORANGE, PURPLE, SKY)
SHAPES = ("circle", "square", "diamond", "triangle")

# Light to dark (white -> orange -> deep red-brown): lightness falls monotonically.
_RAMP = ("#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")


def esc(text: object) -> str:
    """Text escaped for HTML and SVG content and attributes."""
    return escape(str(text), quote=True)


def pct(value: float | None, digits: int = 1) -> str:
    """``0.1234`` -> ``12.3%``; None -> an em dash."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def ci_text(rate: Rate) -> str:
    """``61.2–72.0%`` (or an em dash without data)."""
    if rate.lo is None or rate.hi is None:
        return "—"
    return f"{100 * rate.lo:.1f}–{100 * rate.hi:.1f}%"


def rate_title(label: str, rate: Rate) -> str:
    """Tooltip text for a rate: value, interval and counts."""
    if rate.value is None:
        return f"{label}: no evaluated items"
    return f"{label}: {pct(rate.value)} (95% CI {ci_text(rate)}), {rate.k} of {rate.n}"


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def ramp(value: float) -> str:
    """The heatmap colour for a share in [0, 1]."""
    v = min(1.0, max(0.0, value)) * (len(_RAMP) - 1)
    i = min(int(v), len(_RAMP) - 2)
    t = v - i
    a, b = _hex_rgb(_RAMP[i]), _hex_rgb(_RAMP[i + 1])
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def text_on(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``."""
    r, g, b = _hex_rgb(fill)
    luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    return INK if luminance > 0.55 else "#ffffff"


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(label)}" '
        f'font-size="{FONT}">' + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
    size: int = FONT,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-weight="{weight}" '
        f'font-size="{size}">{esc(text)}</text>'
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _axis(x0: float, width: float, top: float, bottom: float) -> list[str]:
    """Vertical grid lines and labels at 0, 25, 50, 75, 100%."""
    parts = []
    for tick in (0, 25, 50, 75, 100):
        x = x0 + width * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>')
        parts.append(_text(x, bottom + 14, f"{tick}%", anchor="middle", fill=MUTED, size=11))
    return parts


def bar_panels(
    rows: Sequence[str],
    panels: Sequence[tuple[str, str, Sequence[Rate]]],
    *,
    label: str,
    label_width: float = 220,
    bar_width: float = 250,
) -> str:
    """Side-by-side horizontal bar panels sharing row labels; each panel is (title, colour, rates).

    Each bar shows the rate, a whisker for its 95% interval and the value; rows without data say so.
    """
    row_h, top = 24.0, 34.0
    value_w = 64.0
    panel_w = bar_width + value_w + 24
    width = label_width + panel_w * len(panels)
    height = top + row_h * len(rows) + 26
    body: list[str] = []
    for i, name in enumerate(rows):
        y = top + i * row_h
        if i % 2 == 0:
            body.append(f'<rect x="0" y="{y:.1f}" width="{width:.0f}" height="{row_h}" fill="#f6f8fa"/>')
        body.append(_text(8, y + row_h / 2 + 4, _clip(name, 30)))
    for p, (title, colour, rates) in enumerate(panels):
        x0 = label_width + p * panel_w + 8
        body.append(_text(x0, 16, title, weight="600"))
        body.extend(_axis(x0, bar_width, top - 4, top + row_h * len(rows)))
        for i, rate in enumerate(rates):
            y = top + i * row_h
            mid = y + row_h / 2
            tip = esc(rate_title(f"{rows[i]} — {title}", rate))
            if rate.value is None:
                body.append(_text(x0 + 6, mid + 4, "no data", fill=MUTED))
                continue
            w = max(1.0, bar_width * rate.value)
            body.append(
                f'<rect x="{x0:.1f}" y="{y + 6:.1f}" width="{w:.1f}" height="{row_h - 12:.1f}" '
                f'fill="{colour}" rx="2"><title>{tip}</title></rect>'
            )
            lo, hi = rate.lo or 0.0, rate.hi or 0.0
            xl, xh = x0 + bar_width * lo, x0 + bar_width * hi
            body.append(
                f'<path d="M{xl:.1f} {mid:.1f}H{xh:.1f}M{xl:.1f} {mid - 5:.1f}V{mid + 5:.1f}'
                f'M{xh:.1f} {mid - 5:.1f}V{mid + 5:.1f}" stroke="{INK}" stroke-width="1.3" fill="none">'
                f"<title>{tip}</title></path>"
            )
            body.append(_text(x0 + bar_width + 8, mid + 4, pct(rate.value), weight="600"))
    return _svg(width, height, label, body)


def _marker(shape: str, x: float, y: float, colour: str, tip: str) -> str:
    title = f"<title>{tip}</title>"
    if shape == "square":
        return (
            f'<rect x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" fill="{colour}">{title}</rect>'
        )
    if shape == "diamond":
        return (
            f'<path d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y:.1f}L{x:.1f} {y + 6:.1f}L{x - 6:.1f} {y:.1f}Z" '
            f'fill="{colour}">{title}</path>'
        )
    if shape == "triangle":
        return (
            f'<path d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y + 5:.1f}L{x - 6:.1f} {y + 5:.1f}Z" '
            f'fill="{colour}">{title}</path>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}">{title}</circle>'


def dot_panels(
    rows: Sequence[str],
    series: Sequence[str],
    panels: Sequence[tuple[str, Sequence[Sequence[Rate | None]]]],
    *,
    label: str,
    label_width: float = 170,
    plot_width: float = 250,
) -> str:
    """Dot-and-whisker panels: per row, one marker per series (colour and shape) with its interval.

    ``panels`` is a list of (title, values) where ``values[row][series]`` is a rate or None.
    """
    sub_h = 14.0
    row_h = max(26.0, sub_h * len(series) + 10)
    legend_h = 22.0
    top = 34.0 + legend_h
    panel_w = plot_width + 70
    width = label_width + panel_w * len(panels)
    height = top + row_h * len(rows) + 26
    body: list[str] = []
    lx = 8.0
    for s, name in enumerate(series):
        colour, shape = SERIES_COLOURS[s % len(SERIES_COLOURS)], SHAPES[s % len(SHAPES)]
        body.append(_marker(shape, lx + 5, 12, colour, esc(name)))
        body.append(_text(lx + 14, 16, name))
        lx += 24 + 7.2 * len(name)
    for i, name in enumerate(rows):
        y = top + i * row_h
        if i % 2 == 0:
            body.append(f'<rect x="0" y="{y:.1f}" width="{width:.0f}" height="{row_h:.1f}" fill="#f6f8fa"/>')
        body.append(_text(8, y + row_h / 2 + 4, _clip(name, 24)))
    for p, (title, values) in enumerate(panels):
        x0 = label_width + p * panel_w + 8
        body.append(_text(x0, top - 12, title, weight="600"))
        body.extend(_axis(x0, plot_width, top - 4, top + row_h * len(rows)))
        for i, row_values in enumerate(values):
            first = top + i * row_h + (row_h - sub_h * (len(series) - 1)) / 2
            for s, rate in enumerate(row_values):
                y = first + s * sub_h
                colour, shape = SERIES_COLOURS[s % len(SERIES_COLOURS)], SHAPES[s % len(SHAPES)]
                if rate is None or rate.value is None:
                    continue
                tip = esc(rate_title(f"{rows[i]}, {series[s]} — {title}", rate))
                xl, xh = x0 + plot_width * (rate.lo or 0.0), x0 + plot_width * (rate.hi or 0.0)
                body.append(
                    f'<line x1="{xl:.1f}" y1="{y:.1f}" x2="{xh:.1f}" y2="{y:.1f}" stroke="{colour}" '
                    f'stroke-width="2"><title>{tip}</title></line>'
                )
                body.append(_marker(shape, x0 + plot_width * rate.value, y, colour, tip))
    return _svg(width, height, label, body)


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[Rate | None]],
    *,
    label: str,
    emphasise_rows: frozenset[int] = frozenset(),
) -> str:
    """A rows x columns grid of shares coloured on a sequential ramp, each cell labelled with its
    percentage and n; ``emphasise_rows`` get a heavier outline (reference rows)."""
    label_w, cell_w, cell_h, top, gap = 220.0, 118.0, 34.0, 40.0, 12.0
    legend_w = 220.0
    first_ref = min(emphasise_rows, default=len(row_labels))
    width = max(label_w + cell_w * len(col_labels) + 10, label_w + legend_w + 40)
    height = top + cell_h * len(row_labels) + (gap if emphasise_rows else 0) + 56
    body: list[str] = []
    for c, name in enumerate(col_labels):
        x = label_w + c * cell_w + cell_w / 2
        body.append(
            f'<text x="{x:.1f}" y="{top - 12:.1f}" text-anchor="middle" fill="{INK}" font-weight="600">'
            f"<title>{esc(name)}</title>{esc(_clip(name, 16))}</text>"
        )
    for r, name in enumerate(row_labels):
        # Reference rows sit apart from the attack rows.
        y = top + r * cell_h + (gap if r >= first_ref else 0)
        weight = "600" if r in emphasise_rows else "normal"
        body.append(_text(label_w - 10, y + cell_h / 2 + 4, _clip(name, 32), anchor="end", weight=weight))
        for c, rate in enumerate(values[r]):
            x = label_w + c * cell_w
            if rate is None or rate.value is None:
                body.append(
                    f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2:.1f}" '
                    f'height="{cell_h - 2:.1f}" fill="#ffffff" stroke="{GRID}"/>'
                )
                body.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, "—", anchor="middle", fill=MUTED))
                continue
            fill = ramp(rate.value)
            tip = esc(rate_title(f"{name} × {col_labels[c]}", rate))
            stroke = f' stroke="{INK}" stroke-width="1.5"' if r in emphasise_rows else ""
            body.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cell_w - 2:.1f}" height="{cell_h - 2:.1f}" '
                f'fill="{fill}"{stroke}><title>{tip}</title></rect>'
            )
            ink = text_on(fill)
            body.append(
                f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{ink}"><tspan font-weight="600">{esc(pct(rate.value, 0))}</tspan>'
                f'<tspan font-size="10" dx="4">n={rate.n}</tspan><title>{tip}</title></text>'
            )
    # Legend: the ramp from 0 to 100%.
    ly = top + cell_h * len(row_labels) + (gap if emphasise_rows else 0) + 18
    body.append(_text(label_w - 10, ly + 10, "attack success", anchor="end", fill=MUTED, size=11))
    steps = 20
    for i in range(steps):
        body.append(
            f'<rect x="{label_w + i * legend_w / steps:.1f}" y="{ly:.1f}" '
            f'width="{legend_w / steps + 0.5:.1f}" height="12" fill="{ramp(i / (steps - 1))}"/>'
        )
    body.append(_text(label_w, ly + 26, "0%", fill=MUTED, size=11))
    body.append(_text(label_w + legend_w, ly + 26, "100%", anchor="end", fill=MUTED, size=11))
    return _svg(width, height, label, body)


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a stacked bar."""

    name: str
    colour: str
    pattern: bool = False


def stacked_bars(
    rows: Sequence[str], segments: Sequence[Segment], values: Sequence[Sequence[int]], *, label: str
) -> str:
    """Horizontal 100% stacked bars (one per row) with a legend; each part's count is in its tooltip."""
    label_w, bar_w, row_h = 180.0, 700.0, 30.0
    width = label_w + bar_w + 20
    legend: list[str] = []
    lx, ly = 8.0, 10.0
    for seg in segments:
        fill = "url(#hatch)" if seg.pattern else seg.colour
        item_w = 26 + 6.6 * len(seg.name)
        if lx + item_w > width:
            lx, ly = 8.0, ly + 18
        legend.append(
            f'<rect x="{lx:.1f}" y="{ly:.1f}" width="12" height="12" fill="{fill}" stroke="{GREY}"/>'
        )
        legend.append(_text(lx + 17, ly + 10, seg.name, size=11))
        lx += item_w
    top = ly + 30
    height = top + row_h * len(rows) + 10
    body: list[str] = [
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{GREY}" stroke-width="2"/></pattern></defs>',
        *legend,
    ]
    for r, name in enumerate(rows):
        y = top + r * row_h
        body.append(_text(label_w - 10, y + row_h / 2 + 4, _clip(name, 26), anchor="end"))
        total = sum(values[r])
        x = label_w
        for seg, count in zip(segments, values[r], strict=True):
            if total == 0 or count == 0:
                continue
            w = bar_w * count / total
            fill = "url(#hatch)" if seg.pattern else seg.colour
            share = pct(count / total)
            body.append(
                f'<rect x="{x:.1f}" y="{y + 5:.1f}" width="{w:.1f}" height="{row_h - 10:.1f}" fill="{fill}">'
                f"<title>{esc(f'{name}: {seg.name} {count} ({share})')}</title></rect>"
            )
            x += w
        if total == 0:
            body.append(_text(label_w + 6, y + row_h / 2 + 4, "nothing planned or stored", fill=MUTED))
    return _svg(width, height, label, body)


def ci_strip(rate: Rate, colour: str, *, width: float = 120) -> str:
    """A tiny inline 0–100% strip with the interval as a band and the value as a tick (table cells)."""
    h = 12.0
    body = [f'<rect x="0" y="3" width="{width:.0f}" height="6" rx="3" fill="{TRACK}"/>']
    if rate.value is not None:
        lo, hi = rate.lo or 0.0, rate.hi or 0.0
        body.append(
            f'<rect x="{width * lo:.1f}" y="3" width="{max(1.5, width * (hi - lo)):.1f}" height="6" rx="3" '
            f'fill="{colour}" opacity="0.35"/>'
        )
        x = width * rate.value
        body.append(f'<rect x="{max(0.0, x - 1.5):.1f}" y="0" width="3" height="{h:.0f}" fill="{colour}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" width="{width:.0f}" height="{h:.0f}" '
        f'viewBox="0 0 {width:.0f} {h:.0f}" aria-hidden="true">' + "".join(body) + "</svg>"
    )

"""The class report's bar charts as small SVG files, drawn here in microseconds.

matplotlib would take seconds to import and draw them; these are plain bars on a
value axis from 0, each bar with its value in a tooltip. Every label is escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

FONT = 11  # px
CHAR = 0.62 * FONT  # the width of a character, near enough for sans-serif labels
ROW = 18  # px per bar of a horizontal chart
WIDTH, HEIGHT = 600, 350  # px, a vertical chart
MARGIN = 36  # px around the plot for the title and the value axis


@dataclass(frozen=True)
class Bars:
    title: str
    labels: list[str]
    values: list[float]
    axis: str  # what the values are
    top: float  # the value axis runs from 0 to top (made a round number)
    colour: str
    horizontal: bool = False


def ticks(top: float) -> list[float]:
    """Round values from 0 to top or just past it: at most 6 whole steps of 1, 2 or 5
    times a power of ten (the charts show counts and percentages)."""
    rough = max(top, 1) / 5
    power = 10 ** math.floor(math.log10(rough))
    step = max(1, next(power * m for m in (1, 2, 5, 10) if power * m >= rough))
    return [step * i for i in range(math.ceil(max(top, 1) / step - 1e-9) + 1)]


def svg(chart: Bars) -> str:
    """The chart as a self-contained SVG document."""
    scale = ticks(chart.top)
    if chart.horizontal:
        left = MARGIN + CHAR * max(map(len, chart.labels), default=0)
        size = (WIDTH + left, 2 * MARGIN + ROW * len(chart.labels) + FONT)
        body = _horizontal(chart, scale, left, size)
    else:
        size = (WIDTH, HEIGHT)
        body = _vertical(chart, scale, size)
    width, height = size
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" font-family="sans-serif" font-size="{FONT}">'
            f'<text x="{width / 2:.0f}" y="{MARGIN / 2 + FONT / 2:.0f}" text-anchor="middle" '
            f'font-size="{FONT + 3}">{escape(chart.title)}</text>{body}</svg>\n')


def _bar(x: float, y: float, width: float, height: float, colour: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{colour}"><title>{escape(tip)}</title></rect>')


def _text(x: float, y: float, words: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(words)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#999"/>'


def _vertical(chart: Bars, scale: list[float], size: tuple[float, float]) -> str:
    width, height = size
    left, bottom, plot_height = 2 * MARGIN, height - 2 * MARGIN, height - 3 * MARGIN
    slot = (width - left - MARGIN) / max(len(chart.labels), 1)
    parts = []
    for tick in scale:
        y = bottom - plot_height * tick / scale[-1]
        parts += [_line(left, y, width - MARGIN, y), _text(left - 4, y + 4, f"{tick:g}", "end")]
    for i, (label, value) in enumerate(zip(chart.labels, chart.values)):
        bar = plot_height * value / scale[-1]
        x = left + slot * i
        parts += [_bar(x + slot * 0.1, bottom - bar, slot * 0.8, bar, chart.colour,
                       f"{label}: {value:.3g}"),
                  _text(x + slot / 2, bottom + FONT + 4, label, "middle")]
    axis_y = height / 2
    parts.append(f'<text x="{FONT}" y="{axis_y:.0f}" text-anchor="middle" transform="rotate('
                 f'-90 {FONT} {axis_y:.0f})">{escape(chart.axis)}</text>')
    return "".join(parts)


def _horizontal(chart: Bars, scale: list[float], left: float,
                size: tuple[float, float]) -> str:
    width, height = size
    top, bottom, plot_width = MARGIN, height - MARGIN - FONT, width - left - MARGIN
    parts = []
    for tick in scale:
        x = left + plot_width * tick / scale[-1]
        parts += [_line(x, top, x, bottom), _text(x, bottom + FONT + 2, f"{tick:g}", "middle")]
    for i, (label, value) in enumerate(zip(chart.labels, chart.values)):
        y = top + ROW * i
        parts += [_bar(left, y + 2, plot_width * value / scale[-1], ROW - 4, chart.colour,
                       f"{label}: {value:.3g}"),
                  _text(left - 4, y + ROW / 2 + FONT / 2 - 1, label, "end")]
    parts.append(_text(left + plot_width / 2, height - 4, chart.axis, "middle"))
    return "".join(parts)

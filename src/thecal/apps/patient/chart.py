"""The diary's chart, drawn on the server as SVG: pain scores over the days, and the doses taken beneath them.

Pain is a line of dots on a 0–10 scale; each dose the handset asked for is a
mark on the time axis below (a filled triangle when the pump gave it, an
outlined one when it is not confirmed and counts as given). The chart carries a
title and a description, and the page gives the same data as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from thecal.therapy.settings import wall_text

MS_PER_DAY = 86_400_000
WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 14, 56


@dataclass(frozen=True)
class DoseMark:
    """A dose on the chart: when (local wall ms) and whether the pump confirmed it."""

    at_ms: int
    confirmed: bool


def pain_chart(points: list[tuple[int, int]], doses: list[DoseMark], days: int = 7) -> str:
    """An SVG of pain scores (local wall ms, 0–10) and doses over the `days` up to the latest of them."""
    moments = [t for t, _ in points] + [d.at_ms for d in doses]
    end = (max(moments) // MS_PER_DAY + 1) * MS_PER_DAY if moments else MS_PER_DAY
    start = end - days * MS_PER_DAY
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: int) -> float:
        return LEFT + (t - start) / (end - start) * plot_w

    def y(score: int) -> float:
        return TOP + (10 - score) / 10 * plot_h

    shown = [(t, s) for t, s in points if t >= start]
    given = [d for d in doses if d.at_ms >= start]
    desc = f"{len(shown)} pain scores and {len(given)} doses from {wall_text(start)[:10]} to {wall_text(end - 1)[:10]}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Pain scores and doses taken</title>',
        f'<desc id="chart-desc">{escape(desc)}</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#718096"/>',
    ]
    for score in (0, 5, 10):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(score) + 4:.1f}" text-anchor="end" font-size="11">{score}</text>'
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(score):.1f}" y2="{y(score):.1f}" stroke="#e2e8f0"/>'
        )
    for day in range(days + 1):
        t = start + day * MS_PER_DAY
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#edf2f7"/>')
        if day < days:
            parts.append(
                f'<text x="{x(t + MS_PER_DAY // 2):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
                f'font-size="10">{wall_text(t)[5:10]}</text>'
            )
    if shown:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(s):.1f}" for i, (t, s) in enumerate(shown))
        parts.append(f'<path d="{path}" fill="none" stroke="#2b6cb0" stroke-width="2"/>')
        parts += [f'<circle cx="{x(t):.1f}" cy="{y(s):.1f}" r="3.5" fill="#2b6cb0"/>' for t, s in shown]
    base = TOP + plot_h + 32
    parts.append(f'<text x="{LEFT - 6}" y="{base + 4}" text-anchor="end" font-size="10">doses</text>')
    for d in given:
        cx = x(d.at_ms)
        fill = "#22543d" if d.confirmed else "#fff"
        parts.append(
            f'<path d="M{cx:.1f},{base - 6} L{cx - 5:.1f},{base + 5} L{cx + 5:.1f},{base + 5} Z" fill="{fill}" '
            'stroke="#22543d" stroke-width="1.5"/>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 4}" font-size="10">line: pain 0–10 · ▲ dose given · △ not confirmed</text>'
    )
    parts.append("</svg>")
    return "".join(parts)

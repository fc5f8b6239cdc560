"""Small inline SVG charts for the HTML report: no script, no external file, no inline style.

Colours come from CSS classes in the report's stylesheet (the page's Content-Security-Policy
forbids style attributes); every chart has a title and a text description for screen readers,
and its numbers are written on it, so nothing is told by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 640
LABEL_WIDTH = 220


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, description: str, height: int, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def nice_step(span: float, bins: int) -> int:
    """A round bin width (1, 2 or 5 times a power of ten) giving at most ``bins`` bins."""
    raw = max(span / bins, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)


def histogram(
    chart_id: str,
    values: Sequence[int],
    *,
    title: str,
    limit: int | None = None,
    limit_label: str = "",
    bins: int = 30,
) -> str:
    """Vertical bars of value counts; a dashed line marks ``limit`` (an arrow if off the scale)."""
    height, left, bottom, top = 230, 48, 40, 24
    plot_w, plot_h = WIDTH - left - 16, height - bottom - top
    highest = max(values) if values else 0
    step = nice_step(highest + 1, bins)
    count = highest // step + 1
    counts = [0] * count
    for v in values:
        counts[max(v, 0) // step] += 1
    peak = max(counts) or 1
    scale_max = count * step
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,}</text>',
        f'<text class="tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    bar_w = plot_w / count
    for i, n in enumerate(counts):
        if not n:
            continue
        h = max(plot_h * n / peak, 1)
        over = limit is not None and (i + 1) * step > limit
        body.append(
            f'<rect class="bar{" over" if over else ""}" x="{_n(left + i * bar_w + 1)}" '
            f'y="{_n(top + plot_h - h)}" width="{_n(max(bar_w - 2, 1))}" height="{_n(h)}">'
            f"<title>{i * step:,}-{(i + 1) * step - 1:,}: {n:,}</title></rect>"
        )
    for fraction in (0, 0.5, 1):
        tick = int(scale_max * fraction)
        anchor = "start" if fraction == 0 else ("end" if fraction == 1 else "middle")
        body.append(
            f'<text class="tick" x="{_n(left + plot_w * fraction)}" y="{top + plot_h + 16}" '
            f'text-anchor="{anchor}">{tick:,}</text>'
        )
    body.append(
        f'<text class="tick" x="{left + plot_w / 2:.0f}" y="{height - 4}" '
        f'text-anchor="middle">tokens per example</text>'
    )
    description = f"{len(values):,} examples, longest {highest:,} tokens."
    if limit is not None:
        label = escape(f"limit {limit:,}{f' ({limit_label})' if limit_label else ''}")
        if limit <= scale_max:
            x = left + plot_w * limit / scale_max
            body.append(
                f'<line class="limit" x1="{_n(x)}" y1="{top - 6}" x2="{_n(x)}" '
                f'y2="{top + plot_h}"/>'
                f'<text class="limit-label" x="{_n(min(x, left + plot_w - 4))}" y="{top - 10}" '
                f'text-anchor="end">{label}</text>'
            )
        else:
            body.append(
                f'<text class="limit-label" x="{left + plot_w}" y="{top - 8}" '
                f'text-anchor="end">{label} →</text>'
            )
        description += f" The model's limit is {limit:,} tokens."
    return _frame(chart_id, title, description, height, body)


def bars(chart_id: str, items: Sequence[tuple[str, int, str]], *, title: str) -> str:
    """Horizontal bars: (label, value, CSS class) each, value written after the bar."""
    row, top = 24, 6
    height = top * 2 + row * max(len(items), 1)
    peak = max((v for _, v, _ in items), default=0) or 1
    plot_w = WIDTH - LABEL_WIDTH - 70
    body = []
    for i, (label, value, css) in enumerate(items):
        y = top + i * row
        w = max(plot_w * value / peak, 1)
        body.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar {escape(css)}" x="{LABEL_WIDTH}" y="{y + 3}" width="{_n(w)}" '
            f'height="{row - 6}"/>'
            f'<text class="value" x="{_n(LABEL_WIDTH + w + 6)}" y="{y + 15}">{value:,}</text>'
        )
    description = "; ".join(f"{label}: {value:,}" for label, value, _ in items)
    return _frame(chart_id, title, description or "nothing to show", height, body)

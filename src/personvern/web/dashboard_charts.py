"""Charts as inline SVG, drawn on the server: no script, no library, no CDN.

Colours are presentation attributes (the page's CSP forbids inline styles), and each
chart has a title and description for screen readers; the page shows the same
figures as a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from personvern.staff.queries import MonthlyConsent
from personvern.wording import count

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 40, 30, 10
# Dark blue and dark red on white: distinguishable in greyscale and with common
# colour-vision deficiencies (the legend names them too).
SERIES = (("given", "Given", "#0b4f8a"), ("withdrawn", "Withdrawn", "#9b1c1c"))


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def consent_chart(key: str, title: str, months: Sequence[MonthlyConsent]) -> str:
    """Grouped bars: consents given and withdrawn per month (``key`` makes the ids unique)."""
    top = _nice_max(max([max(m.given, m.withdrawn) for m in months] + [1]))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(months), 1)
    bar = max(slot * 0.35, 1.0)
    total_given = sum(m.given for m in months)
    total_withdrawn = sum(m.withdrawn for m in months)
    desc = (f"{count(total_given, 'consent')} given and {total_withdrawn} withdrawn over "
            f"{count(len(months), 'month')}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 20}" '
        f'role="img" aria-labelledby="t-{escape(key)} d-{escape(key)}" class="chart">',
        f'<title id="t-{escape(key)}">{escape(title)}</title>',
        f'<desc id="d-{escape(key)}">{escape(desc)}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH}" y2="{TOP + plot_h}" '
        'stroke="#1a1a1a"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="11" '
        f'fill="#1a1a1a">{top}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="11" '
        'fill="#1a1a1a">0</text>',
    ]
    for i, m in enumerate(months):
        x0 = LEFT + i * slot + slot * 0.15
        for j, (field, label, colour) in enumerate(SERIES):
            value = getattr(m, field)
            h = plot_h * value / top
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{m.month:%Y-%m}: {value} '
                f'{label.lower()}</title></rect>')
        parts.append(f'<text x="{x0 + bar:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                     f'font-size="10" fill="#1a1a1a">{m.month:%m}</text>')
    for j, (_, label, colour) in enumerate(SERIES):
        x = LEFT + j * 110
        parts.append(f'<rect x="{x}" y="{HEIGHT + 4}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="{HEIGHT + 14}" font-size="12" '
                     f'fill="#1a1a1a">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)

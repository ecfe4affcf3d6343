"""SVG charts for metric results: bars by dimension, a line over periods, a funnel.

Plain SVG text (no plotting dependency): open it in a browser or embed it in a page. PNG is
the same chart rasterised by CairoSVG (the optional ``kehu[png]`` extra). Text asks for an
explicit CJK font stack, so Chinese labels render on Linux (Noto Sans CJK, WenQuanYi),
Windows (Microsoft YaHei) and macOS (PingFang) alike; ``sans-serif`` alone would fall back to
a Latin font and draw empty boxes.
"""

import logging
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from xml.sax.saxutils import escape

from kehu.core.errors import Unavailable
from kehu.plugins.reporting.services.registry import Metric, MetricRow

log = logging.getLogger(__name__)
WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 50, 90
COLOR = "#2f6fb0"
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
)
FONTS = ", ".join(f"'{f}'" for f in CJK_FAMILIES) + ", 'Noto Sans', 'DejaVu Sans', sans-serif"


def _label(row: MetricRow) -> str:
    return " / ".join(v or "(none)" for v in row.dimensions.values()) or "total"


def _number(value: Decimal) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _frame(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONTS}" font-size="12">',
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
            f'<text x="{WIDTH / 2}" y="28" text-anchor="middle" font-size="16" '
            f'font-weight="bold">{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def _axes(top: Decimal) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
    ]
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value))}</text>"
        )
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    return out


def bar_chart(title: str, rows: list[MetricRow]) -> str:
    top = max([r.value for r in rows] + [Decimal(1)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(rows), 1)
    body = _axes(top)
    for i, row in enumerate(rows):
        h = float(row.value / top) * plot_h if top else 0
        x = LEFT + i * slot + slot * 0.15
        y = HEIGHT - BOTTOM - h
        cx = LEFT + (i + 0.5) * slot
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{COLOR}"><title>{escape(_label(row))}: '
            f"{escape(_number(row.value))}</title></rect>"
        )
        body.append(
            f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{escape(_number(row.value))}</text>"
        )
        body.append(
            f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" '
            f'transform="rotate(-35 {cx:.1f} {HEIGHT - BOTTOM + 14})">'
            f"{escape(_label(row))}</text>"
        )
    return _frame(title, body)


def line_chart(title: str, rows: list[MetricRow]) -> str:
    top = max([r.value for r in rows] + [Decimal(1)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(rows) - 1, 1)
    points = [
        (LEFT + i * step, HEIGHT - BOTTOM - float(r.value / top) * plot_h)
        for i, r in enumerate(rows)
    ]
    body = _axes(top)
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{COLOR}" stroke-width="2"/>')
    for (x, y), row in zip(points, rows, strict=True):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOR}"/>')
        body.append(
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">'
            f"{escape(_number(row.value))}</text>"
        )
        body.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {HEIGHT - BOTTOM + 14})">'
            f"{escape(_label(row))}</text>"
        )
    return _frame(title, body)


def funnel_chart(title: str, rows: list[MetricRow]) -> str:
    """Centred bars, widest first, with each stage's conversion from the previous one."""
    top = max([r.value for r in rows] + [Decimal(1)])
    band = (HEIGHT - TOP - 20) / max(len(rows), 1)
    body = []
    previous: Decimal | None = None
    for i, row in enumerate(rows):
        w = float(row.value / top) * (WIDTH - 300)
        x = (WIDTH - w) / 2
        y = TOP + i * band
        rate = f" ({percent(row.value, previous)}%)" if previous else ""
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{band * 0.8:.1f}" '
            f'fill="{COLOR}"/>'
        )
        body.append(
            f'<text x="{WIDTH / 2:.1f}" y="{y + band * 0.5:.1f}" text-anchor="middle" '
            f'fill="black">{escape(_label(row))}: {escape(_number(row.value))}'
            f"{escape(rate)}</text>"
        )
        previous = row.value
    return _frame(title, body)


def percent(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole in percent, one decimal, rounded half up (80.0, 16.3)."""
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def render(metric: Metric, rows: list[MetricRow], dimensions: tuple[str, ...]) -> str:
    """The chart the metric asks for; a time series when grouped by period alone."""
    if metric.chart == "funnel":
        return funnel_chart(metric.title, rows)
    if dimensions == ("period",):
        return line_chart(metric.title, rows)
    return bar_chart(metric.title, rows)


def to_png(svg: str) -> bytes:
    """The SVG chart as PNG; a typed error when CairoSVG or the cairo library is missing."""
    try:
        import cairosvg
    except (ImportError, OSError) as exc:
        raise Unavailable(
            "PNG charts need CairoSVG and the cairo library: pip install 'kehu[png]' "
            "(or ask for format=svg)",
            field="format",
        ) from exc
    family = installed_cjk_family()
    if family:  # CairoSVG uses the first family of the list only: name one that is there
        svg = svg.replace(f'font-family="{FONTS}"', f"font-family=\"'{family}'\"")
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"))


@cache
def installed_cjk_family() -> str | None:
    """The first family of ``CJK_FAMILIES`` that fontconfig has (else any font covering
    Chinese), ``None`` without one: then Chinese labels in PNG charts are empty boxes, and
    a warning says which package to install."""
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    names = [n.strip() for line in listing.splitlines() for n in line.split(",") if n.strip()]
    for family in CJK_FAMILIES:
        if family in names:
            return family
    if names:
        return names[0]
    log.warning(
        "No font with Chinese glyphs found: Chinese labels in PNG charts will be empty boxes "
        "(install fonts-noto-cjk or fonts-wqy-microhei)"
    )
    return None

"""`kehu report` and the SVG charts."""

from decimal import Decimal

import pytest
from click.testing import CliRunner

from kehu.cli import main
from kehu.plugins.reporting.services import charts
from kehu.plugins.reporting.services.registry import Metric, MetricRow


def _run(tmp_path, *args):
    env = {"KEHU_DATABASE_URL": f"sqlite:///{tmp_path}/r.db", "KEHU_PLUGINS": "reporting"}
    return CliRunner().invoke(main, list(args), env=env)


def test_report_lists_metrics_and_prints_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run(tmp_path, "migrate").exit_code == 0
    assert _run(tmp_path, "demo", "--no-print-key").exit_code == 0
    listing = _run(tmp_path, "report")
    assert listing.exit_code == 0 and "customers.active" in listing.output
    table = _run(tmp_path, "report", "customers.active", "-d", "tier")
    assert table.exit_code == 0 and "gold" in table.output
    out = tmp_path / "tiers.svg"
    csv_ = _run(
        tmp_path, "report", "customers.active", "-d", "tier", "--format", "csv", "--chart", str(out)
    )
    assert csv_.output.splitlines()[0] == "tier,count"
    assert sum(int(line.split(",")[1]) for line in csv_.output.splitlines()[1:]) == 32
    assert out.read_text().startswith("<svg")
    png = tmp_path / "tiers.png"
    drawn = _run(tmp_path, "report", "customers.active", "-d", "tier", "--chart", str(png))
    assert drawn.exit_code == 0 and png.read_bytes().startswith(b"\x89PNG")
    scoped = _run(tmp_path, "report", "customers.active", "--format", "csv", "--as", "zhangwei")
    assert scoped.output.splitlines()[1] != "32"
    bad = _run(tmp_path, "report", "customers.active", "-d", "colour")
    assert bad.exit_code == 1 and "cannot be grouped by 'colour'" in bad.output


async def _none(query):  # pragma: no cover - never computed here
    return []


def _metric(chart: str) -> Metric:
    return Metric("x", "Funnel <test>", "", "", "count", ("stage",), _none, chart=chart)


def test_funnel_chart_shows_stage_conversion():
    rows = [
        MetricRow({"stage": s}, Decimal(v))
        for s, v in [("Leads", 1000), ("Contacted", 800), ("Won", 130)]
    ]
    svg = charts.render(_metric("funnel"), rows, ("stage",))
    assert "Contacted: 800 (80.0%)" in svg and "Won: 130 (16.3%)" in svg
    assert "Funnel &lt;test&gt;" in svg  # titles are escaped


def test_bar_chart_has_one_bar_per_row_and_handles_empty():
    rows = [MetricRow({"tier": t}, Decimal(v)) for t, v in [("gold", 3), ("silver", 1)]]
    svg = charts.render(_metric("bar"), rows, ("tier",))
    assert svg.count("<rect") == 3  # background + 2 bars
    assert charts.render(_metric("bar"), [], ("tier",)).startswith("<svg")


def test_png_without_the_png_extra_is_one_clear_error(tmp_path, monkeypatch):
    """Without CairoSVG (the ``kehu[png]`` extra) a PNG chart is a typed error naming the
    extra, on the CLI one line and exit code 1 — not a traceback."""
    import sys

    monkeypatch.setitem(sys.modules, "cairosvg", None)  # import cairosvg raises ImportError
    with pytest.raises(charts.Unavailable) as refused:
        charts.to_png("<svg/>")
    assert refused.value.code == "UNAVAILABLE" and "kehu[png]" in refused.value.message
    monkeypatch.chdir(tmp_path)
    assert _run(tmp_path, "migrate").exit_code == 0
    drawn = _run(tmp_path, "report", "customers.active", "--chart", str(tmp_path / "x.png"))
    assert drawn.exit_code == 1 and "pip install 'kehu[png]'" in drawn.output
    assert drawn.stderr.strip().count("\n") == 0 and "Traceback" not in drawn.output


def _cjk_font_installed() -> bool:
    import shutil
    import subprocess

    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(found.stdout.strip())


@pytest.mark.skipif(not _cjk_font_installed(), reason="no CJK font installed (fonts-noto-cjk)")
def test_png_charts_draw_chinese_labels_not_empty_boxes():
    """A font without the glyphs draws the same box for every character; with the CJK stack
    two different labels give two different pictures, and a label differs from a blank."""
    pytest.importorskip("cairosvg")
    import io

    from PIL import Image

    def drawn(label: str) -> bytes:
        rows = [MetricRow({"region": label}, Decimal(5))]
        png = charts.to_png(charts.render(_metric("bar"), rows, ("region",)))
        return Image.open(io.BytesIO(png)).convert("L").tobytes()

    assert "Noto Sans CJK SC" in charts.render(_metric("bar"), [], ("region",))
    east, north, blank = drawn("华东"), drawn("华北"), drawn("  ")
    assert east != north != blank

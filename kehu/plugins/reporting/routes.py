"""``GET /reports/{metric}``: a metric as CSV, JSON or an SVG/PNG chart (API key required)."""

from datetime import datetime
from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from kehu.core.errors import ValidationFailed
from kehu.core.permissions import Actor
from kehu.plugins.reporting import services
from kehu.plugins.reporting.services import charts

MEDIA = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text types
    "json": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
}


def _filters(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValidationFailed(f"filter expects name=value, got {item!r}", field="filter")
        out[name] = value
    return out


@get("/reports/{name:str}", tags=["reporting"])
async def report(
    name: FromPath[str],
    actor: NamedDependency[Actor],
    format: FromQuery[str] = "csv",
    dimensions: FromQuery[str] = "",
    filter: FromQuery[list[str] | None] = None,
    start: Annotated[datetime | None, QueryParameter(name="from")] = None,
    end: Annotated[datetime | None, QueryParameter(name="to")] = None,
    granularity: FromQuery[str] = "month",
    bom: FromQuery[bool] = False,
) -> Response[str | bytes]:
    """A metric: ``?format=csv|json|svg|png&dimensions=tier,region&filter=region=East
    &from=2026-01-01T00:00:00Z&to=...&granularity=month``; ``&bom=1`` starts a CSV with a
    UTF-8 byte order mark (Excel)."""
    if format not in MEDIA:
        raise ValidationFailed("format must be csv, json, svg or png", field="format")
    dims = tuple(d for d in dimensions.split(",") if d)
    metric, rows = await services.run_metric(
        actor,
        name,
        dimensions=dims,
        filters=_filters(filter),
        start=start,
        end=end,
        granularity=granularity,
    )
    body: str | bytes
    if format in ("svg", "png"):
        body = charts.render(metric, rows, dims)
        if format == "png":
            body = charts.to_png(body)
    else:
        body = services.export(metric, rows, format, bom=bom)
    return Response(body, media_type=MEDIA[format])

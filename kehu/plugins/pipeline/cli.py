"""``kehu pipeline ...`` commands (templates, create, list). Commands act as the system
actor, like every Kehu CLI command."""

from collections.abc import Awaitable, Callable
from typing import Any

import click

from kehu.core.errors import KehuError
from kehu.core.permissions import system_actor
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.services.templates import TEMPLATES


def _run(obj: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    try:
        return obj.run(fn)
    except KehuError as exc:
        raise click.ClickException(exc.message) from exc


@click.group("pipeline")
def pipeline() -> None:
    """Sales pipelines, stages and templates."""


@pipeline.command("templates")
def templates() -> None:
    """List the pipeline templates and their stages."""
    for key, tpl in TEMPLATES.items():
        click.echo(f"{key}  ({tpl.policy})  {tpl.title}")
        for spec in tpl.stages:
            flags = [
                f
                for f, on in (
                    ("won", spec.is_won),
                    ("closed", spec.is_closed and not spec.is_won),
                    ("approval", spec.is_approval),
                )
                if on
            ]
            extra = f" [{', '.join(flags)}]" if flags else ""
            click.echo(
                f"    {spec.probability:3d}%  {spec.forecast_category:<9} {spec.name}{extra}"
            )


@pipeline.command("create")
@click.option("--template", "template", required=True, type=click.Choice(list(TEMPLATES)))
@click.option("--name", "name", default=None, help="Pipeline name (default: the template's).")
@click.option("--default", "is_default", is_flag=True, help="Make it the default pipeline.")
@click.pass_obj
def create(obj: Any, template: str, name: str | None, is_default: bool) -> None:
    """Create a pipeline from a template."""
    title = name or TEMPLATES[template].title

    async def work(kehu: Any) -> dict[str, Any]:
        return await services.create_pipeline(
            system_actor(), title, template=template, is_default=is_default
        )

    row = _run(obj, work)
    click.echo(f"Created pipeline {row['id']} {row['name']!r} from template {template}")


@pipeline.command("list")
@click.pass_obj
def list_(obj: Any) -> None:
    """List pipelines with their stages."""

    async def work(kehu: Any) -> list[tuple[dict, list[dict]]]:
        rows = await services.list_pipelines(system_actor())
        stages = await services.stages_by_pipeline([r["id"] for r in rows])
        return [(r, stages[r["id"]]) for r in rows]

    for row, stages in _run(obj, work):
        mark = " (default)" if row["is_default"] else ""
        click.echo(f"{row['id']}  {row['name']}{mark}  [{row['transition_policy']}]")
        click.echo("    " + " → ".join(s["name"] for s in stages))

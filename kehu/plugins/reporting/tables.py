"""Reporting tables: saved dashboards."""

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.core.tables import Team, User


class Dashboard(Table, tablename="reporting_dashboard"):
    """A named list of metric queries, owned by a user, optionally shared with a team."""

    name = Varchar(length=200)
    description = Text(default="")
    owner = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null)
    shared = Boolean(default=False)
    panels = JSON(default="[]")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


TABLES = [Dashboard]

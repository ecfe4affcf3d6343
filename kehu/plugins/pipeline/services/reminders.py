"""Stale deals: reminders for open deals without recent activity."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kehu.core.permissions import system_actor
from kehu.core.services.common import now
from kehu.core.tables import Activity, ActivityStatus
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import OPEN, _aware

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

STALE_SUBJECT = "Stale deal"


async def remind_stale_deals(at: datetime | None = None) -> int:
    """Open deals with no stage move and no linked activity for the pipeline's
    ``stale_after_days`` get a planned task for their owner; never two open reminders."""
    at = at or now()
    actor = system_actor()
    o, p = t.Opportunity, t.Pipeline
    pipelines = await p.select(p.id, p.stale_after_days)
    count = 0
    for pipeline in pipelines:
        cutoff = at - timedelta(days=pipeline["stale_after_days"])
        recent = Activity.select(Activity.related_id).where(
            Activity.related_type == "opportunity", Activity.occurred_at >= cutoff
        )
        reminded = Activity.select(Activity.related_id).where(
            Activity.related_type == "opportunity",
            Activity.status == ActivityStatus.planned,
            Activity.subject.like(f"{STALE_SUBJECT}%"),
        )
        rows = (
            await o.select(o.id, o.name, o.customer, o.owner, o.stage_entered_at)
            .where(
                o.pipeline == pipeline["id"],
                o.status == OPEN,
                o.stage_entered_at < cutoff,
                o.id.not_in(recent),
                o.id.not_in(reminded),
            )
            .order_by(o.id)
        )
        from kehu.core.services.activities import log_activity

        for row in rows:
            days = (at - _aware(row["stage_entered_at"])).days
            await log_activity(
                actor,
                row["customer"],
                {
                    "kind": "task",
                    "status": "planned",
                    "due_at": at,
                    "subject": f"{STALE_SUBJECT}: {row['name']}"[:255],
                    "body": f"No stage move or activity for {days} days; follow up or update the "
                    "opportunity.",
                    "owner": row["owner"],
                    "related_type": "opportunity",
                    "related_id": row["id"],
                },
            )
            count += 1
    return count


async def stale_job(kehu: "Kehu") -> str:
    """The stale-deal job: remind owners of open deals without recent activity."""
    return f"{await remind_stale_deals()} stale deal reminder(s)"

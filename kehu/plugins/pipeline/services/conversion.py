"""Converting a qualified lead into a customer, a contact and an opportunity, in one transaction."""

from dataclasses import dataclass
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services import contacts as contact_service
from kehu.core.services import customers as customer_service
from kehu.core.services.common import now
from kehu.core.services.customers import get_customer
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.editing import create_opportunity
from kehu.plugins.pipeline.services.leads import _lead_save, _require_workable, get_lead


@dataclass
class Conversion:
    lead: dict[str, Any]
    customer: dict[str, Any]
    contact: dict[str, Any] | None
    opportunity: dict[str, Any] | None
    reused_customer: bool


async def convert_lead(
    actor: Actor,
    lead_id: int,
    *,
    opportunity: dict[str, Any] | None = None,
    create_opportunity_too: bool = True,
    customer_id: int | None = None,
) -> Conversion:
    """Convert a lead into customer + contact + opportunity in ONE unit of work: any failure
    leaves nothing behind. An existing customer matching the lead (same rules as core dedup)
    is reused when the actor may see it; a match the actor may not see is a DUPLICATE
    error (ask a manager to hand it over)."""
    actor.require("lead:convert")
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        # the lead's owner keeps the account when the actor may assign it (a manager
        # converting a rep's lead); otherwise the converting user owns it
        owner = (
            lead["owner"]
            if lead["owner"] is not None
            and (lead["owner"] == actor.user_id or actor.can("customer:reassign"))
            else actor.user_id
        )
        reused = False
        if customer_id is not None:
            customer = await get_customer(actor, customer_id)
            if customer["archived_at"] is not None:
                raise ValidationFailed(FieldError("customerId", "Customer is archived", "ARCHIVED"))
            reused = True
        else:
            dups = await customer_service.find_duplicates(
                {
                    "name_key": lead["name_key"],
                    "email": lead["email"],
                    "phone": lead["phone"],
                }
            )
            customer = None
            if dups:
                found = await customer_service.customers_by_ids(actor, [dups[0].customer_id])
                if not found:
                    raise ValidationFailed(
                        FieldError(
                            "id",
                            "The lead matches a customer of another owner; ask a manager "
                            "to hand it over",
                            "DUPLICATE",
                        )
                    )
                customer, reused = found[dups[0].customer_id], True
            else:
                customer = await customer_service.create_customer(
                    actor,
                    {
                        "name": lead["company"] or lead["name"],
                        "kind": "organization" if lead["company"] else "person",
                        "email": lead["email"] if not lead["company"] else "",
                        "phone": lead["phone"] if not lead["company"] else "",
                        "industry": lead["industry"],
                        "size": lead["size"],
                        "source": lead["source"],
                        "lifecycle_stage": "potential",
                        "owner": owner,
                    },
                )
        contact = None
        if lead["company"]:
            contact = await contact_service.create_contact(
                actor,
                customer["id"],
                {
                    "name": lead["name"],
                    "title": lead["title"],
                    "email": lead["email"],
                    "phone": lead["phone"],
                    "is_primary": not reused,
                },
            )
        opp = None
        if create_opportunity_too:
            data = {
                "name": f"{customer['name']}: {lead['name']}",
                "source": lead["source"],
                **(opportunity or {}),
                "customer": customer["id"],
            }
            if owner != actor.user_id and actor.can("opportunity:assign"):
                data.setdefault("owner", owner)
            opp = await create_opportunity(actor, data, lead_id=lead_id)
        after = await _lead_save(
            lead,
            {
                "status": t.LeadStatus.converted.value,
                "customer": customer["id"],
                "contact": contact["id"] if contact else None,
                "opportunity_id": opp["id"] if opp else None,
                "converted_at": now(),
            },
            None,
        )
        await record(
            actor,
            "converted",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {
                "status": after["status"],
                "customer": customer["id"],
                "contact": contact["id"] if contact else None,
                "opportunity": opp["id"] if opp else None,
                "reused_customer": reused,
            },
            customer_id=customer["id"],
        )
    return Conversion(after, customer, contact, opp, reused)

"""Drafting a contract from a won opportunity (by hand, or automatically when it is won)."""

from typing import Any

from kehu.core.context import current
from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.plugins.pipeline_contracts.integrations import contracts, pipeline
from kehu.plugins.pipeline_contracts.settings import BridgeSettings
from kehu.plugins.pipeline_contracts.tables import ContractSource


def settings() -> BridgeSettings:
    return current().plugin_settings("pipeline_contracts")


async def _lock_opportunity(opportunity_id: int) -> None:
    """Serialise drafting for one opportunity until the transaction ends (PostgreSQL: an
    advisory lock; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the check for
    an existing contract and the insert of the link are atomic across processes."""
    if not is_sqlite(current_engine()):
        await ContractSource.raw(
            "SELECT pg_advisory_xact_lock(hashtext({}), {})",
            "kehu.pipeline_contracts.draft",
            opportunity_id,
        )


async def draft_contract(actor: Actor, opportunity_id: int) -> dict[str, Any]:
    """A draft contract for a won opportunity: its customer, owner, currency and line items
    (or one line with the deal amount). One contract per opportunity, also when two drafts
    of it are requested at once."""
    async with unit_of_work():
        await _lock_opportunity(opportunity_id)
        opp = await pipeline.get_opportunity(actor, opportunity_id)
        if opp["status"] != "won":
            raise ValidationFailed(
                FieldError(
                    "opportunityId",
                    f"Opportunity {opportunity_id} is {opp['status']}, not won",
                    "OPPORTUNITY_NOT_WON",
                )
            )
        existing = (
            await ContractSource.select(ContractSource.contract)
            .where(ContractSource.opportunity == opportunity_id)
            .first()
        )
        if existing is not None:
            raise ValidationFailed(
                FieldError(
                    "opportunityId",
                    f"Opportunity {opportunity_id} already has contract {existing['contract']}",
                    "DUPLICATE",
                )
            )
        items = (await pipeline.line_items_of([opportunity_id]))[opportunity_id]
        lines = [
            {
                "product": i["product"],
                "quantity": i["quantity"],
                "unit_price": Money(i["unit_price_minor"], i["currency"]),
            }
            for i in items
        ]
        if not lines:
            lines = [
                {
                    "product": opp["name"],
                    "quantity": 1,
                    "unit_price": Money(opp["amount_minor"], opp["currency"]),
                }
            ]
        contract = await contracts.create_contract(
            actor,
            opp["customer"],
            {
                "title": opp["name"],
                "currency": opp["currency"],
                "lines": lines,
                "owner": opp["owner"],
            },
        )
        await ContractSource.insert(
            ContractSource(contract=contract["id"], opportunity=opportunity_id)
        )
        await record(
            actor,
            "drafted_from_opportunity",
            "contract",
            contract["id"],
            after={"opportunity": opportunity_id},
            customer_id=opp["customer"],
        )
    return contract


async def draft_contract_on_won(actor: Actor, opportunity_id: int) -> dict[str, Any] | None:
    """The ``draft_contract_on_won`` handler of ``opportunity.won``: the draft contract, or
    ``None`` when the opportunity has its contract already (drafted by hand, or by an earlier
    delivery of the event), is no longer won (reopened before the event came) or is gone."""
    try:
        return await draft_contract(actor, opportunity_id)
    except NotFound:
        return None
    except ValidationFailed as exc:
        if {e.code for e in exc.errors} <= {"DUPLICATE", "OPPORTUNITY_NOT_WON"}:
            return None
        raise

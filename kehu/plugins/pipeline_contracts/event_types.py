"""The events the pipeline ↔ contracts bridge emits (its part of ``docs/events.md``)."""

from kehu.core.event_types import EventType
from kehu.core.events import Event
from kehu.core.permissions import Actor


async def contracts_visible(actor: Actor, events: list[Event]) -> set[str]:
    """The contract's own visibility (owner/team on the contract AND its customer visible,
    ``contracts.services.contract_scope``), for the whole batch in one query."""
    from kehu.plugins.pipeline_contracts.integrations import contracts

    ids = sorted({e.entity_id for e in events if e.entity_id is not None})
    seen = await contracts.contracts_by_ids(actor, ids)
    return {e.id for e in events if e.entity_id in seen}


BRIDGE_EVENTS = [
    EventType(
        "contract.drafted_from_opportunity",
        "A draft contract was created from a won opportunity (its customer, owner, currency "
        "and line items); ``contract.created`` carries the contract itself.",
        {
            "opportunity": "id of the won opportunity it was drafted from",
            "customer": "id of the contract's customer",
        },
        scope="contract:read",
        node="Contract",
        visible=contracts_visible,
    ),
]

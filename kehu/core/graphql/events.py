"""GraphQL over the outbox: the event catalogue, admin fields (events, failed deliveries,
subscribers, replay) and the live ``events`` subscription.

No ``from __future__ import annotations`` here: Strawberry resolves the annotations.
"""

import datetime as dt
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import ValidationFailed
from kehu.core.event_types import matches
from kehu.core.events import Event
from kehu.core.graphql.base import Node, connection, encode_id, gql_enum, make_connection
from kehu.core.graphql.mutations import mutation
from kehu.core.services import events as service
from kehu.core.tables import DeliveryStatus

if TYPE_CHECKING:
    DeliveryStatusEnum = DeliveryStatus
else:
    DeliveryStatusEnum = gql_enum(DeliveryStatus, "DeliveryStatus")
MAX_BACKLOG = 10_000  # events a subscription may replay with ``after``


@strawberry.type(description="A data field of an event type.")
class EventField:
    name: str
    description: str


@strawberry.type(description="An event name of the catalogue (docs/events.md).")
class EventTypeInfo:
    name: str
    description: str
    fields: list[EventField]
    scope: str | None = strawberry.field(description="Permission needed to receive it.")
    node_type: str | None = strawberry.field(description="GraphQL type of its entity.")
    version: int


@strawberry.type(description="A committed domain event (the outbox).")
class DomainEvent(Node):
    pk: strawberry.Private[int]
    seq: int = strawberry.field(description="Position in commit order.")
    event_id: str = strawberry.field(description="Stable id (webhook-id of webhooks).")
    name: str
    entity: str
    entity_id: int | None = strawberry.field(description="Database id of the entity.")
    entity_node_id: strawberry.ID | None = strawberry.field(
        description="Global id of the entity, when it is a GraphQL node."
    )
    actor_id: int | None
    customer_id: int | None
    data: JSON
    version: int
    occurred_at: dt.datetime

    @classmethod
    def of(cls, event: Event, node: str | None) -> "DomainEvent":
        return cls(
            id=encode_id("DomainEvent", event.seq or 0),
            pk=event.seq or 0,
            seq=event.seq or 0,
            event_id=event.id,
            name=event.name,
            entity=event.entity,
            entity_id=event.entity_id,
            entity_node_id=(
                encode_id(node, event.entity_id) if node and event.entity_id is not None else None
            ),
            actor_id=event.actor_id,
            customer_id=event.customer_id,
            data=JSON(event.data),
            version=event.version,
            occurred_at=event.occurred_at,
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        event = await service.get_event(info.context.actor, pk)
        return None if event is None else _node(info, event)

    @strawberry.field(description="Deliveries of this event that did not succeed at once.")
    async def deliveries(self, info: strawberry.Info) -> list["EventDeliveryInfo"]:
        page, _ = await service.list_deliveries(info.context.actor, event_seq=self.pk, first=100)
        return [EventDeliveryInfo.of(r) for r in page.rows]


def _node(info: strawberry.Info, event: Event) -> DomainEvent:
    declared = info.context.kehu.event_types.get(event.name)
    return DomainEvent.of(event, declared.node if declared else None)


@strawberry.type(name="EventDelivery", description="A retried, parked or dead delivery.")
class EventDeliveryInfo:
    database_id: int
    subscriber: str = strawberry.field(description="plugin:<name> or webhook:<id>.")
    event_seq: int
    status: DeliveryStatusEnum
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "EventDeliveryInfo":
        return cls(
            database_id=row["id"],
            subscriber=row["subscriber"],
            event_seq=row["event"],
            status=DeliveryStatusEnum(row["status"]),
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
            last_error=row["last_error"],
            created_at=row["created_at"],
            delivered_at=row["delivered_at"],
        )

    @strawberry.field
    async def event(self, info: strawberry.Info) -> DomainEvent | None:
        found = await service.get_event(info.context.actor, self.event_seq)
        return None if found is None else _node(info, found)


@strawberry.type(name="EventSubscriber", description="A consumer of the outbox.")
class EventSubscriberInfo:
    name: str
    position: int
    lag: int = strawberry.field(description="Events committed after its position.")
    pending: int = strawberry.field(description="Deliveries waiting for a retry.")
    dead: int
    delivering_on: str | None = strawberry.field(description="Lease holder, host:pid:nonce.")
    paused_until: dt.datetime | None
    failures: int
    last_delivered_at: dt.datetime | None
    last_error: str


if TYPE_CHECKING:
    from kehu.core.graphql.base import Connection

    DomainEventConnection = Connection[DomainEvent]
    EventDeliveryConnection = Connection[EventDeliveryInfo]
else:
    DomainEventConnection = connection("DomainEvent", DomainEvent)
    EventDeliveryConnection = connection("EventDelivery", EventDeliveryInfo)


@strawberry.input
class DomainEventFilter:
    names: list[str] | None = strawberry.field(default=None, description="Names or globs.")
    entity: str | None = None
    entity_id: int | None = None
    customer_id: int | None = None
    since: dt.datetime | None = None


@strawberry.type
class EventsQuery:
    @strawberry.field(description="The event catalogue: names, data fields, who receives them.")
    def event_types(self, info: strawberry.Info) -> list[EventTypeInfo]:
        info.context.actor  # noqa: B018 - authentication
        return [
            EventTypeInfo(
                name=t.name,
                description=t.description,
                fields=[EventField(name=k, description=v) for k, v in t.data_fields().items()],
                scope=t.scope,
                node_type=t.node,
                version=t.version,
            )
            for t in info.context.kehu.event_types.types.values()
        ]

    @strawberry.field(description="Outbox events, newest first (admins).")
    async def domain_events(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: DomainEventFilter | None = None,
    ) -> DomainEventConnection:
        f = filter or DomainEventFilter()
        page, count = await service.list_events(
            info.context.actor,
            service.EventFilter(f.names, f.entity, f.entity_id, f.customer_id, f.since),
            first=first,
            after=after,
        )
        from kehu.core.delivery import event_of

        return make_connection("DomainEvent", page, lambda r: _node(info, event_of(r)), count)

    @strawberry.field(description="Deliveries waiting for a retry and dead letters (admins).")
    async def event_deliveries(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        status: DeliveryStatusEnum | None = None,
        subscriber: str | None = None,
    ) -> EventDeliveryConnection:
        page, count = await service.list_deliveries(
            info.context.actor,
            status=status.value if status else None,
            subscriber=subscriber,
            failed_only=status is None,
            first=first,
            after=after,
        )
        return make_connection("EventDelivery", page, EventDeliveryInfo.of, count)

    @strawberry.field(description="Subscribers with their position, lag and failures (admins).")
    async def event_subscribers(self, info: strawberry.Info) -> list[EventSubscriberInfo]:
        rows = await service.subscriber_status(info.context.actor)
        return [
            EventSubscriberInfo(
                name=r["name"],
                position=r["position"],
                lag=r["lag"],
                pending=r["pending"],
                dead=r["dead"],
                delivering_on=r["locked_by"] or None,
                paused_until=r.get("paused_until"),
                failures=r.get("failures") or 0,
                last_delivered_at=r.get("last_delivered_at"),
                last_error=r.get("last_error") or "",
            )
            for r in rows
        ]


@strawberry.input(description="What to deliver again; at least one of the three.")
class ReplayEventsInput:
    event_ids: list[str] | None = strawberry.field(
        default=None, description="Event ids (or outbox positions)."
    )
    since: dt.datetime | None = None
    dead: bool = strawberry.field(default=False, description="Every dead letter.")
    subscriber: str | None = strawberry.field(
        default=None, description="Only to this subscriber; default: every one that takes them."
    )


@strawberry.type
class EventsMutation:
    @mutation(
        description="Deliver events again (admins).",
        payload="ReplayEventsPayload",
        field="replayed",
    )
    async def replay_events(self, info: strawberry.Info, input: ReplayEventsInput) -> int:
        actor = info.context.actor
        return await service.replay(
            actor,
            event_refs=input.event_ids,
            subscriber=input.subscriber,
            dead=input.dead,
            since=input.since,
        )


@strawberry.type
class EventsSubscription:
    @strawberry.subscription(
        description="Events as they are committed (graphql-transport-ws), only those you may "
        'see. `names`: names or globs such as "ticket.*"; `after`: resume after a position.'
    )
    async def events(
        self,
        info: strawberry.Info,
        names: list[str] | None = None,
        after: int | None = None,
    ) -> AsyncGenerator[DomainEvent, None]:
        # Not a generator itself: bad arguments raise before the stream starts, so that
        # graphql-transport-ws answers with an ``error`` message (not ``next`` + errors).
        actor = info.context.actor
        kehu = info.context.kehu
        patterns = names or ["*"]
        unknown = kehu.event_types.check_patterns(patterns)
        if unknown:
            raise ValidationFailed(
                f"No event matches {', '.join(map(repr, unknown))}; see eventTypes",
                field="names",
            )
        if after is not None and after < 0:
            raise ValidationFailed("after must be a position (>= 0)", field="after")
        if after is not None and await kehu.events.max_seq() - after > MAX_BACKLOG:
            raise ValidationFailed(
                f"after is more than {MAX_BACKLOG} events back; page through domainEvents "
                "(admins) or resubscribe from now",
                field="after",
            )

        async def stream() -> AsyncGenerator[DomainEvent, None]:
            # aclosing: a completed subscription leaves the feed at once, not when collected
            async with aclosing(kehu.feed.stream(after)) as batches:
                async for batch in batches:
                    wanted = [e for e in batch if matches(e.name, patterns)]
                    for event in await service.receivable(actor, wanted):
                        yield _node(info, event)

        return stream()


TYPES = [DomainEvent, EventDeliveryInfo, EventSubscriberInfo, EventTypeInfo]

"""Core GraphQL types. The final ``Customer``, ``Contact``, ``Activity``, ``User`` and ``Team``
types are composed at startup from the ``*Fields`` bases below plus the plugins' extension
mixins and set as attributes of this module; refer to them with the ``*Ref`` aliases (lazy).

No ``from __future__ import annotations`` here: the types are built dynamically.
"""

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.graphql.base import (
    EXTENSIBLE,
    Node,
    PageInfo,
    connection,
    encode_id,
    enum_value,
    extensible,
    gql_enum,
)
from kehu.core.graphql.rows import RowType
from kehu.core.services import timeline as timeline_service
from kehu.core.services.activities import ActivityFilter, count_activities, list_activities
from kehu.core.tables import ActivityKind, ActivityStatus, BuyingRole, CustomerKind, LifecycleStage

MODULE = __name__
CustomerRef = Annotated["Customer", strawberry.lazy(MODULE)]
ContactRef = Annotated["Contact", strawberry.lazy(MODULE)]
ActivityRef = Annotated["Activity", strawberry.lazy(MODULE)]
UserRef = Annotated["User", strawberry.lazy(MODULE)]
TeamRef = Annotated["Team", strawberry.lazy(MODULE)]

if TYPE_CHECKING:  # a GraphQL mirror has the values of the Python enum it mirrors
    CustomerKindEnum = CustomerKind
    LifecycleStageEnum = LifecycleStage
    BuyingRoleEnum = BuyingRole
    ActivityKindEnum = ActivityKind
    ActivityStatusEnum = ActivityStatus
else:
    CustomerKindEnum = gql_enum(CustomerKind, "CustomerKind")
    LifecycleStageEnum = gql_enum(
        LifecycleStage,
        "LifecycleStage",
        "potential → new → active → declining, plus lost and loyal",
    )
    BuyingRoleEnum = gql_enum(BuyingRole, "BuyingRole")
    ActivityKindEnum = gql_enum(ActivityKind, "ActivityKind")
    ActivityStatusEnum = gql_enum(ActivityStatus, "ActivityStatus")


def composed(name: str) -> Any:
    """The final composed type ``name`` (core's or a plugin's extensible type), as built by
    ``build_schema`` and set on the module of its ``@extensible`` base."""
    return getattr(sys.modules[EXTENSIBLE[name].__module__], name)


@extensible("Team")
@strawberry.type(name="TeamFields")
class TeamFields(RowType, Node):
    pk: strawberry.Private[int]
    database_id: int
    name: str
    description: str
    created_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        info.context.actor.require("user:read")
        return await info.context.loader("team").load(pk)


@extensible("User")
@strawberry.type(name="UserFields")
class UserFields(RowType, Node):
    pk: strawberry.Private[int]
    team_pk: strawberry.Private[int | None]
    database_id: int
    username: str
    display_name: str
    email: str
    role: str
    active: bool
    created_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        info.context.actor.require("user:read")
        return await info.context.loader("user").load(pk)

    @strawberry.field
    async def team(self, info: strawberry.Info) -> TeamRef | None:
        return (
            None if self.team_pk is None else await info.context.loader("team").load(self.team_pk)
        )


@extensible("Customer")
@strawberry.type(name="CustomerFields")
class CustomerFields(Node):
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]
    team_pk: strawberry.Private[int | None]
    merged_into_pk: strawberry.Private[int | None]
    database_id: int
    name: str
    kind: CustomerKindEnum
    industry: str
    region: str
    size: str
    source: str
    tier: str | None
    lifecycle_stage: LifecycleStageEnum
    email: str
    phone: str
    tax_id: str
    website: str
    address: str
    credit_rating: str
    marketing_consent: bool
    birthday: dt.date | None
    anniversary: dt.date | None
    custom_fields: JSON
    archived: bool
    archived_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Any:
        return cls(
            id=encode_id("Customer", row["id"]),
            pk=row["id"],
            owner_pk=row["owner"],
            team_pk=row["team"],
            merged_into_pk=row["merged_into"],
            database_id=row["id"],
            name=row["name"],
            kind=enum_value(CustomerKindEnum, row["kind"]),
            industry=row["industry"],
            region=row["region"],
            size=row["size"],
            source=row["source"],
            tier=row["tier"] or None,
            lifecycle_stage=enum_value(LifecycleStageEnum, row["lifecycle_stage"]),
            email=row["email"],
            phone=row["phone"],
            tax_id=row["tax_id"],
            website=row["website"],
            address=row["address"],
            credit_rating=row["credit_rating"],
            marketing_consent=row["marketing_consent"],
            birthday=row["birthday"],
            anniversary=row["anniversary"],
            custom_fields=row["custom_fields"],
            archived=row["archived_at"] is not None,
            archived_at=row["archived_at"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("customer").load(pk)

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        return (
            None if self.owner_pk is None else await info.context.loader("user").load(self.owner_pk)
        )

    @strawberry.field
    async def team(self, info: strawberry.Info) -> TeamRef | None:
        return (
            None if self.team_pk is None else await info.context.loader("team").load(self.team_pk)
        )

    @strawberry.field(description="The customer this one was merged into, if any.")
    async def merged_into(self, info: strawberry.Info) -> CustomerRef | None:
        if self.merged_into_pk is None:
            return None
        return await info.context.loader("customer").load(self.merged_into_pk)

    @strawberry.field
    async def tags(self, info: strawberry.Info) -> list[str]:
        return await info.context.loader("tags").load(self.pk)

    @strawberry.field(description="Contacts, primary first.")
    async def contacts(self, info: strawberry.Info) -> list[ContactRef]:
        return await info.context.loader("contacts_by_customer").load(self.pk)

    @strawberry.field(description="The latest activities (batched: safe inside lists).")
    async def recent_activities(self, info: strawberry.Info, limit: int = 5) -> list[ActivityRef]:
        limit = max(1, min(limit, 50))
        return await info.context.loader("recent_activities").load((self.pk, limit))

    @strawberry.field(description="Activities of this customer, newest first (paginated).")
    async def activities(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> Annotated["ActivityConnection", strawberry.lazy(MODULE)]:
        from kehu.core.graphql.base import make_connection

        make = composed("Activity").from_row
        if after is None:  # the first page: batched over the customers of a list
            page = await info.context.loader("activity_pages").load((self.pk, first))
            counts = info.context.loader("activity_counts")
            return make_connection("Activity", page, make, lambda: counts.load(self.pk))
        actor = info.context.actor
        f = ActivityFilter(customer_id=self.pk)
        page = await list_activities(actor, f, first=first, after=after)
        return make_connection("Activity", page, make, lambda: count_activities(actor, f))

    @strawberry.field(description="Activities and plugin events, newest first.")
    async def timeline(
        self, info: strawberry.Info, first: int = 50, after: str | None = None
    ) -> "TimelineConnection":
        page = await timeline_service.customer_timeline(
            info.context.actor, self.pk, first=first, after=after
        )
        return TimelineConnection.of(page)


@extensible("Contact")
@strawberry.type(name="ContactFields")
class ContactFields(RowType, Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    database_id: int
    name: str
    title: str
    buying_role: BuyingRoleEnum
    email: str
    phone: str
    is_primary: bool
    notes: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("contact").load(pk)

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)


@extensible("Activity")
@strawberry.type(name="ActivityFields")
class ActivityFields(RowType, Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    contact_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    database_id: int
    kind: ActivityKindEnum
    status: ActivityStatusEnum
    subject: str
    body: str
    occurred_at: dt.datetime | None
    due_at: dt.datetime | None
    completed_at: dt.datetime | None
    outcome: str
    next_action_at: dt.datetime | None
    related_type: str | None
    related_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("activity").load(pk)

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field
    async def contact(self, info: strawberry.Info) -> ContactRef | None:
        return (
            None
            if self.contact_pk is None
            else await info.context.loader("contact").load(self.contact_pk)
        )

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        return (
            None if self.owner_pk is None else await info.context.loader("user").load(self.owner_pk)
        )


@strawberry.type(description="One line of a customer's history, from core or a plugin.")
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    body: str
    source: str
    entity: str | None
    entity_id: int | None
    data: JSON
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_entry(cls, e: timeline_service.TimelineEntry) -> "TimelineEntry":
        return cls(
            at=e.at,
            kind=e.kind,
            title=e.title,
            body=e.body,
            source=e.source,
            entity=e.entity,
            entity_id=e.entity_id,
            data=JSON(e.data),
            actor_pk=e.actor_id,
        )

    @strawberry.field
    async def actor(self, info: strawberry.Info) -> UserRef | None:
        return (
            None if self.actor_pk is None else await info.context.loader("user").load(self.actor_pk)
        )


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineEntry


@strawberry.type(description="A page of a customer's timeline (no totalCount: it spans plugins).")
class TimelineConnection:
    edges: list[TimelineEdge]
    nodes: list[TimelineEntry]
    page_info: PageInfo

    @classmethod
    def of(cls, page: timeline_service.TimelinePage) -> "TimelineConnection":
        nodes = [TimelineEntry.from_entry(e) for e in page.entries]
        return cls(
            edges=[
                TimelineEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)
            ],
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=False,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.type(description="An audit-log row: who changed what, before and after.")
class AuditEntry:
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    entity: str
    entity_id: int | None
    before: JSON | None
    after: JSON | None


@strawberry.type(name="Plugin", description="A loaded plugin.")
class PluginInfoType:
    name: str
    version: str
    description: str
    depends: list[str]
    hooks: list[str]


if TYPE_CHECKING:
    from kehu.core.graphql.base import Connection

    CustomerConnection = Connection[CustomerRef]
    ActivityConnection = Connection[ActivityRef]
    AuditEntryConnection = Connection[AuditEntry]

    # composed at start-up (see ``composed``); statically they are their ``*Fields`` bases
    Customer = CustomerFields
    Contact = ContactFields
    Activity = ActivityFields
    User = UserFields
    Team = TeamFields
else:
    CustomerConnection = connection("Customer", CustomerRef)
    ActivityConnection = connection("Activity", ActivityRef)
    AuditEntryConnection = connection("AuditEntry", AuditEntry)

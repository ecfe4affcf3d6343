"""Core root fields: queries and mutations over customers, contacts, activities, users."""

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import Forbidden, NotFound
from kehu.core.graphql.base import Node, decode_id, given, make_connection, pk_of
from kehu.core.graphql.mutations import mutation
from kehu.core.graphql.types import (
    ActivityConnection,
    ActivityKindEnum,
    ActivityRef,
    ActivityStatusEnum,
    AuditEntry,
    AuditEntryConnection,
    BuyingRoleEnum,
    ContactRef,
    CustomerConnection,
    CustomerKindEnum,
    CustomerRef,
    LifecycleStageEnum,
    PluginInfoType,
    TeamRef,
    UserRef,
    composed,
)
from kehu.core.pagination import keyset_page
from kehu.core.permissions import system_actor
from kehu.core.services import activities, audit, contacts, customers, users


@strawberry.enum
class CustomerOrderField(Enum):
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class CustomerOrder:
    field: CustomerOrderField = CustomerOrderField.NAME
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input
class CustomerFilter:
    owner_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    tier: str | None = None
    lifecycle_stage: LifecycleStageEnum | None = None
    tag: str | None = None
    region: str | None = None
    industry: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches name, e-mail or phone (case-insensitive)."
    )
    archived: bool | None = strawberry.field(
        default=False, description="false: active only (default); true: archived; null: all."
    )

    def to_filter(self) -> customers.CustomerFilter:
        return customers.CustomerFilter(
            owner_id=pk_of(self.owner_id, "User", "ownerId"),
            team_id=pk_of(self.team_id, "Team", "teamId"),
            tier=self.tier,
            lifecycle_stage=self.lifecycle_stage.value if self.lifecycle_stage else None,
            tag=self.tag,
            region=self.region,
            industry=self.industry,
            created_after=self.created_after,
            created_before=self.created_before,
            search=self.search,
            archived=self.archived,
        )


@strawberry.input
class ActivityFilter:
    customer_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    contact_id: strawberry.ID | None = None
    kind: ActivityKindEnum | None = None
    status: ActivityStatusEnum | None = None
    related_type: str | None = None
    related_id: int | None = None
    occurred_after: dt.datetime | None = None
    occurred_before: dt.datetime | None = None
    due_before: dt.datetime | None = None

    def to_filter(self) -> activities.ActivityFilter:
        return activities.ActivityFilter(
            customer_id=pk_of(self.customer_id, "Customer", "customerId"),
            owner_id=pk_of(self.owner_id, "User", "ownerId"),
            contact_id=pk_of(self.contact_id, "Contact", "contactId"),
            kind=self.kind.value if self.kind else None,
            status=self.status.value if self.status else None,
            related_type=self.related_type,
            related_id=self.related_id,
            occurred_after=self.occurred_after,
            occurred_before=self.occurred_before,
            due_before=self.due_before,
        )


def _customer_conn(info: strawberry.Info, page: Any, f: customers.CustomerFilter) -> Any:
    actor = info.context.actor
    conn = make_connection(
        "Customer",
        page,
        composed("Customer").from_row,
        lambda: customers.count_customers(actor, f),
    )
    loader = info.context.loader("customer")
    for node in conn.nodes:  # nested fields pointing back at these customers cost no query
        loader.prime(node.pk, node)
    return conn


@strawberry.type
class CoreQuery:
    @strawberry.field(description="The authenticated user.")
    async def me(self, info: strawberry.Info) -> UserRef:
        return await info.context.loader("user").load(info.context.actor.user_id)

    @strawberry.field(description="Any object by global ID; null if missing or not visible.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        info.context.actor  # noqa: B018 - authentication
        type_name, pk = decode_id(id)
        cls = info.context.node_types.get(type_name)
        if cls is None:
            return None
        try:
            return await cls.resolve_node(info, pk)
        except (NotFound, Forbidden):
            return None  # hidden and missing look the same: null

    @strawberry.field
    async def customer(self, info: strawberry.Info, id: strawberry.ID) -> CustomerRef:
        found = await info.context.loader("customer").load(pk_of(id, "Customer"))
        if found is None:
            raise NotFound(f"Customer {id} not found")
        return found

    @strawberry.field(description="Customers visible to you (keyset pagination, first ≤ 100).")
    async def customers(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder | None = None,
    ) -> CustomerConnection:
        actor = info.context.actor
        f = (filter or CustomerFilter()).to_filter()
        order = order_by or CustomerOrder()
        page = await customers.list_customers(
            actor,
            f,
            order_by=order.field.value,
            descending=order.direction == OrderDirection.DESC,
            first=first,
            after=after,
        )
        return _customer_conn(info, page, f)

    @strawberry.field(description="Existing customers that would duplicate this data.")
    async def customer_duplicates(
        self,
        info: strawberry.Info,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        tax_id: str | None = None,
    ) -> list[CustomerRef]:
        actor = info.context.actor
        actor.require("customer:read")
        data = {
            k: v
            for k, v in {"name": name, "email": email, "phone": phone, "tax_id": tax_id}.items()
            if v
        }
        probe = customers.clean_customer(data, partial=True) if data else {}
        dups = await customers.find_duplicates(probe)
        found = await info.context.loader("customer").load_many([d.customer_id for d in dups])
        return [c for c in found if c is not None]

    @strawberry.field
    async def contact(self, info: strawberry.Info, id: strawberry.ID) -> ContactRef:
        found = await info.context.loader("contact").load(pk_of(id, "Contact"))
        if found is None:
            raise NotFound(f"Contact {id} not found")
        return found

    @strawberry.field
    async def activity(self, info: strawberry.Info, id: strawberry.ID) -> ActivityRef:
        found = await info.context.loader("activity").load(pk_of(id, "Activity"))
        if found is None:
            raise NotFound(f"Activity {id} not found")
        return found

    @strawberry.field(description="Activities on customers visible to you, newest first.")
    async def activities(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: ActivityFilter | None = None,
    ) -> ActivityConnection:
        actor = info.context.actor
        f = (filter or ActivityFilter()).to_filter()
        page = await activities.list_activities(actor, f, first=first, after=after)
        return make_connection(
            "Activity",
            page,
            composed("Activity").from_row,
            lambda: activities.count_activities(actor, f),
        )

    @strawberry.field
    async def users(self, info: strawberry.Info) -> list[UserRef]:
        return [composed("User").from_row(r) for r in await users.list_users(info.context.actor)]

    @strawberry.field
    async def teams(self, info: strawberry.Info) -> list[TeamRef]:
        return [composed("Team").from_row(r) for r in await users.list_teams(info.context.actor)]

    @strawberry.field(description="Enabled plugins in load order.")
    def plugins(self, info: strawberry.Info) -> list[PluginInfoType]:
        info.context.actor  # noqa: B018 - authentication
        return [
            PluginInfoType(
                name=p.info.name,
                version=p.info.version,
                description=p.info.description,
                depends=list(p.info.depends),
                hooks=p.hooks,
            )
            for p in info.context.kehu.plugins
        ]

    @strawberry.field(description="Audit log, newest first (admins and managers).")
    async def audit_log(
        self,
        info: strawberry.Info,
        entity: str | None = None,
        entity_id: int | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AuditEntryConnection:
        actor = info.context.actor
        query, count = audit.audit_query(actor, entity, entity_id)
        page = await keyset_page(
            query,
            sort=audit.AuditLog.id,
            pk=audit.AuditLog.id,
            descending=True,
            first=first,
            after=after,
            maximum=info.context.kehu.settings.page_size_max,
        )
        return make_connection(
            "AuditEntry",
            page,
            lambda r: AuditEntry(
                id=r["id"],
                at=r["at"],
                actor_id=r["actor"],
                actor_name=r["actor_name"],
                action=r["action"],
                entity=r["entity"],
                entity_id=r["entity_id"],
                before=audit.loads(r["before"]),
                after=audit.loads(r["after"]),
            ),
            count,
        )


# -- mutations ---------------------------------------------------------------------------

U = strawberry.UNSET
_CUSTOMER_FIELDS = (
    "name",
    "kind",
    "industry",
    "region",
    "size",
    "source",
    "tier",
    "lifecycle_stage",
    "email",
    "phone",
    "tax_id",
    "website",
    "address",
    "credit_rating",
    "marketing_consent",
    "birthday",
    "anniversary",
    "custom_fields",
)


def _customer_data(obj: Any) -> dict[str, Any]:
    data = given(obj, _CUSTOMER_FIELDS)
    if obj.owner_id is not U:
        data["owner"] = pk_of(obj.owner_id, "User", "ownerId")
    if obj.team_id is not U:
        data["team"] = pk_of(obj.team_id, "Team", "teamId")
    return data


@strawberry.input(description="Customer fields; those left out are not changed.")
class CustomerFieldsInput:
    kind: CustomerKindEnum | None = U
    industry: str | None = U
    region: str | None = U
    size: str | None = U
    source: str | None = strawberry.field(
        default=U,
        description="Channel: trade_show, referral, website, social, ads, ground_promotion…",
    )
    tier: str | None = U
    lifecycle_stage: LifecycleStageEnum | None = U
    email: str | None = U
    phone: str | None = U
    tax_id: str | None = U
    website: str | None = U
    address: str | None = U
    credit_rating: str | None = U
    marketing_consent: bool | None = U
    birthday: dt.date | None = U
    anniversary: dt.date | None = U
    custom_fields: JSON | None = U
    owner_id: strawberry.ID | None = U
    team_id: strawberry.ID | None = U


@strawberry.input
class CreateCustomerInput(CustomerFieldsInput):
    name: str
    tags: list[str] | None = None
    allow_duplicate: bool = False


@strawberry.input
class UpdateCustomerInput(CustomerFieldsInput):
    id: strawberry.ID
    expected_version: int
    name: str | None = U


@strawberry.input
class CustomerRefInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class MergeCustomersInput:
    survivor_id: strawberry.ID
    merged_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="Expected version of the survivor."
    )


@strawberry.input
class SetCustomerTagsInput:
    id: strawberry.ID
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)
    replace: list[str] | None = None


@strawberry.input
class ReassignCustomersInput:
    to_user_id: strawberry.ID
    from_user_id: strawberry.ID | None = None
    customer_ids: list[strawberry.ID] | None = None
    include_open_activities: bool = True


_CONTACT_FIELDS = ("name", "title", "buying_role", "email", "phone", "is_primary", "notes")


@strawberry.input(description="Contact fields; those left out are not changed.")
class ContactFieldsInput:
    title: str | None = U
    buying_role: BuyingRoleEnum | None = U
    email: str | None = U
    phone: str | None = U
    is_primary: bool | None = U
    notes: str | None = U


@strawberry.input
class CreateContactInput(ContactFieldsInput):
    customer_id: strawberry.ID
    name: str


@strawberry.input
class UpdateContactInput(ContactFieldsInput):
    id: strawberry.ID
    expected_version: int
    name: str | None = U


@strawberry.input
class DeleteInput:
    id: strawberry.ID


_ACTIVITY_FIELDS = (
    "kind",
    "status",
    "subject",
    "body",
    "occurred_at",
    "due_at",
    "outcome",
    "next_action_at",
    "related_type",
    "related_id",
)


def _activity_data(obj: Any) -> dict[str, Any]:
    data = given(obj, _ACTIVITY_FIELDS)
    if obj.contact_id is not U:
        data["contact"] = pk_of(obj.contact_id, "Contact", "contactId")
    if obj.owner_id is not U:
        data["owner"] = pk_of(obj.owner_id, "User", "ownerId")
    return data


@strawberry.input(description="Activity fields; those left out are not changed.")
class ActivityFieldsInput:
    kind: ActivityKindEnum | None = U
    status: ActivityStatusEnum | None = strawberry.field(
        default=U, description="DONE (default) logs what happened; PLANNED schedules a task."
    )
    body: str | None = U
    occurred_at: dt.datetime | None = U
    due_at: dt.datetime | None = U
    outcome: str | None = U
    next_action_at: dt.datetime | None = U
    contact_id: strawberry.ID | None = U
    owner_id: strawberry.ID | None = U
    related_type: str | None = strawberry.field(
        default=U, description="Plugin record this activity belongs to, e.g. opportunity."
    )
    related_id: int | None = U


@strawberry.input
class LogActivityInput(ActivityFieldsInput):
    customer_id: strawberry.ID
    subject: str


@strawberry.input
class UpdateActivityInput(ActivityFieldsInput):
    id: strawberry.ID
    expected_version: int
    subject: str | None = U


@strawberry.input
class CompleteActivityInput:
    id: strawberry.ID
    outcome: str = ""
    next_action_at: dt.datetime | None = None
    expected_version: int | None = None


def _c(row: dict[str, Any]) -> Any:
    return composed("Customer").from_row(row)


@strawberry.type
class CoreMutation:
    @mutation
    async def create_customer(
        self, info: strawberry.Info, input: CreateCustomerInput
    ) -> CustomerRef:
        return _c(
            await customers.create_customer(
                info.context.actor,
                _customer_data(input),
                tags=input.tags,
                allow_duplicate=input.allow_duplicate,
            )
        )

    @mutation
    async def update_customer(
        self, info: strawberry.Info, input: UpdateCustomerInput
    ) -> CustomerRef:
        return _c(
            await customers.update_customer(
                info.context.actor,
                pk_of(input.id, "Customer"),
                input.expected_version,
                _customer_data(input),
            )
        )

    @mutation(description="Archive (soft-delete) a customer; restorable.")
    async def archive_customer(self, info: strawberry.Info, input: CustomerRefInput) -> CustomerRef:
        return _c(
            await customers.archive_customer(
                info.context.actor, pk_of(input.id, "Customer"), input.expected_version
            )
        )

    @mutation
    async def restore_customer(self, info: strawberry.Info, input: CustomerRefInput) -> CustomerRef:
        return _c(
            await customers.restore_customer(
                info.context.actor, pk_of(input.id, "Customer"), input.expected_version
            )
        )

    @mutation(description="Merge mergedId into survivorId, keeping every link.")
    async def merge_customers(
        self, info: strawberry.Info, input: MergeCustomersInput
    ) -> CustomerRef:
        return _c(
            await customers.merge_customers(
                info.context.actor,
                pk_of(input.survivor_id, "Customer", "survivorId"),
                pk_of(input.merged_id, "Customer", "mergedId"),
                input.expected_version,
            )
        )

    @mutation
    async def set_customer_tags(
        self, info: strawberry.Info, input: SetCustomerTagsInput
    ) -> CustomerRef:
        return _c(
            await customers.set_tags(
                info.context.actor,
                pk_of(input.id, "Customer"),
                add=input.add,
                remove=input.remove,
                replace=input.replace,
            )
        )

    @mutation(
        description="Handover: give customers to another owner in bulk.",
        payload="ReassignCustomersPayload",
        field="customers",
    )
    async def reassign_customers(
        self, info: strawberry.Info, input: ReassignCustomersInput
    ) -> list[CustomerRef]:
        actor = info.context.actor
        ids = await customers.reassign_customers(
            actor,
            pk_of(input.to_user_id, "User", "toUserId"),
            from_user_id=pk_of(input.from_user_id, "User", "fromUserId"),
            customer_ids=[pk_of(i, "Customer", "customerIds") for i in input.customer_ids or []]
            or None,
            include_open_activities=input.include_open_activities,
        )
        # the actor saw them before the move; they may now belong to another team
        rows = await customers.customers_by_ids(system_actor(), ids)
        return [_c(rows[i]) for i in ids]

    @mutation
    async def create_contact(self, info: strawberry.Info, input: CreateContactInput) -> ContactRef:
        data = given(input, _CONTACT_FIELDS)
        row = await contacts.create_contact(
            info.context.actor, pk_of(input.customer_id, "Customer", "customerId"), data
        )
        return composed("Contact").from_row(row)

    @mutation
    async def update_contact(self, info: strawberry.Info, input: UpdateContactInput) -> ContactRef:
        data = given(input, _CONTACT_FIELDS)
        row = await contacts.update_contact(
            info.context.actor, pk_of(input.id, "Contact"), input.expected_version, data
        )
        return composed("Contact").from_row(row)

    @mutation(payload="DeletePayload", field="deleted_id")
    async def delete_contact(self, info: strawberry.Info, input: DeleteInput) -> strawberry.ID:
        await contacts.delete_contact(info.context.actor, pk_of(input.id, "Contact"))
        return input.id

    @mutation
    async def log_activity(self, info: strawberry.Info, input: LogActivityInput) -> ActivityRef:
        row = await activities.log_activity(
            info.context.actor,
            pk_of(input.customer_id, "Customer", "customerId"),
            _activity_data(input),
        )
        return composed("Activity").from_row(row)

    @mutation
    async def update_activity(
        self, info: strawberry.Info, input: UpdateActivityInput
    ) -> ActivityRef:
        row = await activities.update_activity(
            info.context.actor,
            pk_of(input.id, "Activity"),
            input.expected_version,
            _activity_data(input),
        )
        return composed("Activity").from_row(row)

    @mutation
    async def complete_activity(
        self, info: strawberry.Info, input: CompleteActivityInput
    ) -> ActivityRef:
        row = await activities.complete_activity(
            info.context.actor,
            pk_of(input.id, "Activity"),
            outcome=input.outcome,
            next_action_at=input.next_action_at,
            expected_version=input.expected_version,
        )
        return composed("Activity").from_row(row)

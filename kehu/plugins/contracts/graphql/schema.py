"""Contracts GraphQL, table of contents: the root queries (contracts, aging, statements,
provision, metrics, dunning preview) and what ``plugin.py`` hands to Kehu."""

import datetime as dt
from typing import Any

import strawberry

from kehu.core.errors import NotFound
from kehu.core.graphql.base import Money, encode_id, make_connection, pk_of
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.customers import CreditStatusType, CustomerContracts
from kehu.plugins.contracts.graphql.inputs import ContractFilterInput
from kehu.plugins.contracts.graphql.loaders import LOADERS
from kehu.plugins.contracts.graphql.mutations.contracts import ContractMutations
from kehu.plugins.contracts.graphql.mutations.execution import ExecutionMutations
from kehu.plugins.contracts.graphql.mutations.receivables import ReceivableMutations
from kehu.plugins.contracts.graphql.reports import (
    AgingBucketType,
    AgingRowType,
    DunningActionType,
    MetricsType,
    ProvisionLineType,
    ProvisionType,
    StatementLineType,
    StatementType,
    _aging,
)
from kehu.plugins.contracts.graphql.types import (
    AgingGroup,
    ContractConnection,
    ContractRef,
    InstallmentType,
    InvoiceType,
    PaymentType,
    _m,
    contract_type,
)


def _contract_conn(info: strawberry.Info, page: Any, f: services.ContractFilter) -> Any:
    actor = info.context.actor
    conn = make_connection(
        "Contract", page, contract_type().from_row, lambda: services.count_contracts(actor, f)
    )
    loader = info.context.loader("contracts_contract")
    for node in conn.nodes:
        loader.prime(node.pk, node)
    return conn


@strawberry.type
class ContractsQuery:
    @strawberry.field
    async def contract(self, info: strawberry.Info, id: strawberry.ID) -> ContractRef:
        found = await info.context.loader("contracts_contract").load(pk_of(id, "Contract"))
        if found is None:
            raise NotFound(f"Contract {id} not found")
        return found

    @strawberry.field(description="Visible contracts, newest first (keyset, first ≤ 100).")
    async def contracts(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: ContractFilterInput | None = None,
    ) -> ContractConnection:
        f = (filter or ContractFilterInput()).to_filter()
        page = await services.list_contracts(info.context.actor, f, first=first, after=after)
        return _contract_conn(info, page, f)

    @strawberry.field(description="A visible customer's payments, newest first.")
    async def payments(
        self, info: strawberry.Info, customer_id: strawberry.ID, first: int = 50
    ) -> list[PaymentType]:
        rows = await services.payments_by_customer(
            info.context.actor,
            pk_of(customer_id, "Customer", "customerId"),
            max(1, min(first, 100)),
        )
        return [PaymentType.from_row(r) for r in rows]

    @strawberry.field(description="A customer's credit limit, rating and exposure.")
    async def credit_status(
        self, info: strawberry.Info, customer_id: strawberry.ID
    ) -> CreditStatusType:
        status = await services.credit_status(
            info.context.actor, pk_of(customer_id, "Customer", "customerId")
        )
        return CreditStatusType.of(status)

    @strawberry.field(description="Aging report (账龄) as of a date; buckets in days past due.")
    async def aging_report(
        self,
        info: strawberry.Info,
        as_of: dt.date | None = None,
        group_by: AgingGroup = AgingGroup.CUSTOMER,
        buckets: list[int] | None = None,
    ) -> list[AgingRowType]:
        rows = await services.aging(
            info.context.actor, as_of, group_by=group_by.value, buckets=buckets
        )
        return _aging(rows, group_by.value)

    @strawberry.field(description="Reconciliation statement (对账单) of a customer.")
    async def statement(
        self,
        info: strawberry.Info,
        customer_id: strawberry.ID,
        date_from: dt.date,
        date_to: dt.date,
        currency: str | None = None,
    ) -> StatementType:
        st = await services.statement(
            info.context.actor,
            pk_of(customer_id, "Customer", "customerId"),
            date_from,
            date_to,
            currency,
        )
        c = st.currency
        return StatementType(
            currency=c,
            date_from=st.date_from,
            date_to=st.date_to,
            opening_balance=_m(st.opening, c),
            invoices=_m(st.invoices, c),
            payments=_m(st.payments, c),
            credits=_m(st.credits, c),
            closing_balance=_m(st.closing, c),
            lines=[
                StatementLineType(
                    date=ln.on,
                    kind=ln.kind,
                    reference=ln.reference,
                    debit=_m(ln.debit, c),
                    credit=_m(ln.credit, c),
                    balance=_m(ln.balance, c),
                )
                for ln in st.lines
            ],
        )

    @strawberry.field(description="Bad-debt provision (坏账准备) as of a date.")
    async def bad_debt_provision(
        self, info: strawberry.Info, as_of: dt.date | None = None
    ) -> ProvisionType:
        rows = await services.bad_debt_provision(info.context.actor, as_of)
        customers = await info.context.loader("customer").load_many([r.customer_id for r in rows])
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.currency] = totals.get(r.currency, 0) + r.provision
        return ProvisionType(
            lines=[
                ProvisionLineType(
                    customer=c,
                    rating=r.rating,
                    open=_m(sum(r.open_by_bucket.values()), r.currency),
                    provision=_m(r.provision, r.currency),
                )
                for r, c in zip(rows, customers, strict=True)
            ],
            totals=[_m(v, k) for k, v in sorted(totals.items())],
        )

    @strawberry.field(description="Collection rate, overdue amount, DSO, signing rate, aging.")
    async def receivables_metrics(
        self,
        info: strawberry.Info,
        date_from: dt.date,
        date_to: dt.date,
        currency: str | None = None,
    ) -> MetricsType:
        actor = info.context.actor
        currency = currency or services.config().default_currency
        rate = await services.collection_rate(actor, date_from, date_to, currency)
        signing = await services.signing_rate(actor, date_from, date_to)
        rows = await services.aging(actor, date_to, group_by="none")
        names = services.bucket_names(services.config().aging_buckets)
        sums = dict.fromkeys(names, 0)
        for r in rows:
            if r.currency == currency:
                for n, v in r.buckets.items():
                    sums[n] += v
        return MetricsType(
            currency=currency,
            due=Money.of(rate.due),
            collected=Money.of(rate.collected),
            collection_rate=rate.rate,
            overdue_amount=_m(sum(v for n, v in sums.items() if n != "current"), currency),
            open_amount=_m(sum(sums.values()), currency),
            dso=await services.dso(actor, date_from, date_to, currency),
            contracts_submitted=signing.submitted,
            contracts_signed=signing.signed,
            signing_rate=signing.rate,
            aging_totals=[AgingBucketType(name=n, amount=_m(v, currency)) for n, v in sums.items()],
        )

    @strawberry.field(description="What the dunning job would do as of a date (admins).")
    async def dunning_preview(
        self, info: strawberry.Info, as_of: dt.date | None = None
    ) -> list[DunningActionType]:
        actions = await services.run_dunning(as_of, dry_run=True, actor=info.context.actor)
        return [
            DunningActionType(
                installment_id=encode_id("Installment", a.installment_id),
                contract_number=a.contract_number,
                customer_id=encode_id("Customer", a.customer_id),
                step=a.step,
                days_overdue=a.days_overdue,
                open=_m(a.open_minor, a.currency),
            )
            for a in actions
        ]


NODE_TYPES = [InstallmentType, InvoiceType, PaymentType]  # Contract: composed (extensible)

QUERIES = [ContractsQuery]
MUTATIONS = [ContractMutations, ReceivableMutations, ExecutionMutations]
TYPE_EXTENSIONS = {"Customer": [CustomerContracts]}
__all__ = ["LOADERS", "MUTATIONS", "NODE_TYPES", "QUERIES", "TYPE_EXTENSIONS", "ContractsQuery"]

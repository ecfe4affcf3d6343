"""Contract lifecycle mutations: create, update, approval, signing, execution, completion,
termination."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.inputs import (
    ContractRefInput,
    CreateContractInput,
    DecideContractInput,
    SignContractInput,
    TerminateContractInput,
    UpdateContractInput,
)
from kehu.plugins.contracts.graphql.mutations.common import _cid
from kehu.plugins.contracts.graphql.types import ContractRef, contract_type


@strawberry.type
class ContractMutations:
    @mutation(description="Draft a contract (contract:write).")
    async def create_contract(
        self, info: strawberry.Info, input: CreateContractInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(
            await services.create_contract(
                actor, pk_of(input.customer_id, "Customer", "customerId"), input.to_data()
            )
        )

    @mutation(description="Edit a draft contract (expectedVersion).")
    async def update_contract(
        self, info: strawberry.Info, input: UpdateContractInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(
            await services.update_contract(
                actor, _cid(input.id), input.expected_version, input.to_data()
            )
        )

    @mutation(
        description="Submit for approval; lists every missing mandatory clause (MISSING_CLAUSE)."
    )
    async def submit_contract(self, info: strawberry.Info, input: ContractRefInput) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(await services.submit_contract(actor, _cid(input.id)))

    @mutation(description="Approve or reject the current approval step.")
    async def decide_contract_approval(
        self, info: strawberry.Info, input: DecideContractInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(
            await services.decide_approval(actor, _cid(input.id), input.approve, input.comment)
        )

    @mutation(description="Withdraw a submitted or approved contract to draft.")
    async def withdraw_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(await services.withdraw_contract(actor, _cid(input.id)))

    @mutation(description="Sign an approved contract (credit check).")
    async def sign_contract(self, info: strawberry.Info, input: SignContractInput) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(
            await services.sign_contract(
                actor,
                _cid(input.id),
                signed_on=input.signed_on,
                override_reason=input.credit_override_reason,
            )
        )

    @mutation
    async def start_contract_execution(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(await services.start_execution(actor, _cid(input.id)))

    @mutation
    async def complete_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(await services.complete_contract(actor, _cid(input.id)))

    @mutation
    async def terminate_contract(
        self, info: strawberry.Info, input: TerminateContractInput
    ) -> ContractRef:
        actor = info.context.actor
        return contract_type().from_row(
            await services.terminate_contract(actor, _cid(input.id), input.reason)
        )

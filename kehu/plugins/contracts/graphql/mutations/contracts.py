"""Contract lifecycle mutations: create, update, approval, signing, execution, completion,
termination."""

import strawberry

from kehu.core.graphql.base import (
    pk_of,
)
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.inputs import (
    ContractRefInput,
    CreateContractInput,
    DecideContractInput,
    SignContractInput,
    TerminateContractInput,
    UpdateContractInput,
)
from kehu.plugins.contracts.graphql.mutations.common import ContractPayload, _cid, _contract


@strawberry.type
class ContractMutations:
    @strawberry.mutation(description="Draft a contract (contract:write).")
    async def create_contract(
        self, info: strawberry.Info, input: CreateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.create_contract(
                actor, pk_of(input.customer_id, "Customer", "customerId"), input.to_data()
            )
        )

    @strawberry.mutation(description="Edit a draft contract (expectedVersion).")
    async def update_contract(
        self, info: strawberry.Info, input: UpdateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.update_contract(
                actor, _cid(input.id), input.expected_version, input.to_data()
            )
        )

    @strawberry.mutation(
        description="Submit for approval; lists every missing mandatory clause (MISSING_CLAUSE)."
    )
    async def submit_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.submit_contract(actor, _cid(input.id)))

    @strawberry.mutation(description="Approve or reject the current approval step.")
    async def decide_contract_approval(
        self, info: strawberry.Info, input: DecideContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.decide_approval(actor, _cid(input.id), input.approve, input.comment)
        )

    @strawberry.mutation(description="Withdraw a submitted or approved contract to draft.")
    async def withdraw_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.withdraw_contract(actor, _cid(input.id)))

    @strawberry.mutation(description="Sign an approved contract (credit check).")
    async def sign_contract(
        self, info: strawberry.Info, input: SignContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.sign_contract(
                actor,
                _cid(input.id),
                signed_on=input.signed_on,
                override_reason=input.credit_override_reason,
            )
        )

    @strawberry.mutation
    async def start_contract_execution(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.start_execution(actor, _cid(input.id)))

    @strawberry.mutation
    async def complete_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.complete_contract(actor, _cid(input.id)))

    @strawberry.mutation
    async def terminate_contract(
        self, info: strawberry.Info, input: TerminateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.terminate_contract(actor, _cid(input.id), input.reason)
        )

"""Hooks the contracts plugin publishes (registered by ``kehu_add_hookspecs``).

They are published for contracts' events (``kehu_event_hooks``) and delivered like
``kehu_event``: after commit (an implementation never sees rolled-back work and cannot undo
the change), at least once, retried on failure; make implementations idempotent. Implement
them with ``@hookimpl(optionalhook=True)`` when contracts may be disabled. Async
implementations are awaited.
"""

from datetime import date

from kehu import hookspec
from kehu.core.hookspecs import MaybeAsync
from kehu.core.money import Money


@hookspec
def kehu_contract_signed(
    contract_id: int, customer_id: int, number: str, total: Money
) -> MaybeAsync[None]:
    """A contract was signed (``approved → signed``) for ``total``."""


@hookspec
def kehu_invoice_issued(
    invoice_id: int, contract_id: int, customer_id: int, amount: Money, issued_on: date
) -> MaybeAsync[None]:
    """An invoice for ``amount`` was issued on a contract, dated ``issued_on``."""


@hookspec
def kehu_payment_received(
    payment_id: int, customer_id: int, amount: Money, method: str, received_on: date
) -> MaybeAsync[None]:
    """A payment of ``amount`` received on ``received_on`` was recorded (replays of an
    idempotency key do not call it again)."""


@hookspec
def kehu_payment_allocated(
    payment_id: int,
    installment_id: int,
    contract_id: int,
    customer_id: int,
    amount: Money,
    applied_on: date | None,
) -> MaybeAsync[None]:
    """Part of a payment (``amount``) was allocated to an installment of a contract, applied
    on ``applied_on`` (``None`` for events recorded before Kehu carried the date)."""


@hookspec
def kehu_refund_issued(
    payment_id: int, customer_id: int, amount: Money, issued_on: date
) -> MaybeAsync[None]:
    """Part of a payment's unallocated remainder was refunded to the customer on
    ``issued_on``."""


@hookspec
def kehu_receivable_overdue(
    installment_id: int, customer_id: int, step: str, days_overdue: int, open_amount: Money
) -> MaybeAsync[None]:
    """The dunning job took an overdue step (``reminder``, ``collection``, ``legal``...) for
    an installment ``days_overdue`` days past due with ``open_amount`` open. Once per
    installment and step."""

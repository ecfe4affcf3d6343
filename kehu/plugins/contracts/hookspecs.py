"""Hooks the contracts plugin publishes (registered by ``kehu_add_hookspecs``).

All are called **after commit**, from the plugin's own ``kehu_event`` handler, so an
implementation never sees rolled-back work and cannot undo the change. Implement them with
``@hookimpl(optionalhook=True)`` when contracts may be disabled. Async implementations are
awaited. ``Money`` arguments are :class:`kehu.core.money.Money` values.
"""

from typing import Any

from kehu import hookspec


@hookspec
def kehu_contract_signed(contract_id: int, customer_id: int, number: str, total: Any) -> Any:
    """A contract was signed (``approved → signed``); ``total`` is its ``Money`` total."""


@hookspec
def kehu_invoice_issued(invoice_id: int, contract_id: int, customer_id: int, amount: Any) -> Any:
    """An invoice for ``amount`` (``Money``) was issued on a contract."""


@hookspec
def kehu_payment_received(payment_id: int, customer_id: int, amount: Any, method: str) -> Any:
    """A payment of ``amount`` (``Money``) was recorded (replays of an idempotency key do not
    call it again)."""


@hookspec
def kehu_payment_allocated(
    payment_id: int, installment_id: int, contract_id: int, customer_id: int, amount: Any
) -> Any:
    """Part of a payment (``amount``) was allocated to an installment of a contract."""


@hookspec
def kehu_refund_issued(payment_id: int, customer_id: int, amount: Any) -> Any:
    """Part of a payment's unallocated remainder was refunded to the customer."""


@hookspec
def kehu_receivable_overdue(
    installment_id: int, customer_id: int, step: str, days_overdue: int, open_amount: Any
) -> Any:
    """The dunning job took an overdue step (``reminder``, ``collection``, ``legal``...) for
    an installment ``days_overdue`` days past due with ``open_amount`` (``Money``) open.
    Called once per installment and step."""

"""The e-mails of the contracts plugin, sent from its event handler: dunning reminders to
the customer's finance contact (催款 by mail beside the owner's task), and approval requests
to the users who decide the next step of an approval chain. Each mail is queued once per
event and recipient, however often the event is delivered."""

from typing import Any

from kehu.core.events import Event, unit_of_work
from kehu.core.mail import MailTemplate, queue_mail
from kehu.core.money import Money
from kehu.core.services.contacts import mail_recipient
from kehu.core.tables import Customer, User
from kehu.plugins.contracts.tables import ApprovalDecision, Contract, ContractApproval

STEPS = {
    "pre_due_reminder": ("即将到期提醒", "upcoming payment"),
    "reminder": ("逾期提醒", "overdue payment"),
    "collection": ("催收通知", "collection notice"),
    "legal": ("法律程序前通知", "notice before legal action"),
}

TEMPLATES = [
    MailTemplate(
        "dunning_reminder",
        "A payment reminder to the customer's finance contact (the dunning ladder)",
        subject={
            "zh": "{step_zh}：合同 {contract_number} 待付 {amount}",
            "en": "{step_en}: contract {contract_number}, {amount} open",
        },
        body={
            "zh": "{contact_name}，您好：\n\n贵司合同 {contract_number} 的款项 {amount} {when_zh}。"
            "\n请安排付款；如已付款，请忽略本邮件并告知我们付款信息，谢谢。\n\n{customer_name}",
            "en": "Dear {contact_name},\n\n{amount} on contract {contract_number} {when_en}.\n"
            "Please arrange the payment; if you have paid already, please ignore this mail and "
            "send us the payment details. Thank you.\n\n{customer_name}",
        },
        audience="customer",
    ),
    MailTemplate(
        "approval_request",
        "A contract waits for your approval (the next step of its approval chain)",
        subject={
            "zh": "待审批：合同 {number} {title}（{amount}）",
            "en": "Approval needed: contract {number} {title} ({amount})",
        },
        body={
            "zh": "合同 {number}《{title}》（客户：{customer_name}，金额 {amount}）"
            "等待您在“{step}”环节审批。",
            "en": 'Contract {number} "{title}" (customer {customer_name}, {amount}) waits '
            'for your decision at step "{step}".',
        },
    ),
]


def _when(days: int) -> tuple[str, str]:
    """The due date relative to the run, in Chinese and English: ``days`` past due (0: due
    today, e.g. the pre-due reminder of a first run on the due date; negative: before)."""
    n = abs(days)
    unit = "day" if n == 1 else "days"
    if days > 0:
        return f"已逾期 {n} 天", f"is {n} {unit} overdue"
    if days == 0:
        return "今天到期", "is due today"
    return f"将于 {n} 天后到期", f"is due in {n} {unit}"


async def dunning_reminder(event: Event) -> None:
    d = event.data
    recipient = await mail_recipient(d["customer"], role="finance")
    if recipient is None:
        return
    when_zh, when_en = _when(int(d.get("days_overdue") or 0))
    step_zh, step_en = STEPS.get(d.get("step"), (d.get("step"), d.get("step")))
    customer = await Customer.select(Customer.name).where(Customer.id == d["customer"]).first()
    context = {
        "contact_name": recipient[1],
        "customer_name": customer["name"] if customer else "",
        "contract_number": d.get("contract_number"),
        "amount": str(Money(int(d["open_minor"]), d["currency"])),
        "step_zh": step_zh,
        "step_en": step_en,
        "when_zh": when_zh,
        "when_en": when_en,
    }
    async with unit_of_work():
        await queue_mail(
            "dunning_reminder",
            context=context,
            to_address=recipient[0],
            customer_id=d["customer"],
            dedup_key=f"{event.id}:dunning",
        )


async def approval_request(event: Event) -> None:
    """After submission or an approved step: mail the deciders of the next pending step
    (users of its role; for managers, those of the contract's team when it has any)."""
    contract_id = event.entity_id if event.entity == "contract" else event.data.get("contract")
    contract = await Contract.select().where(Contract.id == contract_id).first()
    if contract is None or contract["status"] != "pending_approval":
        return
    step = (
        await ContractApproval.select()
        .where(
            ContractApproval.contract == contract_id,
            ContractApproval.decision == ApprovalDecision.pending,
        )
        .order_by(ContractApproval.round, ascending=False)
        .order_by(ContractApproval.step)
        .first()
    )
    if step is None:
        return
    users = (
        await User.select(User.id, User.team)
        .where(User.role == step["role"], User.active.eq(True))
        .order_by(User.id)
    )
    same_team = [u for u in users if u["team"] is not None and u["team"] == contract["team"]]
    if step["role"] == "manager" and same_team:
        users = same_team
    if not users:  # nobody holds the role: admins may decide any step
        users = (
            await User.select(User.id, User.team)
            .where(User.role == "admin", User.active.eq(True))
            .order_by(User.id)
        )
    customer = (
        await Customer.select(Customer.name).where(Customer.id == contract["customer"]).first()
    )
    context = {
        "number": contract["number"],
        "title": contract["title"],
        "amount": str(Money(contract["total_minor"], contract["currency"])),
        "customer_name": customer["name"] if customer else "",
        "step": step["name"],
    }
    async with unit_of_work():
        for user in users:
            await queue_mail(
                "approval_request",
                context=context,
                to_user=user["id"],
                customer_id=contract["customer"],
                dedup_key=f"approval:{step['id']}:{user['id']}",
            )


async def on_event(event: Event) -> None:
    handlers: dict[str, Any] = {
        "installment.dunned": dunning_reminder,
        "contract_approval.approved": approval_request,
    }
    if event.name == "contract.transitioned" and event.data.get("status") == "pending_approval":
        await approval_request(event)
    elif event.name in handlers:
        await handlers[event.name](event)

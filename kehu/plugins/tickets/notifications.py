"""The e-mails of the tickets plugin, sent from its event handler (so they are as durable
as the events): survey invitations with their token link to the customer's contact, SLA
reminders and escalations to the people tasked, churn alerts to the account manager. Each
mail is queued once per event and recipient (``dedup_key``), however often the event is
delivered."""

from typing import Any

from kehu.core.context import current
from kehu.core.events import Event, unit_of_work
from kehu.core.mail import MailTemplate, queue_mail
from kehu.core.services.contacts import mail_recipient
from kehu.core.tables import Customer
from kehu.plugins.tickets.tables import Ticket

TARGETS = {
    "first_response": {"zh": "首次响应", "en": "first response"},
    "resolution": {"zh": "解决", "en": "resolution"},
}
SURVEYS = {"csat": "满意度调查 / satisfaction survey", "nps": "推荐意愿调查 / NPS survey"}

TEMPLATES = [
    MailTemplate(
        "survey_invitation",
        "A satisfaction (CSAT) or recommendation (NPS) survey for a customer's contact",
        subject={
            "zh": "请评价我们的服务 — {customer_name}",
            "en": "How did we do? — {customer_name}",
        },
        body={
            "zh": "{contact_name}，您好：\n\n感谢您选择我们。请花一分钟完成{survey}，"
            "您的意见将帮助我们改进服务：\n\n{link}\n\n链接 {valid_days} 天内有效，仅可回答一次。",
            "en": "Dear {contact_name},\n\nThank you for your business. Please take a minute "
            "for our {survey}; your answer helps us improve:\n\n{link}\n\nThe link is valid "
            "for {valid_days} days and can be answered once.",
        },
        audience="customer",
    ),
    MailTemplate(
        "sla_reminder",
        "An SLA target of a ticket assigned to you (or your team) is due soon",
        subject={
            "zh": "SLA 提醒：工单 {number} 的{target_zh}将于 {due} 到期",
            "en": "SLA reminder: {target_en} of ticket {number} due {due}",
        },
        body={
            "zh": "工单 {number}（{priority}）：{subject}\n{target_zh}时限：{due}\n请及时处理。",
            "en": "Ticket {number} ({priority}): {subject}\n{target_en} due: {due}\n"
            "Please act before the deadline.",
        },
    ),
    MailTemplate(
        "sla_escalation",
        "An SLA target of a ticket of your team was breached (escalation to supervisors)",
        subject={
            "zh": "SLA 超时升级：工单 {number} {subject}",
            "en": "SLA breached: ticket {number} {subject}",
        },
        body={
            "zh": "工单 {number}（{priority}）的{target_zh}已超时（时限 {due}）。\n"
            "客户：{customer_name}\n请督办或重新分配。",
            "en": "The {target_en} target of ticket {number} ({priority}) was breached "
            "(due {due}).\nCustomer: {customer_name}\nPlease follow up or reassign.",
        },
    ),
    MailTemplate(
        "churn_alert",
        "A customer you manage shows a churn risk",
        subject={
            "zh": "流失预警：{customer_name}（风险分 {score}）",
            "en": "Churn risk: {customer_name} (score {score})",
        },
        body={
            "zh": "客户 {customer_name} 的流失风险分为 {score}，已为您创建挽留任务。"
            "请尽快联系客户。",
            "en": "{customer_name} has a churn risk score of {score}; an intervention task "
            "was created for you. Please get in touch soon.",
        },
    ),
]


async def _customer_name(customer_id: int) -> str:
    row = await Customer.select(Customer.name).where(Customer.id == customer_id).first()
    return row["name"] if row else ""


async def _ticket_contact(ticket_id: int | None) -> tuple[str, str] | None:
    """The contact who raised the ticket, if it has an address."""
    if ticket_id is None:
        return None
    row = (
        await Ticket.select(Ticket.contact.email, Ticket.contact.name)
        .where(Ticket.id == ticket_id)
        .first()
    )
    if row and row["contact.email"]:
        return row["contact.email"], row["contact.name"]
    return None


async def survey_invitation(event: Event) -> None:
    recipient = await _ticket_contact(event.data.get("ticket")) or await mail_recipient(
        event.data["customer"]
    )
    if recipient is None:
        return
    kehu = current()
    context = {
        "contact_name": recipient[1],
        "customer_name": await _customer_name(event.data["customer"]),
        "survey": SURVEYS.get(event.data.get("kind"), "survey"),
        "link": kehu.settings.public_url.rstrip("/") + event.data["path"],
        "valid_days": kehu.plugin_settings("tickets").survey_valid_days,
    }
    async with unit_of_work():
        await queue_mail(
            "survey_invitation",
            context=context,
            to_address=recipient[0],
            customer_id=event.data["customer"],
            dedup_key=f"{event.id}:survey",
        )


async def sla_step(event: Event, kind: str) -> None:
    ticket = await Ticket.select().where(Ticket.id == event.entity_id).first()
    if ticket is None:
        return
    target = TARGETS.get(event.data.get("target"), {"zh": "", "en": ""})
    due = (event.data.get("due_at") or "")[:16].replace("T", " ")
    context = {
        "number": ticket["number"],
        "subject": ticket["subject"],
        "priority": ticket["priority"],
        "target_zh": target["zh"],
        "target_en": target["en"],
        "due": f"{due} UTC" if due else "-",
        "customer_name": await _customer_name(ticket["customer"]),
    }
    async with unit_of_work():
        for user_id in event.data.get("notified") or []:
            await queue_mail(
                kind,
                context=context,
                to_user=user_id,
                customer_id=ticket["customer"],
                dedup_key=f"{event.id}:{user_id}",
            )


async def churn_alert(event: Event) -> None:
    owner = event.data.get("owner")
    if owner is None:
        return
    context = {
        "customer_name": await _customer_name(event.data["customer"]),
        "score": event.data.get("score"),
    }
    async with unit_of_work():
        await queue_mail(
            "churn_alert",
            context=context,
            to_user=owner,
            customer_id=event.data["customer"],
            dedup_key=f"{event.id}:{owner}",
        )


HANDLERS: dict[str, Any] = {
    "ticket_survey.created": survey_invitation,
    "ticket.sla_reminder": lambda e: sla_step(e, "sla_reminder"),
    "ticket.sla_breach": lambda e: sla_step(e, "sla_escalation"),
    "customer.churn_alert_raised": churn_alert,
}


async def on_event(event: Event) -> None:
    handler = HANDLERS.get(event.name)
    if handler is not None:
        await handler(event)

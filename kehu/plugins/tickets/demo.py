"""Deterministic demo tickets: every status, complaints, a few SLA breaches (escalated),
answered surveys and a churn alert. Idempotent: does nothing once demo tickets exist."""

from datetime import timedelta
from typing import Any

from kehu.core.permissions import Actor
from kehu.core.services import users as user_service
from kehu.core.services.common import now as _now
from kehu.core.tables import Customer
from kehu.plugins.tickets.services import churn, escalation, surveys, tickets
from kehu.plugins.tickets.tables import Ticket

# (subject, channel, phase, type, priority, final status, complaint category, days ago)
DEMO = [
    ("无法登录系统 Cannot log in", "phone", "after_sale", "repair", "urgent", "new", None, 0),
    (
        "发票抬头修改 Change invoice title",
        "email",
        "after_sale",
        "request",
        "normal",
        "open",
        None,
        1,
    ),
    (
        "价格与报价不一致 Price differs from quote",
        "chat",
        "in_sale",
        "complaint",
        "high",
        "pending_customer",
        "price_confusion",
        2,
    ),
    ("设备维修进度 Repair status", "phone", "after_sale", "repair", "high", "resolved", None, 3),
    (
        "研讨会报名确认 Seminar confirmation",
        "email",
        "care",
        "complaint",
        "normal",
        "closed",
        "event_confirmation_late",
        6,
    ),
    (
        "产品功能咨询 Feature question",
        "self_service",
        "pre_sale",
        "inquiry",
        "low",
        "closed",
        None,
        8,
    ),
    (
        "营销邮件退订无效 Unsubscribe ignored",
        "email",
        "care",
        "complaint",
        "normal",
        "open",
        "unwanted_marketing",
        9,
    ),
    (
        "维修请求未处理 Repair request ignored",
        "visit",
        "after_sale",
        "complaint",
        "urgent",
        "new",
        "repair_delay",
        5,
    ),
    ("培训安排 Training schedule", "phone", "after_sale", "request", "normal", "resolved", None, 4),
    ("合同条款咨询 Contract terms", "chat", "in_sale", "inquiry", "normal", "closed", None, 12),
]


async def load_demo_data(actor: Actor, users: dict[str, Any]) -> int:
    if await Ticket.exists():
        return 0
    customers = (
        await Customer.select(Customer.id, Customer.team)
        .where(Customer.archived_at.is_null())
        .order_by(Customer.id)
        .limit(len(DEMO))
    )
    if not customers:
        return 0
    agents = {}
    for name in ("zhaolei", "sunli"):
        if name in users:
            agents[name] = user_service.actor_for(await user_service.get_user(users[name]))
    base = _now()
    created = 0
    for i, (subject, channel, phase, kind, priority, status, category, days) in enumerate(DEMO):
        # the complaints pile up on one customer, which the churn check then flags
        customer = customers[min(2, len(customers) - 1) if category else i % len(customers)]
        start = base - timedelta(days=days, hours=2)
        agent = agents.get("zhaolei" if i % 2 == 0 else "sunli", actor)
        row = await tickets.create_ticket(
            actor,
            customer["id"],
            {
                "subject": subject,
                "channel": channel,
                "phase": phase,
                "type": kind,
                "priority": priority,
                "complaint_category": category,
                "assignee": agent.user_id,
                "body": "客户来电反映问题 Customer reported the issue.",
            },
            now=start,
        )
        created += 1
        if status == "new":
            continue
        replied = start + (timedelta(hours=30) if i % 3 == 0 else timedelta(minutes=40))
        await tickets.add_message(
            actor, row["id"], "您好，我们已收到并在处理 We are on it.", now=replied
        )
        if status == "open":
            continue
        await tickets.change_status(
            actor, row["id"], "pending_customer", now=replied + timedelta(hours=1)
        )
        if status == "pending_customer":
            continue
        if kind == "complaint":
            await tickets.update_complaint(
                actor,
                row["id"],
                {
                    "root_cause": "确认函模板发送延迟 Confirmation template delayed",
                    "corrective_action": "自动发送确认函 Automatic confirmations",
                },
                now=replied + timedelta(hours=2),
            )
        await tickets.add_message(
            actor, row["id"], "问题已解决 Fixed, please confirm.", now=replied + timedelta(hours=3)
        )
        await tickets.change_status(actor, row["id"], "resolved", now=replied + timedelta(hours=4))
        if status == "resolved":
            continue
        await tickets.change_status(actor, row["id"], "closed", now=replied + timedelta(hours=5))
        for kind_, score in (("csat", 5 if i % 2 else 2), ("nps", 9 if i % 2 else 5)):
            _, token = await surveys.create_survey(
                actor, customer["id"], kind_, ticket_id=row["id"]
            )
            await surveys.answer_survey(
                token, score, {"response_speed": min(score, 5), "attitude": 5}
            )
    await escalation.sla_check(base, actor=actor)  # reminders and escalations for late ones
    await churn.churn_check(base)  # an early-warning alert for the complaining customer
    return created

"""Deterministic demo data: teams, users of every role, customers across tiers, lifecycle
stages and regions, with contacts and activities. Plugins add theirs via ``kehu_demo_data``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from kehu.core.permissions import Actor
from kehu.core.services import activities, contacts, customers, users
from kehu.core.tables import Customer, Team, User

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

TEAMS = [
    ("North", "华北销售与服务团队 North China sales & service"),
    ("South", "华南销售与服务团队 South China sales & service"),
]
USERS = [  # username, display name, role, team
    ("admin", "Administrator", "admin", None),
    ("lihua", "李华 Li Hua", "manager", "North"),
    ("wangfang", "王芳 Wang Fang", "manager", "South"),
    ("zhangwei", "张伟 Zhang Wei", "sales", "North"),
    ("liuyang", "刘洋 Liu Yang", "sales", "North"),
    ("chenjing", "陈静 Chen Jing", "sales", "South"),
    ("zhaolei", "赵磊 Zhao Lei", "support", "North"),
    ("sunli", "孙丽 Sun Li", "support", "South"),
    ("zhoumin", "周敏 Zhou Min", "finance", None),
    ("guest", "Guest Viewer", "viewer", "North"),
]
COMPANIES = [
    ("上海星辰科技有限公司", "software", "East"),
    ("北京华信电子有限公司", "electronics", "North"),
    ("深圳创源智能制造有限公司", "manufacturing", "South"),
    ("杭州云帆网络有限公司", "software", "East"),
    ("广州恒达物流有限公司", "logistics", "South"),
    ("成都天府医疗器械有限公司", "healthcare", "West"),
    ("武汉长江新材料有限公司", "materials", "Central"),
    ("南京金陵教育科技有限公司", "education", "East"),
    ("天津渤海化工有限公司", "chemicals", "North"),
    ("西安秦川汽车配件有限公司", "automotive", "West"),
    ("苏州工业园精密机械有限公司", "manufacturing", "East"),
    ("青岛海润食品有限公司", "food", "North"),
    ("厦门鹭岛贸易有限公司", "trading", "South"),
    ("重庆山城建材有限公司", "construction", "West"),
    ("长沙湘江文化传媒有限公司", "media", "Central"),
    ("郑州中原农业科技有限公司", "agriculture", "Central"),
    ("Acme Robotics Ltd.", "manufacturing", "Overseas"),
    ("Nordlicht Energie GmbH", "energy", "Overseas"),
    ("Blue Harbor Logistics Inc.", "logistics", "Overseas"),
    ("Sakura Foods Co., Ltd.", "food", "Overseas"),
    ("大连远航船舶设备有限公司", "marine", "North"),
    ("宁波东海电器有限公司", "electronics", "East"),
    ("合肥科大讯联信息有限公司", "software", "East"),
    ("昆明春城旅游有限公司", "tourism", "West"),
    ("福州闽江纺织有限公司", "textiles", "South"),
    ("沈阳北方重工有限公司", "machinery", "North"),
    ("济南泉城医药有限公司", "healthcare", "North"),
    ("南宁绿城生态农业有限公司", "agriculture", "South"),
    ("石家庄燕赵钢构有限公司", "construction", "North"),
    ("贵阳数谷大数据有限公司", "software", "West"),
    ("张三 (个人客户)", "retail", "East"),
    ("李四 (个人客户)", "retail", "South"),
]
SOURCES = ["trade_show", "referral", "website", "social", "ads", "ground_promotion"]
STAGES = ["potential", "new", "active", "active", "active", "declining", "loyal", "lost"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1000+"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "涛"]
ROLES = ["decision_maker", "purchasing", "finance", "technical", "user"]
TITLES = {
    "decision_maker": "总经理 General Manager",
    "purchasing": "采购经理 Purchasing",
    "finance": "财务总监 CFO",
    "technical": "技术负责人 CTO",
    "user": "业务主管 Lead user",
}
ACTIVITY_KINDS = [
    ("call", "电话沟通需求 Needs call"),
    ("visit", "上门拜访 On-site visit"),
    ("email", "发送方案资料 Sent proposal"),
    ("meeting", "方案评审会议 Review"),
    ("demo", "产品演示 Product demo"),
    ("return_visit", "回访 Follow-up visit"),
    ("care", "节日问候 Holiday greeting"),
    ("negotiation", "商务谈判 Negotiation"),
]
OUTCOMES = [
    "客户有兴趣，约下周再谈",
    "需要技术方案细节",
    "已确认预算",
    "决策人出差，待跟进",
    "对价格有异议",
    "满意，考虑续约",
]


async def ensure_demo_users(actor: Actor) -> dict[str, int]:
    """Create the demo teams and users if missing; ``{username: id}``."""
    teams = {t["name"]: t["id"] for t in await Team.select(Team.id, Team.name)}
    for name, description in TEAMS:
        if name not in teams:
            teams[name] = (await users.create_team(actor, name, description))["id"]
    existing = {u["username"]: u["id"] for u in await User.select(User.id, User.username)}
    for username, display, role, team in USERS:
        if username not in existing:
            row = await users.create_user(
                actor,
                {
                    "username": username,
                    "display_name": display,
                    "role": role,
                    "team": teams.get(team) if team else None,
                    "email": f"{username}@demo.kehu.example",
                },
            )
            existing[username] = row["id"]
    return {u: existing[u] for u, *_ in USERS}


async def load_core_demo(actor: Actor, user_ids: dict[str, int]) -> int:
    """Customers, contacts and activities; skipped when customers already exist."""
    if await Customer.count() > 0:
        return 0
    rng = random.Random(20261123)
    today = datetime.combine(datetime.now(UTC).date(), time(9, 0), tzinfo=UTC)
    owners = ["zhangwei", "liuyang", "chenjing", "lihua", "wangfang"]
    for i, (name, industry, region) in enumerate(COMPANIES):
        owner = owners[i % len(owners)]
        person = "个人客户" in name
        phone = f"+86 13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
        customer = await customers.create_customer(
            actor,
            {
                "name": name,
                "kind": "person" if person else "organization",
                "industry": industry,
                "region": region,
                "size": "" if person else rng.choice(SIZES),
                "source": SOURCES[i % len(SOURCES)],
                "tier": ["gold", "silver", "bronze"][i % 3],
                "lifecycle_stage": STAGES[i % len(STAGES)],
                "email": f"contact{i + 1}@customer{i + 1}.example.com",
                "phone": phone,
                "tax_id": "" if person else f"91310000{rng.randint(10**9, 10**10 - 1)}",
                "credit_rating": rng.choice(["AAA", "AA", "A", "BBB", "BB"]),
                "marketing_consent": i % 4 != 0,
                "owner": user_ids[owner],
                "custom_fields": {"employees": rng.randint(5, 5000)} if not person else {},
            },
            tags=rng.sample(
                ["key_account", "vip", "renewal_2027", "referral", "overseas", "strategic"],
                k=rng.randint(0, 2),
            ),
            allow_duplicate=True,
        )
        contact_ids = []
        for j in range(0 if person else rng.randint(1, 3)):
            role = ROLES[(i + j) % len(ROLES)]
            contact = await contacts.create_contact(
                actor,
                customer["id"],
                {
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                    "title": TITLES[role],
                    "buying_role": role,
                    "is_primary": j == 0,
                    "email": f"p{j + 1}@customer{i + 1}.example.com",
                    "phone": f"+86 13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                },
            )
            contact_ids.append(contact["id"])
        for _ in range(rng.randint(2, 6)):
            kind, subject = rng.choice(ACTIVITY_KINDS)
            occurred = today - timedelta(days=rng.randint(1, 180), hours=rng.randint(0, 8))
            await activities.log_activity(
                actor,
                customer["id"],
                {
                    "kind": kind,
                    "subject": subject,
                    "outcome": rng.choice(OUTCOMES),
                    "occurred_at": occurred,
                    "owner": user_ids[owner],
                    "contact": rng.choice(contact_ids) if contact_ids else None,
                },
            )
        if i % 3 == 0:
            await activities.log_activity(
                actor,
                customer["id"],
                {
                    "kind": "task",
                    "status": "planned",
                    "subject": "准备季度回访 Quarterly review",
                    "due_at": today + timedelta(days=rng.randint(1, 30)),
                    "owner": user_ids[owner],
                },
            )
    return len(COMPANIES)


async def load_demo(kehu: Kehu, actor: Actor) -> dict[str, int]:
    """Users, then every enabled plugin's demo data in dependency order (idempotent)."""
    user_ids = await ensure_demo_users(actor)
    await kehu.acall("kehu_demo_data", actor=actor, users=user_ids)
    return user_ids

"""Leads: dedup against leads and customers, scoring, qualify/disqualify, conversion into
customer + contact + opportunity in one unit of work."""

from decimal import Decimal

import pytest

from kehu.core.errors import Forbidden, ValidationFailed
from kehu.core.tables import AuditLog, Contact, Customer
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services import conversion


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.errors[0].code


async def test_scoring_is_weighted_sum(kehu, system):
    weights = kehu.plugin_settings("pipeline").lead_scoring_weights
    assert weights["inquiries"] == Decimal("0.25")
    lead = await services.create_lead(
        system,
        {
            "name": "Wang Wu",
            "company": "Hengda Logistics",
            "source": "trade_show",
            "factors": {
                "visits": 80,
                "downloads": 40,
                "inquiries": 100,
                "size": 50,
                "industry": 30,
            },
        },
    )
    # 0.2·80 + 0.15·40 + 0.25·100 + 0.2·50 + 0.2·30 = 16 + 6 + 25 + 10 + 6 = 63
    assert lead["score"] == 63
    assert services.lead_score({"downloads": 3}) == 0  # 0.45 rounds half up to 0
    assert services.lead_score({"downloads": 10}) == 2  # 1.5 → 2 (half up, not banker's)
    updated = await services.update_lead(
        system, lead["id"], lead["version"], {"factors": {"inquiries": 40}}
    )
    assert updated["score"] == 10
    with pytest.raises(ValidationFailed) as exc:
        await services.create_lead(system, {"name": "X", "factors": {"mood": 5}})
    assert "Unknown scoring factor" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed):
        await services.create_lead(system, {"name": "X", "factors": {"visits": 101}})


async def test_dedup_against_leads_and_customers(kehu, system, make_user, make_customer):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="South")
    await make_customer("星辰科技有限公司", owner=other, email="info@xingchen.cn")
    first = await services.create_lead(
        rep.actor, {"name": "Li", "company": "Blue Harbor Inc.", "phone": "13800138000"}
    )
    with pytest.raises(ValidationFailed) as exc:  # same company, normalised
        await services.create_lead(rep.actor, {"name": "Zhao", "company": "blue harbor"})
    assert _code(exc) == "DUPLICATE" and f"lead {first['id']}" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed) as exc:  # same phone in another format
        await services.create_lead(rep.actor, {"name": "Zhao", "phone": "+86 138 0013 8000"})
    assert _code(exc) == "DUPLICATE"
    with pytest.raises(ValidationFailed) as exc:  # matches another owner's customer
        await services.create_lead(rep.actor, {"name": "Chen", "company": "星辰科技"})
    assert "another owner" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed):
        await services.create_lead(rep.actor, {"name": "Chen", "email": "INFO@xingchen.cn"})
    dup = await services.create_lead(
        rep.actor, {"name": "Zhao", "company": "blue harbor"}, allow_duplicate=True
    )
    assert dup["name_key"] == first["name_key"] == "blueharbor"
    # disqualified leads no longer block
    await services.disqualify_lead(rep.actor, first["id"], "No budget")
    await services.disqualify_lead(rep.actor, dup["id"], "Duplicate")
    assert await services.create_lead(rep.actor, {"name": "Z", "company": "Blue Harbor"})


async def test_qualify_disqualify_and_permissions(kehu, make_user):
    rep = await make_user("sales")
    support = await make_user("support")
    lead = await services.create_lead(rep.actor, {"name": "Li", "company": "Acme"})
    with pytest.raises(Forbidden):
        await services.create_lead(support.actor, {"name": "X"})
    with pytest.raises(ValidationFailed) as exc:
        await services.disqualify_lead(rep.actor, lead["id"], " ")
    assert _code(exc) == "REQUIRED"
    q = await services.qualify_lead(rep.actor, lead["id"])
    assert q["status"] == "qualified"
    d = await services.disqualify_lead(rep.actor, lead["id"], "No budget")
    assert (d["status"], d["disqualify_reason"]) == ("disqualified", "No budget")
    with pytest.raises(ValidationFailed) as exc:
        await services.qualify_lead(rep.actor, lead["id"])
    assert _code(exc) == "LEAD_CLOSED"


async def test_convert_creates_customer_contact_opportunity(kehu, make_user, make_pipeline):
    rep = await make_user("sales", team="North")
    pipeline, stages = await make_pipeline("linear")
    lead = await services.create_lead(
        rep.actor,
        {
            "name": "Wang Wu",
            "company": "Hengda Logistics",
            "email": "wang@hengda.cn",
            "title": "CTO",
            "source": "referral",
        },
    )
    result = await services.convert_lead(rep.actor, lead["id"])
    assert not result.reused_customer
    assert (result.customer["name"], result.customer["owner"], result.customer["source"]) == (
        "Hengda Logistics",
        rep.id,
        "referral",
    )
    assert (result.contact["name"], result.contact["email"], result.contact["is_primary"]) == (
        "Wang Wu",
        "wang@hengda.cn",
        True,
    )
    opp = result.opportunity
    assert (opp["customer"], opp["pipeline"], opp["lead"], opp["owner"]) == (
        result.customer["id"],
        pipeline["id"],
        lead["id"],
        rep.id,
    )
    assert opp["stage"] == stages["Prospecting"]["id"]
    assert (result.lead["status"], result.lead["customer"], result.lead["opportunity_id"]) == (
        "converted",
        result.customer["id"],
        opp["id"],
    )
    with pytest.raises(ValidationFailed) as exc:
        await services.convert_lead(rep.actor, lead["id"])
    assert _code(exc) == "LEAD_CLOSED"


async def test_convert_reuses_matching_customer(kehu, make_user, make_customer, make_pipeline):
    rep = await make_user("sales", team="North")
    await make_pipeline("linear")
    existing = await make_customer("Hengda Logistics Co., Ltd.", owner=rep)
    lead = await services.create_lead(rep.actor, {"name": "Wang", "company": "Other name"})
    await services.update_lead(
        rep.actor, lead["id"], lead["version"], {"company": "HENGDA LOGISTICS"}
    )
    result = await services.convert_lead(rep.actor, lead["id"])
    assert result.reused_customer and result.customer["id"] == existing["id"]
    assert result.contact["is_primary"] is False
    assert await Customer.count() == 1


async def test_convert_refuses_invisible_match(kehu, make_user, make_customer, make_pipeline):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="South")
    await make_pipeline("linear")
    lead = await services.create_lead(rep.actor, {"name": "Wang", "company": "Hengda"})
    await make_customer("Hengda", owner=other)
    with pytest.raises(ValidationFailed) as exc:
        await services.convert_lead(rep.actor, lead["id"])
    assert _code(exc) == "DUPLICATE"


async def test_conversion_is_atomic(kehu, make_user, make_pipeline, monkeypatch):
    rep = await make_user("sales", team="North")
    await make_pipeline("linear")
    lead = await services.create_lead(
        rep.actor, {"name": "Wang", "company": "Hengda", "email": "wang@hengda.cn"}
    )
    audit_before = await AuditLog.count()
    real = services.create_opportunity

    async def half_way(*args, **kwargs):
        await real(*args, **kwargs)  # customer, contact and opportunity are written...
        raise RuntimeError("disk full")  # ...then the conversion fails

    monkeypatch.setattr(conversion, "create_opportunity", half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        await services.convert_lead(rep.actor, lead["id"])
    assert await Customer.count() == 0
    assert await Contact.count() == 0
    assert await t.Opportunity.count() == 0
    assert await t.StageChange.count() == 0
    assert await AuditLog.count() == audit_before
    after = await services.get_lead(rep.actor, lead["id"])
    assert (after["status"], after["customer"], after["version"]) == ("new", None, 1)

    monkeypatch.setattr(conversion, "create_opportunity", real)
    result = await services.convert_lead(rep.actor, lead["id"])  # and it works afterwards
    assert result.lead["status"] == "converted"


async def test_concurrent_conversions_convert_once(kehu, make_user, make_pipeline):
    import asyncio

    rep = await make_user("sales", team="North")
    await make_pipeline("linear")
    lead = await services.create_lead(rep.actor, {"name": "Wang", "company": "Hengda"})
    results = await asyncio.gather(
        *[services.convert_lead(rep.actor, lead["id"]) for _ in range(2)], return_exceptions=True
    )
    done = [r for r in results if isinstance(r, services.Conversion)]
    assert len(done) == 1, results
    assert all(
        type(r).__name__ in ("Conflict", "ValidationFailed") for r in results if r not in done
    )
    assert await Customer.count() == 1
    assert await t.Opportunity.count() == 1

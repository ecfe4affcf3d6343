"""Ticket and satisfaction metrics of the reporting registry on a small hand-made data set:
values computed by hand, grouping by dimensions and period, visibility (a support agent of
another team sees none of North's tickets or answers), GraphQL, and the invariant that
per-group counts add up to the ungrouped total."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.services import customers
from kehu.plugins.reporting.services.registry import MetricQuery, registry, run
from kehu.plugins.tickets.services import surveys, tickets

from .conftest import MON, SH, H

DEC = datetime(2026, 12, 1, 10, tzinfo=SH)  # a Tuesday, the next month (UTC: 2026-12-01 02:00)
SPAN = {"start": datetime(2026, 11, 1, tzinfo=SH), "end": datetime(2027, 1, 1, tzinfo=SH)}
D = Decimal


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["tickets", "reporting"]


async def _customer(system: Any, name: str, owner: Any, **data: Any) -> dict[str, Any]:
    return await customers.create_customer(
        system,
        {"name": name, "owner": owner.id, "team": owner.team_id, **data},
        allow_duplicate=True,
    )


@pytest.fixture
async def shop(kehu, make_user, system) -> dict[str, Any]:
    """Two teams' tickets (created / first reply / resolved, wall clock from creation):

    ACME (North, East, gold, retail)
      T1 complaint slow_response, MON, reply +12h, still open
      T2 inquiry, MON, reply +6h, resolved +12h
      T3 repair, DEC, reply +18h, resolved +48h
    Blue (South, West, silver, energy)
      T4 complaint repair_delay, MON, new (no reply)
      T5 inquiry, MON, reply +36h, resolved +60h

    Surveys: ACME CSAT 5, 4 (November), 2 (December); NPS 10, 9, 7, 3 (November).
             Blue CSAT 3; NPS 6, 10 (November).
    """
    north = await make_user("support", team="North")
    south = await make_user("support", team="South")
    admin = await make_user("admin")
    acme = await _customer(system, "ACME", north, region="East", tier="gold", industry="retail")
    blue = await _customer(system, "Blue", south, region="West", tier="silver", industry="energy")
    plan = [  # customer, type, category, created, reply after, resolved after
        (acme, "complaint", "slow_response", MON, 12 * H, None),
        (acme, "inquiry", None, MON, 6 * H, 12 * H),
        (acme, "repair", None, DEC, 18 * H, 48 * H),
        (blue, "complaint", "repair_delay", MON, None, None),
        (blue, "inquiry", None, MON, 36 * H, 60 * H),
    ]
    for customer, kind, category, created, reply, resolve in plan:
        t = await tickets.create_ticket(
            admin.actor,
            customer["id"],
            {"subject": "x", "channel": "phone", "type": kind, "complaint_category": category},
            now=created,
        )
        if reply is not None:
            await tickets.add_message(admin.actor, t["id"], "on it", now=created + reply)
        if resolve is not None:
            await tickets.change_status(admin.actor, t["id"], "resolved", now=created + resolve)
    answers = [
        (acme, "csat", 5, MON),
        (acme, "csat", 4, MON),
        (acme, "csat", 2, DEC),
        (acme, "nps", 10, MON),
        (acme, "nps", 9, MON),
        (acme, "nps", 7, MON),
        (acme, "nps", 3, MON),
        (blue, "csat", 3, MON),
        (blue, "nps", 6, MON),
        (blue, "nps", 10, MON),
    ]
    for customer, kind, score, when in answers:
        _, token = await surveys.create_survey(system, customer["id"], kind)
        await surveys.answer_survey(token, score, now=when + H)
    east = await make_user("support", team="East")  # a team without tickets or customers
    return {"north": north, "south": south, "admin": admin, "east": east}


async def rows_of(
    kehu: Any, name: str, user: Any, dims: tuple[str, ...] = (), timed: bool = True, **kw: Any
) -> dict[tuple[str, ...], tuple]:
    """``{dimension values: (value, measures)}`` of a metric run as ``user``."""
    query = MetricQuery(user.actor, dims, **({**SPAN, **kw} if timed else kw))
    found = await run(registry(kehu)[name], query)
    return {tuple(r.dimensions.values()): (r.value, r.measures) for r in found}


async def values_of(
    kehu: Any, name: str, user: Any, dims: tuple[str, ...] = (), **kw: Any
) -> dict[tuple[str, ...], Decimal]:
    return {k: v for k, (v, _) in (await rows_of(kehu, name, user, dims, **kw)).items()}


async def test_created(kehu, shop):
    admin, north = shop["admin"], shop["north"]
    assert await values_of(kehu, "tickets.created", admin) == {(): 5}
    # North: T1, T2 (November), T3 (December); South: T4, T5
    assert await values_of(kehu, "tickets.created", admin, ("team", "period")) == {
        ("North", "2026-11"): 2,
        ("North", "2026-12"): 1,
        ("South", "2026-11"): 2,
    }
    assert await values_of(kehu, "tickets.created", admin, ("region", "tier", "industry")) == {
        ("East", "gold", "retail"): 3,
        ("West", "silver", "energy"): 2,
    }
    assert await values_of(kehu, "tickets.created", admin, ("assignee",)) == {
        (north.username,): 3,
        (shop["south"].username,): 2,
    }
    assert await values_of(kehu, "tickets.created", admin, filters={"team": "South"}) == {(): 2}
    # December only
    assert await values_of(kehu, "tickets.created", admin, start=DEC - H) == {(): 1}


async def test_created_visibility(kehu, shop):
    assert await values_of(kehu, "tickets.created", shop["south"], ("team",)) == {("South",): 2}
    assert await values_of(kehu, "tickets.created", shop["south"], ("region",)) == {("West",): 2}
    assert await values_of(kehu, "tickets.created", shop["east"]) == {(): 0}


async def test_backlog(kehu, shop):
    # open now: T1 (open) and T4 (new); not time-based
    assert await values_of(kehu, "tickets.backlog", shop["admin"], timed=False) == {(): 2}
    assert await values_of(
        kehu, "tickets.backlog", shop["admin"], ("team", "status"), timed=False
    ) == {("North", "open"): 1, ("South", "new"): 1}


async def test_backlog_visibility(kehu, shop):
    assert await values_of(kehu, "tickets.backlog", shop["south"], ("team",), timed=False) == {
        ("South",): 1
    }
    assert await values_of(kehu, "tickets.backlog", shop["east"], timed=False) == {(): 0}


async def test_complaints(kehu, shop):
    assert await values_of(
        kehu, "tickets.complaints", shop["admin"], ("complaint_category", "team")
    ) == {("repair_delay", "South"): 1, ("slow_response", "North"): 1}


async def test_complaints_visibility(kehu, shop):
    assert await values_of(kehu, "tickets.complaints", shop["south"], ("complaint_category",)) == {
        ("repair_delay",): 1
    }


async def test_resolution_rate(kehu, shop):
    admin = shop["admin"]
    # resolved T2, T3, T5 of 5 = 60 %
    assert await rows_of(kehu, "tickets.resolution_rate", admin) == {
        (): (D("60.00"), {"resolved": 3, "total": 5})
    }
    # North 2 of 3 = 66.666… → 66.67; South 1 of 2 = 50
    assert await values_of(kehu, "tickets.resolution_rate", admin, ("team",)) == {
        ("North",): D("66.67"),
        ("South",): D("50.00"),
    }
    # North November: T2 of T1, T2 = 50; December: T3 of T3 = 100
    assert await values_of(
        kehu, "tickets.resolution_rate", admin, ("period",), filters={"team": "North"}
    ) == {("2026-11",): D("50.00"), ("2026-12",): D("100.00")}


async def test_resolution_rate_visibility(kehu, shop):
    assert await rows_of(kehu, "tickets.resolution_rate", shop["south"]) == {
        (): (D("50.00"), {"resolved": 1, "total": 2})
    }
    # nothing visible: value 0, both counts 0 (undefined)
    assert await rows_of(kehu, "tickets.resolution_rate", shop["east"]) == {
        (): (D("0.00"), {"resolved": 0, "total": 0})
    }


async def test_first_response_days(kehu, shop):
    admin = shop["admin"]
    # replies after 12h, 6h, 18h, 36h = 72h / 4 = 18h = 0.75 days (T4 has none)
    assert await rows_of(kehu, "tickets.first_response_days", admin) == {
        (): (D("0.75"), {"tickets": 4})
    }
    # North (12 + 6 + 18) / 3 = 12h = 0.5; South 36h = 1.5
    assert await values_of(kehu, "tickets.first_response_days", admin, ("team",)) == {
        ("North",): D("0.50"),
        ("South",): D("1.50"),
    }
    # North November (12 + 6) / 2 = 9h = 0.375 → 0.38 (half up); December 18h = 0.75
    assert await values_of(
        kehu, "tickets.first_response_days", admin, ("team", "period"), filters={"team": "North"}
    ) == {("North", "2026-11"): D("0.38"), ("North", "2026-12"): D("0.75")}


async def test_first_response_days_visibility(kehu, shop):
    assert await rows_of(kehu, "tickets.first_response_days", shop["south"], ("team",)) == {
        ("South",): (D("1.50"), {"tickets": 1})
    }


async def test_resolution_days(kehu, shop):
    admin = shop["admin"]
    # 12h + 48h + 60h = 120h / 3 = 40h = 1.666… days → 1.67
    assert await rows_of(kehu, "tickets.resolution_days", admin) == {
        (): (D("1.67"), {"tickets": 3})
    }
    # North (12 + 48) / 2 = 30h = 1.25; South 60h = 2.5; by region the same split
    assert await values_of(kehu, "tickets.resolution_days", admin, ("region",)) == {
        ("East",): D("1.25"),
        ("West",): D("2.50"),
    }


async def test_resolution_days_visibility(kehu, shop):
    assert await values_of(kehu, "tickets.resolution_days", shop["south"]) == {(): D("2.50")}
    assert await values_of(kehu, "tickets.resolution_days", shop["east"]) == {(): D("0.00")}


async def test_csat(kehu, shop):
    admin = shop["admin"]
    # satisfied (≥ 4): 5, 4 of 5, 4, 2, 3 → 2 / 4 = 50 %
    assert await rows_of(kehu, "satisfaction.csat", admin) == {
        (): (D("50.00"), {"satisfied": 2, "answers": 4})
    }
    # North 2 / 3 = 66.67, South 0 / 1; North by month: November 2 / 2, December 0 / 1
    assert await values_of(kehu, "satisfaction.csat", admin, ("team",)) == {
        ("North",): D("66.67"),
        ("South",): D("0.00"),
    }
    assert await values_of(
        kehu, "satisfaction.csat", admin, ("owner", "period"), filters={"tier": "gold"}
    ) == {
        (shop["north"].username, "2026-11"): D("100.00"),
        (shop["north"].username, "2026-12"): D("0.00"),
    }


async def test_csat_visibility(kehu, shop):
    assert await rows_of(kehu, "satisfaction.csat", shop["south"]) == {
        (): (D("0.00"), {"satisfied": 0, "answers": 1})
    }
    assert await rows_of(kehu, "satisfaction.csat", shop["east"]) == {
        (): (D("0.00"), {"satisfied": 0, "answers": 0})
    }


async def test_nps(kehu, shop):
    admin = shop["admin"]
    # promoters 10, 9, 10 = 3; detractors 3, 6 = 2; 6 answers → (3 − 2) / 6 = 16.67
    assert await rows_of(kehu, "satisfaction.nps", admin) == {
        (): (D("16.67"), {"promoters": 3, "detractors": 2, "answers": 6})
    }
    # East (ACME): (2 − 1) / 4 = 25; West (Blue): (1 − 1) / 2 = 0
    assert await values_of(kehu, "satisfaction.nps", admin, ("region", "industry")) == {
        ("East", "retail"): D("25.00"),
        ("West", "energy"): D("0.00"),
    }


async def test_nps_visibility(kehu, shop):
    assert await rows_of(kehu, "satisfaction.nps", shop["south"], ("team",)) == {
        ("South",): (D("0.00"), {"promoters": 1, "detractors": 1, "answers": 2})
    }


GQL = """query($name: String!, $dims: [String!], $start: DateTime, $end: DateTime) {
  metric(name: $name, dimensions: $dims, from: $start, to: $end) {
    rows { dimensions { name value } value measures { name value } } } }"""


@pytest.mark.parametrize(
    ("name", "north", "south"),
    [
        ("tickets.created", "3", "2"),
        ("tickets.backlog", "1", "1"),
        ("tickets.complaints", "1", "1"),
        ("tickets.resolution_rate", "66.67", "50.00"),
        ("tickets.first_response_days", "0.50", "1.50"),
        ("tickets.resolution_days", "1.25", "2.50"),
        ("satisfaction.csat", "66.67", "0.00"),
        ("satisfaction.nps", "25.00", "0.00"),
    ],
)
async def test_every_metric_over_graphql(kehu, shop, gql, name, north, south):
    """By team: the admin sees both teams, the South agent only South."""
    timed = name != "tickets.backlog"
    variables = {
        "name": name,
        "dims": ["team"],
        **({k: v.isoformat() for k, v in SPAN.items()} if timed else {}),
    }

    async def by_team(user: Any) -> dict[str, str]:
        body = await gql(GQL, variables, user=user)
        return {r["dimensions"][0]["value"]: r["value"] for r in body["data"]["metric"]["rows"]}

    assert await by_team(shop["admin"]) == {"North": north, "South": south}
    assert await by_team(shop["south"]) == {"South": south}


DIMS = st.lists(
    st.sampled_from(["team", "region", "type", "status", "period", "assignee"]),
    unique=True,
    max_size=3,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dims=DIMS, granularity=st.sampled_from(["day", "month", "quarter", "year"]))
async def test_groups_add_up_to_the_total(kehu, shop, dims, granularity):
    """Counts and the measures of ratios summed over any grouping equal the ungrouped ones."""
    admin = shop["admin"]
    for name in ("tickets.created", "tickets.resolution_rate", "tickets.first_response_days"):
        [(total, measures)] = (await rows_of(kehu, name, admin)).values()
        groups = (await rows_of(kehu, name, admin, tuple(dims), granularity=granularity)).values()
        if not measures:
            assert sum(v for v, _ in groups) == total
        for key in measures:
            assert sum(m[key] for _, m in groups) == measures[key]

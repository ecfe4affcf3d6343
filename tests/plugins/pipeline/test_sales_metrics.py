"""Sales metrics of the pipeline (win rate, deal cycle, velocity, weighted forecast, forecast
vs actual, funnel cohorts) on small fixtures with hand-computed values, their visibility, and
invariants between grouped and ungrouped figures."""

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.services import customers
from kehu.core.testing import truncate_all
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.reporting import services as reporting

QUERY = """query($name: String!, $d: [String!], $f: [MetricFilterInput!], $s: DateTime,
  $e: DateTime, $g: Granularity) {
  metric(name: $name, dimensions: $d, filters: $f, from: $s, to: $e, granularity: $g) {
    rows { dimensions { name value } value currency measures { name value } } } }"""
JAN, MAR, APR, JUL = (datetime(2025, m, 1, tzinfo=UTC) for m in (1, 3, 4, 7))
_names = itertools.count(1)


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["pipeline", "reporting"]


def at(month: int, day: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@dataclass
class World:
    """Team North: reps ``n1`` (customer in East) and ``n2`` (West) and their manager;
    team South: rep ``s1`` (East). One non-linear pipeline ("online")."""

    n1: Any
    n2: Any
    s1: Any
    manager: Any
    admin: Any
    flow: dict
    stages: dict[str, int]
    customer: dict[int, int]


@pytest.fixture
async def world(kehu, system, make_user) -> World:
    n1 = await make_user("sales", team="North", username="n1")
    n2 = await make_user("sales", team="North", username="n2")
    s1 = await make_user("sales", team="South", username="s1")
    manager = await make_user("manager", team="North", username="northlead")
    admin = await make_user("admin", username="boss")
    flow = await services.create_pipeline(system, "Web", template="online")
    stages = {
        s["name"]: s["id"] for s in (await services.stages_by_pipeline([flow["id"]]))[flow["id"]]
    }
    customer = {}
    for rep, region in ((n1, "East"), (n2, "West"), (s1, "East")):
        row = await customers.create_customer(
            system, {"name": f"{rep.username} Co", "owner": rep.id, "region": region}
        )
        customer[rep.id] = row["id"]
    return World(n1, n2, s1, manager, admin, flow, stages, customer)


async def deal(
    w: World,
    rep: Any,
    amount: str,
    *,
    created: datetime,
    currency: str = "CNY",
    outcome: str | None = None,
    closed: datetime | None = None,
    close_date: date | None = None,
    probability: int | None = None,
    category: str | None = None,
    moves: tuple[str, ...] = (),
) -> dict:
    """A deal of ``rep`` moved through ``moves``, won or lost, with backdated times (the
    cycle is ``closed − created``)."""
    system = system_actor()
    data: dict[str, Any] = {
        "name": f"D{next(_names)}",
        "customer": w.customer[rep.id],
        "pipeline": w.flow["id"],
        "owner": rep.id,
        "amount": Money.from_decimal(amount, currency),
    }
    for key, value in (
        ("expected_close_date", close_date),
        ("probability", probability),
        ("forecast_category", category),
    ):
        if value is not None:
            data[key] = value
    opp = await services.create_opportunity(system, data)
    for stage in moves:
        opp = await services.move_stage(system, opp["id"], w.stages[stage])
    if outcome == "won":
        opp = await services.win_opportunity(system, opp["id"])
    elif outcome == "lost":
        opp = await services.lose_opportunity(system, opp["id"], "price")
    o = t.Opportunity
    values: dict[Any, Any] = {o.created_at: created}
    if closed is not None:
        values[o.closed_at] = closed
        values[o.cycle_seconds] = int((closed - created).total_seconds())
    await o.update(values).where(o.id == opp["id"])
    return opp


async def closed_deals(w: World) -> None:
    """Won and lost deals of early 2025 (cycle days in brackets) and the open ones.

    n1: won 1,000.00 CNY Jan 10 [30], won 3,000.00 CNY Feb 5 [20], lost CNY Jan 20;
        open 1,000.05 CNY (10 %, closes Apr 10) and 0.15 CNY (10 %, closes Apr 1)
    n2: won 200.00 USD Jan 15 [10], lost CNY Feb 10 and Feb 11;
        open 500.00 USD (50 %, commit, closes May 15)
    s1: won 500.00 CNY Feb 20 [10], lost CNY Mar 1 (outside [Jan, Mar));
        open 800.00 CNY (25 %, closes Jul 1, outside Q2)
    n1 also won 700.00 CNY on May 10 [10] (outside [Jan, Mar))."""
    n1, n2, s1 = w.n1, w.n2, w.s1
    await deal(w, n1, "1000", created=at(12, 11, 2024), outcome="won", closed=at(1, 10))
    await deal(w, n1, "3000", created=at(1, 16), outcome="won", closed=at(2, 5))
    await deal(w, n1, "90", created=at(1, 2), outcome="lost", closed=at(1, 20))
    await deal(w, n1, "1000.05", created=at(3, 1), close_date=date(2025, 4, 10), probability=10)
    await deal(w, n1, "0.15", created=at(3, 1), close_date=date(2025, 4, 1), probability=10)
    await deal(w, n1, "700", created=at(4, 30), outcome="won", closed=at(5, 10))
    await deal(w, n2, "200", currency="USD", created=at(1, 5), outcome="won", closed=at(1, 15))
    await deal(w, n2, "40", created=at(1, 2), outcome="lost", closed=at(2, 10))
    await deal(w, n2, "50", created=at(1, 2), outcome="lost", closed=at(2, 11))
    await deal(
        w,
        n2,
        "500",
        currency="USD",
        created=at(3, 2),
        close_date=date(2025, 5, 15),
        probability=50,
        category="commit",
    )
    await deal(w, s1, "500", created=at(2, 10), outcome="won", closed=at(2, 20))
    await deal(w, s1, "60", created=at(2, 1), outcome="lost", closed=at(3, 1))
    await deal(w, s1, "800", created=at(3, 3), close_date=date(2025, 7, 1), probability=25)


async def figures(user: Any, name: str, *dims: str, **query: Any) -> dict[tuple, tuple]:
    """``{(dimension values..., currency): (value, measures)}`` through the service."""
    _, rows = await reporting.run_metric(user.actor, name, dimensions=dims, **query)
    out = {}
    for row in rows:
        key = (*row.dimensions.values(), row.currency)
        assert key not in out, f"two rows for {key}"
        out[key] = (row.value, row.measures)
    return out


def values(found: dict[tuple, tuple]) -> dict[tuple, Decimal]:
    return {key: value for key, (value, _) in found.items()}


async def gql_rows(gql: Any, user: Any, name: str, dims: list[str], **variables: Any) -> dict:
    """``{(dimension values..., currency): (value, {measure: value})}`` through GraphQL."""
    body = await gql(QUERY, {"name": name, "d": dims, **variables}, user=user)
    out = {}
    for row in body["data"]["metric"]["rows"]:
        key = (*(d["value"] for d in row["dimensions"]), row["currency"])
        out[key] = (
            Decimal(row["value"]),
            {
                m["name"]: None if m["value"] is None else Decimal(m["value"])
                for m in row["measures"]
            },
        )
    return out


# -- win rate --------------------------------------------------------------------------------


async def test_win_rate_by_owner_team_region_and_month(world, gql):
    await closed_deals(world)
    window = {"s": JAN.isoformat(), "e": MAR.isoformat()}
    rows = await gql_rows(gql, world.admin, "pipeline.win_rate", ["owner"], **window)
    # n1: 2 won, 1 lost → 66.67; n2: 1 won, 2 lost → 33.33; s1: 1 won (its loss is Mar 1)
    assert rows == {
        ("n1", None): (Decimal("66.67"), {"won": 2, "lost": 1}),
        ("n2", None): (Decimal("33.33"), {"won": 1, "lost": 2}),
        ("s1", None): (Decimal("100.00"), {"won": 1, "lost": 0}),
    }
    kw = {"start": JAN, "end": MAR}
    # North: 3 won ÷ 6 closed = 50.00; South: 1 ÷ 1
    assert values(await figures(world.admin, "pipeline.win_rate", "team", **kw)) == {
        ("North", None): Decimal("50.00"),
        ("South", None): Decimal("100.00"),
    }
    # East (n1 and s1): 3 ÷ 4 = 75.00; West (n2): 1 ÷ 3 = 33.33
    assert values(await figures(world.admin, "pipeline.win_rate", "region", **kw)) == {
        ("East", None): Decimal("75.00"),
        ("West", None): Decimal("33.33"),
    }
    # January: won n1 Jan 10 + n2 Jan 15, lost n1 Jan 20 → 2 ÷ 3 = 66.67;
    # February: won n1 Feb 5 + s1 Feb 20, lost n2 Feb 10 + 11 → 2 ÷ 4 = 50.00
    assert values(await figures(world.admin, "pipeline.win_rate", "period", **kw)) == {
        ("2025-01", None): Decimal("66.67"),
        ("2025-02", None): Decimal("50.00"),
    }
    # the period filter keeps February's row (labels at the query's granularity)
    assert values(
        await figures(world.admin, "pipeline.win_rate", "owner", filters={"period": "2025-02"})
    ) == {
        ("n1", None): Decimal("100.00"),
        ("n2", None): Decimal("0.00"),
        ("s1", None): Decimal("100.00"),
    }
    # everything: won 5 (incl. May), lost 4 (incl. Mar 1) → 5 ÷ 9 = 55.56
    assert values(await figures(world.admin, "pipeline.win_rate")) == {(None,): Decimal("55.56")}


async def test_win_rate_visibility(world, gql):
    await closed_deals(world)
    kw = {"start": JAN, "end": MAR}
    # a rep of the other team counts only their own deals: 1 won, 0 lost
    rows = await gql_rows(
        gql, world.s1, "pipeline.win_rate", [], s=JAN.isoformat(), e=MAR.isoformat()
    )
    assert rows == {(None,): (Decimal("100.00"), {"won": 1, "lost": 0})}
    assert list(await figures(world.s1, "pipeline.win_rate", "owner", **kw)) == [("s1", None)]
    # North's manager sees the team's two reps, not s1
    assert list(await figures(world.manager, "pipeline.win_rate", "owner", **kw)) == [
        ("n1", None),
        ("n2", None),
    ]
    # nobody closed anything in 2024: no row rather than a 0 % over nothing
    assert (
        await figures(
            world.admin, "pipeline.win_rate", start=datetime(2024, 1, 1, tzinfo=UTC), end=JAN
        )
        == {}
    )


# -- deal cycle -----------------------------------------------------------------------------


async def test_deal_cycle_by_owner_and_month(world, gql):
    await closed_deals(world)
    rows = await gql_rows(
        gql, world.admin, "pipeline.deal_cycle", ["owner"], s=JAN.isoformat(), e=MAR.isoformat()
    )
    # n1: (30 + 20) / 2 = 25.00; n2: 10; s1: 10 (lost deals have no win cycle)
    assert rows == {
        ("n1", None): (Decimal("25.00"), {"deals": 2}),
        ("n2", None): (Decimal("10.00"), {"deals": 1}),
        ("s1", None): (Decimal("10.00"), {"deals": 1}),
    }
    kw = {"start": JAN, "end": MAR}
    # January: (30 + 10) / 2 = 20.00; February: (20 + 10) / 2 = 15.00
    assert values(await figures(world.admin, "pipeline.deal_cycle", "period", **kw)) == {
        ("2025-01", None): Decimal("20.00"),
        ("2025-02", None): Decimal("15.00"),
    }
    # all time: (30 + 20 + 10 + 10 + 10) / 5 = 16.00
    assert values(await figures(world.admin, "pipeline.deal_cycle")) == {(None,): Decimal("16.00")}
    # the other team's rep: only s1's own win
    assert values(await figures(world.s1, "pipeline.deal_cycle", "team", **kw)) == {
        ("South", None): Decimal("10.00")
    }
    assert await figures(world.s1, "pipeline.deal_cycle", "owner", filters={"owner": "n1"}) == {}


async def test_deal_cycle_compare_is_the_textbook_example(world, gql):
    """Cycle 30 → 25 days: (25 − 30) / 30 = −16.67 %."""
    for created, closed in ((at(1, 1), at(1, 31)), (at(2, 1), at(3, 3))):  # 30 and 30 days
        await deal(world, world.n1, "100", created=created, outcome="won", closed=closed)
    for created, closed in ((at(4, 1), at(4, 21)), (at(5, 1), at(5, 31))):  # 20 and 30 days
        await deal(world, world.n1, "100", created=created, outcome="won", closed=closed)
    body = await gql(
        """query($b: PeriodInput!, $a: PeriodInput!) {
        compare(name: "pipeline.deal_cycle", before: $b, after: $a) {
          before after effect } }""",
        {
            "b": {"from": JAN.isoformat(), "to": APR.isoformat()},
            "a": {"from": APR.isoformat(), "to": JUL.isoformat()},
        },
        user=world.admin,
    )
    [row] = body["data"]["compare"]
    assert (Decimal(row["before"]), Decimal(row["after"]), Decimal(row["effect"])) == (
        Decimal("30.00"),
        Decimal("25.00"),
        Decimal("-0.1667"),
    )


# -- velocity -------------------------------------------------------------------------------


async def test_velocity_by_owner_and_team(world, gql):
    await closed_deals(world)
    rows = await gql_rows(
        gql, world.admin, "pipeline.velocity", ["owner"], s=JAN.isoformat(), e=MAR.isoformat()
    )
    # n1 CNY: 2 open × (4,000.00 ÷ 2 won) × (2 ÷ 3 closed) ÷ ((30 + 20) ÷ 2 days)
    #   = 2 × 2,000 × 2/3 ÷ 25 = 106.666… → 106.67
    # n2 USD: 1 open × 200.00 × 1 ÷ 10 = 20.00 (n2's CNY has no win: no velocity, no row)
    # s1 CNY: 1 open × 500.00 × 1 ÷ 10 = 50.00
    assert rows == {
        ("n1", "CNY"): (
            Decimal("106.67"),
            {
                "open_deals": 2,
                "average_won_amount": 2000,
                "win_rate": Decimal("66.67"),
                "cycle_days": 25,
            },
        ),
        ("n2", "USD"): (
            Decimal("20.00"),
            {"open_deals": 1, "average_won_amount": 200, "win_rate": 100, "cycle_days": 10},
        ),
        ("s1", "CNY"): (
            Decimal("50.00"),
            {"open_deals": 1, "average_won_amount": 500, "win_rate": 100, "cycle_days": 10},
        ),
    }
    kw = {"start": JAN, "end": MAR}
    # North CNY: 2 open × 2,000.00 × (2 won ÷ 5 closed, n2's losses count) ÷ 25 = 64.00
    assert values(await figures(world.admin, "pipeline.velocity", "team", **kw)) == {
        ("North", "CNY"): Decimal("64.00"),
        ("North", "USD"): Decimal("20.00"),
        ("South", "CNY"): Decimal("50.00"),
    }
    # all time, s1: its Mar 1 loss halves the win rate: 1 × 500 × 1/2 ÷ 10 = 25.00
    assert values(
        await figures(world.admin, "pipeline.velocity", "owner", filters={"owner": "s1"})
    ) == {("s1", "CNY"): Decimal("25.00")}


async def test_velocity_visibility(world):
    await closed_deals(world)
    kw = {"start": JAN, "end": MAR}
    # s1 alone, ungrouped: exactly its own figures
    assert values(await figures(world.s1, "pipeline.velocity", **kw)) == {
        ("CNY",): Decimal("50.00")
    }
    # n2 sees its USD deal only: 1 × 200 × 1 ÷ 10 (its CNY deals were all lost)
    assert values(await figures(world.n2, "pipeline.velocity", "pipeline", **kw)) == {
        ("Web", "USD"): Decimal("20.00")
    }


# -- weighted forecast ----------------------------------------------------------------------


async def test_weighted_forecast_exact_by_owner_month_and_category(world, gql):
    await closed_deals(world)
    q2 = {"s": APR.isoformat(), "e": JUL.isoformat()}
    rows = await gql_rows(gql, world.admin, "pipeline.weighted_forecast", ["owner"], **q2)
    # n1: 10 % of 1,000.05 + 10 % of 0.15 = 100.005 + 0.015 = 100.02, rounded once (per deal
    # 100.01 + 0.02 = 100.03); n2: 50 % of 500.00 USD; s1's deal closes Jul 1: outside
    assert rows == {
        ("n1", "CNY"): (Decimal("100.02"), {"total": Decimal("1000.20"), "deals": 2}),
        ("n2", "USD"): (Decimal("250.00"), {"total": 500, "deals": 1}),
    }
    kw = {"start": APR, "end": JUL}
    assert values(await figures(world.admin, "pipeline.weighted_forecast", "period", **kw)) == {
        ("2025-04", "CNY"): Decimal("100.02"),
        ("2025-05", "USD"): Decimal("250.00"),
    }
    assert values(
        await figures(world.admin, "pipeline.weighted_forecast", "period", granularity="quarter")
    ) == {
        ("2025-Q2", "CNY"): Decimal("100.02"),
        ("2025-Q2", "USD"): Decimal("250.00"),
        ("2025-Q3", "CNY"): Decimal("200.00"),
    }  # s1: 25 % of 800.00
    assert values(
        await figures(
            world.admin,
            "pipeline.weighted_forecast",
            "owner",
            filters={"period": "2025-Q3"},
            granularity="quarter",
        )
    ) == {("s1", "CNY"): Decimal("200.00")}
    by_category = await figures(
        world.admin, "pipeline.weighted_forecast", "forecast_category", "stage", **kw
    )
    assert values(by_category) == {
        ("commit", "Needs Collection", "USD"): Decimal("250.00"),
        ("pipeline", "Needs Collection", "CNY"): Decimal("100.02"),
    }
    # a window ending on the day before: the Apr 1 deal alone (10 % of 0.15 = 0.015 → 0.02)
    assert values(
        await figures(
            world.admin,
            "pipeline.weighted_forecast",
            start=APR,
            end=datetime(2025, 4, 1, 12, tzinfo=UTC),
        )
    ) == {("CNY",): Decimal("0.02")}


async def test_weighted_forecast_visibility(world):
    await closed_deals(world)
    # s1 has nothing closing in Q2 and must not see North's deals
    assert await figures(world.s1, "pipeline.weighted_forecast", start=APR, end=JUL) == {}
    assert values(await figures(world.s1, "pipeline.weighted_forecast", "team")) == {
        ("South", "CNY"): Decimal("200.00")
    }
    assert values(await figures(world.manager, "pipeline.weighted_forecast", "owner")) == {
        ("n1", "CNY"): Decimal("100.02"),
        ("n2", "USD"): Decimal("250.00"),
    }


# -- forecast vs actual ---------------------------------------------------------------------


async def snapshot(
    period: tuple[date, date], taken: datetime, lines: list[tuple[Any, str, str, int, int]]
) -> None:
    """A forecast snapshot with lines (user, category, currency, total minor, probability)."""
    snap = (
        await t.ForecastSnapshot.insert(
            t.ForecastSnapshot(taken_at=taken, period_start=period[0], period_end=period[1])
        ).returning(t.ForecastSnapshot.id)
    )[0]
    if lines:
        await t.ForecastSnapshotLine.insert(
            *[
                t.ForecastSnapshotLine(
                    snapshot=snap["id"],
                    owner=user.id,
                    team=user.team_id,
                    forecast_category=category,
                    currency=currency,
                    deals=1,
                    total_minor=total,
                    weighted_basis=total * probability,
                )
                for user, category, currency, total, probability in lines
            ]
        )


Q1 = (date(2025, 1, 1), date(2025, 4, 1))
Q2 = (date(2025, 4, 1), date(2025, 7, 1))


async def snapshots(w: World) -> None:
    """Q1: taken Dec 20 (used) and Jan 15 (ignored: a later one than the latest before Q1);
    Q2: taken Apr 10 (used: none before); Q4 2024: taken after it ended (no forecast)."""
    n1, n2, s1 = w.n1, w.n2, w.s1
    await snapshot(
        Q1,
        at(12, 20, 2024),
        [
            (n1, "commit", "CNY", 400_000, 60),  # 4,000.00 at 60 % = 2,400.00
            (n1, "pipeline", "CNY", 100_000, 20),  # 1,000.00 at 20 % = 200.00
            (n2, "best_case", "USD", 20_000, 50),  # 200.00 at 50 % = 100.00
            (s1, "commit", "CNY", 50_000, 80),
        ],
    )  # 500.00 at 80 % = 400.00
    await snapshot(Q1, at(1, 15), [(n1, "commit", "CNY", 9_999_999, 90)])
    await snapshot(Q2, at(4, 10), [(n1, "commit", "CNY", 100_000, 70)])  # 700.00
    await snapshot((date(2024, 10, 1), Q1[0]), at(2, 1), [(n1, "commit", "CNY", 1, 1)])


async def test_forecast_vs_actual_by_owner_and_quarter(world, gql):
    await closed_deals(world)
    await snapshots(world)
    rows = await gql_rows(
        gql,
        world.admin,
        "pipeline.forecast_vs_actual",
        ["owner"],
        s=JAN.isoformat(),
        e=APR.isoformat(),
    )
    # n1: won 1,000 + 3,000 in Q1 vs 2,400 + 200 forecast → 4,000 ÷ 2,600 = 153.846 → 153.85
    # n2: 200 ÷ 100 = 200.00 USD; s1: 500 ÷ 400 = 125.00
    assert rows == {
        ("n1", "CNY"): (
            Decimal("153.85"),
            {"forecast": 2600, "commit": 4000, "actual": 4000, "variance": 1400},
        ),
        ("n2", "USD"): (
            Decimal("200.00"),
            {"forecast": 100, "commit": 0, "actual": 200, "variance": 100},
        ),
        ("s1", "CNY"): (
            Decimal("125.00"),
            {"forecast": 400, "commit": 500, "actual": 500, "variance": 100},
        ),
    }
    assert values(
        await figures(
            world.admin, "pipeline.forecast_vs_actual", "owner", filters={"period": "2025-04"}
        )
    ) == {("n1", "CNY"): Decimal("100.00")}  # Q2's snapshot period starts in April
    # per quarter, all periods: Q1 CNY (4,000 + 500) ÷ (2,600 + 400) = 150.00; Q2: n1 won
    # 700 of 700 forecast; Q4 2024's only snapshot came after it ended: no row
    assert values(
        await figures(world.admin, "pipeline.forecast_vs_actual", "period", granularity="quarter")
    ) == {
        ("2025-Q1", "CNY"): Decimal("150.00"),
        ("2025-Q1", "USD"): Decimal("200.00"),
        ("2025-Q2", "CNY"): Decimal("100.00"),
    }
    # ungrouped: CNY (4,500 + 700) ÷ (3,000 + 700) = 140.5405 → 140.54
    assert values(await figures(world.admin, "pipeline.forecast_vs_actual")) == {
        ("CNY",): Decimal("140.54"),
        ("USD",): Decimal("200.00"),
    }


async def test_forecast_vs_actual_visibility(world):
    await closed_deals(world)
    await snapshots(world)
    q1 = {"start": JAN, "end": APR}
    # s1: only its own forecast line and its own win
    assert await figures(world.s1, "pipeline.forecast_vs_actual", "team", **q1) == {
        ("South", "CNY"): (
            Decimal("125.00"),
            {"forecast": 400, "commit": 500, "actual": 500, "variance": 100},
        )
    }
    assert values(await figures(world.manager, "pipeline.forecast_vs_actual", "team", **q1)) == {
        ("North", "CNY"): Decimal("153.85"),
        ("North", "USD"): Decimal("200.00"),
    }


async def test_period_snapshot_rule(kehu):
    """Latest before the period, else earliest during it; never one taken afterwards."""
    await snapshot(Q2, at(5, 1), [])
    await snapshot(Q2, at(4, 20), [])
    await snapshot(Q2, at(7, 2), [])
    [chosen] = await services.period_snapshots()
    assert chosen["taken_at"] == at(4, 20)
    await snapshot(Q2, at(3, 1), [])
    await snapshot(Q2, at(3, 20), [])
    [chosen] = await services.period_snapshots(date(2025, 4, 1), date(2025, 4, 2))
    assert chosen["taken_at"] == at(3, 20)
    assert await services.period_snapshots(date(2025, 4, 2)) == []


# -- funnel cohorts -------------------------------------------------------------------------


async def funnel_deals(w: World) -> None:
    """Stages: Needs → Display → Order → (won) After-sales.

    d1 n1 Jan 5: to Order, won      d2 n1 Jan 10: open in Order    d3 n1 Jan 20: open in Display
    d4 s1 Jan 25: open in Needs     d5 n1 Feb 10: to Order, lost
    d6 s1 Dec 20: to Display and back to Needs (Needs entered twice, counted once)"""
    display, order = "Display & Recommendation", "Order Processing"
    await deal(
        w, w.n1, "1", created=at(1, 5), moves=(display, order), outcome="won", closed=at(2, 1)
    )
    await deal(w, w.n1, "1", created=at(1, 10), moves=(display, order))
    await deal(w, w.n1, "1", created=at(1, 20), moves=(display,))
    await deal(w, w.s1, "1", created=at(1, 25))
    await deal(
        w, w.n1, "1", created=at(2, 10), moves=(display, order), outcome="lost", closed=at(2, 20)
    )
    await deal(w, w.s1, "1", created=at(12, 20, 2024), moves=(display, "Needs Collection"))


def funnel_table(found: dict[tuple, tuple]) -> list[tuple]:
    return [(value, m["conversion"], m["current"]) for value, m in found.values()]


async def test_funnel_cohorts_and_filters(world, gql):
    await funnel_deals(world)
    rows = await gql_rows(
        gql, world.admin, "pipeline.funnel", ["stage"], f=[{"name": "pipeline", "value": "Web"}]
    )
    # reached 6, 5, 3, 1: conversions 5/6 = 83.33, 3/5 = 60.00, 1/3 = 33.33;
    # open now: Needs d4 + d6, Display d3, Order d2
    assert funnel_table(rows) == [
        (6, None, 2),
        (5, Decimal("83.33"), 1),
        (3, Decimal("60.00"), 1),
        (1, Decimal("33.33"), 0),
    ]
    web = {"pipeline": "Web"}
    january = await figures(
        world.admin,
        "pipeline.funnel",
        "stage",
        filters=web,
        start=JAN,
        end=datetime(2025, 2, 1, tzinfo=UTC),
    )
    # created in January: d1–d4 → 4, 3, 2, 1: 75.00, 66.67, 50.00
    assert funnel_table(january) == [
        (4, None, 1),
        (3, Decimal("75.00"), 1),
        (2, Decimal("66.67"), 1),
        (1, Decimal("50.00"), 0),
    ]
    mine = await figures(world.admin, "pipeline.funnel", "stage", filters={**web, "owner": "n1"})
    # n1's d1, d2, d3, d5 → 4, 4, 3, 1: 100.00, 75.00, 33.33
    assert funnel_table(mine) == [
        (4, None, 0),
        (4, Decimal("100.00"), 1),
        (3, Decimal("75.00"), 1),
        (1, Decimal("33.33"), 0),
    ]
    # a stage filter keeps that stage's row (its conversion still from the stage before)
    assert funnel_table(
        await figures(world.admin, "pipeline.funnel", filters={**web, "stage": "Order Processing"})
    ) == [(3, Decimal("60.00"), 1)]
    south = await figures(world.admin, "pipeline.funnel", "stage", filters={**web, "team": "South"})
    # d4, d6 → 2, 1, 0, 0: 50.00, 0.00, undefined (nothing reached Order)
    assert funnel_table(south) == [
        (2, None, 2),
        (1, Decimal("50.00"), 0),
        (0, Decimal("0.00"), 0),
        (0, None, 0),
    ]


async def test_funnel_visibility(world):
    await funnel_deals(world)
    web = {"pipeline": "Web"}
    # s1 sees exactly the South funnel; asking for n1's deals gives nothing
    assert funnel_table(await figures(world.s1, "pipeline.funnel", "stage", filters=web)) == [
        (2, None, 2),
        (1, Decimal("50.00"), 0),
        (0, Decimal("0.00"), 0),
        (0, None, 0),
    ]
    assert {
        v
        for v, *_ in funnel_table(
            await figures(world.s1, "pipeline.funnel", "stage", filters={**web, "owner": "n1"})
        )
    } == {0}


# -- invariants -----------------------------------------------------------------------------

CLOSED = st.lists(
    st.tuples(
        st.integers(0, 2),  # rep
        st.integers(1, 6),  # month of 2025
        st.sampled_from(["won", "lost", None]),  # None: still open
        st.integers(1, 60),  # cycle days
        st.integers(0, 2),  # stages moved through before closing
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=CLOSED)
async def test_grouped_counts_add_up(kehu, make_user, deals):
    """Per-owner and per-month won/lost and won-deal counts sum to the ungrouped ones, the
    per-owner funnels sum to the whole funnel, and win rate = won ÷ (won + lost)."""
    await truncate_all(kehu)
    system = system_actor()
    reps = [await make_user("sales", team="T", username=f"r{i}") for i in range(3)]
    admin = await make_user("admin", username="a")
    flow = await services.create_pipeline(system, "Web", template="online")
    stages = {
        s["name"]: s["id"] for s in (await services.stages_by_pipeline([flow["id"]]))[flow["id"]]
    }
    w = World(*reps, admin, admin, flow, stages, {})
    for rep in reps:
        w.customer[rep.id] = (
            await customers.create_customer(system, {"name": rep.username, "owner": rep.id})
        )["id"]
    path = ("Display & Recommendation", "Order Processing")
    for rep, month, outcome, cycle, moved in deals:
        closed = at(month, 28) if outcome else None
        await deal(
            w,
            reps[rep],
            "10",
            created=at(month, 28 - min(cycle, 27)),
            outcome=outcome,
            closed=closed,
            moves=path[:moved],
        )

    async def sums(name: str, *dims: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for _, measures in (await figures(admin, name, *dims)).values():
            for key, value in measures.items():
                out[key] = out.get(key, Decimal(0)) + value
        return out

    for name, measure in (("pipeline.win_rate", "won"), ("pipeline.deal_cycle", "deals")):
        total = await sums(name)
        assert total == await sums(name, "owner") == await sums(name, "period")
        assert total.get(measure, 0) == sum(1 for d in deals if d[2] == "won")
    for value, m in (await figures(admin, "pipeline.win_rate", "owner")).values():
        assert value == services.percent(int(m["won"]), int(m["won"] + m["lost"]))
    whole = [v for v, _ in (await figures(admin, "pipeline.funnel", "stage")).values()]
    parts = [
        [
            v
            for v, _ in (
                await figures(admin, "pipeline.funnel", "stage", filters={"owner": rep.username})
            ).values()
        ]
        for rep in reps
    ]
    assert whole == [sum(column) for column in zip(*parts, strict=True)]
    assert whole[0] == len(deals)

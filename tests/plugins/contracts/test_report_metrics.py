"""The receivables metrics in the reporting plugin's registry."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from kehu.plugins.contracts import receivables as r
from kehu.plugins.reporting import metrics as reporting

from .conftest import cny


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "contracts", "reporting"]


async def test_metrics_are_registered_and_computed(kehu, system, make_customer, make_contract):
    found = reporting.registry(kehu)
    names = {n for n in found if n.startswith("contracts.")}
    assert names == {
        "contracts.collection_rate",
        "contracts.signing_rate",
        "contracts.dso",
        "contracts.overdue_amount",
        "contracts.open_receivables",
    }
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("1000.00",))
    first = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
    await r.record_payment(
        system,
        acme["id"],
        cny("150"),
        received_on=date.today(),
        allocations=[(first["id"], cny("150"))],
    )
    start = datetime.now(UTC) - timedelta(days=200)
    end = datetime.now(UTC) + timedelta(days=1)
    query = reporting.MetricQuery(system, start=start, end=end)
    values = {n: await reporting.run(found[n], query) for n in names}
    assert values["contracts.collection_rate"][0].value == Decimal("15.00")
    assert values["contracts.signing_rate"][0].value == Decimal("100.00")
    assert values["contracts.dso"] == []  # nothing invoiced
    overdue = values["contracts.overdue_amount"][0]
    assert (overdue.value, overdue.currency) == (Decimal("850.00"), "CNY")
    assert values["contracts.open_receivables"][0].value == Decimal("850.00")

"""With tickets disabled (``kehu_plugins`` overridden) nothing of it is loaded and core works."""

import pytest

from kehu.core.services import activities


@pytest.fixture
def kehu_plugins():
    return ["core"]


async def test_plugin_disabled(kehu, system, make_customer, make_user, gql):
    assert kehu.names == ["core"]
    sdl = kehu.graphql().schema.as_str()
    for name in (
        "openTicketCount",
        "churnRisk",
        "satisfaction",
        "createTicket",
        "Ticket",
        "slaPolicies",
    ):
        assert name not in sdl
    assert not hasattr(kehu.pm.hook, "kehu_churn_signals")
    assert not hasattr(kehu.pm.hook, "kehu_ticket_sla_policy")
    assert not {"tickets.sla_check", "tickets.churn_check"} & set(kehu.jobs())
    assert not any(t._meta.tablename.startswith("tickets_") for t in kehu.tables())
    acme = await make_customer()
    await activities.log_activity(system, acme["id"], {"subject": "Call"})
    admin = await make_user("admin")
    body = await gql(
        "{ customers(first: 5) { nodes { name timeline { nodes { kind } } } } }", user=admin
    )
    assert body["data"]["customers"]["nodes"][0]["name"] == "ACME"

"""With the pipeline disabled (``kehu_plugins`` overridden) nothing of it is loaded and the
core still works."""

import importlib

import pytest

from kehu.core.services import activities, customers
from kehu.core.tables import Customer


@pytest.fixture
def kehu_plugins():
    return ["core"]


async def test_plugin_disabled(kehu, system, gql, make_user):
    importlib.import_module("kehu.plugins.pipeline.graphql")  # its types must not leak in

    assert kehu.names == ["core"]
    sdl = kehu.graphql().schema.as_str()
    for name in (
        "opportunities",
        "openPipelineValue",
        "createOpportunity",
        "Opportunity",
        "PipelineStage",
        "convertLead",
        "forecast",
    ):
        assert name not in sdl
    assert "type Customer" in sdl
    assert not hasattr(kehu.pm.hook, "kehu_opportunity_won")
    assert not any(job.startswith("pipeline.") for job in kehu.jobs())
    assert not any(t._meta.tablename.startswith("pipeline_") for t in kehu.tables())
    with pytest.raises(Exception, match="pipeline_opportunity"):  # never migrated
        await Customer.raw("SELECT COUNT(*) FROM pipeline_opportunity")
    assert not any(scope.startswith(("opportunity:", "pipeline:")) for scope in kehu.permissions())
    acme = await customers.create_customer(system, {"name": "ACME"})
    await activities.log_activity(system, acme["id"], {"subject": "Call"})
    await customers.merge_customers(
        system, acme["id"], (await customers.create_customer(system, {"name": "Other"}))["id"]
    )
    admin = await make_user("admin")
    body = await gql(
        "{ customers(first: 5) { nodes { name timeline { nodes { kind } } } } }", user=admin
    )
    assert body["data"]["customers"]["nodes"][0]["name"] == "ACME"

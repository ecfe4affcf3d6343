"""Hostile and malformed input over HTTP: typed codes, nothing written, never a 500."""

import json

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import customers
from kehu.core.tables import Customer

PAY = """mutation($input: RecordPaymentInput!) {
  recordPayment(input: $input) { payment { id } errors { field code message } }
}"""


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


@pytest.fixture
async def admin(make_user):
    return await make_user("admin")


@pytest.fixture
async def customer_id(system):
    row = await customers.create_customer(system, {"name": "Hostile Co"})
    return encode_id("Customer", row["id"])


async def post(client, key: str | None, query: str, variables: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def payment(customer_id: str, amount, currency="CNY", received_on="2026-03-01") -> dict:
    return {
        "input": {
            "customerId": customer_id,
            "amount": {"amount": amount, "currency": currency},
            "receivedOn": received_on,
        }
    }


@pytest.mark.parametrize(
    "amount", ["abc", "1,000.00", "1e2", "1e999999", " 10", "NaN", "Infinity", "", 10.5, 100]
)
async def test_a_malformed_decimal_is_bad_user_input_naming_the_variable(
    kehu_client, admin, customer_id, amount
):
    body = await post(kehu_client, admin.key, PAY, payment(customer_id, amount))
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "$input.amount.amount"
    assert "Decimal" in error["message"] and "Unexpected" not in error["message"]


async def test_a_malformed_literal_names_the_argument_path(kehu_client, admin, customer_id):
    query = (
        f'mutation {{ recordPayment(input: {{customerId: "{customer_id}", amount: {{amount: '
        '10.5, currency: "CNY"}, receivedOn: "2026-03-01"}) { errors { code } } }'
    )
    (error,) = (await post(kehu_client, admin.key, query))["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "input.amount.amount"}
    assert error["message"].startswith("Argument 'input.amount.amount': Decimal must be")
    assert error["locations"]


@pytest.mark.parametrize(
    ("day", "says"),
    [
        ("2026-02-30", "does not exist"),
        ("99999-01-01", "YYYY-MM-DD"),
        ("0001-01-01", "outside"),
        ("2200-01-01", "outside"),
        ("20260301", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
    ],
)
async def test_dates_outside_the_calendar_or_the_range_are_refused(
    kehu_client, admin, customer_id, day, says
):
    body = await post(kehu_client, admin.key, PAY, payment(customer_id, "10.00", received_on=day))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "$input.receivedOn"
    assert says in error["message"]


async def test_datetime_arguments_are_checked_too(kehu_client, admin):
    query = "query($t: DateTime) { activities(filter: {occurredAfter: $t}) { totalCount } }"
    for value in ("0001-01-01T00:00:00+00:00", "2026-13-01T00:00:00", "now"):
        body = await post(kehu_client, admin.key, query, {"t": value})
        assert codes(body) == ["BAD_USER_INPUT"], value
    ok = await post(kehu_client, admin.key, query, {"t": "2026-01-01T00:00:00+08:00"})
    assert "errors" not in ok


async def test_currencies_are_upper_case_iso_4217_codes(kehu_client, admin, customer_id):
    for currency in ("cny", "XXX", "ABC", "Cny"):
        body = await post(kehu_client, admin.key, PAY, payment(customer_id, "10.00", currency))
        (error,) = body["data"]["recordPayment"]["errors"]
        assert error["field"] == "currency", currency
    ok = await post(kehu_client, admin.key, PAY, payment(customer_id, "10.00", "USD"))
    assert ok["data"]["recordPayment"]["payment"] is not None


async def test_amounts_beyond_the_bound_are_refused_and_nothing_is_written(
    kehu_client, admin, customer_id
):
    too_many_digits = await post(kehu_client, admin.key, PAY, payment(customer_id, "1" * 30))
    assert codes(too_many_digits) == ["BAD_USER_INPUT"]
    for amount in ("10000000000000.00", "-10000000000000.00", "999999999999999999"):
        body = await post(kehu_client, admin.key, PAY, payment(customer_id, amount))
        result = body["data"]["recordPayment"]
        assert result["payment"] is None, amount
        assert [e["field"] for e in result["errors"]] == ["amount"], amount
    largest = await post(kehu_client, admin.key, PAY, payment(customer_id, "9999999999999.99"))
    paid = largest["data"]["recordPayment"]["payment"]["id"]
    back = await post(
        kehu_client,
        admin.key,
        "query($id: ID!) { node(id: $id) { ... on Payment { amount { amount currency } } } }",
        {"id": paid},
    )
    assert back["data"]["node"]["amount"] == {"amount": "9999999999999.99", "currency": "CNY"}


@pytest.mark.parametrize("text", ["a\u0000b", "a\ud800b", "\udfff"])
async def test_nul_and_unpaired_surrogates_in_variables_are_refused(kehu_client, admin, text):
    query = "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } } }"
    # json.dumps escapes the surrogate as \\ud800, as a hostile client would send it
    body = json.dumps({"query": query, "variables": {"n": text}})
    response = await kehu_client.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {admin.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert codes(response.json()) == ["BAD_USER_INPUT"]
    assert response.json()["errors"][0]["extensions"]["argument"] == "$n"
    assert await Customer.count() == 0


async def test_nul_in_a_literal_and_a_surrogate_escape_are_refused(kehu_client, admin):
    nul = await post(
        kehu_client,
        admin.key,
        'mutation { createCustomer(input: {name: "a\\u0000b"}) { errors { code } } }',
    )
    assert codes(nul) == ["BAD_USER_INPUT"]
    assert nul["errors"][0]["extensions"]["argument"] == "input.name"
    surrogate = await post(
        kehu_client,
        admin.key,
        'mutation { createCustomer(input: {name: "a\\ud800"}) { errors { code } } }',
    )
    assert codes(surrogate) == ["GRAPHQL_PARSE_FAILED"]
    assert await Customer.count() == 0


async def test_invalid_utf8_and_over_deep_json_are_400(kehu_client, admin):
    headers = {"Authorization": f"Bearer {admin.key}", "Content-Type": "application/json"}
    bad = await kehu_client.post(
        "/graphql", content=b'{"query": "{ me { id } }\xff"}', headers=headers
    )
    assert bad.status_code == 400 and "UTF-8" in bad.text
    for depth in (100, 5000):
        nested = '{"a":' * depth + "1" + "}" * depth
        body = '{"query": "{ me { id } }", "variables": {"c": ' + nested + "}}"
        deep = await kehu_client.post("/graphql", content=body.encode(), headers=headers)
        assert deep.status_code == 400 and "deeper than" in deep.text, depth
    fine = await kehu_client.post(
        "/graphql", content=b'{"query": "{ me { username } }"}', headers=headers
    )
    assert fine.status_code == 200 and fine.json()["data"]["me"]["username"] == admin.username


async def test_an_id_that_is_not_a_global_id_is_a_typed_error(kehu_client, admin):
    for raw in ("1" * 30, "\u00e9", "Q3VzdG9tZXI6"):
        body = await post(
            kehu_client, admin.key, "query($id: ID!) { node(id: $id) { id } }", {"id": raw}
        )
        assert codes(body) in (["VALIDATION"], []), raw
        assert body["data"] == {"node": None}


# -- limits --------------------------------------------------------------------------------


async def test_every_size_argument_is_capped(kehu_client, admin, customer_id):
    cases = [
        "{ customers(first: 101) { totalCount } }",
        "{ customers(first: 1) { nodes { recentActivities(limit: 1000000) { id } } } }",
        "{ customers(first: -1) { totalCount } }",
        f'{{ payments(customerId: "{customer_id}", first: 100000) {{ id }} }}',
        "{ forecastSnapshots(first: 5000) { databaseId } }",
        '{ incentiveLeaderboard(period: "2026-Q4", metric: "revenue", first: 1000) { rank } }',
    ]
    for query in cases:
        body = await post(kehu_client, admin.key, query)
        assert codes(body) == ["VALIDATION"], (query, body)
        assert body["errors"][0]["extensions"]["field"] in ("first", "limit")
        assert "and 100, got" in body["errors"][0]["message"]
    by_variable = await post(
        kehu_client,
        admin.key,
        "query($n: Int!) { customers(first: $n) { totalCount } }",
        {"n": 500},
    )
    assert codes(by_variable) == ["VALIDATION"]


async def test_fan_out_is_refused_before_it_runs_with_its_estimate(kehu_client, admin):
    lists = (
        "contacts { id } activities(first: 100) { nodes { id } } "
        "timeline(first: 100) { nodes { kind } }"
    )
    costly = f"{{ customers(first: 100) {{ nodes {{ {lists} contracts(first: 100) {{ id }} }} }} }}"
    body = await post(kehu_client, admin.key, costly)
    assert len(body["errors"]) == 1, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["limit"] == 20000
    everyday = (
        "{ customers(first: 100) { nodes { contacts { id } activities { nodes { id } } "
        "opportunities { id } contracts { id } tickets { id } timeline { nodes { kind } } } } }"
    )
    assert "errors" not in await post(kehu_client, admin.key, everyday)


async def test_every_limit_error_has_a_code(kehu_client, admin):
    deep = "{ me " + "{ team { members " * 6 + "{ id }" + " } }" * 6 + " }"
    aliases = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(40)) + " }"
    tokens = "{ " + "me { id } " * 2000 + "}"
    cases = {
        deep: "QUERY_TOO_DEEP",
        aliases: "TOO_MANY_ALIASES",
        tokens: "TOO_MANY_TOKENS",
        "{ me { id }": "GRAPHQL_PARSE_FAILED",
        "{ nosuchfield }": "GRAPHQL_VALIDATION_FAILED",
        "{ customers(first: 1, nosucharg: 2) { totalCount } }": "GRAPHQL_VALIDATION_FAILED",
    }
    for query, code in cases.items():
        body = await post(kehu_client, admin.key, query)
        assert codes(body)[:1] == [code], (code, body)


async def test_introspection_and_suggestions_need_an_api_key(kehu_client, admin):
    introspect = "{ __schema { queryType { name } } }"
    anonymous = await post(kehu_client, None, introspect)
    assert codes(anonymous) == ["INTROSPECTION_DISABLED"] and anonymous["data"] is None
    typed = await post(kehu_client, None, '{ __type(name: "Customer") { name } }')
    assert codes(typed) == ["INTROSPECTION_DISABLED"]
    authenticated = await post(kehu_client, admin.key, introspect)
    assert authenticated["data"]["__schema"]["queryType"]["name"] == "Query"

    anon_typo = await post(kehu_client, None, "{ customerz { id } }")
    assert "Did you mean" not in anon_typo["errors"][0]["message"]
    assert codes(anon_typo) == ["GRAPHQL_VALIDATION_FAILED"]
    typo = await post(kehu_client, admin.key, "{ customerz { id } }")
    assert "Did you mean 'customer'" in typo["errors"][0]["message"]


@pytest.mark.parametrize(
    "kehu_settings_overrides", [{"graphql_introspection": "off", "graphql_suggestions": "off"}]
)
async def test_introspection_and_suggestions_can_be_switched_off_for_everyone(
    kehu_client, admin, kehu_settings_overrides
):
    body = await post(kehu_client, admin.key, "{ __schema { queryType { name } } }")
    assert codes(body) == ["INTROSPECTION_DISABLED"]
    assert "disabled" in body["errors"][0]["message"]
    typo = await post(kehu_client, admin.key, "{ customerz { id } }")
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert (await post(kehu_client, admin.key, "{ __typename }"))["data"] == {"__typename": "Query"}


async def test_expected_errors_are_logged_at_info_without_a_traceback(kehu_client, admin, caplog):
    caplog.set_level("INFO")
    await post(kehu_client, admin.key, PAY, payment("Q3VzdG9tZXI6OTk5", "abc"))
    await post(kehu_client, admin.key, '{ customer(id: "Q3VzdG9tZXI6OTk5") { id } }')
    records = [r for r in caplog.records if r.name in ("kehu.graphql", "strawberry.execution")]
    assert records and all(r.levelname == "INFO" and r.exc_info is None for r in records)


async def test_services_refuse_nul_too_so_the_cli_and_imports_do(kehu, system):
    from kehu.core.errors import ValidationFailed

    for name in ("a\x00b", "\ud800"):
        with pytest.raises(ValidationFailed) as refused:
            await customers.create_customer(system, {"name": name})
        assert refused.value.errors[0].code == "INVALID_TEXT"
    assert await Customer.count() == 0

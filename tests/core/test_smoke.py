async def test_create_and_list_customer(kehu, make_user, gql):
    admin = await make_user("admin")
    body = await gql("""mutation { createCustomer(input: {name: "ACME", email: "a@acme.com",
        tags: ["VIP"]}) { customer { id name tags owner { username } } errors { field message code } } }""",
                     user=admin)
    assert body["data"]["createCustomer"]["errors"] == []
    body = await gql("{ customers(first: 10) { totalCount edges { cursor node { name tags } } } }",
                     user=admin)
    assert body["data"]["customers"]["totalCount"] == 1

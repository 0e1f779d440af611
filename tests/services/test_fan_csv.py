from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest

from fanbase.db.engine import Database
from fanbase.errors import InvalidInput
from fanbase.errors import TooLarge
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import SubscriptionIn
from fanbase.services import custom_fields
from fanbase.services import fan_csv
from fanbase.services import fan_export
from fanbase.services import fans
from fanbase.services import lists
from fanbase.services import workspaces


def _declare_fields(database: Database, workspace_id: int, now: datetime) -> None:
    for definition in (
        CustomFieldIn(name="shoe_size", type="number"),
        CustomFieldIn(name="budget", type="money"),
        CustomFieldIn(name="is_vip", type="boolean"),
        CustomFieldIn(name="birthday", type="datetime"),
        CustomFieldIn(name="tshirt_size", type="enum", choices=("S", "M", "L")),
        CustomFieldIn(name="note", type="text"),
    ):
        custom_fields.create_custom_field(database, workspace_id, definition, now=now)


def _all_fans(database: Database, workspace_id: int) -> dict[str, Fan]:
    return {fan.email: fan for fan in fans.iterate_fans(database, workspace_id, FanFilter())}


BROKEN_KINDS = (
    ("not-an-email", "customer", "", "", "email: 'not-an-email' is not a valid email address"),
    ("{email}", "superstar", "", "", "lifecycle_stage: Input should be"),
    ("{email}", "lead", "huge", "", "shoe_size: must be a number"),
    ("", "lead", "", "", "email: required"),
    ("{email}", "lead", "", "yesterday", "created_at: Input should be a valid datetime"),
)


def _generated_csv(rows: int, broken_every: int) -> tuple[bytes, dict[int, str]]:
    """A CSV with ``rows`` data rows; every ``broken_every``-th is broken. Returns the bytes and line → reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "first_name", "lifecycle_stage", "shoe_size", "created_at", "tags", "lists"])
    expected: dict[int, str] = {}
    broken = 0
    for index in range(rows):
        line = index + 2
        email = f"fan{index}@example.com"
        if index % broken_every == broken_every - 1:
            template, stage, size, created, reason = BROKEN_KINDS[broken % len(BROKEN_KINDS)]
            broken += 1
            writer.writerow([template.format(email=email), "Broken", stage, size, created, "", ""])
            expected[line] = reason
        else:
            tags = "Imported;VIP" if index % 3 == 0 else "Imported"
            writer.writerow([email, f"Fan {index}", "lead", str(index % 45), "2025-01-02T03:04:05Z", tags, "News"])
    return buffer.getvalue().encode(), expected


def test_a_thousand_rows_with_fifty_broken_import_and_reimport_without_duplicates(
    database: Database, workspace_id: int, now: datetime
) -> None:
    _declare_fields(database, workspace_id, now)
    data, expected = _generated_csv(1000, 20)
    assert len(expected) == 50
    seen: list[tuple[int, int]] = []
    report = fan_csv.import_fans_csv(
        database, workspace_id, data, now=now, progress=lambda done, total: seen.append((done, total))
    )
    assert (report.rows, report.created, report.updated) == (1000, 950, 0)
    assert {error.line: error.reason for error in report.errors}.keys() == expected.keys()
    for error in report.errors:
        assert error.reason.startswith(expected[error.line]), (error.line, error.reason)
    assert seen[-1] == (1000, 1000)

    stored = _all_fans(database, workspace_id)
    assert len(stored) == 950
    fan = stored["fan0@example.com"]
    assert fan.tags == ("Imported", "VIP") and fan.lists == {"News": "subscribed"}
    assert fan.source == "import" and fan.lifecycle_stage == "lead"
    assert fan.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert fan.custom_fields == {"shoe_size": 0}

    again = fan_csv.import_fans_csv(database, workspace_id, data, now=now + timedelta(hours=1))
    # The file changed nobody this time: "updated" counts changed fans, not matched ones.
    assert (again.rows, again.created, again.updated, len(again.errors)) == (1000, 0, 0, 50)
    after = _all_fans(database, workspace_id)
    assert len(after) == 950
    # Nothing changed, so nothing was rewritten.
    assert after["fan1@example.com"].updated_at == now


def test_merge_rules_within_the_file_and_into_existing_fans(
    database: Database, workspace_id: int, now: datetime
) -> None:
    _declare_fields(database, workspace_id, now)
    existing = fans.create_fan(
        database,
        workspace_id,
        FanIn(
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            lifecycle_stage="customer",
            source="direct_purchase",
            country="GB",
            created_at=now - timedelta(days=100),
            custom_fields={"note": "keep me", "shoe_size": 38},
            tags=("Old",),
            lists=("Gone",),
        ),
        now=now,
    )
    list_id = next(item.id for item in lists.list_lists(database, workspace_id) if item.name == "Gone")
    lists.set_subscription(
        database, workspace_id, list_id, SubscriptionIn(fan_ids=(existing.id,), status="unsubscribed"), now=now
    )
    data = (
        b"email,first_name,last_name,country,shoe_size,is_vip,tags,lists,created_at\n"
        b"ADA@example.com,,Byron,,40,yes,New,Gone|Fresh,2020-01-01T00:00:00Z\n"
        b"new@example.com,First,,fr,,,A,,\n"
        b" New@Example.com ,Second,Last,,,no,B,L1,\n"
    )
    later = now + timedelta(days=1)
    report = fan_csv.import_fans_csv(database, workspace_id, data, now=later)
    assert (report.rows, report.created, report.updated, report.errors) == (3, 1, 1, [])

    stored = _all_fans(database, workspace_id)
    ada = stored["ada@example.com"]
    # Non-empty cells update, empty cells never blank out; created_at keeps the earlier instant.
    assert (ada.first_name, ada.last_name, ada.country) == ("Ada", "Byron", "GB")
    assert (ada.lifecycle_stage, ada.source) == ("customer", "direct_purchase")
    assert ada.created_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert ada.custom_fields == {"note": "keep me", "shoe_size": 40, "is_vip": True}
    assert ada.tags == ("New", "Old")
    # An import does not re-subscribe a fan who unsubscribed.
    assert ada.lists == {"Fresh": "subscribed", "Gone": "unsubscribed"}
    assert ada.updated_at == later

    new = stored["new@example.com"]
    # Later rows win field by field; tags and lists accumulate.
    assert (new.first_name, new.last_name, new.country) == ("Second", "Last", "FR")
    assert new.custom_fields == {"is_vip": False}
    assert new.tags == ("A", "B") and new.lists == {"L1": "subscribed"}
    assert (new.source, new.lifecycle_stage, new.created_at) == ("import", "subscriber", later)
    assert len(stored) == 2


def test_custom_values_are_read_by_their_declared_type(database: Database, workspace_id: int, now: datetime) -> None:
    _declare_fields(database, workspace_id, now)
    data = (
        b"email,shoe_size,budget,is_vip,birthday,tshirt_size,note\n"
        b"a@x.co,41.5,12.50,TRUE,1990-05-01T00:00:00+02:00,m,hello\n"
        b"b@x.co,1e400,1.234,maybe,1990-05-01,XL,\n"
    )
    report = fan_csv.import_fans_csv(database, workspace_id, data, now=now)
    assert report.created == 1
    [error] = report.errors
    assert error.line == 3 and error.email == "b@x.co"
    for expected in ("shoe_size: must be a finite number", "is_vip: must be true/false", "budget: must be an amount"):
        assert expected in error.reason
    fan = _all_fans(database, workspace_id)["a@x.co"]
    assert fan.custom_fields == {
        "shoe_size": 41.5,
        "budget": Decimal("12.50"),
        "is_vip": True,
        "birthday": "1990-04-30T22:00:00.000000+00:00",
        "tshirt_size": "M",
        "note": "hello",
    }


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        ("\ufeffEmail;First_Name;City\nzoe@x.co;Zoë;Montréal\n".encode(), "utf-8 BOM, semicolons"),
        ("email,first_name,city\nzoe@x.co,Zoë,Montréal\n".encode("latin-1"), "latin-1"),
        ("email,first_name,city\r\nzoe@x.co,Zoë,Montréal\r\n".encode("cp1252"), "windows-1252, CRLF"),
        ("email\tfirst_name\tcity\nzoe@x.co\tZoë\tMontréal\n".encode("utf-16"), "utf-16, tabs"),
    ],
)
def test_encodings_and_delimiters(
    database: Database, workspace_id: int, now: datetime, encoded: bytes, label: str
) -> None:
    report = fan_csv.import_fans_csv(database, workspace_id, encoded, now=now)
    assert (report.created, report.errors) == (1, []), label
    fan = _all_fans(database, workspace_id)["zoe@x.co"]
    assert (fan.first_name, fan.city) == ("Zoë", "Montréal"), label


def test_whole_file_problems_refuse_the_import(database: Database, workspace_id: int, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="unknown column 'frist_name'") as caught:
        fan_csv.import_fans_csv(database, workspace_id, b"email,frist_name\na@x.co,A\n", now=now)
    assert caught.value.field == "file"
    with pytest.raises(InvalidInput, match="no 'email' column"):
        fan_csv.import_fans_csv(database, workspace_id, b"first_name\nA\n", now=now)
    with pytest.raises(InvalidInput, match="empty"):
        fan_csv.import_fans_csv(database, workspace_id, b"  \n\n", now=now)
    with pytest.raises(TooLarge):
        fan_csv.import_fans_csv(database, workspace_id, b"email\n" + b"a@x.co\n" * 100, now=now, max_bytes=100)
    assert _all_fans(database, workspace_id) == {}


def test_line_numbers_count_physical_lines(database: Database, workspace_id: int, now: datetime) -> None:
    data = b'email,first_name\n\na@x.co,"two\nlines"\nbad,x\nc@x.co,a,extra\n'
    report = fan_csv.import_fans_csv(database, workspace_id, data, now=now)
    assert [(error.line, error.email) for error in report.errors] == [(5, "bad"), (6, "c@x.co")]
    assert "3 values but the header has 2 columns" in report.errors[1].reason
    assert _all_fans(database, workspace_id)["a@x.co"].first_name == "two\nlines"


def test_export_neutralises_formulas_and_round_trips(database: Database, workspace_id: int, now: datetime) -> None:
    _declare_fields(database, workspace_id, now)
    fans.create_fan(
        database,
        workspace_id,
        FanIn(
            email="-evil@x.co",
            first_name='=HYPERLINK("http://x")',
            last_name="+1",
            city="@home",
            lifecycle_stage="advocate",
            source="social",
            country="FR",
            created_at=now - timedelta(days=3),
            custom_fields={
                "shoe_size": -5,
                "budget": "12.5",
                "is_vip": False,
                "birthday": "1990-01-01T00:00:00Z",
                "tshirt_size": "L",
                "note": "'=already quoted",
            },
            tags=("VIP", "-minus"),
            lists=("News",),
        ),
        now=now,
    )
    fans.create_fan(database, workspace_id, FanIn(email="plain@x.co", tags=("VIP",)), now=now)
    lists.create_list(database, workspace_id, ListIn(name="Other"), now=now)

    text = "".join(fan_export.export_fans_csv(database, workspace_id, FanFilter()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["email"] for row in rows] == ["'-evil@x.co", "plain@x.co"]
    evil = rows[0]
    assert evil["first_name"] == '\'=HYPERLINK("http://x")'
    assert (evil["last_name"], evil["city"], evil["shoe_size"]) == ("'+1", "'@home", "'-5")
    assert evil["note"] == "''=already quoted"
    assert (evil["tags"], evil["lists"], evil["budget"], evil["is_vip"]) == ("'-minus;VIP", "News", "12.50", "false")
    for row in rows:
        for value in row.values():
            assert not value.startswith(fan_csv.FORMULA_TRIGGERS)

    # The same file into a fresh workspace gives the same fans.
    other = workspaces.create_workspace(database, name="round trip", now=now).workspace.id
    _declare_fields(database, other, now)
    report = fan_csv.import_fans_csv(database, other, text.encode(), now=now + timedelta(days=1))
    assert (report.created, report.errors) == (2, [])
    compared = ("email", "first_name", "last_name", "lifecycle_stage", "source", "country", "city", "created_at")
    compared += ("custom_fields", "tags", "lists")
    original = _all_fans(database, workspace_id)
    copied = _all_fans(database, other)
    for email, fan in original.items():
        assert copied[email].model_dump(include=set(compared)) == fan.model_dump(include=set(compared))
    assert copied["-evil@x.co"].custom_fields["note"] == "'=already quoted"

    # And back into the same workspace: nothing new, nothing changed.
    again = fan_csv.import_fans_csv(database, workspace_id, text.encode(), now=now + timedelta(days=2))
    assert (again.created, again.updated, again.errors) == (0, 0, [])
    assert _all_fans(database, workspace_id) == original


def test_export_filters_and_error_report(database: Database, workspace_id: int, now: datetime) -> None:
    fans.create_fan(database, workspace_id, FanIn(email="a@x.co", tags=("VIP",)), now=now)
    fans.create_fan(database, workspace_id, FanIn(email="b@x.co"), now=now)
    text = "".join(fan_export.export_fans_csv(database, workspace_id, FanFilter(tag="vip")))
    assert [row["email"] for row in csv.DictReader(io.StringIO(text))] == ["a@x.co"]
    assert "".join(fan_export.export_fans_csv(database, workspace_id, FanFilter(tag="none"))).count("\n") == 1
    report = fan_csv.import_fans_csv(database, workspace_id, b"email\n=1+1\n", now=now)
    assert fan_export.errors_csv(report.errors).splitlines()[1].startswith("2,'=1+1,")


def test_ten_thousand_rows_import_in_one_go(sqlite_database: Database, now: datetime) -> None:
    # The speed is measured in bench/ (a timed assertion here would fail on a busy machine, not on slow code).
    workspace_id = workspaces.create_workspace(sqlite_database, name="speed", now=now).workspace.id
    lines = ["email,first_name,last_name,country,tags,lists"]
    lines += [f"f{i}@x.co,First{i},Last{i},FR,T{i % 7};All,L{i % 3}" for i in range(10_000)]
    report = fan_csv.import_fans_csv(sqlite_database, workspace_id, "\n".join(lines).encode(), now=now)
    assert report.created == 10_000 and not report.errors

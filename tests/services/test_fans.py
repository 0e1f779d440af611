from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest

from fanbase.db.engine import Database
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.custom_fields import CustomFieldIn
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.fans import FanIn
from fanbase.schemas.fans import FanPatch
from fanbase.services import custom_fields
from fanbase.services import fans


def test_create_and_get_fan_normalises_email_and_keeps_utc(
    database: Database, workspace_id: int, now: datetime
) -> None:
    fan = fans.create_fan(
        database,
        workspace_id,
        FanIn(email="  Ada@Example.COM ", first_name="Ada", country="fr", tags=("VIP",), lists=("Fan Club",)),
        now=now,
    )
    assert fan.email == "ada@example.com"
    assert fan.country == "FR"
    assert fan.created_at == now and fan.created_at.tzinfo is not None
    assert fan.total_spent == Decimal("0.00") and fan.purchase_count == 0
    again = fans.get_fan(database, workspace_id, fan.id)
    assert again.tags == ("VIP",)
    assert again.lists == {"Fan Club": "subscribed"}


def test_email_is_unique_per_workspace_case_insensitively(database: Database, workspace_id: int, now: datetime) -> None:
    fans.create_fan(database, workspace_id, FanIn(email="a@b.co"), now=now)
    with pytest.raises(Conflict):
        fans.create_fan(database, workspace_id, FanIn(email="A@B.CO"), now=now)


def test_custom_fields_are_typed(database: Database, workspace_id: int, now: datetime) -> None:
    custom_fields.create_custom_field(database, workspace_id, CustomFieldIn(name="shoe_size", type="number"), now=now)
    custom_fields.create_custom_field(database, workspace_id, CustomFieldIn(name="budget", type="money"), now=now)
    fan = fans.create_fan(
        database, workspace_id, FanIn(email="c@d.co", custom_fields={"shoe_size": 42, "budget": "12.5"}), now=now
    )
    assert fan.custom_fields == {"shoe_size": 42, "budget": Decimal("12.50")}
    with pytest.raises(InvalidInput, match=r"custom_fields.shoe_size: must be a finite number"):
        fans.update_fan(database, workspace_id, fan.id, FanPatch(custom_fields={"shoe_size": "big"}), now=now)
    with pytest.raises(InvalidInput, match="unknown custom field 'colour'"):
        fans.update_fan(database, workspace_id, fan.id, FanPatch(custom_fields={"colour": "red"}), now=now)
    updated = fans.update_fan(
        database, workspace_id, fan.id, FanPatch(custom_fields={"shoe_size": None}), now=now + timedelta(1)
    )
    assert updated.custom_fields == {"budget": Decimal("12.50")}
    assert updated.updated_at == now + timedelta(1)


def test_list_filters_and_pagination(database: Database, workspace_id: int, now: datetime) -> None:
    for index in range(7):
        fans.create_fan(
            database,
            workspace_id,
            FanIn(
                email=f"fan{index}@x.co",
                first_name="Zed" if index == 3 else "Amy",
                lifecycle_stage="customer" if index % 2 else "subscriber",
                tags=("VIP",) if index < 2 else (),
            ),
            now=now,
        )
    page = fans.list_fans(database, workspace_id, FanFilter(), page=2, page_size=3)
    assert page.total == 7 and [fan.email for fan in page.items] == ["fan3@x.co", "fan4@x.co", "fan5@x.co"]
    assert fans.list_fans(database, workspace_id, FanFilter(lifecycle_stage="customer")).total == 3
    assert fans.list_fans(database, workspace_id, FanFilter(tag="vip")).total == 2
    assert fans.list_fans(database, workspace_id, FanFilter(tag="nope")).total == 0
    assert [fan.first_name for fan in fans.list_fans(database, workspace_id, FanFilter(q="zE")).items] == ["Zed"]


def test_delete_erases_and_other_workspaces_cannot_see(database: Database, workspace_id: int, now: datetime) -> None:
    fan = fans.create_fan(database, workspace_id, FanIn(email="gone@x.co"), now=now)
    with pytest.raises(NotFound):
        fans.get_fan(database, workspace_id + 10_000, fan.id)
    fans.delete_fan(database, workspace_id, fan.id, now=now)
    with pytest.raises(NotFound):
        fans.get_fan(database, workspace_id, fan.id)

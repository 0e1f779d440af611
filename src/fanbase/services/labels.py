"""Tags (granular labels) and lists (broad categories with a subscription status and consent)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fanbase.db.engine import Connection, Database, IntegrityError
from fanbase.db.repositories import labels as labels_repo
from fanbase.db.tables import lists, tags
from fanbase.errors import Conflict, InvalidInput, NotFound
from fanbase.schemas.common import Changed, Page
from fanbase.schemas.fans import Fan, FanFilter
from fanbase.schemas.lists import FanList, ListIn, ListPatch, SubscriptionIn, SubscriptionStatus
from fanbase.schemas.tags import Tag, TagIn, TagPatch
from fanbase.services import fans as fans_service
from fanbase.services import membership, rule_context


def _refuse_null_name(patch: TagPatch | ListPatch) -> None:
    # A patch leaves out what it does not change; an explicit null would erase the name tags and lists are found by.
    if "name" in patch.model_fields_set and patch.name is None:
        raise InvalidInput("cannot be null", field="name")


# --- tags ------------------------------------------------------------------------------------------------


def create_tag(database: Database, workspace_id: int, data: TagIn, *, now: datetime) -> Tag:
    try:
        with database.transaction() as connection:
            tag_id = labels_repo.insert_tag(connection, workspace_id, data.model_dump(), now=now)
            tag = labels_repo.get_tag(connection, workspace_id, tag_id)
    except IntegrityError as error:
        raise Conflict(f"a tag named '{data.name}' already exists", field="name") from error
    assert tag is not None
    return tag


def get_tag(database: Database, workspace_id: int, tag_id: int) -> Tag:
    with database.transaction(write=False) as connection:
        tag = labels_repo.get_tag(connection, workspace_id, tag_id)
    if tag is None:
        raise NotFound(f"tag {tag_id} not found")
    return tag


def list_tags(database: Database, workspace_id: int) -> list[Tag]:
    with database.transaction(write=False) as connection:
        return labels_repo.list_tags(connection, workspace_id)


def update_tag(database: Database, workspace_id: int, tag_id: int, patch: TagPatch) -> Tag:
    _refuse_null_name(patch)
    try:
        with database.transaction() as connection:
            current = labels_repo.get_tag(connection, workspace_id, tag_id)
            if current is None:
                raise NotFound(f"tag {tag_id} not found")
            if patch.name is not None and labels_repo.name_key(patch.name) != labels_repo.name_key(current.name):
                _refuse_if_used(connection, workspace_id, tag=current.name, action="rename")
            labels_repo.update_tag(connection, workspace_id, tag_id, patch.model_dump(exclude_unset=True))
            tag = labels_repo.get_tag(connection, workspace_id, tag_id)
    except IntegrityError as error:
        raise Conflict(f"a tag named '{patch.name}' already exists", field="name") from error
    assert tag is not None
    return tag


def delete_tag(database: Database, workspace_id: int, tag_id: int) -> None:
    with database.transaction() as connection:
        current = labels_repo.get_tag(connection, workspace_id, tag_id)
        if current is None:
            raise NotFound(f"tag {tag_id} not found")
        _refuse_if_used(connection, workspace_id, tag=current.name, action="delete")
        labels_repo.delete_row(connection, tags, workspace_id, tag_id)


def _refuse_if_used(
    connection: Connection, workspace_id: int, *, tag: str | None = None, list_name: str | None = None, action: str
) -> None:
    """Rules name tags and lists: renaming or deleting one that a rule names would silently change the segment."""
    users = rule_context.load_context(connection, workspace_id).segments_naming(tag=tag, list_name=list_name)
    if users:
        what = f"tag '{tag}'" if tag is not None else f"list '{list_name}'"
        raise Conflict(f"cannot {action} {what}: the rules of these segments use it: {', '.join(users)}")


def tag_fans(database: Database, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime) -> Changed:
    with database.transaction() as connection:
        tag = labels_repo.get_tag(connection, workspace_id, tag_id)
        if tag is None:
            raise NotFound(f"tag {tag_id} not found")
        fans_service.require_fans(connection, workspace_id, fan_ids)
        added = labels_repo.link_tags(connection, workspace_id, [(tag_id, fan_id) for fan_id in fan_ids], now=now)
        membership.apply_change(
            connection,
            workspace_id,
            [fan for _, fan in added],
            membership.tags_changed([tag.name]),
            cause="write",
            now=now,
        )
    return Changed(changed=len(added))


def untag_fans(database: Database, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime) -> Changed:
    with database.transaction() as connection:
        tag = labels_repo.get_tag(connection, workspace_id, tag_id)
        if tag is None:
            raise NotFound(f"tag {tag_id} not found")
        fans_service.require_fans(connection, workspace_id, fan_ids)
        removed = labels_repo.unlink_tag(connection, workspace_id, tag_id, fan_ids, now=now)
        membership.apply_change(
            connection, workspace_id, removed, membership.tags_changed([tag.name]), cause="write", now=now
        )
    return Changed(changed=len(removed))


def tagged_fans(database: Database, workspace_id: int, tag_id: int, *, page: int, page_size: int) -> Page[Fan]:
    tag = get_tag(database, workspace_id, tag_id)
    return fans_service.list_fans(database, workspace_id, FanFilter(tag=tag.name), page=page, page_size=page_size)


# --- lists -----------------------------------------------------------------------------------------------


def create_list(database: Database, workspace_id: int, data: ListIn, *, now: datetime) -> FanList:
    try:
        with database.transaction() as connection:
            list_id = labels_repo.insert_list(connection, workspace_id, data.model_dump(), now=now)
            fan_list = labels_repo.get_list(connection, workspace_id, list_id)
    except IntegrityError as error:
        raise Conflict(f"a list named '{data.name}' already exists", field="name") from error
    assert fan_list is not None
    return fan_list


def get_list(database: Database, workspace_id: int, list_id: int) -> FanList:
    with database.transaction(write=False) as connection:
        fan_list = labels_repo.get_list(connection, workspace_id, list_id)
    if fan_list is None:
        raise NotFound(f"list {list_id} not found")
    return fan_list


def list_lists(database: Database, workspace_id: int) -> list[FanList]:
    with database.transaction(write=False) as connection:
        return labels_repo.list_lists(connection, workspace_id)


def update_list(database: Database, workspace_id: int, list_id: int, patch: ListPatch) -> FanList:
    _refuse_null_name(patch)
    try:
        with database.transaction() as connection:
            current = labels_repo.get_list(connection, workspace_id, list_id)
            if current is None:
                raise NotFound(f"list {list_id} not found")
            if patch.name is not None and labels_repo.name_key(patch.name) != labels_repo.name_key(current.name):
                _refuse_if_used(connection, workspace_id, list_name=current.name, action="rename")
            labels_repo.update_list(connection, workspace_id, list_id, patch.model_dump(exclude_unset=True))
            fan_list = labels_repo.get_list(connection, workspace_id, list_id)
    except IntegrityError as error:
        raise Conflict(f"a list named '{patch.name}' already exists", field="name") from error
    assert fan_list is not None
    return fan_list


def delete_list(database: Database, workspace_id: int, list_id: int) -> None:
    with database.transaction() as connection:
        current = labels_repo.get_list(connection, workspace_id, list_id)
        if current is None:
            raise NotFound(f"list {list_id} not found")
        _refuse_if_used(connection, workspace_id, list_name=current.name, action="delete")
        labels_repo.delete_row(connection, lists, workspace_id, list_id)


def set_subscription(
    database: Database, workspace_id: int, list_id: int, data: SubscriptionIn, *, now: datetime
) -> Changed:
    """Subscribe, unsubscribe or mark bounced; each change is kept in the consent log."""
    with database.transaction() as connection:
        fan_list = labels_repo.get_list(connection, workspace_id, list_id)
        if fan_list is None:
            raise NotFound(f"list {list_id} not found")
        fans_service.require_fans(connection, workspace_id, data.fan_ids)
        changed = labels_repo.set_statuses(
            connection,
            workspace_id,
            list_id,
            data.fan_ids,
            status=data.status,
            consent_source=data.consent_source,
            consent_at=data.consent_at,
            now=now,
        )
        membership.apply_change(
            connection, workspace_id, changed, membership.lists_changed([fan_list.name]), cause="write", now=now
        )
    return Changed(changed=len(changed))


def remove_from_list(
    database: Database, workspace_id: int, list_id: int, fan_ids: Sequence[int], *, now: datetime
) -> Changed:
    """Forget the membership row entirely (the consent log keeps its history)."""
    with database.transaction() as connection:
        fan_list = labels_repo.get_list(connection, workspace_id, list_id)
        if fan_list is None:
            raise NotFound(f"list {list_id} not found")
        fans_service.require_fans(connection, workspace_id, fan_ids)
        removed = labels_repo.remove_members(connection, workspace_id, list_id, fan_ids, now=now)
        membership.apply_change(
            connection, workspace_id, removed, membership.lists_changed([fan_list.name]), cause="write", now=now
        )
    return Changed(changed=len(removed))


def list_members(
    database: Database, workspace_id: int, list_id: int, *, status: SubscriptionStatus, page: int, page_size: int
) -> Page[Fan]:
    fan_list = get_list(database, workspace_id, list_id)
    return fans_service.list_fans(
        database, workspace_id, FanFilter(list=fan_list.name, list_status=status), page=page, page_size=page_size
    )

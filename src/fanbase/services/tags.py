"""Tags: granular labels on fans; attach and detach them in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.repositories import tags as tags_repo
from fanbase.schemas.common import Changed
from fanbase.schemas.common import Page
from fanbase.schemas.fans import Fan
from fanbase.schemas.fans import FanFilter
from fanbase.schemas.tags import Tag
from fanbase.services import fans as fans_service
from fanbase.services.fan_groups import FanGroups

TAGS = FanGroups(noun="tag", table=tags_repo.TAGS)

create_tag, get_tag, list_tags = TAGS.create, TAGS.get, TAGS.list_all
update_tag, delete_tag = TAGS.update, TAGS.delete


def tag_fans(database: Database, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime) -> Changed:
    def link(connection: Connection, tag: Tag) -> list[int]:
        pairs = [(tag.id, fan_id) for fan_id in fan_ids]
        return [fan_id for _, fan_id in tags_repo.link_tags(connection, workspace_id, pairs, now=now)]

    return TAGS.change_fans(database, workspace_id, tag_id, fan_ids, now=now, write=link)


def untag_fans(database: Database, workspace_id: int, tag_id: int, fan_ids: Sequence[int], *, now: datetime) -> Changed:
    def unlink(connection: Connection, tag: Tag) -> list[int]:
        return tags_repo.unlink_tag(connection, workspace_id, tag.id, fan_ids, now=now)

    return TAGS.change_fans(database, workspace_id, tag_id, fan_ids, now=now, write=unlink)


def tagged_fans(database: Database, workspace_id: int, tag_id: int, *, page: int, page_size: int) -> Page[Fan]:
    tag = get_tag(database, workspace_id, tag_id)
    return fans_service.list_fans(database, workspace_id, FanFilter(tag=tag.name), page=page, page_size=page_size)

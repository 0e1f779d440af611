"""What tags and lists share as a capability: named groups of fans that rules refer to by name.

Create, read, rename and delete one (refused while a segment's rule names it: that would silently change the
segment), and change which fans belong to it, with live segment membership moved in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic
from typing import Literal
from typing import Protocol
from typing import TypeVar

from fanbase.db.engine import Connection
from fanbase.db.engine import Database
from fanbase.db.engine import IntegrityError
from fanbase.db.repositories.fan_groups import FanGroupTable
from fanbase.db.repositories.fan_groups import name_key
from fanbase.errors import Conflict
from fanbase.errors import InvalidInput
from fanbase.errors import NotFound
from fanbase.schemas.common import Changed
from fanbase.schemas.lists import FanList
from fanbase.schemas.lists import ListIn
from fanbase.schemas.lists import ListPatch
from fanbase.schemas.tags import Tag
from fanbase.schemas.tags import TagIn
from fanbase.schemas.tags import TagPatch
from fanbase.services import fans as fans_service
from fanbase.services import membership
from fanbase.services import rule_context
from fanbase.services import webhooks

GroupT = TypeVar("GroupT", Tag, FanList)


class QueueEvents(Protocol):
    def __call__(
        self, connection: Connection, workspace_id: int, group_ids: Collection[int], /, *, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class _Kind:
    """How live membership, rules and webhooks name one kind of group."""

    changed: Callable[[Collection[str]], membership.Change]
    rule_reference: Literal["tag", "list_name"]  # how RuleContext.segments_naming is asked about this kind
    queue_events: QueueEvents  # the kind's webhook events for a change at an instant
    written: tuple[str, ...]  # the tables a change of members writes (their statistics follow a big change)


_KINDS: dict[str, _Kind] = {
    "tag": _Kind(
        changed=membership.tags_changed,
        rule_reference="tag",
        queue_events=webhooks.queue_tag_events,
        written=("fan_tags", "tag_membership_log"),
    ),
    "list": _Kind(
        changed=membership.lists_changed,
        rule_reference="list_name",
        queue_events=webhooks.queue_list_events,
        written=("list_members", "list_subscription_log"),
    ),
}


@dataclass(frozen=True)
class FanGroups(Generic[GroupT]):
    """One kind of fan group (``noun``: "tag" or "list", also its word in messages) over its table."""

    noun: Literal["tag", "list"]
    table: FanGroupTable[GroupT]

    @property
    def _kind(self) -> _Kind:
        return _KINDS[self.noun]

    def create(self, database: Database, workspace_id: int, data: TagIn | ListIn, *, now: datetime) -> GroupT:
        with self._unique_name(data.name), database.transaction(workspace_id=workspace_id) as connection:
            group_id = self.table.insert(connection, workspace_id, data.model_dump(), now=now)
            group = self.table.get(connection, workspace_id, group_id)
        assert group is not None
        return group

    def get(self, database: Database, workspace_id: int, group_id: int) -> GroupT:
        with database.transaction(workspace_id=workspace_id, write=False) as connection:
            return self.require(connection, workspace_id, group_id)

    def list_all(self, database: Database, workspace_id: int) -> list[GroupT]:
        with database.transaction(workspace_id=workspace_id, write=False) as connection:
            return self.table.list_all(connection, workspace_id)

    def update(self, database: Database, workspace_id: int, group_id: int, patch: TagPatch | ListPatch) -> GroupT:
        # A patch leaves out what it does not change; an explicit null would erase the name the group is found by.
        if "name" in patch.model_fields_set and patch.name is None:
            raise InvalidInput("cannot be null", field="name")
        with self._unique_name(patch.name), database.transaction(workspace_id=workspace_id) as connection:
            current = self.require(connection, workspace_id, group_id)
            if patch.name is not None and name_key(patch.name) != name_key(current.name):
                self._refuse_if_named_by_rules(connection, workspace_id, current.name, action="rename")
            self.table.update(connection, workspace_id, group_id, patch.model_dump(exclude_unset=True))
            group = self.table.get(connection, workspace_id, group_id)
        assert group is not None
        return group

    def delete(self, database: Database, workspace_id: int, group_id: int) -> None:
        with database.transaction(workspace_id=workspace_id) as connection:
            current = self.require(connection, workspace_id, group_id)
            self._refuse_if_named_by_rules(connection, workspace_id, current.name, action="delete")
            self.table.delete(connection, workspace_id, group_id)

    def change_fans(
        self,
        database: Database,
        workspace_id: int,
        group_id: int,
        fan_ids: Sequence[int],
        *,
        now: datetime,
        write: Callable[[Connection, GroupT], Collection[int]],
    ) -> Changed:
        """Check the group and the fans, ``write`` the change (it returns the fans it changed), move membership."""
        with database.transaction(workspace_id=workspace_id) as connection:
            group = self.require(connection, workspace_id, group_id)
            fans_service.require_fans(connection, workspace_id, fan_ids)
            changed = write(connection, group)
            if changed:
                self._kind.queue_events(connection, workspace_id, [group.id], at=now)
            membership.apply_change(
                connection, workspace_id, changed, self._kind.changed([group.name]), cause="write", now=now
            )
        # A big change (subscribing a whole audience) leaves the planner's view of the members stale: the next count
        # of that audience would be planned for one row (nested loops over every member).
        database.refresh_statistics_after_write(
            dict.fromkeys(self._kind.written, len(changed)), workspace_id=workspace_id
        )
        return Changed(changed=len(changed))

    def require(self, connection: Connection, workspace_id: int, group_id: int) -> GroupT:
        group = self.table.get(connection, workspace_id, group_id)
        if group is None:
            raise NotFound(f"{self.noun} {group_id} not found")
        return group

    @contextmanager
    def _unique_name(self, name: str | None) -> Iterator[None]:
        """A write that breaks the unique name (the database's constraint, even under a concurrent write) is a
        conflict on the name."""
        try:
            yield
        except IntegrityError as error:
            raise Conflict(f"a {self.noun} named '{name}' already exists", field="name") from error

    def _refuse_if_named_by_rules(self, connection: Connection, workspace_id: int, name: str, *, action: str) -> None:
        users = rule_context.load_context(connection, workspace_id).segments_naming(**{self._kind.rule_reference: name})
        if users:
            raise Conflict(
                f"cannot {action} {self.noun} '{name}': the rules of these segments use it: {', '.join(users)}"
            )

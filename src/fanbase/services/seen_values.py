"""What a workspace's data holds (event types, categories, products, event properties), for the builder's pickers."""

from __future__ import annotations

from fanbase.db.engine import Database
from fanbase.db.repositories import seen_values as seen_repo
from fanbase.schemas.analytics import SeenValue
from fanbase.schemas.analytics import SeenValues


def seen_values(database: Database, workspace_id: int) -> SeenValues:
    def values(pairs: list[tuple[str, int]]) -> list[SeenValue]:
        return [SeenValue(value=value, count=count) for value, count in pairs]

    with database.transaction(workspace_id=workspace_id, write=False) as connection:
        return SeenValues(
            event_types=values(seen_repo.event_types(connection, workspace_id)),
            categories=values(seen_repo.order_values(connection, workspace_id, "category")),
            products=values(seen_repo.order_values(connection, workspace_id, "product")),
            event_properties={
                key: values(pairs) for key, pairs in seen_repo.event_properties(connection, workspace_id).items()
            },
        )

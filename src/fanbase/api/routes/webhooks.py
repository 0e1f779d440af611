"""/webhooks: subscribe URLs to membership, tag and list events; disable; inspect deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Response
from fastapi import status

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.api.schemas import object_id
from fanbase.schemas.common import Page
from fanbase.schemas.webhooks import Delivery
from fanbase.schemas.webhooks import Webhook
from fanbase.schemas.webhooks import WebhookCreated
from fanbase.schemas.webhooks import WebhookIn
from fanbase.services import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=error_responses(401, 422))

WebhookId = Annotated[int, object_id("webhook")]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, state: StateDep, actor: ActorDep
) -> WebhookCreated:
    """Subscribe a URL to events. The answer holds the signing secret, shown this once.

    Each delivery is a POST of JSON `{id, type, occurred_at, workspace_id, data}` with headers
    `Fanbase-Webhook-Id` (the event id: the same on every retry, so dedupe on it), `Fanbase-Webhook-Timestamp`
    (unix seconds) and `Fanbase-Webhook-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
    Any 2xx answer counts as delivered; anything else is retried with backoff (10 s, 30 s, 90 s, … up to an hour;
    given up after 12 attempts). URLs on loopback, private, link-local or other non-public addresses are refused
    (422 on `url`) unless the server allows them.
    """
    return webhooks.create_webhook(
        database,
        workspace_id,
        body,
        now=now,
        allow_private_targets=state.settings.allow_private_webhook_targets,
        actor=actor,
    )


@router.get("")
def list_webhooks(database: DatabaseDep, workspace_id: WorkspaceDep) -> list[Webhook]:
    """Every webhook of the workspace, disabled ones included (their `disabled_at` is set)."""
    return webhooks.list_webhooks(database, workspace_id)


@router.get("/{webhook_id}", responses=error_responses(404))
def get_webhook(webhook_id: WebhookId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Webhook:
    return webhooks.get_webhook(database, workspace_id, webhook_id)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
def disable_webhook(
    webhook_id: WebhookId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Response:
    """Disable the webhook: nothing more is sent to it, pending deliveries included. Its history stays readable."""
    webhooks.disable_webhook(database, workspace_id, webhook_id, now=now, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", responses=error_responses(404))
def list_deliveries(
    webhook_id: WebhookId, database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep
) -> Page[Delivery]:
    """Recent deliveries, newest first: the event id and type, attempts, and the outcome. `status` is `pending`,
    `retrying` (see `next_attempt_at` and `last_error`), `delivered`, `skipped` (the fan was erased before it was
    sent) or `gave_up` (failed 12 times: not retried again)."""
    return webhooks.list_deliveries(database, workspace_id, webhook_id, page=paging.page, page_size=paging.page_size)

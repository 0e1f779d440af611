"""/messages: email to segments — compose, see the reachable audience, send or schedule, cancel, recipients;
/mail/settings (sender, tracking, rate) and /mail/outbox (what was sent with no SMTP relay configured)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Query
from fastapi import Request
from fastapi import Response
from starlette.concurrency import run_in_threadpool

from fanbase.api.deps import ActorDep
from fanbase.api.deps import DatabaseDep
from fanbase.api.deps import NowDep
from fanbase.api.deps import PagingDep
from fanbase.api.deps import StateDep
from fanbase.api.deps import WorkspaceDep
from fanbase.api.schemas import error_responses
from fanbase.api.schemas import object_id
from fanbase.schemas.common import MAX_ID
from fanbase.schemas.common import Page
from fanbase.schemas.common import RowId
from fanbase.schemas.messages import Audience
from fanbase.schemas.messages import InboundResult
from fanbase.schemas.messages import MailSettings
from fanbase.schemas.messages import MailSettingsPatch
from fanbase.schemas.messages import Message
from fanbase.schemas.messages import MessageIn
from fanbase.schemas.messages import MessagePatch
from fanbase.schemas.messages import MessageStats
from fanbase.schemas.messages import OutboxMail
from fanbase.schemas.messages import Recipient
from fanbase.schemas.messages import RecipientState
from fanbase.schemas.messages import Rendered
from fanbase.schemas.messages import SegmentMailCount
from fanbase.schemas.messages import SendIn
from fanbase.schemas.messages import SendTestIn
from fanbase.schemas.messages import SentTest
from fanbase.services import inbound_mail as inbound
from fanbase.services import mail_delivery
from fanbase.services import messages

router = APIRouter(tags=["messages"], responses=error_responses(401, 422))

MessageId = Annotated[int, object_id("message")]
MailId = Annotated[int, object_id("mail")]


@router.post("/messages", status_code=201, responses=error_responses(404))
def create_message(body: MessageIn, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> Message:
    """A draft message. Its body is Markdown; merge fields such as `{{ first_name | default("friend") }}` are
    filled per fan (fields: email, first_name, last_name, country, city, lifecycle_stage, total_spent,
    purchase_count, and `custom.<name>`; only `{% if %}` blocks besides). It goes to the members of `segment_ids`,
    never to those of `excluded_segment_ids`, and only to the subscribed members of `list_id` (their consent)."""
    return messages.create_message(database, workspace_id, body, now=now)


@router.get("/messages")
def list_messages(database: DatabaseDep, workspace_id: WorkspaceDep, paging: PagingDep) -> Page[Message]:
    """Messages, newest first."""
    return messages.list_messages(database, workspace_id, page=paging.page, page_size=paging.page_size)


@router.get("/messages/{message_id}", responses=error_responses(404))
def get_message(message_id: MessageId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Message:
    return messages.get_message(database, workspace_id, message_id)


@router.patch("/messages/{message_id}", responses=error_responses(404, 409))
def update_message(
    message_id: MessageId, body: MessagePatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> Message:
    """Change a draft or scheduled message (409 once it is being sent)."""
    return messages.update_message(database, workspace_id, message_id, body, now=now)


@router.get("/messages/{message_id}/audience", responses=error_responses(404))
def audience(message_id: MessageId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Audience:
    """Who it would reach if sent now: the fans of its segments, how many are reachable, and for the others the
    first reason that applies (excluded, suppressed, bounced, complained, unsubscribed, no consent)."""
    return messages.audience(database, workspace_id, message_id)


@router.get("/messages/{message_id}/preview", responses=error_responses(404))
def preview(
    message_id: MessageId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    state: StateDep,
    fan_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Whose merge fields to fill in")] = None,
) -> Rendered:
    """The subject, HTML and text as the fan would get them (without a fan: every merge field empty, so its
    default shows)."""
    return messages.preview(
        database, workspace_id, message_id, fan_id=fan_id, base_url=state.settings.resolved_public_url()
    )


@router.post("/messages/{message_id}/send", responses=error_responses(404, 409))
def send_message(
    message_id: MessageId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    actor: ActorDep,
    body: SendIn | None = None,
) -> Message:
    """Send now: the reachable fans are frozen as its recipients, and the sender delivers them. With `{"at": …}`
    in the future, schedule it instead (send again to reschedule or send at once)."""
    return messages.send_message(database, workspace_id, message_id, at=body.at if body else None, now=now, actor=actor)


@router.post("/messages/{message_id}/test", responses=error_responses(404, 503))
def send_test(
    message_id: MessageId,
    body: SendTestIn,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    state: StateDep,
) -> SentTest:
    """Send the message to one address now, as `fan_id` would get it (or with empty merge fields), its subject
    marked "[Test]": over the SMTP relay when one is configured, else into the local outbox. It is no recipient:
    nothing is counted and no event recorded. A permanent refusal answers 422 on `email`; a server that cannot be
    reached, 503."""
    settings = state.settings
    return mail_delivery.send_test(
        database,
        workspace_id,
        message_id,
        to=body.email,
        fan_id=body.fan_id,
        now=now,
        base_url=settings.resolved_public_url(),
        smtp_url=settings.smtp_url,
    )


@router.post("/messages/{message_id}/unschedule", responses=error_responses(404, 409))
def unschedule_message(
    message_id: MessageId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Message:
    """A scheduled message back to a draft (409 unless it is scheduled): edit it, then send or schedule it again."""
    return messages.unschedule_message(database, workspace_id, message_id, now=now, actor=actor)


@router.post("/messages/{message_id}/cancel", responses=error_responses(404, 409))
def cancel_message(
    message_id: MessageId, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep, actor: ActorDep
) -> Message:
    """Cancel a scheduled message, or stop one being sent: the recipients not yet sent are skipped."""
    return messages.cancel_message(database, workspace_id, message_id, now=now, actor=actor)


@router.get("/messages/{message_id}/recipients", responses=error_responses(404))
def recipients(
    message_id: MessageId,
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    state: Annotated[RecipientState | None, Query(description="Only recipients in this state")] = None,
) -> Page[Recipient]:
    """Who it went to (frozen when it was sent) and what became of each: `queued`, `sending`, `accepted` (the
    server took it; recorded as `sent` within a moment), `sent`, `failed` (gave up after retries), `bounced` (refused
    for good) or `skipped` (cancelled, or no longer reachable when due; `error` says why)."""
    return messages.recipients(
        database, workspace_id, message_id, state=state, page=paging.page, page_size=paging.page_size
    )


@router.get("/messages/{message_id}/stats", responses=error_responses(404))
def message_stats(message_id: MessageId, database: DatabaseDep, workspace_id: WorkspaceDep) -> MessageStats:
    """Sent, failed, bounced; opened, clicked and unsubscribed (different recipients each); opens and clicks by
    day."""
    return messages.stats(database, workspace_id, message_id)


@router.get("/mail/received")
def mail_received(
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    now: NowDep,
    segment_id: Annotated[list[RowId], Query(min_length=1, max_length=50, description="Segment ids (repeat)")],
) -> list[SegmentMailCount]:
    """Per segment, how many messages its current members were sent in the last 30 days (mail fatigue)."""
    return messages.mail_received(database, workspace_id, segment_id, now=now)


@router.post("/inbound/mail", responses=error_responses(413))
async def inbound_mail(
    request: Request, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> InboundResult:
    """Mail that reached the sender's address, raw (RFC 5322; send it as `message/rfc822`): a delivery status
    notification (RFC 3464) bounces the mail it names when it failed for good (status 5.x.x) and suppresses the
    address; a complaint report (ARF) suppresses the address and unsubscribes the fan; a reply to the `mailto:`
    unsubscribe unsubscribes. The mail is found by its Message-ID, or else by the recipient's address."""
    raw = await request.body()
    return await run_in_threadpool(lambda: inbound.receive_mail(database, workspace_id, raw, now=now).result())


@router.get("/mail/settings")
def get_mail_settings(database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep) -> MailSettings:
    return messages.get_settings(database, workspace_id, now=now)


@router.patch("/mail/settings")
def update_mail_settings(
    body: MailSettingsPatch, database: DatabaseDep, workspace_id: WorkspaceDep, now: NowDep
) -> MailSettings:
    """The sender's name and address, whether mail carries an open pixel and tracked links, and the most messages
    a second this workspace sends."""
    return messages.update_settings(database, workspace_id, body, now=now)


@router.get("/mail/outbox")
def outbox(
    database: DatabaseDep,
    workspace_id: WorkspaceDep,
    paging: PagingDep,
    message_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this message's mail")] = None,
) -> Page[OutboxMail]:
    """With no SMTP relay configured, mail is kept here instead of sent: newest first."""
    return messages.outbox(database, workspace_id, message_id=message_id, page=paging.page, page_size=paging.page_size)


@router.get("/mail/outbox/{mail_id}/raw", responses=error_responses(404), response_class=Response)
def outbox_raw(mail_id: MailId, database: DatabaseDep, workspace_id: WorkspaceDep) -> Response:
    """The mail exactly as it would have gone out (RFC 5322, `message/rfc822`)."""
    return Response(messages.outbox_raw(database, workspace_id, mail_id), media_type="message/rfc822")

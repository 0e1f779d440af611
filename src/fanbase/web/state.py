"""What the dashboard needs from the app that mounts it: the database, the clock and the settings.

NiceGUI is one app per process (its pages and client registry are module-level), so the dashboard's state is too:
``mount`` sets it, pages read it with ``current()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Concatenate
from typing import ParamSpec
from typing import TypeVar

from fanbase.schemas.audit import Actor
from fanbase.schemas.users import SignedInUser
from fanbase.services.unit_of_work import Database
from fanbase.settings import Settings


@dataclass(frozen=True)
class WebState:
    database: Database
    clock: Callable[[], datetime]
    # The app's configuration: where links in mail lead (a preview's), whether an SMTP relay is set (the outbox).
    settings: Settings = field(default_factory=Settings)

    def now(self) -> datetime:
        return self.clock()


_state: WebState | None = None


def configure(state: WebState) -> None:
    global _state
    _state = state


def current() -> WebState:
    if _state is None:
        raise RuntimeError("the dashboard is not mounted: call fanbase.web.mount(app, ...)")
    return _state


P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a (blocking) service call off the event loop, so other browser sessions stay responsive."""
    from nicegui import run

    result = await run.io_bound(function, *args, **kwargs)
    if result is None:  # NiceGUI answers None only while the server is shutting down
        raise RuntimeError("the server is shutting down")
    return result


async def in_workspace(
    user: SignedInUser, function: Callable[Concatenate[Database, int, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a service call on the user's workspace off the event loop: ``function(database, workspace_id, ...)``."""
    return await in_thread(function, current().database, user.workspace_id, *args, **kwargs)


def actor_of(user: SignedInUser) -> Actor:
    """The signed-in user as the audit log names them, with the address their page came from."""
    from nicegui import context

    try:
        request = context.client.request
        client = request.client.host if request is not None and request.client else None
    except RuntimeError:  # outside a page (no client in context)
        client = None
    return Actor(kind="user", name=user.email, client=client)

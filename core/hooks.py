"""Extension points inside core, so that core never imports the web app.

- `post_ingest_hooks`: called by `core.ingest.ingest` after each stored record, in the caller's transaction
  (qualification scores and routes the lead there).
- `event_listeners`: `emit(session, event, payload)` hands domain events (lead.created, lead.merged,
  stage.changed, message.received) to them, in the caller's transaction (webhooks write their outbox there).

The web app registers both in `create_app`; registering the same function twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.schemas import InboundRecord, IngestResult

PostIngestHook = Callable[["Session", "InboundRecord", "IngestResult"], None]
EventListener = Callable[["Session", str, dict[str, Any]], None]

post_ingest_hooks: list[PostIngestHook] = []
event_listeners: list[EventListener] = []

EVENTS = ("lead.created", "lead.merged", "stage.changed", "message.received")


def register_post_ingest(hook: PostIngestHook) -> None:
    if hook not in post_ingest_hooks:
        post_ingest_hooks.append(hook)


def register_listener(listener: EventListener) -> None:
    if listener not in event_listeners:
        event_listeners.append(listener)


def run_post_ingest(session: Session, record: InboundRecord, result: IngestResult) -> None:
    for hook in list(post_ingest_hooks):
        hook(session, record, result)


def emit(session: Session, event: str, payload: dict[str, Any]) -> None:
    for listener in list(event_listeners):
        listener(session, event, payload)

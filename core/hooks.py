"""Extension points inside core, so that core never imports the web app.

- `post_ingest_hooks`: called by `core.ingest.ingest` after each stored record, in the caller's transaction
  (qualification scores and routes the lead there).
- `event_listeners`: `emit(session, event, payload)` hands domain events (lead.created, lead.merged,
  stage.changed, message.received) to them, in the caller's transaction (webhooks write their outbox there).
- `deferred_work(session)`: inside it a hook may put its work off (`defer(session, kind, item)`); on leaving
  it every `batch_finishers` entry runs once with all of it, in order. Bulk paths (core.batch) use it so a
  batch of 500 records is qualified and scored in one pass instead of 500. Inside the block a post-ingest
  hook must only defer (it runs without a savepoint of its own there: 10,000 savepoints were a tenth of an
  import); its finisher does the writing, in a savepoint.

The web app registers both in `create_app`; registering the same function twice is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.schemas import InboundRecord, IngestResult

PostIngestHook = Callable[["Session", "InboundRecord", "IngestResult"], None]
EventListener = Callable[["Session", str, dict[str, Any]], None]
BatchFinisher = Callable[["Session", dict[str, list[Any]]], None]

log = logging.getLogger(__name__)

post_ingest_hooks: list[PostIngestHook] = []
event_listeners: list[EventListener] = []
batch_finishers: list[BatchFinisher] = []

DEFERRED_KEY = "leadhub.deferred_work"  # session.info: {kind: [items in order]} while deferred_work is open

EVENTS = ("lead.created", "lead.merged", "stage.changed", "message.received")


def register_post_ingest(hook: PostIngestHook) -> None:
    if hook not in post_ingest_hooks:
        post_ingest_hooks.append(hook)


def register_listener(listener: EventListener) -> None:
    if listener not in event_listeners:
        event_listeners.append(listener)


def register_batch_finisher(finisher: BatchFinisher) -> None:
    if finisher not in batch_finishers:
        batch_finishers.append(finisher)


@contextmanager
def deferred_work(session: Session) -> Iterator[None]:
    """Collect the work hooks defer inside the block, then hand it to the batch finishers (in the caller's
    transaction). Nested blocks join the outer one. If the block raises, the deferred work is dropped with it."""
    if DEFERRED_KEY in session.info:
        yield
        return
    session.info[DEFERRED_KEY] = {}
    try:
        yield
        work = session.info[DEFERRED_KEY]
    finally:
        session.info.pop(DEFERRED_KEY, None)
    if any(work.values()):
        for finisher in list(batch_finishers):
            try:
                with session.begin_nested():
                    finisher(session, work)
            except Exception:  # noqa: BLE001 - like a post-ingest hook: the records stay stored, unscored
                log.exception("batch finisher %s failed", getattr(finisher, "__name__", finisher))


def deferring(session: Session) -> bool:
    """True inside a deferred_work block."""
    return DEFERRED_KEY in session.info


def defer(session: Session, kind: str, item: Any) -> bool:
    """Put `kind` work off to the end of the open deferred_work block; False when none is open (do it now)."""
    work = session.info.get(DEFERRED_KEY)
    if work is None:
        return False
    work.setdefault(kind, []).append(item)
    return True


def run_post_ingest(session: Session, record: InboundRecord, result: IngestResult) -> None:
    for hook in list(post_ingest_hooks):
        hook(session, record, result)


def emit(session: Session, event: str, payload: dict[str, Any]) -> None:
    for listener in list(event_listeners):
        listener(session, event, payload)

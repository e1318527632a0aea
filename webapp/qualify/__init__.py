"""Qualification in the web app: rule editing with preview and background rescoring, routing, webhooks with a
delivery log, a rep's queue, the lead panel (stage, BANT, explained score) and analytics for managers.

`init_app` wires core's hooks: scoring and routing after every ingest (connectors' sync, the API, imports all
go through core.ingest), webhook outbox rows on every domain event, and their delivery once the transaction
that caused them has committed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, has_app_context
from sqlmodel import Session

from core import hooks, qualification, webhooks

bp = Blueprint("qualify", __name__, template_folder="../templates")


def init_app(app: Flask) -> None:
    hooks.register_post_ingest(qualification.on_ingest)
    hooks.register_batch_finisher(qualification.finish_batch)
    hooks.register_listener(qualification.on_event)
    hooks.register_listener(webhooks.record_event)
    if not sa.event.contains(Session, "after_commit", _deliver_after_commit):
        sa.event.listen(Session, "after_commit", _deliver_after_commit)
        sa.event.listen(Session, "after_rollback", _forget_pending)
    from webapp.qualify import views  # noqa: F401  (registers the pages on bp)

    app.register_blueprint(bp)

    @app.context_processor
    def _panel() -> dict[str, Any]:
        return {"qualification_panel": views.panel_data, "temperature_badge": views.temperature_badge}


def _deliver_after_commit(session: Session) -> None:
    """Hand the committed outbox rows to the queue (never before commit: the worker would not see them)."""
    if session.in_nested_transaction():
        return  # a savepoint was released (SQLAlchemy reports those as commits too); wait for the real one
    webhooks.forget_endpoint_cache(session)
    pending = session.info.pop(webhooks.PENDING_KEY, None)
    if not pending or not has_app_context() or "leadhub.tasks" not in current_app.extensions:
        return  # left pending: the sweep (deliver_due_webhooks) picks them up
    from webapp.queue import enqueue

    for delivery_id in pending:
        enqueue("deliver_webhook", delivery_id)


def _forget_pending(session: Session) -> None:
    session.info.pop(webhooks.PENDING_KEY, None)
    webhooks.forget_endpoint_cache(session)

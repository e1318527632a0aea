"""Background work of qualification: rescoring every lead after a rule change (with progress), and webhook
deliveries with retries."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import current_app
from sqlmodel import Session

from core.models import WebhookDelivery, WebhookEndpoint, utcnow
from core.qualification import rescore_all, save_rescore_job
from core.webhooks import DeliveryPolicy, attempt_delivery, due_deliveries
from webapp.db import get_engine
from webapp.queue import enqueue, task

log = logging.getLogger(__name__)


@task("rescore_all")
def rescore_all_task(version: int | None = None) -> dict[str, Any]:
    """Rescore every lead with the active rules; progress goes to the qualify.rescore_job setting."""
    engine = get_engine()
    started = utcnow().isoformat()

    def save(value: dict[str, Any]) -> None:
        with Session(engine) as session:
            # Reads, then writes, while rescoring processes commit: on SQLite that needs the lock up front.
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            save_rescore_job(session, value)
            session.commit()

    save({"status": "running", "version": version, "done": 0, "total": None, "started_at": started})

    def progress(done: int, total: int) -> None:
        save({"status": "running", "version": version, "done": done, "total": total, "started_at": started})

    try:
        stats = rescore_all(engine, progress=progress, processes=rescore_processes())
    except Exception as exc:
        log.exception("rescoring failed")
        save({"status": "failed", "version": version, "error": str(exc)[:500], "started_at": started,
              "finished_at": utcnow().isoformat()})
        raise
    result = {
        "status": "done", "version": version, "done": stats.scanned, "total": stats.scanned,
        "stage_changes": stats.stage_changes, "temperature_changes": stats.temperature_changes,
        "seconds": round(stats.seconds, 2), "started_at": started, "finished_at": utcnow().isoformat(),
    }
    save(result)
    # Stage-change deliveries queued by worker processes (no app there to hand them to the queue).
    for delivery_id in stats.pending_deliveries:
        enqueue("deliver_webhook", delivery_id)
    return result


def rescore_processes() -> int:
    configured = int(current_app.config["LEADHUB"]["RESCORE_PROCESSES"])
    return configured if configured > 0 else min(4, os.cpu_count() or 1)


def delivery_policy() -> DeliveryPolicy:
    settings = current_app.config["LEADHUB"]
    return DeliveryPolicy(
        max_attempts=int(settings["WEBHOOK_MAX_ATTEMPTS"]),
        backoff_seconds=float(settings["WEBHOOK_BACKOFF_SECONDS"]),
        timeout_seconds=float(settings["WEBHOOK_TIMEOUT_SECONDS"]),
    )


def endpoint_secret(session: Session, delivery_id: int) -> str | None:
    """The signing secret of the delivery's endpoint; None: no endpoint; "": one whose secret cannot be read."""
    delivery = session.get(WebhookDelivery, delivery_id)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
    if endpoint is None:
        return None
    try:
        secret = current_app.extensions["leadhub.secretbox"].decrypt(endpoint.secret_encrypted).get("secret")
    except ValueError:  # stored under another LEADHUB_SECRET_KEY
        secret = None
    if not isinstance(secret, str) or not secret:
        log.error("webhook endpoint %s: its signing secret cannot be read (was LEADHUB_SECRET_KEY changed?); "
                  "its deliveries wait unsent until the key is put back or the endpoint is saved with a new secret",
                  endpoint.id)
        return ""
    return secret


@task("deliver_webhook")
def deliver_webhook(delivery_id: int) -> dict[str, Any]:
    """One attempt; on failure the next one is scheduled after the backoff delay."""
    with Session(get_engine(), expire_on_commit=False) as session:
        secret = endpoint_secret(session, delivery_id)
        if secret is None:
            return {"delivery_id": delivery_id, "skipped": "no endpoint"}
        if not secret:  # (nothing unsigned is sent; the delivery stays as it is, for a later attempt)
            return {"delivery_id": delivery_id, "skipped": "the endpoint's secret cannot be read"}
        delay = attempt_delivery(session, delivery_id, secret=secret, policy=delivery_policy())
        delivery = session.get(WebhookDelivery, delivery_id)
        status = delivery.status if delivery else "gone"
        session.commit()
    if delay is not None:
        bound = current_app.extensions["leadhub.tasks"]["deliver_webhook"]
        bound.schedule(args=(delivery_id,), delay=delay)
    return {"delivery_id": delivery_id, "status": status, "retry_in": delay}


@task("deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Sweep: retries whose time has come and outbox rows whose enqueue was lost (e.g. a crash after commit)."""
    with Session(get_engine()) as session:
        ids = due_deliveries(session)
    for delivery_id in ids:
        deliver_webhook(delivery_id)
    return len(ids)

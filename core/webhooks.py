"""Outbound webhooks: events are written to an outbox (webhook_deliveries) in the transaction that caused them,
then delivered by a background task, signed, retried with exponential backoff, every attempt logged.

Signature: X-Leadhub-Signature: sha256=HEX(HMAC-SHA256(secret, "<timestamp>.<body>")), with the Unix
timestamp in X-Leadhub-Timestamp and the delivery's id in X-Leadhub-Delivery. Receivers check the signature
and refuse old timestamps (replays); `verify_signature` does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlmodel import Session, col, select

from core.hooks import EVENTS
from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow

PENDING_KEY = "leadhub.webhooks.pending"
_ENDPOINTS_KEY = "leadhub.webhooks.endpoints"
EXCERPT_CHARS = 500


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does: constant-time comparison, and no timestamps older (or newer) than `tolerance`."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and equal_secrets(signature or "", sign(secret, timestamp, body))


def equal_secrets(given: str, expected: str) -> bool:
    """Constant-time comparison of a token or signature a client sent with the expected one. As bytes:
    hmac.compare_digest raises TypeError on a str with non-ASCII characters, which a header or query can carry."""
    return hmac.compare_digest(given.encode(), expected.encode())


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def subscribed_endpoints(session: Session, event: str) -> list[WebhookEndpoint]:
    if _ENDPOINTS_KEY not in session.info:
        session.info[_ENDPOINTS_KEY] = list(
            session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.active).is_(True))).all()
        )
    return [e for e in session.info[_ENDPOINTS_KEY] if event in (e.events or [])]


def record_event(session: Session, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Event listener: one outbox row per subscribed endpoint; their ids wait in session.info for the commit."""
    if event not in EVENTS:
        return []
    deliveries = []
    for endpoint in subscribed_endpoints(session, event):
        delivery_uuid = str(uuid.uuid4())
        payload = {"id": delivery_uuid, "event": event, "created_at": utcnow().isoformat(), "data": data}
        delivery = WebhookDelivery(endpoint_id=endpoint.id, delivery_uuid=delivery_uuid, event=event, payload=payload)
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        session.flush()
        session.info.setdefault(PENDING_KEY, []).extend(d.id for d in deliveries)
    return deliveries


def forget_endpoint_cache(session: Session) -> None:
    session.info.pop(_ENDPOINTS_KEY, None)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0


def backoff_delay(attempt: int, policy: DeliveryPolicy, *, jitter: float | None = None) -> float:
    """Exponential backoff with up to 10% jitter: 30 s, 60 s, 120 s …"""
    base = policy.backoff_seconds * (2 ** max(0, attempt - 1))
    return base * (1 + (random.random() * 0.1 if jitter is None else jitter))  # noqa: S311 - not security


def attempt_delivery(
    session: Session, delivery_id: int, *, secret: str, policy: DeliveryPolicy = DeliveryPolicy(),
    http: requests.Session | None = None,
) -> float | None:
    """POST one delivery once and log the attempt. Returns the delay before the next attempt, or None when done
    (delivered, failed for good, or nothing to do). The caller commits."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status in ("delivered", "failed"):
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None:
        return None
    body = body_bytes(delivery.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadhub-webhooks/1",
        "X-Leadhub-Event": delivery.event,
        "X-Leadhub-Delivery": delivery.delivery_uuid,
        "X-Leadhub-Timestamp": timestamp,
        "X-Leadhub-Signature": sign(secret, timestamp, body),
    }
    started = time.perf_counter()
    status_code: int | None = None
    excerpt = error = ""
    try:
        response = (http or requests).post(
            endpoint.url, data=body, headers=headers, timeout=policy.timeout_seconds, allow_redirects=False
        )
        status_code = response.status_code
        excerpt = response.text[:EXCERPT_CHARS]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id, number=delivery.attempts, status_code=status_code, response_excerpt=excerpt,
            error=error, duration_ms=int((time.perf_counter() - started) * 1000),
        )
    )
    delivery.last_status_code = status_code
    delay: float | None = None
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = "delivered"
        delivery.delivered_at = utcnow()
        delivery.next_attempt_at = None
    elif delivery.attempts >= policy.max_attempts:
        delivery.status = "failed"
        delivery.next_attempt_at = None
    else:
        delay = backoff_delay(delivery.attempts, policy)
        delivery.status = "retrying"
        delivery.next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
    session.add(delivery)
    session.flush()
    return delay


def due_deliveries(session: Session, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose retry time has come, and pending ones older than a minute (their enqueue was lost)."""
    now = now or utcnow()
    rows = session.exec(
        select(WebhookDelivery.id)
        .where(
            ((WebhookDelivery.status == "retrying") & (col(WebhookDelivery.next_attempt_at) <= now))
            | ((WebhookDelivery.status == "pending") & (col(WebhookDelivery.created_at) <= now - timedelta(minutes=1)))
        )
        .order_by(col(WebhookDelivery.id))
        .limit(limit)
    ).all()
    return list(rows)


def delivery_log(session: Session, *, limit: int = 100, endpoint_id: int | None = None) -> list[dict[str, Any]]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.id).desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    deliveries = list(session.exec(query).all())
    attempts: dict[int, list[WebhookAttempt]] = {}
    if deliveries:
        for attempt in session.exec(
            select(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_([d.id for d in deliveries]))
            .order_by(col(WebhookAttempt.number))
        ).all():
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        {
            "id": d.id, "uuid": d.delivery_uuid, "endpoint_id": d.endpoint_id, "event": d.event, "status": d.status,
            "attempts": d.attempts, "last_status_code": d.last_status_code, "created_at": d.created_at,
            "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
            "log": [
                {"number": a.number, "status_code": a.status_code, "response": a.response_excerpt, "error": a.error,
                 "duration_ms": a.duration_ms, "at": a.created_at}
                for a in attempts.get(d.id, [])
            ],
        }
        for d in deliveries
    ]

"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signed deliveries, retries with backoff, the log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.webhooks import DeliveryPolicy, backoff_delay, sign, verify_signature

SECRET = "s3cret-for-tests"


class Receiver:
    """Records every request; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.server = make_server("127.0.0.1", 0, self.app)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ, start_response):  # noqa: ANN001, ANN201
        request = Request(environ)
        body = request.get_data()
        self.requests.append({"headers": dict(request.headers), "body": body})
        status = self.statuses.pop(0) if self.statuses else 200
        valid = verify_signature(SECRET, request.headers.get("X-Leadhub-Timestamp", ""), body,
                                 request.headers.get("X-Leadhub-Signature", ""))
        return Response(json.dumps({"valid": valid}), status=status)(environ, start_response)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    rx.thread.start()
    yield rx
    rx.server.shutdown()


def _endpoint(app, session, url: str, events: list[str]) -> WebhookEndpoint:  # noqa: ANN001
    box = app.extensions["leadhub.secretbox"]
    endpoint = WebhookEndpoint(url=url, events=events, secret_encrypted=box.encrypt({"secret": SECRET}))
    session.add(endpoint)
    session.commit()
    return endpoint


def _inbound(client, auth, n: int) -> int:  # noqa: ANN001
    response = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "form", "contact": {"name": f"Lead {n}", "email": f"l{n}@gmail.com"},
        "message": {"external_id": f"w{n}", "text": "hello"}})
    assert response.status_code == 201
    return response.json["contact_id"]


def test_signature_roundtrip_and_tampering() -> None:
    body = b'{"a":1}'
    signature = sign(SECRET, 1_700_000_000, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, "1700000000", body, signature, now=1_700_000_100)
    assert not verify_signature(SECRET, "1700000000", b'{"a":2}', signature, now=1_700_000_100)
    assert not verify_signature("other", "1700000000", body, signature, now=1_700_000_100)
    assert not verify_signature(SECRET, "1700000000", body, signature, now=1_700_001_000)  # replayed late
    assert not verify_signature(SECRET, "not-a-time", body, signature)


def test_backoff_doubles() -> None:
    policy = DeliveryPolicy(backoff_seconds=30)
    assert [backoff_delay(n, policy, jitter=0) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert 30 <= backoff_delay(1, policy) <= 33


def test_events_are_delivered_signed(app, client, auth, session, receiver):
    _endpoint(app, session, receiver.url, ["lead.created", "message.received", "stage.changed"])
    cid = _inbound(client, auth, 1)
    assert client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "mql"}, headers=auth).status_code == 201
    events = [json.loads(r["body"])["event"] for r in receiver.requests]
    assert events == ["lead.created", "message.received", "stage.changed"]
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert verify_signature(SECRET, headers["X-Leadhub-Timestamp"], body, headers["X-Leadhub-Signature"])
        assert headers["X-Leadhub-Delivery"] == json.loads(body)["id"]
    stage = json.loads(receiver.requests[-1]["body"])["data"]
    assert (stage["contact_id"], stage["from"], stage["to"]) == (cid, "new", "mql")
    session.rollback()
    assert {d.status for d in session.exec(select(WebhookDelivery)).all()} == {"delivered"}


def test_failures_are_retried_with_backoff_and_logged(app, client, auth, session, receiver):
    app.config["LEADHUB"]["WEBHOOK_MAX_ATTEMPTS"] = 3
    _endpoint(app, session, receiver.url, ["lead.created"])
    receiver.statuses = [503, 500]
    _inbound(client, auth, 2)
    session.rollback()
    delivery = session.exec(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 503)
    assert delivery.next_attempt_at is not None
    from webapp.qualify.tasks import deliver_webhook

    with app.app_context():
        assert deliver_webhook(delivery.id)["status"] == "retrying"
        assert deliver_webhook(delivery.id)["status"] == "delivered"
        assert deliver_webhook(delivery.id)["status"] == "delivered"  # nothing more to do
    session.rollback()
    attempts = session.exec(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
    assert [(a.number, a.status_code) for a in attempts] == [(1, 503), (2, 500), (3, 200)]
    assert '"valid": true' in attempts[-1].response_excerpt
    assert len(receiver.requests) == 3
    # The same delivery id every time, so receivers can drop duplicates.
    assert len({r["headers"]["X-Leadhub-Delivery"] for r in receiver.requests}) == 1


def test_gives_up_after_max_attempts_and_survives_a_dead_endpoint(app, client, auth, session):
    app.config["LEADHUB"]["WEBHOOK_MAX_ATTEMPTS"] = 2
    app.config["LEADHUB"]["WEBHOOK_TIMEOUT_SECONDS"] = 2
    _endpoint(app, session, "http://127.0.0.1:9/nothing-listens", ["lead.created"])
    cid = _inbound(client, auth, 3)  # the inquiry is stored whatever the endpoint does
    assert cid
    session.rollback()
    delivery = session.exec(select(WebhookDelivery)).one()
    from webapp.qualify.tasks import deliver_webhook

    with app.app_context():
        assert deliver_webhook(delivery.id)["status"] == "failed"
    session.rollback()
    attempts = session.exec(select(WebhookAttempt)).all()
    assert len(attempts) == 2 and all(a.status_code is None and "Connection" in a.error for a in attempts)


def test_merge_event(app, client, auth, session, receiver):
    _endpoint(app, session, receiver.url, ["lead.merged"])
    a, b = _inbound(client, auth, 4), _inbound(client, auth, 5)
    response = client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b}, headers=auth)
    assert response.status_code == 201
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert [(x["event"], x["data"]["survivor_id"], x["data"]["merged_id"]) for x in bodies] == [("lead.merged", a, b)]


def test_admin_registers_endpoint_and_sees_the_log(app, client, session, receiver, admin_token):
    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/login", data={"email": "admin@leadhub.example", "password": "admin-password"})
    page = client.post("/qualify/webhooks", data={"action": "add", "url": receiver.url, "events": ["lead.created"]})
    assert page.status_code == 200
    assert b"new-secret" in page.data
    bad = client.post("/qualify/webhooks", data={"action": "add", "url": "ftp://x", "events": ["lead.created"]})
    assert bad.status_code == 400 and b"must start with http" in bad.data
    endpoint = session.exec(select(WebhookEndpoint)).one()
    assert endpoint.events == ["lead.created"] and endpoint.secret_encrypted
    client.post("/api/v1/inbound", headers={"Authorization": f"Bearer {admin_token}"}, json={
        "channel": "form", "contact": {"email": "x@y.pl"}, "message": {"external_id": "z", "text": "hi"}})
    log = client.get("/qualify/webhooks")
    assert log.status_code == 200 and b"lead.created" in log.data and b"delivered" in log.data


@pytest.mark.parametrize("stored", ["", "not-a-fernet-token", "other key"])
def test_an_endpoint_whose_secret_cannot_be_read_keeps_its_deliveries_for_later(app, client, auth, session, receiver,
                                                                                 stored: str) -> None:
    """A secret stored under another LEADHUB_SECRET_KEY (the key was changed), or none: the task raised
    (ValueError, KeyError) on every attempt and every sweep. Nothing unsigned is sent; the delivery waits, unsent,
    for the key to be put back."""
    from cryptography.fernet import Fernet

    from webapp.qualify.tasks import deliver_webhook

    endpoint = _endpoint(app, session, receiver.url, ["lead.created"])
    endpoint.secret_encrypted = (Fernet(Fernet.generate_key()).encrypt(b'{"secret": "x"}').decode()
                                 if stored == "other key" else stored)
    session.add(endpoint)
    session.commit()
    _inbound(client, auth, 6)  # (the inquiry is stored whatever its events' endpoints are)
    session.rollback()
    delivery = session.exec(select(WebhookDelivery)).one()
    with app.app_context():
        result = deliver_webhook(delivery.id)
    assert "secret" in result["skipped"], result
    session.rollback()
    assert session.get(WebhookDelivery, delivery.id).status == "pending" and receiver.requests == []

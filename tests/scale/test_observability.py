"""/healthz (database and queue), /metrics (store gauges, latency histograms), request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from tests.scale.harness import create_accounts, dispose_engines, make_worker_app
from webapp.observability import configure_logging
from webapp.sync_health import account_health
from webapp.tasks import sync_account


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _inbound(external_id: str) -> dict:
    return {
        "channel": "api",
        "external_id": external_id,
        "contact": {"name": "Ada Nowak", "email": "ada@firma.pl"},
        "message": {"external_id": external_id, "direction": "in", "text": "Hello"},
    }


def test_healthz_reports_database_and_queue(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"]["database"] == "ok" and body["checks"]["queue"] == "ok"
    assert body["checks"]["queue_depth"] == 0


def test_healthz_is_503_when_the_queue_does_not_answer(database_url, tmp_path) -> None:
    # Nothing listens on port 1: the Redis queue is unreachable.
    app = make_worker_app(database_url, "redis://127.0.0.1:1/0", "unreachable", str(tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["queue"].startswith("error: ")
    assert response.get_json()["checks"]["database"] == "ok"
    dispose_engines(app)


def test_metrics_counts_messages_lag_errors_and_latency(app, client, session, auth, target) -> None:
    with target.start_emulator(mailboxes=2, per_mailbox=7) as emulator:
        app.config["LEADHUB"].update(emulator.settings)
        ids = create_accounts(session, target, emulator.mailboxes)
        with app.app_context():
            for account_id in ids:
                sync_account(account_id)
    for number in range(3):
        assert client.post("/api/v1/inbound", json=_inbound(f"m{number}"), headers=auth).status_code == 201
    assert client.post("/api/v1/inbound", json={"channel": 5}, headers=auth).status_code == 400
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))
    assert samples[("leadhub_messages_ingested", (("channel", "synthetic"),))] == 14
    assert samples[("leadhub_messages_ingested", (("channel", "api"),))] == 3
    for account_id in ids:
        lag = samples[("leadhub_sync_lag_seconds", (("account_id", str(account_id)), ("type", "synthetic")))]
        assert 0 <= lag < 600
    assert samples[("leadhub_queue_depth", ())] == 0
    assert samples[("leadhub_store_up", ())] == 1
    ok = ("leadhub_webhook_duration_seconds_count", (("outcome", "ok"), ("source", "api_inbound")))
    rejected = ("leadhub_webhook_duration_seconds_count", (("outcome", "rejected"), ("source", "api_inbound")))
    assert samples[ok] >= 3 and samples[rejected] >= 1  # histograms are per process: other tests add to them
    assert any(name == "leadhub_http_request_duration_seconds_count" for name, _ in samples)


def test_request_id_is_kept_or_made_and_returned(client) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; <script>"}).headers["X-Request-ID"]
    assert made != "bad id; <script>" and len(made) == 32


def test_json_logs_carry_the_request_id(app, client) -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "json")
    previous = handler.setStream(stream)
    try:

        @app.get("/_log_probe")
        def probe() -> str:
            logging.getLogger("leadhub.probe").warning("probe %s", "hit")
            return "ok"

        client.get("/_log_probe", headers={"X-Request-ID": "req-42"})
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)
        configure_logging("INFO", "text")
    probe_lines = [line for line in lines if line.get("logger") == "leadhub.probe"]
    assert probe_lines and probe_lines[0]["request_id"] == "req-42" and probe_lines[0]["message"] == "probe hit"
    assert probe_lines[0]["level"] == "WARNING"


def test_account_health_gives_status_lag_and_errors(app, session, target) -> None:
    ids = create_accounts(session, target, ["never"])
    with app.app_context():
        (health,) = account_health(session)
    assert health["account_id"] == ids[0] and health["lag_seconds"] is None and health["status"] == "healthy"
    assert health["errors_24h"] == {} and health["in_progress"] is False

"""The production command: gunicorn with several worker processes; /metrics sums all of them."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from core.users import create_api_token, create_user
from tests.scale.serving import gunicorn


def test_gunicorn_serves_and_metrics_add_up_across_processes(database_url, session, tmp_path) -> None:
    user = create_user(session, email="load@leadhub.example", role="admin", name="Load", password="load-password")
    token = create_api_token(session, user=user)
    session.commit()
    env = {
        "LEADHUB_DATABASE_URL": database_url,
        "LEADHUB_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "LEADHUB_SECRET_KEY": "k" * 32,
        "LEADHUB_DEMO": "off",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log_path = tmp_path / "gunicorn.log"
    posts = 12
    with gunicorn(env, workers=2, threads=1, log_path=log_path) as url:
        http = requests.Session()
        for number in range(posts):
            response = http.post(
                f"{url}/api/v1/inbound",
                headers={"Authorization": f"Bearer {token}", "X-Request-ID": f"load-{number}", "Connection": "close"},
                json={
                    "channel": "api",
                    "external_id": f"g{number}",
                    "contact": {"name": "Load Test", "email": f"load{number}@firma.pl"},
                    "message": {"external_id": f"g{number}", "direction": "in", "text": "hi"},
                },
                timeout=30,
            )
            assert response.status_code == 201 and response.headers["X-Request-ID"] == f"load-{number}"
        text = http.get(f"{url}/metrics", timeout=30).text
    counts = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert counts[("leadhub_webhook_duration_seconds_count", (("outcome", "ok"), ("source", "api_inbound")))] == posts
    assert counts[("leadhub_messages_ingested", (("channel", "api"),))] == posts
    assert "rid=load-3" in log_path.read_text()  # the access log carries the request id

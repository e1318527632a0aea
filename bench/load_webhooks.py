"""Load: POSTs from a second process on loopback against gunicorn, at saturation, for --seconds.

    .venv/bin/python bench/load_webhooks.py --seconds 60 [--endpoint /api/v1/inbound] [--database-url URL]

Prints acknowledged (2xx) posts, stored messages, throughput and latency percentiles. The endpoint is a
parameter so the forms and Intercom webhook endpoints can be driven the same way once merged (--body-kind).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _client(url: str, endpoint: str, token: str, seconds: float, threads: int, out) -> None:  # noqa: ANN001
    import requests

    latencies: list[float] = []
    acked: list[str] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(worker: int) -> None:
        http = requests.Session()
        number = 0
        while time.monotonic() < stop:
            number += 1
            external_id = f"load-{worker}-{number}-{uuid.uuid4().hex[:6]}"
            body = {
                "channel": "api",
                "external_id": external_id,
                "contact": {"name": f"Load {worker} {number}", "email": f"load{worker}.{number}@firma.pl"},
                "message": {"external_id": external_id, "direction": "in", "text": "Inquiry"},
            }
            started = time.perf_counter()
            try:
                response = http.post(f"{url}{endpoint}", json=body, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30)
                status = str(response.status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            elapsed = time.perf_counter() - started
            with lock:
                if status in ("200", "201"):
                    acked.append(external_id)
                    latencies.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put({"acked": len(acked), "latencies": latencies, "errors": errors})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--endpoint", default="/api/v1/inbound")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--web-workers", type=int, default=0, help="default: gunicorn.conf.py (2 x cores + 1)")
    parser.add_argument("--client-threads", type=int, default=16)
    args = parser.parse_args()

    import sqlalchemy as sa
    from sqlmodel import Session

    from core.db import make_engine
    from core.users import create_api_token, create_user
    from tests.scale.serving import gunicorn
    from webapp.cli import upgrade_database

    work = Path(tempfile.mkdtemp(prefix="leadhub-load-"))
    url = args.database_url or f"sqlite:///{work / 'leadhub.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        user = create_user(session, email=f"load-{uuid.uuid4().hex[:6]}@leadhub.example", role="admin", name="Load",
                           password="load-password")
        token = create_api_token(session, user=user)
        with engine.connect() as conn:
            before = conn.execute(sa.text("SELECT count(*) FROM messages WHERE channel = 'api'")).scalar_one()
        session.commit()
    env = {"LEADHUB_DATABASE_URL": url, "LEADHUB_QUEUE_URL": f"sqlite:///{work / 'queue.db'}",
           "LEADHUB_SECRET_KEY": "load" * 8, "LEADHUB_DEMO": "off", "LEADHUB_LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
    import os

    workers = args.web_workers or (os.cpu_count() or 1) * 2 + 1
    with gunicorn(env, workers=workers, threads=2, log_path=work / "gunicorn.log") as base_url:
        out = multiprocessing.get_context("spawn").Queue()
        client = multiprocessing.get_context("spawn").Process(
            target=_client, args=(base_url, args.endpoint, token, args.seconds, args.client_threads, out)
        )
        client.start()
        result = out.get()
        client.join()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM messages WHERE channel = 'api'")).scalar_one() - before
    latencies = sorted(result["latencies"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    report = {
        "seconds": args.seconds,
        "database": make_engine(url).dialect.name,
        "web_workers": workers,
        "client_threads": args.client_threads,
        "acknowledged": result["acked"],
        "stored": stored,
        "stored_equals_acknowledged": stored == result["acked"],
        "non_2xx": result["errors"],
        "posts_per_second": round(result["acked"] / args.seconds, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Load: POSTs from a second process on loopback against gunicorn, at saturation, for --seconds.

    .venv/bin/python bench/load_webhooks.py --seconds 60 [--kind inbound|intercom] [--database-url URL] [--queue-url URL]

--kind inbound (the default): `POST /api/v1/inbound` with a Bearer token; each 2xx is a stored message.
--kind intercom: signed `conversation.user.replied` notifications to `POST /webhooks/intercom`, each a new
conversation (its opening message and one reply). A 2xx only means "queued", so after the load a
`leadhub worker` drains the queue, and the conversations stored are compared, as sets, with the ones
acknowledged. (Website forms have their own script: bench/forms_load.py.)

Prints acknowledged (2xx) posts, stored, throughput and latency percentiles.
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


INTERCOM_SECRET = "load-client-secret"


def intercom_bodies(count: int, run: str = "") -> list[tuple[str, bytes]]:
    """(conversation id, body) of a `conversation.user.replied` notification for each of `count` new
    conversations (an opening message and one reply), made before the clock starts; sign the body to send it."""
    from connectors.intercom.emulator import IntercomEmulator

    emulator = IntercomEmulator(client_secret=INTERCOM_SECRET)
    bodies = []
    for number in range(count):
        contact = emulator.add_contact(name=f"Hook {number}", email=f"hook{run}.{number}@example.org")
        conversation = emulator.add_conversation(contact["id"], f"<p>Dzień dobry, oferta {number}?</p>")
        emulator.add_part(conversation["id"], "<p>a reply</p>", author_type="user")
        notification = emulator.notification("conversation.user.replied", emulator.conversation_view(conversation["id"]))
        bodies.append((str(conversation["id"]), json.dumps(notification).encode()))
    return bodies


def _client(url: str, kind: str, token: str, seconds: float, threads: int, out) -> None:  # noqa: ANN001
    import requests

    from connectors.intercom.emulator import sign_webhook

    latencies: list[float] = []
    acked: list[str] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    # Enough notifications for ~1,000 acknowledgements a second, generated before the load starts.
    pool_of_bodies = intercom_bodies(int(seconds * 1000), uuid.uuid4().hex[:6]) if kind == "intercom" else []
    stop = time.monotonic() + seconds

    def request(http: requests.Session, worker: int, number: int) -> tuple[str, requests.Response]:
        if kind == "intercom":
            with lock:
                conversation_id, body = pool_of_bodies.pop()
            headers = {"Content-Type": "application/json", "X-Hub-Signature": sign_webhook(INTERCOM_SECRET, body)}
            return conversation_id, http.post(f"{url}/webhooks/intercom", data=body, headers=headers, timeout=30)
        external_id = f"load-{worker}-{number}-{uuid.uuid4().hex[:6]}"
        body = {
            "channel": "api",
            "external_id": external_id,
            "contact": {"name": f"Load {worker} {number}", "email": f"load{worker}.{number}@firma.pl"},
            "message": {"external_id": external_id, "direction": "in", "text": "Inquiry"},
        }
        return external_id, http.post(f"{url}/api/v1/inbound", json=body,
                                      headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def run(worker: int) -> None:
        http = requests.Session()
        number = 0
        while time.monotonic() < stop:
            number += 1
            started = time.perf_counter()
            try:
                external_id, response = request(http, worker, number)
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
    out.put({"acked": acked, "latencies": latencies, "errors": errors})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kind", choices=["inbound", "intercom"], default="inbound")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--queue-url", default="", help="default: the embedded SQLite queue (a fresh file)")
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
        if args.kind == "intercom":  # notifications of a workspace no account holds are ignored
            from connectors.intercom.emulator import IntercomEmulator
            from core.models import ConnectorAccount

            workspace = IntercomEmulator().workspace_id
            if session.exec(sa.select(ConnectorAccount.id).where(ConnectorAccount.type == "intercom",
                                                                 ConnectorAccount.external_id == workspace)).first() is None:
                session.add(ConnectorAccount(type="intercom", label="load", external_id=workspace))
        session.commit()
    channel = "api" if args.kind == "inbound" else "intercom"
    stored_query = sa.text(
        "SELECT external_id FROM messages WHERE channel = :channel" if args.kind == "inbound"
        else "SELECT external_id FROM conversations WHERE channel = :channel"
    ).bindparams(channel=channel)
    with engine.connect() as conn:
        before = set(conn.execute(stored_query).scalars())
    queue_name = f"leadhub-load-{uuid.uuid4().hex[:8]}"
    env = {"LEADHUB_DATABASE_URL": url, "LEADHUB_QUEUE_URL": args.queue_url or f"sqlite:///{work / 'queue.db'}",
           "LEADHUB_QUEUE_NAME": queue_name, "LEADHUB_SECRET_KEY": "load" * 8, "LEADHUB_DEMO": "off",
           "LEADHUB_LOG_LEVEL": "WARNING", "LEADHUB_INTERCOM_CLIENT_SECRET": INTERCOM_SECRET,
           "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
    import os
    import subprocess

    workers = args.web_workers or (os.cpu_count() or 1) * 2 + 1
    with gunicorn(env, workers=workers, threads=2, log_path=work / "gunicorn.log") as base_url:
        out = multiprocessing.get_context("spawn").Queue()
        client = multiprocessing.get_context("spawn").Process(
            target=_client, args=(base_url, args.kind, token, args.seconds, args.client_threads, out)
        )
        client.start()
        result = out.get()
        client.join()
    acked = set(result["acked"])
    drain_seconds = 0.0
    if args.kind == "intercom":
        # The acknowledgements were queued; a worker files them now (the web tier had the cores to itself).
        started = time.perf_counter()
        worker = subprocess.Popen([str(Path(sys.executable).with_name("leadhub")), "worker", "--workers", "2",
                                   "--no-periodic"], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            last, changed = -1, time.monotonic()
            while time.monotonic() - changed < 60:  # until all are there, or nothing new for a minute
                with engine.connect() as conn:
                    count = len(set(conn.execute(stored_query).scalars()) - before)
                if count >= len(acked):
                    break
                if count != last:
                    last, changed = count, time.monotonic()
                time.sleep(1)
            drain_seconds = time.perf_counter() - started
        finally:
            worker.terminate()
            worker.wait(30)
    with engine.connect() as conn:
        stored_ids = set(conn.execute(stored_query).scalars()) - before
    latencies = sorted(result["latencies"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    report = {
        "seconds": args.seconds,
        "database": make_engine(url).dialect.name,
        "web_workers": workers,
        "client_threads": args.client_threads,
        "kind": args.kind,
        "queue": (args.queue_url or "sqlite (embedded)").split("://")[0],
        "acknowledged": len(acked),
        "stored": len(stored_ids),
        "stored_equals_acknowledged": stored_ids == acked,
        "acknowledged_not_stored": len(acked - stored_ids),
        "worker_drain_seconds": round(drain_seconds, 1),
        "non_2xx": result["errors"],
        "posts_per_second": round(len(acked) / args.seconds, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

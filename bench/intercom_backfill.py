"""Intercom benchmark: back-fill from the emulator, and webhook acknowledgement latency under a burst.

1. Back-fill: the connector alone (paging, HTTP, mapping; nothing stored) at full size, then a full sync
   that stores everything (core.ingest dominates its cost). The emulator runs in a subprocess with N conversations x P parts (one contact each); this
   process runs `connectors.sync.run_sync` into a fresh SQLite database. Reported: messages (parts, the
   source message included) per second, this process's own CPU ms per part (the emulator's CPU is not ours),
   peak RSS of this process.
2. Webhooks: `leadhub serve` in a subprocess (embedded SQLite queue); a burst of signed
   `conversation.user.replied` notifications from a thread pool; latency of each acknowledgement, p50/p99.

    .venv/bin/python bench/intercom_backfill.py           # connector 10,000 x 10; stored 1,000 x 10; 1,000 webhooks
    .venv/bin/python bench/intercom_backfill.py --small   # 1,000 x 10; 100 x 10; 200 webhooks
Each stage runs in its own process. The webhook burst is measured with the embedded SQLite queue (and with
the distributed Redis queue when --redis-url is given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load_webhooks import intercom_bodies  # noqa: E402
from connectors import load_all  # noqa: E402
from connectors.intercom.emulator import sign_webhook  # noqa: E402
from connectors.sync import run_sync  # noqa: E402
from core.crypto import SecretBox  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.models import ConnectorAccount, Message  # noqa: E402

TOKEN = "bench-token"
SECRET = "bench-client-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def backfill(conversations: int, parts: int, workdir: Path) -> dict:
    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "connectors.intercom.emulator", "--port", str(port), "--seed", str(conversations),
         "--parts", str(parts), "--token", TOKEN],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        emulator.stdout.readline()  # "intercom emulator on …" once seeded and listening
        url = f"http://127.0.0.1:{port}"
        from webapp.cli import upgrade_database

        database_url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade_database(database_url)
        engine = make_engine(database_url)
        box = SecretBox(SecretBox.generate_key())
        from sqlmodel import Session, func, select

        with Session(engine) as session:
            account = ConnectorAccount(type="intercom", label="bench", external_id="emu0ws01",
                                       credentials_encrypted=box.encrypt({"access_token": TOKEN}),
                                       config={"workspace_id": "emu0ws01"})
            session.add(account)
            session.commit()
            account_id = account.id
        load_all()
        settings = {"INTERCOM_API_URL": url, "DEFAULT_PHONE_REGION": "PL"}
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        report = run_sync(engine, account_id, settings=settings, box=box)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        with Session(engine) as session:
            stored = session.exec(select(func.count()).select_from(Message)).one()
        engine.dispose()
        if report.error:
            raise SystemExit(f"sync failed: {report.error}")
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        expected = conversations * (parts + 1)
        return {
            "conversations": conversations,
            "messages_expected": expected,
            "messages_stored": stored,
            "seconds": round(wall, 2),
            "parts_per_second": round(stored / wall, 1),
            "own_cpu_ms_per_part": round(cpu * 1000 / stored, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        emulator.terminate()
        emulator.wait(10)


def connector_read(conversations: int, parts: int) -> dict:
    """The connector alone (HTTP, paging, mapping, pacing) with nothing stored: what it costs before ingest."""
    from connectors.base import ConnectorContext
    from connectors.intercom.connector import IntercomConnector
    from core.schemas import InboundRecord

    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "connectors.intercom.emulator", "--port", str(port), "--seed", str(conversations),
         "--parts", str(parts), "--token", TOKEN],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        emulator.stdout.readline()
        context = ConnectorContext(account_id=None, settings={"INTERCOM_API_URL": f"http://127.0.0.1:{port}"},
                                   credentials={"access_token": TOKEN}, config={"workspace_id": "emu0ws01"})
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        messages = sum(1 for item in IntercomConnector(context).read({})
                       if isinstance(item, InboundRecord) and item.message is not None)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        return {
            "conversations": conversations,
            "messages_expected": conversations * (parts + 1),
            "messages_read": messages,
            "seconds": round(wall, 2),
            "parts_per_second": round(messages / wall, 1),
            "own_cpu_ms_per_part": round(cpu * 1000 / messages, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        emulator.terminate()
        emulator.wait(10)


def webhook_burst(count: int, concurrency: int, workdir: Path, queue_url: str = "", gunicorn_workers: int = 0) -> dict:
    """A burst of signed webhooks; served by `leadhub serve`, or by gunicorn with `gunicorn_workers` processes."""
    port = free_port()
    database_url = f"sqlite:///{workdir / 'hooks.db'}"
    env = {
        **os.environ,
        "LEADHUB_DATABASE_URL": database_url,
        "LEADHUB_INTERCOM_CLIENT_SECRET": SECRET,
        "LEADHUB_QUEUE_URL": queue_url or f"sqlite:///{workdir / 'queue.db'}",
        "LEADHUB_DEMO": "off",
        "LEADHUB_LOG_LEVEL": "WARNING",
    }
    leadhub = str(Path(sys.executable).with_name("leadhub"))
    subprocess.run([leadhub, "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
    from sqlmodel import Session

    engine = make_engine(database_url)
    with Session(engine) as session:  # the workspace is connected: a worker would store what is queued
        session.add(ConnectorAccount(type="intercom", label="bench", external_id="emu0ws01"))
        session.commit()
    engine.dispose()
    served = contextlib.ExitStack()
    if gunicorn_workers:
        from tests.scale.serving import gunicorn

        url = served.enter_context(gunicorn({k: v for k, v in env.items() if k.startswith("LEADHUB_")},
                                            workers=gunicorn_workers, threads=2))
    else:
        server = subprocess.Popen([leadhub, "serve", "--port", str(port)], env=env, cwd=workdir,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        served.callback(lambda: (server.terminate(), server.wait(10)))
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/healthz")
    try:
        bodies = [body for _, body in intercom_bodies(count)]
        http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
        http.mount("http://", adapter)

        def send(body: bytes) -> tuple[int, float]:
            start = time.perf_counter()
            response = http.post(url + "/webhooks/intercom", data=body, timeout=30,
                                 headers={"Content-Type": "application/json", "X-Hub-Signature": sign_webhook(SECRET, body)})
            return response.status_code, (time.perf_counter() - start) * 1000

        for body in bodies[:20]:  # warm-up: imports, connection set-up
            send(body)
        wall0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(send, bodies))
        wall = time.perf_counter() - wall0
        latencies = sorted(ms for _, ms in results)
        statuses = {status for status, _ in results}
        return {
            "server": f"gunicorn {gunicorn_workers} workers x 2 threads" if gunicorn_workers else "leadhub serve",
            "queue": queue_url.split("://")[0] if queue_url else "sqlite (embedded)",
            "webhooks": count,
            "concurrency": concurrency,
            "statuses": sorted(statuses),
            "ack_p50_ms": round(statistics.median(latencies), 1),
            "ack_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
            "ack_max_ms": round(latencies[-1], 1),
            "acks_per_second": round(count / wall, 1),
        }
    finally:
        served.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run: fewer conversations and webhooks")
    parser.add_argument("--conversations", type=int, default=None, help="for the connector-only pass")
    parser.add_argument("--sync-conversations", type=int, default=None, help="for the pass that stores (ingest)")
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--webhooks", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--redis-url", default="",
                        help="also measure the burst with the distributed queue, e.g. redis://127.0.0.1:6379/9 "
                             "(use a database nothing else uses: the queue's keys are shared by name)")
    parser.add_argument("--gunicorn-workers", type=int, default=0,
                        help="serve the webhook burst with gunicorn and this many workers (default: leadhub serve)")
    parser.add_argument("--stage", choices=["read", "sync", "hooks-sqlite", "hooks-redis"], default=None,
                        help="run one stage in this process (the default runs each in its own process)")
    args = parser.parse_args()
    conversations = args.conversations or (1_000 if args.small else 10_000)
    sync_conversations = args.sync_conversations or (100 if args.small else 1_000)
    webhooks = args.webhooks or (200 if args.small else 1_000)
    if args.stage is None:
        stages = ["read", "sync", "hooks-sqlite"] + (["hooks-redis"] if args.redis_url else [])
        for stage in stages:  # a process each: peak RSS is per process
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--stage", stage], check=False)
        return
    with tempfile.TemporaryDirectory(prefix="intercom-bench-") as tmp:
        workdir = Path(tmp)
        if args.stage == "read":
            result = {"connector_read": connector_read(conversations, args.parts)}
        elif args.stage == "sync":
            result = {"sync_into_sqlite": backfill(sync_conversations, args.parts, workdir)}
        elif args.stage == "hooks-sqlite":
            result = {"webhook_burst": webhook_burst(webhooks, args.concurrency, workdir,
                                                     gunicorn_workers=args.gunicorn_workers)}
        else:
            result = {"webhook_burst": webhook_burst(webhooks, args.concurrency, workdir, args.redis_url,
                                                     gunicorn_workers=args.gunicorn_workers)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

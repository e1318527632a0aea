"""Concurrency: N `leadhub worker` processes on Redis + PostgreSQL syncing emulated mailboxes.

    .venv/bin/python bench/scale_workers.py --mailboxes 200 --per-mailbox 20 --workers 1 2 4 [--target gmail] \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/leadhub_scale_bench --redis-url redis://127.0.0.1:6379/15

For each worker count: a fresh store, one sync_account task per mailbox on a fresh Redis queue, N worker
processes (`leadhub worker --workers 1`), wall time until every task is done; then lease overlaps from the
sync-run log (must be 0) and messages/s. `--target` picks the connector and its emulator: the synthetic one
(tests/scale/synthetic.py) or Gmail (google-api-python-client against connectors/gmail/emulator.py, OAuth
tokens stored encrypted, batch requests), both served from this process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKER = (
    "import tests.scale.synthetic; from webapp.cli import cli; "
    "cli.main(args=['worker', '--workers', '1', '--no-periodic'], prog_name='leadhub')"
)


def run(workers: int, args: argparse.Namespace) -> dict:
    import sqlalchemy as sa
    from sqlmodel import Session, SQLModel

    from core.db import make_engine
    from tests.scale.harness import (
        create_accounts,
        gmail_target,
        lease_overlaps,
        make_worker_app,
        stored_message_ids,
        synthetic_target,
    )
    from webapp.cli import upgrade_database
    from webapp.queue import enqueue, get_huey

    upgrade_database(args.database_url)
    engine = make_engine(args.database_url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    target = {"synthetic": synthetic_target, "gmail": gmail_target}[args.target]()
    queue_name = f"leadhub-bench-{uuid.uuid4().hex[:8]}"
    with target.start_emulator(mailboxes=args.mailboxes, per_mailbox=args.per_mailbox) as emulator:
        with Session(engine) as session:
            ids = create_accounts(session, target, emulator.mailboxes)
        app = make_worker_app(args.database_url, args.redis_url, queue_name, tempfile.mkdtemp(), **emulator.settings)
        env = {**os.environ, "LEADHUB_DATABASE_URL": args.database_url, "LEADHUB_QUEUE_URL": args.redis_url,
               "LEADHUB_QUEUE_NAME": queue_name, "LEADHUB_SECRET_KEY": "bench", "LEADHUB_DEMO": "off",
               "LEADHUB_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
               **{f"LEADHUB_{k}": v for k, v in emulator.settings.items()}}
        with app.app_context():
            for account_id in ids:
                enqueue("sync_account", account_id)
        started, parent_cpu = time.perf_counter(), time.process_time()
        processes = [subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        try:
            with Session(engine) as session:
                while True:
                    done = session.exec(sa.text(
                        "SELECT count(*) FROM sync_runs WHERE status IN ('ok', 'error', 'busy')")).one()[0]
                    if done >= len(ids):
                        break
                    time.sleep(0.2)
                    session.rollback()
            elapsed = time.perf_counter() - started
            parent_cpu = time.process_time() - parent_cpu
            worker_cpu = sum(process_cpu_seconds(process.pid) for process in processes)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
            get_huey(app).flush()
        stored = stored_message_ids(engine, target.channel)
        overlaps = lease_overlaps(engine)
    engine.dispose()
    return {
        "target": args.target,
        "workers": workers,
        "mailboxes": len(ids),
        "messages": len(stored),
        "complete": set(stored) == emulator.expected_ids and len(stored) == len(set(stored)),
        "lease_overlaps": len(overlaps),
        "seconds_including_worker_start": round(elapsed, 1),
        "messages_per_second": round(len(stored) / elapsed, 1),
        # Where the machine's cores went: the workers' CPU, and this process's (the emulator and the polling).
        "worker_cpu_seconds": round(worker_cpu, 1),
        "emulator_cpu_seconds": round(parent_cpu, 1),
        "cores_busy": round((worker_cpu + parent_cpu) / elapsed, 2),
        "cores": os.cpu_count(),
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--per-mailbox", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database this script may empty")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--target", choices=["synthetic", "gmail"], default="synthetic")
    args = parser.parse_args()
    results = [run(workers, args) for workers in args.workers]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

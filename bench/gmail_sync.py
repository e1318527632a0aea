"""Benchmark: sync N generated messages from the Gmail emulator (run in a subprocess) into SQLite.

Reports messages/s, this process's CPU ms per message (the emulator's CPU is not counted), peak RSS, quota
units per message, and what an idle incremental sync costs.

    .venv/bin/python bench/gmail_sync.py --n 100000
    .venv/bin/python bench/gmail_sync.py --n 10000      # quick
    .venv/bin/python bench/gmail_sync.py --n 10000 --scoring   # with qualification, as a sync in leadhub runs
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import Session, func, select

import connectors.gmail.client as gmail_client
from connectors.gmail import GmailConnector  # noqa: F401 - registers the connector
from connectors.sync import run_sync
from core.crypto import SecretBox
from core.db import make_engine
from core.ingest import IngestOptions
from core.models import ConnectorAccount, Message
from webapp.cli import upgrade_database

MAILBOX = "rep@acme.example"
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--scoring", action="store_true",
                        help="register the web app's post-ingest hooks (qualification), as a real sync runs them")
    args = parser.parse_args()
    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "connectors.gmail.emulator", "--port", str(port), "--generate", str(args.n),
         "--mailbox", MAILBOX, "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        ready = emulator.stdout.readline()
        assert ready.startswith("READY"), ready
        time.sleep(0.3)  # the server binds right after printing READY
        url = f"http://127.0.0.1:{port}/"
        workdir = Path(tempfile.mkdtemp(prefix="gmail-bench-"))
        database = f"sqlite:///{workdir / 'bench.db'}"
        upgrade_database(database)
        if args.scoring:
            from webapp import create_app

            create_app({"DATABASE_URL": database, "DEMO": "off", "QUEUE_URL": "immediate"})
        engine = make_engine(database)
        box = SecretBox(SecretBox.generate_key())
        with Session(engine) as session:
            account = ConnectorAccount(type="gmail", label=MAILBOX,
                                       credentials_encrypted=box.encrypt({"access_token": TOKEN,
                                                                          "refresh_token": TOKEN}))
            session.add(account)
            session.commit()
            account_id = account.id
        settings = {"GMAIL_API_URL": url, "GOOGLE_TOKEN_URL": url + "token", "COMPANY_DOMAINS": "acme.example",
                    "GMAIL_BACKFILL_DAYS": 3650,
                    # The emulator has no quota; units spent are counted and reported instead of waited for.
                    "GMAIL_QUOTA_PER_MINUTE": 10**9}
        clients: list[gmail_client.GmailClient] = []
        original_init = gmail_client.GmailClient.__init__

        def capture(self, *a, **kw) -> None:  # noqa: ANN001, ANN002, ANN003
            original_init(self, *a, **kw)
            clients.append(self)

        gmail_client.GmailClient.__init__ = capture  # type: ignore[method-assign]
        options = IngestOptions(actor="bench")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = run_sync(engine, account_id, settings=settings, box=box, options=options)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        assert report.error == "", report.error
        full = clients[-1]
        with Session(engine) as session:
            stored = session.exec(select(func.count()).select_from(Message)).one()
        idle = run_sync(engine, account_id, settings=settings, box=box, options=options)
        idle_calls = clients[-1].calls
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"messages in mailbox      {args.n}")
        print(f"stored / skipped         {stored} / {args.n - stored}")
        print(f"wall                     {wall:.1f} s")
        print(f"messages/s               {args.n / wall:.0f}")
        print(f"own CPU ms per message   {cpu * 1000 / args.n:.2f}")
        print(f"peak RSS                 {rss_mb:.0f} MB")
        print(f"quota units per message  {full.bucket.spent / args.n:.2f}  (calls: {full.calls})")
        print(f"idle incremental calls   {idle_calls}  (records {idle.records})")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()

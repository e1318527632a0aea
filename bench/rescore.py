"""Benchmark: rescoring every lead, and the analytics page, on SQLite at 1M leads (goal: rescoring < 60 s).

Seeds a fresh database quickly with raw sqlite3 executemany (contacts, e-mail identities, conversations, 1–3
messages per lead, and the lead_qualifications rows that the post-ingest hook would have written), then times:
  1. rescore_all with a new rule set (most leads change score, many change stage/temperature),
  2. rescore_all again with the same rules (the steady state: little to write),
  3. the analytics queries (funnel per source, per rep, leads over time) and the /analytics page itself.

    .venv/bin/python bench/rescore.py            # 1M leads
    .venv/bin/python bench/rescore.py --n 100000 # quick run
    .venv/bin/python bench/rescore.py --processes 1  # one process (default: one per core)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import analytics  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.qualification import rescore_all, save_ruleset  # noqa: E402
from core.scoring import DEFAULT_RULESET  # noqa: E402

CHANNELS = ("gmail", "form", "intercom", "linkedin")
FORMS = ("", "", "demo", "quote", "newsletter", "contact")
TITLES = ("", "", "CEO", "Dyrektor handlowy", "Kierownik zakupów", "Engineer", "Руководитель отдела", "Head of IT")
DOMAINS = ("gmail.com", "wp.pl", "budmax.pl", "firma.pl", "acme.com", "yandex.ru", "onet.pl", "stal.pl")
FMT = "%Y-%m-%d %H:%M:%S.%f"
CHUNK = 100_000


def ts(value: datetime) -> str:
    return value.strftime(FMT)


def seed(path: Path, n: int, *, seed_value: int = 8) -> dict[str, float]:
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(tzinfo=None)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    stamp = ts(now)
    db.executemany(
        "INSERT INTO users (id, email, name, role, active, created_at) VALUES (?, ?, ?, 'rep', 1, ?)",
        [(i, f"rep{i}@bench.example", f"Rep {i}", stamp) for i in range(1, 11)],
    )
    message_id = conversation_id = 0
    messages_total = 0
    for lo in range(1, n + 1, CHUNK):
        hi = min(n, lo + CHUNK - 1)
        contacts, identities, conversations, messages, quals = [], [], [], [], []
        for cid in range(lo, hi + 1):
            created = now - timedelta(days=rng.randrange(0, 365), seconds=rng.randrange(86_400))
            channel = rng.choice(CHANNELS)
            owner = rng.randrange(1, 11) if rng.random() < 0.9 else None
            contacts.append((cid, f"Lead {cid}", rng.choice(("", "Budmax", "Acme", "Stal")), rng.choice(TITLES), owner,
                             ts(created), ts(created)))
            identities.append((cid, f"lead{cid}@{rng.choice(DOMAINS)}", channel, ts(created)))
            conversation_id += 1
            conversations.append((conversation_id, cid, channel, f"t{cid}", ts(created)))
            sent = created
            for k in range(rng.choice((1, 1, 2, 2, 3))):
                message_id += 1
                direction = "in" if k % 2 == 0 else "out"
                sent = sent + timedelta(minutes=rng.randrange(5, 3000))
                messages.append((message_id, conversation_id, cid, channel, f"m{message_id}", direction, ts(sent)))
            form = rng.choice(FORMS) if channel == "form" else ""
            quals.append((cid, channel, json.dumps([form] if form else []), rng.choice((0, 0, 0, 1, 2)),
                          rng.choice(("pl", "pl", "en", "ru")), ts(created)))
        messages_total += len(messages)
        db.executemany(
            "INSERT INTO contacts (id, display_name, company, title, owner_id, stage, temperature, score, aliases,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'new', 'cold', 0, '[]', ?, ?)", contacts)
        db.executemany(
            "INSERT INTO identities (contact_id, kind, value, raw_value, channel, is_weak, created_at)"
            " VALUES (?, 'email', ?, '', ?, 0, ?)", identities)
        db.executemany(
            "INSERT INTO conversations (id, contact_id, channel, scope, external_id, subject, created_at)"
            " VALUES (?, ?, ?, '', ?, '', ?)", conversations)
        db.executemany(
            "INSERT INTO messages (id, conversation_id, contact_id, channel, external_id, kind, direction, sender,"
            " sent_at, subject, text, html, meta, created_at) VALUES (?, ?, ?, ?, ?, 'message', ?, '', ?, '', '', '',"
            " '{}', ?)", [(*m, m[-1]) for m in messages])
        db.executemany(
            "INSERT INTO lead_qualifications (contact_id, need, timeline, budget, authority, deal_currency,"
            " source_channel, form_types, intent_hits, language, country, updated_by, updated_at)"
            " VALUES (?, '', '', '', '', '', ?, ?, ?, ?, '', '', ?)", quals)
        db.commit()
    db.close()
    return {"seconds": time.perf_counter() - started, "messages": messages_total}


def time_page(url: str) -> float:
    from core.users import create_user
    from webapp import create_app

    app = create_app({"DATABASE_URL": url, "DEMO": "off", "SECRET_KEY": "bench", "FLASK": {"WTF_CSRF_ENABLED": False}})
    with app.app_context():
        from webapp.db import get_session

        session = get_session()
        create_user(session, email="boss@bench.example", role="manager", name="Boss", password="bench-password")
        session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "boss@bench.example", "password": "bench-password"})
    started = time.perf_counter()
    response = client.get("/analytics")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="number of leads (default 1,000,000)")
    parser.add_argument("--db", default="/tmp/leadhub-bench-rescore.db")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the rescoring (default: one per core)")
    args = parser.parse_args()
    path = Path(args.db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    from webapp.cli import upgrade_database

    upgrade_database(url)
    seeded = seed(path, args.n)
    print(f"seeded {args.n:,} leads and {seeded['messages']:,} messages in {seeded['seconds']:.1f} s")

    engine = make_engine(url)
    from sqlmodel import Session

    with Session(engine) as session:
        draft = json.loads(json.dumps(DEFAULT_RULESET))
        draft["non_target"] = [{"id": "rival", "type": "email_domain", "kind": "domain", "domains": ["acme.com"],
                                "reason": "competitor"}]
        save_ruleset(session, draft, actor="bench")
        session.commit()
    first = rescore_all(engine, batch_size=args.batch, processes=args.processes)
    print(f"processes: {first.processes}; seconds summed over them: read {first.read_seconds:.1f},"
          f" score {first.score_seconds:.1f}, write {first.write_seconds:.1f}")
    print(f"rescore (new rules): {first.scanned:,} leads in {first.seconds:.1f} s = {first.scanned / first.seconds:,.0f}"
          f" leads/s; {first.stage_changes:,} stage changes, {first.temperature_changes:,} temperature changes")
    second = rescore_all(engine, batch_size=args.batch, processes=args.processes)
    print(f"rescore (same rules): {second.scanned:,} leads in {second.seconds:.1f} s = "
          f"{second.scanned / second.seconds:,.0f} leads/s; {second.stage_changes:,} stage changes")

    with Session(engine) as session:
        for label, run in (
            ("funnel by source", lambda: analytics.funnel(session, group="source")),
            ("funnel by rep", lambda: analytics.funnel(session, group="owner")),
            ("leads over time (week)", lambda: analytics.leads_over_time(session, bucket="week")),
        ):
            started = time.perf_counter()
            rows = run()
            print(f"analytics {label}: {time.perf_counter() - started:.2f} s ({len(rows)} rows)")
    print(f"/analytics page: {time_page(url):.2f} s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; largest worker process:"
          f" {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

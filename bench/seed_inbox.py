"""Seed a SQLite store for the inbox benchmark: N contacts, 5 messages each over 2 conversations, 1–2 identities.

Raw executemany (the FTS5 triggers of migration 0006 keep the search tables in sync as rows go in).

    .venv/bin/python bench/seed_inbox.py /tmp/inbox-bench.db --contacts 1000000
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIRST = ["Anna", "Jan", "Łukasz", "Katarzyna", "Piotr", "Olga", "Алексей", "Екатерина", "John", "Maria", "Tomasz",
         "Sophie", "Michał", "Ewa", "Dmitry", "Marta", "Paweł", "Agnieszka", "Ivan", "Laura"]
LAST = ["Nowak", "Kowalski", "Wójcik", "Zielińska", "Lewandowski", "Иванов", "Смирнова", "Carter", "Garcia",
        "Martin", "Dąbrowski", "Kamiński", "Orlov", "Kuznetsova", "Schmidt", "Rossi", "Novak", "Horvat"]
WORDS = ("oferta licencje budżet wdrożenie pricing seats demo integration gmail intercom callback quote "
         "enterprise decision contract renewal support migration цена подписка внедрение сроки").split()
CHANNELS = ["gmail", "intercom", "form", "linkedin"]
BATCH = 20_000


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(path: Path, contacts: int, *, seed_value: int = 7) -> dict[str, float]:
    # The search name the store's write paths set (contacts.search_latin).
    from core.normalize import latin_search_text
    from webapp.cli import upgrade_database

    if path.exists():
        path.unlink()
    upgrade_database(f"sqlite:///{path}")
    rng = random.Random(seed_value)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    # 5M messages with their indexes and FTS5 tables: with SQLite's default 2 MB page cache every insert
    # re-reads index pages from the OS.
    db.execute("PRAGMA cache_size=-2000000")
    now = datetime.now(UTC)
    started = time.perf_counter()
    message_id = conversation_id = 0
    for start in range(1, contacts + 1, BATCH):
        ids = range(start, min(start + BATCH, contacts + 1))
        c_rows, i_rows, conv_rows, m_rows = [], [], [], []
        for cid in ids:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            company = f"Company {cid % 50_000}"
            c_rows.append((cid, name, company, "", rng.choice(["new", "mql", "sql"]),
                           rng.choice(["cold", "warm", "hot"]), 0, "[]", ts(created), ts(created), ts(created),
                           latin_search_text(name, company)))
            i_rows.append((cid, "email", f"person{cid}@company{cid % 50_000}.example", "", "gmail", False,
                           ts(created)))
            last = created
            for conv in range(2):
                conversation_id += 1
                channel = CHANNELS[(cid + conv) % len(CHANNELS)]
                subject = " ".join(rng.sample(WORDS, 3))
                conv_first = conversation_id
                for k in range(3 if conv == 0 else 2):
                    message_id += 1
                    sent = created + timedelta(minutes=k * 7 + conv * 60)
                    last = max(last, sent)
                    m_rows.append((message_id, conv_first, cid, channel, f"bench-{message_id}", "message", "in",
                                   f"person{cid}@company{cid % 50_000}.example", ts(sent), subject,
                                   " ".join(rng.choices(WORDS, k=25)) + f" ticket{message_id % 100_000}", "", "{}",
                                   ts(sent)))
                conv_rows.append((conv_first, cid, channel, "", f"bench-thread-{conv_first}", subject, ts(created),
                                  ts(created + timedelta(minutes=14 + conv * 60))))
        db.executemany("INSERT INTO contacts (id, display_name, company, title, stage, temperature, score, aliases,"
                       " created_at, updated_at, last_message_at, search_latin) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       c_rows)
        db.executemany("INSERT INTO identities (contact_id, kind, value, raw_value, channel, is_weak, created_at)"
                       " VALUES (?,?,?,?,?,?,?)", i_rows)
        db.executemany("INSERT INTO conversations (id, contact_id, channel, scope, external_id, subject, created_at,"
                       " last_message_at) VALUES (?,?,?,?,?,?,?,?)", conv_rows)
        db.executemany("INSERT INTO messages (id, conversation_id, contact_id, channel, external_id, kind, direction,"
                       " sender, sent_at, subject, text, html, meta, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       m_rows)
        db.commit()
        print(f"  {ids[-1]:,} contacts, {message_id:,} messages, {time.perf_counter() - started:.0f}s", flush=True)
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return {"contacts": contacts, "messages": message_id, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    result = seed(args.path, args.contacts)
    print(f"seeded {result['contacts']:,} contacts / {result['messages']:,} messages in {result['seconds']:.0f}s")


if __name__ == "__main__":
    main()

"""Benchmark `leadhub import` on SQLite against a raw sqlite3 executemany baseline of the same rows.

    .venv/bin/python bench/import_bench.py --sizes 10000 100000 1000000 [--runs 3]

For each size: generate JSONL records with realistic duplicates (the same person again from another channel,
by email or phone; name variants with diacritics and Cyrillic), import them into a freshly migrated SQLite
database through the real import path (core.importer -> core.ingest, fuzzy suggestions on), in a child
process so its peak RSS is its own; then insert the rows that import produced (contacts, identities, block keys,
conversations, messages, qualification rows, duplicate suggestions) into another fresh database with raw
sqlite3 executemany, as the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.importer import DEFAULT_BATCH_SIZE  # noqa: E402 - after the path above

FIRST = ["Łukasz", "Anna", "Piotr", "Katarzyna", "Tomasz", "Agnieszka", "Michał", "Ewa", "Jan", "Małgorzata",
         "Алексей", "Екатерина", "Дмитрий", "Ольга", "Сергей", "John", "Maria", "Sophie", "David", "Olena"]
LAST = ["Wójcik", "Nowak", "Kowalski", "Wiśniewska", "Lewandowski", "Zielińska", "Dąbrowski", "Kamiński",
        "Иванов", "Смирнова", "Кузнецов", "Попова", "Carter", "Garcia", "Martin", "Müller", "Schmidt", "Rossi"]
COMPANIES = ["Budmax", "Hurtex", "Agrofarm", "Севертранс", "Технопром", "Northwind", "SolarTech", "Lumière",
             "Kamiński Auto", "Zielińska Design"]
CHANNELS = ["gmail", "form", "intercom", "linkedin", "api"]


SYLLABLES = ["ko", "wal", "ski", "no", "wak", "lew", "an", "dow", "zie", "lin", "ska", "dąb", "row", "kam",
             "iń", "wój", "cik", "ma", "zur", "kie", "wicz", "jan", "czyk", "pio", "tr", "gor", "ska", "iva", "nov",
             "pet", "rov", "smi", "rno", "kuz", "nets", "ов", "ева", "ин", "ко", "ман", "дер", "сон"]


def surname(rng: random.Random) -> str:
    """Surnames from syllables: real teams see tens of thousands of distinct surnames, not eighteen."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


# A mail body as mail clients send it (styles, a quoted block, a link with a handler, a script): 1.7 KB.
HTML_BODY = ('<html><head><style>p{color:red}</style></head><body><div class="gmail_quote">'
             + '<p style="margin:0">Dzień dobry, <b>proszę o ofertę</b> na <a href="https://example.com/x?a=1"'
               ' onclick="t()">produkt</a>.</p>' * 12
             + '<table><tr><td>Pozdrawiam</td><td><img src="cid:logo"></td></tr></table><script>alert(1)</script>'
               '</div></body></html>')


def generate(path: Path, n: int, seed: int = 7, shared_phones: float = 0.0, html: bool = False) -> None:
    """n records; about 30% are a known person again (from another channel), found by email or phone.
    shared_phones: that share of the records gives one of 100 office numbers instead of the person's own, so
    that differently named people share a phone (each such record once took the full ingest path).
    html: every message also has an HTML body (HTML_BODY), to be sanitised as mail is."""
    rng = random.Random(seed)
    office = random.Random(seed + 1)
    people: list[dict] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            if people and rng.random() < 0.3:
                person = rng.choice(people)
                contact = {"name": person["name"]}
                if rng.random() < 0.5:
                    contact["email"] = person["email"]
                else:
                    contact["phone"] = person["phone"]
                    contact["name"] = person["name_variant"]
            else:
                first, last = rng.choice(FIRST), surname(rng) if rng.random() < 0.9 else rng.choice(LAST)
                name = f"{first} {last}"
                number = len(people)
                # One number per person (an earlier formula repeated every 100,000 people, so that from then
                # on each new person shared a phone with a differently named one).
                digits = f"{500_000_000 + number:09d}"
                person = {
                    "name": name,
                    "name_variant": f"{last} {first}",
                    "email": f"person{number}@company{number % 5000}.example",
                    "phone": f"+48 {digits[:3]} {digits[3:6]} {digits[6:]}",
                }
                people.append(person)
                contact = {"name": name, "email": person["email"], "phone": person["phone"],
                           "company": rng.choice(COMPANIES)}
            if shared_phones and "phone" in contact and office.random() < shared_phones:
                contact = {**contact, "phone": f"+48 22 {office.randrange(100):03d} 00 00"}
            record = {
                "channel": rng.choice(CHANNELS),
                "contact": contact,
                "message": {"external_id": f"msg-{i}", "thread_id": f"thread-{i // 3}", "direction": "in",
                            "sent_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00",
                            "subject": "Zapytanie ofertowe", "text": "Dzień dobry, proszę o ofertę. " * 3},
            }
            if html:
                record["message"]["html"] = HTML_BODY
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def migrate(db: Path) -> None:
    from webapp.cli import upgrade_database

    upgrade_database(f"sqlite:///{db}")


def run_import(db: Path, data: Path, scoring: bool = True, workers: int | None = None,
               batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """Runs in a child process: import and report time and peak RSS. With scoring (the default) the web app's
    post-ingest hooks are registered, as under `leadhub import`: every lead is also scored and routed.
    workers: the import's helper processes (None: as `leadhub import` chooses)."""
    from core.db import make_engine
    from core.importer import import_file

    engine = make_engine(f"sqlite:///{db}")
    if scoring:
        from webapp import create_app

        create_app({"DATABASE_URL": f"sqlite:///{db}", "DEMO": "off", "QUEUE_URL": "immediate"})
    start = time.perf_counter()
    cpu_start = time.process_time()
    summary = import_file(engine, data, workers=workers, batch_size=batch_size)
    wall = time.perf_counter() - start
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the import's helper process, ended by now
    return {
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu_start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "helper_cpu_s": helpers.ru_utime + helpers.ru_stime,
        "helper_peak_rss_mb": helpers.ru_maxrss / 1024,
        "summary": {k: v for k, v in summary.as_dict().items() if k != "errors"},
    }


TABLES = ("contacts", "identities", "contact_block_keys", "conversations", "messages", "lead_qualifications",
          "lead_scores", "stage_changes", "duplicate_suggestions")


def raw_baseline(source_db: Path, target_db: Path, multirow: bool = False, batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """Insert the rows the import produced into a fresh migrated database with plain executemany (the issue's
    baseline), or with multi-row VALUES statements of 256 rows (multirow=True): executemany runs each row as a
    statement of its own, and a row whose trigger writes an FTS5 index (contacts, messages) makes FTS5 flush a
    segment per row; the import writes 256 rows per statement (core.db.driver_insert), so it is compared with both."""
    src = sqlite3.connect(source_db)
    rows = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}
    src.close()
    dst = sqlite3.connect(target_db)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    for table in TABLES:
        if rows[table]:
            marks = ",".join("?" * len(rows[table][0]))
            for offset in range(0, len(rows[table]), batch_size):  # one commit per batch, as the import
                batch = rows[table][offset : offset + batch_size]
                if not multirow:
                    dst.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
                for first in range(0, len(batch) if multirow else 0, 256):
                    part = batch[first : first + 256]
                    dst.execute(f"INSERT INTO {table} VALUES {','.join([f'({marks})'] * len(part))}",
                                [value for row in part for value in row])
                dst.commit()
    wall = time.perf_counter() - start
    dst.close()
    return {"wall_s": wall, "rows": {t: len(r) for t, r in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shared-phones", type=float, default=0.0,
                        help="share of records giving one of 100 office phone numbers (people sharing a phone)")
    parser.add_argument("--html", action="store_true", help="every message also has a 1.7 KB HTML body")
    parser.add_argument("--no-scoring", action="store_true",
                        help="core.importer alone, without the web app's scoring and routing hooks")
    parser.add_argument("--workers", type=int, default=None,
                        help="helper processes of the import (default: as `leadhub import` chooses)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="records per transaction, of the import and the raw baseline (default: as `leadhub import`)")
    parser.add_argument("--runs", type=int, default=1,
                        help="imports of each size into fresh stores (the median is reported; a 10k import takes "
                             "seconds, so one run's noise moves t(100k)/t(10k) by a whole point)")
    parser.add_argument("--raw-runs", type=int, default=3, help="raw baseline runs (the median is compared with)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_import(Path(args.child[0]), Path(args.child[1]), scoring=not args.no_scoring,
                                    workers=args.workers, batch_size=args.batch_size)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            data = Path(tmp) / f"records-{n}.jsonl"
            generate(data, n, shared_phones=args.shared_phones, html=args.html)
            db, raw_db = Path(tmp) / f"import-{n}.db", Path(tmp) / f"raw-{n}.db"
            migrate(raw_db)
            imports = []
            for _ in range(args.runs):
                for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    stale.unlink(missing_ok=True)
                migrate(db)
                child = subprocess.run(
                    [sys.executable, __file__, "--child", str(db), str(data),
                     *(["--no-scoring"] if args.no_scoring else []),
                     *(["--workers", str(args.workers)] if args.workers is not None else []),
                     "--batch-size", str(args.batch_size)],
                    capture_output=True, text=True, check=True
                )
                imports.append(json.loads(child.stdout.strip().splitlines()[-1]))
            # The median run (by wall time); its store is the last one's, the same rows whichever run it was.
            measured = sorted(imports, key=lambda r: r["wall_s"])[len(imports) // 2]
            # The raw baseline is short and this machine is noisy: it runs `--raw-runs` times into fresh copies of
            # the empty store, and the median is the one compared with.
            raw_runs = []
            for _ in range(args.raw_runs):
                fresh = Path(tmp) / "raw-fresh.db"
                shutil.copyfile(raw_db, fresh)
                raw_runs.append(raw_baseline(db, fresh, batch_size=args.batch_size))
                fresh.unlink()
            baseline = sorted(raw_runs, key=lambda r: r["wall_s"])[len(raw_runs) // 2]
            shutil.copyfile(raw_db, fresh)
            multirow = raw_baseline(db, fresh, multirow=True, batch_size=args.batch_size)
            fresh.unlink()
            row = {
                "records": n,
                "batch_size": args.batch_size,
                "scoring": not args.no_scoring,
                "import_s": round(measured["wall_s"], 2),
                "import_s_runs": [round(r["wall_s"], 2) for r in imports],
                "records_per_s": round(n / measured["wall_s"]),
                "cpu_ms_per_record": round(measured["cpu_s"] * 1000 / n, 3),
                "peak_rss_mb": round(measured["peak_rss_mb"]),
                "helper_cpu_ms_per_record": round(measured["helper_cpu_s"] * 1000 / n, 3),
                "helper_peak_rss_mb": round(measured["helper_peak_rss_mb"]),
                "raw_s": round(baseline["wall_s"], 2),
                "raw_s_runs": [round(r["wall_s"], 2) for r in raw_runs],
                "vs_raw": round(baseline["wall_s"] / measured["wall_s"], 3),
                "raw_multirow_s": round(multirow["wall_s"], 2),
                "vs_raw_multirow": round(multirow["wall_s"] / measured["wall_s"], 3),
                "summary": measured["summary"],
                "rows": baseline["rows"],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            for path in (data, db, raw_db):
                path.unlink(missing_ok=True)
    if len(results) >= 2:
        by_n = {r["records"]: r["import_s"] for r in results}
        if 10_000 in by_n and 100_000 in by_n:
            print(json.dumps({"t100k_over_t10k": round(by_n[100_000] / by_n[10_000], 2)}))
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}))


if __name__ == "__main__":
    main()

"""Import of a generated LinkedIn data export (Connections.csv + messages.csv) on SQLite: rows/s for the first
import and for the re-import (which must change nothing), and the ratio between two sizes (no quadratic step).

    .venv/bin/python bench/linkedin_export.py [--connections 2000] [--conversations 2000]
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import tempfile
import time
from pathlib import Path

from connectors.linkedin.export import CONNECTIONS_COLUMNS, MESSAGES_COLUMNS
from core.ingest import IngestOptions
from webapp import create_app
from webapp.cli import upgrade_database
from webapp.db import get_engine
from webapp.linkedin import import_linkedin_export

OWNER = "https://www.linkedin.com/in/rep-owner"


def generate(connections: int, conversations: int) -> tuple[bytes, bytes]:
    people = io.StringIO()
    people.write("\ufeffNotes:\n\"Generated for the benchmark.\"\n\n")
    writer = csv.writer(people)
    writer.writerow([c.title() if c != "url" else "URL" for c in CONNECTIONS_COLUMNS])
    for i in range(connections):
        writer.writerow([f"Person{i}", f"Surname{i % 97}", f"https://www.linkedin.com/in/person-{i}",
                         f"person{i}@firma{i % 50}.pl" if i % 3 == 0 else "", f"Firma {i % 50}", "Buyer",
                         "12 Mar 2024"])
    messages = io.StringIO()
    writer = csv.writer(messages)
    writer.writerow([c.upper() for c in MESSAGES_COLUMNS])
    for c in range(conversations):
        other = f"https://www.linkedin.com/in/person-{c % max(connections, 1)}"
        for m in range(5):
            inbound = m % 2 == 0
            writer.writerow([f"2-conv{c}==", "", f"Person{c}" if inbound else "Rep Owner", other if inbound else OWNER,
                             "Rep Owner" if inbound else f"Person{c}", OWNER if inbound else other,
                             f"2023-06-{1 + m:02d} 15:33:{c % 60:02d} UTC", "", f"message {m} of {c}", "INBOX"])
    return people.getvalue().encode(), messages.getvalue().encode()


def run(connections: int, conversations: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_database(url)
        app = create_app({"DATABASE_URL": url, "DEMO": "off", "SECRET_KEY": "bench"})
        people, messages = generate(connections, conversations)
        rows = connections + conversations * 5
        with app.app_context():
            timings = []
            for _ in range(2):
                start = time.perf_counter()
                report = import_linkedin_export(
                    get_engine(), connections=io.BytesIO(people), messages=io.BytesIO(messages), owner_id=None,
                    options=IngestOptions(actor="bench"),
                )
                timings.append(time.perf_counter() - start)
            assert report.messages is not None and report.messages.statuses.get("created", 0) == 0
        return {"rows": rows, "first_s": timings[0], "again_s": timings[1], "first_rows_per_s": rows / timings[0],
                "again_rows_per_s": rows / timings[1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=2000)
    args = parser.parse_args()
    small = run(args.connections // 4, args.conversations // 4)
    large = run(args.connections, args.conversations)
    for label, figures in (("small", small), ("large", large)):
        print(f"{label}: {figures['rows']} rows; first import {figures['first_s']:.1f} s "
              f"({figures['first_rows_per_s']:.0f} rows/s); re-import {figures['again_s']:.1f} s "
              f"({figures['again_rows_per_s']:.0f} rows/s)")
    print(f"t(large)/t(small) = {large['first_s'] / small['first_s']:.2f} for 4x the rows")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

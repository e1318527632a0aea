"""Identity resolution measured on public record-linkage benchmarks with ground truth, and on a generated store
with many namesakes (crowded_records), as a Polish team's CRM has.

    .venv/bin/python bench/identity_bench.py [--fixtures ../shared/fixtures/identity]

Every record goes through core.ingest (as an inquiry with one message) into a fresh SQLite store. Then:
- automatic merges: record pairs that ended on one contact;
- merges + suggestions: also pairs whose contacts have an open duplicate suggestion (what a person reviews).
Pairwise precision, recall and F1 against the truth clusters are printed as JSON lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from core.db import make_engine  # noqa: E402
from core.identity import resolve_contact_id  # noqa: E402
from core.ingest import IngestError, IngestOptions, ingest  # noqa: E402
from core.models import DuplicateSuggestion  # noqa: E402
from core.schemas import InboundRecord  # noqa: E402


def splink_records(folder: Path) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    records, truth = [], {}
    with (folder / "fake_1000.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = row["unique_id"]
            name = " ".join(p for p in (row["first_name"], row["surname"]) if p)
            records.append((key, {"name": name, "email": row["email"] or None}))
            truth[key] = row["cluster"]
    return records, truth


def senzing_records(folder: Path) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    records, truth = [], {}
    with (folder / "actual_truthset_key.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[f"{row['DATA_SOURCE']}:{row['RECORD_ID']}"] = row["CLUSTER_ID"]
    for name in ("customers.csv", "reference.csv", "watchlist.csv"):
        with (folder / name).open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                key = f"{row['DATA_SOURCE']}:{row['RECORD_ID']}"
                person = " ".join(p for p in (row.get("PRIMARY_NAME_FIRST"), row.get("PRIMARY_NAME_MIDDLE"),
                                              row.get("PRIMARY_NAME_LAST")) if p)
                display = row.get("PRIMARY_NAME_FULL") or person or row.get("PRIMARY_NAME_ORG") or row.get("NATIVE_NAME_FULL")
                records.append((key, {
                    "name": display or None,
                    "email": row.get("EMAIL_ADDRESS") or None,
                    "phone": row.get("PHONE_NUMBER") or None,
                    "company": row.get("EMPLOYER") or row.get("SECONDARY_NAME_ORG") or None,
                }))
                truth.setdefault(key, f"single:{key}")
    return records, truth


# The most common Polish first names and surnames: a CRM of a Polish team holds many namesakes.
COMMON_FIRST = ["Anna", "Maria", "Katarzyna", "Piotr", "Krzysztof", "Andrzej"]
COMMON_LAST = ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk"]
RARE_SYLLABLES = ["gra", "bow", "ski", "czyk", "lew", "mar", "tyn", "żak", "kie", "rz", "wicz", "dą", "bro", "szcz"]


def crowded_records(people: int = 1500, seed: int = 11) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    """A generated team's store with many namesakes: half the people carry one of 30 common names, each person
    at a firm of their own and writing from its domain (one to three records, the repeats auto-merge by e-mail;
    half the records name the firm). One in ten writes again later from another firm (changed jobs), which
    only the name can tell."""
    import random

    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(RARE_SYLLABLES) for _ in range(3)).capitalize()

    records, truth = [], {}
    for person in range(people):
        first = rng.choice(COMMON_FIRST)
        last = rng.choice(COMMON_LAST) if rng.random() < 0.5 else word()
        name = f"{first} {last}"
        for n, (company, domain) in enumerate([(f"{word()} {word()}", f"firma{person}.pl")] * rng.randint(1, 3)
                                              + ([(f"{word()} {word()}", f"nowa{person}.pl")]
                                                 if rng.random() < 0.1 else [])):
            key = f"p{person}:{n}"
            records.append((key, {"name": name, "email": f"{first[0].lower()}.{last.lower()}@{domain}",
                                  "company": company if rng.random() < 0.5 else None}))
            truth[key] = str(person)
    rng.shuffle(records)
    return records, truth


def truth_pairs(keys: list[str], truth: dict[str, str]) -> set[frozenset[str]]:
    clusters: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        clusters[truth[key]].append(key)
    return {frozenset(p) for members in clusters.values() for p in combinations(members, 2)}


def scores(predicted: set[frozenset[str]], actual: set[frozenset[str]]) -> dict[str, float]:
    hits = len(predicted & actual)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(actual) if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs_predicted": len(predicted), "pairs_true": len(actual), "precision": round(precision, 3),
            "recall": round(recall, 3), "f1": round(f1, 3)}


def evaluate(name: str, records: list[tuple[str, dict]], truth: dict[str, str], region: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        from webapp.cli import upgrade_database

        url = f"sqlite:///{tmp}/identity.db"
        upgrade_database(url)
        engine = make_engine(url)
        started = time.perf_counter()
        contact_of: dict[str, int] = {}
        skipped = 0
        with Session(engine) as session:
            for key, contact in records:
                record = InboundRecord.model_validate({
                    "channel": "import",
                    "contact": {k: v for k, v in contact.items() if v},
                    "message": {"external_id": key, "text": "benchmark record"},
                })
                try:
                    result = ingest(session, record, options=IngestOptions(default_phone_region=region))
                except IngestError:
                    skipped += 1
                    continue
                contact_of[key] = result.contact_id
                session.commit()
            final = {key: resolve_contact_id(session, cid) for key, cid in contact_of.items()}
            suggestions = session.exec(select(DuplicateSuggestion).where(DuplicateSuggestion.status == "open")).all()
        elapsed = time.perf_counter() - started
        engine.dispose()
    keys = list(final)
    by_contact: dict[int, list[str]] = defaultdict(list)
    for key, cid in final.items():
        by_contact[cid].append(key)
    merged = {frozenset(p) for members in by_contact.values() for p in combinations(members, 2)}
    suggested = set(merged)
    for s in suggestions:
        for a in by_contact.get(s.contact_a_id, []):
            for b in by_contact.get(s.contact_b_id, []):
                suggested.add(frozenset((a, b)))
    actual = truth_pairs(keys, truth)
    return {
        "dataset": name,
        "records": len(records),
        "skipped": skipped,
        "contacts": len(by_contact),
        "suggestions": len(suggestions),
        "seconds": round(elapsed, 2),
        "automatic_merges": scores(merged, actual),
        "merges_plus_suggestions": scores(suggested, actual),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures" / "identity")
    args = parser.parse_args()
    splink = splink_records(args.fixtures / "splink-fake-1000")
    print(json.dumps(evaluate("splink fake_1000", *splink, region="GB")))
    senzing = senzing_records(args.fixtures / "senzing-truthset")
    print(json.dumps(evaluate("senzing truth-set demo", *senzing, region="US")))
    print(json.dumps(evaluate("generated: many namesakes (crowded_records)", *crowded_records(), region="PL")))


if __name__ == "__main__":
    main()

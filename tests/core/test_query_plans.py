"""No statement of the bulk ingest path may read a whole big table: such a step costs more with every row the
store holds, which is how an import turns quadratic. Every SELECT the path runs is explained on SQLite."""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.batch import ingest_many
from core.db import make_engine
from core.schemas import InboundRecord

# Tables that grow with the store; the others (users, settings, rules, suppressions …) stay small.
BIG_TABLES = {"contacts", "identities", "messages", "conversations", "contact_block_keys", "duplicate_suggestions",
              "lead_qualifications", "lead_scores", "stage_changes", "merge_events"}


def _records(n: int) -> list[InboundRecord]:
    rng = random.Random(4)
    records = []
    for i in range(n):
        person = rng.randrange(max(1, i // 2 + 1))  # people write again, by email or by phone
        contact = {"name": rng.choice(["Anna Nowak", "Łukasz Wójcik", "Алексей Иванов", f"Osoba {person}"]),
                   "email": f"p{person}@firma{person % 7}.pl", "company": "Budmax"}
        if rng.random() < 0.5:
            contact["phone"] = f"+48 600 {person:03d} {rng.randrange(3):03d}"
        if rng.random() < 0.1:
            contact["email"] = "biuro@firma.pl"  # a role address: weak, the full path
        records.append(InboundRecord.model_validate({
            "channel": rng.choice(["gmail", "form", "intercom", "api"]), "contact": contact,
            "message": {"external_id": f"m{i}", "thread_id": f"t{rng.randrange(n)}", "text": "proszę o ofertę",
                        "sent_at": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z"}}))
    return records


def test_no_statement_of_a_batch_scans_a_big_table(sqlite_template: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from core import hooks, qualification

    monkeypatch.setattr(hooks, "post_ingest_hooks", [qualification.on_ingest])
    monkeypatch.setattr(hooks, "event_listeners", [qualification.on_event])
    monkeypatch.setattr(hooks, "batch_finishers", [qualification.finish_batch])
    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    seen: dict[str, object] = {}

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, PLR0913
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.setdefault(statement, parameters)

    sa.event.listen(engine, "before_cursor_execute", remember)
    records = _records(400)
    with Session(engine) as session:
        for start in range(0, len(records), 100):
            ingest_many(session, records[start : start + 100])
            session.commit()
    engine.dispose()
    assert len(seen) > 20  # the path ran: prefetch, duplicate search, qualification

    raw = sqlite3.connect(db)
    problems = []
    for statement, parameters in seen.items():
        for *_, detail in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters or ()):
            scanned = re.match(r"SCAN (\w+)", detail)
            if scanned and scanned.group(1) in BIG_TABLES:
                problems.append((detail, statement[:300]))
            # An index used for its leading `kind` alone walks every identity of that kind.
            if re.search(r"identities USING (COVERING )?INDEX \w+ \(kind=\?\)$", detail):
                problems.append((detail, statement[:300]))
    raw.close()
    assert not problems, "\n".join(f"{d}: {s}" for d, s in problems)

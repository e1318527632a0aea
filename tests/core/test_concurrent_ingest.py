"""Workers that sync different mailboxes share correspondents: their batches race for the same contacts and
identities. Every batch must land (after retrying a deadlock or a lost insert race), each message once, each
person once. On PostgreSQL this is the race CI caught as 'deadlock detected' in a sync worker."""

from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from core.batch import ingest_many
from core.db import is_transient_db_error
from core.ingest import IngestError
from core.models import Contact, Identity, Message
from core.schemas import InboundRecord

WORKERS = 4
PEOPLE = 40
BATCHES = 6
BATCH_SIZE = 30


def _person(n: int) -> dict:
    return {"name": f"Ковальски Ян {n}" if n % 3 else f"Łucja Wiśniewska {n}", "email": f"person{n}@example.com"}


def _batches(worker: int) -> list[list[InboundRecord]]:
    rng = random.Random(worker)
    batches = []
    for b in range(BATCHES):
        people = rng.sample(range(PEOPLE), BATCH_SIZE)  # each worker meets the same people in its own order
        batches.append([
            InboundRecord.model_validate({
                "channel": "gmail", "scope": f"box{worker}",
                "contact": _person(n),
                "message": {"external_id": f"w{worker}-b{b}-p{n}", "thread_id": f"w{worker}-p{n}", "text": "hi",
                            "sent_at": f"2026-03-{1 + b:02d}T10:{n % 60:02d}:00Z"},
            })
            for n in people
        ])
    return batches


def test_concurrent_batches_over_shared_people_all_land(app) -> None:  # noqa: ANN001
    writer = app.extensions["leadhub.writer_engine"]
    barrier = threading.Barrier(WORKERS)
    failures: list[BaseException] = []
    rejected: list[IngestError] = []

    def work(worker: int) -> None:
        try:
            batches = _batches(worker)
            barrier.wait()
            for batch in batches:
                with Session(writer, expire_on_commit=False) as session:
                    results = ingest_many(session, batch)
                    session.commit()
                rejected.extend(r for r in results if isinstance(r, IngestError))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert not rejected, rejected

    expected = {r.message.external_id for w in range(WORKERS) for batch in _batches(w) for r in batch}
    with Session(app.extensions["leadhub.engine"]) as session:
        stored = session.exec(select(Message.external_id)).all()
        assert len(stored) == len(set(stored)), "a message was stored twice"
        assert set(stored) == expected
        live = session.exec(select(func.count()).select_from(Contact).where(col(Contact.merged_into).is_(None))).one()
        assert live == PEOPLE, "the same person became more than one lead"
        # Every message of a person hangs on the contact that owns that person's email.
        owner = dict(session.exec(select(Identity.value, Identity.contact_id).where(Identity.kind == "email")).all())
        for email, contact_id in session.exec(
            select(Identity.value, Message.contact_id).join(Message, Message.contact_id == Identity.contact_id)
        ).all():
            assert owner[email] == contact_id


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("error", "transient"), [
    (sa.exc.OperationalError("UPDATE", {}, _DriverError("deadlock detected", "40P01")), True),
    (sa.exc.OperationalError("UPDATE", {}, _DriverError("could not serialize access", "40001")), True),
    (sa.exc.OperationalError("SELECT", {}, _DriverError("could not obtain lock", "55P03")), True),
    (sa.exc.OperationalError("BEGIN IMMEDIATE", {}, _DriverError("database is locked")), True),
    (sa.exc.OperationalError("SELECT", {}, _DriverError("relation does not exist", "42P01")), False),
    (sa.exc.IntegrityError("INSERT", {}, _DriverError("duplicate key value", "23505")), False),
    (ValueError("40P01"), False),
])
def test_transient_database_errors(error: BaseException, transient: bool) -> None:
    assert is_transient_db_error(error) is transient

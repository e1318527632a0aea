"""The intake queue: accept an inbound record with one INSERT now, file it through core.ingest in batches later.

The hot public endpoints (website forms) must answer fast and must not lose what they acknowledged. `accept`
commits the raw record to `pending_inbound` (one row, unique per channel + message id) and that commit is
the durability point. `file_pending` then runs the pending records through `core.batch.ingest_many` (the same
rules as every other path, with the batch path's fewer round trips) and deletes each row in the same
transaction that stores its message: at every instant a record is either waiting or stored, never both
missing and acknowledged. A crash between the two just leaves the row to be filed again; ingest is
idempotent, so nothing is duplicated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from core.batch import ingest_many
from core.db import db_json
from core.ingest import IngestError, IngestOptions
from core.models import Message, PendingInbound, utcnow
from core.schemas import InboundRecord, IngestResult

log = logging.getLogger(__name__)

FILE_BATCH_SIZE = 500


@dataclass
class Filed:
    """One pending record that was filed: what ingest made of it."""

    record: InboundRecord
    result: IngestResult


def accept(session: Session, record: InboundRecord, *, actor: str = "ingest") -> str:
    """Queue `record` for filing. Returns "created" when it is new, "known" when its message is already
    stored or already waiting (a retried post). The caller commits; that commit is the acknowledgement."""
    if record.message is None:
        raise ValueError("only records with a message go through the intake queue")
    external_id = record.message.external_id
    connection = session.connection()  # Core statements built once: this runs on every public post
    params = {"channel": record.channel, "external_id": external_id}
    if connection.execute(_STORED, params).first() is not None:
        return "known"
    row = {**params, "actor": actor, "record": _to_json(record), "received_at": utcnow(), "attempts": 0,
           "last_error": ""}
    # RETURNING, not rowcount: with psycopg the rowcount of an INSERT … RETURNING is not the rows inserted.
    return "created" if connection.execute(_queue_insert(connection.dialect.name), row).first() else "known"


_STORED = (
    select(Message.__table__.c.id)
    .where(Message.__table__.c.channel == sa.bindparam("channel"),
           Message.__table__.c.external_id == sa.bindparam("external_id"))
    .limit(1)
)
_INSERTS: dict[str, sa.Executable] = {}


def _queue_insert(dialect: str) -> sa.Executable:
    if dialect not in _INSERTS:
        table = PendingInbound.__table__
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        _INSERTS[dialect] = (
            insert(table)
            .values({name: sa.bindparam(name, type_=table.c[name].type) for name in (
                "channel", "external_id", "actor", "record", "received_at", "attempts", "last_error")})
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(table.c.id)
        )
    return _INSERTS[dialect]


def _to_json(record: InboundRecord) -> str:
    # account_id, scope and owner_id are excluded from the public dump (callers of the API may not set them)
    # but belong to the record: a form's owner owns its leads.
    data = record.model_dump(mode="json")
    data.update(account_id=record.account_id, scope=record.scope, owner_id=record.owner_id)
    return db_json(data)


def file_pending(
    session: Session, *, limit: int = FILE_BATCH_SIZE, options: IngestOptions | None = None
) -> tuple[list[Filed], int]:
    """File up to `limit` waiting records, oldest first (records that failed before go last). Returns what was
    filed and how many failed (kept, with their error, for the next run). The caller commits."""
    options = options or IngestOptions()
    rows = session.exec(
        select(PendingInbound)
        .order_by(PendingInbound.attempts, PendingInbound.id)
        .limit(limit)
        # Several workers may file at once (PostgreSQL): each takes rows the others have not locked.
        .with_for_update(skip_locked=True)
    ).all()
    filed: list[Filed] = []
    failed = 0
    # One ingest batch per run of rows with the same actor (the merge log records who caused a merge).
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end].actor == rows[start].actor:
            end += 1
        group = rows[start:end]
        records = [InboundRecord.model_validate_json(row.record) for row in group]
        group_options = IngestOptions(
            default_phone_region=options.default_phone_region,
            suggest_duplicates=options.suggest_duplicates,
            actor=group[0].actor or options.actor,
        )
        results = ingest_many(session, records, options=group_options)
        done_ids = []
        for row, record, result in zip(group, records, results, strict=True):
            if isinstance(result, IngestError):
                failed += 1
                row.attempts += 1
                row.last_error = str(result)[:2000]
                session.add(row)
                log.warning("pending %s record %s not filed: %s", row.channel, row.external_id, result)
            else:
                done_ids.append(row.id)
                filed.append(Filed(record=record, result=result))
        if done_ids:
            session.execute(sa.delete(PendingInbound).where(PendingInbound.id.in_(done_ids)))
        start = end
    session.flush()
    return filed, failed


def pending_counts(session: Session) -> dict[str, int]:
    """Records waiting per channel (for /metrics and the admin pages)."""
    rows = session.execute(
        select(PendingInbound.channel, sa.func.count()).group_by(PendingInbound.channel)
    ).all()
    return {channel: int(count) for channel, count in rows}

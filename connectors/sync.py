"""The sync runner: owns cursor state, leases, batching and error bookkeeping for every connector.

Records are ingested in the current transaction; at each Checkpoint the batch and the new cursor are
committed together. A crash (even kill -9) between checkpoints loses nothing: the next run starts from the
last committed cursor and ingest's idempotency absorbs what is delivered again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from connectors.base import Checkpoint, ConnectorContext, Quarantine, Released, get
from connectors.errors import ConnectorError, ReconnectNeeded
from core.batch import bulk_gc, bulk_gc_checkpoint, ingest_many
from core.crypto import SecretBox
from core.identity import email_is_known
from core.ingest import IngestError, IngestOptions
from core.models import ConnectorAccount, QuarantinedItem, utcnow
from core.schemas import InboundRecord

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
# Commit at least this often even if a connector checkpoints rarely (cursor stays where it was).
MAX_UNCOMMITTED = 500


class AccountBusy(Exception):
    """Another worker holds this account's lease: one mailbox is never synced twice at once."""


@dataclass
class SyncReport:
    account_id: int
    records: int = 0
    created: int = 0
    known: int = 0
    suppressed: int = 0
    quarantined: int = 0
    checkpoints: int = 0
    error: str = ""
    error_kind: str = ""
    warnings: list[str] = field(default_factory=list)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(engine: sa.Engine, account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Atomically take the account's lease if it is free or expired (works on SQLite and PostgreSQL)."""
    now = utcnow()
    with Session(engine) as session:
        result = session.exec(
            sa.update(ConnectorAccount)
            .where(
                col(ConnectorAccount.id) == account_id,
                sa.or_(
                    ConnectorAccount.lease_owner == "",
                    ConnectorAccount.lease_owner == owner,
                    col(ConnectorAccount.lease_until).is_(None),
                    col(ConnectorAccount.lease_until) < now,
                ),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        )
        session.commit()
        return result.rowcount == 1


def release_lease(engine: sa.Engine, account_id: int, owner: str) -> None:
    with Session(engine) as session:
        session.exec(
            sa.update(ConnectorAccount)
            .where(col(ConnectorAccount.id) == account_id, ConnectorAccount.lease_owner == owner)
            .values(lease_owner="", lease_until=None)
        )
        session.commit()


def build_context(
    session: Session, account: ConnectorAccount, settings: Mapping[str, Any], box: SecretBox | None
) -> ConnectorContext:
    """The connector's view of its account. Its config is the connector-wide defaults an admin set
    (settings["CONNECTOR_DEFAULTS"][type]) overlaid with the account's own non-empty values."""
    credentials = box.decrypt(account.credentials_encrypted) if box and account.credentials_encrypted else {}
    account_id = account.id
    defaults = dict((settings.get("CONNECTOR_DEFAULTS") or {}).get(account.type) or {})

    def save(new_credentials: dict[str, Any]) -> None:
        # Refreshed tokens are saved at once in their own transaction: losing one means a broken account.
        with Session(session.get_bind()) as own:
            row = own.get(ConnectorAccount, account_id)
            if row is not None and box is not None:
                row.credentials_encrypted = box.encrypt(new_credentials)
                own.add(row)
                own.commit()

    def is_known_email(address: str) -> bool:
        # The sync's own session: records ingested earlier in this batch count too.
        return email_is_known(session, address)

    return ConnectorContext(
        account_id=account.id,
        settings=settings,
        credentials=credentials,
        config={**defaults, **{k: v for k, v in (account.config or {}).items() if v not in (None, "")}},
        owner_id=account.owner_id,
        save_credentials=save,
        is_known_email=is_known_email,
    )


def run_sync(
    engine: sa.Engine,
    account_id: int,
    *,
    settings: Mapping[str, Any],
    box: SecretBox | None = None,
    options: IngestOptions | None = None,
    lease_owner: str | None = None,
    on_record: Callable[[InboundRecord], None] | None = None,
    release: bool = True,
) -> SyncReport:
    """Sync one connector account from its committed cursor. Raises AccountBusy if another worker holds it.

    With release=False the caller, who took the lease as `lease_owner`, releases it (to record the run first)."""
    owner = lease_owner or worker_id()
    if not acquire_lease(engine, account_id, owner):
        raise AccountBusy(f"account {account_id} is being synced by another worker")
    report = SyncReport(account_id=account_id)
    try:
        with bulk_gc():
            _run(engine, account_id, settings, box, options, owner, report, on_record)
    finally:
        if release:
            release_lease(engine, account_id, owner)
    return report


def _run(engine, account_id, settings, box, options, owner, report, on_record) -> None:  # noqa: ANN001, PLR0913
    with Session(engine, expire_on_commit=False) as session:
        account = session.get(ConnectorAccount, account_id)
        if account is None:
            raise LookupError(f"no connector account {account_id}")
        connector_cls = get(account.type)
        context = build_context(session, account, settings, box)
        connector = connector_cls(context)
        state = dict(account.sync_state or {})
        account.status = "syncing"
        session.add(account)
        session.commit()
        pending = 0
        buffer: list[InboundRecord] = []

        def ingest_buffer() -> None:
            # Records between checkpoints go through core.batch.ingest_many: the same rules as ingest,
            # far fewer round trips. They are written before the checkpoint that follows them commits.
            if not buffer:
                return
            results = ingest_many(session, buffer, options=options)
            for item, result in zip(buffer, results, strict=True):
                if isinstance(result, IngestError):
                    ext = (item.message.external_id if item.message else item.external_id) or "?"
                    _quarantine(session, account, Quarantine(external_id=ext, reason=str(result)))
                    report.quarantined += 1
                    continue
                report.records += 1
                report.created += result.status == "created"
                report.known += result.status == "known"
                report.suppressed += result.status == "suppressed"
                if result.status == "created" and item.message is not None:
                    account.messages_synced += 1
            buffer.clear()

        lookup = getattr(context, "is_known_email", None)
        if lookup is not None:
            # A connector asking "is this person known?" must see the records it yielded before.
            def is_known_email(address: str) -> bool:
                ingest_buffer()
                return lookup(address)

            context.is_known_email = is_known_email
        try:
            for item in connector.read(state):
                if isinstance(item, Checkpoint):
                    ingest_buffer()
                    state = dict(item.state)
                    _commit(session, account, state, report)
                    bulk_gc_checkpoint()
                    pending = 0
                    report.checkpoints += 1
                    acquire_lease(engine, account_id, owner)  # extend while we are alive
                elif isinstance(item, Quarantine):
                    _quarantine(session, account, item)
                    report.quarantined += 1
                    pending += 1
                elif isinstance(item, Released):
                    session.execute(sa.delete(QuarantinedItem).where(
                        QuarantinedItem.channel == account.type,
                        QuarantinedItem.external_id == item.external_id[:400]))
                    pending += 1
                else:
                    if item.account_id is None:
                        item.account_id = account.id
                    if item.owner_id is None:
                        item.owner_id = account.owner_id
                    buffer.append(item)
                    if on_record is not None:
                        on_record(item)
                    pending += 1
                if pending >= MAX_UNCOMMITTED:
                    ingest_buffer()
                    _commit(session, account, None, report)
                    bulk_gc_checkpoint()
                    pending = 0
            ingest_buffer()
            _commit(session, account, state, report)
            account.status = "healthy"
            account.last_error = ""
        except ReconnectNeeded as exc:
            session.rollback()
            account = session.get(ConnectorAccount, account_id)
            account.status = "reconnect_needed"
            account.last_error = f"Reconnect needed: {exc}"
            report.error, report.error_kind = str(exc), exc.kind
        except ConnectorError as exc:
            session.rollback()
            account = session.get(ConnectorAccount, account_id)
            account.status = "error"
            account.last_error = str(exc)[:2000]
            report.error, report.error_kind = str(exc), exc.kind
        except Exception as exc:
            session.rollback()
            account = session.get(ConnectorAccount, account_id)
            account.status = "error"
            account.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("sync of account %s failed", account_id)
            raise
        finally:
            account.last_sync_at = utcnow()
            session.add(account)
            session.commit()


def _commit(session: Session, account: ConnectorAccount, state: dict | None, report: SyncReport) -> None:
    if state is not None:
        account.sync_state = state
    account.last_sync_at = utcnow()
    session.add(account)
    session.commit()


def _quarantine(session: Session, account: ConnectorAccount, item: Quarantine) -> None:
    exists = session.exec(
        sa.select(QuarantinedItem.id).where(
            QuarantinedItem.channel == account.type, QuarantinedItem.external_id == item.external_id[:400]
        )
    ).first()
    if exists is None:
        session.add(
            QuarantinedItem(
                account_id=account.id, channel=account.type, external_id=item.external_id[:400], reason=item.reason
            )
        )
        session.flush()

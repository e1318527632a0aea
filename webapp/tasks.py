"""leadhub's background tasks. Each runs inside an app context (see webapp.queue)."""

from __future__ import annotations

import logging
import random
from typing import Any

import sqlalchemy as sa
from flask import current_app
from huey import crontab
from sqlmodel import Session

from connectors import load_all
from connectors.sync import SyncReport, acquire_lease, release_lease, run_sync, worker_id
from core.ingest import IngestOptions
from core.models import ConnectorAccount, SyncRun, utcnow
from webapp.db import get_writer_engine
from webapp.queue import enqueue, enqueue_in, task
from webapp.settings import effective_settings, is_enabled, switched_off_message
from webapp.sync_health import due_accounts

log = logging.getLogger(__name__)

RETRIABLE_KINDS = ("retriable", "rate_limited")
MAX_RETRY_DELAY_SECONDS = 3600


def connector_settings() -> dict[str, Any]:
    """What connectors see of the configuration: leadhub's settings (provider URLs, client ids …) with the
    admin's changes (credentials, company domains, connector-wide defaults)."""
    return dict(effective_settings())


def ingest_options(actor: str = "sync") -> IngestOptions:
    """For records a connector read from its provider: a provider's redaction blanks the stored message."""
    return IngestOptions(default_phone_region=current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"], actor=actor,
                         provider_redactions=True)


def retry_delay(attempt: int, base: float) -> float:
    """Exponential backoff with jitter: base, 2·base, 4·base … (times 0.5–1), at most an hour."""
    return min(MAX_RETRY_DELAY_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


# Unexpected failures (database down, a bug) are retried by huey itself, twice, a minute apart.
@task("sync_account", retries=2, retry_delay=60)
def sync_account(account_id: int, attempt: int = 1, run_id: int | None = None) -> dict[str, Any]:
    """Sync one connector account from its committed cursor; skipped if another worker holds its lease.

    A sync that ends in a retriable provider error (429, 5xx, timeouts after the connector's own retries) is
    scheduled again with exponential backoff, up to LEADHUB_SYNC_MAX_ATTEMPTS attempts."""
    load_all()
    engine = get_writer_engine()
    settings = current_app.config["LEADHUB"]
    with Session(engine) as session:
        account = session.get(ConnectorAccount, account_id)
        switched_off = account.type if account is not None and not is_enabled(account.type, session) else None
    if switched_off:
        _record(engine, run_id, account_id, status="skipped", finished=True, error=switched_off_message(switched_off))
        log.info("account %s: the %s connector is switched off; not synced", account_id, switched_off)
        return {"account_id": account_id, "skipped": "disabled"}
    owner = worker_id()
    if not acquire_lease(engine, account_id, owner):
        with Session(engine) as session:
            if session.get(ConnectorAccount, account_id) is None:
                log.warning("no connector account %s (deleted?); nothing to sync", account_id)
                return {"account_id": account_id, "skipped": "missing"}
        _record(engine, run_id, account_id, status="busy", finished=True)
        log.info("account %s is being synced by another worker; skipped", account_id)
        return {"account_id": account_id, "skipped": "busy"}
    run_id = _record(engine, run_id, account_id, status="running", worker=owner, started=True)
    try:
        try:
            report = run_sync(
                engine,
                account_id,
                settings=connector_settings(),
                box=current_app.extensions["leadhub.secretbox"],
                options=ingest_options(f"sync:{account_id}"),
                lease_owner=owner,
                release=False,
            )
        except Exception as exc:
            _record(engine, run_id, account_id, status="error", finished=True, error_kind="crash", error=repr(exc))
            raise
        _record(engine, run_id, account_id, report=report, finished=True)
    finally:
        release_lease(engine, account_id, owner)
    if report.error_kind in RETRIABLE_KINDS and attempt < settings["SYNC_MAX_ATTEMPTS"]:
        delay = retry_delay(attempt, settings["SYNC_RETRY_BASE_SECONDS"])
        log.warning("sync of account %s failed (%s); attempt %s in %.0f s", account_id, report.error, attempt + 1, delay)
        enqueue_in(delay, "sync_account", account_id, attempt + 1)
    return report.__dict__


@task("schedule_syncs", periodic=crontab(minute="*"))
def schedule_syncs() -> list[int]:
    """Every minute: queue a sync for each account that is due (LEADHUB_SYNC_INTERVAL_SECONDS)."""
    engine = get_writer_engine()
    with Session(engine) as session:
        ids = due_accounts(session, current_app.config["LEADHUB"]["SYNC_INTERVAL_SECONDS"])
        runs = [SyncRun(account_id=account_id, status="queued", enqueued_at=utcnow()) for account_id in ids]
        session.add_all(runs)
        session.commit()
        queued = [(run.account_id, run.id) for run in runs]
    for account_id, run_id in queued:
        enqueue("sync_account", account_id, 1, run_id)
    if queued:
        log.info("queued %d due syncs", len(queued))
    return [account_id for account_id, _ in queued]


@task("refresh_planner_statistics", periodic=crontab(minute="23", hour="3"))
def refresh_planner_statistics() -> bool:
    """Nightly on SQLite: ANALYZE, so the query planner knows how big the tables and how selective the indexes
    are. Without it, at 1M contacts the inbox's channel filter took 257 ms instead of 8 ms and an e-mail search
    142 ms instead of 12 (BENCHMARKS.md, Inbox); a full ANALYZE of that 4.3 GB store took 7 s. PostgreSQL's
    autovacuum keeps its own statistics."""
    engine = get_writer_engine()
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    log.info("planner statistics refreshed")
    return True


def _record(  # noqa: PLR0913
    engine: sa.Engine,
    run_id: int | None,
    account_id: int,
    *,
    status: str = "",
    worker: str = "",
    started: bool = False,
    finished: bool = False,
    report: SyncReport | None = None,
    error_kind: str = "",
    error: str = "",
) -> int:
    """Write the SyncRun row of this task (created if the task was enqueued by hand)."""
    with Session(engine) as session:
        run = session.get(SyncRun, run_id) if run_id is not None else None
        if run is None:
            run = SyncRun(account_id=account_id, enqueued_at=utcnow())
        if report is not None:
            status = "error" if report.error else "ok"
            run.records, run.created = report.records, report.created
            error_kind, error = report.error_kind, report.error
        run.status = status or run.status
        run.worker = worker or run.worker
        if started:
            run.started_at = utcnow()
        if finished:
            run.finished_at = utcnow()
        run.error_kind = error_kind[:32]
        run.error = error[:2000]
        session.add(run)
        session.commit()
        return int(run.id)


@task("identity.search_pending", periodic=crontab(minute="*/10"))
def search_pending_duplicates() -> int:
    """Every ten minutes: the duplicate search of contacts an import handed to its helper process and never saw
    through (the import died in between); see core.identity.search_pending."""
    from core.identity import search_pending

    engine = get_writer_engine()
    with Session(engine) as session:
        searched = search_pending(session)
        session.commit()
    if searched:
        log.info("searched duplicates of %d contacts an interrupted import left", searched)
    return searched

"""The task queue: periodic scheduling of due syncs, retries with backoff, the run log, the worker command."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from core.models import AppSetting, ConnectorAccount, SyncRun, utcnow
from tests.scale import synthetic
from tests.scale.harness import create_accounts, stored_message_ids
from webapp.queue import get_huey
from webapp.settings import ENABLED_SETTING
from webapp.sync_health import account_health, due_accounts
from webapp.tasks import refresh_planner_statistics, retry_delay, schedule_syncs, sync_account


def test_schedule_syncs_queues_only_due_accounts_and_syncs_them(app, engine, session, target) -> None:
    with target.start_emulator(mailboxes=5, per_mailbox=12) as emulator:
        app.config["LEADHUB"].update(emulator.settings)
        ids = create_accounts(session, target, emulator.mailboxes)
        fresh, disabled, leased = (session.get(ConnectorAccount, i) for i in ids[:3])
        fresh.last_sync_at = utcnow()
        disabled.status = "disabled"
        leased.lease_owner, leased.lease_until = "someone", utcnow() + timedelta(minutes=5)
        session.add_all([fresh, disabled, leased])
        session.commit()
        with app.app_context():
            queued = schedule_syncs()
        assert sorted(queued) == sorted(ids[3:])
        stored = stored_message_ids(engine, target.channel)
        assert len(stored) == 24 and len(set(stored)) == 24
        runs = session.exec(select(SyncRun).order_by(SyncRun.id)).all()
        assert [(r.account_id, r.status, r.records) for r in runs] == [(ids[3], "ok", 12), (ids[4], "ok", 12)]
        assert all(r.started_at and r.finished_at and r.worker for r in runs)
        with app.app_context():
            assert schedule_syncs() == []  # just synced: not due again before the interval


def test_due_accounts_skips_switched_off_connectors_and_queued_runs(app, session, target) -> None:
    ids = create_accounts(session, target, ["a", "b"])
    session.add(SyncRun(account_id=ids[0], status="queued", enqueued_at=utcnow()))
    session.commit()
    with app.app_context():
        assert due_accounts(session, 300) == [ids[1]]
        session.add(AppSetting(key=ENABLED_SETTING, value=["gmail"]))
        session.commit()
        assert due_accounts(session, 300) == []


def test_retriable_failure_is_rescheduled_with_backoff(app, engine, session, target) -> None:
    # 6 failing responses exhaust the connector's own 6 tries: the sync ends with a retriable error.
    faults = synthetic.Faults(fail_first=6)
    with target.start_emulator(mailboxes=1, per_mailbox=5, faults=faults) as emulator:
        app.config["LEADHUB"].update(emulator.settings)
        (account_id,) = create_accounts(session, target, emulator.mailboxes)
        with app.app_context():
            report = sync_account(account_id)
        assert report["error_kind"] == "retriable"
        scheduled = get_huey(app).scheduled()
        assert len(scheduled) == 1
        assert scheduled[0].args == (account_id, 2)
        run = session.exec(select(SyncRun)).one()
        assert (run.status, run.error_kind) == ("error", "retriable")
        with app.app_context():
            assert account_health(session)[0]["errors_24h"] == {"retriable": 1}
        # The retry, once the provider recovers, completes the sync.
        with app.app_context():
            report = sync_account(account_id, 2)
        assert report["error"] == "" and report["created"] == 5


def test_retry_delay_grows_exponentially_and_is_capped() -> None:
    delays = [retry_delay(attempt, 30) for attempt in range(1, 12)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 60 <= delays[2] <= 120
    assert max(delays) <= 3600


def test_busy_account_is_skipped_and_recorded(app, session, target) -> None:
    (account_id,) = create_accounts(session, target, ["box"])
    account = session.get(ConnectorAccount, account_id)
    account.lease_owner, account.lease_until = "other-worker", utcnow() + timedelta(minutes=5)
    session.add(account)
    session.commit()
    with app.app_context():
        assert sync_account(account_id) == {"account_id": account_id, "skipped": "busy"}
    with Session(session.get_bind()) as fresh:
        assert fresh.exec(select(SyncRun.status)).one() == "busy"


def test_worker_command_is_listed() -> None:
    from click.testing import CliRunner

    from webapp.cli import cli

    result = CliRunner().invoke(cli, ["worker", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output and "--periodic" in result.output


def test_planner_statistics_are_refreshed_on_sqlite(app, engine, session, database_url) -> None:
    """The nightly ANALYZE: SQLite then has sqlite_stat1 rows for the inbox's indexes; PostgreSQL is left to
    autovacuum. The task is on the periodic schedule."""
    from core.users import create_user

    create_user(session, email="stats@x.example", role="rep", name="S")
    session.commit()
    with app.app_context():
        ran = refresh_planner_statistics()
    assert ran is database_url.startswith("sqlite")
    if ran:
        with engine.connect() as connection:
            indexed = set(connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())
        assert "users" in indexed
    nightly = app.extensions["leadhub.tasks"]["refresh_planner_statistics"].task_class()
    assert nightly.validate_datetime(datetime(2026, 12, 3, 3, 23))
    assert not nightly.validate_datetime(datetime(2026, 12, 3, 4, 23))


def test_pending_duplicate_searches_are_swept_by_a_periodic_task(app, engine, session) -> None:
    """Contacts an interrupted import left in pending_searches are searched by the ten-minute task (only once
    they are old enough that no running import can still be on them)."""
    from core.identity import refresh_block_keys
    from core.ingest import IngestOptions, ingest
    from core.models import Contact, DuplicateSuggestion, PendingSearch
    from core.schemas import InboundRecord
    from webapp.tasks import search_pending_duplicates

    ids = [ingest(session, InboundRecord.model_validate(
        {"channel": "import", "contact": {"name": name, "email": email, "company": "Budmax"}}),
        options=IngestOptions(suggest_duplicates=False)).contact_id
        for name, email in (("Tomasz Zieliński", "tz@one.example"), ("Tomasz Zielinski", "tomasz@two.example"))]
    for cid in ids:  # filed as an import files them, their search handed out and never seen through
        refresh_block_keys(session, session.get(Contact, cid))
    session.add(PendingSearch(contact_id=ids[1], created_at=utcnow() - timedelta(minutes=11)))
    session.add(PendingSearch(contact_id=ids[0]))  # just handed out: a running import may be on it
    session.commit()
    with app.app_context():
        assert search_pending_duplicates() == 1
    session.expire_all()
    assert [p.contact_id for p in session.exec(select(PendingSearch))] == [ids[0]]
    assert len(session.exec(select(DuplicateSuggestion)).all()) == 1
    task = app.extensions["leadhub.tasks"]["identity.search_pending"].task_class()
    assert task.validate_datetime(datetime(2026, 12, 3, 3, 20))
    assert not task.validate_datetime(datetime(2026, 12, 3, 3, 21))

"""All 191 real-world fixtures synced through the emulator: each stored, skipped by a stated rule, or
quarantined with a reason; the sync completes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.gmail.emulator import Emulator
from core.models import ConnectorAccount, Message, QuarantinedItem

from .test_mime import FIXTURES, MANIFEST


def test_all_fixtures_sync(emulator: Emulator, make_account: Callable, sync: Callable, engine: sa.Engine) -> None:
    emulator.load_eml("rep@acme.example", [Path(FIXTURES / name) for name in MANIFEST])
    account_id = make_account(backfill_days=36500)
    report = sync(account_id)
    assert report.error == "", report.error
    with Session(engine) as session:
        account = session.get(ConnectorAccount, account_id)
        stored = session.exec(select(Message)).all()
        quarantined = session.exec(select(QuarantinedItem)).all()
    assert account.status == "healthy"
    assert all(q.reason for q in quarantined)
    skipped = account.sync_state["skipped"]
    # every message is accounted for; the same Message-ID in two fixture files is one message
    distinct_stored = len({m.external_id for m in stored})
    assert distinct_stored == len(stored)
    assert report.created + report.known + report.quarantined + skipped == len(MANIFEST)
    assert report.created == len(stored) and len(stored) > 100
    assert all(m.meta["inquiry_reason"] for m in stored)

"""Which connector accounts are due for a sync, and how each is doing (for the admin page and /metrics)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import load_all
from connectors.base import registered
from core.models import ConnectorAccount, SyncRun, utcnow
from webapp.settings import enabled_connectors

INACTIVE_STATUSES = ("disabled", "reconnect_needed")


def syncing_types(session: Session) -> list[str]:
    """Registered connector types that poll (Connector.syncs) and that the admin has not switched off."""
    load_all()
    enabled = enabled_connectors(session)
    return [name for name, cls in registered().items() if cls.syncs and name in enabled]


def due_accounts(session: Session, interval_seconds: int, now: datetime | None = None) -> list[int]:
    """Accounts to sync now: enabled, of a polling connector, not synced for `interval_seconds`, not leased,
    and without a queued or running sync younger than the interval (so a slow queue does not pile up)."""
    now = now or utcnow()
    horizon = now - timedelta(seconds=interval_seconds)
    types = syncing_types(session)
    if not types:
        return []
    pending = (
        select(SyncRun.account_id)
        .where(col(SyncRun.status).in_(("queued", "running")), col(SyncRun.enqueued_at) >= horizon)
        .scalar_subquery()
    )
    query = (
        select(ConnectorAccount.id)
        .where(
            col(ConnectorAccount.type).in_(types),
            col(ConnectorAccount.status).not_in(INACTIVE_STATUSES),
            sa.or_(col(ConnectorAccount.last_sync_at).is_(None), col(ConnectorAccount.last_sync_at) < horizon),
            sa.or_(col(ConnectorAccount.lease_until).is_(None), col(ConnectorAccount.lease_until) < now),
            col(ConnectorAccount.id).not_in(pending),
        )
        .order_by(col(ConnectorAccount.last_sync_at).asc().nulls_first(), col(ConnectorAccount.id))
    )
    return list(session.exec(query).all())


def account_health(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per account: status, lag since the last sync (seconds, None if never synced), last error, errors in
    the last 24 hours by kind, and whether a sync is queued or running. For the admin connectors page."""
    now = now or utcnow()
    since = now - timedelta(hours=24)
    errors: dict[int, dict[str, int]] = {}
    rows = session.exec(
        select(SyncRun.account_id, SyncRun.error_kind, sa.func.count())
        .where(SyncRun.status == "error", col(SyncRun.finished_at) >= since)
        .group_by(SyncRun.account_id, SyncRun.error_kind)
    ).all()
    for account_id, kind, count in rows:
        errors.setdefault(account_id, {})[kind or "error"] = int(count)
    active = set(
        session.exec(select(SyncRun.account_id).where(col(SyncRun.status).in_(("queued", "running")))).all()
    )
    result = []
    for account in session.exec(select(ConnectorAccount).order_by(col(ConnectorAccount.id))).all():
        lag = (now - account.last_sync_at).total_seconds() if account.last_sync_at else None
        result.append(
            {
                "account_id": account.id,
                "type": account.type,
                "label": account.label,
                "status": account.status,
                "last_sync_at": account.last_sync_at.isoformat() if account.last_sync_at else None,
                "lag_seconds": lag,
                "last_error": account.last_error,
                "messages_synced": account.messages_synced,
                "errors_24h": errors.get(account.id, {}),
                "in_progress": account.id in active,
                "leased": bool(account.lease_until and account.lease_until > now),
            }
        )
    return result

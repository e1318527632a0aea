"""/metrics in Prometheus text format.

Two kinds of figures, chosen for being right across any number of gunicorn and worker processes:
- Facts about the store are computed from the database at scrape time (messages per channel by GROUP BY,
  sync lag per account, sync errors by kind from sync_runs, queue depth from huey). Every process sees the same
  database, so the figures agree whichever process answers, survive restarts, and need no shared memory.
- Latency histograms (requests, webhooks) are observed where they happen, in the web processes. With
  PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it) they are aggregated over all processes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlmodel import Session, col, select

from core.intake import pending_counts as pending_counts_by_channel
from core.models import ConnectorAccount, Message, SyncRun, utcnow
from webapp.db import get_engine
from webapp.queue import pending_count

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
ERROR_WINDOW = timedelta(hours=24)


class StoreCollector(Collector):
    """Gauges read from the database (and the queue) when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "leadhub_messages_ingested", "Messages in the store, by channel.", labels=["channel"]
        )
        lag = GaugeMetricFamily(
            "leadhub_sync_lag_seconds",
            "Seconds since the account's last sync (accounts never synced are left out).",
            labels=["account_id", "type"],
        )
        status = GaugeMetricFamily(
            "leadhub_connector_accounts", "Connector accounts, by type and status.", labels=["type", "status"]
        )
        errors = GaugeMetricFamily(
            "leadhub_sync_errors_24h", "Sync runs that ended in error in the last 24 hours, by kind.", labels=["kind"]
        )
        depth = GaugeMetricFamily("leadhub_queue_depth", "Tasks waiting in the task queue.")
        intake = GaugeMetricFamily(
            "leadhub_pending_inbound", "Records accepted and stored but not yet filed as leads, by channel.",
            labels=["channel"],
        )
        up = GaugeMetricFamily("leadhub_store_up", "1 when the database answered this scrape.")
        now = utcnow()
        try:
            with Session(get_engine(self.app)) as session:
                for channel, count in session.exec(
                    select(Message.channel, sa.func.count()).group_by(Message.channel)
                ).all():
                    messages.add_metric([channel], count)
                for account_id, account_type, last_sync_at in session.exec(
                    select(ConnectorAccount.id, ConnectorAccount.type, ConnectorAccount.last_sync_at)
                ).all():
                    if last_sync_at is not None:
                        lag.add_metric([str(account_id), account_type], (now - last_sync_at).total_seconds())
                for account_type, account_status, count in session.exec(
                    select(ConnectorAccount.type, ConnectorAccount.status, sa.func.count()).group_by(
                        ConnectorAccount.type, ConnectorAccount.status
                    )
                ).all():
                    status.add_metric([account_type, account_status], count)
                for kind, count in session.exec(
                    select(SyncRun.error_kind, sa.func.count())
                    .where(SyncRun.status == "error", col(SyncRun.finished_at) >= now - ERROR_WINDOW)
                    .group_by(SyncRun.error_kind)
                ).all():
                    errors.add_metric([kind or "error"], count)
                for channel, count in pending_counts_by_channel(session).items():
                    intake.add_metric([channel], count)
            up.add_metric([], 1)
        except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
        yield from (messages, lag, status, errors, intake, up)
        try:
            depth.add_metric([], pending_count(self.app))
            yield depth
        except Exception:  # noqa: BLE001 - queue unreachable: leave the gauge out, /healthz says why
            log.exception("metrics: the queue did not answer")


def render(app: Flask) -> bytes:
    """This process's (or, in multiprocess mode, every process's) histograms, then the store's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    store = CollectorRegistry()
    store.register(StoreCollector(app))
    return generate_latest(base) + generate_latest(store)


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render(current_app._get_current_object()), mimetype=CONTENT_TYPE_LATEST)

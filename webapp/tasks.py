"""leadhub's background tasks. Each runs inside an app context (see webapp.queue)."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from connectors import load_all
from connectors.sync import AccountBusy, run_sync
from core.ingest import IngestOptions
from webapp.db import get_engine
from webapp.queue import task

log = logging.getLogger(__name__)


def connector_settings() -> dict[str, Any]:
    """What connectors see of the configuration: leadhub's settings (provider URLs, client ids …)."""
    return dict(current_app.config["LEADHUB"])


def ingest_options(actor: str = "sync") -> IngestOptions:
    return IngestOptions(default_phone_region=current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"], actor=actor)


@task("sync_account", retries=2, retry_delay=30)
def sync_account(account_id: int) -> dict[str, Any]:
    """Sync one connector account from its committed cursor; skipped if another worker holds its lease."""
    load_all()
    try:
        report = run_sync(
            get_engine(),
            account_id,
            settings=connector_settings(),
            box=current_app.extensions["leadhub.secretbox"],
            options=ingest_options(f"sync:{account_id}"),
        )
    except AccountBusy as exc:
        log.info("%s", exc)
        return {"account_id": account_id, "skipped": "busy"}
    return report.__dict__

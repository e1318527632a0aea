"""Configuration: defaults, then the environment (and .env), then what a test passes in.

Every variable is listed with its default in .env.example and README.md.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from core.crypto import SecretBox

ENV_PREFIX = "LEADHUB_"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "",  # empty: SQLite at instance/leadhub.db
    "SECRET_KEY": "",  # empty: generated once into instance/secret_key (fine on one machine only)
    "ENCRYPTION_KEY": "",  # empty: generated once into instance/encryption_key
    "DEFAULT_PHONE_REGION": "PL",
    "MAX_BODY_BYTES": 1_048_576,
    "EXTRA_CHANNELS": "",
    "QUEUE_URL": "",  # empty: embedded queue (SQLite file under instance/)
    "BASE_URL": "http://127.0.0.1:5000",
    "DEMO": "auto",  # auto: emulated providers and demo data when no provider credentials are set
    "LOG_LEVEL": "INFO",
    # scale: queue, workers, scheduling, logs
    "QUEUE_NAME": "leadhub",  # one Redis queue per deployment (tests use a unique name per run)
    "INPROCESS_WORKER": "auto",  # auto: `leadhub serve` runs a worker thread when the queue is embedded; 1/0 force
    "WORKERS": 2,  # worker threads of the in-process consumer and the default of `leadhub worker --workers`
    "SYNC_INTERVAL_SECONDS": 300,  # an account is synced again this long after its last sync
    "SYNC_MAX_ATTEMPTS": 5,  # a sync failing with a retriable error is retried up to this many times
    "SYNC_RETRY_BASE_SECONDS": 30,  # first retry delay; doubles per attempt (with jitter), capped at one hour
    "LOG_FORMAT": "text",  # text | json (JSON lines with the request id)
}

_INT_KEYS = {"MAX_BODY_BYTES", "WORKERS", "SYNC_INTERVAL_SECONDS", "SYNC_MAX_ATTEMPTS", "SYNC_RETRY_BASE_SECONDS"}


def _instance_secret(instance_path: Path, name: str, factory) -> str:  # noqa: ANN001
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = factory()
    path.write_text(value)
    path.chmod(0o600)
    return value


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve leadhub's settings. Keys are stored without the LEADHUB_ prefix under app.config['LEADHUB']."""
    settings: dict[str, Any] = dict(DEFAULTS)
    for key in list(settings) + [k[len(ENV_PREFIX):] for k in os.environ if k.startswith(ENV_PREFIX)]:
        env_value = os.environ.get(ENV_PREFIX + key)
        if env_value is not None:
            settings[key] = env_value
    settings.update(overrides or {})
    for key in _INT_KEYS:
        settings[key] = int(settings[key])
    instance = Path(instance_path)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'leadhub.db'}"
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48))
    if not settings["ENCRYPTION_KEY"]:
        settings["ENCRYPTION_KEY"] = _instance_secret(instance, "encryption_key", SecretBox.generate_key)
    return settings

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
    # Outbound webhooks (qualification): attempts per delivery, first retry delay (doubles each time), timeout.
    "WEBHOOK_MAX_ATTEMPTS": 6,
    "WEBHOOK_BACKOFF_SECONDS": 30,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
}

_INT_KEYS = {"MAX_BODY_BYTES"}


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

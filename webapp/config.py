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
    # Reverse proxies in front of leadhub whose X-Forwarded-For / -Proto are trusted (0: none, run directly).
    "TRUSTED_PROXY_HOPS": 0,
    # Web app (webui): failed sign-ins allowed per client address and per email; where the counters live.
    "LOGIN_RATE_LIMIT": "10 per minute",
    "RATELIMIT_STORAGE_URL": "memory://",  # per process; redis://host:6379/1 shares limits across processes
    "INBOX_POLL_SECONDS": 5,
    # Optional Google sign-in (OpenID Connect): on when a client id is set. Only existing, active users get in.
    "GOOGLE_CLIENT_ID": "",
    "GOOGLE_CLIENT_SECRET": "",
    "GOOGLE_DISCOVERY_URL": "https://accounts.google.com/.well-known/openid-configuration",
    # website forms (webapp/forms.py)
    "FORMS_MIN_SUBMIT_SECONDS": 3,  # a submission sooner than this after the form was rendered is a bot
    "FORMS_TOKEN_MAX_AGE": 86400,  # seconds a rendered form stays valid
    "FORMS_RATE_LIMIT_PER_IP": "10/minute;100/day",  # flask-limiter notation; "off" disables
    "FORMS_RATE_LIMIT_PER_FORM": "600/minute",
    "FORMS_MAX_BODY_BYTES": 65_536,
    # Accepted submissions are filed as leads by a worker this many seconds later, in one batch per process
    # and window (0: one filing task per submission, at once).
    "FORMS_FILING_DELAY_SECONDS": 1.0,
    # outgoing mail (webapp/mailer.py)
    "SMTP_URL": "",  # empty: mail is only written to the outbox table; smtp://user:pass@host:587
    "MAIL_FROM": "leadhub <noreply@localhost>",
    "MAIL_BACKEND": "",  # empty: smtp when SMTP_URL is set, else outbox
    # Intercom (connectors/intercom, webapp/intercom.py): OAuth app credentials and provider URLs.
    "INTERCOM_CLIENT_ID": "",
    "INTERCOM_CLIENT_SECRET": "",
    "INTERCOM_API_URL": "https://api.intercom.io",
    "INTERCOM_AUTHORIZE_URL": "https://app.intercom.com/oauth",
    "INTERCOM_TOKEN_URL": "https://api.intercom.io/auth/eagle/token",
    # Gmail (defaults are Google's real endpoints; tests and the demo point them at the emulator).
    # GOOGLE_CLIENT_ID / _SECRET above serve both Google sign-in and Gmail connect.
    "GOOGLE_AUTHORIZE_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": "https://oauth2.googleapis.com/token",
    "GOOGLE_REVOKE_URL": "https://oauth2.googleapis.com/revoke",
    "GMAIL_API_URL": "https://gmail.googleapis.com/",
    "GMAIL_BACKFILL_DAYS": 90,
    "GMAIL_QUOTA_PER_MINUTE": 15000,
    "GMAIL_PUBSUB_TOPIC": "",  # projects/<p>/topics/<t>; empty: no users.watch, scheduled syncs only
    "GMAIL_PUSH_TOKEN": "",  # the ?token= Pub/Sub push subscriptions must carry; empty: push endpoint refuses
    # Mass sends stop for the day at this many mails per mailbox in 24 h (Gmail allows 500 for a free account,
    # 2,000 for Google Workspace; every outbound mail of the mailbox counts, replies included).
    "GMAIL_DAILY_SEND_CAP": 400,
    "COMPANY_DOMAINS": "",  # comma separated; mail from these is internal, never an inquiry
    # LinkedIn: "Sign In with LinkedIn using OpenID Connect" (empty client id: the sign-in button is hidden)
    "LINKEDIN_CLIENT_ID": "",
    "LINKEDIN_CLIENT_SECRET": "",
    "LINKEDIN_AUTHORIZE_URL": "https://www.linkedin.com/oauth/v2/authorization",
    "LINKEDIN_TOKEN_URL": "https://www.linkedin.com/oauth/v2/accessToken",
    "LINKEDIN_USERINFO_URL": "https://api.linkedin.com/v2/userinfo",
    # Outbound webhooks (qualification): attempts per delivery, first retry delay (doubles each time), timeout.
    "WEBHOOK_MAX_ATTEMPTS": 6,
    "WEBHOOK_BACKOFF_SECONDS": 30,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    # Rescoring every lead after a rule change: worker processes it is shared out among (0: one per core, up
    # to 4). Stores of one batch (20,000 leads) or fewer are rescored in the task's own process.
    "RESCORE_PROCESSES": 0,
    # scale: queue, workers, scheduling, logs
    "QUEUE_NAME": "leadhub",  # one Redis queue per deployment (tests use a unique name per run)
    "INPROCESS_WORKER": "auto",  # auto: `leadhub serve` runs a worker thread when the queue is embedded; 1/0 force
    "WORKERS": 2,  # worker threads of the in-process consumer and the default of `leadhub worker --workers`
    "SYNC_INTERVAL_SECONDS": 300,  # an account is synced again this long after its last sync
    "SYNC_MAX_ATTEMPTS": 5,  # a sync failing with a retriable error is retried up to this many times
    "SYNC_RETRY_BASE_SECONDS": 30,  # first retry delay; doubles per attempt (with jitter), capped at one hour
    "LOG_FORMAT": "text",  # text | json (JSON lines with the request id)
}

_INT_KEYS = {
    "MAX_BODY_BYTES", "INBOX_POLL_SECONDS", "FORMS_TOKEN_MAX_AGE", "FORMS_MAX_BODY_BYTES", "GMAIL_BACKFILL_DAYS",
    "GMAIL_QUOTA_PER_MINUTE", "GMAIL_DAILY_SEND_CAP", "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_BACKOFF_SECONDS", "WEBHOOK_TIMEOUT_SECONDS",
    "RESCORE_PROCESSES", "WORKERS", "SYNC_INTERVAL_SECONDS", "SYNC_MAX_ATTEMPTS", "SYNC_RETRY_BASE_SECONDS",
    "TRUSTED_PROXY_HOPS",
}


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

"""Outgoing mail behind one function, `send(to, subject, text, html)`.

Backends: "outbox" (default: the mail is written to the outbox_mail table, which the demo and tests read) and
"smtp" (smtplib, when LEADHUB_SMTP_URL is set: smtp://user:pass@host:25, smtps://… for TLS on connect,
smtp+starttls://… for STARTTLS). Another backend (sending through a connected Gmail account) registers itself
with `register_backend(name, fn)` and is chosen with LEADHUB_MAIL_BACKEND.
Every mail is recorded in the outbox with its status, whichever backend carried it.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

from core.ingest import address_erased
from core.models import OutboxMail
from webapp.db import get_engine
from webapp.queue import task

log = logging.getLogger(__name__)

Backend = Callable[[EmailMessage], None]
_BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, backend: Backend) -> None:
    _BACKENDS[name] = backend


def build_message(to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["LEADHUB"]["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _smtp_backend(message: EmailMessage) -> None:
    url = urlsplit(current_app.config["LEADHUB"]["SMTP_URL"])
    host, port = url.hostname or "127.0.0.1", url.port
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=20)
    else:
        client = smtplib.SMTP(host, port or 25, timeout=20)
    with client:
        if url.scheme == "smtp+starttls":
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def backend_name() -> str:
    settings = current_app.config["LEADHUB"]
    return settings.get("MAIL_BACKEND") or ("smtp" if settings.get("SMTP_URL") else "outbox")


def send(to: str, subject: str, text: str, html: str | None = None) -> int:
    """Send one mail now (call it from a task, not a request). Returns the outbox row id."""
    from sqlmodel import Session

    name = backend_name()
    row = OutboxMail(to=to[:320], subject=subject[:1000], text=text, html=html or "", backend=name)
    try:
        if name == "smtp":
            _smtp_backend(build_message(to, subject, text, html))
            row.status = "sent"
        elif name in _BACKENDS:
            _BACKENDS[name](build_message(to, subject, text, html))
            row.status = "sent"
    except (OSError, smtplib.SMTPException) as exc:
        row.status, row.error = "failed", str(exc)[:2000]
        log.warning("mail to %s failed through %s: %s", to, name, exc)
    with Session(get_engine()) as session:
        session.add(row)
        session.commit()
        row_id = row.id
    if row.status == "failed":
        raise RuntimeError(f"mail to {to} failed: {row.error}")  # the task queue retries
    return row_id


@task("send_mail", retries=3, retry_delay=60)
def send_mail_task(to: str, subject: str, text: str, html: str | None = None) -> int | None:
    """Mail to a lead (a form's autoresponder), queued: not sent to a person erased while it waited."""
    from sqlmodel import Session

    with Session(get_engine()) as session:
        if address_erased(session, to):
            log.info("mail queued to an address erased since was not sent")
            return None
    return send(to, subject, text, html)

"""The mailer: outbox by default, SMTP when configured, failures recorded and raised (so the queue retries)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from sqlmodel import Session, select

from core.models import OutboxMail
from webapp import mailer


class RecordingSMTP:
    """Stands in for smtplib.SMTP at the network boundary: records what leadhub asked it to do."""

    sent: list[EmailMessage] = []
    calls: list[tuple] = []
    fail = False

    def __init__(self, host: str, port: int, timeout: float):
        self.calls.append(("connect", host, port))

    def __enter__(self) -> RecordingSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        self.calls.append(("starttls",))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", user, password))

    def send_message(self, message: EmailMessage) -> None:
        if self.fail:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no such user")})
        self.sent.append(message)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> type[RecordingSMTP]:
    RecordingSMTP.sent, RecordingSMTP.calls, RecordingSMTP.fail = [], [], False
    monkeypatch.setattr(smtplib, "SMTP", RecordingSMTP)
    return RecordingSMTP


def test_outbox_backend_by_default(app, session: Session) -> None:  # noqa: ANN001
    with app.app_context():
        mailer.send("anna@firma.pl", "Hello", "Plain text", "<p>html</p>")
    [row] = session.exec(select(OutboxMail)).all()
    assert (row.to, row.subject, row.backend, row.status, row.html) == (
        "anna@firma.pl", "Hello", "outbox", "stored", "<p>html</p>")


def test_smtp_backend(app, session: Session, smtp) -> None:  # noqa: ANN001
    app.config["LEADHUB"]["SMTP_URL"] = "smtp+starttls://user%40x:secret@mail.example:587"
    with app.app_context():
        mailer.send("anna@firma.pl", "Confirm", "Click the link")
    assert smtp.calls == [("connect", "mail.example", 587), ("starttls",), ("login", "user@x", "secret")]
    [message] = smtp.sent
    assert message["To"] == "anna@firma.pl" and message.get_content().strip() == "Click the link"
    [row] = session.exec(select(OutboxMail)).all()
    assert (row.backend, row.status) == ("smtp", "sent")


def test_smtp_failure_is_recorded_and_raised(app, session: Session, smtp) -> None:  # noqa: ANN001
    app.config["LEADHUB"]["SMTP_URL"] = "smtp://mail.example"
    smtp.fail = True
    with app.app_context(), pytest.raises(RuntimeError, match="failed"):
        mailer.send("ghost@firma.pl", "Confirm", "text")
    [row] = session.exec(select(OutboxMail)).all()
    assert row.status == "failed" and "no such user" in row.error

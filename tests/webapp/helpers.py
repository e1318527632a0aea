"""Test data through the production write path (core.ingest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from core.ingest import IngestOptions, ingest
from core.schemas import InboundRecord

_counter = iter(range(1, 10**9))


def add_message(
    session: Session, *, channel: str = "form", name: str = "Jan Kowalski", email: str | None = None,
    subject: str = "Hello", text: str = "Please call me", html: str | None = None, minutes_ago: int = 0,
    account_id: int | None = None, thread: str | None = None, **contact: Any,
) -> Any:
    n = next(_counter)
    body: dict[str, Any] = {
        "channel": channel,
        "contact": {"name": name, **({"email": email} if email else {}), **contact},
        "message": {"external_id": f"m-{n}", "thread_id": thread or f"t-{n}", "direction": "in",
                    "sent_at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
                    "subject": subject, "text": text, "html": html, "sender": email or name},
        "account_id": account_id,
    }
    result = ingest(session, InboundRecord.model_validate(body), options=IngestOptions(actor="test"))
    session.commit()
    return result

"""A Gmail emulator on 127.0.0.1 and connector accounts whose credentials it issued."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from connectors.gmail import GmailConnector
from connectors.gmail.emulator import Emulator, ServerThread, create_app
from connectors.sync import SyncReport, run_sync
from core.models import ConnectorAccount

NOW = 1_760_000_000 + 3_000 * 37  # the generated mail's clock


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GmailConnector, "sleep", staticmethod(lambda seconds: None))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    with ServerThread(create_app(emu)) as server:
        emu.url = server.url  # type: ignore[attr-defined]
        yield emu


@pytest.fixture
def gmail_settings(app, emulator: Emulator) -> dict[str, Any]:  # noqa: ANN001
    settings = dict(app.config["LEADHUB"])
    settings.update(
        GMAIL_API_URL=emulator.url,
        GOOGLE_TOKEN_URL=emulator.url + "token",
        GOOGLE_CLIENT_ID="test-client",
        GOOGLE_CLIENT_SECRET="test-secret",
        COMPANY_DOMAINS="acme.example",
    )
    return settings


@pytest.fixture
def make_account(app, engine: sa.Engine, emulator: Emulator) -> Callable[..., int]:  # noqa: ANN001
    def make(mailbox: str = "rep@acme.example", **config: Any) -> int:
        tokens = emulator.issue_tokens(mailbox)
        box = app.extensions["leadhub.secretbox"]
        with Session(engine) as session:
            account = ConnectorAccount(
                type="gmail", label=mailbox, credentials_encrypted=box.encrypt(tokens),
                config={"backfill_days": 3650, "now_epoch": NOW, **config},
            )
            session.add(account)
            session.commit()
            return account.id

    return make


@pytest.fixture
def sync(app, engine: sa.Engine, gmail_settings: dict[str, Any]) -> Callable[[int], SyncReport]:  # noqa: ANN001
    def run(account_id: int) -> SyncReport:
        return run_sync(engine, account_id, settings=gmail_settings, box=app.extensions["leadhub.secretbox"])

    return run

"""The proof harness: the same crash, fault and concurrency checks for any polling connector.

A `Target` names a connector type and knows how to start its emulator (returning the settings that point the
connector at it and the full list of external ids the emulator holds) and how to create accounts for it.
Targets: the synthetic connector, Gmail (`gmail_target`) and Intercom (`intercom_target`), each with its
own emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import ConnectorAccount, Message, utcnow


@dataclass
class EmulatorHandle:
    settings: dict[str, Any]  # LEADHUB_* keys (without prefix) that point the connector at the emulator
    mailboxes: list[str]  # one account per mailbox
    expected_ids: set[str]  # every message external id the emulator holds
    progress: Callable[[], int]  # pages served so far (to kill a worker at a chosen point)
    injected: Callable[[], dict[str, int]] = dict  # faults served so far, by kind


@dataclass
class Target:
    connector_type: str
    channel: str
    start_emulator: Callable[..., AbstractContextManager[EmulatorHandle]]
    account_config: Callable[[str], dict[str, Any]]
    worker_imports: tuple[str, ...] = ()  # modules a worker process imports to register the connector
    credentials: Callable[[str], dict[str, Any]] | None = None  # per mailbox, stored encrypted (test key)


def synthetic_target() -> Target:
    from tests.scale import synthetic

    @contextmanager
    def start(mailboxes: int = 1, per_mailbox: int = 200, faults: synthetic.Faults | None = None, **_: Any
              ) -> Iterator[EmulatorHandle]:
        state = synthetic.EmulatorState(synthetic.generate_mailboxes(mailboxes, per_mailbox), faults or synthetic.Faults())
        with synthetic.RunningEmulator(state) as emulator:
            yield EmulatorHandle(
                settings={"SYNTHETIC_API_URL": emulator.url},
                mailboxes=sorted(state.mailboxes),
                expected_ids=state.all_ids(),
                progress=lambda: state.served_pages,
                injected=lambda: dict(state.injected),
            )

    return Target(
        connector_type=synthetic.CHANNEL,
        channel=synthetic.CHANNEL,
        start_emulator=start,
        account_config=lambda mailbox: {"mailbox": mailbox, "page_size": 10},
        worker_imports=("tests.scale.synthetic",),
    )


GMAIL_BATCH = 50  # messages per batch request (connectors.gmail)


def gmail_target() -> Target:
    """Gmail through its emulator, every message an inquiry (no bulk mail), small list pages so a sync makes
    many checkpoints: the store must end with exactly the emulator's Message-IDs."""
    from connectors.gmail.emulator import Emulator, ServerThread, create_app

    emulator = Emulator()
    now = 1_760_000_000 + 1_000_000 * 37  # past the generated mail's clock (seeds below 1,000,000)

    @contextmanager
    def start(mailboxes: int = 1, per_mailbox: int = 200, **_: Any) -> Iterator[EmulatorHandle]:
        expected: set[str] = set()
        names = [f"rep{n}@acme.example" for n in range(mailboxes)]
        for index, address in enumerate(names):
            box = emulator.mailbox(address)
            seed = 1 + index * per_mailbox * 2  # each mailbox its own messages (its own Message-IDs)
            while len(box.entries) < per_mailbox:
                if seed % 20:  # every 20th generated message is bulk mail; leave it out
                    box.add(seed, internal_date=1_760_000_000_000 + seed * 37_000)
                    expected.add(box.message_id(box.entries[-1]))
                seed += 1
        with ServerThread(create_app(emulator)) as server:
            yield EmulatorHandle(
                settings={"GMAIL_API_URL": server.url, "GOOGLE_TOKEN_URL": server.url + "token",
                          "GOOGLE_CLIENT_ID": "crash-client", "GOOGLE_CLIENT_SECRET": "crash-secret",
                          "ENCRYPTION_KEY": _test_key()},
                mailboxes=names,
                expected_ids=expected,
                progress=lambda: emulator.calls.count("messages.get") // GMAIL_BATCH,
            )

    return Target(
        connector_type="gmail",
        channel="gmail",
        start_emulator=start,
        account_config=lambda mailbox: {"backfill_days": 3650, "now_epoch": now, "list_page_size": 100},
        credentials=lambda mailbox: emulator.issue_tokens(mailbox, lifetime=86_400),
    )


def intercom_target() -> Target:
    """Intercom through its emulator: contacts, then conversations each fetched with its parts, 10 per page."""
    from connectors.base import Quarantine
    from connectors.gmail.emulator import ServerThread
    from connectors.intercom.emulator import IntercomEmulator, seed
    from connectors.intercom.mapping import conversation_records

    emulator = IntercomEmulator(client_id="crash-client", client_secret="crash-secret")

    @contextmanager
    def start(mailboxes: int = 1, per_mailbox: int = 200, **_: Any) -> Iterator[EmulatorHandle]:
        seed(emulator, per_mailbox, parts_per_conversation=4)
        expected = {
            record.message.external_id
            for conversation_id in emulator.conversations
            for record in conversation_records(emulator.conversation_view(conversation_id), emulator.workspace_id)
            if not isinstance(record, Quarantine) and record.message is not None
        }
        with ServerThread(emulator.create_app()) as server:
            yield EmulatorHandle(
                settings={"INTERCOM_API_URL": server.url.rstrip("/"), "ENCRYPTION_KEY": _test_key()},
                mailboxes=[emulator.workspace_id],
                expected_ids=expected,
                progress=lambda: sum(1 for method, path in list(emulator.request_log)
                                     if method == "GET" and path.startswith("/conversations/")) // 10,
            )

    return Target(
        connector_type="intercom",
        channel="intercom",
        start_emulator=start,
        account_config=lambda workspace: {"workspace_id": workspace, "admin_id": emulator.admin["id"],
                                          "page_size": 10},
        credentials=lambda workspace: {"access_token": emulator.issue_token()},
    )


def _test_key() -> str:
    from tests.conftest import TEST_ENCRYPTION_KEY

    return TEST_ENCRYPTION_KEY


def create_accounts(session: Session, target: Target, mailboxes: list[str]) -> list[int]:
    from core.crypto import SecretBox
    from tests.conftest import TEST_ENCRYPTION_KEY

    box = SecretBox(TEST_ENCRYPTION_KEY)
    accounts = [
        ConnectorAccount(type=target.connector_type, label=mailbox, config=target.account_config(mailbox),
                         credentials_encrypted=box.encrypt(target.credentials(mailbox)) if target.credentials else "")
        for mailbox in mailboxes
    ]
    session.add_all(accounts)
    session.commit()
    return [int(account.id) for account in accounts]


def stored_message_ids(engine: sa.Engine, channel: str) -> list[str]:
    """Every stored external id of the channel, duplicates included (the list, not a set, shows them)."""
    with Session(engine) as session:
        return list(session.exec(select(Message.external_id).where(Message.channel == channel)).all())


def release_dead_lease(engine: sa.Engine, account_id: int) -> None:
    """What the lease timeout does after a worker died holding it (without waiting LEASE_SECONDS)."""
    with Session(engine) as session:
        session.exec(
            sa.update(ConnectorAccount)
            .where(col(ConnectorAccount.id) == account_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()


def lease_overlaps(engine: sa.Engine) -> list[tuple[int, int, int]]:
    """(account, run, run) for every two runs of one account whose lease-holding intervals intersect.
    A run's interval starts after it took the lease and ends before it released it, so any overlap is real."""
    from core.models import SyncRun

    with Session(engine) as session:
        runs = session.exec(
            select(SyncRun).where(col(SyncRun.started_at).is_not(None), col(SyncRun.finished_at).is_not(None))
            .order_by(SyncRun.account_id, SyncRun.started_at)
        ).all()
    overlaps = []
    last: dict[int, Any] = {}
    for run in runs:
        previous = last.get(run.account_id)
        if previous is not None and run.started_at < previous.finished_at:
            overlaps.append((run.account_id, previous.id, run.id))
        if previous is None or run.finished_at > previous.finished_at:
            last[run.account_id] = run
    return overlaps


def make_worker_app(database_url: str, queue_url: str, queue_name: str, instance_path: str, **settings: Any):  # noqa: ANN201
    """An app as a worker process builds it: a real queue (not immediate mode) on the test's database."""
    from tests.conftest import TEST_ENCRYPTION_KEY
    from webapp import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "QUEUE_URL": queue_url,
            "QUEUE_NAME": queue_name,
            "SECRET_KEY": "test-secret-key",
            "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "DEMO": "off",
            **settings,
        }
    )
    app.instance_path = instance_path
    return app


def dispose_engines(app) -> None:  # noqa: ANN001
    app.extensions["leadhub.engine"].dispose()
    app.extensions["leadhub.writer_engine"].dispose()

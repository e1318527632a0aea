"""Back-fill and incremental sync against the emulator over real HTTP (requests), spec-validated both ways."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.base import Checkpoint
from connectors.intercom.connector import (
    FAILING_RUNS,
    QUARANTINE_RETRIES,
    QUARANTINE_RETRY_AFTER,
    IntercomConnector,
)
from connectors.intercom.emulator import MAX_PARTS, seed
from connectors.sync import run_sync
from core.ingest import IngestOptions, ingest
from core.models import ConnectorAccount, Contact, Conversation, Identity, Message, QuarantinedItem
from core.schemas import ContactIn, InboundRecord, MessageIn


def sync(app, account_id: int):  # noqa: ANN001, ANN201
    return run_sync(
        app.extensions["leadhub.engine"],
        account_id,
        settings=app.config["LEADHUB"],
        box=app.extensions["leadhub.secretbox"],
    )


def fresh_view(session: Session) -> None:
    """End the read transaction (SQLite readers see their transaction's start) and forget loaded rows."""
    session.rollback()
    session.expire_all()


def intercom_messages(session: Session) -> list[Message]:
    fresh_view(session)
    return list(session.exec(select(Message).where(Message.channel == "intercom")).all())


def live_contacts(session: Session) -> list[Contact]:
    return list(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all())  # type: ignore[union-attr]


@pytest.fixture
def fake_time(emulator, monkeypatch: pytest.MonkeyPatch) -> list[float]:  # noqa: ANN001
    """One clock for the emulator's rate windows and the connector's pacing; sleeping advances it."""
    now = [1_800_000_000.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    emulator.clock = lambda: now[0]
    monkeypatch.setattr(IntercomConnector, "clock", staticmethod(lambda: now[0]))
    monkeypatch.setattr(IntercomConnector, "sleep", staticmethod(fake_sleep))
    return sleeps


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IntercomConnector, "contacts_per_page", 3)
    monkeypatch.setattr(IntercomConnector, "conversations_per_page", 2)


def test_backfill_then_incremental(app, session, emulator, intercom_account, small_pages) -> None:  # noqa: ANN001
    seed(emulator, 7, 3)
    report = sync(app, intercom_account.id)
    assert report.error == ""
    messages = intercom_messages(session)
    assert len(messages) == 7 * (1 + 3)
    assert len(live_contacts(session)) == 7  # the contact list and the chats met on the Intercom id
    by_id = {m.external_id: m for m in messages}
    first = next(iter(emulator.conversations))
    source, first_part = by_id[f"{first}:source"], by_id[f"{first}:{emulator.parts[first][0]['id']}"]
    assert (source.direction, first_part.direction) == ("in", "out")
    assert source.text == "Hello, question 0"
    assert emulator.spec_errors == [] and emulator.spec_checked > 10
    fresh_view(session)
    state = session.get(ConnectorAccount, intercom_account.id).sync_state
    assert state["since"] and state["after"] is None

    # Incremental: one new reply in an old conversation, one new contact with a new conversation.
    emulator.request_log.clear()
    emulator.add_part(first, "<p>Any news?</p>", author_type="user")
    newcomer = emulator.add_contact(name="Nowy Klient", email="nowy@example.pl", role="lead")
    emulator.add_conversation(newcomer["id"], "<p>Dzień dobry</p>")
    report = sync(app, intercom_account.id)
    assert report.error == "", report
    assert len(intercom_messages(session)) == 7 * 4 + 2, report
    paths = [path for _, path in emulator.request_log]
    assert any(p.startswith("/conversations/search") for p in paths)
    assert any(p.startswith("/contacts/search") for p in paths)
    assert not any(p.startswith("/conversations?") for p in paths)  # no second back-fill
    # Only the changed conversations are fetched again, not all seven.
    assert sum(p.startswith("/conversations/1") for p in paths) == 2
    assert emulator.spec_errors == []

    # A third run finds nothing new: the overlap re-reads are absorbed by idempotent ingest.
    assert sync(app, intercom_account.id).created == 0
    assert len(intercom_messages(session)) == 7 * 4 + 2


@pytest.mark.parametrize("skew", [3600, -3600])
def test_a_local_clock_off_from_intercoms_loses_no_change(app, session, emulator, intercom_account,  # noqa: ANN001
                                                          monkeypatch, skew) -> None:
    """Intercom's updated_at is its own clock; the next run's `since` was leadhub's clock at the run's start. A
    clock an hour fast (a VM resumed, NTP not running) set `since` an hour into Intercom's future: a reply
    written meanwhile was older than it and never read (five minutes of overlap cannot absorb an hour). The run
    now starts at Intercom's time (the Date of its first answer); a slow clock reads more, never less."""
    now = [1_800_000_000.0]
    emulator.clock = lambda: now[0]
    monkeypatch.setattr(IntercomConnector, "clock", staticmethod(lambda: now[0] + skew))
    contact = emulator.add_contact(name="Zegar", email="zegar@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Dzień dobry</p>")
    assert sync(app, intercom_account.id).error == ""
    now[0] += 600  # ten minutes later, by Intercom's clock, the customer writes again
    emulator.add_part(chat["id"], "<p>Czy są nowości?</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    assert "Czy są nowości?" in [m.text for m in intercom_messages(session)]
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["since"] == 1_800_000_600


def test_truncated_conversation_is_recorded(app, session, emulator, intercom_account) -> None:  # noqa: ANN001
    contact = emulator.add_contact(name="Chatty", email="chatty@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>start</p>", created_at=1_700_000_000)
    for index in range(MAX_PARTS + 20):
        emulator.add_part(conversation["id"], f"part {index}", author_type="user" if index % 2 else "admin",
                          created_at=1_700_000_001 + index)
    sync(app, intercom_account.id)
    messages = intercom_messages(session)
    assert len(messages) == 1 + MAX_PARTS
    assert all(m.meta["conversation_truncated"] and m.meta["parts_total"] == MAX_PARTS + 20 for m in messages)
    # The newest parts are the ones kept: "part 0" … "part 19" were cut off by the API.
    texts = {m.text for m in messages}
    assert "part 19" not in texts and "part 20" in texts and f"part {MAX_PARTS + 19}" in texts


def test_the_parts_intercom_cannot_serve_are_listed_for_the_admin(app, session, emulator,  # noqa: ANN001
                                                                    intercom_account) -> None:
    """Intercom serves the 500 newest parts of a conversation and no way to read the rest (API 2.16: no paging
    of parts). Back-filled, a longer chat's older parts were missing with only a flag in each message's meta,
    which no page shows. The conversation is now quarantined as `conversation:<id>:older-parts`, saying how many
    parts Intercom holds back, once however often it is read again."""
    contact = emulator.add_contact(name="Chatty", email="chatty@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>start</p>", created_at=1_700_000_000)
    for index in range(MAX_PARTS + 20):
        emulator.add_part(conversation["id"], f"part {index}", author_type="user", created_at=1_700_000_001 + index)
    short = emulator.add_conversation(contact["id"], "<p>short</p>")
    emulator.add_part(short["id"], "<p>one part</p>", author_type="admin")
    for _ in range(2):
        report = sync(app, intercom_account.id)
        assert report.error == ""
        emulator.add_part(conversation["id"], "<p>and more</p>", author_type="user")  # read again next run
    fresh_view(session)
    rows = session.exec(select(QuarantinedItem).where(QuarantinedItem.channel == "intercom")).all()
    assert [row.external_id for row in rows] == [f"conversation:{conversation['id']}:older-parts"]
    assert "500 newest of its 520 parts" in rows[0].reason and "20 older" in rows[0].reason
    assert rows[0].account_id == intercom_account.id


def test_a_part_redacted_after_it_was_stored_is_blanked_by_the_next_sync(app, session, emulator,  # noqa: ANN001
                                                                         intercom_account, fake_time) -> None:
    """A customer pastes a card number; a teammate redacts the part in Intercom after leadhub stored it. Before,
    the stored message kept the number for good (ingest never touches a stored message). The sync that reads
    the changed conversation now blanks the stored copy (text, HTML, files) and marks it redacted; the API,
    which anyone with a token calls, cannot blank a message that way."""
    from webapp.tasks import ingest_options

    contact = emulator.add_contact(name="Karta", email="karta@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Chcę kupić</p>")
    secret = emulator.add_part(chat["id"], "<p>Moja karta 4111 1111 1111 1111</p>", author_type="user")
    with app.app_context():
        options = ingest_options()
    engine, box = app.extensions["leadhub.engine"], app.extensions["leadhub.secretbox"]
    assert run_sync(engine, intercom_account.id, settings=app.config["LEADHUB"], box=box, options=options).error == ""
    emulator.clock = lambda: 1_800_000_900.0  # (IntercomConnector's clock stays: Intercom's decides)
    emulator.redact_part(chat["id"], secret["id"])
    assert run_sync(engine, intercom_account.id, settings=app.config["LEADHUB"], box=box, options=options).error == ""
    stored = {m.external_id: m for m in intercom_messages(session)}
    redacted = stored[f"{chat['id']}:{secret['id']}"]
    assert (redacted.text, redacted.html, redacted.meta.get("redacted")) == ("", "", True)
    assert stored[f"{chat['id']}:source"].text == "Chcę kupić"
    # Through the API, the same record stores nothing over the message.
    api = InboundRecord(channel="intercom", external_id="x", contact=ContactIn(email="karta@example.org"),
                        message=MessageIn(external_id=f"{chat['id']}:source", text="", meta={"redacted": True}))
    ingest(session, api)
    session.commit()
    fresh_view(session)
    source = session.exec(select(Message).where(Message.external_id == f"{chat['id']}:source")).one()
    assert source.text == "Chcę kupić"
    ingest(session, api, options=IngestOptions(provider_redactions=True))  # one by one, as a provider's record
    session.commit()
    fresh_view(session)
    source = session.exec(select(Message).where(Message.external_id == f"{chat['id']}:source")).one()
    assert (source.text, source.meta) == ("", {"redacted": True})


def test_an_opening_message_redacted_after_it_was_stored_takes_its_subject_along(app, session, emulator,  # noqa: ANN001
                                                                                intercom_account, fake_time) -> None:
    """An e-mail conversation's subject is its opening message's, stored on the conversation and on every message
    of it. Redacting that message blanked its body, but its subject ("Karta 4111 …") stayed on the conversation
    and on the replies. The next sync now replaces it wherever it was copied."""
    from webapp.tasks import ingest_options

    contact = emulator.add_contact(name="Temat", email="temat@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Proszę o fakturę</p>", subject="Karta 4111 1111 1111 1111")
    emulator.add_part(chat["id"], "<p>Oczywiście</p>", author_type="admin")
    with app.app_context():
        options = ingest_options()
    engine, box = app.extensions["leadhub.engine"], app.extensions["leadhub.secretbox"]
    assert run_sync(engine, intercom_account.id, settings=app.config["LEADHUB"], box=box, options=options).error == ""
    assert all("4111" in m.subject for m in intercom_messages(session))
    emulator.clock = lambda: 1_800_000_900.0
    emulator.redact_source(chat["id"])
    assert run_sync(engine, intercom_account.id, settings=app.config["LEADHUB"], box=box, options=options).error == ""
    stored = intercom_messages(session)
    assert len(stored) == 2 and not any("4111" in m.subject for m in stored)
    assert [m.text for m in stored if m.external_id.endswith(":source")] == [""]
    conversation = session.exec(select(Conversation).where(Conversation.external_id == chat["id"])).one()
    assert "4111" not in conversation.subject


def test_notes_html_and_identities(app, session, emulator, intercom_account) -> None:  # noqa: ANN001
    contact = emulator.add_contact(name="Łukasz Nowak", email="Lukasz@Example.PL", phone="+48 601 234 567",
                                   external_id="crm-77")
    conversation = emulator.add_conversation(contact["id"], "<p>Hi &amp; hello<br>line two</p>")
    emulator.add_part(conversation["id"], '<p>Internal <b>only</b><script>alert(1)</script></p>', part_type="note")
    emulator.add_part(conversation["id"], None, part_type="assignment")  # an event without a body
    sync(app, intercom_account.id)
    messages = {m.external_id.split(":")[1]: m for m in intercom_messages(session)}
    assert set(messages) == {"source", emulator.parts[conversation["id"]][0]["id"]}
    note = messages[emulator.parts[conversation["id"]][0]["id"]]
    assert (note.kind, note.direction) == ("note", "out")
    assert "script" not in note.html and note.text == "Internal only"
    assert messages["source"].text == "Hi & hello\nline two"
    identities = {(i.kind, i.value) for i in session.exec(select(Identity)).all()}
    assert ("intercom", contact["id"]) in identities
    assert ("intercom", f"external:{emulator.workspace_id}:crm-77") in identities
    assert ("email", "lukasz@example.pl") in identities
    assert ("phone", "+48601234567") in identities
    assert len(live_contacts(session)) == 1


def test_rate_limit_headers_slow_the_sync_down(app, session, emulator, intercom_account, small_pages,
                                               fake_time) -> None:  # noqa: ANN001
    emulator.rate_limit, emulator.rate_window = 8, 10
    seed(emulator, 6, 1)
    report = sync(app, intercom_account.id)
    assert report.error == ""
    assert len(intercom_messages(session)) == 6 * 2
    assert emulator.rejected == 0  # paced before the limit: never refused
    assert fake_time and all(0 < s <= 10 for s in fake_time)


def test_429_and_500_are_retried(app, session, emulator, intercom_account, fake_time) -> None:  # noqa: ANN001
    seed(emulator, 3, 2)
    emulator.fail_next(429, 500, 503)
    report = sync(app, intercom_account.id)
    assert report.error == ""
    assert len(intercom_messages(session)) == 3 * 3
    assert emulator.faults == []
    assert fake_time and fake_time[0] > 0  # the 429 waited for the window's reset the headers announced


def test_a_conversation_intercom_never_serves_is_skipped_after_a_few_runs(app, session, emulator,  # noqa: ANN001
                                                                         intercom_account, fake_time,
                                                                         monkeypatch) -> None:
    """One conversation answering 500 every time (after the client's retries) stopped the account's sync at
    the same page on every run, for good: nothing newer ever arrived."""
    monkeypatch.setattr(IntercomConnector, "tries", 2)  # (each retry waits for real)
    seed(emulator, 4, 1)
    broken = sorted(emulator.conversations)[1]
    emulator.broken.add(broken)
    for run in range(1, FAILING_RUNS + 1):
        report = sync(app, intercom_account.id)
        fresh_view(session)
        state = session.get(ConnectorAccount, intercom_account.id).sync_state
        if run < FAILING_RUNS:
            assert report.error and state["failing"] == {broken: run}, (run, report.error, state)
    assert report.error == "", report.error
    assert state["failing"] == {}
    stored = {m.external_id.split(":")[0] for m in intercom_messages(session)}
    assert stored == set(emulator.conversations) - {broken}
    quarantined = session.exec(select(QuarantinedItem).where(QuarantinedItem.account_id == intercom_account.id)).all()
    assert [q.external_id for q in quarantined] == [f"conversation:{broken}"]
    # Served again, it arrives with its next change.
    emulator.broken.clear()
    emulator.add_part(broken, "<p>Jeszcze jedno pytanie</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    assert broken in {m.external_id.split(":")[0] for m in intercom_messages(session)}
    assert quarantine_rows(session, intercom_account) == []  # stored, so no longer quarantined


def quarantine_one(app, session, emulator, account) -> str:  # noqa: ANN001
    """Four conversations, one of which answers 500 until FAILING_RUNS runs quarantine it; returns its id."""
    seed(emulator, 4, 1)
    broken = sorted(emulator.conversations)[1]
    emulator.broken.add(broken)
    for _ in range(FAILING_RUNS):
        report = sync(app, account.id)
    assert report.error == "" and report.quarantined == 1
    assert broken not in {m.external_id.split(":")[0] for m in intercom_messages(session)}
    return broken


def quarantine_rows(session, account) -> list[str]:  # noqa: ANN001
    session.expire_all()
    return [q.external_id for q in session.exec(select(QuarantinedItem).where(QuarantinedItem.account_id == account.id))]


def fetches_of(emulator, conversation_id: str) -> int:  # noqa: ANN001
    return sum(path.split("?")[0] == f"/conversations/{conversation_id}" for _, path in emulator.request_log)


def test_a_quarantined_conversation_is_fetched_again_later_and_arrives_once(app, session, emulator,  # noqa: ANN001
                                                                             intercom_account, fake_time,
                                                                             monkeypatch) -> None:
    """Intercom's server errors pass, but a conversation quarantined after three failing runs was read again only
    when someone wrote in it again: a lead's chat that had ended was never stored."""
    monkeypatch.setattr(IntercomConnector, "tries", 2)
    broken = quarantine_one(app, session, emulator, intercom_account)
    assert quarantine_rows(session, intercom_account) == [f"conversation:{broken}"]
    emulator.broken.clear()
    emulator.request_log.clear()
    assert sync(app, intercom_account.id).error == ""  # not yet due: not asked for
    assert fetches_of(emulator, broken) == 0
    assert quarantine_rows(session, intercom_account) == [f"conversation:{broken}"]
    IntercomConnector.sleep(QUARANTINE_RETRY_AFTER)  # (the shared fake clock)
    report = sync(app, intercom_account.id)
    assert report.error == "" and fetches_of(emulator, broken) == 1
    assert sorted(m.external_id for m in intercom_messages(session) if m.external_id.startswith(f"{broken}:")) == \
        sorted([f"{broken}:source", f"{broken}:{emulator.parts[broken][0]['id']}"])
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["retry"] == {}
    assert quarantine_rows(session, intercom_account) == []  # the quarantine list (sync health) lets it go
    # Stored once: later runs neither fetch it again nor store it twice.
    IntercomConnector.sleep(QUARANTINE_RETRY_AFTER * 4)
    emulator.request_log.clear()
    assert sync(app, intercom_account.id).created == 0
    assert fetches_of(emulator, broken) == 0


def test_a_retried_conversation_over_500_parts_lists_its_older_parts_for_the_admin(app, session, emulator,  # noqa: ANN001
                                                                                    intercom_account, fake_time,
                                                                                    monkeypatch) -> None:
    """A conversation quarantined for Intercom's server errors, read at last by the retry: when it holds more parts
    than Intercom serves, the first pass lists `conversation:<id>:older-parts` for the admin. The retry path
    stored the 500 newest parts and said nothing of the others; it now lists them as the first pass does."""
    monkeypatch.setattr(IntercomConnector, "tries", 2)
    broken = quarantine_one(app, session, emulator, intercom_account)
    for index in range(MAX_PARTS + 5):
        # (dated before its last change: only the retry reads it again, not the run's search)
        emulator.add_part(broken, f"part {index}", author_type="user", created_at=1_700_000_000 + index)
    emulator.broken.clear()
    emulator.request_log.clear()
    IntercomConnector.sleep(QUARANTINE_RETRY_AFTER)
    assert sync(app, intercom_account.id).error == ""
    assert fetches_of(emulator, broken) == 1
    fresh_view(session)
    assert quarantine_rows(session, intercom_account) == [f"conversation:{broken}:older-parts"]


def stored_cursor(session: Session, account: ConnectorAccount, **changes: Any) -> dict[str, Any]:
    """The account's cursor with `changes` (None: the key removed), as an earlier version may have left it."""
    fresh_view(session)
    row = session.get(ConnectorAccount, account.id)
    state = {**row.sync_state, **changes}
    row.sync_state = {k: v for k, v in state.items() if v is not None}
    session.add(row)
    session.commit()
    return row.sync_state


@pytest.mark.parametrize(("retries_failed", "served"), [(0, True), (1, True), (QUARANTINE_RETRIES - 1, False)])
def test_a_stored_quarantined_list_is_read_and_kept_to_its_schedule(app, session, emulator,  # noqa: ANN001, PLR0913
                                                                  intercom_account, fake_time, monkeypatch,
                                                                  retries_failed, served) -> None:
    """Accounts hold cursors written before the connectors shared one retry schedule: "quarantined":
    {conversation id: {"at": epoch of the last failure, "tries": retries failed}}. Their conversations are still
    tried at the time that shape gave (QUARANTINE_RETRY_AFTER doubling per failed retry), and the list is kept
    under "retry" from then on: one served is stored, one that fails its last retry is let go."""
    monkeypatch.setattr(IntercomConnector, "tries", 1)
    broken = quarantine_one(app, session, emulator, intercom_account)
    failed_at = int(IntercomConnector.clock())
    stored_cursor(session, intercom_account, retry=None,
                  quarantined={broken: {"at": failed_at, "tries": retries_failed}, "gone": "garbage"})
    if served:
        emulator.broken.clear()
    due_at = failed_at + QUARANTINE_RETRY_AFTER * 2 ** retries_failed
    IntercomConnector.sleep(due_at - 1 - IntercomConnector.clock())
    emulator.request_log.clear()
    assert sync(app, intercom_account.id).error == ""
    assert fetches_of(emulator, broken) == 0  # not due yet
    fresh_view(session)
    state = session.get(ConnectorAccount, intercom_account.id).sync_state
    assert "quarantined" not in state
    assert state["retry"] == {broken: {"tries": retries_failed + 1, "next": due_at}}
    IntercomConnector.sleep(1)
    assert sync(app, intercom_account.id).error == ""
    assert fetches_of(emulator, broken) == 1
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["retry"] == {}
    stored = broken in {m.external_id.split(":")[0] for m in intercom_messages(session)}
    assert stored is served
    assert quarantine_rows(session, intercom_account) == ([] if served else [f"conversation:{broken}"])


def test_a_hand_edited_retry_entry_is_dropped_not_a_failing_sync(app, session, emulator,  # noqa: ANN001
                                                                 intercom_account, fake_time, monkeypatch) -> None:
    monkeypatch.setattr(IntercomConnector, "tries", 1)
    broken = quarantine_one(app, session, emulator, intercom_account)
    good = stored_cursor(session, intercom_account)["retry"][broken]
    stored_cursor(session, intercom_account, quarantined={"a": {"at": "noon", "tries": 0}, "b": None},
                  retry={broken: good, "c": {"tries": 1}, "d": "soon", "e": {"tries": 10**9, "next": 1}})
    emulator.broken.clear()
    IntercomConnector.sleep(QUARANTINE_RETRY_AFTER)
    assert sync(app, intercom_account.id).error == ""
    fresh_view(session)
    state = session.get(ConnectorAccount, intercom_account.id).sync_state
    assert state["retry"] == {} and "quarantined" not in state
    assert quarantine_rows(session, intercom_account) == []  # the good entry was tried, and served


def test_a_conversation_that_stays_broken_is_tried_a_bounded_number_of_times(app, session, emulator,  # noqa: ANN001
                                                                            intercom_account, fake_time,
                                                                            monkeypatch) -> None:
    monkeypatch.setattr(IntercomConnector, "tries", 1)
    broken = quarantine_one(app, session, emulator, intercom_account)
    # A quarantined conversation that changes and still fails goes straight back on the list: runs go on.
    emulator.add_part(broken, "<p>Halo?</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    fresh_view(session)
    assert list(session.get(ConnectorAccount, intercom_account.id).sync_state["retry"]) == [broken]
    emulator.request_log.clear()
    for _ in range(QUARANTINE_RETRIES + 3):
        IntercomConnector.sleep(QUARANTINE_RETRY_AFTER * 2 ** QUARANTINE_RETRIES)
        assert sync(app, intercom_account.id).error == ""  # a retry that fails never stops a run
    # The retries, and the first run's overlap reading the change again (failing, it stays on the list as it was).
    assert fetches_of(emulator, broken) == QUARANTINE_RETRIES + 1
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["retry"] == {}
    # Given up on, it is still read again when it next changes.
    emulator.broken.clear()
    emulator.add_part(broken, "<p>Jest tam ktoś?</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    assert {"Halo?", "Jest tam ktoś?"} <= {m.text for m in intercom_messages(session)}


def test_a_server_error_once_is_not_held_against_the_conversation(app, session, emulator,  # noqa: ANN001
                                                                  intercom_account, fake_time, monkeypatch) -> None:
    monkeypatch.setattr(IntercomConnector, "tries", 2)
    seed(emulator, 3, 0)
    first = sorted(emulator.conversations)[0]
    emulator.broken.add(first)
    assert sync(app, intercom_account.id).error
    emulator.broken.clear()
    assert sync(app, intercom_account.id).error == ""
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["failing"] == {}
    assert {m.external_id.split(":")[0] for m in intercom_messages(session)} == set(emulator.conversations)


def test_repeated_cursor_stops_the_sync(app, session, emulator, intercom_account, small_pages) -> None:  # noqa: ANN001
    seed(emulator, 8, 0)
    emulator.stuck_cursor = True
    report = sync(app, intercom_account.id)
    assert "repeated page token" in report.error
    fresh_view(session)
    with Session(app.extensions["leadhub.engine"]) as fresh:
        row = fresh.get(ConnectorAccount, intercom_account.id)
    assert row.status == "error", (row.status, row.last_error, row.sync_state)
    assert len(emulator.request_log) < 10  # stopped, not looping


def test_kill_and_resume_loses_and_duplicates_nothing(app, session, emulator, intercom_account, small_pages,
                                                     monkeypatch) -> None:  # noqa: ANN001
    seed(emulator, 9, 2)
    original_read = IntercomConnector.read

    def dying_read(self, state: dict[str, Any]):  # noqa: ANN001, ANN202
        checkpoints = 0
        for item in original_read(self, state):
            yield item
            if isinstance(item, Checkpoint) and item.state.get("phase") == "conversations":
                checkpoints += 1
                if checkpoints == 2:
                    raise RuntimeError("killed")  # like kill -9: nothing after the last commit survives

    monkeypatch.setattr(IntercomConnector, "read", dying_read)
    with pytest.raises(RuntimeError, match="killed"):
        sync(app, intercom_account.id)
    partial = len(intercom_messages(session))
    assert 0 < partial < 9 * 3
    fresh_view(session)
    state = session.get(ConnectorAccount, intercom_account.id).sync_state
    assert state["phase"] == "conversations" and state["after"]

    monkeypatch.setattr(IntercomConnector, "read", original_read)
    emulator.request_log.clear()
    assert sync(app, intercom_account.id).error == ""
    messages = intercom_messages(session)
    expected = {f"{cid}:source" for cid in emulator.conversations} | {
        f"{cid}:{part['id']}" for cid, parts in emulator.parts.items() for part in parts
    }
    assert sorted(m.external_id for m in messages) == sorted(expected)
    # The rerun resumed from the stored cursor instead of starting over.
    first_list = next(path for _, path in emulator.request_log if path.startswith(("/conversations?", "/contacts?")))
    assert first_list.startswith("/conversations?") and "starting_after=" in first_list


@pytest.mark.parametrize("backfilled", [False, True])
def test_a_cursor_intercom_no_longer_takes_restarts_the_phase_instead_of_failing_every_run(  # noqa: ANN001
        app, session, emulator, intercom_account, small_pages, monkeypatch, backfilled) -> None:
    """A run stopped mid-way keeps its starting_after to resume from; Intercom refuses a cursor it no longer knows
    with 400 "Invalid starting_after param". The next run failed on it, and every run after: the account's sync
    stood still for good. Now the phase starts over; everything arrives once."""
    seed(emulator, 9, 2)
    if backfilled:  # the cursor of an incremental run's search, not of the back-fill's list
        assert sync(app, intercom_account.id).error == ""
        for conversation_id in list(emulator.conversations):
            emulator.add_part(conversation_id, "<p>Jeszcze pytanie</p>", author_type="user")
    original_read = IntercomConnector.read

    def dying_read(self, state: dict[str, Any]):  # noqa: ANN001, ANN202
        checkpoints = 0
        for item in original_read(self, state):
            yield item
            if isinstance(item, Checkpoint) and item.state.get("phase") == "conversations" and item.state["after"]:
                checkpoints += 1
                if checkpoints == 2:
                    raise RuntimeError("killed")

    monkeypatch.setattr(IntercomConnector, "read", dying_read)
    with pytest.raises(RuntimeError, match="killed"):
        sync(app, intercom_account.id)
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["after"]
    monkeypatch.setattr(IntercomConnector, "read", original_read)
    emulator.expire_cursors()
    report = sync(app, intercom_account.id)
    assert report.error == "", report.error
    expected = {f"{cid}:source" for cid in emulator.conversations} | {
        f"{cid}:{part['id']}" for cid, parts in emulator.parts.items() for part in parts
    }
    assert sorted(m.external_id for m in intercom_messages(session)) == sorted(expected)
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).sync_state["after"] is None


def test_intercom_chat_and_mail_of_one_person_are_one_contact(app, session, emulator, intercom_account) -> None:  # noqa: ANN001
    ingest(
        session,
        InboundRecord(
            channel="gmail",
            external_id="gmail-msg-1",
            contact=ContactIn(name="Anna Kowalska", email="anna.kowalska@firma.pl"),
            message=MessageIn(external_id="gmail-msg-1", subject="Oferta", text="Prosze o oferte"),
        ),
    )
    session.commit()
    contact = emulator.add_contact(name="Anna Kowalska", email="Anna.Kowalska@firma.pl", role="lead")
    emulator.add_conversation(contact["id"], "<p>Czy jest demo?</p>")
    sync(app, intercom_account.id)
    fresh_view(session)
    contacts = live_contacts(session)
    assert len(contacts) == 1
    channels = set(session.exec(sa.select(Message.channel).where(Message.contact_id == contacts[0].id)).scalars())
    assert channels == {"gmail", "intercom"}


def test_a_conversation_that_breaks_the_mapping_is_quarantined_and_the_sync_goes_on(app, session, emulator,  # noqa: ANN001
                                                                                    intercom_account,
                                                                                    monkeypatch) -> None:
    """A failure of the mapping not foreseen (no test has shown such a conversation): that conversation is
    quarantined with the error, every other one is stored, and the account stays healthy."""
    import connectors.intercom.connector as connector_module
    from core.models import QuarantinedItem

    contact = emulator.add_contact(name="Breaks", email="breaks@example.org")
    broken = emulator.add_conversation(contact["id"], "<p>odd</p>", created_at=1_700_000_000)
    fine = emulator.add_conversation(contact["id"], "<p>fine</p>", created_at=1_700_000_100)
    real = connector_module.conversation_records

    def breaks_on_one(conversation, workspace):  # noqa: ANN001, ANN202
        if str(conversation.get("id")) == str(broken["id"]):
            raise KeyError("author")
        return real(conversation, workspace)

    monkeypatch.setattr(connector_module, "conversation_records", breaks_on_one)
    report = sync(app, intercom_account.id)
    assert report.error == "" and report.quarantined == 1
    assert {m.text for m in intercom_messages(session)} == {"fine"}
    item = session.exec(select(QuarantinedItem)).one()
    assert item.external_id.endswith(f"conversation:{broken['id']}") and "unexpected error: KeyError" in item.reason
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).status == "healthy"
    assert fine["id"] != broken["id"]


def test_a_lead_merged_into_a_user_keeps_its_chat_on_the_users_lead(app, session, emulator,  # noqa: ANN001
                                                                     intercom_account) -> None:
    """A visitor (a lead with no address) asks in the messenger, then signs up: Intercom merges the lead into the
    user and the lead's id is gone from the API; the user's merge_history names it. Before, the anonymous lead
    kept the chat, and the user (name, address) became a second lead without it; later replies, placed in the
    lead's conversation, stayed on the anonymous one too."""
    visitor = emulator.add_contact(role="lead", updated_at=1_700_000_000)
    chat = emulator.add_conversation(visitor["id"], "<p>Do you offer 40 seats?</p>", created_at=1_700_000_000)
    sync(app, intercom_account.id)
    assert len(live_contacts(session)) == 1

    user = emulator.add_contact(name="Anna Kowalska", email="anna@kowalska.pl", role="user")
    emulator.merge_contacts(visitor["id"], user["id"])
    emulator.add_part(chat["id"], "<p>Signed up, here I am</p>", author_type="user")
    report = sync(app, intercom_account.id)
    assert report.error == "" and emulator.spec_errors == []
    fresh_view(session)
    [lead] = live_contacts(session)
    assert lead.display_name == "Anna Kowalska"
    stored = session.exec(select(Message).where(Message.channel == "intercom")).all()
    assert sorted(m.text for m in stored) == ["Do you offer 40 seats?", "Signed up, here I am"]
    assert {m.contact_id for m in stored} == {lead.id}
    identities = {(i.kind, i.value) for i in session.exec(select(Identity).where(Identity.contact_id == lead.id))}
    assert {("intercom", visitor["id"]), ("intercom", user["id"]), ("email", "anna@kowalska.pl")} <= identities


def test_a_merge_that_leaves_the_users_updated_at_alone_is_found_through_the_conversation(  # noqa: ANN001
        app, session, emulator, intercom_account) -> None:
    """The merged user's updated_at need not move, and then no search returns the user with its merge history:
    the lead's chat stayed on an anonymous lead and the user's later messages in it went to a second lead. The
    conversation still names the lead as its opening message's author while listing the user; asked for, the
    lead answers 410 Gone with the user in its Link header (API 2.16)."""
    visitor = emulator.add_contact(role="lead", updated_at=1_700_000_000)
    chat = emulator.add_conversation(visitor["id"], "<p>Do you offer 40 seats?</p>", created_at=1_700_000_000)
    user = emulator.add_contact(name="Anna Kowalska", email="anna@kowalska.pl", role="user", updated_at=1_700_000_000)
    assert sync(app, intercom_account.id).error == ""
    assert len(live_contacts(session)) == 2

    emulator.merge_contacts(visitor["id"], user["id"])
    emulator.contacts[user["id"]]["updated_at"] = 1_700_000_000  # the merge did not touch it
    emulator.add_part(chat["id"], "<p>Signed up, here I am</p>", author_type="user")
    emulator.request_log.clear()
    report = sync(app, intercom_account.id)
    assert report.error == "" and emulator.spec_errors == []
    fresh_view(session)
    [lead] = live_contacts(session)
    assert lead.display_name == "Anna Kowalska"
    assert {m.contact_id for m in intercom_messages(session)} == {lead.id}
    identities = {(i.kind, i.value) for i in session.exec(select(Identity).where(Identity.contact_id == lead.id))}
    assert {("intercom", visitor["id"]), ("intercom", user["id"]), ("email", "anna@kowalska.pl")} <= identities
    asked = [path.split("?")[0] for _, path in emulator.request_log if path.startswith("/contacts/6")]
    assert asked == [f"/contacts/{visitor['id']}", f"/contacts/{user['id']}"]
    # A later change asks again (two calls a run for such a conversation) and changes nothing.
    emulator.add_part(chat["id"], "<p>Any news?</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    assert len(live_contacts(session)) == 1 and len(intercom_messages(session)) == 3


def test_an_answer_that_is_not_an_object_never_stops_the_merge_check(app, session, emulator,  # noqa: ANN001
                                                                     intercom_account) -> None:
    visitor = emulator.add_contact(role="lead", updated_at=1_700_000_000)
    chat = emulator.add_conversation(visitor["id"], "<p>Hej</p>", created_at=1_700_000_000)
    user = emulator.add_contact(name="Ula", email="ula@example.pl", role="user", updated_at=1_700_000_000)
    assert sync(app, intercom_account.id).error == ""
    emulator.merge_contacts(visitor["id"], user["id"])
    emulator.odd_answers[f"/contacts/{user['id']}"] = ["not", "a", "contact"]
    emulator.add_part(chat["id"], "<p>Jestem</p>", author_type="user")
    report = sync(app, intercom_account.id)
    assert report.error == "" and len(intercom_messages(session)) == 2


def test_an_author_who_left_a_conversation_is_not_taken_for_a_merge(app, session, emulator,  # noqa: ANN001
                                                                     intercom_account) -> None:
    """The opening message's author is no longer listed, but Intercom still serves them (200): they left a group
    conversation; nobody is merged."""
    ewa = emulator.add_contact(name="Ewa Lis", email="ewa@lis.pl", role="user", updated_at=1_700_000_000)
    jan = emulator.add_contact(name="Jan Lis", email="jan@lis.pl", role="user", updated_at=1_700_000_000)
    chat = emulator.add_conversation(ewa["id"], "<p>Pytanie o fakturę</p>", created_at=1_700_000_000)
    assert sync(app, intercom_account.id).error == ""
    emulator.conversations[chat["id"]]["contacts"]["contacts"] = [{"type": "contact", "id": jan["id"]}]
    emulator.add_part(chat["id"], "<p>Przejmuję sprawę</p>", author_type="user")
    assert sync(app, intercom_account.id).error == ""
    fresh_view(session)
    assert sorted(c.display_name for c in live_contacts(session)) == ["Ewa Lis", "Jan Lis"]
    owner = session.exec(select(Identity.contact_id).where(Identity.value == ewa["id"])).one()
    assert session.get(Contact, owner).display_name == "Ewa Lis"


def test_two_workspaces_users_with_one_external_id_stay_two_people(session) -> None:  # noqa: ANN001
    """`external_id` is each workspace's own user id: user "77" of one connected workspace and user "77" of another
    are different people. Its identity was "external:77" in every workspace, so the second person (another name,
    another address) was merged into the first, their address added to the first lead."""
    from connectors.intercom.mapping import contact_records
    from core.batch import ingest_many

    anna = {"type": "contact", "id": "6a01", "role": "user", "name": "Anna Nowak", "email": "anna@alfa.pl",
            "external_id": "77"}
    piotr = {"type": "contact", "id": "6b02", "role": "user", "name": "Piotr Lis", "email": "piotr@beta.pl",
             "external_id": "77"}
    ingest_many(session, contact_records(anna, "wsalfa01"))
    ingest_many(session, contact_records(piotr, "wsbeta02"))
    ingest_many(session, contact_records({**anna, "id": "6a99", "email": None, "phone": "+48 601 234 567"}, "wsalfa01"))
    session.commit()
    live = live_contacts(session)
    assert sorted(c.display_name for c in live) == ["Anna Nowak", "Piotr Lis"]
    leads = {c.display_name: c.id for c in live}
    owners = {i.value: i.contact_id for i in session.exec(select(Identity).where(Identity.kind.in_(["email", "phone"])))}
    # The same workspace's user "77" under another Intercom id is still Anna: her phone joins her lead.
    assert owners == {"anna@alfa.pl": leads["Anna Nowak"], "+48601234567": leads["Anna Nowak"],
                      "piotr@beta.pl": leads["Piotr Lis"]}


def test_a_user_of_api_1_keeps_the_workspaces_own_id(session) -> None:  # noqa: ANN001
    """A user.created notification of an app on API 1.x names the workspace's own user id `user_id` (2.x:
    `external_id`); it was dropped, so that user's chat and the workspace's records of user "77" stayed apart.
    A 1.x lead's `user_id` is Intercom's own made-up id, not kept as the workspace's."""
    from connectors.intercom.mapping import contact_records

    user = {"type": "user", "id": "5ee3d479d1cf3dedbee23d68", "user_id": "77", "name": "Bob", "email": "bob@rei.com"}
    lead = {"type": "contact", "id": "5ee3d479d1cf3dedbee23d69", "user_id": "8a1b-4c", "email": "lead@rei.com"}
    assert [r.contact.external_user_id for r in contact_records(user, "ws1")] == [
        "5ee3d479d1cf3dedbee23d68", "external:ws1:77"]
    assert [r.contact.external_user_id for r in contact_records(lead, "ws1")] == ["5ee3d479d1cf3dedbee23d69"]


@pytest.mark.parametrize(
    ("email", "phone", "linked"),
    [
        ("jan(at)firma.pl", None, False),  # typed by the visitor into the messenger, never checked
        (None, "n/a", False),
        ("", "12", False),
        ("biuro@firma.pl", None, False),  # a shared mailbox: weak, it would meet a colleague (see below)
        ("biuro@firma.pl", "+48 601 234 567", True),
        ("jan(at)firma.pl", "+48 601 234 567", True),
        (None, "601 234 567", True),  # national, read in the app's region
    ],
)
def test_a_users_external_id_and_merged_leads_stay_on_its_lead_without_a_usable_address(session, email,  # noqa: ANN001
                                                                                         phone, linked) -> None:
    """The records that give a contact its external_id and merged leads carry the contact's address or number to
    land on its lead. An address or number that identifies nobody made them a second lead of their own; they are
    left out then (the contact's own record still stores it, under its Intercom id)."""
    from connectors.intercom.mapping import contact_records
    from core.batch import ingest_many

    user = {"type": "contact", "id": "6c01", "role": "user", "name": "Jan Lis", "email": email, "phone": phone,
            "external_id": "u-5", "merge_history": [{"type": "merge_history", "source_contact_id": "6c00"}]}
    ingest_many(session, contact_records(user, "ws01", phone_region="PL"))
    session.commit()
    [lead] = live_contacts(session)
    intercom_ids = set(session.exec(sa.select(Identity.value).where(Identity.kind == "intercom",
                                                                    Identity.contact_id == lead.id)).scalars())
    assert intercom_ids == ({"6c01", "6c00", "external:ws01:u-5"} if linked else {"6c01"})


@pytest.mark.parametrize("answer", [["a", "list"], "text", 7, None])
def test_a_page_that_is_not_an_object_fails_the_run_cleanly(app, session, emulator, intercom_account,  # noqa: ANN001
                                                           answer) -> None:
    """A list page answered with JSON of another shape (a proxy's error as JSON) raised AttributeError out of the
    sync: the worker's task failed with a traceback and the account's last error read "AttributeError: 'list'
    object has no attribute 'get'". Now the run ends as any provider failure does, its cursor kept."""
    seed(emulator, 2, 0)
    emulator.odd_answers["/contacts"] = answer
    report = sync(app, intercom_account.id)
    assert "not a JSON object" in report.error and report.error_kind == "fatal"
    fresh_view(session)
    assert session.get(ConnectorAccount, intercom_account.id).status == "error"


def test_colleagues_sharing_a_mailbox_keep_their_own_external_ids(session) -> None:  # noqa: ANN001
    """Two people of one company, both known to Intercom by the company's shared address (info@): the record that
    gives the second one their external_id carried only that weak address and landed on the first one's lead, so
    whatever came later under the second person's user id went to the first person."""
    from connectors.intercom.mapping import contact_records
    from core.batch import ingest_many

    anna = {"type": "contact", "id": "a1", "role": "user", "name": "Anna", "email": "info@firma.pl", "external_id": "1"}
    bartek = {"type": "contact", "id": "b1", "role": "user", "name": "Bartek", "email": "info@firma.pl",
              "external_id": "2"}
    ingest_many(session, contact_records(anna, "ws"))
    session.commit()
    ingest_many(session, contact_records(bartek, "ws"))
    session.commit()
    owners = {i.value: session.get(Contact, i.contact_id).display_name
              for i in session.exec(select(Identity).where(Identity.kind == "intercom"))}
    assert owners.get("external:ws:2") in (None, "Bartek")
    assert owners["a1"] == "Anna" and owners["b1"] == "Bartek"


@pytest.mark.parametrize("answer", [["not", "a", "conversation"], None, "x", 7])
def test_a_conversation_answered_as_no_object_is_quarantined_and_the_sync_goes_on(app, session, emulator,  # noqa: ANN001
                                                                                  intercom_account, answer) -> None:
    """GET /conversations/{id} answered with JSON that is no object (a proxy's error page as JSON, a list): the
    merge check read it as a dict and raised AttributeError out of the connector, so every run of the account
    failed at the same conversation, for good. It is now quarantined with its reason and the others stored."""
    seed(emulator, 2, 1)
    broken, fine = list(emulator.conversations)
    emulator.odd_answers[f"/conversations/{broken}"] = answer
    report = sync(app, intercom_account.id)
    assert report.error == "" and report.quarantined == 1
    assert {m.external_id.split(":")[0] for m in intercom_messages(session)} == {fine}
    fresh_view(session)
    [row] = session.exec(select(QuarantinedItem)).all()
    assert row.external_id == f"conversation:{broken}" and "not a JSON object" in row.reason


def test_a_page_listing_something_other_than_objects_stores_the_objects(app, session, emulator,  # noqa: ANN001
                                                                        intercom_account, caplog) -> None:
    """A list page whose items include null, a string or a number: reading each as an object raised
    AttributeError out of the connector (for contacts, even from the handler meant to quarantine the item), and
    every run failed on that page. Such items are now skipped with a warning; the objects beside them are read."""
    seed(emulator, 2, 1)
    contact_id = next(iter(emulator.contacts))
    first, second = list(emulator.conversations)
    emulator.odd_answers["/contacts"] = {"type": "list", "data": [None, "x", 7, emulator.contact_view(contact_id)],
                                         "total_count": 4, "pages": {"type": "pages", "page": 1, "per_page": 4,
                                                                     "total_pages": 1}}
    emulator.odd_answers["/conversations"] = {
        "type": "conversation.list", "conversations": [None, [first], {"type": "conversation", "id": second}],
        "total_count": 3, "pages": {"type": "pages", "page": 1, "per_page": 3, "total_pages": 1}}
    report = sync(app, intercom_account.id)
    assert report.error == ""
    assert {m.external_id.split(":")[0] for m in intercom_messages(session)} == {second}
    fresh_view(session)
    assert session.exec(select(Identity).where(Identity.kind == "intercom", Identity.value == contact_id)).first()
    assert "3 items of a page of contacts are not objects" in caplog.text


@pytest.mark.parametrize("token", [["abc"], {"x": 1}, 7.5, True])
def test_a_next_page_cursor_that_is_no_text_fails_the_run_cleanly(app, session, emulator, intercom_account,  # noqa: ANN001
                                                                 token) -> None:
    """pages.next.starting_after is a string (API 2.16). A list or an object there raised TypeError out of the
    connector (unhashable, not subscriptable): an unexpected failure instead of a provider's. The run now ends
    as a provider failure that names it, its cursor kept."""
    seed(emulator, 1, 0)
    emulator.odd_answers["/contacts"] = {"type": "list", "data": [], "pages": {"type": "pages", "next": {
        "per_page": 3, "starting_after": token}}}
    report = sync(app, intercom_account.id)
    assert report.error_kind == "fatal" and "starting_after" in report.error

"""Intercom in the web app: OAuth install, signed webhooks (over real HTTP), Canvas Kit, replies."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlmodel import Session, select

from connectors.intercom.emulator import seed
from connectors.sync import run_sync
from core.ingest import ingest
from core.models import ConnectorAccount, Contact, LeadQualification, Message, StageChange
from core.schemas import ContactIn, InboundRecord, MessageIn
from core.users import create_user
from tests.connectors.intercom.conftest import CLIENT_SECRET


def fresh_view(session: Session) -> None:
    session.rollback()
    session.expire_all()


def sign_in(client, session: Session, role: str = "admin") -> int:  # noqa: ANN001
    user = create_user(session, email=f"{role}-ic@leadhub.example", role=role, name=role.title(), password="pw-123456")
    session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(user.id)
        flask_session["_fresh"] = True
    return user.id


def messages(session: Session) -> list[Message]:
    fresh_view(session)
    return list(session.exec(select(Message).where(Message.channel == "intercom")).all())


# --------------------------------------------------------------------------- OAuth install


def test_install_stores_the_token_encrypted_and_backfills(app, client, session, emulator, intercom_settings) -> None:  # noqa: ANN001
    seed(emulator, 2, 1)
    sign_in(client, session)
    start = client.get("/intercom/install")
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == emulator.url + "/oauth"
    back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)  # the "Authorize" click
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/intercom/oauth/callback" and "code" in parse_qs(callback.query)
    done = client.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 302, done.get_data(as_text=True)
    fresh_view(session)
    account = session.exec(select(ConnectorAccount).where(ConnectorAccount.type == "intercom")).one()
    assert account.label == emulator.workspace_name and account.external_id == emulator.workspace_id
    token = app.extensions["leadhub.secretbox"].decrypt(account.credentials_encrypted)["access_token"]
    assert token in emulator.tokens and token not in account.credentials_encrypted
    assert account.config["admin_id"] == emulator.admin["id"]
    assert len(messages(session)) == 2 * 2  # the first sync ran from the queue (immediate in tests)
    assert emulator.spec_errors == []


def test_install_refuses_a_foreign_state_and_non_admins(client, session, emulator, intercom_settings) -> None:  # noqa: ANN001
    sign_in(client, session)
    client.get("/intercom/install")
    response = client.get("/intercom/oauth/callback?code=x&state=forged")
    assert response.status_code == 400
    assert session.exec(select(ConnectorAccount)).all() == []
    client.get("/logout")
    sign_in(client, session, role="rep")
    assert client.get("/intercom/install").status_code == 403


# --------------------------------------------------------------------------- webhooks


@pytest.fixture
def leadhub_url(app, serve, intercom_settings, intercom_account) -> str:  # noqa: ANN001
    """The app served over HTTP, with the emulator's workspace connected (notifications of others are ignored)."""
    return serve(app).url


def test_webhook_signature_good_bad_missing(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    contact = emulator.add_contact(name="Web Hook", email="hook@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Need a quote</p>")
    item = emulator.conversation_view(conversation["id"])
    url = leadhub_url + "/webhooks/intercom"

    bad = emulator.send_webhook(url, "conversation.user.created", item, secret="not-the-secret")
    body = json.dumps(emulator.notification("conversation.user.created", item)).encode()
    missing = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert (bad.status_code, missing.status_code) == (401, 401)
    assert messages(session) == []

    good = emulator.send_webhook(url, "conversation.user.created", item)
    assert good.status_code == 200 and good.json()["queued"] == "conversation.user.created"
    stored = messages(session)
    assert [m.external_id for m in stored] == [f"{conversation['id']}:source"]
    assert stored[0].text == "Need a quote"

    ping = emulator.send_webhook(url, "ping", {"type": "ping", "message": "hello"})
    assert ping.status_code == 200 and ping.json()["topic"] == "ping"
    # A signed body that is not JSON is refused cleanly, not a 500.
    assert emulator.send_webhook(url, "x", body=b"not json{").status_code == 400


def test_the_webhook_url_answers_intercoms_head_check(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """Intercom sends HEAD to the endpoint URL to check it when the app's webhooks are saved; a 405 made the
    Developer Hub refuse the URL, so no notification was ever sent. HEAD reads and stores nothing."""
    answer = requests.head(leadhub_url + "/webhooks/intercom", timeout=10)
    assert answer.status_code == 200 and answer.content == b""
    assert messages(session) == []
    assert requests.get(leadhub_url + "/webhooks/intercom", timeout=10).status_code == 405  # only the check


def test_webhook_replayed_ten_times_stores_one_message(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    contact = emulator.add_contact(name="Replay", email="replay@example.org", role="lead")
    conversation = emulator.add_conversation(contact["id"], "<p>first</p>")
    emulator.add_part(conversation["id"], "<p>admin answer</p>", author_type="admin")
    body = json.dumps(emulator.notification("conversation.admin.replied",
                                            emulator.conversation_view(conversation["id"]))).encode()
    statuses = {emulator.send_webhook(leadhub_url + "/webhooks/intercom", "", body=body).status_code
                for _ in range(10)}
    assert statuses == {200}
    stored = messages(session)
    assert sorted(m.direction for m in stored) == ["in", "out"]
    assert len(session.exec(select(Contact)).all()) == 1


def test_contact_webhook_merges_with_existing_mail(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    ingest(session, InboundRecord(channel="gmail", external_id="m-1",
                                  contact=ContactIn(name="Ewa Lis", email="ewa@lis.pl"),
                                  message=MessageIn(external_id="m-1", text="hello")))
    session.commit()
    contact = emulator.add_contact(name="Ewa Lis", email="EWA@lis.pl", role="lead")
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "contact.lead.created", contact).status_code == 200
    fresh_view(session)
    contacts = session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()  # type: ignore[union-attr]
    assert len(contacts) == 1


def test_an_email_change_and_a_bots_answer_reach_the_lead(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """contact.email.updated adds the new address to the person (mail from it then reaches the same lead);
    conversation.operator.replied puts a bot's answer on the timeline."""
    from core.models import Identity

    url = leadhub_url + "/webhooks/intercom"
    contact = emulator.add_contact(name="Ewa Lis", email="ewa@lis.pl", role="lead")
    assert emulator.send_webhook(url, "contact.lead.created", contact).json()["queued"] == "contact.lead.created"
    moved = {**contact, "email": "ewa.lis@nowafirma.pl"}
    assert emulator.send_webhook(url, "contact.email.updated", moved).json()["queued"] == "contact.email.updated"
    fresh_view(session)
    emails = {i.value for i in session.exec(select(Identity).where(Identity.kind == "email")).all()}
    assert emails == {"ewa@lis.pl", "ewa.lis@nowafirma.pl"}
    assert len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()) == 1

    conversation = emulator.add_conversation(contact["id"], "<p>Ile kosztuje licencja?</p>")
    emulator.add_part(conversation["id"], "<p>Licencja kosztuje 40 zł miesięcznie.</p>", author_type="bot")
    item = emulator.conversation_view(conversation["id"])
    assert emulator.send_webhook(url, "conversation.operator.replied", item).status_code == 200
    assert sorted((m.direction, m.text) for m in messages(session)) == [
        ("in", "Ile kosztuje licencja?"), ("out", "Licencja kosztuje 40 zł miesięcznie.")]


def test_a_bots_instant_answer_is_not_the_teams_first_response(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """Fin answers a lead within seconds; a rep writes two hours later. The bot's answer was stored as the team's
    outbound message, so the lead's first response (and response time) was the bot's: every chat looked answered
    at once. It is now on the timeline as an automatic answer (kind auto_reply) and the rep's reply is the first
    response; a note that reopens the conversation (note_and_reopen) is an internal note, not a reply either."""
    contact = emulator.add_contact(name="Jan Bot", email="jan@firma.pl", role="lead")
    chat = emulator.add_conversation(contact["id"], "<p>Ile kosztuje licencja?</p>", created_at=1_700_000_000)
    emulator.add_part(chat["id"], "<p>Licencja kosztuje 40 zł.</p>", author_type="bot", created_at=1_700_000_010)
    emulator.add_part(chat["id"], "<p>Oddzwonić jutro</p>", author_type="admin", part_type="note_and_reopen",
                      created_at=1_700_000_020)
    emulator.add_part(chat["id"], "<p>Dzień dobry, przesyłam ofertę.</p>", author_type="admin",
                      created_at=1_700_007_200)
    item = emulator.conversation_view(chat["id"])
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.admin.replied", item).ok
    kinds = sorted((m.direction, m.kind, m.text) for m in messages(session))
    assert kinds == [("in", "message", "Ile kosztuje licencja?"), ("out", "auto_reply", "Licencja kosztuje 40 zł."),
                     ("out", "message", "Dzień dobry, przesyłam ofertę."), ("out", "note", "Oddzwonić jutro")]
    [lead] = session.exec(select(Contact)).all()
    qualification = session.get(LeadQualification, lead.id)
    assert qualification.response_seconds == 7_200


def test_an_address_a_lead_gives_the_messenger_joins_their_chat_to_their_mail(session, emulator,  # noqa: ANN001
                                                                              leadhub_url) -> None:
    """A visitor asks in the messenger, anonymous; the messenger then asks for their address and they give it:
    Intercom sends contact.lead.added_email. The topic was ignored, so the chat and the mail this person had sent
    stayed two leads until a sync happened to read the contact again."""
    ingest(session, InboundRecord(channel="gmail", external_id="m-7",
                                  contact=ContactIn(name="Ola Maj", email="ola@maj.pl"),
                                  message=MessageIn(external_id="m-7", text="Proszę o cennik")))
    session.commit()
    url = leadhub_url + "/webhooks/intercom"
    visitor = emulator.add_contact(role="lead")
    chat = emulator.add_conversation(visitor["id"], "<p>A cennik?</p>")
    assert emulator.send_webhook(url, "conversation.user.created",
                                 emulator.conversation_view(chat["id"])).status_code == 200
    emulator.update_contact(visitor["id"], email="ola@maj.pl")
    answer = emulator.send_webhook(url, "contact.lead.added_email", emulator.contact_view(visitor["id"]))
    assert answer.json() == {"ok": True, "queued": "contact.lead.added_email"}
    fresh_view(session)
    [lead] = session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()  # type: ignore[union-attr]
    assert {m.channel for m in session.exec(select(Message).where(Message.contact_id == lead.id))} == {"gmail",
                                                                                                     "intercom"}


def test_a_contact_merged_webhook_puts_the_leads_chat_on_the_user(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """A visitor asks in the messenger (a lead without an address), then signs up; an admin or a workflow merges
    the lead into the user. Intercom sends contact.merged: the surviving user, the lead's id in `merged_from`
    (Intercom's webhook models). The topic was ignored, so the chat stayed on an anonymous lead and the user was a
    second lead without it, until a sync happened to see the user changed."""
    from core.models import Identity

    url = leadhub_url + "/webhooks/intercom"
    visitor = emulator.add_contact(role="lead")
    chat = emulator.add_conversation(visitor["id"], "<p>Do you offer 40 seats?</p>")
    assert emulator.send_webhook(url, "conversation.user.created",
                                 emulator.conversation_view(chat["id"])).status_code == 200
    user = emulator.add_contact(name="Anna Kowalska", email="anna@kowalska.pl", role="user")
    assert emulator.send_webhook(url, "contact.user.created", user).status_code == 200
    fresh_view(session)
    assert len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()) == 2  # type: ignore[union-attr]

    emulator.merge_contacts(visitor["id"], user["id"])
    merged = {**emulator.contact_view(user["id"]), "merged_from": {"type": "contact", "id": visitor["id"]}}
    answer = emulator.send_webhook(url, "contact.merged", merged)
    assert answer.status_code == 200 and answer.json()["queued"] == "contact.merged"
    fresh_view(session)
    [lead] = session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()  # type: ignore[union-attr]
    assert lead.display_name == "Anna Kowalska"
    assert {m.contact_id for m in messages(session)} == {lead.id}
    identities = {(i.kind, i.value) for i in session.exec(select(Identity).where(Identity.contact_id == lead.id))}
    assert {("intercom", visitor["id"]), ("intercom", user["id"]), ("email", "anna@kowalska.pl")} <= identities
    # Delivered again (Intercom retries a slow answer), nothing changes.
    assert emulator.send_webhook(url, "contact.merged", merged).status_code == 200
    fresh_view(session)
    assert len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()) == 1  # type: ignore[union-attr]


def test_a_webhook_about_a_quarantined_conversation_brings_all_of_it(app, session, emulator, intercom_account,  # noqa: ANN001
                                                                      leadhub_url, monkeypatch) -> None:
    """A conversation Intercom answered with a server error in three syncs in a row is quarantined, its messages
    unstored. A notification about it carries only the newest part: before, that part was stored and the rest
    stayed missing. Now the conversation is fetched whole once more and its quarantine row goes."""
    from connectors.intercom.connector import FAILING_RUNS, IntercomConnector
    from core.models import QuarantinedItem

    monkeypatch.setattr(IntercomConnector, "tries", 1)
    contact = emulator.add_contact(name="Iga Nowak", email="iga@nowak.pl", role="lead")
    chat = emulator.add_conversation(contact["id"], "<p>Czy macie wersję na 50 osób?</p>")
    emulator.add_part(chat["id"], "<p>Tak, mamy.</p>", author_type="admin")
    emulator.broken.add(chat["id"])
    engine, box = app.extensions["leadhub.engine"], app.extensions["leadhub.secretbox"]
    for _ in range(FAILING_RUNS):
        run_sync(engine, intercom_account.id, settings=app.config["LEADHUB"], box=box)
    fresh_view(session)
    assert [q.external_id for q in session.exec(select(QuarantinedItem)).all()] == [f"conversation:{chat['id']}"]
    assert messages(session) == []

    emulator.broken.clear()
    emulator.add_part(chat["id"], "<p>To poproszę ofertę</p>", author_type="lead")
    item = emulator.conversation_view(chat["id"])
    item["conversation_parts"]["conversation_parts"] = item["conversation_parts"]["conversation_parts"][-1:]
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.replied", item).status_code == 200
    assert sorted(m.text for m in messages(session)) == ["Czy macie wersję na 50 osób?", "Tak, mamy.",
                                                         "To poproszę ofertę"]
    assert session.exec(select(QuarantinedItem)).all() == []


def quarantine_by_sync(app, session, emulator, account, monkeypatch) -> dict:  # noqa: ANN001
    """A lead's chat Intercom answers with a server error in FAILING_RUNS syncs: quarantined, on the retry list."""
    from connectors.intercom.connector import FAILING_RUNS, IntercomConnector

    monkeypatch.setattr(IntercomConnector, "tries", 1)
    contact = emulator.add_contact(name="Iga Nowak", email="iga@nowak.pl", role="lead")
    chat = emulator.add_conversation(contact["id"], "<p>Czy macie wersję na 50 osób?</p>")
    emulator.broken.add(chat["id"])
    engine, box = app.extensions["leadhub.engine"], app.extensions["leadhub.secretbox"]
    for _ in range(FAILING_RUNS):
        run_sync(engine, account.id, settings=app.config["LEADHUB"], box=box)
    fresh_view(session)
    assert list(session.get(ConnectorAccount, account.id).sync_state["retry"]) == [chat["id"]]
    emulator.broken.clear()
    emulator.add_part(chat["id"], "<p>To poproszę ofertę</p>", author_type="lead")
    return chat


def test_a_webhook_that_stores_a_quarantined_conversation_takes_it_off_the_retry_list(  # noqa: ANN001
        app, session, emulator, intercom_account, leadhub_url, monkeypatch) -> None:
    """A notification about a quarantined conversation fetches and stores it whole, and its quarantine row goes;
    its entry on the sync's retry list (the cursor's `retry`) stayed, so the next due run fetched it once more
    for nothing. The entry now goes with the row; the rest of the cursor is as the sync left it."""
    chat = quarantine_by_sync(app, session, emulator, intercom_account, monkeypatch)
    before = dict(session.get(ConnectorAccount, intercom_account.id).sync_state)
    item = emulator.conversation_view(chat["id"])
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.replied", item).ok
    assert len(messages(session)) == 2
    after = session.get(ConnectorAccount, intercom_account.id).sync_state
    assert after == {**before, "retry": {}}


def test_a_webhook_that_stores_a_quarantined_conversation_lists_the_parts_intercom_holds_back(  # noqa: ANN001
        app, session, emulator, intercom_account, leadhub_url, monkeypatch) -> None:
    """Fetched whole by a notification, a quarantined conversation of more parts than Intercom serves (500)
    stored the newest ones and, now that the sync no longer retries it, nothing ever listed the older ones for
    the admin. They are listed as the sync lists them: `conversation:<id>:older-parts`, once."""
    from connectors.intercom.emulator import MAX_PARTS
    from core.models import QuarantinedItem

    chat = quarantine_by_sync(app, session, emulator, intercom_account, monkeypatch)
    for index in range(MAX_PARTS + 3):
        emulator.add_part(chat["id"], f"część {index}", author_type="lead", created_at=1_600_000_000 + index)
    item = emulator.conversation_view(chat["id"])
    item["conversation_parts"]["conversation_parts"] = item["conversation_parts"]["conversation_parts"][-1:]
    for _ in range(2):
        assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.replied", item).ok
    fresh_view(session)
    rows = session.exec(select(QuarantinedItem)).all()
    assert [(q.external_id, q.account_id) for q in rows] == [(f"conversation:{chat['id']}:older-parts",
                                                              intercom_account.id)]
    assert "500 newest" in rows[0].reason


def test_a_webhook_leaves_the_cursor_alone_while_a_sync_holds_the_account(  # noqa: ANN001
        app, session, emulator, intercom_account, leadhub_url, monkeypatch) -> None:
    """The cursor is the running sync's: written under it, the change would be lost at its next checkpoint or
    undo one. While a sync holds the account's lease, the notification stores the conversation and the
    cursor stays as it was (that sync's retry reads the conversation once more, storing nothing twice)."""
    from datetime import timedelta

    from core.models import utcnow

    chat = quarantine_by_sync(app, session, emulator, intercom_account, monkeypatch)
    account = session.get(ConnectorAccount, intercom_account.id)
    before = dict(account.sync_state)
    account.lease_owner, account.lease_until = "a-running-sync", utcnow() + timedelta(minutes=5)
    session.add(account)
    session.commit()
    item = emulator.conversation_view(chat["id"])
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.replied", item).ok
    assert len(messages(session)) == 2
    assert session.get(ConnectorAccount, intercom_account.id).sync_state == before


def test_a_whole_conversation_answered_as_no_object_leaves_the_notifications_parts(session, emulator,  # noqa: ANN001
                                                                                   intercom_account,
                                                                                   leadhub_url) -> None:
    from core.models import QuarantinedItem

    contact = emulator.add_contact(name="Iga", email="iga@example.pl", role="lead")
    chat = emulator.add_conversation(contact["id"], "<p>Pytanie</p>")
    session.add(QuarantinedItem(account_id=intercom_account.id, channel="intercom",
                                external_id=f"conversation:{chat['id']}", reason="500"))
    session.commit()
    emulator.odd_answers[f"/conversations/{chat['id']}"] = "not a conversation"
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.created",
                                 emulator.conversation_view(chat["id"])).status_code == 200
    assert [m.text for m in messages(session)] == ["Pytanie"]
    assert len(session.exec(select(QuarantinedItem)).all()) == 1


# --------------------------------------------------------------------------- Canvas Kit


def canvas_post(client, path: str, payload: dict, secret: str = CLIENT_SECRET):  # noqa: ANN001, ANN201
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(path, data=body, headers={"Content-Type": "application/json", "X-Body-Signature": signature})


def test_canvas_shows_the_lead_and_changes_its_stage(client, session, intercom_settings) -> None:  # noqa: ANN001
    ingest(session, InboundRecord(channel="gmail", external_id="g-1",
                                  contact=ContactIn(name="Olga Zima", email="olga@zima.pl", company="Zima"),
                                  message=MessageIn(external_id="g-1", subject="Pricing for 40 seats", text="...")))
    ingest(session, InboundRecord(channel="intercom", external_id="ic-1", scope="ws",
                                  contact=ContactIn(email="olga@zima.pl", external_user_id="6abc"),
                                  message=MessageIn(external_id="77:source", thread_id="77", text="chat")))
    session.commit()
    payload = {"workspace_id": "ws", "customer": {"type": "user", "id": "6abc", "email": "olga@zima.pl"},
               "conversation": {"id": "77"}, "admin": {"id": "991"}}

    response = canvas_post(client, "/intercom/canvas/initialize", payload)
    assert response.status_code == 200
    components = response.get_json()["canvas"]["content"]["components"]
    flat = json.dumps(components)
    # Qualification may already have moved the lead (intent words): the card shows whatever the store holds.
    stage_now = session.exec(select(Contact)).one().stage
    assert "Olga Zima" in flat and f"Stage: *{stage_now}*" in flat and "Pricing for 40 seats" in flat
    assert "gmail, intercom" in flat
    contact_id = session.exec(select(Contact)).one().id
    link = next(c for c in components if c.get("id") == "open_lead")["action"]["url"]
    assert link.endswith(f"/contacts/{contact_id}")
    assert {c["type"] for c in components} >= {"text", "list", "dropdown", "button"}

    submit = canvas_post(client, "/intercom/canvas/submit",
                         {**payload, "component_id": "save_stage", "input_values": {"stage": "sql"}})
    assert submit.status_code == 200 and "Stage saved: sql" in json.dumps(submit.get_json())
    fresh_view(session)
    assert session.get(Contact, contact_id).stage == "sql"
    # Recorded as on the lead page: who, from where, and the SQL milestone the funnels count.
    change = session.exec(select(StageChange).where(StageChange.to_stage == "sql")).one()
    assert (change.contact_id, change.from_stage, change.actor) == (contact_id, stage_now, "intercom-admin:991")
    assert session.get(LeadQualification, contact_id).sql_at is not None

    # Non-target needs one of the reasons, as everywhere; the card says so and changes nothing without one.
    def save(values: dict[str, str]) -> str:
        answer = canvas_post(client, "/intercom/canvas/submit",
                             {**payload, "component_id": "save_stage", "input_values": values})
        assert answer.status_code == 200
        return json.dumps(answer.get_json())

    assert "needs a reason" in save({"stage": "non_target"})
    fresh_view(session)
    assert session.get(Contact, contact_id).stage == "sql"
    assert "already at stage sql" in save({"stage": "sql", "reason": "spam"})
    assert "Stage saved: non_target" in save({"stage": "non_target", "reason": "competitor"})
    fresh_view(session)
    assert session.get(Contact, contact_id).stage == "non_target"
    assert session.exec(select(StageChange).where(StageChange.to_stage == "non_target")).one().reason == "competitor"


def test_canvas_signature_is_required(client, session, intercom_settings) -> None:  # noqa: ANN001
    payload = {"customer": {"id": "6abc"}, "component_id": "save_stage", "input_values": {"stage": "sql"}}
    assert canvas_post(client, "/intercom/canvas/initialize", payload, secret="wrong").status_code == 401
    assert client.post("/intercom/canvas/submit", json=payload).status_code == 401
    unknown = canvas_post(client, "/intercom/canvas/initialize", {"customer": {"id": "nobody"}})
    assert "Not in leadhub yet" in json.dumps(unknown.get_json())


# --------------------------------------------------------------------------- reply


def test_reply_as_the_connected_admin_lands_on_the_timeline(app, client, session, emulator, intercom_account) -> None:  # noqa: ANN001
    app.config["WTF_CSRF_ENABLED"] = False  # the inbox page sends the token; this test calls the route alone
    contact = emulator.add_contact(name="Reply Me", email="reply.me@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Can you call me?</p>")
    sign_in(client, session, role="rep")
    response = client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": "Sure, at 3pm."})
    assert response.status_code == 201, response.get_json()
    last_part = emulator.parts[conversation["id"]][-1]
    assert (last_part["author"]["type"], last_part["body"]) == ("admin", "Sure, at 3pm.")
    stored = {m.external_id: m for m in messages(session)}
    reply = stored[f"{conversation['id']}:{last_part['id']}"]
    assert (reply.direction, reply.text) == ("out", "Sure, at 3pm.")
    assert response.get_json()["message_id"] == reply.id
    assert client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": " "}).status_code == 400
    assert client.post("/intercom/conversations/abc/reply", json={"body": "x"}).status_code == 400
    assert emulator.spec_errors == []


def test_a_reply_intercom_accepted_is_never_reported_failed(app, client, session, emulator, intercom_account) -> None:  # noqa: ANN001
    """Intercom accepted the reply, but the conversation it answered with names no customer (an admin's message
    whose contact was detached): the route said 400 "conversation without a contact", and a rep told the reply
    failed sends it again; the customer gets it twice."""
    app.config["WTF_CSRF_ENABLED"] = False
    contact = emulator.add_contact(name="Gone", email="gone@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Nasza oferta</p>", author_type="admin")
    emulator.conversations[conversation["id"]]["source"]["author"] = {"type": "admin", "id": emulator.admin["id"]}
    emulator.conversations[conversation["id"]]["contacts"]["contacts"] = []
    sign_in(client, session, role="rep")
    response = client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": "Czy ma Pan pytania?"})
    assert response.status_code == 201, response.get_json()
    assert [p["body"] for p in emulator.parts[conversation["id"]]] == ["Czy ma Pan pytania?"]
    assert response.get_json()["conversation_id"] == conversation["id"] and messages(session) == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_reply_intercom_took_but_did_not_confirm_is_not_sent_twice(app, client, session, emulator,  # noqa: ANN001
                                                                     intercom_account, status) -> None:
    """A gateway error after Intercom took the reply (a 502/504 from its edge, a lost answer): the client retried
    the POST like a read, and the customer got the reply twice or more. A reply is now retried only when Intercom
    refused it before doing anything (429); otherwise the rep is told it may have been sent."""
    app.config["WTF_CSRF_ENABLED"] = False
    contact = emulator.add_contact(name="Twice", email="twice@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Halo?</p>")
    sign_in(client, session, role="rep")
    emulator.late_faults.append(status)
    response = client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": "Dzień dobry!"})
    assert [p["body"] for p in emulator.parts[conversation["id"]]] == ["Dzień dobry!"]
    assert response.status_code == 502 and "may have been sent" in response.get_json()["error"]
    # Refused before anything was done, it is still retried and sent once.
    emulator.rate_window = 1  # (the retry waits for the window's reset, for real in a web request)
    emulator.fail_next(429)
    assert client.post(f"/intercom/conversations/{conversation['id']}/reply",
                       json={"body": "Czy mogę pomóc?"}).status_code == 201
    assert [p["body"] for p in emulator.parts[conversation["id"]]] == ["Dzień dobry!", "Czy mogę pomóc?"]


def test_a_reply_is_recorded_once_when_a_sync_writes_meanwhile(app, client, session, emulator,  # noqa: ANN001
                                                                intercom_account) -> None:
    """The reply has left for Intercom when leadhub records it. If a sync committed between the request's read
    and that write, SQLite refused the write ("busy, nothing was saved"), inviting a second send; the record now
    waits for the sync's commit."""
    from tests.racing import commit_before_first_write, writers_stored

    app.config["WTF_CSRF_ENABLED"] = False
    contact = emulator.add_contact(name="Race Me", email="race.me@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Call me?</p>")
    sign_in(client, session, role="rep")
    engine = app.extensions["leadhub.engine"]
    with commit_before_first_write(engine) as writers:
        response = client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": "At 3pm."})
    assert response.status_code == 201, response.get_json()
    assert len(writers) == 1 and writers_stored(engine) == 1
    admin_parts = [p for p in emulator.parts[conversation["id"]] if p["author"]["type"] == "admin"]
    assert len(admin_parts) == 1
    assert [m.text for m in messages(session) if m.direction == "out"] == ["At 3pm."]


def test_reply_box_in_the_inbox_sends_escaped_text_as_the_admin(app, client, session, emulator,  # noqa: ANN001
                                                                 intercom_account) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    contact = emulator.add_contact(name="Inbox Chat", email="inbox.chat@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Do you ship to Kraków?</p>")
    run_sync(app.extensions["leadhub.engine"], intercom_account.id, settings=app.config["LEADHUB"],
             box=app.extensions["leadhub.secretbox"])
    fresh_view(session)
    stored = session.exec(select(Message).where(Message.channel == "intercom")).one()
    page = f"/conversations/{stored.conversation_id}"
    sign_in(client, session, role="manager")
    assert b"Send reply" in client.get(page).data
    response = client.post(f"{page}/reply", data={"text": "Yes <b>we do</b> & fast.\n\nTomorrow?"})
    assert response.status_code == 302
    last_part = emulator.parts[conversation["id"]][-1]
    assert last_part["author"]["type"] == "admin"
    assert last_part["body"] == "<p>Yes &lt;b&gt;we do&lt;/b&gt; &amp; fast.</p><p>Tomorrow?</p>"
    timeline = messages(session)
    reply = next(m for m in timeline if m.direction == "out")
    assert reply.conversation_id == stored.conversation_id and "Yes <b>we do</b> & fast." in reply.text
    shown = client.get(page).get_data(as_text=True)
    assert "Reply sent" in shown and "Do you ship to Kraków?" in shown and "mail-frame" not in shown  # chats as text
    emulator.fail_next(401)  # Intercom refuses (a revoked token): the manager is told, nothing is stored
    before = len(messages(session))
    refused = client.post(f"{page}/reply", data={"text": "Second try: Łódź, 15:00?"})
    shown = refused.get_data(as_text=True)
    # The page comes back with the reply still in its box (a redirect dropped it), and why it was not sent.
    assert refused.status_code == 409 and "Not sent: Intercom refused the reply" in shown
    assert ">Second try: Łódź, 15:00?</textarea>" in shown
    assert len(messages(session)) == before
    assert emulator.spec_errors == []


def test_an_acknowledged_notification_is_stored_while_another_worker_writes(app, session) -> None:  # noqa: ANN001
    """The queued notification's transaction reads, then writes. Another worker committing a write in between
    made SQLite refuse the write at once ("database is locked", which waiting cannot cure), and after its
    retries the acknowledged notification was gone: 96 of 3,328 in a 10 s load."""
    import threading

    import sqlalchemy as sa

    import webapp.intercom as intercom
    from connectors.intercom.emulator import IntercomEmulator
    from core.db import make_engine

    emulator = IntercomEmulator(client_secret=CLIENT_SECRET)
    session.add(ConnectorAccount(type="intercom", label="ws", external_id=emulator.workspace_id))
    session.commit()
    contact = emulator.add_contact(name="Busy Store", email="busy@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Dzień dobry</p>")
    emulator.add_part(conversation["id"], "<p>a reply</p>", author_type="user")
    notification = emulator.notification("conversation.user.replied", emulator.conversation_view(conversation["id"]))
    other_worker = make_engine(app.config["LEADHUB"]["DATABASE_URL"])
    real_records = intercom.conversation_records

    def records_while_another_worker_writes(item, workspace):  # noqa: ANN001, ANN202
        # Our transaction has read by now (the account lookup); the other worker writes and commits.
        def write() -> None:
            with other_worker.begin() as conn:
                conn.execute(sa.text("INSERT INTO users (email, name, role, password_hash, active, created_at) "
                                     "VALUES ('other@x.example', 'Other', 'rep', '', true, CURRENT_TIMESTAMP)"))
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(0.5)  # it waits for our lock when we hold it (IMMEDIATE); else it commits now
        return real_records(item, workspace)

    with app.app_context():
        intercom.conversation_records = records_while_another_worker_writes
        try:
            result = intercom.ingest_notification({"id": "n1", "topic": "conversation.user.replied",
                                                   "app_id": notification["app_id"], "item": notification["data"]["item"]})
        finally:
            intercom.conversation_records = real_records
    assert result["created"] == 2
    assert sorted(m.direction for m in messages(session)) == ["in", "in"]
    other_worker.dispose()


def test_a_notification_the_mapping_cannot_read_is_skipped_not_retried_forever(app, session, monkeypatch) -> None:  # noqa: ANN001
    """A failure of the mapping not foreseen: the notification is reported skipped, with the error; raised, the
    queue would retry it again and again."""
    from webapp import intercom

    def breaks(_item, _workspace):  # noqa: ANN001, ANN202
        raise KeyError("conversation_parts")

    monkeypatch.setattr(intercom, "conversation_records", breaks)
    session.add(ConnectorAccount(type="intercom", label="ws", external_id="ws"))
    session.commit()
    with app.app_context():
        result = intercom.ingest_notification({"id": "n2", "topic": "conversation.user.replied", "app_id": "ws",
                                               "item": {"id": "5", "type": "conversation"}})
    assert result == {"skipped": "KeyError: 'conversation_parts'"}
    assert messages(session) == []


def test_canvas_answers_any_signed_body_without_a_server_error(client, session, intercom_settings) -> None:  # noqa: ANN001
    """Intercom signs what it sends, but its payloads vary by where the app is shown (customer, contact, user,
    conversation.contacts) and fields come as null, strings, lists. Seeded: every signed body gets a card or a
    400, never a 500."""
    import random

    ingest(session, InboundRecord(channel="intercom", external_id="ic-9", scope="ws",
                                  contact=ContactIn(name="Olga Zima", email="olga@zima.pl", external_user_id="6abc"),
                                  message=MessageIn(external_id="9:source", thread_id="9", text="chat")))
    session.commit()
    rng = random.Random(20261207)
    odd = [None, "", "6abc", "olga@zima.pl", 7, 3.5, True, [], ["6abc"], {}, {"id": "6abc"}, {"id": ["x"]},
           {"id": "6abc", "email": ["olga@zima.pl"]}, {"contacts": []}, {"contacts": {"contacts": "x"}},
           {"contacts": {"contacts": [{"id": "6abc"}]}}, {"contacts": [{"id": "6abc"}]}, "sql", "non_target",
           {"stage": "sql"}, {"stage": ["sql"]}, {"stage": "non_target", "reason": {"x": 1}}, "save_stage"]
    keys = ["customer", "contact", "user", "conversation", "admin", "input_values", "component_id", "workspace_id"]
    statuses = set()
    for _ in range(300):
        payload = {key: rng.choice(odd) for key in rng.sample(keys, rng.randint(1, len(keys)))}
        for path in ("/intercom/canvas/initialize", "/intercom/canvas/submit"):
            response = canvas_post(client, path, payload)
            statuses.add(response.status_code)
            assert response.status_code in (200, 400), (path, payload, response.data[:300])
            if response.status_code == 200:
                assert "canvas" in response.get_json()
    assert 200 in statuses


def test_a_webhook_of_api_2_15_and_later_stores_its_plain_text_whole(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """Intercom sends bodies as plain text in webhooks of API 2.15+ (the emulator does too). Read as HTML, the
    address in angle brackets and the text between '<' and '>' were lost."""
    contact = emulator.add_contact(name="Zofia Wróbel", email="zofia@wrobel.pl")
    conversation = emulator.add_conversation(
        contact["id"], "<p>Proszę o kontakt: &lt;zofia.biuro@wrobel.pl&gt;</p><p>Budżet &lt;50 tys., 10+ licencji &amp; "
                       "wdrożenie</p>")
    item = emulator.conversation_view(conversation["id"])
    assert "<p>" not in emulator.notification("conversation.user.created", item)["data"]["item"]["source"]["body"]
    assert emulator.send_webhook(leadhub_url + "/webhooks/intercom", "conversation.user.created", item).status_code == 200
    [stored] = messages(session)
    assert stored.text == "Proszę o kontakt: <zofia.biuro@wrobel.pl>\nBudżet <50 tys., 10+ licencji & wdrożenie"
    assert "&lt;zofia.biuro@wrobel.pl&gt;" in stored.html


def test_a_webhook_from_a_workspace_no_account_holds_is_acknowledged_not_stored(session, emulator, intercom_account,  # noqa: ANN001
                                                                               leadhub_url, caplog) -> None:
    """An app's webhooks come from every workspace that installed it, including ones never connected here (or
    disconnected since), and anyone holding the app's secret can sign one. Before, such a notification created
    leads and messages with no account behind them. Now it is acknowledged (200, so Intercom does not retry it),
    stores nothing, and a warning names the workspace, the topic and the notification."""
    contact = emulator.add_contact(name="Obcy Klient", email="obcy@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Proszę o ofertę</p>")
    url = leadhub_url + "/webhooks/intercom"
    for topic, item in (("conversation.user.created", emulator.conversation_view(conversation["id"])),
                        ("contact.lead.created", contact)):
        notification = {**emulator.notification(topic, item), "app_id": "foreign-ws"}
        answer = emulator.send_webhook(url, "", body=json.dumps(notification).encode())
        assert answer.status_code == 200
        assert "workspace 'foreign-ws'" in caplog.text and notification["id"] in caplog.text
    assert messages(session) == []
    assert session.exec(select(Contact)).all() == []
    # The connected workspace's notifications are stored as before.
    assert emulator.send_webhook(url, "conversation.user.created",
                                 emulator.conversation_view(conversation["id"])).status_code == 200
    assert [m.text for m in messages(session)] == ["Proszę o ofertę"]


def test_a_notification_naming_a_part_redacted_blanks_its_stored_copy(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """A notification carries the conversation as Intercom holds it now: a part redacted since it was stored
    blanks the stored message, as a sync does."""
    contact = emulator.add_contact(name="Hasło", email="haslo@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Dzień dobry</p>")
    secret = emulator.add_part(chat["id"], "<p>hasło: Tajne123</p>", author_type="user")
    url = leadhub_url + "/webhooks/intercom"
    assert emulator.send_webhook(url, "conversation.user.replied", emulator.conversation_view(chat["id"])).ok
    emulator.redact_part(chat["id"], secret["id"])
    assert emulator.send_webhook(url, "conversation.admin.replied", emulator.conversation_view(chat["id"])).ok
    stored = {m.external_id: m for m in messages(session)}
    assert (stored[f"{chat['id']}:{secret['id']}"].text, stored[f"{chat['id']}:{secret['id']}"].html) == ("", "")
    assert stored[f"{chat['id']}:source"].text == "Dzień dobry"


@pytest.mark.parametrize("answer", [["x"], "ok", None, {"conversation_parts": {"conversation_parts": ["x", None, 5]}},
                                    {"conversation_parts": {"conversation_parts": {"a": 1}}},
                                    {"conversation_parts": {"conversation_parts": [{"id": None, "body": "x"}]}}])
def test_a_reply_intercom_accepted_with_an_odd_answer_is_reported_sent(app, client, session, emulator,  # noqa: ANN001
                                                                       intercom_account, answer) -> None:
    """Intercom took the reply (2xx) but answered with something other than a conversation with parts (a list,
    a string, null, parts that are no objects): reading it raised AttributeError/TypeError, the route answered
    500, and a rep told it failed would send it again. It is now reported sent (201), with nothing recorded
    (the next sync brings the reply), and no part id is made up ("1002:None")."""
    app.config["WTF_CSRF_ENABLED"] = False
    contact = emulator.add_contact(name="Odd", email="odd@example.org")
    conversation = emulator.add_conversation(contact["id"], "<p>Oferta?</p>")
    emulator.odd_answers[f"/conversations/{conversation['id']}/reply"] = answer
    sign_in(client, session, role="rep")
    response = client.post(f"/intercom/conversations/{conversation['id']}/reply", json={"body": "Tak"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {"conversation_id": conversation["id"], "external_id": None}
    assert [m.text for m in messages(session)] in ([], ["Oferta?"])


def test_the_card_shows_what_a_lead_typed_as_text_not_as_links(client, session, intercom_settings) -> None:  # noqa: ANN001
    """Canvas Kit's text component renders Markdown links and bold (Intercom's Canvas Kit reference). A name, a
    company or a subject anyone can type into a website form or a mail ("[Verify your account](https://…)")
    became a link in the teammate's Intercom inbox, under the card's own header. The card now shows those
    characters as look-alikes that form no Markdown; its own formatting is kept."""
    lure = "[Zweryfikuj konto](https://evil.example/login) **PILNE**"
    ingest(session, InboundRecord(channel="gmail", external_id="g-2",
                                  contact=ContactIn(name=lure, email="lure@firma.pl", company="*ACME* [x](y)"),
                                  message=MessageIn(external_id="g-2", subject=lure, text="...")))
    ingest(session, InboundRecord(channel="intercom", external_id="ic-2", scope="ws",
                                  contact=ContactIn(email="lure@firma.pl", external_user_id="7abc"),
                                  message=MessageIn(external_id="78:source", thread_id="78", text="chat")))
    session.commit()
    response = canvas_post(client, "/intercom/canvas/initialize", {"customer": {"id": "7abc"}})
    components = response.get_json()["canvas"]["content"]["components"]
    shown = [c.get("text", "") for c in components if c["type"] == "text"]
    shown += [item[key] for c in components if c["type"] == "list" for item in c["items"] for key in ("title", "subtitle")]
    assert not any("](" in text or "**" in text for text in shown), shown
    assert shown[0].startswith("*") and "Zweryfikuj konto" in shown[0] and "ACME" in shown[0]  # the header
    assert any("Zweryfikuj konto" in text for text in shown[1:])  # the subject among the touches


def test_the_part_redacted_notification_blanks_the_stored_copy_at_once(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """Intercom notifies a redaction under its own topic, conversation_part.redacted (its webhook models:
    "Conversation parts being deleted"), with the conversation and the part. It was acknowledged and ignored,
    so the stored copy kept its text until the next sync read the conversation; it is now blanked at once."""
    contact = emulator.add_contact(name="Pesel", email="pesel@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Dzień dobry</p>")
    secret = emulator.add_part(chat["id"], "<p>PESEL 44051401359</p>", author_type="user")
    url = leadhub_url + "/webhooks/intercom"
    assert emulator.send_webhook(url, "conversation.user.replied", emulator.conversation_view(chat["id"])).ok
    emulator.redact_part(chat["id"], secret["id"])
    answer = emulator.send_webhook(url, "conversation_part.redacted", emulator.conversation_view(chat["id"]))
    assert answer.json().get("queued") == "conversation_part.redacted"
    stored = {m.external_id: m for m in messages(session)}
    assert (stored[f"{chat['id']}:{secret['id']}"].text, stored[f"{chat['id']}:{secret['id']}"].meta["redacted"]) == (
        "", True)


def test_a_redaction_notice_of_api_1_blanks_the_stored_copy(session, emulator, leadhub_url) -> None:  # noqa: ANN001
    """An app on API 1.x gets conversation_part.redacted with its conversation in 1.x's layout (`user`,
    `conversation_message`) and the part without a `redacted` flag, its body Intercom's stand-in. Nothing said
    the part was redacted, so the card number stayed in leadhub; the stored copy is now blanked and the rest of
    the conversation left as it was."""
    contact = emulator.add_contact(name="Karta", email="karta@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Dzień dobry</p>")
    secret = emulator.add_part(chat["id"], "<p>Karta 4111 1111 1111 1111</p>", author_type="user")
    url = leadhub_url + "/webhooks/intercom"
    assert emulator.send_webhook(url, "conversation.user.replied", emulator.conversation_view(chat["id"])).ok
    view = emulator.conversation_view(chat["id"])
    api1_item = {
        "type": "conversation", "id": chat["id"], "created_at": view["created_at"], "updated_at": view["updated_at"],
        "user": {"type": "user", "id": contact["id"], "name": "Karta", "email": "karta@example.org"},
        "conversation_message": {key: view["source"][key] for key in ("id", "subject", "body", "author")},
        "conversation_parts": {"type": "conversation_part.list", "total_count": 1, "conversation_parts": [
            {key: value for key, value in secret.items() if key != "redacted"}
            | {"body": "<p><i>This message was deleted</i></p>", "updated_at": secret["updated_at"] + 60}]},
    }
    answer = emulator.send_webhook(url, "conversation_part.redacted", api1_item)
    assert answer.json().get("queued") == "conversation_part.redacted"
    stored = {m.external_id: m for m in messages(session)}
    blanked = stored[f"{chat['id']}:{secret['id']}"]
    assert (blanked.text, blanked.html, blanked.meta.get("redacted")) == ("", "", True)
    assert stored[f"{chat['id']}:source"].text == "Dzień dobry" and len(stored) == 2


def test_the_timeline_says_a_message_was_redacted(client, session) -> None:  # noqa: ANN001
    """A redacted part is stored empty: the lead's timeline showed a blank message from the customer, which read
    as a lost or broken one. It now says it was redacted in Intercom."""
    result = ingest(session, InboundRecord(
        channel="intercom", external_id="79:p1", scope="ws", contact=ContactIn(email="red@example.org"),
        message=MessageIn(external_id="79:p1", thread_id="79", text="", html="", meta={"redacted": True})))
    session.commit()
    sign_in(client, session, role="admin")
    page = client.get(f"/contacts/{result.contact_id}").get_data(as_text=True)
    assert "Redacted in Intercom" in page


def test_the_warning_about_a_foreign_workspace_is_one_short_line(app, session, caplog) -> None:  # noqa: ANN001
    """The warning quoted the notification's app_id, id and topic as sent: a signed body with an app_id of 70,000
    characters, or with line breaks, wrote that much into the log, or lines that read as other log records."""
    from webapp import intercom

    with app.app_context():
        result = intercom.ingest_notification({"id": "n\nFORGED ERROR line", "topic": "conversation.user.created\n",
                                               "app_id": "w\n" * 35_000, "item": {"id": "5"}})
    assert "ignored" in result
    [warning] = [r.getMessage() for r in caplog.records if r.name == "webapp.intercom"]
    assert "\n" not in warning and len(warning) < 500


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON value."""
    found: list[tuple] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found += [(*prefix, key), *_paths(child, (*prefix, key))]
    return found


def test_a_signed_notification_with_any_field_odd_is_never_a_server_error(client, session, emulator,  # noqa: ANN001
                                                                          intercom_account, caplog) -> None:
    """Each field of a conversation and a contact notification, one at a time, set to what a schema or a careless
    sender allows elsewhere (null, "", a number beyond 64 bits, a float, a boolean, a list, an object, 70,000
    characters, a script): every answer is 200 or 400 and the queued task logs no error."""
    import logging

    caplog.set_level(logging.ERROR)
    contact = emulator.add_contact(name="Odd Fields", email="odd@example.org")
    chat = emulator.add_conversation(contact["id"], "<p>Pytanie</p>")
    emulator.add_part(chat["id"], "<p>odpowiedź</p>", author_type="admin")
    odd = [None, "", 2**64, 1.5, True, [], {}, ["x"], "x" * 70_000, "<script>alert(1)</script>"]
    for notification in (emulator.notification("conversation.user.replied", emulator.conversation_view(chat["id"])),
                         emulator.notification("contact.lead.created", contact)):
        for path in _paths(notification):
            for value in odd:
                changed = json.loads(json.dumps(notification))
                target = changed
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
                body = json.dumps(changed).encode()
                signature = "sha1=" + hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha1).hexdigest()
                answer = client.post("/webhooks/intercom", data=body, headers={"X-Hub-Signature": signature})
                assert answer.status_code in (200, 400), (path, value, answer.data[:200])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

"""The rep's side: OAuth connect (state + PKCE) against the emulator, disconnect, push, reply, reconciliation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from sqlmodel import Session, func, select

from connectors.gmail.emulator import Emulator
from core.models import AppSetting, ConnectorAccount, Contact, Message
from core.users import create_user
from webapp.privacy import SHARE_SETTING
from webapp.settings import DOMAINS_SETTING


@pytest.fixture
def rep_client(app, session: Session, gmail_settings: dict[str, Any]):  # noqa: ANN001, ANN201
    app.config["LEADHUB"].update(gmail_settings, GOOGLE_AUTHORIZE_URL=gmail_settings["GMAIL_API_URL"] + "o/oauth2/v2/auth",
                                 GOOGLE_REVOKE_URL=gmail_settings["GMAIL_API_URL"] + "revoke", GMAIL_PUSH_TOKEN="s3cret",
                                 GMAIL_PUBSUB_TOPIC="projects/p/topics/gmail", GMAIL_BACKFILL_DAYS=3650)
    app.config["WTF_CSRF_ENABLED"] = False
    user = create_user(session, email="rep@leadhub.example", role="rep", name="Rep", password="rep-password")
    session.commit()
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(user.id)
        flask_session["_fresh"] = True
    client.user_id = user.id
    return client


def connect(client, emulator: Emulator, mailbox: str = "rep@acme.example"):  # noqa: ANN001, ANN201
    start = client.get("/gmail/connect")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.location).query)
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    assert "gmail.readonly" in query["scope"][0] and "gmail.send" in query["scope"][0]
    consent = requests.get(start.location + f"&login_hint={mailbox}", allow_redirects=False, timeout=10)
    back = urlsplit(consent.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def test_connect_stores_encrypted_tokens_and_syncs(app, rep_client, emulator: Emulator,  # noqa: ANN001
                                                  engine: sa.Engine) -> None:
    emulator.generate("rep@acme.example", 5)
    response = connect(rep_client, emulator)
    assert response.status_code == 302
    with Session(engine) as session:
        account = session.exec(select(ConnectorAccount)).one()
        assert account.label == "rep@acme.example" and account.owner_id == rep_client.user_id
        assert "refresh_token" not in account.credentials_encrypted  # encrypted at rest
        assert app.extensions["leadhub.secretbox"].decrypt(account.credentials_encrypted)["refresh_token"]
        assert account.status == "healthy" and account.sync_state["mode"] == "incremental"
        assert len(session.exec(select(Message)).all()) == 4  # seed 0 is bulk
    assert emulator.watch_topics["rep@acme.example"] == "projects/p/topics/gmail"
    page = rep_client.get("/gmail/")
    assert b"rep@acme.example" in page.data and b"healthy" in page.data


def test_tampered_state_is_refused(rep_client, emulator: Emulator, engine: sa.Engine) -> None:  # noqa: ANN001
    rep_client.get("/gmail/connect")
    response = rep_client.get("/gmail/callback?code=x&state=forged")
    assert response.status_code == 302
    with Session(engine) as session:
        assert session.exec(select(ConnectorAccount)).all() == []


def test_disconnect_revokes_and_stops(rep_client, emulator: Emulator, engine: sa.Engine) -> None:  # noqa: ANN001
    connect(rep_client, emulator)
    with Session(engine) as session:
        account_id = session.exec(select(ConnectorAccount.id)).one()
    refresh_tokens = dict(emulator.refresh_tokens)
    assert rep_client.post(f"/gmail/{account_id}/disconnect").status_code == 302
    assert not set(refresh_tokens) & set(emulator.refresh_tokens)  # revoked at the provider
    with Session(engine) as session:
        account = session.get(ConnectorAccount, account_id)
        assert account.status == "disabled" and account.credentials_encrypted == ""
    assert rep_client.post(f"/gmail/{account_id}/sync").status_code == 409


def push_body(address: str) -> dict:
    data = base64.b64encode(json.dumps({"emailAddress": address, "historyId": "1"}).encode()).decode()
    return {"message": {"data": data, "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}


def test_push_triggers_incremental_sync(rep_client, emulator: Emulator, engine: sa.Engine) -> None:  # noqa: ANN001
    connect(rep_client, emulator)
    emulator.mailbox("rep@acme.example").add(
        b"From: Eva <eva@client.pl>\r\nTo: rep@acme.example\r\nMessage-ID: <push-1@client.pl>\r\n\r\nHello")
    emulator.calls.clear()
    assert rep_client.post("/webhooks/gmail?token=wrong", json=push_body("rep@acme.example")).status_code == 403
    assert rep_client.post("/webhooks/gmail?token=s3cret", data="junk").status_code == 400
    response = rep_client.post("/webhooks/gmail?token=s3cret", json=push_body("REP@acme.example"))
    assert response.status_code == 200 and len(response.json["queued"]) == 1
    assert "history.list" in emulator.calls and "messages.list" not in emulator.calls
    with Session(engine) as session:
        assert session.exec(select(Message).where(Message.external_id == "push-1@client.pl")).first() is not None


def test_reply_goes_out_in_thread_and_lands_on_the_timeline(rep_client, emulator: Emulator,  # noqa: ANN001
                                                            engine: sa.Engine) -> None:
    emulator.mailbox("rep@acme.example").add(
        b"From: Eva <eva@client.pl>\r\nTo: rep@acme.example\r\nSubject: Price\r\nMessage-ID: <ask-1@client.pl>\r\n"
        b"References: <older@client.pl>\r\n\r\nHow much?", thread_id="t-eva")
    connect(rep_client, emulator)
    with Session(engine) as session:
        original = session.exec(select(Message)).one()
    response = rep_client.post(f"/gmail/messages/{original.id}/reply", data={"text": "100 EUR per unit."})
    assert response.status_code == 302
    sent = emulator.mailbox("rep@acme.example").sent
    assert len(sent) == 1 and sent[0]["threadId"] == "t-eva"
    assert b"In-Reply-To: <ask-1@client.pl>" in sent[0]["raw"]
    assert b"References: <older@client.pl> <ask-1@client.pl>" in sent[0]["raw"]
    with Session(engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()
        assert [m.direction for m in rows] == ["in", "out"]
        assert rows[1].conversation_id == rows[0].conversation_id and rows[1].contact_id == rows[0].contact_id
        assert rows[1].subject == "Re: Price"


@pytest.mark.parametrize("from_", [
    "=?utf-8?B?S293YWxza2ksIEphbg==?= <jan@client.pl>",  # 'Kowalski, Jan': a comma in the name
    '"Kowalski, Jan" <jan@client.pl>',
    "=?utf-8?B?IkphbiIgPGV2aWxAeC5wbD4=?= <jan@client.pl>",  # a name decoded to '"Jan" <evil@x.pl>'
])
def test_a_reply_goes_to_the_sender_whatever_their_name_holds(rep_client, emulator: Emulator,  # noqa: ANN001
                                                               engine: sa.Engine, from_: str) -> None:
    """The reply's To was the stored 'Name <address>' with the name unquoted: 'Kowalski, Jan <jan@…>' is two
    addresses (one without a domain, so Gmail refused the mail), and a display name that decodes to '"Jan"
    <evil@x.pl>' sent the rep's answer, and the quote, to evil@x.pl."""
    import email
    from email import policy

    emulator.mailbox("rep@acme.example").add(
        f"From: {from_}\r\nTo: rep@acme.example\r\nSubject: Price\r\nMessage-ID: <ask-1@client.pl>\r\n\r\n"
        f"How much?".encode(), thread_id="t-jan")
    connect(rep_client, emulator)
    with Session(engine) as session:
        original = session.exec(select(Message)).one()
    assert rep_client.post(f"/gmail/messages/{original.id}/reply", data={"text": "100 EUR."}).status_code == 302
    sent = emulator.mailbox("rep@acme.example").sent
    raw = sent[0]["raw"] if isinstance(sent[0]["raw"], bytes) else base64.urlsafe_b64decode(sent[0]["raw"])
    to = email.message_from_bytes(raw, policy=policy.default)["To"]
    assert [a.addr_spec for a in to.addresses] == ["jan@client.pl"]


@pytest.mark.parametrize("stored", [
    "Kowalski, Jan <jan@client.pl>",
    '"Jan" <evil@x.pl> <jan@client.pl>',
    '"Kowalski, Jan" <jan@client.pl>',
    "jan@client.pl",
])
def test_a_reply_to_a_sender_stored_unquoted_goes_to_their_address(rep_client, emulator: Emulator,  # noqa: ANN001
                                                                   engine: sa.Engine, stored: str) -> None:
    """Messages stored before senders were quoted keep 'Name <address>' with the name as it was decoded: the
    reply's To is the stored sender's last angle address, with the name quoted."""
    import email
    from email import policy

    emulator.mailbox("rep@acme.example").add(
        b"From: Jan <jan@client.pl>\r\nTo: rep@acme.example\r\nSubject: Price\r\nMessage-ID: <ask-1@client.pl>\r\n\r\n"
        b"How much?", thread_id="t-jan")
    connect(rep_client, emulator)
    with Session(engine) as session:
        original = session.exec(select(Message)).one()
        original.sender = stored
        session.add(original)
        session.commit()
        original_id = original.id
    assert rep_client.post(f"/gmail/messages/{original_id}/reply", data={"text": "100 EUR."}).status_code == 302
    sent = emulator.mailbox("rep@acme.example").sent
    raw = sent[0]["raw"] if isinstance(sent[0]["raw"], bytes) else base64.urlsafe_b64decode(sent[0]["raw"])
    to = email.message_from_bytes(raw, policy=policy.default)["To"]
    assert [a.addr_spec for a in to.addresses] == ["jan@client.pl"]


@pytest.mark.parametrize(("headers", "stored_before", "to"), [
    # A website form's notification: sent by the site's mailer, the visitor in Reply-To (or only in the body).
    ("From: WordPress <wordpress@acme.example>\r\nReply-To: Ola Zima <ola@zima.pl>", False, ["ola@zima.pl"]),
    ("From: WordPress <wordpress@acme.example>\r\nReply-To: Ola Zima <ola@zima.pl>", True, ["ola@zima.pl"]),
    # A client asking for answers at another address.
    ("From: Jan <jan@client.pl>\r\nReply-To: Biuro <biuro@client.pl>", False, ["biuro@client.pl"]),
    ("From: Jan <jan@client.pl>", False, ["jan@client.pl"]),
])
def test_a_reply_goes_where_the_mail_asks_answers_to_go(rep_client, emulator: Emulator,  # noqa: ANN001
                                                        engine: sa.Engine, headers: str, stored_before: bool,
                                                        to: list[str]) -> None:
    """A reply went to the stored sender: a form notification's answer went to the company's own site mailer
    (wordpress@…), never to the visitor who is the lead; a Reply-To was not honoured. Messages stored before the
    Reply-To was kept: a form notification's reply goes to its lead's address."""
    import email
    from email import policy

    emulator.mailbox("rep@acme.example").add(
        f"{headers}\r\nTo: rep@acme.example\r\nSubject: Zapytanie\r\nMessage-ID: <ask-1@client.pl>\r\n\r\n"
        f"Prosze o oferte".encode(), thread_id="t-1")
    connect(rep_client, emulator)
    with Session(engine) as session:
        original = session.exec(select(Message)).one()
        if stored_before:
            original.meta = {k: v for k, v in original.meta.items() if k != "reply_to"}
            session.add(original)
            session.commit()
        original_id = original.id
    assert rep_client.post(f"/gmail/messages/{original_id}/reply", data={"text": "100 EUR."}).status_code == 302
    sent = emulator.mailbox("rep@acme.example").sent
    raw = sent[0]["raw"] if isinstance(sent[0]["raw"], bytes) else base64.urlsafe_b64decode(sent[0]["raw"])
    assert [a.addr_spec for a in email.message_from_bytes(raw, policy=policy.default)["To"].addresses] == to
    with Session(engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()
        assert rows[1].contact_id == rows[0].contact_id  # the reply is on the same lead's timeline
        assert session.exec(select(func.count()).select_from(Contact)).one() == 1  # and makes no other lead


def test_a_reply_to_a_forwarded_inquiry_goes_to_its_author(rep_client, emulator: Emulator,  # noqa: ANN001
                                                            engine: sa.Engine) -> None:
    """A colleague's forward of a client's inquiry is the client's lead: the rep's answer goes to the client, not
    back to the colleague who passed it on."""
    import email
    from email import policy

    emulator.mailbox("rep@acme.example").add(
        b"From: Ann <ann@acme.example>\r\nTo: rep@acme.example\r\nSubject: Fwd: Oferta\r\nMessage-ID: <f-1@acme.example>"
        b"\r\n\r\nPlease handle\r\n\r\n---------- Forwarded message ---------\r\nFrom: Olga Zima <olga@firma.pl>\r\n"
        b"Subject: Oferta\r\n\r\nProsimy o oferte", thread_id="t-1")
    connect(rep_client, emulator)
    with Session(engine) as session:
        original = session.exec(select(Message)).one()
    assert rep_client.post(f"/gmail/messages/{original.id}/reply", data={"text": "100 EUR."}).status_code == 302
    raw = emulator.mailbox("rep@acme.example").sent[0]["raw"]
    raw = raw if isinstance(raw, bytes) else base64.urlsafe_b64decode(raw)
    assert [a.addr_spec for a in email.message_from_bytes(raw, policy=policy.default)["To"].addresses] == [
        "olga@firma.pl"]


def test_inbox_reply_box_answers_the_newest_inbound_message(app, rep_client, emulator: Emulator,  # noqa: ANN001
                                                           session: Session, engine: sa.Engine) -> None:
    box = emulator.mailbox("rep@acme.example")
    box.add(b"From: Jan <jan@client.pl>\r\nTo: rep@acme.example\r\nSubject: Oferta\r\nMessage-ID: <q-1@client.pl>"
            b"\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nIle kosztuje?", thread_id="t-jan")
    box.add(b"From: Jan <jan@client.pl>\r\nTo: rep@acme.example\r\nSubject: Re: Oferta\r\nMessage-ID: <q-2@client.pl>"
            b"\r\nIn-Reply-To: <q-1@client.pl>\r\nReferences: <q-1@client.pl>\r\n"
            b"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nI jeszcze dostawa?", thread_id="t-jan")
    connect(rep_client, emulator)
    with Session(engine) as db:
        conversation_id = db.exec(select(Message)).first().conversation_id
    page = f"/conversations/{conversation_id}"
    other = create_user(session, email="rep2@leadhub.example", role="rep", name="Other Rep", password="pw-123456")
    manager = create_user(session, email="boss@leadhub.example", role="manager", name="Boss", password="pw-123456")
    session.commit()

    assert b"Send reply" in rep_client.get(page).data
    assert rep_client.post(f"{page}/reply", data={"text": "Cena: 100 zł."}).status_code == 302
    assert len(box.sent) == 1 and box.sent[0]["threadId"] == "t-jan"
    assert b"In-Reply-To: <q-2@client.pl>" in box.sent[0]["raw"] and b"To: Jan <jan@client.pl>" in box.sent[0]["raw"]

    def as_user(user_id: int):  # noqa: ANN202
        client = app.test_client()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = str(user_id)
            flask_session["_fresh"] = True
        return client

    boss = as_user(manager.id)
    assert boss.post(f"{page}/reply", data={"text": "Dostawa jutro."}).status_code == 302
    assert len(box.sent) == 2  # managers may answer from the rep's mailbox
    session.add(AppSetting(key=SHARE_SETTING, value=True))  # bodies shared: another rep reads, but may not send
    session.commit()
    stranger = as_user(other.id)
    shown = stranger.get(page).get_data(as_text=True)  # the page says why instead of offering the box
    assert "Send reply" not in shown and "owner, a manager or an admin can send" in shown
    stranger.post(f"{page}/reply", data={"text": "From someone else"})  # and a post made anyway is refused
    assert "owner, a manager or an admin can send" in stranger.get(page).get_data(as_text=True)
    assert len(box.sent) == 2
    with Session(engine) as db:
        account = db.exec(select(ConnectorAccount)).one()
        account.status = "reconnect_needed"
        db.add(account)
        db.commit()
    rep_client.post(f"{page}/reply", data={"text": "After the token died"})
    shown = rep_client.get(page).get_data(as_text=True)
    assert "needs reconnecting" in shown and "Send reply" not in shown
    assert len(box.sent) == 2
    with Session(engine) as db:
        out = db.exec(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
        assert [m.text for m in out] == ["Cena: 100 zł.", "Dostawa jutro."]
        assert {m.conversation_id for m in out} == {conversation_id}


def test_company_domains_set_by_the_admin_keep_colleagues_out(rep_client, emulator: Emulator,  # noqa: ANN001
                                                               session: Session, engine: sa.Engine) -> None:
    session.add(AppSetting(key=DOMAINS_SETTING, value=["acme-group.pl"]))  # the mailbox's own domain counts anyway
    session.commit()
    box = emulator.mailbox("rep@acme.example")
    box.add(b"From: Boss <boss@acme-group.pl>\r\nTo: rep@acme.example\r\nSubject: Lunch?\r\n"
            b"Message-ID: <in-1@acme-group.pl>\r\n\r\nAt noon.", thread_id="t-in")
    box.add(b"From: Ola <ola@klient.pl>\r\nTo: rep@acme.example\r\nSubject: Zapytanie\r\n"
            b"Message-ID: <out-1@klient.pl>\r\n\r\nProsze o oferte.", thread_id="t-out")
    connect(rep_client, emulator)
    with Session(engine) as db:
        assert [m.sender for m in db.exec(select(Message)).all()] == ["Ola <ola@klient.pl>"]
    page = rep_client.get("/gmail/").get_data(as_text=True)  # the rep sees what was left out, and why
    assert "1 left out" in page and "internal: every recipient is in the company&#39;s domains" in page


def test_reconciliation_reports_what_the_store_lacks(rep_client, emulator: Emulator,  # noqa: ANN001
                                                     engine: sa.Engine, app, make_account: Callable) -> None:
    emulator.generate("rep@acme.example", 12)
    connect(rep_client, emulator)
    with Session(engine) as session:
        account = session.exec(select(ConnectorAccount)).one()
        lost = session.exec(select(Message).order_by(Message.id)).first()
        session.delete(lost)  # a message silently lost
        session.commit()
        account_id, lost_id = account.id, lost.external_id
    assert rep_client.post(f"/gmail/{account_id}/reconcile").status_code == 302
    with Session(engine) as session:
        report = session.get(ConnectorAccount, account_id).config["reconciliation"]
    assert report["checked"] == 12 and report["expected"] == 11
    assert [m["message_id"] for m in report["missing"]] == [lost_id]


@pytest.mark.parametrize("fault", ["429", "500", "invalid_grant"])
def test_reconciliation_that_gmail_does_not_answer_says_so(rep_client, emulator: Emulator,  # noqa: ANN001
                                                           engine: sa.Engine, fault: str) -> None:
    """Gmail still rate-limited or failing after the retries, or the grant revoked: the reconciliation was a 500
    page (the error escaped the view). Now the rep is told why, and the last report stays."""
    emulator.generate("rep@acme.example", 3)
    connect(rep_client, emulator)
    with Session(engine) as session:
        account_id = session.exec(select(ConnectorAccount)).one().id
    if fault == "invalid_grant":
        emulator.access_tokens.clear()
        emulator.faults.invalid_grant = True
    else:
        emulator.faults.once = [fault] * 6
    response = rep_client.post(f"/gmail/{account_id}/reconcile")
    assert response.status_code == 302
    page = rep_client.get(response.location).get_data(as_text=True)
    assert "Reconciliation could not finish" in page
    with Session(engine) as session:
        assert "reconciliation" not in (session.get(ConnectorAccount, account_id).config or {})


@pytest.mark.parametrize("step", ["connect", "reply", "disconnect"])
def test_a_concurrent_writer_is_waited_for_not_a_reason_to_fail(rep_client, emulator: Emulator,  # noqa: ANN001
                                                                engine: sa.Engine, step: str) -> None:
    """A sync or an import commits after the request read and before it writes. Each of these steps has already
    spent something at Google when it writes (the one-time code; the sent mail; the revoked token): on SQLite
    it answered "busy, nothing was saved" and a retry could not succeed (connect) or sent the mail twice
    (reply). The write now waits for the other writer: both land, and the mail is recorded once."""
    from tests.racing import commit_before_first_write, writers_stored

    emulator.mailbox("rep@acme.example").add(
        b"From: Eva <eva@client.pl>\r\nTo: rep@acme.example\r\nSubject: Price\r\nMessage-ID: <ask-2@client.pl>\r\n"
        b"\r\nHow much?", thread_id="t-eva")
    if step != "connect":
        assert connect(rep_client, emulator).status_code == 302
    with Session(engine) as session:
        account_id = session.exec(select(ConnectorAccount.id)).first()
        original_id = session.exec(select(Message.id)).first()
    with commit_before_first_write(engine) as writers:
        response = {
            "connect": lambda: connect(rep_client, emulator),
            "reply": lambda: rep_client.post(f"/gmail/messages/{original_id}/reply", data={"text": "100 EUR."}),
            "disconnect": lambda: rep_client.post(f"/gmail/{account_id}/disconnect"),
        }[step]()
    assert response.status_code == 302, response.data[:300]
    assert len(writers) == 1 and writers_stored(engine) == 1
    with Session(engine) as session:
        account = session.exec(select(ConnectorAccount)).one()
        if step == "connect":
            assert account.status == "healthy" and account.owner_id == rep_client.user_id
        elif step == "reply":
            assert len(emulator.mailbox("rep@acme.example").sent) == 1
            assert [m.direction for m in session.exec(select(Message).order_by(Message.id)).all()] == ["in", "out"]
        else:
            assert account.status == "disabled" and account.credentials_encrypted == ""

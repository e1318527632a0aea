"""Sign-in hardening, demo mode, lead page, duplicates queue, admin settings and My connections."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from core.contacts import contact_detail
from core.identity import merge_contacts
from core.models import AppSetting, ConnectorAccount, DuplicateSuggestion, Message, User
from tests.webapp.conftest import PASSWORD
from tests.webapp.helpers import add_message


def csrf_token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


# --------------------------------------------------------------------------- sign-in


def test_password_sign_in_and_failed_attempts_are_rate_limited(app, users) -> None:
    app.config["LEADHUB"]["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    good = {"email": users["manager"].email, "password": PASSWORD, "csrf_token": token}
    bad = {**good, "password": "wrong-password"}
    assert [client.post("/login", data=bad).status_code for _ in range(4)] == [401, 401, 401, 429]
    # The right password from the same address is refused too while the window lasts.
    assert client.post("/login", data=good).status_code == 429


def test_successful_sign_ins_do_not_count(app, users) -> None:
    app.config["LEADHUB"]["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    for _ in range(4):
        response = client.post("/login", data={"email": users["rep"].email, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/inbox").data)})
        token = csrf_token(client.get("/login").data)


def test_login_without_csrf_token_is_refused(app, users) -> None:
    response = app.test_client().post("/login", data={"email": users["rep"].email, "password": PASSWORD})
    assert response.status_code == 400


def test_demo_buttons_and_banner_only_with_demo_data(app, client, session: Session) -> None:
    from webapp.demo import seed_demo

    app.config["LEADHUB"]["DEMO"] = "auto"
    assert b"Sign in as" not in client.get("/login").data
    assert client.post("/login/demo", data={"email": "manager@demo.leadhub.example",
                                            "csrf_token": csrf_token(client.get("/login").data)}).status_code == 404
    seed_demo(session)
    page = client.get("/login").data
    assert page.count(b"Sign in as") == 4 and b"Demo data" in page
    response = client.post("/login/demo", data={"email": "admin@demo.leadhub.example", "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and b"Demo data" in inbox.data and b"Admin (admin)" in inbox.data
    # A website form to try, with its hosted page; seeding again does not add a second one.
    forms = client.get("/admin/forms").get_data(as_text=True)
    [hosted] = re.findall(r'href="(/f/[^"]+)"', forms)
    assert "Kontakt (demo)" in forms and client.get(hosted).status_code == 200
    seed_demo(session)
    assert len(re.findall(r'href="(/f/[^"]+)"', client.get("/admin/forms").get_data(as_text=True))) == 1
    # Only demo accounts can be entered without a password.
    session.add(User(email="real@corp.example", role="admin", name="Real"))
    session.commit()
    other = app.test_client()
    assert other.post("/login/demo", data={"email": "real@corp.example",
                                           "csrf_token": csrf_token(other.get("/login").data)}).status_code == 404
    app.config["LEADHUB"]["DEMO"] = "off"
    assert b"Sign in as" not in app.test_client().get("/login").data


def test_security_headers(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --------------------------------------------------------------------------- lead page


def test_an_auto_reply_is_marked_on_the_timeline(as_role, session: Session) -> None:
    from core.ingest import ingest
    from core.schemas import InboundRecord

    first = add_message(session, channel="gmail", name="Eva Maj", email="eva@maj.example", subject="Price please")
    ingest(session, InboundRecord.model_validate({
        "channel": "gmail", "contact": {"email": "eva@maj.example"},
        "message": {"external_id": "ooo-1", "kind": "auto_reply", "subject": "Out of office", "text": "Away"}}))
    session.commit()
    page = as_role("manager").get(f"/contacts/{first.contact_id}").data.decode()
    assert "Out of office" in page and page.count("auto-reply</span>") == 1


def test_the_leads_page_reaches_every_lead_and_says_where_leads_come_from(as_role, session: Session) -> None:
    """The Leads page showed the newest fifty and no way on: the fifty-first lead could not be reached from it.
    Empty, it said "No leads yet." and nothing about how a lead gets in."""
    rep, admin = as_role("rep"), as_role("admin")
    empty = rep.get("/").get_data(as_text=True)
    assert "/me/connections" in empty and "POST /api/v1/inbound" in empty and "/settings/connectors" not in empty
    assert "/settings/connectors" in admin.get("/").get_data(as_text=True)
    assert "connect your channels" in rep.get("/inbox").get_data(as_text=True)
    for n in range(53):
        add_message(session, name=f"Klient {n:02d}", email=f"klient{n}@firma{n}.pl", minutes_ago=n)
    seen: list[str] = []
    url = "/"
    for _ in range(5):
        page = rep.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        seen += re.findall(r">(Klient \d\d)</a>", html)
        older = re.search(r'<a rel="next" href="([^"]+)"', html)
        if older is None:
            break
        url = older.group(1).replace("&amp;", "&")
    assert sorted(seen) == [f"Klient {n:02d}" for n in range(53)]
    assert "No leads yet" not in html
    bad = rep.get("/?cursor=not-a-cursor")
    assert bad.status_code == 400 and b"damaged or out of date" in bad.data


def test_lead_page_identities_timeline_notes_and_redirect(as_role, session: Session) -> None:
    a = add_message(session, channel="form", name="Ewa Lis", email="ewa@lis.example", subject="Form subject",
                    minutes_ago=30)
    b = add_message(session, channel="intercom", name="Ewa Lis", email="ewa.lis@gmail.com",
                    external_user_id="ic-7", subject="Chat subject", minutes_ago=5)
    event = merge_contacts(session, survivor_id=a.contact_id, merged_id=b.contact_id, reason="test", actor="t")
    session.commit()
    client = as_role("rep")
    page = client.get(f"/contacts/{a.contact_id}").data.decode()
    assert "ewa@lis.example" in page and "ewa.lis@gmail.com" in page and "ic-7" in page
    assert "from Website form" in page and "from Intercom" in page
    assert page.index("Form subject") < page.index("Chat subject")  # one chronological column
    assert f"Merged from lead #{b.contact_id}" in page and "Undo" in page
    moved = client.get(f"/contacts/{b.contact_id}")
    assert moved.status_code == 301 and moved.location.endswith(f"/contacts/{a.contact_id}")
    assert client.post(f"/contacts/{a.contact_id}/notes", data={"text": "Called, wants a demo"}).status_code == 302
    assert "Called, wants a demo" in client.get(f"/contacts/{a.contact_id}").data.decode()
    assert b"Called, wants a demo" not in client.get("/inbox").data  # notes are not inbox items
    # Undo from the history: the two leads are separate again, each with its own messages.
    assert client.post(f"/merges/{event.id}/undo").status_code == 302
    session.rollback()
    assert contact_detail(session, b.contact_id)["id"] == b.contact_id
    assert client.post(f"/merges/{event.id}/undo").status_code == 302  # already undone: a message, not a 500
    assert client.get("/contacts/999999").status_code == 404


def test_html_mail_frame_is_sanitised_with_strict_csp(as_role, session: Session) -> None:
    r = add_message(session, name="Html Sender", html='<p>Hi<img src="https://tracker.example/x.png">'
                    '<script>alert(1)</script><a href="javascript:alert(2)">x</a></p>')
    message = session.exec(select(Message).where(Message.conversation_id == r.conversation_id)).one()
    client = as_role("manager")
    page = client.get(f"/contacts/{r.contact_id}").data.decode()
    assert 'sandbox=""' in page and f"/messages/{message.id}/frame" in page
    frame = client.get(f"/messages/{message.id}/frame")
    body = frame.data.decode()
    assert "<script" not in body and "javascript:" not in body
    csp = frame.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "https:" not in csp
    assert "https:" in client.get(f"/messages/{message.id}/frame?images=1").headers["Content-Security-Policy"]
    # "Show images" was a button only app.js gave a meaning to; a link works without JavaScript as well.
    assert re.search(rf'<a class="show-images" href="/messages/{message.id}/frame\?images=1"[^>]*>Show images</a>',
                     page)


# --------------------------------------------------------------------------- duplicates


def _suggestion(session: Session) -> tuple[DuplicateSuggestion, int, int]:
    a = add_message(session, name="Łukasz Wójcik", email="lukasz@budmax.pl", company="Budmax")
    b = add_message(session, name="Lukasz Wojcik", email="l.wojcik@budmax.pl", company="Budmax")
    suggestion = session.exec(select(DuplicateSuggestion).where(DuplicateSuggestion.status == "open")).first()
    assert suggestion is not None
    return suggestion, a.contact_id, b.contact_id


def test_duplicates_merge_choosing_survivor_then_undo(as_role, session: Session) -> None:
    suggestion, a, b = _suggestion(session)
    client = as_role("manager")
    page = client.get("/duplicates").data.decode()
    assert "Łukasz Wójcik" in page and "Lukasz Wojcik" in page and suggestion.reasons[0] in page
    assert client.post(f"/duplicates/{suggestion.id}/merge", data={"survivor_id": "12345"}).status_code == 302
    response = client.post(f"/duplicates/{suggestion.id}/merge", data={"survivor_id": str(b)})
    assert response.location.endswith(f"/contacts/{b}")
    session.rollback()
    assert contact_detail(session, a)["id"] == b
    lead = client.get(f"/contacts/{b}").data.decode()
    merge_id = re.search(r'data-undo-merge="(\d+)"', lead).group(1)
    client.post(f"/merges/{merge_id}/undo")
    session.rollback()
    assert contact_detail(session, a)["id"] == a


@pytest.mark.parametrize("step", ["merge", "dismiss", "undo", "stage", "bant", "inbox stage"])
def test_a_change_waits_for_a_concurrent_writer_instead_of_failing(app, as_role, session: Session, monkeypatch,
                                                                    step: str) -> None:
    """A manager's change while an import or sync writes: that writer commits after the page's view has read.
    On SQLite the view could then not write any more and showed "busy"; its transaction now takes the write
    lock first, so the other writer waits for it. Both land."""
    import webapp.duplicates
    import webapp.inbox
    import webapp.leads
    import webapp.qualify.views
    from tests.racing import commit_during, writers_stored

    suggestion, a, b = _suggestion(session)
    session.commit()
    client = as_role("manager")
    merge_id = None
    if step == "undo":
        merge_id = merge_contacts(session, survivor_id=a, merged_id=b, reason="test", actor="test").id
        session.commit()
    conversation_id = session.exec(select(Message.conversation_id).where(Message.contact_id == a)).first()
    engine = app.extensions["leadhub.engine"]
    qualify = webapp.qualify.views
    call = {
        "merge": (webapp.duplicates, "merge_contacts",
                  lambda: client.post(f"/duplicates/{suggestion.id}/merge", data={"survivor_id": str(a)})),
        "dismiss": (webapp.duplicates, "dismiss_suggestion", lambda: client.post(f"/duplicates/{suggestion.id}/dismiss")),
        "undo": (webapp.leads, "undo_merge", lambda: client.post(f"/merges/{merge_id}/undo")),
        "stage": (qualify, "set_stage", lambda: client.post(f"/qualify/leads/{a}/stage", data={"stage": "sql"})),
        "bant": (qualify, "update_bant", lambda: client.post(f"/qualify/leads/{a}/bant", data={"need": "roof"})),
        "inbox stage": (webapp.inbox, "set_stage",
                        lambda: client.post(f"/conversations/{conversation_id}/stage", data={"stage": "sql"})),
    }
    module, name, request = call[step]
    writers = commit_during(monkeypatch, engine, module, name)
    response = request()
    for writer in writers:
        writer.join()
    assert response.status_code == 302, response.data[:300]
    assert len(writers) == 1
    assert writers_stored(engine) == 1
    session.rollback()
    if "stage" in step:  # the change itself landed
        assert contact_detail(session, a)["stage"] == "sql"


def test_duplicates_dismiss(as_role, session: Session) -> None:
    suggestion, _, _ = _suggestion(session)
    client = as_role("rep")
    assert client.post(f"/duplicates/{suggestion.id}/dismiss").status_code == 302
    session.rollback()
    assert session.get(DuplicateSuggestion, suggestion.id).status == "dismissed"
    assert b"No open suggestions" in client.get("/duplicates").data
    assert client.post("/duplicates/99999/dismiss").status_code == 404


def test_a_merged_suggestion_is_not_dismissed_from_an_old_page(as_role, session: Session) -> None:
    suggestion, a, b = _suggestion(session)
    client = as_role("manager")
    assert client.post(f"/duplicates/{suggestion.id}/merge", data={"survivor_id": str(a)}).status_code == 302
    response = client.post(f"/duplicates/{suggestion.id}/dismiss", follow_redirects=True)
    assert response.status_code == 200 and "undo the merge" in response.data.decode()
    session.rollback()
    assert session.get(DuplicateSuggestion, suggestion.id).status == "merged"


# --------------------------------------------------------------------------- admin settings


def test_connector_credentials_are_stored_encrypted_and_shown_masked(app, as_role, session: Session,
                                                                     monkeypatch) -> None:
    from connectors.base import _REGISTRY, ConfigField, Connector

    class FakeConnector(Connector):
        type = "fakeprov"
        title = "Fake Provider"
        config_fields = (ConfigField("client_id", "Client id"), ConfigField("client_secret", "Secret", secret=True))

        def read(self, state):  # noqa: ANN001, ANN201
            return iter(())

    monkeypatch.setitem(_REGISTRY, "fakeprov", FakeConnector)
    admin = as_role("admin")
    assert admin.post("/settings/connectors/fakeprov/credentials",
                      data={"client_id": "cid-123", "client_secret": "supersecretvalue9876"}).status_code == 302
    stored = session.get(AppSetting, "connector_credentials:fakeprov").value
    assert "supersecretvalue" not in str(stored) and "cid-123" not in str(stored)
    page = admin.get("/settings/connectors").data.decode()
    assert "Fake Provider" in page and "cid-123" in page and "9876" in page and "supersecretvalue" not in page
    # An empty secret field keeps what is stored.
    admin.post("/settings/connectors/fakeprov/credentials", data={"client_id": "cid-456", "client_secret": ""})
    from webapp.settings import connector_credentials

    session.rollback()
    assert connector_credentials(session, "fakeprov", app.extensions["leadhub.secretbox"]) == {
        "client_id": "cid-456", "client_secret": "supersecretvalue9876"}
    admin.post("/settings/connectors/fakeprov/enabled", data={"enabled": "0"})
    session.rollback()
    assert "fakeprov" not in session.get(AppSetting, "connectors_enabled").value
    assert admin.post("/settings/connectors/nope/enabled", data={"enabled": "1"}).status_code == 404


def test_accounts_listed_with_plain_errors_and_sync_now(as_role, session: Session, users) -> None:
    account = ConnectorAccount(type="gmail", owner_id=users["rep"].id, label="rep@web.example",
                               status="reconnect_needed", last_error="ReconnectNeeded: invalid_grant",
                               messages_synced=42)
    session.add(account)
    session.commit()
    admin = as_role("admin")
    page = admin.get("/settings/connectors").data.decode()
    assert "rep@web.example" in page and "reconnect needed" in page and "42" in page
    assert "must connect it again" in page
    assert admin.post(f"/settings/accounts/{account.id}/sync").status_code == 302
    assert admin.post("/settings/accounts/99999/sync").status_code == 404
    mine = as_role("rep").get("/me/connections").data.decode()
    assert "rep@web.example" in mine and "Connect Gmail" in mine


def test_users_create_change_role_deactivate(as_role, session: Session, users) -> None:
    admin = as_role("admin")
    assert admin.post("/settings/users", data={"email": "New@Corp.example", "name": "New", "role": "manager",
                                               "password": "long-enough-pw"}).status_code == 302
    assert admin.post("/settings/users", data={"email": "not-an-email", "role": "rep"}).status_code == 400
    new = session.exec(select(User).where(User.email == "new@corp.example")).one()
    admin.post(f"/settings/users/{new.id}", data={"role": "rep"})
    admin.post(f"/settings/users/{new.id}", data={"active": "0"})
    admin.post(f"/settings/users/{users['admin'].id}", data={"active": "0"})  # not yourself
    session.rollback()
    assert (session.get(User, new.id).role, session.get(User, new.id).active) == ("rep", False)
    assert session.get(User, users["admin"].id).active is True


def test_a_refused_new_user_keeps_what_the_admin_typed(as_role, session: Session, users) -> None:
    """A refused "New user" redirected to an empty form: the email, name and role had to be typed again, the
    reason only in a flash above the users table. Now the form comes back filled (but the password), saying why."""
    admin = as_role("admin")
    for typed, reason in (
        ({"email": "jan.kowalski@firma", "name": "Jan Kowalski-Wiśniewski", "role": "manager"},
         "Not a valid email address: The part after the @-sign is not valid."),
        ({"email": "nowy@firma.pl", "name": "Алексей Иванов", "role": "manager", "password": "short"},
         "A password needs at least 8 characters."),
        ({"email": users["rep"].email, "name": "Rep again", "role": "admin"}, "already exists"),
    ):
        page = admin.post("/settings/users", data=typed)
        html = page.get_data(as_text=True)
        assert page.status_code == 400
        assert f'name="email" value="{typed["email"]}"' in html and f'name="name" value="{typed["name"]}"' in html
        assert f'<option value="{typed["role"]}" selected>' in html
        assert reason in html and 'role="alert"' in html
        assert "short" not in html  # never the password
    assert session.exec(select(User).where(User.email == "nowy@firma.pl")).first() is None


def test_company_domains(as_role, session: Session) -> None:
    admin = as_role("admin")
    admin.post("/settings/general", data={"domains": "Acme.example\n@beta.example, gmail.com\nnot a domain"})
    assert session.get(AppSetting, "company_domains").value == ["acme.example", "beta.example"]
    assert b"acme.example" in admin.get("/settings/general").data


def test_company_domains_pasted_as_url_or_address_are_kept_as_the_domain(as_role, session: Session) -> None:
    # What an admin pastes: the site's address from the browser, someone's email, the www. name; and what is no
    # domain at all (markup, a NUL, an underscore, no dot). Before, each was stored as typed and matched no mail.
    admin = as_role("admin")
    admin.post("/settings/general", data={"domains": "https://www.Budmax.pl/kontakt?x=1\njan.kowalski@stal-hurt.pl\n"
                                                     "www.firma.com.pl\nacme.example.\nhurt\u200b-2.pl\n<script>.pl\nbad\x00.pl\n"
                                                     "under_score.pl\nlocalhost\nmailto:biuro@gmail.com"})
    assert session.get(AppSetting, "company_domains").value == ["budmax.pl", "stal-hurt.pl", "firma.com.pl",
                                                                 "acme.example", "hurt-2.pl"]
    page = admin.get("/settings/general").get_data(as_text=True)
    assert "&lt;script&gt;.pl" in page and "<script>.pl" not in page  # the refusal names it, escaped

"""Every page that saves something, while an import or a sync writes to the same store.

The other writer commits after the page's request has read (its signed-in user at least) and before it writes.
On SQLite a request whose transaction began deferred could not write any more: it answered "busy, nothing was
saved" (503), and the admin had to send the form again (an OAuth code or a sent reply could not be). These
pages now take the write lock before they write, so the other writer waits for them: both land. On PostgreSQL
the race never failed; the same table runs there as a check that nothing else changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from core.db import make_engine
from core.models import (
    ApiToken,
    AppSetting,
    ConnectorAccount,
    ConversationRead,
    Form,
    MailTemplate,
    MassSend,
    RoutingRule,
    User,
    WebhookEndpoint,
)
from core.qualification import RESCORE_JOB_KEY
from tests.racing import commit_before_first_write, writers_stored
from tests.webapp.helpers import add_message


@dataclass(frozen=True)
class Save:
    role: str
    request: Callable[[FlaskClient, dict[str, Any]], Any]
    landed: Callable[[Session, dict[str, Any]], bool]
    setup: Callable[[Session, dict[str, User]], dict[str, Any]] = lambda _s, users: {"users": users}
    status: int = 302


def _send(session: Session, users: dict[str, User]) -> dict[str, Any]:
    send = MassSend(created_by=users["manager"].id, subject="Oferta", body="Dzień dobry")
    session.add(send)
    session.commit()
    return {"send_id": send.id}


def _mailbox(session: Session, users: dict[str, User]) -> dict[str, Any]:
    account = ConnectorAccount(type="gmail", owner_id=users["rep"].id, label="rep@web.example",
                               external_id="rep@web.example", status="healthy")
    session.add(account)
    session.commit()
    return {"account_id": account.id}


def _conversation(session: Session, users: dict[str, User]) -> dict[str, Any]:
    result = add_message(session, name="Zofia Dąbrowska", email="zofia@budmax.pl")
    return {"conversation_id": result.conversation_id, "user_id": users["manager"].id}


def _setting(session: Session, key: str) -> Any:
    row = session.get(AppSetting, key)
    return row.value if row is not None else None


SAVES = {
    "switch a connector off": Save(
        "admin", lambda c, _: c.post("/settings/connectors/gmail/enabled", data={"enabled": "0"}),
        lambda s, _: "gmail" not in (_setting(s, "connectors_enabled") or [])),
    "connector credentials": Save(
        "admin", lambda c, _: c.post("/settings/connectors/gmail/credentials", data={"client_id": "cid-42"}),
        lambda s, _: _setting(s, "connector_credentials:gmail") is not None),
    "add a user": Save(
        "admin", lambda c, _: c.post("/settings/users", data={"email": "nowy@firma.pl", "role": "rep",
                                                               "name": "Nowy Handlowiec"}),
        lambda s, _: s.exec(select(User).where(User.email == "nowy@firma.pl")).first() is not None),
    "change a user's role": Save(
        "admin", lambda c, ctx: c.post(f"/settings/users/{ctx['users']['rep'].id}", data={"role": "manager"}),
        lambda s, ctx: s.get(User, ctx["users"]["rep"].id).role == "manager"),
    "company domains": Save(
        "admin", lambda c, _: c.post("/settings/general", data={"domains": "budmax.pl"}),
        lambda s, _: _setting(s, "company_domains") == ["budmax.pl"]),
    "new mail template": Save(
        "manager", lambda c, _: c.post("/mail/templates/new", data={"name": "Oferta", "subject": "Oferta",
                                                                     "body": "Dzień dobry {{ first_name }}"}),
        lambda s, _: s.exec(select(MailTemplate).where(MailTemplate.name == "Oferta")).first() is not None),
    "cancel a mass send": Save(
        "manager", lambda c, ctx: c.post(f"/mail/sends/{ctx['send_id']}/cancel"),
        lambda s, ctx: s.get(MassSend, ctx["send_id"]).status == "cancelled", setup=_send),
    "new web form": Save(
        "admin", lambda c, _: c.post("/admin/forms/new", data={
            "name": "Zapytanie", "type": "quote", "active": "on", "field_count": "2",
            "f-0-name": "full_name", "f-0-label": "Imię i nazwisko", "f-0-kind": "text", "f-0-maps_to": "name",
            "f-1-name": "email", "f-1-label": "E-mail", "f-1-kind": "email", "f-1-required": "on",
            "f-1-maps_to": "email"}),
        lambda s, _: s.exec(select(Form).where(Form.name == "Zapytanie")).first() is not None),
    "routing rule": Save(
        "admin", lambda c, ctx: c.post("/qualify/routing", data={
            "action": "add", "name": "Polska", "country": "pl", "assignees": str(ctx["users"]["rep"].id)}),
        lambda s, _: s.exec(select(RoutingRule).where(RoutingRule.name == "Polska")).first() is not None),
    "webhook endpoint": Save(
        "admin", lambda c, _: c.post("/qualify/webhooks", data={
            "action": "add", "url": "https://crm.example/hook", "events": "lead.created"}),
        lambda s, _: s.exec(select(WebhookEndpoint)).first() is not None, status=200),
    "rescore every lead": Save(
        "admin", lambda c, _: c.post("/qualify/rules/rescore"),
        lambda s, _: (_setting(s, RESCORE_JOB_KEY) or {}).get("status") == "done"),
    "LinkedIn token": Save(
        "rep", lambda c, _: c.post("/linkedin/token"),
        lambda s, ctx: s.exec(select(ApiToken).where(ApiToken.user_id == ctx["users"]["rep"].id)).first() is not None,
        status=200),
    "disconnect Gmail": Save(
        "rep", lambda c, ctx: c.post(f"/gmail/{ctx['account_id']}/disconnect"),
        lambda s, ctx: s.get(ConnectorAccount, ctx["account_id"]).status == "disabled", setup=_mailbox),
    "open a conversation (marks it read)": Save(
        "manager", lambda c, ctx: c.get(f"/conversations/{ctx['conversation_id']}"),
        lambda s, ctx: s.get(ConversationRead, (ctx["user_id"], ctx["conversation_id"])) is not None,
        setup=_conversation, status=200),
}


@pytest.mark.parametrize("name", list(SAVES))
def test_a_save_waits_for_a_concurrent_writer_instead_of_failing(app, as_role, users, session: Session,
                                                                  name: str) -> None:
    save = SAVES[name]
    context = save.setup(session, users) | {"users": users}
    client = as_role(save.role)
    engine = app.extensions["leadhub.engine"]
    with commit_before_first_write(engine) as writers:
        response = save.request(client, context)
    assert response.status_code == save.status, response.data[:300]
    assert len(writers) == 1, "the page wrote nothing"
    assert writers_stored(engine) == 1
    session.rollback()
    session.expire_all()  # (the fixtures' users were loaded here before the request changed them)
    assert save.landed(session, context)


def test_a_conversation_opens_while_another_writer_holds_the_lock(app, as_role, users, session: Session) -> None:
    """An import holds the write lock batch after batch. Opening a conversation notes that the manager read it;
    the page is served without the note rather than wait (SQLite's busy timeout is 30 s) or fail, and the next
    visit notes it."""
    context = _conversation(session, users)
    client = as_role("manager")
    engine = app.extensions["leadhub.engine"]
    holder = make_engine(engine.url.render_as_string(hide_password=False))
    mark = (context["user_id"], context["conversation_id"])
    try:
        with holder.connect() as other:
            if other.dialect.name == "sqlite":
                other.execution_options(sqlite_begin="IMMEDIATE").exec_driver_sql("SELECT 1")
            else:
                other.exec_driver_sql("LOCK TABLE conversation_reads IN EXCLUSIVE MODE")
            page = client.get(f"/conversations/{context['conversation_id']}")
            assert page.status_code == 200 and "Zofia Dąbrowska" in page.data.decode()
            other.rollback()
        session.expire_all()
        assert session.get(ConversationRead, mark) is None
        assert client.get(f"/conversations/{context['conversation_id']}").status_code == 200
        session.rollback()
        assert session.get(ConversationRead, mark) is not None
    finally:
        holder.dispose()

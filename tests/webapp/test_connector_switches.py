"""Settings → Connectors takes effect: a connector an admin switches off stops syncing, connecting, saving and
receiving; provider credentials entered there replace the environment's; connector-wide values reach syncs."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

from sqlmodel import Session, select

from connectors.base import ConnectorContext
from connectors.sync import build_context
from core.models import ConnectorAccount, Message, SyncRun
from core.users import create_api_token
from webapp.settings import ENABLED_SETTING, effective_settings
from webapp.sync_health import due_accounts


def switch(admin, connector_type: str, on: bool) -> None:  # noqa: ANN001
    response = admin.post(f"/settings/connectors/{connector_type}/enabled", data={"enabled": "1" if on else "0"})
    assert response.status_code == 302


def test_a_switched_off_connector_stops_everywhere(app, as_role, session: Session, users) -> None:  # noqa: ANN001
    account = ConnectorAccount(type="gmail", owner_id=users["rep"].id, label="rep@web.example", status="healthy")
    session.add(account)
    session.commit()
    admin, rep = as_role("admin"), as_role("rep")
    app.config["LEADHUB"].update(GOOGLE_CLIENT_ID="cid", GOOGLE_CLIENT_SECRET="sec", GMAIL_PUSH_TOKEN="tok",
                                 INTERCOM_CLIENT_SECRET="ic-secret")
    assert due_accounts(session, 60) == [account.id]
    assert rep.get("/gmail/connect").status_code == 302  # on: off to Google

    for connector_type in ("gmail", "intercom", "linkedin", "form"):
        switch(admin, connector_type, False)
    session.rollback()  # a fresh read transaction: SQLite readers see their transaction's start
    assert due_accounts(session, 60) == []
    page = rep.get("/gmail/connect")
    assert page.status_code == 403 and "The Gmail connector is switched off" in page.get_data(as_text=True)
    assert "The Gmail connector is switched off" in rep.get("/gmail/").get_data(as_text=True)
    push = {"message": {"data": base64.b64encode(json.dumps(
        {"emailAddress": "rep@web.example", "historyId": "1"}).encode()).decode()}}
    acknowledged = rep.post("/webhooks/gmail?token=tok", json=push)
    assert acknowledged.status_code == 200 and "queued" not in acknowledged.get_json()
    hook = rep.post("/webhooks/intercom", data=b'{"topic": "ping"}', headers={"X-Hub-Signature": "sha1=bad"})
    assert hook.status_code == 200 and "ignored" in hook.get_json()
    token = create_api_token(session, user=users["rep"], name="ext")
    session.commit()
    saved = rep.post("/api/v1/linkedin/profiles", json={"profile_url": "https://www.linkedin.com/in/x-y/", "name": "X"},
                     headers={"Authorization": f"Bearer {token}"})
    assert saved.status_code == 403 and "The LinkedIn connector is switched off" in saved.get_json()["error"]
    assert rep.get("/linkedin/import").status_code == 403
    assert admin.get("/intercom/install").status_code == 403

    # A sync queued by hand is skipped and says why; the admin's "sync now" refuses in words.
    account_id = account.id
    session.rollback()  # end the test's read transaction: the task writes through its own engine
    with app.app_context():
        from webapp.tasks import sync_account

        assert sync_account(account_id) == {"account_id": account_id, "skipped": "disabled"}
    run = session.exec(select(SyncRun).where(SyncRun.account_id == account.id)).one()
    assert run.status == "skipped" and "switched off" in run.error
    admin.post(f"/settings/accounts/{account.id}/sync")
    assert "Not synced. The Gmail connector is switched off" in admin.get("/settings/connectors").get_data(as_text=True)
    assert session.exec(select(Message)).all() == []

    switch(admin, "gmail", True)
    session.rollback()  # a fresh read transaction: SQLite readers see their transaction's start
    assert due_accounts(session, 60) == [account.id]
    assert rep.get("/gmail/connect").status_code == 302


def test_credentials_entered_by_the_admin_replace_the_environment(app, as_role, session: Session) -> None:  # noqa: ANN001
    app.config["LEADHUB"].update(GOOGLE_CLIENT_ID="env-client", GOOGLE_CLIENT_SECRET="env-secret")
    admin = as_role("admin")
    page = admin.get("/settings/connectors").get_data(as_text=True)
    assert "in use: LEADHUB_GOOGLE_CLIENT_ID" in page
    assert parse_qs(urlsplit(admin.get("/gmail/connect").location).query)["client_id"] == ["env-client"]
    admin.post("/settings/connectors/gmail/credentials",
               data={"client_id": "admin-client.apps.googleusercontent.com", "client_secret": "admin-secret-42",
                     "backfill_days": "30", "only_labels": "", "company_domains": "", "outbound_creates_leads": "no"})
    start = admin.get("/gmail/connect")
    assert parse_qs(urlsplit(start.location).query)["client_id"] == ["admin-client.apps.googleusercontent.com"]
    page = admin.get("/settings/connectors").get_data(as_text=True)
    assert "admin-secret-42" not in page and "in use: LEADHUB_GOOGLE_CLIENT_ID" not in page
    with app.test_request_context():
        settings = effective_settings()
        assert settings["GOOGLE_CLIENT_SECRET"] == "admin-secret-42"
        assert settings["CONNECTOR_DEFAULTS"]["gmail"] == {"backfill_days": "30", "outbound_creates_leads": "no"}
    assert app.config["LEADHUB"]["GOOGLE_CLIENT_ID"] == "env-client"  # the environment itself is untouched


def test_connector_wide_values_are_defaults_the_account_overrides(session: Session) -> None:
    account = ConnectorAccount(type="gmail", label="a@x.example", config={"backfill_days": "7", "only_labels": ""})
    settings = {"CONNECTOR_DEFAULTS": {"gmail": {"backfill_days": "30", "only_labels": "Label_9"},
                                       "intercom": {"admin_id": "1"}}}
    context: ConnectorContext = build_context(session, account, settings, None)
    assert context.config == {"backfill_days": "7", "only_labels": "Label_9"}
    assert build_context(session, account, {}, None).config == {"backfill_days": "7"}


def test_company_domains_from_general_settings_join_the_environment(app, as_role) -> None:  # noqa: ANN001
    app.config["LEADHUB"]["COMPANY_DOMAINS"] = "acme.example"
    admin = as_role("admin")
    admin.post("/settings/general", data={"domains": "acme-group.pl\nacme.example"})
    with app.test_request_context():
        assert effective_settings()["COMPANY_DOMAINS"] == "acme.example,acme-group.pl"
    assert ENABLED_SETTING == "connectors_enabled"


def test_each_connector_card_says_where_to_go_next(app, as_role) -> None:  # noqa: ANN001
    admin = as_role("admin")
    page = admin.get("/settings/connectors").get_data(as_text=True)
    # (the fields are below the hint: it said "above")
    assert "Enter the Intercom app&#39;s client ID and secret below" in page and "/intercom/install" not in page
    admin.post("/settings/connectors/intercom/credentials", data={"client_id": "ic-app", "client_secret": "ic-secret",
                                                                  "admin_id": ""})
    page = admin.get("/settings/connectors").get_data(as_text=True)
    assert 'href="/intercom/install"' in page and "Connect an Intercom workspace" in page
    assert 'href="/admin/forms"' in page and 'href="/gmail/"' in page
    start = admin.get("/intercom/install")  # the admin-entered client goes to Intercom's authorize page
    assert start.status_code == 302 and "client_id=ic-app" in start.location


def test_a_yes_or_no_setting_is_a_choice_and_a_typo_is_refused(app, as_role, session: Session) -> None:  # noqa: ANN001
    """"Outbound mail creates leads (yes/no)" was a text box: "tak", "y" or "yes " meant no without a word."""
    admin = as_role("admin")
    page = admin.get("/settings/connectors").get_data(as_text=True)
    assert '<select name="outbound_creates_leads">' in page and '<option value="no" selected>' in page
    fields = {"client_id": "c.apps.googleusercontent.com", "backfill_days": "30", "only_labels": "", "company_domains": ""}
    refused = admin.post("/settings/connectors/gmail/credentials", data={**fields, "outbound_creates_leads": "tak"},
                         follow_redirects=True)
    assert "Not saved" in refused.get_data(as_text=True) and "tak" in refused.get_data(as_text=True)
    with app.test_request_context():
        assert "outbound_creates_leads" not in effective_settings()["CONNECTOR_DEFAULTS"].get("gmail", {})
    admin.post("/settings/connectors/gmail/credentials", data={**fields, "outbound_creates_leads": "Yes"})
    with app.test_request_context():
        assert effective_settings()["CONNECTOR_DEFAULTS"]["gmail"]["outbound_creates_leads"] == "yes"
    assert '<option value="yes" selected>' in admin.get("/settings/connectors").get_data(as_text=True)

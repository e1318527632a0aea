"""The offline demo's Gmail: a rep clicks "Connect Gmail" and the demo mailbox (served by the Gmail emulator
beside the app) syncs through the real client libraries; inquiries reach the inbox, bulk and internal mail do
not, and a mass send goes out through it."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from werkzeug.serving import make_server

from core.models import ConnectorAccount, Message
from core.users import create_user
from tests.browser.conftest import PASSWORD, LiveApp, sign_in
from tests.conftest import TEST_ENCRYPTION_KEY
from webapp.demo import DEMO_MAILBOX


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo(sqlite_template: Path, tmp_path: Path) -> Iterator[LiveApp]:
    from webapp import create_app

    path = tmp_path / "demo.db"
    shutil.copyfile(sqlite_template, path)
    port = _free_port()  # the demo's provider URLs are built from BASE_URL, so the port is chosen first
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "demo-secret", "DEMO": "on",
                      "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "BASE_URL": f"http://127.0.0.1:{port}",
                      "FLASK": {"TESTING": True}})
    app.instance_path = str(tmp_path / "instance")
    with Session(app.extensions["leadhub.engine"]) as session:
        create_user(session, email=DEMO_MAILBOX, role="rep", name="Anna Nowak", password=PASSWORD)
        session.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveApp(url=f"http://127.0.0.1:{port}", app=app, token="", emails={"rep": DEMO_MAILBOX})
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["leadhub.engine"].dispose()


def test_connect_gmail_in_the_demo_syncs_the_demo_mailbox(page, demo: LiveApp) -> None:  # noqa: ANN001
    sign_in(page, demo, "rep")
    page.goto(demo.url + "/gmail/")
    page.click("text=Connect Gmail")
    page.wait_for_url(demo.url + "/gmail/")
    assert DEMO_MAILBOX in page.content() and "healthy" in page.content()
    with Session(demo.app.extensions["leadhub.engine"]) as session:
        account = session.exec(select(ConnectorAccount)).one()
        subjects = {m.subject for m in session.exec(select(Message)).all()}
    assert account.label == DEMO_MAILBOX, account
    assert account.messages_synced >= 4
    assert {"Zapytanie o cenę", "Запрос цены", "Quote for 25 seats", "Nowe zgłoszenie z formularza kontaktowego"} <= subjects
    # bulk, internal, out of office
    assert not {"Top 10 sales tips", "Spotkanie zespołu", "Automatyczna odpowiedź: Oferta"} & subjects
    page.goto(demo.url + "/inbox")
    assert all(name in page.content() for name in ("Natalia Sokołowska", "Дмитрий Соколов", "Ola Zima"))

    # A template and a mass send to the new leads, through the same mailbox.
    page.goto(demo.url + "/mail/templates/new")
    page.fill("input[name=name]", "Oferta")
    page.fill("input[name=subject]", "Oferta dla {{ company or name }}")
    page.fill("textarea[name=body]", "Dzień dobry {{ first_name or 'Państwo' }},\nw załączeniu oferta.")
    page.click("text=Save template")
    page.goto(demo.url + "/mail/sends/new?q=Sokołowska")
    page.click("text=Preview the mails")
    assert "Dzień dobry Natalia," in page.content()
    page.click("button:has-text('Send 1 mail')")
    page.wait_for_selector("text=1 sent")
    emulator = demo.app.extensions["leadhub.gmail_emulator"]
    assert [b"To: Natalia" in s["raw"] for s in emulator.mailbox(DEMO_MAILBOX).sent] == [True]


def test_connect_intercom_in_the_demo_backfills_the_demo_workspace(page, demo: LiveApp) -> None:  # noqa: ANN001
    from core.users import create_user as make_user

    with Session(demo.app.extensions["leadhub.engine"]) as session:
        make_user(session, email="admin@demo.leadhub.example", role="admin", name="Admin", password=PASSWORD)
        session.commit()
    demo.emails["admin"] = "admin@demo.leadhub.example"
    sign_in(page, demo, "admin")
    page.goto(demo.url + "/settings/connectors")
    page.click("text=Connect an Intercom workspace")
    page.wait_for_url(demo.url + "/")
    assert "Demo workspace connected" in page.content()
    with Session(demo.app.extensions["leadhub.engine"]) as session:
        texts = [m.text for m in session.exec(select(Message).where(Message.channel == "intercom")).all()]
    assert any("Budżet to ok. 80 tys. zł." in t for t in texts)
    assert any("Сколько стоит лицензия" in t for t in texts)
    page.goto(demo.url + "/settings/connectors")
    assert "Demo workspace" in page.locator("#accounts").inner_text()

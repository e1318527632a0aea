"""A live leadhub (werkzeug make_server in a thread, 127.0.0.1, port 0) on a fresh SQLite database, and
Debian's chromium driven by Playwright. Never a browser download."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import Session
from werkzeug.serving import make_server

from core.users import create_api_token, create_user
from tests.conftest import TEST_ENCRYPTION_KEY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser-password"


@dataclass
class LiveApp:
    url: str
    app: object
    token: str
    emails: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[LiveApp]:
    from webapp import create_app

    path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "browser-secret",
                      "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "DEMO": "off", "INBOX_POLL_SECONDS": 1,
                      "FLASK": {"TESTING": True}})
    app.instance_path = str(tmp_path / "instance")
    emails = {role: f"{role}@browser.example" for role in ("rep", "manager", "admin")}
    with Session(app.extensions["leadhub.engine"]) as session:
        users = {role: create_user(session, email=email, role=role, name=f"{role.title()} User", password=PASSWORD)
                 for role, email in emails.items()}
        token = create_api_token(session, user=users["admin"])
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveApp(url=f"http://127.0.0.1:{server.server_port}", app=app, token=token, emails=emails)
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["leadhub.engine"].dispose()


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, live: LiveApp, role: str) -> None:  # noqa: ANN001
    page.goto(live.url + "/login")
    page.fill("input[name=email]", live.emails[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_url(live.url + "/")

"""Addresses of the people leadhub is for, typed into its pages in a real browser. Chromium refuses an
<input type="email"> whose part before the @ is not ASCII ("A part followed by '@' should not contain the
symbol 'и'"), so a lead writing from иван@почта.рф could not send the website form at all, and a user whose
address is łukasz@… could not sign in, though the server reads both (RFC 6531)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import Form, Identity
from core.users import create_user
from tests.browser.conftest import LiveApp
from webapp.forms import new_form_key

pytestmark = pytest.mark.browser


def test_a_lead_with_a_cyrillic_address_can_send_the_hosted_form(page, live: LiveApp) -> None:  # noqa: ANN001
    key = new_form_key()
    with Session(live.app.extensions["leadhub.engine"]) as session:
        session.add(Form(key=key, name="Kontakt", type="contact", fields=[
            {"name": "name", "label": "Имя", "kind": "text", "required": True, "maps_to": "name"},
            {"name": "email", "label": "E-mail", "kind": "email", "required": True, "maps_to": "email"}]))
        session.commit()
    live.app.config["LEADHUB"]["FORMS_MIN_SUBMIT_SECONDS"] = 0
    page.goto(f"{live.url}/f/{key}")
    page.fill("input[name=name]", "Иван Петров")
    page.fill("input[name=email]", "иван@почта.рф")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live.url}/f/{key}/thanks**")
    with Session(live.app.extensions["leadhub.engine"]) as session:
        emails = session.exec(select(Identity.value).where(Identity.kind == "email")).all()
    assert emails == ["иван@xn--80a1acny.xn--p1ai"]


def test_a_user_with_a_polish_address_can_sign_in(page, live: LiveApp) -> None:  # noqa: ANN001
    with Session(live.app.extensions["leadhub.engine"]) as session:
        create_user(session, email="łukasz@budmax.pl", role="rep", name="Łukasz", password="hasło-długie-1")
        session.commit()
    page.goto(live.url + "/login")
    page.fill("input[name=email]", "Łukasz@budmax.pl")
    page.fill("input[name=password]", "hasło-długie-1")
    page.click("form.card button[type=submit]")
    page.wait_for_url(live.url + "/")

"""The script embed on someone else's website, in a real browser: the form renders from leadhub, posts JSON
across origins (CORS only for the form's allowed origins), shows per-field errors inline, and a good post
becomes a lead with the page and UTM parameters it came from."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.models import Form, Message
from tests.browser.conftest import LiveApp
from webapp.forms import new_form_key


@pytest.fixture
def website(live: LiveApp) -> Iterator[dict]:
    """A company website on another origin (another port) with leadhub's embed snippet pasted in."""
    key = new_form_key()
    holder: dict = {}

    @Request.application
    def site(request: Request) -> Response:
        html = (f'<!doctype html><html><head><meta charset="utf-8"><title>Firma</title></head><body>'
                f'<h1>Kontakt</h1><div data-leadhub-form="{key}"></div>'
                f'<script src="{live.url}/static/forms/embed.js" data-leadhub-base="{live.url}" async></script>'
                f'</body></html>')
        return Response(html, content_type="text/html; charset=utf-8")

    server = make_server("127.0.0.1", 0, site, threaded=True)
    origin = f"http://127.0.0.1:{server.server_port}"
    with Session(live.app.extensions["leadhub.engine"]) as session:
        session.add(Form(key=key, name="Kontakt", type="contact", allowed_origins=[origin],
                         consent_text="Zgadzam się na kontakt.", consent_version=1, fields=[
                             {"name": "name", "label": "Imię i nazwisko", "kind": "text", "required": True,
                              "maps_to": "name"},
                             {"name": "email", "label": "E-mail", "kind": "email", "required": True, "maps_to": "email"},
                             {"name": "message", "label": "Wiadomość", "kind": "textarea", "required": False,
                              "maps_to": "message"},
                         ]))
        session.commit()
    live.app.config["LEADHUB"]["FORMS_MIN_SUBMIT_SECONDS"] = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    holder.update(url=origin, key=key)
    yield holder
    server.shutdown()
    thread.join(timeout=5)


def test_embedded_form_posts_across_origins_with_inline_errors(page, live: LiveApp, website: dict) -> None:  # noqa: ANN001
    page.goto(website["url"] + "/oferta?utm_source=newsletter&utm_campaign=zima")
    page.wait_for_selector("form button[type=submit]")
    assert page.locator("label", has_text="Imię i nazwisko *").count() == 1
    page.fill("input[name=email]", "to nie jest adres")
    page.click("form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('.leadhub-error:not(:empty)').length >= 3")
    errors = page.locator(".leadhub-error:not(:empty)").all_inner_texts()
    assert len(errors) >= 3  # name, email and consent, each next to its field
    with Session(live.app.extensions["leadhub.engine"]) as session:
        assert session.exec(select(Message).where(Message.channel == "form")).all() == []

    page.fill("input[name=name]", "Zofia Wróblewska")
    page.fill("input[name=email]", "zofia@wroblewska.pl")
    page.fill("textarea[name=message]", "<script>alert(1)</script> Proszę o ofertę")
    page.check("input[name=consent]")
    page.click("form button[type=submit]")
    page.wait_for_selector(".leadhub-done")
    with Session(live.app.extensions["leadhub.engine"]) as session:
        [message] = session.exec(select(Message).where(Message.channel == "form")).all()
    assert message.meta["page_url"].startswith(website["url"] + "/oferta")
    assert message.meta["utm"] == {"utm_source": "newsletter", "utm_campaign": "zima"}
    assert message.meta["consent"]["given"] and message.sender == "zofia@wroblewska.pl"
    assert "<script>alert(1)</script> Proszę o ofertę" in message.text  # stored as the text it is

"""Pages that depend on styles or scripts the Content Security Policy must allow (no inline style, no inline
handler): in a real browser, the hosted form's honeypot stays out of a person's sight and the mail merge's
"all" box works, with no CSP violation reported on either page."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from core.models import Form
from tests.browser.conftest import LiveApp, sign_in
from tests.browser.test_browser import inquiry, post_inbound
from webapp.forms import new_form_key

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:  # noqa: ANN001
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return found


def test_hosted_form_hides_its_honeypot_from_people(page, live: LiveApp) -> None:  # noqa: ANN001
    key = new_form_key()
    with Session(live.app.extensions["leadhub.engine"]) as session:
        session.add(Form(key=key, name="Kontakt", type="contact", consent_text="Zgadzam się na kontakt.",
                         consent_version=1, fields=[
                             {"name": "name", "label": "Imię i nazwisko", "kind": "text", "required": True,
                              "maps_to": "name"},
                             {"name": "email", "label": "E-mail", "kind": "email", "required": True, "maps_to": "email"},
                         ]))
        session.commit()
    found = violations(page)
    page.goto(f"{live.url}/f/{key}")
    honeypot = page.locator(".honeypot input")
    assert honeypot.count() == 1
    box = honeypot.bounding_box()
    assert box is not None and box["x"] + box["width"] < 0  # off-screen, where a person does not type
    consent = page.locator("input[name=consent]").bounding_box()
    assert consent is not None and consent["width"] < 40  # a box beside its text, not a full-width field
    assert found == []


def test_mail_merge_all_box_clears_and_ticks_every_recipient(page, live: LiveApp) -> None:  # noqa: ANN001
    for n in range(3):
        post_inbound(live, inquiry(n, name=f"Osoba {n}", email=f"osoba{n}@firma{n}.pl"))
    found = violations(page)
    sign_in(page, live, "manager")
    page.goto(live.url + "/mail/sends/new")
    boxes = page.locator("input[name=contact_id]")
    assert boxes.count() == 3
    page.uncheck("input[data-check-all]")
    assert [boxes.nth(i).is_checked() for i in range(3)] == [False] * 3
    page.check("input[data-check-all]")
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True] * 3
    assert found == []


@pytest.mark.parametrize("role", ["admin", "rep"])
def test_every_linked_page_of_the_demo_loads_without_a_csp_violation(page, live: LiveApp, role: str) -> None:  # noqa: ANN001
    """Follow every link of the app from the home page (the demo's leads, messages, forms and settings), as an
    admin and as a rep: each page answers, and the browser reports no style or script the CSP blocked."""
    from urllib.parse import urljoin, urlparse

    from webapp.demo import seed_demo

    with Session(live.app.extensions["leadhub.engine"]) as session:
        seed_demo(session)
    found = violations(page)
    sign_in(page, live, role)
    seen: set[str] = set()
    queue = [live.url + "/"]
    failed: list[tuple[str, int | None]] = []
    while queue and len(seen) < 150:
        url = queue.pop(0)
        path = urlparse(url).path
        if url in seen or path.startswith(("/_emulators", "/logout")) or path.endswith((".csv", ".zip")):
            continue
        seen.add(url)
        response = page.goto(url)
        if response is None or response.status >= 400:
            failed.append((url, response.status if response else None))
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            target = urljoin(url, href).split("#")[0]
            if target.startswith(live.url) and target not in seen:
                queue.append(target)
    assert len(seen) > 30  # the crawl reached the app's pages, not just the home page
    assert failed == []
    assert found == []

"""Every page a newcomer meets, on a phone-sized screen (375 px): nothing pushes the page wider than the screen,
so no page needs sideways scrolling of the whole document to reach its navigation, buttons or forms. Wide
tables scroll inside their own box. And every form control has a name a screen reader can say."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import Contact, Form
from tests.browser.conftest import LiveApp, sign_in
from webapp.demo import seed_demo

pytestmark = pytest.mark.browser

PAGES = {
    "rep": ["/", "/inbox", "/contacts/{contact}", "/duplicates", "/queue", "/mail/sends", "/mail/sends/new",
            "/mail/templates/new", "/me/connections"],
    "manager": ["/analytics", "/analytics?from=2026-11-01&to=9999-12-31"],
    "admin": ["/settings/connectors", "/settings/users", "/settings/general", "/admin/forms", "/admin/forms/new",
              "/admin/forms/{form}", "/qualify/rules", "/qualify/routing", "/qualify/webhooks", "/linkedin/import"],
}


# A control with no accessible name: not inside a <label>, no label[for], aria-label, aria-labelledby or title.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.type !== 'submit' && !el.closest('.honeypot'))
  .filter(el => !(el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                  || el.getAttribute('title') || (el.id && document.querySelector(`label[for="${el.id}"]`))))
  .map(el => el.name)"""


def _seed(live: LiveApp) -> dict[str, int | None]:
    with Session(live.app.extensions["leadhub.engine"]) as session:
        seed_demo(session)
        session.commit()
        return {"contact": session.exec(select(Contact.id).where(Contact.display_name == "Łukasz Wójcik")).first(),
                "form": session.exec(select(Form.id)).first()}


@pytest.mark.parametrize("role", list(PAGES))
def test_every_form_control_has_a_label(page, live: LiveApp, role: str) -> None:  # noqa: ANN001
    """The form builder's field rows and the scoring rules' editor were controls a screen reader announced as
    "edit text", with nothing to say which."""
    ids = _seed(live)
    sign_in(page, live, role)
    unlabelled = {}
    for path in PAGES[role]:
        page.goto(live.url + path.format(**ids))
        if names := page.evaluate(UNLABELLED):
            unlabelled[path] = names
    assert unlabelled == {}


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_fit_a_375_px_screen(browser, live: LiveApp, role: str) -> None:  # noqa: ANN001
    ids = _seed(live)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live, role)
    too_wide = {}
    for path in PAGES[role]:
        page.goto(live.url + path.format(**ids))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 375:
            too_wide[path] = width
    context.close()
    assert too_wide == {}


def test_show_images_loads_into_the_frame_with_javascript_and_opens_the_mail_without(browser, live: LiveApp) -> None:  # noqa: ANN001
    from tests.browser.test_browser import inquiry, post_inbound

    post_inbound(live, inquiry(90, channel="gmail", name="Ola Obrazek", email="ola@obrazki.pl", subject="Zdjęcia",
                               html='<p>Zobacz <img src="https://img.example/a.png" alt="a"></p>'))
    _seed(live)  # (the demo's leads beside it, as a newcomer sees them)
    with Session(live.app.extensions["leadhub.engine"]) as session:
        contact_id = session.exec(select(Contact.id).where(Contact.display_name == "Ola Obrazek")).one()
    for javascript in (True, False):
        context = browser.new_context(java_script_enabled=javascript)
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live, "manager")
        page.goto(f"{live.url}/contacts/{contact_id}")
        if javascript:
            page.click("a.show-images")
            page.wait_for_function("document.querySelector('iframe.mail-frame').src.includes('images=1')")
            assert len(context.pages) == 1
        else:
            with context.expect_page() as opened:
                page.click("a.show-images")
            opened.value.wait_for_load_state()
            assert "images=1" in opened.value.url and "Zobacz" in opened.value.content()
        context.close()

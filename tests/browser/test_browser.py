"""The product in a real browser: sign in per role, the inbox updating live, lead page, merge and undo, and a
corpus of hostile emails rendering with zero script executions."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import LiveApp, sign_in

pytestmark = pytest.mark.browser


def post_inbound(live: LiveApp, body: dict) -> dict:
    request = urllib.request.Request(
        live.url + "/api/v1/inbound", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {live.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def inquiry(n: int, *, channel: str = "form", name: str = "Jan Kowalski", email: str | None = None,
            subject: str = "Inquiry", text: str = "Please call me", html: str | None = None, **contact) -> dict:
    return {"channel": channel,
            "contact": {"name": name, **({"email": email} if email else {}), **contact},
            "message": {"external_id": f"b-{channel}-{n}", "direction": "in", "subject": subject, "text": text,
                        "html": html, "sent_at": datetime.now(UTC).isoformat()}}


@pytest.mark.parametrize("role", ["rep", "manager", "admin"])
def test_sign_in_per_role_and_see_the_inbox(page, live: LiveApp, role: str) -> None:
    post_inbound(live, inquiry(1, name="Anna Role", email="anna@role.example", subject="Role check"))
    sign_in(page, live, role)
    page.click("nav >> text=Inbox")
    assert page.locator("#inbox-rows tr[data-href]").count() == 1
    assert "Role check" in page.inner_text("#inbox-rows")
    assert page.locator("nav >> text=Connectors").count() == (1 if role == "admin" else 0)


def test_new_inquiry_appears_without_reload(page, live: LiveApp) -> None:
    sign_in(page, live, "manager")
    page.goto(live.url + "/inbox")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#inbox-rows tr[data-href]").count() == 0
    post_inbound(live, inquiry(2, name="Live Arrival", email="live@arrival.example", subject="Arrived live"))
    page.wait_for_selector("#inbox-rows >> text=Arrived live", timeout=8_000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    page.screenshot(path="/tmp/leadhub-inbox.png", full_page=True)


def test_open_lead_merge_suggested_duplicate_and_undo(page, live: LiveApp) -> None:
    post_inbound(live, inquiry(3, channel="gmail", name="Łukasz Wójcik", email="lukasz@budmax.pl",
                               company="Budmax", subject="Oferta", text="Proszę o ofertę"))
    post_inbound(live, inquiry(4, channel="form", name="Lukasz Wojcik", email="l.wojcik@budmax.pl",
                               company="Budmax", subject="Demo request", text="Prezentacja"))
    sign_in(page, live, "manager")
    page.goto(live.url + "/inbox")
    page.click("#inbox-rows >> text=Łukasz Wójcik")
    assert "Proszę o ofertę" in page.inner_text(".timeline")
    page.click("nav >> text=Duplicates")
    assert page.locator("section.pair").count() == 1
    page.locator("section.pair input[type=radio]").first.check()
    page.click("section.pair >> text=Merge")
    timeline = page.inner_text(".timeline")
    assert "Proszę o ofertę" in timeline and "Prezentacja" in timeline
    page.screenshot(path="/tmp/leadhub-lead.png", full_page=True)
    page.click("button[data-undo-merge]")
    assert "Merge undone" in page.inner_text("body")
    assert "Prezentacja" not in page.inner_text(".timeline")


HOSTILE = [
    "<script>window.__pwned=(window.__pwned||0)+1;alert('script')</script>",
    '<img src=x onerror="window.__pwned=1;alert(\'img\')">',
    '<svg onload="window.__pwned=1;alert(\'svg\')"><circle r=5 /></svg>',
    '<a href="javascript:window.__pwned=1;alert(\'js\')" id="jslink">click</a>',
    '<div style="background:url(javascript:alert(1));width:expression(alert(1))">css</div>',
    '<iframe src="javascript:alert(\'frame\')"></iframe><iframe srcdoc="<script>parent.alert(1)</script>"></iframe>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'meta\')">',
    '<body onload="alert(\'body\')"><details open ontoggle="alert(\'toggle\')">x</details>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("mxss")></style></mglyph></table></mtext></math>',
    '"><script>alert("attr")</script>',
    "<style>@import 'javascript:alert(1)';</style><object data=\"javascript:alert(1)\"></object>",
]


def test_hostile_corpus_runs_no_script_anywhere(page, live: LiveApp) -> None:
    executed: list[str] = []
    page.on("dialog", lambda dialog: (executed.append("dialog:" + dialog.message), dialog.dismiss()))
    page.on("console", lambda message: executed.append("console:" + message.text)
            if "pwned" in message.text else None)
    for n, payload in enumerate(HOSTILE):
        post_inbound(live, inquiry(100 + n, channel="gmail", name=payload[:150], email=f"evil{n}@evil.example",
                                   company=payload[:150], subject=payload[:300], text=payload, html=payload))
    sign_in(page, live, "admin")
    page.goto(live.url + "/inbox")
    page.wait_for_timeout(1500)  # let polling replace the rows at least once
    pages = [live.url + "/inbox", live.url + "/", live.url + "/duplicates"]
    hrefs = page.eval_on_selector_all("#inbox-rows tr[data-href] td:nth-child(3) a",
                                      "els => els.map(e => e.href)")
    assert len(hrefs) == len(HOSTILE)
    pages += hrefs
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("load")
        for frame in page.frames:
            if frame != page.main_frame:
                frame.wait_for_load_state("load")
        for button in page.locator("a.show-images").all():
            button.click()
        page.wait_for_timeout(200)
        for link in page.locator("a[href^='javascript:']").all():
            executed.append("live javascript: link on " + url + ": " + str(link))
        assert page.evaluate("window.__pwned === undefined")
        for frame in page.frames:
            assert frame.evaluate("window.__pwned === undefined"), (url, frame.url)
    assert executed == []

"""The profile reader (plain JS shared by extension and bookmarklet) on a saved profile page, in headless
Debian Chromium; the install page, the extension zip and the bookmarklet end to end against the app."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
from sqlmodel import Session, select

from core.models import ApiToken, Identity
from tests.connectors.linkedin.conftest import FIXTURES, csrf_token
from webapp.linkedin import EXTENSION_DIR, EXTENSION_FILES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROFILE_URL = "https://pl.linkedin.com/in/Anna-Nowak-1a2b3c/?trk=public_profile_browsemap"
EXPECTED = {
    "profile_url": "https://www.linkedin.com/in/anna-nowak-1a2b3c/",
    "name": "Anna Nowak",
    "headline": "Head of Procurement at Budmax | steel, rebar & profiles",
    "company": "Budmax",
    "title": "Head of Procurement",
    "location": "Poznań, Wielkopolskie, Poland",
    "about": "Buying steel for construction projects in western Poland for 15 years. Always looking for reliable mills.",
}


@pytest.fixture
def page(browser) -> Iterator:  # noqa: ANN001
    context = browser.new_context()
    page = context.new_page()

    def serve_linkedin(route) -> None:  # noqa: ANN001
        path = route.request.url.split("linkedin.com", 1)[1]
        name = "profile.html" if path.lower().startswith("/in/anna-nowak-1a2b3c") else "not_profile.html"
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=(FIXTURES / name).read_text())

    page.route(re.compile(r"^https://([a-z]+\.)?linkedin\.com/.*"), serve_linkedin)
    yield page
    context.close()


def _read(page, url: str) -> dict:  # noqa: ANN001
    page.goto(url)
    page.add_script_tag(path=str(EXTENSION_DIR / "profile_reader.js"))
    return page.evaluate("() => LeadhubProfileReader.readProfile(document, location.href)")


@pytest.mark.browser
def test_reader_reads_what_the_rep_sees(page) -> None:  # noqa: ANN001
    result = _read(page, PROFILE_URL)
    assert result == {"ok": True, "profile": EXPECTED}


@pytest.mark.browser
def test_reader_refuses_pages_that_are_not_profiles(page) -> None:  # noqa: ANN001
    result = _read(page, "https://www.linkedin.com/feed/")
    assert result["ok"] is False and "not a LinkedIn profile page" in result["error"]


@pytest.mark.browser
def test_reader_falls_back_to_the_headline_without_experience(page) -> None:  # noqa: ANN001
    page.goto(PROFILE_URL)
    page.evaluate("() => document.getElementById('experience').closest('section').remove()")
    page.evaluate("() => document.querySelector('[aria-label^=\"Current company\"]').remove()")
    page.add_script_tag(path=str(EXTENSION_DIR / "profile_reader.js"))
    profile = page.evaluate("() => LeadhubProfileReader.readProfile(document, location.href)")["profile"]
    assert (profile["title"], profile["company"]) == ("Head of Procurement", "Budmax")


@pytest.mark.browser
def test_reader_falls_back_to_a_headline_written_with_an_at_sign(page) -> None:  # noqa: ANN001
    """"Head of Procurement @ Budmax": how headlines are written in every language; only " at " was read."""
    page.goto(PROFILE_URL)
    page.evaluate("() => document.getElementById('experience').closest('section').remove()")
    page.evaluate("() => document.querySelector('[aria-label^=\"Current company\"]').remove()")
    page.evaluate("() => { document.querySelector('div.text-body-medium.break-words').textContent ="
                  " 'Kierownik zakupów @ Budmax | stal, pręty'; }")
    page.add_script_tag(path=str(EXTENSION_DIR / "profile_reader.js"))
    profile = page.evaluate("() => LeadhubProfileReader.readProfile(document, location.href)")["profile"]
    assert (profile["title"], profile["company"]) == ("Kierownik zakupów", "Budmax")


# LinkedIn's experience entry for several roles at one company: the company (bold) and the time there on top,
# the roles in a list inside it, newest first.
GROUPED_EXPERIENCE = """
<div class="display-flex flex-column full-width">
  <div class="display-flex align-items-center mr1 t-bold">
    <span aria-hidden="true">Budmax</span><span class="visually-hidden">Budmax</span>
  </div>
  <span class="t-14 t-normal">
    <span aria-hidden="true">Full-time · 5 yrs 3 mos</span><span class="visually-hidden">Full-time · 5 yrs 3 mos</span>
  </span>
</div>
<div class="pvs-list__outer-container">
  <ul class="pvs-list">
    <li class="pvs-list__paged-list-item">
      <div class="display-flex align-items-center mr1 t-bold">
        <span aria-hidden="true">Head of Procurement</span><span class="visually-hidden">Head of Procurement</span>
      </div>
      <span class="t-14 t-normal t-black--light"><span aria-hidden="true">Jan 2022 - Present · 3 yrs</span></span>
    </li>
    <li class="pvs-list__paged-list-item">
      <div class="display-flex align-items-center mr1 t-bold"><span aria-hidden="true">Buyer</span></div>
      <span class="t-14 t-normal t-black--light"><span aria-hidden="true">Sep 2019 - Dec 2021 · 2 yrs 4 mos</span></span>
    </li>
  </ul>
</div>
"""


@pytest.mark.browser
def test_reader_reads_the_newest_role_of_several_at_one_company(page) -> None:  # noqa: ANN001
    """Before, the company's name was read as the title and "Full-time" as the company (and a known lead's
    company followed it on the next save)."""
    page.goto(PROFILE_URL)
    page.evaluate("html => { document.querySelector('#experience').closest('section').querySelector('li')"
                  ".innerHTML = html; }", GROUPED_EXPERIENCE)
    page.add_script_tag(path=str(EXTENSION_DIR / "profile_reader.js"))
    profile = page.evaluate("() => LeadhubProfileReader.readProfile(document, location.href)")["profile"]
    assert (profile["title"], profile["company"]) == ("Head of Procurement", "Budmax")


@pytest.mark.browser
def test_bookmarklet_saves_the_profile_with_the_reps_token(page, app, client, signed_in, session: Session) -> None:  # noqa: ANN001
    created = signed_in.post("/linkedin/token", data={"csrf_token": csrf_token(signed_in, "/linkedin/")})
    html = created.get_data(as_text=True)
    token = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    href = re.search(r'class="bookmarklet" href="([^"]+)"', html).group(1)
    source = unquote(href.replace("&amp;", "&").removeprefix("javascript:"))
    assert token in source  # the link carries the token created just now

    seen: list[dict] = []

    def leadhub(route) -> None:  # noqa: ANN001
        request = route.request
        parts = urlsplit(request.url)
        path = f"{parts.path}?{parts.query}"
        headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization", "content-type", "origin"}}
        answer = client.open(path, method=request.method, data=request.post_data, headers=headers)
        seen.append({"method": request.method, "headers": headers})
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.get_data())

    page.route(app.config["LEADHUB"]["BASE_URL"] + "/**", leadhub)
    page.goto(PROFILE_URL)
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_event("dialog", timeout=15_000) as alert:
        page.evaluate(source)
    assert alert.value.message.startswith("leadhub: saved as new lead: Anna Nowak"), (alert.value.message, seen)
    assert seen[-1]["headers"]["authorization"] == f"Bearer {token}"
    identity = session.exec(select(Identity).where(Identity.kind == "linkedin")).one()
    assert identity.value == "linkedin.com/in/anna-nowak-1a2b3c"


def test_install_page_needs_login_and_explains_both_ways(app, signed_in) -> None:  # noqa: ANN001
    assert "/login" in app.test_client().get("/linkedin/").headers["Location"]
    page = signed_in.get("/linkedin/").get_data(as_text=True)
    assert "The browser extension" in page and "The bookmarklet" in page
    assert 'href="/linkedin/extension.zip"' in page
    assert "javascript:" in page


def test_token_is_created_with_csrf_only_and_shown_once(signed_in, session: Session) -> None:  # noqa: ANN001
    assert signed_in.post("/linkedin/token").status_code == 400  # no CSRF token
    response = signed_in.post("/linkedin/token", data={"csrf_token": csrf_token(signed_in, "/linkedin/")})
    assert response.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code id="new-token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert token not in signed_in.get("/linkedin/").get_data(as_text=True)
    assert len(session.exec(select(ApiToken)).all()) == 1
    api = signed_in.post("/api/v1/linkedin/profiles", json={"profile_url": "linkedin.com/in/x-y", "name": "X Y"},
                         headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 201


def test_extension_zip_is_a_valid_manifest_v3(signed_in) -> None:  # noqa: ANN001
    response = signed_in.get("/linkedin/extension.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == sorted(f"leadhub-linkedin/{n}" for n in EXTENSION_FILES)
    manifest = json.loads(archive.read("leadhub-linkedin/manifest.json"))
    assert manifest["manifest_version"] == 3
    scripts = manifest["content_scripts"][0]
    assert scripts["matches"] == ["https://*.linkedin.com/in/*"]
    assert scripts["js"] == ["profile_reader.js", "content.js"]
    assert set(manifest["permissions"]) == {"storage"}
    popup = archive.read("leadhub-linkedin/popup.html").decode()
    assert '<script src="popup.js"></script>' in popup and "<script>" not in popup  # MV3 forbids inline script


FAKE_CHROME = """
(() => {
  const store = {};
  window.__sent = [];
  window.chrome = {
    runtime: { lastError: undefined },
    storage: { local: {
      get: (keys, cb) => cb(Object.fromEntries(keys.filter(k => k in store).map(k => [k, store[k]]))),
      set: (values, cb) => { Object.assign(store, values); cb && cb(); },
    } },
    permissions: { request: (what, cb) => { window.__permissions = what; cb(true); } },
    tabs: {
      query: (q, cb) => cb([{ id: 7 }]),
      sendMessage: (id, message, cb) => { window.__sent.push(message); cb(window.__tabAnswer); },
    },
  };
})();
"""


@pytest.mark.browser
def test_popup_stores_settings_and_reports_saved_then_already_in_leadhub(browser, app, client, rep_token) -> None:  # noqa: ANN001
    """The popup's own script with a stand-in for the chrome.* APIs; the tab's answer is the reader's output."""
    base = app.config["LEADHUB"]["BASE_URL"]
    context = browser.new_context()
    context.add_init_script(FAKE_CHROME)
    page = context.new_page()

    def serve(route) -> None:  # noqa: ANN001
        parts = urlsplit(route.request.url)
        if parts.path.startswith("/ext/"):
            name = parts.path.removeprefix("/ext/")
            kind = "text/html" if name.endswith(".html") else "text/javascript"
            route.fulfill(status=200, content_type=kind, body=(EXTENSION_DIR / name).read_text())
            return
        request = route.request
        headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization", "content-type"}}
        answer = client.open(parts.path, method=request.method, data=request.post_data, headers=headers)
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.get_data())

    page.route(base + "/**", serve)
    page.goto(base + "/ext/popup.html")
    page.evaluate("profile => { window.__tabAnswer = {ok: true, profile: profile}; }", EXPECTED)
    assert page.locator("#settings").get_attribute("open") is not None  # no settings yet: opened for the rep
    page.fill("#url", base + "/")
    page.fill("#token", rep_token)
    page.click("#store")
    page.wait_for_function("() => document.getElementById('result').textContent === 'Settings saved.'")
    assert page.evaluate("() => window.__permissions") == {"origins": [base + "/*"]}

    page.click("#save")
    page.wait_for_function("() => /saved as new lead/.test(document.getElementById('result').textContent)")
    link = page.locator("#result a").get_attribute("href")
    assert re.fullmatch(re.escape(base) + r"/contacts/\d+", link)
    assert page.evaluate("() => window.__sent") == [{"type": "leadhub:read-profile"}]
    page.click("#save")
    page.wait_for_function("() => /already in leadhub/.test(document.getElementById('result').textContent)")

    page.evaluate("() => { window.__tabAnswer = {ok: false, error: 'This is not a LinkedIn profile page.'}; }")
    page.click("#save")
    page.wait_for_function("() => document.getElementById('result').className === 'error'")
    assert "not a LinkedIn profile page" in page.text_content("#result")
    context.close()

"""Website forms end to end: the public /f/ endpoints, spam defences, durability, double opt-in, the admin."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from connectors.forms.spam import make_render_token
from core.contacts import contact_detail
from core.models import (
    Contact,
    Form,
    FormSpamEvent,
    Identity,
    LeadQualification,
    LeadScore,
    Message,
    OutboxMail,
    PendingInbound,
    RoutingRule,
)
from core.users import create_user
from tests.conftest import TEST_ENCRYPTION_KEY
from webapp.forms import new_form_key

ORIGIN = "https://www.client.example"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def settings(app) -> dict[str, Any]:  # noqa: ANN001
    # Spam timing and limits are per test: most tests measure the path, a few switch a defence on.
    s = app.config["LEADHUB"]
    s.update(FORMS_MIN_SUBMIT_SECONDS=0, FORMS_RATE_LIMIT_PER_IP="off", FORMS_RATE_LIMIT_PER_FORM="off")
    app.config["WTF_CSRF_ENABLED"] = False  # the admin pages' CSRF is the spine's, tested there
    return s


@pytest.fixture
def form(session: Session, settings: dict[str, Any]) -> Form:
    row = Form(
        key=new_form_key(),
        name="Demo request",
        type="demo",
        fields=[
            {"name": "name", "label": "Name", "kind": "text", "required": True, "maps_to": "name"},
            {"name": "email", "label": "Email", "kind": "email", "required": True, "maps_to": "email"},
            {"name": "phone", "label": "Phone", "kind": "phone", "required": False, "maps_to": "phone"},
            {"name": "company", "label": "Company", "kind": "text", "required": False, "maps_to": "company"},
            {"name": "message", "label": "Message", "kind": "textarea", "required": False, "maps_to": "message"},
            {"name": "seats", "label": "Seats", "kind": "select", "options": ["1-10", "11+"], "maps_to": "custom"},
        ],
        allowed_origins=[ORIGIN],
        consent_text="You may contact me about this request.",
        consent_version=1,
        thank_you_url="https://www.client.example/thanks",
    )
    session.add(row)
    session.commit()
    return row


def token_for(form: Form, submission_id: str | None = None) -> str:
    return make_render_token("test-secret-key", form.key, submission_id)[0]


def good(form: Form, **extra: Any) -> dict[str, Any]:
    data = {"name": "Anna Nowak", "email": "anna@firma.pl", "message": "We want a demo", "consent": "on",
            "_ts": token_for(form, "render-1")}
    data.update(extra)
    return data


def form_messages(session: Session) -> list[Message]:
    session.rollback()  # end the read snapshot: see what the app committed
    return list(session.exec(select(Message).where(Message.channel == "form")).all())


def spam_reasons(session: Session) -> list[str]:
    session.rollback()  # end the read snapshot: see what the app committed
    return [e.reason for e in session.exec(select(FormSpamEvent)).all()]


# --------------------------------------------------------------------------- hosted page and posting


def test_hosted_page_has_honeypot_and_signed_token(client, form: Form) -> None:  # noqa: ANN001
    page = client.get(f"/f/{form.key}?utm_source=newsletter")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="website_url"' in html
    assert re.search(r'name="_ts" value="[^"]+"', html)
    assert 'name="utm_source" value="newsletter"' in html
    assert form.consent_text in html
    assert page.headers["Cache-Control"] == "no-store"


def test_the_hosted_page_may_send_the_person_on_to_the_sites_thank_you_page(client, session: Session,  # noqa: ANN001
                                                                            form: Form) -> None:
    """Browsers apply CSP form-action to the redirect that follows a post (Chrome refuses it): with leadhub's
    "form-action 'self'" the 303 to the site's thank-you page was blocked, the person saw an error page after a
    stored submission, and sent it again from a reloaded form (a second message)."""
    def form_action(response) -> str:  # noqa: ANN001
        policy = dict(p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"].split(";"))
        return policy["form-action"]

    assert form_action(client.get(f"/f/{form.key}")) == "'self' https://www.client.example"
    typo = client.post(f"/f/{form.key}", data=good(form, email="anna@firma"))
    fast = client.post(f"/f/{form.key}", data=good(form, _ts=None))
    assert typo.status_code == fast.status_code == 400
    assert form_action(typo) == form_action(fast) == "'self' https://www.client.example"
    from webapp.forms import forget_cached_forms

    for url, allowed in (("", "'self'"), ("https://a; script-src *; x/thanks", "'self'"),
                         ("https://żółw.pl/dziękujemy", "'self' https://xn--w-uga1v8h.pl")):
        form.thank_you_url = url
        session.add(form)
        session.commit()
        with client.application.app_context():
            forget_cached_forms()
        assert form_action(client.get(f"/f/{form.key}")) == allowed, url


def test_unknown_or_inactive_form_is_404(client, session: Session, form: Form) -> None:  # noqa: ANN001
    assert client.get("/f/nope").status_code == 404
    form.active = False
    session.add(form)
    session.commit()
    assert client.post(f"/f/{form.key}", data=good(form)).status_code == 404


def test_form_post_stores_then_redirects(client, session: Session, form: Form) -> None:  # noqa: ANN001
    page = client.get(f"/f/{form.key}").get_data(as_text=True)
    ts = re.search(r'name="_ts" value="([^"]+)"', page).group(1)
    data = good(form, _ts=ts, utm_campaign="spring", _page="https://www.client.example/demo?utm_campaign=spring",
                seats="11+", favourite_colour="green")
    response = client.post(f"/f/{form.key}", data=data, headers={"Referer": "https://www.google.com/"})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://www.client.example/thanks"
    [message] = form_messages(session)
    assert message.kind == "message" and message.sender == "anna@firma.pl"
    assert message.meta["utm"] == {"utm_campaign": "spring"}
    assert message.meta["page_url"].startswith("https://www.client.example/demo")
    assert message.meta["referrer"] == "https://www.google.com/"
    assert message.meta["custom"] == {"favourite_colour": "green"}
    assert message.meta["fields"]["seats"] == "11+"
    assert message.meta["form"]["type"] == "demo"
    consent = message.meta["consent"]
    assert consent["given"] is True and consent["version"] == 1 and consent["text"] == form.consent_text
    assert consent["given_at"]


def test_form_type_reaches_scoring_and_routing(client, session: Session, form: Form) -> None:  # noqa: ANN001
    """A post to the real form endpoint is scored and routed by the form's type (a demo request is hot)."""
    rep = create_user(session, email="demos@leadhub.example", role="rep", name="Demo rep", password="rep-password")
    session.add(RoutingRule(name="demo requests", match={"form_type": ["demo"]}, assignee_ids=[rep.id]))
    session.commit()
    assert client.post(f"/f/{form.key}", data=good(form)).status_code == 303
    session.expire_all()
    contact = session.exec(select(Contact)).one()
    assert session.get(LeadQualification, contact.id).form_types == ["demo"]
    assert "form-hot" in {e["rule"] for e in session.get(LeadScore, contact.id).explanation}
    assert contact.owner_id == rep.id


def test_form_post_errors_rerender_with_values(client, session: Session, form: Form) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", data=good(form, email="nope", company="Acme & Sons"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-field="email"' in html
    assert "Acme &amp; Sons" in html  # the person's input comes back, escaped
    assert form_messages(session) == []


def test_json_post_201_with_reference_and_field_errors(client, session: Session, form: Form) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", json=good(form), headers={"Origin": ORIGIN})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received" and body["reference"].startswith("F-")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    [message] = form_messages(session)
    assert message.meta["reference"] == body["reference"]

    bad = client.post(f"/f/{form.key}", json=good(form, name="", email="x@", phone="12", seats="999", consent=""),
                      headers={"Origin": ORIGIN})
    assert bad.status_code == 400
    assert set(bad.get_json()["fields"]) == {"name", "email", "phone", "seats", "consent"}


def test_half_an_emoji_in_json_is_kept_as_a_replacement_character(client, session: Session, form: Form) -> None:  # noqa: ANN001
    """A site's script that cuts a text at a length (message.substring(0, 1000)) can cut an emoji in half, and
    JSON.stringify sends the half as a lone surrogate escape ("\\ud83d"): valid JSON, but no text, and hashing the
    submission raised UnicodeEncodeError, a 500 and a lost submission."""
    import json

    body = json.dumps(good(form, message="Prosimy o ofertę \U0001F680"))[:-1]
    body += ', "company": "Budmax \\ud83d", "source_note": "\\udc00 z targów", "\\ud83d": "x"}'
    response = client.post(f"/f/{form.key}", data=body, content_type="application/json", headers={"Origin": ORIGIN})
    assert response.status_code == 201, response.get_data(as_text=True)
    [stored] = form_messages(session)
    assert stored.text == "Prosimy o ofertę \U0001F680"
    assert stored.meta["fields"]["company"] == "Budmax \ufffd"
    assert stored.meta["custom"] == {"source_note": "\ufffd z targów", "\ufffd": "x"}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '"text"'])
def test_malformed_json_is_400(client, form: Form, body: str) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(("encoding", "name", "message"), [
    ("cp1250", "Paweł Zieliński", "Zażółć gęślą jaźń: prosimy o ofertę na pręty"),
    ("iso8859_2", "Łucja Żak", "Proszę o kontakt w sprawie dostawy stali"),
    ("cp1251", "Ирина Шевченко", "Нужна цена на арматуру, 40 тонн"),
])
def test_a_site_in_a_legacy_encoding_posts_readable_letters(client, session: Session, form: Form, encoding: str,  # noqa: ANN001
                                                            name: str, message: str) -> None:
    """A page in windows-1250/ISO-8859-2 (older Polish sites) or windows-1251 posts its own form in that encoding,
    with no charset in the Content-Type: the escapes that are not UTF-8 were stored as they came ('Zieli%F1ski')."""
    from urllib.parse import urlencode

    body = urlencode(good(form, name=name, message=message), encoding=encoding)
    response = client.post(f"/f/{form.key}", data=body, content_type="application/x-www-form-urlencoded",
                           headers={"Origin": ORIGIN})
    assert response.status_code == 303
    [stored] = form_messages(session)
    assert stored.text == message and stored.meta["fields"]["name"] == name


def _multipart(fields: dict[str, str], encoding: str, boundary: str = "----WebKitFormBoundary7MA4YWxkTrZu0gW") -> bytes:
    """A multipart/form-data body as a browser writes it for a page in `encoding` (no charset in the parts)."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode(encoding)
             + b"\r\n" for name, value in fields.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize(("encoding", "name", "message", "charset_field"), [
    ("cp1250", "Paweł Zieliński", "Zażółć gęślą jaźń: prosimy o ofertę na pręty", None),
    ("cp1251", "Ирина Шевченко", "Нужна цена на арматуру, 40 тонн", None),
    ("utf-8", "Łucja Żak", "Proszę o kontakt", None),
    # Too short to tell ISO-8859-2 from windows-1250 by the letters: the form's _charset_ field tells.
    ("iso8859_2", "Ola Żabińska", "Żaba źle", "ISO-8859-2"),
    ("iso8859_5", "Ольга Сидорова", "Щука", "ISO-8859-5"),
])
def test_a_multipart_post_from_a_page_in_a_legacy_encoding_is_read_in_it(
    client, session: Session, form: Form, encoding: str, name: str, message: str, charset_field: str | None  # noqa: ANN001
) -> None:
    """Werkzeug reads every part of a multipart/form-data body as UTF-8: 'Zieli\ufffdski' was stored."""
    fields = good(form, name=name, message=message)
    if charset_field:
        fields["_charset_"] = charset_field
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    response = client.post(f"/f/{form.key}", data=_multipart(fields, encoding, boundary),
                           content_type=f"multipart/form-data; boundary={boundary}", headers={"Origin": ORIGIN})
    assert response.status_code == 303
    [stored] = form_messages(session)
    assert stored.text == message and stored.meta["fields"]["name"] == name
    assert "_charset_" not in stored.meta.get("custom", {})


def test_a_form_posted_with_charset_field_is_read_in_that_encoding(client, session: Session, form: Form) -> None:  # noqa: ANN001
    from urllib.parse import urlencode

    fields = {**good(form, name="Ola Żabińska", message="Żaba źle"), "_charset_": "ISO-8859-2"}
    response = client.post(f"/f/{form.key}", data=urlencode(fields, encoding="iso8859_2"),
                           content_type="application/x-www-form-urlencoded", headers={"Origin": ORIGIN})
    assert response.status_code == 303
    [stored] = form_messages(session)
    assert (stored.text, stored.meta["fields"]["name"]) == ("Żaba źle", "Ola Żabińska")


def test_a_form_with_enctype_text_plain_is_read_not_lost(client, session: Session, form: Form) -> None:  # noqa: ANN001
    """A page whose form says enctype="text/plain" (copied from a mailto: form) posts 'name=value' lines (the
    HTML standard's text/plain encoding). Werkzeug reads no fields from it: the token was missing, and the person
    got the form back empty, what they wrote lost. A line without 'name=' continues the value before it."""
    fields = good(form, name="Ola Żabińska", message="Dzień dobry,\r\nproszę o demo = jutro.\r\nOla")
    body = "".join(f"{key}={value}\r\n" for key, value in fields.items()).encode()
    response = client.post(f"/f/{form.key}", data=body, content_type="text/plain", headers={"Origin": ORIGIN})
    assert response.status_code == 303
    [stored] = form_messages(session)
    assert (stored.text, stored.meta["fields"]["name"]) == ("Dzień dobry,\nproszę o demo = jutro.\nOla",
                                                             "Ola Żabińska")


@pytest.mark.parametrize("body", [b"garbage without boundaries", b"--b\r\nContent-Disposition: form-data\r\n\r\nx",
                                  b"--b\r\nbroken header line\r\n\r\n\xff\xfe--b--\r\n"])
def test_a_malformed_multipart_body_is_not_a_500(client, session: Session, form: Form, body: bytes) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", data=body, content_type="multipart/form-data; boundary=b",
                           headers={"Origin": ORIGIN})
    assert response.status_code in (303, 400)


def test_oversize_is_413(client, settings: dict[str, Any], session: Session, form: Form) -> None:  # noqa: ANN001
    settings["FORMS_MAX_BODY_BYTES"] = 2000
    response = client.post(f"/f/{form.key}", data=good(form, message="x" * 5000))
    assert response.status_code == 413
    response = client.post(f"/f/{form.key}", json=good(form, message="x" * 5000))
    assert response.status_code == 413 and "larger than 2000" in response.get_json()["error"]
    assert form_messages(session) == []


# --------------------------------------------------------------------------- spam defences


def test_honeypot_is_rejected_and_counted(client, session: Session, form: Form) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", data=good(form, website_url="http://cheap-pills.example"))
    assert response.status_code == 400
    assert form_messages(session) == []
    assert spam_reasons(session) == ["honeypot"]


def test_too_fast_is_rejected_and_the_form_comes_back(client, settings, session: Session, form: Form) -> None:  # noqa: ANN001
    settings["FORMS_MIN_SUBMIT_SECONDS"] = 60
    response = client.post(f"/f/{form.key}", data=good(form))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Anna Nowak" in html and 'name="_ts"' in html  # a person can press Send again
    json_reply = client.post(f"/f/{form.key}", json=good(form))
    assert json_reply.status_code == 400 and "_ts" in json_reply.get_json()["fields"]
    assert form_messages(session) == []
    assert spam_reasons(session) == ["too_fast", "too_fast"]


def test_a_person_who_corrects_a_field_at_once_is_not_taken_for_a_bot(client, settings, session: Session,  # noqa: ANN001
                                                                       form: Form, monkeypatch) -> None:  # noqa: ANN001
    """The page shown again for a typo carried a fresh render token, so a person who fixed the typo and pressed
    Send within FORMS_MIN_SUBMIT_SECONDS was refused as too fast, and counted as spam."""
    import itsdangerous.timed

    settings["FORMS_MIN_SUBMIT_SECONDS"] = 5
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 600)  # the form was loaded long ago
    loaded_earlier = token_for(form, "render-typo")
    monkeypatch.undo()
    typo = client.post(f"/f/{form.key}", data=good(form, email="anna@firma", _ts=loaded_earlier))
    assert typo.status_code == 400
    again = re.search(r'name="_ts" value="([^"]+)"', typo.get_data(as_text=True)).group(1)
    fixed = client.post(f"/f/{form.key}", data=good(form, _ts=again))
    assert fixed.status_code == 303, fixed.get_data(as_text=True)
    assert len(form_messages(session)) == 1 and spam_reasons(session) == []
    # Sent too soon: the page comes back with the same token, which is old enough by the next press.
    fresh = token_for(form, "render-fast")
    too_fast = client.post(f"/f/{form.key}", data=good(form, _ts=fresh))
    assert too_fast.status_code == 400 and f'name="_ts" value="{fresh}"' in too_fast.get_data(as_text=True)


@pytest.mark.parametrize(("ts", "reason"), [(None, "missing_token"), ("forged.token.value", "bad_token")])
def test_missing_or_forged_token(client, session: Session, form: Form, ts, reason: str) -> None:  # noqa: ANN001
    data = good(form)
    data.pop("_ts")
    if ts:
        data["_ts"] = ts
    assert client.post(f"/f/{form.key}", json=data).status_code == 400
    assert spam_reasons(session) == [reason]
    assert form_messages(session) == []


def test_token_of_another_form_is_refused(client, session: Session, form: Form) -> None:  # noqa: ANN001
    other = Form(key=new_form_key(), name="Other", fields=form.fields)
    session.add(other)
    session.commit()
    assert client.post(f"/f/{form.key}", json=good(form, _ts=token_for(other))).status_code == 400
    assert spam_reasons(session) == ["bad_token"]


def test_disallowed_origin(client, session: Session, form: Form) -> None:  # noqa: ANN001
    response = client.post(f"/f/{form.key}", json=good(form), headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert form_messages(session) == []
    assert spam_reasons(session) == ["origin"]
    # leadhub's own hosted page is always allowed
    own = client.post(f"/f/{form.key}", data=good(form), headers={"Origin": "http://localhost"})
    assert own.status_code == 303


@pytest.mark.parametrize("origin", ["https://www.client.example:99999", "https://www.client.example:port",
                                    "http://[::1", "null"])
def test_a_malformed_origin_is_refused_not_a_500(client, session: Session, form: Form, origin: str) -> None:  # noqa: ANN001
    """A port out of range or an unclosed IPv6 bracket made urlsplit raise ValueError: every public endpoint
    answered 500 to a header any client can send."""
    posted = client.post(f"/f/{form.key}", json=good(form), headers={"Origin": origin})
    preflight = client.options(f"/f/{form.key}", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    token = client.get(f"/f/{form.key}/token", headers={"Origin": origin})
    assert (posted.status_code, preflight.status_code, token.status_code) == (403, 403, 403)
    assert "Access-Control-Allow-Origin" not in posted.headers
    assert form_messages(session) == []
    assert spam_reasons(session) == ["origin", "origin"]


def test_an_admin_origin_with_a_bad_port_is_a_field_error(client, form: Form) -> None:  # noqa: ANN001
    from webapp.forms import apply_form_edit

    data = {"name": "Demo", "fields": form.fields, "allowed_origins": ["https://www.client.example:99999"],
            "thank_you_url": "http://[::1/thanks", "active": "on"}
    with client.application.test_request_context():
        errors = apply_form_edit(form, data)
    assert set(errors) == {"allowed_origins", "thank_you_url"}


@pytest.mark.parametrize(("allowed", "origin"), [
    ("https://магазин.рф", "https://xn--80aairftm.xn--p1ai"),
    ("https://Sklep-Łódź.pl", "https://xn--sklep-d-q0a42esr.pl"),
    ("https://xn--80aairftm.xn--p1ai", "https://xn--80aairftm.xn--p1ai"),
    # ß and ς are letters of their own to browsers (IDNA 2008), not "ss" and "σ" as in Python's codec (IDNA 2003).
    ("https://Straße.de", "https://xn--strae-oqa.de"),
    ("https://ς.gr", "https://xn--3xa.gr"),
    ("https://my_shop.client.example", "https://my_shop.client.example"),
    # A default port written out, which a browser's Origin never carries.
    ("https://www.client.example:443", "https://www.client.example"),
    ("HTTP://Shop.Example:80/", "http://shop.example"),
])
def test_an_allowed_origin_matches_the_origin_browsers_send(client, session: Session, form: Form,  # noqa: ANN001
                                                            allowed: str, origin: str) -> None:
    """An admin writes a .рф or Polish IDN site as people read it, or with its default port; the browser's Origin
    header carries punycode (xn--…) and no default port: they never matched, and every submission from the site
    was refused as origin spam."""
    form.allowed_origins = [allowed]
    session.add(form)
    session.commit()
    preflight = client.options(f"/f/{form.key}", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    posted = client.post(f"/f/{form.key}", json=good(form), headers={"Origin": origin})
    assert (preflight.status_code, posted.status_code) == (204, 201)
    assert posted.headers["Access-Control-Allow-Origin"] == origin and spam_reasons(session) == []


def test_cors_preflight(client, form: Form) -> None:  # noqa: ANN001
    ok = client.options(f"/f/{form.key}", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in ok.headers["Access-Control-Allow-Headers"]
    refused = client.options(f"/f/{form.key}", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    token = client.get(f"/f/{form.key}/token", headers={"Origin": ORIGIN})
    assert token.status_code == 200 and token.get_json()["token"]
    assert token.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_rate_limit_per_ip_and_per_form(client, settings, session: Session, form: Form) -> None:  # noqa: ANN001
    settings["FORMS_RATE_LIMIT_PER_IP"] = "3/minute"
    codes = [client.post(f"/f/{form.key}", json=good(form, message=f"m{i}")).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    settings["FORMS_RATE_LIMIT_PER_IP"] = "off"
    settings["FORMS_RATE_LIMIT_PER_FORM"] = "5/minute"
    more = [client.post(f"/f/{form.key}", json=good(form, message=f"n{i}"),
                        environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(7)]
    assert more == [201] * 5 + [429] * 2  # the form's budget counts every address
    assert len(form_messages(session)) == 8
    assert spam_reasons(session).count("rate_limit") == 4


# --------------------------------------------------------------------------- durability and identity


def test_retried_identical_submission_is_one_message(client, session: Session, form: Form) -> None:  # noqa: ANN001
    data = good(form)
    first = client.post(f"/f/{form.key}", json=data)
    second = client.post(f"/f/{form.key}", json=data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["reference"] == second.get_json()["reference"]
    assert client.post(f"/f/{form.key}", data=data).status_code == 303  # the same as a form post too
    assert len(form_messages(session)) == 1
    # an edited resubmission with the same rendered form is a new message, not silently dropped
    assert client.post(f"/f/{form.key}", json=good(form, message="second thoughts")).status_code == 201
    # and an explicit Idempotency-Key identifies a client's retries
    keyed = [client.post(f"/f/{form.key}", json=good(form, message="keyed"), headers={"Idempotency-Key": "abc"})
             for _ in range(3)]
    assert [r.status_code for r in keyed] == [201, 200, 200]
    assert len(form_messages(session)) == 3


@pytest.fixture
def held_queue(monkeypatch) -> list[str]:  # noqa: ANN001
    """Tasks are recorded, not run: the worker has not got to them yet."""
    import webapp.forms

    queued: list[str] = []
    monkeypatch.setattr(webapp.forms, "enqueue", lambda name, *args: queued.append(name))
    return queued


def waiting(session: Session) -> list[PendingInbound]:
    session.rollback()
    return list(session.exec(select(PendingInbound)).all())


def test_acknowledged_means_stored_even_before_the_worker_files_it(app, client, login, session: Session, form: Form,
                                                                   held_queue: list[str]) -> None:  # noqa: ANN001
    form.double_opt_in = True
    session.add(form)
    session.commit()
    data = good(form)
    first = client.post(f"/f/{form.key}", json=data)
    assert first.status_code == 201
    assert held_queue == ["forms.file_submissions"]
    [row] = waiting(session)
    assert row.channel == "form" and row.actor == f"form:{form.key}"
    assert form_messages(session) == []
    # A retry while it waits is known, not queued twice.
    second = client.post(f"/f/{form.key}", json=data)
    assert second.status_code == 200 and second.get_json()["reference"] == first.get_json()["reference"]
    assert len(waiting(session)) == 1
    login("admin")
    listing = client.get("/admin/forms").get_data(as_text=True)
    assert "(+1 being filed)" in listing and "no background worker" not in listing
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'leadhub_pending_inbound{channel="form"} 1.0' in metrics
    row = waiting(session)[0]
    row.received_at = row.received_at - timedelta(minutes=10)  # nobody has filed it for ten minutes
    session.add(row)
    session.commit()
    assert "no background worker seems to be running" in client.get("/admin/forms").get_data(as_text=True)

    from webapp.forms import file_waiting_submissions

    with app.app_context():
        assert file_waiting_submissions() == {"filed": 1, "failed": 0}
    [message] = form_messages(session)
    assert message.meta["reference"] == first.get_json()["reference"]
    assert message.meta["double_opt_in"]["status"] == "pending"
    assert waiting(session) == []
    assert held_queue[-1] == "forms.send_confirmation"  # its mail is queued once it is filed
    assert client.post(f"/f/{form.key}", json=data).status_code == 200  # and known after filing


@pytest.mark.parametrize(("times", "expected"), [
    ([0.0], [True]),
    ([0.0, 0.1, 0.49], [True, False, False]),  # rode along: committed long before the filing at 1.0 runs
    ([0.0, 0.5], [True, True]),  # too close to the filing time: its own filing
    ([0.0, 0.2, 0.6, 0.9, 1.2], [True, False, True, False, True]),
])
def test_filing_window_queues_one_filing_per_half_window(times: list[float], expected: list[bool]) -> None:
    from webapp.forms import FilingWindow

    window = FilingWindow()
    assert [window.claim(t, 1.0) for t in times] == expected


def test_a_lost_queue_message_is_filed_by_the_minute_sweep(app, client, session: Session, form: Form,
                                                            monkeypatch) -> None:  # noqa: ANN001
    import webapp.forms

    def queue_down(name: str, *args: Any) -> None:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(webapp.forms, "enqueue", queue_down)
    for i in range(3):
        assert client.post(f"/f/{form.key}", json=good(form, email=f"p{i}@firma.pl")).status_code == 201
    assert len(waiting(session)) == 3
    with app.app_context():
        assert webapp.forms.sweep_submissions() == {"filed": 3, "failed": 0}
    assert len(form_messages(session)) == 3
    assert waiting(session) == []


def test_form_then_api_email_is_one_lead(client, session: Session, form: Form, auth) -> None:  # noqa: ANN001
    assert client.post(f"/f/{form.key}", json=good(form, email="Anna.Nowak+site@gmail.com")).status_code == 201
    later = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "gmail", "external_id": "gmail-msg-1",
        "contact": {"name": "Anna Nowak", "email": "annanowak@gmail.com"},
        "message": {"subject": "Re: demo", "text": "Any news?"},
    })
    assert later.status_code == 201
    session.rollback()  # end the read snapshot: see what the app committed
    assert len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()) == 1
    timeline = client.get(f"/api/v1/contacts/{later.get_json()['contact_id']}/timeline", headers=auth).get_json()
    items = timeline["items"] if isinstance(timeline, dict) else timeline
    assert [i["channel"] for i in items] == ["form", "gmail"]


def test_hostile_values_stored_verbatim_rendered_escaped(client, session: Session, form: Form, settings) -> None:  # noqa: ANN001
    data = good(form, name=HOSTILE[:190], message=HOSTILE, company=HOSTILE[:190], seats="1-10",
                extra_field=HOSTILE, utm_source=HOSTILE, _page=HOSTILE)
    data[HOSTILE[:50]] = HOSTILE  # a hostile field NAME too
    assert client.post(f"/f/{form.key}", data=data).status_code == 303
    [message] = form_messages(session)
    assert HOSTILE in message.text
    assert message.meta["custom"]["extra_field"] == HOSTILE
    assert message.meta["custom"][HOSTILE[:50]] == HOSTILE
    assert message.meta["utm"]["utm_source"] == HOSTILE
    assert message.html == ""
    contact = session.get(Contact, message.contact_id)
    assert "<script>" in contact.company  # verbatim, not mangled
    admin = create_user(session, email="boss@leadhub.example", role="admin", name="Boss", password="pw-boss-123")
    session.commit()
    assert admin.id
    client.post("/login", data={"email": "boss@leadhub.example", "password": "pw-boss-123"})
    for page in (client.get(f"/admin/forms/{form.id}"), client.get("/")):
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert" in html


# --------------------------------------------------------------------------- mail: double opt-in, autoresponder


def test_double_opt_in_round_trip(client, session: Session, form: Form) -> None:  # noqa: ANN001
    form.double_opt_in = True
    form.autoresponder_subject = "Thanks!"
    form.autoresponder_text = "We will call you."
    session.add(form)
    session.commit()
    assert client.post(f"/f/{form.key}", json=good(form)).status_code == 201
    [message] = form_messages(session)
    assert message.meta["double_opt_in"]["status"] == "pending"
    mails = session.exec(select(OutboxMail).order_by(OutboxMail.id)).all()
    assert [m.to for m in mails] == ["anna@firma.pl", "anna@firma.pl"]
    confirm_mail = next(m for m in mails if "confirm" in m.subject.lower())
    assert any(m.subject == "Thanks!" and m.text == "We will call you." for m in mails)
    link = re.search(r"https?://\S+/f/confirm/\S+", confirm_mail.text).group(0)
    path = link.split("127.0.0.1:5000", 1)[1]
    page = client.get(path)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200 and "Yes, confirm" in page.get_data(as_text=True)
    assert form_messages(session)[0].meta["double_opt_in"]["status"] == "pending"
    [consent] = contact_detail(session, message.contact_id)["consents"]
    assert (consent["double_opt_in"], consent["consent_version"], consent["form"]) == ("pending", 1, form.name)
    assert client.post(path).status_code == 200
    state = form_messages(session)[0].meta["double_opt_in"]
    assert state["status"] == "confirmed" and state["confirmed_at"]
    [consent] = contact_detail(session, message.contact_id)["consents"]  # the lead carries it
    assert consent["double_opt_in"] == "confirmed" and consent["confirmed_at"] == state["confirmed_at"]
    assert client.post(path[:-3] + "xyz").status_code == 404
    # a retry of the same submission sends no second mail
    assert client.post(f"/f/{form.key}", json=good(form)).status_code == 200
    session.rollback()  # end the read snapshot: see what the app committed
    assert len(session.exec(select(OutboxMail)).all()) == 2


# --------------------------------------------------------------------------- admin builder


@pytest.fixture
def login(client, session: Session, settings):  # noqa: ANN001, ANN201
    def sign_in(role: str) -> None:
        create_user(session, email=f"{role}@x.example", role=role, name=role, password=f"{role}-password-1")
        session.commit()
        client.post("/login", data={"email": f"{role}@x.example", "password": f"{role}-password-1"})

    return sign_in


@pytest.mark.parametrize("path", ["/admin/forms", "/admin/forms/new"])
def test_admin_pages_need_admin(client, login, path: str) -> None:  # noqa: ANN001
    assert client.get(path).status_code == 302  # to sign-in
    login("rep")
    assert client.get(path).status_code == 403
    client.post("/logout")
    login("manager")
    assert client.get(path).status_code == 403


def _builder_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Quote request", "type": "quote", "active": "on", "field_count": "4",
        "f-0-name": "full_name", "f-0-label": "Full name", "f-0-kind": "text", "f-0-required": "on",
        "f-0-maps_to": "name",
        "f-1-name": "work_email", "f-1-label": "Work email", "f-1-kind": "email", "f-1-required": "on",
        "f-1-maps_to": "email",
        "f-2-name": "volume", "f-2-label": "Volume", "f-2-kind": "select", "f-2-maps_to": "custom",
        "f-2-options": "small,large",
        "f-3-name": "", "thank_you_message": "Thanks <b>a lot</b>",
        "allowed_origins": "https://Shop.Example\nhttp://localhost:8080/\n",
        "consent_text": "I agree.", "double_opt_in": "on",
    }
    data.update(overrides)
    return data


def test_admin_builds_and_edits_a_form(client, login, session: Session, settings) -> None:  # noqa: ANN001
    login("admin")
    response = client.post("/admin/forms/new", data=_builder_post())
    assert response.status_code == 302
    form = session.exec(select(Form)).one()
    assert len(form.key) >= 20
    assert [f["name"] for f in form.fields] == ["full_name", "work_email", "volume"]
    assert form.fields[2]["options"] == ["small", "large"]
    assert form.allowed_origins == ["http://localhost:8080", "https://shop.example"]
    assert (form.consent_version, form.double_opt_in, form.type) == (1, True, "quote")

    edit = client.get(f"/admin/forms/{form.id}").get_data(as_text=True)
    assert f"/f/{form.key}" in edit and "embed.js" in edit and "website_url" in edit

    client.post(f"/admin/forms/{form.id}", data=_builder_post(consent_text="I agree."))
    session.rollback()  # end the read snapshot: see what the app committed
    assert session.get(Form, form.id).consent_version == 1  # unchanged text: same version
    client.post(f"/admin/forms/{form.id}", data=_builder_post(consent_text="I agree to be called."))
    session.rollback()  # end the read snapshot: see what the app committed
    assert session.get(Form, form.id).consent_version == 2

    bad = client.post(f"/admin/forms/{form.id}", data=_builder_post(**{"f-1-kind": "text",
                                                                      "allowed_origins": "not a url"}))
    assert bad.status_code == 400
    session.rollback()  # end the read snapshot: see what the app committed
    assert session.get(Form, form.id).fields[1]["kind"] == "email"  # nothing saved


def test_a_refused_form_edit_comes_back_as_typed_not_as_stored(client, login, session: Session, settings) -> None:  # noqa: ANN001
    """A builder post with one bad value (an origin that is not one) stored nothing, rightly, but the page came
    back showing the stored form (or the defaults, for a new one): the name, every field row and the texts the
    admin had typed were gone. Now the page shows what was sent, beside the error."""
    typed = _builder_post(name="Zapytanie — Łódź", allowed_origins="sklep budmax pl", consent_text="Zgadzam się.",
                          **{"f-2-options": "mała,duża", "f-3-name": "nip", "f-3-label": "NIP firmy"})
    login("admin")
    new = client.post("/admin/forms/new", data=typed)
    html = new.get_data(as_text=True)
    assert new.status_code == 400 and "is not an origin" in html
    for shown in ('value="Zapytanie — Łódź"', 'value="work_email"', 'value="mała,duża"', 'value="NIP firmy"',
                  ">sklep budmax pl</textarea>", ">Zgadzam się.</textarea>"):
        assert shown in html, shown
    assert session.exec(select(Form)).all() == []
    assert client.post("/admin/forms/new", data=_builder_post()).status_code == 302
    session.rollback()  # end the read snapshot: see what the app committed
    form = session.exec(select(Form)).one()
    edit = client.post(f"/admin/forms/{form.id}", data={**typed, "name": "Nowa nazwa", "owner_id": "999999"})
    html = edit.get_data(as_text=True)
    assert edit.status_code == 400 and "no such user" in html and 'value="Nowa nazwa"' in html
    assert 'value="NIP firmy"' in html and form.key in html  # (and the embed code of the stored form)
    session.rollback()
    assert session.get(Form, form.id).name == "Quote request"  # nothing saved


def test_an_admin_edit_reaches_the_public_form_at_once(client, login, session: Session, form: Form) -> None:  # noqa: ANN001
    assert client.get(f"/f/{form.key}").status_code == 200  # now cached in this process
    login("admin")
    edited = client.post(f"/admin/forms/{form.id}", data=_builder_post(active="", allowed_origins=ORIGIN))
    assert edited.status_code == 302
    assert client.get(f"/f/{form.key}").status_code == 404
    assert client.post(f"/f/{form.key}", json=good(form)).status_code == 404


def test_an_edit_from_another_process_shows_within_the_cache_period(app, client, session: Session, form: Form,
                                                                   monkeypatch) -> None:  # noqa: ANN001
    import webapp.forms

    clock = [1000.0]
    monkeypatch.setattr(webapp.forms.time, "monotonic", lambda: clock[0])
    assert client.get(f"/f/{form.key}").status_code == 200
    form.active = False  # written by "another process": this one's cache does not know
    session.add(form)
    session.commit()
    clock[0] += webapp.forms.SETTINGS_CACHE_SECONDS + 0.1
    assert client.get(f"/f/{form.key}").status_code == 404


def test_admin_sees_spam_counts(client, login, session: Session, form: Form) -> None:  # noqa: ANN001
    client.post(f"/f/{form.key}", data=good(form, website_url="spam"))
    client.post(f"/f/{form.key}", json=good(form), headers={"Origin": "https://evil.example"})
    login("admin")
    listing = client.get("/admin/forms").get_data(as_text=True)
    assert "honeypot 1" in listing and "origin 1" in listing
    detail = client.get(f"/admin/forms/{form.id}").get_data(as_text=True)
    assert "Last 24 hours: 2" in detail


def test_embed_script_is_served(client) -> None:  # noqa: ANN001
    script = client.get("/static/forms/embed.js")
    assert script.status_code == 200 and b"textContent" in script.data and b"innerHTML" not in script.data.split(b"*/", 1)[1]


def test_identity_from_form_is_email(session: Session, client, form: Form) -> None:  # noqa: ANN001
    client.post(f"/f/{form.key}", json=good(form, phone="601 234 567"))
    kinds = sorted(i.kind for i in session.exec(select(Identity)).all())
    assert kinds == ["email", "phone"]


def test_concurrent_posts_all_stored(app, session: Session, form: Form) -> None:  # noqa: ANN001
    """Simultaneous submissions wait for the SQLite write lock instead of failing with 'database is locked'."""
    import threading

    codes: list[int] = []

    def post(i: int) -> None:
        with app.test_client() as c:
            codes.append(c.post(f"/f/{form.key}", json=good(form, email=f"p{i}@firma.pl", name=f"Person {i}"),
                                environ_base={"REMOTE_ADDR": f"10.1.0.{i}"}).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [201] * 6
    assert len(form_messages(session)) == 6


def test_forms_switched_off_accept_nothing_and_say_so(client, login, session: Session, form: Form) -> None:  # noqa: ANN001
    login("admin")
    client.post("/settings/connectors/form/enabled", data={"enabled": "0"})
    for response in (client.get(f"/f/{form.key}"), client.post(f"/f/{form.key}", data=good(form)),
                     client.post(f"/f/{form.key}", json=good(form), headers={"Origin": ORIGIN})):
        assert response.status_code == 404
        assert "The Website forms connector is switched off" in response.get_data(as_text=True) or "switched off" in (
            response.get_json(silent=True) or {}).get("error", "")
    assert form_messages(session) == []
    client.post("/settings/connectors/form/enabled", data={"enabled": "1"})
    assert client.post(f"/f/{form.key}", data=good(form)).status_code == 303
    assert len(form_messages(session)) == 1


def test_lead_page_shows_consent_and_opt_in(client, login, session: Session, form: Form) -> None:  # noqa: ANN001
    form.double_opt_in = True
    session.add(form)
    session.commit()
    client.post(f"/f/{form.key}", data=good(form))
    [message] = form_messages(session)
    login("manager")
    page = client.get(f"/contacts/{message.contact_id}").get_data(as_text=True)
    assert 'id="consents"' in page and "opt-in not confirmed yet" in page and "consent text v1" in page


def test_the_forms_owner_owns_its_new_leads(client, session: Session, form: Form) -> None:  # noqa: ANN001
    owner = create_user(session, email="form-owner@x.example", role="rep", name="Form Owner", password="pw-1234567")
    form.owner_id = owner.id
    session.add(form)
    session.commit()
    assert client.post(f"/f/{form.key}", json=good(form), headers={"Origin": ORIGIN}).status_code == 201
    [message] = form_messages(session)
    assert session.get(Contact, message.contact_id).owner_id == owner.id


@pytest.mark.parametrize("hops", [0, 1])
def test_visitors_behind_a_reverse_proxy_have_limits_of_their_own(database_url: str, tmp_path, form: Form,  # noqa: ANN001
                                                                  hops: int) -> None:
    """Behind nginx or a PaaS router every request came from the proxy's address: the per-address limit of a
    form (10 a minute) was every visitor's together. With LEADHUB_TRUSTED_PROXY_HOPS the address is the one the
    proxy forwards; without it the header is ignored (anyone can send it)."""
    from webapp import create_app

    behind_proxy = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key", "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "DEMO": "off", "FLASK": {"TESTING": True}, "TRUSTED_PROXY_HOPS": hops, "FORMS_MIN_SUBMIT_SECONDS": 0,
        "FORMS_RATE_LIMIT_PER_IP": "2/minute", "FORMS_RATE_LIMIT_PER_FORM": "off"})
    behind_proxy.instance_path = str(tmp_path / "proxied")
    client = behind_proxy.test_client()
    codes = [client.post(f"/f/{form.key}", json=good(form, message=f"m{i}"),
                         headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
    behind_proxy.extensions["leadhub.engine"].dispose()
    behind_proxy.extensions["leadhub.writer_engine"].dispose()
    assert codes == ([201] * 4 if hops else [201, 201, 429, 429])

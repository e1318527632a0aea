"""Every route of the app, as a signed-in admin (and with an admin's API token), given hostile values: ids
the store cannot hold, non-decimal digits, long and odd text, in paths, query strings, forms and JSON bodies.
Whatever the route thinks of them, it answers with a status of its own, never a 500."""

from __future__ import annotations

import random
import re
from pathlib import Path

from sqlmodel import Session, select
from werkzeug.routing import IntegerConverter

from core.models import User
from core.users import create_api_token
from webapp.demo import seed_demo

HOSTILE = ["", " ", "0", "1", "2", "-1", "9" * 20, "²", "٣", "abc", "Łukasz Wójcik", "Алексей", "a" * 5000,
           "<script>alert(1)</script>", "on", "true", "null", "[]", "{}", "1.5", "1e309", "\u202e", "\x00", "%", "'",
           '"', "2026-13-45", "2026-01-01T10:00:00Z", "new", "mql", "sql", "customer", "hot", "delete", "add",
           "toggle", "fallback", "activate", "*", "NEAR(", "http://", "javascript:alert(1)"]
# Signature headers (werkzeug reads headers as latin-1: "é" is what a non-ASCII byte becomes).
SIGNATURE_HEADERS = ("X-Hub-Signature", "X-Body-Signature", "X-Leadhub-Signature")
HOSTILE_HEADER_VALUES = ["", "sha1=", "sha1=\u00e9", "\u00e9", "sha1=" + "0" * 40, "0" * 64, "\u00ff" * 300]
TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def _field_names() -> list[str]:
    names: set[str] = {"action", "name", "email", "password", "role", "stage", "temperature", "owner_id", "note",
                       "token", "state", "code"}
    for template in TEMPLATES.rglob("*.html"):
        names |= set(re.findall(r'name="([a-z_][a-z0-9_\-]*)"', template.read_text(encoding="utf-8")))
    return sorted(names)


def test_no_route_answers_500_to_hostile_input(app, session: Session) -> None:  # noqa: ANN001
    seed_demo(session)
    admin = session.exec(select(User).where(User.role == "admin")).first()
    token = create_api_token(session, user=admin)
    session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug is a 500 answer here, as in production
    # Secrets set, so that the webhook and card routes compare what they are sent with something.
    app.config["LEADHUB"].update(GMAIL_PUSH_TOKEN="push-token", INTERCOM_CLIENT_SECRET="intercom-secret")
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(admin.id)
        flask_session["_fresh"] = True
    rng = random.Random(20261206)
    fields = _field_names()

    def value() -> str:
        return rng.choice(HOSTILE) if rng.random() < 0.85 else "".join(chr(rng.randrange(32, 0x500))
                                                                     for _ in range(rng.randint(0, 20)))

    failures: list[tuple[str, str, object, int]] = []
    rules = [r for r in app.url_map.iter_rules() if not r.rule.startswith(("/static", "/logout"))]
    for rule in rules:
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for _ in range(8):
                path = rule.rule
                for name, converter in rule._converters.items():  # noqa: SLF001 - the converter's kind
                    numeric = isinstance(converter, IntegerConverter)
                    path = re.sub(rf"<[^>]*\b{name}>", rng.choice(["1", "2", "5", "99999", "9" * 20, str(2**63), str(2**31)] if numeric else
                                                                  ["gmail", "intercom", "linkedin", "x", "1"]), path)
                data = {rng.choice(fields): value() for _ in range(rng.randint(0, 8))}
                if rng.random() < 0.5:  # the forms that do several things say which with "action"
                    data["action"] = rng.choice(["add", "delete", "toggle", "fallback", "activate", "save"])
                headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api") else {}
                if rng.random() < 0.4:
                    headers.update((name, rng.choice(HOSTILE_HEADER_VALUES)) for name in SIGNATURE_HEADERS)
                if method == "GET":
                    response = client.get(path, query_string=data, headers=headers)
                elif path.startswith("/api") or rng.random() < 0.3:
                    response = client.open(path, method=method, json=data, headers=headers)
                else:
                    response = client.open(path, method=method, data=data, headers=headers)
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append((method, path, data, response.status_code))
    assert len(rules) > 80
    assert failures == []


def test_a_non_ascii_signature_or_token_is_refused_not_a_500(app, client) -> None:  # noqa: ANN001
    """hmac.compare_digest raises on a str with non-ASCII characters; a header or a query string can carry them."""
    app.config["LEADHUB"].update(GMAIL_PUSH_TOKEN="push-token", INTERCOM_CLIENT_SECRET="intercom-secret")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    sent = {
        "/webhooks/gmail?token=%C5%BC": {},
        "/webhooks/intercom": {"X-Hub-Signature": "sha1=\u00e9"},
        "/intercom/canvas/initialize": {"X-Body-Signature": "\u00e9" * 64},
        "/intercom/canvas/submit": {"X-Body-Signature": "\u00e9"},
    }
    for path, headers in sent.items():
        assert client.post(path, data=b"{}", headers=headers).status_code in (401, 403), path


def test_json_nested_past_the_parser_limit_is_bad_input_not_a_500(app, client, session: Session) -> None:  # noqa: ANN001
    """Python's JSON parser raises RecursionError (not a ValueError) on "[" * 10,000: request.get_json and the
    views' own parsing let it out as a 500. Every place that parses what a client sent now answers as for any
    other malformed JSON."""
    import base64
    import hashlib
    import hmac
    import json

    from core.models import Form
    from webapp.forms import new_form_key

    seed_demo(session)
    admin = session.exec(select(User).where(User.role == "admin")).first()
    token = create_api_token(session, user=admin)
    form = Form(key=new_form_key(), name="Kontakt", fields=[{"name": "email", "label": "E-mail", "kind": "email",
                                                              "maps_to": "email", "required": True}])
    session.add(form)
    session.commit()
    secret = "intercom-secret"
    app.config["LEADHUB"].update(GMAIL_PUSH_TOKEN="push-token", INTERCOM_CLIENT_SECRET=secret)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["WTF_CSRF_ENABLED"] = False
    nested = b"[" * 10_000 + b"]" * 10_000  # (the parser gives up at about a thousand levels)

    def signed(header: str, digest: str) -> dict[str, str]:
        mac = hmac.new(secret.encode(), nested, getattr(hashlib, digest)).hexdigest()
        return {header: f"sha1={mac}" if digest == "sha1" else mac, "Content-Type": "application/json"}

    push = json.dumps({"message": {"data": base64.b64encode(nested).decode()}}).encode()
    answers = {
        "API inbound": client.post("/api/v1/inbound", data=nested, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}),
        "public form": client.post(f"/f/{form.key}", data=nested, headers={"Content-Type": "application/json"}),
        "Gmail push": client.post("/webhooks/gmail?token=push-token", data=push,
                                  headers={"Content-Type": "application/json"}),
        "Intercom webhook": client.post("/webhooks/intercom", data=nested, headers=signed("X-Hub-Signature", "sha1")),
        "Canvas Kit": client.post("/intercom/canvas/initialize", data=nested,
                                  headers=signed("X-Body-Signature", "sha256")),
    }
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(admin.id)
        flask_session["_fresh"] = True
    answers["scoring rules"] = client.post("/qualify/rules", data={"rules": nested.decode(), "action": "preview"})
    assert {name: response.status_code for name, response in answers.items()} == {
        "API inbound": 400, "public form": 400, "Gmail push": 400, "Intercom webhook": 400, "Canvas Kit": 400,
        "scoring rules": 400}

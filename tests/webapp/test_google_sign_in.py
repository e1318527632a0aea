"""Optional Google sign-in: authlib's OpenID Connect client against a local provider emulator."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.webapp.oidc_emulator import running_provider


@pytest.fixture
def provider():  # noqa: ANN201
    with running_provider("client-1", "secret-1", {"email": "rep@web.example", "email_verified": True}) as p:
        yield p


def _google_app(app, base: str):  # noqa: ANN001, ANN202
    from webapp.auth import _init_google

    app.config["LEADHUB"].update(GOOGLE_CLIENT_ID="client-1", GOOGLE_CLIENT_SECRET="secret-1",
                                 GOOGLE_DISCOVERY_URL=base + "/.well-known/openid-configuration")
    _init_google(app)
    return app.test_client()


def _round_trip(client, base: str):  # noqa: ANN001, ANN202
    start = client.get("/login/google")
    assert start.status_code == 302 and start.location.startswith(base + "/authorize")
    back = requests.get(start.location, allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    return client.get(callback.path + "?" + callback.query)


def test_google_sign_in_for_an_existing_user(app, users, provider) -> None:  # noqa: ANN001
    base, _ = provider
    client = _google_app(app, base)
    assert b"Sign in with Google" in client.get("/login").data
    done = _round_trip(client, base)
    assert done.status_code == 302 and urlsplit(done.location).path == "/"
    assert b"Rep (rep)" in client.get("/inbox").data


@pytest.mark.parametrize("identity", [{"email": "stranger@web.example", "email_verified": True},
                                      {"email": "rep@web.example", "email_verified": False}])
def test_google_sign_in_refuses_unknown_or_unverified(app, users, provider, identity) -> None:  # noqa: ANN001
    base, state = provider
    state["identity"] = identity
    client = _google_app(app, base)
    done = _round_trip(client, base)
    assert urlsplit(done.location).path == "/login"
    assert client.get("/inbox").status_code == 302


def test_google_sign_in_bad_callback_and_disabled(app, users, provider, client) -> None:  # noqa: ANN001
    assert client.get("/login/google").status_code == 404  # not configured
    base, _ = provider
    google = _google_app(app, base)
    google.get("/login/google")
    assert urlsplit(google.get("/login/google/callback?code=forged&state=forged").location).path == "/login"

"""Sign in with LinkedIn (OpenID Connect) through authlib against the emulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlmodel import Session, select

import connectors
from connectors.errors import AuthExpired, FatalError
from connectors.linkedin.emulator import RunningEmulator
from connectors.linkedin.oidc import LinkedInOidc, LinkedInOidcConfig
from core.models import ConnectorAccount
from tests.connectors.linkedin.conftest import csrf_token


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator() as running:
        yield running


@pytest.fixture
def linked_app(app, emulator: RunningEmulator):  # noqa: ANN001, ANN201
    app.config["LEADHUB"].update(emulator.settings())
    return app


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _follow_to_provider(client, start: str) -> str:  # noqa: ANN001
    """leadhub redirects to the (emulated) provider, which consents at once and redirects back."""
    to_provider = client.get(start)
    assert to_provider.status_code == 302
    location = to_provider.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["scope"] == ["openid profile email"] and query["response_type"] == ["code"]
    assert query["state"][0] and query["nonce"][0]
    back = requests.get(location, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    return back.headers["Location"]


def test_client_flow_sends_the_token_only_in_a_header(emulator: RunningEmulator) -> None:
    client = LinkedInOidc(LinkedInOidcConfig.from_settings(emulator.settings()), redirect_uri="http://app.test/cb")
    auth = client.authorization_request()
    callback = requests.get(auth.url, allow_redirects=False, timeout=5).headers["Location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = client.fetch_token(code=code)
    claims = client.userinfo(token)
    assert claims["sub"] == "782bbtaQ" and claims["email"] == "owner@leadhub.example"
    assert not any(token["access_token"] in line for line in emulator.state.request_log)
    with pytest.raises(FatalError, match="invalid_grant"):
        client.fetch_token(code=code)  # a code works once
    with pytest.raises(AuthExpired):
        client.userinfo({"access_token": "revoked", "token_type": "Bearer"})


def test_wrong_client_secret_is_a_clear_error(emulator: RunningEmulator) -> None:
    settings = {**emulator.settings(), "LINKEDIN_CLIENT_SECRET": "wrong"}
    client = LinkedInOidc(LinkedInOidcConfig.from_settings(settings), redirect_uri="http://app.test/cb")
    auth = client.authorization_request()
    code = parse_qs(urlsplit(requests.get(auth.url, allow_redirects=False, timeout=5).headers["Location"]).query)
    with pytest.raises(FatalError, match="invalid_client"):
        client.fetch_token(code=code["code"][0])


def test_defaults_are_linkedins_real_endpoints(app) -> None:  # noqa: ANN001
    config = LinkedInOidcConfig.from_settings(app.config["LEADHUB"])
    assert config.authorize_url == "https://www.linkedin.com/oauth/v2/authorization"
    assert config.token_url == "https://www.linkedin.com/oauth/v2/accessToken"
    assert config.userinfo_url == "https://api.linkedin.com/v2/userinfo"


def test_rep_links_identity_token_encrypted_then_signs_in_with_it(linked_app, signed_in, session: Session, rep) -> None:  # noqa: ANN001
    assert "Sign in with LinkedIn" in linked_app.test_client().get("/login").get_data(as_text=True)
    callback = _follow_to_provider(signed_in, "/linkedin/connect")
    done = signed_in.get(_local(callback))
    assert done.status_code == 302 and done.headers["Location"].endswith("/linkedin/")
    account = session.exec(select(ConnectorAccount).where(ConnectorAccount.type == "linkedin")).one()
    assert (account.owner_id, account.external_id, account.label) == (rep.id, "782bbtaQ", "owner@leadhub.example")
    stored = linked_app.extensions["leadhub.secretbox"].decrypt(account.credentials_encrypted)
    assert stored["token"]["access_token"] not in account.credentials_encrypted
    assert stored["token"]["token_type"].lower() == "bearer"
    page = signed_in.get("/linkedin/").get_data(as_text=True)
    assert "Linked to LinkedIn as <strong>owner@leadhub.example</strong>" in page

    # Signed out, the same LinkedIn identity signs the rep in.
    signed_in.post("/logout", data={"csrf_token": csrf_token(signed_in, "/linkedin/")})
    callback = _follow_to_provider(signed_in, "/linkedin/login")
    landed = signed_in.get(_local(callback))
    assert landed.status_code == 302 and landed.headers["Location"] == "/"
    assert signed_in.get("/linkedin/").status_code == 200


def test_unlinked_identity_cannot_sign_in_and_forged_state_is_refused(linked_app, client, session) -> None:  # noqa: ANN001
    callback = _follow_to_provider(client, "/linkedin/login")
    refused = client.get(_local(callback), follow_redirects=True)
    assert "No leadhub user has linked this LinkedIn identity" in refused.get_data(as_text=True)
    forged = client.get("/linkedin/callback?code=x&state=forged", follow_redirects=True)
    assert "did not start here" in forged.get_data(as_text=True)
    assert session.exec(select(ConnectorAccount)).all() == []


def test_not_configured_says_so(client, signed_in) -> None:  # noqa: ANN001
    assert "Sign in with LinkedIn" not in client.application.test_client().get("/login").get_data(as_text=True)
    response = signed_in.get("/linkedin/connect", follow_redirects=True)
    assert "LinkedIn sign-in is not configured" in response.get_data(as_text=True)


def test_connector_is_registered_and_does_not_sync() -> None:
    connectors.load_all()
    linkedin = connectors.registered()["linkedin"]
    assert linkedin.syncs is False and linkedin.title == "LinkedIn"
    assert [f.name for f in linkedin.config_fields if f.secret] == ["client_secret"]


def test_demo_serves_the_emulator_and_points_the_settings_at_it(tmp_path) -> None:  # noqa: ANN001
    from tests.conftest import TEST_ENCRYPTION_KEY
    from webapp import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/demo.db", "SECRET_KEY": "x", "DEMO": "on",
                      "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "FLASK": {"TESTING": True}})
    settings = app.config["LEADHUB"]
    assert settings["LINKEDIN_AUTHORIZE_URL"] == "http://127.0.0.1:5000/_emulators/linkedin/oauth/v2/authorization"
    response = app.test_client().get(
        "/_emulators/linkedin/oauth/v2/authorization?response_type=code&scope=openid&state=s"
        f"&client_id={settings['LINKEDIN_CLIENT_ID']}&redirect_uri=http://127.0.0.1:5000/linkedin/callback"
    )
    assert response.status_code == 302 and "code=" in response.headers["Location"]
    from webapp.linkedin import signin_available

    assert signin_available(settings)
    auto = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/auto.db", "SECRET_KEY": "x", "DEMO": "auto",
                       "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY})
    # auto: linking works against the emulator, but it may not sign anyone in (it consents for anybody).
    assert auto.config["LEADHUB"]["LINKEDIN_EMULATED"] and not signin_available(auto.config["LEADHUB"])
    real = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/real.db", "SECRET_KEY": "x", "DEMO": "auto",
                       "LINKEDIN_CLIENT_ID": "real-id", "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY})
    assert real.config["LEADHUB"]["LINKEDIN_TOKEN_URL"] == "https://www.linkedin.com/oauth/v2/accessToken"
    assert real.test_client().get("/_emulators/linkedin/v2/userinfo").status_code == 404


def test_evidence_python_linkedin_v2_puts_the_token_in_the_url(emulator: RunningEmulator) -> None:
    """Why leadhub does not use python-linkedin-v2 (README, Dependencies): its requests carry the access token
    as ?oauth2_access_token=…, where proxies and access logs keep it; and its endpoints are the retired ones."""
    from linkedin_v2.linkedin import LinkedInApplication, LinkedInAuthentication

    response = LinkedInApplication(token="secret-token-123").make_request("GET", f"{emulator.base_url}/v2/userinfo")
    assert response.status_code == 400  # the emulator refuses tokens in URLs, as it should
    assert any("oauth2_access_token=secret-token-123" in line for line in emulator.state.request_log)
    assert LinkedInAuthentication.AUTHORIZATION_URL == "https://www.linkedin.com/uas/oauth2/authorization"
    assert LinkedInAuthentication.ACCESS_TOKEN_URL == "https://www.linkedin.com/uas/oauth2/accessToken"


@pytest.mark.parametrize(("sub", "expected"), [(782, "782"), ("782bbtaQ", "782bbtaQ"), (True, None), ([1], None)])
def test_a_subject_that_is_not_a_string_is_read_as_one_or_refused(emulator: RunningEmulator, sub: object,
                                                                  expected: str | None) -> None:
    """OpenID Connect's sub is a string: a number sent in its place was kept as one, and looking the account up
    by it failed on PostgreSQL (a varchar compared with an integer: a 500 on sign-in)."""
    emulator.state.member = {**emulator.state.member, "sub": sub}
    client = LinkedInOidc(LinkedInOidcConfig.from_settings(emulator.settings()), redirect_uri="http://app.test/cb")
    auth = client.authorization_request()
    code = parse_qs(urlsplit(requests.get(auth.url, allow_redirects=False, timeout=5).headers["Location"]).query)
    token = client.fetch_token(code=code["code"][0])
    if expected is None:
        with pytest.raises(FatalError, match="not an identifier"):
            client.userinfo(token)
    else:
        assert client.userinfo(token)["sub"] == expected

"""Sign In with LinkedIn using OpenID Connect", with authlib.

Authorization and token endpoints under /oauth/v2/, claims from /v2/userinfo, scopes `openid profile email`.
Endpoints come from settings (LinkedIn's real URLs by default; the emulator's in tests and the demo). The access
token only ever travels in the Authorization header, never in a URL (see README: why not python-linkedin-v2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from connectors.errors import FatalError, RetriableError, classify_response

SCOPES = "openid profile email"
DEFAULT_AUTHORIZE_URL = "https://www.linkedin.com/oauth/v2/authorization"
DEFAULT_TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
DEFAULT_USERINFO_URL = "https://api.linkedin.com/v2/userinfo"
TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class LinkedInOidcConfig:
    client_id: str
    client_secret: str
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    userinfo_url: str = DEFAULT_USERINFO_URL

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LinkedInOidcConfig:
        return cls(
            client_id=str(settings.get("LINKEDIN_CLIENT_ID") or ""),
            client_secret=str(settings.get("LINKEDIN_CLIENT_SECRET") or ""),
            authorize_url=str(settings.get("LINKEDIN_AUTHORIZE_URL") or DEFAULT_AUTHORIZE_URL),
            token_url=str(settings.get("LINKEDIN_TOKEN_URL") or DEFAULT_TOKEN_URL),
            userinfo_url=str(settings.get("LINKEDIN_USERINFO_URL") or DEFAULT_USERINFO_URL),
        )

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str


class LinkedInOidc:
    """The three steps of the code flow: where to send the rep, code → token, token → claims."""

    def __init__(self, config: LinkedInOidcConfig, redirect_uri: str):
        self.config = config
        self.redirect_uri = redirect_uri

    def _session(self, token: dict[str, Any] | None = None) -> OAuth2Session:
        # LinkedIn wants the client secret in the form body (client_secret_post), not in Basic auth.
        return OAuth2Session(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=SCOPES,
            redirect_uri=self.redirect_uri,
            token_endpoint_auth_method="client_secret_post",
            token=token,
        )

    def authorization_request(self) -> AuthorizationRequest:
        nonce = generate_token(32)
        url, state = self._session().create_authorization_url(self.config.authorize_url, nonce=nonce)
        return AuthorizationRequest(url=url, state=state, nonce=nonce)

    def fetch_token(self, *, code: str) -> dict[str, Any]:
        try:
            token = self._session().fetch_token(
                self.config.token_url, grant_type="authorization_code", code=code, timeout=TIMEOUT_SECONDS
            )
        except OAuthError as exc:
            raise FatalError(f"LinkedIn refused the sign-in: {exc.error} {exc.description or ''}".strip()) from None
        except requests.RequestException as exc:
            raise RetriableError(f"LinkedIn's token endpoint did not answer: {type(exc).__name__}") from None
        return dict(token)

    def userinfo(self, token: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session(token).get(self.config.userinfo_url, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise RetriableError(f"LinkedIn's userinfo endpoint did not answer: {type(exc).__name__}") from None
        error = classify_response(response)
        if error is not None:
            raise error
        try:
            claims = response.json()
        except ValueError:
            raise FatalError("LinkedIn's userinfo answer is not JSON") from None
        if not isinstance(claims, dict) or not claims.get("sub"):
            raise FatalError("LinkedIn's userinfo answer has no subject (sub)")
        if not isinstance(claims["sub"], str | int) or isinstance(claims["sub"], bool):
            raise FatalError("LinkedIn's userinfo answer has a subject (sub) that is not an identifier")
        # OpenID Connect's sub is a string; a number sent in its place is compared as the string it stands for
        # (PostgreSQL refused to compare a varchar column with an integer: a 500).
        return {**claims, "sub": str(claims["sub"])[:200]}


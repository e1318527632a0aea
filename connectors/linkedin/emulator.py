"""A small stand-in for LinkedIn's OpenID Connect endpoints, for tests and the demo.

Same paths as LinkedIn (/oauth/v2/authorization, /oauth/v2/accessToken, /v2/userinfo), same shapes of answers,
the member consents at once. It refuses an access token sent as a URL parameter (what python-linkedin-v2 does),
and keeps a log of request URLs so tests can prove the token never appears in one.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from werkzeug.serving import BaseWSGIServer, make_server

DEFAULT_MEMBER = {
    "sub": "782bbtaQ",
    "name": "Rep Owner",
    "given_name": "Rep",
    "family_name": "Owner",
    "picture": "",
    "locale": {"country": "PL", "language": "pl"},
    "email": "owner@leadhub.example",
    "email_verified": True,
}


@dataclass
class EmulatorState:
    client_id: str = "emulated-client"
    client_secret: str = "emulated-secret"
    member: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MEMBER))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    request_log: list[str] = field(default_factory=list)


def create_emulator(state: EmulatorState | None = None) -> Flask:
    state = state or EmulatorState()
    app = Flask("linkedin-emulator")
    app.config["STATE"] = state

    @app.before_request
    def _log() -> None:
        state.request_log.append(request.full_path)

    def _error(status: int, error: str, description: str):  # noqa: ANN202
        return jsonify({"error": error, "error_description": description}), status

    @app.get("/oauth/v2/authorization")
    def authorization():  # noqa: ANN202
        args = request.args
        if args.get("response_type") != "code" or args.get("client_id") != state.client_id:
            return _error(400, "invalid_request", "unknown client or response_type")
        if "openid" not in args.get("scope", "").split():
            return _error(400, "invalid_scope", "openid is required")
        redirect_uri = args.get("redirect_uri", "")
        code = secrets.token_urlsafe(16)
        state.codes[code] = {"redirect_uri": redirect_uri, "scope": args.get("scope", "")}
        return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': args.get('state', '')})}")

    @app.post("/oauth/v2/accessToken")
    def access_token():  # noqa: ANN202
        form = request.form
        if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
            return _error(401, "invalid_client", "Client authentication failed")
        grant = state.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _error(400, "invalid_grant", "The authorization code is invalid or expired")
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return _error(400, "invalid_grant", "redirect_uri does not match")
        token = secrets.token_urlsafe(32)
        state.tokens[token] = dict(state.member)
        return jsonify(
            {"access_token": token, "expires_in": 5_184_000, "scope": "email,openid,profile", "token_type": "Bearer"}
        )

    @app.get("/v2/userinfo")
    def userinfo():  # noqa: ANN202
        if "oauth2_access_token" in request.args or "access_token" in request.args:
            return _error(400, "invalid_request", "access tokens in URLs are refused")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = state.tokens.get(token) if scheme.lower() == "bearer" else None
        if claims is None:
            return _error(401, "invalid_token", "Invalid access token")
        return jsonify(claims)

    return app


class RunningEmulator:
    """The emulator served on 127.0.0.1 with a free port, in a thread."""

    def __init__(self, state: EmulatorState | None = None):
        self.state = state or EmulatorState()
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, create_emulator(self.state), threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def settings(self) -> dict[str, str]:
        """leadhub settings (without the LEADHUB_ prefix) that point at this emulator."""
        return {
            "LINKEDIN_CLIENT_ID": self.state.client_id,
            "LINKEDIN_CLIENT_SECRET": self.state.client_secret,
            "LINKEDIN_AUTHORIZE_URL": f"{self.base_url}/oauth/v2/authorization",
            "LINKEDIN_TOKEN_URL": f"{self.base_url}/oauth/v2/accessToken",
            "LINKEDIN_USERINFO_URL": f"{self.base_url}/v2/userinfo",
        }

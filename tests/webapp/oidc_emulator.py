"""A tiny OpenID Connect provider for tests: discovery, authorize (auto-consents as a configured user), token
(RS256-signed id_token carrying the nonce), JWKS. Served with werkzeug make_server on 127.0.0.1, port 0."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from authlib.jose import JsonWebKey, jwt
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server


def make_provider(client_id: str, client_secret: str, identity: dict) -> tuple[Flask, dict]:
    app = Flask("oidc-emulator")
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
    state: dict = {"codes": {}, "identity": identity, "base": ""}

    @app.get("/.well-known/openid-configuration")
    def discovery():  # noqa: ANN202
        base = state["base"]
        return jsonify({"issuer": base, "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/token", "jwks_uri": base + "/jwks",
                        "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"]})

    @app.get("/authorize")
    def authorize():  # noqa: ANN202
        assert request.args["client_id"] == client_id
        code = secrets.token_urlsafe(8)
        state["codes"][code] = request.args.get("nonce")
        return redirect(request.args["redirect_uri"] + "?" + urlencode({"code": code, "state": request.args["state"]}))

    @app.post("/token")
    def token():  # noqa: ANN202
        secret = request.form.get("client_secret") or (request.authorization.password if request.authorization else "")
        code = request.form.get("code")
        if secret != client_secret or code not in state["codes"]:
            return jsonify({"error": "invalid_grant"}), 400
        now = int(time.time())
        claims = {"iss": state["base"], "aud": client_id, "sub": "google-123", "iat": now, "exp": now + 300,
                  "nonce": state["codes"].pop(code), **state["identity"]}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, key).decode()
        return jsonify({"access_token": "at-" + code, "token_type": "Bearer", "expires_in": 300, "id_token": id_token})

    @app.get("/jwks")
    def jwks():  # noqa: ANN202
        return jsonify({"keys": [key.as_dict(is_private=False)]})

    return app, state


@contextmanager
def running_provider(client_id: str, client_secret: str, identity: dict) -> Iterator[tuple[str, dict]]:
    app, state = make_provider(client_id, client_secret, identity)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    state["base"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["base"], state
    finally:
        server.shutdown()
        thread.join(timeout=5)

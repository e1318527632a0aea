"""Access-control matrix: every route × (anonymous, rep, manager, admin). No 500 anywhere, anonymous is sent to
sign in (or gets 401) except on public endpoints, reps get 403 on admin pages, and CSRF-less posts are refused."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from tests.webapp.helpers import add_message

PUBLIC_PREFIXES = ("/login", "/healthz", "/metrics", "/api/openapi.json", "/f/", "/webhooks/", "/intercom/canvas/", "/static/")
# The least role each area needs: below it the answer is 403, at or above it never 403.
MIN_ROLE = (
    (("/settings/", "/admin/forms", "/qualify/rules", "/qualify/routing", "/qualify/webhooks", "/intercom/install"),
     "admin"),
    (("/analytics",), "manager"),
)
RANK = {"rep": 0, "manager": 1, "admin": 2}


def least_role(url: str) -> str | None:
    return next((role for prefixes, role in MIN_ROLE if url.startswith(prefixes)), None)


def _url(rule) -> str:  # noqa: ANN001
    values = {}
    for name in rule.arguments:
        values[name] = 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
    return rule.build(values, append_unknown=False)[1]


def _routes(app):  # noqa: ANN001, ANN202
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, _url(rule), rule.rule


@pytest.mark.parametrize("role", [None, "rep", "manager", "admin"])
def test_every_route_for_every_role(app, as_role, session, role) -> None:  # noqa: ANN001
    add_message(session, name="Matrix Person", email="m@matrix.example", html="<p>hi</p>")
    client = as_role(role) if role else app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    checked = 0
    for method, url, rule in _routes(app):
        if rule == "/logout":
            continue  # would end this client's session for the rest of the walk
        response = client.open(url, method=method)
        checked += 1
        assert response.status_code < 500, (method, url, response.status_code)
        public = url.startswith(PUBLIC_PREFIXES)
        if role is None and not public:
            assert response.status_code in {302, 401}, (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.location
        needed = least_role(url)
        if role is not None and needed is not None:
            if RANK[role] < RANK[needed]:
                assert response.status_code == 403, (method, url, role, response.status_code)
            else:
                assert response.status_code != 403, (method, url, role, response.status_code)
    assert checked > 30


def test_csrf_less_posts_are_refused(app, users) -> None:  # noqa: ANN001
    from tests.webapp.conftest import sign_in

    app.config["WTF_CSRF_ENABLED"] = True
    client = sign_in(app.test_client(), users["admin"].email)
    for method, url, _rule in _routes(app):
        if method != "POST" or url.startswith(("/api/", "/webhooks/", "/f/", "/intercom/")):
            continue
        response = client.post(url, data={"text": "x", "role": "rep"})
        assert response.status_code == 400, (url, response.status_code)

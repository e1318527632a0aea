"""Bearer-token authentication for the API. A token carries its user's role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import g, jsonify, request

from core.models import Role, User
from core.users import token_needs_touch, touch_token, user_for_token
from webapp.db import get_session, write_session

ROLE_RANK = {Role.rep.value: 0, Role.manager.value: 1, Role.admin.value: 2}


def _unauthorized(message: str):  # noqa: ANN202
    response = jsonify({"error": message, "status": 401})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="leadhub"'
    return response


def bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    session = get_session()
    found = user_for_token(session, token.strip())
    if found is None:
        return None
    user, row = found
    if token_needs_touch(row):
        # Its own write transaction, holding the lock from the start: upgrading the read above to a write fails
        # at once on SQLite ("database is locked") if another request committed since, whatever the busy timeout.
        try:
            touch_token(write_session(), row.id)
            session.commit()
        except sa.exc.OperationalError:
            session.rollback()  # the lock stayed busy past the timeout: the timestamp can wait, the request cannot
    return user


def token_required(min_role: str = Role.rep.value) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
            user = getattr(g, "api_user", None) or bearer_user()
            if user is None:
                if not request.headers.get("Authorization"):
                    return _unauthorized("missing bearer token (Authorization: Bearer <token>)")
                return _unauthorized("invalid or revoked token")
            if ROLE_RANK.get(user.role, -1) < ROLE_RANK[min_role]:
                return jsonify({"error": f"this needs the {min_role} role", "status": 403}), 403
            g.api_user = user
            return view(*args, **kwargs)

        return wrapper

    return decorator

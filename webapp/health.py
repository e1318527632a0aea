"""Liveness and readiness for load balancers and people: /healthz checks the database and the task queue answer."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from webapp.db import get_session
from webapp.queue import pending_count

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    checks = {}
    ok = True
    try:
        get_session().exec(sa.text("SELECT 1")).one()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    try:
        # SELECT on the SQLite queue file, LLEN on Redis: the same call the workers' storage makes.
        checks["queue_depth"] = pending_count()
        checks["queue"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["queue"] = f"error: {type(exc).__name__}"
        ok = False
    return jsonify({"status": "ok" if ok else "error", "checks": checks}), 200 if ok else 503

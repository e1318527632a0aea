"""The REST API (`/api/v1`): the public contract users script against, described in /api/openapi.json."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import linkedin, qualification, routes  # noqa: E402,F401  (register the views on bp)

"""Errors never leak as 500 pages with tracebacks: API paths answer JSON, others a short HTML page."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/intercom/")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202
        if not wants_json():
            return exc
        body = {"error": exc.description or exc.name, "status": exc.code}
        if exc.code == 413:
            body["error"] = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        return jsonify(body), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify({"error": "internal error; it has been logged", "status": 500}), 500
        return InternalServerError()

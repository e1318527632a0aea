"""Errors never leak as 500 pages with tracebacks: API paths answer JSON, others a short HTML page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wsgi import LimitedStream

from core.db import is_transient_db_error
from core.importer import finite_json_float, refuse_json_constant

log = logging.getLogger(__name__)

BUSY_RETRY_AFTER_SECONDS = 2
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/intercom/")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a document nested deeper than the parser's recursion limit ("[" * 10,000) is a
    ValueError, which request.get_json and every caller here treat as bad input (400), not a RecursionError,
    which escaped as a 500. Views parse request text with current_app.json.loads for the same answer.
    NaN, Infinity and -Infinity, which Python's parser reads but are not JSON, and numbers beyond a 64-bit float
    (1e400), which it reads as infinity, are refused the same way: stored
    (in a message's meta), they came back in the API's answers as text no JSON client can parse."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", refuse_json_constant)
        kwargs.setdefault("parse_float", finite_json_float)
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class BoundedRequest(Request):
    """Flask's request, but a body sent without a Content-Length (chunked) and longer than MAX_CONTENT_LENGTH is
    a 413, as one with a Content-Length is. werkzeug reads such a body up to the limit and stops there without a
    word (it raises only on a read after that), so get_json saw a cut-off document: "the body is not valid
    JSON", a 400, for a record that was merely too large. (A body of exactly the limit counts as too large:
    without reading on, the two cannot be told apart.)"""

    def get_data(self, *args: Any, **kwargs: Any) -> Any:
        data = super().get_data(*args, **kwargs)
        stream = self.stream
        if self.content_length is None and isinstance(stream, LimitedStream) and stream.is_exhausted:
            stream.read(1)  # (at the maximum, werkzeug raises RequestEntityTooLarge here)
        return data


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedRequest
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
        if is_transient_db_error(exc):
            # Lost a race with another writer (deadlock, SQLite's write lock held past the busy timeout):
            # nothing was stored, and the same request will succeed shortly. Webhook senders, form posts and
            # API clients retry on 503 + Retry-After; a 500 would say the request itself is bad.
            log.warning("busy database on %s %s: %s", request.method, request.path, exc.__class__.__name__)
            body = (jsonify({"error": "the store is busy; nothing was saved, please retry", "status": 503})
                    if wants_json() else
                    "<!doctype html><title>Busy</title><p>leadhub is busy for a moment; nothing was saved. "
                    "Please try again.</p>")
            return body, 503, {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify({"error": "internal error; it has been logged", "status": 500}), 500
        return InternalServerError()

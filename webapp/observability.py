"""Request ids, structured logs, and the metrics that live in the web processes (request and webhook latency).

- X-Request-ID: taken from the request when it is a sane token (a proxy's id), otherwise generated; returned
  on every response and put on every log record of the request (`request_id`).
- LEADHUB_LOG_FORMAT=json: JSON lines (python-json-logger) with timestamp, level, logger, message, request_id.
- Histograms are prometheus_client objects. Under gunicorn with PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py
  does it) every worker process writes its samples to that directory and /metrics aggregates them.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, g, has_request_context, request
from prometheus_client import Histogram

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

REQUEST_LATENCY = Histogram(
    "leadhub_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint, method and status class.",
    ["endpoint", "method", "status"],
)
WEBHOOK_LATENCY = Histogram(
    "leadhub_webhook_duration_seconds",
    "Time a webhook (or inbound post) takes from receipt to acknowledgement, by source.",
    ["source", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

F = TypeVar("F", bound=Callable[..., Any])


def current_request_id() -> str:
    return g.get("request_id", "") if has_request_context() else ""


class RequestIdFilter(logging.Filter):
    """Puts the request id (or "-" outside requests) on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def configure_logging(level: str, log_format: str) -> logging.Handler:
    """One handler on the root logger: text (with the request id) or JSON lines."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_leadhub", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._leadhub = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.setLevel(level.upper())
    return handler


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):  # noqa: ANN001, ANN202
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        started = g.get("request_started")
        if started is not None:
            REQUEST_LATENCY.labels(
                endpoint=request.endpoint or "unmatched",
                method=request.method,
                status=f"{response.status_code // 100}xx",
            ).observe(time.perf_counter() - started)
        return response


def observe_webhook(source: str) -> Callable[[F], F]:
    """Decorator for webhook views: records receipt-to-acknowledgement time under `source`, with outcome
    "ok" (2xx), "rejected" (4xx) or "error" (5xx or an exception).

        @bp.post("/webhooks/intercom")
        @observe_webhook("intercom")
        def intercom_webhook(): ...
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "error"
            try:
                response = view(*args, **kwargs)
                outcome = _outcome(response)
                return response
            except Exception as exc:
                # Errors raised for the app's handlers (HTTPException.code, the API's ApiError.status).
                status = getattr(exc, "status", None) or getattr(exc, "code", None)
                outcome = "rejected" if isinstance(status, int) and status < 500 else "error"
                raise
            finally:
                WEBHOOK_LATENCY.labels(source=source, outcome=outcome).observe(time.perf_counter() - started)

        return wrapper  # type: ignore[return-value]

    return decorator


def _outcome(response: Any) -> str:
    status = 200
    if isinstance(response, tuple) and len(response) > 1 and isinstance(response[1], int):
        status = response[1]
    elif hasattr(response, "status_code"):
        status = response.status_code
    return "ok" if status < 400 else "rejected" if status < 500 else "error"

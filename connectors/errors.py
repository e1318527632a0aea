"""Typed provider failures and the retry policy that classifies them before anything is retried.

429, 5xx and timeouts are retriable (jittered exponential backoff that honours Retry-After); 401 on OAuth
means "refresh once"; other 4xx are fatal. Connectors raise these; `connectors.sync` records them.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import backoff
import requests

T = TypeVar("T")


class ConnectorError(Exception):
    """Base class: something went wrong talking to a provider."""

    kind = "error"


class RetriableError(ConnectorError):
    kind = "retriable"

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetriableError):
    kind = "rate_limited"


class AuthExpired(ConnectorError):
    """The access token was refused; refresh once and try again."""

    kind = "auth_expired"


class ReconnectNeeded(ConnectorError):
    """The grant is gone (invalid_grant, revoked): a person must connect the account again. Never retried."""

    kind = "reconnect_needed"


class FatalError(ConnectorError):
    kind = "fatal"


class PaginationError(FatalError):
    """A provider handed out the same page token twice: stop instead of looping forever."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_response(response: requests.Response) -> ConnectorError | None:
    """None for success; otherwise the typed error this response means."""
    status = response.status_code
    if status < 400:
        return None
    detail = f"{response.request.method if response.request else ''} {response.url} -> {status}: {response.text[:300]}"
    if status == 429:
        return RateLimited(detail, parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        return RetriableError(detail, parse_retry_after(response.headers.get("Retry-After")))
    if status == 401:
        return AuthExpired(detail)
    return FatalError(detail)


def check_response(response: requests.Response) -> requests.Response:
    error = classify_response(response)
    if error is not None:
        raise error
    return response


def next_page_token(seen: set[str], token: str | None) -> str | None:
    """Pagination guard: None ends paging; a token seen before is an error, not an endless loop."""
    if not token:
        return None
    if token in seen:
        raise PaginationError(f"the provider repeated page token {token[:40]!r}")
    seen.add(token)
    return token


def with_retries(
    call: Callable[[], T],
    *,
    max_tries: int = 6,
    max_time: float = 120.0,
    base: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying RetriableError (and network failures) with jittered exponential backoff.

    A Retry-After the provider sent is honoured as the minimum wait.
    """

    def _wait_hint(details: dict) -> None:
        exc = details.get("exception")
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            sleep(min(float(retry_after), max_time))

    def _to_retriable() -> T:
        try:
            return call()
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetriableError(f"network: {exc}") from exc

    decorated = backoff.on_exception(
        backoff.expo,
        RetriableError,
        max_tries=max_tries,
        max_time=max_time,
        jitter=backoff.full_jitter,
        factor=base,
        on_backoff=_wait_hint,
        logger=None,
    )(_to_retriable)
    return decorated()

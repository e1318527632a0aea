"""A thin requests client for Intercom's REST API: pinned version, rate-limit pacing, typed errors, retries.

Intercom answers every call with X-RateLimit-Limit / -Remaining / -Reset (epoch seconds). We pause until the
reset once the remaining budget falls under a reserve, so a sync slows down before it is refused; a 429 or
5xx that still happens is retried by `connectors.errors.with_retries` (waiting until the reset on a 429).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from connectors.errors import (
    FatalError,
    RateLimited,
    ReconnectNeeded,
    RetriableError,
    classify_response,
    next_page_token,
    with_retries,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.intercom.io"
API_VERSION = "2.16"  # the version of Intercom's OpenAPI description we test against
MAX_PER_PAGE = 150
# Pause when fewer than this share of the window's requests remain (at least this many calls).
RATE_RESERVE_SHARE = 0.05
RATE_RESERVE_MIN = 2
MAX_RATE_PAUSE = 65.0  # Intercom's windows are a minute; never sleep longer on a bad header
_CANONICAL = re.compile(r'<[^<>]*/contacts/([^/<>?#]+)>\s*;\s*rel="?canonical"?', re.IGNORECASE)


class ContactMerged(FatalError):
    """410 Gone on GET /contacts/{id} (API 2.16): the contact was merged; `canonical_id` is the contact it became,
    from the Link header (None when the header does not say)."""

    def __init__(self, message: str, canonical_id: str | None):
        super().__init__(message)
        self.canonical_id = canonical_id


class Unconfirmed(FatalError):
    """A call that changes something (a reply) met a server error or a lost connection: Intercom may have done it.
    Not retried (a retry could do it twice); the person who asked decides."""


class IntercomClient:
    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_tries: int = 6,
    ):
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Intercom-Version": API_VERSION,
                "User-Agent": "leadhub-intercom/1",
            }
        )
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.max_tries = max_tries
        self.rate_limit: int | None = None
        self.rate_remaining: int | None = None
        self.rate_reset: float | None = None
        self.paused_seconds = 0.0
        self.requests_made = 0
        self.server_time: float | None = None  # Intercom's clock (Date header) at its latest answer

    # ------------------------------------------------------------------ transport

    def _pace(self) -> None:
        """Sleep until the window resets when the remaining budget is nearly spent."""
        if self.rate_remaining is None or self.rate_limit is None or self.rate_reset is None:
            return
        reserve = max(RATE_RESERVE_MIN, int(self.rate_limit * RATE_RESERVE_SHARE))
        if self.rate_remaining > reserve:
            return
        wait = self.rate_reset - self.clock()
        if wait > 0:
            wait = min(wait, MAX_RATE_PAUSE)
            self.paused_seconds += wait
            self.sleep(wait)
        self.rate_remaining = None

    def _read_rate_headers(self, response: requests.Response) -> None:
        try:
            self.rate_limit = int(response.headers["X-RateLimit-Limit"])
            self.rate_remaining = int(response.headers["X-RateLimit-Remaining"])
            self.rate_reset = float(response.headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return

    def _read_date(self, response: requests.Response) -> None:
        """Intercom's time from the answer's Date header (RFC 9110: the origin's clock), kept when readable."""
        try:
            when = parsedate_to_datetime(response.headers.get("Date") or "")
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        if when.tzinfo is not None:  # "-0000" (no zone said) reads as naive: not trusted
            self.server_time = when.timestamp()

    def request(
        self, method: str, path: str, *, params: dict | None = None, json: dict | None = None, idempotent: bool = True
    ) -> dict:
        """One API call, retried on 429, 5xx and network failures; one that is not `idempotent` (it changes
        something) is retried only when Intercom refused it before doing anything (429, or no connection made),
        else raises Unconfirmed."""

        def once() -> dict:
            self._pace()
            self.requests_made += 1
            response = self.session.request(method, self.base_url + path, params=params, json=json, timeout=self.timeout)
            self._read_rate_headers(response)
            self._read_date(response)
            error = classify_response(response)
            if isinstance(error, RateLimited) and error.retry_after is None and self.rate_reset is not None:
                error.retry_after = max(0.0, min(self.rate_reset - self.clock(), MAX_RATE_PAUSE))
                self.rate_remaining = None  # the wait below already covers the window
            if error is not None:
                if response.status_code == 410:
                    found = _CANONICAL.search(response.headers.get("Link", ""))
                    raise ContactMerged(str(error), found.group(1)[:200] if found else None)
                if response.status_code in (401, 403):
                    # Intercom access tokens do not expire or refresh: a refusal means the app was uninstalled.
                    raise ReconnectNeeded(str(error))
                raise error
            try:
                answer = response.json()
            except ValueError as exc:
                raise FatalError(f"{method} {path}: the answer is not JSON") from exc
            if idempotent and not isinstance(answer, dict):
                # Every endpoint we read answers an object; read as one, a list or a string raised AttributeError
                # out of the sync, at the same item on every run. (A change's answer is left alone: it was done.)
                raise FatalError(f"{method} {path}: the answer is not a JSON object")
            return answer

        def at_most_once() -> dict:
            try:
                return once()
            except (RateLimited, requests.ConnectTimeout):
                raise  # refused before anything was done: retried
            except (RetriableError, requests.Timeout, requests.ConnectionError) as exc:
                raise Unconfirmed(f"{method} {path}: Intercom did not confirm it ({exc}); it may have been done") from exc

        return with_retries(once if idempotent else at_most_once, max_tries=self.max_tries, sleep=self.sleep)

    # ------------------------------------------------------------------ endpoints

    def me(self) -> dict:
        return self.request("GET", "/me")

    def contact(self, contact_id: str) -> dict:
        """GET /contacts/{id} with its merge history; raises ContactMerged for a merged contact (410)."""
        return self.request("GET", f"/contacts/{_segment(contact_id)}", params=_extra_params("contacts"))

    def conversation(self, conversation_id: str) -> dict:
        return self.request("GET", f"/conversations/{_segment(conversation_id)}")

    def reply_as_admin(self, conversation_id: str, *, admin_id: str, body: str, message_type: str = "comment") -> dict:
        payload = {"message_type": message_type, "type": "admin", "admin_id": str(admin_id), "body": body}
        return self.request("POST", f"/conversations/{_segment(conversation_id)}/reply", json=payload,
                            idempotent=False)

    def list_page(self, kind: str, *, per_page: int, starting_after: str | None) -> tuple[list[dict], str | None]:
        """One page of GET /contacts or /conversations: (items, next starting_after)."""
        params: dict[str, Any] = {"per_page": per_page, **_extra_params(kind)}
        if starting_after:
            params["starting_after"] = starting_after
        data = self.request("GET", f"/{kind}", params=params)
        return _items(kind, data), _next(data)

    def search_page(
        self, kind: str, *, updated_after: int, per_page: int, starting_after: str | None
    ) -> tuple[list[dict], str | None]:
        """One page of POST /contacts/search or /conversations/search for updated_at > updated_after."""
        body: dict[str, Any] = {
            "query": {"field": "updated_at", "operator": ">", "value": int(updated_after)},
            "pagination": {"per_page": per_page},
        }
        if starting_after:
            body["pagination"]["starting_after"] = starting_after
        data = self.request("POST", f"/{kind}/search", params=_extra_params(kind) or None, json=body)
        return _items(kind, data), _next(data)

    def iterate(self, kind: str, *, per_page: int = MAX_PER_PAGE) -> Iterator[dict]:
        """Every item of a list endpoint (used by the demo and small tools; syncs page by themselves)."""
        seen: set[str] = set()
        after: str | None = None
        while True:
            items, token = self.list_page(kind, per_page=per_page, starting_after=after)
            yield from items
            after = next_page_token(seen, token)
            if after is None:
                return


def _segment(item_id: str) -> str:
    """An id as one segment of a URL's path. Ids come from Intercom's answers and signed webhooks, but one with
    "/", "?" or "#" written into the path as it is would reach another endpoint with the workspace's token; and
    "." or ".." (which quoting keeps) are resolved away before sending (GET /conversations/.. is GET /)."""
    text = str(item_id)
    if text in ("", ".", ".."):
        raise FatalError(f"{text!r} is not an Intercom id")
    return quote(text, safe="")


def _extra_params(kind: str) -> dict[str, str]:
    """Users come with the leads merged into them (merge_history): a merged lead's id is gone from the API."""
    return {"include_merge_history": "true"} if kind == "contacts" else {}


def _items(kind: str, data: Any) -> list[dict]:
    key = "data" if kind == "contacts" else "conversations"
    if not isinstance(data, dict):
        raise FatalError(f"{kind}: the answer is not a JSON object")
    items = data.get(key) or []
    if not isinstance(items, list):
        raise FatalError(f"{kind}: {key} is not a list")
    objects = [item for item in items if isinstance(item, dict)]
    if len(objects) < len(items):
        # Read as objects, they raised AttributeError out of the sync, on this page in every run.
        log.warning("%s items of a page of %s are not objects; skipped", len(items) - len(objects), kind)
    return objects


def _next(data: dict) -> str | None:
    pages = data.get("pages") or {}
    nxt = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(nxt, dict):
        token = nxt.get("starting_after")
        if token is not None and not isinstance(token, str):
            # (a list or an object raised TypeError in the paging check: an unexpected failure, not Intercom's)
            raise FatalError(f"pages.next.starting_after is not text: {type(token).__name__}")
        return token or None
    return None

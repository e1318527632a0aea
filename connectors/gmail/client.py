"""The Gmail API client: google-api-python-client against a configurable endpoint, with quota, retries, refresh.

Errors are classified before anything is retried: 429 and 403 rateLimitExceeded honour Retry-After, 5xx and
timeouts back off (connectors.errors.with_retries), 401 refreshes once (google-auth does it), invalid_grant
means a person must reconnect (ReconnectNeeded, never retried).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.errors import (
    AuthExpired,
    ConnectorError,
    FatalError,
    RateLimited,
    ReconnectNeeded,
    RetriableError,
    parse_retry_after,
    with_retries,
)

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GMAIL_API_URL = "https://gmail.googleapis.com/"
SCOPES = (
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.send",
    "openid",
    "email",
)
# Gmail's per-user quota and per-method costs (developers.google.com/gmail/api/reference/quota).
QUOTA_PER_MINUTE = 15_000
COSTS = {"messages.get": 5, "messages.list": 5, "history.list": 2, "messages.send": 100, "users.getProfile": 1,
         "users.watch": 100, "users.stop": 50}
BATCH_SIZE = 50  # Google advises at most 50 requests per batch


class HistoryExpired(ConnectorError):
    """history.list answered 404: the stored startHistoryId is too old; re-sync the window."""

    kind = "history_expired"


class TokenBucket:
    """Throttle to `per_minute` quota units, refilled continuously; blocks (sleeps) until units are available."""

    def __init__(self, per_minute: float, *, sleep: Callable[[float], None] = time.sleep):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.sleep = sleep
        self.spent = 0
        self.lock = threading.Lock()

    def take(self, units: int) -> None:
        with self.lock:
            self.spent += units
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= units:
                    self.tokens -= units
                    return
                self.sleep((units - self.tokens) / self.rate)


def classify_http_error(exc: HttpError, *, method: str = "") -> ConnectorError:
    status = int(exc.resp.status)
    try:
        reasons = {e.get("reason", "") for e in json.loads(exc.content or b"{}").get("error", {}).get("errors", [])}
    except (ValueError, AttributeError):
        reasons = set()
    detail = f"{method}: HTTP {status} {exc.content[:200]!r}"
    retry_after = parse_retry_after(exc.resp.get("retry-after"))
    if status == 429 or (status == 403 and reasons & {"rateLimitExceeded", "userRateLimitExceeded"}):
        return RateLimited(detail, retry_after)
    if status >= 500:
        return RetriableError(detail, retry_after)
    if status == 401:
        return AuthExpired(detail)
    if status == 404 and method == "history.list":
        return HistoryExpired(detail)
    return FatalError(detail)


@dataclass
class GmailSettings:
    api_url: str = GMAIL_API_URL
    token_url: str = GOOGLE_TOKEN_URL
    client_id: str = ""
    client_secret: str = ""
    quota_per_minute: float = QUOTA_PER_MINUTE
    timeout: float = 30.0
    max_tries: int = 6

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> GmailSettings:
        api_url = str(settings.get("GMAIL_API_URL") or GMAIL_API_URL)
        return cls(
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            token_url=str(settings.get("GOOGLE_TOKEN_URL") or GOOGLE_TOKEN_URL),
            client_id=str(settings.get("GOOGLE_CLIENT_ID") or ""),
            client_secret=str(settings.get("GOOGLE_CLIENT_SECRET") or ""),
            quota_per_minute=float(settings.get("GMAIL_QUOTA_PER_MINUTE") or QUOTA_PER_MINUTE),
            timeout=float(settings.get("GMAIL_TIMEOUT_SECONDS") or 30),
        )


class GmailClient:
    def __init__(
        self,
        config: GmailSettings,
        credentials: dict[str, Any],
        *,
        save_credentials: Callable[[dict[str, Any]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.save_credentials = save_credentials
        self.sleep = sleep
        self.creds = Credentials(
            token=credentials.get("access_token"),
            refresh_token=credentials.get("refresh_token"),
            token_uri=config.token_url,
            client_id=config.client_id,
            client_secret=config.client_secret,
            scopes=list(SCOPES),
        )
        self._saved_token = self.creds.token
        self.http = google_auth_httplib2.AuthorizedHttp(self.creds, http=httplib2.Http(timeout=config.timeout))
        self.service = build(
            "gmail", "v1", http=self.http, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": config.api_url},
        )
        # The static discovery document's batch path is joined to Google's rootUrl, not to api_endpoint.
        self.batch_uri = config.api_url + "batch/gmail/v1"
        self.bucket = TokenBucket(config.quota_per_minute, sleep=sleep)
        self.calls: dict[str, int] = {}
        self._users: Any = None
        self._messages: Any = None

    # -------------------------------------------------------------- plumbing

    def _charge(self, method: str, count: int = 1) -> None:
        self.calls[method] = self.calls.get(method, 0) + count
        self.bucket.take(COSTS.get(method, 5) * count)

    def _persist_token(self) -> None:
        if self.creds.token != self._saved_token and self.save_credentials is not None:
            self._saved_token = self.creds.token
            self.save_credentials(self.credentials_dict())

    def credentials_dict(self) -> dict[str, Any]:
        return {"access_token": self.creds.token, "refresh_token": self.creds.refresh_token}

    def _once(self, method: str, request: Any) -> Any:
        try:
            if isinstance(request, BatchHttpRequest):
                return request.execute()
            return request.execute(num_retries=0)
        except HttpError as exc:
            raise classify_http_error(exc, method=method) from exc
        except google.auth.exceptions.RefreshError as exc:
            raise ReconnectNeeded(f"token refresh refused: {exc}") from exc
        except (TimeoutError, ConnectionError, httplib2.HttpLib2Error, OSError) as exc:
            raise RetriableError(f"{method}: network: {exc}") from exc
        finally:
            self._persist_token()

    def call(self, method: str, build_request: Callable[[], Any]) -> Any:
        """One API call: quota, retries on retriable errors; AuthExpired (after google-auth's refresh) is fatal."""

        def attempt() -> Any:
            self._charge(method)
            return self._once(method, build_request())

        try:
            return with_retries(attempt, max_tries=self.config.max_tries, sleep=self.sleep)
        except AuthExpired as exc:
            raise ReconnectNeeded(f"access refused after refreshing the token: {exc}") from exc

    # -------------------------------------------------------------- API

    @property
    def users(self) -> Any:
        # Building a discovery Resource is costly (thousands of calls): build each once.
        if self._users is None:
            self._users = self.service.users()
            self._messages = self._users.messages()
        return self._users

    @property
    def messages(self) -> Any:
        self.users  # noqa: B018 - builds both
        return self._messages

    def profile(self) -> dict[str, Any]:
        return self.call("users.getProfile", lambda: self.users.getProfile(userId="me"))

    def list_page(self, *, query: str, page_token: str | None, labels: list[str] | None = None,
                  size: int = 500) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"userId": "me", "q": query, "maxResults": size}
        if page_token:
            kwargs["pageToken"] = page_token
        if labels:
            kwargs["labelIds"] = labels
        return self.call("messages.list", lambda: self.messages.list(**kwargs))

    def history_page(self, *, start_history_id: str, page_token: str | None, size: int = 500) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"userId": "me", "startHistoryId": start_history_id,
                                  "historyTypes": ["messageAdded", "labelRemoved"], "maxResults": size}
        if page_token:
            kwargs["pageToken"] = page_token
        return self.call("history.list", lambda: self.users.history().list(**kwargs))

    def get_many(self, ids: Iterable[str], *, fmt: str = "raw",
                 metadata_headers: list[str] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
        """Fetch messages in batches. Returns (found by id, missing id -> reason); retriable parts are retried, and
        a rate limit that outlasts the retries, or any other 403 (quota, permission), is raised."""
        pending = list(dict.fromkeys(ids))
        found: dict[str, dict] = {}
        missing: dict[str, str] = {}
        for start in range(0, len(pending), BATCH_SIZE):
            chunk = pending[start:start + BATCH_SIZE]
            tries = 0
            while chunk:
                tries += 1
                retry: list[str] = []
                wait: float = 0.0
                errors: dict[str, ConnectorError] = {}
                statuses: dict[str, int] = {}

                def on_part(request_id: str, response: Any, exception: Exception | None,
                            errors: dict[str, ConnectorError] = errors, statuses: dict[str, int] = statuses) -> None:
                    if exception is None:
                        found[request_id] = response
                    elif isinstance(exception, HttpError):
                        errors[request_id] = classify_http_error(exception, method="messages.get")
                        statuses[request_id] = int(exception.resp.status)
                    else:
                        errors[request_id] = RetriableError(f"messages.get: {exception}")

                def send(chunk: list[str] = chunk) -> None:
                    self._charge("messages.get", len(chunk))
                    batch = BatchHttpRequest(callback=on_part, batch_uri=self.batch_uri)
                    for message_id in chunk:
                        kwargs: dict[str, Any] = {"userId": "me", "id": message_id, "format": fmt}
                        if metadata_headers:
                            kwargs["metadataHeaders"] = metadata_headers
                        batch.add(self.messages.get(**kwargs), request_id=message_id)
                    self._once("batch", batch)

                with_retries(send, max_tries=self.config.max_tries, sleep=self.sleep)
                for message_id, error in errors.items():
                    if isinstance(error, RetriableError) and tries < self.config.max_tries:
                        retry.append(message_id)
                        wait = max(wait, error.retry_after or 0.0)
                    elif isinstance(error, AuthExpired):
                        raise ReconnectNeeded(f"access refused after refreshing the token: {error}")
                    elif isinstance(error, RateLimited) or statuses.get(message_id) == 403:
                        # The account's or the project's quota or permission (any 403), not this message's
                        # fault: stop here (the cursor stays) rather than report the message missing, move on.
                        raise error
                    else:
                        missing[message_id] = f"{error.kind}: {error}"[:500]
                if retry:
                    # jittered exponential backoff, never shorter than the provider's Retry-After
                    self.sleep(max(wait, min(30.0, 0.25 * 2 ** tries)))
                chunk = retry
        return found, missing

    def find_by_message_id(self, rfc822_id: str) -> dict[str, Any] | None:
        """The mailbox's message with this Message-ID header ({id, threadId}), or None (one messages.list)."""
        found = self.list_page(query=f"rfc822msgid:{rfc822_id.strip('<>')}", page_token=None, size=1)
        return (found.get("messages") or [None])[0]

    def send(self, raw_b64: str, thread_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"raw": raw_b64}
        if thread_id:
            body["threadId"] = thread_id
        return self.call("messages.send", lambda: self.messages.send(userId="me", body=body))

    def watch(self, topic: str, label_ids: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"topicName": topic, "labelIds": label_ids or ["INBOX"]}
        return self.call("users.watch", lambda: self.users.watch(userId="me", body=body))

    def stop(self) -> None:
        self.call("users.stop", lambda: self.users.stop(userId="me"))

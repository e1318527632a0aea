"""A small in-memory Intercom (REST API 2.16) for tests and the offline demo.

It speaks the subset leadhub uses, shaped after Intercom's own OpenAPI description (the tests validate its
answers and leadhub's requests against that file): OAuth (`/oauth` authorize page that redirects back with a
code, `POST /auth/eagle/token`), `GET /me`, contacts (list + search), conversations (list + search + get with
parts, capped at the 500 newest parts like the real API: `conversation_parts.total_count` then exceeds the
number of parts returned), admin/contact replies, rate-limit headers, injectable 429/500 faults, and
webhook notifications signed like Intercom's (`X-Hub-Signature: sha1=<HMAC-SHA1(client_secret, raw body)>`).

Run it alone: `python -m connectors.intercom.emulator --port 8025 --seed 20`.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, redirect, request

MAX_PARTS = 500  # the real API returns at most the 500 newest parts of a conversation
API_PREFIXES = ("/me", "/contacts", "/conversations")


def sign_webhook(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def _uncursor(token: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return {}


@dataclass
class IntercomEmulator:
    """The emulator's data and knobs; `app` is the Flask app serving it."""

    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    rate_limit: int = 10_000  # requests per window, like Intercom's default per-app limit per minute
    rate_window: int = 60
    clock: Callable[[], float] = time.time
    workspace_id: str = "emu0ws01"
    workspace_name: str = "Emulated Workspace"
    admin: dict[str, Any] = field(default_factory=lambda: {"id": "991", "name": "Ada Admin", "email": "ada@emu.example"})
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)
    merge_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user id -> leads merged in
    merged_into: dict[str, str] = field(default_factory=dict)  # merged lead id -> the contact it became
    faults: list[int] = field(default_factory=list)
    late_faults: list[int] = field(default_factory=list)  # statuses answered after a call did its work (a gateway timeout)
    broken: set[str] = field(default_factory=set)  # conversation ids whose GET always answers 500
    request_log: list[tuple[str, str]] = field(default_factory=list)
    rejected: int = 0  # calls refused with 429 because the window's budget was spent
    stuck_cursor: bool = False  # misbehave: hand out the same starting_after on every page
    cursor_generation: int = 0  # cursors of an older generation are refused (see expire_cursors)
    odd_answers: dict[str, Any] = field(default_factory=dict)  # misbehave: path -> JSON answered with 200 instead
    stable_token: str = ""  # when set, every OAuth exchange issues this token
    # Called with (flask request, flask response) for every API call: tests validate both against the spec.
    validator: Callable[[Any, Response], None] | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _window: tuple[int, int] = (0, 0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ seeding

    def now(self) -> int:
        return int(self.clock())

    def issue_token(self) -> str:
        # A stable token (the demo) survives an app restarted beside a fresh emulator.
        token = self.stable_token or "tok_" + uuid.uuid4().hex
        self.tokens.add(token)
        return token

    def add_contact(
        self,
        *,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        role: str = "user",
        external_id: str | None = None,
        updated_at: int | None = None,
    ) -> dict[str, Any]:
        number = next(self._ids)
        contact_id = f"6{number:023x}"
        stamp = updated_at if updated_at is not None else self.now()
        contact = {
            "type": "contact",
            "id": contact_id,
            "external_id": external_id,
            "workspace_id": self.workspace_id,
            "role": role,
            "email": email or "",
            "email_domain": (email or "").partition("@")[2],
            "phone": phone,
            "name": name,
            "owner_id": None,
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": False,
            "created_at": stamp,
            "updated_at": stamp,
            "signed_up_at": stamp if role == "user" else None,
            "last_seen_at": stamp,
            "custom_attributes": {},
        }
        self.contacts[contact_id] = contact
        return contact

    def update_contact(self, contact_id: str, **changes: Any) -> dict[str, Any]:
        contact = self.contacts[contact_id]
        contact.update(changes)
        contact["updated_at"] = changes.get("updated_at", max(self.now(), contact["updated_at"] + 1))
        return contact

    def add_conversation(
        self,
        contact_id: str,
        body: str,
        *,
        subject: str = "",
        created_at: int | None = None,
        author_type: str | None = None,
    ) -> dict[str, Any]:
        contact = self.contacts[contact_id]
        conversation_id = str(1000 + next(self._ids))
        stamp = created_at if created_at is not None else self.now()
        author_type = author_type or contact["role"]
        self.conversations[conversation_id] = {
            "type": "conversation",
            "id": conversation_id,
            "title": None,
            "created_at": stamp,
            "updated_at": stamp,
            "waiting_since": stamp,
            "snoozed_until": None,
            "open": True,
            "state": "open",
            "read": False,
            "priority": "none",
            "admin_assignee_id": 0,
            "team_assignee_id": 0,
            "source": {
                "type": "conversation",
                "id": str(next(self._ids)),
                "delivered_as": "customer_initiated",
                "subject": subject,
                "body": body,
                "author": {
                    "type": author_type,
                    "id": contact_id,
                    "name": contact["name"],
                    "email": contact["email"] or None,
                },
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": contact_id, "external_id": contact["external_id"]}],
            },
            "custom_attributes": {},
        }
        self.parts[conversation_id] = []
        return self.conversations[conversation_id]

    def add_part(
        self,
        conversation_id: str,
        body: str | None,
        *,
        author_type: str = "admin",
        part_type: str = "comment",
        created_at: int | None = None,
    ) -> dict[str, Any]:
        conversation = self.conversations[conversation_id]
        stamp = created_at if created_at is not None else max(self.now(), conversation["updated_at"])
        if author_type in ("admin", "bot"):
            author = {"type": author_type, "id": self.admin["id"], "name": self.admin["name"], "email": self.admin["email"]}
        else:
            contact = self.contacts[conversation["contacts"]["contacts"][0]["id"]]
            author = {"type": author_type, "id": contact["id"], "name": contact["name"] or "", "email": contact["email"]}
        part = {
            "type": "conversation_part",
            "id": str(next(self._ids)),
            "part_type": part_type,
            "body": body,
            "created_at": stamp,
            "updated_at": stamp,
            "notified_at": stamp,
            "author": author,
            "attachments": [],
            "external_id": None,
            "redacted": False,
        }
        self.parts[conversation_id].append(part)
        conversation["updated_at"] = max(conversation["updated_at"], stamp)
        if part_type == "close":
            conversation.update(open=False, state="closed")
        return part

    def redact_source(self, conversation_id: str) -> dict[str, Any]:
        """POST /conversations/redact of the source (a contact's opening message): marked `redacted`."""
        conversation = self.conversations[conversation_id]
        conversation["source"]["redacted"] = True
        conversation["updated_at"] = max(self.now(), conversation["updated_at"])
        return conversation["source"]

    def redact_part(self, conversation_id: str, part_id: str) -> dict[str, Any]:
        """POST /conversations/redact of a part: marked `redacted` (the body is left as it was: whatever Intercom
        still answers, a redacted part's body must not be kept) and the conversation's updated_at moves."""
        part = next(p for p in self.parts[conversation_id] if p["id"] == part_id)
        stamp = max(self.now(), self.conversations[conversation_id]["updated_at"])
        part.update(redacted=True, updated_at=stamp)
        self.conversations[conversation_id]["updated_at"] = stamp
        return part

    def merge_contacts(self, from_id: str, into_id: str) -> dict[str, Any]:
        """POST /contacts/merge: the lead `from_id` is deleted (its id is no longer found, listed or searched)
        and its conversations become the user's; the user's merge_history names the lead."""
        lead = self.contacts.pop(from_id)
        self.merged_into[from_id] = into_id
        for conversation in self.conversations.values():
            for reference in conversation["contacts"]["contacts"]:
                if reference["id"] == from_id:
                    reference.update(id=into_id, external_id=self.contacts[into_id]["external_id"])
        self.merge_history.setdefault(into_id, []).append(
            {"type": "merge_history", "source_contact_id": from_id, "source_contact_role": lead["role"],
             "merged_at": self.now()})
        return self.update_contact(into_id)

    def contact_view(self, contact_id: str, *, with_merge_history: bool = False) -> dict[str, Any]:
        view = dict(self.contacts[contact_id])
        if with_merge_history and view["role"] == "user":
            view["merge_history"] = list(self.merge_history.get(contact_id, []))
        return view

    def expire_cursors(self) -> None:
        """Every starting_after handed out so far is refused from now on with 400, as Intercom refuses a cursor
        it no longer knows ("Invalid starting_after param")."""
        self.cursor_generation += 1

    def fail_next(self, *statuses: int) -> None:
        """The next API calls answer these statuses (429, 500 …), in order."""
        self.faults.extend(statuses)

    # ------------------------------------------------------------------ views of the data

    def conversation_view(self, conversation_id: str, *, with_parts: bool = True) -> dict[str, Any]:
        view = dict(self.conversations[conversation_id])
        if with_parts:
            parts = self.parts[conversation_id]
            view["conversation_parts"] = {
                "type": "conversation_part.list",
                "conversation_parts": parts[-MAX_PARTS:],
                "total_count": len(parts),
            }
        return view

    def notification(self, topic: str, item: dict[str, Any]) -> dict[str, Any]:
        """A webhook notification as Intercom sends it for API 2.15 and later: a conversation's bodies and subject
        come as plain text there, not as the REST API's HTML."""
        stamp = self.now()
        if item.get("type") == "conversation":
            item = as_webhook_text(item)
        return {
            "type": "notification_event",
            "app_id": self.workspace_id,
            "data": {"type": "notification_event_data", "item": item},
            "links": {},
            "id": "notif_" + uuid.uuid4().hex,
            "topic": topic,
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": stamp,
            "created_at": stamp,
            "self": None,
        }

    def send_webhook(self, url: str, topic: str, item: dict[str, Any] | None = None, *, body: bytes | None = None,
                     secret: str | None = None, timeout: float = 10.0) -> requests.Response:
        """POST a signed notification to `url` (pass `body` to re-deliver the exact same bytes)."""
        if body is None:
            body = json.dumps(self.notification(topic, item or {})).encode()
        signature = sign_webhook(secret if secret is not None else self.client_secret, body)
        return requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature": signature},
            timeout=timeout,
        )

    # ------------------------------------------------------------------ the app

    def create_app(self) -> Flask:
        app = Flask("intercom_emulator")
        app.extensions["intercom_emulator"] = self
        self._routes(app)
        return app

    def _rate_headers(self) -> tuple[dict[str, str], bool]:
        with self._lock:
            now = self.now()
            start = now - now % self.rate_window
            window_start, used = self._window
            if window_start != start:
                used = 0
            used += 1
            self._window = (start, used)
        remaining = max(0, self.rate_limit - used)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(start + self.rate_window),
        }
        return headers, used > self.rate_limit

    def _routes(self, app: Flask) -> None:  # noqa: C901 - one place lists the emulated API
        emulator = self

        def error(status: int, code: str, message: str) -> Response:
            response = jsonify(
                {"type": "error.list", "request_id": uuid.uuid4().hex, "errors": [{"code": code, "message": message}]}
            )
            response.status_code = status
            return response

        @app.before_request
        def gate() -> Response | None:
            if not request.path.startswith(API_PREFIXES):
                return None
            emulator.request_log.append((request.method, request.full_path))
            headers, over = emulator._rate_headers()
            request.environ["emulator.rate_headers"] = headers
            if emulator.faults:
                status = emulator.faults.pop(0)
                if status == 429:
                    return error(429, "rate_limit_exceeded", "Exceeded rate limit")
                return error(status, "server_error", "Injected failure")
            if over:
                emulator.rejected += 1
                return error(429, "rate_limit_exceeded", "Exceeded rate limit")
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if token not in emulator.tokens:
                return error(401, "unauthorized", "Access Token Invalid")
            if request.path in emulator.odd_answers:
                return jsonify(emulator.odd_answers[request.path])
            body = request.get_json(silent=True) if request.is_json else None
            cursor = request.args.get("starting_after") or (
                (body.get("pagination") or {}).get("starting_after") if isinstance(body, dict) else None)
            if cursor and _uncursor(str(cursor)).get("g", 0) != emulator.cursor_generation:
                return error(400, "client_error", "Invalid starting_after param. Please try again using a "
                                                  "starting_after value from a paginated response")
            return None

        @app.after_request
        def finish(response: Response) -> Response:
            if emulator.late_faults and request.path.startswith(API_PREFIXES) and response.status_code < 400:
                response = error(emulator.late_faults.pop(0), "server_error", "Injected failure after the work")
            for key, value in request.environ.get("emulator.rate_headers", {}).items():
                response.headers[key] = value
            if emulator.validator is not None and request.path.startswith(API_PREFIXES):
                emulator.validator(request, response)
            return response

        @app.get("/oauth")
        def authorize() -> Response:
            if request.args.get("client_id") != emulator.client_id:
                return Response("unknown client_id", status=400)
            redirect_uri = request.args.get("redirect_uri", "")
            if not redirect_uri:
                return Response("redirect_uri is required", status=400)
            code = "code_" + uuid.uuid4().hex
            emulator.codes[code] = emulator.client_id
            query = {"code": code}
            if request.args.get("state"):
                query["state"] = request.args["state"]
            return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}")

        @app.post("/auth/eagle/token")
        def token() -> Response:
            data = request.form if request.form else (request.get_json(silent=True) or {})
            client_id = data.get("client_id")
            client_secret = data.get("client_secret")
            if request.authorization and request.authorization.username:
                client_id, client_secret = request.authorization.username, request.authorization.password
            if client_id != emulator.client_id or client_secret != emulator.client_secret:
                return error(401, "unauthorized", "invalid client")
            if emulator.codes.pop(data.get("code", ""), None) is None:
                return error(400, "invalid_grant", "unknown or used code")
            access = emulator.issue_token()
            return jsonify({"type": "token", "token": access, "access_token": access, "token_type": "Bearer"})

        @app.get("/me")
        def me() -> Response:
            return jsonify(
                {
                    "type": "admin",
                    "id": emulator.admin["id"],
                    "name": emulator.admin["name"],
                    "email": emulator.admin["email"],
                    "email_verified": True,
                    "has_inbox_seat": True,
                    "app": {
                        "type": "app",
                        "id_code": emulator.workspace_id,
                        "name": emulator.workspace_name,
                        "region": "EU",
                        "timezone": "Europe/Warsaw",
                        "created_at": 1_600_000_000,
                        "identity_verification": False,
                    },
                }
            )

        def page(items: list[Any], offset: int, per_page: int) -> tuple[list[Any], dict]:
            chunk = items[offset : offset + per_page]
            total_pages = max(1, -(-len(items) // per_page))
            pages: dict[str, Any] = {"type": "pages", "page": offset // per_page + 1, "per_page": per_page,
                                     "total_pages": total_pages}
            if offset + per_page < len(items):
                token = _cursor({"offset": per_page if emulator.stuck_cursor else offset + per_page,
                                 "g": emulator.cursor_generation})
                pages["next"] = {"per_page": per_page, "starting_after": token}
            return chunk, pages

        def per_page_arg(value: Any, default: int) -> int:
            try:
                return max(1, min(150, int(value)))
            except (TypeError, ValueError):
                return default

        def offset_of(token: str | None) -> int:
            return int(_uncursor(token).get("offset", 0)) if token else 0

        def contact_views() -> list[dict[str, Any]]:
            with_history = request.args.get("include_merge_history") == "true"
            return [emulator.contact_view(cid, with_merge_history=with_history) for cid in emulator.contacts]

        @app.get("/contacts")
        def list_contacts() -> Response:
            per_page = per_page_arg(request.args.get("per_page"), 50)
            items, pages = page(contact_views(), offset_of(request.args.get("starting_after")), per_page)
            return jsonify({"type": "list", "data": items, "total_count": len(emulator.contacts), "pages": pages})

        @app.get("/contacts/<contact_id>")
        def get_contact(contact_id: str) -> Response:
            if contact_id in emulator.merged_into:  # 2.16: 410 Gone, the Link header names the final target
                target = contact_id
                while target in emulator.merged_into:
                    target = emulator.merged_into[target]
                response = error(410, "contact_merged",
                                 "This contact has been merged. See the 'Link' header for the canonical contact.")
                response.headers["Link"] = f'</contacts/{target}>; rel="canonical"'
                return response
            if contact_id not in emulator.contacts:
                return error(404, "not_found", "User Not Found")
            with_history = request.args.get("include_merge_history") == "true"
            return jsonify(emulator.contact_view(contact_id, with_merge_history=with_history))

        @app.get("/conversations")
        def list_conversations() -> Response:
            per_page = per_page_arg(request.args.get("per_page"), 20)
            ids, pages = page(list(emulator.conversations), offset_of(request.args.get("starting_after")), per_page)
            items = [emulator.conversation_view(cid, with_parts=False) for cid in ids]
            return jsonify({"type": "conversation.list", "conversations": items, "total_count": len(emulator.conversations),
                            "pages": pages})

        def matches(item: dict[str, Any], query: dict[str, Any]) -> bool:
            if "operator" in query and "value" in query and "field" not in query:
                results = [matches(item, sub) for sub in query["value"]]
                return all(results) if query["operator"] == "AND" else any(results)
            value = item
            for key in str(query.get("field", "")).split("."):
                value = value.get(key) if isinstance(value, dict) else None
            wanted, op = query.get("value"), query.get("operator")
            if value is None:
                return False
            if op == ">":
                return value > wanted
            if op == "<":
                return value < wanted
            if op == "=":
                return value == wanted
            if op == "!=":
                return value != wanted
            if op == "IN":
                return value in wanted
            return False

        def search(collection: list[dict[str, Any]], default_per_page: int) -> tuple[list, dict, int] | Response:
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
                return error(400, "parameter_invalid", "query is required")
            pagination = body.get("pagination") or {}
            per_page = per_page_arg(pagination.get("per_page"), default_per_page)
            found = [item for item in collection if matches(item, body["query"])]
            found.sort(key=lambda item: (item["updated_at"], item["id"]))
            items, pages = page(found, offset_of(pagination.get("starting_after")), per_page)
            return items, pages, len(found)

        @app.post("/contacts/search")
        def search_contacts() -> Response:
            result = search(contact_views(), 50)
            if isinstance(result, Response):
                return result
            items, pages, total = result
            return jsonify({"type": "list", "data": items, "total_count": total, "pages": pages})

        @app.post("/conversations/search")
        def search_conversations() -> Response:
            views = [emulator.conversation_view(cid, with_parts=False) for cid in emulator.conversations]
            result = search(views, 20)
            if isinstance(result, Response):
                return result
            items, pages, total = result
            return jsonify({"type": "conversation.list", "conversations": items, "total_count": total, "pages": pages})

        @app.get("/conversations/<conversation_id>")
        def get_conversation(conversation_id: str) -> Response:
            if conversation_id not in emulator.conversations:
                return error(404, "not_found", "Resource Not Found")
            if conversation_id in emulator.broken:
                return error(500, "server_error", "Injected failure")
            return jsonify(emulator.conversation_view(conversation_id))

        @app.post("/conversations/<conversation_id>/reply")
        def reply(conversation_id: str) -> Response:
            if conversation_id not in emulator.conversations:
                return error(404, "not_found", "Resource Not Found")
            body = request.get_json(silent=True) or {}
            message_type = body.get("message_type")
            if message_type not in ("comment", "note") or not body.get("body"):
                return error(400, "parameter_invalid", "message_type comment|note and body are required")
            if body.get("type") == "admin":
                if body.get("admin_id") != emulator.admin["id"]:
                    return error(400, "parameter_invalid", "admin_id is not an admin of this workspace")
                emulator.add_part(conversation_id, body["body"], author_type="admin", part_type=message_type)
            elif body.get("type") == "user":
                emulator.add_part(conversation_id, body["body"], author_type="user", part_type="comment")
            else:
                return error(400, "parameter_invalid", "type must be admin or user")
            return jsonify(emulator.conversation_view(conversation_id))

        @app.post("/_emulator/webhooks")
        def push_webhook() -> Response:
            """Demo helper: {"url", "topic", "conversation_id" | "contact_id"} → sends a signed notification."""
            body = request.get_json(silent=True) or {}
            if body.get("conversation_id") in emulator.conversations:
                item = emulator.conversation_view(body["conversation_id"])
            elif body.get("contact_id") in emulator.contacts:
                item = emulator.contacts[body["contact_id"]]
            else:
                return error(404, "not_found", "no such conversation or contact")
            sent = emulator.send_webhook(body.get("url", ""), body.get("topic", "ping"), item)
            return jsonify({"status": sent.status_code})


def seed(emulator: IntercomEmulator, conversations: int, parts_per_conversation: int = 10,
         *, start: int = 1_700_000_000) -> None:
    """Deterministic demo/benchmark data: one contact per conversation, alternating user/admin parts."""
    for number in range(conversations):
        stamp = start + number * 60
        contact = emulator.add_contact(
            name=f"Lead {number}", email=f"lead{number}@example.org", role="lead" if number % 3 else "user",
            phone=None, updated_at=stamp,
        )
        conversation = emulator.add_conversation(contact["id"], f"<p>Hello, question {number}</p>", created_at=stamp)
        for index in range(parts_per_conversation):
            author = "admin" if index % 2 == 0 else contact["role"]
            emulator.add_part(conversation["id"], f"<p>Part {index} of {number}</p>", author_type=author,
                              created_at=stamp + index + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Intercom emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--seed", type=int, default=20, help="conversations to generate")
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--token", default="", help="accept this bearer token too")
    parser.add_argument("--client-id", default="emulator-client-id")
    parser.add_argument("--client-secret", default="emulator-client-secret")
    args = parser.parse_args()
    emulator = IntercomEmulator(client_id=args.client_id, client_secret=args.client_secret)
    if args.token:
        emulator.tokens.add(args.token)
    seed(emulator, args.seed, args.parts)
    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, emulator.create_app(), threaded=True)
    print(f"intercom emulator on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()


def as_webhook_text(conversation: dict[str, Any]) -> dict[str, Any]:
    """A conversation view with its source subject and body, and its parts' bodies, as plain text (webhook
    payloads of API 2.15+, per Intercom's reference for conversation_part.body)."""
    from core.markup import html_to_text

    view = copy.deepcopy(conversation)
    source = view.get("source") or {}
    for key in ("subject", "body"):
        if isinstance(source.get(key), str):
            source[key] = html_to_text(source[key])
    for part in (view.get("conversation_parts") or {}).get("conversation_parts") or []:
        if isinstance(part.get("body"), str):
            part["body"] = html_to_text(part["body"])
    return view

"""A local Gmail API + Google OAuth emulator for tests, benchmarks and the offline demo.

It speaks the REST paths google-api-python-client calls (profile, messages list/get/send, the batch endpoint,
history, watch/stop) and the OAuth endpoints (authorize, token, revoke). Mailboxes are loaded from .eml files
or generated on demand: only a small index row per message is held, raw bytes are read or built per request,
so 100,000 messages fit in a few tens of MB. Faults can be injected (429 with Retry-After, 403
rateLimitExceeded, 500, slow responses, history 404, invalid_grant).

Run it: `python -m connectors.gmail.emulator --port 8025 --generate 1000`.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import hashlib
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

PAGE_SIZE = 100
MAX_PAGE = 500


@dataclass
class Entry:
    """One message in the index: ids, labels and where its bytes come from (never the parsed message)."""

    id: str
    thread_id: str
    history_id: int
    internal_date: int  # ms
    labels: tuple[str, ...]
    source: Path | int | bytes  # a file, a generator seed, or bytes (sent mail)


_FIRST = ["Anna", "Piotr", "Olga", "John", "Maria", "Łukasz", "Ivan", "Chen", "Zofia", "Marek", "Elena", "Tomasz",
          "Sara", "David", "Katarzyna", "Paweł", "Natalia", "Igor", "Emma", "Jan"]
_SYLLABLES = ["kow", "nov", "ski", "ber", "lan", "mar", "tin", "ova", "ich", "son", "dor", "wic", "zak", "pol",
              "ren", "gar", "mil", "ter", "sha", "vin"]
_DOMAINS = ["client.pl", "example.org", "firma.com.pl", "corp.example", "shop.example", "mail.example"]


def generated_raw(seed: int, mailbox: str) -> bytes:
    """A deterministic realistic inquiry. People write several times (one correspondent per ~5 messages);
    every 20th message is bulk mail."""
    person = random.Random(seed // 5 * 7919)
    first = person.choice(_FIRST)
    last = "".join(person.choice(_SYLLABLES) for _ in range(3)).capitalize()
    domain = person.choice(_DOMAINS)
    address = f"{first.lower()}.{last.lower()}@{domain}".encode("ascii", "ignore").decode()
    rng = random.Random(seed)
    bulk = "List-Unsubscribe: <mailto:unsub@shop.example>\r\n" if seed % 20 == 0 else ""
    date = email.utils.format_datetime(datetime.fromtimestamp(1_760_000_000 + seed * 37, tz=UTC))
    body = (
        f"Hello,\r\n\r\nWe are interested in your offer for {rng.randint(5, 500)} units.\r\n"
        f"Could you send a quote?\r\n\r\nBest regards,\r\n{first} {last}\r\n"
    )
    return (
        f"From: {first} {last} <{address}>\r\nTo: {mailbox}\r\nSubject: Inquiry #{seed}\r\n"
        f"Date: {date}\r\nMessage-ID: <gen-{seed}@{domain}>\r\n{bulk}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
    ).encode()


@dataclass
class Faults:
    """What goes wrong, and how often (rate applies to API calls and to each part of a batch)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "403", "500")
    retry_after: str = "0"
    slow_seconds: float = 0.0
    slow_fault_seconds: float = 2.0  # how long a "slow" fault keeps its answer back
    history_expired: bool = False
    invalid_grant: bool = False
    once: list[str] = field(default_factory=list)  # consumed one per API call, e.g. ["401", "500"]
    seed: int = 7
    served: dict[str, int] = field(default_factory=dict)  # faults answered so far, by kind
    _rng: random.Random | None = None

    def pick(self) -> str:
        kind = self._pick()
        if kind:
            self.served[kind] = self.served.get(kind, 0) + 1
        return kind

    def _pick(self) -> str:
        if self.once:
            return self.once.pop(0)
        if self.rate <= 0:
            return ""
        rng = self._rng or random.Random(self.seed)
        self._rng = rng
        return rng.choice(self.kinds) if rng.random() < self.rate else ""


@dataclass
class Mailbox:
    address: str
    entries: list[Entry] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    history_id: int = 1000
    oldest_history_id: int = 1000
    sent: list[dict[str, Any]] = field(default_factory=list)
    removed_labels: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)  # (history id, id, labels)

    def add(self, source: Path | int | bytes, labels: tuple[str, ...] = ("INBOX",), *, internal_date: int = 0,
            thread_id: str = "") -> Entry:
        self.history_id += 1
        gid = f"{self.history_id:016x}"
        entry = Entry(gid, thread_id or gid, self.history_id, internal_date or int(time.time() * 1000),
                      labels, source)
        self.by_id[gid] = len(self.entries)
        self.entries.append(entry)
        return entry

    def remove_labels(self, gmail_id: str, labels: tuple[str, ...]) -> None:
        """A label change (the rep marks a message 'not spam', restores it from the bin): a labelRemoved record."""
        self.history_id += 1
        entry = self.entries[self.by_id[gmail_id]]
        entry.labels = tuple(label for label in entry.labels if label not in labels)
        self.removed_labels.append((self.history_id, gmail_id, labels))

    def message_id(self, entry: Entry) -> str:
        """The entry's Message-ID header, bracket-free (for the rfc822msgid: search operator)."""
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(self.raw(entry))
        return str(headers.get("Message-ID", "")).strip().strip("<>")

    def raw(self, entry: Entry) -> bytes:
        if isinstance(entry.source, Path):
            return entry.source.read_bytes()
        if isinstance(entry.source, int):
            return generated_raw(entry.source, self.address)
        return entry.source


class Emulator:
    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox] = {}
        self.faults = Faults()
        self.lock = threading.Lock()
        self.calls: list[str] = []  # method names, for tests ("history.list" …)
        self.count_calls = True
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}  # token -> {mailbox, expires}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> mailbox
        self.token_lifetime = 3600
        self.watch_topics: dict[str, str] = {}
        # Consent without login_hint grants this mailbox. With stable_refresh_tokens a mailbox's refresh token
        # is derived from its address, so an app restarted beside a fresh emulator (the demo) still syncs.
        self.default_mailbox = "rep@example.com"
        self.stable_refresh_tokens = False
        # Ids whose messages.get(format=raw) answers leave `raw` out (every field of Gmail's Message is optional).
        self.without_raw: set[str] = set()

    # -------------------------------------------------------------- set-up helpers

    def mailbox(self, address: str) -> Mailbox:
        return self.mailboxes.setdefault(address, Mailbox(address))

    def load_eml(self, address: str, paths: list[Path]) -> None:
        box = self.mailbox(address)
        for path in paths:
            box.add(path)

    def generate(self, address: str, count: int, start: int = 0) -> None:
        box = self.mailbox(address)
        for seed in range(start, start + count):
            # every 7th message continues the previous one's thread: threads with several messages
            thread = box.entries[-1].thread_id if seed % 7 == 3 and box.entries else ""
            box.add(seed, internal_date=1_760_000_000_000 + seed * 37_000, thread_id=thread)

    def issue_tokens(self, address: str, *, lifetime: int | None = None) -> dict[str, Any]:
        access = "ya29." + secrets.token_urlsafe(24)
        refresh = self.stable_refresh_token(address) if self.stable_refresh_tokens else "1//" + secrets.token_urlsafe(24)
        self.access_tokens[access] = {"mailbox": address, "expires": time.time() + (lifetime or self.token_lifetime)}
        self.refresh_tokens[refresh] = address
        self.mailbox(address)
        return {"access_token": access, "refresh_token": refresh, "expires_in": lifetime or self.token_lifetime,
                "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/gmail.readonly"}

    def stable_refresh_token(self, address: str) -> str:
        self.refresh_tokens["1//stable-" + address] = address
        return "1//stable-" + address

    def expire_history(self) -> None:
        """Pretend Gmail dropped old history: every stored startHistoryId now answers 404."""
        for box in self.mailboxes.values():
            box.oldest_history_id = box.history_id


def _error(code: int, message: str, reason: str, status: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "status": status,
                                  "errors": [{"message": message, "domain": "global", "reason": reason}]}})
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def create_app(emulator: Emulator | None = None) -> Flask:
    emu = emulator or Emulator()
    app = Flask(__name__)
    app.extensions["gmail_emulator"] = emu

    def fault_response() -> Response | None:
        kind = emu.faults.pick()
        if emu.faults.slow_seconds:
            time.sleep(emu.faults.slow_seconds)
        if kind == "429":
            return _error(429, "Too many requests", "rateLimitExceeded", "RESOURCE_EXHAUSTED",
                          {"Retry-After": emu.faults.retry_after})
        if kind == "403":
            return _error(403, "User-rate limit exceeded", "rateLimitExceeded", "PERMISSION_DENIED",
                          {"Retry-After": emu.faults.retry_after})
        if kind == "403-daily":
            return _error(403, "Daily Limit Exceeded", "dailyLimitExceeded", "PERMISSION_DENIED")
        if kind == "403-scope":
            return _error(403, "Request had insufficient authentication scopes.", "insufficientPermissions",
                          "PERMISSION_DENIED")
        if kind == "500":
            return _error(500, "Backend Error", "backendError", "INTERNAL")
        if kind == "401":
            return _error(401, "Invalid Credentials", "authError", "UNAUTHENTICATED")
        if kind == "slow":
            time.sleep(emu.faults.slow_fault_seconds)
        return None

    def authorised(user_id: str) -> tuple[Mailbox | None, Response | None]:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        grant = emu.access_tokens.get(token)
        if grant is None or grant["expires"] < time.time():
            return None, _error(401, "Invalid Credentials", "authError", "UNAUTHENTICATED")
        address = grant["mailbox"]
        if user_id not in ("me", address):
            return None, _error(403, "Delegation denied", "forbidden", "PERMISSION_DENIED")
        failure = fault_response()
        if failure is not None:
            return None, failure
        return emu.mailbox(address), None

    def record(name: str) -> None:
        if emu.count_calls:
            emu.calls.append(name)

    # -------------------------------------------------------------- Gmail API

    @app.get("/gmail/v1/users/<user_id>/profile")
    def get_profile(user_id: str) -> Any:
        record("users.getProfile")
        box, failure = authorised(user_id)
        if failure:
            return failure
        return {"emailAddress": box.address, "messagesTotal": len(box.entries),
                "threadsTotal": len({e.thread_id for e in box.entries}), "historyId": str(box.history_id)}

    @app.get("/gmail/v1/users/<user_id>/messages")
    def list_messages(user_id: str) -> Any:
        record("messages.list")
        box, failure = authorised(user_id)
        if failure:
            return failure
        size = min(int(request.args.get("maxResults", PAGE_SIZE)), MAX_PAGE)
        after_ms = 0
        rfc822_id = ""
        for term in request.args.get("q", "").split():
            if term.startswith("after:") and term[6:].isdigit():
                after_ms = int(term[6:]) * 1000
            elif term.startswith("rfc822msgid:"):
                rfc822_id = term[len("rfc822msgid:"):].strip("<>")
        labels = set(request.args.getlist("labelIds"))
        # As Gmail: spam and the bin are left out unless asked for; drafts are listed.
        hidden = set() if request.args.get("includeSpamTrash") == "true" else {"SPAM", "TRASH"}
        token = request.args.get("pageToken", "")
        # Page tokens are positions in the newest-first order, stable across calls (resumable).
        start = int(token) if token.isdigit() else len(box.entries) - 1
        out: list[dict[str, str]] = []
        index = start
        while index >= 0 and len(out) < size:
            entry = box.entries[index]
            index -= 1
            if (entry.internal_date < after_ms or (labels and not labels <= set(entry.labels))
                    or hidden & set(entry.labels)):
                continue
            if rfc822_id and box.message_id(entry) != rfc822_id:
                continue
            out.append({"id": entry.id, "threadId": entry.thread_id})
        body: dict[str, Any] = {"resultSizeEstimate": len(out)}
        if out:
            body["messages"] = out
        if index >= 0 and len(out) == size:
            body["nextPageToken"] = str(index)
        return body

    @app.get("/gmail/v1/users/<user_id>/messages/<message_id>")
    def get_message(user_id: str, message_id: str) -> Any:
        record("messages.get")
        box, failure = authorised(user_id)
        if failure:
            return failure
        position = box.by_id.get(message_id)
        if position is None:
            return _error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        entry = box.entries[position]
        fmt = request.args.get("format", "full")
        body: dict[str, Any] = {"id": entry.id, "threadId": entry.thread_id, "labelIds": list(entry.labels),
                                "historyId": str(entry.history_id), "internalDate": str(entry.internal_date)}
        if fmt == "minimal":
            return body
        raw = box.raw(entry)
        body["sizeEstimate"] = len(raw)
        body["snippet"] = ""
        if fmt == "raw":
            if entry.id not in emu.without_raw:
                body["raw"] = base64.urlsafe_b64encode(raw).decode()
            return body
        wanted = {h.lower() for h in request.args.getlist("metadataHeaders")}
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items() if not wanted or k.lower() in wanted]
        body["payload"] = {"partId": "", "mimeType": parsed.get_content_type(), "filename": "", "headers": headers}
        return body

    @app.post("/gmail/v1/users/<user_id>/messages/send")
    def send_message(user_id: str) -> Any:
        record("messages.send")
        box, failure = authorised(user_id)
        if failure:
            return failure
        data = request.get_json(silent=True) or {}
        try:
            raw = base64.urlsafe_b64decode(data.get("raw", "") + "==")
        except (ValueError, TypeError):
            raw = b""
        if not raw:
            return _error(400, "Invalid raw message", "invalidArgument", "INVALID_ARGUMENT")
        thread_id = data.get("threadId") or ""
        if thread_id and thread_id not in {e.thread_id for e in box.entries}:
            return _error(404, "Thread not found", "notFound", "NOT_FOUND")
        with emu.lock:
            entry = box.add(raw, ("SENT",), internal_date=int(time.time() * 1000), thread_id=thread_id)
        box.sent.append({"id": entry.id, "threadId": entry.thread_id, "raw": raw})
        return {"id": entry.id, "threadId": entry.thread_id, "labelIds": ["SENT"]}

    @app.get("/gmail/v1/users/<user_id>/history")
    def list_history(user_id: str) -> Any:
        record("history.list")
        box, failure = authorised(user_id)
        if failure:
            return failure
        start = request.args.get("startHistoryId", "")
        if not start.isdigit():
            return _error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
        start_id = int(start)
        if emu.faults.history_expired or start_id < box.oldest_history_id:
            return _error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")
        size = min(int(request.args.get("maxResults", PAGE_SIZE)), MAX_PAGE)
        token = request.args.get("pageToken", "")
        if token.isdigit():
            start_id = int(token)
        # entries are in history order; find the first one after start_id
        lo, hi = 0, len(box.entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if box.entries[mid].history_id <= start_id:
                lo = mid + 1
            else:
                hi = mid
        chunk = box.entries[lo:lo + size]
        records = [(e.history_id, {"id": str(e.history_id), "messages": [{"id": e.id, "threadId": e.thread_id}],
                                   "messagesAdded": [{"message": {"id": e.id, "threadId": e.thread_id,
                                                                  "labelIds": list(e.labels)}}]})
                   for e in chunk]
        types = set(request.args.getlist("historyTypes"))
        if box.removed_labels and (not types or "labelRemoved" in types):
            for history_id, gmail_id, removed in box.removed_labels:
                if history_id > start_id:
                    e = box.entries[box.by_id[gmail_id]]
                    message = {"id": e.id, "threadId": e.thread_id, "labelIds": list(e.labels)}
                    records.append((history_id, {"id": str(history_id), "messages": [message],
                                                 "labelsRemoved": [{"message": message, "labelIds": list(removed)}]}))
            records = sorted(records, key=lambda record: record[0])[:size]
        body: dict[str, Any] = {"historyId": str(box.history_id)}
        if records:
            body["history"] = [record for _, record in records]
            last = records[-1][0]
            if len(records) == size and (box.entries[-1].history_id > last
                                         or any(h > last for h, _, _ in box.removed_labels)):
                body["nextPageToken"] = str(last)
        return body

    @app.post("/gmail/v1/users/<user_id>/watch")
    def watch(user_id: str) -> Any:
        record("users.watch")
        box, failure = authorised(user_id)
        if failure:
            return failure
        data = request.get_json(silent=True) or {}
        if not data.get("topicName"):
            return _error(400, "topicName is required", "invalidArgument", "INVALID_ARGUMENT")
        emu.watch_topics[box.address] = data["topicName"]
        return {"historyId": str(box.history_id), "expiration": str(int((time.time() + 7 * 86400) * 1000))}

    @app.post("/gmail/v1/users/<user_id>/stop")
    def stop(user_id: str) -> Any:
        record("users.stop")
        box, failure = authorised(user_id)
        if failure:
            return failure
        emu.watch_topics.pop(box.address, None)
        return Response(status=204)

    @app.post("/batch/gmail/v1")
    def batch() -> Any:
        """multipart/mixed of application/http requests, answered by dispatching each to this app."""
        ctype = request.headers.get("Content-Type", "")
        message = email.message_from_bytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.get_data(), policy=email.policy.compat32
        )
        if not message.is_multipart():
            return _error(400, "Batch must be multipart/mixed", "invalidArgument", "INVALID_ARGUMENT")
        parts = message.get_payload()
        if len(parts) > 100:
            return _error(400, "Too many requests in batch", "invalidArgument", "INVALID_ARGUMENT")
        boundary = "batch_" + secrets.token_hex(8)
        client = app.test_client()
        out: list[bytes] = []
        auth = request.headers.get("Authorization", "")
        for part in parts:
            content_id = part.get("Content-ID", "").strip("<>")
            inner = part.get_payload(decode=False)
            if isinstance(inner, list):
                inner = inner[0].as_string()
            head, _, inner_body = inner.replace("\r\n", "\n").partition("\n\n")
            lines = head.strip().split("\n")
            method, path = lines[0].split(" ")[:2]
            # Mounted under a prefix (the demo serves it at /_emulators/gmail), parts still name the full path.
            mount = request.script_root
            if mount and path.startswith(mount + "/"):
                path = path[len(mount):]
            headers = {"authorization": auth}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()  # a part's own header wins over the outer one
            response = client.open(path, method=method, headers=headers, data=inner_body.encode() or None)
            status_line = f"HTTP/1.1 {response.status}"
            header_lines = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items() if k.lower() != "content-length")
            payload = response.get_data()
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n"
                f"{status_line}\r\n{header_lines}Content-Length: {len(payload)}\r\n\r\n".encode() + payload + b"\r\n"
            )
        out.append(f"--{boundary}--\r\n".encode())
        return Response(b"".join(out), mimetype=f"multipart/mixed; boundary={boundary}")

    # -------------------------------------------------------------- OAuth

    @app.get("/o/oauth2/v2/auth")
    def authorize() -> Any:
        """Consent is granted at once for the mailbox named by login_hint (or a default one)."""
        args = request.args
        redirect_uri, state = args.get("redirect_uri", ""), args.get("state", "")
        if not redirect_uri or args.get("response_type") != "code":
            return _error(400, "invalid_request", "invalidArgument", "INVALID_ARGUMENT")
        code = secrets.token_urlsafe(16)
        emu.codes[code] = {"mailbox": args.get("login_hint") or emu.default_mailbox, "redirect_uri": redirect_uri,
                           "challenge": args.get("code_challenge", ""), "client_id": args.get("client_id", "")}
        return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    def token_error(error: str, status: int = 400) -> Response:
        response = jsonify({"error": error, "error_description": error.replace("_", " ")})
        response.status_code = status
        return response

    @app.post("/token")
    def token() -> Any:
        form = request.form
        grant = form.get("grant_type")
        if grant == "authorization_code":
            data = emu.codes.pop(form.get("code", ""), None)
            if data is None or data["redirect_uri"] != form.get("redirect_uri"):
                return token_error("invalid_grant")
            verifier = form.get("code_verifier", "")
            expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if data["challenge"] and expected != data["challenge"]:
                return token_error("invalid_grant")
            return emu.issue_tokens(data["mailbox"])
        if grant == "refresh_token":
            address = emu.refresh_tokens.get(form.get("refresh_token", ""))
            if address is None or emu.faults.invalid_grant:
                return token_error("invalid_grant")
            access = "ya29." + secrets.token_urlsafe(24)
            emu.access_tokens[access] = {"mailbox": address, "expires": time.time() + emu.token_lifetime}
            return {"access_token": access, "expires_in": emu.token_lifetime, "token_type": "Bearer"}
        return token_error("unsupported_grant_type")

    @app.post("/revoke")
    def revoke() -> Any:
        value = request.values.get("token", "")
        found = emu.refresh_tokens.pop(value, None) is not None or emu.access_tokens.pop(value, None) is not None
        if not found:
            return token_error("invalid_token")
        return {}

    return app


class ServerThread:
    """The emulator served by werkzeug on 127.0.0.1 (port 0 picks a free one) in a daemon thread."""

    def __init__(self, app: Flask, port: int = 0):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Gmail API emulator")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mailbox", default="rep@acme.example")
    parser.add_argument("--generate", type=int, default=0)
    parser.add_argument("--eml-dir", default="")
    parser.add_argument("--token", default="", help="an access token to accept (printed tokens otherwise)")
    args = parser.parse_args()
    emu = Emulator()
    if args.eml_dir:
        emu.load_eml(args.mailbox, sorted(p for p in Path(args.eml_dir).rglob("*") if p.is_file()))
    if args.generate:
        emu.generate(args.mailbox, args.generate)
    emu.count_calls = False
    tokens = emu.issue_tokens(args.mailbox)
    if args.token:
        emu.access_tokens[args.token] = {"mailbox": args.mailbox, "expires": time.time() + 10 * 86400}
        emu.refresh_tokens[args.token] = args.mailbox
    print(f"READY {tokens['access_token']} {tokens['refresh_token']}", flush=True)
    from werkzeug.serving import make_server

    make_server("127.0.0.1", args.port, create_app(emu), threaded=True).serve_forever()


if __name__ == "__main__":
    main()

"""A synthetic connector and its emulator, for proving the scale-out machinery before the real connectors land.

The emulator serves mailboxes of generated messages page by page over HTTP (werkzeug on 127.0.0.1, port 0)
and injects faults on request: 429 with Retry-After, 500, or a response slower than the client's timeout.
The connector reads it with requests through connectors.errors (the same retry/classification path the real
connectors use) and checkpoints after every page.

Any connector can take its place in the harness (tests/scale/harness.py): a connector type, an emulator
factory that returns (base_url settings, expected external ids) and an account factory.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from connectors.base import Checkpoint, Connector, ConnectorContext, register, registered
from connectors.errors import check_response, with_retries
from core.schemas import InboundRecord

CHANNEL = "synthetic"
CLIENT_TIMEOUT_SECONDS = 0.5


@dataclass
class Faults:
    """Share of responses that fail, and how: 429 (Retry-After: 1), 500, or a reply slower than the timeout."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "timeout")
    seed: int = 7
    fail_first: int = 0  # the first N requests fail with 500 (to exhaust the client's own retries)


@dataclass
class EmulatorState:
    mailboxes: dict[str, list[dict[str, Any]]]
    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    served_pages: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def all_ids(self) -> set[str]:
        return {message["id"] for messages in self.mailboxes.values() for message in messages}


def generate_mailboxes(count: int, per_mailbox: int, senders: int = 50) -> dict[str, list[dict[str, Any]]]:
    """Mailboxes of messages from a shared pool of senders (so identity resolution works across them)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    mailboxes = {}
    for box in range(count):
        name = f"box{box:04d}"
        mailboxes[name] = [
            {
                "id": f"{name}-m{index:05d}",
                "thread": f"{name}-t{index // 3:05d}",
                "from_name": f"Sender {(box * 7 + index) % senders}",
                "from_email": f"sender{(box * 7 + index) % senders}@example.com",
                "subject": f"Inquiry {index} for {name}",
                "text": f"Hello, question number {index}.",
                "sent_at": (start + timedelta(minutes=box * per_mailbox + index)).isoformat(),
            }
            for index in range(per_mailbox)
        ]
    return mailboxes


def make_emulator_app(state: EmulatorState) -> Flask:
    app = Flask("synthetic-emulator")
    rng = random.Random(state.faults.seed)

    @app.get("/mailboxes/<name>/messages")
    def messages(name: str):  # noqa: ANN202
        with state.lock:
            state.requests += 1
            number = state.requests
            fault = None
            if number <= state.faults.fail_first:
                fault = "500"
            elif state.faults.rate and rng.random() < state.faults.rate:
                fault = rng.choice(state.faults.kinds)
            if fault:
                state.injected[fault] = state.injected.get(fault, 0) + 1
        if fault == "429":
            return jsonify({"error": "rate limited"}), 429, {"Retry-After": "1"}
        if fault == "500":
            return jsonify({"error": "backend error"}), 500
        if fault == "timeout":
            time.sleep(CLIENT_TIMEOUT_SECONDS * 2)
        if name not in state.mailboxes:
            return jsonify({"error": "no such mailbox"}), 404
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", 10))
        items = state.mailboxes[name][offset : offset + limit]
        next_offset = offset + len(items) if offset + len(items) < len(state.mailboxes[name]) else None
        with state.lock:
            state.served_pages += 1
        return jsonify({"messages": items, "next_offset": next_offset})

    return app


class RunningEmulator:
    """The emulator on 127.0.0.1 in a thread; `url` is its base URL."""

    def __init__(self, state: EmulatorState):
        self.state = state
        self.server = make_server("127.0.0.1", 0, make_emulator_app(state), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RunningEmulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


class SyntheticConnector(Connector):
    """Reads one emulated mailbox (config: mailbox, page_size); the cursor is the next offset."""

    type = CHANNEL
    title = "Synthetic (tests)"

    def __init__(self, context: ConnectorContext):
        super().__init__(context)
        self.base_url = context.settings.get("SYNTHETIC_API_URL", "").rstrip("/")
        self.http = requests.Session()

    def _page(self, mailbox: str, offset: int, limit: int) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            response = self.http.get(
                f"{self.base_url}/mailboxes/{mailbox}/messages",
                params={"offset": offset, "limit": limit},
                timeout=CLIENT_TIMEOUT_SECONDS,
            )
            return check_response(response).json()

        return with_retries(call, base=0.05, max_tries=6, max_time=30)

    def read(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint]:
        mailbox = self.context.config["mailbox"]
        limit = int(self.context.config.get("page_size", 10))
        offset = int(state.get("offset", 0))
        while True:
            page = self._page(mailbox, offset, limit)
            for item in page["messages"]:
                yield InboundRecord.model_validate(
                    {
                        "channel": CHANNEL,
                        "external_id": item["id"],
                        "contact": {"name": item["from_name"], "email": item["from_email"]},
                        "message": {
                            "external_id": item["id"],
                            "thread_id": item["thread"],
                            "direction": "in",
                            "sent_at": item["sent_at"],
                            "subject": item["subject"],
                            "text": item["text"],
                        },
                    }
                )
            offset += len(page["messages"])
            yield Checkpoint({"offset": offset})
            if page["next_offset"] is None:
                return


def ensure_registered() -> None:
    if CHANNEL not in registered():
        register(SyntheticConnector)


ensure_registered()

"""The emulator's answers conform to Gmail's schema (gmail-v1.openapi.json, made strict: no unknown fields)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from connectors.gmail.emulator import Emulator

SPEC = json.loads(Path("/work/shared/fixtures/api-specs/gmail-v1.openapi.json").read_text())


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if "properties" in node:
            node.setdefault("additionalProperties", False)
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


COMPONENTS = strict(copy.deepcopy(SPEC["components"]))


def response_schema(path: str, method: str) -> dict:
    ref = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return {"$ref": ref, "components": COMPONENTS}


@pytest.fixture
def api(emulator: Emulator) -> tuple[str, dict[str, str]]:
    emulator.generate("rep@acme.example", 30)
    token = emulator.issue_tokens("rep@acme.example")["access_token"]
    return emulator.url + "gmail/v1/users/me/", {"Authorization": f"Bearer {token}"}


def check(response: requests.Response, path: str, method: str = "get") -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    jsonschema.validate(body, response_schema(path, method))
    return body


def test_strict_schema_catches_a_wrong_field() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "1", "threadID": "x"}, {"$ref": "#/components/schemas/Message",
                                                            "components": COMPONENTS})


def test_responses_conform(api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    check(requests.get(base + "profile", headers=headers, timeout=10), "/gmail/v1/users/{userId}/profile")
    listing = check(requests.get(base + "messages", params={"maxResults": 10}, headers=headers, timeout=10),
                    "/gmail/v1/users/{userId}/messages")
    assert len(listing["messages"]) == 10 and listing["nextPageToken"]
    first = listing["messages"][0]["id"]
    for fmt in ("raw", "minimal", "metadata"):
        body = check(requests.get(base + f"messages/{first}", params={"format": fmt}, headers=headers, timeout=10),
                     "/gmail/v1/users/{userId}/messages/{id}")
        assert body["id"] == first
    raw = requests.get(base + f"messages/{first}", params={"format": "raw"}, headers=headers, timeout=10).json()["raw"]
    assert base64.urlsafe_b64decode(raw).startswith(b"From:")
    history = check(requests.get(base + "history", params={"startHistoryId": "1010"}, headers=headers, timeout=10),
                    "/gmail/v1/users/{userId}/history")
    assert history["history"][0]["messagesAdded"]
    sent = check(requests.post(base + "messages/send", json={"raw": base64.urlsafe_b64encode(b"From: a@b\r\n\r\nx")
                                                             .decode()}, headers=headers, timeout=10),
                 "/gmail/v1/users/{userId}/messages/send", "post")
    assert sent["labelIds"] == ["SENT"]
    check(requests.post(base + "watch", json={"topicName": "projects/p/topics/t"}, headers=headers, timeout=10),
          "/gmail/v1/users/{userId}/watch", "post")


def test_faults_and_errors(emulator: Emulator, api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    assert requests.get(base + "profile", timeout=10).status_code == 401
    emulator.faults.once = ["429", "403", "500"]
    first = requests.get(base + "profile", headers=headers, timeout=10)
    assert first.status_code == 429 and first.headers["Retry-After"] == "0"
    forbidden = requests.get(base + "profile", headers=headers, timeout=10)
    assert forbidden.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert requests.get(base + "profile", headers=headers, timeout=10).status_code == 500
    emulator.expire_history()
    assert requests.get(base + "history", params={"startHistoryId": "1010"}, headers=headers, timeout=10).status_code == 404
    assert requests.get(base + "messages/nope", headers=headers, timeout=10).status_code == 404


def test_generated_mailbox_holds_no_message_bytes() -> None:
    emulator = Emulator()
    emulator.generate("big@acme.example", 20_000)
    box = emulator.mailbox("big@acme.example")
    assert all(isinstance(e.source, int) for e in box.entries)  # bytes are built per request
    assert box.raw(box.entries[-1]).startswith(b"From:")

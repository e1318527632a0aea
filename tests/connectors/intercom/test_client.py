"""The Intercom client's requests as they leave: the URL each call puts on the wire."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from connectors.errors import FatalError
from connectors.intercom.client import IntercomClient


class Recording(BaseAdapter):
    """A transport that sends nothing: it keeps each prepared request and answers 200 with a JSON object."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response.headers["Content-Type"] = "application/json"
        response._content = b'{"type": "conversation", "id": "1"}'  # noqa: SLF001
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def recorded() -> tuple[IntercomClient, Recording]:
    session, adapter = requests.Session(), Recording()
    session.mount("https://", adapter)
    return IntercomClient("token", base_url="https://api.intercom.test", session=session, max_tries=1), adapter


CALLS = {
    "conversation": (lambda c, i: c.conversation(i), "GET", "/conversations/{}"),
    "reply": (lambda c, i: c.reply_as_admin(i, admin_id="7", body="Hi"), "POST", "/conversations/{}/reply"),
    "contact": (lambda c, i: c.contact(i), "GET", "/contacts/{}"),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(("given", "segment"), [
    ("215468752339431", "215468752339431"),
    ("1/reply", "1%2Freply"),
    ("../contacts/5", "..%2Fcontacts%2F5"),
    ("1?per_page=150", "1%3Fper_page%3D150"),
    ("1#x", "1%23x"),
    ("%2e%2e", "%252e%252e"),
    ("1 2", "1%202"),
])
def test_an_id_is_one_path_segment(recorded, call: str, given: str, segment: str) -> None:  # noqa: ANN001
    """Ids come from Intercom's answers and signed webhooks, but one with "/", "?", "#" or ".." was put into the
    path as it was and could reach another endpoint with the workspace's token (POST /conversations/1/reply/…)."""
    client, adapter = recorded
    run, method, path = CALLS[call]
    run(client, given)
    assert [(r.method, r.path_url.split("?")[0]) for r in adapter.sent] == [(method, path.format(segment))]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("given", [".", "..", ""])
def test_an_id_that_is_a_dot_segment_is_refused_unsent(recorded, call: str, given: str) -> None:  # noqa: ANN001
    """Quoting leaves "." and ".." as they are, and the URL's dot segments are resolved before sending:
    GET /conversations/.. went to GET /."""
    client, adapter = recorded
    with pytest.raises(FatalError, match="not an Intercom id"):
        CALLS[call][0](client, given)
    assert adapter.sent == []

"""Gmail answers of every shape Gmail's published schema (gmail-v1, from its discovery document) allows,
generated with Hypothesis (tests.schema_data): history and list pages whose fields are absent or empty, message
metadata with any headers. The connector reads each without an exception that would stop a sync at the same
page on every retry, and fetches exactly the messages the page names."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Checkpoint
from connectors.gmail import GmailConnector
from connectors.gmail.mime import parse_message
from tests.schema_data import TEXT, SchemaData

SPEC_PATH = Path("/work/shared/fixtures/api-specs/gmail-v1.openapi.json")
if not SPEC_PATH.exists():  # the repository's relative location of the shared fixtures
    SPEC_PATH = Path(__file__).resolve().parents[4] / "shared/fixtures/api-specs/gmail-v1.openapi.json"
DATA = SchemaData(json.loads(SPEC_PATH.read_text())["components"]["schemas"], depth=1)
SETTINGS = settings(max_examples=4 * settings().max_examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Message-ID", "Subject", "Date", "Content-Type", "List-Id",
                                "Precedence", "Auto-Submitted", "Return-Path", "X-Failed-Recipients", "Reply-To"])
HEADER_VALUES = st.one_of(TEXT, st.lists(st.sampled_from(
    ["Anna", "<", ">", "@", "firma.pl", '"', ",", ";", "=?utf-8?q?", "=?utf-8?B?", "?=", "\r\n", "\n ", ":", "bulk",
     "multipart/mixed; boundary=", "auto-replied", "Łódź"]), max_size=8).map("".join))
METADATA = DATA.of("Message", payload=DATA.of("MessagePart", headers=st.lists(
    st.fixed_dictionaries({"name": st.one_of(HEADER_NAMES, TEXT), "value": HEADER_VALUES}), max_size=8)))


class PagesOnly:
    """A Gmail client that answers one history or list page and records which messages were fetched."""

    def __init__(self, page: dict[str, Any]):
        self.page = {key: value for key, value in page.items() if key != "nextPageToken"}
        self.fetched: list[str] = []

    def profile(self) -> dict[str, Any]:
        return {"emailAddress": "rep@acme.example", "historyId": "5"}

    def history_page(self, **_: Any) -> dict[str, Any]:
        return self.page

    def list_page(self, **_: Any) -> dict[str, Any]:
        return self.page

    def get_many(self, ids: list[str], **_: Any) -> tuple[dict, dict]:
        self.fetched += ids
        return {}, {gmail_id: "HTTP 404 notFound" for gmail_id in ids}


def connector(client: Any = None) -> GmailConnector:
    context = SimpleNamespace(config={"now_epoch": 1_800_000_000}, settings={"COMPANY_DOMAINS": "acme.example"},
                              account_id=1, owner_id=1, is_known_email=lambda _address: True, credentials={},
                              store_credentials=None)
    gmail = GmailConnector(context)
    gmail._client = client  # noqa: SLF001 - the seam the tests of this connector use
    gmail.mailbox = "rep@acme.example"
    gmail._rules = gmail.rules()  # noqa: SLF001 - what read() sets up before the first message
    return gmail


def named(messages: Any, *, drafts: bool = True) -> list[str]:
    return [m["id"] for m in messages or [] if isinstance(m, dict) and m.get("id")
            and (drafts or "DRAFT" not in (m.get("labelIds") or []))]


@SETTINGS
@given(DATA.of("ListHistoryResponse"))
def test_a_history_page_of_any_shape_fetches_the_messages_it_adds(page) -> None:  # noqa: ANN001
    client = PagesOnly(page)
    out = list(connector(client).read({"mode": "incremental", "history_id": "3"}))
    assert isinstance(out[-1], Checkpoint) and out[-1].state["mode"] == "incremental"
    wanted: list[str] = []
    for record in page.get("history") or []:
        wanted += named([a.get("message") for a in record.get("messagesAdded") or []], drafts=False)
        wanted += named([r.get("message") for r in record.get("labelsRemoved") or []
                         if {"SPAM", "TRASH", "DRAFT"} & set(r.get("labelIds") or [])])
    assert client.fetched == list(dict.fromkeys(wanted))


@SETTINGS
@given(DATA.of("ListMessagesResponse"))
def test_a_list_page_of_any_shape_fetches_the_messages_it_names(page) -> None:  # noqa: ANN001
    client = PagesOnly(page)
    out = list(connector(client).read({}))
    assert isinstance(out[-1], Checkpoint) and out[-1].state["mode"] == "incremental"
    assert client.fetched == list(dict.fromkeys(named(page.get("messages"))))


@SETTINGS
@given(METADATA)
def test_reconciliation_reads_any_metadata_headers(metadata) -> None:  # noqa: ANN001
    key = connector().expected_key(metadata)
    assert key is None or (isinstance(key, str) and key)


@SETTINGS
@given(st.one_of(DATA.of("Message"), DATA.of("Message", payload=DATA.of("MessagePart", headers=st.lists(
    DATA.of("MessagePartHeader"), max_size=8)))))
def test_reconciliation_reads_metadata_whose_optional_fields_are_absent(metadata) -> None:  # noqa: ANN001
    """Every field of Message, MessagePart and MessagePartHeader is optional in Gmail's schema: a header without
    a value (or a name), no headers, no payload raised KeyError, a 500 on the reconciliation page."""
    key = connector().expected_key(metadata)
    assert key is None or (isinstance(key, str) and key)


class Answers:
    """A Gmail client whose messages.get answers the given Message resources, in the order asked."""

    def __init__(self, messages: list[dict[str, Any]]):
        self.messages = messages

    def get_many(self, ids: list[str], **_: Any) -> tuple[dict, dict]:
        return dict(zip(ids, self.messages, strict=True)), {}


@SETTINGS
@given(st.lists(DATA.of("Message"), min_size=1, max_size=3))
def test_a_message_of_any_shape_is_a_record_a_skip_or_a_quarantine_of_its_own(messages) -> None:  # noqa: ANN001
    """A raw-format answer with any of its optional fields absent (id, raw, internalDate, labelIds): read, or
    quarantined with a reason under the id that was asked for; no 'unexpected error' (without an id, every such
    message was quarantined as the one id 'None')."""
    from connectors.base import Quarantine
    from core.schemas import InboundRecord

    gmail = connector(Answers(messages))
    gmail._final_pass = True  # noqa: SLF001 - attach-only mail is decided, not deferred
    ids = [f"m{i}" for i in range(len(messages))]
    out = list(gmail._fetch(ids, {}))  # noqa: SLF001
    for item in out:
        assert isinstance(item, InboundRecord | Quarantine)
        if isinstance(item, Quarantine):
            assert item.external_id in {f"1:{i}" for i in ids} and "unexpected error" not in item.reason


@pytest.mark.parametrize(("metadata", "key"), [
    ({"id": "a"}, None),
    ({"id": "a", "payload": {}}, None),
    ({"id": "a", "payload": {"headers": [{"name": "Subject"}, {"value": "x"}, {},
                                         {"name": "From", "value": "Jan <jan@client.pl>"},
                                         {"name": "Message-ID", "value": "<m@client.pl>"}]}}, "m@client.pl"),
    ({"id": "a", "labelIds": None, "payload": {"headers": [{"name": "From", "value": "Jan <jan@client.pl>"},
                                                           {"name": "Message-ID", "value": "<m@client.pl>"}]}},
     "m@client.pl"),
    # A line break in a value does not end the headers early (the From after it is still a header).
    ({"id": "a", "payload": {"headers": [{"name": "Subject", "value": "Oferta\r\n\r\nbody"},
                                         {"name": "From", "value": "Jan <jan@client.pl>"},
                                         {"name": "Message-ID", "value": "<m@client.pl>"}]}}, "m@client.pl"),
    ({"id": "a", "labelIds": ["SPAM"], "payload": {"headers": [{"name": "From", "value": "Jan <jan@client.pl>"},
                                                               {"name": "Message-ID", "value": "<m@client.pl>"}]}},
     None),
])
def test_reconciliation_expected_key(metadata: dict, key: str | None) -> None:
    assert connector().expected_key(metadata) == key


def test_an_internal_date_outside_the_calendar_leaves_the_message_undated_not_unread() -> None:
    raw = b"From: Anna <anna@firma.pl>\r\nTo: rep@acme.example\r\nSubject: Oferta\r\n\r\nDzien dobry"
    for internal_date in (-62_135_596_800_001, 10**20, 253_402_300_800_000):
        mail = parse_message(raw, internal_date_ms=internal_date)
        assert (mail.date, mail.subject, mail.text) == (None, "Oferta", "Dzien dobry")

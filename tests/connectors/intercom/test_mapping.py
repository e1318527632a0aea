"""connectors.intercom.mapping on conversation objects shaped as Intercom's API 2.16 describes them, including
the edges the schema allows: overlong subjects and bodies, parts without a body, every author type."""

from __future__ import annotations

from connectors.base import Quarantine
from connectors.intercom.mapping import MAX_SUBJECT, MAX_TEXT, conversation_records
from core.schemas import InboundRecord


def conversation(**changes) -> dict:  # noqa: ANN003
    base = {
        "type": "conversation", "id": "1911149811", "created_at": 1700000000, "state": "open",
        "source": {"type": "conversation", "id": "403918330", "delivered_as": "customer_initiated",
                   "subject": "<p>Oferta</p>", "body": "<p>Dzień dobry, proszę o ofertę</p>",
                   "author": {"type": "user", "id": "c1", "name": "Zofia Wróbel", "email": "zofia@wrobel.pl"}},
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}]},
        "conversation_parts": {"type": "conversation_part.list", "total_count": 4, "conversation_parts": [
            {"type": "conversation_part", "id": "p1", "part_type": "comment", "body": "<p>Witam</p>",
             "created_at": 1700000100, "author": {"type": "admin", "id": "a1", "name": "Rep", "email": "rep@firma.pl"}},
            {"type": "conversation_part", "id": "p2", "part_type": "assignment", "body": None,
             "created_at": 1700000200, "author": {"type": "bot", "id": "b1", "name": "Operator"}},
            {"type": "conversation_part", "id": "p3", "part_type": "note", "body": "<p>Zadzwonić</p>",
             "created_at": 1700000300, "author": {"type": "team", "id": "t1", "name": "Sales"}},
            {"type": "conversation_part", "id": "p4", "part_type": "comment", "body": "<p>Dziękuję</p>",
             "created_at": 1700000400, "author": {"type": "lead", "id": "c1", "name": "Zofia Wróbel"}},
        ]},
    }
    base.update(changes)
    return base


def test_parts_become_messages_with_direction_and_kind() -> None:
    records = conversation_records(conversation(), "ws1")
    assert all(isinstance(r, InboundRecord) for r in records)
    shape = [(r.message.external_id, r.message.direction, r.message.kind) for r in records]  # type: ignore[union-attr]
    assert shape == [("1911149811:source", "in", "message"), ("1911149811:p1", "out", "message"),
                     ("1911149811:p3", "out", "note"), ("1911149811:p4", "in", "message")]


def test_overlong_subject_and_body_are_cut_not_quarantined() -> None:
    long_source = {**conversation()["source"], "subject": "Zapytanie " * 500, "body": "<p>" + "ofertę " * 300_000 + "</p>"}
    records = conversation_records(conversation(source=long_source), "ws1")
    assert not any(isinstance(r, Quarantine) for r in records) and len(records) == 4
    first = records[0].message  # type: ignore[union-attr]
    assert len(first.subject) == MAX_SUBJECT and len(first.text) == MAX_TEXT and first.html is None
    assert records[1].message.subject == first.subject  # type: ignore[union-attr]


def test_conversation_without_contact_or_id_is_quarantined_with_a_reason() -> None:
    [no_contact] = conversation_records(conversation(contacts={"type": "contact.list", "contacts": []}), "ws1")
    [no_id] = conversation_records(conversation(id=None), "ws1")
    assert isinstance(no_contact, Quarantine) and "contact" in no_contact.reason
    assert isinstance(no_id, Quarantine) and "id" in no_id.reason

"""NUL characters in text from outside (the API, a provider, a search box, a form): PostgreSQL's text cannot hold
them and its driver failed the whole statement (a 500, or a sync that never got past the message). Now every
such text is stored and found without them there; SQLite keeps them. Either way: no 500, nothing lost."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import Contact, Message

FIELDS = [("contact", "name"), ("contact", "company"), ("contact", "title"), ("contact", "email"),
          ("contact", "phone"), ("contact", "linkedin_url"), ("contact", "external_user_id"),
          ("message", "subject"), ("message", "text"), ("message", "html"), ("message", "external_id"),
          ("message", "thread_id"), ("message", "sender"), (None, "external_id")]


@pytest.mark.parametrize(("part", "field"), FIELDS)
def test_inbound_with_a_nul_character_is_stored_once(client, auth, session: Session, part, field) -> None:  # noqa: ANN001
    body = {"channel": "api", "contact": {"name": "Jan Nowak", "email": "jan@firma.pl"},
            "message": {"external_id": "m1", "subject": "Oferta", "text": "Proszę o ofertę"}}
    target = body if part is None else body[part]
    target[field] = {"email": "jan\x00@firma.pl", "phone": "600\x00100200",
                     "linkedin_url": "linkedin.com/in/jan\x00nowak"}.get(field, "Jan\x00 Nowak")
    first = client.post("/api/v1/inbound", json=body, headers=auth)
    again = client.post("/api/v1/inbound", json=body, headers=auth)
    assert first.status_code in (201, 400), first.json  # an address with a NUL may be refused as invalid
    if first.status_code == 201:
        assert again.status_code == 200 and again.json["message_id"] == first.json["message_id"]
        assert len(session.exec(select(Message)).all()) == 1
    else:
        assert again.status_code == 400 and session.exec(select(Contact)).all() == []


def test_search_note_and_filters_with_a_nul_character(client, auth, as_role, session: Session) -> None:  # noqa: ANN001
    created = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "api", "contact": {"name": "Ewa Lis", "email": "ewa@lis.pl"},
        "message": {"external_id": "e1", "text": "Dzień dobry"}}).json
    assert client.get("/api/v1/contacts", query_string={"q": "Ewa\x00"}, headers=auth).status_code == 200
    manager = as_role("manager")
    assert manager.get("/inbox", query_string={"q": "Ewa\x00 Lis"}).status_code == 200
    response = manager.post(f"/contacts/{created['contact_id']}/notes", data={"text": "Zadzwonić\x00 jutro"})
    assert response.status_code == 302
    notes = session.exec(select(Message).where(Message.kind == "note")).all()
    assert len(notes) == 1 and notes[0].text.replace("\x00", "") == "Zadzwonić jutro"


def test_a_batch_whose_identifier_lookup_holds_a_nul_character(session: Session) -> None:
    """A sync's batch looks identifiers up with IN lists bound as one parameter: a provider id with a NUL in it
    failed the whole batch on PostgreSQL (found by the Intercom schema-generated test)."""
    from core.batch import ingest_many
    from core.ingest import IngestError
    from core.schemas import ContactIn, InboundRecord

    records = [InboundRecord(channel="intercom", external_id=f"contact:{n}", scope="ws",
                             contact=ContactIn(name=f"Person {n}", external_user_id=user_id))
               for n, user_id in enumerate(["6a1", "external:\x00", "6a\x003"])]
    records.append(InboundRecord(channel="linkedin", external_id="profile:1",
                                 contact=ContactIn(name="Jan Nowak", linkedin_url="linkedin.com/in/jan\x00nowak")))
    first = ingest_many(session, records)
    session.commit()
    again = ingest_many(session, records)
    session.commit()
    assert not [r for r in first + again if isinstance(r, IngestError)]
    assert len(session.exec(select(Contact)).all()) == 4

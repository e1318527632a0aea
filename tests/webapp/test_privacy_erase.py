"""GDPR export and erase against a person who reached every table: merged contacts, an undone merge, a duplicate
suggestion, stage changes and scores, webhook events (one still waiting), mass mail and autoresponder mail.
After the erasure no table holds anything of theirs, whatever table it is (the scan reads them all)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from core.models import (
    DuplicateSuggestion,
    MassSend,
    MassSendRecipient,
    OutboxMail,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.personal_data import EXPORTED_AND_ERASED

# Strings only this person's data contains (their name, addresses, phone digits, what they wrote).
MARKERS = ("Zażółćka", "zazolcka", "ewa.zazolcka", "601987654", "Kwiatkowa-Marker", "MARKER-BODY")
EWA = {"name": "Ewa Zażółćka", "email": "Ewa.Zazolcka@firma-testowa.pl", "company": "Kwiatkowa-Marker"}


def _inbound(client, auth, contact: dict, external_id: str, text: str = "Proszę o ofertę") -> int:  # noqa: ANN001
    response = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "form", "contact": contact,
        "message": {"external_id": external_id, "subject": "Zapytanie", "text": text,
                    "sent_at": "2026-11-20T10:00:00+01:00"}})
    assert response.status_code == 201, response.json
    return response.json["contact_id"]


def _person_everywhere(app, client, auth, session: Session) -> tuple[int, int]:  # noqa: ANN001
    """Ewa in every table; returns her contact id and a bystander's."""
    secret = app.extensions["leadhub.secretbox"].encrypt({"secret": "s3cret"})
    session.add(WebhookEndpoint(url="http://127.0.0.1:9/nobody-listens", secret_encrypted=secret,
                                events=["lead.created", "message.received", "stage.changed", "lead.merged"]))
    session.commit()
    ewa = _inbound(client, auth, EWA, "f1", text="MARKER-BODY please call")
    ewa_by_phone = _inbound(client, auth, {"name": "Ewa Zażółćka", "phone": "+48 601 987 654"}, "f2")
    other = _inbound(client, auth, {"name": "Jan Nowak", "email": "jan.nowak@inna-firma.pl"}, "f3")
    merged = client.post(f"/api/v1/contacts/{ewa}/merge", json={"other_id": ewa_by_phone}, headers=auth)
    assert merged.status_code == 201
    wrong = client.post(f"/api/v1/contacts/{ewa}/merge", json={"other_id": other}, headers=auth)
    assert client.post(f"/api/v1/merges/{wrong.json['merge']['id']}/undo", headers=auth).status_code == 200
    # (the undo leaves the pair as a dismissed duplicate suggestion)
    assert session.exec(select(DuplicateSuggestion)).all()
    session.rollback()  # (a fresh snapshot: the requests wrote since)
    assert client.patch(f"/api/v1/contacts/{ewa}/qualification", json={"budget": "20k"}, headers=auth).status_code == 200
    assert client.post(f"/api/v1/contacts/{ewa}/stage", json={"stage": "mql"}, headers=auth).status_code == 201
    send = MassSend(subject="Oferta", body="Dzień dobry {{ first_name }}", status="done")
    session.add(send)
    session.flush()
    session.add(MassSendRecipient(mass_send_id=send.id, contact_id=ewa, email=EWA["email"], name=EWA["name"],
                                  subject="Oferta", body="Dzień dobry Ewa Zażółćka", status="pending"))
    session.add(OutboxMail(to=EWA["email"], subject="Dziękujemy", text="Dziękujemy, Ewa Zażółćka"))
    session.add(OutboxMail(to="jan.nowak@inna-firma.pl", subject="Dziękujemy", text="Dziękujemy, Jan"))
    session.commit()
    return ewa, other


def _dump_everything(session: Session) -> str:
    lines = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "suppressions":
            continue  # hashes only
        for row in session.execute(sa.select(table)).mappings():
            lines.append(f"{table.name}: {json.dumps(dict(row), default=str, ensure_ascii=False)}")
    return "\n".join(lines).casefold()


def test_export_holds_every_classified_table(app, client, auth, session) -> None:
    ewa, _ = _person_everywhere(app, client, auth, session)
    exported = client.get(f"/api/v1/contacts/{ewa}/export", headers=auth).json
    empty = sorted({key for key in EXPORTED_AND_ERASED.values() if not exported.get(key)})
    assert empty == []
    assert {d["event"] for d in exported["webhook_deliveries"]} >= {"lead.created", "lead.merged", "stage.changed"}
    assert [m["to"] for m in exported["mail_sent"]] == [EWA["email"]]
    assert exported["mass_mail"][0]["body"] == "Dzień dobry Ewa Zażółćka"
    assert any(e["snapshot"] for e in exported["merge_events"])


def test_erase_leaves_nothing_of_the_person_in_any_table(app, client, auth, session) -> None:
    ewa, other = _person_everywhere(app, client, auth, session)
    before = _dump_everything(session)
    assert all(marker.casefold() in before for marker in MARKERS)  # the scan can see them

    assert client.delete(f"/api/v1/contacts/{ewa}", headers=auth).status_code == 200
    session.rollback()
    after = _dump_everything(session)
    leftovers = [line for line in after.splitlines() if any(m.casefold() in line for m in MARKERS)]
    assert leftovers == []
    # The bystander keeps what is theirs: contact, mail, and the events about them alone.
    assert client.get(f"/api/v1/contacts/{other}", headers=auth).status_code == 200
    assert session.exec(select(OutboxMail.to)).all() == ["jan.nowak@inna-firma.pl"]
    assert session.exec(select(WebhookDelivery).where(WebhookDelivery.event == "lead.created")).all()


def test_a_pending_webhook_about_the_person_is_not_sent_after_the_erasure(app, client, auth, session) -> None:
    ewa, _ = _person_everywhere(app, client, auth, session)
    waiting = session.exec(select(WebhookDelivery).where(WebhookDelivery.status.in_(("pending", "retrying")))).all()
    assert any(ewa in (d.payload["data"].get("contact_id"), d.payload["data"].get("survivor_id")) for d in waiting)
    assert client.delete(f"/api/v1/contacts/{ewa}", headers=auth).status_code == 200
    session.rollback()
    remaining = session.exec(select(WebhookDelivery)).all()
    about = [d for d in remaining if ewa in {d.payload["data"].get(k) for k in ("contact_id", "survivor_id", "merged_id")}]
    assert about == []


def test_an_autoresponder_queued_before_the_erasure_is_not_sent_after_it(app, client, auth, session) -> None:
    from webapp.mailer import send_mail_task

    ewa = _inbound(client, auth, EWA, "f1")
    assert client.delete(f"/api/v1/contacts/{ewa}", headers=auth).status_code == 200
    with app.app_context():  # the queued task runs now
        assert send_mail_task(EWA["email"].upper(), "Dziękujemy", "Dziękujemy za wiadomość") is None
        assert send_mail_task("jan.nowak@inna-firma.pl", "Dziękujemy", "Dziękujemy za wiadomość")
    assert session.exec(select(OutboxMail.to)).all() == ["jan.nowak@inna-firma.pl"]
    # She writes again after the erasure: a new inquiry, and its autoresponder reaches her.
    again = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "form", "contact": EWA, "message": {"external_id": "f9", "text": "Jeszcze raz"}})
    assert again.json["status"] == "created"
    with app.app_context():
        assert send_mail_task(EWA["email"], "Dziękujemy", "Dziękujemy za wiadomość")


def test_an_erasure_whose_contacts_keep_changing_is_a_409_and_erases_nothing(client, auth, session, monkeypatch) -> None:  # noqa: ANN001
    """The erasure locks the person's contacts and looks again until they hold still; a store that kept merging
    them was a 500 (RuntimeError)."""
    import core.contacts

    ewa = _inbound(client, auth, {"name": "Ewa Kot", "email": "ewa@kot.example"}, "e-1")
    grown = iter(range(10_000))
    monkeypatch.setattr(core.contacts, "_person_contact_ids", lambda _s, cid: [cid, 10**9 + next(grown)])
    response = client.delete(f"/api/v1/contacts/{ewa}", headers=auth)
    assert response.status_code == 409 and "try again" in response.json["error"], response.json
    monkeypatch.undo()
    assert client.get(f"/api/v1/contacts/{ewa}", headers=auth).status_code == 200


def test_what_the_person_wrote_in_another_leads_thread_is_exported_and_erased(client, auth, session) -> None:  # noqa: ANN001
    """A reply joins the conversation of its thread, whoever's that is: Beata's reply in Adam's thread was Adam's
    lead's message, and her erasure left her words and address there (nor did her export show them)."""
    def post(contact: dict, external_id: str, sender: str, text: str) -> dict:
        response = client.post("/api/v1/inbound", headers=auth, json={
            "channel": "gmail", "contact": contact,
            "message": {"external_id": external_id, "thread_id": "thread-1", "sender": sender, "text": text,
                        "sent_at": "2026-11-20T10:00:00+01:00"}})
        assert response.status_code == 201, response.json
        return response.json

    adam = post({"name": "Adam Nowak", "email": "adam@budmax.example"}, "m-1", "Adam Nowak <adam@budmax.example>",
                "Proszę o ofertę")
    beata = post({"name": "Beata Kos", "email": "Beata.Kos@budmax.example"}, "m-2",
                 '"Kos, Beata" <Beata.Kos@budmax.example>', "Dołączam się, też proszę")
    post({"name": "Joanna Kos", "email": "joanna.beata.kos@budmax.example"}, "m-3",
         "joanna.beata.kos@budmax.example", "A ja nie")  # (her address holds Beata's: not hers)
    assert beata["conversation_id"] == adam["conversation_id"] and beata["contact_id"] != adam["contact_id"]
    exported = client.get(f"/api/v1/contacts/{beata['contact_id']}/export", headers=auth).json
    assert [m["text"] for m in exported["messages_in_other_threads"]] == ["Dołączam się, też proszę"]
    assert client.delete(f"/api/v1/contacts/{beata['contact_id']}", headers=auth).status_code == 200
    timeline = client.get(f"/api/v1/contacts/{adam['contact_id']}/timeline", headers=auth).json
    assert [m["text"] for m in timeline["items"]] == ["Proszę o ofertę", "A ja nie"]
    # Re-synced, the old reply stays out.
    again = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "gmail", "contact": {"name": "Beata Kos", "email": "Beata.Kos@budmax.example"},
        "message": {"external_id": "m-2", "thread_id": "thread-1", "text": "Dołączam się, też proszę"}})
    assert again.status_code in (200, 201)
    timeline = client.get(f"/api/v1/contacts/{adam['contact_id']}/timeline", headers=auth).json
    assert "Dołączam się, też proszę" not in [m["text"] for m in timeline["items"]]

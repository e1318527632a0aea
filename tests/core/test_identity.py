"""Identity resolution through the one ingest path: joins, transitive merges, undo, weak identifiers, suggestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from core.contacts import contact_detail, erase_contact, export_contact, timeline
from core.identity import IdentityError, merge_contacts, undo_merge
from core.ingest import IngestError, IngestOptions, ingest
from core.models import Contact, DuplicateSuggestion, Identity, MergeEvent, Message
from core.schemas import InboundRecord


def record(channel: str = "api", message_id: str | None = None, sent_at: datetime | None = None, **contact: Any) -> InboundRecord:
    data: dict[str, Any] = {"channel": channel, "contact": contact}
    if message_id:
        data["message"] = {"external_id": message_id, "text": f"text of {message_id}", "subject": "Hello"}
        if sent_at:
            data["message"]["sent_at"] = sent_at.isoformat()
    return InboundRecord.model_validate(data)


def put(session: Session, rec: InboundRecord):  # noqa: ANN201
    result = ingest(session, rec)
    session.commit()
    return result


def live_contacts(session: Session) -> list[Contact]:
    return list(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all())


def test_same_record_twice_is_one_message(session: Session) -> None:
    rec = record(message_id="m1", name="Jan Kowalski", email="jan@firma.pl")
    first, second = put(session, rec), put(session, rec)
    assert (first.status, second.status) == ("created", "known")
    assert first.message_id == second.message_id
    assert len(session.exec(select(Message)).all()) == 1


def test_webhook_retried_ten_times_leaves_one_message(session: Session) -> None:
    rec = record("intercom", message_id="conv-1:part-1", name="Anna", external_user_id="ic-1")
    results = [put(session, rec) for _ in range(10)]
    assert [r.status for r in results].count("created") == 1
    assert len(session.exec(select(Message)).all()) == 1


def test_cross_channel_same_email_is_one_contact(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Łukasz Wójcik", email="Lukasz.Wojcik@Budmax.pl"))
    b = put(session, record("form", "f1", name="Lukasz Wojcik", email="lukasz.wojcik@budmax.pl", phone="601234567"))
    c = put(session, record("intercom", "i1", name="Łukasz", phone="+48 601 234 567", external_user_id="ic-7"))
    assert a.contact_id == b.contact_id == c.contact_id
    items, _ = timeline(session, a.contact_id)
    assert [i["channel"] for i in items] and {i["channel"] for i in items} == {"gmail", "form", "intercom"}
    kinds = {(i.kind, i.value) for i in session.exec(select(Identity)).all()}
    assert kinds == {("email", "lukasz.wojcik@budmax.pl"), ("phone", "+48601234567"), ("intercom", "ic-7")}


def test_record_linking_two_contacts_merges_transitively(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Jan Kowalski", email="jan@firma.pl"))
    b = put(session, record("linkedin", None, name="Jan Kowalski", linkedin_url="linkedin.com/in/jank"))
    c = put(session, record("form", "f1", name="J. Kowalski", phone="+48 500 100 200"))
    assert len({a.contact_id, b.contact_id, c.contact_id}) == 3
    # One record ties email and LinkedIn; another ties LinkedIn and phone: all three become one person.
    ab = put(session, record("api", "x1", email="jan@firma.pl", linkedin_url="https://pl.linkedin.com/in/JanK/"))
    assert ab.merged_contact_ids == [b.contact_id]
    abc = put(session, record("api", "x2", linkedin_url="linkedin.com/in/jank", phone="500100200"))
    assert abc.merged_contact_ids == [c.contact_id]
    assert [c_.id for c_ in live_contacts(session)] == [a.contact_id]
    # Merged-away ids keep resolving to the survivor.
    assert contact_detail(session, c.contact_id)["id"] == a.contact_id
    assert contact_detail(session, b.contact_id)["merged_from"] == [b.contact_id, c.contact_id]
    items, _ = timeline(session, c.contact_id)
    assert {i["external_id"] for i in items} == {"g1", "f1", "x1", "x2"}


def test_survivor_is_the_oldest_and_fields_fill_and_aliases_kept(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Катерина Смирнова", email="k@severtrans.ru"))
    b = put(session, record("form", "f1", name="Katerina Smirnova", phone="+7 495 123 45 67", company="Severtrans"))
    merged = put(session, record("api", "x", email="k@severtrans.ru", phone="+74951234567"))
    assert merged.contact_id == a.contact_id and merged.merged_contact_ids == [b.contact_id]
    survivor = session.get(Contact, a.contact_id)
    assert survivor.display_name == "Катерина Смирнова"  # shown as written
    assert survivor.company == "Severtrans"
    assert "Katerina Smirnova" not in survivor.aliases  # same name once folded: not an alias
    put(session, record("api", "y", name="Kate Smirnova", email="k@severtrans.ru"))
    assert session.get(Contact, a.contact_id).aliases == ["Kate Smirnova"]


def test_undo_restores_exactly(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Anna Nowak", email="anna@firma.pl"))
    b = put(session, record("form", "f1", name="Ania Nowak", phone="+48 600 100 100", company="Firma"))
    before_a = {i.value for i in session.exec(select(Identity).where(Identity.contact_id == a.contact_id))}
    before_b = {i.value for i in session.exec(select(Identity).where(Identity.contact_id == b.contact_id))}
    event = merge_contacts(session, survivor_id=a.contact_id, merged_id=b.contact_id, reason="test", actor="t")
    session.commit()
    assert session.get(Contact, a.contact_id).company == "Firma"
    undo_merge(session, event_id=event.id, actor="t")
    session.commit()
    assert {i.value for i in session.exec(select(Identity).where(Identity.contact_id == a.contact_id))} == before_a
    assert {i.value for i in session.exec(select(Identity).where(Identity.contact_id == b.contact_id))} == before_b
    restored_a, restored_b = session.get(Contact, a.contact_id), session.get(Contact, b.contact_id)
    assert restored_a.company == "" and restored_a.aliases == []
    assert restored_b.merged_into is None and restored_b.company == "Firma"
    assert [m.external_id for m in session.exec(select(Message).where(Message.contact_id == b.contact_id))] == ["f1"]
    with pytest.raises(IdentityError):
        undo_merge(session, event_id=event.id)


def test_undo_respects_later_merges(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="A Person", email="a@firma.pl"))
    b = put(session, record("form", "f1", name="B Person", email="b@firma.pl"))
    c = put(session, record("intercom", "i1", name="C Person", email="c@firma.pl"))
    ab = merge_contacts(session, survivor_id=a.contact_id, merged_id=b.contact_id, reason="1")
    merge_contacts(session, survivor_id=a.contact_id, merged_id=c.contact_id, reason="2")
    session.commit()
    undo_merge(session, event_id=ab.id)
    session.commit()
    # b comes back with what it had; c stays merged into a.
    assert {m.external_id for m in session.exec(select(Message).where(Message.contact_id == a.contact_id))} == {"g1", "i1"}
    assert {m.external_id for m in session.exec(select(Message).where(Message.contact_id == b.contact_id))} == {"f1"}
    assert session.get(Contact, c.contact_id).merged_into == a.contact_id


def test_undo_after_survivor_was_merged_elsewhere(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="A", email="a@firma.pl"))
    b = put(session, record("form", "f1", name="B", email="b@firma.pl"))
    z = put(session, record("api", "z1", name="Z", email="z@firma.pl"))
    ab = merge_contacts(session, survivor_id=a.contact_id, merged_id=b.contact_id, reason="1")
    merge_contacts(session, survivor_id=z.contact_id, merged_id=a.contact_id, reason="2")
    session.commit()
    undo_merge(session, event_id=ab.id)
    session.commit()
    assert {i.value for i in session.exec(select(Identity).where(Identity.contact_id == b.contact_id))} == {"b@firma.pl"}
    assert {i.value for i in session.exec(select(Identity).where(Identity.contact_id == z.contact_id))} == {
        "z@firma.pl", "a@firma.pl"}


def test_undone_pair_is_not_merged_again_by_ingest(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Piotr", email="piotr@firma.pl"))
    b = put(session, record("form", "f1", name="Piotr Zając", phone="+48 600 200 300"))
    assert a.contact_id != b.contact_id
    linked = put(session, record("api", "x1", email="piotr@firma.pl", phone="600200300"))
    event = session.exec(select(MergeEvent)).one()
    assert linked.merged_contact_ids == [b.contact_id]
    undo_merge(session, event_id=event.id)
    session.commit()
    again = put(session, record("api", "x2", email="piotr@firma.pl", phone="600200300"))
    assert again.merged_contact_ids == []
    assert len(live_contacts(session)) == 2


def test_role_address_never_merges_differently_named_people(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Anna Nowak", email="biuro@firma.pl"))
    b = put(session, record("gmail", "g2", name="Tomasz Zieliński", email="biuro@firma.pl"))
    assert a.contact_id != b.contact_id
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert {suggestion.contact_a_id, suggestion.contact_b_id} == {a.contact_id, b.contact_id}
    assert "role address" in suggestion.reasons[0]
    # The same name through the same shared mailbox is the same person.
    c = put(session, record("gmail", "g3", name="Anna Nowak", email="biuro@firma.pl"))
    assert c.contact_id == a.contact_id


@pytest.mark.parametrize("shared", ["почта@firma.ru", "zamówienia@firma.pl", "info.krakow@firma.pl"])
def test_a_shared_mailbox_in_cyrillic_or_one_of_a_teams_several_is_weak(session: Session, shared: str) -> None:
    """"Anna Nowak" and "A. Nowak" may be two people of one team writing from its mailbox: a shared address does
    not join them (a personal one would), it makes a suggestion."""
    a = put(session, record("gmail", "g1", name="Anna Nowak", email=shared))
    b = put(session, record("gmail", "g2", name="A. Nowak", email=shared))
    assert a.contact_id != b.contact_id
    assert "role address" in session.exec(select(DuplicateSuggestion)).one().reasons[0]


def test_a_placeholder_phone_joins_no_one(session: Session) -> None:
    """Everyone who types "000 000 000" or "123 456 789" into a form that insists on a phone number shares it: as
    an identifier it joined them all (transitively) into one contact. It is ignored, with a warning."""
    anna = put(session, record("form", "f1", name="Anna Nowak", email="anna@budmax.pl", phone="000 000 000"))
    other = put(session, record("form", "f2", email="biuro@hurtex.pl", phone="+48 000 000 000"))
    jan = put(session, record("form", "f3", name="Jan Nowak", email="jan@agrofarm.pl", phone="123 456 789"))
    jan2 = put(session, record("form", "f4", name="Jan Nowak", email="jan.nowak@solartech.pl", phone="123456789"))
    assert len({anna.contact_id, other.contact_id, jan.contact_id, jan2.contact_id}) == 4
    assert any("placeholder" in warning for warning in other.warnings)
    assert not session.exec(select(Identity).where(Identity.kind == "phone")).all()
    # Not the sender's error: the API and strict imports take such a record (without the number).
    from core.ingest import invalid_identifier_fields

    assert invalid_identifier_fields(record(phone="000 000 000").contact) == {}
    assert invalid_identifier_fields(record(email="brak@brak.pl").contact) == {}
    assert put(session, record("form", "f5", name="Ewa Lis", email="brak@brak.pl")).contact_id != put(
        session, record("form", "f6", email="BRAK@brak.pl")).contact_id
    assert list(invalid_identifier_fields(record(phone="phone me").contact)) == ["contact.phone"]


def test_role_address_does_not_block_strong_match(session: Session) -> None:
    a = put(session, record("gmail", "g1", name="Anna Nowak", email="anna@firma.pl"))
    b = put(session, record("form", "f1", name="Anna Nowak", emails=["anna@firma.pl", "kontakt@firma.pl"]))
    assert a.contact_id == b.contact_id


@pytest.mark.parametrize(
    ("first", "second", "reason_word"),
    [
        (("Łukasz Wójcik", "Budmax"), ("Lukasz Wojcik", "Budmax sp. z o.o."), "diacritics"),
        (("Wójcik Łukasz", "Budmax"), ("Łukasz Wójcik", "Budmax"), "order"),
        (("Алексей Иванов", "Технопром"), ("Aleksey Ivanov", "Tehnoprom"), "diacritics or script"),
        (("Jurij Kowalski", "Severtrans"), ("Юрий Ковальский", "Севертранс"), "transliteration"),
        (("Katarzyna Zielinska", "Zielinska Design"), ("Katarzyna Zielinksa", "Zielinska Design"), "similar"),
        (("Olek Zieliński", "Budmax"), ("Aleksander Zieliński", "Budmax"), "short form"),
        (("Дима Кузнецов", "Технопром"), ("Dmitry Kuznetsov", "Tehnoprom"), "short form"),
    ],
)
def test_fuzzy_duplicates_become_suggestions_not_merges(session: Session, first, second, reason_word) -> None:
    a = put(session, record("gmail", "g1", name=first[0], company=first[1], email="one@example.com"))
    b = put(session, record("form", "f1", name=second[0], company=second[1], email="two@example.org"))
    assert a.contact_id != b.contact_id
    assert len(live_contacts(session)) == 2
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert suggestion.status == "open" and suggestion.score >= 0.8
    assert any(reason_word in r for r in suggestion.reasons), suggestion.reasons


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("Jan Kowalski", "Budmax"), ("Anna Nowak", "Budmax")),
        (("Jan Kowalski", "Budmax"), ("Jan Kowalski", "Zupełnie Inna Firma")),
        (("Piotr Wiśniewski", ""), ("Paweł Wiśniewski", "")),
    ],
)
def test_different_people_get_no_suggestion(session: Session, first, second) -> None:
    put(session, record("gmail", "g1", name=first[0], company=first[1], email="one@example.com"))
    put(session, record("form", "f1", name=second[0], company=second[1], email="two@example.org"))
    assert session.exec(select(DuplicateSuggestion)).all() == []


def test_a_short_first_name_through_a_shared_address_is_the_same_person(session: Session) -> None:
    """"Olek Zieliński" writes from the address "Aleksander Zieliński" gave on the form: one person, not a
    suggestion (before, the merge guard saw two first names with different initials)."""
    a = put(session, record("form", "f1", name="Aleksander Zieliński", email="a.zielinski@budmax.pl"))
    b = put(session, record("gmail", "g1", name="Olek Zieliński", email="a.zielinski@budmax.pl"))
    assert a.contact_id == b.contact_id and session.exec(select(DuplicateSuggestion)).all() == []


def test_record_without_identifiers_or_message_is_refused(session: Session) -> None:
    with pytest.raises(IngestError):
        ingest(session, record("api", None, name="Nobody"))


def test_invalid_identifiers_become_warnings_for_connectors(session: Session) -> None:
    result = put(session, record("gmail", "g1", name="X", email="not-an-email", phone="+48 600 100 200"))
    assert result.status == "created" and any("not-an-email" in w for w in result.warnings)


def test_export_and_erase_then_resync_and_new_inquiry(session: Session) -> None:
    old = datetime(2026, 1, 5, tzinfo=UTC)
    a = put(session, record("gmail", "g1", sent_at=old, name="Ewa Lis", email="ewa@firma.pl", phone="600300400"))
    put(session, record("linkedin", None, name="Ewa Lis", linkedin_url="linkedin.com/in/ewalis", email="ewa@firma.pl"))
    exported = export_contact(session, a.contact_id)
    assert exported["contact"]["name"] == "Ewa Lis" and [m["external_id"] for m in exported["messages"]] == ["g1"]
    erased = erase_contact(session, a.contact_id)
    session.commit()
    assert erased["deleted"]["messages"] == 1
    assert session.exec(select(Contact)).all() == [] and session.exec(select(Identity)).all() == []
    # Re-sync of the old mail, or of the old profile: stays out.
    assert put(session, record("gmail", "g1", sent_at=old, name="Ewa Lis", email="ewa@firma.pl")).status == "suppressed"
    assert put(session, record("linkedin", None, name="Ewa Lis", linkedin_url="linkedin.com/in/ewalis")).status == "suppressed"
    # An old message under another id from an erased address: still stays out.
    assert put(session, record("gmail", "g0", sent_at=old - timedelta(days=3), email="ewa@firma.pl")).status == "suppressed"
    # A NEW inquiry from her arrives.
    fresh = put(session, record("gmail", "g2", sent_at=datetime.now(UTC) + timedelta(seconds=1), name="Ewa Lis", email="ewa@firma.pl"))
    assert fresh.status == "created"
    assert len(session.exec(select(Contact)).all()) == 1


def test_erasure_holds_when_the_rules_change(session: Session) -> None:
    """The suppression's key hash is of the key under the rules of the day. A later change (here: the default
    phone region, a setting; equally a new leadhub release) gives old data another key, and the erased person's
    profile would come back with the next re-sync; the written form's hash keeps them out."""
    old = datetime(2026, 1, 5, tzinfo=UTC)
    a = put(session, record("form", "f1", sent_at=old, name="Ewa Lis", phone="600 300 400"))
    erase_contact(session, a.contact_id)
    session.commit()
    german = IngestOptions(default_phone_region="DE")  # "600 300 400" is now +49 600300400, not +48 …

    def put_de(rec: InboundRecord):  # noqa: ANN202
        result = ingest(session, rec, options=german)
        session.commit()
        return result

    assert put_de(record("form", None, name="Ewa Lis", phone="600-300-400")).status == "suppressed"
    # An old message of hers under another id, found by a back-fill: stays out too.
    assert put_de(record("form", "f0", sent_at=old, phone="600300400")).status == "suppressed"
    # Someone else entirely still comes in.
    assert put_de(record("form", "f2", sent_at=old, name="Ola Nowak", phone="601 200 300")).status == "created"


def test_shared_mailbox_of_two_named_people_is_a_suggestion(session: Session) -> None:
    edward = put(session, record("gmail", "g1", name="Edward Kusha", email="kusha123@hmail.com"))
    mary = put(session, record("gmail", "g2", name="Mary Kusha", email="kusha123@hmail.com", phone="+1 512-353-8633"))
    assert edward.contact_id != mary.contact_id
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert "different names" in suggestion.reasons[0]
    # Mary's own phone still finds Mary; Edward's next mail still finds Edward.
    assert put(session, record("form", "f1", name="Marie Kusha", phone="+1 512 353 8633")).contact_id == mary.contact_id
    assert put(session, record("gmail", "g3", name="Edward Kusha", email="kusha123@hmail.com")).contact_id == edward.contact_id


def test_a_husband_and_wife_sharing_a_mailbox_and_phone_are_two_contacts(session: Session) -> None:
    """Kowalski and Kowalska, Иванов and Иванова: the man's and the woman's form of one surname are two people of
    one family, not one person written two ways. A shared family address or phone makes a suggestion, not a merge."""
    jan = put(session, record("gmail", "g1", name="Jan Kowalski", email="kowalscy@wp.pl", phone="601 234 567"))
    janina = put(session, record("form", "f1", name="Janina Kowalska", email="kowalscy@wp.pl", phone="601 234 567"))
    ivan = put(session, record("api", "a1", name="Александр Иванов", phone="+7 916 123 45 67"))
    alexandra = put(session, record("api", "a2", name="Александра Иванова", phone="8 (916) 123-45-67"))
    assert jan.contact_id != janina.contact_id and ivan.contact_id != alexandra.contact_id
    assert not janina.merged_contact_ids and not alexandra.merged_contact_ids
    pairs = {frozenset((s.contact_a_id, s.contact_b_id)) for s in session.exec(select(DuplicateSuggestion)).all()}
    assert {frozenset((jan.contact_id, janina.contact_id)), frozenset((ivan.contact_id, alexandra.contact_id))} <= pairs


def test_linkedin_member_ids_differing_in_case_are_two_people(session: Session) -> None:
    """Sales Navigator's /in/ACoAA… member ids are case-sensitive: two Anna Nowaks whose ids differ in one letter's
    case were one key, so the second joined the first. The same id in another URL form still finds its owner."""
    first = put(session, record("linkedin", "l1", name="Anna Nowak",
                                linkedin_url="https://www.linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4"))
    second = put(session, record("linkedin", "l2", name="Anna Nowak",
                                 linkedin_url="https://www.linkedin.com/in/ACoAAAwmJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4"))
    again = put(session, record("linkedin", "l3", name="Anna Nowak",
                                linkedin_url="pl.linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4/?trk=x"))
    assert first.contact_id != second.contact_id and again.contact_id == first.contact_id


@pytest.mark.parametrize(("man", "woman"), [("Nikita Khrushchyov", "Хрущёва"), ("Michaił Gorbaczow", "Горбачёва"),
                                           ("Siergiej Iwanow", "Сергей Иванова")])
def test_the_mans_and_the_womans_form_in_two_spellings_sharing_a_phone_are_two_contacts(
        session: Session, man: str, woman: str) -> None:
    """Ё is written E, YO, IO or O ("Хрущёва" folds to "khrushcheva", the English spelling of the man's form is
    "Khrushchyov", the Polish one "Chruszczow"): a man and a woman of one family sharing a phone merged."""
    one = put(session, record("gmail", "g1", name=man, phone="+7 916 123 45 67"))
    two = put(session, record("form", "f1", name=woman, phone="8 (916) 123-45-67"))
    assert one.contact_id != two.contact_id and not two.merged_contact_ids
    assert session.exec(select(DuplicateSuggestion)).one().status == "open"


@pytest.mark.parametrize("bridge_name", ["", "Budmax Sp. z o.o."])
def test_a_record_without_a_name_does_not_merge_two_differently_named_people(session: Session, bridge_name: str) -> None:
    """Jan and Janina share a family phone (two contacts and a suggestion). A later record with no name, or a
    company's, carrying Janina's address and that phone fits either name: it joins one of them and does not
    merge the two (they were merged, transitively mixing their conversations)."""
    jan = put(session, record("gmail", "g1", name="Jan Kowalski", email="jan@wp.pl", phone="601 234 567"))
    janina = put(session, record("gmail", "g2", name="Janina Kowalska", email="janina@wp.pl", phone="601 234 567"))
    assert jan.contact_id != janina.contact_id
    bridge = put(session, record("form", "f1", name=bridge_name, email="janina@wp.pl", phone="+48 601 234 567"))
    assert bridge.merged_contact_ids == []
    assert len(live_contacts(session)) == 2
    assert not session.exec(select(MergeEvent)).all()


def test_brothers_sharing_a_family_phone_are_two_contacts(session: Session) -> None:
    """"Piotr Zieliński" and "Paweł Zieliński" share a surname and an initial: two names, not one written two
    ways. Their family phone makes a suggestion; "P. Zieliński" from it may be either, and joins."""
    piotr = put(session, record("gmail", "g1", name="Piotr Zieliński", email="piotr@zielinscy.pl", phone="22 123 45 67"))
    pawel = put(session, record("form", "f1", name="Paweł Zieliński", phone="+48 22 123 45 67"))
    assert piotr.contact_id != pawel.contact_id
    assert "different names" in session.exec(select(DuplicateSuggestion)).one().reasons[0]
    assert put(session, record("api", "a1", name="P. Zieliński", email="piotr@zielinscy.pl")).contact_id == piotr.contact_id


@pytest.mark.parametrize(("first", "second", "one_person"), [
    ("Jan Nowak", "Janusz Nowak", False),  # a longer name that starts the same
    ("Harry Smith", "Gary Smith", False),  # another first letter
    ("Marta Wiśniewska", "Marianna Wiśniewska", False),
    ("Katarzyna Nowak", "Katarzna Nowak", True),  # a typing slip of the same name
    ("Jan Kowalski", "Jan Kowalsky", True),  # another spelling
])
def test_look_alike_names_sharing_a_family_phone(session: Session, first: str, second: str, one_person: bool) -> None:
    """Two names that only look alike on one family phone are two people and a suggestion (their whole names
    scored 85 or more, and they merged); a slip or another spelling of one name joins it."""
    one = put(session, record("gmail", "g1", name=first, email="rodzina@wp.pl", phone="601 234 567"))
    two = put(session, record("form", "f1", name=second, phone="+48 601 234 567"))
    assert (one.contact_id == two.contact_id) is one_person
    assert len(session.exec(select(DuplicateSuggestion)).all()) == (0 if one_person else 1)


def test_a_company_name_in_the_name_field_does_not_keep_the_person_apart(session: Session) -> None:
    """A form or CRM export with the company in the name field, then the person by name from the same address:
    one person (the company's name says nothing against it), not two contacts and a suggestion."""
    first = put(session, record("form", "f1", name="Budmax Sp. z o.o.", email="jan.nowak@budmax.pl"))
    again = put(session, record("gmail", "g1", name="Jan Nowak", email="jan.nowak@budmax.pl"))
    assert again.contact_id == first.contact_id
    assert not session.exec(select(DuplicateSuggestion)).all()


def test_suggestion_rules_for_many_pairs_at_once(session: Session) -> None:
    """upsert_suggestions: a new pair opens one suggestion (also when it comes twice in one call), an open one
    takes the higher score and every reason, a pair someone decided about stays as decided."""
    from core.identity import dismiss_suggestion, upsert_suggestions

    a, b, c, d = (put(session, record(name=f"Osoba {n}", email=f"o{n}@firma{n}.pl")).contact_id for n in range(4))
    first = upsert_suggestions(session, [(a, b, 0.85, ["similar names"]), (c, d, 0.9, ["same company"])])
    session.commit()
    assert [o.created for o in first] == [True, True]
    dismiss_suggestion(session, suggestion_id=first[1].suggestion_id, actor="rep@firma.pl")
    session.commit()
    later = upsert_suggestions(session, [
        (b, a, 0.81, ["same company email domain"]),  # open, either order: keeps 0.85, gains a reason
        (d, c, 0.99, ["same name"]),  # dismissed: stays as decided
        (a, c, 0.82, ["x"]), (c, a, 0.95, ["y"]),  # new, twice in one call: one suggestion, the higher score
    ])
    session.commit()
    assert later[0] is not None and (later[0].suggestion_id, later[0].created) == (first[0].suggestion_id, False)
    assert later[1] is None
    assert later[2] is not None and later[3] is not None and later[2].suggestion_id == later[3].suggestion_id
    assert (later[2].created, later[3].created) == (True, False)
    rows = {(s.contact_a_id, s.contact_b_id): (s.score, s.reasons, s.status)
            for s in session.exec(select(DuplicateSuggestion)).all()}
    low = lambda x, y: (min(x, y), max(x, y))  # noqa: E731
    assert rows == {
        low(a, b): (0.85, ["similar names", "same company email domain"], "open"),
        low(c, d): (0.9, ["same company"], "dismissed"),
        low(a, c): (0.95, ["x", "y"], "open"),
    }


def test_a_common_name_at_many_firms_opens_few_suggestions(session: Session) -> None:
    """Ten different people called Anna Nowak, each writing from her own firm's domain: the name alone is
    suggested only until it is common (COMMON_NAME_NAMESAKES namesakes), not for all 45 pairs. A namesake
    with evidence (the same firm's domain) is still suggested, and so is a rare name with none."""
    from core.matching import COMMON_NAME_NAMESAKES

    for n in range(10):
        put(session, record("gmail", f"g{n}", name="Anna Nowak", email=f"anna@firma{n}.pl"))
    opened = session.exec(select(DuplicateSuggestion)).all()
    # The k-th Anna meets k-1 namesakes: while that is below the cut, she is suggested with each of them.
    assert len(opened) == sum(range(COMMON_NAME_NAMESAKES)) < 45
    colleague = put(session, record("form", "f1", name="Nowak Anna", email="a.nowak@firma7.pl"))

    def suggested_with(contact_id: int) -> list[list[str]]:
        return [s.reasons for s in session.exec(select(DuplicateSuggestion)).all()
                if contact_id in (s.contact_a_id, s.contact_b_id)]

    assert [r for r in suggested_with(colleague.contact_id)] == [
        ["same name in another order: Nowak Anna ~ Anna Nowak", "same company email domain: firma7.pl"]]
    put(session, record("gmail", "r1", name="Bożydar Grzegrzółka", email="b@alfa.pl"))
    rare = put(session, record("form", "r2", name="Bozydar Grzegrzolka", email="b@beta.pl"))
    assert len(suggested_with(rare.contact_id)) == 1


def test_forgetting_pending_searches_deletes_exactly_those_with_one_statement(session: Session, engine) -> None:  # noqa: ANN001
    """An import forgets the searched contacts of each batch, a different number every time: the ids go as one
    parameter, so the statement is the same whatever their number (an IN list was a new statement for every
    count, expanded and parsed again), and exactly those rows go."""
    import sqlalchemy as sa

    from core.identity import forget_pending_searches
    from core.models import PendingSearch

    ids = [ingest(session, InboundRecord.model_validate(
        {"channel": "api", "contact": {"name": f"Osoba {n}", "email": f"osoba{n}@firma{n}.pl"}})).contact_id
        for n in range(9)]
    session.add_all(PendingSearch(contact_id=cid) for cid in ids)
    session.flush()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # noqa: ANN001
        if "pending_searches" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        forget_pending_searches(session, ids[:2])
        forget_pending_searches(session, [ids[2], ids[4], ids[4], ids[6]])
        forget_pending_searches(session, [])
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 2 and len(set(statements)) == 1
    left = sorted(session.exec(select(PendingSearch.contact_id)).all())
    assert left == [ids[3], ids[5], ids[7], ids[8]]

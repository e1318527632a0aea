"""Keys stored under older normalisation rules, brought up to the current ones."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from core.matching import blocking_keys
from core.models import Contact, ContactBlockKey, DuplicateSuggestion, Identity
from core.renormalize import renormalize


def _contact(session: Session, name: str, identities: list[tuple[str, str, str]], keys: set[str] | None = None) -> int:
    """A contact as an older version stored it: identities as (kind, value, raw), blocking keys as given."""
    contact = Contact(display_name=name)
    session.add(contact)
    session.flush()
    for kind, value, raw in identities:
        session.add(Identity(contact_id=contact.id, kind=kind, value=value, raw_value=raw, channel="import"))
    for key in keys if keys is not None else blocking_keys([name]):
        session.add(ContactBlockKey(contact_id=contact.id, key=key))
    session.flush()
    return contact.id  # type: ignore[return-value]


def _identities(session: Session, contact_id: int) -> list[tuple[str, str]]:
    return sorted((i.kind, i.value) for i in session.exec(select(Identity).where(Identity.contact_id == contact_id)))


def test_old_keys_are_rewritten_and_a_key_held_by_someone_else_is_a_suggestion(session: Session) -> None:
    # Stored before the trunk-zero and invisible-character rules.
    anna = _contact(session, "Anna Nowak", [("phone", "+480221234567", "+48 (0)22 123 45 67"),
                                            ("email", "anna@budmax.pl\u200b", "anna@budmax.pl\u200b")])
    # The same contact under both the old and the new key: the old one goes.
    jan = _contact(session, "Jan Lis", [("phone", "+480601234567", "+48 0 601 234 567"),
                                        ("phone", "+48601234567", "601 234 567")])
    # Someone else already holds the new key of Ewa's old one: not merged, suggested.
    ewa = _contact(session, "Ewa Wrona", [("linkedin", "linkedin.com/in/ewa-wrona\u200b",
                                           "https://www.linkedin.com/in/ewa-wrona\u200b")])
    other = _contact(session, "E. Wrona", [("linkedin", "linkedin.com/in/ewa-wrona", "linkedin.com/in/ewa-wrona")])
    # Left alone: already current, a provider id, a raw value that no longer reads as one address.
    piotr = _contact(session, "Piotr Zając", [("email", "piotr@hurtex.pl", "Piotr <piotr@hurtex.pl>"),
                                              ("intercom", "u-1", "u-1"),
                                              ("email", "oops@hurtex.pl", "not an address")])
    session.commit()

    dry = renormalize(session, dry_run=True)
    assert (dry.identities_rewritten, dry.identities_dropped, dry.conflicts, dry.unreadable) == (2, 1, 1, 1)
    session.rollback()
    assert _identities(session, anna) == [("email", "anna@budmax.pl\u200b"), ("phone", "+480221234567")]

    report = renormalize(session)
    session.commit()
    assert (report.identities_rewritten, report.identities_dropped, report.conflicts) == (2, 1, 1)
    assert _identities(session, anna) == [("email", "anna@budmax.pl"), ("phone", "+48221234567")]
    assert _identities(session, jan) == [("phone", "+48601234567")]
    assert _identities(session, ewa) == [("linkedin", "linkedin.com/in/ewa-wrona\u200b")]
    assert _identities(session, piotr) == [("email", "oops@hurtex.pl"), ("email", "piotr@hurtex.pl"),
                                           ("intercom", "u-1")]
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert {suggestion.contact_a_id, suggestion.contact_b_id} == {ewa, other} and suggestion.status == "open"
    assert "linkedin.com/in/ewa-wrona" in suggestion.reasons[0]
    # Run again: nothing left to do.
    again = renormalize(session)
    assert (again.identities_rewritten, again.identities_dropped, again.block_keys_added) == (0, 0, 0)


def test_a_shared_mailbox_the_current_rules_know_becomes_weak(session: Session) -> None:
    """An address stored as a person's own before the rules knew it for a team's (почта@, info.krakow@) is
    marked weak, so it no longer joins a differently written name; the key itself stays."""
    anna = _contact(session, "Anna Nowak", [("email", "почта@firma.ru", "почта@firma.ru"),
                                            ("email", "info.krakow@firma.pl", "Info <info.krakow@firma.pl>"),
                                            ("email", "anna@firma.pl", "anna@firma.pl")])
    session.commit()
    assert renormalize(session, dry_run=True).weak_flags_changed == 2
    session.rollback()
    report = renormalize(session)
    session.commit()
    assert (report.weak_flags_changed, report.identities_rewritten) == (2, 0)
    weak = {i.value: i.is_weak for i in session.exec(select(Identity).where(Identity.contact_id == anna))}
    assert weak == {"почта@firma.ru": True, "info.krakow@firma.pl": True, "anna@firma.pl": False}
    assert renormalize(session).weak_flags_changed == 0


def test_blocking_keys_follow_the_current_rules(session: Session) -> None:
    """A contact filed before short forms of first names were known gets the keys that meet "Aleksander"."""
    old_keys = {"p:olk/z", "p:zlns/o"}  # as the earlier rules filed "Olek Zieliński"
    olek = _contact(session, "Olek Zieliński", [("email", "olek@budmax.pl", "olek@budmax.pl")], keys=old_keys)
    session.commit()
    report = renormalize(session)
    session.commit()
    filed = set(session.exec(select(ContactBlockKey.key).where(ContactBlockKey.contact_id == olek)))
    assert filed == blocking_keys(["Olek Zieliński"])
    assert filed & blocking_keys(["Aleksander Zieliński"])
    assert report.block_keys_added == len(filed - old_keys) and report.block_keys_removed == len(old_keys - filed)


def test_search_names_follow_the_current_rules(session: Session) -> None:
    """A contact whose search name was written under other rules (or not at all) gets today's."""
    ivan = _contact(session, "Иван Петров", [("email", "ivan@tehnoprom.ru", "ivan@tehnoprom.ru")])
    session.exec(sa.update(Contact).where(Contact.id == ivan).values(search_latin="ivan petrow"))
    session.commit()
    dry = renormalize(session, dry_run=True)
    session.rollback()
    assert dry.search_names_rewritten == 1
    assert session.get(Contact, ivan).search_latin == "ivan petrow"
    report = renormalize(session)
    session.commit()
    assert report.search_names_rewritten == 1
    session.expire_all()
    assert session.get(Contact, ivan).search_latin == "ivan petrov"
    assert renormalize(session).search_names_rewritten == 0


def test_a_linkedin_member_id_stored_lowercased_gets_its_case_back(session: Session) -> None:
    """/in/ACoAA… member ids were lowercased like public names; the current rules keep their case, and the
    stored key is rewritten from the URL as written, so the member's next record finds them again."""
    from core.ingest import ingest
    from core.schemas import InboundRecord

    url = "https://www.linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4"
    marta = _contact(session, "Marta Lis", [("linkedin", "linkedin.com/in/acoaaawmj8gb1aczmnna8sj1p-0j9_pd4mt3ez4",
                                             url)])
    session.commit()
    assert renormalize(session).identities_rewritten == 1
    session.commit()
    assert _identities(session, marta) == [("linkedin", "linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4")]
    record = InboundRecord.model_validate({"channel": "linkedin", "contact": {"name": "Marta Lis", "linkedin_url": url},
                                           "message": {"external_id": "li-1", "text": "Dzień dobry"}})
    assert ingest(session, record).contact_id == marta

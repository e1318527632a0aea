"""contacts.search_latin: a contact's name and company in Latin letters without marks, so that a rep typing
"petrov", "lukasz" or "inska" finds "Петров", "Łukasz" and "Zielińska" (core.search, core.contacts)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command as alembic_command
from sqlmodel import Session, select

from core.batch import ingest_many
from core.contacts import contacts_matching
from core.db import make_engine
from core.identity import merge_contacts
from core.ingest import ingest
from core.models import Contact
from core.normalize import latin_search_text
from core.schemas import InboundRecord
from core.search import find_matches, phone_prefixes, spellings
from webapp.cli import alembic_config, upgrade_database


@pytest.mark.parametrize(("name", "company", "expected"), [
    ("Jan Kowalski", "Budmax", ""),  # ASCII: searched as written, nothing more stored
    ("", "", ""),
    ("Иван Петров", "Технопром", "ivan petrov tekhnoprom"),
    ("Łukasz Wójcik", "Budmax sp. z o.o.", "lukasz wojcik budmax sp z o o"),
    ("Anna Zielińska", "", "anna zielinska"),
    ("ЮЛИЯ ЗАЙЦЕВА", "", "yuliya zaytseva"),
    ("John Carter", "Lumière", "john carter lumiere"),  # a marked company makes the name Latin too
    ("Олена Шевченко", "", "olena shevchenko"),
])
def test_latin_search_text(name: str, company: str, expected: str) -> None:
    assert latin_search_text(name, company) == expected


def test_a_word_in_other_letters_is_also_searched_in_latin_ones() -> None:
    assert spellings("Иванов") == ["Иванов", "ivanov"]
    assert spellings("Wójcik") == ["Wójcik", "wojcik"]
    assert spellings("lis") == ["lis", "łis"]  # ASCII words: the Polish ł, as before


def _record(name: str, email: str, company: str = "", external_id: str | None = None) -> InboundRecord:
    data = {"channel": "api", "contact": {"name": name, "email": email, "company": company}}
    if external_id:
        data["message"] = {"external_id": external_id, "text": "dzień dobry"}
    return InboundRecord.model_validate(data)


def _found(session: Session, query: str) -> set[str]:
    people = session.exec(select(Contact).where(contacts_matching(session, query), Contact.merged_into.is_(None))).all()
    return {contact.display_name for contact in people}


@pytest.mark.parametrize("path", ["one by one", "batch"])
def test_names_are_found_in_latin_letters_on_either_write_path(session: Session, path: str) -> None:
    records = [_record("Иван Петров", "ivan@tehnoprom.ru", "Технопром", "m1"),
               _record("Anna Zielińska", "anna@firma.pl", external_id="m2"),
               _record("Łukasz Wójcik", "lukasz@budmax.pl", "Budmax", "m3"),
               _record("Jan Petrovic", "jan@petrovic.example", external_id="m4")]
    if path == "batch":
        ingest_many(session, records)
    else:
        for record in records:
            ingest(session, record)
    session.commit()
    assert _found(session, "petrov") == {"Иван Петров", "Jan Petrovic"}
    assert _found(session, "Ivan Petrov") == {"Иван Петров"}
    assert _found(session, "TEKHNOPROM") == {"Иван Петров"}
    assert _found(session, "inska") == {"Anna Zielińska"}  # part of a word, typed without its marks
    assert _found(session, "ZIELIŃSKA") == {"Anna Zielińska"}  # capitals with marks: SQLite's lower() keeps Ń
    assert _found(session, "ukasz woj") == {"Łukasz Wójcik"}
    assert _found(session, "Петрович") == set()
    # The inbox's full-text search: whole words and word starts, in Latin letters or as written (either way).
    names = {c.id: c.display_name for c in session.exec(select(Contact)).all()}
    for query, expected in (("petrov", {"Иван Петров", "Jan Petrovic"}), ("Петров", {"Иван Петров", "Jan Petrovic"}),
                            ("Ivan Petr", {"Иван Петров"}), ("lukasz", {"Łukasz Wójcik"}),
                            ("Иван", {"Иван Петров"}), ("Ян", set())):
        assert {names[i] for i in find_matches(session, query, messages=False).contact_ids} == expected, query


def test_search_latin_follows_a_new_name_and_company(session: Session) -> None:
    """Filled on every write of the name or company: a name learnt later, a company filled in by a merge."""
    nameless = ingest(session, _record("", "kontakt@tehnoprom.ru"))
    ingest(session, _record("Сергей Кузнецов", "kontakt@tehnoprom.ru"))
    other = ingest(session, _record("Sergey Kuznetsov", "s.k@gmail.com", "Технопром"))
    session.commit()
    contact = session.get(Contact, nameless.contact_id)
    assert contact.search_latin == "sergey kuznetsov"
    merge_contacts(session, survivor_id=contact.id, merged_id=other.contact_id, reason="test")
    session.commit()
    session.refresh(contact)
    assert contact.search_latin == "sergey kuznetsov tekhnoprom"
    assert _found(session, "kuznetsov tekh") == {"Сергей Кузнецов"}


def test_percent_and_underscore_are_not_wildcards(session: Session) -> None:
    ingest(session, _record("Jan Kowalski", "jan@budmax.pl", "Budmax"))
    ingest(session, _record("Ewa_Lis", "ewa_lis@firma.pl"))
    session.commit()
    assert _found(session, "%") == set()
    assert _found(session, "_") == {"Ewa_Lis"}
    assert _found(session, "a_l") == {"Ewa_Lis"}


def test_the_migration_fills_contacts_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    upgrade_database(f"sqlite:///{path}", "0012")
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO contacts (id, display_name, company, title, stage, temperature, score, aliases,"
                       " created_at, updated_at) VALUES (?, ?, ?, '', 'new', 'cold', 0, '[]', '2026-01-01', '2026-01-01')",
                       [(1, "Иван Петров", "Технопром"), (2, "Jan Kowalski", "Budmax"), (3, "Łukasz Wójcik", "")])
    upgrade_database(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        assert dict(session.exec(sa.select(Contact.id, Contact.search_latin)).all()) == {
            1: "ivan petrov tekhnoprom", 2: "", 3: "lukasz wojcik"}
        assert find_matches(session, "petrov", messages=False).contact_ids == [1]
        assert find_matches(session, "Kowalski", messages=False).contact_ids == [2]
        # The search index follows later writes (its triggers name the new column).
        session.exec(sa.update(Contact).where(Contact.id == 2).values(display_name="Jan Nowak"))
        session.commit()
        assert find_matches(session, "Kowalski", messages=False).contact_ids == []
        assert find_matches(session, "Nowak", messages=False).contact_ids == [2]
    engine.dispose()
    alembic_command.downgrade(alembic_config(f"sqlite:///{path}"), "0012")
    with sqlite3.connect(path) as db:
        assert "search_latin" not in {row[1] for row in db.execute("PRAGMA table_info(contacts)")}
        assert db.execute("SELECT rowid FROM search_contacts WHERE search_contacts MATCH 'nowak'").fetchall() == [(2,)]
        assert db.execute("SELECT count(*) FROM identities").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (3,)


@pytest.mark.parametrize(("query", "expected"), [
    ("+48 601", ["+48601"]),
    ("0048 601 2", ["+486012"]),
    ("601 234", ["+48601234", "+601234"]),  # the default region's, or a country code typed without "+"
    ("(0-22) 123", ["+4822123"]),
    ("601 2", []),  # too short: most of the store
    ("Kowalski 601", []),  # not a number
    ("", []),
])
def test_phone_prefixes(query: str, expected: list[str]) -> None:
    assert phone_prefixes(query, "PL") == expected

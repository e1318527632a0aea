"""The driver-level bulk writes of core.db, on both databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import core.db
from core.db import db_json, db_timestamp, driver_insert, make_engine, next_ids
from core.models import utcnow

CONTACT_COLUMNS = ("id", "display_name", "company", "title", "aliases", "stage", "temperature", "score",
                   "created_at", "updated_at")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def contact_rows(conn: sa.Connection, count: int) -> list[tuple]:
    sqlite = conn.dialect.name == "sqlite"
    at = db_timestamp(utcnow(), sqlite)
    return [(cid, f"Łukasz Wójcik {cid}", f"Budmax {cid % 3}", "", db_json([]), "new", "cold", 0, at, at)
            for cid in next_ids(conn, "contacts", count)]


@pytest.mark.parametrize("count", [1, 3, 4, 5, 11])
def test_driver_insert_writes_every_row_whatever_the_statement_size(engine: sa.Engine, count: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite gets several rows per statement (a whole number of statements or a remainder): every row lands
    with its own values, and the search index that the insert trigger keeps holds exactly them."""
    monkeypatch.setattr(core.db, "SQLITE_ROWS_PER_STATEMENT", 4)
    with engine.begin() as conn:
        rows = contact_rows(conn, count)
        driver_insert(conn, "contacts", CONTACT_COLUMNS, rows, json_columns=frozenset({"aliases"}))
        stored = conn.exec_driver_sql("SELECT id, display_name, company FROM contacts ORDER BY id").all()
        assert [tuple(r) for r in stored] == [(r[0], r[1], r[2]) for r in rows]
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("INSERT INTO search_contacts(search_contacts, rank) VALUES ('integrity-check', 1)")
            found = conn.exec_driver_sql("SELECT rowid FROM search_contacts WHERE search_contacts MATCH 'wojcik'")
            assert sorted(r[0] for r in found) == [r[0] for r in rows]


def test_driver_insert_keeps_within_sqlites_limit_of_parameters(sqlite_template: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An older SQLite allows 999 parameters per statement: the rows per statement follow the connection's limit."""
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setattr(core.db, "_sqlite_variable_limit", lambda conn: 25)  # two rows of ten columns
    statements: list[int] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("INSERT INTO contacts"):
            statements.append(statement.count("?"))

    with engine.begin() as conn:
        driver_insert(conn, "contacts", CONTACT_COLUMNS, contact_rows(conn, 7), json_columns=frozenset({"aliases"}))
        assert conn.exec_driver_sql("SELECT count(*) FROM contacts").scalar() == 7
    engine.dispose()
    assert statements == [20, 20, 20, 10]


def test_driver_insert_with_on_conflict_skips_only_the_rows_on_file(engine: sa.Engine,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.db, "SQLITE_ROWS_PER_STATEMENT", 2)
    columns = ("contact_id", "kind", "value", "raw_value", "channel", "is_weak", "created_at")
    with engine.begin() as conn:
        rows = contact_rows(conn, 2)
        driver_insert(conn, "contacts", CONTACT_COLUMNS, rows, json_columns=frozenset({"aliases"}))
        first, second = rows[0][0], rows[1][0]
        at = rows[0][-1]
        identity = lambda cid, value: (cid, "email", value, value, "api", False, at)  # noqa: E731
        driver_insert(conn, "identities", columns, [identity(first, "a@x.pl"), identity(first, "b@x.pl")])
        driver_insert(conn, "identities", columns,
                      [identity(second, "b@x.pl"), identity(second, "c@x.pl"), identity(second, "a@x.pl")],
                      suffix=" ON CONFLICT (kind, value) DO NOTHING")
        owners = dict(conn.exec_driver_sql("SELECT value, contact_id FROM identities").all())
    assert owners == {"a@x.pl": first, "b@x.pl": first, "c@x.pl": second}


@pytest.mark.parametrize(("count", "largest", "sizes"), [
    (0, 256, []),
    (1, 256, [1]),
    (256, 256, [256]),
    (1000, 256, [256, 256, 256, 64, 64, 64, 16, 16, 4, 4]),
    (700, 76, [76] * 9 + [4] * 4),  # 999 parameters, 13 columns
    (7, 2, [2, 2, 2, 1]),
    (3, 0, [1, 1, 1]),
])
def test_statement_sizes_cover_the_rows_with_few_distinct_sizes(count: int, largest: int, sizes: list[int]) -> None:
    assert core.db.statement_sizes(count, largest) == sizes


@pytest.mark.parametrize("wanted", [[], [3], [1, 2, 5], list(range(1, 1200, 2))])
def test_among_finds_exactly_the_values_given_as_one_parameter(engine: sa.Engine, wanted: list[int]) -> None:
    """core.db.among: ids and texts (with diacritics and Cyrillic), any number of them, one statement text."""
    statements: set[str] = set()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def remember(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("SELECT contacts.id"):
            statements.add(statement)

    contacts = sa.table("contacts", sa.column("id", sa.BigInteger), sa.column("display_name", sa.String))
    with engine.begin() as conn:
        rows = contact_rows(conn, 1200)
        rows = [(r[0], f"Łukasz Шевченко {r[0]}", *r[2:]) for r in rows]
        driver_insert(conn, "contacts", CONTACT_COLUMNS, rows, json_columns=frozenset({"aliases"}))
        by_id = conn.execute(sa.select(contacts.c.id).where(core.db.among(contacts.c.id, wanted))).scalars().all()
        names = [f"Łukasz Шевченко {n}" for n in wanted] + ["nobody"]
        by_name = conn.execute(sa.select(contacts.c.id).where(core.db.among(contacts.c.display_name, names))).scalars()
        assert sorted(by_id) == wanted
        assert sorted(by_name) == wanted
        assert conn.execute(sa.select(contacts.c.id).where(core.db.among(contacts.c.id, [1, 2]))).scalars().all()
    assert len(statements) == 2  # one text for ids and one for names, whatever the number of values


@pytest.mark.parametrize("value", [
    datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),  # Warsaw in summer
    datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=3))),  # Moscow: the day before in UTC
    datetime(2026, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 5, 1, 10, 0),  # naive: UTC by convention
    datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime.fromisoformat("2026-05-01T10:00:00Z"),
])
def test_db_timestamp_is_what_the_models_bind_on_sqlite(value: datetime) -> None:
    """Statements sent to the driver and the ORM must store one text for one instant (they are compared as text)."""
    from sqlalchemy.dialects import sqlite

    from core.models import UTCDateTime

    dialect = sqlite.dialect()
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)  # the model's conversion, then SQLite's
    assert db_timestamp(value, True) == bind(value)
    assert db_timestamp(value, False) is value

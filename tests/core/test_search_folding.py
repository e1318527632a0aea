"""The message search ignores marks on both databases: "dzien dobry" finds "Dzień dobry", "wycene" finds "wycenę"
(SQLite: FTS5 remove_diacritics; PostgreSQL: migration 0014's leadhub_fold over the unaccent extension)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.db import make_engine, normalize_database_url
from core.search import find_matches
from tests.conftest import POSTGRES_URL
from tests.webapp.helpers import add_message
from webapp.cli import alembic_config, upgrade_database

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="LEADHUB_TEST_DATABASE_URL (PostgreSQL) is not set")


def _message_ids(session: Session, query: str) -> set[int]:
    return set(find_matches(session, query).message_ids)


def test_message_words_are_found_typed_without_their_marks(session: Session) -> None:
    offer = add_message(session, name="Ola Nowak", subject="Zapytanie ofertowe",
                        text="Dzień dobry, proszę o wycenę dostawy do Łodzi. Pozdrawiam, Zofia Żółkiewska")
    other = add_message(session, name="Jan Kowalski", subject="Hello", text="Dzien dobry (pisane bez znaków)")
    assert _message_ids(session, "wycene") == {offer.message_id}
    assert _message_ids(session, "WYCENĘ") == {offer.message_id}
    assert _message_ids(session, "zolkiewska") == {offer.message_id}
    assert _message_ids(session, "lodzi") == {offer.message_id}  # ł: a letter of its own, not an l with a mark
    assert _message_ids(session, "dzien dobry") == {offer.message_id, other.message_id}
    assert _message_ids(session, "dzień") == {offer.message_id, other.message_id}
    assert _message_ids(session, "wyce") == {offer.message_id}  # a word's start, still without marks
    assert _message_ids(session, "pisane znakow") == {other.message_id}
    assert _message_ids(session, "Żółw") == set()


@pytest.fixture
def restricted_postgres() -> Iterator[tuple[str, sa.Engine]]:
    """A new database owned by the server's admin, and a role that may create tables in it but not extensions
    (no CREATE on the database): a hosted PostgreSQL where unaccent cannot be installed by the app."""
    admin_url = normalize_database_url(POSTGRES_URL)
    suffix = uuid.uuid4().hex[:10]
    name, role = f"leadhub_noext_{suffix}", f"leadhub_noext_{suffix}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC')
    owner_url = sa.engine.make_url(admin_url).set(database=name)
    owner = sa.create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.exec_driver_sql(f'GRANT ALL ON SCHEMA public TO "{role}"')
    owner.dispose()
    app_url = owner_url.set(username=role, password=None).render_as_string(hide_password=False)
    try:
        yield app_url, admin
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def _uses_index(engine: sa.Engine, query: str) -> bool:
    with Session(engine) as session:
        # A store of a few rows is read whole or by id whatever the query: take those ways away.
        session.connection().exec_driver_sql("SET enable_seqscan = off")
        session.connection().exec_driver_sql("SET enable_indexscan = off")
        from core.search import _messages_matching  # the statement find_matches runs

        statement = _messages_matching(session, [query], 10, prefix=False)
        compiled = statement.compile(engine)
        plan = session.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
    return any("search_messages_tsv" in line for line in plan)


@needs_postgres
def test_without_unaccent_the_search_works_as_before_until_the_migration_is_applied_again(
    restricted_postgres: tuple[str, sa.Engine],
) -> None:
    from alembic import command as alembic_command

    url, admin = restricted_postgres
    upgrade_database(url)  # the extension is refused: a warning, not a failed upgrade
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT to_regprocedure('leadhub_fold(text)')")).scalar() is None
        offer = add_message(session, name="Ola Nowak", text="Dzień dobry, proszę o wycenę")
        assert _message_ids(session, "wycenę") == {offer.message_id}  # as written: found, as before
        assert _message_ids(session, "wycene") == set()
    assert _uses_index(engine, "wycenę")
    engine.dispose()

    # The owner installs unaccent; applying 0014 again builds the folding index over the stored messages.
    with admin.connect() as conn:
        conn.exec_driver_sql(f'GRANT CREATE ON DATABASE "{sa.engine.make_url(url).database}" TO PUBLIC')
    alembic_command.downgrade(alembic_config(url), "0013")
    upgrade_database(url)
    engine = make_engine(url)  # a new engine: whether the database folds is read once per engine
    with Session(engine) as session:
        assert _message_ids(session, "wycene") == {offer.message_id}
        assert _message_ids(session, "wycenę") == {offer.message_id}
    assert _uses_index(engine, "wycene")
    engine.dispose()


@needs_postgres
def test_the_folding_search_uses_the_message_index(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    assert _uses_index(engine, "wycene")
    engine.dispose()

"""contacts.search_latin: names and companies searchable in Latin letters

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00.000000

A rep types "petrov" for "Петров", "lukasz" for "Łukasz", "inska" for "Zielińska": the contact search indexes
the name and company as written, and now also their Latin form without marks (core.normalize.latin_search_text,
empty for names written in ASCII). Existing contacts are filled in here; the search indexes are rebuilt with
the new column (SQLite: the FTS5 table search_contacts and its triggers; PostgreSQL: the GIN expression index).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.normalize import latin_search_text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = ("search_contacts_ai", "search_contacts_ad", "search_contacts_au")


def _sqlite_fts(columns: tuple[str, ...]) -> list[str]:
    listed = ", ".join(columns)
    new, old = (", ".join(f"{row}.{c}" for c in columns) for row in ("new", "old"))
    return [
        f"CREATE VIRTUAL TABLE search_contacts USING fts5({listed}, content='contacts', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER search_contacts_ai AFTER INSERT ON contacts BEGIN"
        f" INSERT INTO search_contacts(rowid, {listed}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER search_contacts_ad AFTER DELETE ON contacts BEGIN"
        f" INSERT INTO search_contacts(search_contacts, rowid, {listed}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER search_contacts_au AFTER UPDATE OF {listed} ON contacts BEGIN"
        f" INSERT INTO search_contacts(search_contacts, rowid, {listed}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO search_contacts(rowid, {listed}) VALUES (new.id, {new}); END",
        "INSERT INTO search_contacts(search_contacts) VALUES ('rebuild')",
    ]


def _postgres_index(columns: tuple[str, ...]) -> str:
    document = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
    return f"CREATE INDEX search_contacts_tsv ON contacts USING gin (to_tsvector('simple', {document}))"


OLD_COLUMNS = ("display_name", "company")
NEW_COLUMNS = ("display_name", "company", "search_latin")


def _drop_search_index(dialect: str) -> None:
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_contacts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS search_contacts_tsv")


def _create_search_index(dialect: str, columns: tuple[str, ...]) -> None:
    if dialect == "sqlite":
        for statement in _sqlite_fts(columns):
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(_postgres_index(columns))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _drop_search_index(dialect)
    op.add_column("contacts", sa.Column("search_latin", sa.String(length=400), nullable=False, server_default=""))
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("display_name", sa.String),
                        sa.column("company", sa.String), sa.column("search_latin", sa.String))
    last = 0
    while True:  # in id order, a thousand at a time: a big store is not read into memory at once
        rows = bind.execute(sa.select(contacts.c.id, contacts.c.display_name, contacts.c.company)
                            .where(contacts.c.id > last).order_by(contacts.c.id).limit(1000)).all()
        if not rows:
            break
        last = rows[-1][0]
        filled = [{"row_id": row_id, "latin": latin} for row_id, name, company in rows
                  if (latin := latin_search_text(name, company))]
        if filled:
            bind.execute(contacts.update().where(contacts.c.id == sa.bindparam("row_id"))
                         .values(search_latin=sa.bindparam("latin")), filled)
    _create_search_index(dialect, NEW_COLUMNS)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_search_index(dialect)
    op.drop_column("contacts", "search_latin")  # (SQLite 3.35+ drops a column in place)
    _create_search_index(dialect, OLD_COLUMNS)

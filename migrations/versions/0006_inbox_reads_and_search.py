"""inbox: per-user read marks and full-text search over messages and contact names

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23

SQLite gets external-content FTS5 tables (search_messages, search_contacts) kept in sync by triggers;
PostgreSQL gets GIN indexes on tsvector expressions. Both are invisible to the models on purpose:
migrations/env.py leaves tables named search_* out of the model comparison.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models  # noqa: F401  (UTCDateTime)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    # unicode61 with diacritics removed: "wojcik" finds "Wójcik".
    "CREATE VIRTUAL TABLE search_messages USING fts5(subject, text, sender, content='messages', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_messages_ai AFTER INSERT ON messages BEGIN"
    " INSERT INTO search_messages(rowid, subject, text, sender) VALUES (new.id, new.subject, new.text, new.sender);"
    " END",
    "CREATE TRIGGER search_messages_ad AFTER DELETE ON messages BEGIN"
    " INSERT INTO search_messages(search_messages, rowid, subject, text, sender)"
    " VALUES ('delete', old.id, old.subject, old.text, old.sender); END",
    "CREATE TRIGGER search_messages_au AFTER UPDATE OF subject, text, sender ON messages BEGIN"
    " INSERT INTO search_messages(search_messages, rowid, subject, text, sender)"
    " VALUES ('delete', old.id, old.subject, old.text, old.sender);"
    " INSERT INTO search_messages(rowid, subject, text, sender) VALUES (new.id, new.subject, new.text, new.sender);"
    " END",
    "CREATE VIRTUAL TABLE search_contacts USING fts5(display_name, company, content='contacts', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_contacts_ai AFTER INSERT ON contacts BEGIN"
    " INSERT INTO search_contacts(rowid, display_name, company) VALUES (new.id, new.display_name, new.company); END",
    "CREATE TRIGGER search_contacts_ad AFTER DELETE ON contacts BEGIN"
    " INSERT INTO search_contacts(search_contacts, rowid, display_name, company)"
    " VALUES ('delete', old.id, old.display_name, old.company); END",
    "CREATE TRIGGER search_contacts_au AFTER UPDATE OF display_name, company ON contacts BEGIN"
    " INSERT INTO search_contacts(search_contacts, rowid, display_name, company)"
    " VALUES ('delete', old.id, old.display_name, old.company);"
    " INSERT INTO search_contacts(rowid, display_name, company) VALUES (new.id, new.display_name, new.company);"
    " END",
    # Rows that existed before this migration.
    "INSERT INTO search_messages(search_messages) VALUES ('rebuild')",
    "INSERT INTO search_contacts(search_contacts) VALUES ('rebuild')",
]

POSTGRES_FTS = [
    "CREATE INDEX search_messages_tsv ON messages USING gin"
    " (to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(text, '') || ' ' || coalesce(sender, '')))",
    "CREATE INDEX search_contacts_tsv ON contacts USING gin"
    " (to_tsvector('simple', coalesce(display_name, '') || ' ' || coalesce(company, '')))",
]


def upgrade() -> None:
    op.create_table(
        "conversation_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("read_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "conversation_id"),
    )
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_FTS if dialect == "sqlite" else POSTGRES_FTS if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("search_messages_ai", "search_messages_ad", "search_messages_au",
                     "search_contacts_ai", "search_contacts_ad", "search_contacts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_messages")
        op.execute("DROP TABLE IF EXISTS search_contacts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS search_messages_tsv")
        op.execute("DROP INDEX IF EXISTS search_contacts_tsv")
    op.drop_table("conversation_reads")

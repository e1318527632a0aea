"""PostgreSQL: the message search folds marks (unaccent)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:00:00.000000

A Polish rep types "dzien dobry" and "wycene" for "Dzień dobry" and "wycenę". SQLite's FTS5 (unicode61
remove_diacritics) folds those marks; PostgreSQL's 'simple' configuration keeps them, so on PostgreSQL such a
search found no message. The message index is rebuilt over leadhub_fold(document): the contrib extension
unaccent (trusted since PostgreSQL 13: a database owner may install it) behind an IMMUTABLE wrapper, which an
index expression needs. Where unaccent cannot be installed the old index stays and the search works as before
(core.search looks for leadhub_fold); once it is installed, `leadhub db downgrade 0013` and
`leadhub db upgrade` build the folding index.

Measured on 10,000 messages of 2 KB (PostgreSQL 15): to_tsvector alone 1.8 s, over unaccent 2.8 s: about 0.1 ms
more per message written. translate() with a table of marked letters, the alternative without an extension,
took 13.3 s.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

DOCUMENT = "coalesce(subject, '') || ' ' || coalesce(text, '') || ' ' || coalesce(sender, '')"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except sa.exc.DBAPIError as error:
        log.warning("unaccent is not available (%s): the message search on PostgreSQL will not fold marks "
                    "(install the contrib extension, then run `leadhub db downgrade 0013` and `leadhub db upgrade`)", error.orig)
        return
    create_fold_index(bind)


def create_fold_index(bind: sa.Connection) -> None:
    """leadhub_fold() and the message index over it."""
    schema = bind.exec_driver_sql(
        "SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension WHERE extname = 'unaccent'"
    ).scalar_one()
    # Schema-qualified, so that the function does not depend on the search_path of whoever writes a message.
    bind.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION leadhub_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT"
        f" AS $$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$"
    )
    bind.exec_driver_sql("DROP INDEX IF EXISTS search_messages_tsv")
    bind.exec_driver_sql(
        f"CREATE INDEX search_messages_tsv ON messages USING gin (to_tsvector('simple', leadhub_fold({DOCUMENT})))"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql("DROP INDEX IF EXISTS search_messages_tsv")
    bind.exec_driver_sql(f"CREATE INDEX search_messages_tsv ON messages USING gin (to_tsvector('simple', {DOCUMENT}))")
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS leadhub_fold(text)")

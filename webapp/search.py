"""Full-text search for the inbox: names, emails, subjects and bodies.

SQLite: the FTS5 tables search_messages / search_contacts (external content, kept in sync by triggers from
migration 0006). PostgreSQL: to_tsvector('simple', …) expressions backed by GIN indexes. Emails (identities)
match by prefix on both, which the (kind, value) unique index serves.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import Contact, Identity, Message

MAX_TERMS = 8
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    return _WORD.findall(query or "")[:MAX_TERMS]


def _fts5_query(words: list[str]) -> str:
    # Every word must match, each as a prefix; quoting keeps FTS5 syntax characters inert.
    return " ".join('"' + w.replace('"', "") + '"*' for w in words)


def _pg_tsquery(words: list[str]) -> str:
    return " & ".join(w + ":*" for w in words)


# Up to this many matches the matching ids are collected first and the inbox looks up their conversations;
# beyond it the inbox walks its conversations newest first and asks the index about each one, so a word found
# in most messages (or a common surname) costs a page, not the millions of ids it matches.
COLLECT_LIMIT = 1000


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _first_rowids(session: Session, table: str, match: str) -> list[int]:
    return list(session.execute(
        sa.text(f"SELECT rowid FROM {table} WHERE {table} MATCH :q LIMIT :n"), {"q": match, "n": COLLECT_LIMIT + 1}
    ).scalars())


def message_match(session: Session, query: str, conversation_id: Any) -> sa.ColumnElement[bool] | None:
    """A condition on `conversation_id`: one of its messages' subject, text or sender holds every word."""
    words = terms(query)
    if not words:
        return None
    if not _sqlite(session):
        document = sa.func.to_tsvector(
            "simple",
            sa.func.coalesce(Message.subject, "") + " " + sa.func.coalesce(Message.text, "") + " "
            + sa.func.coalesce(Message.sender, ""),
        )
        ids = select(Message.id).where(document.op("@@")(sa.func.to_tsquery("simple", _pg_tsquery(words))))
        return conversation_id.in_(select(Message.conversation_id).where(col(Message.id).in_(ids)))
    match = _fts5_query(words)
    found = _first_rowids(session, "search_messages", match)
    if len(found) <= COLLECT_LIMIT:
        return conversation_id.in_(select(Message.conversation_id).where(col(Message.id).in_(found)))
    m = Message.__table__.alias("m")
    index = sa.table("search_messages", sa.column("rowid"))
    in_index = sa.exists(sa.select(sa.literal(1)).select_from(index).where(
        sa.text("search_messages MATCH :message_q").bindparams(message_q=match), index.c.rowid == m.c.id))
    return sa.exists(sa.select(sa.literal(1)).select_from(m).where(m.c.conversation_id == conversation_id, in_index))


def contact_match(session: Session, query: str, contact_id: Any) -> sa.ColumnElement[bool]:
    """A condition on `contact_id`: the name or company holds every word, or an identity starts with the query."""
    words = terms(query)
    prefix = (query or "").strip().lower()
    i = Identity.__table__
    by_prefix = sa.and_(i.c.value >= prefix, i.c.value < prefix + "\U0010ffff")
    prefix_ids = list(session.execute(sa.select(i.c.contact_id).where(by_prefix).limit(COLLECT_LIMIT + 1)).scalars())
    if len(prefix_ids) <= COLLECT_LIMIT:
        by_identity: sa.ColumnElement[bool] = contact_id.in_(prefix_ids)
    else:
        by_identity = sa.exists(sa.select(sa.literal(1)).select_from(i).where(i.c.contact_id == contact_id, by_prefix))
    if not words:
        return by_identity
    if not _sqlite(session):
        document = sa.func.to_tsvector(
            "simple", sa.func.coalesce(Contact.display_name, "") + " " + sa.func.coalesce(Contact.company, "")
        )
        ids = select(Contact.id).where(document.op("@@")(sa.func.to_tsquery("simple", _pg_tsquery(words))))
        return sa.or_(by_identity, contact_id.in_(ids))
    match = _fts5_query(words)
    found = _first_rowids(session, "search_contacts", match)
    if len(found) <= COLLECT_LIMIT:
        return sa.or_(by_identity, contact_id.in_(found))
    index = sa.table("search_contacts", sa.column("rowid"))
    return sa.or_(by_identity, sa.exists(sa.select(sa.literal(1)).select_from(index).where(
        sa.text("search_contacts MATCH :contact_q").bindparams(contact_q=match), index.c.rowid == contact_id)))

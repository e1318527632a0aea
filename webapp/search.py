"""Full-text search for the inbox: names, emails, subjects and bodies.

SQLite: the FTS5 tables search_messages / search_contacts (external content, kept in sync by triggers from
migration 0006). PostgreSQL: to_tsvector('simple', …) expressions backed by GIN indexes. Emails (identities)
match by prefix on both, which the (kind, value) unique index serves.
"""

from __future__ import annotations

import re

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


def message_ids_matching(session: Session, query: str) -> sa.ScalarSelect | sa.Select | None:
    """A selectable of message ids whose subject, text or sender matches every word of `query`."""
    words = terms(query)
    if not words:
        return None
    if session.get_bind().dialect.name == "sqlite":
        return sa.select(sa.column("rowid")).select_from(sa.table("search_messages")).where(
            sa.text("search_messages MATCH :message_q").bindparams(message_q=_fts5_query(words))
        )
    document = sa.func.to_tsvector(
        "simple",
        sa.func.coalesce(Message.subject, "") + " " + sa.func.coalesce(Message.text, "") + " "
        + sa.func.coalesce(Message.sender, ""),
    )
    return select(Message.id).where(document.op("@@")(sa.func.to_tsquery("simple", _pg_tsquery(words))))


def contact_ids_matching(session: Session, query: str) -> sa.Select:
    """A selectable of contact ids whose name or company matches, or one of whose identities starts with it."""
    words = terms(query)
    prefix = (query or "").strip().lower()
    by_identity = select(Identity.contact_id).where(
        col(Identity.value) >= prefix, col(Identity.value) < prefix + "\U0010ffff"
    )
    if not words:
        return by_identity
    if session.get_bind().dialect.name == "sqlite":
        by_name = sa.select(sa.column("rowid")).select_from(sa.table("search_contacts")).where(
            sa.text("search_contacts MATCH :contact_q").bindparams(contact_q=_fts5_query(words))
        )
    else:
        document = sa.func.to_tsvector(
            "simple", sa.func.coalesce(Contact.display_name, "") + " " + sa.func.coalesce(Contact.company, "")
        )
        by_name = select(Contact.id).where(document.op("@@")(sa.func.to_tsquery("simple", _pg_tsquery(words))))
    return sa.union(by_identity, by_name)

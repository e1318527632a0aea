"""Full-text search for the inbox and the API: names, emails, phones, subjects and bodies.

SQLite: the FTS5 tables search_messages / search_contacts (external content, kept in sync by triggers from
migration 0006). PostgreSQL: to_tsvector('simple', …) expressions backed by GIN indexes, the messages' over their
text with marks folded (leadhub_fold, migration 0014), the contacts' with search_latin. Emails (identities)
match by prefix on both, which the (kind, value) unique index serves; a query that is a phone number or an
address as people write it ("601 234 567", "Jan.Kowalski@Gmail.com") also matches the key it normalises to.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import Contact, Identity, Message
from core.normalize import InvalidIdentifier, fold_name, normalize_email, normalize_phones

MAX_TERMS = 8
# A search considers the most recent MATCH_CAP matching messages, and as many matching contacts: a word found
# in most of five million messages must not make the inbox collect and sort all of them (seconds at 1M
# contacts; BENCHMARKS.md, Inbox). The page says when a search hit the cap.
MATCH_CAP = 1000
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    return _WORD.findall(query or "")[:MAX_TERMS]


# "Ł" is a letter of its own to Unicode, not an "L" with a mark: the full-text index keeps it while it folds ó, ś,
# ż …, so "lukasz" missed "Łukasz". An ASCII word typed with l's also looks for ł in their places (at most the
# first MAX_L_SPELLINGS of them: 2^3 spellings).
MAX_L_SPELLINGS = 3


def spellings(word: str) -> list[str]:
    """The word, and for a word typed without Polish letters its spellings with ł for l (messages are indexed as
    written); a word in other letters also in Latin ones, as contacts' names are indexed too
    (contacts.search_latin): "Иванов" finds "Ivanov"."""
    if not word.isascii():
        latin = fold_name(word).replace(" ", "")
        return [word, latin] if latin and latin != word else [word]
    places = [i for i, ch in enumerate(word) if ch in "lL"][:MAX_L_SPELLINGS]
    found = []
    for mask in range(1 << len(places)):
        letters = list(word)
        for bit, place in enumerate(places):
            if mask >> bit & 1:
                letters[place] = "ł"
        found.append("".join(letters))
    return found


def _fts5_query(words: list[str], prefix: bool = True) -> str:
    # Every word must match (as a prefix, or whole), in one of its spellings; quoting keeps FTS5 syntax inert.
    star = "*" if prefix else ""
    return " AND ".join("(" + " OR ".join('"' + w.replace('"', "") + '"' + star for w in spellings(word)) + ")"
                        for word in words)


def _pg_tsquery(words: list[str], prefix: bool = True) -> str:
    star = ":*" if prefix else ""
    return " & ".join("(" + " | ".join(w + star for w in spellings(word)) + ")" for word in words)


def _message_document(fold: bool) -> sa.ColumnElement[str]:
    # The expression of the GIN index search_messages_tsv (migrations 0006 and 0014), word for word.
    document = (sa.func.coalesce(Message.subject, "") + " " + sa.func.coalesce(Message.text, "") + " "
                + sa.func.coalesce(Message.sender, ""))
    return sa.func.to_tsvector("simple", sa.func.leadhub_fold(document) if fold else document)


# Engines whose PostgreSQL database has leadhub_fold() (migration 0014, where the unaccent extension could be
# installed): their message index folds marks, and so must the query.
_FOLDS_MARKS: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()


def _folds_marks(session: Session) -> bool:
    engine = session.get_bind().engine
    if engine not in _FOLDS_MARKS:
        _FOLDS_MARKS[engine] = bool(session.execute(
            sa.text("SELECT to_regprocedure('leadhub_fold(text)') IS NOT NULL")).scalar())
    return _FOLDS_MARKS[engine]


def _messages_matching(session: Session, words: list[str], cap: int, prefix: bool) -> sa.Select:
    if session.get_bind().dialect.name == "sqlite":
        rowid = sa.column("rowid")
        # FTS5 walks its doclists in descending rowid order itself and stops at the limit.
        return sa.select(rowid.label("id")).select_from(sa.table("search_messages")).where(
            sa.text("search_messages MATCH :message_q").bindparams(message_q=_fts5_query(words, prefix))
        ).order_by(rowid.desc()).limit(cap)
    fold = _folds_marks(session)
    tsquery = _pg_tsquery(words, prefix)
    query = sa.func.to_tsquery("simple", sa.func.leadhub_fold(tsquery) if fold else tsquery)
    return (select(Message.id).where(_message_document(fold).op("@@")(query)).order_by(col(Message.id).desc())
            .limit(cap))


def _contacts_by_identity(query: str, cap: int, region: str = "PL") -> sa.Select:
    prefix = (query or "").strip().lower()
    by_prefix = sa.and_(col(Identity.value) >= prefix, col(Identity.value) < prefix + "\U0010ffff")
    keys = identity_keys(query, region)
    # (an OR of pairs: SQLite answers a row-value IN by scanning the table)
    by_prefix = sa.or_(
        by_prefix,
        *(sa.and_(Identity.kind == kind, Identity.value == value) for kind, value in keys),
        *(sa.and_(Identity.kind == "phone", col(Identity.value) >= start, col(Identity.value) < start + "\U0010ffff")
          for start in phone_prefixes(query, region)),
    )
    return select(Identity.contact_id).where(by_prefix).limit(cap)


MIN_PHONE_PREFIX_DIGITS = 5


def phone_prefixes(query: str, region: str = "PL") -> list[str]:
    """The starts of stored phone keys (E.164) that a number typed in part stands for: "+48 601", "0048 601 2"
    and "601 234" (the default region's) all start "+48601…". None for fewer than MIN_PHONE_PREFIX_DIGITS
    digits, which would match a good part of the store."""
    text = (query or "").strip()
    if not _PHONE_QUERY.fullmatch(text):
        return []
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_PHONE_PREFIX_DIGITS:
        return []
    if text.startswith("+"):
        return ["+" + digits]
    if digits.startswith("00"):
        return ["+" + digits[2:]]
    # Typed without its country code (the default region's, its trunk zero dropped), or with it but no "+".
    domestic = f"+{phonenumbers.country_code_for_region(region)}{digits.lstrip('0')}"
    return [domestic] if digits.startswith("0") else list(dict.fromkeys([domestic, "+" + digits]))


_PHONE_QUERY = re.compile(r"[\d\s()+.\-/]{6,40}")


def identity_keys(query: str, region: str = "PL") -> list[tuple[str, str]]:
    """The identity keys a query is, written as people write them: a phone number ("601 234 567", "+48 (0)22 …")
    or an e-mail address ("Jan.Kowalski@Gmail.com" is "jankowalski@gmail.com")."""
    text = (query or "").strip()
    keys: list[tuple[str, str]] = []
    if _PHONE_QUERY.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 6:
        try:
            keys += [("phone", number) for number in normalize_phones(text, region)]
        except InvalidIdentifier:
            pass
    if "@" in text:
        try:
            keys.append(("email", normalize_email(text).value))
        except InvalidIdentifier:
            pass
    return keys


def contacts_by_name(session: Session, words: list[str], cap: int) -> sa.Select:
    if session.get_bind().dialect.name == "sqlite":
        rowid = sa.column("rowid")
        return sa.select(rowid.label("id")).select_from(sa.table("search_contacts")).where(
            sa.text("search_contacts MATCH :contact_q").bindparams(contact_q=_fts5_query(words))
        ).order_by(rowid.desc()).limit(cap)
    # The expression of the GIN index search_contacts_tsv (migration 0013), word for word.
    document = sa.func.to_tsvector(
        "simple", sa.func.coalesce(Contact.display_name, "") + " " + sa.func.coalesce(Contact.company, "")
        + " " + sa.func.coalesce(Contact.search_latin, "")
    )
    return (select(Contact.id).where(document.op("@@")(sa.func.to_tsquery("simple", _pg_tsquery(words))))
            .order_by(col(Contact.id).desc()).limit(cap))


@dataclass
class SearchMatches:
    """What a search matched: people (by name, company or identity prefix) and messages, the newest first,
    each list cut at the cap; `capped` says one of them was cut."""

    contact_ids: list[int]
    message_ids: list[int]
    capped: bool


def find_matches(
    session: Session, query: str, cap: int | None = None, *, region: str = "PL", messages: bool = True
) -> SearchMatches:
    """Read the match lists once (a few ms: each FTS walk stops at cap + 1); the inbox then looks its
    conversations up by id instead of re-running full-text search inside a bigger query. region: the default
    phone region, for a query that is a number written without its country code. messages=False: people only
    (a search of people, which would throw the messages' list away: its common words cost the most)."""
    words, cap = terms(query), cap or MATCH_CAP
    capped = False

    def ids(selectable: sa.Select) -> list[int]:
        nonlocal capped
        found = [int(i) for i in session.execute(selectable).scalars() if i is not None]
        capped = capped or len(found) > cap
        return found[:cap]

    contact_ids = ids(_contacts_by_identity(query, cap + 1, region))
    message_ids: list[int] = []
    if words:
        contact_ids = list(dict.fromkeys(contact_ids + ids(contacts_by_name(session, words, cap + 1))))
        # Message words match whole, and as prefixes only when no message holds them whole (a word typed in
        # part, an inflected Polish word): FTS5 expands a prefix by merging the postings of every word it
        # starts before the first row (242 ms for one common prefix in 5M messages, 3 ms for the word whole;
        # BENCHMARKS.md, Inbox).
        if messages:
            message_ids = (ids(_messages_matching(session, words, cap + 1, prefix=False))
                           or ids(_messages_matching(session, words, cap + 1, prefix=True)))
    return SearchMatches(contact_ids=contact_ids, message_ids=message_ids, capped=capped)

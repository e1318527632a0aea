"""Identity resolution: which contact a record belongs to, merges (transitive, recorded, undoable) and
fuzzy duplicate suggestions (never merged automatically)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import hooks
from core.db import chunked, json_list, plain_rows
from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, close_by_name, score_pair
from core.models import (
    Contact,
    ContactBlockKey,
    Conversation,
    DuplicateSuggestion,
    Identity,
    MergeEvent,
    Message,
    Stage,
    Temperature,
    utcnow,
)
from core.normalize import InvalidIdentifier, fold_name, normalize_email

MAX_ALIASES = 20
# Candidates compared per contact: a very common name must not make one ingest compare against thousands.
MAX_CANDIDATES = 200


class IdentityError(Exception):
    """A merge or undo that cannot be done; the message says why in plain words."""


# --------------------------------------------------------------------------- resolving ids


def resolve_contact_id(session: Session, contact_id: int) -> int | None:
    """The surviving contact for an id, following merged_into; None if there is no such contact."""
    seen: set[int] = set()
    current: int | None = contact_id
    while current is not None and current not in seen:
        seen.add(current)
        contact = session.get(Contact, current)
        if contact is None:
            return None
        if contact.merged_into is None:
            return contact.id
        current = contact.merged_into
    raise IdentityError(f"merge cycle at contact {contact_id}")


def email_is_known(session: Session, address: str) -> bool:
    """Read-only: whether a live contact already has this email identity ("attach to existing leads only")."""
    try:
        value = normalize_email(address).value
    except InvalidIdentifier:
        return False
    row = session.exec(select(Identity).where(Identity.kind == "email", Identity.value == value)).first()
    return row is not None and get_live_contact(session, row.contact_id) is not None


def get_live_contact(session: Session, contact_id: int) -> Contact | None:
    resolved = resolve_contact_id(session, contact_id)
    return session.get(Contact, resolved) if resolved is not None else None


# --------------------------------------------------------------------------- merging

_STAGE_ORDER = {Stage.new: 0, Stage.mql: 1, Stage.sql: 2, Stage.customer: 3, Stage.non_target: -1}
_TEMP_ORDER = {Temperature.cold: 0, Temperature.warm: 1, Temperature.hot: 2}
_SNAPSHOT_FIELDS = (
    "display_name", "company", "title", "owner_id", "stage", "temperature", "score", "aliases",
)


def _fields(contact: Contact) -> dict:
    data = {name: getattr(contact, name) for name in _SNAPSHOT_FIELDS}
    data["aliases"] = list(contact.aliases or [])
    return data


def is_pair_dismissed(session: Session, a: int, b: int) -> bool:
    low, high = sorted((a, b))
    status = session.exec(
        select(DuplicateSuggestion.status).where(
            DuplicateSuggestion.contact_a_id == low, DuplicateSuggestion.contact_b_id == high
        )
    ).first()
    return status == "dismissed"


def merge_contacts(
    session: Session, *, survivor_id: int, merged_id: int, reason: str, actor: str = "system"
) -> MergeEvent:
    """Move everything of `merged_id` onto `survivor_id` in the caller's transaction and record how to undo it."""
    survivor = get_live_contact(session, survivor_id)
    merged = get_live_contact(session, merged_id)
    if survivor is None or merged is None:
        raise IdentityError("contact not found")
    if survivor.id == merged.id:
        raise IdentityError("a contact cannot be merged with itself")
    session.flush()
    before = _fields(survivor)
    moved = {
        "identities": _move(session, Identity, merged.id, survivor.id),
        "conversations": _move(session, Conversation, merged.id, survivor.id),
        "messages": _move(session, Message, merged.id, survivor.id),
    }
    filled: dict[str, object] = {}
    for name in ("company", "title", "owner_id"):
        if not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
            filled[name] = getattr(merged, name)
    if not survivor.display_name and merged.display_name:
        survivor.display_name = merged.display_name
        filled["display_name"] = merged.display_name
    aliases_added = _add_aliases(survivor, [merged.display_name, *(merged.aliases or [])])
    if _STAGE_ORDER.get(Stage(merged.stage), 0) > _STAGE_ORDER.get(Stage(survivor.stage), 0):
        survivor.stage = merged.stage
    if _TEMP_ORDER.get(Temperature(merged.temperature), 0) > _TEMP_ORDER.get(Temperature(survivor.temperature), 0):
        survivor.temperature = merged.temperature
    survivor.score = max(survivor.score, merged.score)
    survivor.last_message_at = _latest(survivor.last_message_at, merged.last_message_at)
    survivor.updated_at = utcnow()
    merged.merged_into = survivor.id
    merged.updated_at = utcnow()
    session.exec(sa.delete(ContactBlockKey).where(col(ContactBlockKey.contact_id) == merged.id))
    low, high = sorted((survivor.id, merged.id))
    session.exec(
        sa.update(DuplicateSuggestion)
        .where(col(DuplicateSuggestion.contact_a_id) == low, col(DuplicateSuggestion.contact_b_id) == high)
        .values(status="merged", decided_at=utcnow(), decided_by=actor)
    )
    event = MergeEvent(
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason[:500],
        actor=actor[:320],
        snapshot={
            "survivor_before": before,
            "merged_before": _fields(merged),
            "filled": filled,
            "aliases_added": aliases_added,
            "moved": moved,
        },
    )
    session.add(event)
    session.add(survivor)
    session.add(merged)
    session.flush()
    refresh_block_keys(session, survivor)
    hooks.emit(session, "lead.merged", {
        "survivor_id": survivor.id, "merged_id": merged.id, "merge_id": event.id, "reason": event.reason,
        "actor": event.actor,
    })
    return event


def _move(session: Session, table: type, from_id: int, to_id: int) -> list[int]:
    ids = list(session.exec(select(table.id).where(table.contact_id == from_id)).all())
    if ids:
        session.exec(sa.update(table).where(col(table.id).in_(ids)).values(contact_id=to_id))
    return ids


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)


def _add_aliases(contact: Contact, names: Iterable[str]) -> list[str]:
    """Keep differing names as aliases; returns what was added."""
    current = list(contact.aliases or [])
    known = {fold_name(n) for n in [contact.display_name, *current] if n}
    added = []
    for name in names:
        if name and fold_name(name) and fold_name(name) not in known and len(current) < MAX_ALIASES:
            current.append(name)
            known.add(fold_name(name))
            added.append(name)
    if added:
        contact.aliases = current
    return added


def undo_merge(session: Session, *, event_id: int, actor: str = "system") -> MergeEvent:
    """Give the merged contact back everything the merge moved, wherever later merges have taken it."""
    event = session.get(MergeEvent, event_id)
    if event is None:
        raise IdentityError("merge not found")
    if event.undone_at is not None:
        raise IdentityError("this merge was already undone")
    merged = session.get(Contact, event.merged_id)
    survivor = session.get(Contact, event.survivor_id)
    if merged is None or survivor is None:
        raise IdentityError("a contact of this merge was erased; it cannot be undone")
    if merged.merged_into != survivor.id:
        raise IdentityError("the merged contact has changed since; undo the later merges first")
    snapshot = event.snapshot or {}
    moved = snapshot.get("moved", {})
    for table, key in ((Identity, "identities"), (Conversation, "conversations"), (Message, "messages")):
        ids = moved.get(key) or []
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            session.exec(sa.update(table).where(col(table.id).in_(chunk)).values(contact_id=merged.id))
    # Messages that arrived after the merge inside a conversation given back follow their conversation.
    conv_ids = moved.get("conversations") or []
    for chunk_start in range(0, len(conv_ids), 500):
        chunk = conv_ids[chunk_start : chunk_start + 500]
        session.exec(
            sa.update(Message).where(col(Message.conversation_id).in_(chunk)).values(contact_id=merged.id)
        )
    for name, value in (snapshot.get("merged_before") or {}).items():
        setattr(merged, name, value)
    merged.merged_into = None
    before = snapshot.get("survivor_before") or {}
    for name, value in (snapshot.get("filled") or {}).items():
        if getattr(survivor, name) == value:
            setattr(survivor, name, before.get(name))
    removed = set(snapshot.get("aliases_added") or [])
    if removed:
        survivor.aliases = [a for a in (survivor.aliases or []) if a not in removed]
    now = utcnow()
    for contact in (merged, survivor):
        contact.updated_at = now
        contact.last_message_at = session.exec(
            select(sa.func.max(Message.sent_at)).where(Message.contact_id == contact.id)
        ).first()
        session.add(contact)
    event.undone_at = now
    event.undone_by = actor[:320]
    session.add(event)
    # An undone merge says "these are two people": remember it so ingest and suggestions leave them apart.
    _set_pair_status(session, survivor.id, merged.id, "dismissed", actor, reason="merge undone")
    session.flush()
    refresh_block_keys(session, merged)
    refresh_block_keys(session, survivor)
    return event


def _set_pair_status(session: Session, a: int, b: int, status: str, actor: str, reason: str = "") -> None:
    low, high = sorted((a, b))
    suggestion = session.exec(
        select(DuplicateSuggestion).where(
            DuplicateSuggestion.contact_a_id == low, DuplicateSuggestion.contact_b_id == high
        )
    ).first()
    if suggestion is None:
        suggestion = DuplicateSuggestion(contact_a_id=low, contact_b_id=high, score=0.0, reasons=[reason])
    suggestion.status = status
    suggestion.decided_at = utcnow()
    suggestion.decided_by = actor[:320]
    session.add(suggestion)


def dismiss_suggestion(session: Session, *, suggestion_id: int, actor: str) -> DuplicateSuggestion:
    suggestion = session.get(DuplicateSuggestion, suggestion_id)
    if suggestion is None:
        raise IdentityError("suggestion not found")
    suggestion.status = "dismissed"
    suggestion.decided_at = utcnow()
    suggestion.decided_by = actor[:320]
    session.add(suggestion)
    return suggestion


# --------------------------------------------------------------------------- fuzzy duplicates


@dataclass
class SuggestionOutcome:
    suggestion: DuplicateSuggestion
    created: bool


def _person_views(session: Session, contact_ids: list[int]) -> dict[int, PersonView]:
    if not contact_ids:
        return {}
    # The driver's tuples, not ORM objects or Rows: this runs for every candidate of every new contact.
    c, i = Contact.__table__, Identity.__table__
    contacts = plain_rows(
        session,
        sa.select(c.c.id, c.c.display_name, c.c.aliases, c.c.company).where(
            c.c.id.in_(contact_ids), c.c.merged_into.is_(None)
        ),
    )
    domains: dict[int, set[str]] = {}
    # The kind is checked here, not in SQL: given `kind = 'email'` too, SQLite walks the (kind, value) index
    # over every e-mail in the store instead of looking up these contact ids (the duplicate search then grew
    # with the store).
    rows = plain_rows(session, sa.select(i.c.contact_id, i.c.kind, i.c.value).where(i.c.contact_id.in_(contact_ids)))
    from core.normalize import is_freemail_domain  # local: keeps the module's import list short

    for cid, kind, value in rows:
        if kind != "email":
            continue
        domain = value.rsplit("@", 1)[-1]
        if not is_freemail_domain(domain):
            domains.setdefault(cid, set()).add(domain)
    return {
        cid: PersonView(
            contact_id=cid,
            names=tuple(n for n in [display_name, *json_list(aliases)] if n),
            company=company,
            corporate_domains=frozenset(domains.get(cid, set())),
        )
        for cid, display_name, aliases, company in contacts
    }


def refresh_block_keys(session: Session, contact: Contact) -> set[str]:
    keys = blocking_keys([n for n in [contact.display_name, *(contact.aliases or [])] if n])
    existing = set(
        session.exec(select(ContactBlockKey.key).where(ContactBlockKey.contact_id == contact.id)).all()
    )
    if contact.merged_into is not None:
        keys = set()
    stale = existing - keys
    if stale:
        session.exec(
            sa.delete(ContactBlockKey).where(
                col(ContactBlockKey.contact_id) == contact.id, col(ContactBlockKey.key).in_(stale)
            )
        )
    for key in keys - existing:
        session.add(ContactBlockKey(contact_id=contact.id, key=key))
    return keys


def suggest_duplicates_for(session: Session, contact: Contact) -> list[SuggestionOutcome]:
    """File `contact` under its blocking keys and open suggestions for look-alikes sharing one."""
    session.flush()
    keys = refresh_block_keys(session, contact)
    if not keys:
        return []
    session.flush()
    return suggest_pairs_for(session, {contact.id: keys}, outcomes=True)[contact.id]


MEMBER_QUERY_KEYS = 50


@functools.lru_cache(maxsize=MEMBER_QUERY_KEYS)
def _members_query(n: int) -> sa.TextClause:
    """The newest MAX_CANDIDATES members of each of n blocking keys, one index range scan per key. Written once
    per n: building the same UNION from SQLAlchemy constructs cost more than running it (profiled on import)."""
    table = ContactBlockKey.__tablename__
    part = (f"SELECT * FROM (SELECT key, contact_id FROM {table} WHERE key = :k{{i}} "
            f"ORDER BY contact_id DESC LIMIT {int(MAX_CANDIDATES)}) AS m{{i}}")
    return sa.text(" UNION ALL ".join(part.format(i=i) for i in range(n)))


# A bulk path's cache of candidate views stops being emptied-and-refilled beyond this many contacts.
VIEW_CACHE_MAX = 200_000


def suggest_pairs_for(
    session: Session, keys_by_contact: dict[int, set[str]], *, outcomes: bool = False,
    view_cache: dict[int, PersonView | None] | None = None,
) -> dict:
    """Compare each contact with the others filed under one of its keys (at most MAX_CANDIDATES each) and
    open suggestions for pairs scoring over the threshold. Returns, per contact, the new suggestion ids
    (or the SuggestionOutcomes when `outcomes`).

    `view_cache`: a bulk path's views of candidates from earlier batches (its owner drops the contacts it
    changes); the contacts being compared are always read afresh."""
    all_keys = sorted({k for keys in keys_by_contact.values() for k in keys})
    members: dict[str, list[int]] = {}
    # Each key contributes at most MAX_CANDIDATES of its newest members (an index range scan on
    # (key, contact_id)), so a common name costs the same at a thousand contacts and at a million.
    for start in range(0, len(all_keys), MEMBER_QUERY_KEYS):
        chunk = all_keys[start : start + MEMBER_QUERY_KEYS]
        rows = plain_rows(session, _members_query(len(chunk)), {f"k{i}": key for i, key in enumerate(chunk)})
        for key, cid in rows:
            members.setdefault(key, []).append(cid)
    candidates: dict[int, list[int]] = {}
    for cid, keys in keys_by_contact.items():
        # The members of its keys in key order, each once, itself left out, the first MAX_CANDIDATES: built
        # in C (dict.fromkeys keeps first-seen order), as this runs for every candidate of every contact.
        found = dict.fromkeys(chain.from_iterable(members.get(key, ()) for key in sorted(keys)))
        found.pop(cid, None)
        candidates[cid] = list(islice(found, MAX_CANDIDATES))
    involved = sorted({*keys_by_contact, *(o for others in candidates.values() for o in others)})
    views: dict[int, PersonView] = {}
    missing = involved
    if view_cache is not None:
        for cid in keys_by_contact:
            view_cache.pop(cid, None)
        missing = [cid for cid in involved if cid not in view_cache]
        views = {cid: view for cid in involved if (view := view_cache.get(cid)) is not None}
    for start in range(0, len(missing), 500):
        views.update(_person_views(session, missing[start : start + 500]))
    if view_cache is not None:
        if len(view_cache) + len(missing) > VIEW_CACHE_MAX:
            view_cache.clear()
        view_cache.update({cid: views.get(cid) for cid in missing})  # None: merged away or gone
    scored: list[tuple[int, int, float, list[str]]] = []
    for cid, others in candidates.items():
        me = views.get(cid)
        if me is None:
            continue
        near = close_by_name(me, [other for other in map(views.get, others) if other is not None])
        for other in near:
            score, reasons = score_pair(me, other)
            if score >= SUGGESTION_THRESHOLD:
                scored.append((cid, other.contact_id, score, reasons))
    result: dict[int, list] = {cid: [] for cid in keys_by_contact}
    for (cid, _, _, _), outcome in zip(scored, upsert_suggestions(session, scored), strict=True):
        if outcome is None:
            continue
        if outcomes:
            result[cid].append(outcome)
        elif outcome.created:
            result[cid].append(outcome.suggestion.id)
    return result


def suggestions_for_pairs(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], DuplicateSuggestion]:
    """The suggestions on file for these (a < b) pairs. Looked up by their first contact on its index, then
    matched here: SQLite answers `(a, b) IN (…)` by scanning the whole table (a step that grew with every
    suggestion made: 766,000 of them by the end of a 1M-record import)."""
    found: dict[tuple[int, int], DuplicateSuggestion] = {}
    s = DuplicateSuggestion.__table__
    wanted: list[int] = []
    for chunk in chunked(sorted({a for a, _ in pairs})):
        rows = plain_rows(session, sa.select(s.c.id, s.c.contact_a_id, s.c.contact_b_id).where(s.c.contact_a_id.in_(chunk)))
        wanted += [row_id for row_id, a, b in rows if (a, b) in pairs]
    for chunk in chunked(wanted):
        for row in session.exec(select(DuplicateSuggestion).where(col(DuplicateSuggestion.id).in_(chunk))):
            found[(row.contact_a_id, row.contact_b_id)] = row
    return found


def upsert_suggestions(
    session: Session, scored: list[tuple[int, int, float, list[str]]]
) -> list[SuggestionOutcome | None]:
    """upsert_suggestion for many (a, b, score, reasons), in order, with one read of the pairs already on file
    and one flush for all, in place of a query and a flush per pair."""
    known = suggestions_for_pairs(session, {tuple(sorted((a, b))) for a, b, _, _ in scored})
    results: list[SuggestionOutcome | None] = []
    for a, b, score, reasons in scored:
        pair = tuple(sorted((a, b)))
        outcome = _apply_suggestion(session, known.get(pair), pair, score, reasons)
        if outcome is not None:
            known[pair] = outcome.suggestion
        results.append(outcome)
    session.flush()
    return results


def upsert_suggestion(
    session: Session, *, a: int, b: int, score: float, reasons: list[str]
) -> SuggestionOutcome | None:
    pair = tuple(sorted((a, b)))
    existing = session.exec(
        select(DuplicateSuggestion).where(
            DuplicateSuggestion.contact_a_id == pair[0], DuplicateSuggestion.contact_b_id == pair[1]
        )
    ).first()
    outcome = _apply_suggestion(session, existing, pair, score, reasons)
    if outcome is not None and outcome.created:
        session.flush()
    return outcome


def _apply_suggestion(
    session: Session, existing: DuplicateSuggestion | None, pair: tuple[int, int], score: float, reasons: list[str]
) -> SuggestionOutcome | None:
    """The suggestion rules: a new pair opens a suggestion, an open one takes the higher score and every reason,
    a pair a person already decided about stays as decided (None)."""
    if existing is None:
        suggestion = DuplicateSuggestion(contact_a_id=pair[0], contact_b_id=pair[1], score=score, reasons=reasons)
        session.add(suggestion)
        return SuggestionOutcome(suggestion, created=True)
    if existing.status != "open":
        return None
    existing.score = max(existing.score, score)
    existing.reasons = list(dict.fromkeys([*existing.reasons, *reasons]))
    session.add(existing)
    return SuggestionOutcome(existing, created=False)

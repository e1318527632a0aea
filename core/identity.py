"""Identity resolution: which contact a record belongs to, merges (transitive, recorded, undoable) and
fuzzy duplicate suggestions (never merged automatically)."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import hooks
from core.db import among, chunked, db_json, db_timestamp, driver_insert, json_list, next_ids, plain_rows
from core.matching import (
    COMMON_NAME_NAMESAKES,
    SUGGESTION_THRESHOLD,
    PersonView,
    blocking_keys,
    cannot_reach_threshold,
    name_forms_of,
    names_near,
    score_pair,
)
from core.models import (
    Contact,
    ContactBlockKey,
    Conversation,
    DuplicateSuggestion,
    Identity,
    MergeEvent,
    Message,
    PendingSearch,
    Stage,
    Temperature,
    utcnow,
)
from core.normalize import InvalidIdentifier, fold_name, normalize_email

MAX_ALIASES = 20
# Candidates per blocking key (its newest members) and keys per contact: a very common name must not make one
# ingest compare against thousands.
MAX_CANDIDATES = 200
MAX_KEYS_COMPARED = 12


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
    # What the merge moved is where it put it (the survivor), or where later merges of the survivor took it. A
    # row elsewhere was given back by the undo of an earlier merge (Bea merged into Anna, Anna into Cel, the first
    # undone: Bea's rows are Bea's again) and stays there: taken, Bea was left with nothing.
    holders = _merge_chain(session, survivor.id)
    for table, key in ((Identity, "identities"), (Conversation, "conversations"), (Message, "messages")):
        ids = moved.get(key) or []
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            session.exec(sa.update(table).where(col(table.id).in_(chunk), col(table.contact_id).in_(holders))
                         .values(contact_id=merged.id))
    # Messages that arrived after the merge inside a conversation given back follow their conversation.
    conv_ids = moved.get("conversations") or []
    for chunk_start in range(0, len(conv_ids), 500):
        chunk = conv_ids[chunk_start : chunk_start + 500]
        session.exec(
            sa.update(Message).where(col(Message.conversation_id).in_(chunk), col(Message.contact_id).in_(holders))
            .values(contact_id=merged.id)
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
    # (and the live contact that holds the survivor now, whom the rows given back left)
    holder = session.get(Contact, holders[-1]) if holders[-1] != survivor.id else None
    for contact in (merged, survivor, *([holder] if holder is not None else [])):
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
    if holder is not None:
        refresh_block_keys(session, holder)
    return event


def _merge_chain(session: Session, contact_id: int) -> list[int]:
    """The contact and those it was merged into since, in turn (the last one live)."""
    chain = [contact_id]
    while (contact := session.get(Contact, chain[-1])) is not None and contact.merged_into is not None:
        if contact.merged_into in chain:  # (a cycle: resolve_contact_id says so where it matters)
            break
        chain.append(contact.merged_into)
    return chain


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
    if suggestion.status == "merged":
        # (a list read before the merge: marked dismissed, the merged pair said "two different people")
        raise IdentityError("these two were merged since: undo the merge to keep them apart")
    suggestion.status = "dismissed"
    suggestion.decided_at = utcnow()
    suggestion.decided_by = actor[:320]
    session.add(suggestion)
    return suggestion


# --------------------------------------------------------------------------- fuzzy duplicates


@dataclass
class SuggestionOutcome:
    suggestion_id: int
    created: bool


def _person_views(session: Session, contact_ids: list[int]) -> dict[int, PersonView]:
    if not contact_ids:
        return {}
    # The driver's tuples, not ORM objects or Rows: this runs for every candidate of every new contact.
    c, i = Contact.__table__, Identity.__table__
    contacts = plain_rows(
        session,
        sa.select(c.c.id, c.c.display_name, c.c.aliases, c.c.company).where(
            among(c.c.id, contact_ids), c.c.merged_into.is_(None)
        ),
    )
    domains: dict[int, set[str]] = {}
    # The kind is checked here, not in SQL: given `kind = 'email'` too, SQLite walks the (kind, value) index
    # over every e-mail in the store instead of looking up these contact ids (the duplicate search then grew
    # with the store).
    rows = plain_rows(session, sa.select(i.c.contact_id, i.c.kind, i.c.value).where(among(i.c.contact_id, contact_ids)))
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
# A bulk path's block index starts afresh beyond this many contacts' name forms (~150 bytes each).
BLOCK_INDEX_MAX = 400_000


class BlockIndex:
    """The blocking keys' newest members (at most MAX_CANDIDATES each, as the members query reads them) with the
    name forms of each member, laid out per key as the flat lists rapidfuzz compares in C.

    suggest_pairs_for builds a fresh one per call; a bulk run keeps one across its batches (core.batch), so a
    key's members and their names are read once per run instead of once per batch, and a new member is added to
    its keys' lists instead of them being laid out again: at 100,000 contacts a new contact meets ~400
    candidates, and reading and walking those in Python was most of an import. Its owner files the keys it
    writes (`file`) and drops the index after anything it cannot follow (a merge, a rollback); contacts other
    writers create meanwhile are caught up by id (`catch_up`)."""

    def __init__(self) -> None:
        self.members: dict[str, list[int]] = {}  # oldest first
        self.forms: dict[int, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}  # None: merged away or gone
        self.watermark = 0  # every key filed for a contact up to this id is known (bulk runs)
        # Per key: its members' sorted-word forms, skeleton forms and whose they are (the members' order).
        self._arrays: dict[str, tuple[list[str], list[str], list[int]]] = {}

    @classmethod
    def for_bulk_run(cls, session: Session) -> BlockIndex:
        """An index a bulk run keeps: what is filed so far is read when a key is first needed, anything newer
        by catch_up."""
        index = cls()
        index.watermark = session.connection().exec_driver_sql(
            f"SELECT max(contact_id) FROM {ContactBlockKey.__tablename__}").scalar() or 0
        return index

    def size(self) -> int:
        return len(self.forms)

    def load(self, session: Session, keys: Iterable[str]) -> None:
        """Read the members of the keys not loaded yet, and the names of members not known yet."""
        wanted = sorted(k for k in set(keys) if k not in self.members)
        for start in range(0, len(wanted), MEMBER_QUERY_KEYS):
            chunk = wanted[start : start + MEMBER_QUERY_KEYS]
            for key in chunk:
                self.members[key] = []
            for key, cid in plain_rows(session, _members_query(len(chunk)), {f"k{i}": k for i, k in enumerate(chunk)}):
                self.members[key].append(cid)
            for key in chunk:
                self.members[key].reverse()  # read newest first
        self.read_names(session, [cid for key in wanted for cid in self.members[key] if cid not in self.forms])

    def read_names(self, session: Session, contact_ids: Iterable[int]) -> None:
        """(Re)read the names of these contacts; the keys they are members of are laid out again if they changed."""
        c = Contact.__table__
        for chunk in chunked(sorted(set(contact_ids))):
            found = {cid: (name, aliases) for cid, name, aliases in plain_rows(session, sa.select(
                c.c.id, c.c.display_name, c.c.aliases).where(among(c.c.id, chunk), c.c.merged_into.is_(None)))}
            for cid in chunk:
                row = found.get(cid)
                self.set_names(cid, [n for n in [row[0], *json_list(row[1])] if n] if row else None)

    def set_names(self, contact_id: int, names: list[str] | None) -> None:
        """A contact's names as they are now (None: merged away or gone). The keys whose lists hold the contact
        are laid out again if its forms changed: those of its names now, as within a run names are only
        added (anything else, a merge or a rename, makes its owner drop the index)."""
        forms = name_forms_of(names) if names is not None else None
        if contact_id in self.forms and self.forms[contact_id] != forms:
            for key in blocking_keys(names or []):
                self._arrays.pop(key, None)
        self.forms[contact_id] = forms

    def file(self, session: Session, rows: Iterable[tuple[int, str]]) -> None:
        """(contact id, key) rows just written: each contact joins the members of a loaded key in its place, as
        the members query would now read them. Keys not loaded yet are read whole when first needed."""
        rows = [(cid, key) for cid, key in rows if key in self.members]
        self.read_names(session, [cid for cid, _ in rows if cid not in self.forms])
        for cid, key in rows:
            block = self.members[key]
            if block and cid <= block[-1]:  # not the newest: (rarely) somewhere in the middle, if at all
                if cid in block or (len(block) >= MAX_CANDIDATES and cid < block[0]):
                    continue
                bisect.insort(block, cid)
                self._arrays.pop(key, None)
            else:
                block.append(cid)
                laid_out = self._arrays.get(key)
                forms = self.forms.get(cid)
                if laid_out is not None and forms:
                    laid_out[0].extend(forms[0])
                    laid_out[1].extend(forms[1])
                    laid_out[2].extend([cid] * len(forms[0]))
            if len(block) > MAX_CANDIDATES:
                oldest = block.pop(0)
                laid_out = self._arrays.get(key)
                if laid_out is not None:  # laid out in member order: the oldest member's forms come first
                    count = len((self.forms.get(oldest) or ((),))[0])
                    for column in laid_out:
                        del column[:count]

    def advance(self, session: Session, names: dict[int, list[str]], filed: list[tuple[int, str]]) -> None:
        """After a batch of this run: its contacts' names, the keys it filed, and other writers' new contacts."""
        for cid, contact_names in names.items():
            self.set_names(cid, contact_names)
        self.file(session, filed)
        self.catch_up(session, filed={cid for cid, _ in filed})

    def catch_up(self, session: Session, *, filed: Container[int] = frozenset()) -> None:
        """File the keys written for contacts newer than the watermark: other writers', and this run's but for
        the contacts it has just filed itself (`filed`)."""
        k = ContactBlockKey.__table__
        rows = plain_rows(session, sa.select(k.c.contact_id, k.c.key).where(k.c.contact_id > self.watermark)
                          .order_by(k.c.contact_id))
        if rows:
            self.file(session, [row for row in rows if row[0] not in filed])
            self.watermark = max(self.watermark, rows[-1][0])

    def arrays(self, key: str) -> tuple[list[str], list[str], list[int]]:
        laid_out = self._arrays.get(key)
        if laid_out is None:
            sorted_forms: list[str] = []
            skeletons: list[str] = []
            owners: list[int] = []
            for cid in self.members.get(key, ()):
                forms = self.forms.get(cid)
                if forms:
                    sorted_forms += forms[0]
                    skeletons += forms[1]
                    owners += [cid] * len(forms[0])
            laid_out = self._arrays[key] = (sorted_forms, skeletons, owners)
        return laid_out

    def namesakes(self, contact_id: int, others: Iterable[int]) -> int:
        """How many of the others carry one of the contact's names exactly (up to word order and folding)."""
        mine = set((self.forms.get(contact_id) or ((),))[0])
        return sum(1 for other in others if not mine.isdisjoint((self.forms.get(other) or ((),))[0]))

    def near(self, contact_id: int, keys: set[str]) -> list[int]:
        """The contacts filed under the contact's keys (the first MAX_KEYS_COMPARED in key order) whose names
        reach the floor against its own: in key order, newest first within a key."""
        mine = self.forms.get(contact_id)
        if not mine or not mine[0]:
            return []
        found: dict[int, tuple[int, int]] = {}
        for rank, key in enumerate(sorted(keys)[:MAX_KEYS_COMPARED]):
            sorted_forms, skeletons, owners = self.arrays(key)
            for i in names_near(mine, sorted_forms, skeletons):
                cid = owners[i]
                if cid != contact_id and cid not in found:
                    found[cid] = (rank, -cid)
        return sorted(found, key=found.__getitem__)


# A pending search older than this was handed out by a run that died (a live one takes a batch or two).
PENDING_SEARCH_MAX_AGE = timedelta(minutes=10)


def search_pending(session: Session, *, older_than: timedelta | None = None, limit: int = 5000) -> int:
    """The duplicate search of contacts a bulk run handed to its helper process and never saw through (it died
    between the batch and the next commit): rows of pending_searches older than `older_than` (default
    PENDING_SEARCH_MAX_AGE). Works in the caller's transaction; returns how many contacts were searched."""
    p, c = PendingSearch.__table__, Contact.__table__
    cutoff = utcnow() - (PENDING_SEARCH_MAX_AGE if older_than is None else older_than)
    ids = [row[0] for row in plain_rows(session, sa.select(p.c.contact_id).where(
        p.c.created_at <= cutoff).order_by(p.c.contact_id).limit(limit))]
    if not ids:
        return 0
    names: dict[int, list[str]] = {}
    for chunk in chunked(ids):
        for cid, display_name, aliases in plain_rows(session, sa.select(c.c.id, c.c.display_name, c.c.aliases).where(
                among(c.c.id, chunk), c.c.merged_into.is_(None))):
            names[cid] = [n for n in [display_name, *json_list(aliases)] if n]
    keys = {cid: blocking_keys(contact_names) for cid, contact_names in names.items() if contact_names}
    if keys:
        suggest_pairs_for(session, keys, names=names)
    forget_pending_searches(session, ids)
    return len(ids)


def forget_pending_searches(session: Session, contact_ids: Iterable[int]) -> None:
    # The ids as one parameter (core.db.among): an IN list is a statement of a new length, expanded and parsed
    # again, for nearly every batch of an import (1.6 against 0.65 us a contact).
    p = PendingSearch.__table__
    for chunk in chunked(sorted(set(contact_ids))):
        session.execute(sa.delete(p).where(among(p.c.contact_id, chunk)))


def suggest_pairs_for(
    session: Session, keys_by_contact: dict[int, set[str]], *, outcomes: bool = False,
    view_cache: dict[int, PersonView | None] | None = None, index: BlockIndex | None = None,
    names: dict[int, list[str]] | None = None,
) -> dict:
    """Compare each contact with the others filed under one of its keys (the newest MAX_CANDIDATES of each) and
    open suggestions for pairs scoring over the threshold (find_duplicate_pairs, then upsert_suggestions).
    Returns, per contact, the new suggestion ids (or the SuggestionOutcomes when `outcomes`)."""
    scored = find_duplicate_pairs(session, keys_by_contact, view_cache=view_cache, index=index, names=names)
    result: dict[int, list] = {cid: [] for cid in keys_by_contact}
    for (cid, _, _, _), outcome in zip(scored, upsert_suggestions(session, scored), strict=True):
        if outcome is None:
            continue
        if outcomes:
            result[cid].append(outcome)
        elif outcome.created:
            result[cid].append(outcome.suggestion_id)
    return result


def find_duplicate_pairs(
    session: Session, keys_by_contact: dict[int, set[str]], *,
    view_cache: dict[int, PersonView | None] | None = None, index: BlockIndex | None = None,
    names: dict[int, list[str]] | None = None,
) -> list[tuple[int, int, float, list[str]]]:
    """(contact, candidate, score, reasons) for each pair of a contact and a candidate filed under one of its
    keys that scores at least SUGGESTION_THRESHOLD. Reads only.

    `index`: a bulk path's BlockIndex (its owner files the keys it wrote and catches it up first); `view_cache`:
    its views of candidates from earlier batches (its owner drops the contacts it changes). The contacts being
    compared are always read afresh, but for their names when the caller has them as they are now (`names`)."""
    index = index if index is not None else BlockIndex()
    # Each key contributes at most MAX_CANDIDATES of its newest members (an index range scan on
    # (key, contact_id)), so a common name costs the same at a thousand contacts and at a million.
    index.load(session, {key for keys in keys_by_contact.values() for key in sorted(keys)[:MAX_KEYS_COMPARED]})
    if names is None:
        index.read_names(session, keys_by_contact)
    else:
        for cid in keys_by_contact:
            index.set_names(cid, names[cid])
    near = {cid: index.near(cid, keys) for cid, keys in keys_by_contact.items()}
    # Full views (company, e-mail domains) only for the pairs whose names are close: a handful per contact.
    involved = sorted({*keys_by_contact, *chain.from_iterable(near.values())})
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
    for cid, others in near.items():
        me = views.get(cid)
        if me is None:
            continue
        common_name = functools.cache(lambda cid=cid, others=others: index.namesakes(cid, others) >= COMMON_NAME_NAMESAKES)
        for other in filter(None, map(views.get, others)):
            if cannot_reach_threshold(me, other):
                continue
            score, reasons = score_pair(me, other, common_name=common_name)
            if score >= SUGGESTION_THRESHOLD:
                scored.append((cid, other.contact_id, score, reasons))
    return scored


def suggestions_on_file(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], tuple]:
    """(id, status, score, reasons) of the suggestions on file for these (a < b) pairs. Looked up by their first
    contact on its index, then matched here: SQLite answers `(a, b) IN (…)` by scanning the whole table (a step
    that grew with every suggestion made: 766,000 of them by the end of a 1M-record import)."""
    s = DuplicateSuggestion.__table__
    found: dict[tuple[int, int], tuple] = {}
    for chunk in chunked(sorted({a for a, _ in pairs})):
        for row_id, a, b, status, score, reasons in plain_rows(session, sa.select(
                s.c.id, s.c.contact_a_id, s.c.contact_b_id, s.c.status, s.c.score, s.c.reasons)
                .where(among(s.c.contact_a_id, chunk))):
            if (a, b) in pairs:
                found[(a, b)] = (row_id, status, score, json_list(reasons))
    return found


def upsert_suggestions(
    session: Session, scored: list[tuple[int, int, float, list[str]]]
) -> list[SuggestionOutcome | None]:
    """The suggestion rules for many (a, b, score, reasons), in order: a new pair opens a suggestion, an open one
    takes the higher score and every reason, a pair a person already decided about stays as decided (None).
    One read of the pairs on file, one executemany for the new ones and one for the changed ones: ORM objects
    for the tens of thousands of pairs an import opens cost more than writing them."""
    if not scored:
        return []
    session.flush()  # the statements below go past the session: what it holds must be in the database first
    pairs = [(min(a, b), max(a, b)) for a, b, _, _ in scored]
    on_file = suggestions_on_file(session, set(pairs))
    pending: dict[tuple[int, int], list] = {}  # pair -> [id, score, reasons, created, changed]
    results: list[tuple[list, bool] | None] = []  # (the pair's row, whether this one opened it)
    for pair, (_, _, score, reasons) in zip(pairs, scored, strict=True):
        row = pending.get(pair)
        if row is None:
            known = on_file.get(pair)
            if known is None:
                row = pending[pair] = [None, score, list(reasons), True, True]
                results.append((row, True))
                continue
            if known[1] != "open":
                results.append(None)
                continue
            row = pending[pair] = [known[0], known[2], known[3], False, False]
        _merge_into(row, score, reasons)
        results.append((row, False))
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    new = [(pair, row) for pair, row in pending.items() if row[3]]
    now = db_timestamp(utcnow(), sqlite)
    for (_, row), new_id in zip(new, next_ids(connection, "duplicate_suggestions", len(new)), strict=True):
        row[0] = new_id
    driver_insert(connection, "duplicate_suggestions",
                  ("id", "contact_a_id", "contact_b_id", "score", "reasons", "status", "created_at", "decided_by"),
                  [(row[0], pair[0], pair[1], row[1], db_json(row[2]), "open", now, "") for pair, row in new],
                  json_columns=frozenset({"reasons"}))
    changed = [row for row in pending.values() if row[4] and not row[3]]
    if changed:
        mark = "?" if sqlite else "%s"
        connection.exec_driver_sql(
            f"UPDATE duplicate_suggestions SET score = {mark}, reasons = {mark if sqlite else f'CAST({mark} AS JSON)'}"
            f" WHERE id = {mark} AND status = 'open'",
            [(row[1], db_json(row[2]), row[0]) for row in changed])
    # The session's own copies of these suggestions must show what was written.
    touched = {row[0] for row in pending.values() if not row[3]}
    for key, obj in list(session.identity_map.items()):
        if key[0] is DuplicateSuggestion and key[1][0] in touched:
            session.expire(obj)
    return [None if item is None else SuggestionOutcome(item[0][0], created=item[1]) for item in results]


def _merge_into(row: list, score: float, reasons: list[str]) -> None:
    merged = list(dict.fromkeys([*row[2], *reasons]))
    if score > row[1] or merged != row[2]:
        row[1], row[2], row[4] = max(row[1], score), merged, True


def upsert_suggestion(
    session: Session, *, a: int, b: int, score: float, reasons: list[str]
) -> SuggestionOutcome | None:
    return upsert_suggestions(session, [(a, b, score, reasons)])[0]

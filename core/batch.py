"""Batched ingest for bulk paths (import, back-fills): the same rules as `core.ingest.ingest`, fewer round trips.

Each batch prefetches what it needs (known messages, identities, contacts, conversations) in a few queries,
resolves records in memory in order, and writes with multi-row statements. Any record that needs more than
"join one contact or create one" — a merge, a shared role address, an erased person, a conflict — is handed to
`ingest` itself, so there is one set of rules. tests/core/test_batch.py proves both paths leave the same store.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import hooks
from core.db import (
    among,
    chunked,
    db_json,
    db_timestamp,
    driver_insert,
    driver_update,
    is_transient_db_error,
    json_list,
    next_ids,
    pause_after_conflict,
    plain_rows,
    read_timestamp,
)
from core.identity import (
    BLOCK_INDEX_MAX,
    BlockIndex,
    find_duplicate_pairs,
    suggest_pairs_for,
    upsert_suggestions,
)
from core.ingest import (
    IngestError,
    IngestOptions,
    _Plan,
    _run_post_ingest_hooks,
    extract_identities,
    ingest,
    is_redaction,
    message_html,
    redact_message,
)
from core.matching import blocking_keys, names_compatible
from core.models import (
    Contact,
    ContactBlockKey,
    Conversation,
    Identity,
    Message,
    Suppression,
    utcnow,
)
from core.normalize import clean_display_name, fold_name, latin_search_text
from core.schemas import InboundRecord, IngestResult

MAX_ALIASES = 20
# Whole-batch retries after a deadlock or serialization failure against another worker.
BATCH_ATTEMPTS = 5
log = logging.getLogger(__name__)


@dataclass(eq=False)
class _PendingContact:
    row: dict[str, Any]
    id: int | None = None
    new: bool = False
    dirty: bool = False
    suggest: bool = False
    queued: bool = False  # in the batch's list of contacts to insert
    stored: tuple[Any, Any, Any] = (None, None, None)  # display name, company and owner as the store has them

    def __post_init__(self) -> None:
        self.remember_stored()

    def remember_stored(self) -> None:
        """What the store holds now (read, or just written): the batch writes name, company and owner only
        where they differ from it."""
        self.stored = (self.row.get("display_name"), self.row.get("company"), self.row.get("owner_id"))


@dataclass(eq=False)
class _PendingConversation:
    row: dict[str, Any]
    contact: _PendingContact
    id: int | None = None
    new: bool = False
    dirty: bool = False


@dataclass(eq=False)
class _Outcome:
    status: str
    record: InboundRecord | None = None
    contact_created: bool = False
    same_as: _Outcome | None = None  # a repeat, in this batch, of an earlier record's message
    contact: _PendingContact | None = None
    conversation: _PendingConversation | None = None
    message_row: dict[str, Any] | None = None
    result: IngestResult | IngestError | None = None
    warnings: list[str] = field(default_factory=list)
    # A new person who shares one strong identifier (an office phone) with a differently named contact:
    # (that contact, the shared value) for the suggestion core.ingest makes of it.
    conflict: tuple[_PendingContact, str] | None = None


CONTACT_FIELDS = ("id", "display_name", "company", "title", "owner_id", "aliases", "merged_into", "last_message_at")


# session.info key: views of duplicate candidates kept across the batches of one bulk run (an import or a
# back-fill reuses one session). Rebuilding them every batch was a quarter of a 40k import.
VIEW_CACHE_KEY = "leadhub.candidate_views"


# session.info key: the BlockIndex (core.identity) of a bulk run, kept across its batches like the views.
BLOCK_INDEX_KEY = "leadhub.block_index"
# session.info key: set (to True) whenever the views and the index are dropped, so that a copy kept elsewhere
# (the importer's helper process) is dropped too.
INDEX_RESET_KEY = "leadhub.block_index_reset"
# session.info key: a list there means "file the block keys, but leave the duplicate search to me": each batch
# appends a SuggestionRequest for its caller (core.importer has a helper process search after the commit).
SUGGEST_LATER_KEY = "leadhub.suggest_later"


@dataclass
class SuggestionRequest:
    """A batch's duplicate search, to be run against the store as the batch's commit left it."""

    keys_by_contact: dict[int, set[str]]
    names: dict[int, list[str]]  # as written by the batch
    filed: list[tuple[int, str]]  # the block keys the batch wrote
    changed: list[int]  # contacts whose candidate views (names, company) may have changed


def forget_candidate_views(session: Session, *_: Any) -> None:
    session.info.pop(VIEW_CACHE_KEY, None)
    session.info.pop(BLOCK_INDEX_KEY, None)
    session.info[INDEX_RESET_KEY] = True


# Any rollback (a savepoint of a retried batch included) may have taken back rows the cached views describe,
# and SQLite hands a rolled-back id to the next insert.
sa.event.listen(Session, "after_soft_rollback", forget_candidate_views)


# Bulk paths allocate millions of short-lived objects (rows, records, parameter dicts); with the default
# thresholds the collector ran ~700 times per 10k-record import and re-walked every long-lived object (the
# app's modules, SQLAlchemy's metadata, the caches) on each full pass: a quarter of the import's time.
BULK_GC_THRESHOLD = 50_000
_bulk_gc_lock = threading.Lock()
_bulk_gc_depth = 0
_bulk_gc_froze = False  # this run froze the heap, so it decides when collections happen
_bulk_gc_was_enabled = True
_saved_threshold: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Around a bulk run, process-wide (nested and concurrent runs share one setting; the last one out restores
    it). In a process whose heap nobody froze (`leadhub import`, a worker's back-fill) what exists now is
    frozen and the collector runs only at bulk_gc_checkpoint, between batches: a run's own caches (the
    duplicate search's block index, views, the normalisers' memos) grow with the store, and automatic young
    collections, which walk young containers and all they point to, took a fifth of an import at 40,000
    contacts. A batch leaves little cyclic garbage (~0.7 objects a record). In a serving process (its startup
    heap frozen, webapp.freeze_startup_heap) young collections only get rarer, and none is forced, so a sync
    stalls no request."""
    global _bulk_gc_depth, _bulk_gc_froze, _saved_threshold, _bulk_gc_was_enabled
    with _bulk_gc_lock:
        _bulk_gc_depth += 1
        if _bulk_gc_depth == 1:
            _saved_threshold = gc.get_threshold()
            _bulk_gc_froze = gc.get_freeze_count() == 0
            if _bulk_gc_froze:
                gc.freeze()
                _bulk_gc_was_enabled = gc.isenabled()
                gc.disable()
            else:
                gc.set_threshold(BULK_GC_THRESHOLD, *_saved_threshold[1:])
    try:
        yield
    finally:
        with _bulk_gc_lock:
            _bulk_gc_depth -= 1
            if _bulk_gc_depth == 0:
                gc.set_threshold(*_saved_threshold)
                if _bulk_gc_froze:
                    gc.unfreeze()  # back to the oldest generation, where garbage among it is collected
                    if _bulk_gc_was_enabled:
                        gc.enable()


# A checkpoint collects once this many new objects are about; objects that die before are never walked.
BULK_GC_CHECKPOINT_OBJECTS = 200_000


def bulk_gc_checkpoint() -> None:
    """Between the batches of a bulk run that froze the heap itself: once enough new objects are about, collect
    the cyclic garbage among them, then freeze what survived, so no later pass walks it again. Elsewhere
    nothing."""
    with _bulk_gc_lock:
        if _bulk_gc_depth and _bulk_gc_froze and gc.get_count()[0] >= BULK_GC_CHECKPOINT_OBJECTS:
            gc.collect(0)
            gc.freeze()


def ingest_many(
    session: Session, records: list[InboundRecord], *, options: IngestOptions | None = None,
    plans: list[_Plan] | None = None,
) -> list[IngestResult | IngestError]:
    """Ingest records in order; returns one IngestResult (or the IngestError) per record. `plans`: the records'
    identifiers already normalised (core.ingest.extract_identities, e.g. by the importer's helper processes)."""
    options = options or IngestOptions()
    later = session.info.get(SUGGEST_LATER_KEY)
    requested = len(later) if later is not None else 0
    for attempt in range(BATCH_ATTEMPTS):
        last = attempt == BATCH_ATTEMPTS - 1
        if later is not None:
            del later[requested:]  # what a rolled-back attempt asked for
        try:
            # The savepoint holds every row lock the batch takes: rolling it back releases them all, so the
            # writer we collided with can finish before we run again.
            with session.begin_nested():
                return _Batch(session, records, options, plans).run()
        except IntegrityError:
            # A concurrent writer stored one of our identities (or messages) first. Run the batch again: its
            # prefetch now sees that writer's rows. The one-by-one path is the last resort; it updates
            # contacts in record order, which is what deadlocks against a batch.
            if last:
                with session.begin_nested():
                    return [_single(session, record, options) for record in records]
        except sa.exc.DBAPIError as exc:
            if not is_transient_db_error(exc) or last:
                raise
        log.info("batch of %d records lost a race with a concurrent writer; retrying", len(records))
        pause_after_conflict(attempt, base=0.1)
    raise AssertionError("unreachable")


def _single(session: Session, record: InboundRecord, options: IngestOptions) -> IngestResult | IngestError:
    try:
        return ingest(session, record, options=options)
    except IngestError as exc:
        return exc


# After a record that took the full ingest path, the batch reads ahead at least this many records.
MIN_WINDOW = 16


class _Batch:
    def __init__(self, session: Session, records: list[InboundRecord], options: IngestOptions,
                 plans: list[_Plan] | None = None):
        self.session, self.records, self.options = session, records, options
        self.plans = plans if plans is not None else [
            extract_identities(r.contact, r.channel, region=options.default_phone_region) for r in records]
        self.outcomes: list[_Outcome] = []
        self._new_contacts: list[_PendingContact] = []
        self._new_identities: list[tuple[_PendingContact, Any, str]] = []

    # ------------------------------------------------------------------ prefetch

    def _prefetch(self, start: int, count: int) -> int:
        """Read what records[start:start + count] need; returns where that window ends."""
        end = min(start + count, len(self.records))
        records, plans = self.records[start:end], self.plans[start:end]
        self.known_messages: dict[tuple[str, str], tuple[int, int, int] | _Outcome] = {}
        by_channel: dict[str, list[str]] = {}
        for record in records:
            if record.message is not None:
                by_channel.setdefault(record.channel, []).append(record.message.external_id)
        # The driver's tuples (core.db.plain_rows): these reads run for every batch.
        m, i, c, v = Message.__table__, Identity.__table__, Contact.__table__, Conversation.__table__
        for channel, ids in by_channel.items():
            for chunk in chunked(ids):
                for mid, ext, conv, contact in plain_rows(self.session, sa.select(
                        m.c.id, m.c.external_id, m.c.conversation_id, m.c.contact_id).where(
                        m.c.channel == channel, among(m.c.external_id, chunk))):
                    self.known_messages[(channel, ext)] = (mid, conv, contact)
        by_kind: dict[str, set[str]] = {}
        for plan in plans:
            for candidate in plan.candidates:
                by_kind.setdefault(candidate.kind, set()).add(candidate.value)
        found: dict[tuple[str, str], tuple[int, bool]] = {}
        for kind, kind_values in by_kind.items():
            # kind first: the lookup must ride the (kind, value) unique index, not scan the table.
            for chunk in chunked(sorted(kind_values)):
                for value, contact_id, weak in plain_rows(self.session, sa.select(
                        i.c.value, i.c.contact_id, i.c.is_weak).where(i.c.kind == kind, among(i.c.value, chunk))):
                    found[(kind, value)] = (contact_id, bool(weak))
        contact_ids = sorted({cid for cid, _ in found.values()})
        self.contacts: dict[int, _PendingContact] = {}
        columns = [c.c[name] for name in CONTACT_FIELDS]
        for chunk in chunked(contact_ids):
            for row in plain_rows(self.session, sa.select(*columns).where(among(c.c.id, chunk))):
                data = dict(zip(CONTACT_FIELDS, row, strict=True))
                data["aliases"] = json_list(data["aliases"])
                data["last_message_at"] = read_timestamp(data["last_message_at"])
                self.contacts[data["id"]] = _PendingContact(row=data, id=data["id"])
        self.identities: dict[tuple[str, str], tuple[_PendingContact | None, bool]] = {
            key: (self.contacts.get(cid), weak) for key, (cid, weak) in found.items()
        }
        self.conversations: dict[tuple[str, str, str], _PendingConversation] = {}
        threads: dict[tuple[str, str], list[str]] = {}
        for record in records:
            if record.message is not None:
                scope = record.scope or (str(record.account_id) if record.account_id else "")
                threads.setdefault((record.channel, scope), []).append(
                    record.message.thread_id or record.message.external_id
                )
        self.existing_threads: dict[tuple[str, str, str], tuple[int, int, Any]] = {}
        for (channel, scope), keys in threads.items():
            for chunk in chunked(sorted(set(keys))):
                for cid, contact_id, last, ext in plain_rows(self.session, sa.select(
                        v.c.id, v.c.contact_id, v.c.last_message_at, v.c.external_id).where(
                        v.c.channel == channel, v.c.scope == scope, among(v.c.external_id, chunk))):
                    self.existing_threads[(channel, scope, ext)] = (cid, contact_id, read_timestamp(last))
        self.suppressed_hashes: set[tuple[str, str]] | None = None
        if self.session.exec(select(sa.func.count()).select_from(Suppression)).one():
            self.suppressed_hashes = set(self.session.exec(select(Suppression.kind, Suppression.value_hash)).all())
        return end

    # ------------------------------------------------------------------ the loop

    def run(self) -> list[IngestResult | IngestError]:
        window = len(self.records)
        end = self._prefetch(0, window)
        index = last_slow = 0
        while index < len(self.records):
            if index == end:
                # The window after a record that took the full path is used up without another one: write
                # what is pending (a prefetch must not overwrite it) and read a window twice as big.
                self._flush()
                end = self._prefetch(index, 2 * window)
                window *= 2
            record, plan = self.records[index], self.plans[index]
            outcome = self._fast(record, plan)
            if outcome is None:
                # Not a simple case: write what is pending, let the full path decide, then look again.
                self._flush()
                self.outcomes.append(_Outcome("slow", result=_single(self.session, record, self.options)))
                forget_candidate_views(self.session)  # the full path may merge or rename anyone
                # What it changed may be what the rest of the batch prefetched: read again, but only as far as
                # such records have been apart (the rest of the batch when they are rare): re-reading the
                # whole rest after each of many such records made a batch cost its size squared.
                window = max(MIN_WINDOW, 4 * (index + 1 - last_slow))
                last_slow = index + 1
                end = self._prefetch(index + 1, window)
            else:
                self.outcomes.append(outcome)
            index += 1
        self._flush()
        return [o.result for o in self.outcomes]  # type: ignore[misc]

    def _fast(self, record: InboundRecord, plan: _Plan) -> _Outcome | None:
        message_in = record.message
        if message_in is not None:
            known = self.known_messages.get((record.channel, message_in.external_id))
            if isinstance(known, _Outcome):
                return _Outcome("known", same_as=known, warnings=plan.warnings)
            if known is not None:
                mid, conv, contact_id = known
                if self.contacts.get(contact_id) and self.contacts[contact_id].row["merged_into"]:
                    return None
                if self.options.provider_redactions and is_redaction(message_in):
                    redact_message(self.session, message_id=mid, message=message_in)
                return _Outcome("known", result=IngestResult(
                    status="known", contact_id=contact_id, conversation_id=conv, message_id=mid, warnings=plan.warnings))
        elif not plan.candidates:
            return _Outcome("error", result=IngestError(
                "the record has no email, phone, LinkedIn URL or user id to identify the person by"))
        if self.suppressed_hashes is not None:
            return None  # erased people exist: let the full path check this record
        matched: set[int] = set()
        for candidate in plan.candidates:
            hit = self.identities.get((candidate.kind, candidate.value))
            if hit is None:
                continue
            owner, weak = hit
            if owner is None or weak or candidate.weak:
                return None
            matched.add(owner)
        if len(matched) > 1:
            return None
        name = clean_display_name(record.contact.name)
        conflict: tuple[_PendingContact, str] | None = None
        if matched:
            contact = next(iter(matched))
            if contact.row["merged_into"] is not None:
                return None
            names = [n for n in [contact.row["display_name"], *contact.row["aliases"]] if n]
            if names and not any(names_compatible(name, n) for n in names):
                # An identifier of differently named people (an office phone, a shared mailbox): like
                # core.ingest, a new contact and a suggestion, never a merge. With more than one identifier
                # shared the full path decides (its reason lists them in its own order).
                shared = [c.value for c in plan.candidates if (c.kind, c.value) in self.identities]
                if len(shared) != 1:
                    return None
                conflict, matched = (contact, shared[0]), set()
        if not matched:
            contact = _PendingContact(
                row={"display_name": name, "company": "", "title": "", "owner_id": record.owner_id, "aliases": [],
                     "merged_into": None, "last_message_at": None},
                new=True,
                suggest=True,
            )
        changed = False
        for candidate in plan.candidates:
            key = (candidate.kind, candidate.value)
            if key not in self.identities:
                self.identities[key] = (contact, candidate.weak)
                self._new_identities.append((contact, candidate, record.channel))
                contact.suggest = changed = True
        changed |= self._fill(contact, record, name)
        created_contact = not matched
        outcome = _Outcome("created" if message_in is not None or created_contact else "known", contact=contact,
                           warnings=plan.warnings, record=record, contact_created=created_contact,
                           conflict=conflict)
        if message_in is not None:
            self._message(record, contact, outcome)
            self.known_messages[(record.channel, message_in.external_id)] = outcome
        elif not created_contact:
            outcome.status = "updated" if changed else "known"
        if contact.new and not contact.queued:
            contact.queued = True
            self._new_contacts.append(contact)
        return outcome

    def _fill(self, contact: _PendingContact, record: InboundRecord, name: str) -> bool:
        """The same field rules as core.ingest._fill_fields; True if anything changed."""
        row, changed = contact.row, False
        if name and not row["display_name"]:
            row["display_name"] = name
            contact.suggest = changed = True
        elif name and fold_name(name) != fold_name(row["display_name"]):
            known = {fold_name(n) for n in [row["display_name"], *row["aliases"]] if n}
            if fold_name(name) and fold_name(name) not in known and len(row["aliases"]) < MAX_ALIASES:
                row["aliases"] = [*row["aliases"], name]
                contact.suggest = changed = True
        for attr in ("company", "title"):
            value = clean_display_name(getattr(record.contact, attr))
            if value and not row[attr]:
                row[attr] = value
                changed = True
                # A company learnt later is evidence for a pair its name alone did not make (core.ingest searches
                # again after any change): search again, as the one-by-one path does.
                contact.suggest |= attr == "company"
        if record.owner_id and not row["owner_id"]:
            row["owner_id"] = record.owner_id
            changed = True
        contact.dirty |= changed
        return changed

    def _message(self, record: InboundRecord, contact: _PendingContact, outcome: _Outcome) -> None:
        message_in = record.message
        assert message_in is not None
        scope = record.scope or (str(record.account_id) if record.account_id else "")
        thread_key = message_in.thread_id or message_in.external_id
        key = (record.channel, scope, thread_key)
        conversation = self.conversations.get(key)
        if conversation is None:
            existing = self.existing_threads.get(key)
            if existing is not None:
                owner = self.contacts.get(existing[1]) or self._load_contact(existing[1])
                conversation = _PendingConversation(
                    row={"last_message_at": existing[2]}, contact=owner, id=existing[0])
            else:
                conversation = _PendingConversation(
                    row={"channel": record.channel, "scope": scope, "external_id": thread_key,
                         "account_id": record.account_id, "subject": (message_in.subject or "")[:500],
                         "last_message_at": None},
                    contact=contact, new=True)
            self.conversations[key] = conversation
        sent_at = message_in.sent_at or utcnow()
        conversation.row["last_message_at"] = _later(conversation.row["last_message_at"], sent_at)
        conversation.dirty = True
        owner = conversation.contact
        owner.row["last_message_at"] = _later(owner.row.get("last_message_at"), sent_at)
        owner.dirty = True
        outcome.conversation = conversation
        outcome.message_row = {
            "channel": record.channel, "external_id": message_in.external_id, "kind": message_in.kind,
            "direction": message_in.direction, "sender": (message_in.sender or "")[:400], "sent_at": sent_at,
            "subject": (message_in.subject or "")[:1000], "text": message_in.text or "",
            "html": message_html(message_in), "meta": message_in.meta or {}, "created_at": utcnow(),
        }

    def _load_contact(self, contact_id: int) -> _PendingContact:
        columns = [getattr(Contact, name) for name in CONTACT_FIELDS]
        row = self.session.exec(select(*columns).where(Contact.id == contact_id)).one()
        data = dict(zip(CONTACT_FIELDS, row, strict=True))
        data["aliases"] = list(data["aliases"] or [])
        contact = self.contacts[contact_id] = _PendingContact(row=data, id=contact_id)
        return contact

    # ------------------------------------------------------------------ writing

    def _flush(self) -> None:
        session, now = self.session, utcnow()
        conn = session.connection()
        sqlite = conn.dialect.name == "sqlite"
        p = "?" if sqlite else "%s"
        stamp, at = (lambda value: db_timestamp(value, sqlite)), db_timestamp(now, sqlite)
        # Every statement here goes to the driver's executemany (core.db.driver_insert): SQLAlchemy's per-row
        # parameter processing cost more than SQLite's own work.
        if self._new_contacts:
            rows = [(c.row["display_name"], c.row["company"], c.row["title"], c.row["owner_id"],
                     db_json(c.row["aliases"]), stamp(c.row["last_message_at"]), "new", "cold", 0, at, at,
                     latin_search_text(c.row["display_name"], c.row["company"]))
                    for c in self._new_contacts]
            ids = _insert_contacts(conn, rows)
            for contact, new_id in zip(self._new_contacts, ids, strict=True):
                contact.id = new_id
                contact.row["id"] = new_id
                self.contacts[new_id] = contact
        # In id order: concurrent batches then lock shared contacts in the same order instead of deadlocking.
        dirty = sorted((c for c in self.contacts.values() if c.dirty and not c.new), key=lambda c: c.id)
        if dirty:
            self._update_contacts(conn, dirty, stamp, at)
        if self._new_identities:
            # Sorted for the same reason: two batches inserting the same new identities wait for each other
            # on the unique index in one order, instead of each holding one the other needs.
            driver_insert(conn, "identities", IDENTITY_COLUMNS, sorted((
                (contact.id, cand.kind, cand.value, cand.raw[:400], channel, cand.weak, at)
                for contact, cand, channel in self._new_identities), key=lambda row: (row[1], row[2])))
        new_convs = [c for c in self.conversations.values() if c.new and c.id is None]
        if new_convs:
            rows = [(c.contact.id, c.row["channel"], c.row["scope"], c.row["external_id"], c.row["account_id"],
                     c.row["subject"], at, stamp(c.row["last_message_at"])) for c in new_convs]
            for conv, new_id in zip(new_convs, _insert_with_ids(conn, "conversations", CONVERSATION_COLUMNS, rows),
                                    strict=True):
                conv.id = new_id
        old_convs = sorted((c for c in self.conversations.values() if c.dirty and not c.new), key=lambda c: c.id)
        if old_convs:
            conn.exec_driver_sql(f"UPDATE conversations SET last_message_at = {p} WHERE id = {p}",
                                 [(stamp(c.row["last_message_at"]), c.id) for c in old_convs])
        pending = [o for o in self.outcomes if o.result is None]
        with_message = [o for o in pending if o.message_row is not None]
        if with_message:
            rows = []
            for o in with_message:
                m = o.message_row
                rows.append((o.conversation.id, o.conversation.contact.id, m["channel"], m["external_id"], m["kind"],
                             m["direction"], m["sender"], stamp(m["sent_at"]), m["subject"], m["text"], m["html"],
                             db_json(m["meta"]), at))
            ids = _insert_with_ids(conn, "messages", MESSAGE_COLUMNS, rows, json_columns=frozenset({"meta"}))
            for outcome, new_id in zip(with_message, ids, strict=True):
                outcome.message_row["id"] = new_id
        conflict_ids = self._conflict_suggestions(pending)
        suggestion_ids = self._suggest()
        # Hooks put per-lead scoring off to the end of the batch: one pass for all its leads.
        with hooks.deferred_work(self.session):
            for outcome in pending:
                if outcome.same_as is not None:
                    first = outcome.same_as.result
                    assert isinstance(first, IngestResult)
                    outcome.result = IngestResult(status="known", contact_id=first.contact_id,
                                                  conversation_id=first.conversation_id, message_id=first.message_id,
                                                  warnings=outcome.warnings)
                    continue
                contact = outcome.contact
                outcome.result = IngestResult(
                    status=outcome.status,  # type: ignore[arg-type]
                    contact_id=contact.id if contact else None,
                    conversation_id=outcome.conversation.id if outcome.conversation else None,
                    message_id=outcome.message_row["id"] if outcome.message_row else None,
                    suggestion_ids=[*conflict_ids.get(id(outcome), []),
                                    *(suggestion_ids.get(contact.id, []) if contact else [])],
                    warnings=outcome.warnings,
                    contact_created=outcome.contact_created,
                )
                if outcome.record is not None:
                    # The same post-ingest hooks as core.ingest.ingest (scoring, routing, events).
                    _run_post_ingest_hooks(self.session, outcome.record, outcome.result)
        for conv in self.conversations.values():
            conv.new = conv.dirty = False
        for contact in self.contacts.values():
            contact.new = contact.dirty = contact.suggest = False
            contact.remember_stored()
        self._new_contacts, self._new_identities = [], []

    @staticmethod
    def _update_contacts(conn: sa.Connection, dirty: list[_PendingContact], stamp: Callable[[Any], Any],
                         at: Any) -> None:
        """Write the fields of contacts the batch changed (`dirty`, in id order): name, company and owner only
        where they differ from the store's (core.db.driver_update; a named name or company re-indexes the
        contact's words for search)."""
        rows = []
        for c in dirty:
            row, (name, company, owner) = c.row, c.stored
            changed = {"title", "aliases", "last_message_at", "updated_at"}
            if (row["display_name"], row["company"]) != (name, company):
                changed |= {"display_name", "company", "search_latin"}
            if row["owner_id"] != owner:
                changed.add("owner_id")
            rows.append(({"title": row["title"], "aliases": db_json(row["aliases"]),
                          "last_message_at": stamp(row["last_message_at"]), "updated_at": at,
                          "display_name": row["display_name"], "company": row["company"], "owner_id": row["owner_id"],
                          "search_latin": latin_search_text(row["display_name"], row["company"])},
                         changed, (c.id,)))
        driver_update(conn, "contacts", rows, ("id",), json_columns=frozenset({"aliases"}))

    def _conflict_suggestions(self, pending: list[_Outcome]) -> dict[int, list[int]]:
        """core.ingest's suggestion for a new person sharing an identifier with a differently named contact,
        before the fuzzy search (as there); per outcome (by id()), the suggestion's id."""
        conflicts = [o for o in pending if o.conflict is not None and o.same_as is None and o.contact is not None]
        if not conflicts:
            return {}
        outcomes = upsert_suggestions(self.session, [
            (o.contact.id, o.conflict[0].id, 0.6, [f"share {o.conflict[1]} but have different names"])  # type: ignore[union-attr, index]
            for o in conflicts])
        return {id(o): [outcome.suggestion_id] for o, outcome in zip(conflicts, outcomes, strict=True) if outcome}

    def _suggest(self) -> dict[int, list[int]]:
        cache = self.session.info.setdefault(VIEW_CACHE_KEY, {})
        changed = [c.id for c in self.contacts.values() if c.dirty or c.new]  # names, aliases or company
        for cid in changed:
            cache.pop(cid, None)
        if not self.options.suggest_duplicates:
            return {}
        targets = [c for c in self.contacts.values() if c.suggest and c.id is not None]
        if not targets:
            return {}
        names = {c.id: [n for n in [c.row["display_name"], *c.row["aliases"]] if n] for c in targets}
        keys_by_contact = {cid: blocking_keys(contact_names) for cid, contact_names in names.items()}
        ids = list(keys_by_contact)
        existing: set[tuple[int, str]] = set()
        for chunk in chunked(ids):
            existing |= set(self.session.exec(
                select(ContactBlockKey.contact_id, ContactBlockKey.key).where(among(col(ContactBlockKey.contact_id), chunk))
            ).all())
        new_keys = [(cid, key) for cid, keys in keys_by_contact.items() for key in keys if (cid, key) not in existing]
        if new_keys:
            driver_insert(self.session.connection(), "contact_block_keys", ("contact_id", "key"), new_keys)
        request = SuggestionRequest(keys_by_contact, names, new_keys, changed)
        later = self.session.info.get(SUGGEST_LATER_KEY)
        if later is not None:
            # Written with the batch, deleted with its suggestions: a run that dies in between leaves these
            # for core.identity.search_pending.
            at = db_timestamp(utcnow(), self.session.get_bind().dialect.name == "sqlite")
            driver_insert(self.session.connection(), "pending_searches", ("contact_id", "created_at"),
                          [(cid, at) for cid in keys_by_contact], suffix=" ON CONFLICT (contact_id) DO NOTHING")
            later.append(request)
            return {}
        return run_suggestion_request(self.session, request, self.session.info)


def run_suggestion_request(session: Session, request: SuggestionRequest, kept: dict[str, Any], *,
                           write: bool = True) -> Any:
    """A batch's duplicate search with the block index and candidate views kept in `kept` (session.info, or a
    helper process's own dict) across the batches of a run. write=True: open the suggestions, returning the new
    ones' ids per contact; write=False: only the scored pairs, for the caller to write (upsert_suggestions)."""
    cache = kept.setdefault(VIEW_CACHE_KEY, {})
    for cid in request.changed:
        cache.pop(cid, None)
    index = kept.get(BLOCK_INDEX_KEY)
    if index is None or index.size() > BLOCK_INDEX_MAX:
        index = kept[BLOCK_INDEX_KEY] = BlockIndex.for_bulk_run(session)
    else:
        # What the batch filed goes in from the request (names as written); other writers' new contacts by id.
        index.advance(session, request.names, request.filed)
    search = suggest_pairs_for if write else find_duplicate_pairs
    return search(session, request.keys_by_contact, view_cache=cache, index=index, names=request.names)


CONTACT_COLUMNS = ("display_name", "company", "title", "owner_id", "aliases", "last_message_at", "stage",
                   "temperature", "score", "created_at", "updated_at", "search_latin")
IDENTITY_COLUMNS = ("contact_id", "kind", "value", "raw_value", "channel", "is_weak", "created_at")
CONVERSATION_COLUMNS = ("contact_id", "channel", "scope", "external_id", "account_id", "subject", "created_at",
                        "last_message_at")
MESSAGE_COLUMNS = ("conversation_id", "contact_id", "channel", "external_id", "kind", "direction", "sender", "sent_at",
                   "subject", "text", "html", "meta", "created_at")


def _insert_contacts(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert new contacts (tuples in CONTACT_COLUMNS order); their ids in row order."""
    return _insert_with_ids(conn, "contacts", CONTACT_COLUMNS, rows, json_columns=frozenset({"aliases"}))


def _insert_with_ids(
    conn: sa.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *,
    json_columns: frozenset[str] = frozenset(),
) -> list[int]:
    """Insert rows with ids handed out first (core.db.next_ids), in one executemany; the ids in row order.
    RETURNING cannot do it in one statement on SQLite: nothing ties its rows to the rows sent."""
    ids = next_ids(conn, table, len(rows))
    driver_insert(conn, table, ("id", *columns), [(new_id, *row) for new_id, row in zip(ids, rows, strict=True)],
                  json_columns=json_columns)
    return ids


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)

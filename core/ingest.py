"""The one way data enters the store. Connectors, the REST API and the importers all call `ingest`.

`ingest` is idempotent: a message is keyed on (channel, external_id), identities on (kind, value), so the same
record delivered twice, or a webhook retried ten times, leaves one message and one contact. It works inside
the caller's transaction (the caller commits, which lets a sync commit records and its cursor together).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core import hooks
from core.db import is_transient_db_error, pause_after_conflict
from core.identity import (
    _add_aliases,
    get_live_contact,
    is_pair_dismissed,
    merge_contacts,
    suggest_duplicates_for,
    upsert_suggestion,
)
from core.markup import sanitize_html
from core.matching import names_compatible
from core.models import Contact, Conversation, Identity, Message, Suppression, utcnow
from core.normalize import (
    InvalidIdentifier,
    PlaceholderIdentifier,
    clean_display_name,
    fold_name,
    normalize_emails,
    normalize_linkedin_url,
    normalize_phones,
)
from core.schemas import ContactIn, InboundRecord, IngestResult, MessageIn

MAX_ATTEMPTS = 3
log = logging.getLogger(__name__)


class IngestError(ValueError):
    """The record cannot be stored; the message says why (shown to API callers and in import reports)."""


@dataclass(frozen=True)
class IngestOptions:
    default_phone_region: str = "PL"
    suggest_duplicates: bool = True
    actor: str = "ingest"
    # A record read from its provider (a connector's sync, a signed webhook) whose message is marked
    # meta.redacted blanks the stored message of the same id: the provider erased what it said (Intercom's
    # redaction). Off by default: through the API or a file, anyone could erase a provider's messages so.
    provider_redactions: bool = False


@dataclass(frozen=True)
class Candidate:
    """One identifier a record carries, normalised."""

    kind: str
    value: str
    raw: str
    weak: bool = False


@dataclass
class _Plan:
    candidates: list[Candidate]
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- identifiers


def extract_identities(contact: ContactIn, channel: str, *, region: str = "PL") -> _Plan:
    """Normalise every identifier of a record. Invalid ones become warnings, never errors."""
    plan = _Plan(candidates=[])
    seen: set[tuple[str, str]] = set()

    def add(candidate: Candidate) -> None:
        if (candidate.kind, candidate.value) not in seen:
            seen.add((candidate.kind, candidate.value))
            plan.candidates.append(candidate)

    for raw in contact.all_emails():
        try:
            emails = normalize_emails(raw)
        except InvalidIdentifier as exc:
            plan.warnings.append(f"email {raw!r} ignored: {exc}")
            continue
        for email in emails:
            add(Candidate("email", email.value, raw, weak=email.is_role))
    for raw in contact.all_phones():
        try:
            for phone in normalize_phones(raw, region):
                add(Candidate("phone", phone, raw))
        except InvalidIdentifier as exc:
            plan.warnings.append(f"phone {raw!r} ignored: {exc}")
    if contact.linkedin_url:
        try:
            add(Candidate("linkedin", normalize_linkedin_url(contact.linkedin_url), contact.linkedin_url))
        except InvalidIdentifier as exc:
            plan.warnings.append(f"linkedin_url {contact.linkedin_url!r} ignored: {exc}")
    # A NUL character means nothing in an id, and PostgreSQL's text drops it (core.db): without it here too, the
    # id found in the store and the id looked for are the same on both databases.
    external_user_id = (contact.external_user_id or "").replace("\x00", "").strip()
    if external_user_id:
        add(Candidate(channel, external_user_id, external_user_id))
    return plan


def invalid_identifier_fields(contact: ContactIn, *, region: str = "PL") -> dict[str, str]:
    """Per-field errors for identifiers that do not normalise (the API refuses these; connectors only warn)."""
    errors: dict[str, str] = {}
    checks = [("email", v, normalize_emails) for v in ([contact.email] if contact.email else [])]
    checks += [(f"emails.{i}", v, normalize_emails) for i, v in enumerate(contact.emails)]
    checks += [("phone", v, lambda x: normalize_phones(x, region)) for v in ([contact.phone] if contact.phone else [])]
    checks += [(f"phones.{i}", v, lambda x: normalize_phones(x, region)) for i, v in enumerate(contact.phones)]
    if contact.linkedin_url:
        checks.append(("linkedin_url", contact.linkedin_url, normalize_linkedin_url))
    for name, value, normalize in checks:
        try:
            normalize(value)
        except PlaceholderIdentifier:
            continue  # ("000 000 000") not the sender's error: the record comes in without it, with a warning
        except InvalidIdentifier as exc:
            errors[f"contact.{name}"] = str(exc)
    return errors


def identifier_hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


# Identifier kinds whose stored key comes from rules (leadhub's, and settings such as the default phone region).
RULED_KINDS = ("email", "phone", "linkedin")


def written_form(kind: str, raw: str) -> str:
    """An identifier as it was written, folded only in ways no rule will ever change (Unicode compatibility forms,
    case, spacing; a phone's punctuation). A suppression keeps its hash beside the key's: when the rules or the
    default phone region change, old data re-synced still carries the same written form and stays out.
    Frozen: changing this fold would lose the erasures recorded under it."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    if kind == "phone":
        return "".join(ch for ch in text if ch.isdigit() or ch == "+")
    return "".join(text.split())


def suppression_hashes(kind: str, value: str, raw: str) -> list[tuple[str, str]]:
    """The suppression entries of one identifier: its key, and for ruled kinds its written form (kind "written:…")."""
    hashes = [(kind, identifier_hash(kind, value))]
    written = written_form(kind, raw) if kind in RULED_KINDS else ""
    if written:
        hashes.append((f"written:{kind}", identifier_hash(kind, written)))
    return hashes


# --------------------------------------------------------------------------- ingest


def ingest(session: Session, record: InboundRecord, *, options: IngestOptions | None = None) -> IngestResult:
    """Store one inbound record; returns what happened. Raises IngestError for a record that cannot be stored."""
    options = options or IngestOptions()
    last_error: IntegrityError | None = None
    for attempt in range(MAX_ATTEMPTS):
        try:
            with session.begin_nested():
                result = _ingest_once(session, record, options)
        except IntegrityError as exc:
            # Another writer stored the same message or identity between our read and our write:
            # the savepoint is gone, so run again and find what it stored.
            last_error = exc
            continue
        except sa.exc.DBAPIError as exc:
            # A deadlock or serialization failure against a concurrent writer: not the record's fault, so
            # never an IngestError. Retry after a pause; past the last attempt the caller (a batch, a
            # request) retries its whole transaction or reports a temporary failure.
            if not is_transient_db_error(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            pause_after_conflict(attempt)
            continue
        _run_post_ingest_hooks(session, record, result)
        return result
    raise IngestError(f"could not store the record after {MAX_ATTEMPTS} attempts: {last_error}")


def _run_post_ingest_hooks(session: Session, record: InboundRecord, result: IngestResult) -> None:
    """Qualification and webhooks run after the record is stored, in their own savepoint: a failing hook leaves
    the lead unscored (the next rescore fixes it) but never loses the inquiry."""
    if not hooks.post_ingest_hooks:
        return
    # Inside a batch's deferred_work block hooks only defer (the finisher writes, in its own savepoint), so
    # they need none here: 10,000 savepoints were a tenth of an import.
    savepoint = contextlib.nullcontext() if hooks.deferring(session) else session.begin_nested()
    try:
        with savepoint:
            hooks.run_post_ingest(session, record, result)
    except Exception:  # noqa: BLE001 - logged; intake must not stop for a hook
        log.exception("post-ingest hook failed for %s record %s", record.channel, result.contact_id)


def _ingest_once(session: Session, record: InboundRecord, options: IngestOptions) -> IngestResult:
    plan = extract_identities(record.contact, record.channel, region=options.default_phone_region)
    message_in = record.message

    if message_in is not None:
        known = session.exec(
            select(Message).where(Message.channel == record.channel, Message.external_id == message_in.external_id)
        ).first()
        if known is not None:
            if options.provider_redactions and is_redaction(message_in):
                redact_message(session, message_id=known.id, message=message_in)
            contact = get_live_contact(session, known.contact_id)
            return IngestResult(
                status="known",
                contact_id=contact.id if contact else known.contact_id,
                conversation_id=known.conversation_id,
                message_id=known.id,
                warnings=plan.warnings,
            )
    elif not plan.candidates:
        raise IngestError("the record has no email, phone, LinkedIn URL or user id to identify the person by")

    if _is_suppressed(session, record, plan):
        return IngestResult(status="suppressed", contact_id=None, warnings=plan.warnings)

    rows = _identity_rows(session, plan.candidates)
    strong_ids, weak_ids = set(), set()
    for row in rows:
        resolved = get_live_contact(session, row.contact_id)
        if resolved is None:
            continue
        (weak_ids if row.is_weak else strong_ids).add(resolved.id)

    name = clean_display_name(record.contact.name)
    merged_ids: list[int] = []
    suggestion_ids: list[int] = []
    created_contact = False
    contact: Contact | None = None

    strong_conflicts: list[int] = []
    if strong_ids:
        # A shared mailbox or phone of two differently named people (a household, an assistant) must not
        # mix their conversations: such contacts get a suggestion instead of a merge.
        compatible = sorted(cid for cid in strong_ids if _may_be_same_person(name, session.get(Contact, cid)))
        strong_conflicts = sorted(strong_ids - set(compatible))
        if compatible:
            target_id = compatible[0]
            contact = session.get(Contact, target_id)
            for other_id in compatible[1:]:
                if is_pair_dismissed(session, target_id, other_id):
                    continue  # a person said these are two people; leave them apart
                if not _contacts_may_be_one(session.get(Contact, target_id), session.get(Contact, other_id)):
                    # A record without a name (or with a company's) fits anyone: it does not make "Jan Kowalski"
                    # and "Janina Kowalska", who share a family phone, one person. A suggestion, as for its name.
                    strong_conflicts.append(other_id)
                    continue
                shared = ", ".join(f"{r.kind} {r.value}" for r in rows if _resolves_to(session, r, other_id))
                merge_contacts(
                    session,
                    survivor_id=target_id,
                    merged_id=other_id,
                    reason=f"{record.channel} record shares {shared or 'an identifier'}",
                    actor=options.actor,
                )
                merged_ids.append(other_id)
    if not strong_ids and weak_ids:
        for weak_id in sorted(weak_ids):
            candidate = session.get(Contact, weak_id)
            if candidate is not None and _names_compatible(name, candidate):
                contact = candidate
                break
    weak_conflicts = sorted(weak_ids - {contact.id} if contact else weak_ids) if not strong_ids else []

    if contact is None:
        contact = Contact(display_name=name, owner_id=record.owner_id)
        session.add(contact)
        session.flush()
        created_contact = True

    changed = _attach_identities(session, contact, plan.candidates, rows, record.channel)
    changed |= _fill_fields(contact, record.contact, name, record.owner_id)

    for other_id in strong_conflicts:
        if other_id == contact.id:
            continue
        shared = [r.value for r in rows if _resolves_to(session, r, other_id)]
        outcome = upsert_suggestion(
            session,
            a=contact.id,
            b=other_id,
            score=0.6,
            reasons=[f"share {', '.join(shared)} but have different names"],
        )
        if outcome is not None:
            suggestion_ids.append(outcome.suggestion_id)

    for other_id in weak_conflicts:
        shared = [r.value for r in rows if r.is_weak and _resolves_to(session, r, other_id)]
        outcome = upsert_suggestion(
            session,
            a=contact.id,
            b=other_id,
            score=0.5,
            reasons=[f"share the role address {', '.join(shared)} but have different names"],
        )
        if outcome is not None:
            suggestion_ids.append(outcome.suggestion_id)

    conversation_id = message_id = None
    if message_in is not None:
        conversation, message = _store_message(session, contact, record)
        conversation_id, message_id = conversation.id, message.id

    contact.updated_at = utcnow()
    session.add(contact)
    session.flush()
    if options.suggest_duplicates and (created_contact or changed):
        suggestion_ids.extend(o.suggestion_id for o in suggest_duplicates_for(session, contact) if o.created)

    if message_in is not None or created_contact:
        status = "created"
    else:
        status = "updated" if changed or merged_ids else "known"
    return IngestResult(
        status=status,
        contact_id=contact.id,
        conversation_id=conversation_id,
        message_id=message_id,
        merged_contact_ids=merged_ids,
        suggestion_ids=suggestion_ids,
        warnings=plan.warnings,
        contact_created=created_contact,
    )


def _identity_rows(session: Session, candidates: list[Candidate]) -> list[Identity]:
    if not candidates:
        return []
    condition = sa.or_(*[sa.and_(Identity.kind == c.kind, Identity.value == c.value) for c in candidates])
    return list(session.exec(select(Identity).where(condition)).all())


def _resolves_to(session: Session, row: Identity, contact_id: int) -> bool:
    live = get_live_contact(session, row.contact_id)
    return live is not None and live.id == contact_id


def _may_be_same_person(name: str, contact: Contact | None) -> bool:
    if contact is None:
        return False
    return any(names_compatible(name, n) for n in [contact.display_name, *(contact.aliases or [])] if n) or not (
        contact.display_name or contact.aliases
    )


def _contacts_may_be_one(a: Contact | None, b: Contact | None) -> bool:
    """Whether two contacts a record links may be one person by their own names (any of each one's names fits
    one of the other's; a contact without a name fits anyone)."""
    if a is None or b is None:
        return True
    names_a = [n for n in [a.display_name, *(a.aliases or [])] if n]
    names_b = [n for n in [b.display_name, *(b.aliases or [])] if n]
    return not names_a or not names_b or any(names_compatible(x, y) for x in names_a for y in names_b)


def _names_compatible(name: str, contact: Contact) -> bool:
    """Whether a record reaching a contact only through a shared mailbox may join it."""
    if not name or not contact.display_name:
        return True
    folded = fold_name(name)
    return any(fold_name(n) == folded for n in [contact.display_name, *(contact.aliases or [])])


def _attach_identities(
    session: Session, contact: Contact, candidates: list[Candidate], rows: list[Identity], channel: str
) -> bool:
    present = {(r.kind, r.value) for r in rows}
    added = False
    for candidate in candidates:
        if (candidate.kind, candidate.value) in present:
            continue
        session.add(
            Identity(
                contact_id=contact.id,
                kind=candidate.kind,
                value=candidate.value,
                raw_value=candidate.raw[:400],
                channel=channel,
                is_weak=candidate.weak,
            )
        )
        added = True
    if added:
        session.flush()
    return added


def _fill_fields(contact: Contact, data: ContactIn, name: str, owner_id: int | None) -> bool:
    changed = False
    if name and not contact.display_name:
        contact.display_name = name
        changed = True
    elif name and fold_name(name) != fold_name(contact.display_name):
        changed |= bool(_add_aliases(contact, [name]))
    for attr in ("company", "title"):
        value = clean_display_name(getattr(data, attr))
        if value and not getattr(contact, attr):
            setattr(contact, attr, value)
            changed = True
    if owner_id and not contact.owner_id:
        contact.owner_id = owner_id
        changed = True
    return changed


def is_redaction(message: MessageIn) -> bool:
    """Whether the record says its provider redacted the message (see IngestOptions.provider_redactions)."""
    return message.meta.get("redacted") is True


def redact_message(session: Session, *, message_id: int, message: MessageIn) -> None:
    """Blank a stored message its provider redacted: its text, HTML and subject become the record's (empty), its
    meta the record's (which lists no files). A subject it no longer has (an opening message's, which its
    conversation and the replies copied) is replaced wherever the conversation holds it. Idempotent."""
    stored = session.execute(sa.select(Message.subject, Message.conversation_id).where(Message.id == message_id)).first()
    subject = (message.subject or "")[:1000]
    session.execute(sa.update(Message).where(Message.id == message_id).values(
        text=message.text or "", html=message_html(message), subject=subject, meta=message.meta))
    if stored is None or not stored.subject or stored.subject == subject:
        return
    session.execute(sa.update(Message).where(Message.conversation_id == stored.conversation_id,
                                             Message.subject == stored.subject).values(subject=subject))
    session.execute(sa.update(Conversation).where(Conversation.id == stored.conversation_id,
                                                  Conversation.subject == stored.subject[:500])
                    .values(subject=subject[:500]))


def message_html(message: MessageIn) -> str:
    """The message's HTML sanitised, once per message (see MessageIn._derived)."""
    return message.derived("html", lambda m: sanitize_html(m.html))


def _store_message(session: Session, contact: Contact, record: InboundRecord) -> tuple[Conversation, Message]:
    message_in = record.message
    assert message_in is not None
    scope = record.scope or (str(record.account_id) if record.account_id else "")
    thread_key = message_in.thread_id or message_in.external_id
    conversation = session.exec(
        select(Conversation).where(
            Conversation.channel == record.channel,
            Conversation.scope == scope,
            Conversation.external_id == thread_key,
        )
    ).first()
    sent_at = message_in.sent_at or utcnow()
    if conversation is None:
        conversation = Conversation(
            contact_id=contact.id,
            channel=record.channel,
            scope=scope,
            external_id=thread_key,
            account_id=record.account_id,
            subject=(message_in.subject or "")[:500],
        )
        session.add(conversation)
        session.flush()
    message = Message(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        channel=record.channel,
        external_id=message_in.external_id,
        kind=message_in.kind,
        direction=message_in.direction,
        sender=(message_in.sender or "")[:400],
        sent_at=sent_at,
        subject=(message_in.subject or "")[:1000],
        text=message_in.text or "",
        html=message_html(message_in),
        meta=message_in.meta or {},
    )
    session.add(message)
    session.flush()
    conversation.last_message_at = _max_dt(conversation.last_message_at, sent_at)
    session.add(conversation)
    owner = session.get(Contact, conversation.contact_id)
    if owner is not None:
        owner.last_message_at = _max_dt(owner.last_message_at, sent_at)
        session.add(owner)
    return conversation, message


def _max_dt(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)


# --------------------------------------------------------------------------- suppression (erased people)


def _is_suppressed(session: Session, record: InboundRecord, plan: _Plan) -> bool:
    hashes = [("message", identifier_hash(record.channel, record.message.external_id))] if record.message else []
    hashes += [h for c in plan.candidates for h in suppression_hashes(c.kind, c.value, c.raw)]
    if not hashes:
        return False
    condition = sa.or_(*[sa.and_(Suppression.kind == k, Suppression.value_hash == h) for k, h in hashes])
    rows = session.exec(select(Suppression).where(condition)).all()
    if not rows:
        return False
    if any(r.kind == "message" for r in rows):
        return True  # this very message was erased
    if record.message is None:
        return True  # a provider re-sending the erased person's profile, not a new inquiry
    erased_at = max(r.erased_at for r in rows)
    sent_at = record.message.sent_at
    # Old mail re-synced stays out; a message written after the erasure is a new inquiry and comes in.
    return sent_at is not None and sent_at <= erased_at



def address_erased(session: Session, address: str) -> bool:
    """Whether an email address belongs to an erased person no contact holds again (no new inquiry since): mail
    queued to it before the erasure (a form's autoresponder) must not go out after it."""
    try:
        emails = normalize_emails(address)
    except InvalidIdentifier:
        return False
    hashes = [h for email in emails for h in suppression_hashes("email", email.value, address)]
    if not hashes:
        return False
    condition = sa.or_(*[sa.and_(Suppression.kind == k, Suppression.value_hash == h) for k, h in hashes])
    if session.exec(select(Suppression.id).where(condition).limit(1)).first() is None:
        return False
    held = select(Identity.id).where(Identity.kind == "email", Identity.value.in_([e.value for e in emails]))
    return session.exec(held.limit(1)).first() is None

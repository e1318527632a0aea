"""Reading the store: contact lists, one contact with its identities, the cross-channel timeline, and the
privacy-law duties (export everything, erase everywhere)."""

from __future__ import annotations

import base64
import email.utils
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.db import among, is_store_id
from core.identity import get_live_contact
from core.ingest import identifier_hash, suppression_hashes
from core.models import (
    Contact,
    ContactBlockKey,
    Conversation,
    DuplicateSuggestion,
    Identity,
    LeadQualification,
    LeadScore,
    MassSendRecipient,
    MergeEvent,
    Message,
    OutboxMail,
    PendingSearch,
    StageChange,
    Suppression,
    User,
    UTCDateTime,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from core.normalize import InvalidIdentifier, fold_name, normalize_email
from core.search import find_matches

MAX_PAGE = 200


class CursorError(ValueError):
    pass


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not one this API gave out") from None
    if not isinstance(value, dict):
        raise CursorError("cursor is not one this API gave out")
    return value


@dataclass
class ContactFilter:
    q: str | None = None
    channel: str | None = None
    stage: str | None = None
    temperature: str | None = None
    owner_id: int | None = None
    phone_region: str = "PL"  # a q that is a number written without its country code is read in this region


def list_contacts(
    session: Session, *, filters: ContactFilter, limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Live contacts, newest first, keyset-paginated on id."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Contact).where(col(Contact.merged_into).is_(None))
    if cursor:
        before_id = decode_cursor(cursor).get("before_id")
        if not is_store_id(before_id):
            raise CursorError("cursor is not one this API gave out")
        query = query.where(col(Contact.id) < before_id)
    if filters.stage:
        query = query.where(Contact.stage == filters.stage)
    if filters.temperature:
        query = query.where(Contact.temperature == filters.temperature)
    if filters.owner_id is not None:
        query = query.where(Contact.owner_id == filters.owner_id)
    if filters.channel:
        query = query.where(
            sa.or_(
                sa.exists().where(Conversation.contact_id == Contact.id, Conversation.channel == filters.channel),
                sa.exists().where(Identity.contact_id == Contact.id, Identity.channel == filters.channel),
            )
        )
    if filters.q:
        query = query.where(contacts_matching(session, filters.q, region=filters.phone_region))
    contacts = list(session.exec(query.order_by(col(Contact.id).desc()).limit(limit + 1)).all())
    next_cursor = None
    if len(contacts) > limit:
        contacts = contacts[:limit]
        next_cursor = encode_cursor({"before_id": contacts[-1].id})
    return summarize_contacts(session, contacts), next_cursor


def contacts_matching(session: Session, q: str, *, region: str = "PL", identities: bool = True) -> Any:
    """The condition on Contact for a search: anywhere in a name or company, as written or in Latin letters
    without marks ("wojcik", "inska" and "petrov" find "Wójcik", "Zielińska" and "Петров": contacts.search_latin),
    or identifier, or as the inbox's search finds people: whole words of a name in any case, a phone number or
    address as written (core.search; its newest MATCH_CAP people). identities=False: names and companies only."""
    found = find_matches(session, q, region=region, messages=False).contact_ids
    text, latin = q.strip().lower(), fold_name(q)
    # autoescape: % and _ typed are themselves, not wildcards.
    return sa.or_(
        sa.func.lower(Contact.display_name).contains(text, autoescape=True),
        sa.func.lower(Contact.company).contains(text, autoescape=True),
        *([col(Contact.search_latin).contains(latin, autoescape=True)] if latin else []),
        *([sa.exists().where(Identity.contact_id == Contact.id, col(Identity.value).contains(text, autoescape=True))]
          if identities else []),
        among(col(Contact.id), found),
    )


def summarize_contacts(session: Session, contacts: list[Contact]) -> list[dict[str, Any]]:
    ids = [c.id for c in contacts]
    identities: dict[int, list[Identity]] = {}
    channels: dict[int, set[str]] = {}
    if ids:
        for identity in session.exec(select(Identity).where(col(Identity.contact_id).in_(ids))).all():
            identities.setdefault(identity.contact_id, []).append(identity)
            if identity.channel:
                channels.setdefault(identity.contact_id, set()).add(identity.channel)
        for cid, channel in session.exec(
            select(Conversation.contact_id, Conversation.channel).where(col(Conversation.contact_id).in_(ids)).distinct()
        ).all():
            channels.setdefault(cid, set()).add(channel)
    return [_summary(c, identities.get(c.id, []), channels.get(c.id, set())) for c in contacts]


def _summary(contact: Contact, identities: list[Identity], channels: set[str]) -> dict[str, Any]:
    linkedin = next((i.value for i in identities if i.kind == "linkedin"), None)
    return {
        "id": contact.id,
        "name": contact.display_name,
        "emails": [i.value for i in identities if i.kind == "email"],
        "phones": [i.value for i in identities if i.kind == "phone"],
        "linkedin_url": f"https://www.{linkedin}" if linkedin else None,
        "company": contact.company,
        "title": contact.title,
        "channels": sorted(channels),
        "last_message_at": _iso(contact.last_message_at),
        "stage": contact.stage,
        "temperature": contact.temperature,
        "score": contact.score,
        "owner_id": contact.owner_id,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def contact_detail(session: Session, contact_id: int) -> dict[str, Any] | None:
    """One contact (a merged-away id answers with its survivor) with identities, aliases and merge history."""
    contact = get_live_contact(session, contact_id)
    if contact is None:
        return None
    identities = list(session.exec(select(Identity).where(Identity.contact_id == contact.id)).all())
    detail = summarize_contacts(session, [contact])[0]
    merges = session.exec(
        select(MergeEvent)
        .where(sa.or_(MergeEvent.survivor_id == contact.id, MergeEvent.merged_id == contact.id))
        .order_by(col(MergeEvent.id))
    ).all()
    detail.update(
        {
            "requested_id": contact_id,
            "aliases": list(contact.aliases or []),
            "identities": [
                {
                    "kind": i.kind,
                    "value": i.value,
                    "raw_value": i.raw_value,
                    "first_seen_channel": i.channel,
                    "weak": i.is_weak,
                    "created_at": _iso(i.created_at),
                }
                for i in identities
            ],
            "merged_from": [m.merged_id for m in merges if m.survivor_id == contact.id and m.undone_at is None],
            "merges": [merge_event_dict(m) for m in merges],
            "consents": consents(session, contact.id),
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        }
    )
    return detail


MAX_CONSENTS = 100


def consents(session: Session, contact_id: int) -> list[dict[str, Any]]:
    """What the person agreed to on website forms, newest first: the consent text's version and time, and the
    double opt-in state (pending until the confirmation link is followed, then confirmed with its time).
    Read from the lead's own form messages, so merges and undo carry it along."""
    rows = session.exec(
        select(Message.id, Message.sender, Message.sent_at, Message.meta)
        .where(Message.contact_id == contact_id, Message.channel == "form")
        .order_by(col(Message.sent_at).desc(), col(Message.id).desc())
        .limit(MAX_CONSENTS)
    ).all()
    found = []
    for message_id, sender, sent_at, meta in rows:
        meta = meta or {}
        consent, opt_in = meta.get("consent") or {}, meta.get("double_opt_in") or {}
        if not consent and not opt_in:
            continue
        found.append({
            "message_id": message_id,
            "form": (meta.get("form") or {}).get("name", ""),
            "email": sender or "",
            "consent_given": bool(consent.get("given")) if consent else None,
            "consent_version": consent.get("version") if consent else None,
            "given_at": consent.get("given_at") or _iso(sent_at),
            "double_opt_in": opt_in.get("status") or None,
            "confirmed_at": opt_in.get("confirmed_at"),
        })
    return found


def merge_event_dict(event: MergeEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "survivor_id": event.survivor_id,
        "merged_id": event.merged_id,
        "reason": event.reason,
        "actor": event.actor,
        "created_at": _iso(event.created_at),
        "undone_at": _iso(event.undone_at),
    }


def timeline(session: Session, contact_id: int, *, limit: int = 500, cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Every message of the person across channels, oldest first."""
    contact = get_live_contact(session, contact_id)
    if contact is None:
        raise LookupError("contact not found")
    limit = max(1, min(limit, 1000))
    query = (
        select(Message)
        .where(Message.contact_id == contact.id)
        .order_by(col(Message.sent_at), col(Message.id))
    )
    if cursor:
        after_at, after_id = _timeline_position(session, decode_cursor(cursor))
        query = query.where(
            sa.or_(
                col(Message.sent_at) > sa.literal(after_at, UTCDateTime()),
                sa.and_(col(Message.sent_at) == sa.literal(after_at, UTCDateTime()), col(Message.id) > after_id),
            )
        )
    messages = list(session.exec(query.limit(limit + 1)).all())
    next_cursor = None
    if len(messages) > limit:
        messages = messages[:limit]
        last = messages[-1]
        position = {"after_id": last.id} if last.sent_at is None else {"after_id": last.id, "at": last.sent_at.isoformat()}
        next_cursor = encode_cursor(position)
    return [message_dict(m) for m in messages], next_cursor


def _timeline_position(session: Session, decoded: dict[str, Any]) -> tuple[datetime, int]:
    """(sent_at, id) of the last message a timeline cursor's page showed: carried by the cursor, so that the next
    page begins after it even when that message is gone (erased, or given back by an undone merge); read from
    the message itself for a cursor given out before the position was in it. CursorError for anything else: a
    page from the start would send a client paging to the end round the timeline again."""
    after_id = decoded.get("after_id")
    if not is_store_id(after_id):
        raise CursorError("cursor is not one this API gave out")
    if "at" not in decoded:
        last = session.get(Message, after_id)
        if last is None or last.sent_at is None:
            raise CursorError("cursor is not one this API gave out (or its message is gone): start again without it")
        return last.sent_at, after_id
    try:
        at = datetime.fromisoformat(decoded["at"])
    except (TypeError, ValueError):
        raise CursorError("cursor is not one this API gave out") from None
    if at.tzinfo is None:
        raise CursorError("cursor is not one this API gave out")
    return at, after_id


def message_dict(message: Message, *, with_body: bool = True) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel": message.channel,
        "external_id": message.external_id,
        "kind": message.kind,
        "direction": message.direction,
        "sender": message.sender,
        "sent_at": _iso(message.sent_at),
        "subject": message.subject,
        "text": message.text if with_body else None,
        "html": message.html if with_body else None,
    }


def list_suggestions(session: Session, *, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
    a = sa.orm.aliased(Contact)
    b = sa.orm.aliased(Contact)
    query = (
        select(DuplicateSuggestion, a, b)
        .join(a, a.id == DuplicateSuggestion.contact_a_id)
        .join(b, b.id == DuplicateSuggestion.contact_b_id)
        .where(DuplicateSuggestion.status == status)
    )
    if status == "open":  # (a decided pair is listed as decided: a merged one always has a contact merged away)
        query = query.where(col(a.merged_into).is_(None), col(b.merged_into).is_(None))
    rows = session.exec(
        query
        .order_by(col(DuplicateSuggestion.score).desc(), col(DuplicateSuggestion.id))
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        {
            "id": s.id,
            "contact_a_id": s.contact_a_id,
            "contact_b_id": s.contact_b_id,
            "contact_a_name": ca.display_name,
            "contact_b_name": cb.display_name,
            "score": s.score,
            "reasons": s.reasons,
            "status": s.status,
            "created_at": _iso(s.created_at),
        }
        for s, ca, cb in rows
    ]


# --------------------------------------------------------------------------- privacy law


def export_contact(session: Session, contact_id: int) -> dict[str, Any] | None:
    """Everything held about the person (GDPR art. 15): contact, identities, every message, merges, suggestions,
    qualification, events sent about them and mail sent to them. core.personal_data lists which key holds which
    table."""
    detail = contact_detail(session, contact_id)
    if detail is None:
        return None
    cid = detail["id"]
    ids = _person_contact_ids(session, cid)
    messages = session.exec(select(Message).where(col(Message.contact_id).in_(ids)).order_by(col(Message.sent_at))).all()
    conversations = session.exec(select(Conversation).where(col(Conversation.contact_id).in_(ids))).all()
    addresses = _email_addresses(session, ids)
    suggestions = session.exec(
        select(DuplicateSuggestion).where(
            sa.or_(col(DuplicateSuggestion.contact_a_id).in_(ids), col(DuplicateSuggestion.contact_b_id).in_(ids))
        )
    ).all()
    owner = session.get(User, detail["owner_id"]) if detail.get("owner_id") else None
    from core.qualification import qualification_detail

    return {
        "exported_at": utcnow().isoformat(),
        "contact": detail,
        "qualification": qualification_detail(session, cid),
        "owner": {"id": owner.id, "email": owner.email, "name": owner.name} if owner else None,
        "conversations": [
            {"id": c.id, "channel": c.channel, "external_id": c.external_id, "subject": c.subject,
             "created_at": _iso(c.created_at), "last_message_at": _iso(c.last_message_at)}
            for c in conversations
        ],
        "messages": [{**message_dict(m), "meta": m.meta} for m in messages],
        # What they wrote in other leads' threads (a reply in a colleague's thread joins that thread's lead).
        "messages_in_other_threads": [{**message_dict(m), "meta": m.meta, "filed_with_contact_id": m.contact_id}
                                      for m in _their_messages_elsewhere(session, ids, addresses)],
        "duplicate_suggestions": [
            {"contact_a_id": s.contact_a_id, "contact_b_id": s.contact_b_id, "score": s.score,
             "reasons": s.reasons, "status": s.status}
            for s in suggestions
        ],
        # Every contact merged into this one kept its own history rows: all of them are the person's.
        "merge_events": [_row(e) for e in session.exec(
            select(MergeEvent).where(_merge_events_of(ids)).order_by(col(MergeEvent.id)))],
        "stage_changes": [_row(c) for c in session.exec(
            select(StageChange).where(col(StageChange.contact_id).in_(ids)).order_by(col(StageChange.id)))],
        "lead_records": [
            *(_row(q) for q in session.exec(select(LeadQualification).where(col(LeadQualification.contact_id).in_(ids)))),
            *(_row(s) for s in session.exec(select(LeadScore).where(col(LeadScore.contact_id).in_(ids)))),
        ],
        "webhook_deliveries": [
            {**_row(d, exclude={"endpoint_id"}), "endpoint_url": url}
            for d, url in session.exec(
                select(WebhookDelivery, WebhookEndpoint.url)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(_deliveries_about(ids)).order_by(col(WebhookDelivery.id)))
        ],
        "mass_mail": [_row(r) for r in session.exec(
            select(MassSendRecipient).where(col(MassSendRecipient.contact_id).in_(ids)).order_by(col(MassSendRecipient.id)))],
        "mail_sent": [_row(m, exclude={"error"}) for m in session.exec(
            select(OutboxMail).where(_outbox_to(addresses)).order_by(col(OutboxMail.id)))],
    }


def _row(row: Any, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """A table row as JSON-ready values (timestamps in ISO 8601)."""
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in row.model_dump(exclude=exclude).items()}


def _merge_events_of(ids: list[int]) -> Any:
    return sa.or_(col(MergeEvent.survivor_id).in_(ids), col(MergeEvent.merged_id).in_(ids))


# Keys of an event's data (core.hooks.emit) that name a contact.
EVENT_CONTACT_KEYS = ("contact_id", "survivor_id", "merged_id")


def _deliveries_about(ids: list[int]) -> Any:
    return sa.or_(*(WebhookDelivery.payload[("data", key)].as_integer().in_(ids) for key in EVENT_CONTACT_KEYS))


def _email_addresses(session: Session, ids: list[int]) -> set[str]:
    """The person's addresses, as stored and as written, lower-cased (mail to them was addressed either way)."""
    rows = session.exec(
        select(Identity.value, Identity.raw_value).where(col(Identity.contact_id).in_(ids), Identity.kind == "email")
    ).all()
    return {a.strip().lower() for row in rows for a in row if a and a.strip()}


def _outbox_to(addresses: set[str]) -> Any:
    return sa.func.lower(OutboxMail.to).in_(sorted(addresses)) if addresses else sa.false()


def _their_messages_elsewhere(session: Session, ids: list[int], written: set[str]) -> list[Message]:
    """Inbound messages the person sent that are filed with another lead: a message joins the conversation its
    thread is in, whoever's that is, so their reply in a colleague's thread is that colleague's lead's. Found by
    the sender's address (`written`: _email_addresses, as stored or as first written), checked parsed: 'ann@x.pl'
    is in 'joann@x.pl'."""
    if not written:
        return []
    candidates = session.exec(select(Message).where(
        Message.direction == "in", col(Message.contact_id).not_in(ids),
        sa.or_(*(sa.func.lower(Message.sender).contains(w, autoescape=True) for w in sorted(written))),
    ).order_by(col(Message.id))).all()

    def theirs(sender: str) -> bool:
        address = email.utils.parseaddr(sender)[1]
        try:
            return normalize_email(address).value in written
        except InvalidIdentifier:
            return address.strip().lower() in written

    return [m for m in candidates if theirs(m.sender)]


def _person_contact_ids(session: Session, survivor_id: int) -> list[int]:
    """The survivor and every contact merged into it, at any depth."""
    ids = [survivor_id]
    frontier = [survivor_id]
    while frontier:
        children = list(session.exec(select(Contact.id).where(col(Contact.merged_into).in_(frontier))).all())
        children = [c for c in children if c not in ids]
        ids.extend(children)
        frontier = children
    return ids


# Rounds of "lock the person's contacts, look again" before an erasure gives up on a store that keeps merging.
LOCK_ROUNDS = 5


class ErasureBusy(RuntimeError):
    """The person's contacts kept changing (merges) while an erasure locked them: nothing was erased; try again."""


def _lock_person(session: Session, contact_id: int) -> list[int] | None:
    """The ids of the person's contacts (survivor first), their rows locked (FOR UPDATE; SQLite's writer holds the
    database anyway). A writer that stored something about them (a sync's batch: a message, an identity, a merge
    takes a key-share lock on the contact) is waited for, and what it committed is read afterwards: its commit
    cannot bring back what this erasure removes, and a writer coming after waits for the erasure and finds the
    contact gone (a foreign-key error makes it run again, and its suppression check then keeps the person out)."""
    ids: list[int] = []
    for _ in range(LOCK_ROUNDS):
        contact = get_live_contact(session, contact_id)
        if contact is None:
            return None
        found = _person_contact_ids(session, contact.id)
        if found == ids:
            return ids
        ids = found
        session.exec(select(Contact.id).where(col(Contact.id).in_(sorted(ids))).order_by(col(Contact.id))
                     .with_for_update()).all()
        session.expire_all()  # what the writers we waited for committed (a merge moves merged_into)
    raise ErasureBusy(f"contact {contact_id} kept changing while it was being erased; nothing was erased, try again")


def erase_contact(session: Session, contact_id: int, *, reason: str = "erasure request") -> dict[str, Any] | None:
    """Erase the person everywhere (GDPR art. 17) and remember hashed identifiers so re-synced old data stays out."""
    person = _lock_person(session, contact_id)
    if person is None:
        return None
    ids = person
    now = utcnow()
    suppressed = 0
    identities = session.exec(select(Identity).where(col(Identity.contact_id).in_(ids))).all()
    hashes = {h for i in identities for h in suppression_hashes(i.kind, i.value, i.raw_value)}
    addresses = _email_addresses(session, ids)
    elsewhere = _their_messages_elsewhere(session, ids, addresses)
    for channel, external_id in [*session.exec(
        select(Message.channel, Message.external_id).where(col(Message.contact_id).in_(ids))
    ).all(), *((m.channel, m.external_id) for m in elsewhere)]:
        hashes.add(("message", identifier_hash(channel, external_id)))
    existing = {
        (s.kind, s.value_hash): s
        for s in session.exec(select(Suppression).where(col(Suppression.value_hash).in_([h for _, h in hashes]))).all()
    } if hashes else {}
    for kind, value_hash in hashes:
        row = existing.get((kind, value_hash))
        if row is None:
            session.add(Suppression(kind=kind, value_hash=value_hash, erased_at=now, reason=reason[:200]))
        else:
            row.erased_at = now
            session.add(row)
        suppressed += 1
    counts = {}
    counts["messages_in_other_threads"] = session.exec(
        sa.delete(Message).where(col(Message.id).in_([m.id for m in elsewhere]))).rowcount if elsewhere else 0
    # Before the contacts go: their mass-mail rows would outlive them (ON DELETE SET NULL) with address and body.
    counts["mass_send_recipients"] = session.exec(
        sa.delete(MassSendRecipient).where(col(MassSendRecipient.contact_id).in_(ids))).rowcount
    counts["outbox_mail"] = session.exec(
        sa.delete(OutboxMail).where(_outbox_to(addresses))).rowcount
    # Events about the person, delivered or still waiting: a pending one must not send them out after the erasure.
    counts["webhook_deliveries"] = session.exec(
        sa.delete(WebhookDelivery).where(_deliveries_about(ids)).execution_options(synchronize_session=False)).rowcount
    for table, column in (
        (StageChange, StageChange.contact_id),
        (LeadQualification, LeadQualification.contact_id),
        (LeadScore, LeadScore.contact_id),
        (Message, Message.contact_id),
        (Conversation, Conversation.contact_id),
        (Identity, Identity.contact_id),
        (ContactBlockKey, ContactBlockKey.contact_id),
        (PendingSearch, PendingSearch.contact_id),
    ):
        counts[table.__tablename__] = session.exec(sa.delete(table).where(col(column).in_(ids))).rowcount
    session.exec(
        sa.delete(DuplicateSuggestion).where(
            sa.or_(col(DuplicateSuggestion.contact_a_id).in_(ids), col(DuplicateSuggestion.contact_b_id).in_(ids))
        )
    )
    session.exec(sa.delete(MergeEvent).where(_merge_events_of(ids)))
    session.exec(sa.update(Contact).where(col(Contact.merged_into).in_(ids)).values(merged_into=None))
    counts["contacts"] = session.exec(sa.delete(Contact).where(col(Contact.id).in_(ids))).rowcount
    session.flush()
    return {"erased_contact_ids": ids, "deleted": counts, "suppressed_identifiers": suppressed}

"""Bring a store's identifier keys, blocking keys and search names up to the current normalisation rules.

The store keys identities on normalised values (core.normalize) and files contacts under blocking keys
(core.matching). When those rules improve ("+48 (0)22 …" is "+4822…", a zero-width space is not part of an
address, "Olek" is filed beside "Aleksander"), records ingested before keep their old keys: the same person
written the new way is not recognised. This rewrites the keys from what was stored as written (raw_value,
the contact's names), in the caller's transaction, batch by batch.

A rewritten key that another contact already holds is not merged here (the rules that merge look at a record
and its names as it arrives): the pair becomes a duplicate suggestion for a person to decide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from core.db import among, chunked, driver_insert, json_list, plain_rows
from core.identity import upsert_suggestions
from core.matching import blocking_keys
from core.models import Contact, ContactBlockKey, Identity
from core.normalize import (
    InvalidIdentifier,
    latin_search_text,
    normalize_emails,
    normalize_linkedin_url,
    normalize_phones,
)

BATCH = 1000
SUGGESTION_SCORE = 0.7


@dataclass
class RenormalizeReport:
    identities_scanned: int = 0
    identities_rewritten: int = 0
    identities_dropped: int = 0  # the contact already had the identity under its new key
    conflicts: int = 0  # another contact holds the new key: a suggestion instead
    unreadable: int = 0  # the raw value no longer normalises, or to several values: left as it is
    weak_flags_changed: int = 0  # an address whose shared-mailbox (role) status the current rules read otherwise
    contacts_scanned: int = 0
    block_keys_added: int = 0
    block_keys_removed: int = 0
    search_names_rewritten: int = 0  # contacts.search_latin (names and companies in Latin letters, for search)
    examples: list[str] = field(default_factory=list)  # a few of the rewrites, for the operator

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _normalized(kind: str, raw: str, region: str) -> list[str] | None:
    """The value(s) raw normalises to now under its kind's rules; None for kinds without rules (provider ids)."""
    try:
        if kind == "email":
            return [email.value for email in normalize_emails(raw)]
        if kind == "phone":
            return normalize_phones(raw, region)
        if kind == "linkedin":
            return [normalize_linkedin_url(raw)]
    except InvalidIdentifier:
        return []
    return None


def _is_role(address: str) -> bool | None:
    try:
        return normalize_emails(address)[0].is_role
    except InvalidIdentifier:
        return None


def renormalize(session: Session, *, region: str = "PL", dry_run: bool = False) -> RenormalizeReport:
    """Rewrite identity values and blocking keys that the current rules compute differently. dry_run: count
    only (the caller rolls back either way if it wants to)."""
    report = RenormalizeReport()
    _identities(session, report, region, dry_run)
    _block_keys(session, report, dry_run)
    return report


def _identities(session: Session, report: RenormalizeReport, region: str, dry_run: bool) -> None:
    i = Identity.__table__
    last_id = 0
    suggestions: list[tuple[int, int, float, list[str]]] = []
    while True:
        rows = plain_rows(session, sa.select(i.c.id, i.c.contact_id, i.c.kind, i.c.value, i.c.raw_value, i.c.is_weak)
                          .where(i.c.id > last_id, i.c.kind.in_(("email", "phone", "linkedin")))
                          .order_by(i.c.id).limit(BATCH))
        if not rows:
            break
        last_id = rows[-1][0]
        report.identities_scanned += len(rows)
        moves: list[tuple[int, int, str, str, str]] = []  # (identity id, contact id, kind, old value, new value)
        for identity_id, contact_id, kind, value, raw, is_weak in rows:
            values = _normalized(kind, raw or value, region)
            if values is None:
                continue
            if value in values:
                # The key stays; whether it is a shared mailbox (weak: joins only the same name) may not.
                if kind == "email" and (is_role := _is_role(value)) is not None and is_role != bool(is_weak):
                    report.weak_flags_changed += 1
                    if not dry_run:
                        session.execute(sa.update(i).where(i.c.id == identity_id).values(is_weak=is_role))
                continue
            if len(values) != 1:
                report.unreadable += 1
                continue
            moves.append((identity_id, contact_id, kind, value, values[0]))
        if not moves:
            continue
        holders: dict[tuple[str, str], int] = {}
        for kind in {m[2] for m in moves}:
            for chunk in chunked(sorted({m[4] for m in moves if m[2] == kind})):
                holders.update(((kind, value), cid) for value, cid in plain_rows(
                    session, sa.select(i.c.value, i.c.contact_id).where(i.c.kind == kind, among(i.c.value, chunk))))
        for identity_id, contact_id, kind, old, new in moves:
            holder = holders.get((kind, new))
            if holder is None:
                holders[(kind, new)] = contact_id
                report.identities_rewritten += 1
                if len(report.examples) < 10:
                    report.examples.append(f"{kind} {old!r} -> {new!r}")
                if not dry_run:
                    is_weak = {"is_weak": normalize_emails(new)[0].is_role} if kind == "email" else {}
                    session.execute(sa.update(i).where(i.c.id == identity_id).values(value=new, **is_weak))
            elif holder == contact_id:
                report.identities_dropped += 1
                if not dry_run:
                    session.execute(sa.delete(i).where(i.c.id == identity_id))
            else:
                report.conflicts += 1
                suggestions.append((contact_id, holder, SUGGESTION_SCORE,
                                    [f"share {kind} {new} once written alike ({old} before)"]))
    if suggestions and not dry_run:
        upsert_suggestions(session, suggestions)


def _block_keys(session: Session, report: RenormalizeReport, dry_run: bool) -> None:
    c, k = Contact.__table__, ContactBlockKey.__table__
    last_id = 0
    while True:
        contacts = plain_rows(session, sa.select(c.c.id, c.c.display_name, c.c.aliases, c.c.company, c.c.search_latin)
                              .where(c.c.id > last_id, c.c.merged_into.is_(None)).order_by(c.c.id).limit(BATCH))
        if not contacts:
            break
        last_id = contacts[-1][0]
        report.contacts_scanned += len(contacts)
        ids = [row[0] for row in contacts]
        filed: dict[int, set[str]] = {cid: set() for cid in ids}
        for cid, key in plain_rows(session, sa.select(k.c.contact_id, k.c.key).where(among(k.c.contact_id, ids))):
            filed[cid].add(key)
        added: list[tuple[int, str]] = []
        removed: list[tuple[int, str]] = []
        latin: list[dict[str, object]] = []
        for cid, name, aliases, company, stored_latin in contacts:
            wanted = blocking_keys([n for n in [name, *json_list(aliases)] if n])
            added += [(cid, key) for key in sorted(wanted - filed[cid])]
            removed += [(cid, key) for key in sorted(filed[cid] - wanted)]
            if (now := latin_search_text(name, company)) != stored_latin:
                latin.append({"cid": cid, "latin": now})
        report.block_keys_added += len(added)
        report.block_keys_removed += len(removed)
        report.search_names_rewritten += len(latin)
        if dry_run:
            continue
        if latin:
            session.execute(sa.update(c).where(c.c.id == sa.bindparam("cid")).values(search_latin=sa.bindparam("latin")),
                            latin)
        if removed:
            session.execute(sa.delete(k).where(k.c.contact_id == sa.bindparam("cid"), k.c.key == sa.bindparam("k")),
                            [{"cid": cid, "k": key} for cid, key in removed])
        if added:
            driver_insert(session.connection(), "contact_block_keys", ("contact_id", "key"), added)

"""Who gets a new lead: ordered routing rules (by channel, form type, language, country), round-robin among
each rule's reps, a fallback owner; and each rep's queue with hot leads on top."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.contacts import summarize_contacts
from core.db import among, chunked
from core.models import AppSetting, Contact, RoutingRule, Stage, User

ROUTING_SETTINGS_KEY = "qualify.routing"
MATCH_KEYS = ("channel", "form_type", "language", "country")


def _values(wanted: Any) -> set[str]:
    items = wanted if isinstance(wanted, list) else [wanted]
    return {str(v).strip().lower() for v in items if str(v).strip()}


def rule_matches(match: dict[str, Any], lead: dict[str, str]) -> bool:
    """Every key the rule names must match (a list means any of); an empty match takes every lead."""
    for key in MATCH_KEYS:
        wanted = _values(match.get(key) or [])
        if wanted and (lead.get(key) or "").lower() not in wanted:
            return False
    return True


def routing_settings(session: Session) -> dict[str, Any]:
    row = session.get(AppSetting, ROUTING_SETTINGS_KEY)
    return dict(row.value or {}) if row is not None else {}


def set_fallback_owner(session: Session, user_id: int | None) -> None:
    row = session.get(AppSetting, ROUTING_SETTINGS_KEY) or AppSetting(key=ROUTING_SETTINGS_KEY, value={})
    row.value = {**(row.value or {}), "fallback_owner_id": user_id}
    session.add(row)


def _active_ids(session: Session, ids: list[int]) -> list[int]:
    if not ids:
        return []
    active = set(session.exec(select(User.id).where(col(User.id).in_(ids), col(User.active).is_(True))).all())
    return [i for i in ids if i in active]


def _next_assignee(session: Session, rule: RoutingRule, assignees: list[int]) -> int:
    """Round robin: an atomic increment of the rule's counter, so two workers never hand out the same turn."""
    turn = session.execute(
        sa.update(RoutingRule.__table__)
        .where(RoutingRule.__table__.c.id == rule.id)
        .values(next_index=RoutingRule.__table__.c.next_index + 1)
        .returning(RoutingRule.__table__.c.next_index)
    ).scalar_one()
    return assignees[(turn - 1) % len(assignees)]


def _active_rules(session: Session) -> list[RoutingRule]:
    return list(session.exec(
        select(RoutingRule).where(col(RoutingRule.active).is_(True)).order_by(col(RoutingRule.position), col(RoutingRule.id))
    ).all())


def choose_owner(
    session: Session, lead: dict[str, str], *, rules: list[RoutingRule] | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[int | None, str]:
    """(owner id, why) for a new lead; (None, why) when nobody can take it. `rules` and `settings`: read once
    by a caller that routes many."""
    for rule in _active_rules(session) if rules is None else rules:
        if not rule_matches(rule.match or {}, lead):
            continue
        assignees = _active_ids(session, [int(i) for i in rule.assignee_ids or []])
        if assignees:
            return _next_assignee(session, rule, assignees), f"routing rule {rule.name or rule.id}"
    fallback = (routing_settings(session) if settings is None else settings).get("fallback_owner_id")
    if fallback and _active_ids(session, [int(fallback)]):
        return int(fallback), "fallback owner"
    return None, "no rule matched and no fallback owner"


def route_new_leads(session: Session, leads: list[tuple[int, dict[str, str]]]) -> None:
    """Give each new lead an owner unless it already has one (e.g. it came through a rep's own mailbox), in
    order (round robin turns are handed out in that order), with the rules and the owners read once."""
    rules, settings = _active_rules(session), routing_settings(session)
    if not leads or (not rules and not settings.get("fallback_owner_id")):
        return  # nobody to hand leads to: the usual case of a first import
    c = Contact.__table__
    owners: dict[int, int | None] = {}
    ids = [cid for cid, _ in leads]
    for chunk in chunked(ids):
        owners.update(session.execute(sa.select(c.c.id, c.c.owner_id).where(among(c.c.id, chunk))).all())
    assigned: list[dict[str, int]] = []
    for contact_id, lead in leads:
        if contact_id not in owners or owners[contact_id] is not None:
            continue
        owner_id, _why = choose_owner(session, lead, rules=rules, settings=settings)
        if owner_id is not None:
            owners[contact_id] = owner_id
            assigned.append({"b_id": contact_id, "b_owner": owner_id})
    if assigned:
        session.execute(sa.update(c).where(c.c.id == sa.bindparam("b_id")).values(owner_id=sa.bindparam("b_owner")),
                        assigned)
        # ORM copies of these contacts in this session must see their new owner.
        for row in assigned:
            contact = session.identity_map.get(session.identity_key(Contact, row["b_id"]))
            if contact is not None:
                session.expire(contact)


TEMPERATURE_ORDER = sa.case({"hot": 0, "warm": 1}, value=Contact.temperature, else_=2)


def my_queue(session: Session, user_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """A rep's open leads: hot first, then by score, then the most recent activity."""
    contacts = session.exec(
        select(Contact)
        .where(
            Contact.owner_id == user_id,
            col(Contact.merged_into).is_(None),
            col(Contact.stage).not_in([Stage.customer.value, Stage.non_target.value]),
        )
        .order_by(TEMPERATURE_ORDER, col(Contact.score).desc(), col(Contact.last_message_at).desc().nulls_last(),
                  col(Contact.id).desc())
        .limit(max(1, min(limit, 200)))
    ).all()
    return summarize_contacts(session, list(contacts))

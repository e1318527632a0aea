"""Routing of new leads: rules by channel, form, language and country; fair round robin; fallback owner."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from core.models import Contact, RoutingRule
from core.routing import rule_matches, set_fallback_owner
from core.users import create_user


def _reps(session, n: int) -> list[int]:  # noqa: ANN001
    ids = [create_user(session, email=f"rep{i}@x.pl", role="rep", name=f"Rep {i}").id for i in range(n)]
    session.commit()
    return ids


def _post(client, auth, n: int, *, channel: str = "form", text: str = "Hello", phone: str | None = None,
          form_type: str | None = None) -> int:  # noqa: ANN001
    contact = {"name": f"Lead {n}", "email": f"lead{n}@example.com"}
    if phone:
        contact["phone"] = phone
    message = {"external_id": f"r-{n}", "text": text}
    if form_type:
        message["meta"] = {"form_type": form_type}
    response = client.post("/api/v1/inbound", json={"channel": channel, "contact": contact, "message": message},
                           headers=auth)
    assert response.status_code == 201, response.json
    return response.json["contact_id"]


@pytest.mark.parametrize("leads", [1, 7, 10, 30])
def test_round_robin_is_fair(client, auth, session, leads: int):
    reps = _reps(session, 3)
    session.add(RoutingRule(name="everyone", match={}, assignee_ids=reps))
    session.commit()
    ids = [_post(client, auth, n) for n in range(leads)]
    session.rollback()
    owners = Counter(session.get(Contact, cid).owner_id for cid in ids)
    assert set(owners) <= set(reps) and sum(owners.values()) == leads
    counts = [owners.get(r, 0) for r in reps]
    assert max(counts) - min(counts) <= 1
    # Turns go in order: rep 0, rep 1, rep 2, rep 0 …
    assert [session.get(Contact, cid).owner_id for cid in ids[:3]] == reps[: min(3, leads)]


def test_rules_by_language_country_and_form_with_fallback(client, auth, session):
    ru_rep, pl_rep, demo_rep, fallback = _reps(session, 4)
    session.add_all([
        RoutingRule(name="demo", position=0, match={"form_type": ["demo"]}, assignee_ids=[demo_rep]),
        RoutingRule(name="ru", position=1, match={"language": ["ru"]}, assignee_ids=[ru_rep]),
        RoutingRule(name="pl", position=2, match={"country": ["PL"]}, assignee_ids=[pl_rep]),
    ])
    set_fallback_owner(session, fallback)
    session.commit()
    russian = _post(client, auth, 1, text="Здравствуйте, сколько стоит?")
    polish_phone = _post(client, auth, 2, text="Hello", phone="+48 601 234 567")
    demo = _post(client, auth, 3, text="Здравствуйте", form_type="demo")
    other = _post(client, auth, 4, text="Hello", phone="+1 212 555 0100")
    session.rollback()
    owners = {cid: session.get(Contact, cid).owner_id for cid in (russian, polish_phone, demo, other)}
    assert owners == {russian: ru_rep, polish_phone: pl_rep, demo: demo_rep, other: fallback}


def test_inactive_reps_are_skipped_and_known_leads_keep_their_owner(client, auth, session):
    first, second = _reps(session, 2)
    session.add(RoutingRule(name="all", match={}, assignee_ids=[first, second]))
    from core.models import User

    session.get(User, first).active = False
    session.commit()
    ids = [_post(client, auth, n) for n in range(3)]
    session.rollback()
    assert {session.get(Contact, cid).owner_id for cid in ids} == {second}
    # A second message from a known lead does not route it again.
    client.post("/api/v1/inbound", headers=auth, json={
        "channel": "form", "contact": {"email": "lead0@example.com"}, "message": {"external_id": "again", "text": "x"}})
    session.rollback()
    assert session.exec(select(Contact.owner_id).where(Contact.id == ids[0])).one() == second


@pytest.mark.parametrize(
    ("match", "lead", "expected"),
    [
        ({}, {"channel": "gmail"}, True),
        ({"channel": "gmail"}, {"channel": "gmail"}, True),
        ({"channel": ["form", "gmail"], "language": "pl"}, {"channel": "gmail", "language": "en"}, False),
        ({"country": ["pl"]}, {"country": "PL"}, True),
        ({"form_type": ["demo"]}, {"form_type": ""}, False),
    ],
)
def test_rule_matching(match: dict, lead: dict, expected: bool) -> None:
    assert rule_matches(match, lead) is expected

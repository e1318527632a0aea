"""Ids from outside (paths, query strings, forms, JSON) that the store cannot hold or that are not numbers: a
clear 4xx or the page's own "choose one" answer, never a 500. Before, 20-digit ids reached the database driver
("Python int too large to convert to SQLite INTEGER") and "²" passed str.isdigit() but not int()."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.contacts import encode_cursor
from core.ingest import ingest
from core.models import Contact, Conversation, DuplicateSuggestion
from core.schemas import InboundRecord

HUGE = "9" * 20
JUST_OVER = str(2**31)  # one past the largest id PostgreSQL's INTEGER columns hold, as many digits as it
NOT_DECIMAL = "²"


@pytest.fixture
def pair(session: Session) -> tuple[int, int, int]:
    """Two look-alike leads with a suggestion between them: (conversation id, suggestion id, contact id)."""
    for n, name in enumerate(["Łukasz Wójcik", "Lukasz Wojcik"]):
        ingest(session, InboundRecord.model_validate({
            "channel": "form", "contact": {"name": name, "company": "Budmax", "email": f"l{n}@example.com"},
            "message": {"external_id": f"m{n}", "text": "Proszę o ofertę"}}))
    session.commit()
    conversation = session.exec(select(Conversation)).first()
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    return conversation.id, suggestion.id, session.exec(select(Contact.id)).first()


@pytest.mark.parametrize("method,path", [
    ("GET", f"/api/v1/contacts/{HUGE}"), ("GET", f"/api/v1/contacts/{HUGE}/timeline"),
    ("GET", f"/api/v1/contacts/{HUGE}/export"), ("DELETE", f"/api/v1/contacts/{HUGE}"),
    ("POST", f"/api/v1/merges/{HUGE}/undo"), ("GET", f"/api/v1/contacts/{HUGE}/qualification"),
    # Paths with a rule per method: an id over the bound answered 405 from the other method's rule.
    ("DELETE", f"/api/v1/contacts/{JUST_OVER}"), ("PATCH", f"/api/v1/contacts/{JUST_OVER}/qualification"),
    ("GET", f"/api/v1/contacts/{JUST_OVER}"), ("GET", f"/api/v1/contacts/{2**63}/timeline"),
])
def test_api_path_ids_beyond_the_store_are_404(client, auth, method: str, path: str) -> None:  # noqa: ANN001
    response = client.open(path, method=method, headers=auth, json={} if method == "POST" else None)
    assert response.status_code == 404


@pytest.mark.parametrize("other_id", [2**70, -(2**70), 2**31, HUGE * 2, NOT_DECIMAL, 0, None, "1.5"])
def test_api_merge_with_an_impossible_other_id_is_400(client, auth, pair, other_id) -> None:  # noqa: ANN001
    _, _, contact_id = pair
    response = client.post(f"/api/v1/contacts/{contact_id}/merge", json={"other_id": other_id}, headers=auth)
    assert response.status_code == 400 and "other_id" in response.json["fields"]


@pytest.mark.parametrize("as_sent", [lambda i: True, str, float])
def test_api_merge_takes_other_id_only_as_the_documented_integer(client, auth, pair, session: Session,
                                                                 as_sent) -> None:  # noqa: ANN001
    """The document says other_id is an integer; pydantic's lax mode took true as 1, "2" as 2 and 2.0 as 2, and
    merged: {"other_id": true} folded contact 1 into another. A merge cannot be undone by accident, so a wrong
    type is a 400 and nothing is merged."""
    first, second = sorted(session.exec(select(Contact.id)).all())
    assert first == 1
    response = client.post(f"/api/v1/contacts/{second}/merge", json={"other_id": as_sent(first)}, headers=auth)
    assert response.status_code == 400 and "other_id" in response.json["fields"], response.json
    session.expire_all()
    assert session.exec(select(Contact.merged_into)).all() == [None, None]


@pytest.mark.parametrize("value", [HUGE, NOT_DECIMAL, "-1", "abc", ""])
def test_pages_take_impossible_ids_without_a_500(as_role, pair, value: str) -> None:  # noqa: ANN001
    conversation_id, suggestion_id, _ = pair
    admin = as_role("admin")
    for path in (f"/inbox?owner={value}", f"/mail/sends/new?owner={value}", f"/contacts/{value}"):
        assert admin.get(path).status_code in (200, 404), path
    posts = [
        (f"/conversations/{conversation_id}/owner", {"owner_id": value}),
        (f"/duplicates/{suggestion_id}/merge", {"survivor_id": value}),
        ("/mail/sends", {"template_id": value, "account_id": value, "contact_id": value}),
        ("/qualify/routing", {"action": "delete", "rule_id": value}),
        ("/qualify/routing", {"action": "add", "name": "x", "assignees": value, "position": value}),
        ("/qualify/routing", {"action": "fallback", "fallback_owner_id": value}),
        ("/qualify/webhooks", {"action": "delete", "endpoint_id": value}),
        ("/admin/forms/new", {"name": "Kontakt", "type": "contact", "owner_id": value, "field_count": value}),
    ]
    for path, data in posts:
        response = admin.post(path, data=data)
        assert response.status_code in (200, 302, 400, 404), (path, data, response.status_code)


@pytest.mark.parametrize("limit", [0, 7, 9, 10, 305, 1000, 2**63 - 1])
def test_the_id_pattern_matches_exactly_the_numbers_up_to_its_limit(limit: int) -> None:
    import random
    import re

    from webapp.db import _digits_at_most

    pattern = re.compile(_digits_at_most(limit) + r"\Z")
    rng = random.Random(limit)
    numbers = [*range(1200), limit - 1, limit, limit + 1, 10 ** len(str(limit)), 2**64,
               *(rng.randrange(2 * limit + 10) for _ in range(3000))]
    assert [n for n in numbers if bool(pattern.match(str(n))) != (0 <= n <= limit)] == []


@pytest.mark.parametrize("query", [f"owner={2**31}", f"cursor={encode_cursor({'before_id': 2**40})}"])
def test_api_query_ids_beyond_the_store_are_400(client, auth, query: str) -> None:  # noqa: ANN001
    response = client.get(f"/api/v1/contacts?{query}", headers=auth)
    assert response.status_code == 400

"""Stages with history, BANT, the score explained, scoring on ingest and the rep's queue through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from core.models import Contact, LeadQualification, StageChange


def _inbound(client, auth, n: int, **overrides):  # noqa: ANN001, ANN202
    body = {
        "channel": "form",
        "contact": {"name": f"Lead {n}", "email": f"lead{n}@budmax.pl", "company": "Budmax", "title": "Prezes zarządu"},
        "message": {"external_id": f"f-{n}", "subject": "Zapytanie", "text": "Dzień dobry, proszę o wycenę.",
                    "sent_at": datetime.now(UTC).isoformat()},
    }
    for key, value in overrides.items():
        body[key] = value
    response = client.post("/api/v1/inbound", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["contact_id"]


def test_ingest_scores_and_explains_the_lead(client, auth):
    cid = _inbound(client, auth, 1)
    q = client.get(f"/api/v1/contacts/{cid}/qualification", headers=auth).json
    fired = {e["rule"]: e["points"] for e in q["explanation"]}
    assert fired["source-form"] == 10
    assert fired["corporate-email"] == 10
    assert fired["executive"] == 20
    assert fired["company"] == 5
    assert fired["intent"] == 10
    assert 14.9 <= fired["recency"] <= 15
    assert fired["inbound"] == 3
    assert q["score"] == round(sum(fired.values()))
    assert q["language"] == "pl"
    assert q["source_channel"] == "form"
    # 73 points passes the SQL threshold of the built-in rules (60): new → SQL, recorded as scoring's change.
    assert q["stage"] == "sql"
    assert [(h["from"], h["to"], h["actor"]) for h in q["stage_history"]] == [("new", "sql", "scoring:v0")]
    listed = client.get("/api/v1/contacts", headers=auth).json["items"][0]
    assert listed["score"] == q["score"] and listed["temperature"] == q["temperature"] == "hot"


def test_stage_change_needs_reason_for_non_target_and_is_recorded(client, auth, session):
    cid = _inbound(client, auth, 2, contact={"name": "Anna", "email": "anna@gmail.com"},
                   message={"external_id": "x2", "text": "hello"})
    missing = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "non_target"}, headers=auth)
    assert missing.status_code == 400 and "reason" in missing.json["fields"]
    bad = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "won"}, headers=auth)
    assert bad.status_code == 400 and "stage" in bad.json["fields"]
    not_json = client.post(f"/api/v1/contacts/{cid}/stage", data="x", headers=auth)
    assert not_json.status_code in (400, 415)
    ok = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "non_target", "reason": "competitor"}, headers=auth)
    assert ok.status_code == 201, ok.json
    again = client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "non_target", "reason": "spam"}, headers=auth)
    assert again.status_code == 409
    history = ok.json["stage_history"]
    assert history[-1]["to"] == "non_target" and history[-1]["reason"] == "competitor"
    assert history[-1]["actor"] == "admin@leadhub.example"
    assert client.post("/api/v1/contacts/999999/stage", json={"stage": "mql"}, headers=auth).status_code == 404
    # Scoring never moves a non-target lead again, whatever it scores.
    client.patch(f"/api/v1/contacts/{cid}/qualification", json={"need": "x", "budget": "y", "authority": "CEO",
                                                               "timeline": "Q1"}, headers=auth)
    assert session.get(Contact, cid).stage == "non_target"


def test_customer_milestones_and_deal_value(client, auth, session):
    cid = _inbound(client, auth, 3, contact={"name": "Olga", "email": "olga@gmail.com"},
                   message={"external_id": "x3", "text": "hi"})
    assert client.post(f"/api/v1/contacts/{cid}/stage", json={"stage": "customer"}, headers=auth).status_code == 201
    lq = session.get(LeadQualification, cid)
    assert lq.mql_at is not None and lq.sql_at is not None and lq.customer_at is not None
    response = client.patch(f"/api/v1/contacts/{cid}/qualification", json={"deal_value": 12500.5, "deal_currency": "PLN"},
                            headers=auth)
    assert response.status_code == 200 and response.json["deal_value"] == 12500.5
    bad = client.patch(f"/api/v1/contacts/{cid}/qualification", json={"deal_value": -1, "colour": "red"}, headers=auth)
    assert bad.status_code == 400 and {"deal_value", "colour"} <= set(bad.json["fields"])


def test_bant_fields_feed_the_score(client, auth):
    cid = _inbound(client, auth, 4, contact={"name": "Ivan", "email": "ivan@gmail.com"},
                   message={"external_id": "x4", "text": "hello"})
    before = client.get(f"/api/v1/contacts/{cid}/qualification", headers=auth).json
    after = client.patch(f"/api/v1/contacts/{cid}/qualification",
                         json={"need": "CRM for 20 people", "budget": "50k PLN"}, headers=auth).json
    fired = {e["rule"] for e in after["explanation"]}
    assert {"bant-need", "bant-budget"} <= fired
    assert after["score"] == before["score"] + 15
    assert after["bant"]["need"] == "CRM for 20 people"


def test_first_response_time_is_measured(client, auth, session):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    cid = _inbound(client, auth, 5, message={"external_id": "in-1", "text": "hello", "sent_at": start.isoformat()})
    client.post("/api/v1/inbound", headers=auth, json={
        "channel": "form", "contact": {"email": "lead5@budmax.pl"},
        "message": {"external_id": "out-1", "direction": "out", "text": "hi!",
                    "sent_at": (start + timedelta(minutes=90)).isoformat()}})
    q = client.get(f"/api/v1/contacts/{cid}/qualification", headers=auth).json
    assert q["response_seconds"] == 5400
    assert q["first_response_at"].startswith("2026-11-02T10:30")


def test_queue_puts_hot_leads_first(client, auth, session, admin_token):
    from core.models import User

    cold = _inbound(client, auth, 6, contact={"name": "Cold", "email": "cold@gmail.com"},
                    message={"external_id": "c6", "text": "newsletter", "sent_at": "2025-01-01T00:00:00Z"})
    hot = _inbound(client, auth, 7)
    admin = session.exec(select(User).where(User.email == "admin@leadhub.example")).one()
    for cid in (cold, hot):
        contact = session.get(Contact, cid)
        contact.owner_id = admin.id
        session.add(contact)
    session.commit()
    items = client.get("/api/v1/queue", headers=auth).json["items"]
    assert [i["id"] for i in items] == [hot, cold]
    assert items[0]["temperature"] == "hot" and items[1]["temperature"] == "cold"
    changes = session.exec(select(StageChange).where(StageChange.contact_id == hot)).all()
    assert len(changes) == 1


def test_openapi_lists_qualification_paths(client):
    document = client.get("/api/openapi.json").json
    for path in ("/api/v1/contacts/{contact_id}/qualification", "/api/v1/contacts/{contact_id}/stage", "/api/v1/queue"):
        assert path in document["paths"]
    assert set(document["components"]["schemas"]["StageRequest"]["properties"]) == {"stage", "reason", "note"}


def test_export_includes_qualification_and_erase_removes_it(client, auth, session):
    cid = _inbound(client, auth, 8)
    client.patch(f"/api/v1/contacts/{cid}/qualification", json={"budget": "20k"}, headers=auth)
    exported = client.get(f"/api/v1/contacts/{cid}/export", headers=auth).json
    assert exported["qualification"]["bant"]["budget"] == "20k"
    assert exported["qualification"]["stage_history"]
    assert client.delete(f"/api/v1/contacts/{cid}", headers=auth).status_code == 200
    session.rollback()
    assert session.get(LeadQualification, cid) is None
    assert session.exec(select(StageChange).where(StageChange.contact_id == cid)).all() == []

"""Qualification pages: rules with preview, save and background rescoring progress; routing; the lead panel
with stage and BANT forms; a rep's queue; roles."""

from __future__ import annotations

import copy
import json
import re

import pytest
from sqlmodel import select

from core.models import Contact, RoutingRule, ScoringRuleSet
from core.scoring import DEFAULT_RULESET
from core.users import create_user


@pytest.fixture
def admin_client(app, client, admin_token):  # noqa: ANN001, ANN201
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/login", data={"email": "admin@leadhub.example", "password": "admin-password"}).status_code == 302
    return client


def _lead(client, auth, n: int, email: str) -> int:  # noqa: ANN001
    response = client.post("/api/v1/inbound", headers=auth, json={
        "channel": "gmail", "contact": {"name": f"P{n}", "email": email},
        "message": {"external_id": f"p{n}", "text": "hello", "sent_at": "2026-01-01T00:00:00Z"}})
    assert response.status_code == 201
    return response.json["contact_id"]


def test_rules_preview_save_and_rescore_progress(admin_client, auth, session):
    ids = [_lead(admin_client, auth, n, f"p{n}@firma{n}.pl") for n in range(3)]
    page = admin_client.get("/qualify/rules")
    assert page.status_code == 200 and b"built-in defaults" in page.data
    draft = copy.deepcopy(DEFAULT_RULESET)
    draft["thresholds"] = {"mql": 5, "sql": 100}
    preview = admin_client.post("/qualify/rules", data={"rules": json.dumps(draft), "action": "preview"})
    assert preview.status_code == 200
    assert "3 leads: 3 would change stage" in preview.data.decode()
    assert session.exec(select(ScoringRuleSet)).all() == []  # a preview saves nothing
    invalid = admin_client.post("/qualify/rules", data={"rules": '{"thresholds": {"mql": 9, "sql": 1}}', "action": "save"})
    assert invalid.status_code == 400 and b"not valid" in invalid.data
    broken = admin_client.post("/qualify/rules", data={"rules": "{nope", "action": "preview"})
    assert broken.status_code == 400 and b"not valid JSON" in broken.data
    saved = admin_client.post("/qualify/rules", data={"rules": json.dumps(draft), "action": "save", "note": "lower"},
                              follow_redirects=True)
    assert saved.status_code == 200 and b"version 1" in saved.data
    job = admin_client.get("/qualify/rules/job").json
    assert (job["status"], job["done"], job["total"], job["stage_changes"], job["version"]) == ("done", 3, 3, 3, 1)
    session.rollback()
    assert {session.get(Contact, i).stage for i in ids} == {"mql"}
    restore = admin_client.post("/qualify/rules/1/activate", follow_redirects=True)
    assert b"restored as version 2" in restore.data
    assert admin_client.post("/qualify/rules/99/activate").status_code == 404


def test_routing_page(admin_client, session):
    rep = create_user(session, email="r@x.pl", role="rep", name="Rita")
    session.commit()
    response = admin_client.post("/qualify/routing", data={
        "action": "add", "name": "Russian", "language": "ru", "assignees": [str(rep.id)], "position": "1"},
        follow_redirects=True)
    assert response.status_code == 200 and b"Rita" in response.data
    rule = session.exec(select(RoutingRule)).one()
    assert (rule.match, rule.assignee_ids) == ({"language": ["ru"]}, [rep.id])
    empty = admin_client.post("/qualify/routing", data={"action": "add", "name": "x"})
    assert empty.status_code == 400 and b"at least one rep" in empty.data
    admin_client.post("/qualify/routing", data={"action": "fallback", "fallback_owner_id": str(rep.id)})
    admin_client.post("/qualify/routing", data={"action": "delete", "rule_id": str(rule.id)})
    session.rollback()
    assert session.exec(select(RoutingRule)).all() == []


def test_a_refused_routing_rule_or_webhook_comes_back_as_typed(admin_client, session):
    """Forgetting to tick a rep (or an event), or mistyping the URL, redirected to empty forms: the rule's name
    and match, or the URL and description, had to be typed again. "https://" alone, or a URL with a space,
    was stored as an endpoint. Now the form comes back filled, the error beside the field, nothing stored."""
    from core.models import WebhookEndpoint

    create_user(session, email="r@x.pl", role="rep", name="Rita")
    session.commit()
    page = admin_client.post("/qualify/routing", data={
        "action": "add", "name": "Rosja i Białoruś", "country": "ru, by", "position": "3"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'data-field="assignees"' in html and "at least one rep" in html
    assert 'name="name" value="Rosja i Białoruś"' in html and 'value="ru, by"' in html and 'value="3"' in html
    assert 'aria-label="Fallback owner"' in html
    for url in ("ftp://x", "https://", "https://hooks.example/ a", "http://[::1", "https://h.example:99999/x"):
        page = admin_client.post("/qualify/webhooks", data={"action": "add", "url": url, "description": "CRM Łódź",
                                                            "events": ["lead.created"]})
        html = page.get_data(as_text=True)
        assert page.status_code == 400 and 'data-field="url"' in html and "must start with http" in html, url
        assert 'value="CRM Łódź"' in html and 'aria-invalid="true"' in html
    page = admin_client.post("/qualify/webhooks", data={"action": "add", "url": "https://hooks.example/in",
                                                        "description": "CRM"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'data-field="events"' in html and 'value="https://hooks.example/in"' in html
    session.rollback()
    assert session.exec(select(RoutingRule)).all() == [] and session.exec(select(WebhookEndpoint)).all() == []


def test_lead_panel_forms(admin_client, auth, session):
    cid = _lead(admin_client, auth, 1, "p1@gmail.com")
    page = admin_client.get(f"/qualify/leads/{cid}")
    assert page.status_code == 200 and b"Why this score" in page.data and b"Stage history" in page.data
    nope = admin_client.post(f"/qualify/leads/{cid}/stage", data={"stage": "non_target"}, follow_redirects=True)
    assert b"needs a reason" in nope.data
    done = admin_client.post(f"/qualify/leads/{cid}/stage", data={"stage": "non_target", "reason": "wrong_fit"},
                             follow_redirects=True)
    assert b"Stage changed" in done.data and b"wrong_fit" in done.data
    # The history's times read as the rest of the app writes them, not as raw ISO 8601 with microseconds.
    history = done.get_data(as_text=True).split("Stage history", 1)[1]
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time> UTC: ', history), history[:400]
    bant = admin_client.post(f"/qualify/leads/{cid}/bant", data={"need": "CRM", "budget": "10k", "deal_value": "1 200,50"},
                             follow_redirects=True)
    assert b"rescored" in bant.data and b"bant-budget" in bant.data
    bad = admin_client.post(f"/qualify/leads/{cid}/bant", data={"deal_value": "lots"}, follow_redirects=True)
    assert b"must be a number" in bad.data
    assert admin_client.get("/qualify/leads/999999").status_code == 404


def test_bant_on_the_lead_page_edits_in_place(admin_client, auth, session):
    cid = _lead(admin_client, auth, 3, "p3@firma.pl")
    page = admin_client.get(f"/contacts/{cid}").get_data(as_text=True)
    assert "Save BANT" in page and "Why this score" in page
    saved = admin_client.post(f"/qualify/leads/{cid}/bant", data={
        "need": "Hurtownia stali", "timeline": "Q1", "budget": "50 000 zł", "authority": "Dyrektor", "deal_value": "",
        "next": f"/contacts/{cid}"})
    assert saved.status_code == 302 and saved.location.endswith(f"/contacts/{cid}")
    page = admin_client.get(f"/contacts/{cid}").get_data(as_text=True)
    assert 'value="Hurtownia stali"' in page and 'value="50 000 zł"' in page and "bant-budget" in page
    admin_client.post(f"/qualify/leads/{cid}/stage", data={"stage": "non_target", "reason": "no_budget",
                                                          "next": f"/contacts/{cid}"})
    page = admin_client.get(f"/contacts/{cid}").get_data(as_text=True)
    assert '<option value="no_budget" selected>' in page  # the stored reason is shown, not a blank picker
    assert admin_client.post(f"/qualify/leads/{cid}/bant", data={"need": "x", "next": "//evil.example/"}
                             ).location.endswith(f"/qualify/leads/{cid}")


def test_a_deal_value_that_cannot_be_read_does_not_lose_the_bant_typed_beside_it(admin_client, auth, session):
    """A deal value of "około 50 tys." (or "-5") sent the rep back to the lead page showing the stored BANT: the
    need, timeline, budget and authority typed with it were gone. Now those are saved, the value is refused on
    its own and what was typed is named in the message. A Polish amount with no-break spaces is a number."""
    cid = _lead(admin_client, auth, 4, "p4@firma.pl")
    typed = {"need": "Hurtownia stali", "timeline": "Q1 2027", "budget": "zatwierdzony", "authority": "Prezes",
             "next": f"/contacts/{cid}"}
    for value in ("około 50 tys.", "-5", "nan"):
        page = admin_client.post(f"/qualify/leads/{cid}/bant", data={**typed, "deal_value": value},
                                 follow_redirects=True).get_data(as_text=True)
        assert "was not saved" in page and value in page and "The rest of the qualification was saved." in page
        for text in ("Hurtownia stali", "Q1 2027", "zatwierdzony", "Prezes"):
            assert f'value="{text}"' in page
    assert 'name="deal_value" value=""' in page
    page = admin_client.post(f"/qualify/leads/{cid}/bant", data={"deal_value": "1\u202f200\u00a0000,50"},
                             follow_redirects=True).get_data(as_text=True)
    assert "rescored" in page and 'name="deal_value" value="1200000.5"' in page


def test_a_refused_stage_change_says_back_the_note_it_did_not_save(admin_client, auth, session):
    """Non-target without a reason is refused, rightly; the redirect back showed an empty note box, so the
    note written with it was gone without a word."""
    cid = _lead(admin_client, auth, 5, "p5@firma.pl")
    page = admin_client.post(f"/qualify/leads/{cid}/stage", data={
        "stage": "non_target", "note": "Dzwonił konkurent — Техностил, <b>nie</b> klient", "next": f"/contacts/{cid}"},
        follow_redirects=True).get_data(as_text=True)
    assert "Stage not changed." in page and "needs a reason" in page
    assert "Your note was not saved: “Dzwonił konkurent — Техностил, &lt;b&gt;nie&lt;/b&gt; klient”" in page


def test_queue_page_and_roles(app, client, auth, session):
    app.config["WTF_CSRF_ENABLED"] = False
    rep = create_user(session, email="q@x.pl", role="rep", name="Quinn", password="quinn-password")
    session.commit()
    cid = _lead(client, auth, 2, "p2@firma.pl")
    session.rollback()
    contact = session.get(Contact, cid)
    contact.owner_id = rep.id
    session.add(contact)
    session.commit()
    client.post("/login", data={"email": "q@x.pl", "password": "quinn-password"})
    page = client.get("/queue")
    assert page.status_code == 200 and b"P2" in page.data
    for url in ("/qualify/rules", "/qualify/routing", "/qualify/webhooks", "/analytics"):
        assert client.get(url).status_code == 403, url


def test_rescore_job_in_worker_processes_hands_their_webhooks_to_the_queue(app, admin_client, auth, session,
                                                                           monkeypatch):
    """With LEADHUB_RESCORE_PROCESSES=2 the saved rules are applied by two spawned processes (batches of one
    lead here); the stage.changed deliveries they wrote are enqueued by the task, each once."""
    import functools

    from core.models import WebhookDelivery, WebhookEndpoint
    from core.qualification import rescore_all
    from webapp.qualify import tasks

    ids = [_lead(admin_client, auth, n, f"w{n}@firma{n}.pl") for n in range(4)]
    session.add(WebhookEndpoint(url="https://hooks.example/in", events=["stage.changed"], created_by="admin"))
    session.commit()
    app.config["LEADHUB"]["RESCORE_PROCESSES"] = 2
    used: list[int] = []

    def small_batches(engine, **options):  # noqa: ANN001, ANN003, ANN202
        stats = functools.partial(rescore_all, batch_size=1)(engine, **options)
        used.append(stats.processes)
        return stats

    queued: list[tuple] = []
    monkeypatch.setattr(tasks, "rescore_all", small_batches)
    monkeypatch.setattr(tasks, "enqueue", lambda name, *args: queued.append((name, *args)))
    draft = copy.deepcopy(DEFAULT_RULESET)
    draft["thresholds"] = {"mql": 5, "sql": 100}
    admin_client.post("/qualify/rules", data={"rules": json.dumps(draft), "action": "save"})
    job = admin_client.get("/qualify/rules/job").json
    assert (job["status"], job["done"], job["stage_changes"]) == ("done", 4, 4) and used == [2]
    session.rollback()
    assert {session.get(Contact, i).stage for i in ids} == {"mql"}
    deliveries = session.exec(select(WebhookDelivery).where(WebhookDelivery.event == "stage.changed")).all()
    assert len(deliveries) == 4
    assert sorted(queued) == sorted(("deliver_webhook", d.id) for d in deliveries)

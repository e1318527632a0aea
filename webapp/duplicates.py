"""The duplicates queue: suggested pairs side by side with the reasons; merge choosing the survivor, or dismiss.
Undo lives on the lead page's merge history."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from core.contacts import contact_detail, list_suggestions
from core.identity import IdentityError, dismiss_suggestion, merge_contacts
from core.models import DuplicateSuggestion
from webapp.db import get_session, parse_id, write_session

bp = Blueprint("duplicates", __name__)


@bp.get("/duplicates")
@login_required
def index():  # noqa: ANN201
    session = get_session()
    pairs = []
    for suggestion in list_suggestions(session, status="open", limit=100):
        a = contact_detail(session, suggestion["contact_a_id"])
        b = contact_detail(session, suggestion["contact_b_id"])
        if a and b:
            pairs.append({"suggestion": suggestion, "a": a, "b": b})
    return render_template("duplicates/index.html", pairs=pairs)


def _open_suggestion(suggestion_id: int) -> DuplicateSuggestion:
    suggestion = get_session().get(DuplicateSuggestion, suggestion_id)
    if suggestion is None:
        abort(404)
    return suggestion


@bp.post("/duplicates/<int:suggestion_id>/merge")
@login_required
def merge(suggestion_id: int):  # noqa: ANN201
    session = write_session()
    suggestion = _open_suggestion(suggestion_id)
    pair = {suggestion.contact_a_id, suggestion.contact_b_id}
    raw = request.form.get("survivor_id") or ""
    if parse_id(raw) not in pair:
        flash("Choose which lead to keep.", "error")
        return redirect(url_for("duplicates.index"))
    survivor_id = int(raw)
    (merged_id,) = pair - {survivor_id}
    try:
        merge_contacts(session, survivor_id=survivor_id, merged_id=merged_id,
                       reason="duplicate suggestion: " + "; ".join(suggestion.reasons)[:400],
                       actor=current_user.email)
    except IdentityError as exc:
        session.rollback()
        flash(f"Cannot merge: {exc}.", "error")
        return redirect(url_for("duplicates.index"))
    session.commit()
    flash("Merged. You can undo it from the lead's history.")
    return redirect(url_for("leads.show", contact_id=survivor_id))


@bp.post("/duplicates/<int:suggestion_id>/dismiss")
@login_required
def dismiss(suggestion_id: int):  # noqa: ANN201
    session = write_session()
    _open_suggestion(suggestion_id)
    try:
        dismiss_suggestion(session, suggestion_id=suggestion_id, actor=current_user.email)
    except IdentityError as exc:
        session.rollback()
        flash(f"Not dismissed: {exc}.", "error")
        return redirect(url_for("duplicates.index"))
    session.commit()
    flash("Dismissed: they stay two leads.")
    return redirect(url_for("duplicates.index"))

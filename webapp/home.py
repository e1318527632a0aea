"""The landing page after sign-in."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from core.contacts import ContactFilter, CursorError, list_contacts
from webapp.db import get_session

bp = Blueprint("home", __name__)
PAGE_SIZE = 50


@bp.get("/")
@login_required
def index():  # noqa: ANN201
    mine = request.args.get("mine") == "1"
    cursor = request.args.get("cursor") or None
    filters = ContactFilter(owner_id=int(current_user.id) if mine else None)
    try:
        contacts, next_cursor = list_contacts(get_session(), filters=filters, limit=PAGE_SIZE, cursor=cursor)
    except CursorError:
        abort(400, "This page link is damaged or out of date: open Leads again from the top.")
    return render_template("home.html", contacts=contacts, mine=mine, cursor=cursor, next_cursor=next_cursor)

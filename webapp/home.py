"""The landing page after sign-in."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from core.contacts import ContactFilter, list_contacts
from webapp.db import get_session

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():  # noqa: ANN201
    mine = request.args.get("mine") == "1"
    filters = ContactFilter(owner_id=int(current_user.id) if mine else None)
    contacts, _ = list_contacts(get_session(), filters=filters, limit=50)
    return render_template("home.html", contacts=contacts, mine=mine)

"""The landing page after sign-in."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from core.contacts import ContactFilter, list_contacts
from webapp.db import get_session

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():  # noqa: ANN201
    contacts, _ = list_contacts(get_session(), filters=ContactFilter(), limit=50)
    return render_template("home.html", contacts=contacts)

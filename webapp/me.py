"""The rep's own page: their connected accounts, buttons to connect Gmail and LinkedIn, their leads."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required
from sqlmodel import col, select

from core.models import ConnectorAccount
from webapp.db import get_session

bp = Blueprint("me", __name__)

# (label, endpoint) — a button shows only when the connector helper's endpoint exists in this build.
CONNECT_ENDPOINTS = (("Connect Gmail", "gmail.connect"), ("Connect LinkedIn", "linkedin.connect"))


@bp.get("/me/connections")
@login_required
def connections():  # noqa: ANN201
    accounts = list(get_session().exec(
        select(ConnectorAccount).where(ConnectorAccount.owner_id == int(current_user.id))
        .order_by(col(ConnectorAccount.id))
    ).all())
    buttons = [(label, endpoint, endpoint in current_app.view_functions) for label, endpoint in CONNECT_ENDPOINTS]
    return render_template("me/connections.html", accounts=accounts, buttons=buttons)

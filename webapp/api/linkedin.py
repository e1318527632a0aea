"""`POST /api/v1/linkedin/profiles`: the browser extension and the bookmarklet save a profile here."""

from __future__ import annotations

from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import after_this_request, current_app, g, jsonify, request
from sqlmodel import select

from connectors.linkedin.profile import ProfileIn, profile_record
from core.identity import get_live_contact
from core.ingest import IngestError, ingest
from core.models import Contact, DuplicateSuggestion, Identity, utcnow
from webapp.api import bp
from webapp.api.auth import token_required
from webapp.api.routes import ApiError, ingest_options, json_object, parse
from webapp.db import write_session
from webapp.settings import connector_required

# The bookmarklet runs on LinkedIn's pages, so its request is cross-origin; the extension's is not.
ALLOWED_ORIGIN_SUFFIX = ".linkedin.com"


def _cors(response):  # noqa: ANN001, ANN202
    origin = request.headers.get("Origin", "")
    if origin.startswith("https://") and (origin.endswith(ALLOWED_ORIGIN_SUFFIX) or origin == "https://linkedin.com"):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    return response


@bp.route("/linkedin/profiles", methods=["OPTIONS"])
def linkedin_profiles_preflight():  # noqa: ANN201
    return _cors(current_app.response_class(status=204))


def _cors_on_every_answer(view):  # noqa: ANN001, ANN202
    """CORS headers on the refusals too (a wrong token, a bad body): without them the browser hides the answer
    from the bookmarklet, which can then only say that leadhub could not be reached."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
        after_this_request(_cors)
        return view(*args, **kwargs)

    return wrapper


@bp.post("/linkedin/profiles")
@_cors_on_every_answer
@token_required()
@connector_required("linkedin")
def linkedin_profile_save():  # noqa: ANN201
    profile = parse(ProfileIn, json_object())
    session = write_session()
    known = session.exec(
        select(Identity).where(Identity.kind == "linkedin", Identity.value == profile.profile_url)
    ).first()
    record = profile_record(profile, owner_id=g.api_user.id, saved_by=g.api_user.email)
    try:
        result = ingest(session, record, options=ingest_options())
    except IngestError as exc:
        session.rollback()
        raise ApiError(400, str(exc)) from None
    contact = get_live_contact(session, result.contact_id) if result.contact_id else None
    if contact is not None and known is not None and result.status == "created" and result.message_id is not None:
        # A known profile that shows something new (a new note): the rep is looking at the person's current
        # job, fresher than whatever the lead held, so the lead follows it. The note keeps the old one.
        _follow_current_job(session, contact, profile)
    session.commit()
    if contact is None:  # the person was erased (GDPR) and asked not to be stored again
        return jsonify({"status": "suppressed", "message": "not saved: this person asked to be erased"}), 409
    base_url = str(current_app.config["LEADHUB"]["BASE_URL"]).rstrip("/")
    body: dict[str, Any] = {
        "status": "known" if known is not None else "created",
        "message": "already in leadhub" if known is not None else "saved as new lead",
        "contact_id": contact.id,
        "name": contact.display_name,
        "profile_url": f"https://www.{profile.profile_url}",
        "link": f"{base_url}/contacts/{contact.id}",
        "api_link": f"{base_url}/api/v1/contacts/{contact.id}",
        "note_added": result.message_id is not None and result.status == "created",
        "possible_duplicates": _open_suggestions(session, contact.id),
    }
    return jsonify(body), 200 if known is not None else 201


def _follow_current_job(session, contact: Contact, profile: ProfileIn) -> None:  # noqa: ANN001
    changed = False
    for attr in ("company", "title"):
        value = (getattr(profile, attr) or "").strip()
        if value and value != getattr(contact, attr):
            setattr(contact, attr, value)
            changed = True
    if changed:
        contact.updated_at = utcnow()
        session.add(contact)


def _open_suggestions(session, contact_id: int) -> list[dict[str, Any]]:  # noqa: ANN001
    rows = session.exec(
        select(DuplicateSuggestion).where(
            DuplicateSuggestion.status == "open",
            sa.or_(DuplicateSuggestion.contact_a_id == contact_id, DuplicateSuggestion.contact_b_id == contact_id),
        )
    ).all()
    return [
        {
            "suggestion_id": row.id,
            "contact_id": row.contact_b_id if row.contact_a_id == contact_id else row.contact_a_id,
            "score": row.score,
            "reasons": row.reasons,
        }
        for row in rows
    ]

"""API views. Bad input is a 400 with per-field errors, never a 500."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request
from pydantic import BaseModel, Field, ValidationError

from core.contacts import (
    ContactFilter,
    CursorError,
    ErasureBusy,
    contact_detail,
    erase_contact,
    export_contact,
    list_contacts,
    list_suggestions,
    merge_event_dict,
    timeline,
)
from core.identity import IdentityError, dismiss_suggestion, merge_contacts, undo_merge
from core.ingest import IngestError, IngestOptions, ingest, invalid_identifier_fields
from core.models import Role, Stage, Temperature
from core.schemas import KNOWN_CHANNELS, InboundRecord
from webapp.api import bp
from webapp.api.auth import token_required
from webapp.api.openapi import CONNECTOR_ONLY_FIELDS
from webapp.db import MAX_ID, get_session, write_session
from webapp.observability import observe_webhook


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):  # noqa: ANN202
    body: dict[str, Any] = {"error": exc.message, "status": exc.status}
    if exc.fields:
        body["fields"] = exc.fields
    return jsonify(body), exc.status


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(location, error["msg"])
    return errors


def json_object() -> dict[str, Any]:
    if not request.is_json:
        # A body of another type is 415; no body at all is a plain 400.
        status = 415 if request.mimetype else 400
        raise ApiError(status, "send a JSON object with Content-Type: application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid input", field_errors(exc)) from None


def allowed_channels() -> set[str]:
    extra = current_app.config["LEADHUB"].get("EXTRA_CHANNELS", "")
    return set(KNOWN_CHANNELS) | {c.strip().lower() for c in str(extra).split(",") if c.strip()}


def ingest_options() -> IngestOptions:
    settings = current_app.config["LEADHUB"]
    actor = f"api:{g.api_user.email}" if getattr(g, "api_user", None) else "api"
    return IngestOptions(default_phone_region=settings["DEFAULT_PHONE_REGION"], actor=actor)


def int_arg(name: str, default: int | None = None, *, minimum: int = 1, maximum: int = 10**12) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid query", {name: "must be a whole number"}) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid query", {name: f"must be between {minimum} and {maximum}"})
    return value


# --------------------------------------------------------------------------- inbound


@bp.post("/inbound")
@observe_webhook("api_inbound")
@token_required()
def inbound():  # noqa: ANN201
    data = json_object()
    hidden = [name for name in CONNECTOR_ONLY_FIELDS if name in data]
    if hidden:
        raise ApiError(400, "invalid input", {name: "Extra inputs are not permitted" for name in hidden})
    record = parse(InboundRecord, data)
    if record.channel not in allowed_channels():
        raise ApiError(400, "invalid input", {"channel": f"unknown channel; use one of {sorted(allowed_channels())}"})
    region = current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"]
    errors = invalid_identifier_fields(record.contact, region=region)
    if errors:
        raise ApiError(400, "invalid input", errors)
    session = write_session()
    try:
        result = ingest(session, record, options=ingest_options())
    except IngestError as exc:
        session.rollback()
        raise ApiError(400, str(exc)) from None
    session.commit()
    body = result.model_dump()
    return jsonify(body), 201 if result.status == "created" else 200


# --------------------------------------------------------------------------- contacts


@bp.get("/contacts")
@token_required()
def contacts_index():  # noqa: ANN201
    stage = request.args.get("stage") or None
    temperature = request.args.get("temperature") or None
    if stage and stage not in {s.value for s in Stage}:
        raise ApiError(400, "invalid query", {"stage": f"one of {[s.value for s in Stage]}"})
    if temperature and temperature not in {t.value for t in Temperature}:
        raise ApiError(400, "invalid query", {"temperature": f"one of {[t.value for t in Temperature]}"})
    q = request.args.get("q") or None
    if q and len(q) > 200:
        raise ApiError(400, "invalid query", {"q": "at most 200 characters"})
    filters = ContactFilter(
        q=q,
        channel=(request.args.get("channel") or None),
        stage=stage,
        temperature=temperature,
        owner_id=int_arg("owner", maximum=MAX_ID),
        phone_region=str(current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"]),
    )
    try:
        items, next_cursor = list_contacts(
            get_session(), filters=filters, limit=int_arg("limit", 50, maximum=200), cursor=request.args.get("cursor")
        )
    except CursorError as exc:
        raise ApiError(400, "invalid query", {"cursor": str(exc)}) from None
    return jsonify({"items": items, "next_cursor": next_cursor})


def _contact_or_404(contact_id: int) -> dict[str, Any]:
    detail = contact_detail(get_session(), contact_id)
    if detail is None:
        raise ApiError(404, f"no contact {contact_id}")
    return detail


@bp.get("/contacts/<int:contact_id>")
@token_required()
def contact_show(contact_id: int):  # noqa: ANN201
    return jsonify(_contact_or_404(contact_id))


@bp.get("/contacts/<int:contact_id>/timeline")
@token_required()
def contact_timeline(contact_id: int):  # noqa: ANN201
    try:
        items, next_cursor = timeline(
            get_session(), contact_id, limit=int_arg("limit", 500, maximum=1000), cursor=request.args.get("cursor")
        )
    except LookupError:
        raise ApiError(404, f"no contact {contact_id}") from None
    except CursorError as exc:
        raise ApiError(400, "invalid query", {"cursor": str(exc)}) from None
    # A token carries its user's role: another rep's private mail shows who/when/subject, not the body.
    from webapp.privacy import hidden_conversation_ids

    hidden = hidden_conversation_ids(get_session(), user_id=g.api_user.id, role=g.api_user.role,
                                     conversation_ids=[item["conversation_id"] for item in items])
    for item in items:
        if item["conversation_id"] in hidden:
            item.update(text=None, html=None, body_hidden=True)
    return jsonify({"contact_id": _contact_or_404(contact_id)["id"], "items": items, "next_cursor": next_cursor})


@bp.get("/contacts/<int:contact_id>/export")
@token_required(Role.manager.value)
def contact_export(contact_id: int):  # noqa: ANN201
    data = export_contact(get_session(), contact_id)
    if data is None:
        raise ApiError(404, f"no contact {contact_id}")
    return jsonify(data)


@bp.delete("/contacts/<int:contact_id>")
@token_required(Role.manager.value)
def contact_erase(contact_id: int):  # noqa: ANN201
    session = write_session()
    try:
        result = erase_contact(session, contact_id, reason=f"erased by {g.api_user.email}")
    except ErasureBusy as exc:  # (merges kept moving the person's contacts: a retry finds them still)
        session.rollback()
        raise ApiError(409, str(exc)) from None
    if result is None:
        raise ApiError(404, f"no contact {contact_id}")
    session.commit()
    return jsonify(result)


class MergeRequest(BaseModel):
    # strict: lax mode took true as 1 and "2" as 2, and merged (the document says an integer).
    other_id: int = Field(ge=1, le=MAX_ID, strict=True)
    reason: str | None = None


@bp.post("/contacts/<int:contact_id>/merge")
@token_required()
def contact_merge(contact_id: int):  # noqa: ANN201
    body = parse(MergeRequest, json_object())
    session = write_session()
    try:
        event = merge_contacts(
            session,
            survivor_id=contact_id,
            merged_id=body.other_id,
            reason=body.reason or "merged by hand",
            actor=g.api_user.email,
        )
    except IdentityError as exc:
        session.rollback()
        raise ApiError(404 if "not found" in str(exc) else 409, str(exc)) from None
    session.commit()
    return jsonify({"merge": merge_event_dict(event), "contact": contact_detail(session, event.survivor_id)}), 201


@bp.post("/merges/<int:merge_id>/undo")
@token_required()
def merge_undo(merge_id: int):  # noqa: ANN201
    session = write_session()
    try:
        event = undo_merge(session, event_id=merge_id, actor=g.api_user.email)
    except IdentityError as exc:
        session.rollback()
        raise ApiError(404 if "not found" in str(exc) else 409, str(exc)) from None
    session.commit()
    return jsonify({"merge": merge_event_dict(event)})


@bp.get("/duplicates")
@token_required()
def duplicates_index():  # noqa: ANN201
    status = request.args.get("status", "open")
    if status not in {"open", "merged", "dismissed"}:
        raise ApiError(400, "invalid query", {"status": "one of open, merged, dismissed"})
    return jsonify({"items": list_suggestions(get_session(), status=status, limit=int_arg("limit", 100, maximum=500))})


@bp.post("/duplicates/<int:suggestion_id>/dismiss")
@token_required()
def duplicate_dismiss(suggestion_id: int):  # noqa: ANN201
    session = write_session()
    try:
        suggestion = dismiss_suggestion(session, suggestion_id=suggestion_id, actor=g.api_user.email)
    except IdentityError as exc:
        session.rollback()
        raise ApiError(404 if "not found" in str(exc) else 409, str(exc)) from None
    session.commit()
    return jsonify({"id": suggestion.id, "status": suggestion.status})

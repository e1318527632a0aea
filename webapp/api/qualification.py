"""API for qualification: stage changes with history, BANT and the explained score, a rep's queue."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from core.qualification import QualificationError, qualification_detail, set_stage, update_bant
from core.routing import my_queue
from webapp.api import bp
from webapp.api.auth import token_required
from webapp.api.routes import ApiError, int_arg, json_object, parse
from webapp.api.schemas import QualificationUpdate, StageRequest
from webapp.db import get_session, write_session


def _detail_or_404(contact_id: int) -> dict[str, Any]:
    detail = qualification_detail(get_session(), contact_id)
    if detail is None:
        raise ApiError(404, f"no contact {contact_id}")
    return detail


@bp.get("/contacts/<int:contact_id>/qualification")
@token_required()
def qualification_show(contact_id: int):  # noqa: ANN201
    return jsonify(_detail_or_404(contact_id))


@bp.patch("/contacts/<int:contact_id>/qualification")
@token_required()
def qualification_update(contact_id: int):  # noqa: ANN201
    body = parse(QualificationUpdate, json_object())
    session = write_session()
    try:
        update_bant(session, contact_id, body.model_dump(exclude_unset=True), actor=g.api_user.email)
    except LookupError:
        raise ApiError(404, f"no contact {contact_id}") from None
    session.commit()
    return jsonify(_detail_or_404(contact_id))


@bp.post("/contacts/<int:contact_id>/stage")
@token_required()
def stage_change(contact_id: int):  # noqa: ANN201
    body = parse(StageRequest, json_object())
    session = write_session()
    try:
        set_stage(session, contact_id, stage=body.stage, reason=body.reason, note=body.note, actor=g.api_user.email)
    except LookupError:
        raise ApiError(404, f"no contact {contact_id}") from None
    except QualificationError as exc:
        session.rollback()
        status = 409 if exc.fields.get("stage") == "unchanged" else 400
        raise ApiError(status, str(exc), exc.fields) from None
    session.commit()
    return jsonify(_detail_or_404(contact_id)), 201


@bp.get("/queue")
@token_required()
def queue_index():  # noqa: ANN201
    items = my_queue(get_session(), g.api_user.id, limit=int_arg("limit", 50, maximum=200))
    return jsonify({"user_id": g.api_user.id, "items": items})

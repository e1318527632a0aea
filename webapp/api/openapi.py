"""The OpenAPI 3.1 document of the public API, built from the same pydantic models that validate requests."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import Blueprint, jsonify

from connectors.linkedin.profile import ProfileIn
from core.schemas import InboundRecord, IngestResult
from webapp.api.schemas import QualificationUpdate, StageRequest
from webapp.db import MAX_ID

bp = Blueprint("openapi", __name__, url_prefix="/api")

CONNECTOR_ONLY_FIELDS = ("account_id", "scope", "owner_id")
REF = "#/components/schemas/{model}"


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (InboundRecord, IngestResult, ProfileIn):
        schema = copy.deepcopy(model.model_json_schema(ref_template=REF, mode="validation"))
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in CONNECTOR_ONLY_FIELDS:
        schemas["InboundRecord"]["properties"].pop(name, None)
    return schemas


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
# An id the store can hold (a signed 64-bit integer); a larger one in a path matches no route (404).
_STORE_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_NINT = {"type": ["integer", "null"]}

CONTACT_SUMMARY = _obj(
    {
        "id": _INT,
        "name": _STR,
        "emails": {"type": "array", "items": _STR},
        "phones": {"type": "array", "items": _STR},
        "linkedin_url": _NSTR,
        "company": _STR,
        "title": _STR,
        "channels": {"type": "array", "items": _STR},
        "last_message_at": {"type": ["string", "null"], "format": "date-time"},
        "stage": {"type": "string", "enum": ["new", "mql", "sql", "customer", "non_target"]},
        "temperature": {"type": "string", "enum": ["cold", "warm", "hot"]},
        "score": _INT,
        "owner_id": _NINT,
    },
    ["id", "name", "emails", "phones", "linkedin_url", "company", "channels", "last_message_at", "stage",
     "temperature", "score"],
)

MERGE_EVENT = _obj(
    {
        "id": _INT,
        "survivor_id": _INT,
        "merged_id": _INT,
        "reason": _STR,
        "actor": _STR,
        "created_at": {"type": "string", "format": "date-time"},
        "undone_at": {"type": ["string", "null"], "format": "date-time"},
    },
    ["id", "survivor_id", "merged_id", "reason", "created_at", "undone_at"],
)

CONTACT_DETAIL = {
    "allOf": [
        {"$ref": "#/components/schemas/ContactSummary"},
        _obj(
            {
                "requested_id": _INT,
                "aliases": {"type": "array", "items": _STR},
                "identities": {
                    "type": "array",
                    "items": _obj(
                        {
                            "kind": _STR,
                            "value": _STR,
                            "raw_value": _STR,
                            "first_seen_channel": _STR,
                            "weak": {"type": "boolean"},
                            "created_at": {"type": "string", "format": "date-time"},
                        },
                        ["kind", "value", "first_seen_channel", "weak"],
                    ),
                },
                "merged_from": {"type": "array", "items": _INT},
                "merges": {"type": "array", "items": {"$ref": "#/components/schemas/MergeEvent"}},
                "consents": {
                    "type": "array",
                    "description": "Consents given on website forms, newest first, with the double opt-in state",
                    "items": _obj(
                        {
                            "message_id": _INT,
                            "form": _STR,
                            "email": _STR,
                            "consent_given": {"type": ["boolean", "null"]},
                            "consent_version": {"type": ["integer", "null"]},
                            "given_at": {"type": ["string", "null"], "format": "date-time"},
                            "double_opt_in": {"type": ["string", "null"], "enum": ["pending", "confirmed", None]},
                            "confirmed_at": {"type": ["string", "null"], "format": "date-time"},
                        },
                        ["message_id", "form", "double_opt_in"],
                    ),
                },
            },
            ["requested_id", "aliases", "identities", "merged_from", "merges", "consents"],
        ),
    ]
}

TIMELINE_ITEM = _obj(
    {
        "id": _INT,
        "conversation_id": _INT,
        "channel": _STR,
        "external_id": _STR,
        "kind": {"type": "string", "enum": ["message", "note", "auto_reply"]},
        "direction": {"type": "string", "enum": ["in", "out"]},
        "sender": _STR,
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "subject": _STR,
        "text": _NSTR,
        "html": _NSTR,
    },
    ["channel", "external_id", "direction", "sent_at", "subject", "text"],
)

SUGGESTION = _obj(
    {
        "id": _INT,
        "contact_a_id": _INT,
        "contact_b_id": _INT,
        "contact_a_name": _STR,
        "contact_b_name": _STR,
        "score": {"type": "number"},
        "reasons": {"type": "array", "items": _STR},
        "status": {"type": "string", "enum": ["open", "merged", "dismissed"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
    ["id", "contact_a_id", "contact_b_id", "score", "reasons", "status"],
)

PROFILE_SAVED = _obj(
    {
        "status": {"type": "string", "enum": ["created", "known"]},
        "message": {"type": "string", "enum": ["saved as new lead", "already in leadhub"]},
        "contact_id": _INT,
        "name": _STR,
        "profile_url": _STR,
        "link": _STR,
        "api_link": _STR,
        "note_added": {"type": "boolean"},
        "possible_duplicates": {
            "type": "array",
            "items": _obj({"suggestion_id": _INT, "contact_id": _INT, "score": {"type": "number"},
                           "reasons": {"type": "array", "items": _STR}}),
        },
    },
    ["status", "message", "contact_id", "link"],
)

ERROR = _obj(
    {"error": _STR, "status": _INT, "fields": {"type": "object", "additionalProperties": _STR}},
    ["error"],
)


def _json(ref: str | dict, description: str = "OK") -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"} if isinstance(ref, str) else ref
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json("Error", "Invalid input: per-field errors in `fields`"),
    "401": _json("Error", "Missing or invalid bearer token"),
    "503": {**_json("Error", "The store is busy (a concurrent writer held it); nothing was saved. Retry after "
                    "the Retry-After header's seconds"),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}
_NOT_FOUND = {"404": _json("Error", "No such contact")}
_ID = {"name": "contact_id", "in": "path", "required": True, "schema": _STORE_ID}


def _page(item_ref: str) -> dict[str, Any]:
    return _obj(
        {"items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item_ref}"}}, "next_cursor": _NSTR},
        ["items", "next_cursor"],
    )


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_EXPLAINED = {"type": "array", "items": _obj({"rule": _STR, "type": _STR, "points": {"type": "number"}, "why": _STR})}
QUALIFICATION = _obj(
    {
        "contact_id": _INT,
        "stage": {"type": "string", "enum": ["new", "mql", "sql", "customer", "non_target"]},
        "temperature": {"type": "string", "enum": ["cold", "warm", "hot"]},
        "score": _INT,
        "owner_id": _NINT,
        "bant": _obj({"need": _STR, "timeline": _STR, "budget": _STR, "authority": _STR}),
        "deal_value": {"type": ["number", "null"]},
        "deal_currency": _STR,
        "explanation": _EXPLAINED,
        "temperature_explanation": {"type": "array", "items": _obj({"signal": _STR, "points": {"type": "number"},
                                                                     "why": _STR})},
        "ruleset_version": _NINT,
        "scored_at": {"type": ["string", "null"], "format": "date-time"},
        "source_channel": _STR,
        "form_types": {"type": "array", "items": _STR},
        "language": _STR,
        "country": _STR,
        "first_inbound_at": {"type": ["string", "null"], "format": "date-time"},
        "first_response_at": {"type": ["string", "null"], "format": "date-time"},
        "response_seconds": _NINT,
        "stage_history": {"type": "array", "items": _obj({"from": _STR, "to": _STR, "reason": _NSTR, "note": _STR,
                                                          "actor": _STR, "at": {"type": "string", "format": "date-time"}})},
    },
    ["contact_id", "stage", "temperature", "score", "bant", "explanation", "stage_history"],
)


def _model_schema(model: type) -> dict[str, Any]:
    return model.model_json_schema(ref_template=REF, mode="validation")


@cache
def openapi_document() -> dict[str, Any]:
    schemas = _schemas()
    schemas.update(
        {
            "ContactSummary": CONTACT_SUMMARY,
            "ContactDetail": CONTACT_DETAIL,
            "MergeEvent": MERGE_EVENT,
            "TimelineItem": TIMELINE_ITEM,
            "DuplicateSuggestion": SUGGESTION,
            "Error": ERROR,
            "ProfileSaved": PROFILE_SAVED,
            "ContactPage": _page("ContactSummary"),
            "Qualification": QUALIFICATION,
            "StageRequest": _model_schema(StageRequest),
            "QualificationUpdate": _model_schema(QualificationUpdate),
            "TimelinePage": {
                "allOf": [_page("TimelineItem"), _obj({"contact_id": _INT}, ["contact_id"])]
            },
        }
    )
    secured = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "leadhub API",
            "version": "1.0.0",
            "description": "One contact store for inquiries from Gmail, Intercom, LinkedIn and website forms. "
            "Create a token with `leadhub tokens create EMAIL` and send it as `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": {
            "/api/v1/inbound": {
                "post": {
                    "summary": "Ingest one inbound record (idempotent)",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InboundRecord"}}},
                    },
                    "responses": {
                        "201": _json("IngestResult", "Stored as new"),
                        "200": _json("IngestResult", "Already known (nothing duplicated) or contact updated"),
                        **_ERRORS,
                        "413": _json("Error", "Body too large"),
                        "415": _json("Error", "Body is not JSON"),
                    },
                }
            },
            "/api/v1/contacts": {
                "get": {
                    "summary": "List contacts, newest first",
                    "security": secured,
                    "parameters": [
                        _query("q", _STR, "search: anywhere in a name, company, e-mail or phone key; names also by whole words "
                                               "in any case, Polish letters with or without their marks, Cyrillic as written or in "
                                               "Latin letters (petrov finds Петров); a phone number or e-mail address "
                                               "as written (601 234 567), or the start of a number (+48 601 2)"),
                        _query("channel", _STR),
                        _query("stage", {"type": "string", "enum": ["new", "mql", "sql", "customer", "non_target"]}),
                        _query("temperature", {"type": "string", "enum": ["cold", "warm", "hot"]}),
                        _query("owner", _STORE_ID, "owner user id"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                        _query("cursor", _STR, "next_cursor of the previous page"),
                    ],
                    "responses": {"200": _json("ContactPage"), **_ERRORS},
                }
            },
            "/api/v1/contacts/{contact_id}": {
                "get": {
                    "summary": "One contact; a merged-away id answers with its survivor",
                    "security": secured,
                    "parameters": [_ID],
                    "responses": {"200": _json("ContactDetail"), **_ERRORS, **_NOT_FOUND},
                },
                "delete": {
                    "summary": "Erase the person everywhere (GDPR); re-synced old data stays out, new inquiries arrive",
                    "security": secured,
                    "parameters": [_ID],
                    "responses": {
                        "200": _json(_obj({"erased_contact_ids": {"type": "array", "items": _INT},
                                           "deleted": {"type": "object"},
                                           "suppressed_identifiers": _INT})),
                        **_ERRORS,
                        "403": _json("Error", "Needs the manager or admin role"),
                        **_NOT_FOUND,
                        "409": _json("Error", "Merges kept moving the person's contacts: nothing was erased, try again"),
                    },
                },
            },
            "/api/v1/contacts/{contact_id}/timeline": {
                "get": {
                    "summary": "Every message of the person across channels, oldest first",
                    "security": secured,
                    "parameters": [
                        _ID,
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500}),
                        _query("cursor", _STR),
                    ],
                    "responses": {"200": _json("TimelinePage"), **_ERRORS, **_NOT_FOUND},
                }
            },
            "/api/v1/contacts/{contact_id}/export": {
                "get": {
                    "summary": "Everything held about the person (GDPR access request)",
                    "security": secured,
                    "parameters": [_ID],
                    "responses": {
                        "200": _json({"type": "object"}),
                        **_ERRORS,
                        "403": _json("Error", "Needs the manager or admin role"),
                        **_NOT_FOUND,
                    },
                }
            },
            "/api/v1/contacts/{contact_id}/merge": {
                "post": {
                    "summary": "Merge another contact into this one (this one survives)",
                    "security": secured,
                    "parameters": [_ID],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _obj({"other_id": _STORE_ID, "reason": _STR}, ["other_id"])}},
                    },
                    "responses": {
                        "201": _json(_obj({"merge": {"$ref": "#/components/schemas/MergeEvent"},
                                           "contact": {"$ref": "#/components/schemas/ContactDetail"}})),
                        **_ERRORS,
                        **_NOT_FOUND,
                        "409": _json("Error", "The merge cannot be done"),
                    },
                }
            },
            "/api/v1/merges/{merge_id}/undo": {
                "post": {
                    "summary": "Undo a merge exactly; later merges are respected",
                    "security": secured,
                    "parameters": [{"name": "merge_id", "in": "path", "required": True, "schema": _STORE_ID}],
                    "responses": {
                        "200": _json(_obj({"merge": {"$ref": "#/components/schemas/MergeEvent"}})),
                        **_ERRORS,
                        "404": _json("Error", "No such merge"),
                        "409": _json("Error", "Already undone, or a contact was erased"),
                    },
                }
            },
            "/api/v1/duplicates": {
                "get": {
                    "summary": "Fuzzy duplicate suggestions with scores and reasons (never merged automatically)",
                    "security": secured,
                    "parameters": [
                        _query("status", {"type": "string", "enum": ["open", "merged", "dismissed"], "default": "open"}),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
                    ],
                    "responses": {
                        "200": _json(_obj({"items": {"type": "array", "items": {"$ref": "#/components/schemas/DuplicateSuggestion"}}}, ["items"])),
                        **_ERRORS,
                    },
                }
            },
            "/api/v1/duplicates/{suggestion_id}/dismiss": {
                "post": {
                    "summary": "Mark a suggestion as two different people",
                    "security": secured,
                    "parameters": [{"name": "suggestion_id", "in": "path", "required": True, "schema": _STORE_ID}],
                    "responses": {"200": _json(_obj({"id": _INT, "status": _STR})), **_ERRORS,
                                  "404": _json("Error", "No such suggestion"),
                                  "409": _json("Error", "The two were merged since: undo the merge instead")},
                }
            },
            "/api/v1/linkedin/profiles": {
                "post": {
                    "summary": "Save a LinkedIn profile read in the rep's browser (extension or bookmarklet)",
                    "description": "Keyed on the canonical profile URL: the same person saved twice, by two reps or "
                    "from a URL variant updates one lead. A look-alike lead (name + company) becomes a duplicate "
                    "suggestion, never a merge.",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProfileIn"}}},
                    },
                    "responses": {
                        "201": _json("ProfileSaved", "saved as new lead"),
                        "200": _json("ProfileSaved", "already in leadhub"),
                        **_ERRORS,
                        "403": _json("Error", "An admin switched the LinkedIn connector off"),
                        "409": _json(_obj({"status": _STR, "message": _STR}), "The person was erased (GDPR)"),
                        "413": _json("Error", "Body too large"),
                        "415": _json("Error", "Body is not JSON"),
                    },
                }
            },
            "/api/v1/contacts/{contact_id}/qualification": {
                "get": {
                    "summary": "Stage, temperature, the explained score, BANT, first response and stage history",
                    "security": secured,
                    "parameters": [_ID],
                    "responses": {"200": _json("Qualification"), **_ERRORS, **_NOT_FOUND},
                },
                "patch": {
                    "summary": "Set BANT fields and the deal value (only the keys sent); the lead is rescored",
                    "security": secured,
                    "parameters": [_ID],
                    "requestBody": {"required": True,
                                    "content": {"application/json": {"schema": {"$ref": REF.format(model="QualificationUpdate")}}}},
                    "responses": {"200": _json("Qualification"), **_ERRORS, **_NOT_FOUND},
                },
            },
            "/api/v1/contacts/{contact_id}/stage": {
                "post": {
                    "summary": "Move a lead to a stage (non_target needs a reason); recorded with who and when",
                    "security": secured,
                    "parameters": [_ID],
                    "requestBody": {"required": True,
                                    "content": {"application/json": {"schema": {"$ref": REF.format(model="StageRequest")}}}},
                    "responses": {"201": _json("Qualification", "Changed"), **_ERRORS, **_NOT_FOUND,
                                  "409": _json("Error", "The lead is already at that stage")},
                }
            },
            "/api/v1/queue": {
                "get": {
                    "summary": "The token user's open leads: hot first, then by score and recent activity",
                    "security": secured,
                    "parameters": [_query("limit", _INT, "1–200, default 50")],
                    "responses": {"200": _json(_obj({"user_id": _INT, "items": {
                        "type": "array", "items": {"$ref": "#/components/schemas/ContactSummary"}}},
                        ["user_id", "items"])), **_ERRORS},
                }
            },
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
            },
            "/healthz": {
                "get": {
                    "summary": "Database (and queue) reachable",
                    "responses": {
                        "200": _json(_obj({"status": _STR, "checks": {"type": "object"}})),
                        "503": _json(_obj({"status": _STR, "checks": {"type": "object"}})),
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():  # noqa: ANN201
    return jsonify(openapi_document())

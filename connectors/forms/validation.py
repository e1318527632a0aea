"""Form definitions and submission validation: pure functions, no Flask, no database.

A form is a list of field specs. `validate_submission` turns posted values into cleaned values, per-field
errors, the contact fields they map onto, and the unknown fields (kept as custom data, never interpreted).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from core.charsets import charset_codec
from core.importer import best_legacy_encoding
from core.normalize import InvalidIdentifier, normalize_email, normalize_phones
from core.schemas import ContactIn

FIELD_KINDS = ("text", "email", "phone", "textarea", "select", "checkbox")
FORM_TYPES = ("contact", "quote", "demo", "callback", "newsletter")
# What a field can fill on the contact; "message" becomes the message text, "custom" stays in meta.
MAPS_TO = ("name", "email", "phone", "company", "title", "message", "custom")
MAX_LENGTH = {"text": 200, "email": 320, "phone": 64, "textarea": 5000, "select": 200, "checkbox": 10}
MAX_CUSTOM_FIELDS = 30
LEFT_OUT_KEY = "(more fields)"
MAX_CUSTOM_LENGTH = 2000
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Names the endpoint itself uses; a form field may not take them.
SPAM_FIELD = "website_url"  # the honeypot: a plausible name bots like to fill
TOKEN_FIELD = "_ts"
CONSENT_FIELD = "consent"
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CONTEXT_FIELDS = ("_page", "_referrer")
# _charset_: the field HTML has browsers fill with the encoding of the submission (read, never stored).
RESERVED = {SPAM_FIELD, TOKEN_FIELD, CONSENT_FIELD, *UTM_FIELDS, *CONTEXT_FIELDS, "submission_id", "csrf_token",
            "_charset_"}
TRUE_VALUES = {"on", "true", "1", "yes", "y"}

DEFAULT_FIELDS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "kind": "text", "required": True, "maps_to": "name"},
    {"name": "email", "label": "Email", "kind": "email", "required": True, "maps_to": "email"},
    {"name": "phone", "label": "Phone", "kind": "phone", "required": False, "maps_to": "phone"},
    {"name": "company", "label": "Company", "kind": "text", "required": False, "maps_to": "company"},
    {"name": "message", "label": "Message", "kind": "textarea", "required": False, "maps_to": "message"},
]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"
    required: bool = False
    maps_to: str = "custom"
    options: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "maps_to": self.maps_to,
        }
        if self.options:
            data["options"] = list(self.options)
        return data


class FormDefinitionError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_fields(raw: list[dict[str, Any]]) -> list[FieldSpec]:
    """Check an admin's field list; raises FormDefinitionError with per-field messages."""
    errors: dict[str, str] = {}
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    mapped: set[str] = set()
    for index, item in enumerate(raw):
        where = f"fields.{index}"
        name = str(item.get("name") or "").strip().lower()
        kind = str(item.get("kind") or "text")
        maps_to = str(item.get("maps_to") or "custom")
        options = tuple(str(o).strip() for o in (item.get("options") or []) if str(o).strip())
        if not FIELD_NAME.match(name):
            errors[where] = f"name {name!r} must be lowercase letters, digits and _ (at most 40)"
        elif name in RESERVED or name.startswith("utm_"):
            errors[where] = f"name {name!r} is reserved"
        elif name in seen:
            errors[where] = f"name {name!r} is used twice"
        elif kind not in FIELD_KINDS:
            errors[where] = f"kind must be one of {', '.join(FIELD_KINDS)}"
        elif maps_to not in MAPS_TO:
            errors[where] = f"maps_to must be one of {', '.join(MAPS_TO)}"
        elif maps_to != "custom" and maps_to in mapped:
            errors[where] = f"two fields map to {maps_to}"
        elif kind == "select" and not options:
            errors[where] = "a select needs options"
        elif maps_to == "email" and kind != "email" or maps_to == "phone" and kind != "phone":
            errors[where] = f"a field mapped to {maps_to} must be of kind {maps_to}"
        seen.add(name)
        if maps_to != "custom":
            mapped.add(maps_to)
        label = str(item.get("label") or name).strip()[:200]
        specs.append(FieldSpec(name, label, kind, bool(item.get("required")), maps_to, options))
    if specs and not mapped & {"email", "phone"}:
        errors["fields"] = "map at least one field to email or phone, or the lead cannot be recognised"
    if errors:
        raise FormDefinitionError(errors)
    return specs


@dataclass
class Submission:
    """A validated submission: what the endpoint stores, or the errors it answers with."""

    values: dict[str, Any] = field(default_factory=dict)  # declared fields, cleaned
    custom: dict[str, str] = field(default_factory=dict)  # unknown fields, kept verbatim (truncated)
    context: dict[str, str] = field(default_factory=dict)  # utm_*, page url, referrer
    consent_given: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)  # ContactIn fields
    message_text: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def legacy_encoded_fields(body: bytes, charset: str | None = None) -> dict[str, Any] | None:
    """The fields of a form-encoded body whose escapes are not UTF-8, read in the encoding they are in; None for
    a UTF-8 body (the norm: read it as usual). A page in windows-1250 or ISO-8859-2 (older Polish sites) or
    windows-1251 posts its own form in that encoding and browsers name no charset: the encoding is the form's
    `_charset_` field (which browsers fill in when the form has one) or the request's charset when either names a
    known one, else the legacy encoding the text reads best in (as for CSV files)."""
    escaped = unquote_to_bytes(body.replace(b"+", b" "))
    try:
        escaped.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    named = [value for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if key == "_charset_"]
    encoding = _known_encoding(*named, charset or "")
    if encoding in ("", "utf-8"):
        encoding = best_legacy_encoding(escaped)
    fields: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding=encoding, errors="replace"):
        fields.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}


# A line of the HTML standard's text/plain form encoding: a field's name, '=', its value.
_PLAIN_FIELD = re.compile(r"([A-Za-z_][\w.:\-\[\]]{0,99})=(.*)")


def text_plain_fields(body: bytes, charset: str | None = None) -> dict[str, Any] | None:
    """The fields of a form posted with enctype="text/plain" ('name=value' lines, as a form copied from a
    mailto: one sends), or None when the body has no such line. The encoding does not escape line breaks or
    '=': a line that does not start with a field name continues the value before it (a textarea's lines)."""
    try:
        text = body.decode(_known_encoding(charset or "") or "utf-8")
    except UnicodeDecodeError:
        text = body.decode(best_legacy_encoding(body), "replace")
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _PLAIN_FIELD.fullmatch(line)
        if match:
            last = fields.setdefault(match.group(1), [])
            last.append(match.group(2))
        elif last is not None:
            last[-1] += "\n" + line
    if not fields:
        return None
    return {key: values[0].rstrip("\n") if len(values) == 1 else [v.rstrip("\n") for v in values]
            for key, values in fields.items()}


def _known_encoding(*names: str) -> str:
    """The first of the names that is a known encoding other than UTF-8 (the body is not UTF-8: a page that says
    it is says wrong), as Python calls it; "" for none. Labels are read as browsers read them (core.charsets:
    'win-1251', 'cp-1250', 'x-mac-cyrillic' too); one that names no encoding ('x-unknown') is none."""
    for name in names:
        encoding = charset_codec(name)
        if encoding and encoding != "utf-8" and name.strip().lower() not in _NAMES_NO_ENCODING:
            return encoding
    return ""


_NAMES_NO_ENCODING = {"x-unknown", "unknown-8bit"}


def legacy_multipart_fields(body: bytes, boundary: str | None, charset: str | None = None) -> dict[str, Any] | None:
    """As legacy_encoded_fields, for a multipart/form-data body (a form with enctype="multipart/form-data", as
    page builders write it): werkzeug decodes every part as UTF-8 and puts U+FFFD where a windows-1250 letter
    was, so the bytes are read here. The encoding: the `_charset_` field browsers fill in when a form has one
    (HTML's convention), else a part's own charset, the request's, or the legacy encoding the text reads best
    in. Parts that are files are left out (a form keeps no files). None for UTF-8, or a body that does not
    parse (werkzeug then answers for it)."""
    if not boundary:
        return None
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"))
    fields: list[tuple[str, bytearray, str | None]] = []
    current: bytearray | None = None
    try:
        decoder.receive_data(body)
        decoder.receive_data(None)
        while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
            if isinstance(event, File):
                current = None
            elif isinstance(event, Field):
                current = bytearray()
                fields.append((event.name, current, parse_options_header(event.headers.get("content-type", ""))[1]
                               .get("charset")))
            elif isinstance(event, Data) and current is not None:
                current += event.data
    except ValueError:
        return None
    try:
        for _name, value, _charset in fields:
            bytes(value).decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    named = [bytes(value).decode("ascii", "replace") for name, value, _ in fields if name == "_charset_"]
    encoding = _known_encoding(*named, *(part for _, _, part in fields if part), charset or "")
    if encoding in ("", "utf-8"):
        encoding = best_legacy_encoding(b"\n".join(bytes(value) for _, value, _ in fields))
    values: dict[str, list[str]] = {}
    for name, value, _ in fields:
        values.setdefault(name, []).append(bytes(value).decode(encoding, "replace"))
    return {key: found[0] if len(found) == 1 else found for key, found in values.items()}


def without_lone_surrogates(data: Any) -> Any:
    """JSON data with each lone surrogate (half an emoji: a script that cut a text at a length, then
    JSON.stringify, sends "\\ud83d") replaced by U+FFFD. Valid JSON but no text, it cannot be hashed or stored."""
    raw = json.dumps(data, ensure_ascii=False)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return json.loads(raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"))
    return data


def _as_text(value: Any) -> str:
    if isinstance(value, list):  # a repeated form key: take the first
        value = value[0] if value else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def _checked(value: Any) -> bool:
    """Whether a checkbox is ticked: any of its values is a true one. Sites put a hidden "off" input of the same
    name before the box (so that an unticked box is sent too); the form then posts both, "off" first."""
    values = value if isinstance(value, list) else [value]
    try:
        return any(_as_text(v).strip().lower() in TRUE_VALUES for v in values if not isinstance(v, list))
    except ValueError:
        return False


def _custom_text(value: Any) -> str:
    """An unknown field as text: every value of a repeated key (the ticked boxes of a group), joined; anything
    that is not text or a list of texts as JSON."""
    values = value if isinstance(value, list) else [value]
    try:
        if any(isinstance(v, list) for v in values):
            raise ValueError("nested list")
        return ", ".join(_as_text(v) for v in values)
    except ValueError:
        return json.dumps(value, ensure_ascii=False, default=str)


def validate_submission(
    specs: list[FieldSpec],
    data: dict[str, Any],
    *,
    region: str = "PL",
    consent_required: bool = False,
) -> Submission:
    """Validate posted values against the form. Hostile text is kept verbatim: escaping is the renderer's job."""
    result = Submission()
    for spec in specs:
        try:
            raw = _as_text(data.get(spec.name)).strip()
        except ValueError as exc:
            result.errors[spec.name] = str(exc)
            continue
        if spec.kind == "checkbox":
            checked = _checked(data.get(spec.name))
            if spec.required and not checked:
                result.errors[spec.name] = "please tick this box"
            result.values[spec.name] = checked
            continue
        if not raw:
            if spec.required:
                result.errors[spec.name] = "this field is required"
            continue
        limit = MAX_LENGTH[spec.kind]
        if len(raw) > limit:
            result.errors[spec.name] = f"at most {limit} characters"
            continue
        if spec.kind == "email":
            try:
                normalize_email(raw)
            except InvalidIdentifier as exc:
                result.errors[spec.name] = str(exc)
                continue
        elif spec.kind == "phone":
            try:
                normalize_phones(raw, region)
            except InvalidIdentifier as exc:
                result.errors[spec.name] = str(exc)
                continue
        elif spec.kind == "select" and raw not in spec.options:
            result.errors[spec.name] = "choose one of the options"
            continue
        result.values[spec.name] = raw
    if consent_required:
        result.consent_given = _checked(data.get(CONSENT_FIELD))
        if not result.consent_given:
            result.errors[CONSENT_FIELD] = "consent is required"
    known = {s.name for s in specs} | RESERVED
    unknown = [(key, value) for key, value in data.items() if key not in known and not key.startswith("utm_")]
    for key, value in unknown[:MAX_CUSTOM_FIELDS]:
        result.custom[str(key)[:100]] = _custom_text(value)[:MAX_CUSTOM_LENGTH]
    if len(unknown) > MAX_CUSTOM_FIELDS:
        # Bounded (a post of 2,000 fields is a bot's), but not without a word: the rep sees that some were left out.
        names = ", ".join(str(key)[:40] for key, _ in unknown[MAX_CUSTOM_FIELDS:MAX_CUSTOM_FIELDS + 10])
        result.custom[LEFT_OUT_KEY] = f"{len(unknown) - MAX_CUSTOM_FIELDS} more fields not kept: {names}"[
            :MAX_CUSTOM_LENGTH]
    for key in (*UTM_FIELDS, *CONTEXT_FIELDS):
        try:
            text = _as_text(data.get(key)).strip()
        except ValueError:
            continue
        if text:
            result.context[key.lstrip("_")] = text[:1000]
    _map_to_contact(specs, result)
    return result


def _map_to_contact(specs: list[FieldSpec], result: Submission) -> None:
    lines: list[str] = []
    for spec in specs:
        value = result.values.get(spec.name)
        if value in (None, ""):
            continue
        if spec.maps_to in ("name", "email", "phone", "company", "title"):
            result.contact[spec.maps_to] = str(value)
        elif spec.maps_to == "message":
            result.message_text = str(value)
        else:
            lines.append(f"{spec.label}: {'yes' if value is True else value}")
    if lines:
        # Custom answers go below the message so a rep reading the timeline sees them.
        result.message_text = "\n\n".join(p for p in (result.message_text, "\n".join(lines)) if p)


def contact_in(submission: Submission) -> ContactIn:
    return ContactIn(**submission.contact)


def submission_external_id(form_key: str, submission_id: str, submission: Submission) -> str:
    """The message id that makes a retried identical submission idempotent.

    The submission id is generated when the form is rendered (or is the client's Idempotency-Key), so two
    people filling the same page get different ids; the cleaned payload is hashed in too, so a person who goes
    back, edits and sends again is a second message rather than a silently dropped one.
    """
    payload = json.dumps(
        {"values": submission.values, "custom": submission.custom, "consent": submission.consent_given},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    digest = hashlib.sha256(f"{form_key}\n{submission_id}\n{payload}".encode()).hexdigest()[:32]
    return f"{form_key}:{digest}"

"""The inbound record: what every connector, the API and the importers hand to `core.ingest`.

These pydantic models are the public contract of `POST /api/v1/inbound` too (the OpenAPI document is
generated from them), so changes here are API changes.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
T = TypeVar("T")
KNOWN_CHANNELS = ("gmail", "intercom", "linkedin", "form", "api", "import", "phone", "manual")
# What a contact's and a message's text fields hold. The API refuses more (a 400); connectors cut provider text
# to these sizes instead, so that one overlong field does not lose the record.
NAME_MAX, SENDER_MAX, SUBJECT_MAX, TEXT_MAX, HTML_MAX = 200, 400, 1000, 1_000_000, 2_000_000

# A number given as a time (JSON's 1796638500, or the text "1796638500") is a Unix time in seconds from nine digits
# (1973-03-03) or in milliseconds from twelve (JavaScript's Date.now() sends thirteen), before year 5138 either way.
# pydantic read any number as seconds (or as milliseconds past 2e10): a year (2026) or an Excel date serial (46363)
# became a message of January 1970, silently.
UNIX_SECONDS_MIN, UNIX_MILLISECONDS_MIN, UNIX_MILLISECONDS_END = 10**8, 10**11, 10**14
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNIX_TIME_ERROR = ("a number is read as a Unix time, in seconds (nine to eleven digits) or milliseconds (twelve to "
                   "fourteen); {value} is neither (a year, a date serial?): send the time as ISO 8601, "
                   "2026-12-07T10:15:00Z")


# A date and time whose offset is in whole hours, as ISO 8601 allows and PostgreSQL writes a timestamptz
# ("2026-12-07 14:03:22.123456+01"): pydantic reads only ±hh:mm and ±hhmm.
_HOURS_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?[+-]\d{2}$")


def unix_time(value: object) -> object:
    """A number (or a text that is one) as the UTC time it counts since 1970 (UNIX_SECONDS_MIN …); any other value
    as it is, for the field's own validation. ValueError for a number that is no such time."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    number: int | float
    if isinstance(value, str):
        try:  # (as pydantic would read it: "1.8e9" too)
            number = float(value)
        except ValueError:
            return value.strip() + ":00" if _HOURS_OFFSET.match(value.strip()) else value
        with contextlib.suppress(ValueError):
            number = int(value)  # (exact: a float has no digits for a 14-digit millisecond count's last ones)
    else:
        number = value
    if not UNIX_SECONDS_MIN <= number < UNIX_MILLISECONDS_END:  # (NaN fails this too)
        raise ValueError(UNIX_TIME_ERROR.format(value=str(value).strip()))
    return _EPOCH + (timedelta(seconds=number) if number < UNIX_MILLISECONDS_MIN else timedelta(milliseconds=number))


def _without_nul(value: object) -> object:
    """An id without NUL characters: PostgreSQL's text cannot hold them (core.db drops them there), so without
    them here the id stored and the id looked for are the same on both databases."""
    return value.replace("\x00", "") if isinstance(value, str) else value


ID_TYPE_ERROR = "an id is a text or an integer, not {kind}"


def id_text(value: object) -> object:
    """An id as text: an integer (a JSON number, as CRMs and databases number their rows: 12345) as its decimal
    digits; a fraction or true/false is refused (12345.0 may be 12345 or not, and is no one's id), naming the
    field; text without its NUL characters (_without_nul). Anything else as it is, for the field's validation."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(ID_TYPE_ERROR.format(kind="true or false" if isinstance(value, bool) else "a fraction"))
    if isinstance(value, int):
        return str(value)
    return _without_nul(value)


def _id_schema(max_length: int) -> dict[str, Any]:
    """The JSON schema of an id that may be sent as an integer (id_text)."""
    return {"anyOf": [{"type": "string", "maxLength": max_length}, {"type": "integer"}, {"type": "null"}]}


def one_line(value: T) -> T:
    """A text shown on one line (a subject, a sender, a display name) without control characters: a line break or
    a tab is a space (a folded mail header), a run of spaces one, others (NUL, a terminal's escape) go; format
    characters such as Persian's zero-width non-joiner stay (they are text). Anything else as it is."""
    if not isinstance(value, str) or value.isprintable():
        return value
    kept = "".join(" " if ch.isspace() else ch for ch in value if ch.isspace() or unicodedata.category(ch) != "Cc")
    return " ".join(kept.split())


# How deep a message's meta may nest (objects and arrays within each other, itself the first level).
META_MAX_DEPTH = 64


def meta_depth(value: object) -> int:
    """Levels of objects and arrays in a JSON value, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    company: str | None = Field(default=None, max_length=NAME_MAX)
    title: str | None = Field(default=None, max_length=NAME_MAX)
    linkedin_url: str | None = Field(default=None, max_length=500)
    external_user_id: str | None = Field(default=None, max_length=200, json_schema_extra=_id_schema(200))
    # A person has many of each; connectors that know more than one pass them here.
    emails: list[Annotated[str, Field(max_length=320)]] = Field(default_factory=list, max_length=20)
    phones: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)

    @field_validator("external_user_id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        return id_text(value)

    def all_emails(self) -> list[str]:
        return [e for e in [self.email, *self.emails] if e]

    def all_phones(self) -> list[str]:
        return [p for p in [self.phone, *self.phones] if p]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(default=None, min_length=1, max_length=400, json_schema_extra=_id_schema(400))
    thread_id: str | None = Field(default=None, max_length=300, json_schema_extra=_id_schema(300))
    direction: Literal["in", "out"] = "in"
    # auto_reply: an automatic answer: an out-of-office from the person's own mailbox (in), or a chat bot's answer
    # on the team's side (out, Intercom). On the timeline, but nothing a person wrote: no inbound mail, reply or
    # first response for scoring, no message.received (kind "message" is what counts).
    kind: Literal["message", "note", "auto_reply"] = "message"
    sent_at: datetime | None = Field(default=None, description=(
        "ISO 8601 (without an offset: UTC; an offset in hours, +01, as PostgreSQL writes it, too), or a Unix time: seconds from 100000000 (nine digits, 1973-03-03), "
        "milliseconds from 100000000000 (twelve digits; JavaScript's Date.now() sends thirteen), below "
        "100000000000000 either way. Any other number (a year, 2026; a spreadsheet's date serial) is refused."),
        json_schema_extra={"anyOf": [
            {"type": "string", "format": "date-time"},
            {"type": "number", "minimum": UNIX_SECONDS_MIN, "exclusiveMaximum": UNIX_MILLISECONDS_END},
            {"type": "null"}]})
    sender: str | None = Field(default=None, max_length=SENDER_MAX)
    subject: str | None = Field(default=None, max_length=SUBJECT_MAX)
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    html: str | None = Field(default=None, max_length=HTML_MAX)
    meta: dict[str, Any] = Field(default_factory=dict, description=(
        "any JSON object, kept with the message: nested at most 64 levels deep, its text Unicode (no half of a "
        "UTF-16 pair alone, \\ud800), its numbers finite"))
    # What pure functions derive from the message (its sanitised HTML, its text signals), computed once and
    # wherever there is time: an import's helper process fills it before the record reaches the writer. Not
    # part of the contract; a message is not changed after it is validated.
    _derived: dict[str, Any] = PrivateAttr(default_factory=dict)

    def derived(self, name: str, compute: Callable[[MessageIn], T]) -> T:
        """compute(self), kept under `name` (see _derived)."""
        # Not `self._derived`: pydantic reads a private attribute in its __getattr__, after a failed normal
        # lookup and a hasattr on the attribute's descriptor, 7 µs a read against 0.3 µs for the dict it keeps
        # them in (never None on a model with private attributes, pickled with the model); an import's writer
        # asks twice a message, about a twentieth of its CPU. The plain read stays as the fallback.
        try:
            kept = self.__pydantic_private__["_derived"]
        except (KeyError, TypeError):
            kept = self._derived
        if name not in kept:
            kept[name] = compute(self)
        return kept[name]

    @field_validator("external_id", "thread_id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        return id_text(value)

    @field_validator("text", "html", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # (PostgreSQL drops NUL, SQLite kept it; one file gave the two stores different bodies)
        return _without_nul(value)

    @field_validator("meta")
    @classmethod
    def _unicode(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Text in meta is not checked as the fields' is: half of a UTF-16 pair alone ("\\ud800" in JSON) is no
        character, cannot be written as UTF-8, and stopped an import's batch (orjson refuses it, as it does an
        integer beyond 64 bits, which is fine: the slow check tells the two apart). Nor is its depth: nested
        hundreds of levels deep, it could not be sent back from an import's helper process."""
        if any(isinstance(v, dict | list) for v in value.values()) and meta_depth(value) > META_MAX_DEPTH:
            raise ValueError(f"nested more than {META_MAX_DEPTH} levels deep")
        try:
            orjson.dumps(value)
        except TypeError:
            try:
                json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("holds text that is not Unicode (half of a UTF-16 pair alone, as \\ud800)") from None
        return value

    @field_validator("subject", "sender", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        return one_line(value)

    @field_validator("sent_at", mode="before")
    @classmethod
    def _unix_time(cls, value: object) -> object:
        return unix_time(value)

    @field_validator("sent_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:  # stored in UTC: 0001-01-01T00:00+14:00 has no UTC time in datetime's years
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range: the time in UTC must fall in the years 1 to 9999") from None
        return value


class InboundRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=CHANNEL_PATTERN, description="gmail, intercom, linkedin, form, api, import …")
    external_id: str | None = Field(default=None, max_length=400, json_schema_extra=_id_schema(400),
                                    description="the record's id at the source: a text, or an integer (12345)")
    contact: ContactIn = Field(default_factory=ContactIn)
    message: MessageIn | None = None
    # Set by connectors, not by API callers: which account and mailbox scope the thread ids belong to.
    account_id: int | None = Field(default=None, exclude=True)
    scope: str | None = Field(default=None, max_length=100, exclude=True)
    owner_id: int | None = Field(default=None, exclude=True)

    @field_validator("channel", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("external_id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        return id_text(value)

    @model_validator(mode="after")
    def _message_id(self) -> InboundRecord:
        if self.message is not None and not self.message.external_id:
            if not self.external_id:
                raise ValueError("message.external_id (or the record's external_id) is required")
            self.message.external_id = self.external_id
        return self


class IngestResult(BaseModel):
    status: Literal["created", "known", "updated", "suppressed"]
    contact_id: int | None
    conversation_id: int | None = None
    message_id: int | None = None
    merged_contact_ids: list[int] = Field(default_factory=list)
    suggestion_ids: list[int] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # Whether this record made a new contact (post-ingest hooks route and announce new leads); not in the API.
    contact_created: bool = Field(default=False, exclude=True)

    @property
    def created(self) -> bool:
        return self.status == "created"


def looks_like_slug(value: str) -> bool:
    return bool(re.match(CHANNEL_PATTERN, value))

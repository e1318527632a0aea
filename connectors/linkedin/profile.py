"""A LinkedIn profile as the rep's browser reads it (extension or bookmarklet), and the inbound record it becomes.

Pure: validation and the record, no database. The record is keyed on the canonical profile URL, so saving the
same person twice, from two reps, or from a URL variant reaches one lead through core.ingest.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.normalize import InvalidIdentifier, normalize_linkedin_url
from core.schemas import InboundRecord

CHANNEL = "linkedin"
# Control characters (and bidi overrides that disguise text) never belong in what a profile page shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# A tag ("<script", "</b", "<!--"): no page's text has one. Plain "<" and ">" do ("Sales <> Marketing", "<3",
# "B2B > B2C") and are kept: every page escapes what it shows.
_MARKUP = re.compile(r"<[A-Za-z/!?]")


class ProfileIn(BaseModel):
    """`POST /api/v1/linkedin/profiles`. Unknown fields are refused, so a typo is a 400, not silent loss."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    profile_url: str = Field(min_length=1, max_length=500, description="any form of https://www.linkedin.com/in/<name>")
    name: str = Field(min_length=1, max_length=200)
    headline: str | None = Field(default=None, max_length=500)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    about: str | None = Field(default=None, max_length=5000)

    @field_validator("profile_url")
    @classmethod
    def _canonical(cls, value: str) -> str:
        try:
            return normalize_linkedin_url(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None

    @field_validator("name", "headline", "company", "title", "location")
    @classmethod
    def _one_line_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if _CONTROL.search(value) or "\n" in value or "\r" in value:
            raise ValueError("must be one line of plain text")
        if _MARKUP.search(value):
            raise ValueError("must not contain HTML tags (markup is not profile text)")
        if value and not _visible(value):
            # Only zero-width spaces, direction marks, a byte-order mark: an empty element on the page. An
            # optional field is left out; a name is required, and a lead with an empty one is no one's.
            if info.field_name == "name":
                raise ValueError("has no visible characters")
            return None
        return value or None

    @field_validator("about")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must be plain text without control characters")
        return value or None


def _visible(text: str) -> bool:
    """Whether the text shows anything: a character that is neither a space nor a format character (Cf). The
    format characters stay in the text (a zero-width joiner is part of an emoji like 👩‍💻)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def profile_note_text(profile: ProfileIn) -> str:
    lines = [f"LinkedIn profile: {profile.name}"]
    if profile.headline:
        lines.append(profile.headline)
    current = " at ".join(p for p in (profile.title, profile.company) if p)
    if current:
        lines.append(f"Currently: {current}")
    if profile.location:
        lines.append(f"Location: {profile.location}")
    if profile.about:
        lines += ["", "About:", profile.about]
    return "\n".join(lines)


def profile_record(profile: ProfileIn, *, owner_id: int | None, saved_by: str) -> InboundRecord:
    """A contact record plus one "note" holding what the profile said.

    The note's id is the canonical URL plus a hash of the shown text: saving the same profile again (by anyone)
    adds nothing; saving it after the person changed jobs adds one note recording the new headline.
    """
    text = profile_note_text(profile)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    data: dict[str, Any] = {
        "channel": CHANNEL,
        "owner_id": owner_id,
        "contact": {
            "name": profile.name,
            "company": profile.company,
            "title": profile.title,
            "linkedin_url": f"https://www.{profile.profile_url}",
        },
        "message": {
            "external_id": f"profile:{profile.profile_url}:{digest}",
            "thread_id": f"profile:{profile.profile_url}",
            "kind": "note",
            "direction": "in",
            "sender": "LinkedIn profile",
            "subject": f"LinkedIn profile of {profile.name}",
            "text": text,
            "meta": {"source": "linkedin-profile", "saved_by": saved_by, "location": profile.location,
                     "headline": profile.headline},
        },
    }
    return InboundRecord.model_validate(data)

"""Spam checks that need no request: honeypot and the signed render timestamp."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

SALT = "leadhub.forms.render"


class SpamRejected(Exception):
    """A submission refused as spam; `reason` is what admins see counted."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class RenderToken:
    submission_id: str
    age_seconds: float


def make_render_token(secret: str, form_key: str, submission_id: str | None = None) -> tuple[str, str]:
    """A signed `<form_key>.<submission_id>` with the render time; returns (token, submission_id)."""
    submission_id = submission_id or secrets.token_urlsafe(16)
    signer = TimestampSigner(secret, salt=SALT)
    return signer.sign(f"{form_key}.{submission_id}").decode(), submission_id


def check_render_token(
    secret: str, form_key: str, token: str | None, *, min_seconds: float, max_age: int, now: float | None = None
) -> RenderToken:
    """Raise SpamRejected unless the token was signed by us for this form between min_seconds and max_age ago."""
    if not token:
        raise SpamRejected("missing_token", "no render token: the form was not loaded from leadhub")
    signer = TimestampSigner(secret, salt=SALT)
    try:
        value, signed_at = signer.unsign(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise SpamRejected("expired_token", "the form was loaded too long ago") from None
    except BadSignature:
        raise SpamRejected("bad_token", "the render token is not ours") from None
    key, _, submission_id = value.decode().partition(".")
    if key != form_key or not submission_id:
        raise SpamRejected("bad_token", "the render token belongs to another form")
    age = (now if now is not None else time.time()) - signed_at.timestamp()
    if age < min_seconds:
        raise SpamRejected("too_fast", f"sent {age:.1f}s after loading (minimum {min_seconds:g}s)")
    return RenderToken(submission_id=submission_id, age_seconds=age)


def check_honeypot(value: object) -> None:
    if value not in (None, "", []):
        raise SpamRejected("honeypot", "the hidden field was filled")


def ip_hash(secret: str, ip: str) -> str:
    """Keyed hash of the sender's IP: enough to see a flood from one address without storing addresses."""
    return hashlib.blake2b(ip.encode(), key=secret.encode()[:64], digest_size=16).hexdigest()

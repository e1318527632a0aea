"""Users, roles and API tokens. Tokens are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from core.models import ApiToken, Role, User, utcnow
from core.normalize import InvalidIdentifier, normalize_email

TOKEN_PREFIX = "lh_"
TOKEN_TOUCH_SECONDS = 60


class UserError(ValueError):
    pass


def create_user(
    session: Session, *, email: str, role: str = Role.rep.value, name: str = "", password: str | None = None
) -> User:
    try:
        address = normalize_email(email).value if "@" in (email or "") else None
    except InvalidIdentifier as exc:
        raise UserError(str(exc)) from None
    if not address:
        raise UserError("a user needs a valid email address")
    if role not in {r.value for r in Role}:
        raise UserError(f"role must be one of: {', '.join(r.value for r in Role)}")
    if session.exec(select(User).where(User.email == address)).first() is not None:
        raise UserError(f"a user with email {address} already exists")
    user = User(email=address, role=role, name=name or address.split("@")[0])
    if password:
        set_password(user, password)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    try:
        address = normalize_email(email).value
    except InvalidIdentifier:
        return None
    return session.exec(select(User).where(User.email == address)).first()


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    user.password_hash = generate_password_hash(password)


def verify_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, *, user: User, name: str = "") -> str:
    """Create a token for `user`; returns the only copy of the secret."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user a token belongs to, and the token's row. Reads only: see touch_token."""
    if not token or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row


def token_needs_touch(row: ApiToken, now: datetime | None = None) -> bool:
    """Best-effort bookkeeping, at most once a minute: a write on every API call would serialise all readers."""
    now = now or utcnow()
    return row.last_used_at is None or (now - row.last_used_at).total_seconds() > TOKEN_TOUCH_SECONDS


def touch_token(session: Session, token_id: int, now: datetime | None = None) -> None:
    """Record that a token was used. Guarded, so requests that arrive in the same minute write it once."""
    now = now or utcnow()
    stale = now - timedelta(seconds=TOKEN_TOUCH_SECONDS)
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < stale))
        .values(last_used_at=now)
    )

"""The one contact store. Alembic (migrations/) is the only schema authority; these classes mirror it and
tests/core/test_migrations.py proves they agree."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamps on every backend: stored as UTC, read back aware (SQLite forgets)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


def _json(default: Any) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else (lambda: list(default))
    return Field(default_factory=factory, sa_type=sa.JSON(), nullable=False)


def _fk(target: str, ondelete: str, *, nullable: bool = True, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


class Role(StrEnum):
    rep = "rep"
    manager = "manager"
    admin = "admin"


class Stage(StrEnum):
    new = "new"
    mql = "mql"
    sql = "sql"
    customer = "customer"
    non_target = "non_target"


class Temperature(StrEnum):
    cold = "cold"
    warm = "warm"
    hot = "hot"


class IdentityKind(StrEnum):
    email = "email"
    phone = "phone"
    linkedin = "linkedin"
    # Provider user ids are stored under the channel's own kind, e.g. "intercom", "form", "gmail".


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"


# --------------------------------------------------------------------------- people who use leadhub


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.rep.value, max_length=16)
    password_hash: str | None = Field(default=None, max_length=300)
    active: bool = Field(default=True)
    created_at: datetime = _created()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE", nullable=False)
    token_hash: str = Field(max_length=128, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(default="", max_length=200)
    created_at: datetime = _created()
    last_used_at: datetime | None = _ts()


# --------------------------------------------------------------------------- contacts and identities


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=200)
    company: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=200)
    owner_id: int | None = _fk("users.id", "SET NULL")
    stage: str = Field(default=Stage.new.value, max_length=16, index=True)
    temperature: str = Field(default=Temperature.cold.value, max_length=8, index=True)
    score: int = Field(default=0)
    aliases: list[str] = _json([])
    merged_into: int | None = _fk("contacts.id", "SET NULL")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    last_message_at: datetime | None = _ts(index=True)


class Identity(SQLModel, table=True):
    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("kind", "value", name="uq_identities_kind_value"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    kind: str = Field(max_length=32)
    value: str = Field(max_length=400)
    raw_value: str = Field(default="", max_length=400)
    channel: str = Field(default="", max_length=32)  # where it was first seen
    is_weak: bool = Field(default=False)
    created_at: datetime = _created()


class ContactBlockKey(SQLModel, table=True):
    """Blocking keys for fuzzy duplicate search: contacts sharing a key are compared, nobody else."""

    __tablename__ = "contact_block_keys"
    contact_id: int = Field(
        sa_column_args=[sa.ForeignKey("contacts.id", ondelete="CASCADE")], primary_key=True
    )
    key: str = Field(max_length=120, primary_key=True, index=True)


# --------------------------------------------------------------------------- conversations


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        sa.UniqueConstraint("channel", "scope", "external_id", name="uq_conversations_channel_scope_ext"),
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    channel: str = Field(max_length=32, index=True)
    # Thread ids are unique per mailbox or workspace, so the scope (e.g. the connector account) is part of the key.
    scope: str = Field(default="", max_length=100)
    external_id: str = Field(max_length=300)
    account_id: int | None = _fk("connector_accounts.id", "SET NULL")
    subject: str = Field(default="", max_length=500)
    created_at: datetime = _created()
    last_message_at: datetime | None = _ts(index=True)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
        sa.Index("ix_messages_contact_sent", "contact_id", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = _fk("conversations.id", "CASCADE", nullable=False)
    contact_id: int = _fk("contacts.id", "CASCADE", nullable=False, index=False)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=400)
    kind: str = Field(default="message", max_length=16)  # message | note
    direction: str = Field(default=Direction.inbound.value, max_length=3)
    sender: str = Field(default="", max_length=400)
    sent_at: datetime | None = _ts()
    subject: str = Field(default="", max_length=1000)
    text: str = Field(default="", sa_type=sa.Text())
    html: str = Field(default="", sa_type=sa.Text())  # sanitised
    meta: dict[str, Any] = _json({})
    created_at: datetime = _created()


class QuarantinedItem(SQLModel, table=True):
    """A provider item that could not be turned into a message, kept with its reason instead of stopping a sync."""

    __tablename__ = "quarantined_items"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_quarantine_channel_ext"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = _fk("connector_accounts.id", "SET NULL")
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=400)
    reason: str = Field(default="", sa_type=sa.Text())
    created_at: datetime = _created()


# --------------------------------------------------------------------------- connectors


class ConnectorAccount(SQLModel, table=True):
    __tablename__ = "connector_accounts"
    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=32, index=True)
    owner_id: int | None = _fk("users.id", "SET NULL")
    label: str = Field(default="", max_length=320)  # mailbox address, workspace name …
    external_id: str = Field(default="", max_length=200)  # provider's id of the account
    status: str = Field(default="healthy", max_length=32)  # healthy | syncing | reconnect_needed | disabled | error
    credentials_encrypted: str = Field(default="", sa_type=sa.Text())
    config: dict[str, Any] = _json({})
    sync_state: dict[str, Any] = _json({})
    last_sync_at: datetime | None = _ts()
    last_error: str = Field(default="", sa_type=sa.Text())
    messages_synced: int = Field(default=0)
    lease_owner: str = Field(default="", max_length=100)
    lease_until: datetime | None = _ts()
    created_at: datetime = _created()


class AppSetting(SQLModel, table=True):
    """Admin settings as small JSON values: enabled connectors, company domains, sharing …"""

    __tablename__ = "app_settings"
    key: str = Field(primary_key=True, max_length=100)
    value: Any = Field(default=None, sa_type=sa.JSON(), nullable=True)
    updated_at: datetime = _created()


# --------------------------------------------------------------------------- identity history


class MergeEvent(SQLModel, table=True):
    __tablename__ = "merge_events"
    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    merged_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    reason: str = Field(default="", max_length=500)
    actor: str = Field(default="", max_length=320)
    # What undo needs: the merged contact's fields, the survivor's fields before, and the moved row ids.
    snapshot: dict[str, Any] = _json({})
    created_at: datetime = _created()
    undone_at: datetime | None = _ts()
    undone_by: str = Field(default="", max_length=320)


class DuplicateSuggestion(SQLModel, table=True):
    __tablename__ = "duplicate_suggestions"
    __table_args__ = (sa.UniqueConstraint("contact_a_id", "contact_b_id", name="uq_duplicates_pair"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_a_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    contact_b_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    score: float = Field(default=0.0)
    reasons: list[str] = _json([])
    status: str = Field(default="open", max_length=16, index=True)  # open | merged | dismissed
    created_at: datetime = _created()
    decided_at: datetime | None = _ts()
    decided_by: str = Field(default="", max_length=320)


class Suppression(SQLModel, table=True):
    """Hashed identifiers of an erased person: old data re-synced stays out, new inquiries still arrive."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("kind", "value_hash", name="uq_suppressions_kind_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # an identity kind, or "message" for a provider message id
    value_hash: str = Field(max_length=128)
    erased_at: datetime = _created()
    reason: str = Field(default="", max_length=200)


# --------------------------------------------------------------------------- scale: sync runs


class SyncRun(SQLModel, table=True):
    """One scheduled or executed sync of a connector account: what the scheduler queued, which worker held the
    lease from when to when, and how it ended. Feeds sync health, /metrics (errors by kind) and the proof that
    no account is ever synced twice at once."""

    __tablename__ = "sync_runs"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = _fk("connector_accounts.id", "CASCADE", nullable=False)
    status: str = Field(default="queued", max_length=16, index=True)  # queued | running | ok | error | busy
    worker: str = Field(default="", max_length=100)
    enqueued_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    records: int = Field(default=0)
    created: int = Field(default=0)
    error_kind: str = Field(default="", max_length=32, index=True)
    error: str = Field(default="", sa_type=sa.Text())

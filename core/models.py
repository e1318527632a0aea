"""The one contact store. Alembic (migrations/) is the only schema authority; these classes mirror it and
tests/core/test_migrations.py proves they agree."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from core.normalize import latin_search_text


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
    # The name and company in Latin letters without marks (core.normalize.latin_search_text), for search only;
    # set on every write of the name or company (below; core.batch writes its own).
    search_latin: str = Field(default="", max_length=400, sa_column_kwargs={"server_default": ""})


@sa.event.listens_for(Contact, "before_insert")
@sa.event.listens_for(Contact, "before_update")
def _set_search_latin(_mapper: Any, _connection: Any, contact: Contact) -> None:
    contact.search_latin = latin_search_text(contact.display_name, contact.company)


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
    # (key, contact_id): a block's newest members are read straight off the index, without sorting the block.
    __table_args__ = (sa.Index("ix_contact_block_keys_key_contact", "key", "contact_id"),)
    contact_id: int = Field(
        sa_column_args=[sa.ForeignKey("contacts.id", ondelete="CASCADE")], primary_key=True
    )
    key: str = Field(max_length=120, primary_key=True)


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


class PendingInbound(SQLModel, table=True):
    """An inbound record accepted durably (one INSERT) and not yet filed through core.ingest: the intake queue
    of the hot public endpoints (website forms). core.intake files these in batches and deletes each row in
    the same transaction that stores its message, so a record is always either waiting here or stored."""

    __tablename__ = "pending_inbound"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_pending_inbound_channel_ext"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    external_id: str = Field(max_length=400)
    actor: str = Field(default="", max_length=200)  # who merges it caused are recorded as (IngestOptions.actor)
    record: str = Field(sa_type=sa.Text())  # the InboundRecord as JSON
    received_at: datetime = _created()
    attempts: int = Field(default=0)
    last_error: str = Field(default="", sa_type=sa.Text())


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


class PendingSearch(SQLModel, table=True):
    """A contact whose duplicate search a bulk run has handed to a helper process: written in the batch that
    filed the contact, deleted in the transaction that opens its suggestions. A row left behind by a run that
    died in between is searched by core.identity.search_pending (at the next import, and a periodic task)."""

    __tablename__ = "pending_searches"
    contact_id: int = Field(sa_column_args=[sa.ForeignKey("contacts.id", ondelete="CASCADE")], primary_key=True)
    created_at: datetime = _created()


class Suppression(SQLModel, table=True):
    """Hashed identifiers of an erased person: old data re-synced stays out, new inquiries still arrive."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("kind", "value_hash", name="uq_suppressions_kind_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    # an identity kind; "written:<kind>" for its written form (core.ingest.suppression_hashes); "message" for a
    # provider message id
    kind: str = Field(max_length=32)
    value_hash: str = Field(max_length=128)
    erased_at: datetime = _created()
    reason: str = Field(default="", max_length=200)


# --------------------------------------------------------------------------- web app (webui)


class ConversationRead(SQLModel, table=True):
    """When a user last read a conversation: the inbox shows it unread when a newer message arrived."""

    __tablename__ = "conversation_reads"
    user_id: int = Field(sa_column_args=[sa.ForeignKey("users.id", ondelete="CASCADE")], primary_key=True)
    conversation_id: int = Field(
        sa_column_args=[sa.ForeignKey("conversations.id", ondelete="CASCADE")], primary_key=True
    )
    read_at: datetime = _created()


# --------------------------------------------------------------------------- website forms (connectors/forms, webapp/forms.py)


class FormType(StrEnum):
    contact = "contact"
    quote = "quote"
    demo = "demo"
    callback = "callback"
    newsletter = "newsletter"


class Form(SQLModel, table=True):
    """A capture form an admin built; websites post to /f/<key>. Submissions are messages on channel "form"."""

    __tablename__ = "forms"
    id: int | None = Field(default=None, primary_key=True)
    # Public and unguessable: it is all a website needs to post, so it must not be enumerable.
    key: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(default="", max_length=200)
    type: str = Field(default=FormType.contact.value, max_length=16)
    # [{name, label, kind text|email|phone|textarea|select|checkbox, required, maps_to, options[]}]
    fields: list[dict[str, Any]] = _json([])
    thank_you_url: str = Field(default="", max_length=1000)
    thank_you_message: str = Field(default="", sa_type=sa.Text())
    allowed_origins: list[str] = _json([])
    consent_text: str = Field(default="", sa_type=sa.Text())
    consent_version: int = Field(default=0)  # bumped whenever consent_text changes
    double_opt_in: bool = Field(default=False)
    owner_id: int | None = _fk("users.id", "SET NULL")
    autoresponder_subject: str = Field(default="", max_length=500)
    autoresponder_text: str = Field(default="", sa_type=sa.Text())
    active: bool = Field(default=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class FormSpamEvent(SQLModel, table=True):
    """One rejected submission (honeypot, too fast, rate limit, origin …): admins see spam, nothing is silent."""

    __tablename__ = "form_spam_events"
    __table_args__ = (sa.Index("ix_form_spam_events_form_reason", "form_id", "reason"),)
    id: int | None = Field(default=None, primary_key=True)
    form_id: int = _fk("forms.id", "CASCADE", nullable=False, index=False)
    reason: str = Field(max_length=32)
    ip_hash: str = Field(default="", max_length=64)
    detail: str = Field(default="", max_length=500)
    created_at: datetime = _created()


class OutboxMail(SQLModel, table=True):
    """Mail leadhub sent (or, with no SMTP configured, would have sent): the default mailer backend."""

    __tablename__ = "outbox_mail"
    id: int | None = Field(default=None, primary_key=True)
    to: str = Field(max_length=320, index=True)
    subject: str = Field(default="", max_length=1000)
    text: str = Field(default="", sa_type=sa.Text())
    html: str = Field(default="", sa_type=sa.Text())
    backend: str = Field(default="outbox", max_length=16)  # outbox | smtp
    status: str = Field(default="stored", max_length=16)  # stored | sent | failed
    error: str = Field(default="", sa_type=sa.Text())
    created_at: datetime = _created()


# --------------------------------------------------------------------------- qualification (issue 8)
# Stages with history, BANT, explained scores, routing, outbound webhooks. Aggregates for analytics read
# lead_qualifications (1:1 with contacts) so they are GROUP BY queries over one narrow table.


class StageChange(SQLModel, table=True):
    """Every stage change of a lead: from, to, why (for non-target), who and when."""

    __tablename__ = "stage_changes"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = _fk("contacts.id", "CASCADE", nullable=False)
    from_stage: str = Field(default="", max_length=16)
    to_stage: str = Field(max_length=16)
    reason: str = Field(default="", max_length=32)  # non-target reason: wrong_fit, spam, competitor, no_budget, other
    note: str = Field(default="", max_length=500)
    actor: str = Field(default="", max_length=320)  # a user's email, or "scoring:v3"
    created_at: datetime = _created()


class LeadQualification(SQLModel, table=True):
    """What qualification knows of one lead: BANT, deal value, signals from its messages, milestones."""

    __tablename__ = "lead_qualifications"
    contact_id: int = Field(sa_column_args=[sa.ForeignKey("contacts.id", ondelete="CASCADE")], primary_key=True)
    need: str = Field(default="", max_length=500)
    timeline: str = Field(default="", max_length=200)
    budget: str = Field(default="", max_length=200)
    authority: str = Field(default="", max_length=200)
    deal_value: float | None = Field(default=None)
    deal_currency: str = Field(default="", max_length=3)
    # Signals taken from message text at ingest (text is not re-read when rescoring a million leads).
    source_channel: str = Field(default="", max_length=32, index=True)  # first channel the lead came through
    form_types: list[str] = _json([])
    intent_hits: int = Field(default=0)
    language: str = Field(default="", max_length=8)
    country: str = Field(default="", max_length=2)
    # Time to first response: first outbound message after the first inbound one.
    first_inbound_at: datetime | None = _ts()
    first_response_at: datetime | None = _ts()
    response_seconds: int | None = Field(default=None)
    # When the lead first reached each stage (a jump from new to SQL sets MQL too): funnels count these.
    mql_at: datetime | None = _ts()
    sql_at: datetime | None = _ts()
    customer_at: datetime | None = _ts()
    updated_by: str = Field(default="", max_length=320)
    updated_at: datetime = _created()


class LeadScore(SQLModel, table=True):
    """The last score of a lead, explained: which rules fired with how many points, and why it is cold/warm/hot.
    Kept apart from lead_qualifications so that analytics scan narrow rows."""

    __tablename__ = "lead_scores"
    contact_id: int = Field(sa_column_args=[sa.ForeignKey("contacts.id", ondelete="CASCADE")], primary_key=True)
    explanation: list[dict[str, Any]] = _json([])
    temperature_explanation: list[dict[str, Any]] = _json([])
    ruleset_version: int | None = Field(default=None)
    scored_at: datetime | None = _ts()


class ScoringRuleSet(SQLModel, table=True):
    """One version of the scoring rules (data, edited by admins); exactly one is active."""

    __tablename__ = "scoring_rulesets"
    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(sa_column_kwargs={"unique": True}, nullable=False)
    rules: dict[str, Any] = _json({})
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = _created()
    active: bool = Field(default=False, index=True)
    note: str = Field(default="", max_length=500)


class RoutingRule(SQLModel, table=True):
    """Assign new leads matching `match` (channel, form_type, language, country) round-robin among assignees."""

    __tablename__ = "routing_rules"
    id: int | None = Field(default=None, primary_key=True)
    position: int = Field(default=0)
    name: str = Field(default="", max_length=200)
    match: dict[str, Any] = _json({})
    assignee_ids: list[int] = _json([])
    next_index: int = Field(default=0)  # round-robin state: which assignee gets the next lead
    active: bool = Field(default=True)
    created_at: datetime = _created()


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = _json([])
    secret_encrypted: str = Field(default="", sa_type=sa.Text())
    description: str = Field(default="", max_length=200)
    active: bool = Field(default=True)
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = _created()


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint (written in the event's own transaction: an outbox), and its fate."""

    __tablename__ = "webhook_deliveries"
    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = _fk("webhook_endpoints.id", "CASCADE", nullable=False)
    delivery_uuid: str = Field(max_length=36, sa_column_kwargs={"unique": True}, nullable=False)
    event: str = Field(max_length=40, index=True)
    payload: dict[str, Any] = _json({})
    status: str = Field(default="pending", max_length=16, index=True)  # pending | retrying | delivered | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = _ts()
    last_status_code: int | None = Field(default=None)
    created_at: datetime = _created()
    delivered_at: datetime | None = _ts()


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = _fk("webhook_deliveries.id", "CASCADE", nullable=False)
    number: int = Field(default=1)
    status_code: int | None = Field(default=None)
    response_excerpt: str = Field(default="", max_length=1000)
    error: str = Field(default="", max_length=500)
    duration_ms: int = Field(default=0)
    created_at: datetime = _created()


# --------------------------------------------------------------------------- scale: sync runs


class SyncRun(SQLModel, table=True):
    """One scheduled or executed sync of a connector account: what the scheduler queued, which worker held the
    lease from when to when, and how it ended. Feeds sync health, /metrics (errors by kind) and the proof that
    no account is ever synced twice at once."""

    __tablename__ = "sync_runs"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = _fk("connector_accounts.id", "CASCADE", nullable=False)
    status: str = Field(default="queued", max_length=16, index=True)  # queued | running | ok | error | busy | skipped
    worker: str = Field(default="", max_length=100)
    enqueued_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    records: int = Field(default=0)
    created: int = Field(default=0)
    error_kind: str = Field(default="", max_length=32, index=True)
    error: str = Field(default="", sa_type=sa.Text())


# --------------------------------------------------------------------------- mail merge (webapp/mail_merge.py)


class MailTemplate(SQLModel, table=True):
    """A plain-text mail with merge fields ({{ first_name }}, {{ company }} …), for mass sends."""

    __tablename__ = "mail_templates"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    subject: str = Field(max_length=500)
    body: str = Field(sa_type=sa.Text())
    created_by: int | None = _fk("users.id", "SET NULL", index=False)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class MassSend(SQLModel, table=True):
    """One mass send of a template from one Gmail account. draft (previewed) → queued → sending → done, or
    paused (daily cap, reconnect needed) and resumed, or cancelled. The template is copied: editing it later
    changes nothing already sent."""

    __tablename__ = "mass_sends"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = _fk("connector_accounts.id", "SET NULL")
    template_id: int | None = _fk("mail_templates.id", "SET NULL", index=False)
    created_by: int | None = _fk("users.id", "SET NULL", index=False)
    subject: str = Field(max_length=500)
    body: str = Field(sa_type=sa.Text())
    status: str = Field(default="draft", max_length=16, index=True)
    status_reason: str = Field(default="", max_length=500)
    lease_until: datetime | None = _ts()
    created_at: datetime = _created()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class MassSendRecipient(SQLModel, table=True):
    """One lead of a mass send with its rendered mail. pending → sending → sent | failed, or skipped (with the
    reason) at creation. The Message-ID is fixed before sending, so a send interrupted between Gmail's answer
    and our commit is found again in Gmail (rfc822msgid:) instead of being sent twice."""

    __tablename__ = "mass_send_recipients"
    __table_args__ = (sa.UniqueConstraint("mass_send_id", "contact_id", name="uq_mass_send_recipient"),)
    id: int | None = Field(default=None, primary_key=True)
    mass_send_id: int = _fk("mass_sends.id", "CASCADE", nullable=False)
    contact_id: int | None = _fk("contacts.id", "SET NULL", index=False)
    email: str = Field(default="", max_length=320)
    name: str = Field(default="", max_length=200)
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", sa_type=sa.Text())
    rfc822_id: str = Field(default="", max_length=300)
    status: str = Field(default="pending", max_length=16, index=True)
    error: str = Field(default="", max_length=1000)
    gmail_id: str = Field(default="", max_length=100)
    message_id: int | None = _fk("messages.id", "SET NULL", index=False)
    sent_at: datetime | None = _ts()

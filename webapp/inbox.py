"""The unified inbox: every conversation across channels in one list, with filters, full-text search,
per-user unread marks and keyset paging; the conversation view assigns an owner, changes the stage and
replies through the source channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlmodel import Session, col, select

from core import search
from core.contacts import CursorError, decode_cursor, encode_cursor
from core.db import is_store_id
from core.models import (
    ConnectorAccount,
    Contact,
    Conversation,
    ConversationRead,
    Message,
    Role,
    Stage,
    Temperature,
    User,
    UTCDateTime,
    utcnow,
)
from core.qualification import NON_TARGET_REASONS, QualificationError, set_stage
from core.schemas import KNOWN_CHANNELS
from core.search import SearchMatches, find_matches
from webapp.db import get_session, parse_id, side_write, write_session
from webapp.privacy import PRIVATE_CHANNELS, hidden_conversation_ids, sharing_on
from webapp.replies import ReplyError, can_reply, reply_blocker, reply_function

bp = Blueprint("inbox", __name__)


def _phone_region() -> str:
    """The default phone region, for a search that is a number written without its country code."""
    return str(current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"]) if has_app_context() else "PL"


@bp.app_template_global()
def conversation_title(subject: str | None, channel: str) -> str:
    return subject or UNTITLED.get(channel, "(no subject)")

PAGE_SIZE = 50
# A filter on the person (stage, temperature, owner) is tried first on the PROBE_WINDOW
# conversations that come next in time order: when that many hold a page of matches, the page is exact and
# costs a bounded walk of the time index. Only a rarer filter falls back to the query the planner drives from
# the filter's index, which is cheap exactly because few rows match (BENCHMARKS.md, Inbox).
PROBE_WINDOW = 1000
RARE_COUNT_LIMIT = 20_000  # counting the people a filter matches stops here (a few ms of index walk)
NOTE_CHANNEL = "note"  # lead notes live in their own conversation; they are not inbox items
CHANNEL_LABELS = {"gmail": "Gmail", "intercom": "Intercom", "linkedin": "LinkedIn", "form": "Website form",
                  "api": "API", "import": "Import", "phone": "Phone", "manual": "Manual"}
# What a conversation without a subject is called: chats and profiles have none, mail may lack one.
UNTITLED = {"intercom": "Intercom chat", "linkedin": "LinkedIn profile", "phone": "Phone call"}
# Plain letters, not emoji: the app must look right on machines without an emoji font.
CHANNEL_ICONS = {"gmail": "M", "intercom": "IC", "linkedin": "in", "form": "F", "api": "API", "import": "IMP",
                 "phone": "T", "manual": "✎"}


@dataclass
class InboxFilter:
    channel: str | None = None
    owner: str | None = None  # a user id, "me" or "none"
    stage: str | None = None
    temperature: str | None = None
    unread: bool = False
    q: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> InboxFilter:
        stage = args.get("stage") or None
        temperature = args.get("temperature") or None
        owner = args.get("owner") or None
        return cls(
            channel=(args.get("channel") or None),
            owner=owner if owner in {"me", "none"} or parse_id(owner) is not None else None,
            stage=stage if stage in {s.value for s in Stage} else None,
            temperature=temperature if temperature in {t.value for t in Temperature} else None,
            unread=args.get("unread") == "1",
            q=((args.get("q") or "").strip()[:200] or None),
        )

    @property
    def narrows_people(self) -> bool:
        """Filters on the person that have an index of their own, which SQLite's planner then drives from
        (reading every matching person's conversations and sorting them) instead of the time index."""
        return bool(self.stage or self.temperature or self.owner)

    def args(self) -> dict[str, str]:
        values = {"channel": self.channel, "owner": self.owner, "stage": self.stage,
                  "temperature": self.temperature, "unread": "1" if self.unread else None, "q": self.q}
        return {k: v for k, v in values.items() if v}


@dataclass
class Viewer:
    id: int
    role: str


def _read_up_to_date(user_id: int) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        ConversationRead.user_id == user_id,
        ConversationRead.conversation_id == Conversation.id,
        col(ConversationRead.read_at) >= Conversation.last_message_at,
    )


def _not_private_for(viewer: Viewer) -> sa.ColumnElement[bool]:
    """Bodies a rep may search: everything except other reps' mailboxes (unless sharing is on)."""
    return ~sa.exists().where(
        ConnectorAccount.id == Conversation.account_id,
        col(Conversation.channel).in_(PRIVATE_CHANNELS),
        col(ConnectorAccount.owner_id).is_not(None),
        ConnectorAccount.owner_id != viewer.id,
    )


def _listed() -> list[sa.ColumnElement[bool]]:
    """Conversations the inbox lists at all."""
    return [col(Conversation.last_message_at).is_not(None), Conversation.channel != NOTE_CHANNEL]


def inbox_query(
    session: Session, viewer: Viewer, filters: InboxFilter, *, few_people: bool = False,
    matches: SearchMatches | None = None,
) -> sa.Select:
    """The listed conversations that pass the filters. few_people: the filters on the person are known to
    match few; on SQLite the planner is then told which of them matches fewest (its statistics only know
    how many stages there are, not that nobody is a customer yet). matches: the search's matches, if the
    caller has read them already."""
    query = select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id).where(*_listed())
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    on_person: list[sa.ColumnElement[bool]] = []
    if filters.stage:
        on_person.append(Contact.stage == filters.stage)
    if filters.temperature:
        on_person.append(Contact.temperature == filters.temperature)
    if filters.owner == "me":
        on_person.append(Contact.owner_id == viewer.id)
    elif filters.owner == "none":
        on_person.append(col(Contact.owner_id).is_(None))
    elif filters.owner:
        on_person.append(Contact.owner_id == int(filters.owner))
    if few_people and on_person and session.get_bind().dialect.name == "sqlite":
        rarest = min(on_person, key=lambda condition: _count_up_to(session, condition, RARE_COUNT_LIMIT))
        on_person = [sa.func.likelihood(c, sa.literal_column("0.001")) if c is rarest else c for c in on_person]
    query = query.where(*on_person)
    if filters.unread:
        query = query.where(~_read_up_to_date(viewer.id))
    if filters.q:
        found = matches if matches is not None else find_matches(session, filters.q, region=_phone_region())
        by_person = col(Conversation.contact_id).in_(found.contact_ids)
        by_body = col(Conversation.id).in_(
            select(Message.conversation_id).where(col(Message.id).in_(found.message_ids))
        )
        if viewer.role == Role.rep.value and not sharing_on(session):
            by_body = sa.and_(by_body, _not_private_for(viewer))
        query = query.where(sa.or_(by_person, by_body))
    return query


def inbox_page(
    session: Session, viewer: Viewer, filters: InboxFilter, *, cursor: str | None = None, limit: int = PAGE_SIZE,
    matches: SearchMatches | None = None,
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page, newest first, keyset-paged on (last_message_at, id). Returns rows, next cursor, prev cursor."""
    if filters.q and matches is None:
        matches = find_matches(session, filters.q, region=_phone_region())
    query = inbox_query(session, viewer, filters, matches=matches)
    backwards, position = False, None
    if cursor:
        decoded = decode_cursor(cursor)
        try:
            position = (sa.literal(datetime.fromisoformat(decoded["t"]), UTCDateTime()), int(decoded["id"]))
        except (KeyError, TypeError, ValueError):
            raise CursorError("cursor is not one this page gave out") from None
        if not is_store_id(position[1]):
            raise CursorError("cursor is not one this page gave out")
        backwards = decoded.get("d") == "prev"
    at, conversation_id = col(Conversation.last_message_at), col(Conversation.id)
    where, order = _keyset(at, conversation_id, position, backwards)
    rows: list[Any] = []
    if filters.narrows_people and not filters.q:  # a search's match sets are capped: its own query is bounded
        # The next PROBE_WINDOW conversations in page order (channel filter included: its index serves it).
        window = select(Conversation.id).where(*_listed(), *where)
        if filters.channel:
            window = window.where(Conversation.channel == filters.channel)
        window_ids = window.order_by(*order).limit(PROBE_WINDOW).subquery()
        rows = list(session.exec(
            query.where(*where, conversation_id.in_(sa.select(window_ids.c.id))).order_by(*order).limit(limit + 1)
        ).all())
        if len(rows) <= limit and session.get_bind().dialect.name == "sqlite":
            # Under a page of matches in the window: few people match. SQLite's statistics cannot tell a rare
            # stage from a common one and would walk the whole time index (4.6 s at 1M contacts for a stage
            # nobody is in) or scan every contact; with the time index out of play (unary +) and the filter
            # marked unlikely it starts from the people who match, through the filter's index.
            where, order = _keyset(sa.literal_column("+conversations.last_message_at"),
                                   sa.literal_column("+conversations.id"), position, backwards)
            query = inbox_query(session, viewer, filters, few_people=True, matches=matches)
    if len(rows) <= limit:
        # No filter on the person, or fewer than a page of matches in the window (or the window was the whole
        # inbox: then this is as cheap).
        rows = list(session.exec(query.where(*where).order_by(*order).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    items = _decorate(session, viewer, rows)
    if not items:
        return items, None, None
    first, last = rows[0][0], rows[-1][0]
    next_cursor = prev_cursor = None
    if more or backwards:
        next_cursor = encode_cursor({"t": last.last_message_at.isoformat(), "id": last.id, "d": "next"})
    if cursor and (more or not backwards):
        prev_cursor = encode_cursor({"t": first.last_message_at.isoformat(), "id": first.id, "d": "prev"})
    return items, next_cursor, prev_cursor


def _count_up_to(session: Session, condition: sa.ColumnElement[bool], limit: int) -> int:
    """How many contacts pass `condition`, counting no further than `limit` (a bounded walk of its index)."""
    matching = select(Contact.id).where(condition).limit(limit).subquery()
    return int(session.execute(sa.select(sa.func.count()).select_from(matching)).scalar_one())


def _keyset(
    at: Any, conversation_id: Any, position: tuple[Any, int] | None, backwards: bool
) -> tuple[list[sa.ColumnElement[bool]], tuple[Any, Any]]:
    """The WHERE and ORDER BY of keyset paging on (last_message_at, id), from `position` on."""
    if backwards:
        order = (at.asc(), conversation_id.asc())
    else:
        order = (at.desc(), conversation_id.desc())
    if position is None:
        return [], order
    at_param, after_id = position
    # The plain bound first lets the (last_message_at) index do a range scan; the OR breaks ties on id.
    if backwards:
        return [at >= at_param, sa.or_(at > at_param, sa.and_(at == at_param, conversation_id > after_id))], order
    return [at <= at_param, sa.or_(at < at_param, sa.and_(at == at_param, conversation_id < after_id))], order


def _decorate(session: Session, viewer: Viewer, rows: list[tuple[Conversation, Contact]]) -> list[dict[str, Any]]:
    ids = [conv.id for conv, _ in rows]
    if not ids:
        return []
    latest_ids = select(sa.func.max(Message.id)).where(col(Message.conversation_id).in_(ids)).group_by(
        Message.conversation_id
    )
    latest = {m.conversation_id: m for m in session.exec(select(Message).where(col(Message.id).in_(latest_ids)))}
    reads = dict(
        session.exec(
            select(ConversationRead.conversation_id, ConversationRead.read_at).where(
                ConversationRead.user_id == viewer.id, col(ConversationRead.conversation_id).in_(ids)
            )
        ).all()
    )
    hidden = hidden_conversation_ids(session, user_id=viewer.id, role=viewer.role, conversation_ids=ids)
    owner_ids = {contact.owner_id for _, contact in rows if contact.owner_id}
    owners = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))} if owner_ids else {}
    items = []
    for conv, contact in rows:
        message = latest.get(conv.id)
        read_at = reads.get(conv.id)
        snippet = "" if conv.id in hidden or message is None else " ".join((message.text or "").split())[:160]
        items.append({
            "id": conv.id,
            "channel": conv.channel,
            "channel_label": CHANNEL_LABELS.get(conv.channel, conv.channel),
            "channel_icon": CHANNEL_ICONS.get(conv.channel, "•"),
            "subject": conv.subject or (message.subject if message else ""),
            "snippet": snippet,
            "body_hidden": conv.id in hidden,
            "last_message_at": conv.last_message_at,
            "contact_id": contact.id,
            "contact_name": contact.display_name or "(no name)",
            "company": contact.company,
            "stage": contact.stage,
            "temperature": contact.temperature,
            "owner": owners[contact.owner_id].name if contact.owner_id in owners else "",
            "unread": read_at is None or read_at < conv.last_message_at,
        })
    return items


def viewer() -> Viewer:
    return Viewer(id=int(current_user.id), role=current_user.role)


def _filter_choices(session: Session) -> dict[str, Any]:
    # The configured channels, not SELECT DISTINCT: that would scan every conversation on each page view.
    extra = str(current_app.config["LEADHUB"].get("EXTRA_CHANNELS", ""))
    channels = sorted(set(KNOWN_CHANNELS) | {c.strip().lower() for c in extra.split(",") if c.strip()})
    users = list(session.exec(select(User).where(User.active == True).order_by(User.name)).all())  # noqa: E712
    return {"channels": channels, "users": users, "stages": [s.value for s in Stage],
            "temperatures": [t.value for t in Temperature], "channel_labels": CHANNEL_LABELS,
            "non_target_reasons": list(NON_TARGET_REASONS)}


def _page(
    filters: InboxFilter, cursor: str | None, matches: SearchMatches | None = None
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    try:
        return inbox_page(get_session(), viewer(), filters, cursor=cursor, matches=matches)
    except CursorError:
        abort(400, "This page link is out of date; start again from the first page.")


@bp.get("/inbox")
@login_required
def index():  # noqa: ANN201
    filters = InboxFilter.from_args(request.args)
    cursor = request.args.get("cursor") or None
    matches = find_matches(get_session(), filters.q, region=_phone_region()) if filters.q else None
    items, next_cursor, prev_cursor = _page(filters, cursor, matches)
    return render_template(
        "inbox/index.html", items=items, filters=filters, next_cursor=next_cursor, prev_cursor=prev_cursor,
        cursor=cursor, poll_seconds=current_app.config["LEADHUB"]["INBOX_POLL_SECONDS"],
        search_capped=bool(matches and matches.capped), match_cap=search.MATCH_CAP,
        **_filter_choices(get_session()),
    )


@bp.get("/inbox/rows")
@login_required
def rows():  # noqa: ANN201
    """The first page's rows as an HTML fragment: what the open inbox polls for to show new messages."""
    filters = InboxFilter.from_args(request.args)
    items, _, _ = _page(filters, None)
    return render_template("inbox/_rows.html", items=items, filters=filters)


# --------------------------------------------------------------------------- one conversation


def mark_read(session: Session, user_id: int, conversation_id: int) -> None:
    row = session.get(ConversationRead, (user_id, conversation_id))
    if row is None:
        row = ConversationRead(user_id=user_id, conversation_id=conversation_id)
    row.read_at = utcnow()
    session.add(row)


@bp.get("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):  # noqa: ANN201
    return _conversation_page(conversation_id)


def _conversation_page(conversation_id: int, *, draft: str = "", reply_error: str | None = None) -> str:
    session = get_session()
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        abort(404)
    contact = session.get(Contact, conv.contact_id)
    messages = list(session.exec(
        select(Message).where(Message.conversation_id == conv.id).order_by(col(Message.sent_at), col(Message.id))
    ).all())
    me = viewer()
    hidden = conv.id in hidden_conversation_ids(session, user_id=me.id, role=me.role, conversation_ids=[conv.id])
    side_write(lambda own: mark_read(own, me.id, conv.id))
    offered = can_reply(conv.channel) and not hidden
    return render_template(
        "inbox/conversation.html", conv=conv, contact=contact, messages=messages, body_hidden=hidden,
        can_reply=offered, reply_blocked=reply_blocker(session, conv, me) if offered else None,
        draft=draft, reply_error=reply_error, **_filter_choices(session),
    )


def _contact_of(session: Session, conversation_id: int) -> tuple[Conversation, Contact]:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        abort(404)
    contact = session.get(Contact, conv.contact_id)
    if contact is None:
        abort(404)
    return conv, contact


@bp.post("/conversations/<int:conversation_id>/owner")
@login_required
def assign_owner(conversation_id: int):  # noqa: ANN201
    session = write_session()
    conv, contact = _contact_of(session, conversation_id)
    raw = request.form.get("owner_id") or ""
    if raw == "":
        contact.owner_id = None
    elif (owner_id := parse_id(raw)) is not None and session.get(User, owner_id) is not None:
        contact.owner_id = owner_id
    else:
        flash("Choose a user from the list.", "error")
        return redirect(url_for("inbox.conversation", conversation_id=conv.id))
    contact.updated_at = utcnow()
    session.add(contact)
    session.commit()
    flash("Owner updated.")
    return redirect(request.form.get("back") == "lead" and url_for("leads.show", contact_id=contact.id)
                    or url_for("inbox.conversation", conversation_id=conv.id))


@bp.post("/conversations/<int:conversation_id>/stage")
@login_required
def change_stage(conversation_id: int):  # noqa: ANN201
    session = write_session()
    conv, contact = _contact_of(session, conversation_id)
    stage = request.form.get("stage")
    temperature = request.form.get("temperature")
    if stage not in {s.value for s in Stage} or (temperature and temperature not in {t.value for t in Temperature}):
        flash("Choose a stage from the list.", "error")
        return redirect(url_for("inbox.conversation", conversation_id=conv.id))
    if stage != contact.stage:
        # The one way a person moves a stage: recorded with who, when and (for non-target) why, and announced
        # to webhooks, the same as from the lead's qualification panel and the API.
        try:
            set_stage(session, contact.id, stage=stage, reason=request.form.get("reason") or None,
                      actor=current_user.email)
        except QualificationError as exc:
            session.rollback()
            flash("; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or str(exc), "error")
            return redirect(url_for("inbox.conversation", conversation_id=conv.id))
    if temperature:
        contact.temperature = temperature
    contact.updated_at = utcnow()
    session.add(contact)
    session.commit()
    flash("Stage updated.")
    return redirect(url_for("inbox.conversation", conversation_id=conv.id))


@bp.post("/conversations/<int:conversation_id>/reply")
@login_required
def reply(conversation_id: int):  # noqa: ANN201
    session = get_session()
    conv, _ = _contact_of(session, conversation_id)
    me = viewer()
    send = reply_function(conv.channel)
    if send is None or conv.id in hidden_conversation_ids(
        session, user_id=me.id, role=me.role, conversation_ids=[conv.id]
    ):
        abort(404)
    text = (request.form.get("text") or "").strip()
    if not text:
        flash("Write something to send.", "error")
        return redirect(url_for("inbox.conversation", conversation_id=conv.id))
    try:
        send(session, conv, text=text, user_id=me.id)
    except ReplyError as exc:
        session.rollback()
        # The page again with the reply still in its box: a redirect dropped what the rep had written.
        return _conversation_page(conv.id, draft=text, reply_error=str(exc)), 409
    session.commit()
    flash("Reply sent.")
    return redirect(url_for("inbox.conversation", conversation_id=conv.id))

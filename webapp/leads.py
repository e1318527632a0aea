"""The lead page: every identity with where it came from, aliases, merge history with undo, the whole
cross-channel timeline in one column, notes; and the sandboxed frame that shows an HTML email."""

from __future__ import annotations

import uuid

import nh3
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlmodel import Session, col, select

from core.contacts import contact_detail
from core.identity import IdentityError, get_live_contact, undo_merge
from core.models import Contact, Conversation, Message, User, utcnow
from webapp.db import get_session, write_session
from webapp.inbox import CHANNEL_ICONS, NOTE_CHANNEL, _filter_choices, viewer
from webapp.privacy import hidden_conversation_ids

bp = Blueprint("leads", __name__)

MAX_TIMELINE = 1000
MAX_NOTE = 10_000


@bp.get("/contacts/<int:contact_id>")
@login_required
def show(contact_id: int):  # noqa: ANN201
    session = get_session()
    detail = contact_detail(session, contact_id)
    if detail is None:
        abort(404)
    if detail["id"] != contact_id:
        return redirect(url_for("leads.show", contact_id=detail["id"]), code=301)
    messages = list(session.exec(
        select(Message).where(Message.contact_id == detail["id"])
        .order_by(col(Message.sent_at), col(Message.id)).limit(MAX_TIMELINE)
    ).all())
    me = viewer()
    hidden = hidden_conversation_ids(
        session, user_id=me.id, role=me.role, conversation_ids=[m.conversation_id for m in messages]
    )
    contact = session.get(Contact, detail["id"])
    owner = session.get(User, contact.owner_id) if contact.owner_id else None
    conversations = {c.id: c for c in session.exec(
        select(Conversation).where(Conversation.contact_id == detail["id"], Conversation.channel != NOTE_CHANNEL)
    )}
    return render_template(
        "leads/show.html", detail=detail, contact=contact, owner=owner, messages=messages, hidden=hidden,
        conversations=conversations, channel_icons=CHANNEL_ICONS,
        **_filter_choices(session),
    )


def add_note(session: Session, *, contact: Contact, text: str, author: str) -> Message:
    """A note is a Message of kind "note" in the lead's own note conversation, so merges and undo move it too."""
    conv = session.exec(
        select(Conversation).where(
            Conversation.channel == NOTE_CHANNEL, Conversation.scope == "",
            Conversation.external_id == f"contact-{contact.id}",
        )
    ).first()
    if conv is None:
        conv = Conversation(contact_id=contact.id, channel=NOTE_CHANNEL, external_id=f"contact-{contact.id}",
                            subject="Notes")
        session.add(conv)
        session.flush()
    now = utcnow()
    note = Message(conversation_id=conv.id, contact_id=contact.id, channel=NOTE_CHANNEL,
                   external_id=f"note-{uuid.uuid4().hex}", kind="note", direction="out", sender=author[:400],
                   sent_at=now, text=text[:MAX_NOTE])
    session.add(note)
    session.flush()
    return note


@bp.post("/contacts/<int:contact_id>/notes")
@login_required
def note(contact_id: int):  # noqa: ANN201
    session = write_session()
    contact = get_live_contact(session, contact_id)
    if contact is None:
        abort(404)
    text = (request.form.get("text") or "").strip()
    if not text:
        flash("A note needs some text.", "error")
    else:
        add_note(session, contact=contact, text=text, author=current_user.email)
        session.commit()
        flash("Note added.")
    return redirect(url_for("leads.show", contact_id=contact.id))


@bp.post("/merges/<int:merge_id>/undo")
@login_required
def undo(merge_id: int):  # noqa: ANN201
    session = write_session()
    try:
        event = undo_merge(session, event_id=merge_id, actor=current_user.email)
    except IdentityError as exc:
        session.rollback()
        if "not found" in str(exc):
            abort(404)
        flash(f"Cannot undo: {exc}.", "error")
        return redirect(request.referrer if _same_site(request.referrer) else url_for("home.index"))
    session.commit()
    flash("Merge undone: the two leads are separate again.")
    return redirect(url_for("leads.show", contact_id=event.survivor_id))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


# Remote images stay blocked until the reader asks for them; scripts never run (no script-src at all,
# and the iframe is sandboxed without allow-scripts).
FRAME_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:{images}; font-src 'none'; "
             "form-action 'none'; base-uri 'none'; frame-ancestors 'self'")


@bp.get("/messages/<int:message_id>/frame")
@login_required
def frame(message_id: int):  # noqa: ANN201
    session = get_session()
    message = session.get(Message, message_id)
    if message is None or not message.html:
        abort(404)
    me = viewer()
    if message.conversation_id in hidden_conversation_ids(
        session, user_id=me.id, role=me.role, conversation_ids=[message.conversation_id]
    ):
        abort(403)
    # Stored html was sanitised at ingest; clean again so older rows or a changed policy are covered too.
    body = nh3.clean(message.html, link_rel="noopener noreferrer nofollow")
    page = ('<!doctype html><html><head><meta charset="utf-8"><base target="_blank">'
            '<style>body{font:14px/1.45 system-ui,sans-serif;margin:8px;color:#1d2433}img{max-width:100%}</style>'
            f"</head><body>{body}</body></html>")
    response = make_response(page)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    images = " https: http:" if request.args.get("images") == "1" else ""
    response.headers["Content-Security-Policy"] = FRAME_CSP.format(images=images)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response

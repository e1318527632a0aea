"""Templates and mass sends through a rep's Gmail: write a template with merge fields, choose leads, preview
every mail, then send in the background, throttled to Gmail's quota (the client's token bucket) and to a
daily cap per mailbox, each mail recorded on its lead's timeline and each failure reported per recipient.

A send survives a crash: every recipient's Message-ID is fixed before its mail goes out and the row is marked
"sending" first, so a rerun asks Gmail (rfc822msgid:) whether that mail left before sending it again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlmodel import Session, col, select

from connectors.errors import ConnectorError, ReconnectNeeded, RetriableError
from connectors.gmail.send import build_reply, encode_raw, new_message_id
from core.contacts import contacts_matching
from core.ingest import IngestOptions, ingest
from core.mail_merge import MERGE_FIELDS, TemplateError, check_template, plan_recipients, render
from core.models import (
    ConnectorAccount,
    Contact,
    Conversation,
    MailTemplate,
    MassSend,
    MassSendRecipient,
    Message,
    Stage,
    Temperature,
    User,
    utcnow,
)
from core.schemas import ContactIn, InboundRecord, MessageIn
from webapp.db import get_engine, get_session, parse_id, write_session
from webapp.gmail import client_for, may_send_from
from webapp.queue import enqueue, enqueue_in, task
from webapp.settings import is_enabled

log = logging.getLogger(__name__)

bp = Blueprint("mail", __name__, url_prefix="/mail")

MAX_RECIPIENTS = 1000  # per send: bigger lists are several sends (and several days of a mailbox's cap)
PREVIEW_COUNT = 5
LEASE_SECONDS = 300
RESUME_AFTER_BUSY_SECONDS = 60


# --------------------------------------------------------------------------- who may send from what


def _sendable_accounts(session: Session, user: Any) -> list[ConnectorAccount]:
    accounts = session.exec(
        select(ConnectorAccount).where(ConnectorAccount.type == "gmail", ConnectorAccount.status != "disabled")
        .order_by(col(ConnectorAccount.id))
    ).all()
    return [a for a in accounts if may_send_from(a, user)]


def _may_see(send: MassSend, account: ConnectorAccount | None, user: Any) -> bool:
    """Its author, and whoever may send from its mailbox, see a send."""
    return send.created_by == user.id or bool(account and may_send_from(account, user))


def _own_send(session: Session, send_id: int) -> MassSend:
    send = session.get(MassSend, send_id)
    if send is None:
        abort(404)
    account = session.get(ConnectorAccount, send.account_id) if send.account_id else None
    if not _may_see(send, account, current_user):
        abort(404)
    return send


# --------------------------------------------------------------------------- templates


@bp.get("/templates")
@login_required
def templates():  # noqa: ANN201
    rows = get_session().exec(select(MailTemplate).order_by(col(MailTemplate.name))).all()
    return render_template("mail/templates.html", templates=rows, fields=MERGE_FIELDS)


@bp.route("/templates/new", methods=["GET", "POST"])
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@login_required
def template_edit(template_id: int | None = None):  # noqa: ANN201
    session = write_session() if request.method == "POST" else get_session()
    row = session.get(MailTemplate, template_id) if template_id else MailTemplate(name="", subject="", body="")
    if row is None:
        abort(404)
    errors: dict[str, str] = {}
    sample = ""
    if request.method == "POST":
        row.name = (request.form.get("name") or "").strip()[:200]
        row.subject = (request.form.get("subject") or "").strip()
        row.body = (request.form.get("body") or "").replace("\r\n", "\n")
        if not row.name:
            errors["name"] = "is empty"
        try:
            check_template(row.subject, row.body)
        except TemplateError as exc:
            errors.update(exc.fields)
        if not errors:
            row.created_by = row.created_by or current_user.id
            row.updated_at = utcnow()
            session.add(row)
            session.commit()
            flash("Template saved.", "ok")
            return redirect(url_for("mail.template_edit", template_id=row.id))
    elif row.id:
        sample = render(row.body, _sample_values())
    return render_template("mail/template_edit.html", template=row, errors=errors, fields=MERGE_FIELDS,
                           sample=sample), (400 if errors else 200)


def _sample_values() -> dict[str, str]:
    return {"name": "Anna Nowak", "first_name": "Anna", "last_name": "Nowak", "company": "Budmax",
            "title": "Kierownik zakupów", "email": "anna.nowak@budmax.pl", "owner_name": current_user.name,
            "owner_email": current_user.email, "sender_email": current_user.email}


# --------------------------------------------------------------------------- choosing leads, preview


def _lead_query(args: Any) -> sa.Select:
    query = select(Contact).where(col(Contact.merged_into).is_(None))
    if args.get("stage") in {s.value for s in Stage}:
        query = query.where(Contact.stage == args["stage"])
    if args.get("temperature") in {t.value for t in Temperature}:
        query = query.where(Contact.temperature == args["temperature"])
    owner = args.get("owner", "")
    if owner == "me":
        query = query.where(Contact.owner_id == current_user.id)
    elif (owner_id := parse_id(owner)) is not None:
        query = query.where(Contact.owner_id == owner_id)
    words = (args.get("q") or "").strip()[:100]
    if words:
        query = query.where(contacts_matching(get_session(), words, identities=False,
                                              region=current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"]))
    return query.order_by(col(Contact.last_message_at).desc().nulls_last(), col(Contact.id).desc())


@bp.get("/sends")
@login_required
def sends():  # noqa: ANN201
    session = get_session()
    rows = session.exec(select(MassSend).order_by(col(MassSend.id).desc()).limit(200)).all()
    visible = []
    for send in rows:
        account = session.get(ConnectorAccount, send.account_id) if send.account_id else None
        if _may_see(send, account, current_user):
            template = session.get(MailTemplate, send.template_id) if send.template_id else None
            visible.append((send, account, _counts(session, send.id), template.name if template else "—"))
    return render_template("mail/sends.html", sends=visible)


@bp.get("/sends/new")
@login_required
def send_new():  # noqa: ANN201
    session = get_session()
    leads = session.exec(_lead_query(request.args).limit(MAX_RECIPIENTS + 1)).all()
    return render_template(
        "mail/send_new.html", leads=leads[:MAX_RECIPIENTS], more=len(leads) > MAX_RECIPIENTS,
        max_recipients=MAX_RECIPIENTS, accounts=_sendable_accounts(session, current_user),
        templates=session.exec(select(MailTemplate).order_by(col(MailTemplate.name))).all(),
        stages=[s.value for s in Stage], temperatures=[t.value for t in Temperature],
        users=session.exec(select(User).where(User.active.is_(True)).order_by(col(User.name))).all(),
        args=request.args, gmail_on=is_enabled("gmail", session),
    )


@bp.post("/sends")
@login_required
def send_create():  # noqa: ANN201
    """A draft: every recipient's mail rendered now, shown for review before anything is sent."""
    session = write_session()
    template = session.get(MailTemplate, _int(request.form.get("template_id")))
    account = session.get(ConnectorAccount, _int(request.form.get("account_id")))
    contact_ids = [i for v in request.form.getlist("contact_id") if (i := parse_id(v)) is not None][:MAX_RECIPIENTS]
    back = redirect(url_for("mail.send_new"))
    if template is None:
        flash("Choose a template.", "error")
        return back
    if account is None or account.type != "gmail" or not may_send_from(account, current_user):
        flash("Choose a Gmail mailbox you may send from.", "error")
        return back
    if not contact_ids:
        flash("Choose at least one lead.", "error")
        return back
    try:
        planned = plan_recipients(session, contact_ids, subject=template.subject, body=template.body,
                                  sender_email=account.label)
    except TemplateError as exc:
        flash(f"The template cannot be used: {exc}", "error")
        return back
    send = MassSend(account_id=account.id, template_id=template.id, created_by=current_user.id,
                    subject=template.subject, body=template.body)
    session.add(send)
    session.flush()
    domain = account.label.rsplit("@", 1)[-1] or "leadhub.local"
    session.add_all(
        MassSendRecipient(mass_send_id=send.id, contact_id=p.contact_id, email=p.email, name=p.name[:200],
                          subject=p.subject, body=p.body, status="skipped" if p.skipped else "pending",
                          error=p.skipped, rfc822_id="" if p.skipped else new_message_id(domain))
        for p in planned
    )
    session.commit()
    return redirect(url_for("mail.send_show", send_id=send.id))


def _int(value: Any) -> int:
    return parse_id(value) or 0


def _counts(session: Session, send_id: int) -> dict[str, int]:
    rows = session.exec(
        select(MassSendRecipient.status, sa.func.count()).where(MassSendRecipient.mass_send_id == send_id)
        .group_by(MassSendRecipient.status)
    ).all()
    return {status: int(n) for status, n in rows}


@bp.get("/sends/<int:send_id>")
@login_required
def send_show(send_id: int):  # noqa: ANN201
    session = get_session()
    send = _own_send(session, send_id)
    recipients = MassSendRecipient.mass_send_id == send.id
    preview = session.exec(
        select(MassSendRecipient).where(recipients, MassSendRecipient.status != "skipped")
        .order_by(col(MassSendRecipient.id)).limit(PREVIEW_COUNT)
    ).all()
    problems = session.exec(
        select(MassSendRecipient).where(recipients, col(MassSendRecipient.status).in_(("skipped", "failed")))
        .order_by(col(MassSendRecipient.id)).limit(500)
    ).all()
    account = session.get(ConnectorAccount, send.account_id) if send.account_id else None
    template = session.get(MailTemplate, send.template_id) if send.template_id else None
    return render_template("mail/send_show.html", send=send, account=account, counts=_counts(session, send.id),
                           template_name=template.name if template else "a deleted template",
                           preview=preview, problems=problems,
                           cap=current_app.config["LEADHUB"]["GMAIL_DAILY_SEND_CAP"],
                           sent_today=sent_in_last_day(session, send.account_id) if send.account_id else 0)


@bp.post("/sends/<int:send_id>/start")
@login_required
def send_start(send_id: int):  # noqa: ANN201
    session = write_session()
    send = _own_send(session, send_id)
    if send.status not in ("draft", "paused"):
        flash(f"This send is {send.status}.", "error")
        return redirect(url_for("mail.send_show", send_id=send.id))
    if not is_enabled("gmail", session):
        flash("The Gmail connector is switched off: nothing was sent.", "error")
        return redirect(url_for("mail.send_show", send_id=send.id))
    send.status, send.status_reason = "queued", ""
    session.add(send)
    session.commit()
    enqueue("send_mass_mail", send.id)
    flash("Sending started: the page shows the progress.", "ok")
    return redirect(url_for("mail.send_show", send_id=send.id))


@bp.post("/sends/<int:send_id>/cancel")
@login_required
def send_cancel(send_id: int):  # noqa: ANN201
    session = write_session()
    send = _own_send(session, send_id)
    if send.status in ("done", "cancelled"):
        abort(409)
    send.status, send.status_reason, send.finished_at = "cancelled", f"cancelled by {current_user.email}", utcnow()
    session.add(send)
    session.commit()
    flash("Cancelled: mails not yet sent stay unsent.", "ok")
    return redirect(url_for("mail.send_show", send_id=send.id))


# --------------------------------------------------------------------------- sending (background)


def sent_in_last_day(session: Session, account_id: int, now: datetime | None = None) -> int:
    """Outbound mail of this mailbox in the last 24 h, as leadhub knows it (mass sends, replies, synced sent)."""
    since = (now or utcnow()) - timedelta(days=1)
    return int(session.exec(
        select(sa.func.count()).select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.account_id == account_id, Message.direction == "out", Message.channel == "gmail",
               col(Message.sent_at) >= since)
    ).one())


def _claim(engine: sa.Engine, send_id: int) -> bool:
    """Take the send for this worker: queued/paused, or sending with a lapsed lease (a crashed worker)."""
    now = utcnow()
    with Session(engine) as session:
        result = session.exec(
            sa.update(MassSend)
            .where(MassSend.id == send_id, sa.or_(
                col(MassSend.status).in_(("queued", "paused")),
                sa.and_(MassSend.status == "sending", sa.or_(col(MassSend.lease_until).is_(None),
                                                              col(MassSend.lease_until) < now)),
            ))
            .values(status="sending", status_reason="", lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    started_at=sa.func.coalesce(MassSend.started_at, now))
        )
        session.commit()
        return result.rowcount == 1


def _record_sent(session: Session, account: ConnectorAccount, recipient: MassSendRecipient,
                 sent: dict[str, Any]) -> None:
    record = InboundRecord(
        channel="gmail",
        external_id=recipient.rfc822_id,
        contact=ContactIn(name=recipient.name or None, email=recipient.email),
        message=MessageIn(external_id=recipient.rfc822_id, thread_id=sent.get("threadId") or recipient.rfc822_id,
                          direction="out", sent_at=utcnow(), sender=account.label, subject=recipient.subject,
                          text=recipient.body,
                          meta={"gmail_id": sent.get("id"), "labels": ["SENT"], "sent_from_leadhub": True,
                                "mass_send_id": recipient.mass_send_id}),
        account_id=account.id, scope=str(account.id), owner_id=account.owner_id,
    )
    result = ingest(session, record, options=IngestOptions(actor=f"mass-send:{recipient.mass_send_id}"))
    recipient.status, recipient.sent_at, recipient.error = "sent", utcnow(), ""
    recipient.gmail_id, recipient.message_id = str(sent.get("id") or ""), result.message_id
    session.add(recipient)


def _pause(session: Session, send: MassSend, reason: str) -> None:
    send.status, send.status_reason, send.lease_until = "paused", reason, None
    session.add(send)
    session.commit()


@task("send_mass_mail", retries=2, retry_delay=60)
def send_mass_mail(send_id: int) -> dict[str, Any]:
    """Send a mass send's pending mails one by one. Stops at the daily cap (and comes back when mail ages
    out of the 24 h window), on "reconnect needed", and when the send is cancelled."""
    engine = get_engine()
    settings = current_app.config["LEADHUB"]
    if not _claim(engine, send_id):
        return {"send_id": send_id, "skipped": "not queued, or another worker is sending it"}
    done = {"sent": 0, "failed": 0}
    with Session(engine, expire_on_commit=False) as session:
        send = session.get(MassSend, send_id)
        account = session.get(ConnectorAccount, send.account_id) if send.account_id else None
        if account is None or account.status in ("disabled", "reconnect_needed") or not is_enabled("gmail", session):
            why = "the mailbox is not connected" if account is None or account.status == "disabled" else (
                "the mailbox needs reconnecting" if account.status == "reconnect_needed"
                else "the Gmail connector is switched off")
            _pause(session, send, why)
            return {"send_id": send_id, "paused": why}
        client = client_for(account, session)
        cap = int(settings["GMAIL_DAILY_SEND_CAP"])
        pending = select(MassSendRecipient.id).where(
            MassSendRecipient.mass_send_id == send_id, col(MassSendRecipient.status).in_(("pending", "sending"))
        ).order_by(col(MassSendRecipient.id))
        for recipient_id in session.exec(pending).all():
            session.refresh(send)
            if send.status == "cancelled":
                return {"send_id": send_id, **done, "cancelled": True}
            recipient = session.get(MassSendRecipient, recipient_id)
            try:
                if recipient.status == "sending":  # interrupted last time: did the mail leave?
                    found = client.find_by_message_id(recipient.rfc822_id)
                    if found:
                        _record_sent(session, account, recipient, found)
                        session.commit()
                        done["sent"] += 1
                        continue
                if sent_in_last_day(session, account.id) >= cap:
                    _pause(session, send, f"daily cap of {cap} mails for {account.label} reached; resumes by itself")
                    enqueue_in(3600, "send_mass_mail", send_id)
                    return {"send_id": send_id, **done, "paused": "daily cap"}
                recipient.status = "sending"
                send.lease_until = utcnow() + timedelta(seconds=LEASE_SECONDS)
                session.add_all([recipient, send])
                session.commit()
                message, _ = build_reply(sender=account.label, to=_address(recipient), subject=recipient.subject,
                                         text=recipient.body, message_id=recipient.rfc822_id)
                sent = client.send(encode_raw(message))
            except ReconnectNeeded as exc:
                # Whether the mail in flight left is unknown: it stays "sending" and the resume asks Gmail first.
                session.rollback()
                account.status, account.last_error = "reconnect_needed", str(exc)[:1000]
                session.add(account)
                _pause(session, send, f"the mailbox needs reconnecting: {exc}")
                return {"send_id": send_id, **done, "paused": "reconnect needed"}
            except RetriableError as exc:  # still 429 / 5xx / timeouts after the client's own retries
                session.rollback()
                _pause(session, send, f"Gmail did not accept mail for now ({exc}); resumes in 5 minutes")
                enqueue_in(RESUME_AFTER_BUSY_SECONDS * 5, "send_mass_mail", send_id)
                return {"send_id": send_id, **done, "paused": "provider busy"}
            except ConnectorError as exc:
                session.rollback()
                recipient.status, recipient.error = "failed", str(exc)[:1000]
                session.add(recipient)
                session.commit()
                done["failed"] += 1
                continue
            _record_sent(session, account, recipient, sent)
            session.commit()
            done["sent"] += 1
        send.status, send.finished_at, send.lease_until = "done", utcnow(), None
        session.add(send)
        session.commit()
    log.info("mass send %s finished: %s", send_id, done)
    return {"send_id": send_id, **done}


def _address(recipient: MassSendRecipient) -> str:
    from email.headerregistry import Address

    try:
        local, domain = recipient.email.rsplit("@", 1)
        return str(Address(display_name=recipient.name, username=local, domain=domain))
    except (ValueError, IndexError):
        return recipient.email

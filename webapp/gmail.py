"""Gmail for reps: connect (OAuth with state + PKCE), disconnect (revoke), connection page, reply in thread,
reconciliation, and the Pub/Sub push endpoint (`webhooks_bp`, POST /webhooks/gmail)."""

from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import secrets
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from sqlmodel import Session, select

from connectors.errors import ConnectorError
from connectors.gmail import GmailConnector
from connectors.gmail.client import SCOPES, GmailClient, GmailSettings
from connectors.gmail.mime import Address, mailbox_text
from connectors.gmail.send import build_reply, encode_raw
from connectors.sync import build_context
from core.ingest import IngestOptions, ingest
from core.models import (
    ConnectorAccount,
    Contact,
    Conversation,
    Identity,
    Message,
    QuarantinedItem,
    User,
    utcnow,
)
from core.schemas import ContactIn, InboundRecord, MessageIn
from core.webhooks import equal_secrets
from webapp.auth import ROLE_RANK
from webapp.db import begin_writing, get_session, get_writer_engine, write_session
from webapp.queue import enqueue
from webapp.replies import ReplyError, register_reply
from webapp.settings import connector_required, effective_settings, is_enabled, switched_off_message

log = logging.getLogger(__name__)

bp = Blueprint("gmail", __name__, url_prefix="/gmail")
webhooks_bp = Blueprint("gmail_webhooks", __name__, url_prefix="/webhooks")


DEMO_EMULATOR_PREFIX = "/_emulators/gmail"


def init_demo(app: Flask) -> None:
    """In the demo (no Google client configured) serve the Gmail emulator with a sample mailbox beside the app
    and point Gmail's settings at it, so "Connect Gmail" works offline through the real client libraries."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from connectors.gmail.emulator import Emulator
    from connectors.gmail.emulator import create_app as create_emulator
    from webapp.demo import DEMO_MAILBOX, demo_mailbox_messages

    settings = app.config["LEADHUB"]
    if settings.get("GOOGLE_CLIENT_ID") or str(settings.get("DEMO", "auto")).lower() not in {"on", "auto"}:
        return
    emulator = Emulator()
    emulator.default_mailbox, emulator.stable_refresh_tokens, emulator.count_calls = DEMO_MAILBOX, True, False
    emulator.stable_refresh_token(DEMO_MAILBOX)  # a demo restarted after "Connect Gmail" still syncs
    mailbox = emulator.mailbox(DEMO_MAILBOX)
    for raw, when in demo_mailbox_messages():
        mailbox.add(raw, internal_date=int(when.timestamp() * 1000))
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {DEMO_EMULATOR_PREFIX: create_emulator(emulator)})  # type: ignore[method-assign]
    base = str(settings["BASE_URL"]).rstrip("/") + DEMO_EMULATOR_PREFIX
    settings.update(
        GMAIL_EMULATED=True, GOOGLE_CLIENT_ID="demo-client", GOOGLE_CLIENT_SECRET="demo-secret",
        GOOGLE_AUTHORIZE_URL=f"{base}/o/oauth2/v2/auth", GOOGLE_TOKEN_URL=f"{base}/token",
        GOOGLE_REVOKE_URL=f"{base}/revoke", GMAIL_API_URL=f"{base}/",
    )
    app.extensions["leadhub.gmail_emulator"] = emulator


def _settings() -> dict[str, Any]:
    return effective_settings()


def _box() -> Any:
    return current_app.extensions["leadhub.secretbox"]


def _oauth(state: str | None = None) -> OAuth2Session:
    settings = _settings()
    return OAuth2Session(
        client_id=settings["GOOGLE_CLIENT_ID"],
        client_secret=settings["GOOGLE_CLIENT_SECRET"],
        scope=" ".join(SCOPES),
        redirect_uri=url_for("gmail.callback", _external=True),
        code_challenge_method="S256",
        state=state,
    )


def _own_account(account_id: int) -> ConnectorAccount:
    account = get_session().get(ConnectorAccount, account_id)
    if account is None or account.type != "gmail":
        abort(404)
    if account.owner_id != current_user.id and not current_user.has_role("admin"):
        abort(403)
    return account


def client_for(account: ConnectorAccount, db: Session | None = None) -> GmailClient:
    """A Gmail client for an account; refreshed tokens are saved back encrypted."""
    box = _box()
    account_id = account.id

    def save(credentials: dict[str, Any]) -> None:
        with Session(get_writer_engine()) as own:  # (it reads, then writes: IMMEDIATE on SQLite)
            row = own.get(ConnectorAccount, account_id)
            if row is not None:
                row.credentials_encrypted = box.encrypt(credentials)
                own.add(row)
                own.commit()

    credentials = box.decrypt(account.credentials_encrypted) if account.credentials_encrypted else {}
    return GmailClient(GmailSettings.from_settings(_settings()), credentials, save_credentials=save)


# --------------------------------------------------------------------------- pages


@bp.get("/")
@login_required
def index():  # noqa: ANN201
    db = get_session()
    accounts = db.exec(
        select(ConnectorAccount).where(ConnectorAccount.type == "gmail", ConnectorAccount.owner_id == current_user.id)
    ).all()
    configured = bool(_settings().get("GOOGLE_CLIENT_ID"))
    return render_template("gmail/index.html", accounts=accounts, configured=configured,
                           switched_off=None if is_enabled("gmail", db) else switched_off_message("gmail"))


@bp.get("/connect")
@login_required
@connector_required("gmail")
def connect():  # noqa: ANN201
    if not _settings().get("GOOGLE_CLIENT_ID"):
        flash("Gmail is not configured: set LEADHUB_GOOGLE_CLIENT_ID and LEADHUB_GOOGLE_CLIENT_SECRET.", "error")
        return redirect(url_for("gmail.index"))
    verifier = secrets.token_urlsafe(64)
    url, state = _oauth().create_authorization_url(
        _settings()["GOOGLE_AUTHORIZE_URL"], code_verifier=verifier, access_type="offline", prompt="consent",
        include_granted_scopes="true",
    )
    session["gmail_oauth"] = {"state": state, "verifier": verifier}
    return redirect(url)


@bp.get("/callback")
@login_required
def callback():  # noqa: ANN201
    pending = session.pop("gmail_oauth", None)
    if request.args.get("error"):
        flash(f"Google refused the connection: {request.args['error']}", "error")
        return redirect(url_for("gmail.index"))
    if not pending or not equal_secrets(request.args.get("state", ""), str(pending["state"])):
        flash("The sign-in with Google expired or was tampered with; please connect again.", "error")
        return redirect(url_for("gmail.index")), 302
    try:
        token = _oauth(state=pending["state"]).fetch_token(
            _settings()["GOOGLE_TOKEN_URL"], code=request.args.get("code", ""), code_verifier=pending["verifier"]
        )
    except Exception as exc:  # noqa: BLE001 - authlib raises several types; the rep needs one clear message
        log.warning("gmail token exchange failed: %s", exc)
        flash(f"Could not finish connecting Gmail: {exc}", "error")
        return redirect(url_for("gmail.index"))
    credentials = {"access_token": token.get("access_token"), "refresh_token": token.get("refresh_token")}
    if not credentials["refresh_token"]:
        flash("Google did not grant offline access; please connect again and allow it.", "error")
        return redirect(url_for("gmail.index"))
    try:
        profile = GmailClient(GmailSettings.from_settings(_settings()), credentials).profile()
    except ConnectorError as exc:
        flash(f"Connected, but Gmail did not answer: {exc}", "error")
        return redirect(url_for("gmail.index"))
    address = profile.get("emailAddress", "")
    db = write_session()  # Google's code is spent: the account must be stored, not refused because a sync wrote
    account = db.exec(
        select(ConnectorAccount).where(ConnectorAccount.type == "gmail", ConnectorAccount.label == address)
    ).first()
    if account is not None and account.owner_id not in (None, current_user.id):
        flash(f"{address} is already connected by another user.", "error")
        return redirect(url_for("gmail.index"))
    if account is None:
        account = ConnectorAccount(type="gmail", owner_id=current_user.id, label=address, external_id=address)
    account.credentials_encrypted = _box().encrypt(credentials)
    account.status, account.last_error = "healthy", ""
    db.add(account)
    db.commit()
    _start_watch(account)
    enqueue("sync_account", account.id)
    flash(f"Connected {address}. The first sync has started.", "ok")
    return redirect(url_for("gmail.index"))


def _start_watch(account: ConnectorAccount) -> None:
    topic = _settings().get("GMAIL_PUBSUB_TOPIC")
    if not topic:
        return
    try:
        client_for(account).watch(topic)
    except ConnectorError as exc:
        log.warning("users.watch failed for account %s: %s", account.id, exc)


@bp.post("/<int:account_id>/disconnect")
@login_required
def disconnect(account_id: int):  # noqa: ANN201
    account = _own_account(account_id)
    credentials = _box().decrypt(account.credentials_encrypted) if account.credentials_encrypted else {}
    token = credentials.get("refresh_token") or credentials.get("access_token")
    if token:
        try:
            requests.post(_settings()["GOOGLE_REVOKE_URL"], data={"token": token}, timeout=15)
        except requests.RequestException as exc:
            log.warning("revoking the Gmail token of account %s failed: %s", account.id, exc)
    db = write_session()  # after Google answered: the account's row is written under the lock, not lost to a sync
    account.credentials_encrypted = ""
    account.status = "disabled"
    account.last_error = "Disconnected by the user"
    db.add(account)
    db.commit()
    flash(f"Disconnected {account.label}; syncing stopped.", "ok")
    return redirect(url_for("gmail.index"))


@bp.post("/<int:account_id>/sync")
@login_required
def sync_now(account_id: int):  # noqa: ANN201
    account = _own_account(account_id)
    if account.status == "disabled":
        abort(409)
    enqueue("sync_account", account.id)
    flash("Sync started.", "ok")
    return redirect(url_for("gmail.index"))


@bp.post("/<int:account_id>/reconcile")
@login_required
def reconcile_now(account_id: int):  # noqa: ANN201
    account = _own_account(account_id)
    try:
        report = reconcile_account(get_session(), account)
    except ConnectorError as exc:  # still rate-limited or failing after the retries, or the grant is gone
        flash(f"Reconciliation could not finish: Gmail did not answer ({exc.kind}). Try again later.", "error")
        return redirect(url_for("gmail.index"))
    flash(f"Reconciliation: {report['checked']} in the window, {len(report['missing'])} missing.",
          "ok" if not report["missing"] else "error")
    return redirect(url_for("gmail.index"))


# --------------------------------------------------------------------------- reconciliation


def reconcile_account(db: Session, account: ConnectorAccount) -> dict[str, Any]:
    """Ids and headers only: every window message that rules say must be stored is looked up in the store.
    The report lands in the account's config["reconciliation"] (shown on the Gmail page)."""
    from webapp.tasks import connector_settings

    # The sync's own view of the account (connector-wide defaults included), so both apply the same rules.
    connector = GmailConnector(build_context(db, account, connector_settings(), _box()))
    expected: dict[str, str] = {}
    checked = 0
    for gmail_id, metadata in connector.window_message_ids():
        checked += 1
        key = connector.expected_key(metadata)
        if key:
            expected[key] = gmail_id
    stored: set[str] = set()
    keys = list(expected)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        stored |= set(db.exec(select(Message.external_id).where(Message.channel == "gmail",
                                                                Message.external_id.in_(chunk))).all())
    quarantined = {q.split(":", 1)[1] for q in db.exec(
        select(QuarantinedItem.external_id).where(QuarantinedItem.account_id == account.id)).all() if ":" in q}
    missing = [{"message_id": k, "gmail_id": g} for k, g in expected.items() if k not in stored and g not in quarantined]
    report = {"at": utcnow().isoformat(), "checked": checked, "expected": len(expected),
              "missing": missing[:200], "missing_count": len(missing)}
    begin_writing(db)  # the provider's answers are in: the report is written under the lock, on a fresh read
    db.refresh(account)
    account.config = {**(account.config or {}), "reconciliation": report}
    db.add(account)
    db.commit()
    return report


# --------------------------------------------------------------------------- reply in thread


def may_send_from(account: ConnectorAccount, user: Any) -> bool:
    """Mail leaves in the rep's name: the mailbox's owner may send from it, and so may managers and admins
    (who read every body anyway); other reps may not."""
    return account.owner_id == user.id or ROLE_RANK.get(user.role, -1) >= ROLE_RANK["manager"]


def _sendable_account(db: Session, conversation: Conversation | None, user: Any) -> ConnectorAccount:
    if not is_enabled("gmail", db):
        raise ReplyError(switched_off_message("gmail"))
    account = db.get(ConnectorAccount, conversation.account_id) if conversation and conversation.account_id else None
    if account is None or account.type != "gmail":
        raise ReplyError("no connected Gmail mailbox holds this thread")
    if account.status == "disabled":
        raise ReplyError(f"{account.label} is disconnected; connect it again to send from it")
    if account.status == "reconnect_needed":
        raise ReplyError(f"{account.label} needs reconnecting (Google refused its token)")
    if not may_send_from(account, user):
        raise ReplyError(f"only {account.label}'s owner, a manager or an admin can send from it")
    return account


def _message_to_answer(db: Session, conversation_id: int) -> Message | None:
    """The newest inbound message (so the reply goes to the lead); the newest of any direction otherwise."""
    newest = select(Message).where(Message.conversation_id == conversation_id).order_by(
        Message.sent_at.desc(), Message.id.desc()
    )
    return db.exec(newest.where(Message.direction == "in")).first() or db.exec(newest).first()


@bp.post("/messages/<int:message_id>/reply")
@login_required
def reply(message_id: int):  # noqa: ANN201
    db = get_session()
    original = db.get(Message, message_id)
    text = (request.form.get("text") or "").strip()
    if original is None or original.channel != "gmail":
        abort(404)
    back = request.referrer or url_for("gmail.index")
    if not text:
        flash("The reply is empty.", "error")
        return redirect(back)
    try:
        account = _sendable_account(db, db.get(Conversation, original.conversation_id), current_user)
        send_reply(db, account, original, text)
    except ReplyError as exc:
        flash(f"Not sent: {exc}.", "error")
        return redirect(back)
    except ConnectorError as exc:
        flash(f"Gmail did not send the reply: {exc}", "error")
        return redirect(back)
    flash("Reply sent.", "ok")
    return redirect(back)


def reply_in_conversation(db: Session, conversation: Conversation, *, text: str, user_id: int) -> None:
    """The inbox's reply box for Gmail threads: answer the newest message, in its thread, from its mailbox."""
    user = db.get(User, user_id)
    account = _sendable_account(db, conversation, user)
    original = _message_to_answer(db, conversation.id)
    if original is None:
        raise ReplyError("the thread has no message to answer")
    try:
        send_reply(db, account, original, text)
    except ConnectorError as exc:
        raise ReplyError(f"Gmail did not send the reply: {exc}") from exc


def reply_blocker(db: Session, conversation: Conversation, user: Any) -> str | None:
    try:
        _sendable_account(db, conversation, user)
    except ReplyError as exc:
        return str(exc)
    return None


register_reply("gmail", reply_in_conversation, reply_blocker)


def reply_address(sender: str) -> str:
    """The one mailbox a stored sender ('Name <address>') names, as a To header writes it. The address is the last
    angle address: messages stored before their senders were quoted hold names unquoted ('Kowalski, Jan <…>', or
    a name decoded to '"Jan" <other@x.pl>'), which read as a header are other mailboxes."""
    name, bracket, address = sender.rpartition("<")
    if not bracket:
        return sender.strip()
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = email.utils.unquote(name)
    return mailbox_text(Address(name, address.strip().rstrip(">").strip()))


def reply_recipients(db: Session, original: Message) -> str:
    """Whom a reply to `original` goes to: for mail that came in, its Reply-To (a form notification's visitor,
    kept in meta.reply_to), else its sender; for the rep's own mail, its recipients. A form notification stored
    before Reply-To was kept answers its lead's address, not the site's mailer that sent it."""
    meta = original.meta or {}
    if original.direction != "in":
        return ", ".join(meta.get("to", []))
    reply_to = [r for r in meta.get("reply_to") or [] if isinstance(r, str) and "@" in r]
    if reply_to:
        return ", ".join(reply_address(r) for r in reply_to[:5])
    if str(meta.get("inquiry_reason", "")).startswith("inquiry: form notification"):
        address = _lead_address(db, original.contact_id)
        if address:
            return address
    return reply_address(original.sender or "")


def _lead_address(db: Session, contact_id: int | None) -> str:
    """The lead's first email address (as written), or ''."""
    identity = db.exec(select(Identity).where(Identity.contact_id == contact_id, Identity.kind == "email")
                       .order_by(Identity.id)).first() if contact_id else None
    return (identity.raw_value or identity.value) if identity is not None else ""


def send_reply(db: Session, account: ConnectorAccount, original: Message, text: str) -> Message:
    """messages.send in the original's thread with In-Reply-To/References; recorded through ingest (out)."""
    contact = db.get(Contact, original.contact_id)
    meta = original.meta or {}
    conversation = db.get(Conversation, original.conversation_id)
    to = reply_recipients(db, original)
    message, message_id = build_reply(
        sender=account.label, to=to, subject=original.subject, text=text, in_reply_to=original.external_id,
        references=list(meta.get("references", [])), domain=(account.label.rsplit("@", 1)[-1] or "leadhub.local"),
    )
    thread_id = conversation.external_id if conversation else None
    sent = client_for(account).send(encode_raw(message), thread_id)
    # The mail has left: its record waits for the write lock rather than fail, which would invite a second send.
    begin_writing(db)
    # Recorded on the original's lead (a Reply-To's other address, a shared one, must not make another lead).
    address = _lead_address(db, original.contact_id) or (
        to.rsplit("<", 1)[-1].strip(">").strip() if "<" in to else to.split(",")[0].strip())
    record = InboundRecord(
        channel="gmail",
        external_id=message_id,
        contact=ContactIn(name=contact.display_name if contact else None, email=address),
        message=MessageIn(external_id=message_id, thread_id=sent.get("threadId") or thread_id, direction="out",
                          sent_at=utcnow(), sender=account.label, subject=str(message["Subject"]), text=text,
                          meta={"gmail_id": sent.get("id"), "labels": ["SENT"], "sent_from_leadhub": True,
                                "in_reply_to": original.external_id}),
        account_id=account.id, scope=str(account.id), owner_id=account.owner_id,
    )
    result = ingest(db, record, options=IngestOptions(actor=f"gmail-send:{account.id}"))
    db.commit()
    return db.get(Message, result.message_id)


# --------------------------------------------------------------------------- push (Pub/Sub)


@webhooks_bp.post("/gmail")
@connector_required("gmail", acknowledge=True)
def push():  # noqa: ANN201
    expected = str(_settings().get("GMAIL_PUSH_TOKEN") or "")
    if not expected or not equal_secrets(request.args.get("token", ""), expected):
        return {"error": "unknown or missing push token"}, 403
    envelope = request.get_json(silent=True)
    try:
        data = current_app.json.loads(base64.b64decode(envelope["message"]["data"]))
        address = str(data["emailAddress"]).lower()
    except (TypeError, KeyError, ValueError, binascii.Error):
        return {"error": "expected a Pub/Sub push envelope with message.data {emailAddress, historyId}"}, 400
    db = get_session()
    accounts = db.exec(select(ConnectorAccount).where(ConnectorAccount.type == "gmail")).all()
    queued = []
    for account in accounts:
        if account.label.lower() == address and account.status not in ("disabled", "reconnect_needed"):
            enqueue("sync_account", account.id)
            queued.append(account.id)
    # Always acknowledge (2xx) a well-formed push: Pub/Sub would otherwise redeliver it for days.
    return {"queued": queued}, 200

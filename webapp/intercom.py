"""Intercom in the web app: OAuth install, signed webhooks, the Canvas Kit inbox app, and replies.

- `bp` (/intercom, signed-in people): install over OAuth (admins), the OAuth callback, reply to a conversation.
- `hooks_bp` (called by Intercom, CSRF-exempt, authenticated by HMAC signatures instead of sessions):
  `POST /webhooks/intercom` (X-Hub-Signature: sha1 HMAC of the raw body with the client secret, checked before
  anything is parsed) and the Canvas Kit endpoints `POST /intercom/canvas/initialize|submit` (X-Body-Signature:
  hex HMAC-SHA256 of the body with the client secret).
Webhooks are acknowledged at once; the `intercom_notification` task ingests them (idempotent: a notification
delivered ten times stores its messages once).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import sqlalchemy as sa
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, Flask, abort, current_app, flash, jsonify, redirect, request, session, url_for
from flask_login import current_user, login_required
from sqlmodel import Session, col, select

from connectors.base import Quarantine, RetrySchedule
from connectors.errors import ConnectorError
from connectors.intercom.client import IntercomClient, Unconfirmed
from connectors.intercom.connector import older_parts
from connectors.intercom.mapping import CHANNEL, contact_records, conversation_records, with_redaction_marked
from core.batch import ingest_many
from core.identity import get_live_contact
from core.ingest import IngestError, IngestOptions, ingest
from core.markup import text_to_html
from core.models import (
    ConnectorAccount,
    Contact,
    Conversation,
    Identity,
    Message,
    QuarantinedItem,
    Stage,
    User,
    utcnow,
)
from core.normalize import InvalidIdentifier, normalize_email
from core.qualification import QualificationError, set_stage
from core.scoring import NON_TARGET_REASONS
from core.webhooks import equal_secrets
from webapp.auth import role_required
from webapp.db import begin_writing, get_engine, get_session, get_writer_engine, write_session
from webapp.queue import enqueue, task
from webapp.replies import ReplyError, register_reply
from webapp.settings import connector_required, effective_settings, is_enabled, switched_off_message

log = logging.getLogger(__name__)

bp = Blueprint("intercom", __name__, url_prefix="/intercom")
hooks_bp = Blueprint("intercom_hooks", __name__)

CONVERSATION_TOPICS = {
    "conversation.user.created",
    "conversation.user.replied",
    "conversation.admin.replied",
    "conversation.admin.single.created",
    "conversation.admin.closed",
    "conversation.admin.noted",
    "conversation.operator.replied",  # a bot's (Fin's, a workflow's) answer: outbound, on the lead's timeline
    "conversation_part.redacted",  # the conversation with the part a teammate redacted: its stored copy is blanked
}
CONTACT_TOPICS = {
    "contact.created",
    "contact.updated",
    "contact.user.created",
    "contact.user.updated",
    "contact.lead.created",
    "contact.lead.updated",
    "contact.lead.signed_up",
    "contact.email.updated",  # the new address becomes one more of the person's identities
    "contact.lead.added_email",  # a visitor gave the messenger an address: their chat meets their mail at once
    "contact.merged",  # a lead merged into a user: the surviving contact, naming the lead in `merged_from`
    "user.created",
}
OAUTH_STATE_KEY = "intercom_oauth_state"


DEMO_EMULATOR_PREFIX = "/_emulators/intercom"


def init_demo(app: Flask) -> None:
    """In the demo (no Intercom app configured) serve the Intercom emulator with a sample workspace beside the
    app, so an admin's "Connect an Intercom workspace" installs and back-fills offline."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from connectors.intercom.emulator import IntercomEmulator
    from webapp.demo import seed_demo_workspace

    settings = app.config["LEADHUB"]
    if settings.get("INTERCOM_CLIENT_ID") or str(settings.get("DEMO", "auto")).lower() not in {"on", "auto"}:
        return
    emulator = IntercomEmulator(client_id="demo-intercom-client", client_secret="demo-intercom-secret",
                                workspace_name="Demo workspace", stable_token="demo-intercom-token")
    seed_demo_workspace(emulator)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {DEMO_EMULATOR_PREFIX: emulator.create_app()})  # type: ignore[method-assign]
    base = str(settings["BASE_URL"]).rstrip("/") + DEMO_EMULATOR_PREFIX
    settings.update(
        INTERCOM_EMULATED=True, INTERCOM_CLIENT_ID=emulator.client_id, INTERCOM_CLIENT_SECRET=emulator.client_secret,
        INTERCOM_AUTHORIZE_URL=f"{base}/oauth", INTERCOM_TOKEN_URL=f"{base}/auth/eagle/token",
        INTERCOM_API_URL=base,
    )
    app.extensions["leadhub.intercom_emulator"] = emulator


def _settings() -> dict[str, Any]:
    return effective_settings()


def _secret() -> str:
    return str(_settings().get("INTERCOM_CLIENT_SECRET") or "")


def _box():  # noqa: ANN202
    return current_app.extensions["leadhub.secretbox"]


def _options(actor: str) -> IngestOptions:
    """Signed notifications and Intercom's own answers: a part Intercom redacted blanks its stored copy."""
    return IngestOptions(default_phone_region=_settings()["DEFAULT_PHONE_REGION"], actor=actor,
                         provider_redactions=True)


# --------------------------------------------------------------------------- OAuth install


def _oauth_client() -> OAuth2Session:
    settings = _settings()
    if not settings.get("INTERCOM_CLIENT_ID") or not _secret():
        abort(400, "Intercom is not configured: set LEADHUB_INTERCOM_CLIENT_ID and LEADHUB_INTERCOM_CLIENT_SECRET")
    return OAuth2Session(
        settings["INTERCOM_CLIENT_ID"],
        _secret(),
        # Built from LEADHUB_BASE_URL: the address registered with Intercom, whatever host the admin used.
        redirect_uri=settings["BASE_URL"].rstrip("/") + url_for("intercom.oauth_callback"),
        token_endpoint_auth_method="client_secret_post",
    )


@bp.get("/install")
@role_required("admin")
@connector_required(CHANNEL)
def install():  # noqa: ANN201
    client = _oauth_client()
    uri, state = client.create_authorization_url(_settings()["INTERCOM_AUTHORIZE_URL"])
    session[OAUTH_STATE_KEY] = state
    return redirect(uri)


@bp.get("/oauth/callback")
@role_required("admin")
def oauth_callback():  # noqa: ANN201
    expected = session.pop(OAUTH_STATE_KEY, None)
    if not expected or request.args.get("state") != expected:
        abort(400, "The Intercom sign-in expired or did not start here; install again.")
    if request.args.get("error") or not request.args.get("code"):
        abort(400, f"Intercom did not grant access: {request.args.get('error') or 'no code'}")
    client = _oauth_client()
    try:
        token = client.fetch_token(_settings()["INTERCOM_TOKEN_URL"], code=request.args["code"])
    except Exception as exc:  # noqa: BLE001 - authlib raises several types; the admin needs the reason
        log.warning("Intercom token exchange failed: %s", exc)
        abort(400, f"Intercom token exchange failed: {exc}")
    access_token = token.get("access_token") or token.get("token")
    if not access_token:
        abort(400, "Intercom returned no access token")
    try:
        me = IntercomClient(access_token, base_url=_settings()["INTERCOM_API_URL"], max_tries=3).me()
    except ConnectorError as exc:
        abort(400, f"Intercom refused the new token: {exc}")
    app_info = me.get("app") or {}
    workspace_id = str(app_info.get("id_code") or "")
    if not workspace_id:
        abort(400, "Intercom did not name the workspace")
    account = install_account(
        write_session(),  # Intercom's code is spent: the install is stored under the lock, not refused
        workspace_id=workspace_id,
        workspace_name=str(app_info.get("name") or workspace_id),
        admin=me,
        access_token=access_token,
        owner_id=current_user.id,
    )
    try:
        enqueue("sync_account", account.id)
    except Exception:  # noqa: BLE001 - the install stands; the scheduler or a manual sync will back-fill
        log.exception("could not start the first Intercom sync")
    flash(f"Intercom workspace {account.label} connected; its contacts and chats are being imported.", "ok")
    return redirect(url_for("home.index"))


def install_account(
    db: Session, *, workspace_id: str, workspace_name: str, admin: dict[str, Any], access_token: str, owner_id: int | None
) -> ConnectorAccount:
    """Create or refresh the workspace's account; the token is stored encrypted, never in clear."""
    account = db.exec(
        select(ConnectorAccount).where(ConnectorAccount.type == CHANNEL, ConnectorAccount.external_id == workspace_id)
    ).first()
    if account is None:
        account = ConnectorAccount(type=CHANNEL, external_id=workspace_id)
    account.label = workspace_name[:320]
    account.owner_id = owner_id
    account.credentials_encrypted = _box().encrypt({"access_token": access_token})
    account.config = {
        "workspace_id": workspace_id,
        "admin_id": str(admin.get("id") or ""),
        "admin_email": str(admin.get("email") or ""),
    }
    account.status = "healthy"
    account.last_error = ""
    db.add(account)
    db.commit()
    db.refresh(account)
    return account


# --------------------------------------------------------------------------- webhooks


def valid_hub_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha1="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return equal_secrets(header[len("sha1="):].strip().lower(), expected)


@hooks_bp.route("/webhooks/intercom", methods=["HEAD"])
def webhook_probe():  # noqa: ANN201
    """Intercom checks the endpoint URL with a HEAD request when an app's webhooks are saved; a 405 there made the
    Developer Hub refuse the URL. Nothing is read or stored."""
    return "", 200


@hooks_bp.post("/webhooks/intercom")
@connector_required(CHANNEL, acknowledge=True)
def webhook():  # noqa: ANN201
    body = request.get_data(cache=False)  # the raw bytes: the signature covers exactly these
    if not valid_hub_signature(_secret(), body, request.headers.get("X-Hub-Signature")):
        return jsonify({"error": "invalid or missing X-Hub-Signature"}), 401
    try:
        notification = current_app.json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return jsonify({"error": "the body is not JSON"}), 400
    if not isinstance(notification, dict):
        return jsonify({"error": "the body is not a JSON object"}), 400
    topic = str(notification.get("topic") or "")
    if topic == "ping":
        return jsonify({"ok": True, "topic": "ping"})
    if topic not in CONVERSATION_TOPICS and topic not in CONTACT_TOPICS:
        return jsonify({"ok": True, "ignored": topic})
    item = (notification.get("data") or {}).get("item") if isinstance(notification.get("data"), dict) else None
    if not isinstance(item, dict):
        return jsonify({"error": "data.item is missing"}), 400
    enqueue(
        "intercom_notification",
        {"id": notification.get("id"), "topic": topic, "app_id": notification.get("app_id"), "item": item},
    )
    return jsonify({"ok": True, "queued": topic})


# The notification was acknowledged, so it must not be dropped: a busy or restarting database gets ten tries
# a minute apart (ingest is idempotent, so a retry after a partial failure stores nothing twice).
@task("intercom_notification", retries=10, retry_delay=60)
def ingest_notification(notification: dict[str, Any]) -> dict[str, Any]:
    """Ingest one webhook's item (a conversation with its parts, or a contact). Idempotent."""
    workspace = str(notification.get("app_id") or "")
    item = notification.get("item") or {}
    if not _workspace_connected(workspace):
        # The app's webhooks come from every workspace that installed it, connected here or not (or disconnected
        # since). Acknowledged (Intercom retries anything else) but not stored: no account owns those leads.
        # (quoted and cut: a signed body may carry any text there, of any length, line breaks included)
        log.warning("Intercom notification %.100r (%.100r) from workspace %.100r, which no connected account holds: "
                    "acknowledged, not stored", str(notification.get("id")), str(notification.get("topic")),
                    workspace or "?")
        return {"ignored": f"workspace {workspace or '?'} is not connected"[:300]}
    quarantined = None
    if notification.get("topic") not in CONTACT_TOPICS:
        quarantined, item = _whole_if_quarantined(workspace, item)  # before the write lock: it may call Intercom
    # The writer engine begins IMMEDIATE on SQLite: this transaction reads, then writes, while other workers
    # write too; begun deferred it failed at once with "database is locked" (96 of 3,328 notifications under
    # a 10 s load were dropped after their retries; BENCHMARKS.md, Scale-out).
    with Session(get_writer_engine(), expire_on_commit=False) as db:
        account = db.exec(
            select(ConnectorAccount).where(ConnectorAccount.type == CHANNEL, ConnectorAccount.external_id == workspace)
        ).first()
        try:
            if notification.get("topic") in CONTACT_TOPICS:
                records: list[Any] = contact_records(item, workspace,
                                                     phone_region=_settings()["DEFAULT_PHONE_REGION"])
            else:
                if notification.get("topic") == "conversation_part.redacted" and quarantined is None:
                    item = with_redaction_marked(item)  # (API 1.x flags nothing; a whole fetched one is 2.16's)
                records = conversation_records(item, workspace)
        except Exception as exc:  # noqa: BLE001 - a notification the mapping cannot read is skipped, not retried forever
            log.warning("Intercom notification %s skipped: %s: %s", notification.get("id"), type(exc).__name__, exc)
            return {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
        created = 0
        wanted = []
        for record in records:
            if isinstance(record, Quarantine):
                log.warning("Intercom notification %s: %s", notification.get("id"), record.reason)
                continue
            if account is not None:
                record.account_id, record.owner_id = account.id, account.owner_id
            wanted.append(record)
        # One batch, as a sync stores its pages: the conversation's parts are qualified together, not one by one.
        results = ingest_many(db, wanted, options=_options(f"webhook:{notification.get('topic')}"))
        for record, result in zip(wanted, results, strict=True):
            if isinstance(result, IngestError):
                log.warning("Intercom notification %s: a record was not stored: %s", notification.get("id"), result)
                continue
            created += result.status == "created" and record.message is not None
        if account is not None and created:
            account.messages_synced += created
            db.add(account)
        if quarantined is not None and not any(isinstance(r, IngestError) for r in results):
            db.execute(sa.delete(QuarantinedItem).where(QuarantinedItem.id == quarantined))
            if account is not None:
                conversation_id = str(item.get("id"))[:200]
                _forget_retry(db, account.id, conversation_id)
                # As the sync's retry would have: a conversation longer than Intercom serves lists its older parts.
                for gap in older_parts(item, conversation_id):
                    if db.exec(sa.select(QuarantinedItem.id).where(
                            QuarantinedItem.channel == CHANNEL, QuarantinedItem.external_id == gap.external_id)).first() is None:
                        db.add(QuarantinedItem(account_id=account.id, channel=CHANNEL, external_id=gap.external_id,
                                               reason=gap.reason))
        db.commit()
    return {"records": len(records), "created": created}


def _forget_retry(db: Session, account_id: int | None, conversation_id: str) -> None:
    """Take a conversation this notification stored whole off the sync's retry list (the cursor's `retry`, and
    `quarantined` of older cursors), or the sync fetches it once more for nothing.

    The cursor is the sync's: a running sync commits the state it holds at each checkpoint, so a change made
    under it would be overwritten, and a state read before one of its commits and written after would undo that
    commit. So the cursor changes only while no sync holds the account's lease, read and written in this
    transaction with the account's row locked: a sync that starts meanwhile takes its lease (an update of that
    row) after this commits, and reads the cursor then. While a sync runs, the entry stays: at worst it reads
    the conversation once more, which stores nothing twice."""
    lease_free = sa.or_(ConnectorAccount.lease_owner == "", col(ConnectorAccount.lease_until).is_(None),
                        col(ConnectorAccount.lease_until) < utcnow())
    row = db.execute(sa.select(ConnectorAccount.sync_state).where(ConnectorAccount.id == account_id, lease_free)
                     .with_for_update()).first()
    if row is None:
        log.info("Intercom conversation %s stored whole while a sync holds the account: its retry entry stays",
                 conversation_id)
        return
    state = dict(row.sync_state or {})
    changed = False
    for key in (RetrySchedule.KEY, "quarantined"):
        entries = state.get(key)
        if isinstance(entries, dict) and conversation_id in entries:
            state[key] = {k: v for k, v in entries.items() if k != conversation_id}
            changed = True
    if changed:
        db.execute(sa.update(ConnectorAccount).where(ConnectorAccount.id == account_id).values(sync_state=state))


def _workspace_connected(workspace: str) -> bool:
    if not workspace:
        return False
    with Session(get_engine()) as db:
        return db.exec(sa.select(ConnectorAccount.id).where(
            ConnectorAccount.type == CHANNEL, ConnectorAccount.external_id == workspace)).first() is not None


def _whole_if_quarantined(workspace: str, item: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """A notification about a conversation the sync quarantined (Intercom kept answering it with a server error)
    carries only its newest parts; the others were never stored. Fetch it whole once more: served, all of it is
    stored now and its quarantine row (the id returned) goes; the sync's own later retry finds it stored. Not
    served, the notification's own parts are stored as always."""
    conversation_id = item.get("id")
    if not workspace or not isinstance(conversation_id, (str, int)) or isinstance(conversation_id, bool):
        return None, item
    with Session(get_engine()) as db:
        account = db.exec(
            select(ConnectorAccount).where(ConnectorAccount.type == CHANNEL, ConnectorAccount.external_id == workspace)
        ).first()
        row = db.exec(sa.select(QuarantinedItem.id).where(
            QuarantinedItem.channel == CHANNEL, QuarantinedItem.external_id == f"conversation:{conversation_id}"
        )).scalars().first() if account is not None else None
    if row is None or account is None or not account.credentials_encrypted:
        return None, item
    token = _box().decrypt(account.credentials_encrypted).get("access_token")
    if not token:
        return None, item
    try:
        whole = IntercomClient(token, base_url=_settings()["INTERCOM_API_URL"], max_tries=2).conversation(
            str(conversation_id))
    except ConnectorError as exc:
        log.info("quarantined Intercom conversation %s still not served: %s", conversation_id, exc)
        return None, item
    return (row, whole) if isinstance(whole, dict) else (None, item)


# --------------------------------------------------------------------------- Canvas Kit inbox app


def valid_body_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return equal_secrets(header.strip().lower(), expected)


def _canvas_request() -> dict[str, Any]:
    body = request.get_data(cache=True)
    if not valid_body_signature(_secret(), body, request.headers.get("X-Body-Signature")):
        abort(401, "invalid or missing X-Body-Signature")
    try:
        data = current_app.json.loads(body)
    except (ValueError, UnicodeDecodeError):
        abort(400, "the body is not JSON")
    if not isinstance(data, dict):
        abort(400, "the body is not a JSON object")
    return data


def _canvas_person(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The conversation's customer: (Intercom contact id, email) from the request's customer/contact/user, or the
    conversation's first contact. A value of another JSON type than the schema's counts as absent."""
    def person_id(person: object) -> str | None:
        if not isinstance(person, dict):
            return None
        value = person.get("id")
        return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None

    for key in ("customer", "contact", "user"):
        person = data.get(key)
        if (found := person_id(person)) is not None:
            email = person.get("email")  # type: ignore[union-attr]  # (a dict: person_id said so)
            return found, email if isinstance(email, str) and email else None
    conversation = data.get("conversation")
    contacts = conversation.get("contacts") if isinstance(conversation, dict) else None
    listed = contacts.get("contacts") if isinstance(contacts, dict) else None
    return (person_id(listed[0]) if isinstance(listed, list) and listed else None), None


def find_lead(db: Session, intercom_id: str | None, email: str | None) -> Contact | None:
    keys: list[tuple[str, str]] = []
    if intercom_id:
        keys.append((CHANNEL, intercom_id))
    if email:
        try:
            keys.append(("email", normalize_email(email).value))
        except InvalidIdentifier:
            pass
    for kind, value in keys:
        row = db.exec(select(Identity).where(Identity.kind == kind, Identity.value == value)).first()
        if row is not None:
            return get_live_contact(db, row.contact_id)
    return None


# Canvas Kit's text renders Markdown links ("[label](url)") and bold ("**"): what a lead typed is shown with
# look-alikes of those characters, so a name such as "[Verify your account](https://…)" is no link in the inbox.
_MARKDOWN_LOOKALIKES = str.maketrans({"[": "\uff3b", "]": "\uff3d", "*": "\u2217"})


def _shown(value: str) -> str:
    return value.translate(_MARKDOWN_LOOKALIKES)


def lead_canvas(db: Session, contact: Contact | None, *, notice: str = "") -> dict[str, Any]:
    if contact is None:
        components: list[dict[str, Any]] = [
            {"type": "text", "text": "*Not in leadhub yet*", "style": "header"},
            {"type": "text", "text": "This person has no lead in leadhub; the next sync or webhook adds them."},
        ]
        return {"canvas": {"content": {"components": components}}}
    from core.contacts import summarize_contacts

    summary = summarize_contacts(db, [contact])[0]
    owner = db.get(User, contact.owner_id) if contact.owner_id else None
    touches = db.exec(
        select(Message)
        .where(Message.contact_id == contact.id, Message.channel != CHANNEL)
        .order_by(col(Message.sent_at).desc().nulls_last(), col(Message.id).desc())
        .limit(5)
    ).all()
    link = _settings()["BASE_URL"].rstrip("/") + f"/contacts/{contact.id}"
    components = [
        {"type": "text", "text": f"*{_shown(contact.display_name or 'Unnamed lead')}*"
                                 + (f" · {_shown(contact.company)}" if contact.company else ""), "style": "header"},
        {"type": "text", "text": f"Stage: *{contact.stage}* · Temperature: *{contact.temperature}* · "
                                 f"Score: *{contact.score}*"},
        {"type": "text", "text": f"Owner: {_shown(owner.name or owner.email) if owner else 'unassigned'}"},
        {"type": "text", "text": "Channels: " + (_shown(", ".join(summary["channels"])) or "none")},
    ]
    if touches:
        components.append({"type": "text", "text": "*Latest touches from other channels*"})
        components.append(
            {
                "type": "list",
                "items": [
                    {
                        "type": "item",
                        "id": f"message-{m.id}",
                        "title": _shown((m.subject or m.text or "(no text)")[:80]),
                        "subtitle": _shown(f"{m.channel} · {'in' if m.direction == 'in' else 'out'} · "
                                           f"{m.sent_at:%Y-%m-%d}" if m.sent_at else f"{m.channel}"),
                    }
                    for m in touches
                ],
            }
        )
    else:
        components.append({"type": "text", "text": "No touches from other channels yet."})
    components += [
        {
            "type": "dropdown",
            "id": "stage",
            "label": "Stage",
            "value": contact.stage,
            "options": [{"type": "option", "id": stage.value, "text": stage.value} for stage in Stage],
        },
        {
            "type": "dropdown",
            "id": "reason",
            "label": "Reason (for non-target)",
            "options": [{"type": "option", "id": reason, "text": reason.replace("_", " ")}
                        for reason in NON_TARGET_REASONS],
        },
        {"type": "button", "id": "save_stage", "label": "Save stage", "style": "primary", "action": {"type": "submit"}},
        {"type": "button", "id": "open_lead", "label": "Open in leadhub", "style": "secondary",
         "action": {"type": "url", "url": link}},
    ]
    if notice:
        components.append({"type": "text", "text": notice, "style": "muted"})
    return {"canvas": {"content": {"components": components}, "stored_data": {"contact_id": contact.id}}}


@hooks_bp.post("/intercom/canvas/initialize")
def canvas_initialize():  # noqa: ANN201
    data = _canvas_request()
    db = get_session()
    return jsonify(lead_canvas(db, find_lead(db, *_canvas_person(data))))


@hooks_bp.post("/intercom/canvas/submit")
def canvas_submit():  # noqa: ANN201
    data = _canvas_request()
    db = get_session()
    contact = find_lead(db, *_canvas_person(data))
    notice = ""
    if contact is not None and data.get("component_id") == "save_stage":
        values = data.get("input_values") if isinstance(data.get("input_values"), dict) else {}
        stage = values.get("stage")
        if isinstance(stage, str) and stage in {s.value for s in Stage}:
            # As on the lead page: recorded with who and when, milestones and the stage.changed event.
            reason = values.get("reason") if stage == Stage.non_target.value else None
            admin = data.get("admin") if isinstance(data.get("admin"), dict) else {}
            db = write_session()
            try:
                set_stage(db, contact.id, stage=stage, reason=reason if isinstance(reason, str) else None,
                          actor=f"intercom-admin:{str(admin.get('id') or 'unknown')[:100]}")
            except QualificationError as exc:
                db.rollback()
                notice = "; ".join(f"{k}: {v}" for k, v in exc.fields.items() if v != "unchanged") or str(exc)
            else:
                db.commit()
                notice = f"Stage saved: {stage}"
        else:
            notice = "Choose a stage first."
    return jsonify(lead_canvas(db, contact, notice=notice))


# --------------------------------------------------------------------------- reply


def _account_for(db: Session, conversation_id: str, account_id: int | None) -> ConnectorAccount:
    query = select(ConnectorAccount).where(ConnectorAccount.type == CHANNEL)
    if account_id is not None:
        account = db.exec(query.where(ConnectorAccount.id == account_id)).first()
        if account is None:
            raise ReplyError(f"no Intercom account {account_id}")
        return account
    scope = db.exec(
        sa.select(Conversation.scope).where(Conversation.channel == CHANNEL, Conversation.external_id == conversation_id)
    ).scalars().first()
    if scope:
        account = db.exec(query.where(ConnectorAccount.external_id == scope)).first()
        if account is not None:
            return account
    accounts = db.exec(query).all()
    if not accounts:
        raise ReplyError("no Intercom workspace is connected (an admin connects one under Settings, Connectors)")
    if len(accounts) > 1:
        raise ReplyError("several Intercom workspaces are connected and this chat names none of them: "
                         "say which with account_id")
    return accounts[0]


def reply_to_conversation(
    db: Session, *, conversation_id: str, body: str, account_id: int | None = None, actor: str = "reply"
) -> dict[str, Any]:
    """Reply as the connected admin and record the reply on the lead's timeline (direction out)."""
    account = _account_for(db, conversation_id, account_id)
    token = _box().decrypt(account.credentials_encrypted).get("access_token") if account.credentials_encrypted else None
    if not token:
        raise ReplyError("the Intercom account has no token: install the app again")
    client = IntercomClient(token, base_url=_settings()["INTERCOM_API_URL"], max_tries=3)
    admin_id = (account.config or {}).get("admin_id") or str(client.me().get("id") or "")
    conversation = client.reply_as_admin(conversation_id, admin_id=admin_id, body=body)
    # The reply has left: its record waits for the write lock rather than fail, which would invite a second send.
    begin_writing(db)
    workspace = (account.config or {}).get("workspace_id") or account.external_id
    # Intercom took the reply: an answer we cannot read (not a conversation, parts that are no objects) records
    # nothing, and the next sync brings the reply. Raised, it was a 500 after the send, and the rep sent again.
    conversation = conversation if isinstance(conversation, dict) else {}
    part_list = conversation.get("conversation_parts")
    parts = part_list.get("conversation_parts") if isinstance(part_list, dict) else None
    last = parts[-1] if isinstance(parts, list) and parts and isinstance(parts[-1], dict) else {}
    last_id = last.get("id")
    reply_external_id = (f"{conversation_id}:{last_id.strip()[:200]}"
                         if isinstance(last_id, str) and last_id.strip() else None)
    stored: dict[str, Any] = {"conversation_id": conversation_id, "external_id": reply_external_id}
    for record in conversation_records(conversation, workspace) if conversation else []:
        if isinstance(record, Quarantine):
            # The reply has left: saying it failed would invite the rep to send it again. There is no lead to
            # put it on (no customer in the conversation), so it is not recorded.
            log.warning("Intercom reply to %s sent but not recorded: %s", conversation_id, record.reason)
            continue
        record.account_id, record.owner_id = account.id, account.owner_id
        result = ingest(db, record, options=_options(actor))
        if record.message is not None and record.message.external_id == reply_external_id:
            stored.update(message_id=result.message_id, contact_id=result.contact_id)
    db.commit()
    return stored


def unconfirmed_message(exc: Unconfirmed) -> str:
    return ("Intercom did not confirm the reply; it may have been sent. Check the conversation in Intercom before "
            f"sending it again (the next sync brings it here if it was sent). {exc}")[:1000]


def reply_in_conversation(db: Session, conversation: Conversation, *, text: str, user_id: int) -> None:
    """The inbox's reply box for Intercom chats: plain text, sent as the workspace's admin."""
    if not is_enabled(CHANNEL, db):
        raise ReplyError(switched_off_message(CHANNEL))
    body = text_to_html(text)
    try:
        reply_to_conversation(db, conversation_id=conversation.external_id, body=body,
                              account_id=conversation.account_id, actor=f"reply:{user_id}")
    except Unconfirmed as exc:
        raise ReplyError(unconfirmed_message(exc)) from exc
    except ConnectorError as exc:
        raise ReplyError(f"Intercom refused the reply: {exc}") from exc


def reply_blocker(db: Session, conversation: Conversation, _user: Any) -> str | None:
    if not is_enabled(CHANNEL, db):
        return switched_off_message(CHANNEL)
    if conversation.account_id is None and not conversation.scope:
        # Stored from the API or a file, not synced: no workspace is known to hold it (a guess would be refused).
        return "this chat did not come through a connected Intercom workspace"
    try:
        account = _account_for(db, conversation.external_id, conversation.account_id)
    except ReplyError as exc:
        return str(exc)
    return None if account.credentials_encrypted else "the Intercom workspace has no token: install the app again"


register_reply(CHANNEL, reply_in_conversation, reply_blocker)


@bp.post("/conversations/<conversation_id>/reply")
@login_required
def reply(conversation_id: str):  # noqa: ANN201
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) or hasattr(data, "get") else {}
    text = str(data.get("body") or "").strip()
    if not conversation_id.isdigit():
        return jsonify({"error": "conversation id must be Intercom's numeric id"}), 400
    if not text:
        return jsonify({"error": "body is required"}), 400
    raw_account = data.get("account_id")
    try:
        account_id = int(raw_account) if raw_account not in (None, "") else None
    except (TypeError, ValueError):
        return jsonify({"error": "account_id must be a number"}), 400
    try:
        stored = reply_to_conversation(
            get_session(), conversation_id=conversation_id, body=text, account_id=account_id,
            actor=f"reply:{current_user.id}",
        )
    except ReplyError as exc:
        return jsonify({"error": str(exc)}), 400
    except Unconfirmed as exc:
        return jsonify({"error": unconfirmed_message(exc)}), 502
    except ConnectorError as exc:
        return jsonify({"error": f"Intercom refused the reply: {exc}"}), 502
    if request.is_json:
        return jsonify(stored), 201
    flash("Reply sent to Intercom.", "ok")
    return redirect(request.referrer or url_for("home.index"))

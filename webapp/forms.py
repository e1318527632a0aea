"""Website forms: the public endpoints websites post to (/f/<key>) and the admin builder (/admin/forms).

Public side: CSRF does not apply (other sites post here by design); the honeypot, the signed render timestamp,
the origin allowlist and per-IP / per-form rate limits replace it. Every rejection is counted per form and
reason (FormSpamEvent) so admins see spam instead of losing it silently. A submission is COMMITTED to the
intake queue (core.intake, one INSERT) before the response says it was received; a worker then files it
through core.ingest in batches (forms.file_submissions, within moments; a minute sweep catches anything
missed) and queues its mail (double opt-in, autoresponder), so the POST stays fast.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user
from huey import crontab
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from connectors.forms.spam import (
    SpamRejected,
    check_honeypot,
    check_render_token,
    ip_hash,
    make_render_token,
)
from connectors.forms.validation import (
    CONSENT_FIELD,
    DEFAULT_FIELDS,
    FIELD_KINDS,
    FORM_TYPES,
    MAPS_TO,
    SPAM_FIELD,
    TOKEN_FIELD,
    UTM_FIELDS,
    FormDefinitionError,
    Submission,
    contact_in,
    legacy_encoded_fields,
    legacy_multipart_fields,
    parse_fields,
    submission_external_id,
    text_plain_fields,
    validate_submission,
    without_lone_surrogates,
)
from core.db import write_turn
from core.ingest import IngestOptions
from core.intake import FILE_BATCH_SIZE, Filed, accept, file_pending
from core.models import Form, FormSpamEvent, Message, PendingInbound, User, utcnow
from core.normalize import ascii_host
from core.schemas import InboundRecord, MessageIn
from webapp.auth import csrf, role_required
from webapp.db import get_engine, get_session, parse_id, write_session
from webapp.queue import enqueue, enqueue_in, get_huey, task
from webapp.security import PAGE_CSP
from webapp.settings import SETTINGS_CACHE_SECONDS, connector_required

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/forms")
public_bp = Blueprint("forms_public", __name__, url_prefix="/f")
limiter = Limiter(key_func=get_remote_address, strategy="moving-window")

CONFIRM_SALT = "leadhub.forms.confirm"
CONFIRM_MAX_AGE = 30 * 24 * 3600
PREFLIGHT_HEADERS = "Content-Type, Idempotency-Key"
WAITING_WARN_AFTER = timedelta(minutes=3)
FORM_CACHE_SIZE = 1000


def init_app(app: Flask) -> None:
    settings = app.config["LEADHUB"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings["RATELIMIT_STORAGE_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "leadhub-forms")
    limiter.init_app(app)
    csrf.exempt(public_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(bp)


def _settings() -> dict[str, Any]:
    return current_app.config["LEADHUB"]


# --------------------------------------------------------------------------- origins and CORS


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL, the host in the ASCII form browsers send in Origin (punycode:
    "https://магазин.рф" is "https://xn--80aairftm.xn--p1ai"), or "" for anything else (a port out of range, an
    unclosed IPv6 bracket, a host no IDNA encoding takes)."""
    try:
        parts = urlsplit(url.strip())
        # (a default port is not written: browsers leave it out of Origin)
        port = f":{parts.port}" if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme) else ""
        host = ascii_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        return ""
    if parts.scheme not in ("http", "https") or not host:
        return ""
    return f"{parts.scheme}://{host}{port}"


def own_origins() -> set[str]:
    return {o for o in (_origin_of(_settings()["BASE_URL"]), _origin_of(request.host_url)) if o}


def origin_allowed(form: Form, origin: str | None) -> bool:
    """No Origin header (a server, curl, an old browser) is allowed; the other spam checks still apply."""
    if not origin:
        return True
    normalised = _origin_of(origin)
    allowed = {_origin_of(o) for o in form.allowed_origins or []} | own_origins()
    return "*" in (form.allowed_origins or []) or (bool(normalised) and normalised in allowed)


def _cors(response: Response, form: Form | None) -> Response:
    origin = request.headers.get("Origin")
    if form is not None and origin and origin_allowed(form, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    response.vary.add("Origin")
    return response


def _load_form(form_key: str) -> Form:
    """The form behind a public URL, through a short per-process cache like the admin's settings (an edit made
    in this process shows at once, one made in another within SETTINGS_CACHE_SECONDS). Only forms that exist
    are cached, so random keys cannot fill it."""
    cache: dict[str, tuple[float, Form]] = current_app.extensions.setdefault("leadhub.forms.cache", {})
    now = time.monotonic()
    hit = cache.get(form_key)
    if hit is not None and now - hit[0] < SETTINGS_CACHE_SECONDS:
        form = hit[1]
    else:
        session = get_session()
        form = session.exec(select(Form).where(Form.key == form_key)).first()
        if form is not None:
            session.expunge(form)  # a read-only snapshot, shared by this process's request threads
            if len(cache) >= FORM_CACHE_SIZE:
                cache.clear()
            cache[form_key] = (now, form)
    if form is None or not form.active:
        abort(404, "no such form")
    return form


def forget_cached_forms() -> None:
    current_app.extensions.get("leadhub.forms.cache", {}).clear()


# --------------------------------------------------------------------------- spam bookkeeping


def _client_ip() -> str:
    return get_remote_address() or ""


def record_spam(form_id: int, reason: str, detail: str = "") -> None:
    """Count a rejection in its own short transaction (the request's session may be mid-work)."""
    event = FormSpamEvent(
        form_id=form_id,
        reason=reason,
        detail=detail[:500],
        ip_hash=ip_hash(current_app.config["SECRET_KEY"], _client_ip()),
    )
    with Session(get_engine()) as session:
        session.add(event)
        session.commit()


def _rate_limit(setting: str) -> str:
    # flask-limiter parses the value before asking exempt_when, so "off" still needs a parseable limit.
    return "1000000/second" if _limit_off(setting) else str(_settings()[setting])


def _limit_off(setting: str) -> bool:
    return str(_settings().get(setting) or "").strip().lower() in ("", "off", "0")


def _form_key_scope() -> str:
    return "form:" + str((request.view_args or {}).get("form_key", ""))


def _on_rate_limited(limit: RequestLimit) -> Response:
    form_key = (request.view_args or {}).get("form_key", "")
    form = get_session().exec(select(Form).where(Form.key == form_key)).first()
    if form is not None:
        record_spam(form.id, "rate_limit", f"{limit.limit} ({'form' if limit.key.endswith(form_key) else 'ip'})")
    message = "Too many submissions; please wait a moment and try again."
    if _wants_json_reply():
        response = jsonify({"error": message, "status": 429})
    else:
        response = make_response(render_template("forms/message.html", title="Slow down", message=message))
    response.status_code = 429
    response.headers["Retry-After"] = str(max(1, int(limit.reset_at - datetime.now(UTC).timestamp())))
    return _cors(response, form)


# --------------------------------------------------------------------------- public endpoints


def _wants_json_reply() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@public_bp.before_request
def _body_limit() -> None:
    # Forms are small: a lower ceiling than the API's, applied before the body is read.
    request.max_content_length = int(_settings()["FORMS_MAX_BODY_BYTES"])


@public_bp.errorhandler(413)
def _too_large(_exc: Exception):  # noqa: ANN202
    limit = int(_settings()["FORMS_MAX_BODY_BYTES"])
    message = f"The submission is larger than {limit} bytes."
    if _wants_json_reply():
        return jsonify({"error": message, "status": 413}), 413
    return render_template("forms/message.html", title="Too large", message=message), 413


def _render_token(form: Form) -> tuple[str, str]:
    return make_render_token(current_app.config["SECRET_KEY"], form.key)


def _page_policy(form: Form) -> str:
    """leadhub's page policy, with the form's thank-you page allowed as a form-action: browsers apply form-action to
    the redirect that follows the post as well (Chrome refuses it), and the person would see an error page."""
    thanks = _origin_of(_safe_thank_you(form.thank_you_url))
    if not _CSP_SOURCE.fullmatch(thanks):  # (a host urlsplit lets through, "a; script-src *", is no source)
        return PAGE_CSP
    return PAGE_CSP.replace("form-action 'self'", f"form-action 'self' {thanks}")


_CSP_SOURCE = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]+)?")


def _page(form: Form, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
          notice: str = "", status: int = 200, token: str | None = None) -> Response:
    """The hosted form; shown again (values, errors) with the token it was sent with when that one is good, so the
    time the person already spent counts and a quick correction is not taken for a bot."""
    token = token or _render_token(form)[0]
    context = {key: request.args.get(key, "") for key in UTM_FIELDS if request.args.get(key)}
    values = dict(values or {})
    response = make_response(
        render_template(
            "forms/public.html",
            form=form,
            token=token,
            values=values,
            errors=errors or {},
            notice=notice,
            utm=context,
            page_url=values.get("_page") or request.url,
            referrer=values.get("_referrer") or request.referrer or "",
            spam_field=SPAM_FIELD,
            token_field=TOKEN_FIELD,
            consent_field=CONSENT_FIELD,
        ),
        status,
    )
    response.headers["Content-Security-Policy"] = _page_policy(form)
    return response


@public_bp.get("/<form_key>", provide_automatic_options=False)
@connector_required("form", status=404)
def show(form_key: str):  # noqa: ANN201
    form = _load_form(form_key)
    response = _page(form)
    response.headers["Cache-Control"] = "no-store"  # the render token must be fresh
    return response


@public_bp.get("/<form_key>/token", provide_automatic_options=False)
@connector_required("form", status=404)
def token(form_key: str):  # noqa: ANN201
    """What the script embed needs before it posts: a fresh render token and the form's fields."""
    form = _load_form(form_key)
    if not origin_allowed(form, request.headers.get("Origin")):
        record_spam(form.id, "origin", str(request.headers.get("Origin"))[:200])
        return _cors(make_response(jsonify({"error": "origin not allowed", "status": 403}), 403), None)
    signed, submission_id = _render_token(form)
    response = jsonify(
        {
            "token": signed,
            "submission_id": submission_id,
            "fields": form.fields,
            "consent_text": form.consent_text,
            "min_seconds": float(_settings()["FORMS_MIN_SUBMIT_SECONDS"]),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return _cors(response, form)


@public_bp.route("/<form_key>", methods=["OPTIONS"], provide_automatic_options=False)
@public_bp.route("/<form_key>/token", methods=["OPTIONS"], provide_automatic_options=False)
def preflight(form_key: str):  # noqa: ANN201
    form = _load_form(form_key)
    origin = request.headers.get("Origin")
    if not origin or not origin_allowed(form, origin):
        return Response(status=403)
    response = Response(status=204)
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response


def _posted_data() -> dict[str, Any] | None:
    if request.is_json:
        data = request.get_json(silent=True)
        return without_lone_surrogates(data) if isinstance(data, dict) else None
    if request.mimetype == "application/x-www-form-urlencoded":
        # (werkzeug reads UTF-8 only, and keeps any other escape as it came: "Zieli%F1ski")
        legacy = legacy_encoded_fields(request.get_data(cache=True), request.mimetype_params.get("charset"))
        if legacy is not None:
            return legacy
    if request.mimetype == "text/plain":
        return text_plain_fields(request.get_data(cache=True), request.mimetype_params.get("charset"))
    if request.mimetype == "multipart/form-data":
        legacy = legacy_multipart_fields(request.get_data(cache=True), request.mimetype_params.get("boundary"),
                                         request.mimetype_params.get("charset"))
        if legacy is not None:
            return legacy
    return {key: values[0] if len(values) == 1 else values for key, values in request.form.lists()}


def _reject(form: Form, exc: SpamRejected, data: dict[str, Any]):  # noqa: ANN202
    record_spam(form.id, exc.reason, exc.detail)
    token_problem = exc.reason in ("missing_token", "expired_token", "bad_token", "too_fast")
    if _wants_json_reply():
        body: dict[str, Any] = {"error": "submission rejected", "status": 400}
        if token_problem:
            # A person's browser can recover from these: fetch a new token and send again.
            body["fields"] = {TOKEN_FIELD: "reload the form and send again"}
        return _cors(make_response(jsonify(body), 400), form)
    if token_problem:
        # A person (e.g. a plain HTML embed, a tab left open) gets the form back, filled, with a fresh token.
        # Sent too soon, the token is still good (and soon old enough); the others need a new one.
        return _page(
            form, values=data, notice="Please check your details and press Send again.", status=400,
            token=data.get(TOKEN_FIELD) if exc.reason == "too_fast" else None,
        )
    return render_template(
        "forms/message.html",
        title="Not accepted",
        message="Your submission could not be accepted. If you are a person, please try again in a minute.",
    ), 400


@public_bp.post("/<form_key>", provide_automatic_options=False)
@connector_required("form", status=404)
@limiter.limit(
    lambda: _rate_limit("FORMS_RATE_LIMIT_PER_IP"),
    exempt_when=lambda: _limit_off("FORMS_RATE_LIMIT_PER_IP"),
    on_breach=_on_rate_limited,
)
@limiter.limit(
    lambda: _rate_limit("FORMS_RATE_LIMIT_PER_FORM"),
    key_func=_form_key_scope,
    exempt_when=lambda: _limit_off("FORMS_RATE_LIMIT_PER_FORM"),
    on_breach=_on_rate_limited,
)
def submit(form_key: str):  # noqa: ANN201
    form = _load_form(form_key)
    settings = _settings()
    json_reply = _wants_json_reply()
    origin = request.headers.get("Origin")
    if not origin_allowed(form, origin):
        record_spam(form.id, "origin", str(origin)[:200])
        return _cors(make_response(jsonify({"error": "origin not allowed", "status": 403}), 403), None)

    data = _posted_data()
    if data is None:
        return _cors(make_response(jsonify({"error": "send a JSON object or a form-encoded body", "status": 400}),
                                   400), form)
    try:
        check_honeypot(data.get(SPAM_FIELD))
        rendered = check_render_token(
            current_app.config["SECRET_KEY"],
            form.key,
            data.get(TOKEN_FIELD) if isinstance(data.get(TOKEN_FIELD), str) else None,
            min_seconds=float(settings["FORMS_MIN_SUBMIT_SECONDS"]),
            max_age=int(settings["FORMS_TOKEN_MAX_AGE"]),
        )
    except SpamRejected as exc:
        return _reject(form, exc, data)

    specs = parse_fields(form.fields)
    submission = validate_submission(
        specs, data, region=settings["DEFAULT_PHONE_REGION"], consent_required=bool(form.consent_text)
    )
    if not submission.ok:
        if json_reply:
            body = {"error": "invalid input", "status": 400, "fields": submission.errors}
            return _cors(make_response(jsonify(body), 400), form)
        return _page(form, values=data, errors=submission.errors, status=400, token=data[TOKEN_FIELD])

    # An explicit Idempotency-Key (API-style clients) wins over the id signed into the render token.
    submission_id = (request.headers.get("Idempotency-Key") or "").strip()[:200] or rendered.submission_id
    external_id = submission_external_id(form.key, submission_id, submission)
    reference = "F-" + external_id.rsplit(":", 1)[1][:16]
    record = _record(form, submission, external_id, reference)
    # Its own write transaction, taken up front on SQLite (read-then-write upgrades fail under concurrency).
    # One INSERT into the intake queue; the worker files it through core.ingest (forms.file_submissions).
    engine = get_engine()
    with write_turn(engine), Session(engine, expire_on_commit=False) as session:
        try:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            status = accept(session, record, actor=f"form:{form.key}")
            session.commit()  # durable BEFORE we say "received"
        except sa.exc.OperationalError:
            # Not stored, and we say so: the client (or the person) retries; the same id makes it idempotent.
            session.rollback()
            current_app.logger.exception("form submission to %s not stored", form.key)
            return _unavailable(form)
    if status == "created":
        _queue_filing()

    if json_reply:
        return _cors(make_response(jsonify({"status": "received", "reference": reference}),
                                   201 if status == "created" else 200), form)
    target = _safe_thank_you(form.thank_you_url) or url_for("forms_public.thanks", form_key=form.key)
    return redirect(target, code=303)


def _unavailable(form: Form):  # noqa: ANN202
    message = "We could not store your submission just now; please send it again in a moment."
    if _wants_json_reply():
        response = make_response(jsonify({"error": message, "status": 503}), 503)
    else:
        response = make_response(render_template("forms/message.html", title="Please retry", message=message), 503)
    response.headers["Retry-After"] = "5"
    return _cors(response, form)


def _safe_thank_you(url: str) -> str:
    return url if url and _origin_of(url) else ""


def _record(form: Form, submission: Submission, external_id: str, reference: str) -> InboundRecord:
    now = utcnow()
    consent = None
    if form.consent_text:
        consent = {"given": submission.consent_given, "text": form.consent_text,
                   "version": form.consent_version, "given_at": now.isoformat()}
    meta: dict[str, Any] = {
        "reference": reference,
        "form": {"id": form.id, "key": form.key, "name": form.name, "type": form.type},
        "form_type": form.type,  # the key qualification scores and routes by (core.qualification.on_ingest)
        "fields": submission.values,
        "custom": submission.custom,
        "utm": {k: v for k, v in submission.context.items() if k.startswith("utm_")},
        "page_url": submission.context.get("page", ""),
        "referrer": submission.context.get("referrer") or request.referrer or "",
        "consent": consent,
        "ip_hash": ip_hash(current_app.config["SECRET_KEY"], _client_ip()),
        "user_agent": (request.user_agent.string or "")[:300],
    }
    email = submission.contact.get("email")
    if form.double_opt_in and email:
        meta["double_opt_in"] = {"status": "pending", "requested_at": now.isoformat()}
    return InboundRecord(
        channel="form",
        external_id=external_id,
        contact=contact_in(submission),
        message=MessageIn(
            external_id=external_id,
            thread_id=external_id,
            kind="message",
            direction="in",
            sent_at=now,
            sender=email or submission.contact.get("phone") or "",
            subject=f"{form.name} ({form.type} form)",
            text=submission.message_text,
            meta=meta,
        ),
        scope=f"form:{form.id}",
        owner_id=form.owner_id,
    )


class FilingWindow:
    """Coalesces filing tasks: the first submission of a window queues one filing `delay` seconds later, and
    the others of the first half of that window ride along (they are committed long before it runs). Filing
    then runs as a few large batches instead of one tiny write transaction per post, which on SQLite would
    hold the write lock the posts need."""

    def __init__(self) -> None:
        self.queued_at = float("-inf")
        self.lock = threading.Lock()

    def claim(self, now: float, delay: float) -> bool:
        with self.lock:
            if now - self.queued_at < delay / 2:
                return False
            self.queued_at = now
            return True


def _queue_filing() -> None:
    """Ask a worker to file what is waiting; if the queue is down the minute sweep files it."""
    delay = float(_settings()["FORMS_FILING_DELAY_SECONDS"])
    try:
        if delay <= 0 or get_huey().immediate:  # immediate mode (tests) never runs a delayed task
            enqueue("forms.file_submissions")
        elif current_app.extensions.setdefault("leadhub.forms.filing", FilingWindow()).claim(time.monotonic(), delay):
            enqueue_in(delay, "forms.file_submissions")
    except Exception:  # noqa: BLE001 - the submission is stored; only its filing waits
        current_app.logger.exception("could not queue the filing of form submissions")


def file_waiting_submissions() -> dict[str, int]:
    """File every waiting submission through core.ingest, in batches, then queue their mail."""
    region = _settings()["DEFAULT_PHONE_REGION"]
    filed_total = failed_total = 0
    while True:
        with Session(get_engine(), expire_on_commit=False) as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            filed, failed = file_pending(session, options=IngestOptions(default_phone_region=region))
            session.commit()
        filed_total += len(filed)
        failed_total += failed
        _after_filing(filed)
        if len(filed) + failed < FILE_BATCH_SIZE or not filed:
            return {"filed": filed_total, "failed": failed_total}


@task("forms.file_submissions")
def file_submissions() -> dict[str, int]:
    return file_waiting_submissions()


@task("forms.sweep_submissions", periodic=crontab(minute="*"))
def sweep_submissions() -> dict[str, int]:
    """Every minute: file anything still waiting (a lost queue message, a failed earlier run)."""
    return file_waiting_submissions()


def _after_filing(filed: list[Filed]) -> None:
    """Queue the mail of new submissions; a queue hiccup must not undo a filed submission."""
    created = [f for f in filed if f.result.status == "created" and f.result.message_id is not None]
    if not created:
        return
    form_ids = {(f.record.message.meta.get("form") or {}).get("id") for f in created if f.record.message}
    with Session(get_engine()) as session:
        forms = {form.id: form for form in session.exec(select(Form).where(col(Form.id).in_(form_ids)))}
    for item in created:
        message = item.record.message
        form = forms.get((message.meta.get("form") or {}).get("id")) if message else None
        email = item.record.contact.email if item.record.contact else None
        if form is None or not email:
            continue
        try:
            if "double_opt_in" in message.meta:
                enqueue("forms.send_confirmation", item.result.message_id)
            if form.autoresponder_text.strip():
                enqueue("send_mail", email, form.autoresponder_subject or f"Thank you: {form.name}",
                        form.autoresponder_text)
        except Exception:  # noqa: BLE001
            current_app.logger.exception("could not queue mail for form message %s", item.result.message_id)


@public_bp.get("/<form_key>/thanks")
def thanks(form_key: str):  # noqa: ANN201
    form = _load_form(form_key)
    return render_template("forms/message.html", title="Thank you",
                           message=form.thank_you_message or "Thank you, we received your message.")


# --------------------------------------------------------------------------- double opt-in


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def confirmation_link(message_id: int) -> str:
    token = _confirm_serializer().dumps({"m": message_id})
    return f"{_settings()['BASE_URL'].rstrip('/')}/f/confirm/{token}"


@task("forms.send_confirmation", retries=3, retry_delay=60)
def send_confirmation(message_id: int) -> int | None:
    from webapp.mailer import send

    with Session(get_engine()) as session:
        message = session.get(Message, message_id)
        if message is None or not message.sender:
            return None
        form_name = (message.meta or {}).get("form", {}).get("name", "our form")
        to = message.sender
    link = confirmation_link(message_id)
    text = (f"Please confirm that you asked to hear from us via {form_name}:\n\n{link}\n\n"
            "If it was not you, ignore this mail and nothing happens.")
    return send(to, f"Please confirm: {form_name}", text)


def _load_confirmation(token: str) -> Message:
    try:
        data = _confirm_serializer().loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired:
        abort(410, "this confirmation link has expired")
    except BadSignature:
        abort(404, "this confirmation link is not valid")
    message = get_session().get(Message, int(data.get("m", 0)) if isinstance(data, dict) else 0)
    if message is None or message.channel != "form":
        abort(404, "this confirmation link is not valid")
    return message


@public_bp.get("/confirm/<token>")
def confirm_page(token: str):  # noqa: ANN201
    # GET only shows a button: mail scanners follow links, and a scanner must not confirm for the person.
    message = _load_confirmation(token)
    state = (message.meta or {}).get("double_opt_in", {})
    return render_template("forms/confirm.html", token=token, confirmed=state.get("status") == "confirmed")


@public_bp.post("/confirm/<token>")
def confirm(token: str):  # noqa: ANN201
    message = _load_confirmation(token)
    meta = dict(message.meta or {})
    state = dict(meta.get("double_opt_in") or {})
    if state.get("status") != "confirmed":
        state.update(status="confirmed", confirmed_at=utcnow().isoformat(),
                     confirmed_ip_hash=ip_hash(current_app.config["SECRET_KEY"], _client_ip()))
        meta["double_opt_in"] = state
        message.meta = meta
        flag_modified(message, "meta")
        session = get_session()
        session.add(message)
        session.commit()
    return render_template("forms/confirm.html", token=token, confirmed=True)


# --------------------------------------------------------------------------- admin builder


def new_form_key() -> str:
    return secrets.token_urlsafe(18)


def apply_form_edit(form: Form, data: dict[str, Any]) -> dict[str, str]:
    """Apply an admin's edit; returns per-field errors (nothing is changed when there are any)."""
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = "a form needs a name"
    form_type = str(data.get("type") or "contact")
    if form_type not in FORM_TYPES:
        errors["type"] = f"one of {', '.join(FORM_TYPES)}"
    try:
        specs = parse_fields(data.get("fields") or [])
        if not specs:
            errors["fields"] = "a form needs at least one field"
    except FormDefinitionError as exc:
        errors.update(exc.errors)
        specs = []
    thank_you_url = str(data.get("thank_you_url") or "").strip()
    if thank_you_url and not _origin_of(thank_you_url):
        errors["thank_you_url"] = "an http(s) URL"
    origins: list[str] = []
    for raw in data.get("allowed_origins") or []:
        raw = raw.strip()
        if not raw:
            continue
        normalised = "*" if raw == "*" else _origin_of(raw)
        if not normalised:
            errors["allowed_origins"] = f"{raw!r} is not an origin like https://www.example.com"
        origins.append(normalised)
    owner_id = data.get("owner_id")
    if owner_id not in (None, ""):
        if (uid := parse_id(owner_id)) is None or get_session().get(User, uid) is None:
            errors["owner_id"] = "no such user"
    if errors:
        return errors
    consent_text = str(data.get("consent_text") or "").strip()
    if consent_text != form.consent_text:
        # Consent is proven against the exact wording: any change is a new version.
        form.consent_version = (form.consent_version or 0) + 1
        form.consent_text = consent_text
    form.name, form.type = name[:200], form_type
    form.fields = [s.to_dict() for s in specs]
    form.thank_you_url = thank_you_url[:1000]
    form.thank_you_message = str(data.get("thank_you_message") or "").strip()
    form.allowed_origins = sorted(set(origins))
    form.double_opt_in = bool(data.get("double_opt_in"))
    form.owner_id = int(owner_id) if owner_id not in (None, "") else None
    form.autoresponder_subject = str(data.get("autoresponder_subject") or "").strip()[:500]
    form.autoresponder_text = str(data.get("autoresponder_text") or "").strip()
    form.active = bool(data.get("active"))
    form.updated_at = utcnow()
    return {}


def _fields_from_request() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    count = min(parse_id(request.form.get("field_count")) or 0, 50)
    for i in range(count):
        name = (request.form.get(f"f-{i}-name") or "").strip()
        if not name or request.form.get(f"f-{i}-delete"):
            continue
        rows.append(
            {
                "name": name,
                "label": request.form.get(f"f-{i}-label") or name,
                "kind": request.form.get(f"f-{i}-kind") or "text",
                "required": bool(request.form.get(f"f-{i}-required")),
                "maps_to": request.form.get(f"f-{i}-maps_to") or "custom",
                "options": [o for o in (request.form.get(f"f-{i}-options") or "").split(",") if o.strip()],
            }
        )
    return rows


def _edit_data() -> dict[str, Any]:
    form = request.form
    return {
        "name": form.get("name"),
        "type": form.get("type"),
        "fields": _fields_from_request(),
        "thank_you_url": form.get("thank_you_url"),
        "thank_you_message": form.get("thank_you_message"),
        "allowed_origins": (form.get("allowed_origins") or "").splitlines(),
        "consent_text": form.get("consent_text"),
        "double_opt_in": form.get("double_opt_in"),
        "owner_id": form.get("owner_id"),
        "autoresponder_subject": form.get("autoresponder_subject"),
        "autoresponder_text": form.get("autoresponder_text"),
        "active": form.get("active"),
    }


def spam_counts(session: Session, form_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    query = select(FormSpamEvent.form_id, FormSpamEvent.reason, sa.func.count()).group_by(
        FormSpamEvent.form_id, FormSpamEvent.reason
    )
    if form_ids is not None:
        query = query.where(FormSpamEvent.form_id.in_(form_ids))
    counts: dict[int, dict[str, int]] = {}
    for form_id, reason, count in session.exec(query).all():
        counts.setdefault(form_id, {})[reason] = count
    return counts


def submission_counts(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(Form.id, sa.func.count(Message.id))
        .join(Message, sa.and_(Message.channel == "form", Message.external_id.like(Form.key + ":%")))
        .group_by(Form.id)
    ).all()
    return dict(rows)


def waiting_counts(session: Session) -> dict[int, tuple[int, datetime]]:
    """Per form: submissions stored but not yet filed as leads, and when the oldest arrived."""
    rows = session.exec(
        select(Form.id, sa.func.count(PendingInbound.id), sa.func.min(PendingInbound.received_at))
        .join(PendingInbound, sa.and_(PendingInbound.channel == "form",
                                      PendingInbound.external_id.like(Form.key + ":%")))
        .group_by(Form.id)
    ).all()
    return {form_id: (count, oldest) for form_id, count, oldest in rows}


def embed_code(form: Form) -> dict[str, str]:
    base = _settings()["BASE_URL"].rstrip("/")
    return {
        "html": render_template("forms/embed_plain.html", form=form, base=base, spam_field=SPAM_FIELD,
                                consent_field=CONSENT_FIELD),
        "script": render_template("forms/embed_script.html", form=form, base=base),
        "hosted": f"{base}/f/{form.key}",
    }


def _users(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.active).order_by(User.email)).all())


@bp.get("")
@role_required("admin")
def index():  # noqa: ANN201
    session = get_session()
    forms = list(session.exec(select(Form).order_by(Form.created_at.desc())).all())
    waiting = waiting_counts(session)
    # Filing takes moments when a worker runs; minutes of backlog mean none does (`leadhub worker`).
    stale = [f for f, (_, oldest) in waiting.items() if oldest and utcnow() - _aware(oldest) > WAITING_WARN_AFTER]
    return render_template("forms/admin_list.html", forms=forms, spam=spam_counts(session),
                           submissions=submission_counts(session), waiting=waiting, waiting_stale=bool(stale))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create():  # noqa: ANN201
    session = write_session() if request.method == "POST" else get_session()
    form = Form(key=new_form_key(), name="", fields=[dict(f) for f in DEFAULT_FIELDS], active=True,
                owner_id=current_user.id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = _edit_data()
        errors = apply_form_edit(form, data)
        if not errors:
            session.add(form)
            session.commit()
            flash("Form created. Paste the embed code into your website.", "info")
            return redirect(url_for("forms_admin.edit", form_id=form.id))
        return _edit_page(form, errors, status=400, typed=_as_typed(form, data))
    return _edit_page(form, errors, status=200)


@bp.route("/<int:form_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(form_id: int):  # noqa: ANN201
    session = write_session() if request.method == "POST" else get_session()
    form = session.get(Form, form_id)
    if form is None:
        abort(404)
    errors: dict[str, str] = {}
    typed = None
    if request.method == "POST":
        data = _edit_data()
        errors = apply_form_edit(form, data)
        if errors:
            session.rollback()
            typed = _as_typed(form, data)
        else:
            session.add(form)
            session.commit()
            forget_cached_forms()
            flash("Saved.", "info")
            return redirect(url_for("forms_admin.edit", form_id=form.id))
    return _edit_page(form, errors, status=400 if errors else 200, typed=typed)


def _as_typed(form: Form, data: dict[str, Any]) -> SimpleNamespace:
    """The builder as the admin left it, to show again beside the errors: a refused edit stores nothing, and
    showing the stored form instead would throw away every field row they had typed."""
    return SimpleNamespace(
        id=form.id, key=form.key, consent_version=form.consent_version,
        name=data.get("name") or "", type=data.get("type") or "", fields=data.get("fields") or [],
        thank_you_url=data.get("thank_you_url") or "", thank_you_message=data.get("thank_you_message") or "",
        allowed_origins=[o for o in data.get("allowed_origins") or [] if o.strip()],
        consent_text=data.get("consent_text") or "", double_opt_in=bool(data.get("double_opt_in")),
        owner_id=parse_id(data.get("owner_id")), autoresponder_subject=data.get("autoresponder_subject") or "",
        autoresponder_text=data.get("autoresponder_text") or "", active=bool(data.get("active")))


def _edit_page(form: Form, errors: dict[str, str], *, status: int, typed: SimpleNamespace | None = None):  # noqa: ANN202
    session = get_session()
    recent_spam: list[FormSpamEvent] = []
    recent: list[Message] = []
    if form.id is not None:
        recent_spam = list(session.exec(select(FormSpamEvent).where(FormSpamEvent.form_id == form.id)
                                        .order_by(FormSpamEvent.id.desc()).limit(20)).all())
        recent = list(session.exec(select(Message).where(Message.channel == "form",
                                                         Message.external_id.like(form.key + ":%"))
                                   .order_by(Message.id.desc()).limit(20)).all())
    since = utcnow() - timedelta(days=1)
    spam_day = 0
    if form.id is not None:
        spam_day = session.exec(select(sa.func.count()).select_from(FormSpamEvent)
                                .where(FormSpamEvent.form_id == form.id, FormSpamEvent.created_at >= since)).one()
    return render_template(
        "forms/admin_edit.html",
        form=typed or form,
        errors=errors,
        kinds=FIELD_KINDS,
        types=FORM_TYPES,
        maps_to=MAPS_TO,
        users=_users(session),
        rows=list((typed or form).fields) + [{} for _ in range(3)],
        spam=spam_counts(session, [form.id]).get(form.id, {}) if form.id else {},
        spam_day=spam_day,
        recent_spam=recent_spam,
        recent=recent,
        embed=embed_code(form) if form.id else None,
    ), status

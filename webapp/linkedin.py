"""LinkedIn in the web app: import of the rep's data export, the install page for the extension and the
bookmarklet (with the rep's personal token), and "Sign in with LinkedIn" (OpenID Connect) for reps.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user
from flask_wtf.csrf import validate_csrf
from sqlmodel import select
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from wtforms.validators import ValidationError

from connectors.errors import ConnectorError
from connectors.linkedin.emulator import DEFAULT_MEMBER, EmulatorState, create_emulator
from connectors.linkedin.export import (
    ExportError,
    ExportLine,
    SkipReport,
    connection_records,
    files_in_archive,
    is_zip,
    message_records,
)
from connectors.linkedin.oidc import LinkedInOidc, LinkedInOidcConfig
from core.importer import ImportSummary, import_stream
from core.ingest import IngestOptions
from core.models import ConnectorAccount, User
from core.users import create_api_token
from webapp.auth import SessionUser, csrf
from webapp.db import get_engine, get_session, write_session
from webapp.settings import connector_required, effective_settings

bp = Blueprint("linkedin", __name__, url_prefix="/linkedin")
EMULATOR_PREFIX = "/_emulators/linkedin"


def signin_available(settings: dict[str, Any]) -> bool:
    """Whether /linkedin/login can sign anyone in (a real client, or the emulator in an explicit demo)."""
    if not settings.get("LINKEDIN_CLIENT_ID"):
        return False
    return not settings.get("LINKEDIN_EMULATED") or str(settings.get("DEMO")).lower() == "on"


def init_app(app: Flask) -> None:
    """Register the pages; in the demo (no LinkedIn client configured) serve the LinkedIn emulator and use it."""
    app.register_blueprint(bp)
    settings = app.config["LEADHUB"]
    app.jinja_env.globals["linkedin_signin_available"] = lambda: signin_available(effective_settings())
    demo = str(settings.get("DEMO", "auto")).lower()
    if settings.get("LINKEDIN_CLIENT_ID") or demo not in {"on", "auto"}:
        return
    state = EmulatorState(member={**DEFAULT_MEMBER, "sub": "demo-rep", "name": "Anna Nowak (rep)",
                                  "email": "rep@demo.leadhub.example"})
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {EMULATOR_PREFIX: create_emulator(state)})  # type: ignore[method-assign]
    base = str(settings["BASE_URL"]).rstrip("/") + EMULATOR_PREFIX
    settings.update(
        LINKEDIN_EMULATED=True,
        LINKEDIN_CLIENT_ID=state.client_id,
        LINKEDIN_CLIENT_SECRET=state.client_secret,
        LINKEDIN_AUTHORIZE_URL=f"{base}/oauth/v2/authorization",
        LINKEDIN_TOKEN_URL=f"{base}/oauth/v2/accessToken",
        LINKEDIN_USERINFO_URL=f"{base}/v2/userinfo",
    )

# A rep's messages.csv runs to megabytes; LEADHUB_MAX_BODY_BYTES (1 MiB) is meant for API bodies.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


# --------------------------------------------------------------------------- export import


@dataclass
class ExportImportReport:
    connections: ImportSummary | None = None
    messages: ImportSummary | None = None
    skipped: SkipReport = field(default_factory=SkipReport)
    owner_profile: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"owner_profile": self.owner_profile, "not_imported": dict(self.skipped.reasons)}
        for name in ("connections", "messages"):
            summary = getattr(self, name)
            out[name] = summary.as_dict() if summary is not None else None
        return out

    def lines(self) -> list[str]:
        """The summary as a rep reads it: what was created, merged, skipped and why."""
        out: list[str] = []
        for label, summary in (("Connections.csv", self.connections), ("messages.csv", self.messages)):
            if summary is None:
                continue
            d = summary.as_dict()
            noun = "contacts" if label == "Connections.csv" else "messages"
            out.append(
                f"{label}: {d['records']} rows imported — {d['created']} new {noun}, {d['updated']} leads updated, "
                f"{d['already_known']} already in leadhub, {d['merged_contacts']} leads merged, "
                f"{d['suppressed']} erased people left out; {d['skipped']} rows skipped"
            )
            out.extend(f"  {label} line {e['line']}: {e['error']}" for e in d["errors"][:50])
        for reason, count in sorted(self.skipped.reasons.items()):
            out.append(f"not imported: {count} × {reason}")
        if self.owner_profile:
            out.append(f"your profile (decides direction): {self.owner_profile}")
        return out


def _parsed(lines: Iterable[ExportLine]) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    return ((line.line, line.data, line.error) for line in lines)


def import_linkedin_export(
    engine: sa.Engine,
    *,
    connections: BinaryIO,
    messages: BinaryIO | None = None,
    owner_id: int | None,
    owner_profile: str | None = None,
    options: IngestOptions,
) -> ExportImportReport:
    """Parse both files, then store through the one import loop (`core.importer.import_stream` → ingest).

    `connections` may be the ZIP archive LinkedIn sends, holding both files (then `messages` is not needed).
    Raises ExportError when a whole file cannot be read (nothing of that file is stored then)."""
    if is_zip(connections):
        connections, archived_messages = files_in_archive(connections)
        messages = messages or archived_messages
    report = ExportImportReport()
    connection_lines, url_by_name = connection_records(connections, owner_id=owner_id, skipped=report.skipped)
    message_lines: list[ExportLine] | None = None
    if messages is not None:
        # Parse both before storing anything, so a file we cannot read at all stores nothing.
        message_lines, report.owner_profile = message_records(
            messages, owner_id=owner_id, owner_profile=owner_profile, url_by_name=url_by_name, skipped=report.skipped
        )
    report.connections = import_stream(engine, _parsed(connection_lines), options=options)
    if message_lines is not None:
        report.messages = import_stream(engine, _parsed(sorted(message_lines, key=lambda x: x.line)), options=options)
    return report


def _settings() -> dict[str, Any]:
    return effective_settings()


def _options(actor: str) -> IngestOptions:
    return IngestOptions(default_phone_region=_settings()["DEFAULT_PHONE_REGION"], actor=actor)


@bp.route("/import", methods=["GET", "POST"])
@csrf.exempt  # checked below, after raising the body limit: the global check would read the form first
@login_required
@connector_required("linkedin")
def upload():  # noqa: ANN201
    report_lines: list[str] = []
    status = 200
    if request.method == "POST":
        request.max_content_length = max(MAX_UPLOAD_BYTES, _settings()["MAX_BODY_BYTES"])
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            flash(f"The form expired or was not sent from leadhub ({exc}); reload the page and try again.", "error")
            return render_template("linkedin/import.html", report_lines=[]), 400
        connections = request.files.get("connections")
        messages = request.files.get("messages")
        if connections is None or not connections.filename:
            flash("Choose the archive LinkedIn sent you, or its Connections.csv.", "error")
            return render_template("linkedin/import.html", report_lines=[]), 400
        try:
            report = import_linkedin_export(
                get_engine(),
                connections=connections.stream,
                messages=messages.stream if messages is not None and messages.filename else None,
                owner_id=current_user.id,
                owner_profile=(request.form.get("owner_profile") or "").strip() or None,
                options=_options(f"linkedin-export:{current_user.email}"),
            )
        except ExportError as exc:
            flash(str(exc), "error")
            return render_template("linkedin/import.html", report_lines=[]), 400
        report_lines = report.lines()
        flash("Import finished.", "info")
    return render_template("linkedin/import.html", report_lines=report_lines), status


# --------------------------------------------------------------------------- install page: extension, bookmarklet, token

EXTENSION_DIR = Path(__file__).parent / "static" / "linkedin-extension"
EXTENSION_FILES = ("manifest.json", "profile_reader.js", "content.js", "save.js", "popup.html", "popup.js")


def extension_zip() -> bytes:
    """The unpacked extension as a zip (Chrome: chrome://extensions → Developer mode → Load unpacked)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in EXTENSION_FILES:
            archive.write(EXTENSION_DIR / name, f"leadhub-linkedin/{name}")
    return buffer.getvalue()


def bookmarklet_source(leadhub_url: str, token: str | None) -> str:
    """The bookmarklet's JavaScript (reader + sender + body), values JSON-encoded so no quote can break out."""
    body = (EXTENSION_DIR / "bookmarklet.js").read_text()
    body = body.replace("__LEADHUB_URL__", json.dumps(leadhub_url)).replace("__LEADHUB_TOKEN__", json.dumps(token or ""))
    parts = [(EXTENSION_DIR / "profile_reader.js").read_text(), (EXTENSION_DIR / "save.js").read_text(), body]
    return "\n".join(parts)


def bookmarklet_href(leadhub_url: str, token: str | None) -> str:
    return "javascript:" + quote(bookmarklet_source(leadhub_url, token), safe="")


def _leadhub_url() -> str:
    """leadhub's public address (LEADHUB_BASE_URL): what the rep's browser must reach."""
    return str(_settings()["BASE_URL"]).rstrip("/")


@bp.get("/")
@login_required
def install():  # noqa: ANN201
    return render_template(
        "linkedin/install.html",
        token=None,
        bookmarklet=bookmarklet_href(_leadhub_url(), None),
        leadhub_url=_leadhub_url(),
        signin_enabled=bool(_settings().get("LINKEDIN_CLIENT_ID")),
        linked=_linked_account(),
    )


@bp.post("/token")
@login_required
def create_token():  # noqa: ANN201
    session = write_session()
    user = session.get(User, current_user.id)
    token = create_api_token(session, user=user, name="LinkedIn extension / bookmarklet")
    session.commit()
    response = current_app.make_response(
        render_template(
            "linkedin/install.html",
            token=token,
            bookmarklet=bookmarklet_href(_leadhub_url(), token),
            leadhub_url=_leadhub_url(),
            signin_enabled=bool(_settings().get("LINKEDIN_CLIENT_ID")),
            linked=_linked_account(),
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the token is shown once and must not be cached
    return response


@bp.get("/extension.zip")
@login_required
def extension_download():  # noqa: ANN201
    return send_file(
        io.BytesIO(extension_zip()),
        mimetype="application/zip",
        as_attachment=True,
        download_name="leadhub-linkedin-extension.zip",
    )


def _linked_account() -> ConnectorAccount | None:
    return get_session().exec(
        select(ConnectorAccount).where(ConnectorAccount.type == "linkedin", ConnectorAccount.owner_id == current_user.id)
    ).first()


# --------------------------------------------------------------------------- Sign in with LinkedIn (OpenID Connect)

_OIDC_SESSION_KEY = "linkedin_oidc"


def _oidc() -> LinkedInOidc:
    return LinkedInOidc(
        LinkedInOidcConfig.from_settings(_settings()), redirect_uri=_leadhub_url() + url_for("linkedin.callback")
    )


def _start(intent: str):  # noqa: ANN202
    client = _oidc()
    if not client.config.configured:
        flash("LinkedIn sign-in is not configured (LEADHUB_LINKEDIN_CLIENT_ID and _CLIENT_SECRET).", "error")
        return redirect(url_for("auth.login" if intent == "login" else "linkedin.install"))
    auth_request = client.authorization_request()
    session[_OIDC_SESSION_KEY] = {"state": auth_request.state, "nonce": auth_request.nonce, "intent": intent}
    return redirect(auth_request.url)


@bp.get("/connect")
@login_required
def connect():  # noqa: ANN201
    """Link the signed-in rep's LinkedIn identity."""
    return _start("link")


@bp.get("/login")
def login():  # noqa: ANN201
    """Sign in to leadhub with a LinkedIn identity a rep linked before."""
    return _start("login")


@bp.get("/callback")
def callback():  # noqa: ANN201
    pending = session.pop(_OIDC_SESSION_KEY, None)
    fallback = url_for("auth.login")
    if not pending or not request.args.get("state") or request.args.get("state") != pending.get("state"):
        flash("The LinkedIn sign-in expired or did not start here; try again.", "error")
        return redirect(fallback), 302
    if request.args.get("error"):
        flash(f"LinkedIn did not sign you in: {request.args.get('error_description') or request.args['error']}", "error")
        return redirect(url_for("linkedin.install") if pending["intent"] == "link" else fallback)
    code = request.args.get("code", "")
    client = _oidc()
    try:
        token = client.fetch_token(code=code)
        claims = client.userinfo(token)
    except ConnectorError as exc:
        current_app.logger.warning("LinkedIn sign-in failed: %s", exc)
        flash("LinkedIn sign-in failed; try again in a moment.", "error")
        return redirect(url_for("linkedin.install") if pending["intent"] == "link" else fallback)
    db = write_session()  # LinkedIn's code is spent: the account is stored under the lock, not refused
    account = db.exec(
        select(ConnectorAccount).where(ConnectorAccount.type == "linkedin", ConnectorAccount.external_id == claims["sub"])
    ).first()
    if pending["intent"] == "login":
        if not signin_available(_settings()):
            # The emulator consents for anyone: only an explicit demo may sign people in through it.
            flash("Sign-in through the emulated LinkedIn is only allowed with LEADHUB_DEMO=on.", "error")
            return redirect(fallback)
        user = db.get(User, account.owner_id) if account is not None and account.owner_id else None
        if user is None or not user.active:
            flash("No leadhub user has linked this LinkedIn identity; sign in with your password and link it.", "error")
            return redirect(fallback)
        _store_token(account, token, claims)
        db.commit()
        login_user(SessionUser(user))
        return redirect(url_for("home.index"))
    if not current_user.is_authenticated:
        return redirect(fallback)
    if account is not None and account.owner_id != current_user.id:
        flash("This LinkedIn identity is linked to another leadhub user.", "error")
        return redirect(url_for("linkedin.install"))
    if account is None:
        account = db.exec(
            select(ConnectorAccount).where(
                ConnectorAccount.type == "linkedin", ConnectorAccount.owner_id == current_user.id
            )
        ).first() or ConnectorAccount(type="linkedin", owner_id=current_user.id)
    _store_token(account, token, claims)
    db.commit()
    flash(f"Linked to LinkedIn as {account.label}.", "info")
    return redirect(url_for("linkedin.install"))


def _store_token(account: ConnectorAccount, token: dict[str, Any], claims: dict[str, Any]) -> None:
    """The token only ever rests encrypted; the account keeps the member's public claims in plain sight."""
    box = current_app.extensions["leadhub.secretbox"]
    account.external_id = str(claims["sub"])[:200]
    account.label = str(claims.get("email") or claims.get("name") or claims["sub"])[:320]
    account.credentials_encrypted = box.encrypt({"token": token})
    account.config = {"name": claims.get("name", ""), "email": claims.get("email", ""),
                      "email_verified": bool(claims.get("email_verified"))}
    account.status = "healthy"
    account.last_error = ""
    get_session().add(account)

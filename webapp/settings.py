"""Admin settings: connectors (enable/disable, provider credentials stored encrypted and shown masked, every
connected account with its health and "sync now"), users and roles, company domains, mail-body sharing."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlmodel import Session, col, select

import connectors
from connectors.base import ConfigField, registered
from core.crypto import SecretBox, mask
from core.models import AppSetting, ConnectorAccount, Role, User, utcnow
from core.normalize import InvalidIdentifier, is_freemail_domain, normalize_email
from core.users import UserError, create_user, set_password
from webapp.auth import role_required
from webapp.db import get_session, write_session
from webapp.privacy import SHARE_SETTING

bp = Blueprint("settings", __name__, url_prefix="/settings")

ENABLED_SETTING = "connectors_enabled"  # a list of connector types; unset means every registered one is on
DOMAINS_SETTING = "company_domains"  # a list of domains whose mail is internal, never a lead


def _credentials_key(connector_type: str) -> str:
    return f"connector_credentials:{connector_type}"


def _box() -> SecretBox:
    return current_app.extensions["leadhub.secretbox"]


def get_setting(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(AppSetting, key)
    return default if row is None or row.value is None else row.value


def put_setting(session: Session, key: str, value: Any) -> None:
    row = session.get(AppSetting, key) or AppSetting(key=key)
    row.value = value
    row.updated_at = utcnow()
    session.add(row)
    forget_cached_settings()


# Hot paths (every webhook, form post and page) read the admin's settings through a short per-process cache:
# a change made in this process shows at once, one made in another process within this many seconds.
SETTINGS_CACHE_SECONDS = 5.0


def _cached(name: str, compute: Callable[[], Any]) -> Any:
    cache = current_app.extensions.setdefault("leadhub.settings_cache", {})
    now = time.monotonic()
    hit = cache.get(name)
    if hit is not None and now - hit[0] < SETTINGS_CACHE_SECONDS:
        return hit[1]
    value = compute()
    cache[name] = (now, value)
    return value


def forget_cached_settings() -> None:
    if has_app_context():
        current_app.extensions.get("leadhub.settings_cache", {}).clear()
        g.pop("leadhub_effective_settings", None)


def enabled_connectors(session: Session) -> set[str]:
    connectors.load_all()
    value = get_setting(session, ENABLED_SETTING)
    return set(registered()) if value is None else set(value)


def is_enabled(connector_type: str, session: Session | None = None) -> bool:
    """With a session: read now (tasks, the scheduler). Without: the request path's cached view."""
    if session is not None:
        return connector_type in enabled_connectors(session)
    return connector_type in _cached("enabled", lambda: enabled_connectors(get_session()))


def switched_off_message(connector_type: str) -> str:
    cls = registered().get(connector_type)
    title = getattr(cls, "title", connector_type)
    return f"The {title} connector is switched off: an admin can turn it on in Settings → Connectors."


def connector_required(connector_type: str, *, status: int = 403, acknowledge: bool = False) -> Callable:
    """Guard a view of one connector: while an admin has it switched off the view answers `status` with a
    plain message; with acknowledge=True (provider webhooks) it answers 200 and does nothing, because a
    provider would otherwise redeliver for days."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if is_enabled(connector_type):
                return view(*args, **kwargs)
            if acknowledge:
                return {"ignored": switched_off_message(connector_type)}, 200
            abort(status, description=switched_off_message(connector_type))

        return guarded

    return decorate


def connector_credentials(session: Session, connector_type: str, box: SecretBox) -> dict[str, str]:
    """What an admin entered on the connectors page for `connector_type`, decrypted."""
    stored = get_setting(session, _credentials_key(connector_type), {})
    return box.decrypt(stored.get("encrypted", "")) if isinstance(stored, dict) else {}


def company_domains(session: Session) -> list[str]:
    return [str(d) for d in get_setting(session, DOMAINS_SETTING, []) if d]


def effective_settings() -> dict[str, Any]:
    """leadhub's settings as the admin has changed them: provider credentials entered on the connectors page
    replace the environment's, and Settings → General's company domains join LEADHUB_COMPANY_DOMAINS.
    Read once per request or task (the value lives in `g`)."""
    cached = g.get("leadhub_effective_settings")
    if cached is None:
        cached = g.leadhub_effective_settings = _cached("effective", _effective_settings)
    return cached


def _effective_settings() -> dict[str, Any]:
    base = current_app.config["LEADHUB"]
    session = get_session()
    connectors.load_all()
    merged = dict(base)
    defaults: dict[str, dict[str, str]] = {}
    for connector_type, cls in registered().items():
        if not cls.config_fields:
            continue
        values = connector_credentials(session, connector_type, _box())
        merged.update({f.setting: values[f.name] for f in cls.config_fields if f.setting and values.get(f.name)})
        defaults[connector_type] = {
            f.name: values[f.name] for f in cls.config_fields if not f.setting and values.get(f.name)
        }
    merged["CONNECTOR_DEFAULTS"] = defaults
    domains = [d.strip() for d in str(base.get("COMPANY_DOMAINS") or "").split(",") if d.strip()]
    merged["COMPANY_DOMAINS"] = ",".join(dict.fromkeys(domains + company_domains(session)))
    return merged


PLAIN_ERRORS = (
    ("reconnect", "The account's permission expired or was revoked: its owner must connect it again."),
    ("401", "The provider refused our credentials: check them or reconnect the account."),
    ("403", "The provider says we are not allowed: check the account's permissions."),
    ("429", "The provider asked us to slow down; the next sync will retry."),
    ("timeout", "The provider did not answer in time; the next sync will retry."),
)


def plain_error(error: str) -> str:
    """The last error in words an admin can act on, followed by the technical detail."""
    if not error:
        return ""
    lowered = error.lower()
    for needle, words in PLAIN_ERRORS:
        if needle in lowered:
            return f"{words} ({error[:200]})"
    return error[:300]


@bp.get("/connectors")
@role_required(Role.admin.value)
def connectors_page():  # noqa: ANN201
    from webapp.sync_health import account_health

    session = get_session()
    enabled = enabled_connectors(session)
    environment = current_app.config["LEADHUB"]
    rows = []
    for connector_type, cls in registered().items():
        values = connector_credentials(session, connector_type, _box())
        emulated = bool(environment.get(f"{connector_type.upper()}_EMULATED"))  # the demo's offline provider
        fields = [
            {"name": f.name, "label": f.label, "secret": f.secret, "help": f.help, "choices": f.choices,
             "shown": (mask(values.get(f.name)) if f.secret else _chosen(f, values.get(f.name)) if f.choices
                       else values.get(f.name, f.default)),
             "set": bool(values.get(f.name)),
             # A provider credential left empty here falls back to the environment's LEADHUB_<setting>.
             "from_environment": ("the demo's emulator" if emulated else f"LEADHUB_{f.setting}")
             if f.setting and environment.get(f.setting) else ""}
            for f in cls.config_fields
        ]
        rows.append({"type": connector_type, "title": getattr(cls, "title", connector_type),
                     "description": getattr(cls, "description", ""),
                     "enabled": connector_type in enabled, "fields": fields,
                     "next_step": _next_step(connector_type, effective_settings())})
    health = account_health(session)
    owner_of = dict(session.exec(select(ConnectorAccount.id, ConnectorAccount.owner_id)).all())
    owner_ids = {owner for owner in owner_of.values() if owner}
    owners = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))} if owner_ids else {}
    titles = {t: getattr(c, "title", t) for t, c in registered().items()}
    return render_template("settings/connectors.html", connectors=rows, accounts=health, owners=owners,
                           owner_of=owner_of, enabled=enabled, titles=titles, plain_error=plain_error,
                           lag_words=lag_words)


def _next_step(connector_type: str, settings: dict[str, Any]) -> dict[str, str]:
    """Where an admin goes from a connector's card: a link, or what is still missing."""
    if connector_type == "intercom":
        if settings.get("INTERCOM_CLIENT_ID") and settings.get("INTERCOM_CLIENT_SECRET"):
            return {"url": url_for("intercom.install"), "label": "Connect an Intercom workspace"}
        return {"hint": "Enter the Intercom app's client ID and secret below and save: the button to connect a "
                        "workspace appears here."}
    if connector_type == "gmail":
        return {"url": url_for("gmail.index"), "label": "Connect a mailbox",
                "hint": "Each rep connects their own mailbox under My connections → Gmail."}
    if connector_type == "linkedin":
        return {"url": url_for("me.connections"), "label": "Rep connections",
                "hint": "Reps link LinkedIn and get the browser extension under My connections."}
    if connector_type == "form":
        return {"url": url_for("forms_admin.index"), "label": "Build forms"}
    return {}


def lag_words(seconds: float | None) -> str:
    """"4 min ago" for the sync lag column."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


@bp.post("/connectors/<connector_type>/enabled")
@role_required(Role.admin.value)
def toggle_connector(connector_type: str):  # noqa: ANN201
    session = write_session()
    enabled = enabled_connectors(session)
    if connector_type not in registered():
        abort(404)
    if request.form.get("enabled") == "1":
        enabled.add(connector_type)
    else:
        enabled.discard(connector_type)
    put_setting(session, ENABLED_SETTING, sorted(enabled))
    session.commit()
    forget_cached_settings()  # again after the commit: a request in between may have cached the old value
    flash(f"{connector_type} {'enabled' if connector_type in enabled else 'disabled'}.")
    return redirect(url_for("settings.connectors_page"))



def _chosen(field: ConfigField, stored: Any) -> str:
    """A choice field's stored value as one of its choices: a value typed before it was a choice ("1", "true",
    "Yes") is shown as what it meant, so saving the page does not change it."""
    value = str(stored or "").strip().lower()
    if value in field.choices:
        return value
    if value in ("1", "true", "on") and "yes" in field.choices:
        return "yes"
    return field.default

@bp.post("/connectors/<connector_type>/credentials")
@role_required(Role.admin.value)
def save_credentials(connector_type: str):  # noqa: ANN201
    session = write_session()
    connectors.load_all()
    cls = registered().get(connector_type)
    if cls is None:
        abort(404)
    values = connector_credentials(session, connector_type, _box())
    for field in cls.config_fields:
        submitted = (request.form.get(field.name) or "").strip()
        if field.choices:
            submitted = submitted.lower() or field.default
            if submitted not in field.choices:
                flash(f"Not saved: {field.label} is one of {', '.join(field.choices)}, not {submitted[:40]!r}.", "error")
                return redirect(url_for("settings.connectors_page"))
        # An empty secret box means "keep what is stored": the stored value is never sent back to the page.
        if submitted or not field.secret:
            values[field.name] = submitted[:2000]
    put_setting(session, _credentials_key(connector_type), {"encrypted": _box().encrypt(values)})
    session.commit()
    forget_cached_settings()  # again after the commit: a request in between may have cached the old value
    flash(f"Settings for {getattr(cls, 'title', connector_type)} saved.")
    return redirect(url_for("settings.connectors_page"))


@bp.post("/accounts/<int:account_id>/sync")
@role_required(Role.admin.value)
def sync_now(account_id: int):  # noqa: ANN201
    from webapp.queue import enqueue

    session = get_session()
    account = session.get(ConnectorAccount, account_id)
    if account is None:
        abort(404)
    if not is_enabled(account.type, session):
        flash(f"Not synced. {switched_off_message(account.type)}", "error")
        return redirect(url_for("settings.connectors_page"))
    try:
        enqueue("sync_account", account_id)
        flash("Sync started.")
    except Exception as exc:  # noqa: BLE001 - a failed sync is reported on the page, never a 500
        flash(f"Sync could not run: {exc}", "error")
    return redirect(url_for("settings.connectors_page"))


# --------------------------------------------------------------------------- users


@bp.get("/users")
@role_required(Role.admin.value)
def users_page():  # noqa: ANN201
    return _users_page()


def _users_page(*, typed: dict[str, str] | None = None, error: str | None = None, status: int = 200):  # noqa: ANN202
    """The users page; after a refused "New user", with what the admin typed (but the password) and why."""
    users = list(get_session().exec(select(User).order_by(col(User.id))).all())
    return render_template("settings/users.html", users=users, roles=[r.value for r in Role], typed=typed or {},
                           error=error), status


@bp.post("/users")
@role_required(Role.admin.value)
def create_user_view():  # noqa: ANN201
    session = write_session()
    try:
        user = create_user(session, email=request.form.get("email") or "", role=request.form.get("role") or "rep",
                           name=(request.form.get("name") or "").strip()[:200],
                           password=request.form.get("password") or None)
    except UserError as exc:
        session.rollback()
        typed = {name: request.form.get(name) or "" for name in ("email", "name", "role")}
        return _users_page(typed=typed, error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.", status=400)
    session.commit()
    flash(f"User {user.email} created.")
    return redirect(url_for("settings.users_page"))


@bp.post("/users/<int:user_id>")
@role_required(Role.admin.value)
def update_user(user_id: int):  # noqa: ANN201
    session = write_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    role = request.form.get("role")
    if role and role in {r.value for r in Role}:
        if user.id == int(current_user.id) and role != Role.admin.value:
            flash("You cannot take away your own admin role.", "error")
            return redirect(url_for("settings.users_page"))
        user.role = role
    active = request.form.get("active")
    if active in {"0", "1"}:
        if user.id == int(current_user.id) and active == "0":
            flash("You cannot deactivate yourself.", "error")
            return redirect(url_for("settings.users_page"))
        user.active = active == "1"
    password = request.form.get("password")
    if password:
        try:
            set_password(user, password)
        except UserError as exc:
            flash(str(exc), "error")
            return redirect(url_for("settings.users_page"))
    session.add(user)
    session.commit()
    flash(f"User {user.email} updated.")
    return redirect(url_for("settings.users_page"))


# --------------------------------------------------------------------------- company domains and privacy


def company_domain(raw: str) -> str | None:
    """The mail domain in what an admin pastes as one: `firma.pl`, `@firma.pl`, someone's address there, the
    site's URL (`https://www.firma.pl/kontakt`) or its www. name. None when it is no domain an address can have
    (markup, a NUL, an underscore, no dot): email-validator's rules for the part after the @, as for addresses.
    The domain is kept as written, lowercased (an international one is not turned into xn--)."""
    # Format characters (a zero-width space copied with the text) are no part of a domain, as in core.normalize.
    text = "".join(ch for ch in raw if unicodedata.category(ch) != "Cf").strip()
    if "://" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:  # an unclosed [ in the host
            return None
    text = text.rsplit("@", 1)[-1].split("/", 1)[0].strip().lower().rstrip(".")
    text = text.removeprefix("www.")
    try:
        normalize_email(f"postmaster@{text}")
    except InvalidIdentifier:
        return None
    return text


@bp.get("/general")
@role_required(Role.admin.value)
def general_page():  # noqa: ANN201
    session = get_session()
    return render_template("settings/general.html", domains=get_setting(session, DOMAINS_SETTING, []),
                           share=bool(get_setting(session, SHARE_SETTING, False)))


@bp.post("/general")
@role_required(Role.admin.value)
def save_general():  # noqa: ANN201
    session = write_session()
    domains, rejected = [], []
    for raw in (request.form.get("domains") or "").replace(",", "\n").splitlines():
        if not raw.strip():
            continue
        domain = company_domain(raw)
        if domain is None or is_freemail_domain(domain):
            rejected.append(raw.strip())
        elif domain not in domains:
            domains.append(domain)
    put_setting(session, DOMAINS_SETTING, domains)
    put_setting(session, SHARE_SETTING, request.form.get("share_mail_bodies") == "1")
    session.commit()
    forget_cached_settings()  # again after the commit: a request in between may have cached the old value
    if rejected:
        flash("Not company domains (left out): " + ", ".join(rejected), "error")
    flash("Settings saved.")
    return redirect(url_for("settings.general_page"))

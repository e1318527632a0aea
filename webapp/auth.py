"""Sign-in and roles for the web app (flask-login sessions; CSRF on every state-changing form via flask-wtf)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from core.models import AppSetting, Role, User
from core.users import find_user, verify_password
from webapp.db import get_session, parse_id

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
# Only failed sign-ins count (deduct_when), per client address and per email tried.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

ROLE_RANK = {Role.rep.value: 0, Role.manager.value: 1, Role.admin.value: 2}


class SessionUser:
    """What flask-login keeps for a signed-in user (the row itself would outlive its DB session)."""

    def __init__(self, user: User):
        self.id, self.email, self.name, self.role = user.id, user.email, user.name, user.role
        self.is_authenticated, self.is_active, self.is_anonymous = True, user.active, False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["LEADHUB"]["RATELIMIT_STORAGE_URL"])
    limiter.init_app(app)
    _init_google(app)
    app.register_blueprint(bp)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"current_user": current_user, "Role": Role, "demo_mode": demo_loaded(),
            "google_sign_in": google_client() is not None}


def _init_google(app: Flask) -> None:
    """Google sign-in through authlib's OpenID Connect client; endpoints come from the discovery document."""
    from authlib.integrations.flask_client import OAuth

    settings = app.config["LEADHUB"]
    if not settings.get("GOOGLE_CLIENT_ID"):
        return
    oauth = OAuth(app)
    oauth.register(
        "google",
        client_id=settings["GOOGLE_CLIENT_ID"],
        client_secret=settings.get("GOOGLE_CLIENT_SECRET", ""),
        server_metadata_url=settings["GOOGLE_DISCOVERY_URL"],
        client_kwargs={"scope": "openid email profile"},
    )
    app.extensions["leadhub.oauth"] = oauth


def google_client() -> Any:
    oauth = current_app.extensions.get("leadhub.oauth")
    return oauth.create_client("google") if oauth is not None else None


def demo_loaded() -> bool:
    """Demo sign-in buttons and the banner: only when demo mode is allowed AND demo data was loaded."""
    if "demo_loaded" not in g:
        allowed = str(current_app.config["LEADHUB"].get("DEMO", "auto")).lower() not in {"off", "0", "false", "no"}
        g.demo_loaded = allowed and get_session().get(AppSetting, "demo") is not None
    return g.demo_loaded


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if (uid := parse_id(user_id)) is None:
        return None
    user = get_session().get(User, uid)
    return SessionUser(user) if user is not None and user.active else None


def role_required(role: str) -> Callable:
    """login_required plus a minimum role (rep < manager < admin)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


def _login_rate() -> str:
    return current_app.config["LEADHUB"]["LOGIN_RATE_LIMIT"]


def _login_email_key() -> str:
    return "login-email:" + (request.form.get("email") or "").strip().lower()[:320]


def _failed(response: Any) -> bool:
    return response.status_code == 401


def _demo_users() -> list[tuple[str, str, str]]:
    from webapp.demo import DEMO_USERS

    return list(DEMO_USERS) if demo_loaded() else []


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_rate, methods=["POST"], key_func=_login_email_key, deduct_when=_failed)
def login():  # noqa: ANN201
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        user = find_user(get_session(), email) if email else None
        if user is not None and user.active and verify_password(user, password):
            login_user(SessionUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "error")
        return render_template("login.html", email=email, demo_users=_demo_users()), 401
    return render_template("login.html", email="", demo_users=_demo_users())


@bp.get("/login/google")
def google_login():  # noqa: ANN201
    client = google_client()
    if client is None:
        abort(404)
    try:
        return client.authorize_redirect(url_for("auth.google_callback", _external=True))
    except Exception:  # noqa: BLE001 - provider down or misconfigured: say so, never a 500
        current_app.logger.exception("Google sign-in could not start")
        flash("Google sign-in is not reachable right now; use your password.", "error")
        return redirect(url_for("auth.login"))


@bp.get("/login/google/callback")
def google_callback():  # noqa: ANN201
    client = google_client()
    if client is None:
        abort(404)
    try:
        token = client.authorize_access_token()
        info = token.get("userinfo") or {}
    except Exception:  # noqa: BLE001 - bad state, refused code, invalid id_token: all mean "not signed in"
        current_app.logger.info("Google sign-in refused", exc_info=True)
        flash("Google sign-in did not complete. Try again or use your password.", "error")
        return redirect(url_for("auth.login"))
    email = info.get("email") or ""
    if not email or info.get("email_verified") is not True:
        flash("Google did not confirm an email address for this account.", "error")
        return redirect(url_for("auth.login"))
    user = find_user(get_session(), email)
    if user is None or not user.active:
        flash(f"There is no active leadhub user for {email}; ask an admin to add you.", "error")
        return redirect(url_for("auth.login"))
    login_user(SessionUser(user))
    return redirect(url_for("home.index"))


@bp.post("/login/demo")
def demo_login():  # noqa: ANN201
    """One-click sign-in as a demo user: only for the demo accounts, only while demo data is loaded."""
    email = request.form.get("email") or ""
    if email not in {e for e, _, _ in _demo_users()}:
        abort(404)
    user = find_user(get_session(), email)
    if user is None or not user.active:
        abort(404)
    login_user(SessionUser(user))
    return redirect(url_for("home.index"))


@bp.post("/logout")
@login_required
def logout():  # noqa: ANN201
    logout_user()
    return redirect(url_for("auth.login"))

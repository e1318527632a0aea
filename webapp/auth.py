"""Sign-in and roles for the web app (flask-login sessions; CSRF on every state-changing form via flask-wtf)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from core.models import Role, User
from core.users import find_user, verify_password
from webapp.db import get_session

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

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
    app.register_blueprint(bp)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"current_user": current_user, "Role": Role}


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
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


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        user = find_user(get_session(), email) if email else None
        if user is not None and user.active and verify_password(user, password):
            login_user(SessionUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "error")
        return render_template("login.html", email=email), 401
    return render_template("login.html", email="")


@bp.post("/logout")
@login_required
def logout():  # noqa: ANN201
    logout_user()
    return redirect(url_for("auth.login"))

"""leadhub's Flask app: `create_app` builds it from defaults, the environment, and what a test passes in.

No schema work or network calls happen here; migrations run from `leadhub db upgrade`.
"""

from __future__ import annotations

import gc
from typing import Any

from flask import Flask

from core.crypto import SecretBox


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from dotenv import load_dotenv

    load_dotenv(override=False)
    app = Flask(__name__, instance_relative_config=True)
    config = dict(config or {})
    flask_overrides = config.pop("FLASK", {})
    from webapp.config import load_config

    settings = load_config(app.instance_path, config)
    app.config.update(
        LEADHUB=settings,
        SECRET_KEY=settings["SECRET_KEY"],
        MAX_CONTENT_LENGTH=settings["MAX_BODY_BYTES"],
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["BASE_URL"].startswith("https://"),
    )
    app.config.update(flask_overrides)
    if settings["TRUSTED_PROXY_HOPS"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind a reverse proxy (nginx, a PaaS router) every request comes from the proxy's address, and the
        # per-address limits (sign-in, website forms) counted all visitors as one. The client's address and
        # scheme are then taken from that many proxies' X-Forwarded-For / -Proto (never by default: anyone
        # can send those headers).
        hops = settings["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions["leadhub.secretbox"] = SecretBox(settings["ENCRYPTION_KEY"])
    from webapp import observability

    observability.configure_logging(settings["LOG_LEVEL"], settings["LOG_FORMAT"])

    from webapp import (
        auth,
        db,
        duplicates,
        errors,
        forms,
        health,
        home,
        inbox,
        leads,
        linkedin,
        me,
        metrics,
        queue,
        security,
    )
    from webapp import settings as settings_pages
    from webapp.api import bp as api_bp
    from webapp.api.openapi import bp as openapi_bp

    observability.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    queue.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(home.bp)
    for area in (inbox, leads, duplicates, settings_pages, me):
        app.register_blueprint(area.bp)
    # The API authenticates with bearer tokens, not cookies: CSRF does not apply to it.
    auth.csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(openapi_bp)
    forms.init_app(app)
    from webapp import intercom

    app.register_blueprint(intercom.bp)
    # Intercom authenticates its webhook and Canvas Kit calls with HMAC signatures, not cookies.
    auth.csrf.exempt(intercom.hooks_bp)
    app.register_blueprint(intercom.hooks_bp)
    intercom.init_demo(app)
    from webapp import gmail

    app.register_blueprint(gmail.bp)
    # Pub/Sub pushes carry a shared token, not a session: CSRF does not apply.
    auth.csrf.exempt(gmail.webhooks_bp)
    app.register_blueprint(gmail.webhooks_bp)
    gmail.init_demo(app)
    from webapp import mail_merge

    app.register_blueprint(mail_merge.bp)
    linkedin.init_app(app)
    from webapp import qualify

    qualify.init_app(app)
    # Machine-to-machine endpoints carry no rate limit of ours (providers and API clients pace themselves,
    # and Intercom's acknowledgement budget is tight): skip both limiters' per-request bookkeeping there.
    unlimited = {b.name for b in (intercom.hooks_bp, gmail.webhooks_bp, api_bp, health.bp, metrics.bp)}

    def machine_request() -> bool:
        from flask import request

        return request.blueprint in unlimited

    auth.limiter.request_filter(machine_request)
    forms.limiter.request_filter(machine_request)
    return app


def freeze_startup_heap() -> None:
    """For a serving process, once its app is built: what exists now (modules, the app, SQLAlchemy's and
    Jinja's machinery) lives as long as the process, so take it out of the collector's full passes. Each of
    those walked ~175,000 objects and stalled the request it landed in by ~90 ms: the p95 of the inbox pages
    (BENCHMARKS.md, Inbox)."""
    gc.collect()
    gc.freeze()

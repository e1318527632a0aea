"""The app's database: one engine per app, one session per request (cached on g, closed on teardown)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlmodel import Session
from werkzeug.routing import IntegerConverter

from core.db import make_engine

# The largest id either database stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1


class StoreIdConverter(IntegerConverter):
    """`<int:…>` in every route: an integer the store can hold. A larger one matches no route (404); passed on,
    it made the database driver raise (SQLite: "Python int too large"), a 500. At most 19 digits in the pattern
    itself: a value refused only by `max` would answer another method's rule with 405."""

    regex = r"\d{1,19}"

    def __init__(self, url_map, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def parse_id(raw: object) -> int | None:
    """A store id from form or query input ("12"), or None: ASCII digits only (str.isdigit also passes "²",
    which int() refuses) and within what the store holds."""
    text = "" if raw is None else str(raw).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = StoreIdConverter
    url = app.config["LEADHUB"]["DATABASE_URL"]
    app.extensions["leadhub.engine"] = make_engine(url)
    # Background writers (syncs) on SQLite take the write lock up front; on PostgreSQL it is the same engine.
    # (Requests stay deferred: an IMMEDIATE request session would hold the write lock while it reads and
    # deadlock any second session in the same request. Views that change data through the request session
    # alone opt in with write_session(); another view whose read goes stale answers 503 with Retry-After, see
    # BENCHMARKS.md, Scale-out.)
    writer = make_engine(url, sqlite_immediate=True) if url.startswith("sqlite") else app.extensions["leadhub.engine"]
    app.extensions["leadhub.writer_engine"] = writer
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask | None = None) -> sa.Engine:
    return (app or current_app).extensions["leadhub.engine"]


def get_writer_engine(app: Flask | None = None) -> sa.Engine:
    """The engine for background tasks that write a lot (syncs): BEGIN IMMEDIATE on SQLite."""
    return (app or current_app).extensions["leadhub.writer_engine"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def write_session() -> Session:
    """The request's session, for a view that reads and then writes through it alone (an API change). On SQLite
    its transaction takes the write lock up front (BEGIN IMMEDIATE), so a concurrent writer (another request, an
    import, a sync) is waited for instead of failing the request with "database is locked" once it committed
    after this request's first read. Ignored by PostgreSQL. Not for views that open a second writing session
    before they commit: that one would wait for this one's lock."""
    session = get_session()
    session.commit()  # whatever the request read so far (its token) was a transaction of its own
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()

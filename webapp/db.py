"""The app's database: one engine per app, one session per request (cached on g, closed on teardown)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session
from werkzeug.routing import IntegerConverter

from core.db import MAX_ID, SQLITE_BUSY_TIMEOUT_MS, is_store_id, is_transient_db_error, make_engine

log = logging.getLogger(__name__)


def _digits_at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to `limit`: shorter ones, or as long and below
    it at the first digit that differs, or the limit itself."""
    text = str(limit)
    shorter = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    below = [f"{text[:i]}[0-{int(d) - 1}]" + (rf"\d{{{len(text) - i - 1}}}" if i < len(text) - 1 else "")
             for i, d in enumerate(text) if d != "0"]
    return "(?:" + "|".join([*shorter, *below, text]) + ")"


class StoreIdConverter(IntegerConverter):
    """`<int:…>` in every route: an integer the store can hold. A larger one matches no route (404); passed on,
    it made the database driver raise (SQLite: "Python int too large"), a 500. The bound is in the pattern
    itself: a value refused only by `max` (2**31 has 10 digits too) answered another method's rule on the same
    path with 405."""

    regex = _digits_at_most(MAX_ID)

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
    return value if is_store_id(value) else None


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
    """The request's session, for a view that reads and then writes through it alone (an API change, a saved
    form). On SQLite its transaction takes the write lock up front (BEGIN IMMEDIATE), so a concurrent writer
    (another request, an import, a sync) is waited for instead of failing the request with "database is
    locked" once it committed after this request's first read. Ignored by PostgreSQL. Not for views that open a
    second writing session before they commit: that one would wait for this one's lock."""
    return begin_writing(get_session())


def begin_writing(session: Session) -> Session:
    """End the session's transaction (what it read so far; nothing may be pending) and begin the next one
    holding SQLite's write lock, as write_session does. For a view or helper that talks to a provider first
    and records the outcome after: the mail is sent, so its record must wait for the lock, not fail."""
    session.commit()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


# How long a page waits for the lock it needs to note something on the side (a conversation read): behind an
# import's batches SQLite's busy timeout (30 s) would hold the page up, and the note is not worth that.
SIDE_WRITE_WAIT_MS = 2_000


def side_write(write: Callable[[Session], None]) -> bool:
    """write(session) in a short transaction of its own that waits at most SIDE_WRITE_WAIT_MS for a lock (SQLite:
    the write lock, taken up front; PostgreSQL: any row or table lock). For bookkeeping a page does on the side:
    when the store stays busy, or a concurrent request wrote the same row first, it is skipped and logged, and
    the page is still served."""
    # The request engine, not the writer engine: the shorter busy timeout must be set before the transaction
    # that waits for the lock begins, and the writer engine begins every transaction IMMEDIATE, that PRAGMA's too.
    engine = get_engine()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SIDE_WRITE_WAIT_MS}")
            connection.commit()
            connection.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with Session(bind=connection) as session:
                if not sqlite:
                    session.execute(sa.text(f"SET LOCAL lock_timeout = {SIDE_WRITE_WAIT_MS}"))
                write(session)
                session.commit()
            return True
        except (DBAPIError, IntegrityError) as exc:
            if not (isinstance(exc, IntegrityError) or is_transient_db_error(exc)):
                raise
            log.info("side write skipped, the store was busy: %s", exc.__class__.__name__)
            return False
        finally:
            if connection.in_transaction():
                connection.rollback()
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                connection.commit()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()

"""Engines and sessions for the store: SQLite by default (WAL, foreign keys, busy timeout), PostgreSQL at scale."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The largest id both databases store: the id columns are INTEGER, 32 bits on PostgreSQL (SQLite's are 64), and
# SQLAlchemy casts a bound id to the column's type there, so a larger one from outside (a path, a cursor, a
# JSON body) was "integer out of range", a 500.
MAX_ID = 2**31 - 1


def is_store_id(value: object) -> bool:
    """An id the store could hold (1 … MAX_ID): what to check an id from outside against before a query."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste: postgres:// and postgresql:// use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, sqlite_immediate: bool = False, **kwargs: object) -> sa.Engine:
    """sqlite_immediate: begin every transaction with BEGIN IMMEDIATE (for writers such as sync workers). A
    deferred transaction that reads, then writes after another connection committed, fails at once with
    "database is locked" (WAL snapshot rule; the busy timeout cannot help); IMMEDIATE waits for the lock."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over so SAVEPOINTs work.
        default_mode = "IMMEDIATE" if sqlite_immediate else ""
        sa.event.listen(engine, "begin", lambda conn: _sqlite_begin(conn, default_mode))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        sa.event.listen(engine, "before_cursor_execute", _without_nul_characters, retval=True)
    return engine


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    # An IN list bound as one parameter (a list of ids or identifier values).
    return isinstance(value, (list, tuple)) and any(isinstance(v, str) and "\x00" in v for v in value)


def _nul_free(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (list, tuple)):
        return type(value)(_nul_free(v) for v in value)
    return value


def _nul_free_set(params: Any) -> Any:
    if isinstance(params, dict):
        if any(_has_nul(v) for v in params.values()):
            return {k: _nul_free(v) for k, v in params.items()}
        return params
    if isinstance(params, (list, tuple)) and any(_has_nul(v) for v in params):
        return type(params)(_nul_free(v) for v in params)
    return params


def _without_nul_characters(_conn, _cursor, statement, parameters, _context, executemany):  # noqa: ANN001, ANN202
    """PostgreSQL's text cannot hold a NUL character, and the driver fails the whole statement over one (a
    message or a name from the API or a provider, a search term, a note): NUL is taken out of every string
    parameter, lookups included, so the same text finds the same row. (SQLite keeps them; they mean nothing in
    a name, an address or a message, and a page shows them as nothing.)"""
    # (SQLAlchemy's "insertmanyvalues" batches say executemany but pass one mapping for the whole batch.)
    if executemany and isinstance(parameters, (list, tuple)):
        return statement, [_nul_free_set(p) for p in parameters]
    return statement, _nul_free_set(parameters)


_WRITE_TURNS: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_TURNS_GUARD = threading.Lock()


def write_turn(engine: sa.Engine) -> AbstractContextManager[Any]:
    """Hold around a short write transaction on a hot path. On SQLite the threads of one process then queue
    here for the single write lock, instead of inside SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms
    between tries however soon the lock is free. Other databases: nothing to wait for."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _TURNS_GUARD:
        return _WRITE_TURNS.setdefault(engine, threading.Lock())


def _sqlite_begin(conn: sa.Connection, default_mode: str = "") -> None:
    # A transaction that reads and then writes must say so up front (execution option sqlite_begin="IMMEDIATE"):
    # a deferred one that tries to upgrade after another writer committed fails at once with "database is
    # locked", whatever the busy timeout.
    mode = conn.get_execution_options().get("sqlite_begin", default_mode)
    conn.exec_driver_sql(f"BEGIN {mode}" if mode in ("IMMEDIATE", "EXCLUSIVE") else "BEGIN")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API connection
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# A bulk run's connection on SQLite: a 64 MB page cache (the default 2 MB held little of the indexes a batch
# writes into) and WAL checkpoints every 40 MB instead of 4 MB (a checkpoint, with its fsync, after nearly every
# batch): together ~10 % of an import of 50,000 records (BENCHMARKS.md).
BULK_SQLITE_PRAGMAS = {"cache_size": -65536, "wal_autocheckpoint": 10000}


@contextmanager
def bulk_settings(connection: sa.Connection) -> Iterator[None]:
    """Around a bulk run on one connection: BULK_SQLITE_PRAGMAS on SQLite, the connection's own values again
    afterwards (it goes back to the pool). Other databases: nothing."""
    if connection.dialect.name != "sqlite":
        yield
        return
    saved = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in BULK_SQLITE_PRAGMAS}
    for name, value in BULK_SQLITE_PRAGMAS.items():
        connection.exec_driver_sql(f"PRAGMA {name}={int(value)}")
    connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        for name, value in saved.items():
            connection.exec_driver_sql(f"PRAGMA {name}={int(value)}")
        connection.commit()


def is_sqlite(engine_or_session: sa.Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


def plain_rows(
    session: Session, statement: sa.Executable, params: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """The statement's rows as the driver's plain tuples, without SQLAlchemy's Row objects or result types (JSON
    comes back as text on SQLite, parsed on PostgreSQL). For the hot reads of rescoring and the duplicate
    search, where building Rows cost a tenth of the work. SQLAlchemy executes it (its compiled-statement cache
    spares a compile per call: 1.7 ms each, most of a single record's qualification); the rows are read from
    the driver's cursor directly."""
    result = session.connection().execute(statement, params or {})
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def db_timestamp(value: datetime | None, sqlite: bool) -> Any:
    """What models.UTCDateTime binds, for statements sent to the driver: SQLite keeps naive UTC text in
    SQLAlchemy's format (always a four-digit year, always microseconds), PostgreSQL takes the aware datetime."""
    if value is None or not sqlite:
        return value
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    # 26 characters: the offset an aware value prints ("+00:00") cut off, without building a naive copy first.
    return value.isoformat(" ", "microseconds")[:26]


def read_timestamp(value: Any) -> datetime | None:
    """A timestamp column as plain_rows hands it over (SQLite: naive UTC text; PostgreSQL: an aware datetime),
    as models.UTCDateTime reads it: aware, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def db_json(value: Any) -> str:
    """A JSON column's value as the text a driver-level statement binds (CAST to JSON on PostgreSQL), fast
    (orjson); a provider's integer beyond 64 bits (an Intercom attachment's filesize generated from its schema),
    which orjson refuses, goes through the standard library's encoder."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=str)


def driver_insert(
    conn: sa.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], *,
    json_columns: frozenset[str] = frozenset(), suffix: str = "",
) -> None:
    """INSERT rows (tuples in `columns` order, already adapted with db_timestamp and db_json) straight through
    the driver. For the bulk paths: SQLAlchemy's per-row parameter processing cost more than SQLite's own work
    (a fifth of an import). `suffix`: e.g. an ON CONFLICT clause.

    PostgreSQL: one executemany. SQLite: a few hundred rows per statement (multi-row VALUES). executemany runs
    its statement once per row, and each run of an insert that fires a trigger writing an FTS5 index (contacts,
    messages) opens a statement savepoint, at which FTS5 flushes its pending terms to a new segment: a segment
    per row, merged again and again. Inserting 21k contacts took 0.68 s row by row and 0.19 s this way."""
    if not rows:
        return
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    marks = ", ".join(mark if sqlite or c not in json_columns else f"CAST({mark} AS JSON)" for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    if not sqlite:
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks}){suffix}", rows)
        return
    group = f"({marks})"
    start = 0
    for size in statement_sizes(len(rows), min(SQLITE_ROWS_PER_STATEMENT, _sqlite_variable_limit(conn) // len(columns))):
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES {', '.join([group] * size)}{suffix}",
                             tuple(chain.from_iterable(rows[start : start + size])))
        start += size


# Rows per multi-row INSERT on SQLite: a batch of 1,000 rows is a handful of statements (FTS5 flushes), and each
# statement's text stays quick to parse (250 and 1,000 rows per statement measured alike).
SQLITE_ROWS_PER_STATEMENT = 256


def statement_sizes(count: int, largest: int) -> list[int]:
    """Rows per statement for `count` rows: as many of `largest` as fit, the rest in quarters of that (64, 16,
    4, 1 for 256). A few statement sizes only, so the driver's statement cache parses each once: parsing a
    statement of a new length for every batch's remainder cost 60k instructions per record."""
    largest = max(1, largest)
    sizes: list[int] = []
    size = largest
    while count:
        sizes += [size] * (count // size)
        count %= size
        size = max(1, size // 4)
    return sizes


def _sqlite_variable_limit(conn: sa.Connection) -> int:
    """How many ? one statement may have on this connection (999 before SQLite 3.32, 32766 since)."""
    try:
        return conn.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
    except (AttributeError, sqlite3.Error):
        return 999


def driver_update(
    conn: sa.Connection, table: str, rows: list[tuple[dict[str, Any], set[str], tuple[Any, ...]]],
    where: tuple[str, ...], *, json_columns: frozenset[str] = frozenset(),
) -> int:
    """UPDATE rows with the driver's executemany: each row is (values by column, the columns whose value
    changed, the values of `where`'s columns, compared for equality); the number of rows written. On SQLite a
    column named in SET is rewritten with its indexes (and fires its triggers: the search index's) even when
    its value is the same, so each row is written by a statement naming only what changed for it, one
    statement per shape; SQLite has one writer at a time, so several statements lock nothing out of order.
    PostgreSQL: every column, one statement, rows in the order given, so concurrent writers lock alike."""
    if not rows:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    condition = " AND ".join(f'"{c}" = {mark}' for c in where)
    shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for values, changed, keys in rows:
        names = tuple(c for c in values if c in changed) if sqlite else tuple(values)
        shapes.setdefault(names, []).append((*(values[c] for c in names), *keys))
    written = 0
    for names, params in shapes.items():
        sets = ", ".join(f'"{c}" = ' + (mark if sqlite or c not in json_columns else f"CAST({mark} AS JSON)")
                         for c in names)
        written += conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE {condition}", params).rowcount
    return written


def next_ids(conn: sa.Connection, table: str, count: int) -> list[int]:
    """Ids for `count` new rows of `table`, so that a bulk path inserts them with one executemany instead of one
    INSERT … RETURNING per row. PostgreSQL: taken from the id column's sequence (atomic under concurrency).
    SQLite: handed out as SQLite itself would (max + 1 on); safe inside the writing transaction, because a
    transaction that has written holds the write lock, and one that has only read cannot write after another
    writer committed (WAL snapshot rule: "database is locked", which the bulk paths retry)."""
    if count <= 0:
        return []
    if conn.dialect.name == "sqlite":
        first = (conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar() or 0) + 1
        return list(range(first, first + count))
    return list(conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", (count,)).scalars())


class _ValueList(TypeDecorator):
    """The values of core.db.among as one bound parameter: JSON text for SQLite's json_each, a list (an array)
    for PostgreSQL."""

    impl = sa.types.NullType
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return list(value) if dialect.name == "postgresql" else orjson.dumps(list(value)).decode()


class among(ColumnElement[Any]):  # noqa: N801 - used like sqlalchemy's own lower-case constructs
    """`column IN values` (integers or strings) with the values bound as ONE parameter: SQLite
    `IN (SELECT value FROM json_each(?))`,
    PostgreSQL `= ANY(CAST(%s AS type[]))`. A plain IN list renders a placeholder per value at every execution,
    so each list length is a new statement for SQLAlchemy to expand and for SQLite to parse: on the bulk paths'
    reads that was about 3% of an import. Both forms use the column's index (tests/core/test_query_plans.py)."""

    __visit_name__ = "leadhub_among"
    inherit_cache = True
    type = sa.types.NullType()  # not Boolean: SQLite would get `(… IN …) = 1`, which no index serves
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, values: Iterable[Any]) -> None:
        self.column = column
        self.values = sa.bindparam(None, list(values), type_=_ValueList())


@compiles(among)
def _among_sqlite(element: among, compiler: Any, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(among, "postgresql")
def _among_postgresql(element: among, compiler: Any, **kw: Any) -> str:
    kind = compiler.dialect.type_compiler_instance.process(element.column.type)
    return f"{compiler.process(element.column, **kw)} = ANY(CAST({compiler.process(element.values, **kw)} AS {kind}[]))"


def chunked(values: list, size: int = 500) -> list[list]:
    """Slices of at most `size`: a plain IN list stays within every driver's parameter limit, and a statement's
    rows (IN lists as one parameter, core.db.among, included) stay a bounded amount of work."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def json_list(value: Any) -> list[str]:
    """A JSON list column as plain_rows hands it over: text from SQLite (mostly "[]"), a list from psycopg."""
    if not value or value == "[]":
        return []
    parsed = orjson.loads(value) if isinstance(value, str) else value
    return [str(v) for v in parsed] if isinstance(parsed, list) else []


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# SQLSTATEs a concurrent writer causes and a retry of the same work cures: deadlock_detected,
# serialization_failure, lock_not_available. PostgreSQL aborts one side of a deadlock on purpose.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_transient_db_error(exc: BaseException) -> bool:
    """True for a failure that retrying the same transaction (or savepoint) may cure."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in TRANSIENT_SQLSTATES:
        return True
    # SQLite: another connection held the write lock longer than the busy timeout.
    return isinstance(exc, sa.exc.OperationalError) and "database is locked" in str(orig or exc)


def pause_after_conflict(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> None:
    """Sleep a jittered, doubling while before retrying work that lost a race (full jitter spreads the
    retries of the writers that collided, so they do not collide again)."""
    time.sleep(random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311 - jitter, not security

"""Another writer that commits at the worst moment for a transaction: after it has read, before it writes.

On SQLite (WAL) such a transaction, begun deferred, can no longer write ("database is locked" at once, whatever
the busy timeout); one begun IMMEDIATE holds the write lock, and the other writer waits for its commit.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from core.db import make_engine
from core.models import User

WRITER_NAME = "Concurrent Writer"


def commit_during(monkeypatch: pytest.MonkeyPatch, engine: sa.Engine, module: Any, name: str) -> list[threading.Thread]:
    """Wrap module.name, a function whose first argument is the session of the transaction under test: each
    call reads through that session, then another connection adds a user named WRITER_NAME and commits (waited
    for up to half a second: long enough to have committed unless our transaction holds the lock), then the
    original runs. Returns the writers' threads: join them before looking at what they stored."""
    original = getattr(module, name)
    writers: list[threading.Thread] = []

    def another_writer_commits() -> None:
        with Session(engine) as other:
            other.add(User(email=f"writer-{uuid.uuid4().hex[:12]}@firma.pl", name=WRITER_NAME, role="rep"))
            other.commit()

    def read_then_another_writer_commits(session: Session, *args: Any, **kwargs: Any) -> Any:
        session.execute(sa.text("SELECT count(*) FROM contacts")).scalar()
        writer = threading.Thread(target=another_writer_commits)
        writers.append(writer)
        writer.start()
        writer.join(0.5)
        return original(session, *args, **kwargs)

    monkeypatch.setattr(module, name, read_then_another_writer_commits)
    return writers


def writers_stored(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(User).where(User.name == WRITER_NAME)).all())


WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def commit_before_first_write(engine: sa.Engine) -> Iterator[list[threading.Thread]]:
    """While open: just before the first INSERT, UPDATE or DELETE that `engine` sends (a request's, after it read
    the signed-in user and whatever else it looks at), another connection of an engine of its own adds a user
    named WRITER_NAME and commits; waited for up to half a second, as in commit_during. For views whose writes
    are spread over helpers no single function wraps. Yields the writers' threads (at most one)."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    writers: list[threading.Thread] = []

    def another_writer_commits() -> None:
        with Session(other) as session:
            session.add(User(email=f"writer-{uuid.uuid4().hex[:12]}@firma.pl", name=WRITER_NAME, role="rep"))
            session.commit()

    def before_first_write(_conn, _cursor, statement: str, *_args: Any) -> None:  # noqa: ANN001
        if writers or not statement.lstrip().upper().startswith(WRITE_STATEMENTS):
            return
        writer = threading.Thread(target=another_writer_commits)
        writers.append(writer)
        writer.start()
        writer.join(0.5)

    sa.event.listen(engine, "before_cursor_execute", before_first_write)
    try:
        yield writers
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_first_write)
        for writer in writers:
            writer.join()
        other.dispose()

"""Alembic is the only schema authority: the migrated database must match the models exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import core.models  # noqa: F401


def _is_search_object(change: tuple) -> bool:
    obj = change[1] if len(change) > 1 else None
    name = getattr(obj, "name", "") or ""
    return change[0] in {"remove_table", "remove_index"} and name.startswith("search_")


def test_models_and_migrations_agree(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    # Full-text search tables and indexes (search_*) are made by raw SQL in a migration, not by models.
    diff = [d for d in diff if not _is_search_object(d)]
    assert diff == []


def test_sqlite_pragmas(sqlite_template) -> None:  # noqa: ANN001
    from core.db import make_engine

    engine = make_engine(f"sqlite:///{sqlite_template}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()

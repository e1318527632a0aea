"""Alembic environment: SQLModel's metadata, the configured URL, type comparison on, batch mode on SQLite."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def database_url() -> str:
    return (
        config.attributes.get("database_url")
        or os.environ.get("LEADHUB_DATABASE_URL")
        or "sqlite:///instance/leadhub.db"
    )


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Full-text search tables/indexes (search_*, created by raw SQL in 0006) are not models: leave them out."""
    return not (reflected and compare_to is None and (name or "").startswith("search_"))


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        include_object=include_object,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

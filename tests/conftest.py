"""Fixtures: every test gets a fresh app and database migrated by alembic (SQLite always; PostgreSQL too when
LEADHUB_TEST_DATABASE_URL names one). Test data goes through the same write helpers as production."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlmodel import Session, SQLModel

from core.crypto import SecretBox
from core.db import make_engine, normalize_database_url
from core.users import create_api_token, create_user

TEST_ENCRYPTION_KEY = SecretBox.generate_key()
# The in-process huey consumer logs "Shutting down" from an exit hook after pytest closed its streams; that
# is noise after the summary line, not a failure.
logging.raiseExceptions = False
POSTGRES_URL = os.environ.get("LEADHUB_TEST_DATABASE_URL", "")
# Property tests (tests.schema_data) draw the same examples on every run, so a red run can be re-run and a green
# one means the same thing on every machine. HYPOTHESIS_PROFILE=explore draws new ones, and more: run it when
# changing a mapping, and turn what it finds into a case.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=1000, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL:
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


def _migrate(url: str) -> None:
    from webapp.cli import upgrade_database

    upgrade_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of our own on the configured server, so parallel runs do not clobber each other."""
    admin_url = normalize_database_url(POSTGRES_URL)
    name = f"leadhub_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "leadhub.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path):  # noqa: ANN201
    from webapp import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "DEMO": "off",
            "FLASK": {"TESTING": True},
        }
    )
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["leadhub.engine"].dispose()
    app.extensions["leadhub.writer_engine"].dispose()


@pytest.fixture
def engine(app) -> sa.Engine:  # noqa: ANN001
    return app.extensions["leadhub.engine"]


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


class LeadhubRunner:
    """Runs the `leadhub` command group (not app.cli) against the test app."""

    def __init__(self, app):  # noqa: ANN001
        self._runner = app.test_cli_runner()

    def invoke(self, cli=None, args=None, **kwargs):  # noqa: ANN001, ANN201
        from webapp.cli import cli as leadhub_cli

        return self._runner.invoke(cli or leadhub_cli, args=args, **kwargs)


@pytest.fixture
def runner(app) -> LeadhubRunner:  # noqa: ANN001
    return LeadhubRunner(app)


@pytest.fixture
def admin_token(session: Session) -> str:
    user = create_user(session, email="admin@leadhub.example", role="admin", name="Admin", password="admin-password")
    token = create_api_token(session, user=user, name="tests")
    session.commit()
    return token


@pytest.fixture
def auth(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def rep_token(session: Session) -> str:
    user = create_user(session, email="rep@leadhub.example", role="rep", name="Rep", password="rep-password")
    token = create_api_token(session, user=user)
    session.commit()
    return token


def pytest_report_header(config: pytest.Config) -> list[str]:
    redis_url = os.environ.get("LEADHUB_TEST_REDIS_URL", "")
    return [
        "leadhub databases: SQLite" + (" and PostgreSQL (LEADHUB_TEST_DATABASE_URL)" if POSTGRES_URL else
                                       " only (LEADHUB_TEST_DATABASE_URL unset: PostgreSQL tests not run)"),
        "leadhub queues: embedded SQLite + immediate" + (" and Redis (LEADHUB_TEST_REDIS_URL)" if redis_url else
                                                          " only (LEADHUB_TEST_REDIS_URL unset: Redis tests skip)"),
    ]


CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """One headless Debian Chromium for the whole run (Playwright allows one sync driver per thread)."""
    if not Path(CHROMIUM_PATH).exists():
        pytest.fail(f"{CHROMIUM_PATH} is missing: run `make browser` (Debian's chromium; never a download)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()

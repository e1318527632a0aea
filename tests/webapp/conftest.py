"""Web app fixtures: users per role and signed-in test clients (sessions, not bearer tokens)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from core.models import User
from core.users import create_user

PASSWORD = "correct-horse-battery"


@pytest.fixture
def users(session: Session) -> dict[str, User]:
    made = {
        role: create_user(session, email=f"{role}@web.example", role=role.rstrip("2"), name=role.title(),
                          password=PASSWORD)
        for role in ("rep", "rep2", "manager", "admin")
    }
    session.commit()
    return made


def sign_in(client: FlaskClient, email: str) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(_user_id(client, email))
        flask_session["_fresh"] = True
    return client


def _user_id(client: FlaskClient, email: str) -> int:
    from sqlmodel import select

    from webapp.db import get_engine

    with client.application.app_context(), Session(get_engine()) as s:
        return s.exec(select(User.id).where(User.email == email)).one()


@pytest.fixture
def as_role(app, users):  # noqa: ANN001, ANN201
    """as_role("manager") -> a test client signed in as that user (CSRF off: forms are tested separately)."""

    def make(role: str) -> FlaskClient:
        app.config["WTF_CSRF_ENABLED"] = False
        return sign_in(app.test_client(), users[role].email)

    return make

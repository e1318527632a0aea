from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session

from core.users import create_user

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def rep(session: Session):  # noqa: ANN201
    user = create_user(session, email="owner@leadhub.example", role="rep", name="Rep Owner", password="rep-password")
    session.commit()
    return user


@pytest.fixture
def signed_in(client, rep):  # noqa: ANN001, ANN201
    """A test client signed in as the rep (CSRF is on in the app; tests read the token from the page)."""
    response = client.post(
        "/login", data={"email": rep.email, "password": "rep-password", "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302, response.data
    return client


def csrf_token(client, path: str) -> str:  # noqa: ANN001
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)

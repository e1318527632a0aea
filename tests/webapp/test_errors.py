"""A request that loses a race with another writer is answered 503 + Retry-After, never 500, and stores nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

import webapp.api.routes as api_routes
from core.models import Contact


class _DeadlockDetected(Exception):
    sqlstate = "40P01"


def _deadlock(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
    raise sa.exc.OperationalError("UPDATE contacts", {}, _DeadlockDetected("deadlock detected"))


def test_inbound_that_deadlocks_answers_503_and_stores_nothing(client, auth, engine, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(api_routes, "ingest", _deadlock)
    response = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"email": "ola@firma.pl"}},
                           headers=auth)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json["status"] == 503 and "retry" in response.json["error"]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 0

    monkeypatch.undo()  # the same request, once the other writer is done, succeeds
    again = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"email": "ola@firma.pl"}}, headers=auth)
    assert again.status_code == 201


@pytest.mark.parametrize(("error", "status"), [
    (sa.exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")), 503),
    (sa.exc.OperationalError("SELECT", {}, Exception("no such table: contacts")), 500),
])
def test_pages_tell_busy_from_broken(app, error: Exception, status: int) -> None:  # noqa: ANN001
    def fails():  # noqa: ANN202
        raise error

    app.add_url_rule("/_test/fails", "test_fails", fails)
    response = app.test_client().get("/_test/fails", headers={"Accept": "text/html"})
    assert response.status_code == status
    assert ("Retry-After" in response.headers) is (status == 503)
    assert b"Traceback" not in response.data

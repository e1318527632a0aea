"""Intercom fixtures: the emulator served on 127.0.0.1 (werkzeug, port 0) with every API call it answers —
and every request leadhub sends it — validated against Intercom's own OpenAPI description (2.16)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from connectors.intercom.emulator import IntercomEmulator
from core.models import ConnectorAccount

SPEC_PATH = Path("/work/shared/fixtures/api-specs/intercom-2.16.openapi.yaml")
if not SPEC_PATH.exists():  # the repository's relative location of the shared fixtures
    SPEC_PATH = Path(__file__).resolve().parents[4] / "shared/fixtures/api-specs/intercom-2.16.openapi.yaml"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"


@pytest.fixture(scope="session")
def intercom_openapi():  # noqa: ANN201
    from openapi_core import Config, OpenAPI

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open() as handle:
        spec = yaml.load(handle, Loader=loader)
    spec["servers"] = [{"url": "/"}]  # match the emulator's host instead of https://api.intercom.io
    # Intercom's file has an unresolved path parameter elsewhere; the parts we use are checked by validation.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class Served:
    """A WSGI app on 127.0.0.1:<free port> in a thread; `clock` (epoch seconds) dates its answers (the Date header
    the server writes), so an emulator on a test's clock answers as a server on that clock would."""

    def __init__(self, wsgi_app: Any, clock: Callable[[], float] | None = None):
        handler = WSGIRequestHandler
        if clock is not None:
            class Dated(WSGIRequestHandler):
                def date_time_string(self, timestamp: float | None = None) -> str:
                    return formatdate(clock() if timestamp is None else timestamp, usegmt=True)

            handler = Dated
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    started: list[Served] = []

    def start(wsgi_app: Any, clock: Callable[[], float] | None = None) -> Served:
        served = Served(wsgi_app, clock)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def emulator(intercom_openapi, serve) -> Iterator[IntercomEmulator]:  # noqa: ANN001
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

    emulator = IntercomEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    emulator.spec_errors = []  # type: ignore[attr-defined]
    emulator.spec_checked = 0  # type: ignore[attr-defined]

    def validate(request: Any, response: Any) -> None:
        wrapped = WerkzeugOpenAPIRequest(request)
        try:
            intercom_openapi.validate_request(wrapped)
            if response.status_code < 400:  # injected faults are not described per operation
                intercom_openapi.validate_response(wrapped, WerkzeugOpenAPIResponse(response))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            detail = getattr(exc, "__cause__", None) or exc
            emulator.spec_errors.append(f"{request.method} {request.full_path}: {exc!r} {detail!r}"[:2000])
        emulator.spec_checked += 1

    emulator.validator = validate
    emulator.url = serve(emulator.create_app(), lambda: emulator.clock()).url  # type: ignore[attr-defined]
    yield emulator


@pytest.fixture
def intercom_settings(app, emulator) -> dict[str, Any]:  # noqa: ANN001
    settings = app.config["LEADHUB"]
    settings.update(
        INTERCOM_API_URL=emulator.url,
        INTERCOM_AUTHORIZE_URL=emulator.url + "/oauth",
        INTERCOM_TOKEN_URL=emulator.url + "/auth/eagle/token",
        INTERCOM_CLIENT_ID=CLIENT_ID,
        INTERCOM_CLIENT_SECRET=CLIENT_SECRET,
    )
    return settings


@pytest.fixture
def intercom_account(app, session: Session, emulator, intercom_settings) -> ConnectorAccount:  # noqa: ANN001
    box = app.extensions["leadhub.secretbox"]
    account = ConnectorAccount(
        type="intercom",
        label=emulator.workspace_name,
        external_id=emulator.workspace_id,
        credentials_encrypted=box.encrypt({"access_token": emulator.issue_token()}),
        config={"workspace_id": emulator.workspace_id, "admin_id": emulator.admin["id"]},
    )
    session.add(account)
    session.commit()
    return account

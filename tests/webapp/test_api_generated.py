"""Our own API against bodies generated from its own OpenAPI document (tests/schema_data.py): any body the document
describes, and many it does not, gets an answer the document describes and never a 500. Checked on SQLite and,
when configured, PostgreSQL; the examples are derandomized (the `repeatable` profile), HYPOTHESIS_PROFILE=explore
draws new ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder

from tests.schema_data import TEXT, SchemaData

# Values the validators accept, so that generated bodies reach the store and not only the 400 path.
EMAILS = st.sampled_from(["anna@budmax.pl", "Łukasz.Wójcik@Gmail.com", "olga@технопром.рф", "x+tag@firma.pl",
                          "ANNA@BUDMAX.PL", "info@budmax.pl", "not-an-email", "@", ""])
PHONES = st.sampled_from(["601 234 567", "+48 601 234 567", "8 (916) 123-45-67", "+7 916 123 45 67",
                          "22 123 45 67 wew. 12", "123", "++48", ""])
LINKEDIN = st.sampled_from(["https://pl.linkedin.com/in/anna-nowak/", "linkedin.com/in/олег", "https://x.pl/in/a",
                            ""])
DATES = st.sampled_from(["2026-11-20T10:00:00+01:00", "2026-11-20T10:00:00Z", "2026-11-20", "9999-12-31T23:59:59Z",
                         "0001-01-01T00:00:00+14:00", "yesterday", 1796638500, 1796638500000, 2026, "46363"])
CHANNELS = st.sampled_from(["gmail", "form", "intercom", "linkedin", "api", "fax", ""])
KEYS = st.one_of(st.sampled_from(["rec-1", "rec-2"]), TEXT)  # repeated keys: the same record again
IDS = st.one_of(st.integers(min_value=1, max_value=40), st.integers(), st.sampled_from([2**31, 2**63]), TEXT)
PATH_IDS = st.one_of(st.integers(min_value=1, max_value=40), st.integers(), st.sampled_from([2**31, 2**63]),
                     st.sampled_from(["abc", "1.5", "-1", "0x1", "%00", "١", "1e3"]))
SETTINGS = settings(max_examples=max(60, settings().max_examples // 2), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


def _document(client) -> dict[str, Any]:  # noqa: ANN001
    return client.get("/api/openapi.json").json


def _check(spec: OpenAPI, response, method: str, path: str, body: Any) -> None:  # noqa: ANN001
    assert response.status_code < 500, (method, path, body, response.status_code, response.get_data(as_text=True))
    request = EnvironBuilder(path=path, method=method.upper(), json=body).get_request()
    spec.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))


def _inbound_bodies(data: SchemaData) -> st.SearchStrategy[Any]:
    contact = st.fixed_dictionaries({}, optional={"name": TEXT, "email": EMAILS, "phone": PHONES,
                                                  "linkedin_url": LINKEDIN, "company": TEXT,
                                                  "external_user_id": TEXT})
    message = st.fixed_dictionaries({"external_id": KEYS}, optional={
        "thread_id": TEXT, "direction": st.sampled_from(["in", "out", "sideways"]), "sent_at": DATES,
        "subject": TEXT, "text": TEXT, "html": TEXT})
    plausible = st.fixed_dictionaries({"channel": CHANNELS, "external_id": KEYS, "contact": contact},
                                      optional={"message": message})
    return st.one_of(plausible, plausible, data.of("InboundRecord"))


def test_inbound_answers_as_documented_to_generated_records(client, auth) -> None:  # noqa: ANN001
    document = _document(client)
    spec = OpenAPI.from_dict(document)
    data = SchemaData(document["components"]["schemas"])
    statuses: set[int] = set()

    @SETTINGS
    @given(body=_inbound_bodies(data))
    # (the draws follow the document: a change to it may draw no new record, and 201 must be seen whatever it draws)
    @example(body={"channel": "api", "external_id": 4711, "contact": {"email": "anna@budmax.pl"}})
    def post(body: Any) -> None:
        response = client.post("/api/v1/inbound", json=body, headers=auth)
        statuses.add(response.status_code)
        _check(spec, response, "post", "/api/v1/inbound", body)

    post()
    assert {200, 201, 400} <= statuses, statuses


SEEDED = st.integers(min_value=1, max_value=3)  # the leads the test makes first
STAGES = st.sampled_from(["new", "mql", "sql", "customer", "non_target", "MQL", "lost", ""])
REASONS = st.sampled_from(["wrong_fit", "spam", "competitor", "no_budget", "other", "bogus"])


@pytest.mark.parametrize(("method", "template", "component", "overrides", "valid"), [
    ("post", "/api/v1/contacts/{id}/merge", None, {}, {"other_id": 2}),
    ("patch", "/api/v1/contacts/{id}/qualification", "QualificationUpdate", {}, {"need": "40 krzeseł"}),
    ("post", "/api/v1/contacts/{id}/stage", "StageRequest", {"stage": STAGES, "reason": REASONS}, {"stage": "sql"}),
    ("post", "/api/v1/linkedin/profiles", "ProfileIn", {"profile_url": LINKEDIN},
     {"name": "Anna Nowak", "profile_url": "https://pl.linkedin.com/in/anna-nowak/"}),
])
def test_writes_answer_as_documented_to_generated_bodies(client, auth, method: str, template: str,  # noqa: ANN001
                                                         component: str | None, overrides: dict, valid: dict) -> None:
    document = _document(client)
    spec = OpenAPI.from_dict(document)
    data = SchemaData(document["components"]["schemas"])
    for number in range(1, 4):  # leads to act on: ids 1.. exist, others do not
        client.post("/api/v1/inbound", headers=auth, json={
            "channel": "api", "external_id": f"seed-{number}",
            "contact": {"name": f"Anna Nowak {number}", "email": f"anna{number}@budmax.pl"},
            "message": {"external_id": f"seed-{number}", "text": "Proszę o ofertę"}})
    body_strategy = (st.one_of(data.of(component), data.of(component, **overrides)) if component else
                     st.fixed_dictionaries({}, optional={"other_id": st.one_of(SEEDED, IDS)}))
    statuses: set[int] = set()

    @SETTINGS
    @given(target=st.one_of(SEEDED, PATH_IDS), body=st.one_of(body_strategy, body_strategy, st.none(), st.lists(st.integers(), max_size=2),
                                      TEXT))
    def send(target: Any, body: Any) -> None:
        path = template.replace("{id}", str(target))
        response = getattr(client, method)(path, json=body, headers=auth)
        statuses.add(response.status_code)
        _check(spec, response, method, path, body)

    example(target=1, body=valid)(send)()  # one request the document calls valid, whatever is drawn
    assert any(status < 300 for status in statuses) and any(status >= 400 for status in statuses), statuses

"""The public API contract: behaviour, bad inputs (never a 500), and conformance to /api/openapi.json."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate

INBOUND = {
    "channel": "gmail",
    "external_id": "rec-1",
    "contact": {"name": "Łukasz Wójcik", "email": "Lukasz@Budmax.pl", "phone": "601 234 567", "company": "Budmax"},
    "message": {"external_id": "<abc@mail>", "thread_id": "t1", "direction": "in",
                "sent_at": "2026-11-20T10:00:00+01:00", "subject": "Oferta", "text": "Proszę o ofertę",
                "html": "<p onclick='x()'>Proszę <script>alert(1)</script>o ofertę</p>"},
}


@pytest.fixture
def spec(client) -> OpenAPI:  # noqa: ANN001
    document = client.get("/api/openapi.json").json
    validate(document)
    return OpenAPI.from_dict(document)


def checked(spec: OpenAPI, client, method: str, path: str, **kwargs: Any):  # noqa: ANN001, ANN201
    """Make a request and validate request and response against the OpenAPI document."""
    response = getattr(client, method)(path, **kwargs)
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path.split("?")[0], method=method.upper(), query_string=path.partition("?")[2],
                             json=kwargs.get("json"), headers=kwargs.get("headers"))
    request = builder.get_request()
    spec.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return response


def test_openapi_document_is_valid(spec: OpenAPI) -> None:
    assert spec is not None


def test_inbound_flow_conforms_to_openapi(client, auth, spec) -> None:
    created = checked(spec, client, "post", "/api/v1/inbound", json=INBOUND, headers=auth)
    assert created.status_code == 201
    body = created.json
    assert body["status"] == "created" and body["message_id"] and body["merged_contact_ids"] == []
    again = checked(spec, client, "post", "/api/v1/inbound", json=INBOUND, headers=auth)
    assert again.status_code == 200 and again.json["message_id"] == body["message_id"]
    page = checked(spec, client, "get", "/api/v1/contacts?q=budmax&limit=10", headers=auth).json
    assert [i["emails"] for i in page["items"]] == [["lukasz@budmax.pl"]]
    contact_id = body["contact_id"]
    detail = checked(spec, client, "get", f"/api/v1/contacts/{contact_id}", headers=auth).json
    assert {i["kind"] for i in detail["identities"]} == {"email", "phone"}
    items = checked(spec, client, "get", f"/api/v1/contacts/{contact_id}/timeline", headers=auth).json["items"]
    assert len(items) == 1 and "script" not in items[0]["html"] and "onclick" not in items[0]["html"]
    assert items[0]["sent_at"] == "2026-11-20T09:00:00+00:00"
    checked(spec, client, "get", "/api/v1/duplicates", headers=auth)


def test_contact_list_filters_and_cursor(client, auth) -> None:
    for n in range(5):
        body = {"channel": "form" if n % 2 else "gmail", "contact": {"name": f"Person {n}", "email": f"p{n}@firma.pl"},
                "message": {"external_id": f"m{n}", "text": "hi"}}
        assert client.post("/api/v1/inbound", json=body, headers=auth).status_code == 201
    first = client.get("/api/v1/contacts?limit=2", headers=auth).json
    second = client.get(f"/api/v1/contacts?limit=2&cursor={first['next_cursor']}", headers=auth).json
    third = client.get(f"/api/v1/contacts?limit=2&cursor={second['next_cursor']}", headers=auth).json
    names = [i["name"] for page in (first, second, third) for i in page["items"]]
    assert names == [f"Person {n}" for n in (4, 3, 2, 1, 0)] and third["next_cursor"] is None
    forms = client.get("/api/v1/contacts?channel=form", headers=auth).json["items"]
    assert sorted(i["name"] for i in forms) == ["Person 1", "Person 3"]
    newest = first["items"][0]
    both = client.get(f"/api/v1/contacts?stage={newest['stage']}&temperature={newest['temperature']}", headers=auth)
    assert newest["id"] in [i["id"] for i in both.json["items"]]
    assert {(i["stage"], i["temperature"]) for i in both.json["items"]} == {(newest["stage"], newest["temperature"])}


def test_contact_list_by_owner(client, auth, session) -> None:  # noqa: ANN001
    from core.models import Contact
    from core.users import create_user

    rep = create_user(session, email="owner-filter@x.pl", role="rep", name="Olek", password="pw-123456")
    session.commit()
    ids = [client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": f"Owned {n}",
                                                                             "email": f"own{n}@firma.pl"}},
                       headers=auth).json["contact_id"] for n in range(3)]
    session.rollback()
    for contact_id in ids[:2]:
        contact = session.get(Contact, contact_id)
        contact.owner_id = rep.id
        session.add(contact)
    session.commit()
    mine = client.get(f"/api/v1/contacts?owner={rep.id}", headers=auth).json["items"]
    assert sorted(i["id"] for i in mine) == sorted(ids[:2])
    assert client.get("/api/v1/contacts?owner=999999", headers=auth).json["items"] == []


def test_merge_undo_and_survivor_lookup(client, auth) -> None:
    a = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": "A", "email": "a@x.pl"}}, headers=auth).json
    b = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": "B", "email": "b@x.pl"}}, headers=auth).json
    merged = client.post(f"/api/v1/contacts/{a['contact_id']}/merge", json={"other_id": b["contact_id"]}, headers=auth)
    assert merged.status_code == 201
    assert client.get(f"/api/v1/contacts/{b['contact_id']}", headers=auth).json["id"] == a["contact_id"]
    merge_id = merged.json["merge"]["id"]
    assert client.post(f"/api/v1/merges/{merge_id}/undo", headers=auth).status_code == 200
    assert client.get(f"/api/v1/contacts/{b['contact_id']}", headers=auth).json["id"] == b["contact_id"]
    assert client.post(f"/api/v1/merges/{merge_id}/undo", headers=auth).status_code == 409
    assert client.post(f"/api/v1/contacts/{a['contact_id']}/merge", json={"other_id": a["contact_id"]}, headers=auth).status_code == 409
    assert client.post(f"/api/v1/contacts/{a['contact_id']}/merge", json={"other_id": 99999}, headers=auth).status_code == 404


def test_erase_needs_manager_and_works(client, auth, rep_token) -> None:
    a = client.post("/api/v1/inbound", json=INBOUND, headers=auth).json
    rep = {"Authorization": f"Bearer {rep_token}"}
    assert client.delete(f"/api/v1/contacts/{a['contact_id']}", headers=rep).status_code == 403
    exported = client.get(f"/api/v1/contacts/{a['contact_id']}/export", headers=auth).json
    assert exported["messages"][0]["subject"] == "Oferta"
    assert client.delete(f"/api/v1/contacts/{a['contact_id']}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/contacts/{a['contact_id']}", headers=auth).status_code == 404
    assert client.post("/api/v1/inbound", json=INBOUND, headers=auth).json["status"] == "suppressed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "gmail", "contact": {"email": 5}}, "contact.email"),
        ({"channel": "nonsense channel!", "contact": {"email": "a@b.pl"}}, "channel"),
        ({"channel": "carrier-pigeon", "contact": {"email": "a@b.pl"}}, "channel"),
        ({"channel": "myspace", "contact": {"email": "a@b.pl"}}, "channel"),
        ({"contact": {"email": "a@b.pl"}}, "channel"),
        ({"channel": "api", "contact": {"email": "not-an-email"}}, "contact.email"),
        ({"channel": "api", "contact": {"phone": "call me maybe"}}, "contact.phone"),
        ({"channel": "api", "contact": {"linkedin_url": "https://example.com/in/x"}}, "contact.linkedin_url"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"direction": "sideways", "external_id": "1"}}, "message.direction"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1", "sent_at": "yesterday"}}, "message.sent_at"),
        # Times with no UTC time in datetime's years (stored in UTC): a 500 before.
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1",
                                                                       "sent_at": "0001-01-01T00:00:00+14:00"}},
         "message.sent_at"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1",
                                                                       "sent_at": "9999-12-31T23:59:59-14:00"}},
         "message.sent_at"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"text": "no id"}}, "body"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "surprise": 1}, "surprise"),
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "owner_id": 1}, "owner_id"),
        ({"channel": "api", "contact": ["a@b.pl"]}, "contact"),
        ({"channel": "api", "contact": {"name": "x" * 5000, "email": "a@b.pl"}}, "contact.name"),
        # A list item as long as a single field may be, and not a whole address book in one field.
        ({"channel": "api", "contact": {"emails": ["a" * 400 + "@b.pl"]}}, "contact.emails.0"),
        # More than SMTP carries before the @ (64 octets, RFC 5321 4.5.3.1.1): taken, and stored, before.
        ({"channel": "api", "contact": {"email": "a" * 65 + "@firma.pl"}}, "contact.email"),
        ({"channel": "api", "contact": {"emails": [", ".join(f"a{i}@b.pl" for i in range(40))]}}, "contact.emails.0"),
        ({"channel": "api", "contact": {"phones": ["601 234 567 / " * 10]}}, "contact.phones.0"),
        # Half a UTF-16 pair, no character: the batch writers could not store it (an import stopped over one).
        ({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1", "meta": {"x": "\ud800"}}},
         "message.meta"),
    ],
)
def test_inbound_bad_input_is_400_with_fields(client, auth, body: dict, field: str) -> None:
    response = client.post("/api/v1/inbound", json=body, headers=auth)
    assert response.status_code == 400, response.json
    fields = response.json.get("fields", {})
    assert field in fields or (field == "body" and "external_id" in str(fields)), response.json


def test_record_with_nothing_to_identify_by_is_400(client, auth) -> None:
    response = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": "Nobody"}}, headers=auth)
    assert response.status_code == 400 and "identify" in response.json["error"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"null", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"channel=api", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
        # Python's parser reads these, JSON has no such numbers: stored in a message's meta, the contact's export
        # answered {"meta": {"score": NaN}}, which no JSON client parses.
        (b'{"channel": "api", "external_id": "n", "contact": {"email": "a@b.pl"}, "message": {"meta": {"score": NaN}}}',
         "application/json", 400),
        (b'{"channel": "api", "external_id": "n", "contact": {"email": "a@b.pl"}, "message": {"meta": {"x": -Infinity}}}',
         "application/json", 400),
        # A number beyond a 64-bit float is read as infinity: stored as the same non-JSON Infinity (on PostgreSQL,
        # whose JSON refuses it, an error).
        (b'{"channel": "api", "external_id": "n", "contact": {"email": "a@b.pl"}, "message": {"meta": {"x": 1e400}}}',
         "application/json", 400),
        (b'{"channel": "api", "external_id": "n", "contact": {"email": "a@b.pl"}, "message": {"meta": {"x": -2e308}}}',
         "application/json", 400),
    ],
)
def test_inbound_malformed_bodies(client, auth, data: bytes, content_type: str, status: int) -> None:
    response = client.post("/api/v1/inbound", data=data, content_type=content_type, headers=auth)
    assert response.status_code == status and response.is_json


def test_oversize_body_is_413(client, auth, app) -> None:
    big = {"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1", "text": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)}}
    response = client.post("/api/v1/inbound", json=big, headers=auth)
    assert response.status_code == 413 and response.is_json


@pytest.mark.parametrize(("extra", "status"), [(10, 413), (-10, 201)])
def test_a_chunked_body_is_held_to_the_same_limit(client, auth, app, extra: int, status: int) -> None:
    """A body without a Content-Length (Transfer-Encoding: chunked; gunicorn and werkzeug's server de-chunk it and
    set wsgi.input_terminated). One over the limit was cut at it and answered 400 "the body is not valid JSON"
    instead of the documented 413."""
    import io
    import json

    head = json.dumps({"channel": "api", "contact": {"email": "a@b.pl"}, "message": {"external_id": "1", "html": ""}})
    body = head[:-3] + "x" * (app.config["MAX_CONTENT_LENGTH"] - len(head) + extra) + head[-3:]
    response = client.post("/api/v1/inbound", input_stream=io.BytesIO(body.encode()),
                           environ_overrides={"wsgi.input_terminated": True},
                           headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert response.status_code == status and response.is_json, response.json


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer " + "x" * 5000}])
def test_missing_or_wrong_token_is_401(client, headers) -> None:
    response = client.post("/api/v1/inbound", json=INBOUND, headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/contacts", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/api/v1/contacts?limit=abc", "/api/v1/contacts?limit=0", "/api/v1/contacts?limit=100000", "/api/v1/contacts?cursor=%%%",
     "/api/v1/contacts?cursor=WzFd", "/api/v1/contacts?stage=hot", "/api/v1/contacts?owner=x", "/api/v1/duplicates?status=maybe",
     "/api/v1/contacts/1/timeline?cursor=bad"],
)
def test_bad_queries_are_400(client, auth, path: str) -> None:
    client.post("/api/v1/inbound", json=INBOUND, headers=auth)
    response = client.get(path, headers=auth)
    assert response.status_code == 400, (path, response.json)


def test_unknown_things_are_404_json(client, auth) -> None:
    for path in ("/api/v1/contacts/123456", "/api/v1/contacts/123456/timeline", "/api/v1/nothing"):
        response = client.get(path, headers=auth)
        assert response.status_code == 404 and response.is_json
    assert client.post("/api/v1/merges/999/undo", headers=auth).status_code == 404


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["checks"]["database"] == "ok"


def test_concurrent_posts_all_stored_without_errors(app, admin_token) -> None:
    """Threads posting at once (as under `leadhub serve`) all get 201 and every message is stored once."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import Session, select

    from core.models import Message

    headers = {"Authorization": f"Bearer {admin_token}"}

    def post(n: int) -> int:
        body = {"channel": "api", "contact": {"name": f"P {n % 5}", "email": f"p{n % 5}@firma.pl"},
                "message": {"external_id": f"c-{n}", "text": "hi"}}
        return app.test_client().post("/api/v1/inbound", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(40)))
    assert statuses == [201] * 40
    with Session(app.extensions["leadhub.engine"]) as session:
        assert len(session.exec(select(Message)).all()) == 40


def test_a_write_committed_between_token_check_and_view_does_not_fail_the_request(app, auth, monkeypatch) -> None:
    """Another request commits right after this one read its token (the race behind a 503 under concurrent
    posts on SQLite): the token's last-use time is still recorded, and the post is stored."""
    from sqlmodel import Session, select

    import webapp.api.auth as api_auth
    from core.models import ApiToken, User

    engine = app.extensions["leadhub.engine"]
    read_token = api_auth.user_for_token

    def read_then_another_writer_commits(session, token):  # noqa: ANN001, ANN202
        found = read_token(session, token)
        with Session(engine) as other:  # a second connection, as another request's would be
            user = other.exec(select(User)).first()
            user.name = user.name + "."
            other.add(user)
            other.commit()
        return found

    monkeypatch.setattr(api_auth, "user_for_token", read_then_another_writer_commits)
    response = app.test_client().post("/api/v1/inbound", json=INBOUND, headers=auth)
    assert response.status_code == 201, response.json
    with Session(engine) as session:
        assert session.exec(select(ApiToken)).one().last_used_at is not None


@pytest.mark.parametrize("step", ["merge", "undo", "stage", "qualification", "erase"])
def test_api_changes_wait_for_a_concurrent_writer_instead_of_failing(app, client, auth, monkeypatch, step: str) -> None:
    """A change through the API while something else writes (an import, a sync, another request): that writer
    commits after the view has read. On SQLite the view could then not write any more and answered 503; its
    transaction now takes the write lock first, so the other writer waits for it. Both land."""
    import webapp.api.qualification
    import webapp.api.routes
    from tests.racing import commit_during, writers_stored

    engine = app.extensions["leadhub.engine"]
    a = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": "Anna Kowalska", "email": "a@x.pl"}},
                    headers=auth).json["contact_id"]
    b = client.post("/api/v1/inbound", json={"channel": "api", "contact": {"name": "Piotr Nowak", "email": "b@x.pl"}},
                    headers=auth).json["contact_id"]
    merge_id = None
    if step == "undo":
        merge_id = client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b}, headers=auth).json["merge"]["id"]
    routes, qualification = webapp.api.routes, webapp.api.qualification
    call = {
        "merge": (routes, "merge_contacts", lambda: client.post(f"/api/v1/contacts/{a}/merge", json={"other_id": b}, headers=auth), 201),
        "undo": (routes, "undo_merge", lambda: client.post(f"/api/v1/merges/{merge_id}/undo", headers=auth), 200),
        "stage": (qualification, "set_stage", lambda: client.post(f"/api/v1/contacts/{a}/stage", json={"stage": "mql"}, headers=auth), 201),
        "qualification": (qualification, "update_bant", lambda: client.patch(f"/api/v1/contacts/{a}/qualification", json={"need": "roof"}, headers=auth), 200),
        "erase": (routes, "erase_contact", lambda: client.delete(f"/api/v1/contacts/{b}", headers=auth), 200),
    }
    module, name, request, expected = call[step]
    writers = commit_during(monkeypatch, engine, module, name)
    response = request()
    for writer in writers:
        writer.join()
    assert response.status_code == expected, response.json
    assert len(writers) == 1
    assert writers_stored(engine) == 1


@pytest.mark.parametrize("query", [
    "Łukasz", "ŁUKASZ WÓJCIK",  # Polish capitals: SQLite's LIKE folds the case of ASCII only
    "wojcik", "Lukasz Wojcik",  # without the marks, as reps type ("Ł" has none to drop for full-text search)
    "Петров", "иван петров",  # Cyrillic in any case
    "601 234 567", "+48 (0) 601-234-567",  # a number as people write it
    "+48 601 2", "601 234", "0048 601-23",  # its start, as people type it
    "L.W+crm@Gmail.com",  # an address as written, to the key it normalises to
    "tehnoprom", "Budmax",
    "petrov", "IVAN PETROV", "tekhno",  # a Cyrillic name in Latin letters, as reps with Polish keyboards type it
    "ukasz", "ójci",  # part of a word, with or without its marks
])
def test_contact_search_finds_people_as_their_names_and_numbers_are_written(client, auth, spec, query: str) -> None:
    """The API's q found "Łukasz" only as typed in ASCII case, Cyrillic names not at all, and phone numbers only
    as stored (+48601234567)."""
    people = [("Łukasz Wójcik", "l.w@gmail.com", "601 234 567", "Budmax"),
              ("Иван Петров", "ivan@tehnoprom.ru", "+7 916 123-45-67", "Технопром tehnoprom"),
              ("Anna Nowak", "anna@hurtex.pl", "602 345 678", "Hurtex")]
    for i, (name, email, phone, company) in enumerate(people):
        record = {"channel": "api", "external_id": f"s{i}",
                  "contact": {"name": name, "email": email, "phone": phone, "company": company}}
        assert client.post("/api/v1/inbound", json=record, headers=auth).status_code == 201
    page = checked(spec, client, "get", "/api/v1/contacts", query_string={"q": query}, headers=auth).json
    cyrillic = ("Петров", "иван петров", "tehnoprom", "petrov", "IVAN PETROV", "tekhno")
    expected = "Иван Петров" if query in cyrillic else "Łukasz Wójcik"
    assert [item["name"] for item in page["items"]] == [expected], query


@pytest.mark.parametrize(("sent_at", "stored"), [
    (1796638500, "2026-12-07T10:15:00+00:00"), (1796638500000, "2026-12-07T10:15:00+00:00"),
    (2026, None), ("2026", None), (46363, None), (-1, None), (10**20, None),
])
def test_a_numeric_sent_at_is_unix_seconds_or_milliseconds(client, auth, sent_at: object, stored: str | None) -> None:
    """A year sent as a number (2026) was stored as a message of 1970-01-01 00:33:46; it is now a 400 naming
    the field, and seconds and milliseconds are read as what they are."""
    body = {"channel": "api", "contact": {"email": "anna@firma.pl"},
            "message": {"external_id": "m-1", "sent_at": sent_at, "text": "Dzień dobry"}}
    response = client.post("/api/v1/inbound", json=body, headers=auth)
    if stored is None:
        assert response.status_code == 400 and "message.sent_at" in response.json["fields"], response.json
        assert "Unix time" in response.json["fields"]["message.sent_at"]
        return
    assert response.status_code == 201, response.json
    items = client.get(f"/api/v1/contacts/{response.json['contact_id']}/timeline", headers=auth).json["items"]
    assert [item["sent_at"] for item in items] == [stored]


def _cursor(value: dict) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_timeline_cursor_stays_where_it_was_after_its_message_is_gone(client, auth) -> None:
    """The cursor named the page's last message and was read by looking that message up: once the message was
    gone (erased with a person merged in, given back by an undone merge) or for a cursor naming no message, the
    next page began again at the first message, and a client paging to the end read the timeline round and
    round. The cursor now carries the position itself; a tampered one is a 400, never a page from the start."""
    def post(n: int, email: str, day: int) -> dict:
        return client.post("/api/v1/inbound", headers=auth, json={
            "channel": "api", "contact": {"email": email},
            "message": {"external_id": f"m{n}", "text": f"message {n}", "sent_at": f"2026-12-0{day}T10:00:00Z"}}).json

    anna = post(1, "anna@firma.pl", 1)["contact_id"]
    post(3, "anna@firma.pl", 3)
    post(4, "anna@firma.pl", 4)
    bea = post(2, "bea@firma.pl", 2)["contact_id"]
    merge = client.post(f"/api/v1/contacts/{anna}/merge", headers=auth, json={"other_id": bea}).json["merge"]
    first = client.get(f"/api/v1/contacts/{anna}/timeline?limit=2", headers=auth).json
    assert [item["text"] for item in first["items"]] == ["message 1", "message 2"]
    assert client.post(f"/api/v1/merges/{merge['id']}/undo", headers=auth).status_code == 200  # message 2 is Bea's
    assert client.delete(f"/api/v1/contacts/{bea}", headers=auth).status_code == 200  # and is erased with her
    rest = client.get(f"/api/v1/contacts/{anna}/timeline?limit=2&cursor={first['next_cursor']}", headers=auth).json
    assert [item["text"] for item in rest["items"]] == ["message 3", "message 4"] and rest["next_cursor"] is None
    for tampered in ({"after_id": 999999}, {"after_id": 1, "at": "yesterday"}, {"after_id": 1, "at": 5},
                     {"after_id": 1, "at": "2026-12-01T10:00:00"}, {"after_id": "1", "at": "2026-12-01T10:00:00Z"},
                     {"before_id": 1}):
        response = client.get(f"/api/v1/contacts/{anna}/timeline?cursor={_cursor(tampered)}", headers=auth)
        assert response.status_code == 400 and "cursor" in response.json["fields"], (tampered, response.json)


def test_a_suggestion_whose_pair_was_merged_is_not_dismissed(client, auth) -> None:
    """Dismissing a suggestion (from a list read before) whose two people had been merged since marked it
    "dismissed": the merged pair then said "two different people". It is a 409 now, saying to undo the merge;
    the suggestion stays merged."""
    ids = [client.post("/api/v1/inbound", headers=auth, json={
        "channel": "api", "contact": {"name": name, "email": email, "company": "Budmax"}}).json["contact_id"]
        for name, email in [("Łukasz Wójcik", "lukasz@budmax.pl"), ("Lukasz Wojcik", "l.wojcik@budmax.pl")]]
    suggestion = client.get("/api/v1/duplicates", headers=auth).json["items"][0]
    merged = client.post(f"/api/v1/contacts/{ids[0]}/merge", headers=auth, json={"other_id": ids[1]})
    assert merged.status_code == 201
    response = client.post(f"/api/v1/duplicates/{suggestion['id']}/dismiss", headers=auth)
    assert response.status_code == 409 and "undo" in response.json["error"], response.json
    assert client.get("/api/v1/duplicates?status=dismissed", headers=auth).json["items"] == []
    assert client.post("/api/v1/duplicates/99999/dismiss", headers=auth).status_code == 404
    # Undone, the pair is two people: dismissing it again is no error.
    assert client.post(f"/api/v1/merges/{merged.json['merge']['id']}/undo", headers=auth).status_code == 200
    assert client.post(f"/api/v1/duplicates/{suggestion['id']}/dismiss", headers=auth).status_code == 200


def test_merged_suggestions_are_listed(client, auth) -> None:
    """GET /api/v1/duplicates?status=merged listed only pairs of two live contacts, and a merged pair never is
    (one of them is merged away): the list was always empty."""
    ids = [client.post("/api/v1/inbound", headers=auth, json={
        "channel": "api", "contact": {"name": name, "email": email, "company": "Budmax"}}).json["contact_id"]
        for name, email in [("Łukasz Wójcik", "lukasz@budmax.pl"), ("Lukasz Wojcik", "l.wojcik@budmax.pl")]]
    suggestion = client.get("/api/v1/duplicates", headers=auth).json["items"][0]
    assert client.post(f"/api/v1/contacts/{ids[0]}/merge", headers=auth, json={"other_id": ids[1]}).status_code == 201
    assert client.get("/api/v1/duplicates", headers=auth).json["items"] == []
    merged = client.get("/api/v1/duplicates?status=merged", headers=auth).json["items"]
    assert [(s["id"], s["status"], s["contact_b_name"]) for s in merged] == [
        (suggestion["id"], "merged", suggestion["contact_b_name"])]


@pytest.mark.parametrize("order", ["first merge undone first", "last merge undone first"])
def test_undoing_two_merges_in_either_order_gives_each_person_back_their_own(client, auth, order: str) -> None:
    """Bea merged into Anna, then Anna into Cel. Undoing the first merge and then the second gave Anna back, with
    the second merge's record of what it moved, Bea's address and message too: Bea was left a live contact with
    nothing, and Anna held her identity. Each undo now takes back only what is still where its merge put it."""
    def post(n: int, name: str, email: str) -> int:
        return client.post("/api/v1/inbound", headers=auth, json={
            "channel": "api", "contact": {"name": name, "email": email},
            "message": {"external_id": f"m{n}", "text": f"from {name}"}}).json["contact_id"]

    anna, bea, cel = post(1, "Anna", "anna@firma.pl"), post(2, "Bea", "bea@firma.pl"), post(3, "Cel", "cel@firma.pl")
    first = client.post(f"/api/v1/contacts/{anna}/merge", headers=auth, json={"other_id": bea}).json["merge"]["id"]
    second = client.post(f"/api/v1/contacts/{cel}/merge", headers=auth, json={"other_id": anna}).json["merge"]["id"]
    for merge in ([first, second] if order == "first merge undone first" else [second, first]):
        assert client.post(f"/api/v1/merges/{merge}/undo", headers=auth).status_code == 200
    for contact_id, name, email in [(anna, "Anna", "anna@firma.pl"), (bea, "Bea", "bea@firma.pl"),
                                    (cel, "Cel", "cel@firma.pl")]:
        detail = client.get(f"/api/v1/contacts/{contact_id}", headers=auth).json
        items = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=auth).json["items"]
        assert (detail["id"], detail["emails"], [i["text"] for i in items]) == (contact_id, [email], [f"from {name}"])


def test_undoing_a_merge_after_a_later_one_updates_who_holds_the_person_now(client, auth) -> None:
    """Bea merged into Anna, Anna into Cel, then the first merge undone: Bea's rows left Cel, but Cel's last
    message time (what the lists sort by) stayed Bea's."""
    def post(name: str, day: int) -> int:
        return client.post("/api/v1/inbound", headers=auth, json={
            "channel": "api", "contact": {"name": name, "email": f"{name.lower()}@firma.pl"},
            "message": {"external_id": name, "text": "hi", "sent_at": f"2026-12-0{day}T10:00:00Z"}}).json["contact_id"]

    cel, anna, bea = post("Cel", 1), post("Anna", 2), post("Bea", 5)
    first = client.post(f"/api/v1/contacts/{anna}/merge", headers=auth, json={"other_id": bea}).json["merge"]["id"]
    client.post(f"/api/v1/contacts/{cel}/merge", headers=auth, json={"other_id": anna})
    assert client.post(f"/api/v1/merges/{first}/undo", headers=auth).status_code == 200
    listed = {c["id"]: c["last_message_at"] for c in client.get("/api/v1/contacts", headers=auth).json["items"]}
    assert listed == {cel: "2026-12-02T10:00:00+00:00", bea: "2026-12-05T10:00:00+00:00"}


@pytest.mark.parametrize(("external_id", "error"), [
    (12345, None), (-7, None), (12345.0, "a fraction"), (1.5, "a fraction"), (True, "true or false"),
])
def test_a_numeric_id_is_taken_as_its_digits_and_a_fraction_or_bool_refused(client, auth, spec, external_id: object,
                                                                            error: str | None) -> None:
    """CRMs and databases number their rows and send the number as a JSON number: the record was a 400 for
    "Input should be a valid string". An integer is its decimal digits (12345 and "12345" are one record); a
    fraction or true/false is no one's id, refused naming each field."""
    body = {"channel": "api", "external_id": external_id, "contact": {"email": "anna@firma.pl"},
            "message": {"external_id": external_id, "thread_id": external_id, "text": "Dzień dobry"}}
    response = checked(spec, client, "post", "/api/v1/inbound", json=body, headers=auth)
    if error is not None:
        assert response.status_code == 400, response.json
        fields = response.json["fields"]
        assert set(fields) == {"external_id", "message.external_id", "message.thread_id"}, fields
        assert all(error in message for message in fields.values()), fields
        return
    assert response.status_code == 201, response.json
    as_text = dict(body, external_id=str(external_id),
                   message=dict(body["message"], external_id=str(external_id), thread_id=str(external_id)))
    again = client.post("/api/v1/inbound", json=as_text, headers=auth)
    assert again.status_code == 200 and again.json["message_id"] == response.json["message_id"], again.json

"""POST /api/v1/linkedin/profiles: canonical URL keying, double saves, validation, duplicates, cross-channel."""

from __future__ import annotations

from sqlmodel import Session, select

from core.models import Contact, DuplicateSuggestion, Identity, Message
from core.users import create_api_token, create_user

PROFILE = {
    "profile_url": "https://www.linkedin.com/in/anna-nowak-1a2b3c/",
    "name": "Anna Nowak",
    "headline": "Head of Procurement at Budmax | steel, rebar",
    "company": "Budmax",
    "title": "Head of Procurement",
    "location": "Poznań, Wielkopolskie, Poland",
    "about": "Buying steel for 15 years.",
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stored(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    return (
        len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()),
        len(session.exec(select(Identity)).all()),
        len(session.exec(select(Message)).all()),
    )


def test_save_then_save_again_and_variants_hit_one_lead(client, rep_token: str, session: Session) -> None:
    first = client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=_bearer(rep_token))
    assert first.status_code == 201, first.json
    assert first.json["message"] == "saved as new lead"
    assert first.json["link"].endswith(f"/contacts/{first.json['contact_id']}")
    after_first = _stored(session)
    assert after_first == (1, 1, 1)

    # A second rep, and URL variants (country subdomain, http, query, trailing path, case).
    other = create_user(session, email="second@leadhub.example", role="rep", name="Second")
    second_token = create_api_token(session, user=other)
    session.commit()
    variants = [
        "https://pl.linkedin.com/in/Anna-Nowak-1a2b3c?trk=public_profile",
        "http://linkedin.com/in/anna-nowak-1a2b3c/details/experience/",
        "www.linkedin.com/in/ANNA-NOWAK-1A2B3C#about",
    ]
    for token in (rep_token, second_token):
        for url in variants:
            again = client.post("/api/v1/linkedin/profiles", json={**PROFILE, "profile_url": url}, headers=_bearer(token))
            assert again.status_code == 200, again.json
            assert again.json["message"] == "already in leadhub"
            assert again.json["contact_id"] == first.json["contact_id"]
            assert again.json["note_added"] is False
    assert _stored(session) == after_first  # no second timeline item for the same save

    timeline = client.get(f"/api/v1/contacts/{first.json['contact_id']}/timeline", headers=_bearer(rep_token)).json
    assert [(i["channel"], i["kind"]) for i in timeline["items"]] == [("linkedin", "note")]
    assert "Head of Procurement at Budmax" in timeline["items"][0]["text"]


def test_changed_profile_adds_one_note_and_keeps_one_lead(client, rep_token: str, session: Session) -> None:
    client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=_bearer(rep_token))
    moved = {**PROFILE, "headline": "CEO at Stalex", "company": "Stalex", "title": "CEO"}
    response = client.post("/api/v1/linkedin/profiles", json=moved, headers=_bearer(rep_token))
    assert response.status_code == 200 and response.json["note_added"] is True
    assert _stored(session) == (1, 1, 2)
    session.expire_all()
    contact = session.get(Contact, response.json["contact_id"])
    assert (contact.company, contact.title) == ("Stalex", "CEO")  # the lead follows the job change

    # Saving the old profile again (an old tab) adds nothing and leaves the current job alone.
    again = client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=_bearer(rep_token))
    assert again.status_code == 200 and again.json["note_added"] is False
    session.expire_all()
    assert session.get(Contact, contact.id).company == "Stalex"


def test_name_and_company_lookalike_becomes_a_suggestion(client, auth, rep_token: str, session: Session) -> None:
    form = {
        "channel": "form",
        "contact": {"name": "Anna Nowak", "email": "a.nowak@budmax.pl", "company": "Budmax"},
        "message": {"external_id": "form-1", "text": "Please call me"},
    }
    assert client.post("/api/v1/inbound", json=form, headers=auth).status_code == 201
    saved = client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=_bearer(rep_token))
    assert saved.status_code == 201
    assert saved.json["message"] == "saved as new lead"
    suggestions = saved.json["possible_duplicates"]
    assert len(suggestions) == 1 and suggestions[0]["contact_id"] != saved.json["contact_id"]
    assert session.exec(select(DuplicateSuggestion)).one().status == "open"
    assert _stored(session)[0] == 2  # a suggestion, not a merge


BAD_BODIES = [
    ({}, "profile_url"),
    ({**PROFILE, "profile_url": "https://www.linkedin.com/company/budmax"}, "profile_url"),
    ({**PROFILE, "profile_url": "https://evil.example/in/anna"}, "profile_url"),
    ({**PROFILE, "profile_url": "javascript:alert(1)//linkedin.com/in/x"}, "profile_url"),
    ({**PROFILE, "profile_url": 42}, "profile_url"),
    ({**PROFILE, "name": ""}, "name"),
    ({**PROFILE, "name": "<script>alert(1)</script>"}, "name"),
    ({**PROFILE, "headline": "Head of Sales <b>Budmax</b>"}, "headline"),
    ({**PROFILE, "name": "Anna\u202eNowak"}, "name"),
    # A name element the script read that holds only invisible characters (a zero-width space, direction marks,
    # a byte-order mark): nothing a rep could see, and the lead would be saved with an empty name.
    ({**PROFILE, "name": "\u200b"}, "name"),
    ({**PROFILE, "name": "\u200e \u200f"}, "name"),
    ({**PROFILE, "name": "\ufeff\u2060"}, "name"),
    ({**PROFILE, "headline": "line\nbreak"}, "headline"),
    ({**PROFILE, "name": "A" * 201}, "name"),
    ({**PROFILE, "about": "x" * 5001}, "about"),
    ({**PROFILE, "about": "nul\x00byte"}, "about"),
    ({**PROFILE, "company": ["Budmax"]}, "company"),
    ({**PROFILE, "is_admin": True}, "is_admin"),
    ({**PROFILE, "owner_id": 1}, "owner_id"),
]


def test_bad_or_hostile_payload_is_400_and_stores_nothing(client, rep_token, session) -> None:  # noqa: ANN001
    # One app for all cases (each would otherwise pay for a fresh database); the message names the failing case.
    for body, field in BAD_BODIES:
        response = client.post("/api/v1/linkedin/profiles", json=body, headers=_bearer(rep_token))
        assert response.status_code == 400, (field, response.json)
        assert field in response.json["fields"], (field, response.json)
    assert _stored(session) == (0, 0, 0)


MALFORMED = [("{not json", "application/json", 400), ("[1, 2]", "application/json", 400),
             ("name=x", "text/plain", 415), ("x" * 2_000_000, "application/json", 413)]


def test_malformed_bodies(client, rep_token, session) -> None:  # noqa: ANN001
    for data, content_type, status in MALFORMED:
        response = client.post("/api/v1/linkedin/profiles", data=data, content_type=content_type,
                               headers=_bearer(rep_token))
        assert response.status_code == status, (data[:20], response.status_code)
    assert _stored(session) == (0, 0, 0)


def test_token_required_and_cors_for_linkedin_pages_only(client) -> None:  # noqa: ANN001
    assert client.post("/api/v1/linkedin/profiles", json=PROFILE).status_code == 401
    assert client.post("/api/v1/linkedin/profiles", json=PROFILE,
                       headers=_bearer("lh_wrong")).status_code == 401
    preflight = client.options("/api/v1/linkedin/profiles", headers={"Origin": "https://www.linkedin.com"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://www.linkedin.com"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    foreign = client.options("/api/v1/linkedin/profiles", headers={"Origin": "https://evil-linkedin.com"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_the_bookmarklet_on_linkedin_can_read_every_refusal(client, rep_token, session) -> None:  # noqa: ANN001
    """The bookmarklet posts from linkedin.com; a refusal without Access-Control-Allow-Origin is hidden from it by
    the browser, so a wrong token or a company page showed "Could not reach leadhub" instead of the reason."""
    origin = {"Origin": "https://pl.linkedin.com"}
    company = {**PROFILE, "profile_url": "https://www.linkedin.com/company/budmax/"}
    answers = [
        client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=origin),
        client.post("/api/v1/linkedin/profiles", json=PROFILE, headers={**origin, **_bearer("lh_wrong")}),
        client.post("/api/v1/linkedin/profiles", json=company, headers={**origin, **_bearer(rep_token)}),
        client.post("/api/v1/linkedin/profiles", data="{not json", content_type="application/json",
                    headers={**origin, **_bearer(rep_token)}),
    ]
    assert [a.status_code for a in answers] == [401, 401, 400, 400]
    assert [a.headers.get("Access-Control-Allow-Origin") for a in answers] == ["https://pl.linkedin.com"] * 4
    assert "profile_url" in answers[2].json["fields"]
    foreign = client.post("/api/v1/linkedin/profiles", json=PROFILE, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert _stored(session) == (0, 0, 0)


def test_path_is_in_openapi(client) -> None:  # noqa: ANN001
    from openapi_spec_validator import validate

    document = client.get("/api/openapi.json").json
    validate(document)
    operation = document["paths"]["/api/v1/linkedin/profiles"]["post"]
    assert set(operation["responses"]) >= {"200", "201", "400", "401"}
    assert "profile_url" in document["components"]["schemas"]["ProfileIn"]["required"]


def test_one_lead_holds_form_gmail_and_linkedin(client, auth, rep_token, runner, rep, session) -> None:  # noqa: ANN001
    """The same person's form post, Gmail thread, saved profile and exported LinkedIn messages end on one lead."""
    from tests.connectors.linkedin.conftest import FIXTURES
    from webapp.cli import cli

    form = {
        "channel": "form",
        "contact": {"name": "Anna Nowak", "email": "anna.nowak@budmax.pl", "company": "Budmax",
                    "linkedin_url": "https://pl.linkedin.com/in/anna-nowak-1a2b3c/"},
        "message": {"external_id": "form-42", "subject": "Contact form", "text": "Quote for rebar, please",
                    "sent_at": "2023-06-01T09:00:00Z"},
    }
    gmail = {
        "channel": "gmail",
        "contact": {"name": "Anna Nowak", "email": "Anna.Nowak@budmax.pl"},
        "message": {"external_id": "gmail-msg-1", "thread_id": "gmail-thread-1", "subject": "Re: quote",
                    "text": "Thanks for the quote", "sent_at": "2023-06-13T10:00:00Z"},
    }
    assert client.post("/api/v1/inbound", json=form, headers=auth).status_code == 201
    assert client.post("/api/v1/inbound", json=gmail, headers=auth).status_code == 201
    saved = client.post("/api/v1/linkedin/profiles", json=PROFILE, headers=_bearer(rep_token))
    assert saved.json["message"] == "already in leadhub"
    result = runner.invoke(cli, args=["import", "linkedin-export", str(FIXTURES / "Connections.csv"),
                                      str(FIXTURES / "messages.csv"), "--owner", rep.email])
    assert result.exit_code == 0, result.output
    lead = saved.json["contact_id"]
    timeline = client.get(f"/api/v1/contacts/{lead}/timeline", headers=auth).json["items"]
    assert [(i["channel"], i["direction"]) for i in timeline if i["kind"] == "message"] == [
        ("form", "in"), ("linkedin", "in"), ("linkedin", "out"), ("gmail", "in")]
    assert sum(1 for i in timeline if i["kind"] == "note") == 1
    detail = client.get(f"/api/v1/contacts/{lead}", headers=auth).json
    assert detail["linkedin_url"] and "anna-nowak-1a2b3c" in detail["linkedin_url"]
    assert sorted(detail["channels"]) == ["form", "gmail", "linkedin"]


def test_angle_brackets_that_are_text_are_saved_and_shown_as_text(client, rep_token, session) -> None:  # noqa: ANN001
    """Headlines use "<" and ">" as words ("Sales <> Marketing", "<3", "B2B > B2C"); only a tag is refused."""
    body = {**PROFILE, "headline": "Sales <> Marketing | B2B > B2C | I <3 steel", "company": "Budmax (<50 people)"}
    saved = client.post("/api/v1/linkedin/profiles", json=body, headers=_bearer(rep_token))
    assert saved.status_code == 201, saved.json
    session.expire_all()
    assert session.get(Contact, saved.json["contact_id"]).company == "Budmax (<50 people)"


def test_invisible_only_optional_fields_are_left_out(client, rep_token, session) -> None:  # noqa: ANN001
    body = {**PROFILE, "name": "Anna Nowak \U0001f469\u200d\U0001f4bb", "company": "\u200b", "title": "\u200e"}
    response = client.post("/api/v1/linkedin/profiles", json=body, headers=_bearer(rep_token))
    assert response.status_code == 201, response.json
    contact = session.get(Contact, response.json["contact_id"])
    assert contact.display_name.startswith("Anna Nowak \U0001f469")
    assert not contact.company and not contact.title

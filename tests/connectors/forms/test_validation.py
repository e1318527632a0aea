"""Pure tests of form definitions, submission validation, idempotency ids and spam checks."""

from __future__ import annotations

import pytest

from connectors import get, load_all
from connectors.forms.spam import SpamRejected, check_honeypot, check_render_token, make_render_token
from connectors.forms.validation import (
    DEFAULT_FIELDS,
    LEFT_OUT_KEY,
    MAX_CUSTOM_FIELDS,
    FormDefinitionError,
    parse_fields,
    submission_external_id,
    validate_submission,
)

SPECS = parse_fields(
    DEFAULT_FIELDS
    + [
        {"name": "budget", "label": "Budget", "kind": "select", "options": ["<10k", "10k+"], "maps_to": "custom"},
        {"name": "newsletter", "label": "Newsletter", "kind": "checkbox", "maps_to": "custom"},
        {"name": "callback_ok", "label": "Call me", "kind": "checkbox", "required": True, "maps_to": "custom"},
    ]
)
GOOD = {"name": "Anna Nowak", "email": "anna@firma.pl", "callback_ok": "on"}


def test_connector_is_registered_push_only() -> None:
    load_all()
    cls = get("form")
    assert cls.syncs is False and cls.title == "Website forms"


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"name": ""}, "name", "required"),
        ({"email": ""}, "email", "required"),
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"email": "a@b"}, "email", "valid email"),
        ({"phone": "12"}, "phone", ""),
        ({"phone": "+48 hello"}, "phone", ""),
        ({"company": "x" * 201}, "company", "at most 200"),
        ({"message": "x" * 5001}, "message", "at most 5000"),
        ({"budget": "a million"}, "budget", "options"),
        ({"callback_ok": ""}, "callback_ok", "tick"),
        ({"name": {"nested": 1}}, "name", "text"),
    ],
)
def test_each_field_rule(change: dict, field: str, error: str) -> None:
    result = validate_submission(SPECS, {**GOOD, **change})
    assert not result.ok
    assert field in result.errors
    assert error in result.errors[field]


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ({"phone": "601 234 567"}, "phone", "601 234 567"),  # valid in the default region (PL), kept as typed
        ({"budget": "10k+"}, "budget", "10k+"),
        ({"newsletter": "on"}, "newsletter", True),
        ({"newsletter": ""}, "newsletter", False),
        ({"email": "  Anna@Firma.PL "}, "email", "Anna@Firma.PL"),
    ],
)
def test_valid_values(change: dict, key: str, expected: object) -> None:
    result = validate_submission(SPECS, {**GOOD, **change})
    assert result.ok, result.errors
    assert result.values[key] == expected


def test_mapping_custom_data_and_context() -> None:
    data = {**GOOD, "message": "Hello", "budget": "<10k", "favourite_colour": "<b>blue</b>",
            "utm_source": "google", "_page": "https://site.example/pricing", "website_url": ""}
    result = validate_submission(SPECS, data)
    assert result.ok
    assert result.contact == {"name": "Anna Nowak", "email": "anna@firma.pl"}
    assert result.custom == {"favourite_colour": "<b>blue</b>"}  # unknown fields: kept verbatim
    assert result.context == {"utm_source": "google", "page": "https://site.example/pricing"}
    assert result.message_text.startswith("Hello\n\n")
    assert "Budget: <10k" in result.message_text


def test_fields_past_the_bound_are_not_dropped_without_a_word() -> None:
    """Unknown fields past the 30th were dropped silently: the rep could not know the form sent more."""
    extra = {f"q{i:02d}": f"answer {i}" for i in range(MAX_CUSTOM_FIELDS + 5)}
    result = validate_submission(SPECS, {**GOOD, **extra})
    assert result.ok
    assert len(result.custom) == MAX_CUSTOM_FIELDS + 1
    assert result.custom[LEFT_OUT_KEY] == "5 more fields not kept: q30, q31, q32, q33, q34"
    assert validate_submission(SPECS, {**GOOD, **dict(list(extra.items())[:MAX_CUSTOM_FIELDS])}).custom.keys() == \
        dict(list(extra.items())[:MAX_CUSTOM_FIELDS]).keys()


def test_a_repeated_key_loses_none_of_its_values() -> None:
    """A repeated key kept only its first value: the second of two ticked boxes of a group was lost, and a box
    after a hidden "off" input of its name (how sites make an unticked box post) read as unticked."""
    data = {**GOOD, "callback_ok": ["off", "on"], "consent": ["0", "on"], "newsletter": ["", "on"],
            "interest": ["stal", "pręty"], "sizes": [12, 16.5], "shape": [{"a": 1}, "x"]}
    result = validate_submission(SPECS, data, consent_required=True)
    assert result.ok, result.errors
    assert result.values["callback_ok"] is True and result.values["newsletter"] is True and result.consent_given
    assert result.custom == {"interest": "stal, pręty", "sizes": "12, 16.5", "shape": '[{"a": 1}, "x"]'}
    unticked = validate_submission(SPECS, {**GOOD, "callback_ok": ["off"], "consent": ["", [1]]},
                                   consent_required=True)
    assert set(unticked.errors) == {"callback_ok", "consent"}


def test_consent_required_when_the_form_has_consent_text() -> None:
    assert validate_submission(SPECS, GOOD, consent_required=True).errors == {"consent": "consent is required"}
    assert validate_submission(SPECS, {**GOOD, "consent": "on"}, consent_required=True).consent_given


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ([{"name": "Bad Name", "kind": "text"}], "fields.0"),
        ([{"name": "email", "kind": "email", "maps_to": "email"}, {"name": "email", "kind": "text"}], "fields.1"),
        ([{"name": "email", "kind": "telepathy", "maps_to": "email"}], "fields.0"),
        ([{"name": "email", "kind": "text", "maps_to": "email"}], "fields.0"),
        ([{"name": "website_url", "kind": "text"}, {"name": "email", "kind": "email", "maps_to": "email"}], "fields.0"),
        ([{"name": "pick", "kind": "select"}, {"name": "email", "kind": "email", "maps_to": "email"}], "fields.0"),
        ([{"name": "company", "kind": "text", "maps_to": "company"}], "fields"),
    ],
)
def test_bad_form_definitions(fields: list[dict], where: str) -> None:
    with pytest.raises(FormDefinitionError) as info:
        parse_fields(fields)
    assert where in info.value.errors


def test_external_id_same_for_retry_differs_for_edit_and_for_other_render() -> None:
    first = validate_submission(SPECS, {**GOOD, "message": "hi"})
    again = validate_submission(SPECS, {**GOOD, "message": "hi", "_page": "https://elsewhere.example/"})
    edited = validate_submission(SPECS, {**GOOD, "message": "hi, edited"})
    same = submission_external_id("k", "render-1", first)
    assert same == submission_external_id("k", "render-1", again)  # page context is not part of the identity
    assert same != submission_external_id("k", "render-1", edited)
    assert same != submission_external_id("k", "render-2", first)
    assert same.startswith("k:")


def test_render_token_rules() -> None:
    token, submission_id = make_render_token("secret", "formkey")
    import time

    now = time.time()
    assert check_render_token("secret", "formkey", token, min_seconds=3, max_age=60, now=now + 5).submission_id \
        == submission_id
    cases = [
        (dict(token=None), "missing_token"),
        (dict(token=token, now=now + 1), "too_fast"),
        (dict(token=token + "x", now=now + 5), "bad_token"),
        (dict(token=token, key="otherform", now=now + 5), "bad_token"),
        (dict(token=token, secret="other", now=now + 5), "bad_token"),
    ]
    for case, reason in cases:
        with pytest.raises(SpamRejected) as info:
            check_render_token(case.get("secret", "secret"), case.get("key", "formkey"), case["token"],
                               min_seconds=3, max_age=60, now=case.get("now"))
        assert info.value.reason == reason, case


def test_honeypot() -> None:
    check_honeypot("")
    check_honeypot(None)
    with pytest.raises(SpamRejected) as info:
        check_honeypot("http://spam.example")
    assert info.value.reason == "honeypot"


# (the form's _charset_ label, the encoding the page posted in, a field): labels browsers and the WHATWG Encoding
# Standard read that Python's codecs do not know were left to the guess, which reads short text as another code
# page ('ŚĄ' in windows-1250 as windows-1251's 'ЊҐ', Mac Cyrillic as windows-1251).
@pytest.mark.parametrize(("label", "encoding", "name"), [
    ("windows-1250", "cp1250", "ŚĄ"), ("cp-1250", "cp1250", "ŚĄ"), ("win-1250", "cp1250", "ŚĄ"),
    ("win-1251", "cp1251", "Юля"), ("Windows1251", "cp1251", "Юля"), ("x-cp1251", "cp1251", "Юля"),
    ("x-mac-cyrillic", "mac_cyrillic", "Юля"), ("x-mac-ce", "mac_latin2", "Żaba"), ("KOI8-R", "koi8_r", "Юля"),
    ("ISO-8859-2", "iso8859_2", "Żaba"),
])
def test_a_legacy_form_is_read_in_the_encoding_its_charset_field_names(label: str, encoding: str, name: str) -> None:
    from urllib.parse import quote_from_bytes

    from connectors.forms.validation import legacy_encoded_fields

    body = f"name={quote_from_bytes(name.encode(encoding))}&_charset_={label}".encode()
    assert legacy_encoded_fields(body) == {"name": name, "_charset_": label}


@pytest.mark.parametrize(("charset", "text"), [("win-1251", "Юля"), ("cp-1250", "ŚĄ"), ("x-mac-cyrillic", "Юля")])
def test_a_text_plain_form_is_read_in_the_request_charset_browsers_name(charset: str, text: str) -> None:
    from connectors.forms.validation import text_plain_fields
    from core.charsets import charset_codec

    codec = charset_codec(charset)
    assert codec is not None
    assert text_plain_fields(f"name={text}\r\n".encode(codec), charset) == {"name": text}

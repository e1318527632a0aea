"""MIME parsing: every real-world fixture parses or yields a clear quarantine reason; tricky cases by table."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.gmail.mime import MimeError, normalize_message_id, parse_message

FIXTURES = Path("/work/shared/fixtures/emails")
MANIFEST = [row["file"] for row in csv.DictReader((FIXTURES / "MANIFEST.tsv").open(), delimiter="\t")]


def test_manifest_lists_all_191_fixtures() -> None:
    assert len(MANIFEST) == 191


@pytest.mark.parametrize("name", MANIFEST)
def test_every_fixture_parses_or_has_a_reason(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    try:
        parsed = parse_message(raw, internal_date_ms=1_700_000_000_000)
    except MimeError as exc:
        assert str(exc), "a quarantine needs a reason"
        return
    assert parsed.message_id
    assert parsed.date is not None  # internalDate is the fallback
    assert isinstance(parsed.text, str) and isinstance(parsed.snippet, str)
    assert "<script" not in parsed.html.lower()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<ABC.123@Mail.Example.COM>", "ABC.123@mail.example.com"),
        ("  <x@y>  ", "x@y"),
        ("no-brackets@Host.ORG", "no-brackets@host.org"),
        ("", ""),
        ("<with space@x>", ""),
    ],
)
def test_normalize_message_id(raw: str, expected: str) -> None:
    assert normalize_message_id(raw) == expected


def _mail(headers: str, body: str = "Hello", ctype: str = "text/plain; charset=utf-8") -> bytes:
    return f"{headers}\r\nContent-Type: {ctype}\r\n\r\n{body}".encode()


CASES = [
    # (name, raw, checks)
    (
        "unknown charset falls back, no exception",
        b"From: a@b.com\r\nMessage-ID: <u@b.com>\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\nZa\xbf\xf3\xb3\xe6",
        {"message_id": "u@b.com", "text_contains": "Za"},
    ),
    (
        "missing Message-ID gets a stable fallback",
        _mail("From: Ann <ann@example.org>\r\nSubject: Hi"),
        {"fallback": True},
    ),
    (
        "missing Date uses internalDate",
        _mail("From: ann@example.org\r\nMessage-ID: <d@x>"),
        {"date": datetime.fromtimestamp(1_700_000_000, tz=UTC)},
    ),
    (
        "html only gives derived text and sanitised html",
        _mail(
            "From: ann@example.org\r\nMessage-ID: <h@x>",
            "<p>Hello <b>there</b></p><script>alert(1)</script><p>Second</p>",
            "text/html; charset=utf-8",
        ),
        {"text_contains": "Hello there", "html_no_script": True},
    ),
    (
        "japanese iso-2022-jp subject and body",
        b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <t@example.jp>\r\nMessage-ID: <jp@x>\r\n"
        b"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
        {"subject": "こんにちは", "text_contains": "こんにちは", "sender_name": "山田"},
    ),
    (
        "references and in-reply-to",
        _mail("From: a@b.com\r\nMessage-ID: <r3@x>\r\nIn-Reply-To: <R2@X>\r\nReferences: <r1@x> <R2@X>"),
        {"in_reply_to": "R2@x", "references": ["r1@x", "R2@x"]},
    ),
]


@pytest.mark.parametrize(("name", "raw", "checks"), CASES, ids=[c[0] for c in CASES])
def test_tricky_cases(name: str, raw: bytes, checks: dict) -> None:
    parsed = parse_message(raw, internal_date_ms=1_700_000_000_000)
    if "message_id" in checks:
        assert parsed.message_id == checks["message_id"]
    if "fallback" in checks:
        assert parsed.message_id_is_fallback
        assert parse_message(raw).message_id == parsed.message_id
    if "date" in checks:
        assert parsed.date == checks["date"]
    if "text_contains" in checks:
        assert checks["text_contains"] in parsed.text
    if checks.get("html_no_script"):
        assert "<script" not in parsed.html and "Hello" in parsed.html
    if "subject" in checks:
        assert parsed.subject == checks["subject"]
    if "sender_name" in checks:
        assert parsed.sender is not None and checks["sender_name"] in parsed.sender.name
    if "in_reply_to" in checks:
        assert parsed.in_reply_to == checks["in_reply_to"]
        assert parsed.references == checks["references"]


def test_attachments_are_metadata_only() -> None:
    raw = (
        b"From: a@b.com\r\nMessage-ID: <att@x>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nSee file\r\n'
        b'--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="offer.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--BB--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.attachments_meta() == [{"filename": "offer.pdf", "mime_type": "application/pdf", "size": 9}]
    assert "See file" in parsed.text


def test_snippet_strips_quoted_reply_but_full_body_kept() -> None:
    body = (
        "Yes, Tuesday works for us.\r\n\r\nOn Mon, Jan 5, 2026 at 10:00 AM Ann <ann@example.org> wrote:\r\n"
        "> Can we meet on Tuesday?\r\n> Thanks\r\n"
    )
    parsed = parse_message(_mail("From: bob@client.com\r\nMessage-ID: <q@x>", body))
    assert parsed.snippet.startswith("Yes, Tuesday works")
    assert "Can we meet" not in parsed.snippet
    assert "Can we meet" in parsed.text


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02"])
def test_not_a_message_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(MimeError):
        parse_message(raw)

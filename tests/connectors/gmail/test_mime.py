"""MIME parsing: every real-world fixture parses or yields a clear quarantine reason; tricky cases by table."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.gmail.mime import MAX_BOUNDARY_LINES, MimeError, normalize_message_id, parse_message

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


@pytest.mark.parametrize(("header", "value", "sender", "to"), [
    # Values on which the standard library's header parser raises IndexError or AttributeError (not only
    # HeaderParseError): the message is still read, with what of the header can be read.
    ("From", "Anna <", None, ["rep@acme.example"]),
    ("From", '"Anna Nowak" <', None, ["rep@acme.example"]),
    ("From", "x <@", None, ["rep@acme.example"]),
    ("From", ":;<", None, ["rep@acme.example"]),
    ("To", "Anna Nowak <anna@budmax.pl>, <", "jan@client.pl", ["anna@budmax.pl"]),
    ("Message-ID", "<@>", "jan@client.pl", ["rep@acme.example"]),
    ("Message-ID", "<a@", "jan@client.pl", ["rep@acme.example"]),
    ("Message-ID", "<@x", "jan@client.pl", ["rep@acme.example"]),
])
def test_headers_that_break_the_standard_parser(header: str, value: str, sender: str | None, to: list[str]) -> None:
    fields = {"From": "Jan <jan@client.pl>", "To": "rep@acme.example", "Message-ID": "<m-1@client.pl>",
              header: value}
    raw = ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "Subject: Oferta\r\n\r\nIle kosztuje?").encode()
    parsed = parse_message(raw, internal_date_ms=1_700_000_000_000)
    assert (parsed.sender.address if parsed.sender else None) == sender
    assert [a.address for a in parsed.to] == to
    assert parsed.message_id and parsed.subject == "Oferta" and "Ile kosztuje?" in parsed.text
    if header == "Message-ID":
        assert parsed.message_id_is_fallback or "@" in parsed.message_id


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


def test_mutated_fixtures_give_a_record_a_skip_or_a_quarantine() -> None:
    """Seeded: the fixtures with bytes flipped, cut short, odd headers added (unknown charsets, broken encoded
    words, impossible dates, empty angle addresses), slices repeated, line ends broken. Each goes through the
    connector's whole per-message path (parse, classify, build the record) and gives a record that validates,
    nothing (skipped by a rule) or a quarantine with a reason, never an exception that would stop a sync at the
    same message on every retry."""
    import base64
    import random
    from types import SimpleNamespace

    from connectors.base import Quarantine
    from connectors.gmail import GmailConnector
    from core.schemas import InboundRecord

    context = SimpleNamespace(config={}, settings={"COMPANY_DOMAINS": "acme.example"}, account_id=1, owner_id=1,
                              is_known_email=lambda _address: True, credentials={}, store_credentials=None)
    connector = GmailConnector(context)
    connector.mailbox = "rep@acme.example"
    connector._rules = connector.rules()  # noqa: SLF001 - what read() sets up before the first message
    connector._final_pass = True  # noqa: SLF001 - attach-only mail is decided, not deferred
    odd_headers = [
        b"Content-Type: text/plain; charset=x-unknown-charset\r\n", b"Content-Type: text/plain; charset=utf-7\r\n",
        b"Content-Transfer-Encoding: base64\r\n", b'Content-Type: multipart/mixed; boundary=""\r\n',
        b"From: =?utf-8?B?!!!?= <a@b>\r\n", b'From: "\xff\xfe" <x@\xc3.pl>\r\n', b"From: Anna <\r\n",
        b"Message-ID: <@>\r\n", b"Date: Mon, 99 Foo 20260 99:99:99 +9999\r\n", b"Reply-To: ,,,;;<>\r\n",
        b"Subject: =?koi8-r?Q?=F0=D2=C9=D7=C5=D4?=\r\n", b"Content-Type: message/rfc822\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%FF%FE\r\n", b"To: " + b"a@b.pl, " * 2000 + b"\r\n",
    ]
    rng = random.Random(20261207)

    def mutate(raw: bytes) -> bytes:
        kind = rng.randrange(6)
        if kind == 0:
            flipped = bytearray(raw)
            for _ in range(rng.randint(1, 20)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            return bytes(flipped)
        if kind == 1:
            return raw[: rng.randrange(len(raw) + 1)]
        if kind == 2:
            return b"".join(rng.sample(odd_headers, rng.randint(1, 4))) + raw
        if kind == 3:
            end = max(raw.find(b"\r\n\r\n"), raw.find(b"\n\n"), 0)
            return raw[:end] + b"\r\n" + rng.choice(odd_headers) + raw[end:]
        if kind == 4:
            start = rng.randrange(len(raw) + 1)
            stop = rng.randrange(start, len(raw) + 1)
            return raw[:stop] + raw[start:stop] * rng.randint(1, 5) + raw[stop:]
        return raw.replace(b"\n", b"\r", rng.randint(1, 50))

    outcomes = {"record": 0, "skipped": 0, "quarantine": 0}
    for number, name in enumerate(MANIFEST * 4):
        item = {"id": f"g{number}", "threadId": "t", "labelIds": rng.choice([["INBOX"], ["SENT"], []]),
                "internalDate": str(rng.choice([0, 1_733_500_000_000, -5])),
                "raw": base64.urlsafe_b64encode(mutate((FIXTURES / name).read_bytes())).decode().rstrip("=")}
        result = connector.to_record(item)
        if isinstance(result, InboundRecord):
            InboundRecord.model_validate(result.model_dump())
            outcomes["record"] += 1
        elif isinstance(result, Quarantine):
            assert result.reason
            outcomes["quarantine"] += 1
        else:
            assert result is None, (name, result)
            outcomes["skipped"] += 1
    assert outcomes["record"] > 300 and outcomes["skipped"] > 0, outcomes


RAW_8BIT_HEADERS = [
    # (charset the client wrote the headers in, Content-Type charset declared or None, name, subject)
    ("utf-8", None, "Иван Петров", "Запрос цены — Łódź"),  # RFC 6532
    ("cp1251", "windows-1251", "Иван Петров", "Запрос цены на 40 лицензий"),
    ("koi8-r", "koi8-r", "Иван Петров", "Запрос цены на 40 лицензий"),
    ("iso-8859-2", "iso-8859-2", "Paweł Wójcik", "Zapytanie o ofertę, Łódź"),
    ("cp1251", None, "Ольга Смирнова", "Прошу выставить счёт"),  # nothing declared: the reading most like words
    ("cp1250", None, "Paweł Wójcik", "Zapytanie o ofertę dla Łodzi"),
    ("koi8-r", None, "Ольга Смирнова", "Прошу выставить счёт"),  # old Unix mail, nothing declared
    ("iso-8859-2", None, "Paweł Wójcik", "Zapytanie o ofertę, Łódź i Świętochłowice"),
]


@pytest.mark.parametrize(("charset", "declared", "name", "subject"), RAW_8BIT_HEADERS)
def test_unencoded_8bit_headers_are_read_in_the_senders_charset(charset, declared, name, subject) -> None:  # noqa: ANN001
    """Old Russian and Polish clients wrote headers as raw bytes of their code page, without encoded words. The
    parser replaced them with U+FFFD (subject) or read them as Windows-1252 (names: 'Èâàí Ïåòðîâ')."""
    content_type = f"Content-Type: text/plain; charset={declared}\r\n" if declared else ""
    raw = (f"From: {name} <sender@firma.example>\r\nTo: Rep <rep@acme.example>\r\nSubject: {subject}\r\n"
           f"{content_type}\r\n{subject}\r\n").encode(charset)
    mail = parse_message(raw)
    assert (mail.subject, mail.sender.name) == (subject, name)


@pytest.mark.parametrize(("label", "codec", "name", "text"), [
    # Labels mail clients write that Python's codecs do not know, or know as a smaller set than the one meant.
    ("x-mac-cyrillic", "mac_cyrillic", "Иван Петров", "Прошу выставить счёт"),  # Mac Mail, Entourage
    ("x-mac-ce", "mac_latin2", "Paweł Wójcik", "Zapytanie o ofertę"),
    ("cp-1250", "cp1250", "Paweł Wójcik", "Zapytanie o ofertę, Łódź"),  # scripts that spell the code page
    ("win-1251", "cp1251", "Иван Петров", "Прошу выставить счёт"),
    ("x-cp1251", "cp1251", "Иван Петров", "Прошу выставить счёт"),  # a WHATWG label
    ("windows-874", "cp874", "สมชาย ใจดี", "ขอใบเสนอราคา"),
    ("iso-8859-8-i", "iso8859_8", "דוד כהן", "בקשה להצעת מחיר"),
    # Outlook's label for Korean, and GB2312 as Chinese clients write it, mean the larger Windows sets (the
    # WHATWG Encoding Standard reads them so): '똠' and '镕' were U+FFFD.
    ("ks_c_5601-1987", "cp949", "김똠", "똠방각하 견적 요청"),
    ("gb2312", "gb18030", "朱镕基", "报价 镕"),
])
def test_a_charset_label_python_lacks_or_reads_narrower_is_read_as_meant(label, codec, name, text) -> None:  # noqa: ANN001
    import base64

    def word(value: str) -> str:
        return f"=?{label}?B?{base64.b64encode(value.encode(codec)).decode()}?="

    raw = (f"From: {word(name)} <sender@firma.example>\r\nTo: rep@acme.example\r\nSubject: {word(text)}\r\n"
           f"Content-Type: text/plain; charset=\"{label}\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode()
    mail = parse_message(raw + text.encode(codec) + b"\r\n")
    assert (mail.sender.name, mail.subject, mail.text) == (name, text, text)


def test_a_charset_named_by_another_headers_encoded_word_reads_the_raw_ones() -> None:
    raw = (b'From: "=?Windows-1252?B?Rm9ybWHn428gRnJlbmV0aWtwb2xpcw==?=" <info@example.org>\r\n'
           b"To: a@example.org\r\nSubject: Forma\xe7\xe3o: Campanha Final Ver\xe3o\r\n\r\nTEST\r\n")
    assert parse_message(raw).subject == "Formação: Campanha Final Verão"


@pytest.mark.parametrize("content_type", ["", "Content-Type: text/plain\r\n",
                                          "Content-Type: text/plain; charset=us-ascii\r\n",
                                          "Content-Type: text/html\r\n"])
@pytest.mark.parametrize(("charset", "body"), [("cp1251", "Добрый день, прошу выставить счёт"),
                                               ("koi8-r", "Добрый день, прошу выставить счёт"),
                                               ("cp1250", "Dzień dobry, proszę o ofertę"),
                                               ("iso-8859-2", "Dzień dobry, proszę o wycenę. Łódź, ul. Świętej"),
                                               ("utf-8", "Dzień dobry, Добрый день")])
def test_a_body_whose_charset_is_missing_or_wrong_keeps_its_letters(content_type, charset, body) -> None:  # noqa: ANN001
    """No charset (ASCII by default) or 'us-ascii' over 8-bit text: every letter beyond ASCII was U+FFFD."""
    raw = f"From: Anna <anna@firma.example>\r\nSubject: x\r\n{content_type}\r\n{body}\r\n".encode(charset)
    assert parse_message(raw).text == body


def test_a_declared_legacy_charset_keeps_its_reading_and_utf8_keeps_its_letters_around_a_broken_byte() -> None:
    big5 = "您好，請報價".encode("big5") + b"\xff\xff"
    mail = parse_message(b"From: a@b.example\r\nContent-Type: text/plain; charset=big5\r\n\r\n" + big5)
    assert mail.text.startswith("您好，請報價")
    utf8 = "Zażółć gęślą jaźń — ".encode() + b"\xff koniec"
    mail = parse_message(b"From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + utf8)
    assert mail.text == "Zażółć gęślą jaźń — \ufffd koniec"


def test_a_named_text_part_marked_inline_is_the_body_and_a_file() -> None:
    """Apple Mail, Outlook and others name the text parts they show inline ("msg.txt"): the body, not only a file.
    A named text part marked attachment stays a file only."""
    raw = (b"Message-ID: <i@x>\r\nFrom: jan@client.pl\r\nSubject: Zapytanie\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
           b'--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline;\r\n\tfilename="msg.txt"\r\n\r\n'
           b"Prosz\xc4\x99 o ofert\xc4\x99 na 40 krzese\xc5\x82.\r\n"
           b'--B\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="notes.txt"\r\n\r\n'
           b"internal notes\r\n--B--\r\n")
    parsed = parse_message(raw)
    assert "Proszę o ofertę na 40 krzeseł." in parsed.text
    assert "internal notes" not in parsed.text
    assert [(a.filename, a.mime_type) for a in parsed.attachments] == [("msg.txt", "text/plain"),
                                                                      ("notes.txt", "text/plain")]


def _encoded_words(text: str, cuts: list[int]) -> str:
    """`text` in UTF-8 as base64 encoded words cut at these byte offsets, one space between the words."""
    import base64

    data = text.encode()
    pieces = [data[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return " ".join(f"=?UTF-8?B?{base64.b64encode(piece).decode()}?=" for piece in pieces)


@pytest.mark.parametrize("cuts", [[6], [8], [7], [9, 14]], ids=["between-words", "between-letters", "mid-letter",
                                                                 "twice"])
@pytest.mark.parametrize("header", ["From", "Reply-To", "To"])
def test_a_name_in_several_encoded_words_is_read_whole(header: str, cuts: list[int]) -> None:
    """RFC 2047: the space between two encoded words is not text. Python's own mail (EmailMessage) and other
    mailers cut a long name into several words, some inside a letter: the standard parser (CPython gh-128110)
    put a space between the words ('Zofia Ż ółć-Wąsik') and read a cut letter's halves apart, as U+FFFD or,
    read again as raw bytes, as Cyrillic ('Zofia Е »ГіЕ‚Д‡')."""
    name = "Zofia Żółć-Wąsik"
    fields = {"From": "Jan <jan@client.pl>", "To": "rep@acme.example", "Reply-To": "jan@client.pl"}
    fields[header] = f"{_encoded_words(name, cuts)} <zofia@client.pl>"
    raw = ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "Subject: Oferta\r\n\r\nIle kosztuje?").encode()
    mail = parse_message(raw)
    found = {"From": [mail.sender], "To": mail.to, "Reply-To": mail.reply_to}[header]
    assert [(a.name, a.address) for a in found] == [(name, "zofia@client.pl")]


@pytest.mark.parametrize(("declared", "written", "body"), [
    # Russian Windows and Outlook set-ups that said iso-8859-1 (or windows-1252) over Windows-1251 or KOI8-R text
    ("iso-8859-1", "cp1251", "Добрый день, прошу выставить счёт на 40 лицензий"),
    ("windows-1252", "cp1251", "Добрый день, прошу выставить счёт на 40 лицензий"),
    ("iso-8859-1", "koi8-r", "Добрый день, прошу выставить счёт на 40 лицензий"),
    # Polish Windows text said to be ISO-8859-2 (ś, ź, Ś, Ź, š, ť are elsewhere in the two) or ISO-8859-1
    ("iso-8859-2", "cp1250", "Dzień dobry, proszę o ofertę. Łódź, ul. Świętej Źródlanej"),
    ("iso-8859-1", "cp1250", "Dzień dobry, proszę o wycenę dla Łodzi"),
    # UTF-8 said to be ISO-8859-1 or Windows-1250 ('Ã©' for 'é')
    ("iso-8859-1", "utf-8", "Très bien, à bientôt. Zażółć gęślą jaźń, Добрый день"),
    ("windows-1250", "utf-8", "Dzień dobry, proszę o ofertę"),
    # Windows-1252 said to be ISO-8859-1: the quotation marks and dash were C1 control characters
    ("iso-8859-1", "cp1252", "Très bien, à bientôt \u2013 «\u201cLe prix\u201d» est bon"),
])
def test_a_body_in_another_code_page_than_it_says_keeps_its_letters(declared: str, written: str, body: str) -> None:
    """A legacy charset label over text in another encoding: read as labelled, UTF-8 came out as 'Ã©' for 'é',
    Russian as accented Latin ('Äîáðûé äåíü'), Polish Windows text labelled ISO-8859-2 with C1 control
    characters for ś and ź."""
    raw = (f"From: Anna <anna@firma.example>\r\nSubject: x\r\nContent-Type: text/plain; charset={declared}\r\n\r\n"
           ).encode() + body.encode(written) + b"\r\n"
    assert parse_message(raw).text == body


@pytest.mark.parametrize(("charset", "body"), [
    ("iso-8859-1", "Très bien, à bientôt. Frösche über Öl, mißlich; España, São Paulo, Ærø"),
    ("iso-8859-2", "Dzień dobry, proszę o ofertę. Łódź"),
    ("windows-1251", "Добрый день"),
    ("koi8-r", "Добрый день"),
    ("windows-1250", "Příliš žluťoučký kůň úpěl ďábelské ódy"),
])
def test_a_body_in_the_code_page_it_says_keeps_that_reading(charset: str, body: str) -> None:
    raw = (f"From: Anna <anna@firma.example>\r\nSubject: x\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
           ).encode() + body.encode(charset) + b"\r\n"
    assert parse_message(raw).text == body


ICS = ("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Oferta - rozmowa\r\n"
       "DTSTART:20260112T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@pytest.mark.parametrize(("other_type", "other_body"), [
    ("text/calendar; method=REQUEST; charset=UTF-8", ICS),  # Google Calendar's, Outlook's invitations
    ("text/watch-html; charset=utf-8", "<html><body><b>Watch</b> version</body></html>"),  # Apple's
    ("text/x-amp-html; charset=utf-8", "<!doctype html><html amp4email><body>AMP</body></html>"),  # Gmail's AMP
    ("text/enriched", "<bold>Dzień dobry</bold>, proszę o ofertę."),
])
def test_another_alternative_than_plain_and_html_is_not_added_to_the_body(other_type: str, other_body: str) -> None:
    """multipart/alternative holds one content several ways: the text is the plain one (or the HTML's). Other
    alternatives (an invitation's text/calendar, text/watch-html, AMP, text/enriched) were added to the text,
    an invitation's raw iCalendar after the person's words."""
    raw = ("From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Zaproszenie\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\n'
           'Content-Type: multipart/alternative; boundary="A"\r\n\r\n'
           "--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDzień dobry, proszę o ofertę.\r\n"
           "--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Dzień dobry, proszę o ofertę.</p>\r\n"
           f"--A\r\nContent-Type: {other_type}\r\n\r\n{other_body}\r\n--A--\r\n"
           '--M\r\nContent-Type: application/ics; name="invite.ics"\r\n'
           'Content-Disposition: attachment; filename="invite.ics"\r\n\r\n' + ICS + "--M--\r\n").encode()
    mail = parse_message(raw)
    assert mail.text == "Dzień dobry, proszę o ofertę."
    assert mail.html == "<p>Dzień dobry, proszę o ofertę.</p>"
    assert [a.mime_type for a in mail.attachments] == [other_type.split(";")[0], "application/ics"]


def test_an_invitation_with_no_other_text_keeps_its_calendar_as_text() -> None:
    raw = ("From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Zaproszenie\r\n"
           f"Content-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n\r\n{ICS}").encode()
    assert "SUMMARY:Oferta - rozmowa" in parse_message(raw).text


RECEIVED_MS = 1_767_607_200_000  # 2026-01-05 10:00 UTC, when Gmail accepted the message (internalDate)


@pytest.mark.parametrize(("date", "expected"), [
    ("Mon, 5 Jan 2099 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),  # a clock decades ahead
    ("Tue, 6 Jan 2026 12:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),  # written a day after it came
    ("Mon, 5 Jan 2026 19:30:00 +0000", datetime(2026, 1, 5, 19, 30, tzinfo=UTC)),  # a wrong zone: hours ahead
    ("Fri, 2 Jan 2026 08:00:00 +0100", datetime(2026, 1, 2, 7, tzinfo=UTC)),  # written before: delayed, imported
])
def test_a_date_after_gmail_received_the_message_gives_way_to_internal_date(date: str, expected: datetime) -> None:
    """Mail cannot be written after it arrived: a Date header a day or more after Gmail's internalDate (a
    sender's clock set years ahead, spam dated 2099) put the lead at the top of every list by its last contact
    for years. Gmail's own reading of the time, more reliable than the Date header, is taken then."""
    raw = f"From: Anna <anna@firma.example>\r\nSubject: x\r\nDate: {date}\r\n\r\nHi".encode()
    assert parse_message(raw, internal_date_ms=RECEIVED_MS).date == expected


@pytest.mark.parametrize(("declared", "written", "text"), [
    ("iso-8859-1", "cp1251", "Запрос цены на 40 лицензий"),
    ("windows-1252", "koi8-r", "Иван Петров"),
    ("iso-8859-2", "cp1250", "Zapytanie o ofertę, Łódź i Świętochłowice"),
    ("iso-8859-1", "utf-8", "Zapytanie o ofertę — Łódź"),
])
def test_encoded_words_in_another_code_page_than_they_say_keep_their_letters(declared: str, written: str,
                                                                              text: str) -> None:
    """Encoded words labelled with a legacy charset over bytes of another ('=?iso-8859-1?Q?=CF=F0...?=' over
    Windows-1251): the subject and the lead's name came out as accented Latin ('Ïðèâåò')."""
    import base64

    def words(value: str) -> str:
        return f"=?{declared}?B?{base64.b64encode(value.encode(written)).decode()}?="

    raw = (f"From: {words(text)} <sender@firma.example>\r\nTo: rep@acme.example\r\nSubject: {words(text)}\r\n"
           "\r\nbody\r\n").encode()
    mail = parse_message(raw)
    assert (mail.subject, mail.sender.name) == (text, text)


@pytest.mark.parametrize("content_type", ["multipart/mixed", 'multipart/mixed; boundary="B"',
                                          'multipart/alternative; boundary=""',
                                          "multipart/related; boundary=B; charset=utf-8"])
def test_a_multipart_whose_parts_are_not_found_keeps_its_text(content_type: str) -> None:
    """A message said to be multipart without a boundary, or with one that never comes (web forms' and scripts'
    mail): the parser finds no parts, and its whole body was listed as a file named nothing; the text was empty.
    Its body is its text, as mail programs show it."""
    raw = (f"From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Oferta\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: {content_type}\r\n\r\nDzień dobry, proszę o ofertę.\r\n").encode()
    mail = parse_message(raw)
    assert (mail.text, mail.attachments) == ("Dzień dobry, proszę o ofertę.", [])


@pytest.mark.parametrize("content_type", [
    "multipart/mixed",  # no boundary at all (hand-written scripts)
    "multipart/mixed;\r\nboundary=\"=_b1\"",  # PHP mail() with "\n" between headers: the boundary line unfolded
    "multipart/mixed; charset=utf-8",
    # A boundary declared that the parts never use (bulk mailers; SpamScope mail-parser's mail_malformed_3).
    'multipart/mixed; boundary="--=_HsWzsKVZkho"',
    "multipart/mixed;\r\n\tboundary=other",
])
def test_a_multipart_without_its_boundary_finds_its_parts_by_the_first_delimiter_line(content_type: str) -> None:
    """The parts of such a message were not found, and its raw MIME source (part headers, base64) was its text.
    The boundary is the one its delimiter lines use, as mail programs read it."""
    raw = (f"From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Oferta\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: {content_type}\r\n\r\nThis is a MIME message.\r\n--=_b1\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nDzień dobry, proszę o ofertę.\r\n--=_b1\r\n"
           "Content-Type: application/pdf; name=zapytanie.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           "JVBERi0xLjQK\r\n--=_b1--\r\n").encode()
    mail = parse_message(raw)
    assert mail.text == "Dzień dobry, proszę o ofertę."
    assert [(a.filename, a.mime_type, a.size) for a in mail.attachments] == [("zapytanie.pdf", "application/pdf", 9)]


@pytest.mark.parametrize("folded", [False, True])
def test_an_unquoted_boundary_with_an_equals_sign_finds_its_parts(folded: bool) -> None:
    """Outlook Express and old Outlook wrote 'boundary=----=_NextPart_000_...' unquoted; the standard parser cut
    the boundary at '=' ('----'), found no parts, and the message had no text (or its raw source as text)."""
    boundary = "----=_NextPart_000_0023_08_E8CD50F3.4EF2F754"
    separator = "\r\n\t" if folded else " "
    raw = (f"From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Oferta\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: multipart/alternative;{separator}boundary={boundary}\r\n\r\n"
           f"This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n"
           "Content-Type: text/plain; charset=windows-1250\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
           f"Dzie=F1 dobry, prosz=EA o ofert=EA.\r\n--{boundary}\r\nContent-Type: text/html; charset=windows-1250\r\n"
           f"\r\n<p>Dzie\xf1 dobry</p>\r\n--{boundary}--\r\n").encode("latin-1")
    mail = parse_message(raw)
    assert (mail.text, mail.html, mail.attachments) == ("Dzień dobry, proszę o ofertę.", "<p>Dzień dobry</p>", [])


def _many_parts(count: int) -> bytes:
    return (b'From: a@b.pl\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
            + b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" * count + b"--B--\r\n")


def test_a_message_of_tens_of_thousands_of_parts_is_not_read() -> None:
    """The standard parser takes about a millisecond a part: 50,000 empty parts held a sync for 43 s, and a
    message of Gmail's 25 MB would hold it past the account's lease. Such a message is quarantined, said why."""
    with pytest.raises(MimeError, match="more than 10,000 MIME boundary lines"):
        parse_message(_many_parts(MAX_BOUNDARY_LINES + 1))
    assert len(parse_message(_many_parts(300)).text.split()) == 300  # a long digest is still read


@pytest.mark.parametrize(("date", "expected"), [
    # A year that cannot be is not read by the two-digit-year rule ('0000' was 2000): Gmail's time is taken.
    ("Mon, 5 Jan 0000 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    ("Mon, 5 Jan 0026 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    ("Mon, 5 Jan 026 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    ("Mon, 5 Jan 0000 10:00:00", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    # Two digits are the obsolete form RFC 5322 still allows; four are the year.
    ("Sun, 4 Jan 26 10:00:00 +0000", datetime(2026, 1, 4, 10, tzinfo=UTC)),
    ("Sun, 4 Jan 2026 10:00:00 -0000", datetime(2026, 1, 4, 10, tzinfo=UTC)),
    ("4 Jan 2026 10:00 +0100", datetime(2026, 1, 4, 9, tzinfo=UTC)),
    ("Tue, 12 Oct 2010 16:21:05 H0500", datetime(2010, 10, 12, 16, 21, 5, tzinfo=UTC)),  # a broken zone, as found
    # A year or day too large for a C long (spam, a fuzzer): the date parser's OverflowError is no date either.
    ("Mon, 5 Jan 99999999999999999999 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),
    ("Mon, 99999999999999999999 Jan 2026 10:00:00 +0000", datetime(2026, 1, 5, 10, tzinfo=UTC)),
])
def test_an_impossible_year_gives_way_to_internal_date(date: str, expected: datetime) -> None:
    raw = f"From: Anna <anna@firma.example>\r\nSubject: x\r\nDate: {date}\r\n\r\nHi".encode()
    assert parse_message(raw, internal_date_ms=RECEIVED_MS).date == expected


def test_an_impossible_year_without_internal_date_is_no_date() -> None:
    raw = b"From: Anna <anna@firma.example>\r\nSubject: x\r\nDate: Mon, 5 Jan 0000 10:00:00 +0000\r\n\r\nHi"
    assert parse_message(raw).date is None


@pytest.mark.parametrize(("from_", "name"), [
    # An encoded word can hold any character: a name is kept as one line of printable text.
    ("=?utf-8?B?SmFuDQpCY2M6IGV2aWxAeC5wbA==?= <jan@client.pl>", "Jan Bcc: evil@x.pl"),  # 'Jan\r\nBcc: …'
    ("=?utf-8?B?SmFuG1szMW1Lb3dhbHNraQ==?= <jan@client.pl>", "Jan[31mKowalski"),  # an escape sequence
    ("=?utf-8?B?SmFuAEtvd2Fsc2tp?= <jan@client.pl>", "JanKowalski"),  # a NUL
    ("=?utf-8?Q?Jan=09Kowalski?= <jan@client.pl>", "Jan Kowalski"),  # a tab
    ("=?utf-8?B?S293YWxza2ksIEphbg==?= <jan@client.pl>", "Kowalski, Jan"),
    ("=?utf-8?B?xYF1a2FzeiBXw7NqY2lr?= <jan@client.pl>", "Łukasz Wójcik"),
    # The older form, the name in a comment after the address (old clients, scripts' mail()).
    ("jan@client.pl (Jan Kowalski)", "Jan Kowalski"),
    ("jan@client.pl (=?utf-8?Q?=C5=81ukasz_W=C3=B3jcik?=)", "Łukasz Wójcik"),
])
def test_a_display_name_is_one_line_of_text(from_: str, name: str) -> None:
    raw = f"From: {from_}\r\nTo: rep@acme.example\r\nSubject: x\r\n\r\nHi".encode()
    parsed = parse_message(raw)
    assert parsed.sender is not None and (parsed.sender.name, parsed.sender.address) == (name, "jan@client.pl")


@pytest.mark.parametrize(("from_", "name"), [
    # A display name with an unquoted '@' (web forms' mailers, some CRMs, spam): the mailbox is the address in
    # angle brackets, as Gmail shows it. The standard parser took the name for the address ('jan@client.pl
    # <jan@client.pl>' happened to work; 'biuro@budmax.pl <jan@client.pl>' made the lead biuro@budmax.pl and
    # 'Jan Kowalski jan@client.pl <jan@client.pl>' the address '"Jan Kowalski jan"@client.pl').
    ("biuro@budmax.pl <jan@client.pl>", "biuro@budmax.pl"),
    ("Jan Kowalski jan@client.pl <jan@client.pl>", "Jan Kowalski jan@client.pl"),
    ("jan@client.pl <jan@client.pl>", "jan@client.pl"),
    ("Jan (Budmax) jan@client.pl <jan@client.pl>", "Jan (Budmax) jan@client.pl"),
])
def test_a_display_name_with_an_unquoted_at_sign_is_a_name(from_: str, name: str) -> None:
    raw = f"From: {from_}\r\nTo: Ola <ola@acme.example>, {from_}\r\nSubject: x\r\n\r\nHi".encode()
    parsed = parse_message(raw)
    assert parsed.sender is not None and parsed.sender.address == "jan@client.pl"
    assert parsed.sender.name == name
    assert [a.address for a in parsed.to] == ["ola@acme.example", "jan@client.pl"]


def test_an_address_header_of_thousands_of_recipients_is_read_up_to_a_bound() -> None:
    """Spam sent to a leaked list names tens of thousands of recipients in one To (250 KB for 20,000): the
    standard address parser took 11 s for them, superlinearly, holding the mailbox's sync. The first
    MAX_ADDRESSES of each header are read; a quoted name with a comma before the cut stays whole."""
    from connectors.gmail.mime import MAX_ADDRESSES

    many = ", ".join(f"user{i}@list.example" for i in range(3 * MAX_ADDRESSES))
    raw = (f'From: Anna <anna@firma.example>\r\nTo: "Kowalski, Jan" <jan@client.pl>, {many}\r\n'
           f"Cc: {many}\r\nSubject: x\r\n\r\nHi").encode()
    mail = parse_message(raw)
    assert (mail.to[0].name, mail.to[0].address) == ("Kowalski, Jan", "jan@client.pl")
    assert [a.address for a in mail.to[1:4]] == ["user0@list.example", "user1@list.example", "user2@list.example"]
    assert len(mail.to) == len(mail.cc) == MAX_ADDRESSES
    assert mail.to[-1].address == f"user{MAX_ADDRESSES - 2}@list.example"


@pytest.mark.parametrize("name", ["Kowalski, Jan", '"Jan" <evil@x.pl>', "J. Smith (Budmax)", "Łukasz Wójcik", "Jan\\K",
                                  "O'Neil", ""])
def test_mailbox_text_reads_back_as_the_same_one_mailbox(name: str) -> None:
    import email.utils

    from connectors.gmail.mime import Address, mailbox_text

    assert email.utils.getaddresses([mailbox_text(Address(name, "jan@client.pl"))]) == [(name, "jan@client.pl")]


@pytest.mark.parametrize(("subject", "expected"), [
    ("=?utf-8?B?T2ZlcnRhAHg=?=", "Ofertax"),  # a NUL in an encoded word (SQLite kept it, PostgreSQL drops it)
    ("=?utf-8?B?T2ZlcnRhG1sybUo=?=", "Oferta[2mJ"),  # an escape sequence
    ("Oferta\r\n\tna krzesla", "Oferta na krzesla"),  # folded with a tab
    ("=?utf-8?Q?Oferta=0D=0ABcc:_x?=", "Oferta Bcc: x"),
    ("Zapytanie o ofertę", "Zapytanie o ofertę"),
    ("=?utf-8?B?2YXbjOKAjNiu2YjYp9mH2YUJ?=", "می\u200cخواهم"),  # a zero-width non-joiner is Persian text: kept
])
def test_a_subject_is_one_line_of_text(subject: str, expected: str) -> None:
    raw = f"From: Anna <anna@firma.example>\r\nSubject: {subject}\r\n\r\nHi".encode()
    assert parse_message(raw).subject == expected


def _tnef(*objects: tuple[int, int, bytes]) -> bytes:
    """A TNEF stream (MS-OXTNEF 2.1): signature, key, then message-level attributes (id | type << 16, data,
    checksum)."""
    import struct

    data = struct.pack("<IH", 0x223E9F78, 0x1234)
    for attribute, kind, value in objects:
        data += struct.pack("<BII", 1, attribute | kind << 16, len(value)) + value
        data += struct.pack("<H", sum(value) & 0xFFFF)
    return data


def _winmail_only(tnef: bytes) -> bytes:
    import base64

    return (b"From: Anna <anna@firma.example>\r\nTo: rep@acme.example\r\nSubject: Zapytanie\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
            b"Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(tnef))


def test_a_message_that_is_only_winmail_dat_has_the_text_outlook_put_in_it() -> None:
    """Exchange sends a message as one application/ms-tnef part (winmail.dat) when the recipient is set to get
    Outlook Rich Text: the inquiry's text is inside it, and the message had none. Its plain-text body (attBody,
    in the OEM code page the stream names) is read with tnefparse; the file is still listed."""
    import struct

    body = "Dzień dobry, proszę o ofertę na 40 krzeseł.\r\n"
    tnef = _tnef((0x9007, 0x0006, struct.pack("<II", 1250, 0)), (0x800C, 0x0002, body.encode("cp1250")))
    mail = parse_message(_winmail_only(tnef))
    assert mail.text == body.strip()
    assert [(a.filename, a.mime_type) for a in mail.attachments] == [("winmail.dat", "application/ms-tnef")]


@pytest.mark.parametrize("tnef", [b"\x78\x9f\x3e\x22\x00\x00" + b"\xff" * 40, b"\x78\x9f\x3e\x22", b"not tnef at all",
                                  b"\x78\x9f\x3e\x22\x00\x00\x01\x07\x90\x06\x00\xff\xff\xff\x7f" + b"\xff" * 30])
def test_a_broken_winmail_dat_is_only_a_file(tnef: bytes) -> None:
    mail = parse_message(_winmail_only(tnef))
    assert (mail.text, [a.filename for a in mail.attachments]) == ("", ["winmail.dat"])


def test_html_to_text_hands_the_parser_the_html_with_its_closing_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block ends became line breaks by replacing '</div>' and '</p>' with one: the HTML parser then saw every
    block left open, a tree as deep as the mail is long, which html5ever builds in quadratic time (an HTML-only
    mail of 40,000 blocks took 5 s, a 27 MB one hours). The line break now follows the closing tag."""
    import nh3

    import core.markup
    from connectors.gmail import mime

    seen: list[str] = []
    clean = nh3.clean
    monkeypatch.setattr(core.markup.nh3, "clean", lambda html, **kw: seen.append(html) or clean(html, **kw))
    html = "<div><p>Oferta <b>na</b> krzesła</p><p>Jan</p></div><table><tr><td>Tel</td><td>+48 1</td></tr></table>"
    assert mime.html_to_text(html) == "Oferta na krzesła\nJan\n\nTel\n+48 1"
    assert [seen[0].count(tag) for tag in ("</div>", "</p>", "</td>", "</tr>")] == [1, 2, 2, 1]


def test_html_of_thousands_of_unclosed_blocks_is_read_as_text_only() -> None:
    """'<div>' opened 100,000 times and never closed (600 KB, built to stall a parser): html5ever checks the open
    elements at each block, in quadratic time (40 s for this one, for the text and again to sanitise it). Nested
    past core.markup's MAX_HTML_DEPTH, such HTML is kept as its text's paragraphs, read without the parser."""
    from core.markup import MAX_HTML_DEPTH

    html = "<div>Dzień dobry,<br>" + "<div>" * (MAX_HTML_DEPTH + 1) + "proszę o ofertę.</div>"
    raw = ("From: Anna <anna@firma.example>\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           + html).encode()
    mail = parse_message(raw)
    # (read as the parser's reading below reads it: the <div>s start lines, where a line already starts)
    assert (mail.text, mail.html) == ("Dzień dobry,\nproszę o ofertę.", "<p>Dzień dobry,<br>proszę o ofertę.</p>")
    fine = parse_message(raw.replace(b"<div>" * (MAX_HTML_DEPTH + 1), b"<div>" * 50))
    assert fine.text == "Dzień dobry,\nproszę o ofertę." and fine.html.startswith("<div>Dzień dobry,<br>")


def test_a_header_of_hundreds_of_kilobytes_is_read_from_its_first_or_last_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """policy.default parses a structured header in time quadratic in its words: a Subject of 80,000 words
    (480 KB) took 4 s, one of Gmail's 25 MB hours. What is kept of a header is short (a subject's first 1,000
    characters, References' last 50 ids), so only MAX_HEADER_CHARS of it are parsed: the start, or the end of
    References, where the latest ids are."""
    from email.headerregistry import HeaderRegistry

    from connectors.gmail.mime import MAX_HEADER_CHARS

    parsed: list[int] = []
    factory = HeaderRegistry.__call__
    monkeypatch.setattr(HeaderRegistry, "__call__", lambda self, name, value: parsed.append(len(value))
                        or factory(self, name, value))
    words = 3 * MAX_HEADER_CHARS // 6
    references = " ".join(f"<r{i}@x.example>" for i in range(words // 3))
    raw = (f"From: Anna <anna@firma.example>\r\nSubject: Zapytanie {'słowo ' * words}\r\n"
           f"References: {references}\r\nList-Id: {'lista ' * words}\r\n\r\nHi").encode()
    mail = parse_message(raw)
    assert mail.subject.startswith("Zapytanie słowo słowo") and len(mail.subject) == 1000
    assert mail.references == [f"r{i}@x.example" for i in range(words // 3 - 50, words // 3)]
    assert mail.headers["list-id"].startswith("lista lista")
    assert max(parsed) <= MAX_HEADER_CHARS


@pytest.mark.parametrize("quoted", [False, True])
def test_an_address_header_with_a_name_of_hundreds_of_kilobytes_is_parsed_in_part(
        monkeypatch: pytest.MonkeyPatch, quoted: bool) -> None:
    """A display name of 40,000 words (the address parser is quadratic in them too): only MAX_HEADER_CHARS of an
    address header are parsed, up to a comma between mailboxes, or a lone mailbox's end, where its address is."""
    from email.headerregistry import HeaderRegistry

    from connectors.gmail.mime import MAX_HEADER_CHARS

    parsed: list[int] = []
    factory = HeaderRegistry.__call__
    monkeypatch.setattr(HeaderRegistry, "__call__", lambda self, name, value: parsed.append(len(value))
                        or factory(self, name, value))
    name = " ".join(["słowo"] * (MAX_HEADER_CHARS // 3))
    name = f'"{name}"' if quoted else name
    raw = (f"From: {name} <anna@firma.example>\r\nTo: \"Kowalski, Jan\" <jan@client.pl>, {name} <ola@client.pl>\r\n"
           "Subject: x\r\n\r\nHi").encode()
    mail = parse_message(raw)
    assert mail.sender is not None and mail.sender.address == "anna@firma.example"
    assert mail.sender.name.endswith("słowo słowo") and len(mail.sender.name) <= MAX_HEADER_CHARS
    assert [(a.name, a.address) for a in mail.to] == [("Kowalski, Jan", "jan@client.pl")]
    assert max(parsed) <= MAX_HEADER_CHARS


@pytest.mark.parametrize(("date", "expected"), [
    # JavaScript's Date.toString() as Node scripts write it, and offsets written as in ISO 8601 or after 'GMT'/'UTC':
    # email.utils read each zone as UTC, putting the mail hours off.
    ("Mon Dec 07 2026 10:00:00 GMT+0100 (Central European Standard Time)", datetime(2026, 12, 7, 9, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 GMT+0100", datetime(2026, 12, 7, 9, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 GMT+01:00", datetime(2026, 12, 7, 9, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 UTC+3", datetime(2026, 12, 7, 7, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 GMT-5", datetime(2026, 12, 7, 15, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 +01:00", datetime(2026, 12, 7, 9, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 GMT", datetime(2026, 12, 7, 10, tzinfo=UTC)),
    ("Mon, 07 Dec 2026 10:00:00 +0000 (UTC)", datetime(2026, 12, 7, 10, tzinfo=UTC)),
    # Zone names Russian and Polish servers write, which email.utils does not know.
    ("Mon, 7 Dec 2026 10:00:00 MSK", datetime(2026, 12, 7, 7, tzinfo=UTC)),
    ("Mon, 7 Dec 2026 10:00:00 CET", datetime(2026, 12, 7, 9, tzinfo=UTC)),
    ("Tue, 7 Jul 2026 10:00:00 CEST", datetime(2026, 7, 7, 8, tzinfo=UTC)),
])
def test_a_zone_written_another_way_is_read_as_its_offset(date: str, expected: datetime) -> None:
    raw = f"From: Anna <anna@firma.example>\r\nSubject: x\r\nDate: {date}\r\n\r\nHi".encode()
    assert parse_message(raw).date == expected


def _rtf_only_tnef(rtf: bytes) -> bytes:
    """A winmail.dat whose only body is PR_RTF_COMPRESSED (0x1009, binary) in attMAPIProps (0x9003): how Outlook
    sends mail written in Rich Text, with no plain or HTML body beside it."""
    import struct

    from compressed_rtf import compress

    blob = compress(rtf, compressed=True)
    props = struct.pack("<IHHII", 1, 0x0102, 0x1009, 1, len(blob)) + blob + b"\x00" * (-len(blob) % 4)
    return _tnef((0x9003, 0x0006, props))


@pytest.mark.parametrize(("rtf", "text"), [
    # Rich text written in Outlook, in the Windows code page it names (Polish: cp1250).
    (rb"{\rtf1\ansi\ansicpg1250\deff0{\fonttbl{\f0\fswiss Arial;}}\pard\plain Dzie\'f1 dobry, prosz\'ea o ofert\'ea"
     rb" na 40 krzese\'b3.\par}", "Dzień dobry, proszę o ofertę na 40 krzeseł."),
    # HTML that Outlook wrapped in RTF (\fromhtml1): the text, not the tags.
    (rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}{\*\htmltag19 <html>}"
     rb"{\*\htmltag50 <body>}\htmlrtf {\htmlrtf0 Hello, we need 40 chairs.{\*\htmltag244 <br>}\htmlrtf \par"
     rb"\htmlrtf0}{\*\htmltag58 </body>}{\*\htmltag27 </html>}}", "Hello, we need 40 chairs."),
])
def test_a_winmail_dat_with_only_a_rich_text_body_has_that_text(rtf: bytes, text: str) -> None:
    """The RTF-only winmail.dat had no text at all (an inquiry with an empty body): its compressed RTF is
    decompressed (compressed-rtf) and read as text (striprtf)."""
    mail = parse_message(_winmail_only(_rtf_only_tnef(rtf)))
    assert mail.text == text


@pytest.mark.parametrize("blob", [b"\x00" * 16, b"LZFu" * 10, b"\xff" * 64])
def test_a_winmail_dat_with_broken_compressed_rtf_is_only_a_file(blob: bytes) -> None:
    import struct

    props = struct.pack("<IHHII", 1, 0x0102, 0x1009, 1, len(blob)) + blob
    mail = parse_message(_winmail_only(_tnef((0x9003, 0x0006, props))))
    assert (mail.text, [a.filename for a in mail.attachments]) == ("", ["winmail.dat"])


def test_an_html_body_is_counted_for_depth_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The depth count is a pass over the whole body: it was made once for the text and again to sanitise."""
    import core.markup

    counted: list[int] = []
    depth = core.markup.html_depth
    monkeypatch.setattr(core.markup, "html_depth", lambda markup, *a: counted.append(len(markup)) or depth(markup, *a))
    html = "<div><p>Dzień dobry,</p><p>proszę o ofertę.</p></div>"
    mail = parse_message(("From: Anna <anna@firma.example>\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8"
                          "\r\n\r\n" + html).encode())
    assert mail.text == "Dzień dobry,\nproszę o ofertę." and "<p>Dzień dobry,</p>" in mail.html
    assert counted == [len(html)]


def _forward_chain(forwards: int) -> bytes:
    """A forward of a forward … `forwards` times: each a multipart/mixed of its text and the message it forwards
    (two levels a forward)."""
    inner = ("From: Klient <klient@firma.example>\r\nSubject: Zapytanie\r\nContent-Type: text/plain; charset=utf-8"
             "\r\n\r\nProszę o ofertę na 200 krzeseł.\r\n")
    for i in range(forwards):
        inner = (f"From: Rep{i} <rep{i}@acme.example>\r\nSubject: Fwd: Zapytanie\r\nMIME-Version: 1.0\r\n"
                 f'Content-Type: multipart/mixed; boundary="f{i}"\r\n\r\n--f{i}\r\n'
                 f"Content-Type: text/plain; charset=utf-8\r\n\r\nPrzesyłam dalej ({i}).\r\n"
                 f"--f{i}\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--f{i}--\r\n")
    return inner.encode()


@pytest.mark.parametrize("forwards", [20, 60, 100, 500])
def test_a_chain_of_forwards_nested_hundreds_deep_is_read_not_quarantined(forwards: int) -> None:
    """The standard parser recurses for each level: 1,000 levels (a chain of 500 forwards) was quarantined as
    'unparseable MIME: RecursionError' (after seconds: each line is compared with every open boundary). Mail
    nested deeper than MAX_MIME_DEPTH is read level by level down to it; what is deeper is not read, and a defect
    says so."""
    from connectors.gmail.mime import MAX_MIME_DEPTH

    mail = parse_message(_forward_chain(forwards))
    latest = forwards - 1
    assert mail.sender is not None and mail.sender.address == f"rep{latest}@acme.example"
    assert mail.text.startswith(f"Przesyłam dalej ({latest}).\n\nPrzesyłam dalej ({latest - 1}).")
    assert [f.sender.address for f in mail.forwarded if f.sender] == [f"rep{latest - 1}@acme.example"]
    read_whole = 2 * forwards <= MAX_MIME_DEPTH
    assert ("Proszę o ofertę na 200 krzeseł." in mail.text) is read_whole
    assert ("MessageDefect" in mail.defects) is not read_whole


def test_mime_nested_a_hundred_thousand_deep_is_read_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attached messages nested 100,000 deep (5 MB, no boundary line for the boundary count to stop): the
    parser is handed the same few levels whatever the depth; the message is read, not quarantined."""
    import email.feedparser

    fed: list[int] = []
    feed = email.feedparser.FeedParser.feed
    monkeypatch.setattr(email.feedparser.FeedParser, "feed", lambda self, data: fed.append(len(data)) or feed(self, data))

    def nested(depth: int) -> bytes:
        return (b"From: Anna <anna@firma.example>\r\nContent-Type: message/rfc822\r\n\r\n" * depth
                + b"From: b@firma.example\r\n\r\nhi\r\n")

    work = []
    for depth in (25_000, 100_000):
        fed.clear()
        mail = parse_message(nested(depth))
        assert mail.sender is not None and mail.sender.address == "anna@firma.example"
        work.append(sum(fed))
    assert work[1] <= 4 * work[0]  # (4 times the depth: at most 4 times the parser's work)


def _rtf_seconds(rtf: bytes) -> float:
    """The least of three timings of reading the compressed RTF (a ratio of two of them is what is compared)."""
    import time

    from compressed_rtf import compress

    from connectors.gmail.mime import _rtf_text

    blob = compress(rtf, compressed=True)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        _rtf_text(blob)
        timings.append(time.perf_counter() - started)
    return min(timings)


@pytest.mark.parametrize("hostile", [
    b"{\\field{\\*\\fldinst{x ",  # fields never ended: striprtf's hyperlink pattern scanned on from each
    b"",  # a font table of thousands of fonts without a charset: its font pattern scanned on from each
])
def test_rtf_built_to_stall_striprtf_is_read_in_linear_time(hostile: bytes) -> None:
    """striprtf's passes were quadratic: 4,000 unended fields (11 kB compressed, under the 256 kB cap) took
    5 s, four times fewer a fifth of a second. Four times the RTF now takes about four times as long."""
    def rtf(n: int) -> bytes:
        fonts = b"\\f1 " * n if not hostile else b"{\\f0\\fcharset238 Arial;}"
        return b"{\\rtf1\\ansi\\ansicpg1250{\\fonttbl" + fonts + b"}" + hostile * n + b"\\par Koniec}"

    small, large = _rtf_seconds(rtf(1000)), _rtf_seconds(rtf(4000))
    assert large < 8 * small  # (linear: 4; the quadratic passes: 16 and more)


def test_rtf_link_texts_and_font_charsets_are_read() -> None:
    from compressed_rtf import compress

    from connectors.gmail.mime import _rtf_text

    rtf = (rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss\fcharset238 Arial;}{\f1\fnil\fcharset204 Tahoma;}}"
           rb"\f0 Prosz\'ea o ofert\'ea: {\field{\*\fldinst{HYPERLINK " + b'"https://firma.example/oferta"}}'
           rb"{\fldrslt{cennik}}}\par\f1 \'c4\'ee\'e1\'f0\'fb\'e9 \'e4\'e5\'ed\'fc}")
    text = _rtf_text(compress(rtf, compressed=True))
    assert text.split() == ["Proszę", "o", "ofertę:", "cennik", "Добрый", "день"]


@pytest.mark.parametrize("raw", [
    "From: {ats}b.pl\r\nSubject: x\r\n\r\nHi",
    "From: {ats}b.pl <jan@client.pl>\r\nSubject: x\r\n\r\nHi",
    # An inline forward's author line (Yandex's dated one, and "From:") of thousands of '@'.
    "From: ann@acme.example\r\nSubject: Fwd: x\r\n\r\n05.01.2026, 10:00, {ats} x\r\n",
    "From: ann@acme.example\r\nSubject: Fwd: x\r\n\r\nFrom: {ats} x\r\n",
])
def test_thousands_of_at_signs_in_a_mailbox_are_read_in_time_that_grows_with_them_not_faster(raw: str) -> None:
    """'a@a@a@…' in From (a name with an '@' is looked for, to be quoted) or in a forward's author line: the
    patterns that looked for them backtracked, in time growing with the square of the '@'s (16,000 took 20 s,
    one message holding a sync). Eight times the '@'s now take at most about eight times as long (or less: a lone
    mailbox's last MAX_ADDRESSES '@' are read); the square would be 64 times."""
    import time

    def seconds(count: int) -> float:
        data = raw.replace("{ats}", "a@" * count).encode()
        best = float("inf")
        for _ in range(5):  # (the fastest of five: another process's moment on the CPU is not the parser's)
            start = time.perf_counter()
            parse_message(data)
            best = min(best, time.perf_counter() - start)
        return best

    seconds(100)  # (warm)
    assert seconds(8000) / seconds(1000) < 24


@pytest.mark.parametrize("junk", [";", '"', " @", "From: "])
@pytest.mark.parametrize("where", ["top", "part"])
def test_a_content_type_of_thousands_of_tokens_is_parsed_in_time_that_does_not_grow_with_its_square(
        junk: str, where: str) -> None:
    """A boundary or file name of thousands of ';', '"' or words (spam, fuzzers): policy.default parses a
    Content-Type in time quadratic in its tokens, and asks for it at each part (20,000 ';' took 100 s). A long
    one is rebuilt of its well-formed parameters first, so eight times the junk takes at most about as long."""
    import time

    def seconds(count: int) -> float:
        header = f"Content-Type: multipart/mixed; boundary={(junk * count)[:count]}"
        raw = (f"From: a@b.pl\r\n{header}\r\n\r\nHi" if where == "top" else
               f'From: a@b.pl\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n{header}\r\n\r\nHi\r\n--B--\r\n')
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            parse_message(raw.encode())
            best = min(best, time.perf_counter() - start)
        return best

    seconds(100)  # (warm)
    assert seconds(8000) / seconds(1000) < 12


@pytest.mark.parametrize("header", [
    "From: Jan <jan@client.pl>\r\nReply-To: " + ":" * 1500,  # groups nested deeper than Python recurses
    "From: Jan <jan@client.pl>\r\nReply-To: " + "(" * 1500,  # comments nested so
    "From: Jan <jan@client.pl>\r\nContent-Type: text/plain; charset=utf-8; format=" + "(" * 1500,
    "From: Jan <jan@client.pl>\r\nContent-Disposition: inline; filename=" + "(" * 1500,
])
def test_a_header_nested_thousands_deep_is_read_as_nothing_not_the_end_of_the_message(header: str) -> None:
    """The standard parsers recurse once a nesting level: such a header raised RecursionError, and the message
    was quarantined (its lead never made). The header is read as nothing (or its parameters as plain strings);
    the rest of the message is read."""
    mail = parse_message(f"{header}\r\nSubject: Oferta\r\n\r\nProsimy o ofertę".encode())
    assert (mail.sender.address, mail.subject, mail.text, mail.reply_to) == ("jan@client.pl", "Oferta",
                                                                             "Prosimy o ofertę", [])


@pytest.mark.parametrize("filler", [" \r\n", "\r\n", "\t\t\t\t", "  "])
def test_a_body_of_thousands_of_blank_lines_or_spaces_is_read_in_time_that_does_not_grow_with_its_square(
        filler: str) -> None:
    """The inbox snippet's reply parser (mailparser_reply) matches its signature pattern in time growing faster
    than the square of blank lines or spaces (4,000 blank lines took 4 s; its 50,000 characters, minutes). Runs
    of them are one blank line or one space to it now (to a reader too), and the snippet is the same."""
    import time

    def seconds(count: int) -> float:
        raw = f"From: a@b.pl\r\nSubject: x\r\n\r\nDzień dobry,\r\n{filler * count}proszę o ofertę.\r\n".encode()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            mail = parse_message(raw)
            best = min(best, time.perf_counter() - start)
        assert " ".join(mail.snippet.split()) == "Dzień dobry, proszę o ofertę."
        return best

    seconds(100)  # (warm)
    assert seconds(4000) / seconds(500) < 12


@pytest.mark.parametrize("junk", ['"', ".", "\\"])
@pytest.mark.parametrize("header", ["From", "Reply-To"])
def test_a_sender_header_of_thousands_of_tokens_is_parsed_in_part(junk: str, header: str) -> None:
    """The address parsers take time quadratic in a header's tokens: a From or Reply-To of 20,000 '"' took 13 s
    (MAX_HEADER_CHARS suits lists of recipients, not one sender). Of From, Sender, Reply-To and Return-Path,
    MAX_SENDER_HEADER_CHARS are parsed, up to a comma or a lone mailbox's end, where its address is."""
    import time

    def seconds(count: int) -> float:
        raw = (f"From: Jan <jan@client.pl>\r\n{header}: {junk * count} <ola@client.pl>\r\nSubject: x\r\n\r\nHi"
               if header != "From" else f"From: {junk * count} <ola@client.pl>\r\nSubject: x\r\n\r\nHi")
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            mail = parse_message(raw.encode())
            best = min(best, time.perf_counter() - start)
        # (backslashes escape what follows them, the address's '<' too: no mailbox to read after them)
        assert junk == "\\" or "ola@client.pl" in {a.address for a in [*mail.reply_to, *mail.authors]}
        return best

    seconds(100)  # (warm)
    assert seconds(8000) / seconds(1000) < 12


@pytest.mark.parametrize("address", ["ola@client.pl", "olaf@client.pl"])
def test_a_long_raw_utf8_name_cut_to_its_end_is_not_read_as_mojibake(address: str) -> None:
    """The end of a long sender header is what is parsed: cut in the middle of a raw UTF-8 letter, its lone
    continuation byte made the whole name read as Windows-1250 ('sĹ‚owo' for 'słowo')."""
    mail = parse_message(f"From: {'ł' * 3000} <{address}>\r\nSubject: x\r\n\r\nHi".encode())
    assert mail.sender is not None and mail.sender.address == address
    assert set(mail.sender.name) == {"ł"}

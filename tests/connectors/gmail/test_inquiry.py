"""Inquiry detection: table-driven, every decision carries its reason."""

from __future__ import annotations

import pytest

from connectors.gmail.inquiry import InquiryRules, classify
from connectors.gmail.mime import parse_message

RULES = InquiryRules.build(["acme.com"], mailbox="rep@acme.com")


def mail(headers: str) -> bytes:
    return f"Message-ID: <m@x>\r\n{headers}\r\nContent-Type: text/plain\r\n\r\nHello".encode()


CASES = [
    ("From: Jan <jan@client.pl>\r\nTo: rep@acme.com", (), True, "inquiry"),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", (), False, "internal"),
    ("From: rep@acme.com\r\nTo: jan@client.pl", (), False, "outbound"),
    ("From: news@shop.com\r\nList-Unsubscribe: <mailto:u@shop.com>", (), False, "List-Unsubscribe"),
    ("From: x@shop.com\r\nPrecedence: bulk", (), False, "Precedence: bulk"),
    ("From: x@shop.com\r\nPrecedence: junk", (), False, "Precedence: junk"),
    ("From: x@shop.com\r\nAuto-Submitted: auto-replied", (), False, "Auto-Submitted"),
    ("From: x@shop.com\r\nAuto-Submitted: no", (), True, "inquiry"),
    ("From: no-reply@service.io", (), False, "no-reply"),
    ("From: MAILER-DAEMON@mx.client.pl", (), False, "no-reply"),
    ("From: x@sub.acme.com", (), False, "internal"),
    # Out-of-office replies without Auto-Submitted: their header or their software's subject.
    ("From: Jan <jan@client.pl>\r\nX-Autoreply: yes", (), False, "X-Autoreply"),
    ("From: Jan <jan@client.pl>\r\nX-Autorespond: Out of office", (), False, "X-Autorespond"),
    ("From: Jan <jan@client.pl>\r\nSubject: Automatic reply: Oferta", (), False, "auto-reply subject"),
    ("From: Jan <jan@client.pl>\r\nSubject: Out of Office AutoReply: meeting", (), False, "auto-reply subject"),
    ("From: Jan <jan@client.pl>\r\nSubject: =?utf-8?q?Automatyczna_odpowied=C5=BA=3A_Zapytanie?=", (), False,
     "auto-reply subject"),
    ("From: Jan <jan@client.pl>\r\nSubject: =?utf-8?b?0JDQstGC0L7QvtGC0LLQtdGCOiDQl9Cw0L/RgNC+0YE=?=", (), False,
     "auto-reply subject"),
    # A person writing about an out-of-office, or replying to one, is not an auto-reply.
    ("From: Jan <jan@client.pl>\r\nSubject: Re: Automatic reply: Oferta", (), True, "inquiry"),
    ("From: Jan <jan@client.pl>\r\nSubject: Office chairs: price for 40 pieces", (), True, "inquiry"),
]


@pytest.mark.parametrize(("headers", "labels", "expected", "reason"), CASES)
def test_classify(headers: str, labels: tuple, expected: bool, reason: str) -> None:
    decision = classify(parse_message(mail(headers)), RULES, labels)
    assert decision.is_inquiry is expected
    assert reason in decision.reason


def test_label_filter() -> None:
    rules = InquiryRules.build(["acme.com"], only_labels=["Label_leads"])
    parsed = parse_message(mail("From: jan@client.pl"))
    assert not classify(parsed, rules, ["INBOX"]).is_inquiry
    assert "label filter" in classify(parsed, rules, ["INBOX"]).reason
    assert classify(parsed, rules, ["INBOX", "Label_leads"]).is_inquiry


def test_outbound_names_the_outside_recipients() -> None:
    decision = classify(parse_message(mail("From: rep@acme.com\r\nTo: Jan <jan@client.pl>, boss@acme.com")), RULES)
    assert decision.direction == "out"
    assert decision.counterparts == [("Jan", "jan@client.pl")]

"""Inquiry detection: table-driven, every decision carries its reason."""

from __future__ import annotations

import pytest

from connectors.gmail.inquiry import InquiryRules, classify, is_auto_reply
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
    # Exchange's subject in the absent person's language.
    ("From: Ola <ola@client.ua>\r\nSubject: =?utf-8?b?0JDQstGC0L7QvNCw0YLQuNGH0L3QsCDQstGW0LTQv9C+0LLRltC00Yw6IE9mZXJ0YQ==?=",
     (), False, "auto-reply subject"),
    ("From: Jan <jan@client.de>\r\nSubject: Automatische Antwort: Angebot", (), False, "auto-reply subject"),
    ("From: Jean <jean@client.fr>\r\nSubject: =?utf-8?q?R=C3=A9ponse_automatique=C2=A0=3A_Offre?=", (), False,
     "auto-reply subject"),
    ("From: Ana <ana@client.es>\r\nSubject: =?utf-8?q?Respuesta_autom=C3=A1tica=3A_Oferta?=", (), False,
     "auto-reply subject"),
    ("From: Petr <petr@client.cz>\r\nSubject: =?utf-8?q?Automatick=C3=A1_odpov=C4=9B=C4=8F=3A_Nab=C3=ADdka?=", (),
     False, "auto-reply subject"),
    # A person writing about an out-of-office, or replying to one, is not an auto-reply.
    ("From: Jan <jan@client.pl>\r\nSubject: Re: Automatic reply: Oferta", (), True, "inquiry"),
    ("From: Jan <jan@client.pl>\r\nSubject: Office chairs: price for 40 pieces", (), True, "inquiry"),
    # Website forms that mail the inbox: from the company's own server or a form service, the visitor in Reply-To.
    ("From: WordPress <wordpress@acme.com>\r\nReply-To: Ola Zima <ola@zima.pl>\r\nTo: rep@acme.com", (), True,
     "form notification"),
    ("From: Formspree <noreply@formspree.io>\r\nReply-To: ola@zima.pl\r\nTo: rep@acme.com", (), True,
     "form notification"),
    ("From: WordPress <wordpress@acme.com>\r\nReply-To: Ola <ola@zima.pl>\r\nAuto-Submitted: auto-generated",
     (), True, "form notification"),
    # Hosted form services whose sender does not say "no-reply" (Squarespace, Netlify, Tilda).
    ("From: Squarespace <form-submission@squarespace.info>\r\nReply-To: Ola <ola@zima.pl>\r\nTo: rep@acme.com", (),
     True, "form notification"),
    ("From: formresponses@netlify.com\r\nReply-To: ola@zima.pl", (), True, "form notification"),
    ("From: Tilda <robot@tilda.ws>\r\nReply-To: olga@tehnoprom.ru", (), True, "form notification"),
    # Notifiers are machines, not leads: a no-reply word inside the address, a notification sender, a form
    # service with no visitor named.
    ("From: Google Forms <forms-receipts-noreply@google.com>", (), False, "no-reply"),
    ("From: LinkedIn <messages-noreply@linkedin.com>", (), False, "no-reply"),
    ("From: Google Calendar <calendar-notification@google.com>", (), False, "notification sender"),
    ("From: Squarespace <form-submission@squarespace.info>", (), False, "notification sender"),
    ("From: Webflow <support@webflow.com>", (), False, "notification sender"),
    # Not forms: a shop's no-reply with its own support in Reply-To, list mail, mail the rep sent.
    ("From: noreply@shop.com\r\nReply-To: help@shop.com", (), False, "no-reply"),
    ("From: noreply@shop.com\r\nReply-To: anna@shop.com", (), False, "no-reply"),
    ("From: noreply@forms.io\r\nReply-To: support@other.io", (), False, "no-reply"),
    ("From: news@acme.com\r\nReply-To: ola@zima.pl\r\nList-Id: <news.acme.com>", (), False, "internal"),
    ("From: rep@acme.com\r\nReply-To: ola@zima.pl\r\nTo: jan@client.pl", ("SENT",), False, "outbound"),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com\r\nReply-To: ann@acme.com", (), False, "internal"),
    # Mailing lists that send no List-Id: RFC 2369's List-Post, ezmlm, Mailman 2.0 digests, the list server in
    # Sender while From keeps the member, the list's own robot addresses.
    ("From: Jan <jan@client.pl>\r\nList-Post: <mailto:ppp@lists.org>", (), False, "List-Post"),
    ("From: Jan <jan@client.pl>\r\nMailing-List: contact ppp-help@lists.org; run by ezmlm", (), False,
     "Mailing-List"),
    ("From: ppp-request@zzz.org\r\nX-Mailman-Version: 2.0.4", (), False, "X-Mailman-Version"),
    ("From: Jan <jan@client.pl>\r\nSender: owner-freebsd-isp@FreeBSD.ORG", (), False, "list server in Sender"),
    ("From: Jan <jan@client.pl>\r\nSender: ppp-bounces+rep=acme.com@lists.org", (), False, "list server in Sender"),
    ("From: ppp-request@zzz.org", (), False, "list server address"),
    # An assistant sending on her manager's behalf is a person in Sender, not a list.
    ("From: Jan <jan@client.pl>\r\nSender: Ewa <ewa@client.pl>", (), True, "inquiry"),
    # Non-delivery reports that are not multipart/report: by the server's name or its subject.
    ("From: Mail Delivery System <mx1@client.pl>", (), False, "bounce"),
    ("From: mx1@client.pl (Mail Delivery System)", (), False, "bounce"),  # the name in a comment
    ("From: Mail Delivery Subsystem <mx1@client.pl>\r\nSubject: Returned mail: see transcript", (), False,
     "bounce"),
    ("From: Microsoft Outlook <it@client.pl>\r\nSubject: Undeliverable: Oferta", (), False, "non-delivery subject"),
    ("From: it@client.pl\r\nSubject: Niedostarczalne: Oferta", (), False, "non-delivery subject"),
    ("From: it@client.pl\r\nSubject: =?utf-8?b?0J3QtdC00L7RgdGC0LDQstC70Y/QtdC80L7QtTog0JrQnw==?=", (), False,
     "non-delivery subject"),
    ("From: it@client.de\r\nSubject: Unzustellbar: Angebot", (), False, "non-delivery subject"),
    ("From: it@client.fr\r\nSubject: Non remis : Offre", (), False, "non-delivery subject"),
    ("From: Jan <jan@client.pl>\r\nSubject: Re: Undeliverable: Oferta", (), True, "inquiry"),
    ("From: Jan <jan@client.pl>\r\nSubject: Delivery failure of order 1234", (), True, "inquiry"),
    # Not a mailbox at all: the empty return address of a bounce, a local name without a domain.
    ("From: MAILER DAEMON <>", (), False, "no sender address"),
    ("From: foo", (), False, "no sender address"),
]


REPORT = ("Message-ID: <r@mx>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/report; report-type={report};\r\n\tboundary=\"B\"\r\n\r\n"
          "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--B--\r\n")


@pytest.mark.parametrize(("report", "reason"), [
    ("delivery-status", "bounce: delivery status report"),
    ('"delivery-status"', "bounce: delivery status report"),  # quoted, as Outlook and Python's email write it
    ('"disposition-notification"', "automated: report disposition-notification"),  # a read receipt
])
def test_a_multipart_report_is_machine_made_whoever_sends_it(report: str, reason: str) -> None:
    raw = REPORT.format(sender="Jan Kowalski <jan@client.pl>", subject="Przeczytano: Oferta", report=report)
    decision = classify(parse_message(raw.encode()), RULES)
    assert (decision.is_inquiry, decision.reason) == (False, reason)


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


@pytest.mark.parametrize(("headers", "counterparts"), [
    ("To: undisclosed-recipients:;\r\nBcc: Jan <jan@client.pl>", [("Jan", "jan@client.pl")]),
    ("To: boss@acme.com\r\nBcc: jan@client.pl, ola@firma.pl", [("", "jan@client.pl"), ("", "ola@firma.pl")]),
    ("To: Ola <ola@firma.pl>\r\nBcc: jan@client.pl", [("Ola", "ola@firma.pl"), ("", "jan@client.pl")]),
    ("To: boss@acme.com\r\nBcc: ann@acme.com", []),
])
def test_outbound_mail_to_recipients_in_bcc_names_them(headers: str, counterparts: list) -> None:
    """The rep's copy of a sent mail keeps its Bcc: a client written to in Bcc alone was 'internal' and the mail
    never reached the lead's timeline."""
    decision = classify(parse_message(mail(f"From: rep@acme.com\r\n{headers}")), RULES, ["SENT"])
    assert (decision.direction, decision.counterparts) == ("out", counterparts)


GMAIL_RULES = InquiryRules.build([], mailbox="firma.kowalski@gmail.com")


@pytest.mark.parametrize(("headers", "labels", "direction", "inquiry", "counterparts"), [
    # A consumer Gmail mailbox: other Gmail users are clients, not colleagues (every one was 'internal').
    ("From: Jan <jan.nowak@gmail.com>\r\nTo: firma.kowalski@gmail.com", (), "in", True,
     [("Jan", "jan.nowak@gmail.com")]),
    ("From: Ola <ola@googlemail.com>\r\nTo: firma.kowalski@gmail.com", (), "in", True, [("Ola", "ola@googlemail.com")]),
    # The mailbox itself, however Gmail's dots, +tags and googlemail.com write it, is the rep.
    ("From: firma.kowalski@gmail.com\r\nTo: Jan <jan.nowak@gmail.com>", ("SENT",), "out", False,
     [("Jan", "jan.nowak@gmail.com")]),
    ("From: FirmaKowalski+oferty@googlemail.com\r\nTo: Jan <jan.nowak@gmail.com>", (), "out", False,
     [("Jan", "jan.nowak@gmail.com")]),
    ("From: Jan <jan.nowak@gmail.com>\r\nTo: firma.kowalski@gmail.com, Ola <ola@gmail.com>", (), "in", True,
     [("Jan", "jan.nowak@gmail.com")]),
])
def test_a_gmail_com_mailbox_has_no_company_domain(headers: str, labels: tuple, direction: str, inquiry: bool,
                                                   counterparts: list) -> None:
    decision = classify(parse_message(mail(headers)), GMAIL_RULES, labels)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == (direction, inquiry, counterparts)


def test_outbound_names_the_outside_recipients() -> None:
    decision = classify(parse_message(mail("From: rep@acme.com\r\nTo: Jan <jan@client.pl>, boss@acme.com")), RULES)
    assert decision.direction == "out"
    assert decision.counterparts == [("Jan", "jan@client.pl")]


@pytest.mark.parametrize(("headers", "direction", "inquiry", "counterparts"), [
    # RFC 5322 allows several authors in From, with Sender naming the one who sent it. A rep listed among a
    # client's authors does not make the client's mail outbound.
    ("From: Rep <rep@acme.com>, Jan <jan@client.pl>\r\nSender: Jan <jan@client.pl>\r\nTo: rep@acme.com",
     "in", True, [("Jan", "jan@client.pl")]),
    ("From: Jan <jan@client.pl>, Rep <rep@acme.com>\r\nSender: jan@client.pl\r\nTo: rep@acme.com",
     "in", True, [("Jan", "jan@client.pl")]),
    # Sent by someone not among the authors (an assistant): still the client's mail, the lead an outside author.
    ("From: Rep <rep@acme.com>, Jan <jan@client.pl>\r\nSender: Ewa <ewa@client.pl>\r\nTo: rep@acme.com",
     "in", True, [("Jan", "jan@client.pl")]),
    # Sent by the rep (Sender), or with no Sender the first author is the rep: outbound.
    ("From: Rep <rep@acme.com>, Jan <jan@client.pl>\r\nSender: rep@acme.com\r\nTo: Ola <ola@x.pl>",
     "out", False, [("Ola", "ola@x.pl")]),
    ("From: Jan <jan@client.pl>, Rep <rep@acme.com>\r\nSender: rep@acme.com\r\nTo: Ola <ola@x.pl>",
     "out", False, [("Ola", "ola@x.pl")]),
    ("From: Rep <rep@acme.com>, Jan <jan@client.pl>\r\nTo: Ola <ola@x.pl>", "out", False, [("Ola", "ola@x.pl")]),
    # Two outside authors: the first is the lead, as before.
    ("From: Jan <jan@client.pl>, Anna <anna@client.pl>\r\nTo: rep@acme.com", "in", True, [("Jan", "jan@client.pl")]),
])
def test_a_from_list_is_sent_by_the_mailbox_sender_names(headers: str, direction: str, inquiry: bool,
                                                          counterparts: list) -> None:
    decision = classify(parse_message(mail(headers)), RULES)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == (direction, inquiry, counterparts)


def forward(outer: str, inner: str) -> bytes:
    return (f"Message-ID: <f@acme.com>\r\n{outer}\r\nSubject: Fwd: Oferta\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
            "Please handle this one\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
            f"{inner}\r\nMessage-ID: <o@firma.pl>\r\nSubject: Oferta\r\n\r\nProsimy o oferte na 40 krzesel\r\n"
            "--B--\r\n").encode()


@pytest.mark.parametrize(("outer", "inner", "labels", "expected"), [
    # A colleague forwards a client's mail as an attachment: the client's inquiry (it was 'internal', left out).
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", "From: Olga <olga@firma.pl>\r\nTo: info@acme.com", (),
     ("in", True, [("Olga", "olga@firma.pl")])),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", "From: =?utf-8?B?T2xnYSBaaW1h?= <olga@firma.pl>", (),
     ("in", True, [("Olga Zima", "olga@firma.pl")])),
    # Not: the rep's own forward, a colleague's mail forwarded, machine-made mail forwarded, a bounce carrying mail.
    ("From: rep@acme.com\r\nTo: ann@acme.com", "From: Olga <olga@firma.pl>", ("SENT",), ("out", False, [])),
    ("From: rep@acme.com\r\nTo: rep@acme.com", "From: Olga <olga@firma.pl>", (), ("out", False, [])),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", "From: Piotr <piotr@acme.com>", (), ("out", False, [])),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", "From: news@shop.pl\r\nList-Unsubscribe: <mailto:u@shop.pl>",
     (), ("out", False, [])),
    ("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", "From: no-reply@shop.pl", (), ("out", False, [])),
    ("From: postmaster@acme.com\r\nTo: rep@acme.com\r\nAuto-Submitted: auto-replied",
     "From: Olga <olga@firma.pl>", (), ("out", False, [])),
    # A client forwarding someone's mail is still the client writing.
    ("From: Jan <jan@client.pl>\r\nTo: rep@acme.com", "From: Olga <olga@firma.pl>", (),
     ("in", True, [("Jan", "jan@client.pl")])),
])
def test_mail_a_colleague_forwards_as_an_attachment_is_its_authors_inquiry(outer: str, inner: str, labels: tuple,
                                                                            expected: tuple) -> None:
    decision = classify(parse_message(forward(outer, inner)), RULES, labels)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == expected


GMAIL_FORWARD = ("Please handle\r\n\r\n---------- Forwarded message ---------\r\nFrom: Olga Zima <olga@firma.pl>\r\n"
                 "Date: Mon, 5 Jan 2026 at 10:00\r\nSubject: Oferta\r\nTo: <info@acme.com>\r\n\r\nProsimy o oferte\r\n")
OUTLOOK_FORWARD = ("FYI\r\n\r\n________________________________\r\nFrom: Olga Zima [mailto:olga@firma.pl]\r\n"
                   "Sent: Monday, January 5, 2026 10:00 AM\r\nTo: Info <info@acme.com>\r\nSubject: Oferta\r\n\r\nProsimy\r\n")
POLISH_FORWARD = ("---------- Wiadomość przekazana dalej ---------\r\nOd: **Olga Zima** <olga@firma.pl>\r\n"
                  "Date: pon., 5 sty 2026\r\n\r\nProsimy o ofertę\r\n")
OLGA = ("in", True, [("Olga Zima", "olga@firma.pl")])


@pytest.mark.parametrize(("subject", "body", "expected"), [
    # Gmail, Outlook and Apple Mail forward inline by default: the author is the first "From:" of the text.
    ("Fwd: Oferta", GMAIL_FORWARD, OLGA),
    ("FW: Oferta", OUTLOOK_FORWARD, OLGA),
    ("PD: Oferta", POLISH_FORWARD, OLGA),
    ("Fwd: Oferta", "Begin forwarded message:\r\n\r\nFrom: Olga Zima <olga@firma.pl>\r\n\r\nProsimy\r\n", OLGA),
    # A forward whose subject the rep retyped: the forward's own line above the message says it is one.
    ("Oferta", GMAIL_FORWARD, OLGA),
    ("Zapytanie od klienta", POLISH_FORWARD, OLGA),
    ("Klient", "-------- Пересылаемое сообщение --------\r\n05.01.2026, 10:00, Olga Zima <olga@firma.pl>:\r\n\r\n"
     "Prosimy\r\n", OLGA),
    # (Outlook's rule and "-----Original Message-----" head its replies' quotes too: not without "FW:".)
    ("Oferta", OUTLOOK_FORWARD, ("out", False, [])),
    ("Odp: Oferta", POLISH_FORWARD, ("out", False, [])),
    # Not: a reply quoting the client (not a forward), a colleague's or a no-reply's mail forwarded, no author.
    ("Re: Oferta", GMAIL_FORWARD, ("out", False, [])),
    ("Fwd: Lunch", GMAIL_FORWARD.replace("Olga Zima <olga@firma.pl>", "Piotr <piotr@acme.com>"), ("out", False, [])),
    ("Fwd: Sale", GMAIL_FORWARD.replace("Olga Zima <olga@firma.pl>", "Shop <no-reply@shop.pl>"), ("out", False, [])),
    ("Fwd: Oferta", "Look at this one", ("out", False, [])),
])
def test_mail_a_colleague_forwards_inline_is_its_authors_inquiry(subject: str, body: str, expected: tuple) -> None:
    raw = (f"Message-ID: <f@acme.com>\r\nFrom: Ann <ann@acme.com>\r\nTo: rep@acme.com\r\nSubject: {subject}\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
    decision = classify(parse_message(raw), RULES)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == expected


def test_a_form_notification_is_the_visitors_inquiry() -> None:
    raw = mail("From: WordPress <wordpress@acme.com>\r\nReply-To: Ola Zima <ola@zima.pl>\r\nTo: rep@acme.com\r\n"
               "Subject: Nowe zgłoszenie z formularza kontaktowego")
    decision = classify(parse_message(raw), RULES)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == ("in", True, [("Ola Zima", "ola@zima.pl")])


def test_a_form_notification_in_the_mailbox_becomes_the_visitors_lead() -> None:
    import base64
    from types import SimpleNamespace

    from connectors.gmail import GmailConnector

    context = SimpleNamespace(config={}, settings={"COMPANY_DOMAINS": "acme.com"}, account_id=1, owner_id=1,
                              is_known_email=lambda _address: False, credentials={}, store_credentials=None)
    connector = GmailConnector(context)
    connector.mailbox = "rep@acme.com"
    connector._rules = connector.rules()  # noqa: SLF001 - what read() sets up before the first message
    raw = ("Message-ID: <f1@acme.com>\r\nFrom: WordPress <wordpress@acme.com>\r\nReply-To: ola@zima.pl\r\n"
           "To: rep@acme.com\r\nSubject: Nowe zgłoszenie: wycena\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "Imię i nazwisko: Ola Zima\r\nFirma: Zima Projekt\r\nTelefon: 601 555 123\r\n"
           "Wiadomość: Proszę o wycenę: 8 licencji\r\n").encode()
    record = connector.to_record({"id": "g1", "threadId": "t1", "raw": base64.urlsafe_b64encode(raw).decode()})
    contact = record.contact
    assert (contact.email, contact.name, contact.phone, contact.company, record.message.direction) == (
        "ola@zima.pl", "Ola Zima", "601 555 123", "Zima Projekt", "in")


def test_mail_through_the_companys_google_group_is_the_writers_inquiry() -> None:
    """A Google Group (sales@) rewrites From to itself as "'Jan Kowalski' via Sprzedaż" and puts the writer in
    Reply-To, without a name: the writer is the lead, with the name the group's From gives."""
    raw = mail("From: \"'Jan Kowalski' via Sprzedaż\" <sprzedaz@acme.com>\r\nReply-To: jan@client.pl\r\n"
               "To: sprzedaz@acme.com")
    decision = classify(parse_message(raw), RULES)
    assert (decision.is_inquiry, decision.counterparts) == (True, [("Jan Kowalski", "jan@client.pl")])


def _body_mail(sender: str, body: str, extra: str = "") -> bytes:
    return (f"Message-ID: <f@acme.com>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nSubject: Nowe zgłoszenie\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


FORM_BODY = "Imię i nazwisko: Ola Zima\r\nE-mail: ola@zima.pl\r\nTelefon: 601 555 123\r\nWiadomość: Wycena 8 licencji\r\n"


@pytest.mark.parametrize(("sender", "body", "extra", "visitor"), [
    # Site software of the company's own domain that sends no Reply-To (Gravity Forms' default): the body's e-mail.
    ("WordPress <wordpress@acme.com>", FORM_BODY, "", ("Ola Zima", "ola@zima.pl")),
    ("forms@acme.com", "Name: John Carter\nEmail: John Carter <john@northwind.com>\nMessage: price?\n", "",
     ("John Carter", "john@northwind.com")),
    ("Сайт <noreply@acme.com>", "Имя: Ольга\nПочта: olga@tehnoprom.ru\nСообщение: Пришлите КП\n", "",
     ("Ольга", "olga@tehnoprom.ru")),
    # Not forms: a colleague's mail with an address in it, one field only, the company's own address, list mail.
    ("Ann <ann@acme.com>", FORM_BODY, "", None),
    ("wordpress@acme.com", "E-mail: ola@zima.pl\n", "", None),
    ("wordpress@acme.com", "Imię: Ola\nE-mail: biuro@acme.com\n", "", None),
    ("wordpress@acme.com", FORM_BODY, "List-Id: <news.acme.com>\r\n", None),
    ("wordpress@other.com", FORM_BODY, "", None),  # someone else's site: their no-reply mail is not our form
    # A hosted form service that names the visitor only in the body.
    ("Webflow <no-reply-forms@webflow.com>", "Name: Ola Zima\nEmail: ola@zima.pl\nMessage: Wycena\n", "",
     ("Ola Zima", "ola@zima.pl")),
    ("Tilda <robot@tilda.ws>", "Name: Ольга\nEmail: olga@tehnoprom.ru\nPhone: +7 916 123-45-67\n", "",
     ("Ольга", "olga@tehnoprom.ru")),
])
def test_a_form_notification_without_reply_to_names_the_visitor_in_its_body(sender, body, extra, visitor) -> None:  # noqa: ANN001
    decision = classify(parse_message(_body_mail(sender, body, extra)), RULES)
    if visitor is None:
        assert not decision.is_inquiry or "form notification" not in decision.reason, decision
    else:
        assert (decision.is_inquiry, decision.counterparts) == (True, [visitor]), decision
        assert "address in the body" in decision.reason


def test_gravity_forms_html_notification_names_the_visitor() -> None:
    """Gravity Forms' default notification: HTML only, no Reply-To, a table of label rows and value rows."""
    table = ("<table><tr><td colspan=2><strong>Imię i nazwisko</strong></td></tr><tr><td>&nbsp;</td><td>Ola Zima</td>"
             "</tr><tr><td colspan=2><strong>E-mail</strong></td></tr><tr><td>&nbsp;</td><td><a href='mailto:ola@zima"
             ".pl'>ola@zima.pl</a></td></tr><tr><td colspan=2><strong>Telefon</strong></td></tr><tr><td>&nbsp;</td>"
             "<td>601 555 123</td></tr></table>")
    raw = ("Message-ID: <g@acme.com>\r\nFrom: WordPress <wordpress@acme.com>\r\nTo: rep@acme.com\r\n"
           "Subject: Nowe zgłoszenie\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + table).encode()
    decision = classify(parse_message(raw), RULES)
    assert (decision.is_inquiry, decision.counterparts) == (True, [("Ola Zima", "ola@zima.pl")]), decision


def test_a_two_column_html_table_notification_names_the_visitor() -> None:
    """WPForms, Contact Form 7 (HTML) and Elementor put each field in a row of two cells, label and value. The
    text of the mail glued the cells together ("E-mailola@zima.pl") and the visitor was lost."""
    table = ("<table><tr><th>Imię i nazwisko</th><td>Ola Zima</td></tr><tr><td><b>E-mail</b></td><td><a href='mailto:"
             "ola@zima.pl'>ola@zima.pl</a></td></tr><tr><td><b>Telefon</b></td><td>601 555 123</td></tr></table>")
    raw = ("Message-ID: <t@acme.com>\r\nFrom: WordPress <wordpress@acme.com>\r\nTo: rep@acme.com\r\n"
           "Subject: Nowe zgłoszenie\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + table).encode()
    parsed = parse_message(raw)
    assert "E-mail\nola@zima.pl" in parsed.text
    decision = classify(parsed, RULES)
    assert (decision.is_inquiry, decision.counterparts) == (True, [("Ola Zima", "ola@zima.pl")]), decision


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("Imię i nazwisko: Ola Zima\nTelefon: 601 555 123\nFirma: Zima Projekt\nWiadomość: Cena: 5 zł?",
         {"name": "Ola Zima", "phone": "601 555 123", "company": "Zima Projekt", "message": "Cena: 5 zł?"}),
        ("Name: John Carter\nPhone Number: +44 20 7946 0958\nCompany name: Northwind", {
            "name": "John Carter", "phone": "+44 20 7946 0958", "company": "Northwind"}),
        ("ФИО: Иванов Иван\nТелефон: 8 (916) 123-45-67\nКомпания: Технопром",
         {"name": "Иванов Иван", "phone": "8 (916) 123-45-67", "company": "Технопром"}),
        ("*Phone*: 601 555 123\nPhone: 602 000 000", {"phone": "601 555 123"}),  # the first of each
        ("Proszę o kontakt: jutro rano", {}),
        # WordPress form plugins' HTML tables, as text: the label on its own line, the value on the next.
        ("Imię i nazwisko\n\n\xa0Ola Zima\n\nE-mail\n\n\xa0ola@zima.pl\n\nWiadomość\n\xa0Proszę o wycenę",
         {"name": "Ola Zima", "email": "ola@zima.pl", "message": "Proszę o wycenę"}),
        ("Name:John\nEmail:john@x.com", {"name": "John", "email": "john@x.com"}),
        ("Name\nEmail\njohn@x.com", {"email": "john@x.com"}),  # a label with no value is not given the next label
        # Other separators and bullets that form mailers write.
        ("Name | Ola Zima\nEmail | ola@zima.pl", {"name": "Ola Zima", "email": "ola@zima.pl"}),
        ("Name = Ola Zima\nTelefon\t601 555 123", {"name": "Ola Zima", "phone": "601 555 123"}),
        ("- Imię: Ola\n• E-mail: ola@zima.pl\n**Firma**: Zima", {"name": "Ola", "email": "ola@zima.pl", "company": "Zima"}),
        ("Price = 5 | 6\nA | B", {}),  # not labels of a form

        ("", {}),
    ],
)
def test_form_fields(text: str, fields: dict) -> None:
    from connectors.gmail.inquiry import form_fields

    assert form_fields(text) == fields


@pytest.mark.parametrize(("headers", "auto_reply"), [
    ("From: Jan <jan@client.pl>\r\nAuto-Submitted: auto-replied", True),
    ("From: Jan <jan@client.pl>\r\nX-Autoreply: yes", True),
    ("From: Jan <jan@client.pl>\r\nSubject: Automatic reply: Oferta", True),
    # Machines' auto-replies, other automated mail, bounces, lists, people: not a person's auto-reply.
    ("From: no-reply@shop.pl\r\nAuto-Submitted: auto-replied", False),
    ("From: Mail Delivery Subsystem <mailer-daemon@mx.pl>\r\nAuto-Submitted: auto-replied", False),
    ("From: Jan <jan@client.pl>\r\nAuto-Submitted: auto-generated", False),
    ("From: Jan <jan@client.pl>\r\nList-Id: <x.lists.pl>\r\nSubject: Automatic reply: x", False),
    ("From: Jan <jan@client.pl>\r\nSubject: Re: Automatic reply: Oferta", False),
    ("From: rep@acme.com\r\nTo: jan@client.pl\r\nSubject: Automatic reply: Oferta", False),
])
def test_is_auto_reply(headers: str, auto_reply: bool) -> None:
    assert is_auto_reply(classify(parse_message(mail(headers)), RULES)) is auto_reply


def _plain(sender: str, subject: str, body: str, extra: str = "") -> bytes:
    return (f"Message-ID: <rr@x>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nSubject: {subject}\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


OUTLOOK_RECEIPT = "Your message\r\n\r\n  To: Jan\r\n  Subject: Oferta\r\n  Sent: 12/7/2026 10:12 AM\r\n\r\nwas read on 12/7/2026 11:02 AM."


@pytest.mark.parametrize(("subject", "body", "extra"), [
    # Outlook and Exchange send a read receipt as plain text to mail servers they do not trust with a report.
    ("Read: Oferta", OUTLOOK_RECEIPT, ""),
    ("Not read: Oferta", "Your message\r\n\r\n  Subject: Oferta\r\n\r\nwas deleted without being read on 12/7/2026.", ""),
    ("Przeczytane: Oferta", "Wiadomość\r\n\r\n  Do: Jan\r\n  Temat: Oferta\r\n\r\nzostała przeczytana dnia 2026-12-07 11:02.", ""),
    ("Прочитано: Оферта", "Ваше сообщение\r\n\r\n  Кому: Ян\r\n  Тема: Оферта\r\n\r\nбыло прочитано 07.12.2026 11:02.", ""),
    ("Gelesen: Angebot", "Ihre Nachricht\r\n\r\n  An: Jan\r\n  Betreff: Angebot\r\n\r\nwurde am 07.12.2026 11:02 gelesen.", ""),
    ("Lu : Offre", "Votre message\r\n\r\n  À : Jan\r\n  Objet : Offre\r\n\r\na été lu le 07/12/2026 11:02.", ""),
    # Exchange's mark, whatever the subject and body say.
    ("Oferta", "Receipt", "Content-Class: urn:content-classes:MDN\r\n"),
    # Its English body under a subject in another language (Outlook writes the subject in the reader's).
    ("Přečteno: Nabídka", OUTLOOK_RECEIPT, ""),
])
def test_a_plain_text_read_receipt_is_automated(subject: str, body: str, extra: str) -> None:
    decision = classify(parse_message(_plain("Jan Kowalski <jan@client.pl>", subject, body, extra)), RULES)
    assert (decision.is_inquiry, decision.reason.startswith("automated: read receipt")) == (False, True)
    assert not is_auto_reply(decision)  # a receipt carries nothing for the lead's timeline


@pytest.mark.parametrize(("subject", "body"), [
    ("Re: Read: Oferta", "Thanks, I read it. What about the price?"),
    ("Read: our new offer", "Hello, please read the attached offer and tell me what you think."),
    ("Gelesen: Angebot", "Ich habe Ihr Angebot gelesen, wann können wir sprechen?"),
])
def test_a_person_writing_about_reading_is_an_inquiry(subject: str, body: str) -> None:
    decision = classify(parse_message(_plain("Jan Kowalski <jan@client.pl>", subject, body)), RULES)
    assert decision.is_inquiry, decision.reason


def _invitation_reply(subject: str, method_param: str = "; method=REPLY", method_line: str = "METHOD:REPLY",
                      sender: str = "Jan Kowalski <jan@client.pl>") -> bytes:
    return (f"Message-ID: <cal@x>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"C\"\r\n\r\n"
            "--C\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJan Kowalski has accepted this invitation.\r\n"
            f"--C\r\nContent-Type: text/calendar; charset=utf-8{method_param}\r\n\r\n"
            f"BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n{method_line}\r\n"
            "BEGIN:VEVENT\r\nUID:demo-1@acme.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:jan@client.pl\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n--C--\r\n").encode()


@pytest.mark.parametrize(("subject", "method_param", "method_line"), [
    ("Accepted: Demo @ Mon 7 Dec 2026 10:00 (CET)", "; method=REPLY", "METHOD:REPLY"),
    ("Zaakceptowano: Demo", "; method=REPLY", "METHOD:REPLY"),
    ("Принято: Демо", "; method=REPLY", "METHOD:REPLY"),
    ("Declined: Demo", "", "METHOD:REPLY"),  # no method parameter: the calendar's own METHOD line
    ("Tentative: Demo", '; method="reply"', "METHOD:REPLY"),
])
def test_an_invitation_reply_is_no_inquiry_and_attaches_to_a_known_lead(subject: str, method_param: str,
                                                                        method_line: str) -> None:
    mail_ = parse_message(_invitation_reply(subject, method_param, method_line))
    assert mail_.calendar_method == "REPLY"
    decision = classify(mail_, RULES)
    assert (decision.direction, decision.is_inquiry) == ("in", False)
    assert decision.reason.startswith("calendar: invitation reply")
    assert decision.counterparts == [("Jan Kowalski", "jan@client.pl")]


def test_an_invitation_from_outside_is_still_an_inquiry() -> None:
    """A person inviting the rep (METHOD:REQUEST) writes in; only an answer to an invitation does not."""
    mail_ = parse_message(_invitation_reply("Invitation: Call", "; method=REQUEST", "METHOD:REQUEST"))
    assert mail_.calendar_method == "REQUEST"
    assert classify(mail_, RULES).is_inquiry


@pytest.mark.parametrize(("company", "sender"), [
    ("łódź.pl", "jan@xn--d-uga0v4h.pl"),  # the domain typed in Unicode, the mail's in its ASCII form
    ("xn--d-uga0v4h.pl", "jan@łódź.pl"),  # and the reverse (SMTPUTF8 mail keeps the Unicode form)
    ("ŁÓDŹ.PL", "jan@łódź.pl"),
    ("łódź.pl", "jan@biuro.XN--D-UGA0V4H.PL"),  # a subdomain
    ("straße.de", "jan@xn--strae-oqa.de"),  # IDNA 2008: ß is its own letter, not "ss" (IDNA 2003's strasse.de)
    ("магазин.рф", "ivan@xn--80aairftm.xn--p1ai"),
])
def test_a_company_domain_matches_in_either_form(company: str, sender: str) -> None:
    rules = InquiryRules.build([company], mailbox="rep@acme.com")
    raw = f"Message-ID: <m@x>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi"
    decision = classify(parse_message(raw.encode()), rules)
    assert (decision.is_inquiry, decision.reason.split(":")[0]) == (False, "internal")


@pytest.mark.parametrize(("company", "sender"), [
    ("straße.de", "jan@strasse.de"),  # another domain under IDNA 2008
    ("łódź.pl", "jan@lodz.pl"),
    ("bad_domain..pl", "jan@client.pl"),  # a domain IDNA refuses is compared as typed, and matches nothing else
])
def test_a_company_domain_does_not_match_a_lookalike(company: str, sender: str) -> None:
    rules = InquiryRules.build([company], mailbox="rep@acme.com")
    raw = f"Message-ID: <m@x>\r\nFrom: {sender}\r\nTo: rep@acme.com\r\nContent-Type: text/plain\r\n\r\nHi"
    assert classify(parse_message(raw.encode()), rules).is_inquiry


def test_the_mailbox_address_matches_in_either_form() -> None:
    """A mailbox at a Unicode domain sends as itself in the other form: the rep's own mail, not an inquiry."""
    rules = InquiryRules.build([], mailbox="biuro@łódź.pl")
    raw = "Message-ID: <m@x>\r\nFrom: biuro@xn--d-uga0v4h.pl\r\nTo: jan@client.pl\r\nContent-Type: text/plain\r\n\r\nHi"
    assert classify(parse_message(raw.encode()), rules).direction == "out"


def test_the_reason_names_the_senders_domain_as_written() -> None:
    """Domains are compared in their ASCII form, but the reason a rep reads names the domain as the mail does."""
    raw = "Message-ID: <m@x>\r\nFrom: jan@łódź.pl\r\nTo: rep@acme.com\r\nContent-Type: text/plain\r\n\r\nHi"
    assert classify(parse_message(raw.encode()), RULES).reason == "inquiry: inbound from outside domain łódź.pl"


def inline_forward(subject: str, body: str) -> bytes:
    """A colleague's inline forward to the shared mailbox."""
    return (f"Message-ID: <f@acme.com>\r\nFrom: Ann <ann@acme.com>\r\nTo: rep@acme.com\r\nSubject: {subject}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nFYI\r\n\r\n{body}").encode()


GMAIL_HEAD = "---------- Forwarded message ---------\r\nFrom: {author}\r\nDate: Mon, 5 Jan 2026\r\nSubject: {subject}\r\n\r\n"
OUTLOOK_HEAD = ("-----Original Message-----\r\nFrom: {author}\r\nSent: Monday, January 5, 2026 10:00 AM\r\n"
                "To: Ann <ann@acme.com>\r\nSubject: {subject}\r\n\r\n")
MAILRU_HEAD = ("-------- Пересылаемое сообщение --------\r\nОт кого: {author}\r\nКому: ann@acme.com\r\n"
               "Дата: Понедельник, 5 января 2026, 10:00 +03:00\r\nТема: {subject}\r\n\r\n")
YANDEX_HEAD = "-------- Пересылаемое сообщение --------\r\n05.01.2026, 10:00, {author}:\r\n\r\n"
THUNDERBIRD_RU_HEAD = ("-------- Пересылаемое сообщение --------\r\nТема: \t{subject}\r\nДата: \t05.01.2026 10:00\r\n"
                       "От: \t{author}\r\nКому: \tann@acme.com\r\n\r\n")
POLISH_HEAD = ("---------- Wiadomość przekazana dalej ---------\r\nOd: {author}\r\nDate: pon., 5 sty 2026\r\n"
               "Subject: {subject}\r\nTo: <ann@acme.com>\r\n\r\n")
NOT_A_LEAD = ("out", False, [])


@pytest.mark.parametrize(("head", "author", "subject", "text", "expected"), [
    # A client's inquiry a rep forwards is the client's, in each mail program's forward (Mail.ru's "От кого:" and
    # Yandex's dated author line were not read: the client's lead was never made).
    (GMAIL_HEAD, "Olga Zima <olga@firma.pl>", "Zapytanie", "Prosimy o ofertę", ("in", True, [("Olga Zima", "olga@firma.pl")])),
    (OUTLOOK_HEAD, "Olga Zima [mailto:olga@firma.pl]", "Zapytanie", "Prosimy", ("in", True, [("Olga Zima", "olga@firma.pl")])),
    (POLISH_HEAD, "Biuro Firma <biuro@firma.pl>", "Zapytanie", "Prosimy", ("in", True, [("Biuro Firma", "biuro@firma.pl")])),
    (MAILRU_HEAD, "Ольга Зима <olga@firma.ru>", "Вопрос", "Нужна цена", ("in", True, [("Ольга Зима", "olga@firma.ru")])),
    (YANDEX_HEAD, '"Ольга Зима" <olga@firma.ru>', "", "Нужна цена", ("in", True, [("Ольга Зима", "olga@firma.ru")])),
    (THUNDERBIRD_RU_HEAD, "Ольга Зима <olga@firma.ru>", "Вопрос", "Нужна цена",
     ("in", True, [("Ольга Зима", "olga@firma.ru")])),
    # A supplier's invoice or newsletter a rep forwards is no lead of the supplier's: by its billing or marketing
    # address, by its newsletter footer, by the list headers a mail program shows, or a no-reply sender.
    (OUTLOOK_HEAD, "Billing [mailto:billing@supplier.example]", "Invoice 123", "Invoice attached.", NOT_A_LEAD),
    (GMAIL_HEAD, "Hurtownia <faktury@hurtownia.pl>", "Faktura VAT 12/2026", "W załączniku faktura", NOT_A_LEAD),
    (MAILRU_HEAD, "Поставщик <buhgalteria@postavka.ru>", "Счёт на оплату", "Счёт во вложении", NOT_A_LEAD),
    (POLISH_HEAD, "Biuro rachunkowe <ksiegowosc@hurtownia.pl>", "Nota", "Nota w załączniku", NOT_A_LEAD),
    (OUTLOOK_HEAD, "Lieferant [mailto:rechnung@lieferant.de]", "Rechnung 4711", "Anbei die Rechnung", NOT_A_LEAD),
    (GMAIL_HEAD, "Vendor News <newsletter@vendor.example>", "November deals", "Big sale!", NOT_A_LEAD),
    (POLISH_HEAD, "Hurtownia <marketing@hurtownia.pl>", "Promocja", "Promocja!", NOT_A_LEAD),
    (GMAIL_HEAD, "Vendor <anna.nowak@vendor.example>", "Nowości", "Nowości!\r\n\r\nWypisz się: https://v.example/u",
     NOT_A_LEAD),
    (YANDEX_HEAD, '"Магазин" <shop@shop.ru>', "", "Скидки!\r\nОтписаться от рассылки: https://shop.ru/u", NOT_A_LEAD),
    (GMAIL_HEAD.replace("Subject:", "List-Unsubscribe: <mailto:u@vendor.example>\r\nSubject:"),
     "Vendor <anna.nowak@vendor.example>", "Deals", "Deals", NOT_A_LEAD),
    (THUNDERBIRD_RU_HEAD, "Сервис <noreply@service.ru>", "Уведомление", "Текст", NOT_A_LEAD),
])
def test_a_forwarded_suppliers_mail_is_no_lead_a_forwarded_clients_is(head: str, author: str, subject: str, text: str,
                                                                       expected: tuple) -> None:
    subject_line = f"Fwd: {subject}" if subject else "Fwd: (no subject)"
    decision = classify(parse_message(inline_forward(subject_line, head.format(author=author, subject=subject)
                                                     + text + "\r\n")), RULES)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == expected
    if expected == NOT_A_LEAD:  # (it says why, for the rep reading the skip reason)
        assert decision.reason.startswith("internal: ") and "forwarded by ann@acme.com" in decision.reason


@pytest.mark.parametrize(("inner", "expected"), [
    # Attached (message/rfc822) too: an invoice from billing@ and a newsletter sent as Precedence: bulk.
    ("From: Billing <billing@supplier.example>", NOT_A_LEAD),
    ("From: Anna <anna.nowak@vendor.example>\r\nPrecedence: bulk", NOT_A_LEAD),
    ("From: Olga <olga@firma.pl>", ("in", True, [("Olga", "olga@firma.pl")])),
])
def test_an_attached_suppliers_mail_is_no_lead(inner: str, expected: tuple) -> None:
    decision = classify(parse_message(forward("From: Ann <ann@acme.com>\r\nTo: rep@acme.com", inner)), RULES)
    assert (decision.direction, decision.is_inquiry, decision.counterparts) == expected

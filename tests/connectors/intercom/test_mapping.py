"""connectors.intercom.mapping on conversation objects shaped as Intercom's API 2.16 describes them, including
the edges the schema allows: overlong subjects and bodies, parts without a body, every author type."""

from __future__ import annotations

import pytest

from connectors.base import Quarantine
from connectors.intercom.mapping import conversation_records
from core.schemas import SUBJECT_MAX, TEXT_MAX, InboundRecord


def conversation(**changes) -> dict:  # noqa: ANN003
    base = {
        "type": "conversation", "id": "1911149811", "created_at": 1700000000, "state": "open",
        "source": {"type": "conversation", "id": "403918330", "delivered_as": "customer_initiated",
                   "subject": "<p>Oferta</p>", "body": "<p>Dzień dobry, proszę o ofertę</p>",
                   "author": {"type": "user", "id": "c1", "name": "Zofia Wróbel", "email": "zofia@wrobel.pl"}},
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}]},
        "conversation_parts": {"type": "conversation_part.list", "total_count": 4, "conversation_parts": [
            {"type": "conversation_part", "id": "p1", "part_type": "comment", "body": "<p>Witam</p>",
             "created_at": 1700000100, "author": {"type": "admin", "id": "a1", "name": "Rep", "email": "rep@firma.pl"}},
            {"type": "conversation_part", "id": "p2", "part_type": "assignment", "body": None,
             "created_at": 1700000200, "author": {"type": "bot", "id": "b1", "name": "Operator"}},
            {"type": "conversation_part", "id": "p3", "part_type": "note", "body": "<p>Zadzwonić</p>",
             "created_at": 1700000300, "author": {"type": "team", "id": "t1", "name": "Sales"}},
            {"type": "conversation_part", "id": "p4", "part_type": "comment", "body": "<p>Dziękuję</p>",
             "created_at": 1700000400, "author": {"type": "lead", "id": "c1", "name": "Zofia Wróbel"}},
        ]},
    }
    base.update(changes)
    return base


def test_parts_become_messages_with_direction_and_kind() -> None:
    records = conversation_records(conversation(), "ws1")
    assert all(isinstance(r, InboundRecord) for r in records)
    shape = [(r.message.external_id, r.message.direction, r.message.kind) for r in records]  # type: ignore[union-attr]
    assert shape == [("1911149811:source", "in", "message"), ("1911149811:p1", "out", "message"),
                     ("1911149811:p3", "out", "note"), ("1911149811:p4", "in", "message")]


def test_overlong_subject_and_body_are_cut_not_quarantined() -> None:
    long_source = {**conversation()["source"], "subject": "Zapytanie " * 500, "body": "<p>" + "ofertę " * 300_000 + "</p>"}
    records = conversation_records(conversation(source=long_source), "ws1")
    assert not any(isinstance(r, Quarantine) for r in records) and len(records) == 4
    first = records[0].message  # type: ignore[union-attr]
    assert len(first.subject) == SUBJECT_MAX and len(first.text) == TEXT_MAX and first.html is None
    assert records[1].message.subject == first.subject  # type: ignore[union-attr]


def test_conversation_without_a_customer_or_an_id_is_quarantined_with_a_reason() -> None:
    admin = {"type": "admin", "id": "a1", "name": "Rep"}
    nobody = conversation(contacts={"type": "contact.list", "contacts": []},
                          source={**conversation()["source"], "author": admin},
                          conversation_parts={"type": "conversation_part.list", "total_count": 0,
                                              "conversation_parts": []})
    [no_contact] = conversation_records(nobody, "ws1")
    [no_id] = conversation_records(conversation(id=None), "ws1")
    assert isinstance(no_contact, Quarantine) and "contact" in no_contact.reason
    assert isinstance(no_id, Quarantine) and "id" in no_id.reason


@pytest.mark.parametrize(
    ("contacts", "source_author", "customer"),
    [
        ([], {"type": "user", "id": "c1", "name": "Zofia Wróbel", "email": "zofia@wrobel.pl"},
         ("c1", "Zofia Wróbel", "zofia@wrobel.pl")),
        (None, {"type": "lead", "id": "c1", "name": None, "email": None}, ("c1", None, None)),
        # Begun by an admin: the first customer who answered.
        ([], {"type": "admin", "id": "a1", "name": "Rep"}, ("c1", "Zofia Wróbel", None)),
        ([{"type": "contact", "id": "c7"}], {"type": "admin", "id": "a1"}, ("c7", None, None)),
    ],
)
def test_a_conversation_with_no_contact_listed_is_the_customers_who_wrote(contacts, source_author,  # noqa: ANN001
                                                                          customer) -> None:
    """`contacts.contacts` may be empty (a contact detached from the conversation); the whole chat went to
    quarantine, though its author says whose it is."""
    chat = conversation(contacts={"type": "contact.list", "contacts": contacts} if contacts is not None else None,
                        source={**conversation()["source"], "author": source_author})
    records = conversation_records(chat, "ws1")
    assert records and all(isinstance(r, InboundRecord) for r in records)
    assert {(r.contact.external_user_id, r.contact.name, r.contact.email) for r in records} == {customer}  # type: ignore[union-attr]


def test_fields_of_unexpected_types_never_stop_the_mapping() -> None:
    """A conversation whose fields have other JSON types than the schema's (a string for an object, a list for
    a string...) gives records or a quarantine, never an exception: a sync would fail at the same conversation
    on every retry. Seeded: 3,000 conversations with one to three fields replaced."""
    import random

    rng = random.Random(3)
    odd = [None, "", "x", 0, 12, -1, 1e20, True, [], {}, ["a"], {"a": 1}, "9" * 50, "<b>x</b>" * 10]
    paths = [["id"], ["source"], ["source", "body"], ["source", "author"], ["source", "author", "type"],
             ["source", "author", "id"], ["source", "subject"], ["contacts"], ["contacts", "contacts"],
             ["conversation_parts"], ["conversation_parts", "conversation_parts"],
             ["conversation_parts", "total_count"], ["created_at"], ["state"]]
    outcomes = set()
    for _ in range(3000):
        item = conversation()
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(paths)
            target = item
            for key in parents:
                target = target.get(key) if isinstance(target, dict) else None
            if isinstance(target, dict):
                target[last] = rng.choice(odd)
        parts = item.get("conversation_parts")
        parts = parts.get("conversation_parts") if isinstance(parts, dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], dict) and rng.random() < 0.5:
            parts[0][rng.choice(["id", "body", "author", "created_at", "part_type"])] = rng.choice(odd)
        records = conversation_records(item, "ws1")
        assert isinstance(records, list)
        outcomes.add(type(records[0]).__name__ if records else "none")
    assert outcomes >= {"InboundRecord", "Quarantine"}  # and "none": no part with a body was left


PLAIN_AND_HTML_BODIES = [
    # (body as Intercom sends it, text stored, HTML stored)
    ("<p>Dzień dobry, proszę o ofertę</p>", "Dzień dobry, proszę o ofertę", "<p>Dzień dobry, proszę o ofertę</p>"),
    ("<p>Tom &amp; Jerry</p>", "Tom & Jerry", "<p>Tom &amp; Jerry</p>"),
    ("Line one<br>line two", "Line one\nline two", "Line one<br>line two"),
    # Webhooks of API 2.15+ send plain text: what looks like a tag there is text.
    ("Write to <anna@firma.pl> please", "Write to <anna@firma.pl> please",
     "<p>Write to &lt;anna@firma.pl&gt; please</p>"),
    ("Budget <50k, seats >10", "Budget <50k, seats >10", "<p>Budget &lt;50k, seats &gt;10</p>"),
    ("Dzień dobry,\n\nproszę o ofertę\nPozdrawiam", "Dzień dobry,\n\nproszę o ofertę\nPozdrawiam",
     "<p>Dzień dobry,</p><p>proszę o ofertę<br>Pozdrawiam</p>"),
    ("R&D & AT&T", "R&D & AT&T", "<p>R&amp;D &amp; AT&amp;T</p>"),
    ("<script>alert(1)</script><p>hi</p>", "hi", "<p>hi</p>"),
]


def test_bodies_are_read_as_html_or_as_plain_text() -> None:
    for body, text, html in PLAIN_AND_HTML_BODIES:
        source = {**conversation()["source"], "body": body}
        first = conversation_records(conversation(source=source), "ws1")[0].message  # type: ignore[union-attr]
        assert (first.text, first.html) == (text, html), body


def test_the_subject_is_the_source_subject_else_the_conversation_title() -> None:
    chat = conversation(title="Wycena: 40 licencji <pilne>")
    chat["source"]["subject"] = ""
    assert conversation_records(chat, "ws1")[0].message.subject == "Wycena: 40 licencji <pilne>"  # type: ignore[union-attr]
    chat["source"]["subject"] = "<p>Oferta</p>"
    assert conversation_records(chat, "ws1")[0].message.subject == "Oferta"  # type: ignore[union-attr]
    chat["source"]["subject"], chat["title"] = None, None
    assert conversation_records(chat, "ws1")[0].message.subject is None  # type: ignore[union-attr]


def test_a_contacts_linkedin_profile_is_one_of_its_identifiers() -> None:
    from connectors.intercom.mapping import contact_records

    contact = {"type": "contact", "id": "6a1", "role": "lead", "name": "Ольга Зима", "email": None,
               "social_profiles": {"type": "list", "data": [
                   {"type": "social_profile", "name": "Twitter", "url": "https://twitter.com/olga"},
                   {"type": "social_profile", "name": "LinkedIn", "url": "https://www.linkedin.com/company/zima"},
                   {"type": "social_profile", "name": "LinkedIn", "url": "http://pl.linkedin.com/in/Olga-Zima/"}]}}
    [record] = contact_records(contact, "ws1")
    assert record.contact.linkedin_url == "linkedin.com/in/olga-zima"
    assert contact_records({**contact, "social_profiles": {"data": "x"}}, "ws1")[0].contact.linkedin_url is None


def test_a_file_sent_alone_is_a_message_and_files_are_kept() -> None:
    """A customer who sends only a file (an RFP as a PDF) wrote a message; before, a part without a body was
    skipped as an event. Files of any part are kept in the message's meta with Gmail's keys."""
    chat = conversation()
    rfp = {"type": "upload", "name": "RFP-2027.pdf", "url": "https://files.example/RFP-2027.pdf",
           "content_type": "application/pdf", "filesize": 482113}
    chat["conversation_parts"]["conversation_parts"].append(
        {"type": "conversation_part", "id": "p5", "part_type": "comment", "body": None, "created_at": 1700000500,
         "author": {"type": "user", "id": "c1"}, "attachments": [rfp, {"url": "https://files.example/scan.png"}, 7]})
    chat["source"]["attachments"] = [{"name": "logo.png", "filesize": "big"}]
    records = conversation_records(chat, "ws1")
    last = records[-1].message  # type: ignore[union-attr]
    assert (last.external_id, last.direction, last.text) == ("1911149811:p5", "in", "Attachment: RFP-2027.pdf, scan.png")
    assert last.meta["attachments"][0] == {"filename": "RFP-2027.pdf", "mime_type": "application/pdf", "size": 482113,
                                           "url": "https://files.example/RFP-2027.pdf"}
    source = records[0].message  # type: ignore[union-attr]
    assert source.text == "Dzień dobry, proszę o ofertę"
    assert source.meta["attachments"] == [{"filename": "logo.png", "mime_type": "", "size": None, "url": ""}]


def test_a_customers_quick_reply_click_is_their_message() -> None:
    """A bot (or an admin) offers quick replies in a part's metadata; the customer's click is a part without a body
    that names the option chosen (metadata.quick_reply_uuid). Before, that part was skipped as an event: the
    customer's answer ("Yes, book a demo") was lost. A uuid no part offered leaves the part an event."""
    chat = conversation()
    chat["conversation_parts"]["conversation_parts"] += [
        {"type": "conversation_part", "id": "q1", "part_type": "quick_reply", "body": "<p>Shall we book a demo?</p>",
         "created_at": 1700000500, "author": {"type": "bot", "id": "b1", "name": "Fin", "from_ai_agent": True},
         "metadata": {"quick_reply_options": [{"text": "Yes, book a demo", "uuid": "2f1c-yes"},
                                              {"text": "Not now", "uuid": "2f1c-no"}]}},
        {"type": "conversation_part", "id": "q2", "part_type": "comment", "body": None, "created_at": 1700000600,
         "author": {"type": "lead", "id": "c1"}, "metadata": {"quick_reply_uuid": "2f1c-yes"}},
        {"type": "conversation_part", "id": "q3", "part_type": "comment", "body": None, "created_at": 1700000700,
         "author": {"type": "lead", "id": "c1"}, "metadata": {"quick_reply_uuid": "offered-elsewhere"}},
    ]
    messages = {r.message.external_id: r.message for r in conversation_records(chat, "ws1")}  # type: ignore[union-attr]
    click = messages["1911149811:q2"]
    assert (click.direction, click.text, click.html) == ("in", "Yes, book a demo", "<p>Yes, book a demo</p>")
    assert messages["1911149811:q1"].direction == "out"
    assert "1911149811:q3" not in messages


def test_in_a_group_conversation_the_lead_is_the_contact_who_wrote_in() -> None:
    """A group conversation lists several contacts (a colleague added, or copied on the mail), in no order the
    schema promises. Before, the first one listed became the lead of every message, and the name and address
    of the customer who wrote in were dropped; the lead is now the source's author when it is listed, else
    the first contact (an admin's outbound message)."""
    chat = conversation(contacts={"type": "contact.list", "contacts": [
        {"type": "contact", "id": "c2"}, {"type": "contact", "id": "c1", "external_id": "crm-1"}]})
    records = conversation_records(chat, "ws1")
    assert {(r.contact.external_user_id, r.contact.name, r.contact.email) for r in records} == {
        ("c1", "Zofia Wróbel", "zofia@wrobel.pl")}
    assert {r.message.meta["intercom_contact_id"] for r in records} == {"c1"}  # type: ignore[union-attr]
    outbound = conversation(contacts=chat["contacts"])
    outbound["source"] = {**outbound["source"], "delivered_as": "admin_initiated",
                          "author": {"type": "admin", "id": "a1", "name": "Rep", "email": "rep@firma.pl"}}
    assert {(r.contact.external_user_id, r.contact.email) for r in conversation_records(outbound, "ws1")} == {
        ("c2", None)}


def test_a_customer_initiated_source_without_an_author_is_inbound() -> None:
    """The source's author may be blank (Intercom's schema: "for Twitter, this will be blank"). Before, a blank
    author made the customer's opening message outbound, as if the team had written it; delivered_as
    "customer_initiated" now says it is the customer's. A blank author of another delivery stays outbound."""
    for blank in (None, {}, {"type": None, "id": None}):
        chat = conversation()
        chat["source"] = {**chat["source"], "author": blank}
        first = conversation_records(chat, "ws1")[0].message  # type: ignore[union-attr]
        assert (first.external_id, first.direction, first.sender) == ("1911149811:source", "in", None), blank
        chat["source"]["delivered_as"] = "automated"
        assert conversation_records(chat, "ws1")[0].message.direction == "out"  # type: ignore[union-attr]


PDF = {"type": "upload", "name": "oferta.pdf", "url": "https://files.example/oferta.pdf",
       "content_type": "application/pdf", "filesize": 1000}


@pytest.mark.parametrize(
    ("part_type", "body", "attachments", "text"),
    [
        # Events whose body holds nothing to read: no message (an empty outbound one counted as a first response).
        ("close", "<p></p>", [], None),
        ("assignment", "<p> </p>", [], None),
        ("comment", "<br>", [], None),
        ("snoozed", "<p>&nbsp;</p>", [], None),
        ("away_mode_assignment", None, [], None),
        ("open", "", [], None),
        # A screenshot pasted into the chat is the customer's message, named as a file sent alone is.
        ("comment", '<div class="intercom-container"><img src="https://downloads.intercomcdn.com/i/o/1/ab/'
                    'screen.png?expires=1"></div>', [], "Image: screen.png"),
        ("comment", '<p><img src="data:image/png;base64,iVBORw0KGgo="></p>', [], "Image: image"),
        ("comment", "<p></p>", [PDF], "Attachment: oferta.pdf"),
        ("comment", '<p><img src="https://x.example/a.jpg"></p>', [PDF], "Image: a.jpg; Attachment: oferta.pdf"),
        # Text beside an image stays the text.
        ("comment", '<p>Jak na zdjęciu <img src="https://x.example/a.jpg"></p>', [], "Jak na zdjęciu"),
        ("close", "<p>Zamykam, w razie pytań proszę pisać</p>", [], "Zamykam, w razie pytań proszę pisać"),
    ],
)
def test_a_part_is_a_message_only_when_it_says_or_shows_something(part_type, body, attachments, text) -> None:  # noqa: ANN001
    chat = conversation()
    chat["conversation_parts"]["conversation_parts"] = [
        {"type": "conversation_part", "id": "p9", "part_type": part_type, "body": body, "created_at": 1700000900,
         "author": {"type": "admin" if part_type != "comment" else "user", "id": "a1"},
         "attachments": attachments}]
    parts = [r.message for r in conversation_records(chat, "ws1") if r.message.external_id.endswith(":p9")]  # type: ignore[union-attr]
    assert [m.text for m in parts] == ([text] if text else [])


@pytest.mark.parametrize(
    ("contacts", "author", "expected"),
    [
        ([{"id": "u1"}], {"type": "lead", "id": "l1"}, "l1"),  # a merged lead's conversation, listing the user
        ([{"id": "u1"}], {"type": "user", "id": "u1"}, None),
        ([{"id": "u1"}], {"type": "admin", "id": "a1"}, None),
        ([], {"type": "lead", "id": "l1"}, None),  # nobody listed: the author is the customer (see _customer)
        ([{"id": "u1"}], {"type": "lead"}, None),
        ([{"id": "u1"}], None, None),
        ("x", {"type": "lead", "id": "l1"}, None),
    ],
)
def test_the_customer_author_a_conversation_no_longer_lists(contacts, author, expected) -> None:  # noqa: ANN001
    from connectors.intercom.mapping import unlisted_customer_author

    chat = conversation(contacts={"type": "contact.list", "contacts": contacts},
                        source={**conversation()["source"], "author": author})
    assert unlisted_customer_author(chat) == expected


def test_a_part_or_source_intercom_redacted_keeps_no_text() -> None:
    """A teammate redacts a part (a card number, a password pasted into the chat): Intercom marks it
    `redacted: true` (conversation_part and conversation_source in API 2.16). Before, whatever body the answer
    still carried was stored as the message's text and HTML. Now the message stays on the timeline (the lead
    did write) with no text, HTML, files or subject of its own, and says it was redacted."""
    chat = conversation()
    chat["source"].update(redacted=True, subject="<p>Karta 4111 1111 1111 1111</p>",
                          attachments=[{"name": "card.jpg", "url": "https://files.example/card.jpg"}])
    chat["conversation_parts"]["conversation_parts"][2].update(redacted=True)  # the note
    chat["conversation_parts"]["conversation_parts"][3].update(redacted=True, body="<p>hasło: Tajne123</p>")
    messages = {r.message.external_id: r.message for r in conversation_records(chat, "ws1")}  # type: ignore[union-attr]
    for external_id in ("1911149811:source", "1911149811:p3", "1911149811:p4"):
        message = messages[external_id]
        assert (message.text, message.html, message.meta["redacted"]) == ("", "", True), external_id
        assert "attachments" not in message.meta
    assert messages["1911149811:p4"].direction == "in" and messages["1911149811:p3"].kind == "note"
    assert all("4111" not in (m.subject or "") for m in messages.values())
    assert messages["1911149811:p1"].text == "Witam" and "redacted" not in messages["1911149811:p1"].meta


def test_a_redacted_part_without_its_body_is_still_an_empty_message() -> None:
    """Only a part with a body can be redacted (Intercom's reference), so a redacted part was a message even when
    the answer no longer carries the body: its (empty) record is what lets a copy stored before the redaction
    be blanked. Before, such a part was taken for an event and left out."""
    chat = conversation()
    chat["conversation_parts"]["conversation_parts"][3].update(redacted=True, body=None)
    chat["source"].update(redacted=True, body="")
    messages = {r.message.external_id: r.message for r in conversation_records(chat, "ws1")}  # type: ignore[union-attr]
    for external_id in ("1911149811:source", "1911149811:p4"):
        assert (messages[external_id].text, messages[external_id].meta["redacted"]) == ("", True)
    assert "1911149811:p2" not in messages  # an unredacted event stays no message


def test_html_nested_thousands_deep_is_read_as_text() -> None:
    """An e-mail conversation carries the sender's HTML; nested thousands of elements deep (120 KB of "<div>"),
    the sanitiser's parser works quadratically in the depth: 20,000 levels took 5 s of CPU to map and as much
    again in ingest, a megabyte minutes, on every sync of the conversation. Deeper than any real mail
    (MAX_HTML_DEPTH), a body is now read as text: its words are kept, and its HTML is that text's paragraphs."""
    from core.markup import MAX_HTML_DEPTH, html_depth

    chat = conversation()
    chat["source"]["body"] = "<div>" * 5000 + "Pilne: <b>oferta</b> &amp; cennik" + "</div>" * 5000
    [source, *_] = conversation_records(chat, "ws1")
    assert source.message.text == "Pilne: oferta & cennik"  # type: ignore[union-attr]
    assert html_depth(source.message.html) <= MAX_HTML_DEPTH  # type: ignore[union-attr]
    # Real mail nests tables a few dozen deep: such HTML is read as before.
    mail = "<table><tr><td>" * 30 + "<p>Dzień dobry</p>" + "</td></tr></table>" * 30
    chat["source"]["body"] = mail
    [source, *_] = conversation_records(chat, "ws1")
    assert "<table>" in source.message.html and source.message.text == "Dzień dobry"  # type: ignore[union-attr]


def test_paragraphs_left_open_in_a_body_read_as_text_stay_apart() -> None:
    """HTML lets a paragraph, an item or a row go unclosed ("<p>one<p>two"). In a body nested too deep for the
    parser (here 300 <span> around them), read as text, its paragraphs ran together ("Akapit 0Akapit 1"), since
    only closing block tags broke lines. Opening block tags break lines too now. (Alone, 500 unclosed paragraphs
    are no depth: the parser ends each at the next, and core.markup counts them so.)"""
    chat = conversation()
    paragraphs = "".join(f"<p>Akapit {n}" for n in range(500)) + "<ul><li>a<li>b</ul>"
    chat["source"]["body"] = "<div>" + "<span>" * 300 + paragraphs + "</div>"
    [source, *_] = conversation_records(chat, "ws1")
    lines = source.message.text.split("\n")  # type: ignore[union-attr]
    assert lines[:2] == ["Akapit 0", "Akapit 1"] and lines[-2:] == ["a", "b"] and "Akapit 499" in lines
    chat["source"]["body"] = "<div>" + paragraphs + "</div>"
    [parsed, *_] = conversation_records(chat, "ws1")
    assert "<p>Akapit 0</p><p>Akapit 1</p>" in parsed.message.html  # type: ignore[union-attr]
    assert "<p>Akapit 0<br>Akapit 1" in source.message.html  # type: ignore[union-attr]


def api1_conversation() -> dict:
    """A conversation as webhooks of an app on API 1.x carry it (Intercom's 1.x webhook models; a
    conversation_part.redacted notification as delivered): the customer as `user`, the opening message as
    `conversation_message`, parts without a `redacted` flag, the redacted one with Intercom's stand-in body."""
    return {
        "type": "conversation", "id": "137324500000000", "created_at": 1596634805, "updated_at": 1596635155,
        "user": {"type": "user", "id": "5ee3d479d1cf3dedbee23d68", "user_id": "234523452345345",
                 "name": "Bob Dylan", "email": "bob.dylan@rei.com"},
        "assignee": {"type": "admin", "id": "3330619", "name": "Andy", "email": "andy@gmail.com"},
        "conversation_message": {"type": "conversation_message", "id": "608953158", "url": None, "subject": "",
                                 "body": "<p>Hi Bob</p>", "author": {"type": "admin", "id": "3330619"},
                                 "attachments": []},
        "conversation_parts": {"type": "conversation_part.list", "total_count": 1, "conversation_parts": [
            {"type": "conversation_part", "id": "6073780765", "part_type": "comment",
             "body": "<p><i>This message was deleted</i></p>", "created_at": 1596635049, "updated_at": 1596635312,
             "notified_at": 1596635049, "assigned_to": None,
             "author": {"type": "user", "id": "5ee3d479d1cf3dedbee23d68", "name": "Bob Dylan"},
             "attachments": [], "external_id": None}]},
        "open": True, "state": "open", "read": False,
    }


def test_a_conversation_in_api_1_layout_is_read_with_its_customer_and_opening_message() -> None:
    """Webhooks of an app on API 1.x name the customer `user` and the opening message `conversation_message`.
    Read as 2.x, the opening message was lost (and with no part by the customer, the whole conversation)."""
    records = conversation_records(api1_conversation(), "lkqcyt9t")
    assert all(isinstance(r, InboundRecord) for r in records), records
    assert {r.contact.external_user_id for r in records} == {"5ee3d479d1cf3dedbee23d68"}  # type: ignore[union-attr]
    shape = [(r.message.external_id, r.message.direction, r.message.text) for r in records]  # type: ignore[union-attr]
    assert shape == [("137324500000000:source", "out", "Hi Bob"),
                     ("137324500000000:6073780765", "in", "This message was deleted")]
    chat = api1_conversation()
    chat["conversation_parts"]["conversation_parts"] = []  # (only the admin's opening message)
    [record] = conversation_records(chat, "lkqcyt9t")
    assert isinstance(record, InboundRecord) and record.contact.external_user_id == "5ee3d479d1cf3dedbee23d68"


def test_a_redaction_notice_without_the_2x_flag_marks_the_part_it_is_about() -> None:
    """API 1.x flags no part `redacted`: the redacted part arrived with Intercom's stand-in body, stored over the
    part's text as the customer's words while the text itself stayed. The part the notification is about (the
    one updated last) is now marked as 2.x marks it, so its stored copy is blanked."""
    from connectors.intercom.mapping import with_redaction_marked

    chat = api1_conversation()
    earlier = {**chat["conversation_parts"]["conversation_parts"][0], "id": "6073780000", "body": "<p>Hej</p>",
               "updated_at": 1596635049}
    chat["conversation_parts"]["conversation_parts"].insert(0, earlier)
    messages = {r.message.external_id: r.message  # type: ignore[union-attr]
                for r in conversation_records(with_redaction_marked(chat), "lkqcyt9t")}
    redacted = messages["137324500000000:6073780765"]
    assert (redacted.text, redacted.html, redacted.meta["redacted"]) == ("", "", True)
    assert messages["137324500000000:6073780000"].text == "Hej" and "redacted" not in messages[
        "137324500000000:6073780000"].meta
    assert "redacted" not in messages["137324500000000:source"].meta


def test_a_redaction_notice_in_2x_shape_is_read_as_it_says() -> None:
    """A conversation that flags a part redacted, or says of every listed part `redacted: false`, is taken at its
    word; with no part listed, the redaction is of the opening message."""
    from connectors.intercom.mapping import with_redaction_marked

    flagged = conversation()
    flagged["conversation_parts"]["conversation_parts"][3].update(redacted=True)
    assert with_redaction_marked(flagged) == flagged
    explicit = conversation()
    for part in explicit["conversation_parts"]["conversation_parts"]:
        part["redacted"] = False
    assert with_redaction_marked(explicit) == explicit
    no_parts = conversation(conversation_parts={"type": "conversation_part.list", "conversation_parts": []})
    [source] = conversation_records(with_redaction_marked(no_parts), "ws1")
    assert (source.message.text, source.message.meta["redacted"]) == ("", True)  # type: ignore[union-attr]


def test_an_html_body_is_counted_for_depth_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The depth count is a pass over the whole body: it was made once to choose the reading and again to
    sanitise."""
    import core.markup
    from connectors.intercom.mapping import body_text_and_html

    counted: list[int] = []
    depth = core.markup.html_depth
    monkeypatch.setattr(core.markup, "html_depth", lambda markup, *a: counted.append(len(markup)) or depth(markup, *a))
    body = "<p>Dzień dobry,</p><p>proszę o ofertę.</p>"
    assert body_text_and_html(body) == ("Dzień dobry,\nproszę o ofertę.", body)
    assert counted == [len(body)]

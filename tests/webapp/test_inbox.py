"""The unified inbox: listing, filters, full-text search (SQLite FTS5 / PostgreSQL tsvector), unread marks,
keyset paging, polling fragment, owner/stage changes and the reply hook."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from core.models import ConnectorAccount, Contact, Conversation, Message, StageChange
from tests.webapp.helpers import add_message
from webapp.inbox import InboxFilter, Viewer, inbox_page
from webapp.replies import register_reply, unregister_reply


def rows(html: bytes) -> list[str]:
    return re.findall(r'data-href="/conversations/(\d+)"', html.decode())


def test_inbox_lists_every_channel_newest_first(as_role, session: Session) -> None:
    old = add_message(session, channel="gmail", name="Old Gmail", email="old@acme.example", minutes_ago=50)
    new = add_message(session, channel="intercom", name="New Chat", email="new@beta.example", minutes_ago=1)
    page = as_role("manager").get("/inbox")
    assert page.status_code == 200
    assert rows(page.data) == [str(new.conversation_id), str(old.conversation_id)]
    assert b"Intercom" in page.data and b"Gmail" in page.data


@pytest.mark.parametrize("query", ["Zielińska", "zieli", "tender", "ola@zielinska", "Pricing", "public tender"])
def test_search_finds_names_emails_subjects_and_bodies(as_role, session: Session, query: str) -> None:
    hit = add_message(session, name="Ola Zielińska", email="ola@zielinska.example", subject="Pricing question",
                      text="We run a public tender next month")
    add_message(session, name="Someone Else", email="else@other.example", subject="Hi", text="nothing here")
    assert rows(as_role("manager").get("/inbox", query_string={"q": query}).data) == [str(hit.conversation_id)]


@pytest.mark.parametrize("query", ["Zielinska", "dzien", "DZIEN", "dzień"])
def test_search_folds_diacritics(as_role, session: Session, query: str) -> None:
    hit = add_message(session, name="Ola Zielińska", text="Dzień dobry")
    add_message(session, name="Someone Else", email="else@other.example", text="nothing here")
    # SQLite: FTS5 remove_diacritics; PostgreSQL: search_latin for names, leadhub_fold (migration 0014) for text.
    assert rows(as_role("manager").get("/inbox", query_string={"q": query}).data) == [str(hit.conversation_id)]


def test_search_with_syntax_characters_is_harmless(as_role, session: Session) -> None:
    add_message(session, name="Quote Person", text='he said "hello"')
    for query in ['"', "AND OR NOT", "*", "a:b", "NEAR(", "'; drop table contacts; --", "%_", "@"]:
        assert as_role("manager").get("/inbox", query_string={"q": query}).status_code == 200


def test_filters_channel_stage_temperature_owner(as_role, session: Session, users) -> None:
    a = add_message(session, channel="gmail", name="Alpha Person", email="a@a.example")
    b = add_message(session, channel="form", name="Beta Person", email="b@b.example")
    contact = session.get(Contact, b.contact_id)
    contact.stage, contact.temperature, contact.owner_id = "sql", "hot", users["rep"].id
    session.add(contact)
    session.commit()
    client = as_role("manager")
    assert rows(client.get("/inbox?channel=gmail").data) == [str(a.conversation_id)]
    assert rows(client.get("/inbox?stage=sql").data) == [str(b.conversation_id)]
    assert rows(client.get("/inbox?temperature=hot").data) == [str(b.conversation_id)]
    assert rows(client.get(f"/inbox?owner={users['rep'].id}").data) == [str(b.conversation_id)]
    assert rows(client.get("/inbox?owner=none").data) == [str(a.conversation_id)]
    assert rows(as_role("rep").get("/inbox?owner=me").data) == [str(b.conversation_id)]
    assert client.get("/inbox?stage=bogus&owner=x&cursor=%%%").status_code == 400  # bad cursor: clear 400


def test_unread_marks_are_per_user(as_role, session: Session) -> None:
    r = add_message(session, name="Unread Person")
    manager, admin = as_role("manager"), as_role("admin")
    assert rows(manager.get("/inbox?unread=1").data) == [str(r.conversation_id)]
    assert manager.get(f"/conversations/{r.conversation_id}").status_code == 200
    assert rows(manager.get("/inbox?unread=1").data) == []
    assert rows(admin.get("/inbox?unread=1").data) == [str(r.conversation_id)]
    # A newer message in the same thread makes it unread again.
    add_message(session, name="Unread Person", thread=session.get(Conversation, r.conversation_id).external_id)
    assert rows(manager.get("/inbox?unread=1").data) == [str(r.conversation_id)]


def test_keyset_paging_walks_every_row_once_both_ways(session: Session, users) -> None:
    made = [add_message(session, name=f"Person {i}", email=f"p{i}@x{i}.example", minutes_ago=i).conversation_id
            for i in range(7)]
    # Two rows share a timestamp: the id breaks the tie.
    viewer = Viewer(id=users["manager"].id, role="manager")
    seen, cursor, pages = [], None, []
    while True:
        items, next_cursor, prev_cursor = inbox_page(session, viewer, InboxFilter(), cursor=cursor, limit=3)
        pages.append((items, prev_cursor))
        seen.extend(i["id"] for i in items)
        if not next_cursor:
            break
        cursor = next_cursor
    assert seen == made
    assert [len(p[0]) for p in pages] == [3, 3, 1]
    back, _, _ = inbox_page(session, viewer, InboxFilter(), cursor=pages[-1][1], limit=3)
    assert [i["id"] for i in back] == made[3:6]


def test_poll_fragment_shows_new_messages(as_role, session: Session) -> None:
    client = as_role("manager")
    assert rows(client.get("/inbox/rows").data) == []
    r = add_message(session, name="Fresh Lead", subject="Brand new")
    fragment = client.get("/inbox/rows")
    assert rows(fragment.data) == [str(r.conversation_id)] and b"Brand new" in fragment.data


def test_assign_owner_and_change_stage(as_role, session: Session, users) -> None:
    r = add_message(session, name="Stage Person")
    client = as_role("manager")
    assert client.post(f"/conversations/{r.conversation_id}/owner",
                       data={"owner_id": str(users["rep"].id)}).status_code == 302
    assert client.post(f"/conversations/{r.conversation_id}/stage",
                       data={"stage": "sql", "temperature": "warm"}).status_code == 302
    assert client.post(f"/conversations/{r.conversation_id}/stage", data={"stage": "nonsense"}).status_code == 302
    assert client.post(f"/conversations/{r.conversation_id}/owner", data={"owner_id": "99999"}).status_code == 302
    session.rollback()
    contact = session.get(Contact, r.contact_id)
    assert (contact.owner_id, contact.stage, contact.temperature) == (users["rep"].id, "sql", "warm")

    # Non-target needs a reason here too; every change is in the lead's stage history, with who made it.
    client.post(f"/conversations/{r.conversation_id}/stage", data={"stage": "non_target"})
    session.rollback()
    assert session.get(Contact, r.contact_id).stage == "sql"
    client.post(f"/conversations/{r.conversation_id}/stage", data={"stage": "non_target", "reason": "spam"})
    session.rollback()
    assert session.get(Contact, r.contact_id).stage == "non_target"
    history = session.exec(select(StageChange).where(StageChange.contact_id == r.contact_id)
                           .order_by(StageChange.id)).all()
    assert [(h.from_stage, h.to_stage, h.reason) for h in history] == [("new", "sql", ""), ("sql", "non_target", "spam")]
    assert {h.actor for h in history} == {users["manager"].email}


def test_reply_box_only_when_a_reply_function_is_registered(as_role, session: Session) -> None:
    r = add_message(session, channel="linkedin", name="Chat Person", email="chat@x.example")
    client = as_role("manager")
    assert b"Send reply" not in client.get(f"/conversations/{r.conversation_id}").data
    assert client.post(f"/conversations/{r.conversation_id}/reply", data={"text": "hi"}).status_code == 404
    sent = []
    register_reply("linkedin", lambda session, conversation, *, text, user_id: sent.append((conversation.id, text)))
    try:
        assert b"Send reply" in client.get(f"/conversations/{r.conversation_id}").data
        assert client.post(f"/conversations/{r.conversation_id}/reply", data={"text": "Hello!"}).status_code == 302
    finally:
        unregister_reply("linkedin")
    assert sent == [(r.conversation_id, "Hello!")]


def test_the_reply_box_says_why_a_thread_cannot_be_answered_from_here(as_role, session: Session, users) -> None:
    """A Gmail thread no connected mailbox holds, or an Intercom chat with no workspace connected (the demo's
    seeded chats): the page says so instead of offering a box whose every send fails."""
    import webapp.gmail  # noqa: F401 - registers the Gmail and Intercom reply functions
    import webapp.intercom  # noqa: F401

    loose_mail = add_message(session, channel="gmail", name="Eva Loose", email="eva@client.example")
    chat = add_message(session, channel="intercom", name="Olga Chat", email="olga@chat.example")
    mailbox = ConnectorAccount(type="gmail", owner_id=users["rep"].id, label="rep@web.example", status="healthy",
                               credentials_encrypted="x")
    session.add(mailbox)
    session.commit()
    held = add_message(session, channel="gmail", name="Eva Held", email="held@client.example", account_id=mailbox.id)
    manager = as_role("manager")

    def reply_part(client, conversation_id: int) -> str:  # noqa: ANN001
        page = client.get(f"/conversations/{conversation_id}").data.decode()
        assert "Send reply" not in page or "No reply from here" not in page
        if "Send reply" in page:
            return "box"
        reason = re.search(r"No reply from here: ([^<]*)", page)
        return reason.group(1) if reason else "nothing"

    assert reply_part(manager, loose_mail.conversation_id).startswith("no connected Gmail mailbox holds this thread")
    assert reply_part(manager, chat.conversation_id).startswith("this chat did not come through a connected Intercom")
    assert reply_part(manager, held.conversation_id) == "box"  # a manager may send from a rep's mailbox
    assert reply_part(as_role("rep"), held.conversation_id) == "box"  # its owner
    assert reply_part(as_role("rep2"), held.conversation_id) == "nothing"  # another rep's private mail


def test_private_gmail_bodies_hidden_from_other_reps(as_role, session: Session, users) -> None:
    account = ConnectorAccount(type="gmail", owner_id=users["rep"].id, label="rep@web.example")
    session.add(account)
    session.commit()
    r = add_message(session, channel="gmail", name="Secret Person", email="s@corp.example",
                    subject="Visible subject", text="confidential body words", account_id=account.id)
    owner, other, manager = as_role("rep"), as_role("rep2"), as_role("manager")
    for client in (owner, manager):
        assert b"confidential body words" in client.get(f"/conversations/{r.conversation_id}").data
    page = other.get(f"/conversations/{r.conversation_id}")
    assert b"Visible subject" in page.data and b"confidential body words" not in page.data
    assert b"confidential body" not in other.get("/inbox").data
    assert b"confidential body" not in other.get(f"/contacts/{r.contact_id}").data
    # Searching the body must not reveal it either; searching the name still finds the conversation.
    assert rows(other.get("/inbox?q=confidential").data) == []
    assert rows(owner.get("/inbox?q=confidential").data) == [str(r.conversation_id)]
    assert rows(other.get("/inbox?q=Secret").data) == [str(r.conversation_id)]
    # An admin turns sharing on.
    admin = as_role("admin")
    assert admin.post("/settings/general", data={"domains": "", "share_mail_bodies": "1"}).status_code == 302
    assert b"confidential body words" in other.get(f"/conversations/{r.conversation_id}").data


def test_api_timeline_applies_the_same_privacy_rule(client, session: Session, users) -> None:
    from core.users import create_api_token

    account = ConnectorAccount(type="gmail", owner_id=users["rep"].id)
    session.add(account)
    session.commit()
    r = add_message(session, channel="gmail", name="Api Person", email="api@corp.example", text="private words",
                    account_id=account.id)
    tokens = {role: create_api_token(session, user=users[role]) for role in ("rep", "rep2", "manager")}
    session.commit()

    def texts(role: str) -> list:
        body = client.get(f"/api/v1/contacts/{r.contact_id}/timeline",
                          headers={"Authorization": f"Bearer {tokens[role]}"}).get_json()
        return [item["text"] for item in body["items"]]

    assert texts("rep") == ["private words"]
    assert texts("manager") == ["private words"]
    assert texts("rep2") == [None]


def _walk(session: Session, viewer: Viewer, filters: InboxFilter, limit: int) -> tuple[list[int], list[int]]:
    """Every row id forwards page by page, and the rows of the page before the last, reached backwards."""
    seen, cursor, prev = [], None, None
    while True:
        items, next_cursor, prev_cursor = inbox_page(session, viewer, filters, cursor=cursor, limit=limit)
        seen.extend(i["id"] for i in items)
        if not next_cursor:
            break
        cursor, prev = next_cursor, prev_cursor
    back = [] if prev is None else [i["id"] for i in inbox_page(session, viewer, filters, cursor=prev, limit=limit)[0]]
    return seen, back


PROBE_FILTERS = [  # common, rare and empty filters on the person, alone and with a channel
    InboxFilter(stage="new"),
    InboxFilter(temperature="hot"),
    InboxFilter(stage="sql", temperature="hot"),
    InboxFilter(stage="customer"),
    InboxFilter(stage="mql", channel="gmail"),
    InboxFilter(owner="none"),
    InboxFilter(unread=True),
    InboxFilter(q="tender"),
    InboxFilter(stage="non_target"),
]


@pytest.mark.parametrize("filters", PROBE_FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.args().items()))
def test_probe_window_pages_equal_the_planners_pages(session: Session, users, monkeypatch, filters) -> None:
    """The bounded walk of the time index must give exactly the pages of the plain query, whether a window
    holds a page of matches, only some, or none; forwards and backwards."""
    import random

    import webapp.inbox as inbox

    rng = random.Random(4)
    for i in range(60):
        r = add_message(session, channel=rng.choice(["gmail", "form", "intercom"]), name=f"Person {i}",
                        email=f"p{i}@x{i}.example", minutes_ago=rng.randrange(0, 30),
                        text=rng.choice(["public tender soon", "just asking"]))
        contact = session.get(Contact, r.contact_id)
        # "customer" is rare (a page's worth would not fit one window), "sql"+"hot" common.
        contact.stage = rng.choices(["new", "mql", "sql", "customer"], weights=[5, 3, 4, 1])[0]
        contact.temperature = rng.choice(["cold", "warm", "hot"])
        session.add(contact)
    session.commit()
    viewer = Viewer(id=users["manager"].id, role="manager")
    monkeypatch.setattr(inbox, "PROBE_WINDOW", 10**6)  # one window holds everything: the plain answer
    expected = _walk(session, viewer, filters, limit=4)
    for window in (3, 7, 16):
        monkeypatch.setattr(inbox, "PROBE_WINDOW", window)
        assert _walk(session, viewer, filters, limit=4) == expected, window
    monkeypatch.setattr(inbox, "PROBE_WINDOW", 10**6)
    # And the plain answer is what the filter means.
    assert sorted(expected[0]) == sorted(i["id"] for i in inbox_page(session, viewer, filters, limit=1000)[0])


def test_a_search_matching_more_than_the_cap_says_so_and_shows_the_newest(
    as_role, session: Session, monkeypatch
) -> None:
    import core.search as search

    made = [add_message(session, name=f"Tender Person {i}", email=f"t{i}@t{i}.example", minutes_ago=i,
                        text="public tender").conversation_id for i in range(6)]
    client = as_role("manager")
    page = client.get("/inbox?q=tender")
    assert sorted(rows(page.data), key=int) == [str(c) for c in sorted(made)]
    assert b'id="search-capped"' not in page.data
    monkeypatch.setattr(search, "MATCH_CAP", 3)
    capped = client.get("/inbox?q=tender")
    assert b'id="search-capped"' in capped.data and b"3 most recent" in capped.data
    # The newest three messages (and the newest three matching people): the last three made.
    assert sorted(rows(capped.data), key=int) == [str(c) for c in sorted(made)[-3:]]
    narrow = client.get("/inbox?q=Person+5")
    assert b'id="search-capped"' not in narrow.data and rows(narrow.data) == [str(made[5])]


@pytest.mark.parametrize(("query", "found"), [
    ("tender", {"whole"}),  # the word is held whole somewhere: whole words only
    ("tend", {"whole", "plural"}),  # no message holds "tend" whole: prefixes
    ("tenders", {"plural"}),
    ("public tend", {"whole"}),
    ("renewal tender", set()),
])
def test_message_search_matches_whole_words_then_prefixes(as_role, session: Session, query: str, found) -> None:
    made = {
        "whole": add_message(session, name="Anna Whole", email="a@w.example", subject="Hi", text="A public tender"),
        "plural": add_message(session, name="Piotr Plural", email="p@p.example", subject="Hi", text="Open tenders"),
    }
    hits = rows(as_role("manager").get("/inbox", query_string={"q": query}).data)
    assert sorted(hits) == sorted(str(made[key].conversation_id) for key in found)


def test_a_conversation_without_a_subject_is_named_by_its_channel(as_role, session: Session) -> None:
    """Intercom chats have no subject: the inbox, the conversation and the lead page call one an "Intercom chat"
    instead of "(no subject)", which is kept for mail that has none."""
    chat = add_message(session, channel="intercom", name="Irina Volkova", email="irina@volkova.example", subject="",
                       text="Добрый день! Пришлю коммерческое предложение")
    mail = add_message(session, channel="gmail", name="Jan Bez", email="jan@bez.example", subject="", text="hej")
    client = as_role("manager")
    inbox = client.get("/inbox").data.decode()
    assert inbox.count("Intercom chat</a>") == 1 and inbox.count("(no subject)</a>") == 1
    assert "<h1>Intercom chat</h1>" in client.get(f"/conversations/{chat.conversation_id}").data.decode()
    assert "Intercom: Intercom chat" in client.get(f"/contacts/{chat.contact_id}").data.decode()
    assert "<h1>(no subject)</h1>" in client.get(f"/conversations/{mail.conversation_id}").data.decode()


def test_a_messages_files_are_listed_with_it(as_role, session: Session) -> None:
    from core.ingest import ingest
    from core.schemas import ContactIn, InboundRecord, MessageIn

    files = [{"filename": "RFP-2027.pdf", "mime_type": "application/pdf", "size": 482113, "url": ""},
             {"filename": "<b>scan</b>.png", "mime_type": "image/png", "size": None}, "odd", {"size": "x"}]
    result = ingest(session, InboundRecord(
        channel="intercom", external_id="c9:p1", scope="ws", contact=ContactIn(name="Ola Zima", external_user_id="z1"),
        message=MessageIn(external_id="c9:p1", thread_id="c9", text="Attachment: RFP-2027.pdf",
                          meta={"attachments": files})))
    session.commit()
    page = as_role("manager").get(f"/conversations/{result.conversation_id}").data.decode()
    assert "Attachments: RFP-2027.pdf (471 KB), &lt;b&gt;scan&lt;/b&gt;.png, file" in page


def test_a_chats_files_link_to_their_web_address_only(as_role, session: Session) -> None:
    """Intercom gives each file a URL: an https one is a link to the file; anything else ("javascript:", a
    relative path) stays text."""
    from core.ingest import ingest
    from core.schemas import ContactIn, InboundRecord, MessageIn

    files = [{"filename": "RFP.pdf", "size": 2048, "url": "https://downloads.intercomcdn.com/i/o/1/RFP.pdf?x=1&y=\"2"},
             {"filename": "trap.png", "url": "javascript:alert(1)"}, {"filename": "rel.png", "url": "/etc/passwd"}]
    result = ingest(session, InboundRecord(
        channel="intercom", external_id="c8:p1", scope="ws", contact=ContactIn(name="Ola Zima", external_user_id="z2"),
        message=MessageIn(external_id="c8:p1", thread_id="c8", text="files", meta={"attachments": files})))
    session.commit()
    page = as_role("manager").get(f"/conversations/{result.conversation_id}").data.decode()
    assert ('<a href="https://downloads.intercomcdn.com/i/o/1/RFP.pdf?x=1&amp;y=&#34;2" rel="noopener noreferrer '
            'nofollow" target="_blank">RFP.pdf</a> (2 KB), trap.png, rel.png') in page
    assert "javascript:" not in page


def test_the_inbox_finds_a_person_by_their_number_as_people_write_it(as_role, session: Session) -> None:
    """Identities are stored as +48601234567: a search for "601 234 567" matched nothing."""
    called = add_message(session, name="Ola Zima", email="ola@zima.example", phone="+48 601 234 567", text="oddzwonię")
    add_message(session, name="Jan Lis", email="jan@lis.example", phone="602 345 678", text="oddzwonię")
    client = as_role("manager")
    for query in ("601 234 567", "601-234-567", "(+48) 601234567"):
        assert rows(client.get("/inbox", query_string={"q": query}).data) == [str(called.conversation_id)], query


def test_the_inbox_finds_polish_l_typed_without_its_stroke(as_role, session: Session) -> None:
    """Full-text search folds ó, ś, ż … but "Ł" is a letter of its own: "lukasz" missed "Łukasz", "lodz" "Łódź"."""
    named = add_message(session, name="Łukasz Wójcik", email="l.w@firma.example", text="dzień dobry")
    city = add_message(session, name="Jan Lis", email="jan@lis.example", text="Dostawa do Łodzi i Włocławka")
    client = as_role("manager")
    for query, found in (("lukasz", named), ("LUKASZ", named), ("lodzi", city), ("wloclawka", city)):
        assert rows(client.get("/inbox", query_string={"q": query}).data) == [str(found.conversation_id)], query


def test_the_inbox_finds_cyrillic_names_typed_in_latin_letters(as_role, session: Session) -> None:
    """A rep with a Polish keyboard types "petrov" for "Петров": the search found nothing."""
    named = add_message(session, name="Иван Петров", email="ivan@tehnoprom.ru", text="нужна цена")
    latin = add_message(session, name="Ivan Sidorov", email="ivan@sidorov.example", text="price please")
    add_message(session, name="Jan Lis", email="jan@lis.example", text="dzień dobry")
    client = as_role("manager")
    for query, found in (("petrov", [named]), ("Ivan Petrov", [named]), ("Сидоров", [latin]),
                         ("ivan", [latin, named])):
        assert sorted(rows(client.get("/inbox", query_string={"q": query}).data)) == sorted(
            str(f.conversation_id) for f in found), query


def test_a_reply_that_cannot_go_out_is_kept_in_its_box(as_role, session: Session) -> None:
    """The page was opened while the mailbox could send; by the time the rep sends, no connected mailbox holds
    the thread. The refusal redirected to an empty reply box: what the rep wrote was lost."""
    r = add_message(session, channel="gmail", name="Ola Nowak", email="ola@firma.pl", subject="Oferta")
    conversation_id = session.exec(select(Message.conversation_id).where(Message.id == r.message_id)).one()
    manager = as_role("manager")
    written = "Dzień dobry,\nprzesyłam ofertę <w załączniku> & pozdrawiam"
    page = manager.post(f"/conversations/{conversation_id}/reply", data={"text": written})
    html = page.get_data(as_text=True)
    assert page.status_code == 409 and 'role="alert">Not sent: no connected Gmail mailbox holds this thread' in html
    assert ">Dzień dobry,\nprzesyłam ofertę &lt;w załączniku&gt; &amp; pozdrawiam</textarea>" in html
    assert len(session.exec(select(Message).where(Message.conversation_id == conversation_id)).all()) == 1

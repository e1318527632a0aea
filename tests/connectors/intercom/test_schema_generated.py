"""Intercom objects of every shape Intercom's published schema (API 2.16) allows, generated with Hypothesis
(tests.schema_data): the mapping reads each one, and what it reads is stored whole.

The emulator answers with the objects we thought of; real workspaces send others: optional fields absent or
null, every enum value, names and bodies in any script with markup characters, integers that are no epoch.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from connectors.base import Quarantine
from connectors.intercom.mapping import contact_records, conversation_records, looks_like_html
from core.batch import ingest_many
from core.ingest import IngestError
from core.models import Identity, Message
from tests.connectors.intercom.conftest import SPEC_PATH
from tests.schema_data import SchemaData

_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
with SPEC_PATH.open() as _handle:
    COMPONENTS = yaml.load(_handle, Loader=_loader)["components"]["schemas"]
# What Intercom sends where the schema says only "a string" (its reference, its examples, its webhook models):
# every part type, author type, channel and way of delivery; and what it sends though the schema says otherwise
# (an attachment without its URL). Bodies of images only (a pasted screenshot) too.
PART_TYPES = ["comment", "note", "assignment", "close", "open", "snoozed", "unsnoozed", "away_mode_assignment",
              "participant_added", "participant_removed", "conversation_attribute_updated_by_admin",
              "conversation_attribute_updated_by_workflow", "assign_and_reopen", "quick_reply", "note_and_reopen",
              "custom_action_started", "merged_primary_conversation", "ticket_state_updated_by_admin"]
AUTHOR_TYPES = ["admin", "bot", "team", "user", "lead", "contact", ""]
IMAGES_ONLY = st.sampled_from(['<p><img src="https://downloads.intercomcdn.com/i/o/1/screen.png"></p>',
                               '<div class="intercom-container"><img src="data:image/png;base64,iVBORw0="></div>',
                               "<img>"])
KNOWN = {
    "conversation_part.part_type": st.sampled_from(PART_TYPES),
    "conversation_part.body": IMAGES_ONLY,
    "conversation_source.body": IMAGES_ONLY,
    "conversation_part_author.type": st.sampled_from(AUTHOR_TYPES),
    "conversation_source_author.type": st.sampled_from(AUTHOR_TYPES),
    "conversation_source.type": st.sampled_from(["conversation", "email", "push", "twitter", "whatsapp", "sms",
                                                 "instagram", "facebook", "phone_call", "phone_switch"]),
    "conversation_source.delivered_as": st.sampled_from(["customer_initiated", "campaigns_initiated",
                                                         "operator_initiated", "automated", "admin_initiated"]),
    "part_attachment.url": st.none(),
    "part_attachment.name": st.none(),
}
DATA = SchemaData(COMPONENTS, depth=1, known=KNOWN)
IDS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=10)
# The ids the mapping needs to place a conversation (its own and its customer's); everything else as generated.
CONVERSATIONS = DATA.of(
    "conversation", id=IDS,
    contacts=IDS.map(lambda i: {"type": "contact.list", "contacts": [{"type": "contact", "id": i}]}),
)
CONTACTS = DATA.of("contact", id=IDS)
DB_SETTINGS = settings(max_examples=settings().max_examples // 4, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                              HealthCheck.data_too_large])


def has_file(part: dict) -> bool:
    """A named file among the part's attachments (by its name, or the last segment of its URL)."""
    def named(item: object) -> bool:
        if not isinstance(item, dict):
            return False
        name, url = item.get("name"), item.get("url")
        return bool((isinstance(name, str) and name.strip())
                    or (isinstance(url, str) and url.strip()[:2000].rsplit("/", 1)[-1]))
    files = part.get("attachments")
    return isinstance(files, list) and any(named(item) for item in files[:20])


def redacted_ids(conversation: dict) -> set[str]:
    """The external ids of the source and parts marked `redacted: true`."""
    source = conversation.get("source")
    found = {f"{conversation['id']}:source".replace("\x00", "")} if isinstance(source, dict) and source.get(
        "redacted") is True else set()
    first: dict[str, bool] = {}  # a part id given twice: the first counts, as in bodies()
    for part in (conversation.get("conversation_parts") or {}).get("conversation_parts") or []:
        if isinstance(part.get("id"), str) and part["id"].strip():
            first.setdefault(f"{conversation['id']}:{part['id'].strip()[:200]}".replace("\x00", ""),
                             part.get("redacted") is True)
    return found | {external_id for external_id, redacted in first.items() if redacted}


def bodies(conversation: dict) -> dict[str, str]:
    """external id -> body, for every part that carries a message (an id, and a non-blank body or a file)."""
    found = {}
    source = conversation.get("source")
    if isinstance(source, dict):
        body = source.get("body")
        if (isinstance(body, str) and body.strip()) or has_file(source):
            found[f"{conversation['id']}:source".replace("\x00", "")] = body if isinstance(body, str) and body.strip() else ""
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    offered = {}  # a customer's quick reply click (a part without a body) is the text of the option chosen
    for part in parts:
        for option in (part.get("metadata") or {}).get("quick_reply_options") or []:
            uuid, text = option.get("uuid"), option.get("text")
            if isinstance(uuid, str) and uuid.strip() and isinstance(text, str) and text.strip():
                offered[uuid.strip()[:100]] = text.strip()
    for part in parts:
        part_id, body = part.get("id"), part.get("body")
        if not (isinstance(part_id, str) and part_id.strip()):
            continue
        chosen = (part.get("metadata") or {}).get("quick_reply_uuid")
        if not (isinstance(body, str) and body.strip()) and isinstance(chosen, str) and chosen.strip()[:100] in offered:
            body = offered[chosen.strip()[:100]]
        if (isinstance(body, str) and body.strip()) or has_file(part):
            # (NUL characters are dropped from ids: core.schemas)
            found.setdefault(f"{conversation['id']}:{part_id.strip()[:200]}".replace("\x00", ""),
                             body if isinstance(body, str) and body.strip() else "")
    return found


@settings(max_examples=3 * settings().max_examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONVERSATIONS)
def test_every_part_with_a_body_becomes_a_message_and_plain_text_keeps_every_character(conversation) -> None:  # noqa: ANN001
    records = conversation_records(conversation, "ws")
    assert not [r for r in records if isinstance(r, Quarantine)], records
    by_id: dict = {}
    for record in records:  # a part id given twice: the first is compared, as bodies() keeps the first
        by_id.setdefault(record.message.external_id, record.message)
    expected = bodies(conversation)
    # A redacted part is a message, even when Intercom no longer sends its body (only a part with one can be).
    assert set(by_id) == set(expected) | redacted_ids(conversation)
    redacted = {external_id for external_id, message in by_id.items() if message.meta.get("redacted")}
    assert redacted == redacted_ids(conversation)
    for external_id in redacted:  # what Intercom redacted is not kept, whatever body still came
        assert (by_id[external_id].text, by_id[external_id].html) == ("", "")
    for external_id, body in expected.items():
        if body and not looks_like_html(body) and external_id not in redacted:
            # Webhooks of API 2.15+ send plain text: "<anna@firma.pl>" or "x<y" are words, not tags. (NUL is
            # the one character a message's text does not keep: no store keeps it the same, core.schemas.)
            assert "".join(by_id[external_id].text.split()) == "".join(body.replace("\x00", "").split())


@DB_SETTINGS
@given(conversation=CONVERSATIONS)
def test_a_generated_conversation_is_stored_whole(session: Session, conversation) -> None:  # noqa: ANN001
    records = [r for r in conversation_records(conversation, "ws") if not isinstance(r, Quarantine)]
    results = ingest_many(session, records)
    session.commit()
    assert not [r for r in results if isinstance(r, IngestError)], results
    wanted = {r.message.external_id for r in records}
    stored = set(session.exec(select(Message.external_id).where(Message.channel == "intercom",
                                                                Message.external_id.in_(wanted))).all())
    assert stored == wanted


@DB_SETTINGS
@given(contact=CONTACTS)
def test_a_generated_contact_is_stored_under_its_intercom_id(session: Session, contact) -> None:  # noqa: ANN001
    records = contact_records(contact, "ws")
    results = ingest_many(session, records)
    session.commit()
    assert not [r for r in results if isinstance(r, IngestError)], results
    identity = session.exec(select(Identity).where(Identity.kind == "intercom",
                                                   Identity.value == contact["id"])).first()
    assert identity is not None


def test_an_intercom_contact_and_a_saved_linkedin_profile_are_one_lead(session: Session) -> None:
    from core.models import Contact
    from core.schemas import ContactIn, InboundRecord

    ingest_many(session, [InboundRecord(channel="linkedin", external_id="linkedin.com/in/olga-zima",
                                        contact=ContactIn(name="Olga Zima",
                                                          linkedin_url="https://www.linkedin.com/in/olga-zima"))])
    chat_contact = {"type": "contact", "id": "6a1", "name": "Ольга Зима", "email": "olga@zima.example",
                    "social_profiles": {"data": [{"name": "LinkedIn", "url": "https://linkedin.com/in/olga-zima"}]}}
    ingest_many(session, contact_records(chat_contact, "ws"))
    session.commit()
    assert len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()) == 1


CUSTOMERS = {"user", "lead", "contact"}
AUTHORS = DATA.of("conversation_part_author", type=st.sampled_from(AUTHOR_TYPES))
PARTS = DATA.of("conversation_part", id=IDS, part_type=st.sampled_from(PART_TYPES), author=AUTHORS,
                body=st.one_of(IMAGES_ONLY, st.sampled_from(["<p>Dzień dobry</p>", "Сколько стоит?", "ok"])))


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PARTS, min_size=1, max_size=6, unique_by=lambda part: part["id"]))
def test_each_part_is_stored_as_who_wrote_it_and_what_it_is(parts) -> None:  # noqa: ANN001
    """Every part type and author the schema and Intercom's reference name: a customer's part is inbound, a
    teammate's outbound; a note is an internal note whoever wrote it; a bot's (or Intercom's AI agent's) message
    is no rep's reply, which the lead's first-response time and reply counts read (kind "message" only)."""
    conversation = {"type": "conversation", "id": "77", "created_at": 1700000000,
                    "source": {"type": "conversation", "delivered_as": "customer_initiated", "body": "<p>Pytanie</p>",
                               "author": {"type": "lead", "id": "c1"}},
                    "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}]},
                    "conversation_parts": {"type": "conversation_part.list", "conversation_parts": parts}}
    records = conversation_records(conversation, "ws")
    assert not [r for r in records if isinstance(r, Quarantine)], records
    by_id = {r.message.external_id: r.message for r in records}
    for part in parts:
        message = by_id.get(f"77:{part['id']}")
        if message is None:
            continue
        author = part.get("author") or {}
        assert (message.direction == "in") == (author.get("type") in CUSTOMERS), (part, message)
        assert (message.kind == "note") == (part.get("part_type") in ("note", "note_and_reopen")), (part, message)
        if author.get("type") not in CUSTOMERS and (author.get("type") == "bot" or author.get("from_ai_agent") is True):
            assert message.kind != "message", (part, message)

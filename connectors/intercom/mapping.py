"""Intercom objects → leadhub inbound records (pure functions; the sync, webhooks and replies share them).

- A contact (user or lead) becomes a contact-only record: Intercom id (identity kind "intercom"), email, phone,
  and the LinkedIn profile among its social profiles.
  Its `external_id` (the workspace's own user id for the person) becomes a second "intercom" identity,
  "external:<workspace id>:<id>", through a second contact-only record that carries the same email/phone so that
  it lands on the same person (ContactIn has one provider-id slot; Intercom's own ids are hex and never collide
  with it). The workspace is part of it: two workspaces' user "77" are two people, where Intercom's ids are
  unique across workspaces.
  A user's `merge_history` (asked for with include_merge_history) names the leads merged into it, whose ids
  the API no longer knows: each becomes such a record too, so the lead a chat was stored under and the user
  are one person. The `contact.merged` webhook names the lead just merged in as `merged_from` (Intercom's webhook
  models): the same record, at once, whether or not the user's `updated_at` moved.
- A conversation becomes one message per part with a body: the source is "<conversation id>:source", each
  part "<conversation id>:<part id>"; thread = conversation id, scope = workspace id. Authors user/lead/contact
  are inbound, admin/bot/team outbound; notes (and notes that reopen: `note_and_reopen`) are internal notes; a
  bot's message (author `bot`, `from_ai_agent`, or the opening of a custom bot's, `operator_initiated`) is kind
  `auto_reply`: no teammate's reply for response times. A customer's click on a quick reply (a bot's
  or admin's offered options) is a part without a body that names the option in `metadata.quick_reply_uuid`:
  its message is the option's text. A part (or source) Intercom redacted (`redacted: true`) is a message with
  no text, HTML, files or subject, meta `redacted`: whatever body the answer still carries is not kept.
  Webhooks of an app on API 1.x carry the conversation in 1.x's layout (`user`, `conversation_message`), read as
  2.x's, and flag nothing redacted: a `conversation_part.redacted` notification's part is marked by
  `with_redaction_marked`.
  The API returns at most the 500 newest parts:
  a truncated conversation says so in every message's meta (`conversation_truncated`, `parts_total`).
- Bodies and subjects are HTML in the REST API but plain text in webhook payloads of API 2.15 and later
  (Intercom's reference, conversation_part.body). Text without HTML markup is kept as text: read as HTML,
  "Write to <anna@firma.pl>" would lose the address and "x<y, y>z" would become "xz".
- The subject is the source's, else the conversation's title (chats have no subject; a teammate may title them).
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime
from typing import Any

from connectors.base import Quarantine
from core.markup import html_to_text, sanitize_html, text_to_html, too_deep
from core.normalize import InvalidIdentifier, normalize_emails, normalize_linkedin_url, normalize_phones
from core.schemas import HTML_MAX, SUBJECT_MAX, TEXT_MAX, ContactIn, InboundRecord, MessageIn

CHANNEL = "intercom"
EXTERNAL_ID_PREFIX = "external:"
CUSTOMER_AUTHORS = {"user", "lead", "contact"}
# Internal notes: "note_and_reopen" is a note that reopens a closed conversation, no more visible to the customer.
NOTE_PART_TYPES = {"note", "note_and_reopen"}
_BLANK_LINES = re.compile(r"\n{3,}")
# What tells HTML from plain text: an HTML element's tag (not any "<word>") or a character reference.
_HTML_MARKUP = re.compile(
    r"(?i)</?(?:p|br|div|span|a|b|i|u|s|em|strong|img|ul|ol|li|h[1-6]|blockquote|pre|code|table|thead|tbody|tr|td|th"
    r"|hr|sub|sup|figure|figcaption|iframe|video|html|body|head|font|center|small|big|strike|del|ins|mark|style"
    r"|script)(?:\s[^<>]*)?/?>|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});")


def looks_like_html(body: str) -> bool:
    return _HTML_MARKUP.search(body) is not None


def body_text_and_html(body: str) -> tuple[str, str]:
    """(text, sanitised HTML) of a body that is HTML or plain text (see the module's note). Its depth is counted
    once, for both."""
    if looks_like_html(body):
        if too_deep(body):  # (core.markup: the parser would take minutes)
            text = html_to_text(body, deep=True)
            return text, text_to_html(text)
        return html_to_text(body, deep=False), sanitize_html(body, deep=False)
    lines = [line.strip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip(), text_to_html(body)


def _when(epoch: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object, or {} for anything else: a field of another type is treated as absent, so one odd
    conversation cannot stop a sync (it would fail at the same place on every retry)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _clean(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] or None


def linkedin_profile(contact: dict[str, Any]) -> str | None:
    """The contact's LinkedIn profile among its social profiles (Intercom enriches contacts with them): a strong
    identifier, so a chat and a profile a rep saved from LinkedIn reach one lead."""
    for profile in _list(_obj(contact.get("social_profiles")).get("data")):
        url = _clean(_obj(profile).get("url"), 500)
        if url and "linkedin." in url.lower():
            try:
                return normalize_linkedin_url(url)
            except InvalidIdentifier:
                continue  # a company page or a broken URL: not a person's profile
    return None


def external_identity(workspace_id: str, external_id: str) -> str:
    """The "intercom" identity value of a workspace's own user id (see the module's note)."""
    return f"{EXTERNAL_ID_PREFIX}{workspace_id}:{external_id}"[:200]


def _identifies(email: str | None, phone: str | None, phone_region: str) -> bool:
    """Whether the address or the number names this person alone, so that records carrying it land on the
    contact's lead: a valid number, or a valid address that is not a shared mailbox. An invalid one is ignored
    by ingest; a role address (info@, biuro@) is weak, and several people of one company share it: a record
    with only that met whichever of them came first."""
    if email:
        try:
            if any(not address.is_role for address in normalize_emails(email)):
                return True
        except InvalidIdentifier:
            pass
    if phone:
        try:
            normalize_phones(phone, phone_region)
        except InvalidIdentifier:
            return False
        return True
    return False


def contact_records(contact: dict[str, Any], workspace_id: str, *, phone_region: str = "PL") -> list[InboundRecord]:
    """Records for one Intercom contact object (list, search or webhook); `phone_region` reads national numbers
    as ingest will (the app's DEFAULT_PHONE_REGION)."""
    contact_id = _clean(contact.get("id"))
    if not contact_id:
        return []
    fields = ContactIn(
        name=_clean(contact.get("name")),
        email=_clean(contact.get("email"), 320),
        phone=_clean(contact.get("phone"), 64),
        linkedin_url=linkedin_profile(contact),
        external_user_id=contact_id,
    )
    records = [InboundRecord(channel=CHANNEL, external_id=f"contact:{contact_id}", contact=fields, scope=workspace_id)]
    if not _identifies(fields.email, fields.phone, phone_region):
        # Nothing would bring those records to this lead: each would be a lead of its own. Intercom's contact
        # messenger takes whatever a visitor types ("jan(at)firma.pl", "n/a").
        return records
    external_id = _clean(contact.get("external_id"), 190)
    if external_id is None and contact.get("type") == "user":
        # API 1.x (the user.created webhook of an app still on it) names the workspace's own id `user_id`; a 1.x
        # lead's `user_id` is an id Intercom made up, nobody's own.
        external_id = _clean(contact.get("user_id"), 190)
    other_ids = [(f"contact-external:{contact_id}", external_identity(workspace_id, external_id))] if external_id else []
    merged_ids = [_clean(_obj(merged).get("source_contact_id")) for merged in _list(contact.get("merge_history"))]
    merged_ids.append(_clean(_obj(contact.get("merged_from")).get("id")))  # the contact.merged webhook's
    for merged_id in dict.fromkeys(merged_ids):
        if merged_id and merged_id != contact_id:
            other_ids.append((f"contact-merged:{contact_id}:{merged_id}", merged_id))
    records += [
        InboundRecord(channel=CHANNEL, external_id=record_id[:400], scope=workspace_id,
                      contact=ContactIn(email=fields.email, phone=fields.phone, external_user_id=other_id))
        for record_id, other_id in other_ids
    ]
    return records


def _customer(conversation: dict[str, Any]) -> tuple[ContactIn | None, str]:
    """The conversation's customer as contact fields (Intercom id, and name/email when the source says): the
    contact who wrote the source, else the first one listed. A group conversation lists several contacts, in no
    order the schema promises; the one who wrote in is the lead."""
    listed = [contact_id for item in _list(_obj(conversation.get("contacts")).get("contacts"))
              if (contact_id := _clean(_obj(item).get("id")))]
    author = _obj(_obj(conversation.get("source")).get("author"))
    if not listed:
        # No contact listed (detached from the conversation, or a payload that leaves the list out): the customer
        # who wrote the opening message, else the first who wrote a part, is still the one the chat is with.
        parts = _list(_obj(conversation.get("conversation_parts")).get("conversation_parts"))
        for candidate in [author, *(_obj(_obj(part).get("author")) for part in parts)]:
            if _clean(candidate.get("type"), 40) in CUSTOMER_AUTHORS and (candidate_id := _clean(candidate.get("id"))):
                listed, author = [candidate_id], candidate
                break
        else:
            return None, ""
    same_person = _clean(author.get("type"), 40) in CUSTOMER_AUTHORS and _clean(author.get("id")) in listed
    contact_id = str(_clean(author.get("id"))) if same_person else listed[0]
    return (
        ContactIn(
            external_user_id=contact_id,
            name=_clean(author.get("name")) if same_person else None,
            email=_clean(author.get("email"), 320) if same_person else None,
        ),
        contact_id,
    )


def unlisted_customer_author(conversation: dict[str, Any]) -> str | None:
    """The id of the customer who wrote the opening message when the conversation no longer lists them among its
    contacts: the mark a merge leaves (Intercom moves a merged lead's conversations to the user it became), or a
    group conversation they left. None otherwise."""
    listed = {_clean(_obj(item).get("id")) for item in _list(_obj(conversation.get("contacts")).get("contacts"))}
    listed.discard(None)
    author = _obj(_obj(conversation.get("source")).get("author"))
    author_id = _clean(author.get("id"))
    if not listed or not author_id or _clean(author.get("type"), 40) not in CUSTOMER_AUTHORS or author_id in listed:
        return None
    return author_id


def _sender(author: dict[str, Any]) -> str | None:
    name, email = _clean(author.get("name")), _clean(author.get("email"), 320)
    if name and email:
        return f"{name} <{email}>"[:400]
    return name or email


def _api2_layout(conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation with the opening message and the customers where API 2.x keeps them. Webhooks of an app
    still on API 1.x send its opening message as `conversation_message` (2.x: `source`) and its customer as
    `user` and `customers` (2.x: `contacts.contacts`); read as 2.x, its opening message was lost, and one with
    no part by the customer had no customer at all (nothing of it was stored)."""
    if "source" in conversation and "contacts" in conversation:
        return conversation
    changed = dict(conversation)
    if "source" not in changed and isinstance(changed.get("conversation_message"), dict):
        changed["source"] = changed["conversation_message"]
    if "contacts" not in changed:
        people = [changed.get("user"), *_list(changed.get("customers"))]
        listed = [person for person in people if _clean(_obj(person).get("id"))]
        if listed:
            changed["contacts"] = {"type": "contact.list", "contacts": list({p["id"]: p for p in listed}.values())}
    return changed


def with_redaction_marked(conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation of a `conversation_part.redacted` notification with its redacted part marked as API 2.x
    marks it (`redacted: true`). An app on API 1.x gets no such flag: the part arrives with Intercom's stand-in
    body ("This message was deleted"), which was stored over the part's text as if the customer had written
    it, while the text itself stayed. The notification lists the part it is about: the one updated last (the
    redaction updates it) among the listed parts that do not say `redacted: false`; none listed, the opening
    message. A conversation that flags anything redacted already is left as it is."""
    part_list = _obj(conversation.get("conversation_parts"))
    parts = [part for part in _list(part_list.get("conversation_parts")) if isinstance(part, dict)]
    source = _obj(conversation.get("source") if "source" in conversation else conversation.get("conversation_message"))
    if source.get("redacted") is True or any(part.get("redacted") is True for part in parts):
        return conversation
    unflagged = [part for part in parts if part.get("redacted") is not False and _clean(part.get("id"))]
    if not unflagged:
        if parts or not source or source.get("redacted") is False:
            return conversation  # (every listed part says it is not redacted: nothing to mark)
        key = "source" if "source" in conversation else "conversation_message"
        return {**conversation, key: {**source, "redacted": True}}
    stamps = [stamp for part in unflagged if isinstance(stamp := part.get("updated_at"), int)
              and not isinstance(stamp, bool)]
    latest = max(stamps) if stamps else None
    marked = {id(part) for part in unflagged if latest is None or part.get("updated_at") == latest}
    return {**conversation, "conversation_parts": {
        **part_list,
        "conversation_parts": [{**part, "redacted": True} if id(part) in marked else part
                               for part in _list(part_list.get("conversation_parts"))]}}


def conversation_records(conversation: dict[str, Any], workspace_id: str) -> list[InboundRecord | Quarantine]:
    """One record per message of a conversation object that includes `conversation_parts` (API 2.x, or 1.x's
    layout, see _api2_layout)."""
    conversation = _api2_layout(conversation)
    conversation_id = _clean(conversation.get("id"))
    if not conversation_id:
        return [Quarantine(external_id="conversation:?", reason="conversation without an id")]
    contact, contact_id = _customer(conversation)
    if contact is None:
        return [Quarantine(external_id=f"conversation:{conversation_id}", reason="conversation without a contact")]
    part_list = _obj(conversation.get("conversation_parts"))
    parts = [p for p in _list(part_list.get("conversation_parts")) if isinstance(p, dict)]
    total = part_list.get("total_count")
    truncated = isinstance(total, int) and total > len(parts)
    state = conversation.get("state")
    meta_common: dict[str, Any] = {"conversation_state": state if isinstance(state, str) else None,
                                   "intercom_contact_id": contact_id}
    if truncated:
        meta_common.update(conversation_truncated=True, parts_total=total, parts_returned=len(parts))
    source = _obj(conversation.get("source"))
    subject = None
    # A redacted source keeps nothing of what the customer wrote, its subject included.
    for candidate in (None if source.get("redacted") is True else source.get("subject"), conversation.get("title")):
        if isinstance(candidate, str) and candidate.strip():
            subject = " ".join(body_text_and_html(candidate)[0].split())[:SUBJECT_MAX] or None
            if subject:
                break
    records: list[InboundRecord | Quarantine] = []

    def add(external_id: str, body: Any, author: dict[str, Any], created_at: Any, part_type: str,
            attachments: Any, customer_initiated: bool = False, redacted: bool = False,
            bot_initiated: bool = False) -> None:
        files = _attachments(attachments)
        text, clean_html = body_text_and_html(body) if isinstance(body, str) and body.strip() else ("", "")
        if redacted:
            # Intercom redacted it (only a part with a body can be): whatever the answer still carries, if
            # anything, is not kept. The message stays on the timeline (someone wrote then), empty, saying so.
            text, clean_html, files = "", "", []
        elif not text:
            # A screenshot pasted into the chat, or a file sent alone (an RFP as a PDF): the message says what it
            # was. Nothing at all ("<p></p>", "<br>" on a close or an assignment) is an event, not a message: an
            # empty outbound message would count as the rep's first response.
            images = _image_names(clean_html)
            text = "; ".join(([f"Image: {', '.join(images)}"] if images else [])
                             + ([f"Attachment: {', '.join(f['filename'] for f in files)}"] if files else []))
            if not text:
                return
            if not images:
                clean_html = text_to_html(text)
        author_type = _clean(author.get("type"), 40) or ""
        # A source's author may be blank (the schema: "for Twitter, this will be blank"); how the conversation
        # was delivered still says who wrote it.
        inbound = author_type in CUSTOMER_AUTHORS or (not author_type and customer_initiated)
        # A bot's answer (Fin, a custom bot, Intercom's AI agent on an admin's behalf) is on the timeline, but no
        # teammate wrote it: kind "message" is what first-response times and reply counts read, and a bot
        # answers within seconds, so every lead looked answered at once.
        automated = not inbound and (author_type == "bot" or author.get("from_ai_agent") is True or bot_initiated)
        kind = "note" if part_type in NOTE_PART_TYPES else "auto_reply" if automated else "message"
        extra = {"attachments": files} if files else {}
        records.append(
            InboundRecord(
                channel=CHANNEL,
                external_id=external_id,
                contact=contact,
                scope=workspace_id,
                message=MessageIn(
                    external_id=external_id,
                    thread_id=conversation_id,
                    direction="in" if inbound else "out",
                    kind=kind,
                    sent_at=_when(created_at),
                    sender=_sender(author),
                    subject=subject,
                    # Cut, not refused: one overlong chat must not send its conversation to quarantine.
                    text=text[:TEXT_MAX],
                    html=clean_html if len(clean_html) <= HTML_MAX else None,
                    meta={**meta_common, "part_type": part_type, "author_type": author_type, **extra,
                          **({"redacted": True} if redacted else {})},
                ),
            )
        )

    add(f"{conversation_id}:source", source.get("body"), _obj(source.get("author")), conversation.get("created_at"),
        "source", source.get("attachments"), source.get("delivered_as") == "customer_initiated",
        source.get("redacted") is True, source.get("delivered_as") == "operator_initiated")  # (a custom bot's)
    options = _quick_reply_options(parts)
    for part in parts:
        part_id = _clean(part.get("id"))
        if part_id:
            body = part.get("body")
            if not isinstance(body, str) or not body.strip():
                body = options.get(_clean(_obj(part.get("metadata")).get("quick_reply_uuid"), 100) or "", body)
            add(f"{conversation_id}:{part_id}", body, _obj(part.get("author")), part.get("created_at"),
                _clean(part.get("part_type"), 40) or "comment", part.get("attachments"),
                redacted=part.get("redacted") is True)
    return records


_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\bsrc="([^"]*)"', re.IGNORECASE)


def _image_names(clean_html: str) -> list[str]:
    """The file names of a sanitised body's images (the last part of each address; "image" for one without a
    usable address, such as an inline data: image the sanitiser took out), at most 20."""
    names = []
    for tag in _IMG.findall(clean_html)[:20]:
        src = _SRC.search(tag)
        path = html_lib.unescape(src.group(1) if src else "").split("?", 1)[0].split("#", 1)[0].rstrip("/")
        names.append("image" if path.lower().startswith("data:") else path.rsplit("/", 1)[-1][:200] or "image")
    return names


def _quick_reply_options(parts: list[dict[str, Any]]) -> dict[str, str]:
    """uuid -> text of every quick reply option the conversation's parts offered (Intercom's part metadata)."""
    options: dict[str, str] = {}
    for part in parts:
        for option in _list(_obj(part.get("metadata")).get("quick_reply_options")):
            option = _obj(option)
            uuid, text = _clean(option.get("uuid"), 100), _clean(option.get("text"), SUBJECT_MAX)
            if uuid and text:
                options[uuid] = text
    return options


def _attachments(value: Any) -> list[dict[str, Any]]:
    """The files of a part, at most 20, with the keys Gmail's messages use (filename, mime_type, size) and the URL;
    nameless ones are named by their URL."""
    files = []
    for item in _list(value)[:20]:
        item = _obj(item)
        url = _clean(item.get("url"), 2000)
        name = _clean(item.get("name")) or (url.rsplit("/", 1)[-1][:200] if url else None)
        if not name:
            continue
        size = item.get("filesize")
        files.append({"filename": name, "mime_type": _clean(item.get("content_type"), 100) or "",
                      "size": size if isinstance(size, int) and not isinstance(size, bool) else None, "url": url or ""})
    return files

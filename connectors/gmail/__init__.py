"""The Gmail connector: a rep's mailbox -> inquiries and their threads, full back-fill then incremental history.

Cursor (ConnectorAccount.sync_state):
  {"mode": "full", "history_id": H, "after": epoch, "page_token": T|None, "skipped": n}  during a back-fill
  {"mode": "incremental", "history_id": H, "skipped": n}                                 afterwards
  Both may hold "retry": {gmail id: {"tries": n, "next": epoch}} (connectors.base.RetrySchedule, on RETRIES),
  messages quarantined because messages.get kept answering 5xx or answered without `raw`: fetched again at the start of a run once "next"
  has come (RETRY_AFTER, doubling), up to RETRY_TRIES times; read then, they are stored and their quarantine entry
  removed. An entry of another shape (a hand-edited cursor) is dropped.
H is taken from getProfile BEFORE the back-fill lists anything, so mail arriving meanwhile is in the history.
A Checkpoint follows the records of each page; a crash resumes at the last committed page, and ingest's
idempotency absorbs the page delivered twice.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import ValidationError

from connectors.base import Checkpoint, ConfigField, Connector, Quarantine, Released, RetrySchedule, register
from connectors.gmail.client import GmailClient, GmailSettings, HistoryExpired
from connectors.gmail.inquiry import (
    EXCLUDED_LABELS,
    Decision,
    InquiryRules,
    classify,
    form_fields,
    is_auto_reply,
)
from connectors.gmail.mime import Address, MimeError, ParsedMail, mailbox_text, parse_message
from core.schemas import ContactIn, InboundRecord, MessageIn

log = logging.getLogger(__name__)

DEFAULT_BACKFILL_DAYS = 90
MAX_DEFERRED = 20_000
_DEFER: Any = object()
RECENT_SKIPS = 20  # skipped decisions kept in full in the cursor state
LIST_PAGE = 500
# A message whose messages.get answered 5xx through all the client's tries (or without `raw`) is quarantined, then
# fetched again in a later run: after 6 hours, then 12, 24 and 48 (a Gmail backend fault on one message lasts
# hours, rarely days).
RETRY_AFTER = 6 * 3600
RETRY_TRIES = 4
MAX_RETRIES_KEPT = 1000  # (the oldest entries make way past it: they stay quarantined)
RETRIES = RetrySchedule(first_wait=RETRY_AFTER, max_tries=RETRY_TRIES, max_kept=MAX_RETRIES_KEPT)
RECONCILE_HEADERS = ["Message-ID", "From", "To", "Cc", "Reply-To", "Subject", "List-Unsubscribe", "List-Id", "List-Post",
                     "Mailing-List", "X-Mailing-List", "X-Mailman-Version", "Sender", "Precedence",
                     "Auto-Submitted", "X-Autoreply", "X-Autorespond", "Content-Type", "Return-Path",
                     "X-Failed-Recipients"]


def _split(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def _labels(message: dict[str, Any]) -> list[str]:
    """A message's label ids; Gmail's schema makes the field optional (absent, or null from a proxy or cache)."""
    labels = message.get("labelIds")
    return [label for label in labels if isinstance(label, str)] if isinstance(labels, list) else []


def _header_block(metadata: dict[str, Any]) -> str:
    """A metadata read's headers (payload.headers) as the lines of a message. Every field of Gmail's schema is
    optional: a header without a name or a value, no headers, no payload are left out (they raised KeyError or
    TypeError, a 500 on the reconciliation page), and a line break in a value (which would end the header block
    early, so that what follows read as body) is a space."""
    payload = metadata.get("payload")
    headers = payload.get("headers") if isinstance(payload, dict) else None
    lines = []
    for header in headers if isinstance(headers, list) else []:
        if not isinstance(header, dict):
            continue
        name, value = header.get("name"), header.get("value")
        if isinstance(name, str) and name and not any(ch.isspace() or ch == ":" for ch in name) \
                and isinstance(value, str):
            lines.append(f"{name}: {' '.join(value.splitlines())}\r\n")
    return "".join(lines)


def _message_ids(messages: Any) -> list[str]:
    """The ids of a list of message references (messages.list, history.list). Gmail's schema makes every field
    optional: a reference without an id is passed over, not a KeyError that stops the sync on every retry."""
    return [m["id"] for m in messages or [] if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]


@register
class GmailConnector(Connector):
    type: ClassVar[str] = "gmail"
    title: ClassVar[str] = "Gmail"
    description: ClassVar[str] = "Each rep connects their mailbox; inquiries and whole threads become leads."
    config_fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("client_id", "OAuth client ID", setting="GOOGLE_CLIENT_ID",
                    help="Google Cloud console → Credentials (also used by Google sign-in)."),
        ConfigField("client_secret", "OAuth client secret", secret=True, setting="GOOGLE_CLIENT_SECRET"),
        ConfigField("backfill_days", "Back-fill window (days)", default=str(DEFAULT_BACKFILL_DAYS)),
        ConfigField("only_labels", "Only messages with these label ids (comma separated)"),
        ConfigField("company_domains", "More company domains (comma separated)",
                    help="Added to the company domains in Settings → General."),
        ConfigField("outbound_creates_leads", "Outbound mail to unknown people creates leads", default="no",
                    choices=("no", "yes")),
    )
    # Tests swap this for a no-op so retries do not wait.
    sleep = staticmethod(time.sleep)

    def __init__(self, context: Any):
        super().__init__(context)
        self._client: GmailClient | None = None
        self.mailbox = ""
        # Attach-only mail whose lead was not stored yet (the list is newest first): looked at again at the end.
        self._deferred: list[str] = []
        self._final_pass = False
        self._skip_reason = ""

    # -------------------------------------------------------------- set-up

    @property
    def client(self) -> GmailClient:
        if self._client is None:
            self._client = GmailClient(
                GmailSettings.from_settings(self.context.settings),
                self.context.credentials,
                save_credentials=self.context.store_credentials,
                sleep=self.sleep,
            )
        return self._client

    def _setting(self, key: str, default: Any = None) -> Any:
        if key in self.context.config and self.context.config[key] not in (None, ""):
            return self.context.config[key]
        return self.context.settings.get("GMAIL_" + key.upper(), default)

    def rules(self) -> InquiryRules:
        domains = _split(self.context.config.get("company_domains")) + _split(
            self.context.settings.get("COMPANY_DOMAINS")
        )
        return InquiryRules.build(domains, _split(self._setting("only_labels", "")), self.mailbox)

    def list_page_size(self) -> int:
        """messages.list page (Gmail allows 1–500): smaller pages mean more, smaller checkpoints."""
        try:
            return max(1, min(LIST_PAGE, int(self.context.config.get("list_page_size") or LIST_PAGE)))
        except (TypeError, ValueError):
            return LIST_PAGE

    def backfill_after(self) -> int:
        days = int(self._setting("backfill_days", DEFAULT_BACKFILL_DAYS) or DEFAULT_BACKFILL_DAYS)
        now = self.context.config.get("now_epoch") or time.time()  # tests pin the clock
        return int(now - days * 86400)

    def check(self) -> None:
        self.client.profile()

    # -------------------------------------------------------------- reading

    def read(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint | Quarantine | Released]:
        profile = self.client.profile()
        self.mailbox = profile.get("emailAddress", "")
        self._rules = self.rules()
        skipped = int(state.get("skipped", 0))
        if RetrySchedule.KEY in state:
            state = {**state, RetrySchedule.KEY: RETRIES.load(state[RetrySchedule.KEY])}
        due = RETRIES.due(state.get(RetrySchedule.KEY) or {}, self._now())
        if due:
            yield from self._fetch(due, state, retrying=True)
            yield Checkpoint(dict(state))
        carried = {k: state[k] for k in ("skip_reasons", "recent_skips", RetrySchedule.KEY) if k in state}
        if state.get("mode") == "incremental" and state.get("history_id"):
            try:
                yield from self._incremental(dict(state))
                return
            except HistoryExpired:
                # The stored history id is too old: back-fill the window again (ingest drops what it knows).
                state = {"skipped": skipped, "full_syncs": state.get("full_syncs", 1), **carried}
        if state.get("mode") != "full":
            state = {"mode": "full", "history_id": profile["historyId"], "after": self.backfill_after(),
                     "page_token": None, "skipped": skipped, "full_syncs": int(state.get("full_syncs", 0)) + 1,
                     **carried}
            yield Checkpoint(dict(state))
        yield from self._full(state)

    def _full(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint | Quarantine | Released]:
        seen: set[str] = set()
        while True:
            page = self.client.list_page(query=f"after:{state['after']}", page_token=state.get("page_token"),
                                         size=self.list_page_size())
            ids = _message_ids(page.get("messages"))
            yield from self._fetch(ids, state)
            token = page.get("nextPageToken")
            if token and token in seen:
                from connectors.errors import PaginationError

                raise PaginationError(f"messages.list repeated page token {token[:40]!r}")
            if not token:
                break
            seen.add(token)
            state["page_token"] = token
            yield Checkpoint(dict(state))
        yield from self._look_again(state)
        yield Checkpoint({"mode": "incremental", "history_id": state["history_id"], "skipped": state["skipped"],
                          "skip_reasons": state.get("skip_reasons", {}), "recent_skips": state.get("recent_skips", []),
                          "full_syncs": state.get("full_syncs", 1),
                          "last_full_sync_at": datetime.now(UTC).isoformat(),
                          **({RetrySchedule.KEY: self._retrying(state)} if self._retrying(state) else {})})

    def _incremental(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint | Quarantine | Released]:
        page_token: str | None = None
        start = str(state["history_id"])
        while True:
            page = self.client.history_page(start_history_id=start, page_token=page_token)
            ids: list[str] = []
            last_record = None
            for entry in page.get("history") or []:
                last_record = entry.get("id") or last_record
                added = [item.get("message") for item in entry.get("messagesAdded") or [] if isinstance(item, dict)]
                ids += _message_ids([m for m in added if isinstance(m, dict)
                                     and "DRAFT" not in (m.get("labelIds") or [])])
                # Taken out of spam or the bin ("Not spam", restored), or a draft no more: left out when it
                # came, read now (ingest drops what it knows).
                ids += _message_ids([item.get("message") for item in entry.get("labelsRemoved") or []
                                     if isinstance(item, dict) and isinstance(item.get("labelIds"), list)
                                     and EXCLUDED_LABELS & set(item["labelIds"])])
            yield from self._fetch(ids, state)
            page_token = page.get("nextPageToken")
            if not page_token:
                yield from self._look_again(state)
                state["history_id"] = page.get("historyId", state["history_id"])
                yield Checkpoint(dict(state))
                return
            if last_record:
                # resuming from here after a crash re-reads only what came after this page
                state["history_id"] = last_record
                yield Checkpoint(dict(state))

    def _look_again(self, state: dict[str, Any]) -> Iterator[InboundRecord | Quarantine | Released]:
        """Attach-only mail put off because its person was not known yet: by the end of the run the person may be
        (their answer came later in the same run). Stored now if so; skipped for good otherwise."""
        if not self._deferred:
            return
        self._final_pass = True
        deferred, self._deferred = self._deferred, []
        before = int(state.get("skipped", 0))
        yield from self._fetch(deferred, state)
        state["skipped"] = before  # they were counted as skipped already

    def _now(self) -> float:
        return float(self.context.config.get("now_epoch") or time.time())  # tests pin the clock

    @staticmethod
    def _retrying(state: dict[str, Any]) -> dict[str, dict[str, int]]:
        return state.get(RetrySchedule.KEY) or {}

    def _schedule_retry(self, state: dict[str, Any], gmail_id: str) -> None:
        """Try a message that answered 5xx again in a later run, on RETRIES (see the module's docstring)."""
        state[RetrySchedule.KEY] = RETRIES.failed(self._retrying(state), gmail_id, self._now())

    def _forget_retry(self, state: dict[str, Any], gmail_id: str) -> None:
        if gmail_id in self._retrying(state):
            state[RetrySchedule.KEY] = RETRIES.forget(self._retrying(state), gmail_id)

    def _fetch(self, ids: list[str], state: dict[str, Any], *,
               retrying: bool = False) -> Iterator[InboundRecord | Quarantine | Released]:
        if not ids:
            return
        ids = list(dict.fromkeys(ids))  # a message added and relabelled in one page is read once
        found, missing = self.client.get_many(ids, fmt="raw")
        for gmail_id in [i for i, item in found.items()
                         if not isinstance(item, dict) or not isinstance(item.get("raw"), str) or not item["raw"]]:
            # Gmail's schema makes `raw` optional: an answer without it (a backend fault, a proxy) says nothing
            # about the message, which is fetched again on the schedule of a 5xx.
            del found[gmail_id]
            missing[gmail_id] = "retriable: the answer has no raw message"
        # Oldest first: an inquiry is stored before the rep's reply to it, which attaches only to known leads.
        ids = sorted(ids, key=lambda i: int(found.get(i, {}).get("internalDate") or 0))
        for gmail_id in ids:
            if gmail_id in missing:
                if missing[gmail_id].startswith("retriable"):  # 5xx or a timeout through every try
                    self._schedule_retry(state, gmail_id)
                else:
                    self._forget_retry(state, gmail_id)
                if "notFound" in missing[gmail_id] or "HTTP 404" in missing[gmail_id]:
                    continue  # deleted between list and get: nothing to store
                if not retrying:
                    yield Quarantine(self.quarantine_id(gmail_id), f"messages.get failed: {missing[gmail_id]}")
                continue
            item = found.get(gmail_id)
            if not isinstance(item, dict):
                continue
            # The id asked for: Gmail's schema makes the answer's own id optional, and one without it was
            # quarantined as 'None' (every such message under the one quarantine id).
            item = {**item, "id": gmail_id}
            quarantined = retrying or gmail_id in self._retrying(state)
            self._forget_retry(state, gmail_id)
            result = self.to_record(item)
            if quarantined and not isinstance(result, Quarantine):
                yield Released(self.quarantine_id(gmail_id))  # read at last: no longer in quarantine
            if result is _DEFER:
                if len(self._deferred) < MAX_DEFERRED:
                    self._deferred.append(gmail_id)
                state["skipped"] = int(state.get("skipped", 0)) + 1
            elif result is None:
                state["skipped"] = int(state.get("skipped", 0)) + 1
                self._note_skip(state, gmail_id, self._skip_reason)
            else:
                yield result

    @staticmethod
    def _note_skip(state: dict[str, Any], gmail_id: str, reason: str) -> None:
        """Why mail was left out, kept in the cursor state (shown on the Gmail page): counts by kind of
        reason, and the last few decisions in full."""
        kind = (reason or "skipped").split(":", 1)[0].strip()[:40]
        counts = dict(state.get("skip_reasons") or {})
        counts[kind] = int(counts.get(kind, 0)) + 1
        state["skip_reasons"] = counts
        recent = list(state.get("recent_skips") or [])[-(RECENT_SKIPS - 1):]
        state["recent_skips"] = [*recent, {"gmail_id": gmail_id, "reason": (reason or "skipped")[:300]}]

    def quarantine_id(self, gmail_id: str) -> str:
        return f"{self.context.account_id}:{gmail_id}"

    # -------------------------------------------------------------- one message

    def to_record(self, item: dict[str, Any]) -> InboundRecord | Quarantine | None:
        """A Gmail message resource (format raw) -> an InboundRecord, a Quarantine, or None (skipped by rule).
        A message that makes reading it fail in a way not foreseen (a parser bug on hostile input) is quarantined
        with the error: raised, it would stop the sync at the same message on every retry."""
        try:
            return self._to_record(item)
        except Exception as exc:  # noqa: BLE001 - one message must not stop the mailbox's sync
            log.exception("reading Gmail message %s failed", item.get("id"))
            return Quarantine(self.quarantine_id(str(item.get("id"))),
                              f"unexpected error reading the message: {type(exc).__name__}: {exc}"[:1000])

    def _to_record(self, item: dict[str, Any]) -> InboundRecord | Quarantine | None:
        gmail_id = item["id"]
        try:
            raw = base64.urlsafe_b64decode(item.get("raw", "") + "==")
            mail = parse_message(raw, internal_date_ms=int(item.get("internalDate") or 0) or None)
        except MimeError as exc:
            return Quarantine(self.quarantine_id(gmail_id), f"unreadable message: {exc}")
        except (ValueError, TypeError) as exc:
            return Quarantine(self.quarantine_id(gmail_id), f"bad raw encoding: {exc}")
        labels = _labels(item)
        decision = classify(mail, self._rules, labels)
        self._skip_reason = decision.reason
        if not decision.counterparts:
            return None
        if (not decision.is_inquiry and decision.reason.startswith(("bulk", "automated", "bounce", "no sender"))
                and not is_auto_reply(decision)):
            return None  # (an auto-reply is its person's: attach-only, below)
        try:
            return self.build_record(mail, decision, item)
        except ValidationError as exc:
            return Quarantine(self.quarantine_id(gmail_id), f"invalid message fields: {exc}"[:1000])

    def build_record(self, mail: ParsedMail, decision: Decision, item: dict[str, Any]) -> InboundRecord | None:
        name, address = decision.counterparts[0]
        attach_only = not decision.is_inquiry and not (
            decision.direction == "out" and str(self._setting("outbound_creates_leads", "no")).lower() in ("yes", "1",
                                                                                                           "true")
        )
        known = getattr(self.context, "is_known_email", None)
        if attach_only and (known is None or not known(address)):
            self._skip_reason = f"attach-only: {decision.reason}; {address} is not a known lead"
            return None if self._final_pass else _DEFER
        meta = {
            "gmail_id": item["id"],
            "gmail_thread_id": item.get("threadId", ""),
            "labels": _labels(item),
            "mailbox": self.mailbox,
            "inquiry": decision.is_inquiry,
            "inquiry_reason": decision.reason,
            "snippet": mail.snippet,
            "attachments": mail.attachments_meta(),
            "in_reply_to": mail.in_reply_to,
            "references": mail.references,
            "to": [a.address for a in mail.to],
            "cc": [a.address for a in mail.cc],
        }
        if mail.message_id_is_fallback:
            meta["message_id_fallback"] = True
        if is_auto_reply(decision):
            meta["auto_reply"] = True
        if mail.calendar_method:
            meta["calendar_method"] = mail.calendar_method
        if decision.direction == "in":
            # Where an answer goes (RFC 5322 3.6.2): a form notification's visitor or a forwarded inquiry's author
            # (the lead, not the site's mailer or the colleague who passed it on), else the Reply-To if given.
            reply_to = ([Address(name, address)] if decision.reason.startswith(
                ("inquiry: form notification", "inquiry: forwarded by")) else mail.reply_to)
            if reply_to:
                meta["reply_to"] = [mailbox_text(a)[:400] for a in reply_to[:5]]
        fields = form_fields(mail.text) if decision.reason.startswith("inquiry: form notification") else {}
        name = name or fields.get("name", "")
        return InboundRecord(
            channel="gmail",
            external_id=mail.message_id,
            contact=ContactIn(name=(name or None) and name[:200], email=address[:320],
                              phone=fields.get("phone", "")[:64] or None, company=fields.get("company")),
            message=MessageIn(
                external_id=mail.message_id,
                thread_id=item.get("threadId") or None,
                direction=decision.direction,
                kind="auto_reply" if is_auto_reply(decision) else "message",
                sent_at=mail.date,
                sender=mailbox_text(mail.sender)[:400] if mail.sender else "",
                subject=mail.subject,
                text=mail.text,
                html=mail.html or None,
                meta=meta,
            ),
            account_id=self.context.account_id,
            scope=str(self.context.account_id or ""),
            owner_id=self.context.owner_id,
        )

    # -------------------------------------------------------------- reconciliation (ids and headers only)

    def window_message_ids(self, after: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(gmail id, metadata with the headers inquiry detection needs) for every message in the window."""
        profile = self.client.profile()
        self.mailbox = profile.get("emailAddress", "")
        self._rules = self.rules()
        token: str | None = None
        while True:
            page = self.client.list_page(query=f"after:{after or self.backfill_after()}", page_token=token,
                                         size=self.list_page_size())
            ids = _message_ids(page.get("messages"))
            found, _missing = self.client.get_many(ids, fmt="metadata", metadata_headers=RECONCILE_HEADERS)
            for gmail_id in ids:
                if gmail_id in found:
                    yield gmail_id, found[gmail_id]
            token = page.get("nextPageToken")
            if not token:
                return

    def expected_key(self, metadata: dict[str, Any]) -> str | None:
        """The Message external_id a window message should be stored under, or None if rules skip it."""
        raw = (_header_block(metadata) + "\r\n").encode("utf-8", "replace")
        try:
            mail = parse_message(raw, internal_date_ms=int(metadata.get("internalDate") or 0) or None)
        except MimeError:
            return None
        decision = classify(mail, self._rules, _labels(metadata))
        if not decision.is_inquiry:
            return None  # skipped or attach-only: not required in the store
        if mail.message_id_is_fallback:
            return None  # the fallback id hashes the full body, which a metadata read does not have
        return mail.message_id

    # -------------------------------------------------------------- sending and push

    def watch(self, topic: str) -> dict[str, Any]:
        return self.client.watch(topic, _split(self._setting("only_labels", "")) or ["INBOX"])


def backfill_start(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)

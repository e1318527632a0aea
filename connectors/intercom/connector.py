"""The Intercom connector: back-fill of contacts and conversations, then incremental runs on `updated_at`.

Cursor (the account's sync_state, committed with the data before it):
  {"since": epoch|None, "phase": "contacts"|"conversations", "after": starting_after|None, "run_started": epoch}
- No `since`: back-fill with the list endpoints (GET /contacts, GET /conversations), paged with starting_after.
- With `since`: the search endpoints, `updated_at > since - OVERLAP` (repeats are absorbed by idempotent
  ingest; the overlap covers clock skew and items that changed while a run was paging).
- A Checkpoint follows every page, so a killed run resumes at the page after the last committed one.
- When both phases are done, `since` becomes the time the run started by Intercom's clock: the Date of its
  answer to the run's first page (our clock only when the answer has no Date). By ours, a clock running ahead of
  Intercom's by more than the overlap put `since` past changes made during the run, and they were never read.
- `failing`: {conversation id: runs} for a conversation Intercom keeps answering with a server error (after the
  client's retries): the run stops there, and the next one tries it again; in the FAILING_RUNS-th run in a row
  it is quarantined and the sync goes on (one broken conversation must not stop an account's sync for good). It
  is read again when it next changes, or by a back-fill. (Each Checkpoint gets a copy: the runner keeps the
  state it is given, and a dict shared with it would change under it.)
- `retry`: {conversation id: {"tries": n, "next": epoch}} (connectors.base.RetrySchedule, on RETRIES) for
  those quarantined conversations: Intercom's server errors pass, and a conversation nobody writes in again would
  otherwise never arrive. At the end of a run, the ones due are fetched again (QUARANTINE_RETRY_AFTER after
  quarantine, the wait doubling after each failed try, at most QUARANTINE_RETRIES_PER_RUN a run); one that is
  served is stored and leaves the list, one still failing after QUARANTINE_RETRIES tries leaves it too (read
  again when it next changes). A quarantined conversation that changes and still fails goes back on the list at
  once instead of stopping runs again. The retried records are committed with the run's last checkpoint, which
  also drops them from the list: a run killed before it stores nothing and drops nothing. Cursors written before
  hold the same list as `quarantined`: {conversation id: {"at": epoch of the last failure, "tries": retries
  failed}}, read into `retry` on the same schedule. An entry of another shape (a hand-edited cursor) is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pydantic import ValidationError

from connectors.base import (
    Checkpoint,
    ConfigField,
    Connector,
    Quarantine,
    Released,
    RetryEntries,
    RetrySchedule,
    register,
)
from connectors.errors import FatalError, RateLimited, ReconnectNeeded, RetriableError, next_page_token
from connectors.intercom.client import DEFAULT_API_URL, ContactMerged, IntercomClient
from connectors.intercom.mapping import contact_records, conversation_records, unlisted_customer_author
from core.schemas import InboundRecord

log = logging.getLogger(__name__)

PHASES = ("contacts", "conversations")
OVERLAP_SECONDS = 300
CONTACTS_PER_PAGE = 150
CONVERSATIONS_PER_PAGE = 50
FAILING_RUNS = 3
QUARANTINE_RETRY_AFTER = 3600  # seconds; then 2 h, 4 h, 8 h, 16 h: about a day and a half in all
QUARANTINE_RETRIES = 5
QUARANTINE_RETRIES_PER_RUN = 5  # each try may spend the client's retries and their waits
QUARANTINE_KEPT = 500  # the oldest entries beyond this leave the list (they still come back when they change)
RETRIES = RetrySchedule(first_wait=QUARANTINE_RETRY_AFTER, max_tries=QUARANTINE_RETRIES, max_kept=QUARANTINE_KEPT,
                        per_run=QUARANTINE_RETRIES_PER_RUN)


def api_url(settings: Any) -> str:
    return str(settings.get("INTERCOM_API_URL") or DEFAULT_API_URL)


@register
class IntercomConnector(Connector):
    type = "intercom"
    title = "Intercom"
    description = "Contacts and conversations (every part) from an Intercom workspace, installed over OAuth."
    config_fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("client_id", "App client ID", setting="INTERCOM_CLIENT_ID",
                    help="Intercom Developer Hub → your app → Authentication."),
        ConfigField("client_secret", "App client secret", secret=True, setting="INTERCOM_CLIENT_SECRET",
                    help="Also the key Intercom signs webhooks with."),
        ConfigField("admin_id", "Admin id used for replies", help="Empty: the admin who installed the app."),
    )
    # Seams for tests and the benchmark: the pacing clock and sleeper (class-level so run_sync's instances
    # pick them up).
    clock: ClassVar[Callable[[], float]] = staticmethod(time.time)
    sleep: ClassVar[Callable[[float], None]] = staticmethod(time.sleep)
    tries: ClassVar[int] = 6  # per request, 429/5xx retried with backoff
    contacts_per_page: ClassVar[int] = CONTACTS_PER_PAGE
    conversations_per_page: ClassVar[int] = CONVERSATIONS_PER_PAGE

    def client(self) -> IntercomClient:
        token = self.context.credentials.get("access_token")
        if not token:
            raise ReconnectNeeded("no Intercom access token stored: install the app again")
        return IntercomClient(token, base_url=api_url(self.context.settings), sleep=type(self).sleep,
                              clock=type(self).clock, max_tries=type(self).tries)

    def check(self) -> None:
        self.client().me()

    def page_size(self, kind: str) -> int:
        """Items per list/search page (Intercom allows up to 150); the account's `page_size` overrides it:
        smaller pages mean more, smaller checkpoints."""
        default = self.contacts_per_page if kind == "contacts" else self.conversations_per_page
        try:
            return max(1, min(150, int(self.context.config.get("page_size") or default)))
        except (TypeError, ValueError):
            return default

    def phone_region(self) -> str:
        return str(self.context.settings.get("DEFAULT_PHONE_REGION") or "PL")

    def workspace_id(self, client: IntercomClient) -> str:
        known = self.context.config.get("workspace_id")
        if known:
            return str(known)
        app = (client.me().get("app") or {})
        if not app.get("id_code"):
            raise FatalError("/me did not name the workspace (app.id_code)")
        return str(app["id_code"])

    def read(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint | Quarantine | Released]:
        client = self.client()
        workspace = self.workspace_id(client)
        since = state.get("since")
        # Intercom's clock, not ours: `since` is compared with its updated_at (see the module's note).
        run_started: int | None = int(state["run_started"]) if state.get("run_started") else None
        phase = state.get("phase") if state.get("phase") in PHASES else PHASES[0]
        after: str | None = state.get("after") or None
        failing: dict[str, int] = {str(k): int(v) for k, v in dict(state.get("failing") or {}).items()}
        self._retry = _retry_entries(state)
        self._authors_checked: set[str] = set()

        def cursor(**position: Any) -> Checkpoint:
            return Checkpoint({**position, "failing": dict(failing), RetrySchedule.KEY: self._retry})

        for index in range(PHASES.index(phase), len(PHASES)):
            kind = PHASES[index]
            seen: set[str] = {after} if after else set()
            restarted = False
            while True:
                per_page = self.page_size(kind)
                try:
                    if since is None:
                        items, token = client.list_page(kind, per_page=per_page, starting_after=after)
                    else:
                        items, token = client.search_page(
                            kind, updated_after=int(since) - OVERLAP_SECONDS, per_page=per_page, starting_after=after
                        )
                except FatalError as exc:
                    if after is None or restarted:
                        raise
                    # Intercom refuses a cursor it no longer knows ("Invalid starting_after param"): one kept by a
                    # run that stopped mid-way, resumed later. Resuming with it would fail on every run; the phase
                    # starts over instead (what it stores again is absorbed by idempotent ingest).
                    log.warning("Intercom refused the %s cursor; the phase starts over: %s", kind, exc)
                    after, seen, restarted = None, set(), True
                    continue
                if run_started is None:
                    run_started = int(client.server_time or type(self).clock())
                try:
                    for item in items:
                        yield from self._records(client, kind, item, workspace, failing)
                except RetriableError as exc:
                    if not isinstance(exc, RateLimited) and failing:
                        # What this page stored so far, and the count: the next run starts at this page again.
                        yield cursor(since=since, phase=kind, after=after, run_started=run_started)
                    raise
                after = next_page_token(seen, token)
                if after is None:
                    break
                yield cursor(since=since, phase=kind, after=after, run_started=run_started)
            if index + 1 < len(PHASES):
                yield cursor(since=since, phase=PHASES[index + 1], after=None, run_started=run_started)
        yield from self._retry_quarantined(client, workspace)
        yield cursor(since=run_started, phase=PHASES[0], after=None, run_started=None)

    def _retry_quarantined(self, client: IntercomClient,
                           workspace: str) -> Iterator[InboundRecord | Quarantine | Released]:
        """Fetch the quarantined conversations that are due again (see the module's note)."""
        now = int(type(self).clock())
        for conversation_id in RETRIES.due(self._retry, now):
            try:
                full = client.conversation(conversation_id)
            except RateLimited:
                return  # the budget is spent: the rest wait for the next run
            except FatalError as exc:  # deleted meanwhile: nothing left to fetch
                log.info("quarantined Intercom conversation %s is gone: %s", conversation_id, exc)
                self._retry = RETRIES.forget(self._retry, conversation_id)
                continue
            except RetriableError as exc:
                self._retry = RETRIES.failed(self._retry, conversation_id, now)
                if conversation_id not in self._retry:
                    log.warning("Intercom conversation %s still fails after %s retries; it waits for its next "
                                "change: %s", conversation_id, QUARANTINE_RETRIES, exc)
                continue
            self._retry = RETRIES.forget(self._retry, conversation_id)
            yield Released(external_id=f"conversation:{conversation_id}")  # (its quarantine entry goes with it)
            # Read as on the first pass: a conversation longer than Intercom serves lists its older parts.
            yield from older_parts(full, conversation_id)
            yield from _conversation_records(full, conversation_id, workspace)

    def _records(
        self, client: IntercomClient, kind: str, item: dict[str, Any], workspace: str, failing: dict[str, int],
    ) -> Iterator[InboundRecord | Quarantine | Released]:
        if kind == "contacts":
            try:
                yield from contact_records(item, workspace, phone_region=self.phone_region())
            except Exception as exc:  # noqa: BLE001 - one contact must not stop the sync (see _unreadable)
                yield _unreadable(f"contact:{item.get('id')}", exc)
            return
        conversation_id = item.get("id")
        if not conversation_id:
            yield Quarantine(external_id="conversation:?", reason="conversation without an id")
            return
        conversation_id = str(conversation_id)[:200]
        try:
            full = client.conversation(conversation_id)
        except FatalError as exc:  # e.g. deleted between list and fetch: keep going, keep a trace
            failing.pop(conversation_id, None)
            self._retry = RETRIES.forget(self._retry, conversation_id)
            yield Quarantine(external_id=f"conversation:{conversation_id}", reason=str(exc)[:500])
            return
        except RetriableError as exc:
            if isinstance(exc, RateLimited):  # the API's budget is not this conversation's fault
                raise
            runs = failing.pop(conversation_id, 0) + 1
            if runs < FAILING_RUNS and conversation_id not in self._retry:
                failing[conversation_id] = runs
                raise
            # Already on the list (it changed, or the overlap read it again): its retries go on as they were.
            if conversation_id not in self._retry:
                self._retry = RETRIES.failed(self._retry, conversation_id, type(self).clock())
            yield Quarantine(external_id=f"conversation:{conversation_id}",
                             reason=f"Intercom answered with a server error in {runs} runs in a row, skipped for "
                                    f"now (tried again later, and when it changes): {exc}"[:500])
            return
        failing.pop(conversation_id, None)
        if conversation_id in self._retry:  # changed, and served this time
            self._retry = RETRIES.forget(self._retry, conversation_id)
            yield Released(external_id=f"conversation:{conversation_id}")
        yield from self._merged_author(client, full, workspace)
        yield from older_parts(full, conversation_id)
        yield from _conversation_records(full, conversation_id, workspace)

    def _merged_author(self, client: IntercomClient, conversation: dict[str, Any],
                       workspace: str) -> Iterator[InboundRecord | Quarantine]:
        """A lead merged into a user: Intercom lists the user on the lead's conversations, while the opening
        message still names the lead. Asked for, the lead answers 410 with the user in its Link header (API 2.16;
        404 before): the user's records, with the lead among its merged ones, put the lead's chats on the user's
        lead whether or not the merge moved the user's updated_at. Asked once per author and run."""
        author_id = unlisted_customer_author(conversation)
        if author_id is None or author_id in self._authors_checked:
            return
        self._authors_checked.add(author_id)
        try:
            client.contact(author_id)
            return  # a contact of its own still: a group conversation they left, not a merge
        except ContactMerged as exc:
            target, merged = exc.canonical_id, True
        except FatalError:  # 404: gone, merged or deleted; only the listed contact's merge history can say
            target, merged = None, False
        except RetriableError as exc:
            if isinstance(exc, RateLimited):
                raise
            log.info("could not ask Intercom about contact %s: %s", author_id, exc)
            return
        listed = [str(c.get("id")) for c in (conversation.get("contacts") or {}).get("contacts") or []
                  if isinstance(c, dict) and c.get("id")]
        target = target or (listed[0] if len(listed) == 1 else None)
        if not target:
            return
        try:
            contact = client.contact(target)
        except RateLimited:
            raise
        except (FatalError, RetriableError) as exc:
            log.info("could not read Intercom contact %s: %s", target, exc)
            return
        if not isinstance(contact, dict):
            return
        if merged:
            contact = {**contact, "merged_from": {"type": "contact", "id": author_id}}
        try:
            yield from contact_records(contact, workspace, phone_region=self.phone_region())
        except Exception as exc:  # noqa: BLE001 - one contact must not stop the sync (see _unreadable)
            yield _unreadable(f"contact:{target}", exc)


def _conversation_records(full: dict[str, Any], conversation_id: str, workspace: str) -> list[InboundRecord | Quarantine]:
    try:
        return conversation_records(full, workspace)
    except Exception as exc:  # noqa: BLE001 - one conversation must not stop the sync (see _unreadable)
        return [_unreadable(f"conversation:{conversation_id}", exc)]


def older_parts(full: Any, conversation_id: str) -> list[Quarantine]:
    """A conversation longer than Intercom serves: GET /conversations/{id} returns its 500 newest parts and API
    2.16 has no way to page to the others. Listed for the admin (once: a quarantined id is not stored twice) so
    that the gap is not only a flag in the messages' meta; parts stored by earlier runs, while the conversation
    was shorter, are kept."""
    part_list = full.get("conversation_parts") if isinstance(full, dict) else None
    if not isinstance(part_list, dict):
        return []
    parts, total = part_list.get("conversation_parts"), part_list.get("total_count")
    returned = len(parts) if isinstance(parts, list) else 0
    if not isinstance(total, int) or isinstance(total, bool) or total <= returned:
        return []
    log.warning("Intercom serves %s of the %s parts of conversation %s", returned, total, conversation_id)
    return [Quarantine(
        external_id=f"conversation:{conversation_id}:older-parts",
        reason=(f"Intercom's API serves only the {returned} newest of its {total} parts; the {total - returned} older "
                "ones cannot be read through it (read them in Intercom; any stored by earlier syncs are kept)")[:500])]


def _retry_entries(state: dict[str, Any]) -> RetryEntries:
    """The cursor's retry list (see the module's note), with the entries of a cursor written before it was
    kept as `retry` ({"at": epoch of the last failure, "tries": retries failed}) on the same schedule."""
    entries: dict[str, Any] = {}
    legacy = state.get("quarantined")
    for conversation_id, entry in (legacy.items() if isinstance(legacy, dict) else ()):
        try:
            failures = max(0, int(entry["tries"])) + 1  # (the failure that quarantined it counts in `retry`)
            if failures <= RETRIES.max_tries:
                entries[str(conversation_id)] = {"tries": failures, "next": int(entry["at"]) + RETRIES.wait(failures)}
        except (TypeError, KeyError, ValueError, OverflowError):
            continue
    current = state.get(RetrySchedule.KEY)
    return RETRIES.load({**entries, **(current if isinstance(current, dict) else {})})


def _unreadable(external_id: str, exc: Exception) -> Quarantine:
    """An item the mapping could not read: a field that breaks validation, or a failure not foreseen (on input
    no test has shown), quarantined with its reason. Raised, it would stop the sync at the same item on every
    retry."""
    if not isinstance(exc, ValidationError):
        log.exception("reading Intercom %s failed", external_id)
        return Quarantine(external_id=external_id, reason=f"unexpected error: {type(exc).__name__}: {exc}"[:500])
    return Quarantine(external_id=external_id, reason=str(exc)[:500])

"""Parsers for LinkedIn's own data export ("Get a copy of your data"): Connections.csv and messages.csv.

Pure functions: bytes in, plain inbound-record dicts (the /api/v1/inbound shape plus scope and owner_id) and
per-line errors out. No database; `webapp` feeds the records to `core.importer.import_stream`, the one ingest
loop. Line numbers are physical lines of the file, so a rep can open it and find the row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import lzma
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from core.importer import ENCODING_SAMPLE_BYTES, day_first_to_iso, detect_encoding
from core.normalize import InvalidIdentifier, fold_name, normalize_email, normalize_linkedin_url
from core.schemas import NAME_MAX, SENDER_MAX, SUBJECT_MAX

CHANNEL = "linkedin"
CONNECTIONS_COLUMNS = ("first name", "last name", "url", "email address", "company", "position", "connected on")
MESSAGES_COLUMNS = (
    "conversation id", "conversation title", "from", "sender profile url", "to", "recipient profile urls",
    "date", "subject", "content", "folder",
)
# Columns a file must have for us to recognise its header row (older layouts lack the others).
CONNECTIONS_REQUIRED = ("first name", "last name", "company", "position")
MESSAGES_REQUIRED = ("conversation id", "from", "date", "content")
# Other names some layouts give a column we read: {name in the file: the name we read it by}.
COLUMN_ALIASES = {"profile url": "url", "e-mail address": "email address"}
# How far we look for the header row before calling the file something else.
MAX_PREAMBLE_ROWS = 50
MAX_UNREADABLE_ROWS = 1000


class ExportError(ValueError):
    """The whole file cannot be read (no header row, not UTF-8 text …)."""


@dataclass
class ExportLine:
    line: int
    data: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class SkipReport:
    """Rows we chose not to import (not errors): drafts, conversations with nobody but the owner …"""

    reasons: Counter = field(default_factory=Counter)

    def add(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] += count


# --------------------------------------------------------------------------- the archive LinkedIn sends

# What one file of the archive may unpack to: LinkedIn's Connections.csv of 30,000 people is about 3 MB.
MAX_ARCHIVE_MEMBER_BYTES = 200 * 1024 * 1024


# What reading a damaged or unreadable member raises: a failed CRC or a truncated file (BadZipFile, EOFError), a
# password (RuntimeError), a compression method Python lacks (NotImplementedError), each decompressor's own
# error for corrupt data (zlib.error for deflate, OSError for bzip2, LZMAError for lzma), and an offset before
# the start of the file (ValueError: negative seek).
_DAMAGED_MEMBER = (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, OSError, ValueError, zlib.error,
                   lzma.LZMAError)


def is_zip(stream: BinaryIO) -> bool:
    """Whether the stream is a ZIP archive (LinkedIn mails the export as one); the stream is left at its start."""
    start = stream.read(4)
    stream.seek(0)
    return start == b"PK\x03\x04"


def files_in_archive(stream: BinaryIO) -> tuple[BinaryIO, BinaryIO | None]:
    """(Connections.csv, messages.csv or None) from the ZIP archive of a LinkedIn data export, as LinkedIn sends
    it ("Basic_LinkedInDataExport_….zip", the files at its top or in one folder, any case)."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        # ValueError: a damaged central directory (a name flagged as UTF-8 that is not, an offset before the start)
        raise ExportError(f"the archive cannot be opened: {exc}") from None
    with archive:
        members: defaultdict[str, list[zipfile.ZipInfo]] = defaultdict(list)
        for info in archive.infolist():
            if not info.is_dir():
                members[PurePosixPath(info.filename).name.lower()].append(info)

        def read(name: str) -> BinaryIO | None:
            found = members.get(name)
            if not found:
                return None
            if len({(i.CRC, i.file_size) for i in found}) > 1:
                # Two exports zipped together, or one name twice: either could be the one meant, never guess.
                raise ExportError(f"the archive holds {len(found)} different files named {name}: "
                                  f"{', '.join(i.filename for i in found)}; upload the one you mean")
            info = found[0]
            if info.file_size > MAX_ARCHIVE_MEMBER_BYTES:
                raise ExportError(f"{info.filename} in the archive unpacks to {info.file_size} bytes, more than "
                                  f"{MAX_ARCHIVE_MEMBER_BYTES}")
            try:
                return io.BytesIO(archive.read(info))
            except _DAMAGED_MEMBER as exc:
                raise ExportError(f"{info.filename} in the archive cannot be read: {exc or type(exc).__name__}") from None

        connections = read("connections.csv")
        if connections is None:
            raise ExportError("the archive has no Connections.csv: ask LinkedIn for a copy with Connections")
        return connections, read("messages.csv")


# --------------------------------------------------------------------------- reading the CSV


def _rows(stream: BinaryIO, required: tuple[str, ...], what: str) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """(first line of the row, {lowercased column: cell} | None, error | None) for every row after the header."""
    raw = stream.read()
    # LinkedIn writes UTF-8 with commas; a file opened and saved again in Excel on Polish or Russian Windows is
    # Windows-1250/-1251 with semicolons.
    encoding = detect_encoding(raw[:ENCODING_SAMPLE_BYTES])
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExportError(f"{what} is not {encoding.removesuffix('-sig').upper()} text (byte {exc.start})") from None
    delimiter = _delimiter(text, required)
    # The physical lines (split as the csv module splits them), fed to the reader one by one: after a row whose
    # quotes do not close, reading starts again on the line after its first.
    physical = list(io.StringIO(text, newline=""))
    fed = 0

    def feed() -> Iterator[str]:
        nonlocal fed
        while fed < len(physical):
            fed += 1
            yield physical[fed - 1]

    reader = csv.reader(feed(), delimiter=delimiter)
    header: list[str] | None = None
    line_end = 0
    index = -1
    unreadable = 0
    while True:
        index += 1
        try:
            row = next(reader)
            broken_quote = False
        except StopIteration:
            break
        except csv.Error as exc:
            row, broken_quote = None, True
            error = f"not readable as CSV: {exc}"
        line_start, line_end = line_end + 1, fed
        if header is not None and line_end > line_start and (
            broken_quote or not _quotes_close(physical[line_start - 1:line_end], delimiter)
        ):
            # A quote opened on this line that no quote closes (a hand-edited file): the csv module read the
            # lines after it into this row. Report the line; read the rest again from the next one.
            unreadable += 1
            yield line_start, None, (f"an unclosed quote (\") runs over lines {line_start}-{line_end}; the line is "
                                     "left out, the ones after it are read again")
            if unreadable >= MAX_UNREADABLE_ROWS:
                yield line_start, None, f"stopped after {unreadable} unreadable rows: is this a CSV file?"
                return
            fed = line_end = line_start
            reader = csv.reader(feed(), delimiter=delimiter)
            continue
        if row is None:
            # e.g. a field over the csv module's size limit: report the line, go on with the next one.
            if header is not None:
                unreadable += 1
                yield line_start, None, error
                if unreadable >= MAX_UNREADABLE_ROWS:
                    yield line_end, None, f"stopped after {unreadable} unreadable rows: is this a CSV file?"
                    return
            continue
        if header is None:
            cells = [c.strip().lstrip("\ufeff").lower() for c in row]
            if all(name in cells for name in required):
                header = [COLUMN_ALIASES.get(c, c) for c in cells]
            elif index >= MAX_PREAMBLE_ROWS:
                break
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line_start, None, f"{len(row)} values but the header has {len(header)} columns"
            continue
        yield line_start, dict(zip(header, row, strict=True)), None
    if header is None:
        raise ExportError(f"{what}: no header row with the columns {', '.join(c.title() for c in required)} found")


def _quotes_close(lines: list[str], delimiter: str) -> bool:
    """Whether a row read over several lines is one the csv module reads as strictly well quoted (each quoted
    field's quotes close, and close before a separator or the end of the line)."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return False
    return True


def _delimiter(text: str, required: tuple[str, ...]) -> str:
    """The separator that makes a line of the file's first ones into a header with the required columns."""
    for line in text.splitlines()[: MAX_PREAMBLE_ROWS + 1]:
        for delimiter in (",", ";", "\t"):
            cells = [c.strip().strip('"').lstrip("\ufeff").lower() for c in line.split(delimiter)]
            if all(name in cells for name in required):
                return delimiter
    return ","


def _canonical(url: str) -> str | None:
    try:
        return normalize_linkedin_url(url) if url.strip() else None
    except InvalidIdentifier:
        return None


def parse_connected_on(value: str) -> datetime | None:
    """`12 Mar 2024` (current exports) or `03/12/24` (some older ones); `12.03.2024` once Excel on Polish or
    Russian Windows has saved the file again."""
    for fmt in ("%d %b %Y", "%d %B %Y", "%m/%d/%y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_message_date(value: str) -> datetime:
    """`2023-06-11 15:33:58 UTC` (some exports drop the zone or add an offset); `11.06.2023 15:33` once Excel on
    Polish or Russian Windows has saved the file again (read as UTC, as LinkedIn wrote it)."""
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    parsed = datetime.fromisoformat(day_first_to_iso(text))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- Connections.csv


@dataclass(frozen=True)
class Connection:
    name: str
    profile_url: str  # canonical, or "" in older exports
    email: str
    company: str
    position: str
    connected_on: datetime | None


def read_connections(stream: BinaryIO) -> Iterator[tuple[int, Connection | None, str | None]]:
    for line, row, error in _rows(stream, CONNECTIONS_REQUIRED, "Connections.csv"):
        if row is None:
            yield line, None, error
            continue
        name = " ".join(p for p in (row.get("first name", "").strip(), row.get("last name", "").strip()) if p)
        raw_url = row.get("url", "").strip()
        url = _canonical(raw_url) if raw_url else ""
        if url is None:
            yield line, None, f"URL {raw_url!r} is not a LinkedIn profile URL"
            continue
        if not name and not url:
            yield line, None, "row has neither a name nor a profile URL"
            continue
        connected_raw = row.get("connected on", "").strip()
        yield line, Connection(
            name=name,
            profile_url=url,
            email=row.get("email address", "").strip(),
            company=row.get("company", "").strip(),
            position=row.get("position", "").strip(),
            connected_on=parse_connected_on(connected_raw) if connected_raw else None,
        ), None


def connection_records(
    stream: BinaryIO, *, owner_id: int | None, skipped: SkipReport
) -> tuple[list[ExportLine], dict[str, str]]:
    """Inbound records (contact only) for every connection, plus {folded name: canonical URL} so that
    messages of older exports (which lack recipient URLs) can still find the person (a name that two
    connections share is left out: it cannot tell them apart)."""
    lines: list[ExportLine] = []
    urls_by_name: defaultdict[str, set[str]] = defaultdict(set)
    for line, connection, error in read_connections(stream):
        if connection is None:
            lines.append(ExportLine(line, error=error))
            continue
        if connection.profile_url and connection.name:
            urls_by_name[fold_name(connection.name)].add(connection.profile_url)
        if not connection.profile_url and not connection.email:
            # Older exports without URL, and people who hide their email: nothing to know them by again.
            skipped.add("connection without profile URL or email (older export layout)")
            continue
        email = connection.email
        if email and connection.profile_url:
            try:
                normalize_email(email)
            except InvalidIdentifier:
                # A typo in the address (jan@firma) refused the whole row, and the profile with it.
                skipped.add("connection's e-mail address not valid: left out, the profile kept")
                email = ""
        contact = {
            # Cut to what a contact holds, not refused.
            "name": connection.name[:NAME_MAX] or None,
            "linkedin_url": connection.profile_url or None,
            "email": email or None,
            "company": connection.company[:NAME_MAX] or None,
            "title": connection.position[:NAME_MAX] or None,
        }
        lines.append(
            ExportLine(
                line,
                data={
                    "channel": CHANNEL,
                    "contact": {k: v for k, v in contact.items() if v},
                    "owner_id": owner_id,
                },
            )
        )
    # Namesakes (two connections called Anna Nowak) say nothing about which of them a message went to.
    url_by_name = {name: next(iter(urls)) for name, urls in urls_by_name.items() if len(urls) == 1}
    return lines, url_by_name


# --------------------------------------------------------------------------- messages.csv


@dataclass(frozen=True)
class ExportMessage:
    line: int
    conversation_id: str
    title: str
    sender_name: str
    sender_url: str  # canonical or ""
    recipient_names: list[str]
    recipient_urls: list[str]  # canonical
    sent_at: datetime
    subject: str
    content: str
    folder: str


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"true", "yes", "1"}


def read_messages(stream: BinaryIO, skipped: SkipReport) -> Iterator[tuple[int, ExportMessage | None, str | None]]:
    for line, row, error in _rows(stream, MESSAGES_REQUIRED, "messages.csv"):
        if row is None:
            yield line, None, error
            continue
        if _truthy(row.get("is message draft", "")) or row.get("folder", "").strip().upper() == "DRAFT":
            skipped.add("draft message")
            continue
        conversation_id = row.get("conversation id", "").strip()
        if not conversation_id:
            yield line, None, "CONVERSATION ID is empty"
            continue
        try:
            sent_at = parse_message_date(row.get("date", ""))
        except ValueError:
            yield line, None, f"DATE {row.get('date', '')!r} is not a date like 2023-06-11 15:33:58 UTC"
            continue
        raw_sender = row.get("sender profile url", "").strip()
        sender_url = _canonical(raw_sender) if raw_sender else ""
        if sender_url is None:
            yield line, None, f"SENDER PROFILE URL {raw_sender!r} is not a LinkedIn profile URL"
            continue
        recipient_urls = [u for u in (_canonical(p) for p in row.get("recipient profile urls", "").split(";")) if u]
        yield line, ExportMessage(
            line=line,
            conversation_id=conversation_id,
            title=row.get("conversation title", "").strip(),
            sender_name=row.get("from", "").strip(),
            sender_url=sender_url,
            recipient_names=[n.strip() for n in row.get("to", "").split(",") if n.strip()],
            recipient_urls=recipient_urls,
            sent_at=sent_at,
            subject=row.get("subject", "").strip(),
            content=row.get("content", ""),
            folder=row.get("folder", "").strip(),
        ), None


def _participants(messages: list[ExportMessage]) -> set[str]:
    people = {m.sender_url for m in messages if m.sender_url}
    for m in messages:
        people.update(m.recipient_urls)
    return people


def derive_owner_profile(conversations: dict[str, list[ExportMessage]]) -> str | None:
    """The export owner's canonical URL: the one profile taking part in every conversation.

    Participants are senders plus (in newer exports) recipients. With one conversation, or only
    conversations between the same two people, both qualify and the answer is ambiguous: None.
    """
    common: set[str] | None = None
    for messages in conversations.values():
        people = _participants(messages)
        common = people if common is None else common & people
    if common is not None and len(common) == 1:
        return next(iter(common))
    # Fall back to senders only: the owner sent in every conversation they replied to.
    senders: set[str] | None = None
    for messages in conversations.values():
        people = {m.sender_url for m in messages if m.sender_url}
        if people:
            senders = people if senders is None else senders & people
    if senders is not None and len(senders) == 1:
        return next(iter(senders))
    return None


def message_external_id(message: ExportMessage) -> str:
    """Stable across re-imports (and across two reps' exports of the same message)."""
    key = "\x1f".join(
        [message.conversation_id, message.sent_at.isoformat(), message.sender_url or message.sender_name, message.content]
    )
    return "li-export:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def message_records(
    stream: BinaryIO,
    *,
    owner_id: int | None,
    owner_profile: str | None,
    url_by_name: dict[str, str] | None = None,
    skipped: SkipReport,
) -> tuple[list[ExportLine], str | None]:
    """Inbound records for every message, each on the OTHER person's lead; returns (lines, owner profile used)."""
    url_by_name = url_by_name or {}
    lines: list[ExportLine] = []
    conversations: dict[str, list[ExportMessage]] = defaultdict(list)
    for line, message, error in read_messages(stream, skipped):
        if message is None:
            lines.append(ExportLine(line, error=error))
        else:
            conversations[message.conversation_id].append(message)
    if owner_profile:
        owner = _canonical(owner_profile)
        if owner is None:
            raise ExportError(f"owner profile {owner_profile!r} is not a LinkedIn profile URL")
        if conversations and not any(owner in _participants(messages) for messages in conversations.values()):
            # A mistyped (or another rep's) profile: each conversation would go to the rep, directions reversed.
            raise ExportError(f"your profile {owner} takes part in none of the conversations in messages.csv; "
                              "check the profile URL")
    else:
        owner = derive_owner_profile(conversations)
        if owner is None and conversations:
            raise ExportError(
                "cannot tell which profile in messages.csv is yours (no single sender appears in every "
                "conversation); pass your profile URL (--owner-profile)"
            )
    scope = f"user:{owner_id}" if owner_id else "linkedin-export"
    for conversation_id, messages in conversations.items():
        other = _other_person(messages, owner, url_by_name)
        if other is None:
            for message in messages:
                lines.append(ExportLine(message.line, error=f"conversation {conversation_id}: cannot identify the "
                                        "other person (no profile URL; add Connections.csv to match by name)"))
            continue
        other_name, other_url, everyone = other
        for message in sorted(messages, key=lambda m: m.sent_at):
            outbound = message.sender_url == owner if message.sender_url else _same_name_as_other(message, other_name)
            lines.append(
                ExportLine(
                    message.line,
                    data={
                        "channel": CHANNEL,
                        "scope": scope,
                        "owner_id": owner_id,
                        "contact": {"name": (other_name or "")[:NAME_MAX] or None, "linkedin_url": other_url},
                        "message": {
                            "external_id": message_external_id(message),
                            "thread_id": conversation_id,
                            "direction": "out" if outbound else "in",
                            "sent_at": message.sent_at.isoformat(),
                            "sender": message.sender_name[:SENDER_MAX],
                            "subject": (message.subject or message.title)[:SUBJECT_MAX] or None,
                            "text": message.content,
                            "meta": {"source": "linkedin-export", "folder": message.folder,
                                     "participants": sorted(everyone)},
                        },
                    },
                )
            )
    return lines, owner


def _same_name_as_other(message: ExportMessage, other_name: str) -> bool:
    # No sender URL (rare, deleted accounts): outbound unless the sender is the other person by name.
    return fold_name(message.sender_name) != fold_name(other_name)


def _other_person(
    messages: list[ExportMessage], owner: str | None, url_by_name: dict[str, str]
) -> tuple[str, str, set[str]] | None:
    """(name, canonical URL, every participant URL) of the person the conversation is with. A group
    conversation is attached to the first other person who wrote in it (else the first recipient)."""
    everyone: set[str] = set()
    for m in messages:
        if m.sender_url:
            everyone.add(m.sender_url)
        everyone.update(m.recipient_urls)
    for m in sorted(messages, key=lambda m: m.sent_at):
        if m.sender_url and m.sender_url != owner:
            return m.sender_name, m.sender_url, everyone
    for m in sorted(messages, key=lambda m: m.sent_at):
        names = m.recipient_names
        for index, url in enumerate(m.recipient_urls):
            if url != owner:
                name = names[index] if index < len(names) and len(names) == len(m.recipient_urls) else ""
                return name or (names[0] if len(names) == 1 else ""), url, everyone
        for name in names:
            url = url_by_name.get(fold_name(name))
            if url and url != owner:
                everyone.add(url)
                return name, url, everyone
    return None

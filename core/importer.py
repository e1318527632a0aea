"""Bulk import of inbound records from JSONL or CSV, streamed in batches through the one ingest path.

A bad line is reported with its line number and skipped; it never aborts the file. Records are written with
`core.batch.ingest_many` (the same rules as `core.ingest.ingest`, fewer round trips). Each batch commits, so
a crash mid-file loses at most the current batch, and re-running the import duplicates nothing.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import re
import tempfile
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice, repeat
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session

from core.batch import (
    INDEX_RESET_KEY,
    SUGGEST_LATER_KEY,
    SuggestionRequest,
    bulk_gc,
    bulk_gc_checkpoint,
    ingest_many,
    run_suggestion_request,
)
from core.db import bulk_settings, make_engine
from core.identity import forget_pending_searches, search_pending, upsert_suggestions
from core.ingest import (
    IngestError,
    IngestOptions,
    _Plan,
    extract_identities,
    invalid_identifier_fields,
    message_html,
)
from core.schemas import InboundRecord
from core.signals import message_signals

MAX_REPORTED_ERRORS = 1000
log = logging.getLogger(__name__)
MAX_LINE_BYTES = 2_000_000

CONTACT_COLUMNS = ("name", "email", "phone", "company", "title", "linkedin_url", "external_user_id")
MESSAGE_COLUMNS = ("thread_id", "direction", "kind", "sent_at", "sender", "subject", "text", "html")
# A spreadsheet's separate name columns, joined into the contact's name when the row has no full name, in this
# order (a patronymic follows the first name: Иван Сергеевич Петров).
NAME_PART_COLUMNS = ("first_name", "middle_name", "last_name")
RECORD_COLUMNS = ("channel", "external_id", "message_id")
# CSV headers people use for the same thing: English, Polish and Russian spreadsheets and CRM exports.
# The headers of a form tool's submission time (Google Forms in English, Polish, Russian, Ukrainian; Typeform, Tally,
# Jotform): a row of such a file is an inquiry sent then, even when none of its answers is a text column.
SUBMISSION_TIME_HEADERS = frozenset({"timestamp", "sygnatura czasowa", "отметка времени", "позначка часу",
                                     "submitted at", "submit date (utc)", "submission date"})
COLUMN_ALIASES = {
    "full_name": "name", "full name": "name", "contact_name": "name", "contact name": "name",
    "imię i nazwisko": "name", "imie i nazwisko": "name", "фио": "name", "имя и фамилия": "name",
    "first name": "first_name", "given name": "first_name", "firstname": "first_name", "imię": "first_name",
    "imie": "first_name", "имя": "first_name",
    "last name": "last_name", "surname": "last_name", "family name": "last_name", "lastname": "last_name",
    "nazwisko": "last_name", "фамилия": "last_name",
    "middle name": "middle_name", "additional name": "middle_name", "drugie imię": "middle_name",
    "drugie imie": "middle_name", "отчество": "middle_name",
    "e-mail": "email", "email_address": "email", "email address": "email", "mail": "email",
    "adres e-mail": "email", "adres email": "email", "почта": "email", "эл. почта": "email",
    "электронная почта": "email", "e-mail адрес": "email",
    "phone_number": "phone", "phone number": "phone", "telephone": "phone", "tel": "phone", "tel.": "phone",
    "mobile": "phone", "telefon": "phone", "nr telefonu": "phone", "телефон": "phone", "тел.": "phone",
    "organization": "company", "organisation": "company", "company name": "company", "firma": "company",
    "nazwa firmy": "company", "компания": "company", "организация": "company",
    "job title": "title", "position": "title", "stanowisko": "title", "должность": "title",
    "linkedin": "linkedin_url", "linkedin url": "linkedin_url", "profile_url": "linkedin_url",
    "user_id": "external_user_id",
    "message_external_id": "message_id", "message id": "message_id",
    "body": "text", "message": "text", "wiadomość": "text", "treść": "text", "сообщение": "text",
    "текст": "text", "temat": "subject", "тема": "subject",
    "date": "sent_at", "data": "sent_at", "дата": "sent_at",
    # When a form was sent, as form tools export it: Google Forms in English, Polish, Russian, Ukrainian; Typeform,
    # Tally, Jotform.
    "timestamp": "sent_at", "sygnatura czasowa": "sent_at", "отметка времени": "sent_at", "позначка часу": "sent_at",
    "submitted at": "sent_at", "submit date (utc)": "sent_at", "submission date": "sent_at",
    # CRM and address-book exports (Outlook, Google Contacts, HubSpot, Salesforce, Pipedrive, amoCRM, Bitrix24).
    "account name": "company", "organization 1 - name": "company", "organization name": "company",
    "organization - name": "company", "person - organization": "company", "company name (contact)": "company",
    "organization 1 - title": "title", "organization title": "title", "person - job title": "title",
    "должность (контакт)": "title",
    "person - name": "name", "полное имя контакта": "name", "name (contact)": "name",
    "person - first name": "first_name", "person - last name": "last_name",
    "additional email addresses": "email", "dodatkowe adresy e-mail": "email",
    # More of the ways Polish and Russian sheets name them.
    "numer telefonu": "phone", "telefon kontaktowy": "phone", "nr tel.": "phone", "nr tel": "phone",
    "номер телефона": "phone", "мобильный": "phone", "сотовый": "phone", "моб. телефон": "phone",
    "e-mail kontaktowy": "email", "email kontaktowy": "email", "электронный адрес": "email", "email адрес": "email",
    "osoba kontaktowa": "name", "контактное лицо": "name", "ф.и.о.": "name", "ф. и. о.": "name",
    "organizacja": "company", "название компании": "company", "название организации": "company",
    # Surname first, in one column: "Nowak Anna", "Иванов Иван Иванович" (name matching reads either order).
    "nazwisko i imię": "name", "nazwisko i imie": "name", "nazwisko, imię": "name", "nazwisko, imie": "name",
    "nazwisko imię": "name", "фамилия и имя": "name", "фамилия, имя": "name", "фамилия имя": "name",
    "фамилия имя отчество": "name", "фамилия, имя, отчество": "name",
    "user id": "external_user_id", "userid": "external_user_id",
    # Exports as the tools write them, each from a header seen in a public repository or the tool's documentation:
    # Salesforce's Leads report: "Lead Owner,First Name,Last Name,Title,Company / Account,Lead Source,Rating,Street,
    # Email", and "…,Phone,Primary Campaign,Campaign Channel,Create Date" with 12/27/2025 (US locale). HubSpot's
    # contacts: "Create Date", "Associated Company". Zoho CRM's Leads: "Lead Owner,First Name,Last Name,Email,
    # Company,Designation,Secondary Email,Created Time,Modified Time,Description". The lead's or contact's
    # creation is when the inquiry came; a change, an activity, a birthday is not (those stay out).
    "company / account": "company", "associated company": "company", "designation": "title",
    "secondary email": "email", "create date": "sent_at", "created date": "sent_at", "created time": "sent_at",
    # Pipedrive: "Person - Title", "Deal - Deal created", "Person - Person created".
    "person - title": "title", "deal - deal created": "sent_at", "person - person created": "sent_at",
    # Apollo: "Title,Company Name,Email,Email Status,Work Direct Phone,Corporate Phone,Mobile Phone,Home Phone,
    # Person Linkedin Url" ("Corporate Phone" is the switchboard many people share: not one person's number).
    "work direct phone": "phone", "person linkedin url": "linkedin_url",
    # LinkedIn Sales Navigator lead lists as Evaboot exports them: "First Name,Last Name,Current Job,Company Name,
    # Linkedin URL Public,Sales Navigator URL,Email" (the Sales Navigator URL is no public profile).
    "linkedin url public": "linkedin_url", "current job": "title",
    # amoCRM's export of deals with their contacts: "ID,Название сделки,Бюджет,Ответственный,Дата создания сделки,
    # …,Примечание,Примечание 2,…,Полное имя контакта,Компания контакта,…,Рабочий телефон,Рабочий прямой телефон,
    # Мобильный телефон,…,Рабочий email,Личный email,Другой email,…" (dates 02.01.2006 15:04:05; the importer of
    # github.com/hromov/jevelina, amoimport, lists the columns).
    "компания контакта": "company", "дата создания сделки": "sent_at",
    # Bitrix24's leads and contacts: "…,Имя,Фамилия,Отчество,Имя, Фамилия,…,Рабочий телефон,Мобильный телефон,
    # Номер факса,Домашний телефон,Номер пейджера,Телефон для рассылок,Другой телефон,…,Рабочий e-mail,
    # Частный e-mail,E-mail для рассылок,Другой e-mail,…,Название компании,Должность,Комментарий,…", its creation
    # "Дата создания" (DATE_CREATE, helpdesk.bitrix24.ru/open/16398726; in Polish "Data utworzenia",
    # helpdesk.bitrix24.pl/open/20611308). "Имя, Фамилия" is the first and last name only:
    # the name when the row has no parts (which keep the patronymic).
    "имя, фамилия": "first_and_last_name", "дата создания": "sent_at", "data utworzenia": "sent_at",
    "телефон для рассылок": "phone", "e-mail для рассылок": "email",
}
# Notes about the person (Google Contacts' and Outlook's "Notes", Salesforce's and Zoho's "Description", amoCRM's
# "Примечание", "Примечание 2" …, Bitrix24's "Комментарий", a Polish sheet's "Uwagi"): the message's text, with
# a message or text column's, each one's value in its own paragraph.
_NOTE_COLUMN = re.compile(
    r"^(?:notes?|comments?|description|примечани[ея]|комментари[йи]|заметк[аи]|uwagi|notatk[ai]|komentarz)(?: \d+)?$")
# Exports give a person's addresses and numbers in several columns ("E-mail 2 Address", "Phone 1 - Value",
# "Person - Phone - Mobile", "Мобильный телефон"): each such column is one more of theirs. Written out rather than
# guessed from a word in the header: "Email Opt Out", "Email Domain" or "Phone 1 - Type" are not addresses. Nor
# is a number that others answer one of theirs ("Company Phone", Apollo's "Corporate Phone", Outlook's "Assistant's
# Phone", a fax): taken as theirs, it was the identity of the first colleague imported with it, and every inquiry
# from the switchboard was filed as that person's.
_EMAIL_COLUMN = re.compile(
    r"^(?:person - )?(?:e-?mail|адрес e-?mail|adres e-?mail)(?: \d+)?"
    r"(?: - (?:value|work|home|other)| address| \((?:work|home|other|primary)\)| służbowy| prywatny| (?:work|home|other))?$"
    r"|^(?:рабочий|личный|частный|другой) (?:e-?mail|email)$|^(?:work|home|other|personal|secondary) e-?mail(?: address)?$")
_PHONE_COLUMN = re.compile(
    r"^(?:person - )?(?:phone|telephone|tel\.?|telefon|телефон)(?: \d+)?(?: number)?"
    r"(?: - (?:value|work|mobile|home|other)| \((?:work|mobile|home|other)\))?$"
    r"|^(?:mobile|cell)(?: phone)?(?: number)?(?: \d+)?$"
    r"|^(?:business|home|primary|other|work|direct|car) phone(?: number)?(?: \d+)?$"
    r"|^(?:рабочий|мобильный|домашний|другой|рабочий прямой|сотовый) телефон$"
    r"|^telefon (?:komórkowy|stacjonarny|służbowy|prywatny|kom\.)$|^(?:komórka|tel\. kom\.|nr komórki)$")
# Columns that identify a person (core.ingest needs one): a file with none of them can import no row.
IDENTIFYING_COLUMNS = ("email", "phone", "linkedin_url", "external_user_id")
_KNOWN_COLUMNS = frozenset({*CONTACT_COLUMNS, *MESSAGE_COLUMNS, *NAME_PART_COLUMNS, *RECORD_COLUMNS,
                            "first_and_last_name"})
# Columns a person has several of: every value is kept (the first is the record's email / phone, the rest go
# to emails / phones); of other columns named twice the first value is taken.
_MANY_VALUED = {"email": "emails", "phone": "phones"}


@dataclass
class LineError:
    line: int
    error: str


@dataclass
class ImportSummary:
    lines: int = 0
    records: int = 0
    statuses: Counter = field(default_factory=Counter)
    merged_contacts: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    notes: list[str] = field(default_factory=list)  # about the file as a whole (CSV: its encoding, columns left out)

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "records": self.records,
            "created": self.statuses.get("created", 0),
            "updated": self.statuses.get("updated", 0),
            "already_known": self.statuses.get("known", 0),
            "suppressed": self.statuses.get("suppressed", 0),
            "merged_contacts": self.merged_contacts,
            "skipped": self.error_count,
            "errors": [{"line": e.line, "error": e.error} for e in self.errors],
            "notes": list(self.notes),
        }


# A spreadsheet's own file (.xlsx and .ods are zip archives, .xls an OLE2 compound file), renamed .csv or given
# with --format csv: read as text, it was refused for a header naming no contact column (read as UTF-16).
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORKBOOK_SIGNATURES = (b"PK\x03\x04", _OLE_SIGNATURE)
WORKBOOK_ERROR = ("a spreadsheet workbook (.xlsx, .xls, .ods), not CSV text: save it from the spreadsheet in the "
                  "format \"CSV UTF-8\" or \"Unicode text\" and import that")


# A compressed export (.csv.gz, .jsonl.gz, or one renamed): read as text, a CSV header named no contact column (read
# as cp1250) and every JSONL line was not JSON.
GZIP_SIGNATURE = b"\x1f\x8b"
GZIP_ERROR = "a gzip-compressed file, not text: unpack it (gunzip, or an archive tool) and import the file inside"


# A web page or markup where CSV text should be: a download that was a sign-in or error page, or the "xls" that
# many systems export (an HTML table, Excel's XML spreadsheet).
_MARKUP_START = re.compile(r"<(?:!doctype html|html[\s>]|\?xml)", re.IGNORECASE)
MARKUP_ERROR = ("a web page or XML (an HTML table or Excel's XML spreadsheet, or a sign-in or error page downloaded "
                "instead of the file), not CSV text: open it in the spreadsheet, save it as \"CSV UTF-8\" and import "
                "that")


# UTF-32's byte order marks, tested before UTF-16's: UTF-32 LE's (FF FE 00 00) begins with UTF-16 LE's (FF FE), so
# a UTF-32 file was read as UTF-16, its header "n\0a\0…" naming no column, and refused.
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _wide_bom_encoding(start: bytes) -> str | None:
    """"utf-32" or "utf-16" for text that begins with one of their byte order marks, else None."""
    return next((encoding for bom, encoding in _WIDE_BOMS if start.startswith(bom)), None)


def _is_markup(start: bytes) -> bool:
    """Whether a file beginning with these bytes is HTML or XML (in UTF-8 or a single-byte encoding, or UTF-16)."""
    wide = _wide_bom_encoding(start)
    if wide is not None:
        text = start.decode(wide, errors="ignore")
    else:
        text = start.decode("latin-1").removeprefix("\xef\xbb\xbf")
    return bool(_MARKUP_START.match(text.lstrip("\ufeff \t\r\n")))


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in {".xlsx", ".xlsm", ".xls", ".ods"}:
        raise ValueError(f"{Path(path).name} is {WORKBOOK_ERROR}")
    if suffix == ".gz":
        raise ValueError(f"{Path(path).name} is a gzip-compressed file: unpack it (gunzip, or an archive tool) and "
                         "import the file inside")
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv", ".txt"}:
        return "csv"
    raise ValueError(f"cannot tell the format of {path}: use .jsonl or .csv, or pass --format")


# --------------------------------------------------------------------------- readers: (line number, dict | error)

# (line number, the line's object, or a JSONL line's raw bytes still to parse, or None; why the line is skipped)
ParsedLine = tuple[int, dict[str, Any] | bytes | None, str | None]


def read_jsonl(stream: BinaryIO, *, parse: bool = True) -> Iterator[ParsedLine]:
    """The file's lines: parsed, or (parse=False) as raw bytes that prepare_line parses, in a helper process.
    A file that is one JSON array of records (what many tools export as .json) is read as its elements, each
    with the line it begins on."""
    start = stream.read(4096)
    stream.seek(0)
    if start.startswith(GZIP_SIGNATURE):
        yield 1, None, GZIP_ERROR
        return
    wide = _wide_bom_encoding(start)
    if wide is not None:
        # Windows PowerShell's > and Out-File write UTF-16: each line was "not UTF-8", and none imported.
        with _as_utf8(stream, wide) as converted:
            yield from read_jsonl(converted, parse=parse)
        return
    if start.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"["):
        yield from _read_json_array(stream)
        return
    first_line = next((line for line in start.removeprefix(b"\xef\xbb\xbf").splitlines() if line.strip()), b"")
    if first_line.strip() == b"{":  # a record over several lines: jq without -c, json.dumps(indent=2)
        yield from _read_json_stream(stream)
        return
    for number, raw in enumerate(_lines(stream), start=1):
        if len(raw) > MAX_LINE_BYTES:
            yield number, None, f"line is longer than {MAX_LINE_BYTES} bytes"
            continue
        if raw.startswith(b"\xef\xbb\xbf"):  # (also mid-file: files saved with one, joined by cat)
            raw = raw[3:]
        if not raw.strip():
            continue
        if parse:
            yield (number, *parse_json_line(raw))
        else:
            yield number, raw, None


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The file's lines, each ended by LF, CR LF or a lone CR (old Mac exporters end lines with CR alone: read by
    LF only, such a file was one line, refused whole). Split as Python's universal newlines do, by the C reader:
    read as Latin-1, whose characters are the bytes. A raw CR can be in no JSON string, so it splits none."""
    for line in io.TextIOWrapper(stream, encoding="latin-1", newline=""):
        yield line.encode("latin-1")


def _line_breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """Lines ended in text[start:end], by LF, CR LF or a lone CR (as _lines splits them)."""
    return text.count("\n", start, end) + text.count("\r", start, end) - text.count("\r\n", start, end)


def _as_utf8(stream: BinaryIO, encoding: str) -> BinaryIO:
    """The file's text as UTF-8, in a temporary file (on disk past 16 MB); bytes that do not decode stay
    undecodable, so that their line is reported."""
    converted = tempfile.SpooledTemporaryFile(max_size=16 * 2**20)
    text = io.TextIOWrapper(stream, encoding=encoding, errors=UNDECODABLE, newline="")
    for chunk in iter(lambda: text.read(1 << 20), ""):
        converted.write(chunk.encode("utf-8", "surrogatepass"))
    converted.seek(0)
    return converted  # type: ignore[return-value]


# A JSON array is parsed whole (its elements cannot be found without parsing it): bigger files must be JSONL.
MAX_JSON_ARRAY_BYTES = 256 * 1024 * 1024


def _read_json_array(stream: BinaryIO) -> Iterator[ParsedLine]:
    """The elements of a file that is one JSON array, each as (the line it begins on, the object or None, why
    not). A syntax error ends the file there: after it, where the next element begins cannot be known."""
    data = stream.read(MAX_JSON_ARRAY_BYTES + 1)
    if len(data) > MAX_JSON_ARRAY_BYTES:
        yield 1, None, f"a JSON array file over {MAX_JSON_ARRAY_BYTES // 2**20} MB: write one record per line (JSONL)"
        return
    # (bytes that are not UTF-8 spoil only the text they are in: the element holding them is refused, where one
    # such byte made the whole file "not UTF-8")
    text = data.decode("utf-8", errors="surrogateescape")
    decoder = json.JSONDecoder(parse_constant=refuse_json_constant, parse_float=finite_json_float)
    opening = text.index("[")
    position, line = opening + 1, _line_breaks(text, 0, opening) + 1
    expect_value, empty = True, True  # expect_value: after "[" or ","; "]" may close only an empty array then
    while True:
        skipped_to = json.decoder.WHITESPACE.match(text, position).end()  # (the standard decoder's own)
        line += _line_breaks(text, position, skipped_to)
        position = skipped_to
        if position >= len(text):
            yield line, None, "not valid JSON: the array is not closed with ]"
            return
        char = text[position]
        if char == "]" and (not expect_value or empty):
            if text[position + 1:].strip():
                yield line, None, "not valid JSON: text after the array's closing ]"
            return
        if not expect_value:
            if char != ",":
                yield line, None, f"not valid JSON: expected , or ] between the array's elements, found {char!r}"
                return
            position, expect_value = position + 1, True
            continue
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            column = exc.pos - max(text.rfind("\n", 0, exc.pos), text.rfind("\r", 0, exc.pos))
            yield (_line_breaks(text, 0, exc.pos) + 1, None,
                   f"not valid JSON: {exc.msg} (column {column}); the rest of the file is not read")
            return
        except ValueError as exc:  # (as in parse_json_line: the element's end is not known, so neither is the next's)
            yield line, None, f"not valid JSON: {number_error(exc)}; the rest of the file is not read"
            return
        except RecursionError:
            yield line, None, "not valid JSON: nested too deeply; the rest of the file is not read"
            return
        yield (line, value, None) if isinstance(value, dict) else (line, None, "each element must be a JSON object")
        line += _line_breaks(text, position, end)
        position, expect_value, empty = end, False, False


# Where a record begins after a broken one, in records written one after another: "{" at the start of a line (a
# pretty-printer indents what is inside a record).
_RECORD_START = re.compile(r"[\r\n]\{")


def _read_json_stream(stream: BinaryIO) -> Iterator[ParsedLine]:
    """The records of a file that holds them one after another, each a JSON object over as many lines as it
    takes (pretty-printed, as `jq` without -c writes them), each with the line it begins on. After one that is
    not valid JSON, reading goes on at the next "{" that begins a line."""
    data = stream.read(MAX_JSON_ARRAY_BYTES + 1)
    if len(data) > MAX_JSON_ARRAY_BYTES:
        yield (1, None, f"records over several lines, a file over {MAX_JSON_ARRAY_BYTES // 2**20} MB: write one "
                        "record per line (JSONL; jq -c)")
        return
    # (bytes that are not UTF-8 spoil only the text they are in: the record holding them is refused)
    text = data.decode("utf-8", errors="surrogateescape")
    decoder = json.JSONDecoder(parse_constant=refuse_json_constant, parse_float=finite_json_float)
    position, line = 0, 1
    while True:
        skipped_to = json.decoder.WHITESPACE.match(text, position).end()
        line += _line_breaks(text, position, skipped_to)
        position = skipped_to
        if position >= len(text):
            return
        if text[position] == "\ufeff":  # (at the start, or where files saved with one were joined)
            position += 1
            continue
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield line + _line_breaks(text, position, exc.pos), None, f"not valid JSON: {exc.msg}"
        except ValueError as exc:  # (as in parse_json_line)
            yield line, None, f"not valid JSON: {number_error(exc)}"
        except RecursionError:
            yield line, None, "not valid JSON: nested too deeply"
        else:
            yield (line, value, None) if isinstance(value, dict) else (line, None, "each record must be a JSON object")
            line += _line_breaks(text, position, end)
            position = end
            continue
        resume = _RECORD_START.search(text, position)
        if resume is None:
            return
        line += _line_breaks(text, position, resume.start() + 1)
        position = resume.start() + 1


def refuse_json_constant(name: str) -> NoReturn:
    """Python's parser reads NaN, Infinity and -Infinity, which are not JSON: stored, they came back as null
    (or as text no JSON client reads)."""
    raise ValueError(f"{name} is not a JSON number")


def finite_json_float(text: str) -> float:
    """A JSON number with a fraction or an exponent, as Python's parser reads it, but refused when it is beyond a
    64-bit float (1e400): read as infinity, it was stored as Infinity, which is not JSON (and which PostgreSQL's
    JSON refuses)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:20]}{'…' if len(text) > 20 else ''} is beyond a 64-bit floating-point number")
    return value


def number_error(exc: ValueError) -> str:
    """What a ValueError from the JSON parser that is not a syntax error says, without Python's advice to
    programmers ("use sys.set_int_max_str_digits() …")."""
    return str(exc).split(";")[0]


def parse_json_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(the object, None) or (None, why the line is not one)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=refuse_json_constant, parse_float=finite_json_float)
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc.reason} at byte {exc.start}"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (column {exc.colno})"
    except ValueError as exc:  # NaN or Infinity, 1e400; an integer of over 4,300 digits, which Python will not convert
        return None, f"not valid JSON: {number_error(exc)}"
    except RecursionError:  # (not a ValueError: the parser gives up at about a thousand levels of nesting)
        return None, "not valid JSON: nested too deeply"
    if not isinstance(value, dict):
        return None, "each line must be a JSON object"
    return value, None


# Bytes of a CSV file its encoding is told from.
ENCODING_SAMPLE_BYTES = 1 << 20


# The single-byte encodings text without a charset comes in on the first users' systems, in order of preference:
# Excel on Polish Windows, on Russian (and Ukrainian) Windows, on Western European Windows; then old Unix mail
# and files, Polish (ISO-8859-2) and Russian (KOI8-R).
LEGACY_ENCODINGS = ("cp1250", "cp1251", "cp1252", "iso8859_2", "koi8_r")
LEGACY_SCORE_BYTES = 65536  # (scoring 1 MB three ways took a second)
_WORD = re.compile(r"[^\W\d_]+")
_TYPOGRAPHIC = frozenset("«»–—„”“’‘…€°№§")
_POLISH_LETTERS = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")


def detect_encoding(sample: bytes) -> str:
    """The text encoding of a CSV file, from its first bytes. UTF-8 unless the bytes say otherwise: a UTF-32 or UTF-16
    byte order mark (UTF-16: Excel's "Unicode text"), or NULs on one side (UTF-16 without the mark), or more bytes that are not
    UTF-8 than characters that are, which is how a spreadsheet saved by Excel on Polish or Russian Windows looks.
    Then the one of LEGACY_ENCODINGS whose text reads most like words (legacy_text_score). A UTF-8 file with a
    few broken rows stays UTF-8 (those rows are reported, the rest keep their letters).

    (charset-normalizer was tried first and dropped: on rows as short as a contact list's it named big5 for
    "Anna Żak", shift_jis for "Ольга" and cp1252 for a Polish LinkedIn message row.)"""
    wide = _wide_bom_encoding(sample)
    if wide is not None:
        return wide
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    odd, even = sample[1::2].count(0), sample[::2].count(0)
    if max(odd, even) * 10 > len(sample) and min(odd, even) * 4 < max(odd, even):
        # Text has no NUL; UTF-16 without a byte order mark (SQL Server's bcp -w, .NET's) has one in each ASCII
        # character, on its high byte's side (a file padded with NULs by a write that died has them on both).
        # Read as UTF-8, its header was "n\0a\0m\0e\0" and the file refused.
        return "utf-16-le" if odd > even else "utf-16-be"
    whole_lines = sample[: sample.rfind(b"\n") + 1] or sample  # (not a character cut at the sample's end)
    text = whole_lines.decode("utf-8", errors="surrogateescape")
    broken = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if broken <= sum(1 for ch in text if ch > "\x7f") - broken:
        return "utf-8-sig"
    return best_legacy_encoding(whole_lines[:LEGACY_SCORE_BYTES])  # (a single-byte encoding cannot be cut)


def best_legacy_encoding(data: bytes, prefer: str = "") -> str:
    """The one of LEGACY_ENCODINGS whose reading of `data` looks most like words (legacy_text_score; ties: the
    one `prefer` names, else the first listed). Windows-1251 and KOI8-R hold the same letters with their cases
    swapped, so text all in capitals or all in small letters reads as words either way ("ИВАН" / "йчбо"): when
    those two tie for the best, the reading of the commoner letters of Russian is taken."""
    order = [prefer, *(e for e in LEGACY_ENCODINGS if e != prefer)] if prefer in LEGACY_ENCODINGS else LEGACY_ENCODINGS
    readings = {encoding: data.decode(encoding, errors="replace") for encoding in order}
    scores = {encoding: legacy_text_score(text) for encoding, text in readings.items()}
    best = max(scores.values())
    tied = [encoding for encoding in order if scores[encoding] == best]
    if tied[0] in _SWAPPED_CASE_PAIR and all(encoding in tied for encoding in _SWAPPED_CASE_PAIR):
        return max(_SWAPPED_CASE_PAIR, key=lambda encoding: _common_cyrillic_share(readings[encoding]))
    return tied[0]


_SWAPPED_CASE_PAIR = ("cp1251", "koi8_r")


# The twelve commonest letters of Russian text, about 70 % of its letters.
_COMMON_CYRILLIC = frozenset("оеаинтсрвлкм")


def _common_cyrillic_share(text: str) -> float:
    letters = [ch for ch in text.lower() if "\u0430" <= ch <= "\u044f" or ch == "ё"]
    return round(sum(1 for ch in letters if ch in _COMMON_CYRILLIC) / len(letters), 2) if letters else 0.0


def legacy_text_score(text: str) -> int:
    """How much a decoding reads like words: words with letters beyond ASCII count for it when they are of one
    script and mostly ASCII if Latin (Polish "Wójcik"), against it when they mix scripts ("Wуjcik": Polish read
    as Windows-1251) or are mostly accented Latin ("Îëüãà": Russian read as Windows-1250), or are Cyrillic with
    capitals inside ("зДПБЧУФЧХКФЕ": KOI8-R read as Windows-1251, whose letters have the other case; "ŁódĽ":
    ISO-8859-2 read as Windows-1250); symbols amid the text count against it ("Dzieñ", "pros¿ê": Polish read as
    Windows-1252)."""
    score = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        cyrillic = sum(1 for ch in word if "\u0400" <= ch <= "\u04ff")
        beyond_ascii = sum(1 for ch in word if not ch.isascii())
        latin_only = cyrillic == 0 and all(ch.isascii() or unicodedata.name(ch, "").startswith("LATIN") for ch in word)
        as_written = word.islower() or word.isupper() or word[1:].islower()
        # Polish words may be mostly beyond ASCII ("Łódź"); with one ASCII letter at least, or Russian in
        # Windows-1251 read as Windows-1250 would pass too ("жук" as "ćóę").
        polish = latin_only and not word.isascii() and any(ch.isascii() for ch in word) and all(
            ch.isascii() or ch in _POLISH_LETTERS for ch in word)
        if as_written and (cyrillic == len(word) or polish or (latin_only and 2 * beyond_ascii <= len(word))):
            score += 1
        else:
            score -= 1
    symbols = [i for i, ch in enumerate(text) if not ch.isascii() and not ch.isspace() and ch not in _TYPOGRAPHIC
               and not unicodedata.category(ch).startswith("L")]
    # A symbol between two letters ("ЯВ╦Р": "счёт" in Windows-1251 read as KOI8-R) splits a word: it counts twice.
    inside = sum(1 for i in symbols if 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha())
    return score - len(symbols) - inside


def _undecodable_as_surrogates(exc: UnicodeError) -> tuple[str, int]:
    """Each byte that does not decode as U+DC00 + its value, so that the row holding it is reported. Python's
    surrogateescape gives up on a byte below 128 (and raises), such as the half character that ends a UTF-16
    file cut at an odd byte: the whole file failed, its good rows too."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + byte) for byte in exc.object[exc.start:exc.end]), exc.end


UNDECODABLE = "leadhub.importer.undecodable"
codecs.register_error(UNDECODABLE, _undecodable_as_surrogates)


class _Utf8OrLegacyLines:
    """The lines of a CSV file told to be UTF-8 from its first ENCODING_SAMPLE_BYTES, decoded one by one, ended as
    they are (LF, CR LF or a lone CR). A sample of only ASCII says nothing: a Windows-1250 export whose first
    Polish letter comes after it had every row from there on refused as "not UTF-8 text". So at the first line
    that is not UTF-8, when no line before it held a character beyond ASCII, the encoding is told again from
    that line and those after it (up to ENCODING_SAMPLE_BYTES, detect_encoding), and the rest of the file is
    read in it: the lines before are ASCII, the same in any of them, and nothing is read twice. Once a line held
    UTF-8 beyond ASCII, a line that is not UTF-8 is a broken one, and is reported (its bytes undecodable)."""

    def __init__(self, stream: BinaryIO, notes: list[str]) -> None:
        self.raw, self.notes = _lines(stream), notes
        self.encoding = "utf-8"
        self.beyond_ascii = False  # a line before held UTF-8 beyond ASCII: the file is UTF-8
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.raw:
            self.number += 1
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, self.beyond_ascii = raw[len(codecs.BOM_UTF8):], True  # (a BOM says UTF-8)
            if raw.isascii():
                yield raw.decode("ascii")
                continue
            if self.encoding == "utf-8" and not self.beyond_ascii:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield from self._told_again(raw)
                    continue
                self.beyond_ascii = True
                yield line
                continue
            yield raw.decode(self.encoding, errors=UNDECODABLE)

    def _told_again(self, raw: bytes) -> Iterator[str]:
        """From the first line that is not UTF-8 (raw) on: the encoding told from it and the lines after it."""
        ahead, size = [raw], len(raw)
        for line in self.raw:
            ahead.append(line)
            size += len(line)
            if size >= ENCODING_SAMPLE_BYTES:
                break
        encoding = detect_encoding(b"".join(ahead))
        if encoding in LEGACY_ENCODINGS:
            self.encoding = encoding
            self.notes.append(f"read as {encoding} from line {self.number} on (the lines before it are ASCII, "
                              "not UTF-8 beyond it); pass --encoding if that is wrong")
        else:
            self.beyond_ascii = True
        first = self.number
        for offset, line in enumerate(ahead):
            self.number = first + offset
            yield line.decode(self.encoding, errors=UNDECODABLE)


def read_csv(
    stream: BinaryIO, *, default_channel: str = "import", encoding: str | None = None,
    notes: list[str] | None = None,
) -> Iterator[ParsedLine]:
    """The rows of a CSV file with a header, as records. encoding: None tells it from the file
    (detect_encoding). notes: what the reader says about the file as a whole (the encoding it assumed when not
    UTF-8, the columns it does not import) is appended there."""
    notes = notes if notes is not None else []
    start = stream.read(len(_OLE_SIGNATURE))
    if start.startswith(WORKBOOK_SIGNATURES):
        yield 1, None, WORKBOOK_ERROR
        return
    if start.startswith(GZIP_SIGNATURE):
        yield 1, None, GZIP_ERROR
        return
    stream.seek(0)
    if _is_markup(stream.read(1024)):
        yield 1, None, MARKUP_ERROR
        return
    stream.seek(0)
    text: _Utf8OrLegacyLines | io.TextIOWrapper
    if encoding is None:
        encoding = detect_encoding(stream.read(ENCODING_SAMPLE_BYTES))
        stream.seek(0)
        if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
            notes.append(f"read as {encoding} (not UTF-8); pass --encoding if that is wrong")
            text = io.TextIOWrapper(stream, encoding=encoding, errors=UNDECODABLE, newline="")
        else:
            text = _Utf8OrLegacyLines(stream, notes)
    else:
        text = io.TextIOWrapper(stream, encoding=encoding, errors=UNDECODABLE, newline="")
    physical = iter(text)
    first = next(physical, "")
    # (ended by LF, CR LF or a lone CR, as the reader below reads lines: a file of old Mac line ends, read to its
    # first LF, was one "header" whose CRs stopped the separator's guess with an error, and the import with it)
    first_line = _LINE_END.split(first[:65536], maxsplit=1)[0].lstrip("\ufeff")
    # "sep=;" on the first line: the hint some tools write for Excel, the separator of the rows below it.
    separator_hint = _SEPARATOR_HINT.match(first_line)
    if separator_hint:
        dialect: Any = type("Hinted", (csv.excel,), {"delimiter": separator_hint.group(1)})
    else:
        dialect = _header_dialect(first_line)
    lines = _PhysicalLines(itertools.chain([first] if first else [], physical))
    reader = csv.reader(lines, dialect)
    offset = 0  # lines before the reader's first (a new reader starts after a quote never closed)
    header: list[str] | None = None
    dates: _DateOrder | None = None
    line_end = 0
    while True:
        lines.row.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # A value over the csv module's limit (131,072 characters; the limit is the process's, and the LinkedIn
            # export's reader keeps it too): the reader goes on at the line after it.
            line_start, line_end = line_end + 1, offset + reader.line_num
            yield line_start, None, f"not readable as CSV: {exc}"
            continue
        line_start, line_end = line_end + 1, offset + reader.line_num
        if lines.ended and line_end > line_start:
            # The reader goes past the last line only inside a quoted value: a quote never closed took in every
            # line after its own as part of that value, and those rows were lost without a word.
            yield line_start, None, "a quote in this row is never closed; the lines after it are read on their own"
            lines.read_again(lines.row[1:])
            reader, offset, line_end = csv.reader(lines, dialect), line_start, line_start
            continue
        if separator_hint and line_start == 1:
            continue
        if header is None:
            keys = [_header_key(h) for h in row]
            columns = [_column(k) for k in keys]
            if "title" in keys and any(c == "title" and k != "title" for c, k in zip(columns, keys, strict=True)):
                # Outlook's "Title" is "Mr." / "Dr." beside its "Job Title": the job title is the one imported.
                columns = ["honorific" if k == "title" else c for c, k in zip(columns, keys, strict=True)]
            header = _numbered(columns)
            dates = _DateOrder(next((k for k, c in zip(keys, columns, strict=True) if c == "sent_at"), ""),
                               _scanner(stream, text.encoding))
            if not any(h.split("#")[0].removeprefix("contact.") in IDENTIFYING_COLUMNS for h in header):
                # Each row would have been refused on its own ("no email, phone …"): one error says why.
                named = ", ".join(repr(cell.strip()[:40]) for cell in row[:IGNORED_NAMED] if cell.strip())
                yield line_start, None, ("header row names no column to identify a person by (email, phone, "
                                         "linkedin_url or external_user_id, or a name for one the README lists); "
                                         f"it names {named or 'nothing'}")
                return
            ignored = [h for h in header if h and h.split("#")[0] not in _KNOWN_COLUMNS and not h.startswith(("contact.", "message."))]
            if ignored:
                more = f" and {len(ignored) - IGNORED_NAMED:,} more" if len(ignored) > IGNORED_NAMED else ""
                notes.append("columns not imported: " + ", ".join(ignored[:IGNORED_NAMED]) + more)
            continue
        if all(_blank(cell) for cell in row):
            continue
        if _without_empty_end([_header_key(cell) for cell in row]) == _without_empty_end(keys):
            # Files put together from several exports repeat it: read as a record, it was a person named "Name".
            yield line_start, None, "the header row again, not a record"
            continue
        if any("\udc00" <= ch <= "\udcff" for cell in row for ch in cell):
            yield line_start, None, f"not {text.encoding.removesuffix('-sig').upper()} text"
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            yield line_start, None, f"{len(row)} values but the header has {len(header)} columns"
            continue
        try:
            record = _record_from_row(dict(zip(header, row, strict=False)), default_channel, dates)
        except ValueError as exc:  # (a value the row cannot mean: day_first_to_iso)
            yield line_start, None, str(exc)
            continue
        yield line_start, record, None
    if header is None:
        notes.append("the file is empty: no header row, no records")


# Columns not imported that the summary names; of more, it gives the count.
IGNORED_NAMED = 20


# What separates values, in the order of preference on a tie.
SEPARATORS = (",", ";", "\t", "|")


def _header_dialect(header: str) -> Any:
    """The dialect of a file with this header line: the sniffer's, unless another separator splits the header
    into more of the columns imported. The sniffer picks "," for "Nazwisko, imię;E-mail;Telefon" (one line gives
    it nothing to compare), which made the row's name "Nowak" and lost its address and number, and refused
    "Imię i nazwisko;E-mail;Uwagi (np. godz., dni)" for naming no contact column."""
    try:
        # A quote inside a quoted value is written twice ("PHU ""Mar-Pol"""), by Excel, Google Sheets and RFC 4180:
        # the sniffer says not (one line shows none), and the value kept a quote too many.
        sniffed = type("Sniffed", (csv.Sniffer().sniff(header, delimiters=",;\t"),), {"doublequote": True})
    except csv.Error:
        sniffed = csv.excel

    def fit(separator: str) -> tuple[int, int]:
        """Columns imported, then (on a tie) fewer others: "Фамилия, имя, отчество;E-mail" splits into two known
        names either way, but by "," into one that is not a column ("отчество;E-mail")."""
        cells = [cell for cell in next(csv.reader([header], delimiter=separator), []) if cell.strip()]
        found = sum(1 for cell in cells if _column(cell.lstrip("\ufeff")) in _KNOWN_COLUMNS)
        return found, found - len(cells)

    best = max(SEPARATORS, key=fit)
    # (one that finds no column imported tells nothing: the fewest cells was ";" for a header whose known columns
    # come after its first 64 KB, which made it one overlong cell)
    better = fit(best)[0] > 0 and fit(best) > fit(sniffed.delimiter)
    return type("Guessed", (sniffed,), {"delimiter": best}) if better else sniffed


class _PhysicalLines:
    """A CSV file's lines for csv.reader, keeping those of the row being read (`row`) so that they can be read
    again; `ended`: the reader asked for a line past the last."""

    def __init__(self, text: Iterable[str]) -> None:
        self.text, self.again, self.row, self.ended = iter(text), deque[str](), [], False

    def __iter__(self) -> _PhysicalLines:
        return self

    def __next__(self) -> str:
        line = self.again.popleft() if self.again else next(self.text, None)
        if line is None:
            self.ended = True
            raise StopIteration
        self.row.append(line)
        return line

    def read_again(self, lines: list[str]) -> None:
        self.again.extend(lines)
        self.ended = False


_LINE_END = re.compile(r"\r\n?|\n")
_SEPARATOR_HINT = re.compile(r"(?i)^sep=([,;\t|])\r?$")


def _blank(cell: str) -> bool:
    """Whether a value holds nothing but spaces and control characters: a DOS end-of-file mark (Ctrl-Z), a NUL
    padding, is no value."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in cell)


def _without_empty_end(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells = cells[:-1]
    return cells


def _header_key(name: str) -> str:
    # (a byte order mark starts a header where files saved with one were joined: the header again, not a record)
    return " ".join(name.lstrip("\ufeff").strip().lower().split())


def _column(name: str) -> str:
    key = _header_key(name)
    if key in COLUMN_ALIASES:
        return COLUMN_ALIASES[key]
    if key.replace(" ", "_") in _KNOWN_COLUMNS:
        return key.replace(" ", "_")
    if _EMAIL_COLUMN.match(key):
        return "email"
    if _PHONE_COLUMN.match(key):
        return "phone"
    if _NOTE_COLUMN.match(key):
        return "text"
    return key.replace(" ", "_")


def _numbered(columns: Iterable[str]) -> list[str]:
    """The header with a column named again numbered ("phone", "phone#2"): a row's values are read by name."""
    seen: Counter[str] = Counter()
    header = []
    for column in columns:
        seen[column] += 1
        header.append(column if seen[column] == 1 or not column else f"{column}#{seen[column]}")
    return header


def _record_from_row(row: dict[str, str], default_channel: str, dates: _DateOrder | None = None) -> dict[str, Any]:
    filled: dict[str, list[str]] = {}  # column -> its values in the row, a column named again included
    for name, cell in row.items():
        if cell and cell.strip():
            filled.setdefault(name.split("#", 1)[0], []).append(cell.strip())

    def values(key: str) -> list[str]:
        return filled.get(key) or filled.get(f"contact.{key}") or filled.get(f"message.{key}") or []

    def value(key: str) -> str | None:
        found = values(key)
        return found[0] if found else None

    record: dict[str, Any] = {"channel": value("channel") or default_channel}
    if value("external_id"):
        record["external_id"] = value("external_id")
    record["contact"] = {k: value(k) for k in CONTACT_COLUMNS if value(k)}
    for single, many in _MANY_VALUED.items():
        more = list(dict.fromkeys(values(single)))[1:]
        if more:
            record["contact"][many] = more
    if "name" not in record["contact"] and any(value(k) for k in NAME_PART_COLUMNS):
        record["contact"]["name"] = " ".join(v for k in NAME_PART_COLUMNS if (v := value(k)))
    if "name" not in record["contact"] and value("first_and_last_name"):
        record["contact"]["name"] = value("first_and_last_name")
    message = {k: value(k) for k in MESSAGE_COLUMNS if value(k)}
    if len(values("text")) > 1:  # (a message column and notes, or amoCRM's Примечание, Примечание 2 …)
        message["text"] = "\n\n".join(dict.fromkeys(values("text")))
    if "sent_at" in message:
        message["sent_at"] = day_first_to_iso(message["sent_at"], dates)
    message_id = value("message_id") or row.get("message.external_id")
    # A form answer with only its submission time is a message too: a Google Forms answer whose questions are not
    # a text column was sent when its Timestamp says, which was lost with the message. A CRM's creation date alone
    # is not: a contact list would give every person an empty inbound message, counted as their engagement.
    submitted = bool(message.get("sent_at")) and dates is not None and dates.header in SUBMISSION_TIME_HEADERS
    if message_id or message.get("text") or message.get("subject") or submitted:
        message["external_id"] = message_id or record.get("external_id") or _row_message_id(record, message)
        record["message"] = {k: v for k, v in message.items() if v is not None}
    return record


# Dates as spreadsheets in Poland and Russia write them (day first, dots): 07.12.2026, 07.12.2026 10:15(:30), and
# Excel's short date with a two-digit year, 07.12.26 (its century as strptime's %y reads it: TWO_DIGIT_YEAR).
DAY_FIRST_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
                     "%d.%m.%y %H:%M:%S", "%d.%m.%y %H:%M", "%d.%m.%y")


# The shape of those, to tell one that is no day (31.02.2026, 1C's empty date 00.00.0000) from other text.
_DOTTED_DATE = re.compile(r"^\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")


def full_year(year: str) -> int:
    """A date's year as written, four digits or two. Two are read as Python's strptime (%y) and POSIX read them:
    69-99 the 1900s, 00-68 the 2000s (Excel's own pivot is 29/30; dateutil's moves with today's date). The same
    file gives the same dates whenever it is imported, and a message of the 1960s is not a lead's."""
    if len(year) != 2:
        return int(year)
    return int(year) + (1900 if int(year) >= 69 else 2000)


# A date cell that is a number of up to eight digits: the record's validation read it as seconds since 1970
# ("2026" as 1970-01-01 00:33:46, Excel's serial 46363 for 07.12.2026 as 1970-01-01 12:52:43), silently.
_SHORT_NUMBER = re.compile(r"^\d{1,8}(?:[.,]\d+)?$")


# A date with slashes (or dashes) and the year last, as spreadsheets and form tools write it in their locale: day
# first in Poland, Russia and Britain (07/12/2026), month first in the US (12/7/2026), with a time or not, with
# AM/PM or not (Excel in the US: 12/7/2026 2:03 PM), the year in four digits or two (Excel's short date, 12/7/26).
_SLASHED_DATE = re.compile(
    r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?$")
# The same in any text, to tell a file's order: the first such date whose day cannot be a month says it.
_SLASHED_DATE_ANYWHERE = re.compile(r"(?<![\d/.-])(\d{1,2})([/-])(\d{1,2})\2(?:\d{4}|\d{2})(?![\d/-])")
# Headers of the date column in English, whose tools (Google Forms in English, Typeform, Jotform, Excel in the US)
# write the month first; a date column named in another language is day first.
MONTH_FIRST_HEADERS = frozenset({"create date", "created date", "created time", "deal - deal created",
                                 "person - person created",
                                 "timestamp", "submitted at", "submit date (utc)", "submission date", "date",
                                 "sent at", "created at"})
DATE_SCAN_CHUNK = 1 << 20


def _scanner(stream: BinaryIO, encoding: str) -> Callable[[], bool | None] | None:
    """A function telling whether the file's slashed dates are month first (True), day first (False) or cannot
    be told (None), from the first date in the whole file whose first or second number is above 12. It reads the
    file at offsets (os.pread), so that the reader's own position and buffers are untouched; None when the stream
    cannot be read so."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        descriptor = None
    if descriptor is not None and hasattr(os, "pread"):
        def read(offset: int) -> bytes:
            return os.pread(descriptor, DATE_SCAN_CHUNK, offset)
    elif isinstance(stream, io.BytesIO):
        def read(offset: int) -> bytes:
            return stream.getbuffer()[offset:offset + DATE_SCAN_CHUNK].tobytes()
    else:
        return None
    # (digits and slashes are ASCII in UTF-8 and every single-byte encoding read here: Latin-1 reads them all)
    encoding = encoding if encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")) else "latin-1"

    def scan() -> bool | None:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        offset, tail = 0, ""
        while chunk := read(offset):
            offset += len(chunk)
            text = tail + decoder.decode(chunk)
            for match in _SLASHED_DATE_ANYWHERE.finditer(text):
                first, second = int(match.group(1)), int(match.group(3))
                if first > 12 >= second:
                    return False
                if second > 12 >= first:
                    return True
            tail = text[-20:]
        return None

    return scan


class _DateOrder:
    """Whether a CSV file's slashed dates (07/12/2026) are day or month first. A date whose first number is above
    12 is day first, whose second is, month first; for one that could be either, the file decides: the first
    date in it that cannot be either way (scan), else the language of the date column's header
    (MONTH_FIRST_HEADERS). Scanned once, at the first date that needs it."""

    def __init__(self, header: str, scan: Callable[[], bool | None] | None) -> None:
        self.header, self.scan, self.month_first_known = header, scan, None

    def month_first(self) -> bool:
        if self.month_first_known is None:
            found = self.scan() if self.scan is not None else None
            self.month_first_known = found if found is not None else self.header in MONTH_FIRST_HEADERS
        return self.month_first_known


def _slashed_to_iso(cell: str, dates: _DateOrder | None) -> str | None:
    """A slashed date as ISO 8601 (_SLASHED_DATE), or None when the cell is not one, or there is no file to tell
    its order (dates is None). ValueError for one that is no day (31/31/2026, 25:00)."""
    match = _SLASHED_DATE.match(cell) if dates is not None else None
    if match is None:
        return None
    first, _, second, year, hour, minute, second_of_minute, half = match.groups()
    a, b = int(first), int(second)
    if a > 12 or (b <= 12 and not dates.month_first()):
        day, month = a, b
    else:
        day, month = b, a
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValueError(f"sent_at: {cell} is not a time of day")
        hours = hours % 12 + (12 if half[0] in "Pp" else 0)
    try:
        return datetime(full_year(year), month, day, hours, int(minute or 0), int(second_of_minute or 0)).isoformat()
    except ValueError:
        raise ValueError(f"sent_at: {cell} is not a date: write it as 07.12.2026 or 2026-12-07") from None


# A time written with dots after its date, as Polish and Russian sheets and 1C write it: "12.03.2025 14.30(.15)".
_DOTTED_TIME = re.compile(r"^(\S+)[ T](\d{1,2})\.(\d{2})(?:\.(\d{2}))?$")
# A time zone after a date's time, as exporters write it: "… 14:30 UTC", "…Z", "… GMT+3", "… UTC+05:30", "… +0300"
# (a bare offset only after a space: one joined to the time, "14:30+03:00", is ISO 8601's own and read as it is).
_ZONE_SUFFIX = re.compile(
    r"^(?P<time>.*\d[:.]\d{2}(?:[:.]\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)"
    r"(?:\s*(?P<name>Z|UTC|GMT)(?:\s*(?P<named>[+-]\d{1,2}(?::?\d{2})?))?|\s+(?P<bare>[+-]\d{1,2}(?::?\d{2})?))$",
    re.IGNORECASE)


def _utc_offset(cell: str, offset: str | None) -> str:
    """An offset as ISO 8601 writes it ("+03:00"), from "+3", "+03", "+0300" or "+03:00"; none is UTC. "GMT+3"
    is read as people write it, three hours east of Greenwich (Moscow), not with POSIX's inverted sign
    (Etc/GMT+3, three hours west). ValueError past ±14:00, which no place on Earth keeps."""
    if not offset:
        return "+00:00"
    sign, digits = offset[0], offset[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours * 60 + minutes > 14 * 60 or minutes >= 60:
        raise ValueError(f"sent_at: {cell} has no such time zone offset ({offset})")
    return f"{sign}{hours:02d}:{minutes:02d}"


def day_first_to_iso(cell: str, dates: _DateOrder | None = None) -> str:
    """A day-first date as ISO 8601 (read, like an ISO date without an offset, as UTC), or ISO 8601's compact
    20261207, or a slashed date in the file's order (_DateOrder; without one, not read); any other text as it
    is, for the record's own validation (ISO 8601, or a Unix time of nine digits or more) to accept or report.
    A shorter number is not a date: ValueError. A time may be written with dots (14.30) and be followed by its
    zone (UTC, Z, GMT+3, +0300: _ZONE_SUFFIX), which the ISO 8601 written then keeps as an offset."""
    zone = _ZONE_SUFFIX.match(cell)
    if zone is None:
        return _local_to_iso(cell, dates)
    offset = _utc_offset(cell, zone.group("named") or zone.group("bare"))
    return _local_to_iso(zone.group("time").strip(), dates) + offset


def _local_to_iso(cell: str, dates: _DateOrder | None) -> str:
    """day_first_to_iso of a date without a zone."""
    dotted_time = _DOTTED_TIME.match(cell)
    if dotted_time is not None:
        day, hour, minute, second = dotted_time.groups()
        cell = f"{day} {hour}:{minute}" + (f":{second}" if second else "")
    slashed = _slashed_to_iso(cell, dates)
    if slashed is not None:
        return slashed
    for form in DAY_FIRST_FORMATS:
        try:
            return datetime.strptime(cell, form).isoformat()
        except ValueError:
            continue
    if _DOTTED_DATE.match(cell):  # (left to the record's validation: "input is too short")
        raise ValueError(f"sent_at: {cell} is not a date: write it as 07.12.2026 or 2026-12-07")
    if _SHORT_NUMBER.match(cell):
        if len(cell) == 8:  # (strptime would read "202612" as 2026-01-02)
            with contextlib.suppress(ValueError):
                return datetime.strptime(cell, "%Y%m%d").isoformat()
        raise ValueError(f"sent_at: {cell} is a number, not a date (an Excel date serial, a year?): write the date "
                         "as 07.12.2026 or 2026-12-07")
    return cell


def _row_message_id(record: dict[str, Any], message: dict[str, Any]) -> str:
    """A message id for a CSV row that has none (an export of inquiries seldom carries one): a digest of what
    the row says, so that importing the same file again recognises each row instead of adding it twice."""
    content = json.dumps([record["channel"], record["contact"], message], sort_keys=True, ensure_ascii=False)
    return "csv-" + hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --------------------------------------------------------------------------- preparing records

# (line number, record, its identifiers normalised, error): a line ready for core.batch, or why it is skipped.
PreparedLine = tuple[int, InboundRecord | None, _Plan | None, str | None]

# Lines sent to a helper process at a time, and chunks in flight (bounded memory whatever the file's size).
PREPARE_CHUNK = 500
CHUNKS_IN_FLIGHT = 4

# Records written per transaction. Larger batches cost the writer less per record (fewer commits, fewer
# statements per row), with little gain beyond 2,000 (BENCHMARKS.md, Import, "batch size"); a batch holds
# SQLite's write lock until it commits (about half a second at 2,000), and a server on the same store waits.
DEFAULT_BATCH_SIZE = 2000


def prepare_line(
    number: int, data: dict[str, Any] | bytes, options: IngestOptions, strict: bool, derive: bool = False,
) -> PreparedLine:
    """Validate one line (parsed, or a JSONL line's raw bytes) and normalise its identifiers: pure work, the
    same in any process. derive: also work out what is derived from its message (MessageIn._derived), which
    is otherwise done when the writer needs it."""
    if isinstance(data, bytes):
        parsed, error = parse_json_line(data)
        if error is not None:
            return number, None, None, error
        data = parsed  # type: ignore[assignment]
    try:
        record = InboundRecord.model_validate(data)
    except ValidationError as exc:
        return number, None, None, _validation_message(exc)
    if strict:
        bad = invalid_identifier_fields(record.contact, region=options.default_phone_region)
        if bad:
            return number, None, None, "; ".join(f"{k}: {v}" for k, v in bad.items())
    if derive and record.message is not None:
        message_html(record.message)
        message_signals(record.message)
    return number, record, extract_identities(record.contact, record.channel, region=options.default_phone_region), None


def _prepare_chunk(chunk: list[ParsedLine], options: IngestOptions, strict: bool, derive: bool) -> list[PreparedLine]:
    return [(number, None, None, error) if error is not None else prepare_line(number, data, options, strict, derive)
            for number, data, error in chunk]


def default_workers() -> int:
    """Helper processes for a big import: one when there is a second core (the import itself is one process)."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def helper_pool(workers: int) -> ProcessPoolExecutor:
    """The import's helper processes. Forked where the platform allows it: they need nothing but code already
    imported here, and a fresh interpreter would import the whole application first. They never touch this
    process's connections (the duplicate search opens its own)."""
    methods = multiprocessing.get_all_start_methods()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork" if "fork" in methods else None))


def prepared_lines(
    lines: Iterable[ParsedLine], options: IngestOptions, *, strict: bool = True,
    pool: ProcessPoolExecutor | None = None, workers: int = 1, derive: Callable[[], bool] = lambda: True,
    ahead: Callable[[], int] = lambda: 0,
) -> Iterator[PreparedLine]:
    """The lines validated and normalised, in order. With a pool of `workers` helper processes, they do it (e-mail
    and phone validation were a sixth of an import's time) while this process writes the previous batch, and
    also derive what the writer needs from each message (sanitised HTML, text signals) while derive() says
    they have time for it. The helpers are kept ahead() lines (at least CHUNKS_IN_FLIGHT chunks each) ahead of
    the caller: a batch's duplicate search queues behind them, so the next batch's lines are ready before it."""
    if pool is None:
        for number, data, error in lines:
            yield (number, None, None, error) if error is not None else prepare_line(number, data, options, strict)
        return
    in_flight: deque[Future[list[PreparedLine]]] = deque()
    for chunk in (list(islice(it, PREPARE_CHUNK)) for it in repeat(iter(lines))):
        if not chunk:
            break
        in_flight.append(pool.submit(_prepare_chunk, chunk, options, strict, derive()))
        while len(in_flight) > max(CHUNKS_IN_FLIGHT * workers, -(-ahead() // PREPARE_CHUNK)):
            yield from in_flight.popleft().result()
    while in_flight:
        yield from in_flight.popleft().result()


# --------------------------------------------------------------------------- the duplicate search, elsewhere

# A helper process's own connection and what its duplicate search keeps across batches (block index, views).
_search_state: dict[str, Any] = {}


def _search_remotely(url: str, requests: list[SuggestionRequest], reset: bool) -> list[tuple[int, int, float, list[str]]]:
    """In a helper process: the scored pairs of a committed batch's duplicate search. It reads through a
    connection of its own while the importer writes the next batch; that batch is not committed before these
    pairs are back, so every read here sees the store as the batch's commit left it (as the search in the
    batch itself would have)."""
    if _search_state.get("url") != url:
        _search_state.clear()
        _search_state.update(url=url, engine=make_engine(url), kept={})
    if reset:
        _search_state["kept"] = {}
    scored: list[tuple[int, int, float, list[str]]] = []
    with Session(_search_state["engine"]) as session:
        for request in requests:
            scored += run_suggestion_request(session, request, _search_state["kept"], write=False)
        session.rollback()
    return scored


# A batch that waited this long for its search's pairs found the helper busy.
HELPER_BUSY_WAIT_S = 0.02


class _DeferredSearch:
    """The duplicate search of each committed batch runs in a helper process while the next batch is written;
    its suggestions are opened in the next batch's transaction (before that commits), the last one's at the
    end. A search that fails there runs here instead."""

    def __init__(self, session: Session, pool: ProcessPoolExecutor) -> None:
        self.session, self.pool = session, pool
        self.url = session.get_bind().engine.url.render_as_string(hide_password=False)
        self.requests: list[SuggestionRequest] = []
        self.session.info[SUGGEST_LATER_KEY] = self.requests
        self.pending: tuple[Future[list[tuple[int, int, float, list[str]]]], list[SuggestionRequest]] | None = None
        self.waited = 0.0  # seconds the last batch waited for its search's pairs

    def helper_has_time(self) -> bool:
        """Whether the helper finished the last search before the next batch needed it: it keeps up, and can
        take more of the writer's work. At a million records its searches take as long as the writing does."""
        return self.waited < HELPER_BUSY_WAIT_S

    def before_commit(self) -> None:
        """Open the suggestions of the previous batch's search (its pairs are waited for)."""
        if self.pending is None:
            return
        future, requests = self.pending
        self.pending = None
        started = time.perf_counter()
        try:
            scored = future.result()
            self.waited = time.perf_counter() - started
        except Exception:  # noqa: BLE001 - the helper failed: the search is done here, nothing is lost
            log.exception("duplicate search in the helper process failed; searching here")
            self.session.info[INDEX_RESET_KEY] = True
            for request in requests:
                run_suggestion_request(self.session, request, {})
        else:
            upsert_suggestions(self.session, scored)
        forget_pending_searches(self.session, (cid for request in requests for cid in request.keys_by_contact))

    def after_commit(self) -> None:
        """Hand the batch just committed to the helper."""
        if not self.requests:
            return
        requests = list(self.requests)
        self.requests.clear()
        reset = bool(self.session.info.pop(INDEX_RESET_KEY, False))
        self.pending = (self.pool.submit(_search_remotely, self.url, requests, reset), requests)

    def close(self) -> None:
        self.session.info.pop(SUGGEST_LATER_KEY, None)


# --------------------------------------------------------------------------- the import loop


def import_stream(
    engine: sa.Engine,
    lines: Iterable[ParsedLine],
    *,
    options: IngestOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    strict_identifiers: bool = True,
    progress: Callable[[int], None] | None = None,
    workers: int = 0,
) -> ImportSummary:
    """Import parsed lines in batches. `workers`: helper processes that validate and normalise lines, and run
    each batch's duplicate search, while this process writes (default_workers() suits a big file; a handful of
    lines is quicker without)."""
    options = options or IngestOptions(actor="import")
    summary = ImportSummary()
    with contextlib.ExitStack() as stack:
        stack.enter_context(bulk_gc())
        # One connection for the whole run, with bulk settings (core.db.bulk_settings). On SQLite each batch
        # takes the write lock as it begins: a batch that has read cannot write once a server on the same
        # store has committed meanwhile ("database is locked" at once, whatever the busy timeout), while one
        # that begins IMMEDIATE waits for the lock, and the server's writes wait for the batch's commit.
        connection = stack.enter_context(engine.connect())
        connection.execution_options(sqlite_begin="IMMEDIATE")
        stack.enter_context(bulk_settings(connection))
        session = stack.enter_context(Session(bind=connection, expire_on_commit=False))
        pool = stack.enter_context(helper_pool(workers)) if workers > 0 else None
        search = _DeferredSearch(session, pool) if pool is not None and options.suggest_duplicates else None
        if search is not None:
            stack.callback(search.close)
        if options.suggest_duplicates and search_pending(session):  # what an import that died left undone
            session.commit()
        batch: list[tuple[int, InboundRecord, _Plan]] = []
        # With a helper, the first batch waits until the helper has prepared all its lines: start small and
        # double up to batch_size, so that writing begins after one chunk.
        filled_at = min(batch_size, PREPARE_CHUNK) if pool is not None else batch_size

        def write_batch() -> None:
            results = ingest_many(session, [record for _, record, _ in batch], options=options,
                                  plans=[plan for _, _, plan in batch])
            for (number, _, _), result in zip(batch, results, strict=True):
                if isinstance(result, IngestError):
                    summary.add_error(number, str(result))
                    continue
                summary.records += 1
                summary.statuses[result.status] += 1
                summary.merged_contacts += len(result.merged_contact_ids)
            if search is not None:
                search.before_commit()
            session.commit()
            if search is not None:
                search.after_commit()
            batch.clear()
            bulk_gc_checkpoint()

        helper_has_time = search.helper_has_time if search is not None else (lambda: True)
        for number, record, plan, error in prepared_lines(lines, options, strict=strict_identifiers, pool=pool,
                                                          workers=workers, derive=helper_has_time,
                                                          ahead=lambda: 2 * filled_at):  # noqa: B023 - the current one
            summary.lines += 1
            if progress is not None:
                progress(number)
            if error is not None:
                summary.add_error(number, error)
                continue
            batch.append((number, record, plan))  # type: ignore[arg-type]
            if len(batch) >= filled_at:
                write_batch()
                filled_at = min(batch_size, 2 * filled_at)
        if batch:
            write_batch()
        if search is not None and search.pending is not None:
            search.before_commit()
            session.commit()
    return summary


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


# Below this size a file is imported without helper processes (starting one costs more than it saves).
WORKERS_MIN_BYTES = 256 * 1024


def import_file(
    engine: sa.Engine,
    path: str | Path,
    *,
    file_format: str | None = None,
    options: IngestOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    encoding: str | None = None,
) -> ImportSummary:
    """Import a JSONL or CSV file. `workers`: helper processes for validation (None: default_workers() for a
    file of WORKERS_MIN_BYTES or more). `encoding`: a CSV file's, when not to be told from the file (JSONL is
    UTF-8, or UTF-16 with a byte order mark)."""
    file_format = file_format or detect_format(path)
    if encoding is not None:
        try:
            io.TextIOWrapper(io.BytesIO(), encoding=encoding)  # (LookupError for codecs of bytes: rot13, base64, hex)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r} (e.g. utf-8, cp1250, cp1251, utf-16)") from None
    if workers is None:
        workers = default_workers() if Path(path).stat().st_size >= WORKERS_MIN_BYTES else 0
    notes: list[str] = []
    with open(path, "rb") as stream:
        # With helpers, JSON is parsed there too.
        reader = (read_jsonl(stream, parse=workers == 0) if file_format == "jsonl"
                  else read_csv(stream, encoding=encoding, notes=notes))
        summary = import_stream(engine, reader, options=options, batch_size=batch_size, progress=progress,
                                workers=workers)
    summary.notes += notes
    return summary

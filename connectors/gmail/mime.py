"""Raw RFC 822 bytes -> a plain parsed structure (standard library `email`, policy.default).

Real mail is messy: unknown charsets, malformed headers, no Message-ID, no Date, bounces. Parsing never raises
for such input; what cannot be read at all comes back as `MimeError` with a reason the sync quarantines.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.utils
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import errors, policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from core.charsets import charset_codec
from core.importer import best_legacy_encoding, legacy_text_score
from core.markup import html_to_text, sanitize_html, too_deep
from core.schemas import one_line

# Headers kept for bulk detection and threading (lower-case names).
KEPT_HEADERS = ("list-unsubscribe", "list-id", "list-post", "mailing-list", "x-mailing-list", "x-mailman-version",
                "sender", "precedence", "auto-submitted", "x-auto-response-suppress", "x-autoreply", "x-autorespond",
                "return-path", "x-failed-recipients", "content-type", "content-class")
SNIPPET_CHARS = 2000
# How far a Date header may be ahead of the time Gmail received the message (internalDate): a wrong time zone
# or a sender's clock a few hours off; more is a date from nowhere.
DATE_AHEAD_OF_ARRIVAL = timedelta(days=1)
MAX_TEXT_CHARS = 900_000
# Lines starting "--" (each part's boundary, and quoted signatures) a message may have before it is not read.
MAX_BOUNDARY_LINES = 10_000
_MSGID = re.compile(r"<([^<>\s]+)>")
# Declared charsets that say nothing about 8-bit bytes: none (ASCII by default), ASCII itself, and UTF-8 when the
# bytes are not UTF-8. A part that declares a legacy charset (big5, koi8-r …) keeps that reading.
_UNDECLARING_CHARSETS = {"us-ascii", "ascii", "utf-8", "utf8"}
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]{1,40})(?:\*[^?]*)?\?[bBqQ]\?")
_ENCODED_WORD = re.compile(r"=\?([^?*\s]{1,40})(?:\*[^?]*)?\?[bBqQ]\?[^?\s]*\?=")
# Single-byte charsets that mail often declares over text in another code page (a Russian Windows set up to say
# iso-8859-1, Polish Windows-1250 said to be ISO-8859-2), each with the Windows code page its writers meant by it
# (for ISO-8859-1 the WHATWG Encoding Standard's reading too).
_LEGACY_LABELS = {"iso8859-1": "cp1252", "cp1252": "cp1252", "iso8859-2": "cp1250", "cp1250": "cp1250",
                  "cp1251": "cp1251", "koi8-r": "koi8_r"}
class MimeError(ValueError):
    """The bytes are not a message we can read; the message is the quarantine reason."""


@dataclass
class Address:
    name: str
    address: str


@dataclass
class Attachment:
    filename: str
    mime_type: str
    size: int


@dataclass
class ParsedMail:
    message_id: str  # normalised RFC Message-ID (no angle brackets), or a stable fallback
    message_id_is_fallback: bool
    in_reply_to: str
    references: list[str]
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    date: datetime | None
    subject: str
    text: str
    html: str  # sanitised
    snippet: str  # latest reply without quotes and signature
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    # Every mailbox of From (RFC 5322 allows a list of authors) and the Sender header's mailbox: with several
    # authors, Sender names the one who sent it (`sender` is that author, or the first).
    authors: list[Address] = field(default_factory=list)
    sent_by: Address | None = None
    # Messages forwarded as attachments (message/rfc822 parts, the first few), parsed: whose inquiry a colleague
    # passed on.
    forwarded: list[ParsedMail] = field(default_factory=list)
    # Bcc: only in the sender's own copy (Gmail keeps it in the rep's sent mail), where it names recipients too.
    bcc: list[Address] = field(default_factory=list)
    # The iTIP method (RFC 5546) of the message's iCalendar part, upper case: REQUEST (an invitation), REPLY (an
    # invitee accepting or declining), CANCEL …; '' without one.
    calendar_method: str = ""

    def attachments_meta(self) -> list[dict[str, Any]]:
        return [{"filename": a.filename, "mime_type": a.mime_type, "size": a.size} for a in self.attachments]


def normalize_message_id(value: str | None) -> str:
    """'<ABC@Example.COM> ' -> 'ABC@example.com' (the domain part is case-insensitive, the local part is not)."""
    if not value:
        return ""
    value = str(value).strip()
    match = _MSGID.search(value)
    core = match.group(1) if match else value.strip("<> \t\r\n")
    if not core or any(c.isspace() for c in core):
        return ""
    left, sep, right = core.rpartition("@")
    return f"{left}@{right.lower()}" if sep and left else core


def _clean(value: str, msg: Message | None = None) -> str:
    """Raw 8-bit header bytes (RFC 6532 UTF-8, or a legacy charset) arrive as surrogate escapes: decode them."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _decode_8bit(value, msg)


def _decode_8bit(value: str, msg: Message | None) -> str:
    """Header text whose non-ASCII bytes came unencoded (surrogate escapes). UTF-8 when they are (RFC 6532);
    else the charset the message declares for its text (Russian and Polish clients wrote raw Windows-1251,
    KOI8-R or ISO-8859-2 headers in the charset of their body); else the Windows code page whose reading
    looks most like words (core.importer.legacy_text_score), not Windows-1252 for every one of them."""
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for charset in _declared_charsets(msg) if msg is not None else ():
        try:
            return data.decode(charset)
        except (LookupError, UnicodeError):
            continue
    return data.decode(best_legacy_encoding(data), "replace")


def _declared_charsets(msg: Message) -> list[str]:
    """The charsets a message declares, other than ASCII and UTF-8: for itself and its text parts, then in the
    encoded words of its other headers (=?Windows-1252?B?...?=)."""
    declared: list[str] = []
    try:
        parts = [msg, *(part for part in msg.walk() if part.get_content_maintype() == "text")]
        for part in parts[:50]:
            charset = part.get_param("charset")
            declared.append(charset if isinstance(charset, str) else "")
    except Exception:  # noqa: BLE001 - a broken Content-Type declares nothing
        pass
    try:
        declared += [m.group(1) for _, value in msg.raw_items() for m in _ENCODED_WORD_CHARSET.finditer(str(value))]
    except Exception:  # noqa: BLE001
        pass
    found: list[str] = []
    for charset in declared:
        charset = charset_codec(charset) or charset.strip().lower()
        if charset and charset not in ("us-ascii", "ascii", "utf-8", "utf8") and charset not in found:
            found.append(charset)
    return found


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words (=?koi8-r?B?...?=) in header text that was read raw."""
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except Exception:  # noqa: BLE001 - a broken encoded word stays as written
        return text


def _raw_headers(msg: Message, name: str) -> list[str]:
    """A header's values as sent, unparsed: get() and get_all() run the policy's parser, which can raise on a
    broken value (IndexError on an empty angle address or message id, not only HeaderParseError)."""
    try:
        return [str(value) for key, value in msg.raw_items() if key.lower() == name.lower()]
    except Exception:  # noqa: BLE001 - nothing of this header can be read
        return []


# Characters of a header parsed: policy.default takes time quadratic in a structured header's words (a Subject of
# 480 KB: 4 s), and what is kept of one is shorter (a subject's first 1,000 characters, References' last 50 ids).
MAX_HEADER_CHARS = 32_000

# A Content-Type or Content-Disposition longer than this is rebuilt of its well-formed parameters before it is
# parsed: policy.default parses them in time quadratic in their tokens (a boundary of 20,000 ';' took 100 s, of
# '"' 75 s, each time a part's type was asked), while a real one, a long file name's too, is far shorter.
MAX_MIME_HEADER_CHARS = 500
_MIME_STRUCTURE_HEADERS = frozenset({"content-type", "content-disposition"})
_MIME_VALUE = re.compile(r"\s*+([^;\s]{1,200})")
_MIME_PARAM = re.compile(r';\s*+([A-Za-z0-9!#$%&\'*+.^_`|~-]{1,100})\s*+=\s*+("(?:[^"\\\r\n]|\\.){0,1000}+"|[^;"\s]{1,1000}+)')
MAX_MIME_PARAMS = 20


def _tidy_mime_header(value: str) -> str:
    """A long Content-Type or Content-Disposition as its value and its first well-formed parameters (a name, '=',
    a quoted string, or a token, quoted: '(' in it would open a comment), in time linear in its length."""
    head = _MIME_VALUE.match(value)
    parts = [head.group(1) if head else ""]
    for param in _MIME_PARAM.finditer(value):
        quoted = param.group(2)
        if not quoted.startswith('"'):
            quoted = '"' + quoted.replace("\\", "\\\\") + '"'
        parts.append(f"{param.group(1)}={quoted}")
        if len(parts) > MAX_MIME_PARAMS:
            break
    return "; ".join(parts)


class _BoundedHeaders(HeaderRegistry):
    """policy.default's headers, a long Content-Type or Content-Disposition tidied first (_tidy_mime_header); a
    header whose parsing recurses past Python's limit (comments nested thousands deep, '(((…') read as its tidy
    form, else as empty, not as the end of the whole message."""

    def __call__(self, name: str, value: str) -> BaseHeader:
        structure = name.lower() in _MIME_STRUCTURE_HEADERS
        if structure and len(value) > MAX_MIME_HEADER_CHARS:
            value = _tidy_mime_header(value)
        try:
            return super().__call__(name, value)
        except RecursionError:
            pass
        try:
            return super().__call__(name, _tidy_mime_header(value) if structure else "")
        except RecursionError:
            return super().__call__(name, "")


# The policy every message is parsed with: policy.default with _BoundedHeaders.
PARSE_POLICY = policy.default.clone(header_factory=_BoundedHeaders())


def _header(msg: Message, name: str) -> str:
    """A header as text; a malformed one must not take the whole message down. Of a long one, the first
    MAX_HEADER_CHARS are read (of References, the last: its latest ids)."""
    raw = _raw_headers(msg, name)
    long = bool(raw) and len(raw[0]) > MAX_HEADER_CHARS
    if long:
        raw = [raw[0][-MAX_HEADER_CHARS:] if name.lower() == "references" else raw[0][:MAX_HEADER_CHARS]]
    if raw and not raw[0].isascii() and any("\udc80" <= ch <= "\udcff" for ch in raw[0]):
        # Unencoded 8-bit bytes: the parsed header has replaced them with U+FFFD by now; read them ourselves.
        return " ".join(_decode_words(_decode_8bit(raw[0], msg)).split())
    relabelled = _relabel_words(raw[0]) if raw and "=?" in raw[0] else ""
    if relabelled and relabelled != raw[0]:
        return " ".join(_decode_words(relabelled).split())
    try:
        value = PARSE_POLICY.header_factory(name, raw[0]) if long else msg.get(name)
    except Exception:  # noqa: BLE001 - policy.default header parsing can raise on broken input
        value = raw[0] if raw else None
    if value is None:
        return ""
    try:
        return _clean(str(value), msg).strip()
    except Exception:  # noqa: BLE001
        return ""


# A mailbox whose display name holds an unquoted '@' ('biuro@budmax.pl <jan@client.pl>', as web forms' mailers and
# some CRMs write it): the phrase runs from the start of the header or a comma to the angle address.
# Possessive (no backtracking): with backtracking, a header of thousands of '@' took seconds ('a@a@a@…': 16,000
# of them took 20 s), the time growing with the square of its length.
_AT_IN_NAME = re.compile(r'(?:^|(?<=,))(\s*+)([^,"<>]*+)(<[^<>\s@]*+@[^<>\s]*+>)')


def _quote_at_names(value: str) -> str:
    """Such a name quoted, so that both parsers read the address in angle brackets as the mailbox (as Gmail
    does): unquoted, the first word with an '@' was taken for the address."""
    def quoted(match: re.Match[str]) -> str:
        phrase = match.group(2)
        if "@" not in phrase:
            return match.group(0)
        name = phrase.rstrip()
        return f'{match.group(1)}"{email.utils.quote(name.strip())}"{phrase[len(name):]}{match.group(3)}'

    return _AT_IN_NAME.sub(quoted, value)


# Mailboxes read of one address header: spam to a leaked list names tens of thousands, which the standard parser
# reads superlinearly (20,000 took 11 s).
MAX_ADDRESSES = 1000


# Characters of a header of one sender parsed (From, Sender, Reply-To, Return-Path: a few mailboxes, a few hundred
# characters): the address parsers take time quadratic in its tokens, and a From of 20,000 '"' (or '.', '\\')
# took 13 s at MAX_HEADER_CHARS, which lists of recipients need.
MAX_SENDER_HEADER_CHARS = 2_000
_SENDER_HEADERS = frozenset({"from", "sender", "reply-to", "return-path"})


_CONTINUATION_BYTES = "".join(chr(code) for code in range(0xDC80, 0xDCC0))


def _first_addresses(value: str, limit: int = MAX_HEADER_CHARS) -> str:
    """The header up to the comma (outside a quoted name) before its MAX_ADDRESSES + 1st '@' or its
    limit-th character: at most MAX_ADDRESSES mailboxes (fewer when names hold '@' too). A lone
    mailbox longer than that (a name of hundreds of kilobytes) keeps its end, where its address is."""
    end, at = len(value), -1
    for _ in range(MAX_ADDRESSES + 1):
        at = value.find("@", at + 1)
        if at < 0:
            break
    else:
        end = at
    if end == len(value) <= limit:
        return value
    cut, quoted, escaped = 0, False, False
    for index, char in enumerate(value[:min(end, limit)]):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = quoted
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            cut = index
    if cut:
        return value[:cut]
    # (not from the middle of a character: raw UTF-8 arrives as surrogate escapes, its continuation bytes
    # '\udc80'-'\udcbf', which read alone would make the name a legacy code page's mojibake)
    tail = value[-limit:].lstrip(_CONTINUATION_BYTES)
    tail = tail.replace('"', "") if value.count('"', 0, len(value) - len(tail)) % 2 else tail
    # (and of a lone mailbox's thousands of '@' — 'a@a@a@…', no one's address — the last MAX_ADDRESSES)
    at = len(tail)
    for _ in range(MAX_ADDRESSES + 1):
        at = tail.rfind("@", 0, at)
        if at < 0:
            return tail
    return tail[at + 1:]


def _addresses(msg: Message, name: str) -> list[Address]:
    original = _raw_headers(msg, name)
    limit = MAX_SENDER_HEADER_CHARS if name.lower() in _SENDER_HEADERS else MAX_HEADER_CHARS
    raw = [_first_addresses(value, limit) for value in original]
    quoted = [_quote_at_names(value) for value in raw]
    # Names in encoded words are read by email.header, which joins adjacent words before decoding them (RFC 2047
    # 6.2): policy.default's address parser puts a space between the words (CPython gh-128110: 'Béna rd', as
    # Python's own EmailMessage cuts long names) and decodes a letter cut between two words as two broken halves.
    try:
        pairs = email.utils.getaddresses(quoted)
    except RecursionError:  # (groups or comments nested thousands deep, '::::…': no mailbox in them)
        pairs = []
    names = {a.lower(): decoded for n, a in pairs if "=?" in n and a
             for decoded in [_decode_words(_relabel_words(_clean(n, msg)))] if "=?" not in decoded}
    # The name of the older form 'jan@firma.pl (Jan Kowalski)', a comment the standard parser drops.
    comments = {a.lower(): _decode_words(_clean(n, msg)) for n, a in pairs if n and a}
    try:
        header = msg.get(name) if quoted == original else PARSE_POLICY.header_factory(name, quoted[0])
        if header is not None and hasattr(header, "addresses"):
            # Only mailbox addresses: "MAILER DAEMON <>" parses to the addr_spec "<>", and "From: foo" to "foo".
            return [Address(one_line(names.get(a.addr_spec.lower()) or _clean(a.display_name or "", msg)
                                      or comments.get(a.addr_spec.lower(), "")),
                            _clean(a.addr_spec, msg)) for a in header.addresses if a.addr_spec and "@" in a.addr_spec]
    except Exception:  # noqa: BLE001 - fall back to the lenient parser below
        pass
    return [Address(one_line(_decode_words(_clean(n, msg))), _clean(a, msg)) for n, a in pairs if a and "@" in a]


def mailbox_text(address: Address) -> str:
    """'Name <address>' as a header writes it: a name with a comma, a quote or angle brackets is quoted, so that
    reading it back (a reply's To) gives this one mailbox ('Kowalski, Jan' was two addresses, and a name decoded
    to '"Jan" <other@x.pl>' made the reply go to other@x.pl)."""
    if not address.name:
        return address.address
    name = address.name
    if _SPECIALS.search(name):
        name = '"' + email.utils.quote(name) + '"'
    return f"{name} <{address.address}>"


_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _message_ids(value: str) -> list[str]:
    return [normalize_message_id(f"<{m}>") for m in _MSGID.findall(value or "")]


# A number of three or more digits in a Date header that is not part of the time or the zone: the year as written.
_WRITTEN_YEAR = re.compile(r"(?<![\w:+-])(\d{3,})(?![\w:])")


# A zone written as an offset after 'GMT'/'UTC' (JavaScript's Date.toString(): 'GMT+0100 (Central European
# Standard Time)'), or with a colon as ISO 8601 writes it ('+01:00'): email.utils reads either as UTC.
_OFFSET_ZONE = re.compile(r"(?i)(?:\b(?:GMT|UTC|UT)\s*)?(?<![\d:])([+-])(\d{1,2})(?::?(\d{2}))?(?=\s*(?:\(|$))")
# Zone names of Russian and Polish servers that email.utils does not know (it reads them as UTC).
_ZONE_NAMES = {"MSK": "+0300", "CET": "+0100", "CEST": "+0200", "EET": "+0200", "EEST": "+0300"}
_ZONE_NAME = re.compile(r"\b(MSK|CET|CEST|EET|EEST)(?=\s*(?:\(|$))")


def _numeric_zone(date: str) -> str:
    """The Date header with its zone as RFC 5322's +hhmm, when written another way."""
    date = _OFFSET_ZONE.sub(lambda m: f"{m.group(1)}{int(m.group(2)):02d}{m.group(3) or '00'}", date.strip(), 1)
    return _ZONE_NAME.sub(lambda m: _ZONE_NAMES[m.group(1)], date, 1)


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "date")
    if not raw:
        return None
    sent = " ".join(" ".join(_raw_headers(msg, "date")[:1]).split())  # the parsed one read such a zone as UTC
    if sent.isascii() and _numeric_zone(sent) != sent:
        raw = _numeric_zone(sent)
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year of twenty digits: OverflowError
        return None
    if parsed is None:
        return None
    written = " ".join(_raw_headers(msg, "date")[:1])  # as sent: the parsed header is already rewritten
    if any(int(year) != parsed.year for year in _WRITTEN_YEAR.findall(written)):
        # A year written with three or more digits that is not the year read: the parser's two-digit-year rule
        # made '0000' 2000 and '026' 2026. A year that cannot be is no date, not a guess.
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not (1971 <= parsed.year <= 2100):
        return None
    return parsed.astimezone(UTC)


def _decode(part: Message, msg: Message | None = None) -> str:
    """A text part's content, whatever its declared charset says."""
    meant = _meant_codec(part)
    if meant:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode(_better_encoding(payload, meant) or meant, "replace")
    try:
        content = part.get_content()
        if isinstance(content, str):
            if "\ufffd" in content and (part.get_content_charset() or "us-ascii") in _UNDECLARING_CHARSETS:
                return _undeclared_8bit(part, msg) or content
            return _mislabelled(part) or content
        if isinstance(content, bytes):
            return content.decode("utf-8", "replace")
    except (LookupError, UnicodeError, AssertionError, KeyError, ValueError):
        pass  # unknown or lying charset: decode the payload ourselves below
    payload = part.get_payload(decode=True) or b""
    if not isinstance(payload, bytes):
        return str(payload)
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = charset_codec(charset) or charset
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeError):
            continue
    return payload.decode("latin-1")


def _meant_codec(part: Message) -> str | None:
    """The codec a part's charset label means when Python reads the label otherwise or not at all
    ('x-mac-cyrillic', 'cp-1250', Outlook's 'ks_c_5601-1987'); None when Python's reading is the one."""
    try:
        declared = part.get_content_charset() or ""
    except Exception:  # noqa: BLE001 - a broken Content-Type declares nothing
        return None
    codec = charset_codec(declared) if declared else None
    return codec if codec and _codec_name(codec) != _codec_name(declared) else None


# Three or more blank (or whitespace-only) lines: two say the same to a reader, and the reply parser's signature
# pattern takes time growing faster than the square of them (4,000 took 4 s, 50,000 characters of them minutes).
_BLANK_LINES = re.compile(r"(?:[ \t\f\v]*+\r?\n){3,}+")
_SPACE_RUN = re.compile(r"[ \t\f\v]{2,}+")  # (and a line of thousands of spaces: 50,000 took 4 s)


def latest_reply(text: str) -> str:
    """The new part of a reply (quotes and signature stripped), for the inbox snippet."""
    if not text.strip():
        return ""
    try:
        from mailparser_reply import EmailReplyParser

        reply = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl", "pl", "sv"]).parse_reply(
            text=_BLANK_LINES.sub("\n\n", _SPACE_RUN.sub(" ", text[:50_000]))
        )
    except Exception:  # noqa: BLE001 - the snippet is a convenience; the full body is kept regardless
        reply = ""
    reply = (reply or "").strip() or text.strip()
    return reply[:SNIPPET_CHARS]


def _mislabelled(part: Message) -> str | None:
    """A text part in another encoding than the single-byte charset it declares: UTF-8 when its bytes are ('Ã©'
    for 'é' read as labelled); else the code page whose reading looks more like words than the declared one
    (core.importer.legacy_text_score, judged on the lines with 8-bit bytes): 'Äîáðûé äåíü' is Windows-1251 said
    to be ISO-8859-1, C1 control characters for 'ś' and 'ź' Windows-1250 said to be ISO-8859-2. None: the
    declared reading is as good."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - no payload to read again
        return None
    if not isinstance(payload, bytes):
        return None
    encoding = _better_encoding(payload, part.get_content_charset() or "")
    return payload.decode(encoding, "replace") if encoding else None


def _better_encoding(data: bytes, declared: str) -> str | None:
    """The encoding `data` is really in when `declared` is one of the single-byte charsets often declared over
    another (_LEGACY_LABELS) and another reads it better: UTF-8 when the bytes are, else the code page whose
    reading looks more like words (judged on the lines with 8-bit bytes). None: the declared one will do."""
    try:
        declared = codecs.lookup(declared).name
    except LookupError:
        return None
    if declared not in _LEGACY_LABELS or data.isascii():
        return None
    try:
        data.decode("utf-8")
        return "utf-8"  # 8-bit bytes that are all UTF-8 are ('Ã©' for 'é' otherwise)
    except UnicodeDecodeError:
        pass
    sample = b"\n".join(line for line in data.splitlines() if not line.isascii())[:16384]
    best = best_legacy_encoding(sample, prefer=_LEGACY_LABELS[declared])
    if legacy_text_score(sample.decode(best, "replace")) <= legacy_text_score(sample.decode(declared, "replace")):
        return None
    return best


def _relabel_words(text: str) -> str:
    """Encoded words labelled with a legacy charset over bytes of another ('=?iso-8859-1?Q?=CF=F0...?=' over
    Windows-1251) relabelled with the encoding they are in (_better_encoding, judged on all of them together);
    first, labels Python lacks or reads narrower than meant ('x-mac-cyrillic', 'cp-1250') with the codec meant."""
    text = _ENCODED_WORD_CHARSET.sub(_meant_label, text)
    try:
        found = [(m, email.header.decode_header(m.group(0))[0]) for m in _ENCODED_WORD.finditer(text)]
    except Exception:  # noqa: BLE001 - a broken encoded word (bad base64): left to the parser as it is
        return text
    legacy = [(m, data) for m, (data, charset) in found
              if isinstance(data, bytes) and charset and _LEGACY_LABELS.get(_codec_name(charset))]
    if not legacy:
        return text
    encoding = _better_encoding(b" ".join(data for _, data in legacy), legacy[0][0].group(1))
    if not encoding:
        return text
    for match, _ in reversed(legacy):
        text = f"{text[:match.start(1)]}{encoding}{text[match.end(1):]}"
    return text


def _meant_label(match: re.Match[str]) -> str:
    label = match.group(1)
    codec = charset_codec(label)
    if not codec or _codec_name(codec) == _codec_name(label):
        return match.group(0)
    return match.group(0)[:match.start(1) - match.start(0)] + codec + match.group(0)[match.end(1) - match.start(0):]


def _codec_name(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return ""


def _undeclared_8bit(part: Message, msg: Message | None) -> str | None:
    """A text part whose bytes its declared charset (or the default, ASCII) could not read: mail from clients
    that sent UTF-8, Windows-1251 or -1250 text without saying so, or said us-ascii. UTF-8 when the bytes are
    (with a few broken ones: mostly), else read as _decode_8bit reads raw headers."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(payload, bytes):
        return None
    text = payload.decode("utf-8", "surrogateescape")
    broken = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if not broken:
        return text
    if sum(1 for ch in text if not ch.isascii()) - broken >= broken:
        return payload.decode("utf-8", "replace")  # UTF-8 with a few broken bytes: keep its letters
    return _decode_8bit(text, msg)


def _walk(msg: Message, texts: list[str], htmls: list[str], attachments: list[Attachment],
          others: list[str]) -> None:
    """Bodies into texts and htmls, files into attachments. A text part of another kind (an invitation's
    text/calendar, Apple's text/watch-html, AMP, text/enriched: alternatives to the plain and HTML ones, or a
    vCard) is listed as a file, its text kept in others: the text of mail that has no other."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = (part.get_content_type() or "text/plain").lower()
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # said to be multipart, no parts found (no boundary, or one never come): text
        try:
            disposition = (part.get_content_disposition() or "").lower()
        except Exception:  # noqa: BLE001
            disposition = ""
        try:
            filename = part.get_filename() or ""
        except Exception:  # noqa: BLE001
            filename = ""
        # A text part marked inline is shown as the body even with a file name (Apple Mail, Outlook and VM name
        # them: "msg.txt"), and is listed as that file too; a named text part without the mark is a file only.
        shown_and_named = disposition == "inline" and filename and ctype in ("text/plain", "text/html")
        other_text = ctype.startswith("text/") and ctype not in ("text/plain", "text/html")
        if shown_and_named or disposition == "attachment" or filename or not ctype.startswith("text/") or other_text:
            if ctype in ("message/delivery-status",) and not filename:
                texts.append(_safe_payload_text(part))
                continue
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload() or ""))
            attachments.append(Attachment(filename=str(filename)[:300], mime_type=ctype, size=size))
            if other_text and not filename and disposition != "attachment":
                others.append(_decode(part, msg))
            if not shown_and_named:
                continue
        if ctype == "text/html":
            htmls.append(_decode(part, msg))
        else:
            texts.append(_decode(part, msg))


MAX_TNEF_BYTES = 10_000_000


def _is_tnef(mime_type: str, filename: str) -> bool:
    return mime_type in ("application/ms-tnef", "application/vnd.ms-tnef") or filename.lower() == "winmail.dat"


def _tnef_text(msg: Message) -> str:
    """The text Outlook put inside a winmail.dat (TNEF), for mail that has no other: its plain body, else its
    HTML body as text (tnefparse), else its Rich Text body as text."""
    from tnefparse import TNEF

    for part in msg.walk():
        try:
            if part.is_multipart() or not _is_tnef(part.get_content_type(), str(part.get_filename() or "")):
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes) or len(payload) > MAX_TNEF_BYTES:
                continue
            tnef = TNEF(payload, do_checksum=False)
            codepage = tnef.codepage or "cp1252"
            body = tnef.body.decode(charset_codec(codepage) or "cp1252", "replace") if isinstance(tnef.body, bytes) \
                else str(tnef.body or "")
            if not body.strip() and tnef.htmlbody:
                html = tnef.htmlbody if isinstance(tnef.htmlbody, str) else tnef.htmlbody.decode("utf-8", "replace")
                body = html_to_text(html)
            if not body.strip():
                # (tnefparse keeps PR_RTF_COMPRESSED as it came; its rtfbody decompresses it with no size limit)
                body = _rtf_text(getattr(tnef, "_rtfbody", None))
        except Exception:  # noqa: BLE001 - a broken TNEF stream (hostile or cut short) is only a file
            continue
        body = body.replace("\r\n", "\n").strip("\x00").strip()
        if body:
            return body
    return ""


_CALENDAR_TYPES = ("text/calendar", "application/ics")
_METHOD_LINE = re.compile(r"(?im)^METHOD(?:;[^:\r\n]*)?:[ \t]*([A-Za-z-]{1,40})[ \t]*\r?$")


def _calendar_method(msg: Message) -> str:
    """The iTIP method of the message's own iCalendar part (not one inside a forwarded message): the part's
    method parameter (RFC 6047 2.4: it must equal the calendar's), else the calendar's METHOD line."""
    parts = [msg]
    while parts:
        part = parts.pop(0)
        try:
            ctype = part.get_content_type().lower()
            if ctype == "message/rfc822":
                continue
            if part.is_multipart():
                parts.extend(part.get_payload()[:50])
                continue
            if ctype not in _CALENDAR_TYPES:
                continue
            method = str(part.get_param("method") or "").strip()
            if not method:
                found = _METHOD_LINE.search(_decode(part, msg)[:20_000])
                method = found.group(1) if found else ""
        except Exception:  # noqa: BLE001 - a broken part has no method
            continue
        if re.fullmatch(r"[A-Za-z-]{1,40}", method):
            return method.upper()
    return ""


# compressed-rtf decompresses in a Python loop, about a microsecond an output byte, and a stream writes up to
# 8 bytes for each it holds: a larger cap is a longer sync per hostile mail, not more real mail (an RTF body
# over 256 kB compressed is its embedded pictures' hex, not text). striprtf is linear after _linear_for_striprtf.
MAX_COMPRESSED_RTF_BYTES = 256_000  # (decompressed: 2 MB at most, in about a second)
MAX_RTF_CHARS = 1_000_000


def _rtf_text(compressed: object) -> str:
    """The text of a TNEF's Rich Text body (MS-OXRTFCP compressed RTF): decompressed by compressed-rtf, read by
    striprtf in the code page the RTF names (\\ansicpg), HTML that Outlook wrapped in RTF as its text. '' for
    a stream that is not compressed RTF, or larger than mail's text is."""
    if not isinstance(compressed, bytes) or not compressed or len(compressed) > MAX_COMPRESSED_RTF_BYTES:
        return ""
    from compressed_rtf import decompress
    from striprtf.striprtf import rtf_to_text

    try:
        rtf = decompress(compressed)
    except Exception:  # noqa: BLE001 - a broken stream (a bad header, magic or CRC) is only a file
        return ""
    if not rtf.lstrip().startswith(b"{\\rtf"):
        return ""
    return rtf_to_text(_linear_for_striprtf(rtf[:MAX_RTF_CHARS].decode("latin-1")), errors="replace")


# striprtf runs two regular expressions over the RTF before reading it, each quadratic on hostile input (11 kB of
# compressed RTF took 5 s): one over the whole text for '{\field{\*\fldinst{…HYPERLINK "url"…}' (to write the
# link's address after its text), one over the font table for each font's charset.
_FIELD_INSTRUCTION = re.compile(r"\\fldinst\{")
_FONT_TABLE = re.compile(r"\{[^{}]*\\fonttbl")
_FONT_NUMBER = re.compile(r"\\f(?=\d)")
_BRACE = re.compile(r"[{}]")
MAX_RTF_FONT_TABLE = 16_000  # (Outlook's: a few kB)


def _linear_for_striprtf(rtf: str) -> str:
    """The RTF with the same text, on which striprtf's passes are linear: a field's instruction is written
    '\\fldinst {' (the space ends the control word; the link's address is then not written after its text),
    each font of the font table starts a line (RTF ignores line breaks; striprtf's pattern reads within one), and
    a font table larger than any real one is left out (the text is then read in the document's code page)."""
    rtf = _FIELD_INSTRUCTION.sub(r"\\fldinst {", rtf)
    start = _FONT_TABLE.search(rtf)
    if start is None:
        return rtf
    depth, end = 1, len(rtf)
    for brace in _BRACE.finditer(rtf, start.end()):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            end = brace.end()
            break
    if end - start.start() > MAX_RTF_FONT_TABLE:
        return rtf[:start.start()] + "{\\fonttbl}" + rtf[end:]
    return rtf[:start.start()] + _FONT_NUMBER.sub("\n\\\\f", rtf[start.start():end]) + rtf[end:]


def _safe_payload_text(part: Message) -> str:
    try:
        payload = part.get_payload()
        if isinstance(payload, list):
            return "\n".join(str(p) for p in payload)
        return str(payload)
    except Exception:  # noqa: BLE001
        return ""


# A boundary written unquoted with characters that need quotes ('boundary=----=_NextPart_000_...', as Outlook
# Express and old Outlook wrote it): policy.default cuts it at the '=' and finds no parts.
_UNQUOTED_BOUNDARY = re.compile(rb'(?im)^((?:content-type:|[ \t])[^\r\n]*?\bboundary=)([^\s";]+)')


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MULTIPART_TYPE = re.compile(rb"(?im)^(content-type:[ \t]*multipart/[\w.+-]+)")
# A delimiter line: '--' and a boundary (RFC 2046: up to 70 characters, here without spaces), perhaps the last one.
_DELIMITER_LINE = re.compile(rb"(?m)^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(?:--)?[ \t]*\r?$")


def _with_found_boundary(raw: bytes, msg: Message) -> bytes | None:
    """The message with the boundary its delimiter lines use written into its Content-Type, when it declares
    none (a script's 'multipart/mixed' alone, or PHP mail() headers joined by a bare newline, which unfold the
    'boundary=' line into the body), or declares one its parts never use (bulk mailers that write a new boundary
    into the header and not into the body). None: no such message, or no delimiter line that comes twice."""
    try:
        if msg.get_content_maintype() != "multipart":
            return None
        declared_boundary = msg.get_param("boundary")
    except Exception:  # noqa: BLE001 - a Content-Type the parser cannot read
        return None
    end = _HEADER_END.search(raw)
    head_end = end.start() if end else len(raw)
    declared = _MULTIPART_TYPE.search(raw, 0, head_end)
    if declared is None:
        return None
    if declared_boundary:
        if not isinstance(declared_boundary, str) or not declared_boundary.isascii():
            return None
        written = declared_boundary.encode()
        if b"\n--" + written in raw[head_end:]:
            return None  # (its parts are there: lost for another reason)
        param = re.compile(rb'(?i)(\bboundary=)"?' + re.escape(written) + rb'"?')
        for found in _DELIMITER_LINE.finditer(raw, head_end, head_end + 200_000):
            boundary = found.group(1)
            # (a part's headers follow the first delimiter: not a rule of dashes in a text)
            if (re.match(rb"\r?\n[ \t]*content-", raw[found.end():found.end() + 40], re.IGNORECASE)
                    and raw.count(b"\n--" + boundary, found.end()) >= 1):
                head = param.sub(lambda m, b=boundary: m.group(1) + b'"' + b + b'"', raw[:head_end], count=1)
                return head + raw[head_end:] if head != raw[:head_end] else None
        return None
    for found in _DELIMITER_LINE.finditer(raw, declared.end(), declared.end() + 200_000):
        boundary = found.group(1)
        if raw.count(b"\n--" + boundary, found.end()) >= 1:
            return raw[:declared.end()] + b'; boundary="' + boundary + b'"' + raw[declared.end():]
    return None


def _lost_parts(msg: Message) -> bool:
    """Said to be multipart, but no parts were found (the parser's MultipartInvariantViolationDefect)."""
    try:
        return any(part.get_content_maintype() == "multipart" and not part.is_multipart() for part in msg.walk())
    except Exception:  # noqa: BLE001
        return False


MAX_FORWARDED = 3


def _near_parts(msg: Message, depth: int) -> Iterator[Message]:
    """The message and the parts of its multiparts down to `depth`: where a forward attaches the mail it carries
    (not into attached messages, nor hundreds of parts down)."""
    yield msg
    if depth and msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for part in msg.get_payload()[:100]:
            yield from _near_parts(part, depth - 1)


def _forwarded(msg: Message) -> list[ParsedMail]:
    """The messages attached whole (message/rfc822: 'forward as attachment'), each parsed on its own (without
    looking into its own attachments: a message nested a thousand deep is read once)."""
    found: list[ParsedMail] = []
    try:
        for part in _near_parts(msg, 3):
            if part.get_content_type() != "message/rfc822":
                continue
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if not isinstance(inner, Message):
                continue
            try:
                found.append(parse_message(inner.as_bytes(policy=policy.default.clone(linesep="\r\n")),
                                           forwards=False))
            except Exception:  # noqa: BLE001 - an unreadable attachment is only a file
                continue
            if len(found) >= MAX_FORWARDED:
                break
    except Exception:  # noqa: BLE001
        pass
    return found


# A forward's subject, as mail programs prefix it: English, Polish Outlook (PD: "prześlij dalej"), German (WG:),
# French (TR:), Spanish (RV:), Portuguese (ENC:), Dutch (Doorst:), Russian (Пересл:).
_FORWARD_SUBJECT = re.compile(r"(?i)^\s*(?:\[[^\]]*\]\s*)?(fwd?|pd|wg|tr|rv|enc|doorst|пересл|переслано)\s*\.?\s*:")
# The line only a forward writes above the message it carries (Gmail's, Thunderbird's, Apple Mail's, Yandex's and
# Mail.ru's, in English, Russian, Polish and German): a forward whose subject the rep retyped is still one. (Not
# Outlook's "-----Original Message-----": its replies quote under it too.)
_FORWARD_LINE = re.compile(r"(?im)^[ \t>]*(?:-{2,}[ \t]*(?:forwarded message|пересылаемое сообщение|пересланное сообщение"
                           r"|wiadomość przekazana dalej|przekazana wiadomość|weitergeleitete nachricht)[ \t]*-{2,}"
                           r"|begin forwarded message:)[ \t]*\r?$")
# A reply's subject ("Re:", Polish "Odp:", Russian "Ответ:", German "AW:"): what it quotes is not forwarded.
_REPLY_SUBJECT = re.compile(r"(?i)^\s*(?:\[[^\]]*\]\s*)?(re|odp|aw|sv|ответ|отв)\s*(?:\[\d+\])?\s*:")
# The first header line of a message forwarded inline (Gmail's "---------- Forwarded message ---------", Outlook's
# rule or "-----Original Message-----", Apple Mail's "Begin forwarded message:"): "From:" in the forwarder's
# language (Polish, Russian, German, French, Spanish, Dutch; Mail.ru's "От кого:"), perhaps in bold, before the
# author.
_INLINE_FROM = re.compile(r"(?im)^[ \t>]*\*{0,2}(?:from|od|от(?: кого)?|von|de|van)\s*:\s*\*{0,2}[ \t]*+(\S[^\n]*+)")
# Yandex Mail writes no "From:" but the date and the author under its "Пересылаемое сообщение" line:
# '05.01.2026, 10:00, "Ольга Зима" <olga@firma.ru>:'.
_DATED_AUTHOR = re.compile(r"(?m)^[ \t>]*\d{1,2}\.\d{1,2}\.\d{2,4},?[ \t]+\d{1,2}:\d{2}(?::\d{2})?,[ \t]*+(\S[^\n]*+)")
# (Possessive, and the '@' and the closing ':' looked for in the line found: with backtracking, a line of
# thousands of '@' took seconds.)
_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]")
# The other lines of a forwarded message's header block (before or after its "From:", as mail programs order
# them), by the names they are shown under: the forwarded message's subject, and a list's or a bulk mailer's
# headers where the program shows them all. Kept so the forwarded message is judged as the attached one is.
_INLINE_HEADER = re.compile(r"^[ \t>]*\*{0,2}([^\n:*]{1,30}?)\*{0,2}[ \t]*:[ \t]*\*{0,2}[ \t]*([^\n]*?)\r?$")
_INLINE_HEADER_NAMES = {
    "subject": "Subject", "temat": "Subject", "тема": "Subject", "betreff": "Subject", "objet": "Subject",
    "asunto": "Subject", "onderwerp": "Subject",
    "list-unsubscribe": "List-Unsubscribe", "list-id": "List-Id", "precedence": "Precedence",
    "auto-submitted": "Auto-Submitted",
}
_INLINE_OTHER_NAMES = frozenset({"date", "sent", "to", "cc", "reply-to", "data", "wysłano", "do", "dw", "kopia",
                                 "дата", "отправлено", "кому", "копия", "datum", "gesendet", "an", "envoyé", "à",
                                 "enviado", "para", "aan", "verzonden"})


def _inline_headers(lines: list[str]) -> tuple[list[str], int]:
    """The headers ("Name: value") that the lines start with, and how many lines they take."""
    found: list[str] = []
    taken = 0
    for line in lines[:20]:
        match = _INLINE_HEADER.match(line)
        label = match.group(1).strip().casefold() if match else ""
        if not match or (label not in _INLINE_HEADER_NAMES and label not in _INLINE_OTHER_NAMES):
            break
        taken += 1
        name, value = _INLINE_HEADER_NAMES.get(label), match.group(2).strip()
        if name and value:
            found.append(f"{name}: {value[:900]}")
    return found, taken


def _author_line(head: str) -> tuple[re.Match[str] | None, str]:
    """The first "From:" line with an address (else Yandex's dated author line), and the author it names."""
    for match in _INLINE_FROM.finditer(head):
        line = match.group(1).rstrip()
        if "@" in line:
            return match, _MAILTO.sub(r"<\1>", line).replace("*", "").strip()
    for match in _DATED_AUTHOR.finditer(head):
        line = match.group(1).rstrip()
        if "@" in line and line.endswith(":"):
            return match, line[:-1].strip()
    return None, ""


def _inline_forward(text: str) -> ParsedMail | None:
    """The message a forward carries in its text (Gmail's default forward), read from its first "From:" line
    on: its author, subject, list headers where shown, and text, as an attached one's."""
    match, author = _author_line(text[:20_000])
    if match is None:
        return None
    before = text[:match.start()].splitlines()
    above, _ = _inline_headers(before[::-1][1:] if before and not before[-1].strip() else before[::-1])
    after = text[match.end():match.end() + 50_000].lstrip("\r").removeprefix("\n").split("\n")
    below, taken = _inline_headers(after)
    headers = "".join(f"{h}\r\n" for h in [*above, *below] if not h.startswith("From:"))
    rest = "\n".join(after[taken:])
    try:
        return parse_message(f"From: {author}\r\n{headers}\r\n{rest}".encode("utf-8", "replace"), forwards=False)
    except Exception:  # noqa: BLE001 - not a message after all
        return None


# How deep parts may nest to be read: a forward of a forward … 60 times over (each a message/rfc822 holding a
# multipart) is 120 levels; a person's chain of forwards is 20 to 50. The standard parser recurses for each level
# (past about 900: RecursionError) and compares every line with every open boundary (quadratic: 400 levels, 2 s).
MAX_MIME_DEPTH = 128
# A header that may open a level: a multipart's boundary or an attached message. Mail with fewer of them than
# MAX_MIME_DEPTH cannot nest deeper; mail with more (a digest of a hundred messages too) is read by
# _depth_capped_message. (Counted in the first 25 MB: Gmail's limit.)
_NESTING_HEADER = re.compile(rb"(?i)\bboundary\s*=|content-type:\s*message/")
MAX_MIME_DEPTH_SCAN = 26_000_000


def _depth_capped_message(raw: bytes) -> EmailMessage:
    """The message parsed level by level, without recursion: each part's headers alone, a multipart's body cut
    at its boundary's delimiter lines, an attached message's body parsed as a message, a leaf by the standard
    parser, down to MAX_MIME_DEPTH. A multipart or attached message deeper than that is kept empty (its inner
    parts are not read; a defect says so). Each level is one pass over its bytes in C (a regular expression,
    slices): MAX_MIME_DEPTH passes at most."""
    headers_only = BytesParser(policy=PARSE_POLICY)
    root = EmailMessage()
    pending: list[tuple[Message | None, int, bytes, int]] = [(None, 0, raw, 0)]
    while pending:
        parent, at, data, depth = pending.pop()
        head, body = _head_and_body(data)
        part: Message = headers_only.parsebytes(head, headersonly=True)
        ctype = part.get_content_type()
        boundary = part.get_boundary() if part.get_content_maintype() == "multipart" else None
        chunks = _multipart_chunks(body, boundary) if boundary else [body]
        if not chunks or (not boundary and ctype not in ("message/rfc822", "message/global")):
            # A leaf, or a multipart whose delimiters never come: the standard parser's, no levels below it.
            part = email.message_from_bytes(data, policy=PARSE_POLICY)
        elif depth >= MAX_MIME_DEPTH:
            part.set_payload([] if boundary else "")
            root.defects.append(errors.MessageDefect(f"parts nested deeper than {MAX_MIME_DEPTH} levels: not read"))
        else:
            part.set_payload([None] * len(chunks))
            pending.extend((part, index, chunk, depth + 1) for index, chunk in reversed(list(enumerate(chunks))))
        if parent is None:
            root = part  # type: ignore[assignment]
        else:
            parent.get_payload()[at] = part
    return root


def _head_and_body(data: bytes) -> tuple[bytes, bytes]:
    """A part's header block and its body (after the first empty line; a part may have no headers)."""
    if data.startswith((b"\r\n", b"\n")):
        return b"", data[2 if data.startswith(b"\r\n") else 1:]
    end = _HEADER_END.search(data)
    return (data, b"") if end is None else (data[:end.start()], data[end.end():])


def _multipart_chunks(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body, between its delimiter lines (RFC 2046 5.1.1: the line break before a
    delimiter is the delimiter's); a part the closing delimiter never ended runs to the end. Found by
    bytes.find: a multiline regular expression tries every position."""
    marker = b"--" + boundary.encode("ascii", "surrogateescape")
    cuts: list[tuple[int, int, bool]] = []  # (line start, line end, closing) of each delimiter line; [] for none
    at = 0 if body.startswith(marker) else body.find(b"\n" + marker) + 1
    while at > 0 or (at == 0 and body.startswith(marker)):
        line_end = body.find(b"\n", at)
        line_end = len(body) if line_end < 0 else line_end + 1
        rest = body[at + len(marker):line_end]
        closing = rest.startswith(b"--")
        if not (rest[2:] if closing else rest).strip(b" \t\r\n"):
            cuts.append((at, line_end, closing))
        following = body.find(b"\n" + marker, line_end - 1)
        at = following + 1 if following >= 0 else -1
    chunks: list[bytes] = []
    for (_, end, closing), following in zip(cuts, [*cuts[1:], None], strict=False):
        if closing:
            break  # what follows is the epilogue
        chunk = body[end:following[0]] if following is not None else body[end:]
        if following is not None:
            chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1] if chunk.endswith(b"\n") else chunk
        chunks.append(chunk)
    return chunks


def parse_message(raw: bytes, *, internal_date_ms: int | None = None, fallback_id: str = "",
                  forwards: bool = True) -> ParsedMail:
    """Parse one message. Raises MimeError only for input that is not a message at all."""
    if not raw or not raw.strip():
        raise MimeError("empty message")
    if raw.count(b"\n--") > MAX_BOUNDARY_LINES:
        # The standard parser takes about a millisecond a part: 50,000 empty parts (1.5 MB) held a sync for 43 s,
        # and Gmail's 25 MB would hold it past the account's lease. No person's mail has that many.
        raise MimeError(f"more than {MAX_BOUNDARY_LINES:,} MIME boundary lines: not read")
    try:
        if len(_NESTING_HEADER.findall(raw, 0, MAX_MIME_DEPTH_SCAN)) > MAX_MIME_DEPTH:
            msg = _depth_capped_message(raw)
        else:
            msg = email.message_from_bytes(raw, policy=PARSE_POLICY)  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything escaping it is a quarantine
        raise MimeError(f"unparseable MIME: {type(exc).__name__}: {exc}") from exc
    if not msg.keys():
        raise MimeError("no headers: not an RFC 822 message")
    if _lost_parts(msg):
        # Mended in turn while the parts stay lost: an unquoted boundary quoted, then the boundary the delimiter
        # lines use written in (an unquoted one can be the wrong one too).
        source = raw
        for mend in (lambda data, _: _UNQUOTED_BOUNDARY.sub(rb'\1"\2"', data), _with_found_boundary):
            mended = mend(source, msg)
            if not mended or mended == source:
                continue
            try:
                msg = email.message_from_bytes(mended, policy=PARSE_POLICY)  # type: ignore[assignment]
            except Exception:  # noqa: BLE001 - read as it was
                continue
            source = mended
            if not _lost_parts(msg):
                break

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    others: list[str] = []
    try:
        _walk(msg, texts, htmls, attachments, others)
    except Exception as exc:  # noqa: BLE001
        raise MimeError(f"unreadable MIME structure: {type(exc).__name__}: {exc}") from exc

    html_raw = "\n".join(h for h in htmls if h)
    # Counted once (a pass over the whole body), for its text and its sanitising.
    html_deep = too_deep(html_raw)
    text = "\n\n".join(t for t in texts if t and t.strip()).strip()
    if not text and html_raw:
        text = html_to_text(html_raw, deep=html_deep)
    if not text:
        text = "\n\n".join(t for t in others if t and t.strip()).strip()
    if not text and any(_is_tnef(a.mime_type, a.filename) for a in attachments):
        text = _tnef_text(msg)
    text = text.replace("\x00", "")[:MAX_TEXT_CHARS]

    message_id = normalize_message_id(_header(msg, "message-id"))
    fallback = not message_id
    if fallback:
        # Stable across mailboxes and reruns: the same bytes give the same id.
        message_id = fallback_id or f"sha256:{hashlib.sha256(raw).hexdigest()[:40]}"

    date = _date(msg)
    received = None
    if internal_date_ms:
        try:
            received = datetime.fromtimestamp(int(internal_date_ms) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):
            received = None  # an internalDate outside the years datetime holds: no date rather than no message
    if received is not None and (date is None or date > received + DATE_AHEAD_OF_ARRIVAL):
        # Mail is not written after it arrived: such a Date is a sender's clock set wrong (spam dated 2099).
        date = received
    authors = _addresses(msg, "from")
    sent_by = (_addresses(msg, "sender") or [None])[0]
    senders = authors or _addresses(msg, "sender") or _addresses(msg, "return-path")
    if len(authors) > 1 and sent_by is not None:
        # Several authors: the one Sender names sent it (RFC 5322 3.6.2), not whoever is listed first.
        senders = [a for a in authors if a.address.lower() == sent_by.address.lower()] or senders
    headers = {name: _header(msg, name)[:1000] for name in KEPT_HEADERS if _header(msg, name)}
    return ParsedMail(
        message_id=message_id[:400],
        message_id_is_fallback=fallback,
        in_reply_to=(_message_ids(_header(msg, "in-reply-to")) or [""])[0],
        references=_message_ids(_header(msg, "references"))[-50:],
        sender=senders[0] if senders else None,
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        date=date,
        subject=one_line(_header(msg, "subject"))[:1000],
        text=text,
        html=sanitize_html(html_raw, deep=html_deep)[:1_900_000] if html_raw else "",
        snippet=latest_reply(text),
        attachments=attachments,
        headers=headers,
        defects=[type(d).__name__ for d in getattr(msg, "defects", [])][:20],
        reply_to=_addresses(msg, "reply-to")[:5],
        bcc=_addresses(msg, "bcc")[:200],
        authors=authors[:20],
        sent_by=sent_by,
        forwarded=_forwarded(msg) + _inline_forwards(text, _header(msg, "subject")) if forwards else [],
        calendar_method=_calendar_method(msg),
    )


def _inline_forwards(text: str, subject: str) -> list[ParsedMail]:
    if not _FORWARD_SUBJECT.match(subject or "") and (_REPLY_SUBJECT.match(subject or "")
                                                      or not _FORWARD_LINE.search(text[:20_000])):
        return []
    inline = _inline_forward(text)
    return [inline] if inline is not None and inline.sender is not None else []

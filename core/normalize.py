"""Pure normalisation of identifiers and names. No I/O beyond reading packaged word lists once.

Every function here is deterministic (so the hot ones are memoised) and table-tested (tests/core/test_normalize.py). Values produced
here are what the store keys identities on, so changing one is a data migration.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cache, lru_cache
from importlib import resources
from urllib.parse import unquote, urlsplit

import idna
import phonenumbers
from anyascii import anyascii
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import LOCAL_PART_MAX_LENGTH

__all__ = [
    "InvalidIdentifier",
    "PlaceholderIdentifier",
    "NormalizedEmail",
    "normalize_email",
    "normalize_emails",
    "normalize_phone",
    "normalize_linkedin_url",
    "clean_display_name",
    "fold_name",
    "name_tokens",
    "name_spelling",
    "name_skeleton",
    "normalize_company",
    "is_freemail_domain",
    "is_role_localpart",
]


# Identifiers one field may list ("a@x.pl, b@y.pl", "601 … / 602 …"): a person has a few; a field of hundreds is
# not a person's, and each would become an identity.
MAX_PER_FIELD = 10


class InvalidIdentifier(ValueError):
    """The raw value cannot be turned into an identifier of the asked kind."""


class PlaceholderIdentifier(InvalidIdentifier):
    """The raw value is what people type when a form insists ("000 000 000"): no one's identifier, and no error of
    the record's either (the API and imports take the record without it, with a warning)."""


def _word_list(name: str) -> frozenset[str]:
    text = resources.files("core.data").joinpath(name).read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@cache
def _freemail() -> frozenset[str]:
    return _word_list("freemail_domains.txt")


@cache
def _role_localparts() -> frozenset[str]:
    return _word_list("role_localparts.txt")


# --------------------------------------------------------------------------- email

_GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}
# Every Yandex mailbox receives mail at the same login on each of these domains (Yandex's help, mailbox aliases).
_YANDEX_DOMAINS = {"yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua"}
_ANGLE_ADDR = re.compile(r"<([^<>]+)>\s*$")
# A word with an "@" in a text around an address: what quotes, brackets, spaces and list punctuation enclose.
_ADDRESS_WORD = re.compile(r"[^\s<>()\[\]\"'«»“”„,;:]+@[^\s<>()\[\]\"'«»“”„,;:]+")


def _without_invisible(text: str) -> str:
    """The text without Unicode format characters (zero-width space, byte-order mark, soft hyphen, direction
    marks): copied from web pages, phone address books and spreadsheets they ride along unseen, and in an
    identifier they make the same address or profile a different key. None of them belongs in one."""
    if text.isprintable():  # (no control or format characters: nearly every value)
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


@dataclass(frozen=True)
class NormalizedEmail:
    value: str  # the key identities are stored under
    domain: str  # ASCII (IDNA) domain
    is_role: bool  # a shared mailbox: weak evidence of identity
    is_freemail: bool  # a consumer provider: not a company domain


# A local part in quotes ("jan kowalski"@firma.pl) is an address: RFC 5321 (4.1.2) has Local-part = Dot-string /
# Quoted-string, and asks senders to deliver to it, though no one should make new ones. email-validator refuses it
# unless asked; asked, it drops quotes that quote nothing a dot-atom cannot hold ("jan.kowalski"@ is
# jan.kowalski@, the same mailbox by RFC 5321), and keeps the others ("jan kowalski" with its quotes).
_EMAIL_RULES = {"check_deliverability": False, "allow_smtputf8": True, "allow_quoted_local": True}


@lru_cache(maxsize=65536)
def normalize_email(raw: str | None) -> NormalizedEmail:
    """Trim, unwrap `Name <addr>` and mailto:, validate, lowercase, IDNA the domain.

    gmail.com and googlemail.com ignore dots and +tags in the local part, so those are removed; Yandex's
    domains (ya.ru, yandex.com, .by, .kz, .ua) are one mailbox, kept as yandex.ru.
    """
    if raw is None:
        raise InvalidIdentifier("email is empty")
    text = _without_invisible(str(raw)).strip()
    match = _ANGLE_ADDR.search(text)
    if match:
        text = match.group(1).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:].split("?", 1)[0]
    text = text.strip().strip(".,;")
    if not text:
        raise InvalidIdentifier("email is empty")
    try:
        checked = validate_email(text, **_EMAIL_RULES)
    except EmailNotValidError as exc:
        enclosed = _enclosed_address(text)
        if enclosed is None:
            raise InvalidIdentifier(f"not a valid email address: {exc}") from None
        try:
            checked = validate_email(enclosed, **_EMAIL_RULES)
        except EmailNotValidError:
            raise InvalidIdentifier(f"not a valid email address: {exc}") from None
    # (email-validator checks the local part's length only in its strict mode, and in characters: SMTP counts bytes)
    written_local = checked.normalized.rpartition("@")[0]
    if (octets := len(written_local.encode("utf-8"))) > LOCAL_PART_MAX_LENGTH:
        raise InvalidIdentifier(f"not a valid email address: {octets} bytes before the @-sign, more than the "
                                f"{LOCAL_PART_MAX_LENGTH} a mail server must take (RFC 5321 4.5.3.1.1)")
    domain = (checked.ascii_domain or checked.domain).lower()
    local = checked.local_part.lower()
    if domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    elif domain in _YANDEX_DOMAINS:
        domain = "yandex.ru"
    if _latin_local(local) in _PLACEHOLDER_LOCALPARTS:
        raise PlaceholderIdentifier(f"{local}@ says there is no address ('none'), it is no one's")
    return NormalizedEmail(
        value=f"{local}@{domain}",
        domain=domain,
        is_role=is_role_localpart(local),
        is_freemail=is_freemail_domain(domain),
    )


_ENCLOSING = "<>()[]\"'«»“”„,;:"


def _enclosed_address(text: str) -> str | None:
    """The one address in a text that is not one, when quotes, brackets or a label set it apart: pasted with
    what surrounded it, "jan@firma.pl (Jan)" (an old mail header's comment), "'jan@firma.pl'", "(jan@firma.pl)",
    "jan@firma.pl>", "E-mail: jan@firma.pl". Not after a bare word ("jan kowalski@firma.pl" is a typo, and
    "kowalski@firma.pl" may be somebody else's address)."""
    found = list(_ADDRESS_WORD.finditer(text))
    if len(found) != 1:
        return None
    before, after = text[: found[0].start()].rstrip(), text[found[0].end():].lstrip()
    if (before and before[-1] not in _ENCLOSING) or (after and after[0] not in _ENCLOSING):
        return None
    if before[-2:-1].isalnum() and before[-1:] == '"' and before == text[: found[0].start()]:
        return None  # '"jan"kowalski@…': a quoted word glued to the address is half its local part, not a label
    return found[0].group()


def normalize_emails(raw: str | None) -> list[NormalizedEmail]:
    """The addresses of one field: one (normalize_email), or several that a CRM export or spreadsheet cell lists
    ("jan@firma.pl, j.kowalski@gmail.com", "Jan <jan@firma.pl>; Biuro <biuro@firma.pl>"), each an address of the
    same person. Parts without an "@" are a display name's pieces ("Kowalski, Jan <jan@firma.pl>"), not
    addresses; a field with two or more addresses is refused when any of them is not valid."""
    text = _without_invisible(str(raw or ""))
    if "," in text or ";" in text:
        listed = [address for _, address in getaddresses([text.replace(";", ",")]) if "@" in address]
        if len(listed) > MAX_PER_FIELD:
            raise InvalidIdentifier(f"more than {MAX_PER_FIELD} addresses in one field")
        if len(listed) >= 2:
            emails = {}
            for address in listed:  # (one that is not an address raises; "brak@brak.pl" beside real ones is left out)
                try:
                    email = normalize_email(address)
                except PlaceholderIdentifier:
                    continue
                emails[email.value] = email
            if not emails:
                raise PlaceholderIdentifier("only placeholders, no one's address")
            return list(emails.values())
    return [normalize_email(raw)]


def ascii_host(host: str) -> str:
    """A host or mail domain in the form browsers and mail servers resolve it: ASCII lowercased as it is
    (underscores and all), others by UTS #46 without transitional mapping (IDNA 2008): "łódź.pl" is
    "xn--d-uga0v4h.pl" and "straße.de" is "xn--strae-oqa.de", where Python's own "idna" codec (IDNA 2003) says
    "strasse.de", a site the browser never names. Raises idna.IDNAError (a UnicodeError) for a name IDNA refuses."""
    if host.isascii():
        return host.lower()
    return idna.encode(host, uts46=True, transitional=False).decode("ascii")


def is_freemail_domain(domain: str) -> bool:
    return domain.strip().lower().rstrip(".") in _freemail()


_ROLE_WORD_BREAK = re.compile(r"[._-]")
# What people type into an e-mail field that insists, to say they have none ("brak" Polish, "нет" Russian,
# "немає" Ukrainian): "brak@brak.pl", "nie@mam.pl", "нет@нет.ru", "noemail@gmail.com". Kept, one such address
# joined everyone who typed it into one contact.
_PLACEHOLDER_LOCALPARTS = frozenset({
    "brak", "nie", "niemam", "nie.mam", "nie-mam", "nieposiadam", "none", "noemail", "no.email", "no-email",
    "no_email", "nomail", "no-mail", "no.mail", "net", "netu", "nema", "nemaie", "nemaye",
})


def _latin_local(local: str) -> str:
    """A local part without its +tag, in Latin letters (`почта` is `pochta`)."""
    text = local.strip().lower().split("+", 1)[0]
    if not text.isascii():
        text = anyascii(unicodedata.normalize("NFC", text)).lower().replace("'", "")
    return text


def is_role_localpart(local: str) -> bool:
    """Whether the part of an address before the "@" names a shared mailbox (role_localparts.txt): the word as it
    is, after a +tag, in Latin letters (`почта@` is `pochta`, `zamówienia@` `zamowienia`), or as the first word
    of a team's several mailboxes (`info.krakow@`, `sales-eu@`, `biuro2@`)."""
    text = _latin_local(local)
    roles = _role_localparts()
    return text in roles or _ROLE_WORD_BREAK.split(text, maxsplit=1)[0].rstrip("0123456789") in roles


# --------------------------------------------------------------------------- phone


# Extension markers phonenumbers does not know: Polish "wew." / "wewn." / "w.", Russian "доп." and "вн." / "внутр.",
# Ukrainian "дод." and "вн." (it knows "ext", "x", "доб"). Left in, Latin letters are read as a vanity number's
# digits ("wew" = 939) and the number comes out wrong; Cyrillic ones make it no number at all.
_EXTENSION_WORDS = re.compile(
    r"(?i)(?<=[\d\s)])\s*,?\s*(?:wewn?\.?|w\.|доп\.?|дод\.?|вн\.|внутр\.?)\s*(?=\d{1,6}\s*$)")
# A label after the number, "(mobile)", "(kom.)", "(biuro)": phonenumbers would read its letters as digits.
_TRAILING_LABEL = re.compile(r"\s*\([^\d()]*\)\s*$")
# Words after the number, "601 234 567 prywatny", "+7 916 123-45-67 WhatsApp", "… Иван": phonenumbers reads Latin
# letters as a vanity number's digits and refuses Cyrillic ones. (Letters joined to the number, "601-CALL-ME",
# stay the number's.)
_TRAILING_WORDS = re.compile(r"(?<=[\d)])\s+[^\W\d_]{2,}(?:[\s,]+[^\W\d_]+)*[.:]?\s*$")
# The country code written out ("+48", "(+48)", "0048"): only then is a zero after it a trunk zero. Without it a
# leading zero is a neighbour's domestic prefix (Ukraine's "067 …"), which DOMESTIC_FALLBACK_REGIONS reads.
_WRITTEN_COUNTRY = re.compile(r"\s*\(?\s*(?:\+|00)")
# The first users' neighbours write numbers the domestic way: Russia and Kazakhstan "8 (916) 123-45-67",
# Belarus "8 029 …", Ukraine "067 …", Poland "601 234 567". A number that cannot be one of the default region's
# is tried as theirs, in this order, and kept only where it is a valid number.
# "Cannot be one of the default region's" means not a valid number there. Ukraine before Belarus: a 0 before the
# code is how every Ukrainian number is written ("044 123 45 67", Kyiv), and Belarus's domestic prefix is 8
# ("8 044 …"), so the few codes valid in both (044, 033) are Ukraine's without the 8 and Belarus's with it.
DOMESTIC_FALLBACK_REGIONS = ("PL", "RU", "UA", "BY")


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, default_region: str = "PL") -> str:
    """E.164 form of a phone number; numbers without a country code take `default_region` (or, when they cannot
    be one of its numbers, a neighbour's: DOMESTIC_FALLBACK_REGIONS). An extension is not part of the key."""
    if raw is None or not str(raw).strip():
        raise InvalidIdentifier("phone is empty")
    text = str(raw).strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    text = _as_written_by_hand(text)
    text = _EXTENSION_WORDS.sub(" ext. ", _TRAILING_WORDS.sub("", _TRAILING_LABEL.sub("", text)))
    region = (default_region or "PL").upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(f"not a phone number: {exc}") from None
    if _WRITTEN_COUNTRY.match(text):
        number = _without_written_trunk_zero(number)
    if text.lstrip().startswith("+"):
        number = number if phonenumbers.is_possible_number(number) else None  # the country is written: one reading
    elif not phonenumbers.is_valid_number(number):
        # A neighbour's valid number before the default region's merely possible one (a range phonenumbers
        # does not know yet keeps its old reading); then the domestic trunk zero Poland dialled until 2005,
        # still written ("0 601 234 567", "(0-22) 123 45 67"): a second key for the same number otherwise.
        without_zero = _without_written_trunk_zero(number)
        number = (
            _domestic_elsewhere(text, region)
            or (without_zero if phonenumbers.is_valid_number(without_zero) else None)
            or (number if phonenumbers.is_possible_number(number) else None)
        )
    if number is None:
        raise InvalidIdentifier("not a possible phone number for its country")
    if _is_placeholder(phonenumbers.national_significant_number(number)):
        raise PlaceholderIdentifier("a placeholder (one digit over and over, or a run like 123456789), no one's number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_placeholder(digits: str) -> bool:
    """"000 000 000", "111 111 111", "123 456 789", "987 654 321": what people type when a form insists on a
    number. Kept, it is one strong identifier shared by everyone who typed it, and joins them all into one."""
    return len(set(digits)) == 1 or (len(digits) >= 7 and (digits in "01234567890123" or digits in "98765432109876"))


# A number a spreadsheet holds as a number and writes as one: with a zero fraction ("48601234567.0", as pandas
# writes a column with an empty cell in it; "601234567,00" from Polish Excel), or in scientific notation
# ("4.8601234567E+10"). The fraction's zero was read as one more digit of the number.
_ZERO_FRACTION = re.compile(r"^(\+?\d{5,})[.,]0+$")
_SCIENTIFIC = re.compile(r"^(\d)[.,](\d+)[eE]\+?(\d{1,2})$")


def _as_written_by_hand(text: str) -> str:
    """The digits of a phone number a spreadsheet wrote as a number (see _ZERO_FRACTION). In scientific notation
    only when every digit is there: Excel writes "4.86012E+11" for 486012345678, and the digits it dropped
    cannot be told."""
    if zero_fraction := _ZERO_FRACTION.match(text):
        return zero_fraction.group(1)
    if scientific := _SCIENTIFIC.match(text):
        first, rest, exponent = scientific.groups()
        if len(rest) != int(exponent):
            raise InvalidIdentifier("a number in scientific notation, whose last digits the spreadsheet dropped: "
                                    "format the column as text and export it again")
        return first + rest
    return text


# Between the numbers of one field: "601 234 567 / 602 345 678", "…, …", "… lub …" (Polish), "… или …" (Russian).
_PHONE_LIST_SEPARATOR = re.compile(r"\s*(?:[/,;|]|\s(?:or|lub|albo|или)\s)\s*", re.IGNORECASE)


def normalize_phones(raw: str | None, default_region: str = "PL") -> list[str]:
    """E.164 forms of the numbers in one field: one (normalize_phone), or several that a spreadsheet cell or form
    field lists ("601 234 567 / 602 345 678"), each a number on its own. A field whose parts are not all numbers
    is refused as one number would be ("22/123 45 67" is one number, and is read as one)."""
    try:
        return [normalize_phone(raw, default_region)]
    except InvalidIdentifier:
        parts = [p for p in _PHONE_LIST_SEPARATOR.split(str(raw or "")) if p.strip()]
        if len(parts) < 2:
            found = _numbers_side_by_side(str(raw or ""), default_region)
            if found is None:
                raise
            parts = found
        if len(parts) > MAX_PER_FIELD:
            raise InvalidIdentifier(f"more than {MAX_PER_FIELD} numbers in one field") from None
        numbers = []
        for part in parts:  # (the first part that is no number raises; a placeholder beside real numbers is left out)
            try:
                numbers.append(normalize_phone(part, default_region))
            except PlaceholderIdentifier:
                continue
        if not numbers:
            raise PlaceholderIdentifier("only placeholders, no one's number") from None
        return list(dict.fromkeys(numbers))


def _numbers_side_by_side(text: str, default_region: str) -> list[str] | None:
    """The numbers of a field that lists them with only spaces between ("600100200 601200300", "+48 601 234 567
    +7 916 123 45 67"), as phonenumbers' PhoneNumberMatcher finds them: each a valid number of the default region
    or, failing that, of one of DOMESTIC_FALLBACK_REGIONS, and nothing but spaces and punctuation left beside
    them (a digit or a word left over is a number misread, and the field is refused as it was). None when the
    field is not two or more such numbers. Numbers grouped in threes with spaces ("601 234 567 602 345 678")
    cannot be told apart this way, and are not split."""
    if len(text) > 64 * MAX_PER_FIELD:
        return None
    regions = dict.fromkeys([(default_region or "PL").upper(), *DOMESTIC_FALLBACK_REGIONS])
    for region in regions:
        matches = list(phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID))
        if len(matches) < 2:
            continue
        left, end = [], 0
        for match in matches:
            left.append(text[end:match.start])
            end = match.end
        left.append(text[end:])
        if any(ch.isalnum() for part in left for ch in part):
            continue
        return [match.raw_string for match in matches]
    return _grouped_numbers(text.split(), default_region)


# Groups of digits a field may split into numbers (_grouped_numbers): 2**11 ways to try at most.
MAX_GROUPS = 12


def _grouped_numbers(groups: list[str], default_region: str) -> list[str] | None:
    """Numbers written in groups of digits, one after another with only spaces between ("601 234 567 602 345 678",
    "22 123 45 67 601 234 567"), which PhoneNumberMatcher does not split: the one way of cutting the groups into
    two or more runs that are each a valid number (normalize_phone, then phonenumbers' is_valid_number). None
    when there is no such way, or more than one (which number is which cannot be told)."""
    if not 2 <= len(groups) <= MAX_GROUPS or not all(group.isdigit() or group.startswith("+") for group in groups):
        return None

    @cache
    def valid(start: int, end: int) -> bool:
        try:
            number = normalize_phone(" ".join(groups[start:end]), default_region)
        except InvalidIdentifier:
            return False
        return phonenumbers.is_valid_number(phonenumbers.parse(number))

    found: list[list[str]] = []

    def cut(start: int, runs: list[str]) -> None:
        if len(found) > 1:
            return
        if start == len(groups):
            if len(runs) >= 2:
                found.append(runs)
            return
        for end in range(start + 1, len(groups) + 1):
            if valid(start, end):
                cut(end, [*runs, " ".join(groups[start:end])])

    cut(0, [])
    return found[0] if len(found) == 1 else None


def _without_written_trunk_zero(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    """"+48 (0)22 123 45 67", "0048 0 601 234 567": the domestic trunk zero written after the country code, as
    business cards across Europe do. phonenumbers drops it for countries that dial one (the UK, Germany,
    Ukraine) but keeps it where none is dialled any more (Poland since 2005), which makes the same number a
    second key. Dropped when the number is not valid with it and is valid without it (an Italian landline,
    whose zero is part of the number, stays as it is)."""
    if not number.italian_leading_zero or phonenumbers.is_valid_number(number):
        return number
    without = phonenumbers.PhoneNumber()
    without.merge_from(number)
    without.italian_leading_zero = None
    without.number_of_leading_zeros = None
    return without if phonenumbers.is_valid_number(without) else number


def _domestic_elsewhere(text: str, default_region: str) -> phonenumbers.PhoneNumber | None:
    for region in DOMESTIC_FALLBACK_REGIONS:
        if region == default_region:
            continue
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


# --------------------------------------------------------------------------- linkedin

# LinkedIn's public profile names are 3 to 100 characters; "/in/me" is the signed-in viewer's own profile.
# They are letters (of any script), digits and hyphens (member ids: also "_"): never a control character, markup,
# a quote, a backslash, a "%" left after decoding, or U+FFFD (percent-encoded bytes that were no UTF-8).
_LINKEDIN_SLUG = re.compile(r"^[^/?#\s\x00-\x1f\x7f<>\"`%\\\ufffd]{3,200}$")
# What forms show as an example and people copy: no one's profile (any real owner of these names is one of
# thousands of records that cite it), and as an identifier it joined everyone who copied it.
_LINKEDIN_PLACEHOLDERS = frozenset({
    "yourname", "your-name", "yourprofile", "your-profile", "username", "user-name", "your-username", "profile",
    "name", "firstname-lastname", "first-last", "imie-nazwisko", "imienazwisko", "twojprofil", "twoj-profil",
    "twoje-imie", "login", "xxx", "xxxx", "example",
})


# A profile's member id in place of its public name: Sales Navigator's "View LinkedIn profile", the mobile app's
# "share profile" and many scrapers give linkedin.com/in/ACoAAB… (LinkedIn redirects it to the public name, which
# only a signed-in request can learn). Its letters are base64: case-sensitive, so kept as written (lowercased,
# two members' ids could become one key), and never equal to a public name, which is lowercase.
_LINKEDIN_MEMBER_ID = re.compile(r"^AC[a-zA-Z]AA[A-Za-z0-9_-]{20,}$")
_OLD_PUBLIC_PROFILE = re.compile(r"(?i)^pub/(?!dir/)([^/]+)/([0-9a-f]{1,3})/([0-9a-f]{1,3})/([0-9a-f]{1,3})(?:/.*)?$")


def normalize_linkedin_url(raw: str | None) -> str:
    """Canonical `linkedin.com/in/<slug>` from any form of a public profile URL.

    Accepts scheme-less URLs, country subdomains (pl., ru., www., m.), trailing paths
    (/details/..., /en, /recent-activity), queries, fragments, percent-encoding and any case, and the public
    profile URLs of before 2013 (/pub/<name>/<a>/<b>/<c>), which old CRM exports still hold.
    """
    if raw is None or not str(raw).strip():
        raise InvalidIdentifier("linkedin url is empty")
    # (see core.ingest.extract_identities on NUL in identifiers)
    text = _without_invisible(str(raw).replace("\x00", "")).strip()
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidIdentifier("not a URL") from None
    host = (parts.hostname or "").lower()
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        raise InvalidIdentifier("not a linkedin.com URL")
    path = parts.path
    for _ in range(3):  # encoded twice over (a spreadsheet or CRM that encoded the URL again): until it is plain
        path, encoded = unquote(path), path
        if path == encoded:
            break
    segments = [s for s in _without_invisible(path).split("/") if s]  # (an invisible one may come encoded too)
    if segments and segments[0] in {"mwlite", "m"}:
        segments = segments[1:]
    old_public = _OLD_PUBLIC_PROFILE.match("/".join(segments))
    if old_public:
        # Public profile URLs before 2013: /pub/<name>/<a>/<b>/<c> is /in/<name>-<c><b><a> today (LinkedIn
        # redirects so), each of c and b written with three hex digits.
        name, a, b, c = old_public.groups()
        segments = ["in", f"{name}-{c.zfill(3)}{b.zfill(3)}{a}"]
    if len(segments) < 2 or segments[0].lower() != "in":
        raise InvalidIdentifier("not a LinkedIn profile URL (expected /in/<name>)")
    slug = unicodedata.normalize("NFC", segments[1]).strip()
    if not _LINKEDIN_MEMBER_ID.match(slug):
        slug = slug.lower()
    if not _LINKEDIN_SLUG.match(slug):
        raise InvalidIdentifier("LinkedIn profile name is malformed")
    if slug in _LINKEDIN_PLACEHOLDERS:
        raise PlaceholderIdentifier(f"linkedin.com/in/{slug} is a form's example, no one's profile")
    return f"linkedin.com/in/{slug}"


# --------------------------------------------------------------------------- names

_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def clean_display_name(raw: str | None) -> str:
    """The name as the person wrote it, NFKC-normalised, whitespace collapsed, quotes trimmed, control and format
    characters left out (a joiner that joins stays: _JOINERS)."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    if not text.isprintable():  # (a printable text has no control, format or unassigned characters: most names)
        # A line break or a tab (a spreadsheet cell over two lines) separates words: a space, not nothing.
        joiners = _JOINER_RUN.sub(_joiner_kept, text) if "\u200c" in text or "\u200d" in text else text
        text = "".join(" " if ch.isspace() else ch for ch in joiners
                       if ch.isspace() or ch in _JOINERS or unicodedata.category(ch)[0] != "C")
    if "@" in text:
        # An address is not a name: mail clients write `"jan@firma.pl" <jan@firma.pl>` and `Jan Kowalski
        # (jan@firma.pl)`; kept, the person is shown (and fuzzily matched) as "jan@firma.pl".
        text = _EMPTY_BRACKETS.sub(" ", _ADDRESS_IN_NAME.sub(" ", text)).strip(" ,;:/|-")
    text = _SPACES.sub(" ", text).strip().strip("\"'").strip()
    return text[:200]


# Zero-width joiner and non-joiner: format characters, and yet spelling where they join. A ZWJ between two emoji
# makes one picture ("👩‍💻" is a woman and a laptop without it, "🏳️‍🌈" a white flag and a rainbow); Persian writes
# a ZWNJ inside words ("مهر‌نوش"), and Indic scripts either after a virama (conjunct or half forms). Anywhere
# else, at either end, doubled or between Latin or Cyrillic letters, they are what a web page left behind.
_JOINERS = frozenset("\u200c\u200d")
_JOINER_RUN = re.compile(r"[\u200c\u200d]+")
# Arabic (with Persian), Syriac, and the Indic blocks from Devanagari to Sinhala: the scripts that join letters.
_JOINING_SCRIPT = re.compile(r"[\u0600-\u074f\u0750-\u077f\u08a0-\u08ff\u0900-\u0dff\ufb50-\ufdff\ufe70-\ufefc]")
_EMOJI_BEFORE = frozenset({"So", "Sk"})  # (a skin tone is Sk; U+FE0F, the emoji presentation selector, is Mn)


def _joiner_kept(run: re.Match[str]) -> str:
    """One joiner for a run of them when it joins (see _JOINERS), else nothing."""
    text, start, end = run.string, run.start(), run.end()
    if start == 0 or end == len(text):
        return ""
    before, after, joiner = text[start - 1], text[end], run.group()[0]
    if (joiner == "\u200d" and unicodedata.category(after) == "So"
            and (before == "\ufe0f" or unicodedata.category(before) in _EMOJI_BEFORE)):
        return joiner
    if _JOINING_SCRIPT.match(before) and _JOINING_SCRIPT.match(after):
        return joiner
    return ""


_ADDRESS_IN_NAME = re.compile(r"(?i)(?:mailto:)?[^\s@<>()\[\]\"',;]+@[^\s@<>()\[\]\"',;]+\.[^\s@<>()\[\]\"',;]+")
_EMPTY_BRACKETS = re.compile(r"[(<\[]\s*[)>\]]")


# (Not Sk: "O´Brien" writes its apostrophe with an acute accent, which NFKC would make a space: read as "'".)
_SYMBOLS = frozenset({"So", "Sm", "Sc"})


@lru_cache(maxsize=65536)
def fold_name(raw: str | None) -> str:
    """Matching form of a name: NFKC, casefold, diacritics folded and Cyrillic transliterated to ASCII.

    For matching only; the shown name stays as written. `Łukasz` and `Lukasz` fold alike,
    `Юрий Ковальский` becomes `yuriy kovalskiy`.
    """
    text = raw or ""
    if not text.isascii():
        # Emoji and other symbols are no part of a name: anyascii spells them out ("😀" as "grinning", "❤️" as
        # "heart") and NFKC "™" as "TM", which made "Jan Nowak 😀" a third word and "😀" a name.
        text = "".join(" " if unicodedata.category(ch) in _SYMBOLS else ch for ch in text).replace("´", "'")
    text = unicodedata.normalize("NFKC", text).casefold()
    # anyascii writes the Cyrillic soft sign as an apostrophe; it is not a word break.
    text = anyascii(text).lower().replace("'", "")
    return " ".join(t for t in _NON_ALNUM.split(text) if t)


def latin_search_text(*texts: str | None) -> str:
    """A contact's name and company in Latin letters without marks (fold_name), for search only: `Петров` is
    found as "petrov", `Łukasz` as "lukasz", `Zielińska` as "inska". Empty when they are written in ASCII, which
    the search reads as written (most names: nothing more to store or index)."""
    if all(text.isascii() for text in texts if text):
        return ""
    return " ".join(folded for text in texts if (folded := fold_name(text)))[:400]


def name_tokens(raw: str | None) -> list[str]:
    """Folded name tokens, without one-letter initials."""
    return [t for t in fold_name(raw).split() if len(t) > 1]


# Spelling variants that transliteration and Polish/English/Russian orthographies disagree on.
_SKELETON_RULES: tuple[tuple[str, str], ...] = (
    ("szcz", "shch"),
    ("sz", "sh"),
    ("cz", "ch"),
    ("rz", "zh"),
    ("kh", "h"),
    ("ph", "f"),
    ("ck", "k"),
    ("x", "ks"),
    ("q", "k"),
    ("w", "v"),
    ("j", "y"),
)
_VOWELS = set("aeiouy")


@lru_cache(maxsize=65536)
def name_spelling(token: str) -> str:
    """One folded token in one spelling of the sounds that transliterations and Polish, English and Russian
    orthographies write differently (w as v, j as y, sz as sh, ...), vowels kept: `iwanow` and `ivanov` are
    `ivanov`, `kowalska` and `kovalska` are `kovalska` (name_skeleton then drops the vowels)."""
    text = token.lower()
    for old, new in _SKELETON_RULES:
        text = text.replace(old, new)
    return text


@lru_cache(maxsize=65536)
def name_skeleton(token: str) -> str:
    """A coarse phonetic key of one folded token, equal across common transliterations.

    `jurij`, `yuriy` and `yuri` share `yr`; `kowalski` and `kovalskiy` share `kvlsk`; `jekatierina`, `yekaterina`
    and `ekaterina` share `ektrn`.
    """
    text = name_spelling(token)
    if text.startswith("ye"):
        text = text[1:]  # Е at a word's start: "yevgeniy" (English), "jewgienij" (Polish), "evgeniy" (folded Cyrillic)
    if not text:
        return ""
    out = [text[0]]
    for ch in text[1:]:
        if ch in _VOWELS or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)


_LEGAL_SUFFIXES = {
    "sp", "z", "o", "oo", "spz", "spzoo", "sa", "sc", "spk", "ska", "spj", "spolka", "ltd", "llc", "inc", "gmbh",
    "ag", "co", "corp", "corporation", "company", "plc", "bv", "nv", "srl", "sro", "ooo", "oao", "zao",
    "pao", "ao", "ip", "limited", "group", "the",
}


@lru_cache(maxsize=65536)
def normalize_company(raw: str | None) -> str:
    """Company name for comparison: folded, without legal-form words (sp. z o.o., LLC, ООО …)."""
    # "S.A." and "sp. z o.o." are abbreviations: drop their dots before splitting into words.
    tokens = [t for t in fold_name((raw or "").replace(".", "")).split() if t not in _LEGAL_SUFFIXES]
    return " ".join(tokens)

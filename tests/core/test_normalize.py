"""Table-driven tests of the pure normalisation functions."""

from __future__ import annotations

import pytest

from core.normalize import (
    InvalidIdentifier,
    clean_display_name,
    fold_name,
    is_freemail_domain,
    name_skeleton,
    normalize_company,
    normalize_email,
    normalize_linkedin_url,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "value", "is_role", "is_freemail"),
    [
        ("jan@firma.pl", "jan@firma.pl", False, False),
        ("  Jan.Kowalski@Firma.PL ", "jan.kowalski@firma.pl", False, False),
        ("Jan Kowalski <Jan.Kowalski@Firma.PL>", "jan.kowalski@firma.pl", False, False),
        ("mailto:jan@firma.pl?subject=hi", "jan@firma.pl", False, False),
        ("J.a.n+crm@gmail.com", "jan@gmail.com", False, True),
        ("jan.kowalski+tag@googlemail.com", "jankowalski@gmail.com", False, True),
        ("Ivan.Petrov@ya.ru", "ivan.petrov@yandex.ru", False, True),
        ("ivan.petrov@Yandex.KZ", "ivan.petrov@yandex.ru", False, True),
        ("jan.kowalski+tag@firma.pl", "jan.kowalski+tag@firma.pl", False, False),  # dots/tags only at Gmail
        ("user@Bücher.de", "user@xn--bcher-kva.de", False, False),
        ("biuro@firma.pl", "biuro@firma.pl", True, False),
        ("Kontakt@firma.pl", "kontakt@firma.pl", True, False),
        ("noreply@service.com", "noreply@service.com", True, False),
        ("info+leads@acme.example", "info+leads@acme.example", True, False),
        ("a.ivanov@yandex.ru", "a.ivanov@yandex.ru", False, True),
        ("kasia@wp.pl", "kasia@wp.pl", False, True),
        ("иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai", False, False),
        # Invisible format characters copied along with the address (zero-width space, byte-order mark, the
        # direction marks phone address books put around a value) are not part of it.
        ("jan@firma.pl\u200b", "jan@firma.pl", False, False),
        ("\ufeffjan@firma.pl", "jan@firma.pl", False, False),
        ("\u202ajan@firma.pl\u202c", "jan@firma.pl", False, False),
        ("jan\u00ad@firma.pl", "jan@firma.pl", False, False),
        # Pasted with what surrounded it: quotes, brackets, an old header's comment, a label. The address was
        # refused and the person's strong identifier lost.
        ("jan@firma.pl (Jan Kowalski)", "jan@firma.pl", False, False),
        ("Jan Kowalski (jan@firma.pl)", "jan@firma.pl", False, False),
        ("'jan@firma.pl'", "jan@firma.pl", False, False),
        ('"Jan@Firma.pl"', "jan@firma.pl", False, False),
        ("«jan@firma.pl»", "jan@firma.pl", False, False),
        ("[jan@firma.pl]", "jan@firma.pl", False, False),
        ("jan@firma.pl>", "jan@firma.pl", False, False),
        ("E-mail: biuro@firma.pl", "biuro@firma.pl", True, False),
        # A quoted local part (RFC 5321's Quoted-string) is an address: refused, the person's identifier was lost.
        # Quotes that quote nothing are dropped (the same mailbox as without them); the others stay.
        ('"jan kowalski"@firma.pl', '"jan kowalski"@firma.pl', False, False),
        ('"Jan Kowalski"@Firma.PL', '"jan kowalski"@firma.pl', False, False),
        ('"jan.kowalski"@firma.pl', "jan.kowalski@firma.pl", False, False),
        ('Jan <"jan kowalski"@firma.pl>', '"jan kowalski"@firma.pl', False, False),
        ('"biuro"@firma.pl', "biuro@firma.pl", True, False),
        # Shared mailboxes written in Cyrillic or with Polish letters, a team's several ones, and the region's
        # consumer providers: they were a person's strong identifier, and their domain company evidence.
        ("почта@firma.ru", "почта@firma.ru", True, False),
        ("Поддержка@firma.ru", "поддержка@firma.ru", True, False),
        ("заявки@фирма.рф", "заявки@xn--80apmps.xn--p1ai", True, False),
        ("zamówienia@firma.pl", "zamówienia@firma.pl", True, False),
        ("bok@firma.pl", "bok@firma.pl", True, False),
        ("info.krakow@firma.pl", "info.krakow@firma.pl", True, False),
        ("sales-eu@acme.example", "sales-eu@acme.example", True, False),
        ("biuro2@firma.pl", "biuro2@firma.pl", True, False),
        ("jan.kowalski@firma.pl", "jan.kowalski@firma.pl", False, False),
        ("janina@firma.pl", "janina@firma.pl", False, False),
        ("іван@firma.ua", "іван@firma.ua", False, False),
        ("olena@bigmir.net", "olena@bigmir.net", False, True),
        ("aigul@mail.kz", "aigul@mail.kz", False, True),
        ("oksana@email.ua", "oksana@email.ua", False, True),
    ],
)
def test_normalize_email(raw: str, value: str, is_role: bool, is_freemail: bool) -> None:
    email = normalize_email(raw)
    assert (email.value, email.is_role, email.is_freemail) == (value, is_role, is_freemail)


@pytest.mark.parametrize("raw", ["", "   ", None, "jan", "jan@", "@firma.pl", "jan@@firma.pl", "jan@localhost", "a b@c.pl",
                                 # A space typed inside the address: "kowalski@firma.pl" may be another person's.
                                 "jan kowalski@firma.pl", "jan@firma.pl Jan", "(jan@firma.pl) (anna@firma.pl)",
                                 "'jan@localhost'", '"jan\\"@firma.pl',
                                 # Half of the local part quoted: "kowalski@firma.pl" is not what was written.
                                 '"jan"kowalski@firma.pl', '"jan""kowalski"@firma.pl'])
def test_normalize_email_rejects(raw: str | None) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_email(raw)


@pytest.mark.parametrize(("raw", "error"), [
    # RFC 5321 4.5.3.1.1: at most 64 octets before the @, counted in UTF-8 (SMTPUTF8 counts bytes).
    ("a" * 65 + "@firma.pl", "65 bytes before the @-sign"),
    ("ł" * 33 + "@firma.pl", "66 bytes before the @-sign"),
    ('"' + "a b" * 22 + '"@firma.pl', "before the @-sign"),
    ("Jan <" + "j" * 65 + "@firma.pl>", "65 bytes before the @-sign"),
    # RFC 5321 4.5.3.1.3 and its erratum: at most 254 octets in all.
    ("a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".plxyyyyyyyy", "too long"),
])
def test_an_address_longer_than_smtp_carries_is_refused(raw: str, error: str) -> None:
    """email-validator checks the local part's length only in its strict mode, and counts characters: an address
    with 65 (or 33 Polish two-byte letters) before the @ was accepted and stored, though no mail server need take it."""
    with pytest.raises(InvalidIdentifier, match=error):
        normalize_email(raw)


@pytest.mark.parametrize("raw", ["a" * 64 + "@firma.pl", "ł" * 32 + "@firma.pl"])
def test_an_address_with_64_octets_before_the_at_is_taken(raw: str) -> None:
    assert normalize_email(raw).value == raw


@pytest.mark.parametrize("raw", ["brak@brak.pl", "BRAK@wp.pl", "nie@mam.pl", "нет@нет.рф", "noemail@gmail.com",
                                 "no-email@firma.pl", "none+x@example.com", "немає@ukr.net"])
def test_an_address_that_says_there_is_none_is_a_placeholder(raw: str) -> None:
    """What people type into an e-mail field that insists: no one's address. As an identifier it joined everyone
    who typed it; the API and imports take the record without it (like a "000 000 000" phone)."""
    from core.normalize import PlaceholderIdentifier, normalize_emails

    with pytest.raises(PlaceholderIdentifier):
        normalize_email(raw)
    assert [e.value for e in normalize_emails(f"jan@firma.pl; {raw}")] == ["jan@firma.pl"]


@pytest.mark.parametrize(("raw", "values"), [
    ("jan@firma.pl", ["jan@firma.pl"]),
    ("jan@firma.pl, j.kowalski@gmail.com", ["jan@firma.pl", "jkowalski@gmail.com"]),  # a CRM export's cell
    ("jan@firma.pl; biuro@firma.pl", ["jan@firma.pl", "biuro@firma.pl"]),
    ("Jan <jan@firma.pl>, Jan K. <jan.k@firma.pl>", ["jan@firma.pl", "jan.k@firma.pl"]),
    ("jan@firma.pl, JAN@FIRMA.PL", ["jan@firma.pl"]),  # the same address twice is one
    ("Kowalski, Jan <jan@firma.pl>", ["jan@firma.pl"]),  # a display name's comma: one address
    ('"Kowalski, Jan" <jan@firma.pl>', ["jan@firma.pl"]),
    ("jan@firma.pl;", ["jan@firma.pl"]),
])
def test_normalize_emails_in_one_field(raw: str, values: list[str]) -> None:
    from core.normalize import normalize_emails

    assert [email.value for email in normalize_emails(raw)] == values


@pytest.mark.parametrize("raw", ["jan@firma.pl, jan@localhost", "jan@firma.pl; a b@c.pl", "", None,
                                 ", ".join(f"a{i}@firma.pl" for i in range(11))])  # not one person's
def test_normalize_emails_refuses_a_field_with_an_invalid_address(raw: str | None) -> None:
    from core.normalize import normalize_emails

    with pytest.raises(InvalidIdentifier):
        normalize_emails(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+48 601 234 567", "PL", "+48601234567"),
        ("601 234 567", "PL", "+48601234567"),
        ("601-234-567", "PL", "+48601234567"),
        ("0048 601 234 567", "PL", "+48601234567"),
        ("(22) 123 45 67", "PL", "+48221234567"),
        ("tel:+48601234567", "PL", "+48601234567"),
        ("+7 (495) 123-45-67", "PL", "+74951234567"),
        ("8 (495) 123-45-67", "RU", "+74951234567"),
        ("+44 20 7946 0958", "PL", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        # Polish extension words (phonenumbers read "wew" as the digits 939); the extension is not in the key.
        ("+48 601-234-567 wew. 12", "PL", "+48601234567"),
        ("22 123 45 67 wewn. 105", "PL", "+48221234567"),
        ("(22) 123 45 67, w. 7", "PL", "+48221234567"),
        ("+7 495 123-45-67 доб. 123", "PL", "+74951234567"),
        # Russian "доп." and "вн.", Ukrainian "дод.": the number was refused, and the person's phone lost.
        ("+7-916-123-45-67 доп. 5", "PL", "+79161234567"),
        ("8 (495) 123-45-67, вн. 204", "PL", "+74951234567"),
        ("+7 495 123 45 67 внутр. 12", "PL", "+74951234567"),
        ("+380 (44) 123-45-67 дод. 12", "PL", "+380441234567"),
        ("+380 44 123 45 67, дод.12", "UA", "+380441234567"),
        # The neighbours' domestic forms, when the number cannot be a Polish one (and the other way round).
        ("8 (916) 123-45-67", "PL", "+79161234567"),
        ("8-916-123-45-67", "PL", "+79161234567"),
        ("89161234567", "PL", "+79161234567"),
        ("8 800 555 35 35", "PL", "+78005553535"),
        ("8 029 123 45 67", "PL", "+375291234567"),
        ("067 123 4567", "PL", "+380671234567"),
        # A Kyiv landline as Ukrainians write it (it was read as a Belarusian mobile, +375 44, and never met the
        # same number written +380 44); with Belarus's domestic 8 it is Belarus's.
        ("044 123 45 67", "PL", "+380441234567"),
        ("(044) 123-45-67", "RU", "+380441234567"),
        ("8 (044) 123-45-67", "PL", "+375441234567"),
        ("8 033 123 45 67", "PL", "+375331234567"),
        ("029 123 45 67", "PL", "+375291234567"),
        ("601 234 567", "RU", "+48601234567"),
        # A number valid in the default region keeps that reading; a written country code is never changed.
        ("500 000 000", "PL", "+48500000000"),
        ("+48 999 123 456", "PL", "+48999123456"),
        # The trunk zero written after the country code, as business cards do; phonenumbers keeps it where no
        # trunk prefix is dialled (Poland), so the same number was a second key. An Italian zero is the number's.
        ("+48 (0)22 123 45 67", "PL", "+48221234567"),
        ("+48 (0) 601 234 567", "PL", "+48601234567"),
        ("0048 0 601 234 567", "PL", "+48601234567"),
        ("(+48) 0 601 234 567", "RU", "+48601234567"),
        ("+44 (0)20 7946 0958", "PL", "+442079460958"),
        ("+39 06 1234 5678", "PL", "+390612345678"),
        ("+39 (0)6 1234 5678", "PL", "+390612345678"),
        # The domestic trunk zero Poland dialled until 2005, still written: the number is the same.
        ("0 601 234 567", "PL", "+48601234567"),
        ("(0-22) 123 45 67", "PL", "+48221234567"),
        ("022 123 45 67", "PL", "+48221234567"),
        # A label after the number (its letters were read as digits).
        ("+48 601 234 567 (mobile)", "PL", "+48601234567"),
        ("601 234 567 (kom.)", "PL", "+48601234567"),
        ("8 916 123-45-67 (моб.)", "PL", "+79161234567"),
        # ... or without brackets: the number was refused (Cyrillic) or read with the word's letters as digits.
        ("601 234 567 prywatny", "PL", "+48601234567"),
        ("+7 916 123-45-67 WhatsApp", "PL", "+79161234567"),
        ("+7 (916) 123-45-67 Иван", "PL", "+79161234567"),
        ("067 123 4567 Viber, Telegram", "PL", "+380671234567"),
        ("22 123 45 67 wew. 12 sekretariat", "PL", "+48221234567"),
        # Invisible characters from phone address books and web pages.
        ("\u202a+48 601 234 567\u202c", "PL", "+48601234567"),
        ("+48 601 234 567\u200b", "PL", "+48601234567"),
        # Numbers a spreadsheet held as numbers: the zero fraction was read as one more digit ("+486012345670").
        ("48601234567.0", "PL", "+48601234567"),
        ("601234567.0", "PL", "+48601234567"),
        ("601234567,00", "PL", "+48601234567"),
        ("79161234567.0", "PL", "+79161234567"),
        ("4.8601234567E+10", "PL", "+48601234567"),
        ("4,8601234567E+10", "PL", "+48601234567"),
        ("7.9161234567e+10", "PL", "+79161234567"),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["4.86012E+10", "4.86012345678E+10", "4.8601234567E+12"])
def test_a_number_whose_digits_a_spreadsheet_dropped_is_refused_saying_so(raw: str) -> None:
    """Excel writes a long number in scientific notation with its last digits dropped ("4.86012E+10"): no
    number can be made of it, and the error says why."""
    with pytest.raises(InvalidIdentifier, match="scientific notation"):
        normalize_phone(raw, "PL")


@pytest.mark.parametrize("raw", ["", None, "abc", "12", "+48 1", "phone me", "wew. 12", "+48 8 916 123 45 67",
                                 # Placeholders typed into a form that insists on a number: no one's number, and
                                 # as an identifier they joined everyone who typed them into one contact.
                                 "000 000 000", "+48 000 000 000", "111-111-111", "123 456 789", "123456789",
                                 "+48 987 654 321", "+7 000 000 00 00", "8 (999) 999-99-99", "0000000000"])
def test_normalize_phone_rejects(raw: str | None) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_phone(raw, "PL")


@pytest.mark.parametrize(("raw", "numbers"), [
    ("601 234 567", ["+48601234567"]),
    ("601 234 567 / 602 345 678", ["+48601234567", "+48602345678"]),
    ("+48 601 234 567, +48 22 123 45 67 wew. 12", ["+48601234567", "+48221234567"]),
    ("601234567; 601 234 567", ["+48601234567"]),  # the same number twice is one
    ("601 234 567 lub 602 345 678", ["+48601234567", "+48602345678"]),
    ("+7 916 123-45-67 или 8 (495) 123-45-67", ["+79161234567", "+74951234567"]),
    ("22/123 45 67", ["+48221234567"]),  # an area code written with a slash: one number
    # Only spaces between them: one "number too long", and the record lost its phone (or, strict, the record).
    ("600100200 601200300", ["+48600100200", "+48601200300"]),
    ("+48 600 100 200  +7 916 123 45 67", ["+48600100200", "+79161234567"]),
    ("+48 600 100 200 / 22 123 45 67", ["+48600100200", "+48221234567"]),
    ("89161234567 89167654321", ["+79161234567", "+79167654321"]),
    # Grouped digits one number after another: the one way of cutting them into valid numbers.
    ("601 234 567 602 345 678", ["+48601234567", "+48602345678"]),
    ("22 123 45 67 601 234 567", ["+48221234567", "+48601234567"]),
    ("+48 601 234 567 +7 916 123 45 67", ["+48601234567", "+79161234567"]),
])
def test_normalize_phones_in_one_field(raw: str, numbers: list[str]) -> None:
    from core.normalize import normalize_phones

    assert normalize_phones(raw, "PL") == numbers


@pytest.mark.parametrize("raw", ["601 234 567 / call me", "a / b", "12 / 34", "601 234 567 / 12",
                                 "600100200 601200300 12", "600100200 Jan 601200300", "600100200 6012003",
                                 "601 234 567 602 345 67", "601 234 567 12 34 56 78 90 12 34 56 78 90",
                                 " / ".join(f"601 234 {i:03d}" for i in range(11))])
def test_normalize_phones_refuses_a_field_whose_parts_are_not_all_numbers(raw: str) -> None:
    from core.normalize import normalize_phones

    with pytest.raises(InvalidIdentifier):
        normalize_phones(raw, "PL")


def test_a_placeholder_beside_real_numbers_is_left_out() -> None:
    from core.normalize import PlaceholderIdentifier, normalize_phones

    assert normalize_phones("601 234 567 / 000 000 000") == ["+48601234567"]
    with pytest.raises(PlaceholderIdentifier):
        normalize_phones("000 000 000 / 123 456 789")


@pytest.mark.parametrize(
    "raw",
    [
        "https://www.linkedin.com/in/jan-kowalski-123/",
        "http://linkedin.com/in/jan-kowalski-123",
        "linkedin.com/in/jan-kowalski-123",
        "www.linkedin.com/in/Jan-Kowalski-123",
        "https://pl.linkedin.com/in/jan-kowalski-123/?originalSubdomain=pl",
        "https://www.linkedin.com/in/jan-kowalski-123/details/experience/",
        "https://www.linkedin.com/in/jan-kowalski-123/en",
        "https://www.linkedin.com/in/jan-kowalski-123#about",
        "https://m.linkedin.com/in/jan-kowalski-123",
        "https://www.linkedin.com/mwlite/in/jan-kowalski-123",
        "  HTTPS://WWW.LINKEDIN.COM/IN/JAN-KOWALSKI-123  ",
        # A zero-width space copied from a web page was kept in the key: a second key for the same profile.
        "https://www.linkedin.com/in/jan-kowalski-123\u200b",
        "\u200bhttps://www.linkedin.com/in/jan-kowalski-123/",
        "\ufeffhttps://www.linkedin.com/in/jan-kowalski-123",
    ],
)
def test_normalize_linkedin_variants_agree(raw: str) -> None:
    assert normalize_linkedin_url(raw) == "linkedin.com/in/jan-kowalski-123"


@pytest.mark.parametrize(("raw", "canonical"), [
    # Public profile URLs before 2013, still in old CRM exports: LinkedIn redirects them to these /in/ names.
    ("https://sy.linkedin.com/pub/krzysztof-marzec/a7/576/b50?trk=biz_employee_pub",
     "linkedin.com/in/krzysztof-marzec-b50576a7"),
    ("https://uk.linkedin.com/pub/abdi-ahmed/100/384/6b0", "linkedin.com/in/abdi-ahmed-6b0384100"),
    ("pl.linkedin.com/pub/Anna-Nowak/1a/2b/c/", "linkedin.com/in/anna-nowak-00c02b1a"),
])
def test_normalize_linkedin_old_public_profile_urls(raw: str, canonical: str) -> None:
    assert normalize_linkedin_url(raw) == canonical


@pytest.mark.parametrize("raw", [
    "https://pl.linkedin.com/in/%C5%82ukasz-w%C3%B3jcik",
    # Encoded twice over (a spreadsheet or CRM encoded the URL again): the escapes were the key, a second lead.
    "https://pl.linkedin.com/in/%25C5%2582ukasz-w%25C3%25B3jcik/",
    "https://pl.linkedin.com/in/%2525C5%252582ukasz-w%2525C3%2525B3jcik",
    # An invisible character that arrives percent-encoded is as invisible as a raw one.
    "https://pl.linkedin.com/in/%C5%82ukasz-w%C3%B3jcik%E2%80%8B",
])
def test_normalize_linkedin_percent_encoded_slug(raw: str) -> None:
    assert normalize_linkedin_url(raw) == "linkedin.com/in/łukasz-wójcik"


@pytest.mark.parametrize("raw", [
    "https://www.linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4",
    "linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4/",
    "HTTPS://PL.LINKEDIN.COM/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4?miniProfileUrn=urn%3Ali%3Afs_miniProfile",
    "https://www.linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4/details/experience/",
])
def test_normalize_linkedin_member_id_urls_keep_the_ids_case(raw: str) -> None:
    """Sales Navigator and "share profile" give /in/<member id>: base64, case-sensitive. Lowercased, two members
    whose ids differ only in case (ACoAAB… / ACoAAb…) became one key, and a record of one merged into the other."""
    assert normalize_linkedin_url(raw) == "linkedin.com/in/ACoAAAwMJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4"
    assert normalize_linkedin_url(raw) != normalize_linkedin_url(
        "linkedin.com/in/ACoAAAwmJ8gB1ACzMnNA8Sj1P-0J9_pd4mT3eZ4")


@pytest.mark.parametrize(
    "raw",
    ["", None, "https://example.com/in/jan", "https://www.linkedin.com/company/acme", "https://www.linkedin.com/in/",
     "https://linkedin.com.evil.example/in/jan", "https://www.linkedin.com/feed/",
     "https://www.linkedin.com/pub/dir/anna/nowak", "https://www.linkedin.com/pub/anna-nowak/xyz/1/2",
     # The viewer's own profile, and a form's example copied: they joined everyone who pasted them into one.
     "https://www.linkedin.com/in/me/", "linkedin.com/in/yourname", "https://pl.linkedin.com/in/imie-nazwisko",
     "https://www.linkedin.com/in/UserName?trk=x",
     # What no profile's name holds, here once decoded: a NUL (stored as part of the key), markup and a quote
     # (a link built from it is not LinkedIn's), a % whose bytes are no UTF-8 (decoded to U+FFFD).
     "https://www.linkedin.com/in/jan%00kowalski/", "https://www.linkedin.com/in/jan%3Cb%3Ekowalski",
     'https://www.linkedin.com/in/jan"onmouseover=x', "https://www.linkedin.com/in/jan%25cd-kowalski",
     "https://www.linkedin.com/in/jan%ffkowalski", "https://www.linkedin.com/in/jan\\kowalski"],
)
def test_normalize_linkedin_rejects(raw: str | None) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_linkedin_url(raw)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Łukasz Wójcik", "Lukasz Wojcik"),
        ("ŁUKASZ WÓJCIK", "łukasz wójcik"),
        ("Zażółć Gęślą", "Zazolc Gesla"),
        ("Алексей Иванов", "Aleksey Ivanov"),
        ("Ｊａｎ　Ｋｏｗａｌｓｋｉ", "Jan Kowalski"),  # full-width forms (NFKC)
        ("Jan-Kowalski", "jan kowalski"),
        # Emoji and symbols are no part of a name (they were spelt out: "grinning", "heart", "tm").
        ("Jan Nowak 😀", "Jan Nowak"),
        ("Łukasz 👍", "Lukasz"),
        ("Anna ❤️ Kowalska", "Anna Kowalska"),
        ("Jan 🇵🇱 Nowak", "Jan Nowak"),
        ("Jan Nowak™", "Jan Nowak"),
        ("😀", ""),
        ("O´Brien", "O'Brien"),
    ],
)
def test_fold_name_matches(a: str, b: str) -> None:
    assert fold_name(a) == fold_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("jurij", "yuriy"), ("kowalski", "kovalskiy"), ("lukasz", "lukash"), ("szczepan", "shchepan"), ("aleksiej", "aleksey"),
     # Е at a word's start: English writes YE, Polish JE, the folded Cyrillic E.
     ("jewgienij", "evgeniy"), ("yevgeny", "evgeniy"), ("jekatierina", "ekaterina"), ("yekaterina", "ekaterina"),
     ("jelena", "elena"), ("yegor", "egor"), ("jegor", "egor")],
)
def test_name_skeleton_equal_across_transliterations(a: str, b: str) -> None:
    assert name_skeleton(a) == name_skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("yuriy", "uriy"), ("jan", "an"), ("yana", "ana"), ("kowalski", "kowalczyk")])
def test_name_skeleton_keeps_apart(a: str, b: str) -> None:
    assert name_skeleton(a) != name_skeleton(b)


@pytest.mark.parametrize(("cyrillic", "english", "polish"), [
    ("Евгений Онегин", "Yevgeny Onegin", "Jewgienij Oniegin"),
    ("Екатерина Васильева", "Yekaterina Vasilyeva", "Jekatierina Wasiljewa"),
    ("Елена Смирнова", "Yelena Smirnova", "Jelena Smirnowa"),
])
def test_a_russian_name_starting_with_ye_meets_its_cyrillic_form(cyrillic: str, english: str, polish: str) -> None:
    """The folded Cyrillic wrote Е at a word's start as E, the English and Polish spellings as YE and JE: the three
    forms of one name shared no blocking key and scored nothing."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, names_compatible, score_pair

    for one, two in ((cyrillic, english), (cyrillic, polish), (english, polish)):
        assert blocking_keys([one]) & blocking_keys([two])
        assert score_pair(PersonView(1, (one,)), PersonView(2, (two,)))[0] >= SUGGESTION_THRESHOLD
        assert names_compatible(one, two)


def test_display_name_kept_as_written() -> None:
    assert clean_display_name('  "Łukasz   Wójcik"  ') == "Łukasz Wójcik"
    assert clean_display_name("Юрий\u200b Ковальский") == "Юрий Ковальский"


@pytest.mark.parametrize(("raw", "name"), [
    ("Anna\nMaria Zając", "Anna Maria Zając"),   # a spreadsheet cell over two lines
    ("Jan\r\nNowak", "Jan Nowak"), ("Jan\tNowak", "Jan Nowak"), ("Ольга\x85Смирнова", "Ольга Смирнова"),
    ("Zofia\u2028Dąbrowska", "Zofia Dąbrowska"), ("Jan\x0bNowak", "Jan Nowak"),
    ("Jan\x00 Nowak", "Jan Nowak"), ("Jan\x00Nowak", "JanNowak"), ("Bud\x1bmax", "Budmax"), ("\x00\x07", ""),
])
def test_a_line_break_in_a_display_name_is_a_space(raw: str, name: str) -> None:
    """A line break or a tab between two names was taken out with the other control characters: "Anna\nMaria"
    was stored as "AnnaMaria". Other control characters go (NUL, as PostgreSQL's text drops it)."""
    assert clean_display_name(raw) == name


@pytest.mark.parametrize(("raw", "name"), [
    # Mail clients that put the address where the name goes: an address is not a name.
    ("jan@client.pl", ""), ('"jan@client.pl"', ""), ("mailto:jan@client.pl", ""),
    ("Jan Kowalski (jan@client.pl)", "Jan Kowalski"), ("Jan Kowalski <jan@client.pl>", "Jan Kowalski"),
    ("Anna [anna@x.pl]", "Anna"), ("Ola, ola@x.pl", "Ola"),
    # An "@" that is not an address stays.
    ("@janek", "@janek"), ("Jan @ Acme", "Jan @ Acme"),
])
def test_an_address_in_a_display_name_is_not_part_of_the_name(raw: str, name: str) -> None:
    assert clean_display_name(raw) == name


@pytest.mark.parametrize(
    ("a", "b"),
    [("Budmax sp. z o.o.", "BUDMAX"), ("Hurtex S.A.", "Hurtex"), ("ООО Севертранс", "Severtrans"), ("Acme, Inc.", "acme")],
)
def test_normalize_company_drops_legal_forms(a: str, b: str) -> None:
    assert normalize_company(a) == normalize_company(b)


@pytest.mark.parametrize(("domain", "expected"), [("gmail.com", True), ("WP.PL", True), ("mail.ru", True), ("budmax.pl", False)])
def test_freemail(domain: str, expected: bool) -> None:
    assert is_freemail_domain(domain) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Jan Kowalski", "Jan Kowalski", True),
        ("J. Kowalski", "Jan Kowalski", True),
        ("Jan", "Jan Kowalski", True),
        ("", "Jan Kowalski", True),
        ("Kowalski Jan", "Jan Kowalski", True),
        ("Łukasz Wójcik", "Lukasz Wojcik", True),
        ("Алексей Иванов", "Aleksey Ivanov", True),
        ("Mary Kusha", "Marie Kusha", True),
        ("Edward Kusha", "Mary Kusha", False),
        ("Anna Nowak", "Tomasz Zieliński", False),
        ("Info Hurtex", "Tomasz Lewandowski", False),
        # A man's and a woman's form of one name: two people of one family (a shared mailbox or phone), not one.
        ("Jan Kowalski", "Jan Kowalska", False),
        ("Aleksander Kowalski", "Aleksandra Kowalska", False),
        ("Jan Kowalski", "Janina Kowalska", False),
        ("Daniel Zieliński", "Daniela Zielińska", False),
        ("Александр Иванов", "Александра Иванова", False),
        ("Евгений Смирнов", "Евгения Смирнова", False),
        ("Sergey Ivanov", "Sergey Ivanova", False),
        ("Лев Толстой", "Лев Толстая", False),
        ("Ігор Ковальський", "Ігор Ковальська", False),
        ("Andrzej Trotskiy", "Andrzej Trotskaya", False),
        ("Yevhenii Koval", "Yevheniia Koval", False),
        ("Franciszek Nowak", "Franciszka Nowak", False),
        # ... also written in two spellings or scripts (the Polish W, the Cyrillic): was compatible by skeleton.
        ("Siergiej Iwanow", "Сергей Иванова", False),
        ("Jewgienij Iwanow", "Евгения Иванова", False),
        ("Jan Kowalski", "Ян Ковальская", False),
        ("Piotr Kowalski", "Piotr Kovalska", False),
        ("Jan Żukow", "Ян Жукова", False),
        ("Jan Żukow", "Jan Zhukova", False),
        # ... and what only looks like one: the same woman's name spelt two ways, a name and a double surname.
        ("Natali Kowalska", "Natalia Kowalska", True),
        ("Julia Kowalewa", "Юлия Ковалева", True),
        ("Ilya Ivanov", "Ilia Ivanov", True),
        ("Anna Kowalska", "Anna Kowalska-Kowalski", True),
        ("KOWALSKI JAN", "Jan Kowalski", True),
        # A Ukrainian name in Ukraine's Latin spelling, Г as H (passport, LinkedIn): was "different names".
        ("Ганна Гриценко", "Hanna Hrytsenko", True),
        ("Сергій Мельник", "Serhii Melnyk", True),
        ("Ольга Гончар", "Olha Honchar", True),
        ("Ольга Гончар", "Olga Gonchar", True),
        ("Ігор Гнатюк", "Anna Hnatiuk", False),
        # Two full first names with one initial are two people (brothers sharing a family address or phone).
        ("Piotr Zieliński", "Paweł Zieliński", False),
        ("Maciej Kowalski", "Marek Kowalski", False),
        ("Kowalski J.", "Jan Kowalski", True),
        ("Olirev Jones", "Oliver Jones", True),  # the same letters typed out of order
        ("😀", "Jan Nowak", True),  # an emoji is no name: nothing to disagree with
        ("Jan Nowak 🙂", "Jan Nowak", True),
        # A company's name in the name field says nothing about the person: no disagreement.
        ("Budmax Sp. z o.o.", "Jan Nowak", True),
        ("ООО «Севертранс»", "Иван Петров", True),
        ("ТОВ Агроінвест", "Olena Tkachenko", True),
        ("Acme LLC", "Jan Nowak", True),
        # ... but two companies' names are two firms unless they are one name written two ways.
        ("Budmax Sp. z o.o.", "Hurtex Sp. z o.o.", False),
        ("ООО «Севертранс»", "ООО «Ромашка»", False),
        ("Budmax Sp. z o.o.", "BUDMAX sp.z o.o.", True),
        ("ООО «Севертранс»", "ООО Севертранс", True),
        ("Acme LLC", "Acme Inc", True),
        ("S. A. Nowak", "Jan Nowak", False),
        ("Jan M. Nowak", "Jan Maria Nowak", True),
        ("Anna Nowak", "Anna Maria Nowak", True),
        # Two different first names or two different surnames that only look alike are two people (relatives
        # sharing a family phone or mailbox): the whole names scored 85 or more and merged.
        ("Jan Nowak", "Janusz Nowak", False),
        ("Janusz Nowak", "Jan Nowak", False),
        ("Jan Kowalski", "Jan Kowalczyk", False),
        ("Harry Smith", "Gary Smith", False),
        ("Harry Smith", "Garry Smith", False),
        ("Mark Kusha", "Mary Kusha", False),
        ("Jan Dąbrowski", "Jan Dąbrowiecki", False),
        ("Adam Nowakowski", "Adam Nowicki", False),
        ("Marta Wiśniewska", "Marianna Wiśniewska", False),
        ("Кирилл Смирнов", "Кирилл Смирницкий", False),
        # ... and what stays one person: a typing slip, a short form, another spelling or transliteration.
        ("Jna Nowak", "Jan Nowak", True),
        ("Katarzyna Nowak", "Katarzna Nowak", True),
        ("Katarzyna Nowak", "Katrazyna Nowak", True),
        ("Kasia Nowak", "Katarzyna Nowak", True),
        ("Mike Smith", "Michael Smith", True),
        ("Kate Smirnova", "Катерина Смирнова", True),
        ("Kasia Nowak", "Kaśka Nowak", True),
        ("Дима Иванов", "Dmitry Ivanov", True),
        ("Jan Kowalski", "Jan Kowalsky", True),
        ("Piotr Ivanov", "Piotr Iwanow", True),
        ("Jan Kowalski", "Jan Kowalskki", True),
        ("Candace Kellar", "Kandace Kellar", True),
        ("Rosie nJohnston", "Rosie Johnston", True),
        ("JanKowalski", "Jan Kowalski", True),
        ("dr Jan Kowalski", "Jan Kowalski", True),
        ("Jan Nowak", "Nowak", True),
        ("Nowak", "Janusz Nowak", True),
        # Word by word in another spelling too: an initial or a missing first name beside a Polish transcription.
        ("K. Żukowa", "Ksenia Zhukova", True),
        ("Chruszczow", "Nikita Khrushchyov", True),
        ("N. Chruszczow", "Никита Хрущёв", True),
        ("Гриценко", "Hanna Hrytsenko", True),
        ("K. Żukowa", "Ksenia Sukowa", False),
        # Short names a vowel apart are two names (the skeleton drops vowels: "Jon" and "Jan" were one), also
        # when both are short forms of one full name ("Ola" / "Ala", Aleksandra's).
        ("Jon Smith", "Jan Smith", False),
        ("Jan", "Jon", False),
        ("Lena Nowak", "Lina Nowak", False),
        ("Ola Nowak", "Ala Nowak", False),
        ("Ola", "Ala", False),
        ("Ola Nowak", "Aleksandra Nowak", True),
        ("Yura Ivanov", "Yuri Ivanov", True),
        ("Yuri Gagarin", "Jurij Gagarin", True),
        ("Pyotr Ivanov", "Petr Ivanov", True),
        ("Ewa Lis", "Eva Lis", True),
        ("Ollie Rowe", "Ollie Rewo", True),  # ... but the same letters out of order are a typing slip
        ("Jan Nowak", "Joanna Nowak", False),  # a short name and a longer one of its skeleton (both "jn")
        # A Russian man's name in -ий as English and Polish write it, -y, and the woman's -ия as -ia or -iya.
        ("Yevgeny Smirnov", "Yevgenia Smirnov", False),
        ("Vitaly Petrov", "Vitaliya Petrov", False),
        ("Walery Nowak", "Waleria Nowak", False),
        ("Anatoly Petrov", "Anatolia Petrov", False),
        ("Yevgeny Smirnov", "Yevgeniy Smirnov", True),
        # A man's and a woman's first name of one root beyond the surnames' endings.
        ("Julian Nowak", "Julia Nowak", False),
        ("Marian Nowak", "Maria Nowak", False),
        ("Adrian Nowak", "Adrianna Nowak", False),
        ("Marian Nowak", "Marianna Nowak", False),
        ("Mario Rossi", "Maria Rossi", False),
        ("Antonio Garcia", "Antonia Garcia", False),
        ("Daniel Nowak", "Danielle Nowak", False),
        ("Gabriel Nowak", "Gabriella Nowak", False),
        ("Aleksandr Lukashenko", "Aleksandr Lukashenka", True),  # -o / -a: one Belarusian surname, two spellings
        ("Julia Nowak", "Julia Nowak", True),
        # Latvian and Lithuanian surnames' man's and woman's forms (Bērziņš / Bērziņa read as one typing slip).
        ("Jānis Bērziņš", "Jānis Bērziņa", False),
        ("Anna Ozola", "A. Ozols", False),
        ("Pēteris Cīrulis", "Pēteris Cīrule", False),
        ("Jonas Kazlauskas", "Jonas Kazlauskienė", False),
        ("Jonas Kazlauskas", "Jonas Kazlauskaitė", False),
        ("Andrius Kairys", "Andrius Kairytė", False),
        ("Jānis Bērziņš", "Janis Berzins", True),
        ("Jan", "Joanna", False),
        ("Petr Ivanov", "Piotr Ivanov", True),
        ("Egor Ivanov", "Yegor Ivanov", True),
        ("Ana Lis", "Anna Lis", True),
        ("Hugo Kaur", "Hogu Kuar", True),
        # ... the man's and the woman's form of a surname with Ё, which is written E, YO, IO or O: Хрущёва folds
        # to "khrushcheva", and only the same spelling of the man's form was seen as its man's form.
        ("Nikita Khrushchyov", "Хрущёва", False),
        ("Хрущёв", "Khrushchova", False),
        ("Nikita Chruszczow", "Nikita Хрущёва", False),
        ("Michaił Gorbaczow", "Михаил Горбачёва", False),
        ("Pyotr Fyodorov", "Пётр Фёдорова", False),
        ("Хрущёв", "Хрущёва", False),
        ("Nikita Khrushchyov", "Никита Хрущёв", True),
        ("Pyotr Fyodorov", "Пётр Фёдоров", True),
    ],
)
def test_names_compatible(a: str, b: str, expected: bool) -> None:
    from core.matching import names_compatible

    assert names_compatible(a, b) is expected


def test_close_by_name_keeps_exactly_the_pairs_that_reach_the_name_floor() -> None:
    """The C-loop prefilter in front of score_pair must neither drop a pair _name_similarity passes nor keep one
    it fails: exact, reordered, transliterated, typo'd and unrelated names, with aliases and empty names."""
    import random
    from itertools import chain

    from bench.import_bench import FIRST, LAST, surname
    from core.matching import (
        NAME_SIMILARITY_FLOOR,
        PersonView,
        _name_similarity,
        close_by_name,
        name_variants,
    )

    rng = random.Random(11)

    def variant(name: str) -> str:
        first, last = name.split(" ", 1)
        change = rng.randrange(6)
        if change == 0:
            return f"{last} {first}"  # surname first
        if change == 1 and len(last) > 3:
            i = rng.randrange(1, len(last) - 1)
            return f"{first} {last[:i]}{last[i + 1:]}"  # a letter dropped
        if change == 2:
            return name.upper()
        if change == 3:
            return f"{first} {surname(rng)}"  # another person with the same first name
        if change == 4:
            return f"{first} {last}-{surname(rng)}"  # a second surname
        return name

    people = [f"{rng.choice(FIRST)} {rng.choice(LAST) if rng.random() < 0.5 else surname(rng)}" for _ in range(300)]
    checked = kept = 0
    for n, name in enumerate(people):
        me = PersonView(contact_id=n, names=(name, variant(name)) if n % 5 == 0 else (name,))
        # A third are variants of this very name (most reach the floor), the rest of anybody's.
        others = [PersonView(contact_id=1000 + i, names=(variant(name if rng.random() < 0.33 else rng.choice(people)),)
                             if i % 7 else ("",)) for i in range(40)]
        expected = [o for o in others
                    if max((_name_similarity(a, b, NAME_SIMILARITY_FLOOR)[0]
                            for a in chain.from_iterable(map(name_variants, me.names))
                            for b in chain.from_iterable(map(name_variants, o.names))),
                           default=0.0) >= NAME_SIMILARITY_FLOOR]
        assert close_by_name(me, others) == expected, name
        checked += len(others)
        kept += len(expected)
    assert checked == 12_000 and 2_000 < kept < 10_000  # both outcomes, many times


def test_indel_similarity_passes_the_same_pairs_as_fuzz_ratio_at_the_name_cutoffs() -> None:
    """names_near compares with Indel's normalised similarity (cheaper per choice) where _name_similarity uses
    fuzz.ratio: at both cutoffs the two must let exactly the same pairs through, boundaries included."""
    import random

    from rapidfuzz import fuzz, process
    from rapidfuzz.distance import Indel

    from core.matching import NAME_SIMILARITY_FLOOR, SKELETON_DISCOUNT

    rng = random.Random(2)
    alphabet = "abcdeklnorsz "
    choices = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    for cutoff in (NAME_SIMILARITY_FLOOR, NAME_SIMILARITY_FLOOR / SKELETON_DISCOUNT):
        for query in choices[:300]:
            by_ratio = {i for _, _, i in process.extract(query, choices, scorer=fuzz.ratio, score_cutoff=cutoff * 100,
                                                         limit=None)}
            by_indel = {i for _, _, i in process.extract(query, choices, scorer=Indel.normalized_similarity,
                                                         score_cutoff=cutoff, limit=None)}
            assert by_ratio == by_indel, query


def test_clean_display_name_agrees_with_its_plain_definition() -> None:
    """clean_display_name skips the per-character filter for printable text; it must drop exactly the control,
    format, private-use and unassigned characters the filter drops (a control character that is white space
    becomes a space), whatever else is in the name."""
    import random
    import re
    import unicodedata

    from core.normalize import clean_display_name

    def reference(raw: str) -> str:
        text = unicodedata.normalize("NFKC", raw)
        text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
        return re.sub(r"\s+", " ", text).strip().strip("\"'").strip()[:200]

    rng = random.Random(4)
    alphabet = "Łukasz Wójcik Юрий\u200b\u200d\t\n\r\x00\x1f\x7f\u00a0\u2028\u2029\u3000\ue000\U000e0001\u0378ﬁ'\" Ａ"
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert clean_display_name(raw) == reference(raw), repr(raw)


def test_pairs_skipped_before_their_names_could_never_become_suggestions() -> None:
    """cannot_reach_threshold lets the duplicate search skip a pair before comparing names: it may say so only
    for pairs score_pair keeps below the threshold, whatever the names (and it must say so for many)."""
    import random

    from bench.import_bench import COMPANIES, FIRST, LAST, surname
    from core.matching import SUGGESTION_THRESHOLD, PersonView, cannot_reach_threshold, score_pair

    rng = random.Random(8)
    companies = [*COMPANIES, "Budmax sp. z o.o.", "BUDMAX", "Budmaks", "", ""]
    domains = [frozenset(), frozenset({"budmax.pl"}), frozenset({"hurtex.pl"}), frozenset({"budmax.pl", "x.pl"})]

    def person(n: int, name: str) -> PersonView:
        return PersonView(contact_id=n, names=(name,), company=rng.choice(companies),
                          corporate_domains=rng.choice(domains))

    skipped = 0
    for n in range(6000):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST) if rng.random() < 0.5 else surname(rng)}"
        other = name if rng.random() < 0.5 else f"{name.split()[1]} {name.split()[0]}"
        a, b = person(n, name), person(n + 10_000, other)
        if cannot_reach_threshold(a, b):
            skipped += 1
            assert score_pair(a, b)[0] < SUGGESTION_THRESHOLD, (a, b)
    assert 1000 < skipped < 5000


@pytest.mark.parametrize(
    ("a", "b", "suggested", "suggested_if_common"),
    [
        # (name, company, corporate domains) of each side
        (("Anna Nowak", "", {"alfa.pl"}), ("Anna Nowak", "", {"beta.pl"}), True, False),  # other firms' domains
        (("Anna Nowak", "", set()), ("Anna Nowak", "", set()), True, False),  # nothing but the name
        (("Anna Nowak", "", {"alfa.pl"}), ("Nowak Anna", "", {"alfa.pl"}), True, True),  # same company domain
        (("Anna Nowak", "Budmax", set()), ("Anna Nowak", "Budmax sp. z o.o.", set()), True, True),  # same company
        (("Anna Nowak", "Budmax", set()), ("Anna Nowak", "Hurtex", set()), False, False),  # other companies
        (("Anna Nowak", "", set()), ("Anna Nowacka", "", set()), True, False),  # noun and adjective, no evidence
    ],
)
def test_a_common_name_alone_makes_no_suggestion(a, b, suggested, suggested_if_common) -> None:
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    one = PersonView(1, (a[0],), a[1], frozenset(a[2]))
    two = PersonView(2, (b[0],), b[1], frozenset(b[2]))
    assert (score_pair(one, two)[0] >= SUGGESTION_THRESHOLD) is suggested
    assert (score_pair(one, two, common_name=True)[0] >= SUGGESTION_THRESHOLD) is suggested_if_common


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        # A Russian full name (ФИО, either order) against the name an e-mail or a profile gives.
        ("Иванов Иван Иванович", "Ivan Ivanov", "same name in another order: Иванов Иван Иванович ~ Ivan Ivanov "
                                                 "(a title or patronymic left out)"),
        ("Анна Сергеевна Петрова", "Анна Петрова", "same name: Анна Сергеевна Петрова ~ Анна Петрова "
                                                    "(a title or patronymic left out)"),
        # A Ukrainian woman's patronymic (-івна) and a Belarusian one (-авіч, -аўна) were read as a third name word.
        ("Коваленко Олена Іванівна", "Olena Kovalenko", "same name in another order: Коваленко Олена Іванівна ~ "
                                                        "Olena Kovalenko (a title or patronymic left out)"),
        ("Лукашэнка Аляксандр Рыгоравіч", "Aliaksandr Lukashenka",
         "same name in another spelling or transliteration: Лукашэнка Аляксандр Рыгоравіч ~ Aliaksandr Lukashenka "
         "(a title or patronymic left out)"),
        ("Ткачук Ганна Рыгораўна", "Ганна Ткачук",
         "same name in another order: Ткачук Ганна Рыгораўна ~ Ганна Ткачук (a title or patronymic left out)"),
        # Titles and degrees.
        ("dr hab. inż. Jan Kowalski", "Jan Kowalski", "same name: dr hab. inż. Jan Kowalski ~ Jan Kowalski "
                                                       "(a title or patronymic left out)"),
        ("Anna Nowak, PhD", "Anna Nowak", "same name: Anna Nowak, PhD ~ Anna Nowak (a title or patronymic left out)"),
        # One part of a double surname.
        ("Anna Kowalska", "Anna Kowalska-Nowak", "one part of a double surname: Anna Kowalska ~ Anna Kowalska-Nowak"),
        ("Anna Nowak-Kowalska", "Anna Nowak", "one part of a double surname: Anna Nowak-Kowalska ~ Anna Nowak"),
        # A short form of the first name against the full one, in Polish, Russian, Ukrainian and English, in
        # either script and order; initials that differ (Olek / Aleksander) must still meet in a block.
        ("Kasia Nowak", "Katarzyna Nowak", "a short form of the same first name: Kasia Nowak ~ Katarzyna Nowak"),
        ("Olek Zieliński", "Aleksander Zielinski",
         "a short form of the same first name: Olek Zieliński ~ Aleksander Zielinski"),
        ("Kuba Wójcik", "Jakub Wójcik", "a short form of the same first name: Kuba Wójcik ~ Jakub Wójcik"),
        ("Wójcik Gosia", "Małgorzata Wójcik", "a short form of the same first name: Wójcik Gosia ~ Małgorzata Wójcik"),
        ("Дима Иванов", "Dmitry Ivanov", "a short form of the same first name: Дима Иванов ~ Dmitry Ivanov"),
        ("Katya Smirnova", "Екатерина Смирнова",
         "a short form of the same first name: Katya Smirnova ~ Екатерина Смирнова"),
        ("Саша Коваленко", "Олександр Коваленко",
         "a short form of the same first name: Саша Коваленко ~ Олександр Коваленко"),
        ("Mike Carter", "Michael Carter", "a short form of the same first name: Mike Carter ~ Michael Carter"),
        # A maiden name after the married one (Polish "z domu", "z d.", "née", Russian "урожд.", or in brackets):
        # its words made the name too unlike either to be suggested.
        ("Anna Nowak z domu Kowalska", "Anna Kowalska",
         "a maiden and a married name: Anna Nowak z domu Kowalska ~ Anna Kowalska"),
        ("Anna Nowak (Kowalska)", "Anna Kowalska", "a maiden and a married name: Anna Nowak (Kowalska) ~ Anna Kowalska"),
        ("Анна Новак (урожд. Ковальская)", "Anna Kowalska",
         "a maiden and a married name: Анна Новак (урожд. Ковальская) ~ Anna Kowalska"),
        ("Anna Nowak z d. Kowalska", "Anna Nowak",
         "same name: Anna Nowak z d. Kowalska ~ Anna Nowak (a maiden name left out)"),
        # ... and a firm's name in brackets, as mail programs show a sender.
        ("Jan Nowak (Budmax)", "Jan Nowak", "same name: Jan Nowak (Budmax) ~ Jan Nowak (the word in brackets left out)"),
    ],
)
def test_full_names_titles_and_double_surnames_are_suggested_at_the_same_company(a, b, reason) -> None:  # noqa: ANN001
    from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, close_by_name, score_pair

    one, two = PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax sp. z o.o.")
    assert blocking_keys((a,)) & blocking_keys((b,))  # they meet in a block
    assert close_by_name(one, [two]) == [two]  # the prefilter lets the pair through
    score, reasons = score_pair(one, two)
    assert score >= SUGGESTION_THRESHOLD and reasons[0] == reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Иван Петрович", "Иван Иванов"),  # two words: Petrovich is the surname here, not left out
        ("Anna Kowalska", "Anna Wiśniewska-Nowak"),  # no part in common
        ("Pan Tadeusz", "Tadeusz Nowak"),  # a title word alone is no name
    ],
)
def test_what_looks_like_a_patronymic_or_a_double_surname_but_is_not(a, b) -> None:  # noqa: ANN001
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    assert score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax"))[0] < SUGGESTION_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [("Jon Smith", "Jan Smith"), ("Lena Nowak", "Lina Nowak"), ("Jan Kot", "Jan Kat")])
def test_short_names_a_vowel_apart_are_not_one_name_in_two_spellings(a: str, b: str) -> None:
    """name_skeleton drops vowels, so "Jon Smith" and "Jan Smith" scored 0.96, "same name in another spelling",
    and were suggested with no other evidence. They are similar names: at one company a suggestion that says so."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[0] < SUGGESTION_THRESHOLD
    score, reasons = score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax sp. z o.o."))
    assert score >= SUGGESTION_THRESHOLD and reasons[0].startswith("similar names")


@pytest.mark.parametrize(("a", "b"), [("Ollie Rowe", "Ollie Rewo"), ("Hugo Kaur", "Hogu Kuar")])
def test_short_words_with_their_letters_out_of_order_are_still_one_name_in_the_score(a: str, b: str) -> None:
    """A short word typed with its letters out of order ("Rewo" for "Rowe") has the same skeleton, and is not
    another name a vowel apart ("Jon" / "Jan"): still suggested on the names alone."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[0] >= SUGGESTION_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [("Kasia Nowak", "Katarzyna Nowak"), ("Olek Zieliński", "Aleksander Zieliński"),
                                      ("Mike Carter", "Michael Carter")])
def test_a_short_first_name_alone_needs_company_evidence(a: str, b: str) -> None:
    """Two people at different firms, one "Kasia Nowak", one "Katarzyna Nowak", are not suggested: a short form
    is weaker evidence than the same name. The merge guard lets them merge when they share an address."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, names_compatible, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[0] < SUGGESTION_THRESHOLD
    assert names_compatible(a, b)


@pytest.mark.parametrize(("word", "full"), [
    ("kasia", ("katarzyna",)), ("olek", ("aleksander",)), ("dima", ("dmitriy",)), ("mike", ("michael", "miguel")),
    ("sasha", ("aleksandra", "aleksandr", "oleksandr", "oleksandra")),
    ("anna", ()), ("jan", ()), ("nowak", ()),  # full names and surnames are not short forms
    ("al", ()),  # an English short form of a dozen names says nothing
])
def test_full_first_names(word: str, full: tuple[str, ...]) -> None:
    from core.matching import full_first_names

    assert full_first_names(word) == full


def test_a_double_surname_alone_needs_company_evidence() -> None:
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    assert score_pair(PersonView(1, ("Anna Kowalska",)), PersonView(2, ("Anna Kowalska-Nowak",)))[0] < SUGGESTION_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [("Jan Kowalski", "Jan Kowalska"), ("Aleksander Kowalski", "Aleksandra Kowalska"),
                                      ("Александр Иванов", "Александра Иванова"), ("Anna Kowalski", "Anna Kowalska"),
                                      # across spellings and scripts (were read letter by letter: "same name in
                                      # another spelling", suggested on the names alone)
                                      ("Siergiej Iwanow", "Сергей Иванова"), ("Nikita Khrushchyov", "Никита Хрущёва"),
                                      ("Michaił Gorbaczow", "Михаил Горбачёва")])
def test_a_mans_and_a_womans_form_of_one_name_needs_company_evidence(a: str, b: str) -> None:
    """"Jan Kowalski" and "Jan Kowalska" are nearly one spelling, and most often two people of one family: on the
    names alone no suggestion; at one company a suggestion that says why the names differ."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[0] < SUGGESTION_THRESHOLD
    score, reasons = score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax sp. z o.o."))
    assert score >= SUGGESTION_THRESHOLD
    assert reasons[0].startswith("a man's and a woman's form of one ")


@pytest.mark.parametrize(("a", "b", "seen"), [
    ("Jan Kowalski", "Jan Kowalska", "one surname (kowalski / kowalska)"),
    ("Siergiej Iwanow", "Сергей Иванова", "one surname (iwanow / ivanova)"),
    ("Lev Tolstoy", "Лев Толстая", "one surname (tolstoy / tolstaya)"),
    ("Wiktor Nowak", "Wiktoria Nowak", "one first name (wiktor / wiktoria)"),
    ("Евгений Смирнов", "Евгения Смирнов", "one first name (evgeniy / evgeniya)"),
    ("Jonas Kazlauskas", "Jonas Kazlauskienė", "one surname (kazlauskas / kazlauskiene)"),  # (was "similar names")
    ("Jānis Bērziņš", "Jānis Bērziņa", "one surname (berzins / berzina)"),
    ("Aleksander Kowalski", "Aleksandra Kowalska",
     "one first name (aleksander / aleksandra) and one surname (kowalski / kowalska)"),
])
def test_the_reason_names_the_mans_and_the_womans_forms_it_sees(a: str, b: str, seen: str) -> None:
    """The reason says which words are the man's and the woman's forms, and whether of a surname or a first name
    (it said "of one name" and showed one pair only)."""
    from core.matching import PersonView, score_pair

    reasons = score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax"))[1]
    assert reasons[0].startswith(f"a man's and a woman's form of {seen}, often two people of one family: ")


@pytest.mark.parametrize(("a", "b"), [("Anna Nowak", "Anna Nowacka"), ("Anna Wójcicka", "Anna Wójcik")])
def test_a_surname_as_a_noun_and_as_a_womans_adjective_is_suggested_and_says_so(a: str, b: str) -> None:
    """A woman of the Nowak family is "Anna Nowak" or "Anna Nowacka", and "Nowacka" is also a Nowacki's wife or
    daughter: a suggestion on the names alone, saying which, and never an automatic merge."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, names_compatible, score_pair

    score, reasons = score_pair(PersonView(1, (a,)), PersonView(2, (b,)))
    assert score >= SUGGESTION_THRESHOLD
    assert reasons[0].startswith("one surname as a noun and as a woman's adjective")
    assert not names_compatible(a, b)


@pytest.mark.parametrize(("polish", "cyrillic", "english"), [
    ("Siergiej Iwanow", "Сергей Иванов", "Sergey Ivanov"),
    ("Ksenia Żukowa", "Ксения Жукова", "Kseniya Zhukova"),
    ("Nikita Chruszczow", "Никита Хрущёв", "Nikita Khrushchyov"),
    ("Igor Szczukin", "Игорь Щукин", "Igor Shchukin"),
    ("Aleksiej Nawalny", "Алексей Навальный", "Aleksey Navalny"),
    ("Dmitrij Miedwiediew", "Дмитрий Медведев", "Dmitry Medvedev"),
    ("Jurij Gagarin", "Юрий Гагарин", "Yuri Gagarin"),
    ("Michaił Gorbaczow", "Михаил Горбачёв", "Mikhail Gorbachyov"),
    ("Anna Achmatowa", "Анна Ахматова", "Anna Akhmatova"),
    ("Michaił Chodorkowski", "Михаил Ходорковский", "Mikhail Khodorkovsky"),
    ("Marina Cwietajewa", "Марина Цветаева", "Marina Tsvetayeva"),
    ("Wiaczesław Mołotow", "Вячеслав Молотов", "Vyacheslav Molotov"),
    ("CHRUSZCZOW Nikita", "ХРУЩЁВ Никита", "KHRUSHCHYOV Nikita"),
])
def test_a_russian_name_in_polish_transcription_meets_its_cyrillic_and_english_forms(
        polish: str, cyrillic: str, english: str) -> None:
    """Polish teams write Russian names the Polish way: CH for Х, Ż for Ж, C for Ц (fold_name read them as Ч, Z
    and K-or-S), so "Chruszczow", "Żukowa", "Cwietajewa" shared no blocking key with "Хрущёв" or "Khrushchyov" or
    scored below a suggestion. They meet in a block, pass the prefilter, are suggested on the names alone, and
    are compatible for a merge on a shared identifier."""
    from core.matching import (
        SUGGESTION_THRESHOLD,
        PersonView,
        blocking_keys,
        close_by_name,
        names_compatible,
        score_pair,
    )

    for other in (cyrillic, english):
        one, two = PersonView(1, (polish,)), PersonView(2, (other,))
        assert blocking_keys([polish]) & blocking_keys([other])
        assert close_by_name(one, [two]) == [two]
        assert score_pair(one, two)[0] >= SUGGESTION_THRESHOLD
        assert names_compatible(polish, other)


@pytest.mark.parametrize(("name", "reading"), [
    ("Nikita Chruszczow", ("Nikita Hruszczow",)),
    ("Ksenia Żukowa", ()),  # (Ż folds to Z: Ж is read so from the other side)
    ("Ксения Жукова", ("Ксения Зукова",)),
    ("Kseniya Zhukova", ("Kseniya Zukova",)),
    ("Wojciech Kowalczyk", ("Wojtsieh Kowalczyk",)),  # (Войцех, "Voytsekh")
    ("Jan Nowak", ()),  # nothing to read otherwise
    ("Michael Church", ()),  # English: nothing Polish in it, its CH stays Ч
    ("Richard Schmidt", ()),
    ("Сергей Иванов", ()),  # Cyrillic is fold_name's
    ("Krzysztof Brorzak", ()),  # RZ is not Ż's Ж
])
def test_polish_reading(name: str, reading: tuple[str, ...]) -> None:
    from core.matching import polish_reading

    assert polish_reading(name) == reading


@pytest.mark.parametrize(("a", "b"), [
    ("Nikita Chruszczow", "Nikita Czeszczow"),  # Х and Ч stay apart
    ("Ksenia Żukowa", "Ksenia Sukowa"),
    ("Marina Cwietajewa", "Marina Kwietajewa"),
])
def test_polish_transcription_does_not_make_other_names_one(a: str, b: str) -> None:
    from core.matching import SUGGESTION_THRESHOLD, PersonView, names_compatible, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[0] < SUGGESTION_THRESHOLD
    assert not names_compatible(a, b)


@pytest.mark.parametrize(("cyrillic", "latin"), [("Ганна Гриценко", "Hanna Hrytsenko"), ("Сергій Мельник", "Serhii Melnyk"),
                                                 ("Олександр Гончаренко", "Oleksandr Honcharenko"),
                                                 ("Григорій Гуменюк", "Hryhorii Humeniuk")])
def test_a_ukrainian_name_meets_its_latin_spelling_with_h(cyrillic: str, latin: str) -> None:
    """Ukraine's Latin spelling writes Г as H; the folded Cyrillic read it as G, so the two forms of one name
    shared no blocking key and scored nothing."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, score_pair

    assert blocking_keys([cyrillic]) & blocking_keys([latin])
    score, reasons = score_pair(PersonView(1, (cyrillic,)), PersonView(2, (latin,)))
    assert score >= SUGGESTION_THRESHOLD
    assert "Ukraine's Latin spelling" in reasons[0]


@pytest.mark.parametrize(("name", "found"), [
    ("Anna Nowak z domu Kowalska", ("Anna Nowak", "Kowalska", False)),
    ("Анна Новак, урождённая Ковальская", ("Анна Новак", "Ковальская", False)),
    ("Anna Nowak (Kowalska)", ("Anna Nowak", "Kowalska", True)),
    ("Anna Maria Nowak (Kowalska)", None),  # a word in brackets after three: not read
    ("Nowak z d. Kowalska", None),  # one word before: no married name to compare
    # Long runs of spaces or tabs (a name pasted from a spreadsheet, not yet cleaned): the first pattern tried
    # every split of them between its quantifiers, 4.6 s for 200 spaces, and the time grew with the cube.
    ("a" + " " * 3000 + "x", None),
    ("Jan" + " \t" * 2000 + "(", None),
    ("Anna" + " " * 3000 + "Nowak z domu Kowalska", ("Anna" + " " * 3000 + "Nowak", "Kowalska", False)),
])
def test_maiden_name(name: str, found: tuple[str, str, bool] | None) -> None:
    from core.matching import maiden_name

    assert maiden_name(name) == found


@pytest.mark.parametrize(("raw", "name"), [
    # Emoji ZWJ sequences: one picture each; without the joiner "👩‍💻" shows as a woman and a laptop.
    ("👩\u200d💻 Anna", "👩\u200d💻 Anna"), ("Anna 🏳\ufe0f\u200d🌈", "Anna 🏳\ufe0f\u200d🌈"),
    ("👨🏽\u200d💻 Jan", "👨🏽\u200d💻 Jan"), ("❤\ufe0f\u200d🔥 Ola", "❤\ufe0f\u200d🔥 Ola"),
    # Persian writes a zero-width non-joiner inside words ("Mehrnoush" as مهر‌نوش), and
    # Indic scripts a joiner or non-joiner after a virama: both are spelling.
    ("مهر\u200cنوش محمدی", "مهر\u200cنوش محمدی"), ("क्\u200dष", "क्\u200dष"), ("क्\u200cष", "क्\u200cष"),
    # Junk: at either end, doubled, or between Latin or Cyrillic letters (copied from a web page).
    ("\u200dAnna", "Anna"), ("Anna\u200d", "Anna"), ("An\u200dna", "Anna"), ("Ан\u200cна", "Анна"),
    ("\u200c👩\u200d💻", "👩\u200d💻"), ("👩\u200d\u200d💻", "👩\u200d💻"), ("👩\u200d Anna", "👩 Anna"),
    ("مهر\u200c\u200cنوش", "مهر\u200cنوش"), ("Jan\u200d👩", "Jan👩"),
])
def test_a_joiner_that_joins_stays_in_the_display_name(raw: str, name: str) -> None:
    """ZWJ and ZWNJ were dropped with the other format characters: "👩‍💻 Anna" was stored as "👩💻 Anna" and
    Persian "مهر‌نوش" ran its two parts together. The shown name stays as written; only matching folds."""
    assert clean_display_name(raw) == name
    assert fold_name(raw) == fold_name(name)


@pytest.mark.parametrize(("a", "b", "seen"), [
    ("Jan Novák", "Jan Nováková", "one surname (novak / novakova)"),
    ("Petr Hájek", "Petr Hájková", "one surname (hajek / hajkova)"),  # (the fleeting e: Hájek, Hájková)
    ("Jiří Němec", "Jiří Němcová", "one surname (nemec / nemcova)"),
    ("Jan Svoboda", "Jan Svobodová", "one surname (svoboda / svobodova)"),
    ("Jan Nowak", "Jan Nowakowa", "one surname (nowak / nowakowa)"),
    ("Anna Kowal", "Anna Kowalowa", "one surname (kowal / kowalowa)"),
    ("Jan Nowak", "Jan Nováková", "one surname (nowak / novakova)"),  # (Polish and Czech spellings)
    ("Jan Novák", "Jana Nováková", "one first name (jan / jana) and one surname (novak / novakova)"),
])
def test_czech_ova_and_polish_owa_are_a_womans_form_of_a_surname(a: str, b: str, seen: str) -> None:
    """Czech and Slovak make a woman's surname with -ová (Novák, Nováková; Hájek, Hájková; Svoboda, Svobodová) and
    Polish, of old, with -owa (Nowak, Nowakowa): the pair was "similar names (90%)", not a man's and a woman's
    form, and most often two people of one family. Never merged automatically; the reason says so."""
    from core.matching import PersonView, names_compatible, score_pair

    assert not names_compatible(a, b)
    reasons = score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax"))[1]
    assert reasons[0].startswith(f"a man's and a woman's form of {seen}, often two people of one family: ")


@pytest.mark.parametrize(("polish", "other"), [
    ("Jan Wiśniewski", "Ян Вишневский"), ("Jan Wiśniewski", "Jan Vishnevsky"), ("Jan Wiśniewski", "Jan Vishnevskiy"),
    ("Anna Wiśniewska", "Анна Вишневская"), ("Anna Wiśniewska", "Anna Vishnevskaya"),
])
def test_a_polish_soft_s_meets_the_russian_sh_of_one_surname(polish: str, other: str) -> None:
    """Polish writes ś where Russian writes ш in one Slavic surname (Wiśniewski, Вишневский: wiśnia, вишня): the
    pair was "similar names (92%)", below a suggestion on the names alone. Now a suggestion that says why (never
    more: Leśniewski is Лесневский, so ś is only another reading of the name)."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, score_pair

    score, reasons = score_pair(PersonView(1, (polish,)), PersonView(2, (other,)))
    assert score >= SUGGESTION_THRESHOLD
    assert reasons[0].startswith("same name in Polish transcription (")
    assert "ś as Sh" in reasons[0]
    assert blocking_keys([polish]) & blocking_keys([other])
    assert blocking_keys([polish.split()[1]]) & blocking_keys([other.split()[1]])  # (the surname alone too)


@pytest.mark.parametrize(("a", "b", "reason"), [
    # Two Polish surnames: ś read as sz is no transcription between them.
    ("Jan Wiśniewski", "Jan Wiszniewski", "similar names (97%)"),
    # Where Russian writes с for the ś, the name as written still meets it.
    ("Jan Leśniewski", "Ян Лесневский", "same name in another spelling or transliteration"),
    ("Jan Cieśla", "Ян Цесля", "same name in Polish transcription"),
])
def test_the_soft_s_reading_leaves_other_pairs_as_they_were(a: str, b: str, reason: str) -> None:
    from core.matching import PersonView, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,)))[1][0].startswith(reason)


@pytest.mark.parametrize(("polish", "other"), [
    # ASCII renderings (marks lost to a form or a mailbox) meet the Russian spelling as the Polish one does.
    ("Jan Wisniewski", "Ян Вишневский"), ("Jan Wisniewski", "Jan Vishnevsky"), ("Anna Wisniewska", "Анна Вишневская"),
    # -cki / -цкий / -tsky: the Polish C is Russian's Ц.
    ("Piotr Wysocki", "Пётр Высоцкий"), ("Piotr Wysocki", "Pyotr Vysotsky"), ("Anna Wysocka", "Anna Vysotskaya"),
    ("Jan Sawicki", "Ян Савицкий"), ("Jan Potocki", "Jan Pototskiy"), ("Jan Gorecki", "Ян Горецкий"),
    # -ski / -sky / -ский and -wicz / -vich / -вич were met before; they stay so.
    ("Jan Kowalski", "Ян Ковальский"), ("Jan Lewandowski", "Jan Levandovsky"),
    ("Jan Stankiewicz", "Ян Станкевич"), ("Jan Mickiewicz", "Jan Mitskevich"), ("Jan Abramowicz", "Ян Абрамович"),
    # -dzki / -дский / -dsky: Polish writes DZ before -ki where Russian writes Д and С.
    ("Jan Zawadzki", "Ян Завадский"), ("Jan Zawadzki", "Jan Zavadsky"), ("Jan Zawadzki", "Jan Zavadskiy"),
    ("Anna Zawadzka", "Анна Завадская"), ("Anna Zawadzka", "Anna Zavadskaya"), ("Jan Gradzki", "Ян Градский"),
    ("Jan Rudzki", "Ян Рудский"), ("Anna Grodzka", "Анна Гродская"), ("ANNA GRODZKA", "Anna Grodskaya"),
    # -rski / -рский was met before; it stays so.
    ("Jan Podgórski", "Ян Подгорский"), ("Jan Podgorski", "Jan Podgorsky"),
])
def test_a_polish_surname_meets_its_russian_spelling_as_a_suggestion(polish: str, other: str) -> None:
    """The same surname written the Polish way (with or without its marks) and the Russian way: on the names
    alone a suggestion for a person to review (never a merge: fuzzy matching only suggests). "Wisniewski" and
    "Wysocki" scored 0 against Вишневский and Высоцкий, while "Wiśniewski" and "Kowalski" met theirs."""
    from core.matching import SUGGESTION_THRESHOLD, PersonView, blocking_keys, score_pair

    score, reasons = score_pair(PersonView(1, (polish,)), PersonView(2, (other,)))
    assert score >= SUGGESTION_THRESHOLD, reasons
    assert blocking_keys([polish]) & blocking_keys([other])


@pytest.mark.parametrize(("a", "b"), [
    # Two Polish surnames: reading a C as TS, or an ASCII S as SZ, is no transcription between them.
    ("Jan Biecki", "Jan Bieski"), ("Jan Sawicki", "Jan Sawiski"), ("Jan Lucki", "Jan Luski"),
    # Nor a DZ read as DS against a C read as TS: -dzki and -cki are two surnames.
    ("Jan Zawadzki", "Jan Zawacki"), ("Jan Rudzki", "Jan Rucki"), ("Jan Gradzki", "Jan Gracki"),
    ("Anna Grodzka", "Anna Grocka"), ("Jan Zawadzki", "Ян Завацкий"), ("Jan Rudzki", "Jan Rutsky"),
])
def test_the_polish_c_reading_makes_no_two_polish_surnames_one(a: str, b: str) -> None:
    from core.matching import PersonView, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,))) == (0.0, [])


def test_an_ascii_polish_surname_read_with_sz_stays_apart_from_another_polish_one() -> None:
    from core.matching import PersonView, score_pair

    assert score_pair(PersonView(1, ("Jan Wisniewski",)), PersonView(2, ("Jan Wiszniewski",)))[1][0].startswith(
        "similar names (97%)")


@pytest.mark.parametrize(("a", "b"), [
    ("Jan Zawadzki", "Jan Zawacki"), ("Jan Rudzki", "Jan Rucki"), ("Jan Gradzki", "Jan Gracki"),
])
def test_the_polish_dz_and_c_readings_make_no_two_surnames_one_person_for_a_merge(a: str, b: str) -> None:
    """Read the Polish way, "Zawadzki" is "Zawadski" and "Zawacki" "Zawatski", one letter apart: no typing slip
    between the names as written, so two contacts sharing a phone with these names go to a person, not a merge."""
    from core.matching import names_compatible

    assert not names_compatible(a, b)


@pytest.mark.parametrize(("a", "b", "reason"), [
    # A man's and a woman's form of a -dzki surname stay as they were: apart on the name alone, one family with
    # a company.
    ("Jan Zawadzki", "Jan Zawadzka", "a man's and a woman's form of one name (zawadzki / zawadzka)"),
    ("Jan Rudzki", "Jan Rudzka", "a man's and a woman's form of one name (rudzki / rudzka)"),
])
def test_a_dzki_surname_and_its_womans_form_stay_one_family(a: str, b: str, reason: str) -> None:
    from core.matching import PersonView, names_compatible, score_pair

    assert score_pair(PersonView(1, (a,)), PersonView(2, (b,))) == (0.0, [])
    assert score_pair(PersonView(1, (a,), "Budmax"), PersonView(2, (b,), "Budmax"))[1][0].startswith(reason)
    assert not names_compatible(a, b)


@pytest.mark.parametrize(("polish", "other"), [
    ("Zawadzki", "Завадский"), ("Zawadzki", "Zavadsky"), ("Grodzka", "Гродская"), ("Rudzki", "Rudskiy"),
])
def test_a_dzki_surname_alone_shares_a_blocking_key_with_its_russian_spelling(polish: str, other: str) -> None:
    """A pair is scored only when it shares a blocking key: before, "Zawadzki" and "Завадский" shared one only
    through a first name's key, so a record with the surname alone never met the other spelling."""
    from core.matching import blocking_keys

    assert blocking_keys([polish]) & blocking_keys([other])

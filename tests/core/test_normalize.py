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
        ("jan.kowalski+tag@firma.pl", "jan.kowalski+tag@firma.pl", False, False),  # dots/tags only at Gmail
        ("user@Bücher.de", "user@xn--bcher-kva.de", False, False),
        ("biuro@firma.pl", "biuro@firma.pl", True, False),
        ("Kontakt@firma.pl", "kontakt@firma.pl", True, False),
        ("noreply@service.com", "noreply@service.com", True, False),
        ("info+leads@acme.example", "info+leads@acme.example", True, False),
        ("a.ivanov@yandex.ru", "a.ivanov@yandex.ru", False, True),
        ("kasia@wp.pl", "kasia@wp.pl", False, True),
        ("иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai", False, False),
    ],
)
def test_normalize_email(raw: str, value: str, is_role: bool, is_freemail: bool) -> None:
    email = normalize_email(raw)
    assert (email.value, email.is_role, email.is_freemail) == (value, is_role, is_freemail)


@pytest.mark.parametrize("raw", ["", "   ", None, "jan", "jan@", "@firma.pl", "jan@@firma.pl", "jan@localhost", "a b@c.pl"])
def test_normalize_email_rejects(raw: str | None) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_email(raw)


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
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", None, "abc", "12", "+48 1", "phone me"])
def test_normalize_phone_rejects(raw: str | None) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_phone(raw, "PL")


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
    ],
)
def test_normalize_linkedin_variants_agree(raw: str) -> None:
    assert normalize_linkedin_url(raw) == "linkedin.com/in/jan-kowalski-123"


def test_normalize_linkedin_percent_encoded_slug() -> None:
    assert normalize_linkedin_url("https://pl.linkedin.com/in/%C5%82ukasz-w%C3%B3jcik") == "linkedin.com/in/łukasz-wójcik"


@pytest.mark.parametrize(
    "raw",
    ["", None, "https://example.com/in/jan", "https://www.linkedin.com/company/acme", "https://www.linkedin.com/in/",
     "https://linkedin.com.evil.example/in/jan", "https://www.linkedin.com/feed/"],
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
    ],
)
def test_fold_name_matches(a: str, b: str) -> None:
    assert fold_name(a) == fold_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("jurij", "yuriy"), ("kowalski", "kovalskiy"), ("lukasz", "lukash"), ("szczepan", "shchepan"), ("aleksiej", "aleksey")],
)
def test_name_skeleton_equal_across_transliterations(a: str, b: str) -> None:
    assert name_skeleton(a) == name_skeleton(b)


def test_display_name_kept_as_written() -> None:
    assert clean_display_name('  "Łukasz   Wójcik"  ') == "Łukasz Wójcik"
    assert clean_display_name("Юрий\u200b Ковальский") == "Юрий Ковальский"


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
    ],
)
def test_names_compatible(a: str, b: str, expected: bool) -> None:
    from core.matching import names_compatible

    assert names_compatible(a, b) is expected

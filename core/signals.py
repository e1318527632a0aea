"""Signals read from text: intent words, title seniority, language, country. Pure functions.

Text is folded (casefold, diacritics removed, Cyrillic kept as Cyrillic) so that "Wycenę", "wycene" and
"WYCENA" meet the same pattern and "Директор" meets "директор".
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import phonenumbers

if TYPE_CHECKING:
    from core.schemas import MessageIn

_POLISH_LETTERS = "ąćęłńóśźż"
_POLISH_WORDS = {
    "dzien", "dobry", "prosze", "witam", "dziekuje", "jest", "oraz", "firma", "firmy", "chcialbym", "chcialabym",
    "pozdrawiam", "szanowni", "panstwo", "czy", "sie", "nie", "jak", "oferte", "zapytanie", "wycena",
}
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"\w+", re.UNICODE)

# Words of intent to buy (English, Polish, Russian), matched as whole words on folded text. Polish and Russian
# inflect: each word is listed in the forms an inquiry uses ("prosimy o ofertę", "w ofercie", "zapytanie
# ofertowe", "ile kosztuje"; "пришлите КП", "по цене", "сколько стоимость", "хотим приобрести").
INTENT_STEMS: tuple[str, ...] = (
    "price", "prices", "pricing", "quote", "quotes", "quotation", "offer", "proposal", "cost", "costs",
    "estimate", "demo", "trial", "purchase", "purchasing", "buy", "buying", "rfq", "rfp", "tender",
    "license", "licenses", "licence", "licences",
    "oferta", "oferty", "oferte", "ofert", "ofercie", "ofertowe", "ofertowy", "ofertowego", "ofertowa", "cenowa",
    "cenowej", "cenowe", "cena", "ceny", "cene", "cenie", "cenach", "cen", "cennik", "cennika", "cenniku",
    "wycena", "wyceny", "wycene", "wycenie", "wycenic", "koszt", "kosztu", "koszty", "kosztow", "kosztach",
    "kosztuje", "kosztowac", "zakup", "zakupu", "zakupie", "zakupic", "kupic", "kupno", "zamowienie",
    "zamowienia", "zamowic", "prezentacja", "prezentacje", "prezentacji", "przetarg", "przetargu",
    "licencja", "licencje", "licencji", "wdrozenie", "wdrozenia", "wdrozeniu",
    "цена", "цены", "цену", "цене", "ценой", "ценах", "цен", "расценки", "прайс", "прайса", "прайсу",
    "стоимость", "стоимости", "стоимостью", "предложение", "предложения", "предложению", "предложением", "кп",
    "счет", "счета", "купить", "куплю", "покупка", "покупки", "покупку", "приобрести", "приобретение",
    "приобретения", "закупка", "закупки", "закупку", "заказ", "заказа", "заказать", "тендер", "тендера",
    "тендере", "демо", "демонстрация", "демонстрацию", "презентация", "презентацию", "лицензия", "лицензии",
    "лицензий", "внедрение", "внедрения",
)

SENIORITY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "executive": (
        "ceo", "cto", "cfo", "coo", "cmo", "cio", "chief", "founder", "cofounder", "co-founder", "owner",
        "president", "vp", "vice president", "head", "director", "managing director", "partner",
        "chairman", "chairwoman", "principal", "board member",
        "prezes", "wiceprezes", "dyrektor", "wlasciciel", "wspolwlasciciel", "wspolnik", "prokurent", "zarzad",
        "czlonek zarzadu",
        "директор", "генеральный директор", "гендиректор", "владелец", "собственник", "основатель", "учредитель",
        "соучредитель", "президент", "председатель", "партнер",
    ),
    "manager": (
        "manager", "lead", "team lead", "supervisor", "deputy", "kierownik", "menedzer", "koordynator", "zastepca",
        "руководитель", "начальник", "менеджер", "заведующий", "заместитель",
    ),
}


_ASCII = frozenset(map(chr, range(128)))


def fold_text(text: str | None) -> str:
    """casefold + strip diacritics (ł → l) for matching; Cyrillic stays Cyrillic (й, ё fold to и, е)."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold().replace("ł", "l"))
    if decomposed.isascii():
        return decomposed
    # Only the text's few distinct non-ASCII characters are looked at, and each mark goes in one C pass: a
    # Python test per character was most of qualifying a message.
    for ch in set(decomposed) - _ASCII:
        if unicodedata.combining(ch):
            decomposed = decomposed.replace(ch, "")
    return decomposed


@lru_cache(maxsize=65536)
def _folded_word(word: str) -> str:
    return fold_text(word)


@cache
def _stem_pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(fold_text(s)) for s in stems), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


@cache
def _word_set(stems: tuple[str, ...]) -> frozenset[str] | None:
    """The folded stems as a set, when each is one word (then a whole-word match is a set lookup per word of
    the text: one C pass to split it, instead of trying every alternative at every position)."""
    folded = [fold_text(s) for s in stems]
    return frozenset(folded) if all(_WORD.fullmatch(s) for s in folded) else None


def intent_hits(text: str | None, stems: tuple[str, ...] = INTENT_STEMS) -> list[str]:
    """The words of intent found in a text (folded), in order of appearance."""
    stems = tuple(stems)
    words = _word_set(stems)
    if words is None:
        return _stem_pattern(stems).findall(fold_text(text))
    return [word for word in _WORD.findall(fold_text(text)) if word in words]


def message_signals(message: MessageIn) -> tuple[int, str]:
    """(intent words in subject and text, language of the text) of a message, once per message (see
    MessageIn._derived): an import's helper process works them out before the record reaches the writer."""
    return message.derived("signals", lambda m: (len(intent_hits(f"{m.subject or ''}\n{m.text or ''}")),
                                                  detect_language(m.text or m.subject)))


def seniority(title: str | None, keywords: dict[str, tuple[str, ...]] | None = None) -> tuple[str, str] | None:
    """(level, keyword) for a job title: executive before manager; None when neither matches."""
    folded = fold_text(title)
    if not folded.strip():
        return None
    for level, words in (keywords or SENIORITY_KEYWORDS).items():
        found = _stem_pattern(tuple(words)).search(folded)
        if found:
            return level, found.group(0)
    return None


_CYRILLIC_RUN = re.compile(r"[\u0400-\u04ff]+")
_POLISH_LETTER = re.compile(f"[{_POLISH_LETTERS}]")


def detect_language(text: str | None) -> str:
    """A tiny heuristic that is enough for routing: Cyrillic → ru, Polish letters or words → pl, else en."""
    text = text or ""
    if not text.strip():
        return ""
    # Counted with C loops (map, regex), not a Python step per character.
    letters = sum(map(str.isalpha, text))
    cyrillic = sum(map(str.isalpha, "".join(_CYRILLIC_RUN.findall(text))))
    if letters and cyrillic / letters > 0.3:
        return "ru"
    lowered = text.casefold()
    if _POLISH_LETTER.search(lowered):
        return "pl"
    words = {_folded_word(w) for w in _WORD.findall(lowered)}
    if len(words & _POLISH_WORDS) >= 2:
        return "pl"
    return "en"


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def country_from_phone(e164: str | None) -> str:
    """ISO country code of an E.164 number ("" when unknown)."""
    if not e164:
        return ""
    if _E164.fullmatch(e164):
        # What region_code_for_number does, without parsing the whole number first: a country code that
        # belongs to one region answers alone (+48 is PL); shared ones (+1, +7 …) need the national number.
        digits = e164[1:]
        for length in range(1, 4):
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:length]))
            if regions is not None:
                if len(regions) == 1:
                    return regions[0]
                break
        else:
            return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""

"""Fuzzy person matching: blocking keys and an explainable pair score. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from importlib import resources
from itertools import chain, permutations, repeat

from nicknames import NickNamer
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Indel

from core.normalize import fold_name, name_skeleton, name_spelling, normalize_company

# A pair scoring at least this becomes a suggestion for a person to review (never an automatic merge).
SUGGESTION_THRESHOLD = 0.80
# Names at least this similar count as "the same name" even with no company or domain evidence.
STRONG_NAME_SIMILARITY = 0.95
NAME_SIMILARITY_FLOOR = 0.85
# One part of a double surname against the whole ("Anna Kowalska" ~ "Anna Kowalska-Nowak"), or a short form of
# the first name against the full one ("Kasia Nowak" ~ "Katarzyna Nowak"): close, but short of
# STRONG_NAME_SIMILARITY, so it needs company or domain evidence to become a suggestion.
VARIANT_SIMILARITY = 0.9
# An English short form stands for at most this many full names (by skeleton) to be read as one of them: "Kate"
# is Katherine or Kathryn, "Al" is a dozen names and says nothing.
MAX_FULL_NAMES_PER_SHORT_FORM = 4
# Skeletons (transliterated, vowel-light) agree more easily than spellings: their ratio counts a little less.
SKELETON_DISCOUNT = 0.97
# A name that this many other contacts already carry exactly is common ("Anna Nowak"): on its own, with no
# company or company-domain evidence, it says little about who is who, and suggesting every pair of a
# common name buries the reviewer (a term-frequency adjustment, as record-linkage tools make).
COMMON_NAME_NAMESAKES = 3


@dataclass(frozen=True)
class PersonView:
    """What fuzzy matching looks at for one contact."""

    contact_id: int
    names: tuple[str, ...]
    company: str = ""
    corporate_domains: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def name_forms(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The sorted-words and the skeleton form of each name that has any (what close_by_name compares),
        worked out once per view: a bulk path keeps its views and meets each one many times."""
        return name_forms_of(self.names)

    @cached_property
    def name_features(self) -> tuple[tuple[str, tuple[str, str, str, str, str] | None, str], ...]:
        """Each name and variant (name_variants) with its _name_features and the name it is a variant of, kept
        with the view (score_pair meets a kept view many times, and a store of 100,000 names outgrows the
        per-name memo)."""
        return tuple((variant, _name_features(variant), name) for name in self.names for variant in name_variants(name))

    @cached_property
    def company_key(self) -> str:
        return normalize_company(self.company)


def blocking_keys(names: tuple[str, ...] | list[str]) -> set[str]:
    """Keys under which a contact is filed for duplicate search.

    Two people are compared only if they share a key, which keeps the cost near-linear. Keys are built
    from name skeletons (see `name_skeleton`), so diacritics, transliteration and word order agree:
    for every ordered pair of name words, the first four skeleton letters of one and the initial of the
    other.
    """
    keys: set[str] = set()
    for name in names:
        keys |= _name_keys(name)
    return keys


@lru_cache(maxsize=65536)
def _name_keys(name: str) -> frozenset[str]:
    """The keys of one name (the same person's name comes back with every record of theirs), and of the name
    with a short first name written out, so that "Olek Zieliński" meets "Aleksander Zieliński"."""
    keys: set[str] = set()
    readings = other_readings(name)
    if len(name.split()) > 1 and _SOFT_S.search(name):
        # (Not the ś read as SZ: inside a word it leaves the initial, and the keys of the other words, which
        # carry that initial, meet the Russian name already. Its keys grew a Polish store's by 4%.)
        readings = tuple(reading for reading in readings if _SOFT_S.search(reading))
    for written in (name, *short_form_variants(name), *readings):
        words = [word for word in matching_words(fold_name(written)) if len(word) > 1]  # (name_tokens without titles)
        skeletons = [skeleton for skeleton in map(name_skeleton, words[:4]) if skeleton]
        keys |= {f"p:{first[:4]}/{second[:1]}" for first, second in permutations(skeletons, 2)}
        if len(skeletons) == 1:
            keys.add(f"1:{skeletons[0][:6]}")
    return frozenset(keys)


# A Slavic surname or first name in its man's and its woman's form (folded): Kowalski / Kowalska, Zieliński /
# Zielińska, Ковальський / Ковальська, Иванов / Иванова, Троцкий / Троцкая, Толстой / Толстая, Aleksander /
# Aleksandra, Евгений / Евгения, Jan / Janina, Daniel / Daniela. Almost one spelling apart, and two people: a
# husband and wife, a brother and sister sharing a family mailbox or phone.
_ADJECTIVAL_MAN = re.compile(r"^(.{2,}(?:sk|ck|zk))(?:iy|ij|ii|yi|yj|yy|i|y)$")
_ADJECTIVAL_WOMAN = re.compile(r"^(.{2,}(?:sk|ck|zk))(?:aya|aja|a)$")
_CONSONANT_END = re.compile(r"[^aeiou]$")
_VOWEL_CONSONANT_END = re.compile(r"[aeiouy][^aeiouy]$")


def _man_and_woman(man: str, woman: str) -> bool:
    """Whether two folded words are one name's man's and woman's forms (see _ADJECTIVAL_MAN)."""
    if _baltic_man_and_woman(man, woman) or _first_names_man_and_woman(man, woman) or _ova_man_and_woman(man, woman):
        return True
    if len(man) < 3 or not woman.endswith("a") or man.endswith("a"):
        return False
    adjectival_man, adjectival_woman = _ADJECTIVAL_MAN.match(man), _ADJECTIVAL_WOMAN.match(woman)
    if adjectival_man and adjectival_woman:
        return adjectival_man.group(1) == adjectival_woman.group(1)  # Kowalski / Kowalska, Trotskiy / Trotskaya
    if man.endswith(("oy", "oj")) and woman.endswith(("aya", "aja")):
        return man[:-2] == woman[:-3]  # Tolstoy / Tolstaya
    if man.endswith(("iy", "ij", "ii")) and woman.endswith(("iya", "ija", "iia", "ia")):
        return man[:-2] == woman[:-3] or man[:-2] == woman[:-2] and woman.endswith("ia")  # Evgeniy / Evgeniya, Evgenia
    if man.endswith("y") and woman in (man[:-1] + "ia", man[:-1] + "iya", man[:-1] + "ija"):
        return True  # Evgeny / Evgenia, Vitaly / Vitaliya, Walery / Waleria: the English and Polish Y of -ий
    if _CONSONANT_END.search(man) and woman in (man + "a", man + "ina", man + "ia"):
        return True  # Daniel / Daniela, Ivanov / Ivanova, Jan / Janina, Wiktor / Wiktoria
    if (len(man) >= 5 and _VOWEL_CONSONANT_END.search(man) and _VOWEL_CONSONANT_END.search(woman[:-1])
            and name_skeleton(woman[:-1]) == name_skeleton(man)):
        # The same in two spellings: Ё is E, YO, IO or O ("Хрущёва" folds to "khrushcheva", "Khrushchyov",
        # "Chruszczow"), В is W or V ("Iwanow" / "Иванова"). (Not a typing slip that ends in A: "Oscar" / "Oscra".)
        return True
    if (len(man) <= 4 and len(woman) >= len(man) + 2 and _CONSONANT_END.search(man)
            and name_skeleton(woman) == name_skeleton(man)):
        return True  # a short man's name, and a woman's with its consonants: Jan / Joanna, Ivan / Ivanna
    if woman.endswith("cka") and _noun_and_adjective(man, woman):
        return True  # Nowak / Nowacka
    # A fleeting e: Aleksander / Aleksandra, Franciszek / Franciszka.
    return len(man) >= 5 and man[-2] == "e" and woman == man[:-2] + man[-1] + "a" and _CONSONANT_END.search(man) is not None


def _first_names_man_and_woman(man: str, woman: str) -> bool:
    """Whether two folded words are a man's and a woman's first name of one root that the surname rules of
    _man_and_woman do not see: Julian / Julia, Marian / Maria, Adrian / Adrianna (Polish); Mario / Maria,
    Antonio / Antonia, Roberto / Roberta (a known first name: -o / -a is also a Ukrainian and a Belarusian spelling
    of one surname, Lukashenko / Lukashenka); Daniel / Danielle, Gabriel / Gabriella."""
    if len(man) < 4:
        return False
    if man.endswith("ian") and woman == man[:-1]:
        return True  # Julian / Julia, Marian / Maria, Damian / Damia
    if man.endswith("n") and woman == man + "na":
        return True  # Adrian / Adrianna, Marian / Marianna
    if man.endswith("el") and woman in (man + "le", man + "la"):
        return True  # Daniel / Danielle, Gabriel / Gabriella, Michel / Michelle
    if man.endswith("o") and woman == man[:-1] + "a":
        known = _first_name_forms()[1] | frozenset(_english_names().nickname_lookup)
        return man in known or woman in known  # Mario / Maria, Antonio / Antonia
    return False


# Lithuanian women's surnames: a married woman's -ienė (-uvienė for -us), an unmarried one's -aitė, -ytė, -utė
# (Kazlauskas: Kazlauskienė, Kazlauskaitė; Kairys: Kairienė, Kairytė); Latvian -is gives -e (Cīrulis: Cīrule).
_BALTIC_WOMAN_ENDINGS = ("iene", "uviene", "aite", "yte", "ute", "iute", "e")


def _baltic_man_and_woman(man: str, woman: str) -> bool:
    """Whether two folded words are a Lithuanian or Latvian surname's man's and woman's forms: Kazlauskas /
    Kazlauskienė / Kazlauskaitė, Kairys / Kairytė, Bērziņš / Bērziņa, Ozols / Ozola, Cīrulis / Cīrule. One letter
    apart (Bērziņš, Bērziņa) they read as a typing slip."""
    if len(man) < 5 or not man.endswith("s"):
        return False
    if man[-2] not in "aeiouy":
        return woman == man[:-1] + "a"  # Latvian: Ozols / Ozola, Bērziņš / Bērziņa
    stem = man[:-2]
    return man[-2] in "aiyu" and any(woman == stem + ending for ending in _BALTIC_WOMAN_ENDINGS)


def _ova_man_and_woman(man: str, woman: str) -> bool:
    """Whether two folded words are a surname and the woman's form Czech and Slovak make with -ová (and Polish, of
    old, with -owa) in any of their spellings (name_spelling): Novák / Nováková, Nowak / Nowakowa, Kowal /
    Kowalowa, with a fleeting e (Hájek / Hájková, Němec / Němcová) or a man's -a (Svoboda / Svobodová)."""
    if len(man) < 3 or len(woman) < len(man) + 2 or not woman.endswith(("ova", "owa")):
        return False
    stem = name_spelling(woman[:-3])
    if man.endswith("a"):
        return len(man) >= 5 and name_spelling(man[:-1]) == stem
    if not _CONSONANT_END.search(man):
        return False
    return stem == name_spelling(man) or (len(man) >= 4 and man[-2] == "e" and stem == name_spelling(man[:-2] + man[-1]))


def _noun_and_adjective(a: str, b: str) -> bool:
    """Whether two folded words are a Polish surname in -k and the woman's adjective made from it, in either order:
    "nowak" / "nowacka", "wojcik" / "wojcicka". A woman of the Nowak family is "Nowak" (or, less often,
    "Nowacka"), and "Nowacka" is also the woman of another family, the Nowackis: with the same first name, one
    woman as often as two people."""
    noun, adjective = (a, b) if b.endswith("cka") else (b, a)
    return noun.endswith("k") and adjective.endswith("cka") and noun[:-1] == adjective[:-3] and len(noun) >= 4


# A surname's man's form as Russian, Ukrainian and Belarusian write it in any Latin spelling: Ivanov, Iwanow,
# Pushkin, Tolstoy, Kovalskiy (the woman's form is Ivanova, Pushkina, Tolstaya, Kovalskaya).
_SURNAME_MAN = re.compile(r"(?:ov|ev|ow|ew|yov|iow|in|yn|oy|oj|sk(?:iy|ij|ii|yi|yj|yy|i|y)|ck(?:iy|ij|ii|i|y))$")


def _gendered_words(a: str, b: str) -> str:
    """Each man's and woman's pair of words of two folded names, said for a reason: "one first name (aleksander /
    aleksandra) and one surname (kowalski / kowalska)"."""
    pairs, words_b = [], b.split()
    for word in a.split():
        pair = gendered_counterparts(word, " ".join(words_b))
        if pair:
            pairs.append(f"one {_gendered_word_kind(*pair)} ({pair[0]} / {pair[1]})")
            words_b.remove(pair[1])
    return " and ".join(pairs)


def _gendered_word_kind(a: str, b: str) -> str:
    """What the man's and woman's words of gendered_counterparts are, for the reason: "surname" ("kowalski" /
    "kowalska", "ivanov" / "ivanova"), "first name" ("aleksander" / "aleksandra", "evgeniy" / "evgeniya": a full
    first name of core/data/first_name_forms.txt or of the nicknames package's table), or "name"."""
    man = b if a.endswith("a") else a
    if (_SURNAME_MAN.search(man) or _noun_and_adjective(a, b) or _baltic_man_and_woman(a, b)
            or _baltic_man_and_woman(b, a) or _ova_man_and_woman(a, b) or _ova_man_and_woman(b, a)):
        return "surname"
    if {name_skeleton(a), name_skeleton(b)} & _first_name_skeletons():
        return "first name"
    return "name"


@cache
def _first_name_skeletons() -> frozenset[str]:
    return frozenset(map(name_skeleton, chain(_first_name_forms()[1], _english_names().nickname_lookup)))


def _same_but(a: str, b: str, words: tuple[str, str]) -> bool:
    """Whether two folded names have the same other words (at least one) beside one word each (`words`)."""
    rest_a, rest_b = sorted(a.split()), sorted(b.split())
    rest_a.remove(words[0])
    rest_b.remove(words[1])
    return bool(rest_a) and rest_a == rest_b


def gendered_counterparts(a: str, b: str) -> tuple[str, str] | None:
    """A word of one folded name and a word of the other that are the man's and the woman's form of one name
    (each missing from the other name), or None: "jan kowalski" / "jan kowalska" gives ("kowalski", "kowalska")."""
    words_a, words_b = a.split(), b.split()
    for word_a in words_a:
        if word_a in words_b:
            continue
        for word_b in words_b:
            if word_b not in words_a and (_man_and_woman(word_a, word_b) or _man_and_woman(word_b, word_a)):
                return word_a, word_b
    return None


def names_compatible(a: str, b: str) -> bool:
    """Whether two names may belong to one person, as a guard before an automatic merge.

    Lenient on purpose (display names are noisy): an empty name, a folded or transliterated match, similar
    spellings, or a shared word with the same initial ("J. Kowalski" ~ "Jan Kowalski", "Jan" ~ "Jan Kowalski")
    are compatible. "Edward Kusha" and "Mary Kusha" sharing one mailbox are not: a person reviews that pair. Nor
    are the man's and the woman's form of one name ("Jan Kowalski" / "Jan Kowalska", "Aleksander Kowalski" /
    "Aleksandra Kowalska"): most often two people of one family.
    """
    fa, fb = fold_name(a), fold_name(b)
    if _LEGAL_FORM.search(fa) and _LEGAL_FORM.search(fb):
        # Two companies' names: one firm written two ways, or two firms sharing an accountant's phone or address.
        return company_similarity(normalize_company(a), normalize_company(b)) >= 0.9
    if not fa or not fb or fa == fb or _LEGAL_FORM.search(fa) or _LEGAL_FORM.search(fb):
        return True  # (a company's name in the name field says nothing about who the person is)
    reading_pairs = [(reading_a, reading_b)
                     for reading_a in (a, *other_readings(a)) for reading_b in (b, *other_readings(b))]
    readings = [(fold_name(reading_a), fold_name(reading_b)) for reading_a, reading_b in reading_pairs]
    if any(gendered_counterparts(x, y) or gendered_counterparts(_spelled(x), _spelled(y)) for x, y in readings):
        return False  # (also across spellings: "Siergiej Iwanow" / "Сергей Иванова", "Jan Żukow" / "Ян Жукова")
    ta, tb = fa.split(), fb.split()
    if _same_skeletons(fa, fb):
        return True
    if ({fa, *map(fold_name, short_form_variants(fa))} & {fb, *map(fold_name, short_form_variants(fb))}
            and not _vowel_apart(fa, fb)):
        return True  # a short form of the same first name ("Olek Zieliński", "Aleksander Zieliński"; not "Ola" / "Ala")
    if any(_same_skeletons(x, y) for x, y in readings[1:]):
        return True  # "Ганна Гриценко" ~ "Hanna Hrytsenko", "Nikita Chruszczow" ~ "Никита Хрущёв"
    if "".join(ta) == "".join(tb) or "".join(ta) == "".join(reversed(tb)):
        return True  # the same words run together or split ("JanKowalski", "Kowalska Nowak" / "Kowalska-Nowak")
    # Word by word, as written and as the other spellings read them ("K. Żukowa" ~ "Ksenia Zhukova"); not two
    # Latin names both read the Polish way, where a typing slip between the readings is none between the names
    # ("Zawadzki" / "Zawacki" read "Zawadski" / "Zawatski": two surnames).
    latin_a, latin_b = not _CYRILLIC.search(a), not _CYRILLIC.search(b)
    return any(_words_align(tuple(matching_words(x)), tuple(matching_words(y)))
               for (x, y), (reading_a, reading_b) in zip(readings, reading_pairs, strict=True)
               if not (latin_a and latin_b and reading_a != a and reading_b != b))


# Longest run of words compared one by one (every pairing is tried): longer names are cut to their first words.
_MAX_ALIGNED_WORDS = 6


def _words_align(ta: tuple[str, ...], tb: tuple[str, ...]) -> bool:
    """Whether each word of the shorter name stands for its own word of the other (_words_agree), with at least
    one whole word (not an initial) among them: "J. Kowalski" ~ "Jan Kowalski", "Anna Nowak" ~ "Anna Maria
    Nowak", "Katarzna Nowak" ~ "Katarzyna Nowak". A whole-name likeness is not enough: "Jan Nowak" / "Janusz
    Nowak", "Jan Kowalski" / "Jan Kowalczyk" and "Harry Smith" / "Gary Smith" look alike and are two people."""
    short, long = sorted((ta[:_MAX_ALIGNED_WORDS], tb[:_MAX_ALIGNED_WORDS]), key=len)
    if not short:
        return True
    for chosen in permutations(long, len(short)):
        if (all(_words_agree(x, y) for x, y in zip(short, chosen, strict=True))
                and any(len(x) > 1 and len(y) > 1 for x, y in zip(short, chosen, strict=True))):
            return True
    return False


@lru_cache(maxsize=65536)
def _words_agree(x: str, y: str) -> bool:
    """Whether two folded name words may be one word of one person's name: the same, the same in another
    spelling or transliteration (name_skeleton: "kowalsky" / "kowalski", "iwanow" / "ivanov"), an initial for
    the word ("j" / "jan"), a short form of a first name ("kasia" / "katarzyna", "mike" / "michael", "dima" /
    "dmitry"), or one typing slip (_one_slip: "katarzna" / "katarzyna", "jna" / "jan"). Not a longer or a
    shorter name that starts alike ("jan" / "janusz"), nor another name one letter off ("harry" / "gary")."""
    if x == y or _same_sound(x, y):
        return True
    if len(x) == 1 or len(y) == 1:
        return x[0] == y[0]
    fulls_x = {_loose_skeleton(f) for f in full_first_names(x)}
    fulls_y = {_loose_skeleton(f) for f in full_first_names(y)}
    if _loose_skeleton(x) in fulls_y or _loose_skeleton(y) in fulls_x:
        return True  # a short form and its full name ("kasia", "katarzyna")
    if fulls_x & fulls_y and not _other_vowel(x, y):
        return True  # two short forms of one name ("kasia", "kaska"; but "ola" and "ala" are two names)
    return _one_slip(x, y) or (x[0] == y[0] and sorted(x) == sorted(y))  # (or its letters out of order: "olirev")


def _loose_skeleton(word: str) -> str:
    """name_skeleton with English's "th" read as t: "kate" stands for "katherine", which is "katerina"."""
    return name_skeleton(word.replace("th", "t"))


def _one_slip(x: str, y: str) -> bool:
    """One letter typed wrong, left out, doubled or swapped with the next, after the same first letter (a first
    letter is rarely mistyped, and a name with another one is another name: "harry" / "garry"; but C and K sound
    alike, "candace" / "kandace", and a stray letter may come before a long word). A short word
    (four letters or fewer) admits no wrong letter, only one left out or two swapped: "mark" / "mary" and
    "jan" / "jon" are two names, "jna" is "jan"."""
    if OSA.distance(x, y, score_cutoff=1) > 1:
        return False
    if x[0] != y[0]:
        # A letter typed before the word ("njohnston"), or a first letter that sounds the same ("kandace").
        if {x[0], y[0]} == {"c", "k"}:
            return x[1:] == y[1:] and x[1] in "aoulr"  # (English's hard C; a Polish C is Ц: "cwietajewa")
        return min(len(x), len(y)) >= 5 and (x[1:] == y or y[1:] == x)
    return min(len(x), len(y)) > 4 or len(x) != len(y) or sorted(x) == sorted(y)


def _spelled(folded: str) -> str:
    return " ".join(map(name_spelling, folded.split()))


# A company's legal form in a folded name ("Budmax Sp. z o.o.", "ООО «Севертранс»", "ТОВ Агроінвест", "Acme LLC"):
# the name field holds the company, as forms and CRM exports often have it.
_LEGAL_FORM = re.compile(r"\b(?:sp z o ?o|spzoo|sp [jk]|ooo|tov|pao|oao|zao|llc|ltd|gmbh|inc|plc|corp)\b")


def _same_skeletons(fa: str, fb: str) -> bool:
    return (sorted(name_skeleton(t) for t in fa.split()) == sorted(name_skeleton(t) for t in fb.split())
            and not _vowel_apart(fa, fb))


def _same_sound(x: str, y: str) -> bool:
    """Whether two folded words are one word in two spellings or transliterations (the same name_skeleton), and
    not two short names a vowel apart (_other_vowel: "jon" / "jan")."""
    return name_skeleton(x) == name_skeleton(y) and not _other_vowel(x, y)


# Vowels that make another short name when one stands for another ("jon" / "jan", "lena" / "lina"); Y is left
# out: it is a transliteration's glide ("ilya" / "ilia", "yuriy").
_FULL_VOWELS = frozenset("aeiou")


@lru_cache(maxsize=65536)
def _other_vowel(x: str, y: str) -> bool:
    """Whether two short folded words (four letters or fewer, as name_spelling writes them) differ only in a vowel
    at the same place: "jon" / "jan", "lena" / "lina", "mila" / "mela". name_skeleton drops vowels, so such names
    read as one; in a short word a vowel is most of the name (one typing slip there is another name, _one_slip)."""
    sx, sy = name_spelling(x), name_spelling(y)
    if sx == sy or len(sx) != len(sy) or len(sx) > 4 or sorted(sx) == sorted(sy):
        return False  # (the same letters out of order, "rowe" / "rewo", are a typing slip: _one_slip)
    return all(a == b or (a in _FULL_VOWELS and b in _FULL_VOWELS) for a, b in zip(sx, sy, strict=True))


def _vowel_apart(fa: str, fb: str) -> bool:
    """Whether a word of one folded name and a word of the other are two short names a vowel apart (_other_vowel)."""
    words_b = fb.split()
    return any(_other_vowel(x, y) for x in fa.split() for y in words_b)


@lru_cache(maxsize=65536)
def ukrainian_reading(name: str) -> tuple[str, ...]:
    """The name as Ukraine's Latin spelling reads its Г, as H ("Ганна Гриценко" as "Hanna Hrytsenko", "Сергій" as
    "Serhii"), for a name written in Cyrillic with a Г: fold_name reads it as Russian does, G, and a Ukrainian's
    passport, LinkedIn profile and e-mail signature write H. (Х, read KH, becomes H in the skeleton too.)"""
    if "г" not in name and "Г" not in name:
        return ()
    return (name.replace("г", "х").replace("Г", "Х"),)


# A Latin name written the Polish way: a letter or a spelling only Polish uses (ł, sz, cz, -owa, -ij, -wski, wie).
# Polish teams write Russian and Ukrainian names so ("Siergiej Iwanow", "Ksenia Żukowa", "Nikita Chruszczow").
_POLISH_SPELLING = re.compile(r"[łżźśćńąęó]|sz|cz|rz|wsk|wicz|wi[aeou]|dzk[ai]\b|ck[ai]\b|(?:ow|ew)a?\b|ij\b|iej\b", re.IGNORECASE)
# Polish "ch" is Russian Х (English "kh"); not in "sch", "cz"'s neighbour, or English's "tch".
_POLISH_CH = re.compile(r"(?<![sct])ch", re.IGNORECASE)
# Polish "c" on its own is Ц (English "ts"): "Cwietajewa" is "Tsvetaeva", "Hrycenko" "Hrytsenko".
_POLISH_C = re.compile(r"c(?![zh])", re.IGNORECASE)
# Polish "dz" before a -ki/-ka ending is Russian's -дский, -дская (English "-dsky"): "Zawadzki" is "Завадский",
# "Zavadsky"; "Grodzka" is "Гродская". Only there: elsewhere "dz" is one sound (Dzierżyński / Дзержинский).
_POLISH_DZK = re.compile(r"(?<=d)z(?=k[ai]\b)", re.IGNORECASE)


@lru_cache(maxsize=65536)
def polish_reading(name: str) -> tuple[str, ...]:
    """The name as the Polish transcription of a Russian name and the other spellings meet: a Polish "ch" as H
    (Х: "Chruszczow" as "Hruszczow", which is "Khrushchyov"; "Achmatowa", "Michaił") and a "c" on its own as TS
    (Ц: "Cwietajewa" as "Tswietajewa", "Tsvetayeva"), for a Latin name with a spelling only Polish uses; and
    the other way, a Ж as the Z that a folded Polish Ż is ("Жукова" as "Зукова", "Zhukova" as "Zukova", which
    "Żukowa" folds to; Polish RZ, read as ZH by name_skeleton, stays apart). fold_name reads a Polish "ch" as
    English's (Ч) and "ż" as Z. (W, J, SZ, CZ and SZCZ for В, Й, Ш, Ч and Щ are name_skeleton's.)"""
    if _CYRILLIC.search(name):
        return (name.replace("ж", "з").replace("Ж", "З"),) if "ж" in name or "Ж" in name else ()
    if "zh" in name.casefold():
        return (_ZH.sub(lambda m: m.group()[0], name),)
    if not _POLISH_SPELLING.search(name):
        return ()
    reading = _POLISH_CH.sub(lambda m: "H" if m.group()[0].isupper() else "h", name)
    reading = _POLISH_C.sub(lambda m: "Ts" if m.group().isupper() else "ts", reading)
    reading = _POLISH_DZK.sub(lambda m: "S" if m.group().isupper() else "s", reading)
    readings = (reading,) if reading != name else ()
    soft_s = _soft_s_reading(reading)
    return readings + ((soft_s,) if soft_s else ())


# A Polish ś inside a word (not ść, which Russian writes сть or сц) where Russian has ш in one Slavic surname:
# Wiśniewski / Вишневский (wiśnia, вишня), Wiśniowiecki / Вишневецкий.
_SOFT_S = re.compile(r"\B[śŚ](?![ćĆ])")


# The same ś as a Polish name in ASCII letters writes it (Wisniewski, Lesniewski): an s before "ni".
_ASCII_SOFT_S = re.compile(r"\B[sS](?=ni)")


def _soft_s_reading(name: str) -> str | None:
    """The name with a Polish ś inside a word read as SZ (Ш), or None without one. One more reading, not the
    reading: as often Russian writes С for it (Leśniewski / Лесневский, Cieśla / Цесля), which the name as
    written meets. A name in ASCII letters (its marks lost to a form or a mailbox) is read so where an S stands
    before "ni", as ś does in Wiśniewski, Leśniak: "Wisniewski" meets Вишневский as "Wiśniewski" does."""
    if "ś" in name or "Ś" in name:
        reading = _SOFT_S.sub(lambda m: "SZ" if m.group() == "Ś" else "sz", name)
    elif name.isascii():
        reading = _ASCII_SOFT_S.sub(lambda m: "SZ" if m.group() == "S" else "sz", name)
    else:
        return None
    return reading if reading != name else None


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ZH = re.compile(r"zh", re.IGNORECASE)


def other_readings(name: str) -> tuple[str, ...]:
    """The name as other spellings of the same sounds write it (ukrainian_reading, polish_reading)."""
    return ukrainian_reading(name) + polish_reading(name)


# Words that are not the person's name: titles and degrees (Polish, English, Russian) and generational suffixes.
_TITLES = frozenset({"dr", "prof", "hab", "mgr", "inz", "lic", "phd", "mba", "msc", "bsc", "ing", "mr", "mrs", "ms",
                     "miss", "pan", "pani", "jr", "sr", "ii", "iii", "gospodin", "gospozha"})
# Russian patronymics, as transliterated: Иванович, Сергеевна, Ильинична, Кузьмич (the Ильич kind is too like
# a surname to drop); Ukrainian women's Іванівна, Сергіївна, and Belarusian Рыгоравіч, Рыгораўна. A full name in
# a Russian, Ukrainian or Belarusian record (ФИО, ПІБ) carries one, an e-mail or a profile does not.
_PATRONYMIC_ENDINGS = ("ovich", "evich", "ovna", "evna", "ichna", "ivna", "avich", "auna")


def matching_words(folded: str) -> list[str]:
    """The words of a folded name that say who the person is: titles dropped, and the patronymic of a
    three-word Russian name ("ivanov ivan ivanovich", "ivan ivanovich ivanov")."""
    words = folded.split()
    kept = [w for w in words if w not in _TITLES]
    if len(kept) < 2:
        kept = words  # a title is all there is, or it is somebody's name ("Pan")
    if len(kept) == 3:
        for position in (2, 1):
            if kept[position].endswith(_PATRONYMIC_ENDINGS):
                return kept[:position] + kept[position + 1:]
    return kept


@lru_cache(maxsize=65536)
def _name_features(name: str) -> tuple[str, str, str, str, str] | None:
    """What comparing a name needs, worked out once per name (a stored contact meets many new ones): the
    folded name (titles and a patronymic left out: matching_words), its case-folded original, its words sorted,
    its word skeletons sorted, and a note for the reason when words were left out."""
    maiden = maiden_name(name)
    tokens = matching_words(fold_name(maiden[0] if maiden else name))
    if not tokens:
        return None
    folded = " ".join(tokens)
    trimmed = (" (the word in brackets left out)" if maiden and maiden[2] else " (a maiden name left out)" if maiden else
               " (a title or patronymic left out)" if folded != fold_name(name) else "")
    tokens = sorted(tokens)
    return (folded, name.strip().casefold(), " ".join(tokens), " ".join(sorted(name_skeleton(t) for t in tokens)),
            trimmed)


# A maiden name written after the married one: "Anna Nowak z domu Kowalska" (or "z d."), "née", German "geb.",
# Russian "урождённая" ("урожд."), "в девичестве", or in brackets: "Anna Nowak (Kowalska)".
_MAIDEN_MARKER = re.compile(
    r"(?:^|(?<=[\s,(]))(?:z\s+d\.?|z\s+domu|n[ée]e|geb\.?|урожд(?:[её]нная|\.)?|в\s+девичестве)\s+([^\s()]+)\s*\)?$",
    re.IGNORECASE)
_BRACKETED_LAST_WORD = re.compile(r"\(\s*([^\s()]+)\s*\)$")


@lru_cache(maxsize=65536)
def maiden_name(name: str) -> tuple[str, str, bool] | None:
    """The married name and the maiden surname of a name that gives both ("Anna Nowak z domu Kowalska" gives
    ("Anna Nowak", "Kowalska", False)), or None. Compared as the married name, with the maiden one as a variant.
    The last item tells a word in brackets ("Anna Nowak (Kowalska)"), which may as well be a firm's ("Jan Nowak
    (Budmax)", as mail programs show senders): left out of the name either way. (Searched for from the end, with
    no two quantifiers over the same characters side by side: a long run of spaces costs no backtracking.)"""
    text = name.strip()
    found, bracketed = _MAIDEN_MARKER.search(text), False
    if found is None:
        found, bracketed = _BRACKETED_LAST_WORD.search(text), True
        if found is None:
            return None
    married = text[: found.start()].strip(" ,(")
    words = len(married.split())
    return (married, found[1], bracketed) if words == 2 or (words > 2 and not bracketed) else None


@lru_cache(maxsize=65536)
def maiden_name_variants(name: str) -> tuple[str, ...]:
    """The name under the maiden surname ("Anna Nowak z domu Kowalska" as "Anna Kowalska"): her records from
    before the wedding, or a colleague's who knew her then."""
    maiden = maiden_name(name)
    if maiden is None:
        return ()
    return (" ".join([*maiden[0].split()[:-1], maiden[1]]),)


@lru_cache(maxsize=65536)
def name_variants(name: str) -> tuple[str, ...]:
    """The name, and for a double surname ("Anna Kowalska-Nowak") the name with each of its parts alone: a woman
    who took a second surname appears under either in other records; and the name with a short first name
    written out (short_form_variants). Variants score at most VARIANT_SIMILARITY."""
    parts = name.split()
    variants = [name]
    for i, part in enumerate(parts):
        pieces = [p for p in part.split("-") if p]
        if len(pieces) == 2 and len(parts) >= 2 and all(len(p) > 1 for p in pieces):
            variants += [" ".join(parts[:i] + [piece] + parts[i + 1:]) for piece in pieces]
    return tuple(variants) + short_form_variants(name) + other_readings(name) + maiden_name_variants(name)


@lru_cache(maxsize=65536)
def short_form_variants(name: str) -> tuple[str, ...]:
    """The name with a short form of a first name written out in full ("Kasia Nowak" -> "katarzyna Nowak",
    "Дима Иванов" -> "dmitriy Иванов", "Mike Smith" -> "michael Smith"), one word at a time, for names of two
    or three words: people sign mail with the short form and keep the full one on LinkedIn and in the CRM."""
    parts = name.split()
    if not 2 <= len(parts) <= 3:
        return ()
    table = _short_forms()
    words = fold_name(name).split()  # (the whole name's fold is memoised already: a word at a time when it splits)
    if len(words) != len(parts):
        words = [fold_name(part) for part in parts]
    variants: list[str] = []
    for i, word in enumerate(words):
        for full in table.get(word, ()):
            variants.append(" ".join(parts[:i] + [full] + parts[i + 1:]))
    return tuple(variants)


def full_first_names(word: str) -> tuple[str, ...]:
    """The full first names (folded) that a folded word is a short form of; none for a full name or a surname.
    Polish, Russian and Ukrainian forms from core/data/first_name_forms.txt, English ones from the nicknames
    package's table (when they stand for few names)."""
    return _short_forms().get(word, ())


@cache
def _short_forms() -> dict[str, tuple[str, ...]]:
    """Every short form with the full names it stands for, worked out once: looked up for each word of each name."""
    ours, full_names = _first_name_forms()
    english = _english_names().canonical_lookup
    table: dict[str, tuple[str, ...]] = {}
    for word in {*ours, *english}:
        if not word or " " in word or word in full_names:
            continue
        found = list(ours.get(word, ()))
        by_skeleton = {name_skeleton(full): full for full in reversed(sorted(english.get(word, ())))}  # (one per sound)
        if len(by_skeleton) <= MAX_FULL_NAMES_PER_SHORT_FORM:
            found += sorted(by_skeleton.values())
        fulls = tuple(dict.fromkeys(full for full in found if full != word))
        if fulls:
            table[word] = fulls
    return table


@cache
def _first_name_forms() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """core/data/first_name_forms.txt folded: each short form's full names, and the full names themselves."""
    text = resources.files("core.data").joinpath("first_name_forms.txt").read_text(encoding="utf-8")
    forms: dict[str, list[str]] = {}
    full_names: set[str] = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or ":" not in line:
            continue
        full, _, shorts = line.partition(":")
        full = fold_name(full)
        full_names.add(full)
        for short in (fold_name(s) for s in shorts.split(",")):
            if short and short != full and full not in forms.setdefault(short, []):
                forms[short].append(full)
    return {short: tuple(fulls) for short, fulls in forms.items()}, frozenset(full_names)


@cache
def _english_names() -> NickNamer:
    return NickNamer()


def _name_similarity(a: str, b: str, floor: float = 0.0) -> tuple[float, str]:
    """Similarity in [0, 1] with its reason. Below `floor` the fuzzy ratio may be reported as 0 (rapidfuzz stops
    early); at or above it the figure is exact."""
    return _similarity(a, _name_features(a), b, _name_features(b), floor)


def _similarity(
    a: str, features_a: tuple[str, str, str, str, str] | None, b: str,
    features_b: tuple[str, str, str, str, str] | None, floor: float,
) -> tuple[float, str]:
    if features_a is None or features_b is None:
        return 0.0, ""
    folded_a, plain_a, sorted_a, skeleton_a, trimmed_a = features_a
    folded_b, plain_b, sorted_b, skeleton_b, trimmed_b = features_b
    note = trimmed_a or trimmed_b
    if folded_a == folded_b:
        if plain_a == plain_b:
            return 1.0, f"same name: {a}"
        if note:
            return 1.0, f"same name: {a} ~ {b}{note}"
        return 1.0, f"same name ignoring diacritics or script: {a} ~ {b}"
    if sorted_a == sorted_b:
        return 0.99, f"same name in another order: {a} ~ {b}{note}"
    # Skeletons drop vowels: two short names a vowel apart ("Jon" / "Jan Smith") are compared as spelt.
    by_skeleton = not _vowel_apart(sorted_a, sorted_b)
    if skeleton_a == skeleton_b and by_skeleton:
        return 0.96, f"same name in another spelling or transliteration: {a} ~ {b}{note}"
    # The words are already sorted, so ratio() of the sorted strings is token_sort_ratio().
    cutoff = floor * 100
    ratio = max(fuzz.ratio(sorted_a, sorted_b, score_cutoff=cutoff),
                fuzz.ratio(skeleton_a, skeleton_b, score_cutoff=cutoff / SKELETON_DISCOUNT) * SKELETON_DISCOUNT
                if by_skeleton else 0) / 100
    return ratio, f"similar names ({round(ratio * 100)}%): {a} ~ {b}{note}"


def name_forms_of(names: tuple[str, ...] | list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sorted-words and the skeleton form of each name that has any, each pair once (an alias that only
    reorders the words, as many do, adds nothing to compare): what names_near compares."""
    forms = dict.fromkeys((f[2], f[3]) for name in names for variant in name_variants(name)
                          if (f := _name_features(variant)) is not None)
    return tuple(f[0] for f in forms), tuple(f[1] for f in forms)


def names_near(mine: tuple[tuple[str, ...], tuple[str, ...]], sorted_forms: list[str], skeletons: list[str]) -> set[int]:
    """Positions of the forms (two parallel lists, as name_forms_of gives them) with a name at or above
    NAME_SIMILARITY_FLOOR against one of `mine`, by _name_similarity's own measure. One rapidfuzz C loop over
    the lot replaces a Python call per pair: a new contact meets hundreds of candidates and most are far below
    the floor. (Each exact-match case of _name_similarity has a sorted-words or skeleton ratio of 100, so none
    is lost.)"""
    passing: set[int] = set()
    if not sorted_forms:
        return passing
    # Indel's normalised similarity is fuzz.ratio / 100 without fuzz.ratio's wrapping (half the time per
    # choice); the same pairs pass at the same cutoff (tests/core/test_normalize.py checks both scorers agree).
    for sorted_a, skeleton_a in zip(*mine, strict=True):
        passing.update(i for _, _, i in process.extract(sorted_a, sorted_forms, scorer=Indel.normalized_similarity,
                                                        score_cutoff=NAME_SIMILARITY_FLOOR, limit=None))
        passing.update(i for _, _, i in process.extract(skeleton_a, skeletons, scorer=Indel.normalized_similarity,
                                                        score_cutoff=NAME_SIMILARITY_FLOOR / SKELETON_DISCOUNT,
                                                        limit=None))
    return passing


def close_by_name(me: PersonView, others: list[PersonView]) -> list[PersonView]:
    """The others with a name at or above NAME_SIMILARITY_FLOOR against one of mine (names_near), in their order."""
    if not me.name_forms[0] or not others:
        return []
    forms = [other.name_forms for other in others]
    owner = list(chain.from_iterable(repeat(i, len(f[0])) for i, f in enumerate(forms)))
    near = names_near(me.name_forms, list(chain.from_iterable(f[0] for f in forms)),
                      list(chain.from_iterable(f[1] for f in forms)))
    return [others[i] for i in sorted({owner[i] for i in near})]


def cannot_reach_threshold(a: PersonView, b: PersonView) -> bool:
    """True when score_pair cannot reach SUGGESTION_THRESHOLD for the pair whatever their names: clearly
    different companies (-0.15) and no shared company e-mail domain leave at most 0.8 + 0.1 - 0.15 = 0.75.
    Checked before the names, which cost far more: most look-alike names of a big store are at other firms."""
    company_a, company_b = a.company_key, b.company_key
    if not company_a or not company_b or company_similarity(company_a, company_b) >= 0.6:
        return False
    return not (a.corporate_domains & b.corporate_domains)


@lru_cache(maxsize=65536)
def company_similarity(a: str, b: str) -> float:
    """fuzz.ratio of two normalised company names in [0, 1], memoised: a store's companies repeat, and a new
    contact's company meets the same few hundred in every batch."""
    return fuzz.ratio(a, b) / 100


def _between_polish_names(name_a: str, whole_a: str, name_b: str, whole_b: str) -> bool:
    """Whether one of two names is read with its ś as SZ (_soft_s_reading) against a Latin name written the
    Polish way: that reading is for Russian's Ш, not for another Polish surname."""
    return any(name.casefold().count("sz") > whole.casefold().count("sz") and name in polish_reading(whole)
               and not _CYRILLIC.search(other) and _POLISH_SPELLING.search(other)
               for name, whole, other in ((name_a, whole_a, whole_b), (name_b, whole_b, whole_a)))


# How other spellings write Ц: Cyrillic ц, Latin ts / tz / c.
_TS_WRITTEN = re.compile(r"[цЦ]|ts|tz|c", re.IGNORECASE)


def _ts_reading_against_no_ts(name_a: str, whole_a: str, name_b: str, whole_b: str) -> bool:
    """Whether one of two names is read with a Polish C as TS (polish_reading: Wysocki as Wysotski, for Высоцкий,
    Vysotsky) against a name that writes no Ц at all: that reading is for Russian's Ц, and against "Bieski" or
    "Sawiski" it only makes two Polish surnames alike."""
    return any(name in polish_reading(whole) and "ts" in name.casefold() and "ts" not in whole.casefold()
               and not _TS_WRITTEN.search(other)
               for name, whole, other in ((name_a, whole_a, whole_b), (name_b, whole_b, whole_a)))


def score_pair(
    a: PersonView, b: PersonView, *, common_name: bool | Callable[[], bool] = False
) -> tuple[float, list[str]]:
    """Score in [0, 1] that two contacts are one person, with the reasons a human can check. common_name: the
    name is carried by COMMON_NAME_NAMESAKES others or more, so it needs company or domain evidence (or a
    function that tells, asked only when the pair has the name alone: counting namesakes costs more than most
    pairs)."""
    best, best_reason = 0.0, ""
    for name_a, features_a, whole_a in a.name_features:
        for name_b, features_b, whole_b in b.name_features:
            sim, reason = _similarity(name_a, features_a, name_b, features_b, NAME_SIMILARITY_FLOOR)
            variant = name_a != whole_a or name_b != whole_b
            # (A reading against a name as written or another reading: the same name in other letters. Against
            # a short form or a part of a double surname, the cap below.)
            reading = variant and (name_a == whole_a or name_a in other_readings(whole_a)) and (
                name_b == whole_b or name_b in other_readings(whole_b))
            if reading and sim >= NAME_SIMILARITY_FLOOR and (
                    name_a in ukrainian_reading(whole_a) or name_b in ukrainian_reading(whole_b)):
                reason = f"same name in Ukraine's Latin spelling (Г as H): {whole_a} ~ {whole_b}"
            elif reading and sim >= NAME_SIMILARITY_FLOOR and _between_polish_names(name_a, whole_a, name_b, whole_b):
                continue  # ("Wiśniewski" read as "Wiszniewski" against a Wiszniewski: two Polish surnames)
            elif reading and sim >= NAME_SIMILARITY_FLOOR and _ts_reading_against_no_ts(name_a, whole_a, name_b, whole_b):
                continue  # ("Biecki" read as "Bietski" against a Bieski: two Polish surnames)
            elif reading and sim >= NAME_SIMILARITY_FLOOR:
                reason = f"same name in Polish transcription (ch as Kh, ż as Zh, c as Ts, dz as Ds, ś as Sh): {whole_a} ~ {whole_b}"
            elif variant and sim < STRONG_NAME_SIMILARITY:
                continue  # a short form or a part that is only like the other name ("john" for "Jon" ~ "Jan")
            elif variant and sim > VARIANT_SIMILARITY:
                short_form = name_a in short_form_variants(whole_a) or name_b in short_form_variants(whole_b)
                maiden = name_a in maiden_name_variants(whole_a) or name_b in maiden_name_variants(whole_b)
                sim, reason = VARIANT_SIMILARITY, (
                    f"a short form of the same first name: {whole_a} ~ {whole_b}" if short_form
                    else f"a maiden and a married name: {whole_a} ~ {whole_b}" if maiden
                    else f"one part of a double surname: {whole_a} ~ {whole_b}")
            if sim >= NAME_SIMILARITY_FLOOR and (gendered := gendered_counterparts(features_a[0], features_b[0])):
                if _noun_and_adjective(*gendered) and _same_but(features_a[0], features_b[0], gendered):
                    reason = (f"one surname as a noun and as a woman's adjective ({gendered[0]} / {gendered[1]}): "
                              f"one woman written both ways, or two families: {whole_a} ~ {whole_b}")
                else:
                    sim, reason = min(sim, VARIANT_SIMILARITY), (
                        f"a man's and a woman's form of {_gendered_words(features_a[0], features_b[0])}, often two "
                        f"people of one family: {whole_a} ~ {whole_b}")
            if sim > best:
                best, best_reason = sim, reason
    if best < NAME_SIMILARITY_FLOOR:
        return 0.0, []
    reasons = [best_reason]
    evidence = 0.0
    company_a, company_b = a.company_key, b.company_key
    if company_a and company_b:
        company_ratio = company_similarity(company_a, company_b)
        if company_ratio >= 0.9:
            evidence += 0.15
            reasons.append(f"same company: {a.company} ~ {b.company}")
        elif company_ratio < 0.6:
            evidence -= 0.15
            reasons.append(f"different companies: {a.company} / {b.company}")
    shared_domains = a.corporate_domains & b.corporate_domains
    if shared_domains:
        evidence += 0.1
        reasons.append(f"same company email domain: {', '.join(sorted(shared_domains))}")
    elif a.corporate_domains and b.corporate_domains:
        evidence -= 0.05
    if evidence <= 0 and (best < STRONG_NAME_SIMILARITY or (common_name() if callable(common_name) else common_name)):
        return 0.0, []
    score = max(0.0, min(1.0, 0.8 * best + evidence + (0.1 if best >= STRONG_NAME_SIMILARITY else 0.0)))
    return round(score, 3), reasons

"""Scoring rules are data: every rule type, explanations, thresholds, temperature, non-target, and the text
signals they read (pure functions, no database)."""

from __future__ import annotations

import pytest

from core.scoring import (
    DEFAULT_RULESET,
    LeadFeatures,
    RuleSetError,
    ScoreResult,
    Thresholds,
    decide_stage,
    parse_ruleset,
    score_lead,
)
from core.signals import country_from_phone, detect_language, intent_hits, seniority

NOW = 1_800_000_000.0
DAY = 86_400.0


def _score(rule: dict, **features) -> ScoreResult:  # noqa: ANN003
    ruleset = parse_ruleset({"rules": [{"id": "r", **rule}]})
    return score_lead(LeadFeatures(contact_id=1, **features), ruleset, NOW)


@pytest.mark.parametrize(
    ("rule", "features", "points"),
    [
        ({"type": "source", "channel": "form", "points": 10}, {"source_channel": "form"}, 10),
        ({"type": "source", "channel": "form", "points": 10}, {"source_channel": "gmail"}, None),
        ({"type": "form_type", "values": ["demo", "quote"], "points": 25}, {"form_types": ["Demo"]}, 25),
        ({"type": "form_type", "values": ["demo"], "points": 25}, {"form_types": ["newsletter"]}, None),
        ({"type": "email_domain", "kind": "corporate", "points": 10}, {"emails": ["a@budmax.pl"]}, 10),
        ({"type": "email_domain", "kind": "corporate", "points": 10}, {"emails": ["a@gmail.com"]}, None),
        ({"type": "email_domain", "kind": "freemail", "points": -5}, {"emails": ["a@wp.pl", "b@gmail.com"]}, -5),
        ({"type": "email_domain", "kind": "freemail", "points": -5}, {"emails": ["a@gmail.com", "a@firma.pl"]}, None),
        ({"type": "email_domain", "kind": "freemail", "points": -5}, {"emails": []}, None),
        ({"type": "email_domain", "kind": "domain", "domains": ["rival.com"], "points": 1}, {"emails": ["x@rival.com"]}, 1),
        ({"type": "seniority", "level": "executive", "points": 20}, {"title": "Prezes Zarządu"}, 20),
        ({"type": "seniority", "level": "executive", "points": 20}, {"title": "VP Sales"}, 20),
        ({"type": "seniority", "level": "executive", "points": 20}, {"title": "Генеральный директор"}, 20),
        ({"type": "seniority", "level": "executive", "points": 20}, {"title": "Headhunter"}, None),
        ({"type": "seniority", "level": "manager", "points": 10}, {"title": "Kierownik zakupów"}, 10),
        ({"type": "seniority", "level": "manager", "points": 10}, {"title": "Руководитель отдела"}, 10),
        ({"type": "seniority", "level": "manager", "points": 10}, {"title": "начальник смены"}, 10),
        # An executive title does not also count as a manager one.
        ({"type": "seniority", "level": "manager", "points": 10}, {"title": "CEO & Sales Manager"}, None),
        ({"type": "seniority", "level": "manager", "keywords": ["buyer"], "points": 7}, {"title": "Senior Buyer"}, 7),
        ({"type": "field", "field": "company", "op": "present", "points": 5}, {"company": "Budmax"}, 5),
        ({"type": "field", "field": "company", "op": "present", "points": 5}, {"company": "  "}, None),
        ({"type": "field", "field": "company", "op": "absent", "points": -3}, {"company": ""}, -3),
        ({"type": "field", "field": "country", "op": "in", "values": ["PL", "de"], "points": 4}, {"country": "pl"}, 4),
        ({"type": "field", "field": "company", "op": "contains", "value": "łódź", "points": 2}, {"company": "Lodz Bud"}, 2),
        ({"type": "field", "field": "language", "op": "equals", "value": "ru", "points": 2}, {"language": "en"}, None),
        ({"type": "bant", "field": "budget", "points": 10}, {"budget": "50k"}, 10),
        ({"type": "bant", "field": "budget", "points": 10}, {"need": "x"}, None),
        ({"type": "bant", "field": "any", "points": 3}, {"timeline": "Q1"}, 3),
        ({"type": "bant", "field": "all", "points": 15}, {"need": "a", "timeline": "b", "budget": "c"}, None),
        ({"type": "bant", "field": "all", "points": 15},
         {"need": "a", "timeline": "b", "budget": "c", "authority": "d"}, 15),
        ({"type": "engagement", "event": "inbound", "points": 3, "max": 15}, {"inbound": 2}, 6),
        ({"type": "engagement", "event": "inbound", "points": 3, "max": 15}, {"inbound": 9}, 15),
        ({"type": "engagement", "event": "reply", "points": 5}, {"replies": 3}, 15),
        ({"type": "engagement", "event": "outbound", "points": -1, "max": 4}, {"outbound": 10}, -4),
        ({"type": "engagement", "event": "reply", "points": 5}, {"replies": 0}, None),
        ({"type": "intent", "points": 10, "max": 20}, {"intent_hits": 1}, 10),
        ({"type": "intent", "points": 10, "max": 20}, {"intent_hits": 5}, 20),
        ({"type": "recency", "points": 20, "half_life_days": 14}, {"last_inbound_ts": NOW}, 20),
        ({"type": "recency", "points": 20, "half_life_days": 14}, {"last_inbound_ts": NOW - 14 * DAY}, 10),
        ({"type": "recency", "points": 20, "half_life_days": 14}, {"last_inbound_ts": NOW - 28 * DAY}, 5),
        ({"type": "recency", "points": 20, "half_life_days": 14}, {"last_activity_ts": NOW - 14 * DAY}, 10),
        ({"type": "recency", "points": 20, "half_life_days": 14}, {}, None),
    ],
)
def test_rule_types(rule: dict, features: dict, points: float | None) -> None:
    result = _score(rule, **features)
    if points is None:
        assert result.explanation == [] and result.score == 0
    else:
        assert [(e["rule"], e["points"]) for e in result.explanation] == [("r", points)]
        assert result.explanation[0]["why"]
        assert result.score == round(points)


def test_explanation_lists_every_fired_rule_and_sums_to_the_score() -> None:
    ruleset = parse_ruleset(DEFAULT_RULESET)
    lead = LeadFeatures(contact_id=7, source_channel="form", form_types=["demo"], emails=["jan@budmax.pl"],
                        title="Dyrektor handlowy", company="Budmax", budget="100k", inbound=2, replies=1,
                        intent_hits=1, last_inbound_ts=NOW - 14 * DAY)
    result = score_lead(lead, ruleset, NOW)
    fired = {e["rule"]: e["points"] for e in result.explanation}
    assert fired == {"source-form": 10, "form-hot": 25, "corporate-email": 10, "executive": 20, "company": 5,
                     "bant-budget": 10, "inbound": 6, "replies": 5, "intent": 10, "recency": 7.5}
    assert result.score == round(sum(fired.values())) == 108


@pytest.mark.parametrize(
    ("current", "score", "non_target", "expected"),
    [
        ("new", 10, None, "new"),
        ("new", 30, None, "mql"),
        ("new", 59, None, "mql"),
        ("new", 60, None, "sql"),
        ("mql", 80, None, "sql"),
        ("sql", 0, None, "sql"),  # never demoted automatically
        ("mql", 5, None, "mql"),
        ("customer", 0, None, "customer"),
        ("non_target", 99, None, "non_target"),  # never overridden
        ("customer", 99, "spam", "customer"),
        ("new", 99, "spam", "non_target"),
        ("mql", 99, "spam", "sql"),  # non-target rules only touch new leads
    ],
)
def test_thresholds_move_forward_only(current: str, score: int, non_target: str | None, expected: str) -> None:
    result = ScoreResult(score=score, explanation=[], temperature="cold", temperature_explanation=[],
                         non_target_reason=non_target)
    assert decide_stage(current, result, Thresholds(mql=30, sql=60)) == expected


def test_non_target_rules_give_a_reason() -> None:
    ruleset = parse_ruleset({"rules": [], "non_target": [
        {"id": "rival", "type": "email_domain", "kind": "domain", "domains": ["rival.pl"], "reason": "competitor"}]})
    result = score_lead(LeadFeatures(contact_id=1, emails=["spy@rival.pl"]), ruleset, NOW)
    assert (result.non_target_reason, result.non_target_rule) == ("competitor", "rival")
    assert decide_stage("new", result, ruleset.thresholds) == "non_target"
    clean = score_lead(LeadFeatures(contact_id=2, emails=["a@budmax.pl"]), ruleset, NOW)
    assert clean.non_target_reason is None


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({}, "cold"),
        ({"last_inbound_ts": NOW - 60 * DAY, "inbound": 1, "form_types": ["newsletter"]}, "cold"),
        ({"last_inbound_ts": NOW, "inbound": 1}, "warm"),  # 30 + 10
        ({"last_inbound_ts": NOW, "inbound": 1, "form_types": ["demo"]}, "hot"),  # 30 + 10 + 25
        ({"last_inbound_ts": NOW - 7 * DAY, "inbound": 1, "intent_hits": 2, "replies": 1}, "hot"),  # 15+10+15+20
        ({"outbound": 3}, "cold"),
        ({"need": "a", "timeline": "b", "budget": "c", "authority": "d", "last_inbound_ts": NOW - 7 * DAY}, "warm"),
    ],
)
def test_temperature_from_signals(features: dict, expected: str) -> None:
    result = score_lead(LeadFeatures(contact_id=1, **features), parse_ruleset(DEFAULT_RULESET), NOW)
    assert result.temperature == expected
    assert all(s["why"] for s in result.temperature_explanation)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"rules": [{"id": "a", "type": "nope", "points": 1}]}, "rules.0"),
        ({"rules": [{"id": "a", "type": "source", "points": 1}]}, "rules.0.source.channel"),
        ({"rules": [{"id": "a", "type": "field", "field": "company", "op": "equals", "points": 1}]}, "rules.0.field"),
        ({"rules": [{"id": "a", "type": "recency", "half_life_days": 0, "points": 1}]}, "rules.0.recency.half_life_days"),
        ({"thresholds": {"mql": 50, "sql": 10}}, "thresholds"),
        ({"rules": [{"id": "a", "type": "intent", "points": 1}, {"id": "a", "type": "intent", "points": 2}]}, "rules"),
        ({"non_target": [{"id": "n", "type": "source", "channel": "x"}]}, "rules"),
        ({"colour": 1}, "colour"),
    ],
)
def test_invalid_rule_sets_are_refused_with_field_errors(document: dict, field: str) -> None:
    with pytest.raises(RuleSetError) as info:
        parse_ruleset(document)
    assert any(key.startswith(field) for key in info.value.errors), info.value.errors


@pytest.mark.parametrize(
    ("text", "hits"),
    [
        ("Proszę o WYCENĘ oraz cennik", ["wycene", "cennik"]),
        ("Jaka jest cena?", ["cena"]),
        ("Какая цена и стоимость? Ждём предложение", ["цена", "стоимость", "предложение"]),
        ("Could you send a quote and your pricing?", ["quote", "pricing"]),
        ("Special offer inside", ["offer"]),
        ("Let's meet at the center, cenacolo", []),
        # Inflected forms as inquiries use them.
        ("Zapytanie ofertowe: w ofercie proszę uwzględnić cenę", ["ofertowe", "ofercie", "cene"]),
        ("Ile kosztuje wdrożenie dla 40 licencji?", ["kosztuje", "wdrozenie", "licencji"]),
        ("Пришлите, пожалуйста, КП и прайс-лист", ["кп", "праис"]),
        ("Хотим приобрести 50 лицензий, какая стоимость внедрения?", ["приобрести", "лицензии", "стоимость",
                                                                     "внедрения"]),
        ("We need a quote for 200 licenses (RFQ attached)", ["quote", "licenses", "rfq"]),
        ("Zapis na newsletter. Подписка на рассылку.", []),
        ("", []),
    ],
)
def test_intent_words(text: str, hits: list[str]) -> None:
    assert intent_hits(text) == hits


@pytest.mark.parametrize(
    ("title", "level"),
    [("CEO", "executive"), ("Head of Procurement", "executive"), ("Dyrektor Sprzedaży", "executive"),
     ("Директор по развитию", "executive"), ("Project Manager", "manager"), ("kierownik budowy", "manager"),
     ("Współwłaściciel", "executive"), ("Prokurent", "executive"), ("Учредитель", "executive"),
     ("Собственник бизнеса", "executive"), ("Председатель совета директоров", "executive"),
     ("Заместитель директора по закупкам", "manager"), ("Zastępca kierownika", "manager"),
     ("Engineer", None), ("Specjalista ds. zakupów", None), ("", None)],
)
def test_seniority(title: str, level: str | None) -> None:
    found = seniority(title)
    assert (found[0] if found else None) == level


@pytest.mark.parametrize(
    ("text", "language"),
    [("Dzień dobry, proszę o ofertę", "pl"), ("Dzien dobry, prosze o oferte dla firmy", "pl"),
     ("Здравствуйте, нужна цена", "ru"), ("Hello, we need a quote", "en"), ("", "")],
)
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_country_from_phone() -> None:
    assert [country_from_phone(p) for p in ("+48601234567", "+79161234567", "+4930123456", "", "junk")] == [
        "PL", "RU", "DE", "", ""]


# The signal functions take C-speed paths (a regex of combining marks, counts by map, a phone's region from its
# country code); these are the plain per-character definitions they must agree with.
def _reference_fold(text: str | None) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", (text or "").casefold().replace("ł", "l"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _reference_language(text: str | None) -> str:
    import re

    from core import signals

    text = text or ""
    if not text.strip():
        return ""
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = sum(1 for ch in letters if re.match(r"[\u0400-\u04ff]", ch))
    if letters and cyrillic / len(letters) > 0.3:
        return "ru"
    lowered = text.casefold()
    if any(ch in signals._POLISH_LETTERS for ch in lowered):
        return "pl"
    words = {_reference_fold(w) for w in signals._WORD.findall(lowered)}
    return "pl" if len(words & signals._POLISH_WORDS) >= 2 else "en"


def _sample_texts() -> list[str]:
    import random
    from pathlib import Path

    rng = random.Random(5)
    # Letters, combining marks, Cyrillic (with its own marks), Greek, CJK, ligatures, digits, symbols.
    alphabet = ("aąćęłńóśźżAĄĆĘŁŃÓŚŹŻ ,.!?-'\u0301\u0328\u0483\u0488ёйЁЙдзьΑάﬁﬂ²½Ⅻ日本語ﾃｽﾄ\u200d\U0001d165x0123"
                "абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(2000)]
    texts += ["Dzień dobry, proszę o ofertę", "dzien\u0301 dobry prosze", "Ёлка и йод", "ＦＵＬＬ ｗｉｄｔｈ"]
    fixtures = Path("/work/shared/fixtures/emails")  # where the other mail tests read them, wherever the checkout is
    for path in sorted(fixtures.rglob("*"))[:200]:
        if path.is_file():
            texts.append(path.read_bytes()[:3000].decode("utf-8", "replace"))
    return texts


def test_fold_text_and_language_agree_with_their_plain_definitions() -> None:
    from core.signals import fold_text

    texts = _sample_texts()
    assert len(texts) > 2100  # the real mail is there too
    for text in texts:
        assert fold_text(text) == _reference_fold(text), text
        assert detect_language(text) == _reference_language(text), text


def test_country_from_phone_agrees_with_parsing_the_number() -> None:
    import random

    import phonenumbers

    def reference(e164: str) -> str:
        try:
            return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
        except phonenumbers.NumberParseException:
            return ""

    rng = random.Random(3)
    numbers = ["+12015550123", "+14165550123", "+77012345678", "+79161234567", "+441134960000", "+80012345678",
               "+999123456789", "+0123456789", "+48", "48601234567", "+48 601 234 567", "+4860123456789012345"]
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for _ in range(3):
            numbers.append(f"+{code}{rng.randrange(10 ** rng.randint(4, 11))}")
    for number in numbers:
        assert country_from_phone(number) == reference(number), number


@pytest.mark.parametrize(
    ("subject", "text"),
    [("Zapytanie ofertowe", "Dzień dobry, proszę o wycenę i ofertę."), (None, "Здравствуйте, нужна цена"),
     ("Quote please", None), (None, None), ("", "   "), ("Re: hello", "we need a quote and a demo")],
)
def test_message_signals_are_the_text_signals_of_subject_and_text(subject: str | None, text: str | None) -> None:
    from core.schemas import MessageIn
    from core.signals import message_signals

    message = MessageIn(external_id="m1", subject=subject, text=text)
    expected = (len(intent_hits(f"{subject or ''}\n{text or ''}")), detect_language(text or subject))
    assert message_signals(message) == expected
    assert message_signals(message) == expected  # the kept value, the second time


def test_an_import_helper_derives_html_and_signals_that_travel_with_the_record() -> None:
    """The helper process works out a message's sanitised HTML and signals; the writer gets them with the record
    (pickled across the process boundary) instead of working them out again."""
    import json
    import pickle

    from core.importer import prepare_line
    from core.ingest import IngestOptions, sanitize_html

    line = json.dumps({"channel": "form", "contact": {"email": "anna@firma.pl"}, "message": {
        "external_id": "f1", "subject": "Wycena", "text": "Proszę o ofertę na 20 licencji",
        "html": '<p onclick="x()">Proszę o <script>alert(1)</script>ofertę</p>'}}).encode()
    _, record, _, error = prepare_line(7, line, IngestOptions(), True, derive=True)
    assert error is None and record is not None
    travelled = pickle.loads(pickle.dumps(record)).message
    assert travelled._derived == {
        "html": sanitize_html(record.message.html),
        "signals": (len(intent_hits("Wycena\nProszę o ofertę na 20 licencji")), "pl"),
    }
    assert "script" not in travelled._derived["html"] and "onclick" not in travelled._derived["html"]
    # Without derive (no helper, or a busy one) nothing is worked out ahead: the writer does it when needed.
    _, plain, _, _ = prepare_line(7, line, IngestOptions(), True)
    assert plain is not None and plain.message is not None and plain.message._derived == {}


def test_intent_words_by_set_lookup_match_the_whole_word_pattern() -> None:
    """intent_hits splits the text into words and looks each up; the whole-word pattern it replaced must find the
    same words in the same order (punctuation, underscores, digits, case, ё/й, hyphens). Seeded: 20,000 texts."""
    import random

    from core.signals import INTENT_STEMS, _stem_pattern, fold_text

    rng = random.Random(5)
    words = [*INTENT_STEMS, "Ofertę", "ЦЕНА", "prices!", "x", "прайс-лист", "cen.", "cenacolo", "a_b", "oferta_1",
             "ёлка", "счёт", "2cena", "cena2", "Łódź"]
    found = 0
    for _ in range(20_000):
        text = " ".join(rng.choice(words) + rng.choice(["", " ", ",", "-", "_", "."]) for _ in range(rng.randint(0, 12)))
        expected = _stem_pattern(INTENT_STEMS).findall(fold_text(text))
        assert intent_hits(text) == expected, text
        found += len(expected)
    assert found > 50_000

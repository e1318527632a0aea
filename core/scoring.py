"""Explainable lead scoring: rules are data (a versioned JSON document edited by admins), scoring is pure.

A rule set is {"rules": [...], "thresholds": {"mql": N, "sql": N}, "temperature": {"warm": N, "hot": N, …},
"non_target": [...]}. Every rule has an id, a type and points; `score_lead` returns the total and, for each rule
that fired, its id, points and why. Stages only move forward automatically (new → MQL → SQL) and never away
from customer or non-target; non-target rules only touch leads still at `new`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from core.models import Stage, Temperature
from core.normalize import is_freemail_domain
from core.signals import fold_text, seniority

BANT_FIELDS = ("need", "timeline", "budget", "authority")
NON_TARGET_REASONS = ("wrong_fit", "spam", "competitor", "no_budget", "other")
STAGE_RANK = {Stage.new.value: 0, Stage.mql.value: 1, Stage.sql.value: 2, Stage.customer.value: 3}
TEXT_FIELDS = (
    "display_name", "company", "title", "source_channel", "language", "country", *BANT_FIELDS,
)
DAY = 86_400.0
# Plain strings for the hot loops (an Enum member's .value is a descriptor call, ~4 per lead).
NEW, MQL, SQL, CUSTOMER, NON_TARGET = (s.value for s in (Stage.new, Stage.mql, Stage.sql, Stage.customer, Stage.non_target))
COLD, WARM, HOT = Temperature.cold.value, Temperature.warm.value, Temperature.hot.value


# --------------------------------------------------------------------------- what a lead looks like to scoring


@dataclass(slots=True)
class LeadFeatures:
    contact_id: int
    stage: str = Stage.new.value
    display_name: str = ""
    company: str = ""
    title: str = ""
    emails: list[str] = field(default_factory=list)
    source_channel: str = ""
    form_types: list[str] = field(default_factory=list)
    intent_hits: int = 0
    language: str = ""
    country: str = ""
    need: str = ""
    timeline: str = ""
    budget: str = ""
    authority: str = ""
    inbound: int = 0
    outbound: int = 0
    replies: int = 0  # inbound messages after our first outbound one
    last_inbound_ts: float | None = None  # epoch seconds
    last_activity_ts: float | None = None
    _bant_filled: tuple[str, ...] | None = None
    _domains: list[tuple[str, bool]] | None = None

    def text(self, name: str) -> str:
        return str(getattr(self, name, "") or "")

    def bant_filled(self) -> tuple[str, ...]:
        if self._bant_filled is None:
            self._bant_filled = tuple(n for n in BANT_FIELDS if (getattr(self, n) or "").strip())
        return self._bant_filled

    def domains(self) -> list[tuple[str, bool]]:
        """(domain, is free-mail) of each e-mail address."""
        if self._domains is None:
            self._domains = [_domain_of(e) for e in self.emails if "@" in e]
        return self._domains


# --------------------------------------------------------------------------- rules (validated data)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=80)
    points: float = Field(default=0, ge=-1000, le=1000)
    reason: Literal["wrong_fit", "spam", "competitor", "no_budget", "other"] | None = None  # non-target rules


class SourceRule(_Rule):
    type: Literal["source"]
    channel: str = Field(min_length=1, max_length=32)


class FormTypeRule(_Rule):
    type: Literal["form_type"]
    values: list[str] = Field(min_length=1)


class EmailDomainRule(_Rule):
    type: Literal["email_domain"]
    kind: Literal["corporate", "freemail", "domain"]
    domains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _domains(self) -> EmailDomainRule:
        if self.kind == "domain" and not self.domains:
            raise ValueError("kind 'domain' needs a list of domains")
        return self


class SeniorityRule(_Rule):
    type: Literal["seniority"]
    level: Literal["executive", "manager"]
    keywords: list[str] | None = None  # overrides the built-in list for this level


class FieldRule(_Rule):
    type: Literal["field"]
    field: Literal[TEXT_FIELDS]  # type: ignore[valid-type]
    op: Literal["present", "absent", "equals", "contains", "in"] = "present"
    value: str | None = None
    values: list[str] | None = None

    @model_validator(mode="after")
    def _operand(self) -> FieldRule:
        if self.op in ("equals", "contains") and not self.value:
            raise ValueError(f"op {self.op!r} needs a value")
        if self.op == "in" and not self.values:
            raise ValueError("op 'in' needs values")
        return self


class BantRule(_Rule):
    type: Literal["bant"]
    field: Literal["need", "timeline", "budget", "authority", "all", "any"]


class EngagementRule(_Rule):
    type: Literal["engagement"]
    event: Literal["inbound", "outbound", "reply"]
    max: float | None = None  # cap on the points this rule can give


class IntentRule(_Rule):
    type: Literal["intent"]
    max: float | None = None


class RecencyRule(_Rule):
    type: Literal["recency"]
    half_life_days: float = Field(default=14, gt=0, le=3650)


Rule = Annotated[
    SourceRule | FormTypeRule | EmailDomainRule | SeniorityRule | FieldRule | BantRule | EngagementRule
    | IntentRule | RecencyRule,
    Field(discriminator="type"),
]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mql: float = 30
    sql: float = 60

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.sql < self.mql:
            raise ValueError("the SQL threshold must not be below the MQL threshold")
        return self


class TemperatureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warm: float = 25
    hot: float = 55
    hot_forms: list[str] = Field(default_factory=lambda: ["demo", "quote", "pricing", "trial", "consultation"])
    cold_forms: list[str] = Field(default_factory=lambda: ["newsletter", "download", "webinar"])
    half_life_days: float = Field(default=7, gt=0)

    @model_validator(mode="after")
    def _order(self) -> TemperatureConfig:
        if self.hot < self.warm:
            raise ValueError("the hot threshold must not be below the warm threshold")
        return self


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    temperature: TemperatureConfig = Field(default_factory=TemperatureConfig)
    non_target: list[Rule] = Field(default_factory=list)
    _compiled: Any = PrivateAttr(default=None)  # compile_ruleset's cache

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        ids = [r.id for r in [*self.rules, *self.non_target]]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicates)}")
        for rule in self.non_target:
            if rule.reason is None:
                raise ValueError(f"non-target rule {rule.id!r} needs a reason ({', '.join(NON_TARGET_REASONS)})")
        return self


class RuleSetError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_ruleset(data: Any) -> RuleSet:
    """Validate a rule set document; RuleSetError carries per-field messages."""
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            errors.setdefault(".".join(str(p) for p in error["loc"]) or "rules", error["msg"])
        raise RuleSetError(errors) from None


DEFAULT_RULESET: dict[str, Any] = {
    "rules": [
        {"id": "source-form", "type": "source", "channel": "form", "points": 10},
        {"id": "form-hot", "type": "form_type", "values": ["demo", "quote", "pricing", "trial"], "points": 25},
        {"id": "form-newsletter", "type": "form_type", "values": ["newsletter"], "points": -5},
        {"id": "corporate-email", "type": "email_domain", "kind": "corporate", "points": 10},
        {"id": "freemail", "type": "email_domain", "kind": "freemail", "points": -5},
        {"id": "executive", "type": "seniority", "level": "executive", "points": 20},
        {"id": "manager", "type": "seniority", "level": "manager", "points": 10},
        {"id": "company", "type": "field", "field": "company", "op": "present", "points": 5},
        {"id": "bant-need", "type": "bant", "field": "need", "points": 5},
        {"id": "bant-timeline", "type": "bant", "field": "timeline", "points": 5},
        {"id": "bant-budget", "type": "bant", "field": "budget", "points": 10},
        {"id": "bant-authority", "type": "bant", "field": "authority", "points": 5},
        {"id": "inbound", "type": "engagement", "event": "inbound", "points": 3, "max": 15},
        {"id": "replies", "type": "engagement", "event": "reply", "points": 5, "max": 20},
        {"id": "intent", "type": "intent", "points": 10, "max": 20},
        {"id": "recency", "type": "recency", "points": 15, "half_life_days": 14},
    ],
    "thresholds": {"mql": 30, "sql": 60},
    "temperature": {"warm": 25, "hot": 55},
    "non_target": [],
}


# --------------------------------------------------------------------------- evaluation
#
# Each rule is compiled once per rule set into a closure over its prepared operands (lower-cased value sets,
# folded strings, the built-in seniority lists): a million-lead rescoring evaluates ~16 million rules, and
# rebuilding those operands per lead cost more than the checks themselves.

Check = Callable[[LeadFeatures, float], "tuple[float, str] | None"]


@dataclass(slots=True)
class ScoreResult:
    score: int
    explanation: list[dict[str, Any]]
    temperature: str
    temperature_explanation: list[dict[str, Any]]
    non_target_reason: str | None = None
    non_target_rule: str | None = None


@lru_cache(maxsize=65_536)
def _domain_of(email: str) -> tuple[str, bool]:
    """(domain, is free-mail) of an address; cached because a million leads share a few thousand domains."""
    domain = email.rsplit("@", 1)[-1].lower()
    return domain, is_freemail_domain(domain)


@lru_cache(maxsize=65_536)
def _fold(value: str) -> str:
    return fold_text(value).strip()


@lru_cache(maxsize=65_536)
def _seniority(title: str, level: str, keywords: tuple[str, ...] | None) -> str | None:
    found = seniority(title, {level: keywords} if keywords else None)
    return found[1] if found and found[0] == level else None


def _source(rule: SourceRule) -> Check:
    channel, points, why = rule.channel, rule.points, f"came through {rule.channel}"
    return lambda f, now_ts: (points, why) if f.source_channel == channel else None


def _form_type(rule: FormTypeRule) -> Check:
    wanted, points = frozenset(v.lower() for v in rule.values), rule.points

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        if not f.form_types:
            return None
        hit = [t for t in f.form_types if t.lower() in wanted]
        return (points, f"form {', '.join(sorted(hit))}") if hit else None

    return check


def _email_domain(rule: EmailDomainRule) -> Check:
    kind, points = rule.kind, rule.points
    listed = frozenset(d.lower().lstrip("@") for d in rule.domains)

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        domains = f.domains()
        if not domains:
            return None
        if kind == "domain":
            hit = [d for d, _ in domains if d in listed]
            return (points, f"email at {', '.join(sorted(hit))}") if hit else None
        corporate = [d for d, free in domains if not free]
        if kind == "corporate" and corporate:
            return points, f"company email at {corporate[0]}"
        if kind == "freemail" and not corporate:
            return points, f"free-mail address at {domains[0][0]}"
        return None

    return check


def _seniority_rule(rule: SeniorityRule) -> Check:
    # With the built-in lists an executive title is not also a manager one (executive words are tried first).
    level, points = rule.level, rule.points
    keywords = tuple(rule.keywords) if rule.keywords else None

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        if not f.title:
            return None
        keyword = _seniority(f.title, level, keywords)
        return (points, f"title {f.title!r} ({keyword})") if keyword else None

    return check


def _field(rule: FieldRule) -> Check:
    name, op, points = rule.field, rule.op, rule.points
    why = f"{rule.field} {rule.op} {rule.value or rule.values or ''}".strip()
    operand = _fold(rule.value or "")
    operands = frozenset(_fold(v) for v in rule.values or [])
    tests: dict[str, Callable[[str], bool]] = {
        "present": bool, "absent": lambda v: not v, "equals": lambda v: v == operand,
        "contains": lambda v: operand in v, "in": lambda v: v in operands,
    }
    test = tests[op]
    return lambda f, now_ts: (points, why) if test(_fold(f.text(name))) else None


def _bant(rule: BantRule) -> Check:
    name, points = rule.field, rule.points
    if name == "all":
        return lambda f, now_ts: (points, "BANT complete") if len(f.bant_filled()) == len(BANT_FIELDS) else None
    if name == "any":
        return lambda f, now_ts: (points, f"BANT: {', '.join(filled)}") if (filled := f.bant_filled()) else None
    return lambda f, now_ts: (points, f"{name}: {f.text(name)[:60]}") if name in f.bant_filled() else None


def _engagement(rule: EngagementRule) -> Check:
    event, points_each, cap = rule.event, rule.points, rule.max
    count_of = attrgetter({"inbound": "inbound", "outbound": "outbound", "reply": "replies"}[event])

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        count = count_of(f)
        if not count:
            return None
        points = points_each * count
        if cap is not None:
            points = max(min(points, cap), -abs(cap))
        return points, f"{count} {event} message{'s' if count != 1 else ''}"

    return check


def _intent(rule: IntentRule) -> Check:
    points_each, cap = rule.points, rule.max

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        if not f.intent_hits:
            return None
        points = points_each * f.intent_hits
        if cap is not None:
            points = min(points, cap)
        return points, f"{f.intent_hits} word{'s' if f.intent_hits != 1 else ''} of intent"

    return check


def _recency(rule: RecencyRule) -> Check:
    points_full, half_life = rule.points, rule.half_life_days

    def check(f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
        last = f.last_inbound_ts or f.last_activity_ts
        if last is None:
            return None
        age_days = max(0.0, (now_ts - last) / DAY)
        points = points_full * math.pow(0.5, age_days / half_life)
        if abs(points) < 0.05:
            return None
        return points, f"last inbound {age_days:.0f} days ago (half-life {half_life:g} days)"

    return check


_COMPILERS: dict[str, Callable[[Any], Check]] = {
    "source": _source, "form_type": _form_type, "email_domain": _email_domain, "seniority": _seniority_rule,
    "field": _field, "bant": _bant, "engagement": _engagement, "intent": _intent, "recency": _recency,
}


def compile_rule(rule: Any) -> Check:
    """The rule as a check: (points, why) when it fires for a lead, else None."""
    return _COMPILERS[rule.type](rule)


@dataclass(frozen=True)
class CompiledRuleSet:
    rules: tuple[tuple[str, str, Check], ...]  # (id, type, check)
    non_target: tuple[tuple[str, str, str, Check], ...]  # (id, type, reason, check)
    temperature: TemperatureConfig
    hot_forms: frozenset[str]
    cold_forms: frozenset[str]


def compile_ruleset(ruleset: RuleSet) -> CompiledRuleSet:
    """The rule set prepared for scoring many leads (cached on the rule set: rule sets are not edited in place)."""
    compiled = ruleset._compiled
    if compiled is None:
        compiled = ruleset._compiled = CompiledRuleSet(
            rules=tuple((r.id, r.type, compile_rule(r)) for r in ruleset.rules),
            non_target=tuple((r.id, r.type, r.reason or "", compile_rule(r)) for r in ruleset.non_target),
            temperature=ruleset.temperature,
            hot_forms=frozenset(t.lower() for t in ruleset.temperature.hot_forms),
            cold_forms=frozenset(t.lower() for t in ruleset.temperature.cold_forms),
        )
    return compiled


def _temperature(
    f: LeadFeatures, config: TemperatureConfig, hot_forms: frozenset[str], cold_forms: frozenset[str], now_ts: float,
) -> tuple[str, list[dict[str, Any]]]:
    """cold / warm / hot from signals, with the reasons."""
    # Written out flat (no helper per signal): this runs once per lead of a million-lead rescoring.
    signals: list[dict[str, Any]] = []
    if f.last_inbound_ts is not None:
        age_days = max(0.0, (now_ts - f.last_inbound_ts) / DAY)
        points = round(30 * math.pow(0.5, age_days / config.half_life_days), 1)
        if points:
            signals.append({"signal": "recency", "points": points, "why": f"last inbound {age_days:.0f} days ago"})
    inbound, outbound = f.inbound, f.outbound
    if inbound and inbound >= outbound:
        signals.append({"signal": "activity", "points": 10, "why": f"{inbound} inbound vs {outbound} outbound"})
    elif outbound and not inbound:
        signals.append({"signal": "activity", "points": -10, "why": f"{outbound} outbound, no answer"})
    if f.replies:
        signals.append({"signal": "replies", "points": 15,
                        "why": f"{f.replies} repl{'ies' if f.replies != 1 else 'y'} to us"})
    if f.form_types:
        forms = {t.lower() for t in f.form_types}
        if forms & hot_forms:
            signals.append({"signal": "form", "points": 25, "why": f"{', '.join(sorted(forms & hot_forms))} request"})
        elif forms & cold_forms:
            signals.append({"signal": "form", "points": -5, "why": f"{', '.join(sorted(forms))} sign-up"})
    if f.intent_hits:
        signals.append({"signal": "intent", "points": 20,
                        "why": f"{f.intent_hits} word{'s' if f.intent_hits != 1 else ''} of intent"})
    filled = len(f.bant_filled())
    if filled:
        signals.append({"signal": "bant", "points": 5 * filled, "why": f"BANT {filled}/4"})
    total = sum(s["points"] for s in signals)
    if total >= config.hot:
        return HOT, signals
    if total >= config.warm:
        return WARM, signals
    return COLD, signals


def score_lead(f: LeadFeatures, ruleset: RuleSet | CompiledRuleSet, now_ts: float) -> ScoreResult:
    """Score one lead. Callers scoring many pass `compile_ruleset(ruleset)` (pydantic's private-attribute access
    to the cached one costs ~7 µs a lead)."""
    compiled = ruleset if isinstance(ruleset, CompiledRuleSet) else compile_ruleset(ruleset)
    explanation: list[dict[str, Any]] = []
    total = 0.0
    for rule_id, rule_type, check in compiled.rules:
        fired = check(f, now_ts)
        if fired is not None:
            total += fired[0]
            explanation.append({"rule": rule_id, "type": rule_type, "points": round(fired[0], 1), "why": fired[1]})
    non_target_reason = non_target_rule = None
    for rule_id, rule_type, reason, check in compiled.non_target:
        fired = check(f, now_ts)
        if fired is not None:
            non_target_reason, non_target_rule = reason, rule_id
            explanation.append({"rule": rule_id, "type": rule_type, "points": 0, "why": f"non-target ({reason}): {fired[1]}"})
            break
    temperature, temperature_explanation = _temperature(
        f, compiled.temperature, compiled.hot_forms, compiled.cold_forms, now_ts
    )
    return ScoreResult(
        score=int(round(total)),
        explanation=explanation,
        temperature=temperature,
        temperature_explanation=temperature_explanation,
        non_target_reason=non_target_reason,
        non_target_rule=non_target_rule,
    )


def decide_stage(current: str, result: ScoreResult, thresholds: Thresholds) -> str:
    """The stage scoring moves a lead to: forward only, never away from customer or non-target."""
    if current == CUSTOMER or current == NON_TARGET:
        return current
    if result.non_target_reason and current == NEW:
        return NON_TARGET
    if result.score >= thresholds.sql:
        target = SQL
    elif result.score >= thresholds.mql:
        target = MQL
    else:
        target = NEW
    return target if STAGE_RANK[target] > STAGE_RANK.get(current, 0) else current

"""Explainable lead scoring: rules are data (a versioned JSON document edited by admins), scoring is pure.

A rule set is {"rules": [...], "thresholds": {"mql": N, "sql": N}, "temperature": {"warm": N, "hot": N, …},
"non_target": [...]}. Every rule has an id, a type and points; `score_lead` returns the total and, for each rule
that fired, its id, points and why. Stages only move forward automatically (new → MQL → SQL) and never away
from customer or non-target; non-target rules only touch leads still at `new`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


@dataclass
class ScoreResult:
    score: int
    explanation: list[dict[str, Any]]
    temperature: str
    temperature_explanation: list[dict[str, Any]]
    non_target_reason: str | None = None
    non_target_rule: str | None = None


def _round(points: float) -> float:
    return round(points, 1)


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


def _source(rule: SourceRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    return (rule.points, f"came through {f.source_channel}") if f.source_channel == rule.channel else None


def _form_type(rule: FormTypeRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    if not f.form_types:
        return None
    wanted = {v.lower() for v in rule.values}
    hit = sorted(t for t in f.form_types if t.lower() in wanted)
    return (rule.points, f"form {', '.join(hit)}") if hit else None


def _email_domain(rule: EmailDomainRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    domains = f.domains()
    if not domains:
        return None
    if rule.kind == "domain":
        listed = {d.lower().lstrip("@") for d in rule.domains}
        hit = sorted(d for d, _ in domains if d in listed)
        return (rule.points, f"email at {', '.join(hit)}") if hit else None
    corporate = [d for d, free in domains if not free]
    if rule.kind == "corporate" and corporate:
        return rule.points, f"company email at {corporate[0]}"
    if rule.kind == "freemail" and not corporate:
        return rule.points, f"free-mail address at {domains[0][0]}"
    return None


def _seniority_rule(rule: SeniorityRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    # With the built-in lists an executive title is not also a manager one (executive words are tried first).
    if not f.title:
        return None
    keyword = _seniority(f.title, rule.level, tuple(rule.keywords) if rule.keywords else None)
    return (rule.points, f"title {f.title!r} ({keyword})") if keyword else None


def _field(rule: FieldRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    value = _fold(f.text(rule.field))
    if rule.op == "present":
        ok = bool(value)
    elif rule.op == "absent":
        ok = not value
    elif rule.op == "equals":
        ok = value == _fold(rule.value or "")
    elif rule.op == "contains":
        ok = _fold(rule.value or "") in value
    else:
        ok = value in {_fold(v) for v in rule.values or []}
    return (rule.points, f"{rule.field} {rule.op} {rule.value or rule.values or ''}".strip()) if ok else None


def _bant(rule: BantRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    filled = f.bant_filled()
    if rule.field == "all":
        return (rule.points, "BANT complete") if len(filled) == len(BANT_FIELDS) else None
    if rule.field == "any":
        return (rule.points, f"BANT: {', '.join(filled)}") if filled else None
    return (rule.points, f"{rule.field}: {f.text(rule.field)[:60]}") if rule.field in filled else None


def _engagement(rule: EngagementRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    count = f.inbound if rule.event == "inbound" else f.outbound if rule.event == "outbound" else f.replies
    if not count:
        return None
    points = rule.points * count
    if rule.max is not None:
        points = max(min(points, rule.max), -abs(rule.max))
    return points, f"{count} {rule.event} message{'s' if count != 1 else ''}"


def _intent(rule: IntentRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    if not f.intent_hits:
        return None
    points = rule.points * f.intent_hits
    if rule.max is not None:
        points = min(points, rule.max)
    return points, f"{f.intent_hits} word{'s' if f.intent_hits != 1 else ''} of intent"


def _recency(rule: RecencyRule, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    last = f.last_inbound_ts or f.last_activity_ts
    if last is None:
        return None
    age_days = max(0.0, (now_ts - last) / DAY)
    points = rule.points * math.pow(0.5, age_days / rule.half_life_days)
    if abs(points) < 0.05:
        return None
    return points, f"last inbound {age_days:.0f} days ago (half-life {rule.half_life_days:g} days)"


_EVALUATORS: dict[str, Any] = {
    "source": _source, "form_type": _form_type, "email_domain": _email_domain, "seniority": _seniority_rule,
    "field": _field, "bant": _bant, "engagement": _engagement, "intent": _intent, "recency": _recency,
}


def evaluate(rule: Any, f: LeadFeatures, now_ts: float) -> tuple[float, str] | None:
    """(points, why) when the rule fires for the lead, else None."""
    return _EVALUATORS[rule.type](rule, f, now_ts)


def temperature_of(f: LeadFeatures, config: TemperatureConfig, now_ts: float) -> tuple[str, list[dict[str, Any]]]:
    """cold / warm / hot from signals, with the reasons."""
    signals: list[dict[str, Any]] = []

    def add(signal: str, points: float, why: str) -> None:
        if points:
            signals.append({"signal": signal, "points": _round(points), "why": why})

    if f.last_inbound_ts is not None:
        age_days = max(0.0, (now_ts - f.last_inbound_ts) / DAY)
        add("recency", 30 * math.pow(0.5, age_days / config.half_life_days), f"last inbound {age_days:.0f} days ago")
    if f.inbound and f.inbound >= f.outbound:
        add("activity", 10, f"{f.inbound} inbound vs {f.outbound} outbound")
    elif f.outbound and not f.inbound:
        add("activity", -10, f"{f.outbound} outbound, no answer")
    if f.replies:
        add("replies", 15, f"{f.replies} repl{'ies' if f.replies != 1 else 'y'} to us")
    forms = {t.lower() for t in f.form_types}
    hot_forms = forms & {t.lower() for t in config.hot_forms}
    if hot_forms:
        add("form", 25, f"{', '.join(sorted(hot_forms))} request")
    elif forms & {t.lower() for t in config.cold_forms}:
        add("form", -5, f"{', '.join(sorted(forms))} sign-up")
    if f.intent_hits:
        add("intent", 20, f"{f.intent_hits} word{'s' if f.intent_hits != 1 else ''} of intent")
    filled = len(f.bant_filled())
    add("bant", 5 * filled, f"BANT {filled}/4")
    total = sum(s["points"] for s in signals)
    if total >= config.hot:
        level = Temperature.hot.value
    elif total >= config.warm:
        level = Temperature.warm.value
    else:
        level = Temperature.cold.value
    return level, signals


def score_lead(f: LeadFeatures, ruleset: RuleSet, now_ts: float) -> ScoreResult:
    explanation: list[dict[str, Any]] = []
    total = 0.0
    for rule in ruleset.rules:
        fired = evaluate(rule, f, now_ts)
        if fired is None:
            continue
        points, why = fired
        total += points
        explanation.append({"rule": rule.id, "type": rule.type, "points": _round(points), "why": why})
    non_target_reason = non_target_rule = None
    for rule in ruleset.non_target:
        fired = evaluate(rule, f, now_ts)
        if fired is not None:
            non_target_reason, non_target_rule = rule.reason, rule.id
            explanation.append({"rule": rule.id, "type": rule.type, "points": 0, "why": f"non-target ({rule.reason}): {fired[1]}"})
            break
    temperature, temperature_explanation = temperature_of(f, ruleset.temperature, now_ts)
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
    if current in (Stage.customer.value, Stage.non_target.value):
        return current
    if result.non_target_reason and current == Stage.new.value:
        return Stage.non_target.value
    if result.score >= thresholds.sql:
        target = Stage.sql.value
    elif result.score >= thresholds.mql:
        target = Stage.mql.value
    else:
        target = Stage.new.value
    return target if STAGE_RANK[target] > STAGE_RANK.get(current, 0) else current

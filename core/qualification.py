"""Qualification in the store: stages with history, BANT, explained scores (one lead at ingest, every lead in
set-based batches after a rule change), preview of a draft rule set, and the post-ingest hook.

Features come from aggregate SQL over a contact-id range (message counts and times, e-mail identities) plus
signals that ingest already took from message text (lead_qualifications.intent_hits, form_types, language), so
rescoring never re-reads message bodies. Scores are computed in Python (core.scoring) and written back with
executemany.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, col, select

from core import hooks
from core.db import among, chunked, db_json, db_timestamp, driver_insert, driver_update, json_list, plain_rows
from core.models import (
    AppSetting,
    Contact,
    Identity,
    LeadQualification,
    LeadScore,
    Message,
    ScoringRuleSet,
    Stage,
    StageChange,
    utcnow,
)
from core.schemas import InboundRecord, IngestResult
from core.scoring import (
    BANT_FIELDS,
    DEFAULT_RULESET,
    NEW,
    NON_TARGET,
    NON_TARGET_REASONS,
    STAGE_RANK,
    LeadFeatures,
    RuleSet,
    ScoreResult,
    compile_ruleset,
    decide_stage,
    parse_ruleset,
    score_lead,
)
from core.signals import country_from_phone, message_signals

log = logging.getLogger(__name__)

RESCORE_JOB_KEY = "qualify.rescore_job"
BATCH_SIZE = 20_000
_RULESET_CACHE = "leadhub.qualify.ruleset"


class QualificationError(ValueError):
    """A stage change or BANT update that cannot be done; says why."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


# --------------------------------------------------------------------------- rule sets


@dataclass(frozen=True)
class ActiveRuleSet:
    version: int  # 0: the built-in defaults, never saved
    ruleset: RuleSet
    document: dict[str, Any]


def active_ruleset(session: Session, *, cached: bool = True) -> ActiveRuleSet:
    if cached and _RULESET_CACHE in session.info:
        return session.info[_RULESET_CACHE]
    row = session.exec(
        select(ScoringRuleSet).where(col(ScoringRuleSet.active).is_(True)).order_by(col(ScoringRuleSet.version).desc())
    ).first()
    if row is None:
        active = ActiveRuleSet(0, parse_ruleset(DEFAULT_RULESET), DEFAULT_RULESET)
    else:
        active = ActiveRuleSet(row.version, parse_ruleset(row.rules), row.rules)
    session.info[_RULESET_CACHE] = active
    return active


def save_ruleset(session: Session, document: dict[str, Any], *, actor: str, note: str = "") -> ScoringRuleSet:
    """Validate and store a new version; it becomes the active one (older versions stay for the record)."""
    ruleset = parse_ruleset(document)
    latest = session.exec(sa.select(sa.func.max(ScoringRuleSet.version))).scalar() or 0
    session.exec(sa.update(ScoringRuleSet).values(active=False))
    row = ScoringRuleSet(
        version=latest + 1,
        rules=ruleset.model_dump(mode="json", exclude_none=True),
        created_by=actor,
        active=True,
        note=note[:500],
    )
    session.add(row)
    session.flush()
    session.info.pop(_RULESET_CACHE, None)
    return row


def list_rulesets(session: Session) -> list[ScoringRuleSet]:
    return list(session.exec(select(ScoringRuleSet).order_by(col(ScoringRuleSet.version).desc())).all())


# --------------------------------------------------------------------------- features (aggregate SQL)


def _epoch(session: Session, column: Any) -> Any:
    """Seconds since 1970 of a timestamp column, computed by the database (no datetime parsing per row)."""
    if session.get_bind().dialect.name == "sqlite":
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


@dataclass
class LeadState:
    """What is stored now, to write only what changes."""

    score: int
    temperature: str
    stage: str
    has_row: bool
    source_channel: str
    first_inbound_ts: float | None
    first_response_ts: float | None
    computed_first_inbound_ts: float | None = None
    computed_first_response_ts: float | None = None
    reached: tuple[bool, bool, bool] = (False, False, False)  # mql_at, sql_at, customer_at set
    explanation_json: str = ""
    temperature_json: str = ""
    ruleset_version: int | None = None
    has_score: bool = False
    scored_at: Any = None  # lead_scores.scored_at as the driver returned it: the guard of the explanation write


def load_features(
    session: Session, lo: int, hi: int, ids: list[int] | None = None
) -> list[tuple[LeadFeatures, LeadState]]:
    """Features of the live contacts with lo <= id <= hi (or, given `ids`, of those contacts: scattered ids
    would otherwise each need their own range), in a handful of GROUP BY queries."""
    c, q, m, i = Contact.__table__, LeadQualification.__table__, Message.__table__, Identity.__table__
    sc = LeadScore.__table__

    def within(column: Any) -> Any:
        return among(column, ids) if ids is not None else column.between(lo, hi)

    ep = lambda column: _epoch(session, column)  # noqa: E731
    rows = plain_rows(
        session,
        sa.select(
            c.c.id, c.c.stage, c.c.display_name, c.c.company, c.c.title, c.c.score, c.c.temperature,
            q.c.contact_id.label("lq"), q.c.source_channel, sa.type_coerce(q.c.form_types, _RawJSON).label("form_types"),
            q.c.intent_hits, q.c.language,
            q.c.country, q.c.need, q.c.timeline, q.c.budget, q.c.authority,
            ep(q.c.first_inbound_at).label("fi"), ep(q.c.first_response_at).label("fr"),
            q.c.mql_at.is_not(None).label("r_mql"), q.c.sql_at.is_not(None).label("r_sql"),
            q.c.customer_at.is_not(None).label("r_customer"),
            sc.c.contact_id.label("has_score"),
            sa.type_coerce(sc.c.explanation, _RawJSON).label("explanation"),
            sa.type_coerce(sc.c.temperature_explanation, _RawJSON).label("temperature_explanation"),
            sc.c.ruleset_version, sc.c.scored_at,
        )
        .select_from(c.outerjoin(q, q.c.contact_id == c.c.id).outerjoin(sc, sc.c.contact_id == c.c.id))
        .where(within(c.c.id), c.c.merged_into.is_(None)),
    )
    if not rows:
        return []
    is_in = sa.and_(m.c.direction == "in", m.c.kind == "message")
    is_out = sa.and_(m.c.direction == "out", m.c.kind == "message")
    in_range = within(m.c.contact_id)
    activity = {
        r[0]: r
        for r in plain_rows(
            session,
            sa.select(
                m.c.contact_id,
                sa.func.sum(sa.case((is_in, 1), else_=0)),
                sa.func.sum(sa.case((is_out, 1), else_=0)),
                sa.func.max(sa.case((is_in, ep(m.c.sent_at)))),
                sa.func.max(ep(m.c.sent_at)),
                sa.func.min(sa.case((is_in, ep(m.c.sent_at)))),
                sa.func.min(sa.case((is_out, ep(m.c.sent_at)))),
            )
            .where(in_range)
            .group_by(m.c.contact_id),
        )
    }
    first_out = (
        sa.select(m.c.contact_id.label("cid"), sa.func.min(m.c.sent_at).label("at"))
        .where(in_range, is_out)
        .group_by(m.c.contact_id)
        .subquery()
    )
    replies = dict(
        session.execute(
            sa.select(m.c.contact_id, sa.func.count())
            .join(first_out, first_out.c.cid == m.c.contact_id)
            .where(in_range, is_in, m.c.sent_at > first_out.c.at)
            .group_by(m.c.contact_id)
        ).all()
    )
    # Time to first response: the first outbound message at or after the first inbound one. When our first
    # outbound message came after their first inbound one, that is simply min(outbound); only the other leads
    # (we wrote first) need a second look.
    first_response: dict[int, float] = {}
    wrote_first: list[int] = []
    for cid, act in activity.items():
        first_in_ts, first_out_ts = act[5], act[6]
        if first_in_ts is None or first_out_ts is None:
            continue
        if first_out_ts >= first_in_ts:
            first_response[cid] = float(first_out_ts)
        else:
            wrote_first.append(cid)
    # Not named `ids`: within() reads that name, and the reads below would cover only this loop's last chunk.
    for some in chunked(wrote_first):
        first_in = (
            sa.select(m.c.contact_id.label("cid"), sa.func.min(m.c.sent_at).label("at"))
            .where(among(m.c.contact_id, some), is_in)
            .group_by(m.c.contact_id)
            .subquery()
        )
        first_response.update(
            session.execute(
                sa.select(m.c.contact_id, sa.func.min(ep(m.c.sent_at)))
                .join(first_in, first_in.c.cid == m.c.contact_id)
                .where(among(m.c.contact_id, some), is_out, m.c.sent_at >= first_in.c.at)
                .group_by(m.c.contact_id)
            ).all()
        )
    emails: dict[int, list[str]] = {}
    # The kind is filtered here, not in SQL: with `kind = 'email'` in the WHERE clause SQLite walks the
    # (kind, value) index over every e-mail in the store for each batch instead of this range of contact_id.
    for cid, kind, value in plain_rows(
        session, sa.select(i.c.contact_id, i.c.kind, i.c.value).where(within(i.c.contact_id))
    ):
        if kind == "email":
            emails.setdefault(cid, []).append(value)
    missing_source = [r[0] for r in rows if not r[8]]
    first_channel: dict[int, str] = {}
    if missing_source:
        # The first channel the person came through: the channel of their oldest identity.
        for cid, channel in session.execute(
            sa.select(i.c.contact_id, i.c.channel).where(among(i.c.contact_id, missing_source)).order_by(i.c.id.desc())
        ).all():
            if channel:
                first_channel[cid] = channel

    out: list[tuple[LeadFeatures, LeadState]] = []
    # Positional unpacking: attribute access on a million result rows costs more than the scoring itself.
    for (cid, stage, name, company, title, score, temperature, lq, source_channel, form_types, intent, language,
         country, need, timeline, budget, authority, fi, fr, r_mql, r_sql, r_customer, has_score, explanation,
         temp_explanation, version, scored_at) in rows:
        act = activity.get(cid)
        features = LeadFeatures(
            cid, stage, name or "", company or "", title or "", emails.get(cid, []),
            source_channel or first_channel.get(cid, ""), json_list(form_types), intent or 0, language or "",
            country or "", need or "", timeline or "", budget or "", authority or "",
            int(act[1] or 0) if act else 0, int(act[2] or 0) if act else 0, int(replies.get(cid, 0)),
            float(act[3]) if act and act[3] is not None else None,
            float(act[4]) if act and act[4] is not None else None,
        )
        state = LeadState(
            score, temperature, stage, lq is not None, source_channel or "",
            float(fi) if fi is not None else None, float(fr) if fr is not None else None,
            float(act[5]) if act and act[5] is not None else None,
            float(first_response[cid]) if cid in first_response else None,
            (bool(r_mql), bool(r_sql), bool(r_customer)),
            _json_text(explanation), _json_text(temp_explanation), version, has_score is not None, scored_at,
        )
        out.append((features, state))
    return out


# --------------------------------------------------------------------------- writing results


class _RawJSON(TypeDecorator):
    """A JSON column read and written as its text: explanations are serialised once, compared as text to skip
    unchanged rows, and bound without a second json.dumps."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> None:
        return None


def _dumps(value: Any) -> str:
    # orjson: a rescoring serialises two explanations per lead, and the json module's encoder was ~15 % of it.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _json_text(value: Any) -> str:
    """Stored JSON as text (SQLite hands back text; psycopg parses json, so serialise it the same way again)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _dumps(value)


def _epoch_to_db(ts: float | None, sqlite: bool) -> Any:
    """db_timestamp(_dt(ts)) without the detour: SQLite's text straight from the epoch seconds."""
    if ts is None:
        return None
    if not sqlite:
        return _dt(ts)
    return datetime.fromtimestamp(round(ts, 3), UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(round(ts, 3), UTC) if ts is not None else None


def _milestones(from_stage: str, to_stage: str) -> list[str]:
    """Milestone columns a move reaches (a jump from new to SQL reaches MQL too)."""
    rank = STAGE_RANK.get(to_stage)
    if rank is None:
        return []
    return [name for name, r in (("mql_at", 1), ("sql_at", 2), ("customer_at", 3)) if r <= rank]


@dataclass
class RescoreStats:
    scanned: int = 0
    scored: int = 0
    stage_changes: int = 0
    temperature_changes: int = 0
    seconds: float = 0.0
    # Where the time went (rescore_all), for the benchmark and the job's log line.
    read_seconds: float = 0.0
    score_seconds: float = 0.0
    write_seconds: float = 0.0
    pending_deliveries: list[int] = field(default_factory=list)  # webhook outbox ids to hand to the queue
    processes: int = 1  # how many processes did the work


def apply_scores(
    session: Session, batch: list[tuple[LeadFeatures, LeadState]], active: ActiveRuleSet, now_ts: float,
    stats: RescoreStats | None = None,
) -> RescoreStats:
    """Score a batch and write what changed with executemany (contacts, lead_qualifications, stage_changes)."""
    started = time.perf_counter()
    stats = stats or RescoreStats()
    now = _dt(now_ts)
    actor = f"scoring:v{active.version}"
    compiled = compile_ruleset(active.ruleset)
    contact_updates: list[tuple[Any, ...]] = []
    score_updates: list[tuple[str, str, int, Any]] = []
    score_inserts: list[tuple[int, str, str]] = []
    source_updates: list[dict[str, Any]] = []
    lq_inserts: list[dict[str, Any]] = []
    response_updates: list[tuple[Any, ...]] = []
    milestone_updates: dict[str, list[dict[str, Any]]] = {"mql_at": [], "sql_at": [], "customer_at": []}
    changes: list[dict[str, Any]] = []
    thresholds, version, dumps = active.ruleset.thresholds, active.version, _dumps
    scanned = stage_count = temperature_count = 0
    for features, state in batch:
        scanned += 1
        cid = features.contact_id
        result: ScoreResult = score_lead(features, compiled, now_ts)
        stage = decide_stage(state.stage, result, thresholds)
        moved = stage != state.stage
        warmed = result.temperature != state.temperature
        temperature_count += warmed
        if warmed or moved or result.score != state.score:
            contact_updates.append(
                (result.score, result.temperature, stage, cid, state.stage, state.score, state.temperature)
            )
        if moved:
            stage_count += 1
            reason = result.non_target_reason if stage == NON_TARGET else ""
            changes.append(
                {"contact_id": cid, "from_stage": state.stage, "to_stage": stage, "reason": reason or "",
                 "note": f"rule {result.non_target_rule}" if reason else f"score {result.score}",
                 "actor": actor, "created_at": now}
            )
            if state.has_row:
                reached = _milestones(state.stage, stage)
                for name, done in zip(("mql_at", "sql_at", "customer_at"), state.reached, strict=True):
                    if not done and name in reached:
                        milestone_updates[name].append({"cid": cid, "at": now})
        explanation, temperature_json = dumps(result.explanation), dumps(result.temperature_explanation)
        if not state.has_score:
            score_inserts.append((cid, explanation, temperature_json))
        elif (explanation != state.explanation_json or temperature_json != state.temperature_json
              or version != state.ruleset_version):
            # Unchanged explanations under the same rules are not rewritten (the steady state of a rescoring).
            score_updates.append((explanation, temperature_json, cid, state.scored_at))
        fi, fr = state.computed_first_inbound_ts, state.computed_first_response_ts
        if state.has_row:
            if features.source_channel != state.source_channel:
                source_updates.append({"cid": cid, "source": features.source_channel})
            if _differs(fi, state.first_inbound_ts) or _differs(fr, state.first_response_ts):
                response_updates.append((fi, fr, round(fr - fi) if fi is not None and fr is not None else None, cid))
        else:
            row = _new_lq_row(cid, now)
            row.update(source_channel=features.source_channel, first_inbound_at=_dt(fi), first_response_at=_dt(fr),
                       response_seconds=round(fr - fi) if fi is not None and fr is not None else None)
            for name in _milestones(NEW, stage):
                row[name] = now
            lq_inserts.append(row)
    stats.scanned += scanned
    stats.scored += scanned
    stats.stage_changes += stage_count
    stats.temperature_changes += temperature_count
    scored_at = time.perf_counter()
    stats.score_seconds += scored_at - started

    q = LeadQualification.__table__
    # The big statements go to the driver's executemany directly: SQLAlchemy's per-row parameter handling
    # would cost more than SQLite's work. Placeholders, JSON and timestamps are spelled per backend.
    sqlite = session.get_bind().dialect.name == "sqlite"
    p = "?" if sqlite else "%s"
    j = p if sqlite else f"CAST({p} AS JSON)"
    at = db_timestamp(now, sqlite)
    connection = session.connection()
    # Every write is guarded by what was read: a lead another writer changed after this batch was read (a rep
    # marking it customer, a new message rescoring it) keeps what they wrote and takes nothing from this stale
    # reading (the parallel rescoring reads before it takes the write lock; the next rescoring scores it again).
    skipped: set[int] = set()
    if contact_updates:
        updated = _update_contact_scores(connection, contact_updates)
        if updated != len(contact_updates):
            skipped = _changed_meanwhile(session, contact_updates)
            stats.stage_changes -= sum(1 for x in changes if x["contact_id"] in skipped)
            stats.temperature_changes -= sum(1 for u in contact_updates if u[3] in skipped and u[1] != u[6])
            changes = [x for x in changes if x["contact_id"] not in skipped]
            for name, updates in milestone_updates.items():
                milestone_updates[name] = [u for u in updates if u["cid"] not in skipped]
            score_updates = [u for u in score_updates if u[2] not in skipped]
            score_inserts = [u for u in score_inserts if u[0] not in skipped]
            source_updates = [u for u in source_updates if u["cid"] not in skipped]
            response_updates = [u for u in response_updates if u[3] not in skipped]
            lq_inserts = [u for u in lq_inserts if u["contact_id"] not in skipped]
    if score_updates:
        same_time = "IS ?" if sqlite else "IS NOT DISTINCT FROM CAST(%s AS TIMESTAMP WITH TIME ZONE)"
        connection.exec_driver_sql(
            f"UPDATE lead_scores SET explanation = {j}, temperature_explanation = {j}, ruleset_version = {p},"
            f" scored_at = {p} WHERE contact_id = {p} AND scored_at {same_time}",
            [(e, t, active.version, at, cid, was) for e, t, cid, was in score_updates],
        )
    if score_inserts:
        driver_insert(connection, "lead_scores", SCORE_COLUMNS,
                      [(cid, e, t, active.version, at) for cid, e, t in score_inserts],
                      json_columns=SCORE_JSON_COLUMNS, suffix=" ON CONFLICT (contact_id) DO NOTHING")
    if source_updates:
        session.execute(
            sa.update(q).where(q.c.contact_id == sa.bindparam("cid")).values(source_channel=sa.bindparam("source")),
            source_updates,
        )
    if response_updates:
        connection.exec_driver_sql(
            f"UPDATE lead_qualifications SET first_inbound_at = {p}, first_response_at = {p}, response_seconds = {p}"
            f" WHERE contact_id = {p}",
            [(_epoch_to_db(fi, sqlite), _epoch_to_db(fr, sqlite), secs, cid) for fi, fr, secs, cid in response_updates],
        )
    if lq_inserts:
        insert = (sqlite_insert if sqlite else postgresql_insert)(q).on_conflict_do_nothing(index_elements=["contact_id"])
        session.execute(insert, lq_inserts)
    for name, updates in milestone_updates.items():
        if updates:
            connection.exec_driver_sql(
                f"UPDATE lead_qualifications SET {name} = {p} WHERE contact_id = {p} AND {name} IS NULL",
                [(at, u["cid"]) for u in updates],
            )
    if changes:
        driver_insert(connection, "stage_changes", STAGE_CHANGE_COLUMNS, [
            (x["contact_id"], x["from_stage"], x["to_stage"], x["reason"], x["note"], x["actor"], at) for x in changes])
        for change in changes:
            hooks.emit(session, "stage.changed", _stage_payload(change))
    stats.write_seconds += time.perf_counter() - scored_at
    return stats


SCORE_COLUMNS = ("contact_id", "explanation", "temperature_explanation", "ruleset_version", "scored_at")
SCORE_JSON_COLUMNS = frozenset({"explanation", "temperature_explanation"})
STAGE_CHANGE_COLUMNS = ("contact_id", "from_stage", "to_stage", "reason", "note", "actor", "created_at")


def _update_contact_scores(connection: sa.Connection, updates: list[tuple[Any, ...]]) -> int:
    """Write (score, temperature, stage, id, old stage, old score, old temperature) rows, each only if the row is
    still as read; the number written. Only what changed is named on SQLite (core.db.driver_update): a new
    lead's stage and temperature mostly stay."""
    rows = []
    for score, temperature, stage, cid, old_stage, old_score, old_temperature in updates:
        changed = {name for name, new, old in (("score", score, old_score), ("temperature", temperature,
                   old_temperature), ("stage", stage, old_stage)) if new != old} or {"score"}  # (the guard's answer)
        rows.append(({"score": score, "temperature": temperature, "stage": stage}, changed,
                     (cid, old_stage, old_score, old_temperature)))
    return driver_update(connection, "contacts", rows, ("id", "stage", "score", "temperature"))


def _changed_meanwhile(session: Session, contact_updates: list[tuple[Any, ...]]) -> set[int]:
    """Ids of the leads whose row is not what this batch wrote: another writer changed them after the read."""
    wanted = {u[3]: (u[0], u[1], u[2]) for u in contact_updates}
    c = Contact.__table__
    now: dict[int, tuple[Any, ...]] = {}
    for chunk in chunked(list(wanted)):
        for cid, score, temperature, stage in plain_rows(
            session, sa.select(c.c.id, c.c.score, c.c.temperature, c.c.stage).where(among(c.c.id, chunk))
        ):
            now[cid] = (score, temperature, stage)
    return {cid for cid, values in wanted.items() if now.get(cid) != values}


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(a - b) >= 1.0


def _new_lq_row(contact_id: int, now: datetime | None) -> dict[str, Any]:
    return {
        "contact_id": contact_id, "need": "", "timeline": "", "budget": "", "authority": "", "deal_value": None,
        "deal_currency": "", "source_channel": "", "form_types": [], "intent_hits": 0, "language": "", "country": "",
        "first_inbound_at": None, "first_response_at": None, "response_seconds": None, "mql_at": None,
        "sql_at": None, "customer_at": None, "updated_by": "", "updated_at": now or utcnow(),
    }


def _stage_payload(change: dict[str, Any]) -> dict[str, Any]:
    at = change.get("created_at")
    return {
        "contact_id": change["contact_id"],
        "from": change["from_stage"],
        "to": change["to_stage"],
        "reason": change.get("reason") or None,
        "actor": change.get("actor", ""),
        "at": at.isoformat() if isinstance(at, datetime) else at,
    }


def rescore_contact(session: Session, contact_id: int, *, now_ts: float | None = None) -> LeadQualification | None:
    """Score one lead now (ingest, BANT edits). Works in the caller's transaction."""
    rescore_contacts(session, [contact_id], now_ts=now_ts)
    return session.get(LeadQualification, contact_id)


# Contacts scored together by rescore_contacts load one id range when their ids are at most this far apart
# (a batch's new leads have consecutive ids), number at least MIN_RUN and fill at least 90% of it (the range's
# other leads are read for nothing: at half, an import read twice the leads it scored); the others (known
# people writing again, scattered over the whole store) are loaded by id list, SCATTERED_CHUNK at a time. One range per
# scattered id made a batch's queries grow with the store: 0.3 ms per record at 10k, 1.6 at 100k.
RUN_GAP = 64
MIN_RUN = 16
SCATTERED_CHUNK = 500


def rescore_contacts(session: Session, contact_ids: set[int] | list[int], *, now_ts: float | None = None) -> None:
    """Score several leads now, in the caller's transaction: one load of features per run of nearby ids,
    keeping only the leads asked for (their neighbours are not rescored as a side effect)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    session.flush()
    active = active_ruleset(session)
    now = now_ts if now_ts is not None else time.time()
    wanted = set(ids)
    scattered: list[int] = []
    start = 0
    while start < len(ids):
        end = start
        while end + 1 < len(ids) and ids[end + 1] - ids[end] <= RUN_GAP:
            end += 1
        if end - start + 1 >= MIN_RUN and 10 * (end - start + 1) >= 9 * (ids[end] - ids[start] + 1):
            batch = [item for item in load_features(session, ids[start], ids[end]) if item[0].contact_id in wanted]
            if batch:
                apply_scores(session, batch, active, now)
        else:
            scattered += ids[start : end + 1]
        start = end + 1
    for chunk in range(0, len(scattered), SCATTERED_CHUNK):
        some = scattered[chunk : chunk + SCATTERED_CHUNK]
        batch = load_features(session, some[0], some[-1], ids=some)
        if batch:
            apply_scores(session, batch, active, now)
    # The ORM copies in this session must see what the bulk statements wrote.
    for key, obj in list(session.identity_map.items()):
        if key[0] in (Contact, LeadQualification, LeadScore) and key[1][0] in wanted:
            session.expire(obj)


def id_range(session: Session) -> tuple[int, int]:
    lo, hi = session.execute(sa.select(sa.func.min(Contact.id), sa.func.max(Contact.id))).one()
    return (lo or 0, hi or -1)


def rescore_all(
    engine: sa.Engine,
    *,
    batch_size: int = BATCH_SIZE,
    now_ts: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    processes: int = 1,
) -> RescoreStats:
    """Rescore every live lead with the active rules, batch by batch (each batch its own transaction).

    processes > 1 shares the batches out among that many worker processes (spawned, so a threaded web app or
    queue worker is never forked). Each reads its batch, then takes the write lock only to write: the guarded
    writes of apply_scores make a reading that went stale meanwhile harmless. One process reads under the
    lock (SQLite), so it never sees a stale row at all. Stage-change events reach the listeners in every
    process; the webhook deliveries they queue come back in `pending_deliveries`."""
    started = time.perf_counter()
    now_ts = now_ts if now_ts is not None else time.time()
    with Session(engine) as session:
        lo, hi = id_range(session)
        total = session.execute(sa.select(sa.func.count()).where(Contact.merged_into.is_(None))).scalar() or 0
        active = active_ruleset(session, cached=False)
    ranges = [(start, min(start + batch_size - 1, hi)) for start in range(lo, hi + 1, batch_size)]
    if processes > 1 and len(ranges) > 1 and _can_share_out(engine):
        stats = _rescore_in_processes(engine, ranges, active, now_ts, processes, progress, total)
    else:
        stats = RescoreStats()
        for start, end in ranges:
            stats.pending_deliveries.extend(_rescore_range(engine, start, end, active, now_ts, stats, read_locked=True))
            if progress:
                progress(stats.scanned, total)
    stats.seconds = time.perf_counter() - started
    return stats


def _rescore_range(
    engine: sa.Engine, lo: int, hi: int, active: ActiveRuleSet, now_ts: float, stats: RescoreStats, *,
    read_locked: bool,
) -> list[int]:
    """One batch in its own transaction; returns the ids of the webhook deliveries it queued."""
    from core.webhooks import PENDING_KEY

    with Session(engine) as session:
        session.info[_RULESET_CACHE] = active
        if read_locked:
            # SQLite: take the write lock before reading. A deferred transaction that read, then tries to write
            # after another writer committed, fails at once ("database is locked"); writers wait for this one.
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        read_at = time.perf_counter()
        batch = load_features(session, lo, hi)
        stats.read_seconds += time.perf_counter() - read_at
        if not read_locked:
            session.rollback()  # end the read; the write transaction below waits for the lock
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        apply_scores(session, batch, active, now_ts, stats)
        committing = time.perf_counter()
        session.commit()
        stats.write_seconds += time.perf_counter() - committing
        # The web app's after-commit hook hands these to the queue (and pops them) where it runs.
        return list(session.info.pop(PENDING_KEY, None) or [])


def _can_share_out(engine: sa.Engine) -> bool:
    """Worker processes need a database they can open (not SQLite in memory), listeners they can import, and a
    parent allowed to have children (huey's process workers are daemonic: they are not)."""
    if multiprocessing.current_process().daemon:
        return False
    url = engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:" or "mode=memory" in str(url)):
        return False
    try:
        pickle.dumps(list(hooks.event_listeners))
    except Exception:  # noqa: BLE001 - a lambda or closure: it cannot run in another process, so none do
        return False
    return True


def _rescore_in_processes(
    engine: sa.Engine, ranges: list[tuple[int, int]], active: ActiveRuleSet, now_ts: float, processes: int,
    progress: Callable[[int, int], None] | None, total: int,
) -> RescoreStats:
    stats = RescoreStats(processes=min(processes, len(ranges)))
    url = engine.url.render_as_string(hide_password=False)
    pool = ProcessPoolExecutor(
        max_workers=stats.processes, mp_context=multiprocessing.get_context("spawn"),
        initializer=_process_init, initargs=(url, list(hooks.event_listeners)),
    )
    try:
        futures = [pool.submit(_process_range, lo, hi, active.version, active.document, now_ts) for lo, hi in ranges]
        for future in as_completed(futures):
            part = future.result()
            for name in ("scanned", "scored", "stage_changes", "temperature_changes", "read_seconds", "score_seconds",
                         "write_seconds"):
                setattr(stats, name, getattr(stats, name) + getattr(part, name))
            stats.pending_deliveries.extend(part.pending_deliveries)
            if progress:
                progress(stats.scanned, total)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return stats


_PROCESS: dict[str, Any] = {}  # a rescoring worker process's engine and parsed rules


def _process_init(url: str, listeners: list[hooks.EventListener]) -> None:
    from core.db import make_engine

    _PROCESS["engine"] = make_engine(url)
    for listener in listeners:
        hooks.register_listener(listener)


def _process_range(lo: int, hi: int, version: int, document: dict[str, Any], now_ts: float) -> RescoreStats:
    active = _PROCESS.get("active")
    if active is None or active.version != version:
        active = _PROCESS["active"] = ActiveRuleSet(version, parse_ruleset(document), document)
    stats = RescoreStats()
    stats.pending_deliveries = _rescore_range(_PROCESS["engine"], lo, hi, active, now_ts, stats, read_locked=False)
    return stats


def preview_ruleset(
    session: Session, document: dict[str, Any], *, batch_size: int = BATCH_SIZE, now_ts: float | None = None,
    max_leads: int | None = None,
) -> dict[str, Any]:
    """What a draft rule set would do to the existing leads, without writing anything. With `max_leads`, only
    the newest ids up to that many are looked at (a web request should not score a million leads)."""
    draft = parse_ruleset(document)
    compiled = compile_ruleset(draft)
    now_ts = now_ts if now_ts is not None else time.time()
    lo, hi = id_range(session)
    sampled = max_leads is not None and hi - lo + 1 > max_leads
    if sampled and max_leads is not None:
        lo = hi - max_leads + 1
    stage_moves: Counter[str] = Counter()
    temperature_moves: Counter[str] = Counter()
    stages_after: Counter[str] = Counter()
    temperatures_after: Counter[str] = Counter()
    buckets: Counter[int] = Counter()
    score_changes = leads = 0
    start = lo
    while start <= hi:
        for features, state in load_features(session, start, start + batch_size - 1):
            result = score_lead(features, compiled, now_ts)
            stage = decide_stage(state.stage, result, draft.thresholds)
            leads += 1
            if stage != state.stage:
                stage_moves[f"{state.stage}→{stage}"] += 1
            if result.temperature != state.temperature:
                temperature_moves[f"{state.temperature}→{result.temperature}"] += 1
            score_changes += result.score != state.score
            stages_after[stage] += 1
            temperatures_after[result.temperature] += 1
            buckets[min(max(result.score // 10, -1), 10)] += 1
        start += batch_size
    return {
        "leads": leads,
        "sampled": sampled,
        "stage_changes": sum(stage_moves.values()),
        "stage_moves": dict(stage_moves.most_common()),
        "temperature_changes": sum(temperature_moves.values()),
        "temperature_moves": dict(temperature_moves.most_common()),
        "score_changes": score_changes,
        "stages_after": dict(stages_after),
        "temperatures_after": dict(temperatures_after),
        "score_histogram": [
            {"from": b * 10 if b >= 0 else None, "to": b * 10 + 9 if 0 <= b < 10 else None, "leads": buckets[b]}
            for b in sorted(buckets)
        ],
    }


def rescore_job(session: Session) -> dict[str, Any] | None:
    row = session.get(AppSetting, RESCORE_JOB_KEY)
    return dict(row.value) if row is not None and row.value else None


def save_rescore_job(session: Session, value: dict[str, Any]) -> None:
    row = session.get(AppSetting, RESCORE_JOB_KEY) or AppSetting(key=RESCORE_JOB_KEY)
    row.value = value
    row.updated_at = utcnow()
    session.add(row)


# --------------------------------------------------------------------------- stages and BANT (people)


def ensure_qualification(session: Session, contact_id: int) -> LeadQualification:
    row = session.get(LeadQualification, contact_id)
    if row is None:
        row = LeadQualification(contact_id=contact_id)
        session.add(row)
        session.flush()
    return row


def set_stage(
    session: Session, contact_id: int, *, stage: str, reason: str | None = None, note: str = "", actor: str
) -> StageChange:
    """A person moves a lead to a stage (any direction); non-target needs a reason. Recorded with who and when."""
    from core.identity import get_live_contact

    contact = get_live_contact(session, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    valid = [s.value for s in Stage]
    if stage not in valid:
        raise QualificationError("invalid input", {"stage": f"one of {valid}"})
    if stage == Stage.non_target.value:
        if reason not in NON_TARGET_REASONS:
            raise QualificationError("invalid input", {"reason": f"a non-target lead needs a reason: one of {list(NON_TARGET_REASONS)}"})
    elif reason:
        raise QualificationError("invalid input", {"reason": "only a non-target stage takes a reason"})
    if stage == contact.stage:
        raise QualificationError(f"the lead is already at stage {stage}", {"stage": "unchanged"})
    now = utcnow()
    change = StageChange(
        contact_id=contact.id, from_stage=contact.stage, to_stage=stage, reason=reason or "", note=(note or "")[:500],
        actor=actor, created_at=now,
    )
    lq = ensure_qualification(session, contact.id)
    for name in _milestones(contact.stage, stage):
        if getattr(lq, name) is None:
            setattr(lq, name, now)
    contact.stage = stage
    contact.updated_at = now
    session.add_all([change, lq, contact])
    session.flush()
    hooks.emit(session, "stage.changed", _stage_payload(change.model_dump()))
    return change


def update_bant(session: Session, contact_id: int, data: dict[str, Any], *, actor: str) -> LeadQualification:
    """Set BANT fields and the deal value (only the keys given), then rescore the lead."""
    from core.identity import get_live_contact

    contact = get_live_contact(session, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    lq = ensure_qualification(session, contact.id)
    for name in (*BANT_FIELDS, "deal_currency"):
        if name in data:
            setattr(lq, name, (data[name] or "").strip())
    if "deal_value" in data:
        lq.deal_value = data["deal_value"]
    lq.updated_by = actor
    lq.updated_at = utcnow()
    session.add(lq)
    rescore_contact(session, contact.id)
    return lq


def stage_history(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(StageChange).where(StageChange.contact_id == contact_id).order_by(col(StageChange.created_at), col(StageChange.id))
    ).all()
    return [
        {"from": r.from_stage, "to": r.to_stage, "reason": r.reason or None, "note": r.note, "actor": r.actor,
         "at": r.created_at.isoformat()}
        for r in rows
    ]


def qualification_detail(session: Session, contact_id: int) -> dict[str, Any] | None:
    from core.identity import get_live_contact

    contact = get_live_contact(session, contact_id)
    if contact is None:
        return None
    lq = session.get(LeadQualification, contact.id)
    scored = session.get(LeadScore, contact.id)

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "contact_id": contact.id,
        "stage": contact.stage,
        "temperature": contact.temperature,
        "score": contact.score,
        "owner_id": contact.owner_id,
        "bant": {name: getattr(lq, name) if lq else "" for name in BANT_FIELDS},
        "deal_value": lq.deal_value if lq else None,
        "deal_currency": lq.deal_currency if lq else "",
        "explanation": scored.explanation if scored else [],
        "temperature_explanation": scored.temperature_explanation if scored else [],
        "ruleset_version": scored.ruleset_version if scored else None,
        "scored_at": iso(scored.scored_at) if scored else None,
        "source_channel": lq.source_channel if lq else "",
        "form_types": lq.form_types if lq else [],
        "language": lq.language if lq else "",
        "country": lq.country if lq else "",
        "first_inbound_at": iso(lq.first_inbound_at) if lq else None,
        "first_response_at": iso(lq.first_response_at) if lq else None,
        "response_seconds": lq.response_seconds if lq else None,
        "stage_history": stage_history(session, contact.id),
    }


# --------------------------------------------------------------------------- hooks


def on_ingest(session: Session, record: InboundRecord, result: IngestResult) -> None:
    """After each stored record: take signals from the message text, route a new lead, rescore, emit events.
    Inside a bulk path's deferred_work block this happens once for the whole batch (finish_batch)."""
    if result.contact_id is None or result.status in ("known", "suppressed"):
        return
    if not hooks.defer(session, "ingested", (record, result)):
        qualify_ingested(session, [(record, result)])


def finish_batch(session: Session, work: dict[str, list[Any]]) -> None:
    """The batch finisher of core.hooks.deferred_work."""
    if work.get("ingested"):
        qualify_ingested(session, work["ingested"])


SIGNAL_COLUMNS = ("source_channel", "form_types", "intent_hits", "language", "country")


def qualify_ingested(session: Session, items: list[tuple[InboundRecord, IngestResult]]) -> None:
    """Signals, routing, events and scores for stored records, in record order, with a handful of queries for
    the lot. Events: every lead.created, then the scores (stage.changed), then message.received, so receivers
    see a lead before its first stage change. Works on plain rows: ORM objects for a batch's thousands of
    leads cost more than everything else qualification does."""
    items = [(r, res) for r, res in items if res.contact_id is not None and res.status not in ("known", "suppressed")]
    if not items:
        return
    session.flush()
    q = LeadQualification.__table__
    ids = sorted({res.contact_id for _, res in items})
    stored: dict[int, dict[str, Any]] = {}
    for chunk in chunked(ids):
        for row in session.execute(
            sa.select(q.c.contact_id, *(q.c[name] for name in SIGNAL_COLUMNS)).where(among(q.c.contact_id, chunk))
        ).mappings():
            stored[row["contact_id"]] = dict(row)
    signals = {cid: dict(stored[cid]) if cid in stored else
               {"contact_id": cid, "source_channel": "", "form_types": [], "intent_hits": 0, "language": "",
                "country": ""} for cid in ids}
    for record, result in items:
        _take_signals(signals[result.contact_id], record, result)
    no_country = [cid for cid in ids if not signals[cid]["country"]]
    phones: dict[int, str] = {}
    i = Identity.__table__
    for chunk in chunked(no_country):
        # The kind is checked here, not in SQL: given `kind = 'phone'` too, SQLite walks the (kind, value)
        # index over every phone in the store instead of looking these contacts up.
        for cid, kind, value in plain_rows(session, sa.select(i.c.contact_id, i.c.kind, i.c.value)
                                           .where(among(i.c.contact_id, chunk)).order_by(i.c.id)):
            if kind == "phone":
                phones.setdefault(cid, value)
    for cid in no_country:
        signals[cid]["country"] = country_from_phone(phones.get(cid))
    now = utcnow()
    sqlite = session.get_bind().dialect.name == "sqlite"
    connection = session.connection()
    new_ids = [cid for cid in ids if cid not in stored]
    if new_ids:
        # Straight to the driver's executemany: SQLAlchemy's per-row handling of these twenty columns cost more
        # than inserting them.
        template = _new_lq_row(0, now)
        columns = tuple(template)
        rows = []
        for cid in new_ids:
            row = {**template, **signals[cid], "contact_id": cid}
            row["form_types"] = db_json(row["form_types"])
            row["updated_at"] = db_timestamp(row["updated_at"], sqlite)
            rows.append(tuple(row[name] for name in columns))
        driver_insert(connection, "lead_qualifications", columns, rows, json_columns=frozenset({"form_types"}))
    changed = [signals[cid] for cid in stored if signals[cid] != stored[cid]]
    if changed:
        p = "?" if sqlite else "%s"
        connection.exec_driver_sql(
            f"UPDATE lead_qualifications SET source_channel = {p}, form_types = {p if sqlite else f'CAST({p} AS JSON)'},"
            f" intent_hits = {p}, language = {p}, country = {p} WHERE contact_id = {p}",
            [(row["source_channel"], db_json(row["form_types"]), row["intent_hits"], row["language"], row["country"],
              row["contact_id"]) for row in changed],
        )

    created = [(record, result) for record, result in items if result.contact_created]
    if created:
        from core.routing import route_new_leads

        def routing_facts(record: InboundRecord, cid: int) -> dict[str, str]:
            facts = signals[cid]
            return {"channel": record.channel, "form_type": facts["form_types"][0] if facts["form_types"] else "",
                    "language": facts["language"], "country": facts["country"]}

        route_new_leads(session, [(result.contact_id, routing_facts(record, result.contact_id))
                                  for record, result in created])
        c = Contact.__table__
        contacts: dict[int, Any] = {}
        for chunk in chunked(sorted({r.contact_id for _, r in created})):
            contacts.update((row[0], row) for row in plain_rows(
                session, sa.select(c.c.id, c.c.display_name, c.c.company, c.c.owner_id).where(among(c.c.id, chunk))))
        for record, result in created:
            contact = contacts.get(result.contact_id)
            hooks.emit(session, "lead.created", {
                "contact_id": result.contact_id, "name": contact[1] if contact else "",
                "company": contact[2] if contact else "", "channel": record.channel,
                "owner_id": contact[3] if contact else None,
            })
    # A message joins the conversation its thread is in, whoever's that is (a colleague replying in a thread
    # of another lead's): that lead's score must count it too.
    m = Message.__table__
    new_messages = [res.message_id for _, res in items if res.message_id is not None and res.status == "created"]
    owners: set[int] = set()
    for chunk in chunked(new_messages):
        owners.update(session.execute(sa.select(m.c.contact_id).where(among(m.c.id, chunk))).scalars())
    rescore_contacts(session, sorted(set(ids) | owners))  # also expires this session's ORM copies of these leads
    for record, result in items:
        message = record.message
        if message is not None and result.message_id is not None and result.status == "created" \
                and message.direction == "in" and message.kind == "message":
            hooks.emit(session, "message.received", {
                "contact_id": result.contact_id, "message_id": result.message_id, "channel": record.channel,
                "conversation_id": result.conversation_id, "subject": message.subject or "",
                "sent_at": message.sent_at.isoformat() if message.sent_at else None,
            })


def _take_signals(signals: dict[str, Any], record: InboundRecord, result: IngestResult) -> None:
    """Fold one stored record into its lead's signal columns (a plain dict of SIGNAL_COLUMNS)."""
    message = record.message
    if not signals["source_channel"]:
        signals["source_channel"] = record.channel
    if message is None or result.message_id is None or result.status != "created":
        return
    form_type = str((message.meta or {}).get("form_type") or "").strip().lower()
    if form_type and form_type not in signals["form_types"]:
        signals["form_types"] = [*signals["form_types"], form_type][:20]
    if message.direction == "in" and message.kind == "message":
        hits, language = message_signals(message)
        signals["intent_hits"] += hits
        if not signals["language"]:
            signals["language"] = language


def on_event(session: Session, event: str, payload: dict[str, Any]) -> None:
    """lead.merged: the survivor keeps the text signals and BANT of the merged lead, then is rescored."""
    if event != "lead.merged":
        return
    survivor = session.get(LeadQualification, payload["survivor_id"])
    merged = session.get(LeadQualification, payload["merged_id"])
    if merged is None:
        return
    survivor = survivor or ensure_qualification(session, payload["survivor_id"])
    survivor.intent_hits += merged.intent_hits
    survivor.form_types = list(dict.fromkeys([*survivor.form_types, *merged.form_types]))[:20]
    for name in (*BANT_FIELDS, "language", "country", "deal_currency"):
        if not getattr(survivor, name) and getattr(merged, name):
            setattr(survivor, name, getattr(merged, name))
    if survivor.deal_value is None:
        survivor.deal_value = merged.deal_value
    for name in ("mql_at", "sql_at", "customer_at"):
        values = [v for v in (getattr(survivor, name), getattr(merged, name)) if v is not None]
        setattr(survivor, name, min(values) if values else None)
    session.add(survivor)
    session.flush()
    # The merged lead's messages now count for the survivor: its score must say so even when no record of
    # its own comes next (a merge found by the record of a third contact, or by hand).
    rescore_contacts(session, [payload["survivor_id"]])

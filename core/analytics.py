"""Figures for managers, all computed by the database with GROUP BY (and window functions for medians), so
they cost one pass over contacts ⋈ lead_qualifications however many leads there are.

A lead's source is the first channel it came through. Funnel steps count leads that ever reached a stage
(milestone timestamps), so a customer also counts as MQL and SQL, and a lead that went non-target after SQL
still counts as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.models import Contact, LeadQualification, Stage, User

UNKNOWN_SOURCE = "unknown"
BUCKETS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    start: datetime | None = None  # inclusive, on the lead's created_at
    end: datetime | None = None  # exclusive


def _base(period: Period) -> tuple[Any, Any, list[Any]]:
    c, q = Contact.__table__, LeadQualification.__table__
    conditions = [c.c.merged_into.is_(None)]
    if period.start is not None:
        conditions.append(c.c.created_at >= period.start)
    if period.end is not None:
        conditions.append(c.c.created_at < period.end)
    return c, q, conditions


def _key(c: Any, q: Any, group: str) -> Any:
    if group == "source":
        return sa.func.coalesce(sa.func.nullif(q.c.source_channel, ""), UNKNOWN_SOURCE)
    if group == "owner":
        return c.c.owner_id
    raise ValueError(f"unknown grouping {group!r}")


def _ratio(part: int | float | None, whole: int | float | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def funnel(session: Session, *, group: str = "source", period: Period = Period()) -> list[dict[str, Any]]:
    """Per source (or owner): leads, MQL, SQL, customers, non-target, conversion at each step, lead quality,
    deal value of customers, median time to first response."""
    c, q, conditions = _base(period)
    key = _key(c, q, group).label("key")
    is_customer = q.c.customer_at.is_not(None)
    rows = session.execute(
        sa.select(
            key,
            sa.func.count().label("leads"),
            sa.func.count(q.c.mql_at).label("mql"),
            sa.func.count(q.c.sql_at).label("sql"),
            sa.func.count(q.c.customer_at).label("customers"),
            sa.func.sum(sa.case((c.c.stage == Stage.non_target.value, 1), else_=0)).label("non_target"),
            sa.func.sum(sa.case((is_customer, q.c.deal_value))).label("deal_value"),
            sa.func.count(sa.case((is_customer, q.c.deal_value))).label("deals_with_value"),
        )
        .select_from(c.outerjoin(q, q.c.contact_id == c.c.id))
        .where(*conditions)
        .group_by(key)
        .order_by(sa.func.count().desc(), key)
    ).all()
    medians = median_response_seconds(session, group=group, period=period)
    names = _owner_names(session, [r.key for r in rows]) if group == "owner" else {}
    out = []
    for r in rows:
        leads, mql, sql, customers = int(r.leads), int(r.mql), int(r.sql), int(r.customers)
        out.append(
            {
                "key": r.key,
                "label": names.get(r.key, "unassigned" if r.key is None else str(r.key)) if group == "owner" else r.key,
                "leads": leads,
                "mql": mql,
                "sql": sql,
                "customers": customers,
                "non_target": int(r.non_target or 0),
                "lead_to_mql": _ratio(mql, leads),
                "mql_to_sql": _ratio(sql, mql),
                "sql_to_customer": _ratio(customers, sql),
                "lead_quality": _ratio(customers, leads),
                "deal_value": round(float(r.deal_value), 2) if r.deal_value is not None else None,
                "deals_with_value": int(r.deals_with_value or 0),
                "median_response_seconds": medians.get(r.key),
            }
        )
    return out


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    leads, mql, sql, customers = (sum(r[k] for r in rows) for k in ("leads", "mql", "sql", "customers"))
    values = [r["deal_value"] for r in rows if r["deal_value"] is not None]
    return {
        "leads": leads, "mql": mql, "sql": sql, "customers": customers,
        "non_target": sum(r["non_target"] for r in rows),
        "lead_to_mql": _ratio(mql, leads), "mql_to_sql": _ratio(sql, mql), "sql_to_customer": _ratio(customers, sql),
        "lead_quality": _ratio(customers, leads), "deal_value": round(sum(values), 2) if values else None,
    }


def median_response_seconds(session: Session, *, group: str = "source", period: Period = Period()) -> dict[Any, float]:
    """Median time to first response per group: the middle row(s) by ROW_NUMBER, averaged (SQLite and PostgreSQL)."""
    c, q, conditions = _base(period)
    key = _key(c, q, group).label("key")
    secs = q.c.response_seconds
    ranked = (
        sa.select(
            key,
            secs.label("secs"),
            sa.func.row_number().over(partition_by=key, order_by=secs).label("rn"),
            sa.func.count().over(partition_by=key).label("n"),
        )
        .select_from(c.join(q, q.c.contact_id == c.c.id))
        .where(*conditions, secs.is_not(None))
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.key, sa.func.avg(ranked.c.secs))
        .where(sa.or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2))
        .group_by(ranked.c.key)
    ).all()
    return {k: round(float(v), 1) for k, v in rows}


def _bucket(session: Session, column: Any, bucket: str) -> Any:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    if session.get_bind().dialect.name == "sqlite":
        if bucket == "day":
            return sa.func.date(column)
        if bucket == "week":
            return sa.func.date(column, "-6 days", "weekday 1")  # the Monday on or before
        return sa.func.strftime("%Y-%m-01", column)
    return sa.func.to_char(sa.func.date_trunc(bucket, sa.func.timezone("UTC", column)), "YYYY-MM-DD")


def leads_over_time(
    session: Session, *, bucket: str = "week", period: Period = Period()
) -> list[dict[str, Any]]:
    """New leads per period bucket and source: [{"bucket": "2026-11-16", "source": "gmail", "leads": 12}, …]."""
    c, q, conditions = _base(period)
    key = _key(c, q, "source").label("source")
    when = _bucket(session, c.c.created_at, bucket).label("bucket")
    rows = session.execute(
        sa.select(when, key, sa.func.count().label("leads"))
        .select_from(c.outerjoin(q, q.c.contact_id == c.c.id))
        .where(*conditions)
        .group_by(when, key)
        .order_by(when, key)
    ).all()
    return [{"bucket": str(r.bucket), "source": r.source, "leads": int(r.leads)} for r in rows]


def _owner_names(session: Session, ids: list[Any]) -> dict[Any, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    u = User.__table__
    return {
        uid: name or email
        for uid, name, email in session.execute(sa.select(u.c.id, u.c.name, u.c.email).where(u.c.id.in_(wanted))).all()
    }

"""Rule versions, preview of a draft against existing leads, and rescoring every lead in batches."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from core.ingest import ingest
from core.models import Contact, LeadScore, StageChange
from core.qualification import active_ruleset, list_rulesets, preview_ruleset, rescore_all, save_ruleset
from core.schemas import InboundRecord
from core.scoring import DEFAULT_RULESET


def _lead(session, n: int, *, email: str, text: str = "hello", title: str = "") -> int:  # noqa: ANN001
    record = InboundRecord.model_validate({
        "channel": "gmail", "contact": {"name": f"P{n}", "email": email, "title": title},
        "message": {"external_id": f"m{n}", "text": text, "sent_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat()},
    })
    return ingest(session, record).contact_id


def _seed(session) -> list[int]:  # noqa: ANN001
    ids = [
        _lead(session, 1, email="a@budmax.pl", title="CEO"),
        _lead(session, 2, email="b@gmail.com"),
        _lead(session, 3, email="c@rival.pl", title="Kierownik"),
        _lead(session, 4, email="d@firma.pl", text="prosze o wycene"),
    ]
    session.commit()
    return ids


def _draft(**changes) -> dict:  # noqa: ANN003
    document = copy.deepcopy(DEFAULT_RULESET)
    document.update(changes)
    return document


def test_versions_and_rescoring_all_leads(app, session, engine):
    ids = _seed(session)
    before = {c.id: (c.score, c.stage) for c in session.exec(select(Contact)).all()}
    draft = _draft(thresholds={"mql": 5, "sql": 25},
                   non_target=[{"id": "rival", "type": "email_domain", "kind": "domain", "domains": ["rival.pl"],
                                "reason": "competitor"}])
    preview = preview_ruleset(session, draft)
    assert preview["leads"] == 4
    # Nothing is written by a preview.
    assert {c.id: (c.score, c.stage) for c in session.exec(select(Contact)).all()} == before
    v1 = save_ruleset(session, draft, actor="admin@x")
    session.commit()
    assert (v1.version, active_ruleset(session).version) == (1, 1)
    progress: list = []
    stats = rescore_all(engine, batch_size=2, progress=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (4, 4) and len(progress) == 2
    assert stats.scanned == 4
    session.rollback()  # a fresh snapshot: the rescoring committed in its own sessions
    after = {c.id: c for c in session.exec(select(Contact)).all()}
    assert after[ids[2]].stage == "non_target"
    history = session.exec(select(StageChange).where(StageChange.contact_id == ids[2])).all()
    assert [(h.to_stage, h.reason, h.actor) for h in history] == [("non_target", "competitor", "scoring:v1")]
    # What the preview said is what the rescoring did.
    assert preview["stages_after"] == {s: sum(1 for c in after.values() if c.stage == s)
                                       for s in {c.stage for c in after.values()}}
    scored = session.get(LeadScore, ids[0])
    assert scored.ruleset_version == 1 and {e["rule"] for e in scored.explanation} >= {"executive", "corporate-email"}
    v2 = save_ruleset(session, _draft(), actor="admin@x")
    session.commit()
    assert [r.version for r in list_rulesets(session)] == [2, 1] and v2.active
    assert [r.active for r in list_rulesets(session)] == [True, False]


def test_rescoring_twice_changes_nothing_the_second_time(app, session, engine):
    _seed(session)
    rescore_all(engine)
    second = rescore_all(engine)
    assert second.scanned == 4 and second.stage_changes == 0 and second.temperature_changes == 0


def test_preview_counts_moves(app, session):
    _seed(session)
    # At ingest the CEO with a company address scored 33 (MQL); the three others stayed new.
    assert [c.stage for c in session.exec(select(Contact).order_by(Contact.id)).all()] == ["mql", "new", "new", "new"]
    preview = preview_ruleset(session, _draft(thresholds={"mql": -100, "sql": 1000}))
    assert preview["stage_moves"] == {"new→mql": 3} and preview["stage_changes"] == 3
    assert sum(b["leads"] for b in preview["score_histogram"]) == 4


def test_preview_can_look_at_the_newest_leads_only(app, session):
    ids = _seed(session)
    preview = preview_ruleset(session, _draft(thresholds={"mql": -100, "sql": 1000}), max_leads=2)
    assert preview["sampled"] is True and preview["leads"] == 2
    # The two newest leads (ids[2], ids[3]) were at new: both would move.
    assert preview["stage_moves"] == {"new→mql": 2} and max(ids) == ids[3]


@pytest.mark.parametrize("read_locked", [True, False], ids=["one-process", "worker-process"])
def test_a_stage_set_while_a_rescoring_runs_is_kept(app, session, engine, database_url, monkeypatch, read_locked):
    """A rep marks a lead customer after the rescoring read its batch: the rescoring completes (SQLite: no
    "database is locked"), the rep's stage stands, and no scoring stage change is recorded over it. A worker
    process of a parallel rescoring reads without the write lock, so there the rep's write lands in between."""
    import threading

    from core import qualification
    from core.db import make_engine
    from core.qualification import set_stage

    ids = _seed(session)
    target = ids[0]  # CEO at a company domain: the new rules move it to SQL
    save_ruleset(session, _draft(thresholds={"mql": 5, "sql": 10}), actor="admin@x")
    session.commit()
    rep_engine = make_engine(database_url, sqlite_immediate=True)
    done = threading.Event()
    errors: list[BaseException] = []

    def rep_marks_customer() -> None:
        try:
            with Session(rep_engine) as rep:
                set_stage(rep, target, stage="customer", actor="rep@x")
                rep.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            done.set()

    real_load = qualification.load_features

    def load_then_rep_writes(s, lo, hi):  # noqa: ANN001, ANN202
        batch = real_load(s, lo, hi)
        if any(f.contact_id == target for f, _ in batch):
            threading.Thread(target=rep_marks_customer).start()
            done.wait(timeout=1.0)  # PostgreSQL: the rep commits now; SQLite: the rep waits for this batch's lock
        return batch

    monkeypatch.setattr(qualification, "load_features", load_then_rep_writes)
    if read_locked:
        stats = rescore_all(engine)
    else:
        stats = qualification.RescoreStats()
        with Session(engine) as s:
            active = active_ruleset(s, cached=False)
        qualification._rescore_range(engine, min(ids), max(ids), active, time.time(), stats, read_locked=False)
    assert done.wait(timeout=30) and not errors, errors
    rep_engine.dispose()
    session.rollback()
    assert session.get(Contact, target).stage == "customer"
    history = session.exec(select(StageChange).where(StageChange.contact_id == target).order_by(StageChange.id)).all()
    assert history[-1].actor == "rep@x" and history[-1].to_stage == "customer"
    assert all(h.created_at <= history[-1].created_at for h in history)
    assert stats.scanned == 4


def test_rescoring_in_worker_processes_does_what_one_process_does(app, session, engine):
    """Batches shared out among spawned processes: the same stages, scores and explanations as one process,
    every stage change recorded once, and the stage.changed webhook rows made in the workers come back."""
    from core.models import WebhookDelivery, WebhookEndpoint

    ids = _seed(session) + [_lead(session, 10 + n, email=f"x{n}@firma{n}.pl", title="CEO") for n in range(6)]
    session.add(WebhookEndpoint(url="https://hooks.example/in", events=["stage.changed"], secret_encrypted="x",
                                created_by="admin@x"))
    draft = _draft(thresholds={"mql": 5, "sql": 25},
                   non_target=[{"id": "rival", "type": "email_domain", "kind": "domain", "domains": ["rival.pl"],
                                "reason": "competitor"}])
    save_ruleset(session, draft, actor="admin@x")
    session.commit()
    expected = preview_ruleset(session, draft)
    stats = rescore_all(engine, batch_size=2, processes=2)
    session.rollback()
    after = session.exec(select(Contact).where(Contact.id.in_(ids))).all()
    assert stats.processes == 2 and stats.scanned == len(ids) == expected["leads"]
    assert expected["stages_after"] == {s: sum(1 for c in after if c.stage == s) for s in {c.stage for c in after}}
    changes = session.exec(select(StageChange).where(StageChange.actor == "scoring:v1")).all()
    assert len(changes) == stats.stage_changes > 0
    assert len({c.contact_id for c in changes}) == len(changes)  # once each
    deliveries = session.exec(select(WebhookDelivery).where(WebhookDelivery.event == "stage.changed")).all()
    assert sorted(d.id for d in deliveries) == sorted(stats.pending_deliveries) and len(deliveries) == len(changes)
    scores = {s.contact_id: s for s in session.exec(select(LeadScore)).all()}
    assert all(scores[c.id].ruleset_version == 1 and scores[c.id].explanation for c in after)
    # A second run, in one process now, finds nothing left to change.
    again = rescore_all(engine)
    assert again.stage_changes == 0 and again.temperature_changes == 0


def test_rescoring_inside_a_daemonic_worker_stays_in_its_process(app, session, engine, monkeypatch):
    """`leadhub worker --worker-type process` runs tasks in daemonic processes, which may not start children:
    the rescoring then runs in that process instead of failing."""
    import multiprocessing

    class Daemonic:
        daemon = True

    _seed(session)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemonic())
    stats = rescore_all(engine, batch_size=1, processes=2)
    assert stats.processes == 1 and stats.scanned == 4


def test_scattered_leads_are_scored_from_an_id_list_as_from_their_range(app, session, monkeypatch):
    """Known people writing again are scattered over the store: rescore_contacts loads them by id list.
    Their features must be exactly what a range read gives, and only they are rescored."""
    from core import qualification
    from core.models import Message

    ids = [_lead(session, n, email=f"p{n}@firma{n % 3}.pl", title=("CEO" if n % 4 == 0 else ""),
                 text=("prosze o wycene, budzet 10k" if n % 2 else "hello")) for n in range(1, 41)]
    # A few outbound replies, so first-response and reply counts are in play.
    for n, cid in enumerate(ids[::5]):
        conversation_id = session.exec(select(Message.conversation_id).where(Message.contact_id == cid)).first()
        session.add(Message(channel="gmail", external_id=f"out{n}", conversation_id=conversation_id, contact_id=cid,
                            direction="out", sent_at=datetime(2026, 1, 2, tzinfo=UTC), text="we will call"))
    session.commit()
    by_range = {f.contact_id: (f, st) for f, st in qualification.load_features(session, ids[0], ids[-1])}
    scattered = ids[::7]
    by_list = {f.contact_id: (f, st) for f, st in
               qualification.load_features(session, scattered[0], scattered[-1], ids=scattered)}
    assert set(by_list) == set(scattered)
    assert all(by_list[cid] == by_range[cid] for cid in scattered)

    monkeypatch.setattr(qualification, "RUN_GAP", 1)  # every id its own sparse run: the list path
    loads: list = []
    real = qualification.load_features
    monkeypatch.setattr(qualification, "load_features",
                        lambda s, lo, hi, ids=None: loads.append(ids) or real(s, lo, hi, ids=ids))
    session.exec(sa.update(Contact).values(score=0))
    session.commit()
    qualification.rescore_contacts(session, scattered)
    session.commit()
    assert loads == [scattered]  # one read for all of them, not one per lead
    scores = dict(session.exec(select(Contact.id, Contact.score)).all())
    assert all(scores[cid] > 0 for cid in scattered if by_range[cid][0].title == "CEO")
    assert all(scores[cid] == 0 for cid in ids if cid not in scattered)


def test_score_writes_name_only_what_changed_and_keep_their_guard(app, session):
    """core.qualification writes a lead's score, temperature and stage only where the row is still as it read
    it; on SQLite each row's statement names only the columns that changed. Every shape of change, and a row
    another writer changed meanwhile (left as that writer left it)."""
    from core.qualification import _update_contact_scores

    ids = _seed(session)
    rows = {c.id: (c.score, c.temperature, c.stage) for c in session.exec(select(Contact)).all()}
    wanted = {  # id: (score, temperature, stage) to write
        ids[0]: (rows[ids[0]][0] + 7, rows[ids[0]][1], rows[ids[0]][2]),  # the score only
        ids[1]: (rows[ids[1]][0], "hot", "sql"),  # temperature and stage
        ids[2]: (rows[ids[2]][0] + 1, "warm", "mql"),  # all three
        ids[3]: (99, "hot", "customer"),  # changed meanwhile: not written
    }
    session.exec(sa.update(Contact).where(Contact.id == ids[3]).values(stage="non_target"))
    updates = [(*wanted[cid], cid, rows[cid][2], rows[cid][0], rows[cid][1]) for cid in ids]
    written = _update_contact_scores(session.connection(), updates)
    session.commit()
    now = {c.id: (c.score, c.temperature, c.stage) for c in session.exec(select(Contact)).all()}
    assert written == 3
    assert {cid: now[cid] for cid in ids[:3]} == {cid: wanted[cid] for cid in ids[:3]}
    assert now[ids[3]] == (rows[ids[3]][0], rows[ids[3]][1], "non_target")


@pytest.mark.parametrize("by_list", [False, True], ids=["range", "id-list"])
def test_leads_we_wrote_to_first_leave_the_others_features_alone(app, session, by_list):
    """A lead we wrote to before they wrote to us needs a second look for its first response; that look must
    not change which leads the rest of the read covers (their e-mails, for the corporate-domain rule)."""
    from core import qualification
    from core.models import Message

    ids = [_lead(session, n, email=f"p{n}@firma{n}.pl") for n in range(1, 9)]
    for n, cid in enumerate(ids[:2]):  # we wrote first to these two, they answered, we answered again
        conversation_id = session.exec(select(Message.conversation_id).where(Message.contact_id == cid)).first()
        for day, external_id in ((1, f"first{n}"), (3, f"again{n}")):
            session.add(Message(channel="gmail", external_id=external_id, conversation_id=conversation_id,
                                contact_id=cid, direction="out", sent_at=datetime(2025, 12, 30 + day - 1, tzinfo=UTC)
                                if day == 1 else datetime(2026, 1, day, tzinfo=UTC), text="hello from us"))
    session.commit()
    together = qualification.load_features(session, ids[0], ids[-1], ids=ids if by_list else None)
    alone = {cid: qualification.load_features(session, cid, cid)[0] for cid in ids}
    assert {f.contact_id: (f, st) for f, st in together} == alone
    assert all(f.emails == [f"p{n}@firma{n}.pl"] for n, (f, _) in enumerate(together, start=1))
    assert all(st.computed_first_response_ts is not None for f, st in together if f.contact_id in ids[:2])

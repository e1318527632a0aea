"""The batched ingest must leave exactly the store that one-by-one ingest leaves."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from core.batch import ingest_many
from core.db import make_engine
from core.ingest import IngestError, ingest
from core.models import Contact, DuplicateSuggestion, Identity, Message
from core.schemas import InboundRecord

NAMES = ["Łukasz Wójcik", "Lukasz Wojcik", "Wójcik Łukasz", "Anna Nowak", "Алексей Иванов", "Aleksey Ivanov",
         "Jan Kowalski", "Jan Kowalsky", "Ewa Lis", "", "Tomasz Zieliński"]
EMAILS = ["lukasz@budmax.pl", "l.wojcik@budmax.pl", "anna@firma.pl", "biuro@firma.pl", "a.ivanov@tehnoprom.ru",
          "jan.k@gmail.com", "j.a.n.k+x@googlemail.com", "ewa@lis.pl", "not-an-email", None]
PHONES = ["601 234 567", "+48601234567", "+7 495 123 45 67", "500100200", None, None]
LINKEDIN = ["linkedin.com/in/lukaszw", "https://pl.linkedin.com/in/LukaszW/", "linkedin.com/in/annanowak", None, None, None]
COMPANIES = ["Budmax", "Budmax sp. z o.o.", "Firma", "Технопром", "", ""]
CHANNELS = ["gmail", "form", "intercom", "linkedin", "api"]


def random_records(seed: int, n: int) -> list[InboundRecord]:
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        contact = {"name": rng.choice(NAMES), "email": rng.choice(EMAILS), "phone": rng.choice(PHONES),
                   "linkedin_url": rng.choice(LINKEDIN), "company": rng.choice(COMPANIES)}
        if rng.random() < 0.2:
            contact["external_user_id"] = f"user-{rng.randint(1, 4)}"
        contact = {k: v for k, v in contact.items() if v}
        data = {"channel": rng.choice(CHANNELS), "contact": contact}
        if rng.random() < 0.8:
            data["message"] = {"external_id": f"m{rng.randint(1, n)}", "thread_id": f"t{rng.randint(1, 5)}",
                               "text": "hello", "sent_at": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z"}
        records.append(InboundRecord.model_validate(data))
    return records


def ingest_all(session: Session, records: list[InboundRecord], mode: str, size: int = 17) -> list[str]:
    """Ingest one by one ("single") or in batches of `size` ("batch"), committing each; the statuses in order."""
    statuses: list[str] = []
    if mode == "single":
        for record in records:
            try:
                statuses.append(ingest(session, record).status)
            except IngestError:
                statuses.append("error")
            session.commit()
        return statuses
    for start in range(0, len(records), size):
        results = ingest_many(session, records[start : start + size])
        statuses += ["error" if isinstance(r, IngestError) else r.status for r in results]
        session.commit()
    return statuses


def snapshot(session: Session) -> dict:
    """The store in a form independent of row ids. Also checks that SQLite's search index (FTS5 over names,
    companies and messages, kept by triggers) holds exactly what the tables hold: it raises otherwise."""
    for table in ("search_contacts", "search_messages"):
        session.connection().exec_driver_sql(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
    contacts = {c.id: c for c in session.exec(select(Contact)).all()}
    identities = session.exec(select(Identity)).all()
    def label(cid: int) -> str:
        owned = sorted(f"{i.kind}:{i.value}" for i in identities if i.contact_id == cid)
        messages = sorted(m.external_id for m in session.exec(select(Message).where(Message.contact_id == cid)))
        return "|".join(owned) + "#" + ",".join(messages) + "#" + str(cid)
    people = {}
    for cid, contact in contacts.items():
        people[label(cid)] = (contact.display_name, sorted(contact.aliases), contact.company,
                              contact.merged_into is not None, contact.last_message_at)
    suggestions = sorted((s.contact_a_id, s.contact_b_id, s.status, s.score) for s in session.exec(select(DuplicateSuggestion)))
    return {"people": people, "suggestions": suggestions, "weak": sorted(i.value for i in identities if i.is_weak)}


def both_ways(template: Path, tmp_path: Path, records: list[InboundRecord], size: int = 17) -> list[tuple]:
    """(statuses, snapshot) of ingesting the records one by one, then in batches of `size`, each into a fresh store."""
    stores = []
    for mode in ("single", "batch"):
        path = tmp_path / f"{mode}.db"
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            statuses = ingest_all(session, records, mode, size=size)
            stores.append((statuses, snapshot(session)))
        engine.dispose()
    return stores


@pytest.mark.parametrize("seed", range(6))
def test_batch_equals_one_by_one(sqlite_template: Path, tmp_path: Path, seed: int) -> None:
    (single_statuses, single_store), (batch_statuses, batch_store) = both_ways(
        sqlite_template, tmp_path, random_records(seed, 60))
    assert batch_statuses == single_statuses
    assert batch_store == single_store


@pytest.mark.parametrize("seed", range(3))
def test_big_batches_with_stretches_of_full_path_records_equal_one_by_one(sqlite_template: Path, tmp_path: Path,
                                                                          seed: int, caplog: pytest.LogCaptureFixture) -> None:
    """After a record that takes the full path a batch reads ahead only a window, which grows while records
    stay simple: dense and sparse stretches of such records in batches of 150 must leave the same store."""
    rng = random.Random(seed)
    records: list[InboundRecord] = []
    for stretch in range(8):
        if stretch % 2:
            records += random_records(seed * 10 + stretch, 12)  # shared names and addresses: merges, suggestions
        else:  # simple records, a third of them someone from earlier in the stretch writing again
            for n in range(rng.randint(40, 100)):
                person = rng.randrange(n) if n and rng.random() < 0.33 else n
                records.append(InboundRecord.model_validate({
                    "channel": rng.choice(CHANNELS),
                    "contact": {"name": f"Osoba {stretch}-{person}", "email": f"o{stretch}-{person}@firma{person}.pl"},
                    "message": {"external_id": f"s{stretch}-{n}", "thread_id": f"t{stretch}-{person}",
                                "text": "dzień dobry", "sent_at": f"2026-05-{n % 28 + 1:02d}T09:00:00Z"}}))
    with caplog.at_level("INFO", logger="core.batch"):
        (single_statuses, single_store), (batch_statuses, batch_store) = both_ways(
            sqlite_template, tmp_path, records, size=150)
    # Right the first time: a batch that collided with itself would be run again (and one by one at last).
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    assert batch_statuses == single_statuses
    assert batch_store == single_store


def scoring_snapshot(session: Session) -> dict:
    """Per person (by identities and messages): what qualification made of them."""
    from core.models import LeadQualification, LeadScore

    snap = snapshot(session)
    identities = session.exec(select(Identity)).all()
    out = {}
    for contact in session.exec(select(Contact).where(Contact.merged_into.is_(None))).all():
        owned = sorted(f"{i.kind}:{i.value}" for i in identities if i.contact_id == contact.id)
        messages = sorted(m.external_id for m in session.exec(select(Message).where(Message.contact_id == contact.id)))
        lq = session.get(LeadQualification, contact.id)
        score = session.get(LeadScore, contact.id)
        out["|".join(owned) + "#" + ",".join(messages)] = (
            contact.stage, contact.temperature, contact.score, contact.owner_id,
            (lq.source_channel, sorted(lq.form_types), lq.intent_hits, lq.language, lq.country) if lq else None,
            # Which of a person's corporate addresses an explanation names follows identity ids, which the
            # two paths hand out in different orders when they merge: compare that rule by its points.
            [{**e, "why": ""} if e.get("type") == "email_domain" else e for e in score.explanation] if score else None,
        )
    return {"people": snap["people"], "scores": out}


@pytest.mark.parametrize("seed", range(3))
def test_batch_scores_its_leads_like_one_by_one(sqlite_template: Path, tmp_path: Path, seed: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched path defers scoring to the end of each batch; the leads must end up scored the same."""
    from core import hooks, qualification
    from core.models import RoutingRule
    from core.users import create_user

    monkeypatch.setattr(hooks, "post_ingest_hooks", [qualification.on_ingest])
    monkeypatch.setattr(hooks, "event_listeners", [qualification.on_event])
    monkeypatch.setattr(hooks, "batch_finishers", [qualification.finish_batch])
    rng = random.Random(seed)
    records = random_records(seed, 60)
    # and people seen once each, so that the batches create many leads at once (the shared names and addresses
    # above mostly merge, which the batch hands to the one-by-one path)
    for n in range(40):
        records.insert(rng.randrange(len(records) + 1), InboundRecord.model_validate({
            "channel": rng.choice(CHANNELS), "contact": {"name": f"Osoba {n}", "email": f"osoba{n}@firma{n}.pl"},
            "message": {"external_id": f"new-{n}", "thread_id": f"new-{n}", "text": "dzień dobry",
                        "sent_at": f"2026-05-{n % 28 + 1:02d}T09:00:00Z"}}))
    for record in records:  # words the default rules score (intent, a form type)
        if record.message is not None and rng.random() < 0.5:
            record.message.text = "Prosimy o wycenę, budżet 20 000 zł, decyzja w tym miesiącu"
            record.message.meta = {"form_type": rng.choice(["quote", "demo", "newsletter"])}
    stores = []
    for mode in ("single", "batch"):
        path = tmp_path / f"{mode}.db"
        shutil.copyfile(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            # Routing hands out round-robin turns: both paths must give the same leads to the same reps.
            reps = [create_user(session, email=f"rep{n}@leadhub.example") for n in range(3)]
            session.add(RoutingRule(name="intercom", match={"channel": "intercom"}, assignee_ids=[reps[0].id]))
            session.add(RoutingRule(name="all", position=1, assignee_ids=[reps[1].id, reps[2].id]))
            session.commit()
            ingest_all(session, records, mode)
            stores.append(scoring_snapshot(session))
            # and no score is stale: scoring everyone again changes nothing (a message filed in another
            # lead's thread, a merge, must have rescored the lead that got it)
            qualification.rescore_contacts(session, list(session.exec(select(Contact.id)).all()))
            session.commit()
            assert scoring_snapshot(session) == stores[-1], mode
        engine.dispose()
    single, batch = stores
    assert any(s[2] for s in single["scores"].values())  # the rules scored someone: the comparison means something
    assert len({s[3] for s in single["scores"].values()}) == 3  # and routing gave leads to each rep
    assert batch == single


@pytest.mark.parametrize("failing", ["post_ingest_hook", "batch_finisher"])
def test_a_failing_hook_loses_no_record_of_a_batch(sqlite_template: Path, tmp_path: Path, failing: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Hooks run without a savepoint per record inside a batch: one that raises must still leave every record
    stored (and the batch's other work intact)."""
    from core import hooks

    def boom(*_args: object) -> None:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(hooks, "post_ingest_hooks", [boom] if failing == "post_ingest_hook"
                        else [lambda s, r, res: hooks.defer(s, "ingested", res.contact_id)])
    monkeypatch.setattr(hooks, "event_listeners", [])
    monkeypatch.setattr(hooks, "batch_finishers", [boom] if failing == "batch_finisher"
                        else [lambda s, work: None])
    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)
    records = [InboundRecord.model_validate({
        "channel": "form", "contact": {"name": f"Osoba {n}", "email": f"osoba{n}@firma{n}.pl"},
        "message": {"external_id": f"f-{n}", "text": "dzień dobry", "sent_at": "2026-05-01T09:00:00Z"}})
        for n in range(30)]
    with Session(make_engine(f"sqlite:///{db}")) as session:
        results = ingest_many(session, records)
        session.commit()
        assert [getattr(r, "status", r) for r in results] == ["created"] * 30
        assert len(session.exec(select(Message)).all()) == 30
        assert len(session.exec(select(Contact)).all()) == 30


def test_bulk_gc_restores_the_collector_after_nested_runs() -> None:
    """Where nobody froze the heap, a bulk run freezes it and collects only at its checkpoints; afterwards the
    collector is as it was."""
    import gc

    from core.batch import BULK_GC_CHECKPOINT_OBJECTS, bulk_gc, bulk_gc_checkpoint

    before, enabled = gc.get_threshold(), gc.isenabled()
    with bulk_gc():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        with bulk_gc():
            pass
        assert not gc.isenabled()  # the inner run leaves the outer one's setting
        frozen = gc.get_freeze_count()
        survivors = [[n] for n in range(3000)]  # young objects that live on
        garbage = [[]]
        garbage[0].append(garbage)  # a cycle nothing points to
        del garbage
        bulk_gc_checkpoint()  # too few objects about to be worth a pass
        assert gc.get_count()[0] > 2000 and gc.get_freeze_count() == frozen
        more = [[n] for n in range(BULK_GC_CHECKPOINT_OBJECTS)]
        bulk_gc_checkpoint()
        assert gc.get_count()[0] < 1000  # the cycle was collected, the survivors frozen
        assert gc.get_freeze_count() >= frozen + 3000 + BULK_GC_CHECKPOINT_OBJECTS
        del survivors, more
    assert (gc.get_threshold(), gc.isenabled()) == (before, enabled)
    assert gc.get_freeze_count() == 0


def test_bulk_gc_keeps_a_serving_process_heap_frozen() -> None:
    """A sync inside `leadhub serve` or `leadhub worker` must not unfreeze the startup heap those froze, nor
    stop or force collections there."""
    import gc

    from core.batch import BULK_GC_THRESHOLD, bulk_gc, bulk_gc_checkpoint

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with bulk_gc():
            assert gc.isenabled() and gc.get_threshold()[0] == BULK_GC_THRESHOLD
            young = [[n] for n in range(1000)]
            bulk_gc_checkpoint()
            assert gc.get_freeze_count() < frozen + 1000  # nothing of the request threads' frozen here
            del young
        assert gc.get_freeze_count() > frozen // 2  # (frozen objects may still die by reference count)
    finally:
        gc.unfreeze()


def test_new_contacts_of_a_batch_get_their_own_ids(sqlite_template: Path, tmp_path: Path) -> None:
    """New contacts are inserted in one statement with ids handed out by the batch (SQLite): each record's
    result must name its own contact, also after the newest contact was erased (its id is free again)."""
    from core.contacts import erase_contact

    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)

    def record(n: int) -> InboundRecord:
        return InboundRecord.model_validate({
            "channel": "api", "contact": {"name": f"Osoba {n}", "email": f"osoba{n}@firma{n}.pl"},
            "message": {"external_id": f"m-{n}", "text": "dzień dobry", "sent_at": "2026-05-01T09:00:00Z"}})

    with Session(make_engine(f"sqlite:///{db}")) as session:
        first = ingest_many(session, [record(n) for n in range(20)])
        session.commit()
        erase_contact(session, first[-1].contact_id)
        session.commit()
        second = ingest_many(session, [record(n) for n in range(100, 130)])
        session.commit()
        for n, result in [*zip(range(19), first[:19], strict=True), *zip(range(100, 130), second, strict=True)]:
            contact = session.get(Contact, result.contact_id)
            assert contact is not None and contact.display_name == f"Osoba {n}"
            message = session.get(Message, result.message_id)
            assert message is not None and message.contact_id == contact.id
        assert len({r.contact_id for r in second}) == 30


def test_suggestions_on_file_finds_exactly_the_pairs_asked_for(sqlite_template: Path, tmp_path: Path) -> None:
    from core.identity import suggestions_on_file

    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)
    with Session(make_engine(f"sqlite:///{db}")) as session:
        ids = [ingest(session, InboundRecord.model_validate(
            {"channel": "api", "contact": {"name": f"Osoba {n}", "email": f"o{n}@firma{n}.pl"}})).contact_id
            for n in range(5)]
        a, b, c, d, e = ids
        for pair in [(a, b), (a, c), (b, c), (c, d)]:
            session.add(DuplicateSuggestion(contact_a_id=pair[0], contact_b_id=pair[1], score=0.9, reasons=["x"]))
        session.commit()
        found = suggestions_on_file(session, {(a, b), (b, c), (a, e), (d, e)})
        assert set(found) == {(a, b), (b, c)}
        rows = {(s.contact_a_id, s.contact_b_id): s.id for s in session.exec(select(DuplicateSuggestion))}
        assert all(rows[pair] == row[0] for pair, row in found.items())


def test_a_batch_writes_the_fields_it_changed_and_keeps_the_others(sqlite_template: Path, tmp_path: Path) -> None:
    """Known people written again by a batch: a name and a company filled in, an owner given, only a new message.
    Each is written with what changed for it (SQLite: a statement per shape of change), nothing else is touched,
    and the search index follows the names."""
    from core.models import User

    db = tmp_path / "store.db"
    shutil.copy(sqlite_template, db)

    def record(email: str, n: int, **contact: str | int) -> InboundRecord:
        owner = contact.pop("owner_id", None)
        return InboundRecord.model_validate({
            "channel": "api", "owner_id": owner, "contact": {"email": email, **contact},
            "message": {"external_id": f"m-{n}", "text": "dzień dobry", "sent_at": f"2026-05-0{n}T09:00:00Z"}})

    with Session(make_engine(f"sqlite:///{db}")) as session:
        rep = User(email="rep@firma.pl", role="rep")
        session.add(rep)
        session.flush()
        first = ingest_many(session, [record("a@firma.pl", 1), record("b@firma.pl", 2, name="Ewa Lis", company="Lis"),
                                      record("c@firma.pl", 3, name="Jan Nowak")])
        session.commit()
        a, b, c = (r.contact_id for r in first)
        ingest_many(session, [record("a@firma.pl", 4, name="Łukasz Wójcik", company="Budmax"),
                              record("b@firma.pl", 5), record("c@firma.pl", 6, owner_id=rep.id)])
        session.commit()
        session.expire_all()
        rows = {cid: session.get(Contact, cid) for cid in (a, b, c)}
        assert [(x.display_name, x.company, x.owner_id) for x in rows.values()] == [
            ("Łukasz Wójcik", "Budmax", None), ("Ewa Lis", "Lis", None), ("Jan Nowak", "", rep.id)]
        assert [x.last_message_at.day for x in rows.values()] == [4, 5, 6]
        snapshot(session)  # the search index's integrity check
        found = session.connection().exec_driver_sql(
            "SELECT rowid FROM search_contacts WHERE search_contacts MATCH 'wojcik budmax'").scalars().all()
        assert found == [a]


def test_provider_values_json_and_ids_cannot_hold_as_they_are(session: Session) -> None:
    """Found by the Intercom schema tests: an attachment's filesize beyond 64 bits made the batch's JSON encoder
    (orjson) raise, which stopped the sync; an id with a NUL character was stored without it on PostgreSQL and
    with it on SQLite, so the id the connector knew was not the one stored."""
    record = InboundRecord.model_validate({
        "channel": "intercom", "contact": {"external_user_id": "u1", "name": "Anna"},
        "message": {"external_id": "c1:p\x001", "thread_id": "c\x001", "text": "RFP attached",
                    "meta": {"attachments": [{"filename": "rfp.pdf", "size": -(2**99)}]}}})
    results = ingest_many(session, [record])
    session.commit()
    assert not [r for r in results if isinstance(r, IngestError)], results
    message = session.exec(select(Message)).one()
    assert (message.external_id, record.message.external_id) == ("c1:p1", "c1:p1")
    assert message.meta["attachments"][0]["size"] == -(2**99)
    again = ingest_many(session, [record])
    assert again[0].status == "known"


def test_a_company_learnt_later_searches_again_as_one_by_one_does(sqlite_template: Path, tmp_path: Path) -> None:
    """"Lukasz Wojcik" is a common name here, so a namesake is suggested only with company evidence. When a later
    record tells the company of the one written without it, the one-by-one path searches again and suggests the
    namesake at that company; the batch path did not (only new identities or names made it search again)."""
    people = [("Lukasz Wojcik", f"lw@{firm.lower()}.pl", firm) for firm in ("Hurtex", "Agrofarm", "Solartech")]
    people.append(("Lukasz Wojcik", "lukasz.wojcik@budmax.pl", "Budmax"))
    records = [InboundRecord.model_validate({"channel": "api", "contact": {"name": name, "email": email, "company": company}})
               for name, email, company in people]
    records.append(InboundRecord.model_validate({"channel": "gmail", "contact": {"name": "Łukasz Wójcik",
                                                                                "email": "lukasz.w@gmail.com"}}))
    records.append(InboundRecord.model_validate({"channel": "form", "contact": {"email": "lukasz.w@gmail.com",
                                                                               "company": "Budmax sp. z o.o."}}))
    (single_statuses, single_store), (batch_statuses, batch_store) = both_ways(sqlite_template, tmp_path, records, size=5)
    assert len(single_store["suggestions"]) == 1
    assert batch_store == single_store

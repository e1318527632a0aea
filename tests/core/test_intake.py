"""The intake queue: an accepted record is always either waiting or stored, never lost, never stored twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from core.ingest import IngestError, IngestOptions, ingest
from core.intake import accept, file_pending, pending_counts
from core.models import Contact, Conversation, MergeEvent, Message, PendingInbound
from core.schemas import InboundRecord


def form_record(n: int, *, email: str | None = None, owner_id: int | None = None) -> InboundRecord:
    return InboundRecord.model_validate({
        "channel": "form", "external_id": f"form:k:{n}",
        "contact": {"name": f"Łukasz Wójcik {n}", "email": email or f"lukasz{n}@budmax.pl", "phone": "+48 601 234 567"},
        "message": {"external_id": f"form:k:{n}", "thread_id": f"form:k:{n}", "text": f"Wycena {n}",
                    "meta": {"form": {"id": 1}, "utm": {"utm_source": "ads"}}},
    }).model_copy(update={"scope": "form:1", "owner_id": owner_id})


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_accept_queues_once_and_says_known_on_a_retry(session: Session) -> None:
    assert accept(session, form_record(1), actor="form:k") == "created"
    assert accept(session, form_record(1), actor="form:k") == "known"  # still waiting
    session.commit()
    assert count(session, PendingInbound) == 1
    assert count(session, Message) == 0
    assert pending_counts(session) == {"form": 1}

    filed, failed = file_pending(session)
    session.commit()
    assert (len(filed), failed) == (1, 0)
    assert filed[0].result.status == "created"
    assert count(session, PendingInbound) == 0
    # Already stored: a retry is acknowledged as known and not queued again.
    assert accept(session, form_record(1), actor="form:k") == "known"
    session.commit()
    assert count(session, PendingInbound) == 0
    assert count(session, Message) == 1


def test_filing_keeps_what_the_public_dump_leaves_out(session: Session) -> None:
    """owner and thread scope are not part of the public JSON shape but must survive the queue."""
    from core.users import create_user

    owner = create_user(session, email="owner@x.example", role="rep")
    session.commit()
    accept(session, form_record(2, owner_id=owner.id))
    session.commit()
    filed, _ = file_pending(session)
    session.commit()
    message = session.get(Message, filed[0].result.message_id)
    assert session.get(Contact, message.contact_id).owner_id == owner.id
    assert session.get(Conversation, message.conversation_id).scope == "form:1"
    assert message.meta["utm"] == {"utm_source": "ads"}
    assert message.text == "Wycena 2"


def test_a_crash_before_commit_leaves_the_records_waiting_and_a_rerun_stores_each_once(session: Session) -> None:
    for n in range(5):
        accept(session, form_record(n))
    session.commit()
    filed, _ = file_pending(session)
    assert len(filed) == 5
    session.rollback()  # the worker died before its commit
    assert count(session, PendingInbound) == 5
    assert count(session, Message) == 0

    filed, _ = file_pending(session)
    session.commit()
    assert len(filed) == 5
    assert count(session, Message) == 5
    assert count(session, PendingInbound) == 0


def test_a_record_stored_meanwhile_by_another_path_is_filed_as_known(session: Session) -> None:
    """Waiting, then the same message arrives through ingest directly (a retry that raced the worker)."""
    accept(session, form_record(7))
    session.commit()
    ingest(session, form_record(7))
    session.commit()
    filed, _ = file_pending(session)
    session.commit()
    assert [f.result.status for f in filed] == ["known"]
    assert count(session, Message) == 1
    assert count(session, PendingInbound) == 0


def test_filed_records_resolve_identity_like_any_other(session: Session) -> None:
    """The same person through the queue and through Gmail is one lead (diacritics, case of the address)."""
    gmail = InboundRecord.model_validate({
        "channel": "gmail", "contact": {"name": "Lukasz Wojcik", "email": "lw@budmax.pl"},
        "message": {"external_id": "g1", "thread_id": "t1", "text": "hello"},
    })
    first = ingest(session, gmail)
    session.commit()
    record = InboundRecord.model_validate({
        "channel": "form", "contact": {"name": "Łukasz Wójcik", "email": "LW@budmax.pl", "phone": "601 234 567"},
        "message": {"external_id": "form:k:x", "thread_id": "form:k:x", "text": "form"},
    })
    accept(session, record, actor="form:k")
    session.commit()
    filed, _ = file_pending(session)
    session.commit()
    assert filed[0].result.contact_id == first.contact_id


def test_the_actor_of_each_record_is_kept_in_the_merge_log(session: Session) -> None:
    a = ingest(session, InboundRecord.model_validate(
        {"channel": "gmail", "contact": {"email": "a@budmax.pl"}, "message": {"external_id": "g1", "text": "x"}}))
    b = ingest(session, InboundRecord.model_validate(
        {"channel": "gmail", "contact": {"phone": "+48 500 100 200"}, "message": {"external_id": "g2", "text": "y"}}))
    session.commit()
    assert a.contact_id != b.contact_id
    linking = InboundRecord.model_validate({
        "channel": "form", "contact": {"email": "a@budmax.pl", "phone": "500100200"},
        "message": {"external_id": "form:q:1", "thread_id": "form:q:1", "text": "z"},
    })
    accept(session, linking, actor="form:quote")
    accept(session, form_record(9), actor="form:other")
    session.commit()
    filed, _ = file_pending(session)
    session.commit()
    assert len(filed) == 2
    merges = session.exec(select(MergeEvent)).all()
    assert [m.actor for m in merges] == ["form:quote"]


def test_a_record_that_cannot_be_filed_stays_waiting_with_its_error(session: Session, monkeypatch) -> None:  # noqa: ANN001
    accept(session, form_record(1))
    accept(session, form_record(2))
    session.commit()

    import core.intake as intake

    def failing(session_, records, *, options):  # noqa: ANN001, ANN202
        rest = [ingest(session_, r, options=options) for r in records[1:]]
        return [IngestError("could not store the record after 5 attempts: locked"), *rest]

    monkeypatch.setattr(intake, "ingest_many", failing)
    filed, failed = file_pending(session, options=IngestOptions())
    session.commit()
    assert (len(filed), failed) == (1, 1)
    waiting = session.exec(select(PendingInbound)).one()
    assert waiting.attempts == 1 and "locked" in waiting.last_error

    monkeypatch.undo()
    filed, failed = file_pending(session)
    session.commit()
    assert (len(filed), failed) == (1, 0)
    assert count(session, Message) == 2
    assert count(session, PendingInbound) == 0


def test_records_without_a_message_are_refused(session: Session) -> None:
    record = InboundRecord.model_validate({"channel": "form", "contact": {"email": "x@budmax.pl"}})
    with pytest.raises(ValueError, match="message"):
        accept(session, record)


def test_rows_survive_in_the_raw_table_as_json(session: Session) -> None:
    accept(session, form_record(3))
    session.commit()
    raw = session.execute(sa.text("SELECT record FROM pending_inbound")).scalar_one()
    assert "Łukasz Wójcik 3" in raw  # readable UTF-8 text, for whoever has to look at a stuck row
    assert '"owner_id"' in raw

"""An erasure requested while a sync is mid-way (its batch written, not yet committed) must not be undone by that
sync's commit: whatever the batch stored about the person is erased and suppressed with the rest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlmodel import Session, select

from core.batch import ingest_many
from core.contacts import erase_contact
from core.ingest import ingest
from core.models import Contact, Identity, Message
from core.schemas import ContactIn, InboundRecord, MessageIn

OLD = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # long before the erasure


def _record(external_id: str, *, email: str | None = None, phone: str | None = None) -> InboundRecord:
    return InboundRecord(
        channel="gmail",
        contact=ContactIn(name="Ewa Zażółćka", email=email, phone=phone),
        message=MessageIn(external_id=external_id, thread_id="t1", sent_at=OLD, subject="Oferta", text="Proszę"),
    )


def test_an_erasure_during_a_sync_batch_covers_what_the_batch_stored(app, session: Session) -> None:
    writer = app.extensions["leadhub.writer_engine"]  # what syncs and the API's writes use (IMMEDIATE on SQLite)
    first = ingest(session, _record("m1", email="ewa@firma-testowa.pl"))
    session.commit()

    erased: list[dict | None] = []

    def erase_now() -> None:
        with Session(writer) as other:
            erased.append(erase_contact(other, first.contact_id))
            other.commit()

    with Session(writer) as sync:
        # The sync's batch brings an older mail of hers that also carries her phone: written, not yet committed.
        [result] = ingest_many(sync, [_record("m2", email="ewa@firma-testowa.pl", phone="+48 601 987 654")])
        assert result.contact_id == first.contact_id
        eraser = threading.Thread(target=erase_now)
        eraser.start()
        eraser.join(0.5)  # the erasure runs as far as it can while the batch is open
        sync.commit()
    eraser.join()
    assert erased and erased[0] is not None

    session.rollback()
    assert session.exec(select(Contact)).all() == []
    assert session.exec(select(Identity)).all() == []
    assert session.exec(select(Message)).all() == []
    # Her old mail, re-synced by the phone the batch learned, stays out as the rest of her data does.
    again = ingest(session, _record("m3", phone="601 987 654"))
    assert again.status == "suppressed"

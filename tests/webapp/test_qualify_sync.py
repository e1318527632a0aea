"""A connector sync goes through core.ingest, so its leads are scored, routed and announced like API ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import select

from connectors.base import Checkpoint, Connector, register
from connectors.sync import run_sync
from core.models import ConnectorAccount, Contact, LeadQualification, LeadScore, RoutingRule
from core.schemas import InboundRecord
from core.users import create_user


class FormsFixture(Connector):
    type = "qualify-test-forms"
    title = "Test forms"

    def read(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint]:
        yield InboundRecord.model_validate({
            "channel": "form", "contact": {"name": "Jan Nowak", "email": "jan@budmax.pl", "title": "Prezes"},
            "message": {"external_id": "sync-1", "subject": "Demo", "text": "Poproszę o wycenę i demo",
                        "meta": {"form_type": "demo"}},
        })
        yield Checkpoint({"cursor": 1})


def test_synced_leads_are_scored_and_routed(app, engine, session):
    register(FormsFixture)
    rep = create_user(session, email="sync-rep@x.pl", role="rep", name="Sync Rep")
    session.add(RoutingRule(name="forms", match={"form_type": ["demo"]}, assignee_ids=[rep.id]))
    account = ConnectorAccount(type=FormsFixture.type, label="site")
    session.add(account)
    session.commit()
    report = run_sync(engine, account.id, settings=app.config["LEADHUB"])
    assert report.created == 1, report
    session.rollback()
    contact = session.exec(select(Contact)).one()
    lq = session.get(LeadQualification, contact.id)
    scored = session.get(LeadScore, contact.id)
    assert contact.owner_id == rep.id
    assert {"form-hot", "executive", "intent", "corporate-email"} <= {e["rule"] for e in scored.explanation}
    assert lq.form_types == ["demo"] and lq.intent_hits == 3  # Demo (subject), wycenę, demo and lq.language == "pl"
    assert contact.stage == "sql" and contact.temperature == "hot"

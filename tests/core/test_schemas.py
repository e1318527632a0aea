"""The inbound record's own rules (core.schemas), as pure functions of what a caller sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from core.schemas import MessageIn

WHEN = datetime(2026, 12, 7, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(("sent_at", "expected"), [
    (1796638500, WHEN),                                       # Unix seconds
    ("1796638500", WHEN),
    (1796638500.25, WHEN.replace(microsecond=250000)),
    (1796638500000, WHEN),                                    # milliseconds (JavaScript's Date.now(), 13 digits)
    ("1796638500123", WHEN.replace(microsecond=123000)),
    (100000000, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),  # the first nine-digit second
    ("2026-12-07T10:15:00Z", WHEN),
    ("2026-12-07T11:15:00+01:00", WHEN),
    (None, None),
    (2026, None),                                             # a year, not 1970-01-01 00:33:46
    ("2026", None),
    (46363, None),                                            # an Excel date serial
    (0, None),
    (-1796638500, None),
    (99999999, None),
    (1796638500000000, None),                                 # microseconds: not guessed
    (1e20, None),
    (True, None),
])
def test_a_numeric_sent_at_is_unix_seconds_or_milliseconds_and_nothing_else(sent_at: object,
                                                                            expected: datetime | None) -> None:
    """A number was read as Unix seconds whatever it was: a year (2026) became a message of 1970, silently."""
    if expected is None and sent_at is not None:
        with pytest.raises(ValidationError) as caught:
            MessageIn(sent_at=sent_at)
        assert [error["loc"] for error in caught.value.errors()] == [("sent_at",)]
    else:
        assert MessageIn(sent_at=sent_at).sent_at == expected


@pytest.mark.parametrize(("field", "given", "stored"), [
    ("subject", "Oferta\x00 2026", "Oferta 2026"),
    ("subject", "Re:\r\n Oferta\tna\x1b[0m okna", "Re: Oferta na[0m okna"),   # a folded header; a terminal escape
    ("sender", "Jan\x00 Nowak\n", "Jan Nowak"),
    ("subject", "Oferta", "Oferta"),
    ("text", "Dzień\x00 dobry,\r\n\tproszę o ofertę\n", "Dzień dobry,\r\n\tproszę o ofertę\n"),  # lines kept
    ("html", "<p>Dzień\x00 dobry</p>\n", "<p>Dzień dobry</p>\n"),
])
def test_a_messages_text_holds_no_nul_and_its_subject_and_sender_no_control_characters(
        field: str, given: str, stored: str) -> None:
    """A NUL in a subject or a body was stored as it is on SQLite, and taken out on PostgreSQL (whose text cannot
    hold one): the same file gave the two stores different messages. A subject or a sender is one line: a line
    break there is a space."""
    assert getattr(MessageIn(external_id="m", **{field: given}), field) == stored


def test_derived_values_are_kept_without_pydantics_private_attribute_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """MessageIn.derived computes a value once and keeps it across pickling (the import's helper process
    computes, the writer reads) and copies, reading its store without pydantic's __getattr__: that lookup
    costs several µs a read (two AttributeErrors on the way), twice a message in an import's writer."""
    import copy
    import pickle

    from pydantic import BaseModel

    lookups: list[str] = []
    real = BaseModel.__getattr__

    def counted(self: BaseModel, item: str) -> object:
        lookups.append(item)
        return real(self, item)

    monkeypatch.setattr(BaseModel, "__getattr__", counted)
    message = MessageIn.model_validate({"external_id": "m1", "text": "Proszę o wycenę", "sent_at": "2026-01-01T09:00:00Z"})
    computed: list[str] = []
    assert message.derived("words", lambda m: computed.append("x") or len((m.text or "").split())) == 3
    assert message.derived("words", lambda m: computed.append("x") or -1) == 3
    for other in (pickle.loads(pickle.dumps(message)), message.model_copy(), copy.deepcopy(message)):
        assert other.derived("words", lambda m: -1) == 3
    assert computed == ["x"]
    assert "_derived" not in lookups
    bare = MessageIn.model_construct(external_id="m2")
    assert bare.derived("words", lambda m: 0) == 0


@pytest.mark.parametrize(("sent_at", "utc"), [
    # PostgreSQL's text for a timestamptz (psql, \copy, pg_dump, Metabase and DBeaver's CSV): the offset in hours.
    ("2026-12-07 14:03:22+01", datetime(2026, 12, 7, 13, 3, 22, tzinfo=UTC)),
    ("2026-12-07 14:03:22.123456+01", datetime(2026, 12, 7, 13, 3, 22, 123456, tzinfo=UTC)),
    ("2026-12-07T14:03-05", datetime(2026, 12, 7, 19, 3, tzinfo=UTC)),
    ("2026-12-07 14:03:22+05:30", datetime(2026, 12, 7, 8, 33, 22, tzinfo=UTC)),
])
def test_a_sent_at_whose_offset_is_in_hours_is_read(sent_at: str, utc: datetime) -> None:
    """ISO 8601 writes an offset as ±hh:mm, ±hhmm or ±hh; the last (PostgreSQL's own) was refused with
    "unexpected extra characters at the end of the input"."""
    assert MessageIn(external_id="1", sent_at=sent_at).sent_at.astimezone(UTC) == utc


@pytest.mark.parametrize("sent_at", ["2026-12-07 14:03:22+1", "2026-12-07 14:03:22+123", "2026-12-07+01",
                                     "2026-12-07 14:03:22+25"])
def test_a_sent_at_with_an_offset_that_is_none_is_refused(sent_at: str) -> None:
    with pytest.raises(ValidationError, match="sent_at"):
        MessageIn(external_id="1", sent_at=sent_at)

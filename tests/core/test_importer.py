"""Bulk import: bad lines are reported with their line number and skipped; re-import duplicates nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from core.importer import import_file
from core.models import Contact, Message


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_jsonl_bad_lines_reported_and_skipped(engine, session: Session, tmp_path: Path) -> None:
    good = {"channel": "import", "contact": {"name": "Anna", "email": "anna@firma.pl"}, "message": {"external_id": "1", "text": "hi"}}
    lines = [
        json.dumps(good),
        "{broken json",
        json.dumps({"channel": "import", "contact": {"email": 42}}),
        "",
        json.dumps([1, 2]),
        json.dumps({"channel": "import", "contact": {"name": "Bad", "email": "nope"}}),
        json.dumps({"channel": "import", "contact": {"name": "Ola", "phone": "600 700 800"}}),
    ]
    path = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n\xff\xfe bad bytes".encode("latin-1").decode("latin-1"))
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe{}\n")
    summary = import_file(engine, path).as_dict()
    assert summary["created"] == 2
    assert [e["line"] for e in summary["errors"]] == [2, 3, 5, 6, 8]
    assert "JSON" in summary["errors"][0]["error"] and "contact.email" in summary["errors"][3]["error"]
    assert "UTF-8" in summary["errors"][4]["error"]
    again = import_file(engine, path).as_dict()
    assert again["created"] == 0 and again["already_known"] + again["updated"] == 2
    assert len(session.exec(select(Message)).all()) == 1


def test_csv_with_bom_aliases_semicolons_and_multiline(engine, session: Session, tmp_path: Path) -> None:
    text = (
        "\ufeffFull Name;E-mail;Telefon;Firma;Subject;Body;Message ID\n"
        "Łukasz Wójcik;lukasz@budmax.pl;601 234 567;Budmax;Oferta;\"Dzień dobry,\nproszę o ofertę\";m-1\n"
        "Bad Row;not-an-email;;;;;\n"
        "Екатерина Смирнова;e.smirnova@severtrans.ru;+7 495 123-45-67;Севертранс;Цена;Сколько стоит?;m-2\n"
        "too;many;values;here;x;y;z;extra\n"
        "Lukasz Wojcik;;+48601234567;;;;\n"
    )
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert [e["line"] for e in summary["errors"]] == [4, 6]
    assert summary["created"] == 2 and summary["already_known"] == 1  # same person, nothing new
    contacts = session.exec(select(Contact)).all()
    assert sorted(c.display_name for c in contacts) == ["Łukasz Wójcik", "Екатерина Смирнова"]
    message = session.exec(select(Message).where(Message.external_id == "m-1")).one()
    assert message.text == "Dzień dobry,\nproszę o ofertę"


def test_csv_without_contact_columns_is_one_clear_error(engine, tmp_path: Path) -> None:
    summary = import_file(engine, write(tmp_path / "x.csv", "foo,bar\n1,2\n")).as_dict()
    assert summary["errors"] == [{"line": 1, "error": summary["errors"][0]["error"]}]
    assert "header" in summary["errors"][0]["error"]


@pytest.mark.parametrize("cache_max", [None, 150])
def test_candidate_views_cached_across_batches_change_no_suggestion(engine, session: Session, tmp_path: Path,
                                                                    monkeypatch, cache_max: int | None) -> None:
    """An import keeps the duplicate search's candidate views across its batches (dropping the contacts a batch
    changes, and the oldest views when it is full: cache_max). The same file imported without that cache opens
    exactly the same suggestions, scores and reasons."""
    from bench.import_bench import generate
    from core import identity
    from core.db import make_engine
    from core.models import DuplicateSuggestion
    from webapp.cli import upgrade_database

    data = tmp_path / "people.jsonl"
    generate(data, 1500, seed=11)  # a third are a known person again, by email or phone, names re-ordered

    def suggestions(target: object) -> set[tuple]:
        with Session(target) as s:
            return {(d.contact_a_id, d.contact_b_id, round(d.score, 6), tuple(sorted(d.reasons)))
                    for d in s.exec(select(DuplicateSuggestion)).all()}

    cached_calls: list[int] = []
    real = identity.suggest_pairs_for
    if cache_max:
        monkeypatch.setattr(identity, "VIEW_CACHE_MAX", cache_max)

    def counting(session_, keys, **options):  # noqa: ANN001, ANN003, ANN202
        cached_calls.append(len(options.get("view_cache") or {}))
        return real(session_, keys, **options)

    monkeypatch.setattr("core.batch.suggest_pairs_for", counting)
    import_file(engine, data, batch_size=100)
    with_cache = suggestions(engine)
    assert max(cached_calls) > 0  # later batches did reuse views
    if cache_max:  # and the full cache dropped views now and then
        assert any(later < earlier for earlier, later in zip(cached_calls, cached_calls[1:], strict=False))

    plain_db = tmp_path / "plain.db"
    upgrade_database(f"sqlite:///{plain_db}")
    plain = make_engine(f"sqlite:///{plain_db}")
    monkeypatch.setattr("core.batch.suggest_pairs_for",
                        lambda s, keys, **options: real(s, keys, **{**options, "view_cache": None}))
    import_file(plain, data, batch_size=100)
    assert with_cache == suggestions(plain) and len(with_cache) >= 5
    plain.dispose()


def test_a_contact_changed_in_a_later_batch_is_compared_as_it_is_now(engine, session: Session, tmp_path: Path) -> None:
    """Batch 1 files Jan Kowalski; batch 2 only adds his company (he is not compared then); batch 3 brings Jan
    Kowalsky of the same company, compared with the Jan Kowalski of now: the shared company is a reason."""
    from core.models import DuplicateSuggestion

    rows = [
        {"channel": "import", "contact": {"name": "Jan Kowalski", "email": "jan@one.example"}},
        {"channel": "import", "contact": {"name": "Jan Kowalski", "email": "jan@one.example", "company": "Budmax"}},
        {"channel": "import", "contact": {"name": "Jan Kowalsky", "email": "jk@two.example", "company": "Budmax"}},
    ]
    path = write(tmp_path / "three.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    import_file(engine, path, batch_size=1)
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert any("same company" in reason for reason in suggestion.reasons), suggestion.reasons

"""Bulk import: bad lines are reported with their line number and skipped; re-import duplicates nothing."""

from __future__ import annotations

import json
from pathlib import Path

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

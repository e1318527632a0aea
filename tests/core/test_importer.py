"""Bulk import: bad lines are reported with their line number and skipped; re-import duplicates nothing."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from core.importer import import_file
from core.models import Contact, Identity, Message


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
        "[" * 10_000 + "]" * 10_000,
    ]
    path = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n\xff\xfe bad bytes".encode("latin-1").decode("latin-1"))
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe{}\n")
    summary = import_file(engine, path).as_dict()
    assert summary["created"] == 2
    assert [e["line"] for e in summary["errors"]] == [2, 3, 5, 6, 8, 9]
    assert "JSON" in summary["errors"][0]["error"] and "contact.email" in summary["errors"][3]["error"]
    assert summary["errors"][4]["error"] == "not valid JSON: nested too deeply"
    assert "UTF-8" in summary["errors"][5]["error"]
    again = import_file(engine, path).as_dict()
    assert again["created"] == 0 and again["already_known"] + again["updated"] == 2
    assert len(session.exec(select(Message)).all()) == 1


@pytest.mark.parametrize("workers", [0, 1])
def test_jsonl_numbers_python_reads_but_json_has_not_are_the_lines_errors(engine, session: Session, tmp_path: Path,
                                                                         workers: int) -> None:
    """An integer of over 4,300 digits made json.loads raise a plain ValueError, which ended the import (with a
    helper, too); NaN and Infinity, which are not JSON, were read and stored as null. Each is now its line's
    error, and the lines after it import."""
    good = {"channel": "import", "contact": {"name": "Anna", "email": "anna@firma.pl"}}
    lines = [
        json.dumps(good),
        '{"channel": "import", "contact": {"name": "Piotr", "email": "p@firma.pl"}, "external_id": ' + "9" * 5000 + "}",
        '{"channel": "import", "external_id": "n-1", "contact": {"email": "n@firma.pl"}, "message": {"text": "hi", '
        '"meta": {"score": NaN}}}',
        '{"channel": "import", "contact": {"name": "Inf", "email": "inf@firma.pl"}, "account_id": -Infinity}',
        json.dumps({"channel": "import", "contact": {"name": "Ola", "email": "ola@firma.pl"}}),
    ]
    summary = import_file(engine, write(tmp_path / "in.jsonl", "\n".join(lines) + "\n"), workers=workers).as_dict()
    assert [(e["line"], e["error"]) for e in summary["errors"]] == [
        (2, "not valid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits"),
        (3, "not valid JSON: NaN is not a JSON number"), (4, "not valid JSON: -Infinity is not a JSON number")]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Ola"]
    assert session.exec(select(Message)).all() == []


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("number", ["1e400", "-2E+308", "1" * 400 + ".5"])
def test_a_number_beyond_a_float_is_its_lines_error(engine, session: Session, tmp_path: Path, workers: int,
                                                    number: str) -> None:
    """Python's parser reads a number beyond a 64-bit float as infinity: it was stored in a message's meta as
    Infinity, which is not JSON (the contact's export answered text no JSON client parses)."""
    line = ('{"channel": "import", "external_id": "%s", "contact": {"email": "%s@firma.pl"}, '
            '"message": {"text": "hi", "meta": {"score": %s}}}')
    text = "\n".join([line % ("a", "anna", 1.5), line % ("b", "bea", number), line % ("c", "cel", "2e307")])
    summary = import_file(engine, write(tmp_path / "in.jsonl", text), workers=workers).as_dict()
    assert [(e["line"], "JSON" in e["error"]) for e in summary["errors"]] == [(2, True)], summary["errors"]
    array = import_file(engine, write(tmp_path / "in.json", "[" + text.replace("\n", ",\n") + "]"),
                        workers=workers).as_dict()
    assert [e["line"] for e in array["errors"]] == [2]
    assert sorted(session.exec(select(Message.external_id)).all()) == ["a", "c"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_lone_surrogate_in_a_messages_meta_is_its_lines_error(engine, session: Session, tmp_path: Path,
                                                                workers: int) -> None:
    """JSON may escape half of a UTF-16 pair alone ("\\ud800"), which is no character: in a message's meta (the
    one part of a record whose values are not checked as text) it could not be written as UTF-8, and the import
    stopped with a traceback, its batch's good lines lost with it."""
    line = '{"channel": "import", "contact": {"email": "%s@firma.pl"}, "message": {"external_id": "%s", "meta": %s}}'
    lines = [line % ("anna", "a", '{"source": "crm"}'), line % ("bea", "b", '{"note": "x\\ud800y"}'),
             line % ("cel", "c", '{"\\udc00": 1}'), line % ("dan", "d", '{"list": [{"deep": "\\ud83d"}]}'),
             line % ("ewa", "e", '{"emoji": "\\ud83d\\ude00"}')]
    summary = import_file(engine, write(tmp_path / "in.jsonl", "\n".join(lines)), workers=workers).as_dict()
    assert [(e["line"], "message.meta" in e["error"]) for e in summary["errors"]] == [(2, True), (3, True), (4, True)]
    assert sorted(session.exec(select(Message.external_id)).all()) == ["a", "e"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_messages_meta_nested_past_64_levels_is_its_lines_error(engine, session: Session, tmp_path: Path,
                                                                 workers: int) -> None:
    """A meta nested some 900 levels deep (valid JSON, under the parser's limit) could not be sent back from the
    helper process (pickle's recursion limit): the import stopped with a RecursionError, every line lost."""
    line = ('{"channel": "import", "contact": {"email": "%s@firma.pl"}, "message": {"external_id": "%s", '
            '"meta": %s1%s}}')
    lines = [line % (name, name, '{"a": ' * depth, "}" * depth)
             for name, depth in [("anna", 1), ("bea", 64), ("cel", 65), ("dan", 900)]]
    summary = import_file(engine, write(tmp_path / "in.jsonl", "\n".join(lines)), workers=workers).as_dict()
    assert [(e["line"], "message.meta" in e["error"]) for e in summary["errors"]] == [(3, True), (4, True)]
    assert sorted(session.exec(select(Message.external_id)).all()) == ["anna", "bea"]


@pytest.mark.parametrize("workers", [0, 1])
def test_jsonl_and_json_arrays_in_utf16_import(engine, session: Session, tmp_path: Path, workers: int) -> None:
    """Windows PowerShell's > and Out-File write UTF-16 with a byte order mark: every line of such a file was
    "not UTF-8" (or "not valid JSON"), and nothing imported."""
    lines = [json.dumps({"channel": "import", "contact": {"name": "Łukasz Wójcik", "email": "l@budmax.pl"}},
                        ensure_ascii=False), "{broken",
             json.dumps({"channel": "import", "contact": {"name": "Ольга Иванова", "email": "o@sever.ru"}},
                        ensure_ascii=False)]
    summary = import_file(engine, write(tmp_path / "leads.jsonl", "\r\n".join(lines).encode("utf-16")),
                          workers=workers).as_dict()
    assert summary["created"] == 2 and [e["line"] for e in summary["errors"]] == [2]
    array = "[\n" + ",\n".join([lines[0], lines[2]]) + "\n]"
    again = import_file(engine, write(tmp_path / "leads.json", array.encode("utf-16-le").join([b"\xff\xfe", b""])),
                        workers=workers).as_dict()
    assert again["errors"] == [] and again["already_known"] == 2
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Łukasz Wójcik", "Ольга Иванова"]


@pytest.mark.parametrize("ends", [["\r"] * 5, ["\r", "\r\n", "\n", "\r", "\r\n"], ["\r", "\r", "\r", "\r", ""]])
@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_jsonl_with_lone_cr_line_ends_is_read_line_by_line(engine, session: Session, tmp_path: Path, ends: list,
                                                            workers: int, encoding: str) -> None:
    """Old Mac exporters end lines with a lone CR: such a file was one line, refused as "not valid JSON" (or
    "Extra data"), and nothing imported. Each CR, LF or CR LF now ends a line, and errors name the right one."""
    lines = [json.dumps({"channel": "import", "contact": {"name": "Anna", "email": "anna@firma.pl"}}),
             "{broken",
             json.dumps({"channel": "import", "contact": {"name": "Ola", "email": "nope"}}),
             "",
             json.dumps({"channel": "import", "contact": {"name": "Piotr", "email": "piotr@firma.pl"}})]
    text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    summary = import_file(engine, write(tmp_path / "in.jsonl", text.encode(encoding)), workers=workers).as_dict()
    assert [e["line"] for e in summary["errors"]] == [2, 3], summary["errors"]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Piotr"]


@pytest.mark.parametrize("workers", [0, 1])
def test_jsonl_files_joined_with_their_byte_order_marks_import_every_line(engine, session: Session, tmp_path: Path,
                                                                        workers: int) -> None:
    """`cat a.jsonl b.jsonl` of two files saved with a byte order mark (Notepad, many Windows exporters) puts the
    second mark at the start of a line in the middle: that line was "not valid JSON" and its record was lost."""
    line = '\ufeff{"channel": "import", "contact": {"name": "%s", "email": "%s@firma.pl"}}\n'
    text = line % ("Anna", "anna") + line % ("Piotr", "piotr") + "\ufeff{broken\n"
    summary = import_file(engine, write(tmp_path / "in.jsonl", text), workers=workers).as_dict()
    assert [e["line"] for e in summary["errors"]] == [3]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Piotr"]


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_pretty_printed_records_one_after_another_import(engine, session: Session, tmp_path: Path, workers: int,
                                                         end: str) -> None:
    """`jq '.[]' leads.json > leads.jsonl` (without -c) and json.dumps(indent=2) write each record over several
    lines, one after another: every line of such a file was "not valid JSON" and nothing imported. Records
    written so are read whole, each reported on the line it begins on; after a broken one, reading goes on at
    the next record that begins a line."""
    def pretty(name: str, email: str) -> str:
        return json.dumps({"channel": "import", "contact": {"name": name, "email": email}}, indent=2,
                          ensure_ascii=False)

    text = "\n".join([pretty("Anna", "anna@firma.pl"),                      # lines 1-7
                      pretty("Bea", "not-an-address"),                       # lines 8-14
                      '{\n  "channel": "import",\n  "contact": {\n    "name": broken\n  }\n}',  # lines 15-20
                      pretty("Łukasz", "lukasz@budmax.pl"),                  # lines 21-27
                      "[1, 2]",                                              # line 28
                      pretty("Ola", "ola@firma.pl") + "\n"]).replace("\n", end)  # lines 29-35
    summary = import_file(engine, write(tmp_path / "leads.jsonl", text), workers=workers).as_dict()
    assert [e["line"] for e in summary["errors"]] == [8, 18, 28], summary["errors"]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Ola", "Łukasz"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_byte_that_is_not_utf8_in_a_json_array_loses_only_its_element(engine, session: Session, tmp_path: Path,
                                                                         workers: int) -> None:
    """One name saved in Windows-1250 inside a UTF-8 JSON array ("\\xa3" for Ł) made the whole file "not UTF-8":
    every record was lost. Only the element holding it is refused now, as a JSONL line holding it is."""
    text = ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\n'
            ' {"channel": "api", "contact": {"name": "\xa3ukasz", "email": "l@x.pl"}},\n'
            ' {"channel": "api", "contact": {"name": "Ola", "email": "ola@x.pl"}}]\n').encode("latin-1")
    summary = import_file(engine, write(tmp_path / "leads.json", text), workers=workers).as_dict()
    assert [e["line"] for e in summary["errors"]] == [2], summary["errors"]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Ola"]


def test_a_json_array_with_lone_cr_line_ends_reports_each_elements_line(engine, tmp_path: Path) -> None:
    text = ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\r'
            ' {"channel": "api", "contact": {"name": "Piotr", "email": "not-an-email"}},\r\n'
            ' {"channel": "api", "contact": {"name": "Ola", "email": "o@"}}]\r')
    summary = import_file(engine, write(tmp_path / "leads.json", text)).as_dict()
    assert [e["line"] for e in summary["errors"]] == [2, 3]


@pytest.mark.parametrize("batch_size", [300, 1200])  # 1200: batches start at one chunk and grow (see below)
def test_helper_processes_change_nothing_but_who_validates(engine, session: Session, tmp_path: Path,
                                                           batch_size: int) -> None:
    """A big file is validated by helper processes: the same bad lines (by line number, across chunk borders)
    and the same store as validating here, with the lines in file order."""
    from core import importer
    from core.models import Identity

    lines = []
    for n in range(1, 2600):
        record = {"channel": "import", "contact": {"name": f"Osoba {n % 700}", "email": f"o{n % 700}@firma.pl"},
                  "message": {"external_id": f"m{n}", "text": "dzień dobry"}}
        if n % 97 == 0:
            record["contact"]["email"] = "not-an-email"
        line = json.dumps(record, ensure_ascii=False)
        lines.append("{broken" if n % 251 == 0 else line)
    path = write(tmp_path / "big.jsonl", "\n".join(lines) + "\n")
    import multiprocessing

    seen: list[int] = []
    helpers: set[int] = set()

    def progress(line: int) -> None:
        seen.append(line)
        helpers.update(child.pid for child in multiprocessing.active_children())

    summary = import_file(engine, path, batch_size=batch_size, workers=1, progress=progress).as_dict()
    assert len(helpers) == 1  # one helper process did validate
    assert seen == sorted(seen) and len(seen) == len(lines)
    expected_bad = [n for n in range(1, 2600) if n % 97 == 0 or n % 251 == 0]
    assert [e["line"] for e in summary["errors"]] == expected_bad
    assert summary["created"] == len(lines) - len(expected_bad)
    with_workers = sorted((i.kind, i.value, i.contact_id) for i in session.exec(select(Identity)))

    from core.db import make_engine
    from webapp.cli import upgrade_database

    upgrade_database(f"sqlite:///{tmp_path / 'here.db'}")
    here = make_engine(f"sqlite:///{tmp_path / 'here.db'}")
    assert importer.import_file(here, path, batch_size=batch_size, workers=0).as_dict() == summary
    with Session(here) as other:
        assert sorted((i.kind, i.value, i.contact_id) for i in other.exec(select(Identity))) == with_workers
    here.dispose()


@pytest.mark.parametrize(("workers", "sizes"), [(0, [300, 300, 300, 100]), (1, [50, 100, 200, 300, 300, 50])])
def test_with_a_helper_batches_start_at_one_chunk_and_double(engine, tmp_path: Path, monkeypatch,
                                                             workers: int, sizes: list[int]) -> None:
    """The first batch waits for the helper to prepare all its lines, so with a helper the batches start at one
    chunk and double up to batch_size; without one they are batch_size from the start."""
    from core import importer

    monkeypatch.setattr(importer, "PREPARE_CHUNK", 50)
    written: list[int] = []
    ingest_many = importer.ingest_many

    def counting(session, records, **kwargs):  # noqa: ANN001, ANN003, ANN202
        written.append(len(records))
        return ingest_many(session, records, **kwargs)

    monkeypatch.setattr(importer, "ingest_many", counting)
    lines = [json.dumps({"channel": "import", "contact": {"name": f"Osoba {n}", "email": f"o{n}@firma.pl"}})
             for n in range(1000)]
    summary = import_file(engine, write(tmp_path / "people.jsonl", "\n".join(lines) + "\n"), batch_size=300,
                          workers=workers)
    assert written == sizes and summary.records == 1000


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


def test_control_characters_in_a_csv_row_are_not_stored(engine, session: Session, tmp_path: Path) -> None:
    """A NUL in a subject or a message was stored as it is on SQLite (PostgreSQL drops it: the same file gave two
    stores two texts), and a name typed over two lines of its cell lost the space between them ("AnnaMaria")."""
    text = ('name,email,company,subject,text\n"Jan\x00 Nowak",jan@firma.pl,"Bud\x00max\r\nSp. z o.o.",'
            '"Ofe\x00rta\nna okna",Dzień\x00 dobry\n"Anna\nMaria Zając",anna@firma.pl,Hurtex\x07,,\n')
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2
    assert sorted(session.exec(select(Contact.display_name, Contact.company)).all()) == [
        ("Anna Maria Zając", "Hurtex"), ("Jan Nowak", "Budmax Sp. z o.o.")]
    assert session.exec(select(Message.subject, Message.text)).all() == [("Oferta na okna", "Dzień dobry")]


@pytest.mark.parametrize("header", ["name,email,company,message", '"Name","E-mail","Company","Message"',
                                    "Imię i nazwisko;E-mail;Firma;Wiadomość", "name\temail\tcompany\ttext"])
def test_a_quote_inside_a_quoted_csv_value_is_one_quote(engine, session: Session, tmp_path: Path, header: str) -> None:
    """Excel, Google Sheets and RFC 4180 write a quote inside a quoted value twice: "PHU ""Mar-Pol"" Sp. z o.o.".
    The separator's guess from the header line also guessed that quotes are not doubled (one line shows none),
    so the company was stored as 'PHU "Mar-Pol"" Sp. z o.o.' and the message lost its quotes' sense."""
    separator = header[len("name")] if header.startswith("name") else ("," if header.startswith('"') else ";")
    row = separator.join(['"Anna ""Ania"" Nowak"', "anna@firma.pl", '"PHU ""Mar-Pol"" Sp. z o.o."',
                          '"Proszę o ofertę na ""okna"", 3 szt."'])
    summary = import_file(engine, write(tmp_path / "leads.csv", f"{header}\n{row}\n")).as_dict()
    assert summary["errors"] == [], summary
    assert session.exec(select(Contact.display_name, Contact.company)).all() == [
        ('Anna "Ania" Nowak', 'PHU "Mar-Pol" Sp. z o.o.')]
    assert session.exec(select(Message.text)).all() == ['Proszę o ofertę na "okna", 3 szt.']


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_a_csv_file_with_lone_cr_line_ends_imports(engine, session: Session, tmp_path: Path, end: str) -> None:
    """Old Mac exporters end lines with a lone CR: reading the header's separator failed on such a file
    ("new-line character seen in unquoted field"), and the import stopped with a traceback, nothing imported."""
    text = end.join(["name,email,message", 'Anna,anna@firma.pl,"Dzień dobry,' + end + 'proszę o ofertę"',
                     "Ola,not-an-address,", "Piotr,piotr@firma.pl,"]) + end
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert [e["line"] for e in summary["errors"]] == [4]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna", "Piotr"]
    assert session.exec(select(Message.text)).all() == ["Dzień dobry," + end + "proszę o ofertę"]


def test_a_csv_row_with_empty_values_past_the_header_imports(engine, session: Session, tmp_path: Path) -> None:
    """Spreadsheets write rows with more separators than the header has columns when a cell beyond it was once
    filled ("Anna;anna@x.pl;;;"): the row was refused for its count of values, and lost. Empty values past the
    header are nothing; a row with a value there is still its line's error."""
    text = ("Imię i nazwisko;E-mail;Firma\r\n"
            "Anna Nowak;anna@budmax.pl;Budmax;;;\r\n"
            "Ola Zima;ola@zima.pl;;  \r\n"
            "Piotr Zięba;piotr@hurtex.pl;Hurtex;;uwaga\r\n")
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert [(e["line"], e["error"]) for e in summary["errors"]] == [(4, "5 values but the header has 3 columns")]
    assert sorted(session.exec(select(Contact.display_name, Contact.company)).all()) == [("Anna Nowak", "Budmax"),
                                                                                         ("Ola Zima", "")]


def test_a_header_repeated_mid_file_is_not_a_record(engine, session: Session, tmp_path: Path) -> None:
    """Files put together from several exports repeat the header. It was read as a record: a person named "Name"
    with the user id "External User ID" was stored (and, with an e-mail column, the row was refused as an
    invalid address). It is now reported as what it is; the rows after it import."""
    text = ("Name,External User ID,Company\n"
            "Anna Nowak,u-1,Budmax\n"
            "name ,external user id,COMPANY,\n"
            "Ola Zima,u-2,Zima\n")
    summary = import_file(engine, write(tmp_path / "joined.csv", text)).as_dict()
    assert summary["errors"] == [{"line": 3, "error": "the header row again, not a record"}]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna Nowak", "Ola Zima"]


def test_a_header_repeated_with_its_files_byte_order_mark_is_not_a_record(engine, session: Session,
                                                                         tmp_path: Path) -> None:
    """Two exports saved as "CSV UTF-8" by Excel and joined: the second header starts with a byte order mark, and
    was read as a person "Name" (PostgreSQL: a user id "External User ID")."""
    text = "\ufeffName,External User ID\nAnna Nowak,u-1\n\ufeffName,External User ID\nOla Zima,u-2\n"
    summary = import_file(engine, write(tmp_path / "joined.csv", text)).as_dict()
    assert summary["errors"] == [{"line": 3, "error": "the header row again, not a record"}]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna Nowak", "Ola Zima"]


@pytest.mark.parametrize("end", ["\n", ""])
def test_a_quote_never_closed_is_its_rows_error_and_the_rows_after_it_import(engine, session: Session,
                                                                             tmp_path: Path, end: str) -> None:
    """A quote opened in a value and never closed made every line after it part of that value: the rows after
    it were lost without an error (and the row imported, its company three lines long)."""
    text = ("name,email,company\n"
            '"Anna Nowak",anna@budmax.pl,"Budmax\n'
            "Ola Zima,ola@zima.pl,Zima\n"
            "\n"
            f"Piotr Zięba,piotr@hurtex.pl,Hurtex{end}")
    summary = import_file(engine, write(tmp_path / "quote.csv", text)).as_dict()
    assert summary["errors"] == [{"line": 2, "error": "a quote in this row is never closed; the lines after it are "
                                                      "read on their own"}]
    assert sorted(session.exec(select(Contact.display_name, Contact.company)).all()) == [("Ola Zima", "Zima"),
                                                                                         ("Piotr Zięba", "Hurtex")]


def test_a_quoted_value_over_several_lines_at_the_files_end_is_read_whole(engine, session: Session,
                                                                          tmp_path: Path) -> None:
    text = 'name,email,message\nAnna Nowak,anna@budmax.pl,"Dzień dobry,\nproszę o ofertę"'
    summary = import_file(engine, write(tmp_path / "end.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1
    assert session.exec(select(Message.text)).one() == "Dzień dobry,\nproszę o ofertę"


@pytest.mark.parametrize("header", [
    "Nazwisko, imię;E-mail;Telefon;Firma",
    "Imię i nazwisko;E-mail;Telefon;Firma",
    "Osoba kontaktowa;E-mail;Telefon;Firma, oddział",
    "Name|E-mail|Phone|Company",
])
def test_the_separator_is_the_one_that_splits_the_header_into_its_columns(engine, session: Session, tmp_path: Path,
                                                                         header: str) -> None:
    """The separator was sniffed from the header line alone, and a comma inside a column's name won over the
    semicolons between them: "Nazwisko, imię;E-mail;…" gave the row the name "Nowak" and lost its address and
    number; "Firma, oddział" refused the file for naming no contact column."""
    separator = "|" if "|" in header else ";"
    row = separator.join(["Nowak, Anna" if "," in header.split(separator)[0] else "Anna Nowak", "anna@budmax.pl",
                          "601 234 567", "Budmax, Sp. z o.o."])
    summary = import_file(engine, write(tmp_path / "leads.csv", f"{header}\r\n{row}\r\n")).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1
    assert session.exec(select(Identity.value).order_by(Identity.value)).all() == ["+48601234567", "anna@budmax.pl"]
    assert session.exec(select(Contact.display_name)).all() == [row.split(separator)[0]]


@pytest.mark.parametrize(("header", "name"), [
    ("Nazwisko i imię", "Nowak Anna"), ("Nazwisko, imię", "Nowak Anna"), ("Фамилия, имя, отчество", "Иванов Иван Иванович"),
    ("ФИО", "Иванов Иван Иванович"), ("Фамилия Имя", "Иванов Иван"),
])
def test_a_name_column_written_surname_first(engine, session: Session, tmp_path: Path, header: str, name: str) -> None:
    """Polish and Russian sheets name the full-name column surname first: it was not read, and the rows had no name."""
    summary = import_file(engine, write(tmp_path / "leads.csv", f"{header};E-mail\r\n{name};anna@budmax.pl\r\n")).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1
    assert session.exec(select(Contact.display_name)).all() == [name]


def test_csv_without_contact_columns_is_one_clear_error(engine, tmp_path: Path) -> None:
    summary = import_file(engine, write(tmp_path / "x.csv", "foo,bar\n1,2\n")).as_dict()
    assert summary["errors"] == [{"line": 1, "error": summary["errors"][0]["error"]}]
    assert "header" in summary["errors"][0]["error"]


@pytest.mark.parametrize("hint", ["sep=;", "\ufeffsep=;", "SEP=;"])
def test_csv_with_excels_separator_hint_line(engine, session: Session, tmp_path: Path, hint: str) -> None:
    """"sep=;" on the first line tells Excel the separator; the header is the line after it. Before, the hint was
    read as the header and the whole file refused."""
    text = f"{hint}\r\nImię;Nazwisko;E-mail;Firma\r\nAnna;Nowak;anna@budmax.pl;Budmax; Sp. z o.o.\r\nOla;Zima;ola@zima.pl;Zima\r\n"
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert summary["created"] == 1 and [e["line"] for e in summary["errors"]] == [3]  # its line in the file
    assert session.exec(select(Contact.display_name)).all() == ["Ola Zima"]


JSON_ARRAY_CASES = [
    # (file text, names imported, (line, error part) per reported element)
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\n'
     ' {"channel": "api", "contact": {"name": "Piotr", "email": "not-an-email"}},\n'
     ' {"channel": "api", "contact": {"name": "Ola", "email": "ola@x.pl"}}]\n', ["Anna", "Ola"], [(2, "email")]),
    # Pretty-printed, with a BOM: each element reported on the line it begins on.
    ('\ufeff[\n  {\n    "channel": "api",\n    "contact": {"name": "Anna", "email": "anna@x.pl"}\n  },\n  [1, 2],\n'
     '  {\n    "channel": "api",\n    "contact": {"email": "b@"}\n  }\n]', ["Anna"],
     [(6, "each element must be a JSON object"), (7, "email")]),
    ("[]", [], []),
    ("  [ ]  \n", [], []),
    # Broken JSON: what came before it is imported, then the error with its line, and nothing after it.
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\n{"channel": "api", "contact": {\n'
     '"name": "Piotr", "email": "p@x.pl",}},\n{"channel": "api", "contact": {"email": "c@x.pl"}}]', ["Anna"],
     [(3, "not valid JSON")]),
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}}', ["Anna"], [(1, "not closed")]),
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},]', ["Anna"], [(1, "not valid JSON")]),
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}}] trailing', ["Anna"],
     [(1, "after the array")]),
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}} {"channel": "api"}]', ["Anna"],
     [(1, "expected , or ]")]),
    # A number Python reads but JSON has not (NaN, Infinity), or will not convert (over 4,300 digits).
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\n{"channel": "api", "contact": '
     '{"email": "b@x.pl"}, "account_id": NaN},\n{"channel": "api", "contact": {"email": "c@x.pl"}}]', ["Anna"],
     [(2, "NaN is not a JSON number; the rest of the file is not read")]),
    ('[{"channel": "api", "contact": {"name": "Anna", "email": "anna@x.pl"}},\n{"channel": "api", "contact": '
     '{"email": "b@x.pl"}, "account_id": ' + "1" * 4301 + '}]', ["Anna"], [(2, "Exceeds the limit (4300 digits)")]),
]


@pytest.mark.parametrize(("text", "names", "errors"), JSON_ARRAY_CASES)
@pytest.mark.parametrize("workers", [0, 1])
def test_a_json_array_file_imports_its_elements(engine, session: Session, tmp_path: Path, text: str, names: list,
                                                errors: list, workers: int) -> None:
    """Many tools export records as one JSON array (.json), not JSONL: its elements are the records, each
    reported on the line it begins on."""
    summary = import_file(engine, write(tmp_path / "leads.json", text), workers=workers).as_dict()
    assert sorted(session.exec(select(Contact.display_name)).all()) == sorted(names)
    reported = summary["errors"]
    assert [e["line"] for e in reported] == [line for line, _ in errors], reported
    assert all(part in e["error"] for e, (_, part) in zip(reported, errors, strict=True)), reported


def test_a_csv_value_over_the_csv_modules_limit_is_its_rows_error_not_the_files(engine, session: Session,
                                                                               tmp_path: Path) -> None:
    """The csv module stops at a value over 131,072 characters (a 10 MB cell) with csv.Error, which ended the
    whole import (a traceback from `leadhub import`). It is now its row's error, reported with its line, and the
    rows after it import."""
    long_text = "Proszę o ofertę. " * 7_000  # 119,000 characters: under the limit
    text = ("name,email,message\n"
            f"Anna Nowak,anna@budmax.pl,{long_text}\n"
            f"Piotr Zięba,piotr@hurtex.pl,{'x' * 10 * 2**20}\n"
            "Ola Zima,ola@zima.pl,Dzień dobry\n")
    summary = import_file(engine, write(tmp_path / "long.csv", text), workers=0).as_dict()
    assert summary["errors"] == [{"line": 3, "error": "not readable as CSV: field larger than field limit (131072)"}]
    assert summary["created"] == 2
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Anna Nowak", "Ola Zima"]
    assert sorted(len(m.text) for m in session.exec(select(Message)).all()) == [len("Dzień dobry"), len(long_text.strip())]


def test_a_spreadsheet_workbook_is_named_as_one(engine, tmp_path: Path) -> None:
    """An .xlsx renamed .csv (or given with --format csv) was read as UTF-16 text and refused for a header that
    names no contact column; `leadhub import leads.xlsx` said only that the format could not be told."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "leady.xlsx", "w") as workbook:
        workbook.writestr("xl/worksheets/sheet1.xml", "<sheetData><row><c><v>1</v></c></row></sheetData>" * 50)
    with pytest.raises(ValueError, match="leady.xlsx is a spreadsheet workbook"):
        import_file(engine, tmp_path / "leady.xlsx")
    renamed = write(tmp_path / "leady.csv", (tmp_path / "leady.xlsx").read_bytes())
    old_excel = write(tmp_path / "stare.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8)
    for path in (renamed, old_excel):
        summary = import_file(engine, path).as_dict()
        assert summary["errors"] == [{"line": 1, "error": "a spreadsheet workbook (.xlsx, .xls, .ods), not CSV text: "
                                      "save it from the spreadsheet in the format \"CSV UTF-8\" or \"Unicode text\" "
                                      "and import that"}]
        assert summary["notes"] == []


@pytest.mark.parametrize(("name", "file_format"), [("leady.csv.gz", None), ("leady.csv.gz", "csv"),
                                                   ("leady.jsonl.gz", "jsonl"), ("leady.csv", "csv")])
def test_a_gzip_compressed_file_is_named_as_one(engine, tmp_path: Path, name: str, file_format: str | None) -> None:
    """A compressed export (.csv.gz, .jsonl.gz; or one renamed .csv) was read as cp1250 text and refused for a
    header naming no contact column, or as JSONL whose every line was "not valid JSON"; `leadhub import
    leady.csv.gz` said only that the format could not be told."""
    import gzip

    inner = b"name,email\nAnna,anna@firma.pl\n" if "csv" in name else b'{"channel":"api","contact":{"email":"a@f.pl"}}\n'
    path = write(tmp_path / name, gzip.compress(inner * 50))
    if file_format is None:
        with pytest.raises(ValueError, match="leady.csv.gz is a gzip-compressed file: unpack it"):
            import_file(engine, path)
        return
    summary = import_file(engine, path, file_format=file_format).as_dict()
    assert summary["errors"] == [{"line": 1, "error": "a gzip-compressed file, not text: unpack it (gunzip, or "
                                  "an archive tool) and import the file inside"}]
    assert summary["notes"] == [] and summary["created"] == 0


def test_an_empty_csv_says_so(engine, tmp_path: Path) -> None:
    summary = import_file(engine, write(tmp_path / "empty.csv", "")).as_dict()
    assert summary["records"] == 0 and summary["notes"] == ["the file is empty: no header row, no records"]


POLISH_ROWS = "Łukasz;Wójcik;lukasz@budmax.pl;Zakład Usług Śląskich;Proszę o ofertę na dostawę żwiru\n" * 1
RUSSIAN_TEXT = "Екатерина Смирнова,e.smirnova@severtrans.ru,ООО Севертранс,Здравствуйте! Пришлите цену.\n"


@pytest.mark.parametrize(("sample", "expected"), [
    (b"name,email\nAnna,anna@firma.pl\n", "utf-8-sig"),                         # ASCII
    ("imię,email\nŁukasz Wójcik,l@budmax.pl\n".encode(), "utf-8-sig"),
    ("\ufeffname\nŁukasz\n".encode(), "utf-8-sig"),
    ("name\nŁukasz Wójcik\n".encode("utf-16"), "utf-16"),                      # Excel's "Unicode text"
    # UTF-32 with its byte order mark, whose little-endian one begins with UTF-16 LE's.
    ("name\nŁukasz Wójcik\n".encode("utf-32"), "utf-32"),
    (codecs.BOM_UTF32_BE + "name\nОльга\n".encode("utf-32-be"), "utf-32"),
    # UTF-16 without a byte order mark (SQL Server's bcp -w): its NULs; read as UTF-8 the file was refused.
    ("name\temail\nŁukasz Wójcik\tl@budmax.pl\n".encode("utf-16-le"), "utf-16-le"),
    ("name\temail\nОльга Смирнова\to@sever.ru\n".encode("utf-16-be"), "utf-16-be"),
    ("ФИО\tТелефон\nОльга Смирнова\t+7 495 123-45-67\n".encode("utf-16-le"), "utf-16-le"),
    (b"name,email\nAnna,anna@firma.pl\n" + b"\0" * 1000, "utf-8-sig"),  # NULs on both sides: padding, not UTF-16
    (("Imię;Nazwisko;E-mail;Firma;Wiadomość\n" + POLISH_ROWS * 20).encode("cp1250"), "cp1250"),
    (("name,email,company,text\n" + RUSSIAN_TEXT * 20).encode("cp1251"), "cp1251"),
    ("name\nŁukasz Wójcik\nZofia Dąbrowska\nAnna \xff\n".encode() , "utf-8-sig"),   # \xff is a character here
    ("name\nŁukasz Wójcik\nZofia Dąbrowska\n".encode() + b"Anna \xff\n", "utf-8-sig"),  # one broken row stays UTF-8
    ("name\nŁukasz Wójcik\nZofia Dąbrowska".encode()[:-1], "utf-8-sig"),        # a character cut at the end
    # Short files, where statistical detectors guess wildly (big5, shift_jis): one or two names.
    ("name,email\nAnna Żak,a@firma.pl\n".encode("cp1250"), "cp1250"),
    ("name,email\nŁukasz Wójcik,l@budmax.pl\n".encode("cp1250"), "cp1250"),
    ("name,email\nОльга,o@firma.ru\n".encode("cp1251"), "cp1251"),
    ("name\nІрина Шевченко\n".encode("cp1251"), "cp1251"),
    ("FROM;CONTENT\nŁukasz Wójcik;Dzień dobry, proszę o ofertę\n".encode("cp1250"), "cp1250"),
    # The same letters in Windows-1250 and -1252, a tie: the users' own Windows-1250 (--encoding says otherwise).
    ("name\nJürgen Müller;François Dupont\n".encode("cp1252"), "cp1250"),
    ("name\nMarta Wiśniewska;Piotr Kamiński;Paweł Łęcki\n".encode("cp1250"), "cp1250"),  # ś, ń, ł, ę: not -1252
    # Old Unix files: KOI8-R (whose letters read as Windows-1251 with the cases swapped) and ISO-8859-2 (ą, ś, ź
    # elsewhere than in Windows-1250).
    (("name,email,company,text\n" + RUSSIAN_TEXT * 3).encode("koi8_r"), "koi8_r"),
    ("name\nИВАН ПЕТРОВ\nОЛЬГА СМИРНОВА\n".encode("koi8_r"), "koi8_r"),   # all capitals: by the commoner letters
    ("name\nИВАН ПЕТРОВ\nОЛЬГА СМИРНОВА\n".encode("cp1251"), "cp1251"),
    ("name;city\nMarta Wiśniewska;Łódź\nZofia Dąbrowska;Świętochłowice\n".encode("iso8859_2"), "iso8859_2"),
])
def test_a_csv_file_encoding_is_told_from_its_bytes(sample: bytes, expected: str) -> None:
    from core.importer import detect_encoding

    assert detect_encoding(sample) == expected


def test_csv_saved_by_polish_excel_imports_with_its_letters(engine, session: Session, tmp_path: Path) -> None:
    """Excel on Polish Windows saves "CSV" as Windows-1250 with semicolons, first and last name apart, in
    Polish headers. Before, every row with a Polish letter was refused as "not UTF-8 text"."""
    text = ("Imię;Nazwisko;Adres e-mail;Nazwa firmy;Stanowisko;Nr telefonu;Wiadomość;Źródło\n"
            "Łukasz;Wójcik;lukasz@budmax.pl;Zakład Usług Śląskich;Kierownik zakupów;601 234 567;"
            "Proszę o ofertę na dostawę żwiru;targi\n"
            "Zofia;Dąbrowska;zofia@hurtex.pl;Hurtex;;;Czy macie rabaty?;strona\n")
    summary = import_file(engine, write(tmp_path / "kontakty.csv", text.encode("cp1250"))).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2
    assert summary["notes"] == ["read as cp1250 (not UTF-8); pass --encoding if that is wrong",
                                "columns not imported: źródło"]
    contacts = {c.display_name: c for c in session.exec(select(Contact)).all()}
    assert set(contacts) == {"Łukasz Wójcik", "Zofia Dąbrowska"}
    assert (contacts["Łukasz Wójcik"].company, contacts["Łukasz Wójcik"].title) == ("Zakład Usług Śląskich",
                                                                                     "Kierownik zakupów")
    texts = sorted(m.text for m in session.exec(select(Message)).all())
    assert texts == ["Czy macie rabaty?", "Proszę o ofertę na dostawę żwiru"]


def test_excel_unicode_text_export_imports(engine, session: Session, tmp_path: Path) -> None:
    """Excel's "Unicode text" is UTF-16 with a byte order mark and tabs between values."""
    text = ("Imię\tNazwisko\tE-mail\tTelefon\n"
            "Małgorzata\tZielińska\tm.zielinska@zielinska-design.pl\t+48 22 555 01 02\n"
            "Екатерина\tСмирнова\te.smirnova@severtrans.ru\t+7 495 123-45-67\n")
    summary = import_file(engine, write(tmp_path / "kontakty.txt", text.encode("utf-16"))).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2
    assert summary["notes"] == ["read as utf-16 (not UTF-8); pass --encoding if that is wrong"]
    assert sorted(c.display_name for c in session.exec(select(Contact)).all()) == ["Małgorzata Zielińska",
                                                                                   "Екатерина Смирнова"]


@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
def test_a_utf32_csv_with_its_byte_order_mark_imports(engine, session: Session, tmp_path: Path,
                                                     encoding: str) -> None:
    """UTF-32 LE's byte order mark (FF FE 00 00) begins with UTF-16 LE's (FF FE): such a file was read as UTF-16,
    its header then "n\0a\0…", and refused for naming no contact column (UTF-32 BE's was read as Windows-1251)."""
    text = "Imię;Nazwisko;E-mail\r\nŁukasz;Wójcik;l@budmax.pl\r\nОльга;Смирнова;o@sever.ru\r\n"
    data = "\ufeff".encode(encoding) + text.encode(encoding)
    summary = import_file(engine, write(tmp_path / "kontakty.csv", data)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2, summary
    assert summary["notes"] == ["read as utf-32 (not UTF-8); pass --encoding if that is wrong"]
    assert sorted(session.exec(select(Contact.display_name)).all()) == ["Łukasz Wójcik", "Ольга Смирнова"]


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
def test_jsonl_in_utf32_with_its_byte_order_mark_imports(engine, session: Session, tmp_path: Path, workers: int,
                                                         encoding: str) -> None:
    """As for CSV: a UTF-32 LE file was read as UTF-16 (each line then "not valid JSON"), a UTF-32 BE one as
    UTF-8."""
    lines = [json.dumps({"channel": "import", "contact": {"name": "Łukasz Wójcik", "email": "l@budmax.pl"}},
                        ensure_ascii=False), "{broken"]
    data = "\ufeff".encode(encoding) + "\n".join(lines).encode(encoding)
    summary = import_file(engine, write(tmp_path / "leads.jsonl", data), workers=workers).as_dict()
    assert summary["created"] == 1 and [e["line"] for e in summary["errors"]] == [2], summary
    assert session.exec(select(Contact.display_name)).all() == ["Łukasz Wójcik"]


def test_a_unicode_text_export_cut_at_an_odd_byte_keeps_its_rows(engine, session: Session, tmp_path: Path) -> None:
    """A UTF-16 file cut short by one byte (a copy or download that stopped) ends in half a character, which
    Python's decoder refused for the whole file: "'utf-16-le' codec can't decode byte 0x0a … truncated data",
    and not one row imported. The line with the half character is now the one reported."""
    text = "Imię\tE-mail\r\n" + "".join(f"Anna Nowak {i}\tanna{i}@budmax.pl\r\n" for i in range(300))
    summary = import_file(engine, write(tmp_path / "kontakty.txt", text.encode("utf-16")[:-1])).as_dict()
    assert summary["created"] == 300
    assert summary["errors"] == [{"line": 302, "error": "not UTF-16 text"}]


def test_csv_in_russian_windows_encoding_and_headers(engine, session: Session, tmp_path: Path) -> None:
    text = ("ФИО,Телефон,Компания,Должность,Сообщение\n"
            "Екатерина Смирнова,+7 495 123-45-67,ООО Севертранс,Директор по закупкам,Пришлите цену на 15 мест\n"
            "Алексей Иванов,+7 812 555-01-02,Технопром,,Нужна демонстрация\n")
    summary = import_file(engine, write(tmp_path / "lidy.csv", text.encode("cp1251"))).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2
    assert summary["notes"] == ["read as cp1251 (not UTF-8); pass --encoding if that is wrong"]
    names = sorted((c.display_name, c.company, c.title) for c in session.exec(select(Contact)).all())
    assert names == [("Алексей Иванов", "Технопром", ""), ("Екатерина Смирнова", "ООО Севертранс",
                                                              "Директор по закупкам")]


def test_a_broken_row_in_a_utf8_csv_is_reported_and_the_rest_keep_their_letters(engine, session: Session,
                                                                                tmp_path: Path) -> None:
    data = ("name,email\nŁukasz Wójcik,lukasz@budmax.pl\nZofia Dąbrowska,zofia@hurtex.pl\n".encode()
            + b"Anna \xb3ata,anna@x.pl\n")
    summary = import_file(engine, write(tmp_path / "mixed.csv", data)).as_dict()
    assert summary["notes"] == [] and summary["created"] == 2
    assert summary["errors"] == [{"line": 4, "error": "not UTF-8 text"}]
    assert sorted(c.display_name for c in session.exec(select(Contact)).all()) == ["Zofia Dąbrowska",
                                                                                   "Łukasz Wójcik"]


@pytest.mark.parametrize(("cell", "stored"), [
    ("2026-12-07T10:15:00+01:00", "2026-12-07 09:15:00"),
    ("2026-12-07 10:15", "2026-12-07 10:15:00"),
    ("07.12.2026", "2026-12-07 00:00:00"),
    ("7.12.2026 10:15", "2026-12-07 10:15:00"),
    ("07.12.2026 10:15:30", "2026-12-07 10:15:30"),
    ("2026-12-07 10:15:30.5+01", "2026-12-07 09:15:30"),  # a PostgreSQL-backed tool's export: hours only
    ("31.02.2026", None),          # no such day: the line is reported
    ("12/07/2026", "2026-12-07 00:00:00"),  # month or day first: nothing in the file says, its English header does
    ("13/07/2026", "2026-07-13 00:00:00"),  # the day first, as only it can be
    # Numbers: ISO 8601's compact form; a Unix time; shorter ones (a year, Excel's serial for 07.12.2026) were read
    # as seconds since 1970 and stored as a day in January 1970.
    ("20261207", "2026-12-07 00:00:00"),
    ("1796638500", "2026-12-07 10:15:00"),
    ("1796638500000", "2026-12-07 10:15:00"),  # in milliseconds
    ("179663850000000000", None),  # in nanoseconds: not guessed
    ("2026", None),
    ("202612", None),
    ("46363", None),
    ("46363,4375", None),
])
def test_csv_dates_as_polish_and_russian_spreadsheets_write_them(engine, session: Session, tmp_path: Path,
                                                                cell: str, stored: str | None) -> None:
    path = write(tmp_path / "dates.csv", f"name;email;date;message\nAnna Nowak;anna@firma.pl;{cell};Dzień dobry\n")
    summary = import_file(engine, path).as_dict()
    if stored is None:
        assert summary["created"] == 0 and [e["line"] for e in summary["errors"]] == [2]
        assert "sent_at" in summary["errors"][0]["error"]
        return
    assert summary["errors"] == []
    assert session.exec(select(Message)).one().sent_at.strftime("%Y-%m-%d %H:%M:%S") == stored


@pytest.mark.parametrize("workers", [0, 1])
def test_a_jsonl_sent_at_that_is_a_year_is_its_lines_error(engine, session: Session, tmp_path: Path,
                                                          workers: int) -> None:
    """"sent_at": 2026 was read as Unix seconds and stored as a message of 1970-01-01 00:33:46."""
    lines = [json.dumps({"channel": "import", "contact": {"email": f"{n}@firma.pl"},
                         "message": {"external_id": n, "sent_at": sent_at, "text": "hi"}})
             for n, sent_at in [("a", 1796638500000), ("b", 2026), ("c", "2026-12-07T10:15:00Z")]]
    summary = import_file(engine, write(tmp_path / "in.jsonl", "\n".join(lines)), workers=workers).as_dict()
    assert [(e["line"], "message.sent_at" in e["error"]) for e in summary["errors"]] == [(2, True)]
    assert [m.strftime("%Y-%m-%d %H:%M") for m in session.exec(select(Message.sent_at)).all()] == [
        "2026-12-07 10:15", "2026-12-07 10:15"]


# Codecs Python knows that turn bytes into bytes, not text: --encoding rot13 was a LookupError from deep in the
# reader, a traceback from `leadhub import`.
@pytest.mark.parametrize("wrong", ["polish", "rot13", "base64", "hex"])
def test_csv_encoding_can_be_named_and_a_wrong_name_is_a_clear_error(engine, session: Session,
                                                                      tmp_path: Path, wrong: str) -> None:
    path = write(tmp_path / "x.csv", "name,email\nŁukasz Wójcik,l@budmax.pl\n".encode("cp1250"))
    with pytest.raises(ValueError, match="unknown encoding"):
        import_file(engine, path, encoding=wrong)
    summary = import_file(engine, path, encoding="cp1250").as_dict()
    assert summary["created"] == 1 and summary["notes"] == []
    assert session.exec(select(Contact)).one().display_name == "Łukasz Wójcik"


@pytest.mark.parametrize(("cache_max", "max_candidates"), [(None, None), (150, None), (None, 4)])
def test_what_an_import_keeps_across_batches_changes_no_suggestion(engine, session: Session, tmp_path: Path,
                                                                  monkeypatch, cache_max: int | None,
                                                                  max_candidates: int | None) -> None:
    """An import keeps the duplicate search's block index (keys' members and their names) and candidate views
    across its batches, starting them afresh when full (cache_max). The same file imported with a fresh index
    and no views per batch opens exactly the same suggestions, scores and reasons; also when blocks are full
    (max_candidates: then which members are the newest matters)."""
    from bench.import_bench import generate
    from core import batch, identity
    from core.db import make_engine
    from core.models import DuplicateSuggestion
    from webapp.cli import upgrade_database

    data = tmp_path / "people.jsonl"
    generate(data, 1500, seed=11)  # a third are a known person again, by email or phone, names re-ordered

    def suggestions(target: object) -> set[tuple]:
        with Session(target) as s:
            return {(d.contact_a_id, d.contact_b_id, round(d.score, 6), tuple(sorted(d.reasons)))
                    for d in s.exec(select(DuplicateSuggestion)).all()}

    kept: list[tuple[int, int]] = []
    real = identity.suggest_pairs_for
    if cache_max:
        monkeypatch.setattr(identity, "VIEW_CACHE_MAX", cache_max)
        monkeypatch.setattr(batch, "BLOCK_INDEX_MAX", cache_max)
    if max_candidates:
        monkeypatch.setattr(identity, "MAX_CANDIDATES", max_candidates)
        identity._members_query.cache_clear()  # its SQL has the cap written in

    def counting(session_, keys, **options):  # noqa: ANN001, ANN003, ANN202
        kept.append((len(options["view_cache"]), options["index"].size()))
        return real(session_, keys, **options)

    monkeypatch.setattr("core.batch.suggest_pairs_for", counting)
    import_file(engine, data, batch_size=100, workers=0)
    with_cache = suggestions(engine)
    assert max(views for views, _ in kept) > 0 and max(size for _, size in kept) > 100  # later batches reused them
    if cache_max:  # and both started afresh now and then
        for column in (0, 1):
            assert any(later[column] < earlier[column] for earlier, later in zip(kept, kept[1:], strict=False))

    plain_db = tmp_path / "plain.db"
    upgrade_database(f"sqlite:///{plain_db}")
    plain = make_engine(f"sqlite:///{plain_db}")
    monkeypatch.setattr("core.batch.suggest_pairs_for",
                        lambda s, keys, **options: real(s, keys, **{**options, "view_cache": None, "index": None}))
    import_file(plain, data, batch_size=100, workers=0)
    assert with_cache == suggestions(plain) and len(with_cache) >= 5
    plain.dispose()

    # And the same again with the search in a helper process (it keeps the index and views there).
    monkeypatch.setattr("core.batch.suggest_pairs_for", real)
    helped_db = tmp_path / "helped.db"
    upgrade_database(f"sqlite:///{helped_db}")
    helped = make_engine(f"sqlite:///{helped_db}")
    import_file(helped, data, batch_size=100, workers=1)
    assert suggestions(helped) == with_cache
    helped.dispose()
    identity._members_query.cache_clear()


def test_a_failing_search_in_the_helper_is_done_here(engine, tmp_path: Path, monkeypatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """If the helper's duplicate search fails (every other batch here), the importer searches itself, in the
    next batch's transaction: no suggestion an import without helpers makes is missing, with the same score (a
    pair with a contact of that next batch may be found from both sides then, so it can list both wordings of
    a reason)."""
    from bench.import_bench import generate
    from core import importer
    from core.db import make_engine
    from core.models import DuplicateSuggestion
    from webapp.cli import upgrade_database

    data = tmp_path / "people.jsonl"
    generate(data, 1200, seed=5)
    calls = {"n": 0}
    real = importer._search_remotely

    def flaky(*args):  # noqa: ANN002, ANN202 - runs in the (forked) helper
        calls["n"] += 1
        if calls["n"] % 2:
            raise RuntimeError("helper bug")
        return real(*args)

    monkeypatch.setattr(importer, "_search_remotely", flaky)
    with caplog.at_level("ERROR", logger="core.importer"):
        import_file(engine, data, batch_size=100, workers=1)
    assert any("searching here" in r.getMessage() for r in caplog.records)

    def suggestions(target: object) -> set[tuple]:
        with Session(target) as s:
            return {(d.contact_a_id, d.contact_b_id, round(d.score, 6), tuple(sorted(d.reasons)))
                    for d in s.exec(select(DuplicateSuggestion)).all()}

    upgrade_database(f"sqlite:///{tmp_path / 'here.db'}")
    here = make_engine(f"sqlite:///{tmp_path / 'here.db'}")
    import_file(here, data, batch_size=100, workers=0)
    helped = {(a, b): (score, set(reasons)) for a, b, score, reasons in suggestions(engine)}
    expected = {(a, b): (score, set(reasons)) for a, b, score, reasons in suggestions(here)}
    assert helped.keys() == expected.keys() and len(expected) >= 5
    for pair, (score, reasons) in expected.items():
        assert helped[pair][0] == score and helped[pair][1] >= reasons, pair
    here.dispose()


def test_an_import_that_dies_leaves_its_pending_search_to_the_next_one(engine, tmp_path: Path, monkeypatch) -> None:
    """The helper's search of a committed batch is written with the next batch. An import that dies in between
    leaves the batch's contacts in pending_searches, and the next import (or the periodic task) searches them:
    the same suggestions as an import of those lines without helpers. A run that finishes leaves nothing."""
    from bench.import_bench import generate
    from core import identity, importer
    from core.db import make_engine
    from core.models import DuplicateSuggestion, PendingSearch
    from webapp.cli import upgrade_database

    data = tmp_path / "people.jsonl"
    generate(data, 1500, seed=11)
    lines = data.read_bytes().splitlines(keepends=True)
    for number, (name, email) in ((1250, ("Tomasz Zieliński", "tz@one.example")),
                                  (1260, ("Tomasz Zielinski", "tomasz@two.example"))):  # in the 13th batch
        lines[number - 1] = (json.dumps({"channel": "import", "contact": {"name": name, "email": email,
                                                                          "company": "Budmax"}}) + "\n").encode()
    write(data, b"".join(lines))
    first_1300 = write(tmp_path / "first.jsonl", b"".join(lines[:1300]))

    def suggestions(target: object) -> set[tuple]:
        with Session(target) as s:
            return {(d.contact_a_id, d.contact_b_id, round(d.score, 6), tuple(sorted(d.reasons)))
                    for d in s.exec(select(DuplicateSuggestion)).all()}

    real = importer._DeferredSearch.before_commit
    calls = {"n": 0}

    def dies_at_the_14th_batch(self):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 14:  # batches 1-13 are committed, the 13th's search not written
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(importer._DeferredSearch, "before_commit", dies_at_the_14th_batch)
    with pytest.raises(KeyboardInterrupt):
        import_file(engine, data, batch_size=100, workers=1)
    monkeypatch.setattr(importer._DeferredSearch, "before_commit", real)
    with Session(engine) as s:
        assert len(s.exec(select(PendingSearch)).all()) > 50
    assert not any("Zieli" in " ".join(reasons) for *_, reasons in suggestions(engine))

    monkeypatch.setattr(identity, "PENDING_SEARCH_MAX_AGE", __import__("datetime").timedelta(0))
    import_file(engine, write(tmp_path / "nothing.jsonl", ""), workers=0)  # the next import searches them first
    with Session(engine) as s:
        assert s.exec(select(PendingSearch)).all() == []

    upgrade_database(f"sqlite:///{tmp_path / 'here.db'}")
    here = make_engine(f"sqlite:///{tmp_path / 'here.db'}")
    import_file(here, first_1300, batch_size=100, workers=0)
    assert suggestions(engine) == suggestions(here)
    assert any("Zieli" in " ".join(reasons) for *_, reasons in suggestions(here))
    import_file(here, data, batch_size=100, workers=1)  # to the end: nothing left pending
    with Session(here) as s:
        assert s.exec(select(PendingSearch)).all() == []
    here.dispose()


def test_a_contact_another_writer_files_between_batches_is_a_candidate(engine, session: Session,
                                                                      tmp_path: Path) -> None:
    """The block index an import keeps catches up with contacts other writers made meanwhile (a form submitted
    during the import): a later look-alike in the file is compared with them."""
    from core.batch import BLOCK_INDEX_KEY, ingest_many
    from core.ingest import ingest
    from core.models import DuplicateSuggestion
    from core.schemas import InboundRecord

    def record(name: str, email: str, company: str = "Budmax") -> InboundRecord:
        return InboundRecord.model_validate({"channel": "import", "contact": {"name": name, "email": email,
                                                                              "company": company}})

    with Session(engine, expire_on_commit=False) as bulk, Session(engine) as other:
        # Both blocking keys of Tomasz Zieliński (p:tmsz/z, p:zlns/t) are read by this first batch.
        ingest_many(bulk, [record("Tomasz Zawada", "tz@one.example"), record("Teresa Zielińska", "tz@two.example")])
        bulk.commit()
        assert BLOCK_INDEX_KEY in bulk.info
        ingest(other, record("Tomasz Zieliński", "tz@three.example"))  # not this run's
        other.commit()
        ingest_many(bulk, [record("Tomasz Zielinski", "tomasz@four.example")])
        bulk.commit()
    suggestion = session.exec(select(DuplicateSuggestion)).one()
    assert any("Zieliński" in reason for reason in suggestion.reasons), suggestion.reasons


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


def test_bulk_settings_are_the_connections_own_again_afterwards(engine) -> None:
    """An import's connection gets a bigger page cache and rarer checkpoints on SQLite; it goes back to the pool
    with its own values (also when the import fails)."""
    from core.db import BULK_SQLITE_PRAGMAS, bulk_settings

    def pragmas(connection) -> dict:  # noqa: ANN001
        return {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in BULK_SQLITE_PRAGMAS}

    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with bulk_settings(connection):
                pass  # nothing to set elsewhere
            return
        before = pragmas(connection)
        connection.rollback()
        with pytest.raises(RuntimeError), bulk_settings(connection):
            assert pragmas(connection) == BULK_SQLITE_PRAGMAS
            raise RuntimeError("import failed")
        assert pragmas(connection) == before != BULK_SQLITE_PRAGMAS


def test_the_helper_derives_message_facts_only_while_it_keeps_up(engine, tmp_path: Path) -> None:
    """A helper that finished the last search before the next batch needed it also derives each message's HTML
    and signals; one the writer had to wait for (the searches of a big store) is given no more work."""
    import threading
    import time
    from concurrent.futures import Future

    from core import importer
    from core.ingest import IngestOptions

    lines = [(n, json.dumps({"channel": "import", "contact": {"email": f"o{n}@firma.pl"},
                             "message": {"external_id": f"m{n}", "text": "proszę o ofertę", "html": "<b>x</b>"}}
                            ).encode(), None) for n in range(1, 5)]
    with importer.helper_pool(1) as pool, Session(engine) as session:
        search = importer._DeferredSearch(session, pool)
        assert search.helper_has_time()
        derived = [r.message._derived for _, r, _, _ in importer.prepared_lines(
            lines, IngestOptions(), pool=pool, derive=search.helper_has_time)]
        assert derived == [{"html": "<b>x</b>", "signals": (1, "pl")}] * 4

        slow: Future = Future()
        threading.Timer(0.2, slow.set_result, [[]]).start()  # pairs that come 0.2 s after they are asked for
        search.pending = (slow, [])
        search.before_commit()
        assert not search.helper_has_time()
        derived = [r.message._derived for _, r, _, _ in importer.prepared_lines(
            lines, IngestOptions(), pool=pool, derive=search.helper_has_time)]
        assert derived == [{}] * 4

        ready: Future = Future()
        ready.set_result([])
        search.pending = (ready, [])
        time.sleep(0.01)
        search.before_commit()
        assert search.helper_has_time()
        search.close()


def test_a_writer_committing_during_a_batch_waits_instead_of_failing_the_import(engine, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """`leadhub import` beside a running server: an API post commits while a batch is under way. On SQLite a
    batch that had only read when that happened could not write any more ("database is locked" at once,
    whatever the busy timeout) and the import died; a batch takes the write lock when it begins, and the
    post waits for the batch's commit. Both land."""
    from core import importer
    from tests.racing import commit_during, writers_stored

    posts = commit_during(monkeypatch, engine, importer, "ingest_many")
    lines = [json.dumps({"channel": "import", "contact": {"name": f"Osoba {n}", "email": f"o{n}@firma.pl"}})
             for n in range(250)]
    summary = import_file(engine, write(tmp_path / "people.jsonl", "\n".join(lines) + "\n"), batch_size=100,
                          workers=0)
    for post in posts:
        post.join()
    assert summary.records == 250 and len(posts) == 3
    with Session(engine) as session:
        assert len(session.exec(select(Contact)).all()) == 250
    assert writers_stored(engine) == 3


def test_csv_rows_without_message_ids_import_once(engine, session: Session, tmp_path: Path) -> None:
    """An export of inquiries (name, e-mail, company, message) seldom has message ids: each row's message gets
    one from what the row says, so the file imports, and importing it again adds nothing."""
    text = ("name,email,company,message\n"
            "Anna Nowak,anna@budmax.pl,Budmax,Proszę o ofertę\n"
            "Anna Nowak,anna@budmax.pl,Budmax,A jaki jest termin dostawy?\n"
            "Piotr Zieliński,piotr@hurtex.pl,,Proszę o kontakt\n"
            "Piotr Zieliński,piotr@hurtex.pl,,Proszę o kontakt\n")  # the same row twice: one message
    path = write(tmp_path / "inquiries.csv", text)
    first = import_file(engine, path).as_dict()
    assert first["errors"] == [] and first["created"] == 3 and first["already_known"] == 1
    again = import_file(engine, path).as_dict()
    assert again["errors"] == [] and again["created"] == 0 and again["already_known"] == 4
    texts = sorted(m.text for m in session.exec(select(Message)).all())
    assert texts == ["A jaki jest termin dostawy?", "Proszę o kontakt", "Proszę o ofertę"]
    assert len(session.exec(select(Contact)).all()) == 2


def test_a_csv_cell_with_two_phone_numbers_gives_the_person_both(engine, session: Session, tmp_path: Path) -> None:
    """Spreadsheets list a person's numbers in one cell: the row was refused ("too long to be a phone number")."""
    text = "name;phone\nAnna Nowak;601 234 567 / 602 345 678\nAnna Nowak;+48 602 345 678\n"
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1 and summary["already_known"] == 1
    identities = session.exec(select(Identity.value).where(Identity.kind == "phone")).all()
    assert sorted(identities) == ["+48601234567", "+48602345678"]


def test_a_csv_cell_with_two_addresses_gives_the_person_both(engine, session: Session, tmp_path: Path) -> None:
    """CRM exports list a person's addresses in one cell ("a, b"): the row was refused as one invalid address.
    Both are the person's, so a later row from the second one is the same person."""
    text = ('name,email\n"Anna Nowak","anna@budmax.pl, a.nowak@gmail.com"\n'
            "Anna Nowak,anowak@gmail.com\n"
            "Piotr Zieliński,\u200bpiotr@hurtex.pl\n"  # a zero-width space copied from a web page
            "Piotr Zieliński,piotr@hurtex.pl\n")
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2 and summary["already_known"] == 2
    identities = session.exec(select(Identity.value).where(Identity.kind == "email")).all()
    assert sorted(identities) == ["anna@budmax.pl", "anowak@gmail.com", "piotr@hurtex.pl"]
    assert len(session.exec(select(Contact)).all()) == 2


# Exports as the tools write them (header and one row): a person's addresses and numbers in several columns.
CRM_EXPORTS = {
    "Google Contacts": ("Name,Given Name,Family Name,Organization 1 - Name,Organization 1 - Title,E-mail 1 - Type,"
                        "E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,"
                        "Phone 2 - Type,Phone 2 - Value\n"
                        "Anna Nowak,Anna,Nowak,Budmax,CEO,* Work,anna@budmax.pl,Home,anna.nowak@gmail.com,Mobile,"
                        "601 234 567,Work,22 123 45 67\n"),
    "Outlook": ("Title,First Name,Middle Name,Last Name,Company,Job Title,Business Phone,Mobile Phone,"
                "E-mail Address,E-mail Type,E-mail 2 Address\n"
                "Mrs.,Anna,,Nowak,Budmax,CEO,22 123 45 67,601 234 567,anna@budmax.pl,SMTP,anna.nowak@gmail.com\n"),
    "HubSpot": ("Record ID,First Name,Last Name,Email,Additional email addresses,Phone Number,Mobile Phone Number,"
                "Company Name,Job Title,Email Domain,Marketing emails opened\n"
                "123,Anna,Nowak,anna@budmax.pl,anna.nowak@gmail.com,22 123 45 67,601 234 567,Budmax,CEO,budmax.pl,3\n"),
    "Salesforce": ("First Name,Last Name,Title,Account Name,Email,Phone,Mobile,Email Opt Out\n"
                   "Anna,Nowak,CEO,Budmax,anna@budmax.pl,22 123 45 67,601 234 567,0\n"),
    "Pipedrive": ("Person - Name,Person - Organization,Person - Email - Work,Person - Email - Home,"
                  "Person - Phone - Work,Person - Phone - Mobile,Person - Label\n"
                  "Anna Nowak,Budmax,anna@budmax.pl,anna.nowak@gmail.com,22 123 45 67,601 234 567,Hot lead\n"),
    "Bitrix24": ("Имя;Фамилия;Отчество;Рабочий телефон;Мобильный телефон;Рабочий e-mail;Частный e-mail;Компания;"
                 "Должность\n"
                 "Анна;Новак;Ивановна;22 123 45 67;601 234 567;anna@budmax.pl;anna.nowak@gmail.com;Budmax;CEO\n"),
    "amoCRM": ("Полное имя контакта,Компания,Рабочий email,Личный email,Рабочий телефон,Мобильный телефон,"
               "Должность (контакт)\n"
               "Анна Новак,Budmax,anna@budmax.pl,anna.nowak@gmail.com,22 123 45 67,601 234 567,CEO\n"),
    "Russian spreadsheet": ("Контактное лицо;Название компании;Электронный адрес;Email адрес;Номер телефона;Сотовый;"
                            "Должность\n"
                            "Анна Новак;Budmax;anna@budmax.pl;anna.nowak@gmail.com;22 123 45 67;601 234 567;CEO\n"),
    "Polish sheet, other headers": ("Osoba kontaktowa;Organizacja;E-mail kontaktowy;Adres e-mail 2;Numer telefonu;"
                                    "Telefon komórkowy;Stanowisko\n"
                                    "Anna Nowak;Budmax;anna@budmax.pl;anna.nowak@gmail.com;22 123 45 67;601 234 567;CEO\n"),
    "Polish spreadsheet": ("Imię;Nazwisko;E-mail;Adres e-mail 2;Telefon;Telefon komórkowy;Firma;Stanowisko\n"
                           "Anna;Nowak;anna@budmax.pl;anna.nowak@gmail.com;22 123 45 67;601 234 567;Budmax;CEO\n"),
}


@pytest.mark.parametrize("export", sorted(CRM_EXPORTS))
def test_crm_and_address_book_exports_give_every_address_and_number(engine, session: Session, tmp_path: Path,
                                                                    export: str) -> None:
    """Each export names its columns its own way and lists a person's addresses and numbers in several: all of
    them are the person's. Before, the second address or number was left out ("Mobile" and "Phone" both read as
    the phone column, the last one winning), and an Outlook or Google file lost its e-mail columns altogether."""
    summary = import_file(engine, write(tmp_path / "export.csv", CRM_EXPORTS[export])).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1, summary
    contact = session.exec(select(Contact)).one()
    assert contact.company == "Budmax" and contact.title == ("" if export == "Pipedrive" else "CEO")  # (it has none)
    identities = sorted((i.kind, i.value) for i in session.exec(select(Identity)).all())
    second_address = [] if export == "Salesforce" else [("email", "annanowak@gmail.com")]  # (one e-mail field)
    assert identities == [("email", "anna@budmax.pl"), *second_address,
                          ("phone", "+48221234567"), ("phone", "+48601234567")]


# The exports of CRMs, address books and lead tools (header and one row), each header as seen in a public repository
# or the tool's documentation (core.importer.COLUMN_ALIASES names each source), and what the row must give: the
# person's name, company, title, identities, the message's text and time (None: no message).
ANNA = [("email", "anna@budmax.pl"), ("phone", "+48601234567")]
ANNA_ALL = [("email", "anna@budmax.pl"), ("email", "annanowak@gmail.com"), ("phone", "+48221234567"),
            ("phone", "+48601234567")]
ANNA_LINKEDIN = ("linkedin", "linkedin.com/in/anna-nowak")
EXPORT_SAMPLES = {
    # Salesforce's Leads report (its "Company / Account"); a second one whose "Create Date" is in the US order. A
    # creation date without notes makes no message (test_a_crm_creation_date_alone_makes_no_message).
    "Salesforce leads": ("Lead Owner,First Name,Last Name,Title,Company / Account,Lead Source,Rating,Street,Email,"
                         "Mobile\nJan Kowalski,Anna,Nowak,CEO,Budmax,Web,Hot,ul. Prosta 1,anna@budmax.pl,601 234 567\n",
                         ("Anna Nowak", "Budmax", "CEO", ANNA, None, None)),
    "Salesforce leads, created": (
        "Lead ID,Lead Owner: Manager,Lead Owner,First Name,Last Name,Email,Lead Status,Last Activity,"
        "Last Activity Date,Phone,Primary Campaign,Campaign Channel,Create Date,Location Friendly Name\n"
        "L001,Mgr,Owner,Anna,Nowak,anna@budmax.pl,Qualified,,1/5/2026,601 234 567,Direct Mail,Direct Mail,"
        "12/27/2025,Warsaw\n", ("Anna Nowak", "", "", ANNA, None, None)),
    "HubSpot": ("Record ID,First Name,Last Name,Email,Phone Number,Associated Company,Job Title,Create Date,"
                "Last Activity Date,Lead Status\n123,Anna,Nowak,anna@budmax.pl,601 234 567,Budmax,CEO,"
                "2025-12-27 14:03,2026-01-05 10:00,New\n", ("Anna Nowak", "Budmax", "CEO", ANNA, None,
                                                              None)),
    "Zoho CRM leads": ("Record Id,Lead Owner,Company,First Name,Last Name,Designation,Email,Secondary Email,Phone,"
                       "Mobile,Created Time,Modified Time,Description\nzcrm_1,Jan,Budmax,Anna,Nowak,CEO,"
                       "anna@budmax.pl,anna.nowak@gmail.com,22 123 45 67,601 234 567,2025-12-27 14:03:00,"
                       "2026-01-05 10:00:00,Proszę o ofertę\n",
                       ("Anna Nowak", "Budmax", "CEO", ANNA_ALL, "Proszę o ofertę", "2025-12-27 14:03:00")),
    "Pipedrive": ("Person - Name,Person - Title,Person - Organization,Person - Email - Work,Person - Phone - Mobile,"
                  "Person - Person created\nAnna Nowak,CEO,Budmax,anna@budmax.pl,601 234 567,2025-12-27 14:03:00\n",
                  ("Anna Nowak", "Budmax", "CEO", ANNA, None, None)),
    # Apollo: the corporate switchboard is no one's own number.
    "Apollo": ("First Name,Last Name,Title,Company Name,Email,Email Status,Work Direct Phone,Corporate Phone,"
               "Mobile Phone,Person Linkedin Url\nAnna,Nowak,CEO,Budmax,anna@budmax.pl,Verified,22 123 45 67,"
               "22 100 00 00,601 234 567,https://www.linkedin.com/in/anna-nowak\n",
               ("Anna Nowak", "Budmax", "CEO", [*ANNA_ALL[:1], ANNA_LINKEDIN, *ANNA_ALL[2:]], None, None)),
    # A LinkedIn Sales Navigator lead list as Evaboot exports it: the public profile is the one identity.
    "Sales Navigator (Evaboot)": (
        "First Name,Last Name,Current Job,Company Name,Linkedin URL Public,Sales Navigator URL,Email\n"
        "Anna,Nowak,CEO,Budmax,https://www.linkedin.com/in/anna-nowak,https://www.linkedin.com/sales/lead/ACwAA1,\n",
        ("Anna Nowak", "Budmax", "CEO", [ANNA_LINKEDIN], None, None)),
    # amoCRM's deals with their contacts: both notes, the deal's creation (not its edit) as the time.
    "amoCRM": ("ID,Название сделки,Бюджет,Ответственный,Дата создания сделки,Кем создана сделка,Дата редактирования,"
               "Теги,Примечание,Примечание 2,Этап сделки,Полное имя контакта,Компания контакта,Рабочий телефон,"
               "Мобильный телефон,Рабочий email,Личный email,Должность\n101,Сделка #101,5000,Иван,"
               "12.03.2025 14:30:00,Иван,13.03.2025 09:00:00,сайт,Просит счёт,Перезвонить в пятницу,"
               "Первичный контакт,Анна Новак,Budmax,22 123 45 67,601 234 567,anna@budmax.pl,anna.nowak@gmail.com,CEO\n",
               ("Анна Новак", "Budmax", "CEO", ANNA_ALL, "Просит счёт\n\nПерезвонить в пятницу",
                "2025-03-12 14:30:00")),
    # Bitrix24's leads: the parts keep the patronymic that "Имя, Фамилия" leaves out; a fax is no one's phone.
    "Bitrix24 leads": ("ID;Название лида;Имя;Фамилия;Отчество;Имя, Фамилия;Рабочий телефон;Мобильный телефон;"
                       "Номер факса;Телефон для рассылок;Рабочий e-mail;E-mail для рассылок;Название компании;"
                       "Должность;Комментарий;Дата создания\n7;Заявка с сайта;Анна;Новак;Ивановна;Анна Новак;"
                       "22 123 45 67;;22 999 99 99;601 234 567;anna@budmax.pl;anna.nowak@gmail.com;Budmax;CEO;"
                       "Нужен счёт;12.03.2025 14.30\n",
                       ("Анна Ивановна Новак", "Budmax", "CEO", ANNA_ALL, "Нужен счёт", "2025-03-12 14:30:00")),
    "Bitrix24 leads, one name column": (
        "ID;Название лида;Имя;Фамилия;Имя, Фамилия;Мобильный телефон;Частный e-mail\n"
        "8;Звонок;;;Анна Новак;601 234 567;anna@budmax.pl\n", ("Анна Новак", "", "", ANNA, None, None)),
    "Bitrix24 in Polish": ("Imię;Nazwisko;E-mail;Telefon komórkowy;Nazwa firmy;Stanowisko;Uwagi;Data utworzenia\n"
                           "Anna;Nowak;anna@budmax.pl;601 234 567;Budmax;CEO;Oddzwonić;12.03.2025 14:30:00\n",
                           ("Anna Nowak", "Budmax", "CEO", ANNA, "Oddzwonić", "2025-03-12 14:30:00")),
    # Google Contacts' export since 2024 ("First Name", "Organization Name", "E-mail 1 - Label") with its notes.
    "Google Contacts": ("First Name,Middle Name,Last Name,Organization Name,Organization Title,Notes,Labels,"
                        "E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value\n"
                        "Anna,,Nowak,Budmax,CEO,Met at the fair,* myContacts,Work,anna@budmax.pl,Mobile,601 234 567\n",
                        ("Anna Nowak", "Budmax", "CEO", ANNA, "Met at the fair", None)),
    "Outlook": ("First Name,Middle Name,Last Name,Title,Company,Job Title,Business Phone,Mobile Phone,E-mail Address,"
                "E-mail 2 Address,Birthday,Notes\nAnna,,Nowak,Mrs.,Budmax,CEO,22 123 45 67,601 234 567,"
                "anna@budmax.pl,anna.nowak@gmail.com,1/2/1980,\"Wants a quote,\nby Friday\"\n",
                ("Anna Nowak", "Budmax", "CEO", ANNA_ALL, "Wants a quote,\nby Friday", None)),
}


@pytest.mark.parametrize("export", sorted(EXPORT_SAMPLES))
def test_an_export_gives_the_persons_name_identities_notes_and_creation_time(engine, session: Session,
                                                                              tmp_path: Path, export: str) -> None:
    """Before, these columns were "not imported": Salesforce's company ("Company / Account"), Zoho's title and
    second address ("Designation", "Secondary Email"), Apollo's direct line, the public profile of a Sales
    Navigator list (its every row then refused, "no email, phone …"), notes (Notes, Description, Примечание,
    Комментарий, Uwagi) and the creation of the lead (Create Date, Created Time, Дата создания сделки)."""
    text, (name, company, title, identities, message_text, sent_at) = EXPORT_SAMPLES[export]
    summary = import_file(engine, write(tmp_path / "export.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1, summary
    contact = session.exec(select(Contact)).one()
    assert (contact.display_name, contact.company, contact.title) == (name, company, title)
    assert sorted((i.kind, i.value) for i in session.exec(select(Identity)).all()) == identities
    messages = session.exec(select(Message)).all()
    if message_text is None:
        assert messages == []
    else:
        [message] = messages
        assert message.text == message_text
        if sent_at is not None:  # (without one, ingest gives the message the time it came)
            assert str(message.sent_at.replace(tzinfo=None)) == sent_at


def test_a_header_naming_no_column_that_identifies_a_person_is_one_error(engine, tmp_path: Path) -> None:
    """A file with names and companies but no e-mail, phone or profile (a Salesforce report without its Email
    column, a Sales Navigator list without a profile column) had every row refused, one error a row."""
    text = "First Name,Last Name,Company / Account\n" + "".join(f"Anna,Nowak {i},Budmax\n" for i in range(50))
    summary = import_file(engine, write(tmp_path / "leads.csv", text)).as_dict()
    assert summary["errors"] == [{"line": 1, "error": "header row names no column to identify a person by (email, "
                                  "phone, linkedin_url or external_user_id, or a name for one the README lists); "
                                  "it names 'First Name', 'Last Name', 'Company / Account'"}]
    assert summary["created"] == 0 and summary["skipped"] == 1


def test_columns_that_only_mention_an_address_are_not_addresses(engine, session: Session, tmp_path: Path) -> None:
    """"Email Opt Out", "Email Domain", "Phone 1 - Type" name something else: read as addresses they would have
    made every row invalid."""
    text = ("Name,Email,Email Opt Out,Email Domain,Phone 1 - Type,Phone 1 - Value,Company Phone Extension\n"
            "Anna Nowak,anna@budmax.pl,false,budmax.pl,Mobile,601 234 567,12\n")
    summary = import_file(engine, write(tmp_path / "export.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1
    assert "email_opt_out" in summary["notes"][0] and "phone_1_-_type" in summary["notes"][0]
    identities = sorted((i.kind, i.value) for i in session.exec(select(Identity)).all())
    assert identities == [("email", "anna@budmax.pl"), ("phone", "+48601234567")]


def test_a_number_others_answer_is_no_ones_identity(engine, session: Session, tmp_path: Path) -> None:
    """Outlook's "Assistant's Phone" and the "Company Phone" of Apollo's and other exports are shared: read as
    the person's own, the first colleague imported with one took it as an identity, and the next one's inquiry
    from the switchboard (or a row with only that number) was filed as that colleague's."""
    text = ("First Name,Last Name,Email,Mobile Phone,Company Phone,Assistant's Phone\n"
            "Anna,Nowak,anna@budmax.pl,601 234 567,22 100 00 00,22 100 00 01\n"
            "Jan,Kowalski,jan@budmax.pl,602 345 678,22 100 00 00,22 100 00 01\n")
    summary = import_file(engine, write(tmp_path / "contacts.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 2
    assert summary["notes"] == ["columns not imported: company_phone, assistant's_phone"]
    phones = sorted(v for v in session.exec(select(Identity.value).where(Identity.kind == "phone")).all())
    assert phones == ["+48601234567", "+48602345678"]


@pytest.mark.parametrize(("text", "name"), [
    ("Имя;Фамилия;Отчество;E-mail\nИван;Петров;Сергеевич;ivan@firma.ru\n", "Иван Сергеевич Петров"),   # Bitrix24
    ("First Name,Middle Name,Last Name,E-mail Address\nJohn,Quincy,Adams,john@firma.com\n", "John Quincy Adams"),
    ("Given Name,Additional Name,Family Name,E-mail 1 - Value\nAnna,Maria,Nowak,anna@firma.pl\n", "Anna Maria Nowak"),
    ("Imię;Drugie imię;Nazwisko;E-mail\nJan;Paweł;Kowalski;jan@firma.pl\n", "Jan Paweł Kowalski"),
    ("Имя;Фамилия;Отчество;E-mail\nИван;Петров;;ivan@firma.ru\n", "Иван Петров"),
])
def test_a_middle_name_or_patronymic_column_is_part_of_the_name(engine, session: Session, tmp_path: Path,
                                                              text: str, name: str) -> None:
    """Bitrix24 and Russian sheets give the patronymic its own column (Отчество), Outlook and Google Contacts the
    middle name (Middle Name, Additional Name): it was left out of the name ("columns not imported"), so
    Иван Сергеевич Петров and Иван Андреевич Петров were both stored as Иван Петров."""
    summary = import_file(engine, write(tmp_path / "people.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["notes"] == [], summary
    assert session.exec(select(Contact.display_name)).all() == [name]


def test_a_windows_1250_csv_whose_first_polish_letter_is_past_the_first_megabyte_keeps_its_letters(
        engine, session: Session, tmp_path: Path) -> None:
    """The encoding was told from the first megabyte only: a Windows-1250 export whose rows there are all ASCII
    was read as UTF-8, and every row after it with a Polish letter was refused as "not UTF-8 text". The file is
    now told again at its first line that is not UTF-8, without reading it twice."""
    head = b"Imie i nazwisko;E-mail;Firma;Uwagi\r\n"
    ascii_rows = "".join(f"Jan Nowak {i};jan{i}@budmax.pl;Budmax;{'prosze dzwonic po 16 ' * 300}\r\n" for i in range(200))
    polish = "Łukasz Wójcik;lukasz@żwirex.pl;Zakład Usług Śląskich;\r\nZofia Dąbrowska;zofia@hurtex.pl;Hurtex;\r\n"
    data = head + ascii_rows.encode("ascii") + polish.encode("cp1250")
    assert data.index("Ł".encode("cp1250")) > 1 << 20
    summary = import_file(engine, write(tmp_path / "kontakty.csv", data), workers=0).as_dict()
    assert summary["errors"] == [] and summary["created"] == 202, summary["errors"][:3]
    assert summary["notes"] == ["read as cp1250 from line 202 on (the lines before it are ASCII, not UTF-8 beyond "
                                "it); pass --encoding if that is wrong"]
    companies = set(session.exec(select(Contact.company).where(Contact.display_name.in_(
        ["Łukasz Wójcik", "Zofia Dąbrowska"]))).all())
    assert companies == {"Zakład Usług Śląskich", "Hurtex"}


def test_a_utf8_csv_whose_first_letter_beyond_ascii_is_broken_stays_utf8(engine, session: Session,
                                                                         tmp_path: Path) -> None:
    """A UTF-8 file whose first non-ASCII line is broken (a character cut) is still UTF-8: that line is
    reported, and the UTF-8 lines after it keep their letters (not read as Windows-1250)."""
    text = ("Name,Email\n" + "".join(f"Jan {i},jan{i}@firma.pl\n" for i in range(5))).encode()
    broken = "Anna Żak,anna@firma.pl\n".encode()[:-18] + b",anna@firma.pl\n"
    after = "".join(f"Łucja Wąs {i},lucja{i}@firma.pl\n" for i in range(5)).encode()
    summary = import_file(engine, write(tmp_path / "k.csv", text + broken + after), workers=0).as_dict()
    assert summary["errors"] == [{"line": 7, "error": "not UTF-8 text"}] and summary["created"] == 10
    assert summary["notes"] == []
    assert "Łucja Wąs 0" in set(session.exec(select(Contact.display_name)).all())


def _sent_at(data: bytes) -> list[str | None]:
    """Each row's message sent_at, or its error, as read_csv reads them."""
    import io

    from core.importer import read_csv

    return [record["message"].get("sent_at") if record else error for _, record, error in read_csv(io.BytesIO(data))]


@pytest.mark.parametrize(("csv_text", "expected"), [
    # Google Forms in Polish and Russian, their day-first dotted dates.
    ("Sygnatura czasowa,Imię i nazwisko,E-mail,Wiadomość\n07.12.2026 14:03:22,Jan,jan@firma.pl,Oferta\n",
     ["2026-12-07T14:03:22"]),
    ("Отметка времени,ФИО,E-mail,Сообщение\n7.12.2026 14:03:22,Иван,ivan@firma.ru,Цена?\n", ["2026-12-07T14:03:22"]),
    # Google Forms in English (US): month first; one date past the 12th says so for the whole file.
    ("Timestamp,Name,Email,Message\n12/7/2026 14:03:22,Jan,jan@firma.pl,Hi\n12/13/2026 9:00:00,Ann,ann@firma.pl,Hi\n",
     ["2026-12-07T14:03:22", "2026-12-13T09:00:00"]),
    # The same header, but the file writes the day first (a British sheet): a later 25/12 tells the first row.
    ("Timestamp,Name,Email,Message\n07/12/2026 14:03,Jan,jan@firma.pl,Hi\n25/12/2026 09:00,Ann,ann@firma.pl,Hi\n",
     ["2026-12-07T14:03:00", "2026-12-25T09:00:00"]),
    # Nothing in the file tells: the header's language does (English month first, Polish day first).
    ("Timestamp,Name,Email,Message\n07/12/2026 14:03:22,Jan,jan@firma.pl,Hi\n", ["2026-07-12T14:03:22"]),
    ("Data;Imię i nazwisko;E-mail;Wiadomość\n07/12/2026;Jan;jan@firma.pl;Oferta\n", ["2026-12-07T00:00:00"]),
    ("sent_at,email,text\n07/12/2026,jan@firma.pl,Oferta\n", ["2026-12-07T00:00:00"]),  # leadhub's own: day first
    # Typeform and Tally; Excel in the US with AM/PM.
    ("Submit Date (UTC),Name,Email,Message\n2026-12-07 14:03:22,Jan,jan@firma.pl,Hi\n", ["2026-12-07 14:03:22"]),
    ("Submitted at,Name,Email,Message\n12/7/2026 2:03 PM,Jan,jan@firma.pl,Hi\n12/7/2026 12:15 AM,A,a@firma.pl,Hi\n",
     ["2026-12-07T14:03:00", "2026-12-07T00:15:00"]),
    # No day, no hour: the row's error, not a crash nor a guess.
    ("Timestamp,Name,Email,Message\n31/31/2026 14:03,Jan,jan@firma.pl,Hi\n12/7/2026 13:03 PM,A,a@firma.pl,Hi\n",
     ["sent_at: 31/31/2026 14:03 is not a date: write it as 07.12.2026 or 2026-12-07",
      "sent_at: 12/7/2026 13:03 PM is not a time of day"]),
])
def test_a_form_tools_timestamp_column_is_the_messages_sent_at(csv_text: str, expected: list[str]) -> None:
    """Google Forms, Typeform and Excel exports name the time a form was sent "Timestamp", "Sygnatura
    czasowa", "Отметка времени", "Submitted At", and write it in their locale: the column was not imported
    ("columns not imported: timestamp"), and a slashed date was no date at all."""
    assert _sent_at(csv_text.encode()) == expected


@pytest.mark.parametrize("header", ["Timestamp,Name,Email,Which product?", "Sygnatura czasowa,Imię i nazwisko,E-mail,Produkt"])
def test_a_form_row_without_a_text_column_keeps_its_time(engine, session: Session, tmp_path: Path,
                                                        header: str) -> None:
    """A Google Forms answer whose questions are no text column: its Timestamp was read, then dropped with the
    message (a row made one only for a text, subject or id), so the person came with no time at all."""
    from datetime import UTC, datetime

    text = f"{header}\n07.12.2026 14:03:22,Jan Nowak,jan@firma.pl,Żwir\n"
    summary = import_file(engine, write(tmp_path / "form.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1, summary
    sent = datetime(2026, 12, 7, 14, 3, 22, tzinfo=UTC)
    assert [m.sent_at.replace(tzinfo=UTC) for m in session.exec(select(Message)).all()] == [sent]
    assert session.exec(select(Contact)).one().last_message_at.replace(tzinfo=UTC) == sent
    again = import_file(engine, write(tmp_path / "form.csv", text)).as_dict()
    assert again["already_known"] == 1 and len(session.exec(select(Message)).all()) == 1


@pytest.mark.parametrize(("csv_text", "expected"), [
    # Excel's short date in the US (m/d/yy) and Polish/Russian sheets' short dotted dates (dd.mm.yy), with a time.
    ("Timestamp,Name,Email,Message\n12/7/26 14:03,Jan,jan@firma.pl,Hi\n12/13/26 9:00 PM,Ann,ann@firma.pl,Hi\n",
     ["2026-12-07T14:03:00", "2026-12-13T21:00:00"]),
    ("Data;Imię i nazwisko;E-mail;Wiadomość\n07.12.26 14:03;Jan;jan@firma.pl;Oferta\n07.12.26;Ola;o@firma.pl;Hej\n"
     "07.12.26 14:03:22;Ewa;e@firma.pl;Hej\n", ["2026-12-07T14:03:00", "2026-12-07T00:00:00", "2026-12-07T14:03:22"]),
    # The order as for four-digit years: a later 25/12/26 tells the first row's order, a bare one the header does.
    ("Timestamp,Name,Email,Message\n07/12/26 14:03,Jan,jan@firma.pl,Hi\n25/12/26 09:00,Ann,ann@firma.pl,Hi\n",
     ["2026-12-07T14:03:00", "2026-12-25T09:00:00"]),
    ("Timestamp,Name,Email,Message\n07/12/26,Jan,jan@firma.pl,Hi\n", ["2026-07-12T00:00:00"]),
    ("Data;E-mail;Wiadomość\n07-12-26;jan@firma.pl;Oferta\n", ["2026-12-07T00:00:00"]),
    # The century as Python's strptime (%y, POSIX) reads it: 69-99 the 1900s, 00-68 the 2000s.
    ("Data;E-mail;Wiadomość\n07.12.68;jan@firma.pl;Oferta\n07.12.69;o@firma.pl;Oferta\n31/12/99;a@firma.pl;A\n",
     ["2068-12-07T00:00:00", "1969-12-07T00:00:00", "1999-12-31T00:00:00"]),
    # Still no day: the row's error.
    ("Data;E-mail;Wiadomość\n31/31/26;o@firma.pl;Oferta\n", ["sent_at: 31/31/26 is not a date: write it as "
                                                               "07.12.2026 or 2026-12-07"]),
])
def test_a_date_with_a_two_digit_year_is_read(csv_text: str, expected: list[str]) -> None:
    """Excel writes its short date with a two-digit year (12/7/26 in the US, 07.12.26 in Poland and Russia) and
    a CSV saved from it keeps what the cell shows: each such row was reported as an error, its date not read."""
    assert _sent_at(csv_text.encode()) == expected


@pytest.mark.parametrize(("cell", "expected"), [
    # A time written with dots, as Polish and Russian sheets (and 1C) write it.
    ("12.03.2025 14.30", "2025-03-12T14:30:00"),
    ("12.03.2025 14.30.15", "2025-03-12T14:30:15"),
    ("2025-03-12 14.30", "2025-03-12 14:30"),
    # The zone after the time: UTC, Z, GMT with an offset (GMT+3 is Moscow, east of Greenwich), a bare offset.
    ("12.03.2025 14:30 UTC", "2025-03-12T14:30:00+00:00"),
    ("2025-03-12 14:30:00 UTC", "2025-03-12 14:30:00+00:00"),
    ("12.03.2025 14:30:00Z", "2025-03-12T14:30:00+00:00"),
    ("12.03.2025 14.30 GMT+3", "2025-03-12T14:30:00+03:00"),
    ("2025-03-12 14:30:00 GMT+03:00", "2025-03-12 14:30:00+03:00"),
    ("2025-03-12 14:30:00 UTC-5", "2025-03-12 14:30:00-05:00"),
    ("2025-03-12 14:30:00 +0530", "2025-03-12 14:30:00+05:30"),
    ("12/03/2025 14:30 UTC", "2025-03-12T14:30:00+00:00"),
    # ISO 8601's own offsets are read as they were.
    ("2025-03-12T14:30:00+03:00", "2025-03-12T14:30:00+03:00"),
    ("2025-03-12T14:30:00.250Z", "2025-03-12T14:30:00.250+00:00"),
    # No place keeps such an offset: the row's error.
    ("12.03.2025 14:30 GMT+15", "sent_at: 12.03.2025 14:30 GMT+15 has no such time zone offset (+15)"),
])
def test_a_dotted_time_and_a_time_zone_after_it_are_read(cell: str, expected: str) -> None:
    """"12.03.2025 14.30" and "… 14:30 UTC", "… GMT+3" were handed on as they were, and each such row was refused
    ("invalid character in year", "unexpected extra characters at the end of the input")."""
    from core.schemas import InboundRecord

    data = f"Data;E-mail;Wiadomość\n{cell};jan@firma.pl;Oferta\n".encode()
    assert _sent_at(data) == [expected]
    if not expected.startswith("sent_at:"):  # (and the record's validation reads what is written)
        import io

        from core.importer import read_csv

        record = next(read_csv(io.BytesIO(data)))[1]
        assert InboundRecord.model_validate(record).message.sent_at is not None


@pytest.mark.parametrize("cell", ["31.02.2026", "29.02.27", "00.00.0000", "00.00.00", "07.13.2026 10:15",
                                  "07.12.2026 25:00", "07.12.26 14:03:60"])
def test_a_dotted_date_that_is_no_day_is_named_as_one(cell: str) -> None:
    """A dotted date that is no day (31 February, 1C's empty date 00.00.0000, a 13th month) was left to the
    record's validation, which said "Input should be a valid datetime or date, input is too short"."""
    assert _sent_at(f"Data;E-mail;Wiadomość\n{cell};jan@firma.pl;Oferta\n".encode()) == [
        f"sent_at: {cell} is not a date: write it as 07.12.2026 or 2026-12-07"]


def test_a_files_date_order_is_told_from_a_date_far_into_it(engine, session: Session, tmp_path: Path) -> None:
    """The day-first date that tells the order may come megabytes after the first ambiguous one: the file is
    scanned at offsets, not read into memory, and the rows keep their order and line numbers."""
    rows = "".join(f"0{1 + i % 9}/0{1 + i % 9}/2026 10:00,Anna {i},anna{i}@firma.pl,{'x' * 4000}\n" for i in range(400))
    text = "Timestamp,Name,Email,Message\n07/12/2026 14:03,Jan,jan@firma.pl,Hi\n" + rows + "25/12/2026 09:00,Ola,o@f.pl,Hi\n"
    assert len(text) > 1 << 20
    summary = import_file(engine, write(tmp_path / "form.csv", text), workers=0).as_dict()
    assert summary["errors"] == [] and summary["created"] == 402
    jan = session.exec(select(Message).where(Message.text == "Hi").order_by(Message.sent_at)).all()
    assert [m.sent_at.strftime("%Y-%m-%d %H:%M") for m in jan] == ["2026-12-07 14:03", "2026-12-25 09:00"]


def test_a_header_of_a_million_columns_names_a_few_of_those_not_imported(engine, session: Session,
                                                                         tmp_path: Path) -> None:
    """A header of a million columns (a hostile file, or a sheet exported with every empty column) made the
    summary's note name each one: 8.9 MB printed by `leadhub import`, and held in its JSON summary."""
    header = "email," + ",".join(f"c{i}" for i in range(1_000_000))
    summary = import_file(engine, write(tmp_path / "wide.csv", header + "\nanna@firma.pl\n")).as_dict()
    assert summary["created"] == 1 and summary["errors"] == []
    assert summary["notes"] == ["columns not imported: " + ", ".join(f"c{i}" for i in range(20))
                                + " and 999,980 more"]


@pytest.mark.parametrize("data", [
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>E-mail</form></body></html>\n",
    b"\xef\xbb\xbf  <html>\n<body><table><tr><td>Name</td><td>Email</td></tr>\n<tr><td>Jan</td><td>jan@firma.pl</td>"
    b"</tr></table></body></html>\n",
    "<html xmlns:x=\"urn:schemas-microsoft-com:office:excel\">\r\n<table><tr><td>E-mail</td></tr></table>\r\n"
    "</html>\r\n".encode("utf-16"),
    b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n<Workbook><Worksheet><Table><Row><Cell>'
    b"<Data>E-mail</Data></Cell></Row></Table></Worksheet></Workbook>\n",
])
def test_a_web_page_or_xml_spreadsheet_saved_as_csv_is_refused_saying_so(engine, session: Session, tmp_path: Path,
                                                                         data: bytes) -> None:
    """A download that was a sign-in or error page, or the "xls" many systems export (an HTML table or Excel's
    XML spreadsheet) saved as .csv: refused as a header naming no contact column, or a row of it read as a
    record, which says nothing of what the file is."""
    summary = import_file(engine, write(tmp_path / "export.csv", data)).as_dict()
    assert summary["created"] == 0
    assert [e["line"] for e in summary["errors"]] == [1]
    assert "not CSV text" in summary["errors"][0]["error"]


def test_a_dos_end_of_file_mark_is_no_row(engine, session: Session, tmp_path: Path) -> None:
    """Old DOS and Windows exporters end a file with Ctrl-Z (0x1A): the last "row" was a person named "\\x1a",
    reported as a record with nothing to identify anyone by. A row of nothing but control characters is empty."""
    summary = import_file(engine, write(tmp_path / "dos.csv", b"Name,Email\r\nAnna,anna@firma.pl\r\n\x1a")).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1 and summary["lines"] == 1


def test_a_header_whose_first_known_column_is_past_its_first_64_kb_is_read(engine, session: Session,
                                                                          tmp_path: Path) -> None:
    """The separator is guessed from the header's first 64 KB. When no column there is one imported, the guess
    that split it into the fewest cells won (";" over ","): a wide sheet (thousands of custom fields before the
    e-mail column) was one overlong cell, "not readable as CSV", and its first row taken for the header."""
    header = ",".join(f"custom field {i}" for i in range(5000)) + ",E-mail,Name"
    row = "," * 5000 + "anna@firma.pl,Anna Nowak"
    assert len(header) > 65536
    summary = import_file(engine, write(tmp_path / "wide.csv", f"{header}\n{row}\n")).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1
    assert session.exec(select(Contact.display_name)).all() == ["Anna Nowak"]


@pytest.mark.parametrize(("text", "messages"), [
    # A contact list's creation date alone: no message (an empty inbound one would count as their engagement).
    ("First Name,Last Name,Email,Create Date\nJan,Nowak,jan@firma.pl,12/07/2026 14:03\n", []),
    ("Имя,Фамилия,Рабочий e-mail,Дата создания\nОльга,Смирнова,olga@firma.ru,07.12.2026 14:03:22\n", []),
    # With notes, the creation date is the note's time.
    ("First Name,Last Name,Email,Create Date,Notes\nJan,Nowak,jan@firma.pl,12/07/2026 14:03,Wants a quote\n",
     [("Wants a quote", "2026-12-07T14:03:00+00:00")]),
    # A form tool's submission time alone is an inquiry sent then.
    ("Timestamp,Name,Email\n12/7/2026 14:03:00,Jan Nowak,jan@firma.pl\n", [("", "2026-12-07T14:03:00+00:00")]),
])
def test_a_crm_creation_date_alone_makes_no_message(engine, session: Session, tmp_path: Path, text: str,
                                                    messages: list[tuple[str, str]]) -> None:
    from datetime import UTC

    summary = import_file(engine, write(tmp_path / "export.csv", text)).as_dict()
    assert summary["errors"] == [] and summary["created"] == 1, summary
    assert [(m.text, m.sent_at.replace(tzinfo=UTC).isoformat()) for m in session.exec(select(Message)).all()] == messages

"""LinkedIn data export: parsers (pure) and the import through ingest (CLI and web upload)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from connectors.linkedin.export import (
    ExportError,
    SkipReport,
    connection_records,
    derive_owner_profile,
    message_records,
    read_connections,
    read_messages,
)
from core.models import Contact, Conversation, Identity, Message
from tests.connectors.linkedin.conftest import FIXTURES, csrf_token
from webapp.cli import cli


def _open(name: str) -> io.BytesIO:
    return io.BytesIO((FIXTURES / name).read_bytes())


# --------------------------------------------------------------------------- parsers


def test_connections_header_found_after_bom_and_preamble() -> None:
    rows = list(read_connections(_open("Connections.csv")))
    good = [r[1] for r in rows if r[1] is not None]
    errors = [(r[0], r[2]) for r in rows if r[1] is None]
    assert [c.name for c in good] == ["Anna Nowak", "Piotr Zieliński", "Ірина Шевченко"]
    assert good[1].profile_url == "linkedin.com/in/piotr-zielinski"
    assert good[2].company == "Kyiv Steel, LLC"
    assert good[0].connected_on is not None and good[0].connected_on.strftime("%Y-%m-%d") == "2024-03-12"
    # Physical line numbers: Notes, the quoted note, a blank line, the header, then rows from line 5.
    assert errors == [
        (8, "9 values but the header has 7 columns"),
        (9, "URL 'https://www.linkedin.com/company/not-a-person' is not a LinkedIn profile URL"),
    ]


def test_old_connections_layout_without_url() -> None:
    skipped = SkipReport()
    lines, url_by_name = connection_records(_open("Connections_old.csv"), owner_id=1, skipped=skipped)
    assert [line.data["contact"] for line in lines] == [
        {"name": "Tomasz Wiśniewski", "email": "tomasz@wisniewski-trans.pl", "company": "Wiśniewski Trans",
         "title": "Owner"}
    ]
    assert url_by_name == {}
    assert skipped.reasons == {"connection without profile URL or email (older export layout)": 1}


def test_a_layout_naming_the_columns_profile_url_and_e_mail_address() -> None:
    """A Connections.csv with "Profile URL" (and "E-mail Address") instead of "URL": every connection without an
    email was left out as an 'older export layout', the URL unread."""
    data = ("First Name,Last Name,Profile URL,E-mail Address,Company,Position,Connected On\n"
            "Anna,Nowak,https://www.linkedin.com/in/anna-nowak-1a2b3c,,Budmax,CEO,07 Dec 2026\n"
            "Piotr,Zieliński,https://pl.linkedin.com/in/piotr-zielinski,piotr@stalex.pl,Stalex,CTO,03 Jan 2023\n")
    skipped = SkipReport()
    lines, _ = connection_records(io.BytesIO(data.encode()), owner_id=1, skipped=skipped)
    assert [(line.data["contact"]["linkedin_url"], line.data["contact"].get("email")) for line in lines] == [
        ("linkedin.com/in/anna-nowak-1a2b3c", None), ("linkedin.com/in/piotr-zielinski", "piotr@stalex.pl")]
    assert skipped.reasons == {}


def test_no_header_is_a_clear_file_error() -> None:
    with pytest.raises(ExportError, match="no header row with the columns First Name, Last Name"):
        list(read_connections(io.BytesIO(b"Notes:\nhello,world\n")))
    # A spreadsheet uploaded instead of its CSV (an .xlsx is a zip): read as text it has no header either.
    with pytest.raises(ExportError, match="no header row"):
        list(read_connections(io.BytesIO(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L"
                                         b"\x02\x00\x00\x13\x00\x08\x02[Content_Types].xml \xa2\x04\x02(\xa0\x00")))


def test_a_row_the_csv_module_cannot_read_is_a_line_error() -> None:
    header = b"CONVERSATION ID,FROM,SENDER PROFILE URL,DATE,CONTENT\n"
    good = b"c1,Anna,https://www.linkedin.com/in/anna,2023-06-11 15:33:58 UTC,hello\n"
    huge = b"c1,Anna,https://www.linkedin.com/in/anna,2023-06-11 15:34:58 UTC," + b"x" * 200_000 + b"\n"
    rows = list(read_messages(io.BytesIO(header + good + huge + good.replace(b"15:33", b"15:35")), SkipReport()))
    assert [(line, error is None) for line, _, error in rows] == [(2, True), (3, False), (4, True)]
    assert "field larger than field limit" in rows[1][2]


def test_a_row_with_an_unclosed_quote_does_not_swallow_the_rows_after_it() -> None:
    """A hand-edited export (a quote typed into a name: `"Kowalski`): the csv module read every line after it
    as one field, and the file's remaining connections were lost behind one line's error."""
    connections = ("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
                   'Jan,"Kowalski,https://www.linkedin.com/in/jan-kowalski,,Acme,CEO,12 Mar 2024\n'
                   "Anna,Nowak,https://www.linkedin.com/in/anna-nowak,,Budmax,Buyer,1 Jan 2020\n"
                   'Piotr,Zieliński,https://www.linkedin.com/in/piotr-z,,"Stal, Sp. z o.o.",CFO,2 Jan 2020\n')
    rows = list(read_connections(io.BytesIO(connections.encode())))
    assert [(line, connection.name if connection else None) for line, connection, _ in rows] == [
        (2, None), (3, "Anna Nowak"), (4, "Piotr Zieliński")]
    assert "unclosed quote" in rows[0][2]

    # In messages.csv a quoted CONTENT over several lines is one message; an unclosed one is one line's error.
    header = "CONVERSATION ID,FROM,SENDER PROFILE URL,DATE,CONTENT\n"
    multi_line = 'c1,Anna,https://www.linkedin.com/in/anna-b,2023-06-11 15:33:58 UTC,"Hi,\nsee you, then\n"\n'
    unclosed = 'c1,Anna,https://www.linkedin.com/in/anna-b,2023-06-11 15:34:58 UTC,"Hi, running late\n'
    after = "c1,Anna,https://www.linkedin.com/in/anna-b,2023-06-11 15:35:58 UTC,still here\n"
    rows = list(read_messages(io.BytesIO((header + multi_line + unclosed + after + after).encode()), SkipReport()))
    assert [(line, message.content if message else None) for line, message, _ in rows] == [
        (2, "Hi,\nsee you, then\n"), (5, None), (6, "still here"), (7, "still here")]


def test_an_export_saved_again_by_excel_on_polish_windows() -> None:
    """A rep opened the export in Excel and saved it: Windows-1250, semicolons, dates in the local format.
    Before, the file was refused as "not UTF-8 text" (and its header was not found, one column of semicolons)."""
    connections = ("Notes:;;;;;;\n"
                   "First Name;Last Name;URL;Email Address;Company;Position;Connected On\n"
                   "Łukasz;Wójcik;https://www.linkedin.com/in/lukasz-wojcik;;Zakład Usług Śląskich;Prezes;12.03.2024\n")
    rows = list(read_connections(io.BytesIO(connections.encode("cp1250"))))
    assert [(r[1].name, r[1].company, r[1].connected_on.strftime("%Y-%m-%d")) for r in rows] == [
        ("Łukasz Wójcik", "Zakład Usług Śląskich", "2024-03-12")]
    messages = ("CONVERSATION ID;CONVERSATION TITLE;FROM;SENDER PROFILE URL;TO;RECIPIENT PROFILE URLS;DATE;"
                "SUBJECT;CONTENT;FOLDER\n"
                "2-xyz==;;Łukasz Wójcik;https://www.linkedin.com/in/lukasz-wojcik;Anna Nowak;"
                "https://www.linkedin.com/in/anna-nowak-1a2b3c;11.06.2023 15:33;;Dzień dobry, proszę o ofertę;INBOX\n")
    parsed = [r[1] for r in read_messages(io.BytesIO(messages.encode("cp1250")), SkipReport())]
    assert [(m.sender_name, m.content, m.sent_at.isoformat()) for m in parsed] == [
        ("Łukasz Wójcik", "Dzień dobry, proszę o ofertę", "2023-06-11T15:33:00+00:00")]


def test_messages_variants_drafts_and_bad_rows() -> None:
    skipped = SkipReport()
    rows = list(read_messages(_open("messages.csv"), skipped))
    assert skipped.reasons == {"draft message": 1}
    errors = [(r[0], r[2]) for r in rows if r[1] is None]
    assert errors == [(8, "DATE 'yesterday' is not a date like 2023-06-11 15:33:58 UTC")]
    group = [r[1] for r in rows if r[1] is not None and r[1].conversation_id == "2-ghi333=="]
    assert group[0].recipient_urls == ["linkedin.com/in/iryna-shevchenko", "linkedin.com/in/olga-petrova"]


@pytest.mark.parametrize("name", ["messages.csv", "messages_old.csv"])
def test_an_owner_profile_in_no_conversation_is_refused(name: str) -> None:
    """A mistyped profile in the owner field (or another rep's): the conversations were filed on the first sender
    who was not that profile, often the rep themselves, with every direction turned round."""
    with pytest.raises(ExportError, match="takes part in none of the conversations"):
        message_records(_open(name), owner_id=7, owner_profile="https://www.linkedin.com/in/rep-owner-typo",
                        skipped=SkipReport())
    lines, owner = message_records(_open(name), owner_id=7, owner_profile="https://pl.linkedin.com/in/Rep-Owner/",
                                   skipped=SkipReport())
    assert owner == "linkedin.com/in/rep-owner" and any(line.data for line in lines)


def test_owner_profile_is_the_one_in_every_conversation() -> None:
    for name in ("messages.csv", "messages_old.csv"):
        conversations: dict = {}
        for _, message, _ in read_messages(_open(name), SkipReport()):
            if message is not None:
                conversations.setdefault(message.conversation_id, []).append(message)
        assert derive_owner_profile(conversations) == "linkedin.com/in/rep-owner"


def test_owner_profile_ambiguous_with_one_conversation_asks_for_it() -> None:
    data = (FIXTURES / "messages.csv").read_bytes().splitlines(keepends=True)[:3]
    with pytest.raises(ExportError, match="--owner-profile"):
        message_records(io.BytesIO(b"".join(data)), owner_id=1, owner_profile=None, skipped=SkipReport())
    lines, owner = message_records(
        io.BytesIO(b"".join(data)), owner_id=1, owner_profile="https://pl.linkedin.com/in/Rep-Owner/",
        skipped=SkipReport(),
    )
    assert owner == "linkedin.com/in/rep-owner"
    assert [line.data["message"]["direction"] for line in lines] == ["in", "out"]


def test_message_records_direction_other_person_and_stable_ids() -> None:
    lines, owner = message_records(_open("messages.csv"), owner_id=7, owner_profile=None, skipped=SkipReport())
    again, _ = message_records(_open("messages.csv"), owner_id=7, owner_profile=None, skipped=SkipReport())
    records = [line.data for line in lines if line.data]
    assert [r["message"]["external_id"] for r in records] == [r.data["message"]["external_id"] for r in again if r.data]
    by_thread = {}
    for r in records:
        by_thread.setdefault(r["message"]["thread_id"], []).append(r)
    assert [(r["contact"]["linkedin_url"], r["message"]["direction"]) for r in by_thread["2-abc111=="]] == [
        ("linkedin.com/in/anna-nowak-1a2b3c", "in"),
        ("linkedin.com/in/anna-nowak-1a2b3c", "out"),
    ]
    # Only the owner wrote: the other person comes from the recipient URLs.
    assert by_thread["2-def222=="][0]["contact"] == {"name": "Piotr Zieliński",
                                                     "linkedin_url": "linkedin.com/in/piotr-zielinski"}
    # A group conversation hangs on the first other person who wrote; everyone is listed in meta.
    assert {r["contact"]["linkedin_url"] for r in by_thread["2-ghi333=="]} == {"linkedin.com/in/olga-petrova"}
    assert by_thread["2-ghi333=="][0]["message"]["meta"]["participants"] == [
        "linkedin.com/in/iryna-shevchenko", "linkedin.com/in/olga-petrova", "linkedin.com/in/rep-owner"]
    assert {r["scope"] for r in records} == {"user:7"}


# --------------------------------------------------------------------------- CLI import through ingest


def _run_import(runner, *files: str, owner: str = "owner@leadhub.example"):  # noqa: ANN001, ANN202
    args = ["import", "linkedin-export", *[str(FIXTURES / f) for f in files], "--owner", owner, "--json-summary"]
    result = runner.invoke(cli, args=args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _counts(session: Session) -> tuple[int, int, int, int]:
    session.expire_all()
    return (
        len(session.exec(select(Contact).where(Contact.merged_into.is_(None))).all()),
        len(session.exec(select(Identity)).all()),
        len(session.exec(select(Conversation)).all()),
        len(session.exec(select(Message)).all()),
    )


def test_cli_import_new_layout_then_reimport_changes_nothing(runner, session: Session, rep) -> None:  # noqa: ANN001
    first = _run_import(runner, "Connections.csv", "messages.csv")
    assert first["connections"]["created"] == 3
    assert [e["line"] for e in first["connections"]["errors"]] == [8, 9]
    assert first["messages"]["created"] == 5  # 6 good rows minus the draft … the bad date is line 8
    assert first["messages"]["errors"] == [
        {"line": 8, "error": "DATE 'yesterday' is not a date like 2023-06-11 15:33:58 UTC"}]
    assert first["not_imported"] == {"draft message": 1}
    before = _counts(session)
    second = _run_import(runner, "Connections.csv", "messages.csv")
    assert _counts(session) == before
    assert second["connections"]["created"] == 0 and second["connections"]["already_known"] == 3
    assert second["messages"]["created"] == 0 and second["messages"]["already_known"] == 5

    anna = session.exec(select(Identity).where(Identity.value == "linkedin.com/in/anna-nowak-1a2b3c")).one()
    messages = session.exec(select(Message).where(Message.contact_id == anna.contact_id)).all()
    assert sorted((m.direction, m.text[:5]) for m in messages) == [("in", "Hi, w"), ("out", "Sure ")]
    conversation = session.get(Conversation, messages[0].conversation_id)
    assert (conversation.channel, conversation.scope, conversation.external_id) == ("linkedin", f"user:{rep.id}",
                                                                                   "2-abc111==")
    contact = session.get(Contact, anna.contact_id)
    assert (contact.company, contact.title, contact.owner_id) == ("Budmax", "Head of Procurement", rep.id)


def test_cli_import_old_layouts_match_recipients_by_name(runner, session: Session, rep) -> None:  # noqa: ANN001
    _run_import(runner, "Connections_old.csv")
    report = _run_import(runner, "Connections.csv", "messages_old.csv")
    assert report["messages"]["created"] == 3
    assert report["messages"]["errors"] == [
        {"line": 5, "error": "conversation 2-old003==: cannot identify the other person (no profile URL; add "
                            "Connections.csv to match by name)"}]
    piotr = session.exec(select(Identity).where(Identity.value == "linkedin.com/in/piotr-zielinski")).one()
    texts = [m.text for m in session.exec(select(Message).where(Message.contact_id == piotr.contact_id))]
    assert texts == ["Piotr, a catalogue for you."]
    tomasz = session.exec(select(Identity).where(Identity.value == "tomasz@wisniewski-trans.pl")).one()
    assert session.get(Contact, tomasz.contact_id).display_name == "Tomasz Wiśniewski"


def test_a_message_to_one_of_two_namesakes_goes_to_neither() -> None:
    """Old exports name the recipient only; with two connections called Anna Nowak, the message went to whichever
    came first in Connections.csv, a wrong person's lead half the time."""
    connections = (b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
                   b"Anna,Nowak,https://www.linkedin.com/in/anna-nowak-1,,Budmax,CEO,12 Mar 2024\n"
                   b"Anna,Nowak,https://pl.linkedin.com/in/anna-nowak-2,,Stalex,CTO,03 Jan 2023\n"
                   b"Piotr,Zieli\xc5\x84ski,https://www.linkedin.com/in/piotr-zielinski,,Stalex,CTO,03 Jan 2023\n")
    _, url_by_name = connection_records(io.BytesIO(connections), owner_id=7, skipped=SkipReport())
    assert url_by_name == {"piotr zielinski": "linkedin.com/in/piotr-zielinski"}
    messages = (b"CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,DATE,SUBJECT,CONTENT,FOLDER\n"
                b"2-old001==,,Rep Owner,https://www.linkedin.com/in/rep-owner,Anna Nowak,2022-03-01 10:00:00 UTC,,"
                b"Hello Anna,INBOX\n"
                b"2-old002==,,Rep Owner,https://www.linkedin.com/in/rep-owner,Piotr Zieli\xc5\x84ski,"
                b"2022-04-01 10:00:00 UTC,,Hello Piotr,INBOX\n")
    lines, _ = message_records(io.BytesIO(messages), owner_id=7, owner_profile="linkedin.com/in/rep-owner",
                               url_by_name=url_by_name, skipped=SkipReport())
    by_line = {line.line: line for line in lines}
    assert by_line[2].data is None and "cannot identify the other person" in by_line[2].error
    assert by_line[3].data["contact"]["linkedin_url"] == "linkedin.com/in/piotr-zielinski"


def test_two_reps_exports_do_not_collide(runner, session: Session, rep) -> None:  # noqa: ANN001
    from core.users import create_user

    create_user(session, email="second@leadhub.example", role="rep", name="Second")
    session.commit()
    _run_import(runner, "Connections.csv")
    _run_import(runner, "Connections.csv", owner="second@leadhub.example")
    assert _counts(session)[0] == 3


def test_a_connection_with_a_mistyped_address_keeps_its_profile(runner, session: Session, rep,  # noqa: ANN001
                                                                  tmp_path: Path) -> None:
    """An address LinkedIn holds as the person typed it (jan@firma) refused the whole row: the profile was lost."""
    path = tmp_path / "Connections.csv"
    path.write_text("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
                    "Jan,Kowalski,https://www.linkedin.com/in/jan-kowalski-77,jan@firma,Budmax,CEO,07 Dec 2026\n"
                    "Ewa,Lis,,ewa@lis,Lis,CTO,07 Dec 2026\n", encoding="utf-8")
    result = runner.invoke(cli, args=["import", "linkedin-export", str(path), "--owner", "owner@leadhub.example",
                                      "--json-summary"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["connections"]["created"] == 1
    assert [e["line"] for e in summary["connections"]["errors"]] == [3]  # no profile: the address was all there was
    assert summary["not_imported"] == {"connection's e-mail address not valid: left out, the profile kept": 1}
    jan = session.exec(select(Identity).where(Identity.value == "linkedin.com/in/jan-kowalski-77")).one()
    assert session.get(Contact, jan.contact_id).display_name == "Jan Kowalski"


def test_cli_bad_file_and_unknown_owner(runner, rep, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "Connections.csv"
    bad.write_text("just,some\ncsv,file\n")
    result = runner.invoke(cli, args=["import", "linkedin-export", str(bad), "--owner", rep.email])
    assert result.exit_code != 0 and "no header row" in result.output
    result = runner.invoke(cli, args=["import", "linkedin-export", str(FIXTURES / "Connections.csv"), "--owner", "x@y.z"])
    assert result.exit_code != 0 and "no user x@y.z" in result.output


def test_plain_import_file_still_works(runner, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "people.jsonl"
    path.write_text(json.dumps({"channel": "api", "contact": {"email": "a@firma.pl"}}) + "\n")
    result = runner.invoke(cli, args=["import", str(path), "--json-summary"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == 1


# --------------------------------------------------------------------------- web upload


def test_web_upload_needs_login_and_csrf(app, signed_in, session: Session) -> None:  # noqa: ANN001
    anonymous = app.test_client()
    assert "/login" in anonymous.get("/linkedin/import").headers["Location"]
    response = signed_in.post(
        "/linkedin/import",
        data={"connections": (_open("Connections.csv"), "Connections.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400  # no CSRF token
    assert _counts(session)[0] == 0


def test_web_upload_imports_and_reports(signed_in, session: Session) -> None:  # noqa: ANN001
    token = csrf_token(signed_in, "/linkedin/import")
    response = signed_in.post(
        "/linkedin/import",
        data={
            "csrf_token": token,
            "connections": (_open("Connections.csv"), "Connections.csv"),
            "messages": (_open("messages.csv"), "messages.csv"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Connections.csv: 3 rows imported — 3 new contacts" in page
    assert "Connections.csv line 8: 9 values but the header has 7 columns" in page
    assert "1 × draft message" in page
    assert _counts(session)[3] == 5
    bad = signed_in.post(
        "/linkedin/import",
        data={"csrf_token": token, "connections": (io.BytesIO(b"nothing here"), "Connections.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "no header row" in bad.get_data(as_text=True)


def test_web_upload_accepts_exports_larger_than_the_api_body_limit(signed_in, session: Session) -> None:  # noqa: ANN001
    note = ('"' + "LinkedIn notes. " * 2_000 + '"\n') * 40  # ~1.3 MB preamble, over LEADHUB_MAX_BODY_BYTES
    data = ("Notes:\n" + note + "\n").encode() + (FIXTURES / "Connections.csv").read_bytes()[3:].split(b"\n\n", 1)[1]
    assert len(data) > 1_048_576
    response = signed_in.post(
        "/linkedin/import",
        data={"csrf_token": csrf_token(signed_in, "/linkedin/import"), "connections": (io.BytesIO(data), "C.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert _counts(session)[0] == 3


@pytest.mark.parametrize("name", ["Connections.csv", "Connections_old.csv", "messages.csv", "messages_old.csv"])
def test_mangled_files_give_clear_errors_never_a_crash(name: str) -> None:
    """Cut, doubled quotes, stray commas and newlines: the parsers answer with ExportError or line errors only."""
    import random

    original = (FIXTURES / name).read_bytes()
    noise = [b'"', b",", b"\n", b"\r", b";", b"\x00", b"\xff", b"\xef\xbb\xbf", b"2023-13-45 99:99:99 UTC"]
    rng = random.Random(name)
    outcomes = set()
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                del data[position : position + rng.randint(1, 20)]
            else:
                data[position:position] = rng.choice(noise)
        try:
            if name.startswith("Connections"):
                connection_records(io.BytesIO(bytes(data)), owner_id=1, skipped=SkipReport())
            else:
                message_records(io.BytesIO(bytes(data)), owner_id=1, owner_profile="linkedin.com/in/rep-owner",
                                skipped=SkipReport())
            outcomes.add("parsed")
        except ExportError:
            outcomes.add("file error")
    assert "parsed" in outcomes


def test_overlong_subject_and_sender_are_cut_not_refused() -> None:
    """A message's subject holds 1,000 characters and its sender 400 (core.schemas.MessageIn): a longer one in
    the export is cut, so the message is still imported."""
    from core.schemas import InboundRecord

    data = (FIXTURES / "messages.csv").read_bytes().splitlines(keepends=True)[:3]
    long_row = data[1].replace(b",,\"Hi,", b"," + b"Oferta " * 300 + b",\"Hi,").replace(
        b"Anna Nowak,https", b"Anna" + b" Nowak" * 100 + b",https", 1)
    lines, _ = message_records(io.BytesIO(data[0] + long_row + data[2]), owner_id=7,
                               owner_profile="https://www.linkedin.com/in/rep-owner",
                               skipped=SkipReport())
    records = [InboundRecord.model_validate(line.data) for line in lines if line.data]
    assert len(records) == 2
    assert len(records[0].message.subject) == 1000 and len(records[0].message.sender) == 400


def _archive(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


EXPORT_ARCHIVE_LAYOUTS = [
    # As LinkedIn sends it: the files at the top, among others; or inside one folder, names in other cases.
    {"Connections.csv": (FIXTURES / "Connections.csv").read_bytes(), "messages.csv": (FIXTURES / "messages.csv")
     .read_bytes(), "Profile.csv": b"First Name,Last Name\nRep,One\n", "Rich_Media.csv": b""},
    {"Basic_LinkedInDataExport_12-06-2026/CONNECTIONS.CSV": (FIXTURES / "Connections.csv").read_bytes(),
     "Basic_LinkedInDataExport_12-06-2026/Messages.csv": (FIXTURES / "messages.csv").read_bytes()},
]


@pytest.mark.parametrize("members", EXPORT_ARCHIVE_LAYOUTS)
def test_the_archive_linkedin_sends_imports_as_its_files_do(runner, session: Session, rep, tmp_path: Path,  # noqa: ANN001
                                                             members: dict[str, bytes]) -> None:
    archive = tmp_path / "Basic_LinkedInDataExport_12-06-2026.zip"
    archive.write_bytes(_archive(members))
    result = runner.invoke(cli, ["import", "linkedin-export", str(archive), "--owner", rep.email, "--json-summary"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["connections"]["created"] == 3 and report["messages"]["created"] == 5
    assert _counts(session)[3] == 5


def test_the_archive_uploaded_on_the_page(signed_in, session: Session) -> None:  # noqa: ANN001
    token = csrf_token(signed_in, "/linkedin/import")
    response = signed_in.post("/linkedin/import", content_type="multipart/form-data", data={
        "csrf_token": token, "connections": (io.BytesIO(_archive(EXPORT_ARCHIVE_LAYOUTS[0])), "export.zip")})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Connections.csv: 3 rows imported — 3 new contacts" in page, page
    assert _counts(session)[3] == 5


def _damaged_archive() -> bytes:
    """An archive whose Connections.csv is stored (not compressed) with one byte changed: its CRC fails on read."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("Connections.csv", b"First Name,Last Name,Company,Position\nAnna,Nowak,Budmax,CEO\n")
    data = bytearray(buffer.getvalue())
    data[data.index(b"Anna")] = ord("X")
    return bytes(data)


def _archive_with_bad_directory(how: str) -> bytes:
    """An archive whose central directory zipfile trips over with a ValueError, not a BadZipFile: a name flagged
    as UTF-8 that is not (UnicodeDecodeError), a directory offset past the start of the file (negative seek)."""
    import struct

    data = bytearray(_archive({"Connections.csv": b"First Name,Last Name,Company,Position\nAnna,Nowak,B,C\n"}))
    central, end = data.rindex(b"PK\x01\x02"), data.rindex(b"PK\x05\x06")
    if how == "name":
        data[central + 46] = 0xFF
        data[central + 9] |= 0x08  # general purpose flag bit 11: the name is UTF-8
    else:
        struct.pack_into("<I", data, end + 16, 0xFFFFFF00)
    return bytes(data)


@pytest.mark.parametrize(("data", "error"), [
    (_archive({"Profile.csv": b"First Name\nRep\n"}), "no Connections.csv"),
    (b"PK\x03\x04" + b"\x00" * 40, "cannot be opened"),
    (_damaged_archive(), "Connections.csv in the archive cannot be read"),
    (_archive_with_bad_directory("name"), "the archive cannot be opened"),
    (_archive_with_bad_directory("offset"), "archive cannot be"),  # opened, or its member read: as the upload seeks
])
def test_an_archive_without_the_export_is_a_clear_error(signed_in, data: bytes, error: str) -> None:  # noqa: ANN001
    token = csrf_token(signed_in, "/linkedin/import")
    response = signed_in.post("/linkedin/import", content_type="multipart/form-data", data={
        "csrf_token": token, "connections": (io.BytesIO(data), "export.zip")})
    assert response.status_code == 400 and error in response.get_data(as_text=True)


def test_an_archive_member_too_big_unpacked_is_refused_before_it_is_read(monkeypatch) -> None:  # noqa: ANN001
    from connectors.linkedin import export

    monkeypatch.setattr(export, "MAX_ARCHIVE_MEMBER_BYTES", 100)
    archive = io.BytesIO(_archive({"Connections.csv": b"x" * 101}))
    with pytest.raises(ExportError, match="unpacks to 101 bytes"):
        export.files_in_archive(archive)


def test_two_different_files_of_one_name_in_the_archive_are_a_clear_error() -> None:
    """Two files named Connections.csv (two exports zipped together, or one name written twice): the last one in
    the archive was imported and the other left out without a word."""
    from connectors.linkedin import export

    first, second = (FIXTURES / "Connections.csv").read_bytes(), (FIXTURES / "Connections_old.csv").read_bytes()
    members = {"export-2025/Connections.csv": first, "export-2026/connections.csv": second}
    with pytest.raises(ExportError, match="2 different files named connections.csv"):
        export.files_in_archive(io.BytesIO(_archive(members)))
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = _archive_duplicate_names("Connections.csv", first, second)
    with pytest.raises(ExportError, match="2 different files named connections.csv: Connections.csv, Connections.csv"):
        export.files_in_archive(io.BytesIO(twice))
    # The same file twice (a copy in a sub-folder) is no doubt.
    same = export.files_in_archive(io.BytesIO(_archive({"Connections.csv": first, "copy/Connections.csv": first})))
    assert same[0].read() == first


def _archive_duplicate_names(name: str, *contents: bytes) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for data in contents:
            archive.writestr(name, data)
    return buffer.getvalue()


def _member_damaged(how: str) -> bytes:
    """An archive whose Connections.csv cannot be read, in each way a real one fails."""
    import struct
    import zipfile

    method = {"lzma": zipfile.ZIP_LZMA, "bzip2": zipfile.ZIP_BZIP2, "truncated": zipfile.ZIP_STORED}.get(
        how, zipfile.ZIP_DEFLATED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("Connections.csv", b"First Name,Last Name,Company,Position\n" + b"Anna,Nowak,Budmax,CEO\n" * 50)
    data = bytearray(buffer.getvalue())
    start, central = 30 + len("Connections.csv"), data.rindex(b"PK\x01\x02")
    if how == "truncated":  # the file ends inside the member (its sizes say more than there is): EOFError
        struct.pack_into("<II", data, 18, 10**6, 10**6)
        struct.pack_into("<II", data, central + 20, 10**6, 10**6)
    elif how == "encrypted":  # the "encrypted" flag: a password is needed
        data[6] |= 1
        data[central + 8] |= 1
    elif how == "method":  # a compression method Python does not have (99: AES)
        struct.pack_into("<H", data, 8, 99)
        struct.pack_into("<H", data, central + 10, 99)
    else:  # corrupt compressed bytes
        data[start + (12 if how in ("lzma", "bzip2") else 0)] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("how", ["deflate", "bzip2", "lzma", "encrypted", "method", "truncated"])
def test_every_kind_of_unreadable_member_is_a_clear_error(how: str) -> None:
    """Corrupt deflate data raised zlib.error and corrupt lzma data LZMAError, which the reader did not catch:
    the import page answered 500."""
    from connectors.linkedin import export

    with pytest.raises(ExportError, match="Connections.csv in the archive cannot be read"):
        export.files_in_archive(io.BytesIO(_member_damaged(how)))

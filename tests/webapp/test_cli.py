"""The leadhub command as users run it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from core.models import ApiToken, Contact, User
from core.users import hash_token


def test_users_and_tokens(runner, session: Session) -> None:
    result = runner.invoke(args=["users", "create", "Marta@Firma.pl", "--role", "manager", "--name", "Marta"])
    assert result.exit_code == 0, result.output
    assert session.exec(select(User)).one().role == "manager"
    duplicate = runner.invoke(args=["users", "create", "marta@firma.pl"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    token = runner.invoke(args=["tokens", "create", "marta@firma.pl"])
    assert token.exit_code == 0
    printed = token.output.strip()
    assert printed.startswith("lh_") and "\n" not in printed
    session.rollback()  # end the test's read snapshot to see what the command committed
    assert session.exec(select(ApiToken)).one().token_hash == hash_token(printed)
    assert runner.invoke(args=["tokens", "create", "nobody@firma.pl"]).exit_code != 0
    assert runner.invoke(args=["users", "create", "x@firma.pl", "--role", "king"]).exit_code != 0


def test_import_command_reports_lines(runner, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "leads.jsonl"
    path.write_text(
        json.dumps({"channel": "import", "contact": {"name": "Anna", "email": "anna@firma.pl"}}) + "\n{oops\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "1 skipped" in result.output and "line 2" in result.output
    as_json = runner.invoke(args=["import", str(path), "--json-summary"])
    assert json.loads(as_json.output)["already_known"] == 1
    session.rollback()
    assert len(session.exec(select(Contact)).all()) == 1


def test_import_names_the_encoding_it_assumed_and_takes_another(runner, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "lidy.csv"
    path.write_bytes("ФИО;Телефон;Компания;Отдел\nЕкатерина Смирнова;+7 495 123-45-67;ООО Севертранс;закупки\n"
                     .encode("cp1251"))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert "note: read as cp1251 (not UTF-8)" in result.output and "note: columns not imported: отдел" in result.output
    wrong = runner.invoke(args=["import", str(path), "--encoding", "cyrillic-please"])
    assert wrong.exit_code != 0 and "unknown encoding 'cyrillic-please'" in wrong.output
    forced = runner.invoke(args=["import", str(path), "--encoding", "cp1251", "--json-summary"])
    assert json.loads(forced.output)["already_known"] == 1
    session.rollback()
    assert session.exec(select(Contact)).one().display_name == "Екатерина Смирнова"


def test_import_stopped_by_a_busy_store_says_what_to_do(runner, tmp_path: Path, monkeypatch) -> None:
    """Another writer held SQLite past the busy timeout (or PostgreSQL ended a deadlock here): a sentence that
    says nothing is lost and to run the command again, not a traceback. Other database errors still raise."""
    import sqlite3

    import sqlalchemy as sa

    import webapp.cli

    path = tmp_path / "leads.jsonl"
    path.write_text(json.dumps({"channel": "import", "contact": {"name": "Anna", "email": "anna@firma.pl"}}) + "\n",
                    encoding="utf-8")

    def fails_with(message: str):  # noqa: ANN202
        def import_file(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
            raise sa.exc.OperationalError("INSERT INTO contacts ...", {}, sqlite3.OperationalError(message))
        return import_file

    monkeypatch.setattr(webapp.cli, "import_file", fails_with("database is locked"))
    busy = runner.invoke(args=["import", str(path)])
    assert busy.exit_code == 1 and "Traceback" not in busy.output
    assert "busy" in busy.output and "run the same command again" in busy.output.lower()
    monkeypatch.setattr(webapp.cli, "import_file", fails_with("no such table: contacts"))
    broken = runner.invoke(args=["import", str(path)])
    assert broken.exit_code != 0 and isinstance(broken.exception, sa.exc.OperationalError)


def test_import_unknown_format_is_clear(runner, tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"PK")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "format" in result.output


def test_demo_loads_once(runner, session: Session) -> None:
    assert runner.invoke(args=["demo", "--if-empty"]).exit_code == 0
    session.rollback()
    count = len(session.exec(select(Contact)).all())
    assert count > 10
    second = runner.invoke(args=["demo", "--if-empty"])
    session.rollback()
    assert "already" in second.output and len(session.exec(select(Contact)).all()) == count


def test_a_serving_process_freezes_its_startup_heap() -> None:
    """Full collections must not walk the app's long-lived objects on every pass (90 ms stalls per request)."""
    import gc

    from webapp import freeze_startup_heap

    assert gc.get_freeze_count() == 0
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_renormalize_rewrites_keys_stored_under_older_rules(runner, session: Session) -> None:
    from core.models import Identity

    contact = Contact(display_name="Anna Nowak")
    session.add(contact)
    session.flush()
    session.add(Identity(contact_id=contact.id, kind="phone", value="+480221234567", raw_value="+48 (0)22 123 45 67"))
    session.commit()
    dry = runner.invoke(args=["renormalize", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 would be rewritten" in dry.output and "'+480221234567' -> '+48221234567'" in dry.output
    session.rollback()
    assert session.exec(select(Identity.value)).one() == "+480221234567"
    done = runner.invoke(args=["renormalize", "--json-summary"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["identities_rewritten"] == 1
    session.rollback()
    assert session.exec(select(Identity.value)).one() == "+48221234567"


def test_db_downgrade_and_upgrade(tmp_path: Path) -> None:
    """`leadhub db downgrade REVISION` undoes migrations (to apply one again, e.g. 0014 once unaccent is
    installed); `leadhub db upgrade` applies them again. On a store of its own: the shared test database stays
    at head whatever happens here."""
    import sqlalchemy as sa

    from tests.conftest import LeadhubRunner
    from webapp import create_app

    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "DEMO": "off", "FLASK": {"TESTING": True}})
    runner = LeadhubRunner(app)

    def revision() -> str:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        engine.dispose()
        return found

    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    head = revision()
    down = runner.invoke(args=["db", "downgrade", "0013"])
    assert down.exit_code == 0, down.output
    assert "is at revision 0013" in down.output and revision() == "0013"
    assert runner.invoke(args=["db", "downgrade"]).exit_code != 0  # the revision is required
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0 and revision() == head
    for name in ("leadhub.engine", "leadhub.writer_engine"):
        app.extensions[name].dispose()


def test_import_into_a_store_not_migrated_says_to_upgrade_it(tmp_path: Path) -> None:
    """`leadhub import` into a store no `leadhub db upgrade` has made (a new DATABASE_URL, a fresh file) ended in a
    traceback of SQL, "no such table: pending_searches"; it now says what to do, and writes nothing."""
    from tests.conftest import TEST_ENCRYPTION_KEY, LeadhubRunner
    from webapp import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "SECRET_KEY": "test-secret-key",
                      "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY, "DEMO": "off", "FLASK": {"TESTING": True}})
    app.instance_path = str(tmp_path / "instance")
    path = tmp_path / "leads.csv"
    path.write_text("Name,Email\nAnna,anna@firma.pl\n", encoding="utf-8")
    try:
        result = LeadhubRunner(app).invoke(args=["import", str(path)])
        linkedin = LeadhubRunner(app).invoke(args=["import", "linkedin-export", str(path), "--owner", "a@firma.pl"])
    finally:
        app.extensions["leadhub.engine"].dispose()
        app.extensions["leadhub.writer_engine"].dispose()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "leadhub db upgrade" in result.output and "Traceback" not in result.output, result.output
    assert linkedin.exit_code == 1 and "leadhub db upgrade" in linkedin.output, linkedin.output

"""The `leadhub` command (a Flask CLI group): db, users, tokens, import, renormalize, demo, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlmodel import Session

from core.db import is_transient_db_error
from core.importer import DEFAULT_BATCH_SIZE, import_file
from core.ingest import IngestOptions
from core.models import Role
from core.users import UserError, create_api_token, create_user, find_user
from webapp import create_app, freeze_startup_heap
from webapp.db import get_engine

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    cli(prog_name="leadhub")


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False, add_version_option=False)
def cli() -> None:
    """leadhub: one contact store for Gmail, Intercom, LinkedIn and website-form inquiries."""


# --------------------------------------------------------------------------- db


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    alembic_command.upgrade(alembic_config(database_url), revision)


@cli.group()
def db() -> None:
    """Database schema (alembic is the only schema authority)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = current_app.config["LEADHUB"]["DATABASE_URL"]
    upgrade_database(url, revision)
    click.echo(f"database at {_safe_url(url)} is at revision {revision}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (e.g. to apply one again after installing what it needed)."""
    import logging

    url = current_app.config["LEADHUB"]["DATABASE_URL"]
    logging.getLogger("alembic").setLevel(logging.WARNING)
    alembic_command.downgrade(alembic_config(url), revision)
    click.echo(f"database at {_safe_url(url)} is at revision {revision}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Show the applied revision."""
    alembic_command.current(alembic_config(current_app.config["LEADHUB"]["DATABASE_URL"]))


def require_migrated() -> None:
    """Stop with what to do when the store is not at this version's migrations (a new DATABASE_URL no `leadhub db
    upgrade` has made, or an older one): an import into it ended in a traceback of SQL ("no such table")."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = current_app.config["LEADHUB"]["DATABASE_URL"]
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    with get_engine().connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "none: no tables"
        raise click.ClickException(f"the store at {_safe_url(url)} is not at this version's migrations (it is at "
                                   f"{at}; this version needs {', '.join(sorted(heads))}): run `leadhub db upgrade`")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- users and tokens


@cli.group()
def users() -> None:
    """People who use leadhub."""


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.rep.value, show_default=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password", default=None, help="Sign-in password (prompted with --prompt-password).")
@click.option("--prompt-password", is_flag=True, help="Ask for the password without echoing it.")
@with_appcontext
def users_create(email: str, role: str, name: str, password: str | None, prompt_password: bool) -> None:
    """Create a user with a role (rep, manager, admin)."""
    if prompt_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with Session(get_engine()) as session:
        try:
            user = create_user(session, email=email, role=role, name=name, password=password)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"created {user.role} {user.email} (id {user.id})")


@cli.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@with_appcontext
def tokens_create(email: str, name: str) -> None:
    """Create an API token for EMAIL's user; prints only the token (it is shown once)."""
    with Session(get_engine()) as session:
        user = find_user(session, email)
        if user is None:
            raise click.ClickException(f"no user {email}; create one with: leadhub users create {email}")
        token = create_api_token(session, user=user, name=name)
        session.commit()
    click.echo(token)


# --------------------------------------------------------------------------- import


class ImportGroup(click.Group):
    """`leadhub import FILE` imports inbound records; `leadhub import <source> …` runs a source-specific importer."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # noqa: ANN201
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["file", *args]
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


@cli.group("import", cls=ImportGroup)
def import_group() -> None:
    """Import data: `leadhub import FILE` (JSONL or CSV of inbound records) or a source's export."""


@import_group.command("file")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(["jsonl", "csv"]), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Records written per transaction.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Helper processes validating lines meanwhile (default: one on a machine with two or more cores, "
                   "for files of 256 KB or more; 0: none).")
@click.option("--encoding", default=None,
              help="A CSV file's text encoding, e.g. cp1250 or cp1251 (default: told from the file; UTF-8 unless it "
                   "is clearly not).")
@click.option("--json-summary", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def import_file_command(path: str, file_format: str | None, batch_size: int, workers: int | None,
                        encoding: str | None, json_summary: bool) -> None:
    """Import FILE (JSONL of the /api/v1/inbound shape or one JSON array of them, or CSV with a header)."""
    require_migrated()
    settings = current_app.config["LEADHUB"]
    options = IngestOptions(default_phone_region=settings["DEFAULT_PHONE_REGION"], actor=f"import:{Path(path).name}")
    total = _count_lines(path)
    show = sys.stderr.isatty() and not json_summary
    with click.progressbar(length=total, label="importing", file=sys.stderr, hidden=not show) as bar:
        seen = [0]

        def progress(line: int) -> None:
            if line > seen[0]:
                bar.update(line - seen[0])
                seen[0] = line

        try:
            summary = import_file(
                get_engine(), path, file_format=file_format, options=options, batch_size=batch_size, progress=progress,
                workers=workers, encoding=encoding,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        except sa.exc.DBAPIError as exc:
            if not is_transient_db_error(exc):
                raise
            # Another writer kept the store past the busy timeout, or PostgreSQL ended a deadlock here.
            raise click.ClickException(
                f"the store stayed busy (another writer held it past the busy timeout); the import stopped after "
                f"reading line {seen[0]} and keeps what it had written. Run the same command again: lines already "
                "imported are recognised as known, not stored twice"
            ) from None
    report = summary.as_dict()
    if json_summary:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{report['lines']} lines: {report['created']} created, {report['updated']} updated, "
        f"{report['already_known']} already known, {report['suppressed']} suppressed (erased people), "
        f"{report['merged_contacts']} contacts merged, {report['skipped']} skipped"
    )
    for note in report["notes"]:  # (part of the summary, on its stream; line errors go to stderr)
        click.echo(f"  note: {note}")
    for error in report["errors"][:50]:
        click.echo(f"  line {error['line']}: {error['error']}", err=True)
    if summary.error_count > 50:
        click.echo(f"  … and {summary.error_count - 50} more skipped lines", err=True)


@import_group.command("linkedin-export")
@click.argument("connections", type=click.Path(exists=True, dir_okay=False))
@click.argument("messages", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--owner", "owner_email", required=True, help="Email of the leadhub user whose export this is.")
@click.option("--owner-profile", default=None, help="Your LinkedIn profile URL, when it cannot be derived.")
@click.option("--json-summary", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def import_linkedin_export_command(
    connections: str, messages: str | None, owner_email: str, owner_profile: str | None, json_summary: bool
) -> None:
    """Import a LinkedIn data export: the archive LinkedIn sends (.zip), or Connections.csv and, optionally,
    messages.csv."""
    from connectors.linkedin.export import ExportError
    from webapp.linkedin import import_linkedin_export

    require_migrated()
    with Session(get_engine()) as session:
        owner = find_user(session, owner_email)
        if owner is None:
            raise click.ClickException(f"no user {owner_email}; create one with: leadhub users create {owner_email}")
        owner_id = owner.id
    settings = current_app.config["LEADHUB"]
    options = IngestOptions(default_phone_region=settings["DEFAULT_PHONE_REGION"], actor=f"linkedin-export:{owner_email}")
    with open(connections, "rb") as connections_stream:
        messages_stream = open(messages, "rb") if messages else None  # noqa: SIM115
        try:
            report = import_linkedin_export(
                get_engine(),
                connections=connections_stream,
                messages=messages_stream,
                owner_id=owner_id,
                owner_profile=owner_profile,
                options=options,
            )
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            if messages_stream is not None:
                messages_stream.close()
    if json_summary:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in report.lines():
        click.echo(line)


def _count_lines(path: str) -> int:
    count = 0
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return max(count, 1)


# --------------------------------------------------------------------------- serving


@cli.command("renormalize")
@click.option("--dry-run", is_flag=True, help="Count what would change, change nothing.")
@click.option("--json-summary", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def renormalize_command(dry_run: bool, json_summary: bool) -> None:
    """Rewrite stored identity keys and blocking keys by the current normalisation rules (after an upgrade that
    changed them: see the changelog in README). A key another contact holds becomes a duplicate suggestion."""
    from core.renormalize import renormalize

    region = current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"]
    with Session(get_engine()) as session:
        report = renormalize(session, region=region, dry_run=dry_run)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    data = report.as_dict()
    if json_summary:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    would = "would be " if dry_run else ""
    click.echo(f"{data['identities_scanned']} identities: {data['identities_rewritten']} {would}rewritten, "
               f"{data['identities_dropped']} {would}dropped (the contact had the new key already), "
               f"{data['conflicts']} held by another contact ({would}suggested as duplicates), "
               f"{data['unreadable']} left as they are (no longer one valid value), "
               f"{data['weak_flags_changed']} addresses {would}marked anew as shared mailboxes or not")
    click.echo(f"{data['contacts_scanned']} contacts: {data['block_keys_added']} blocking keys {would}added, "
               f"{data['block_keys_removed']} {would}removed, {data['search_names_rewritten']} search names "
               f"{would}rewritten")
    for example in data["examples"]:
        click.echo(f"  {example}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve leadhub for one machine (development server, threaded). At scale use gunicorn (README).

    With the embedded queue (or LEADHUB_INPROCESS_WORKER=1) worker threads run background tasks and the
    periodic sync scheduler in this process, so nothing else needs starting."""
    from werkzeug.serving import run_simple

    from webapp.worker import start_inprocess_consumer, wants_inprocess_worker

    app = current_app._get_current_object()
    if wants_inprocess_worker(app):
        consumer = start_inprocess_consumer(app)
        click.echo(f"background worker: {consumer.workers} threads in this process (embedded queue)")
    else:
        click.echo("background worker: none here; run `leadhub worker` (queue at LEADHUB_QUEUE_URL)")
    click.echo(f"leadhub is serving on http://{host}:{port}/  (Ctrl+C stops it)")

    freeze_startup_heap()
    # app.run() refuses to run inside a Flask CLI command; run_simple is what it calls.
    run_simple(host, port, app, threaded=True, use_reloader=False)


@cli.command("worker")
@click.option("--workers", "-w", type=int, default=None, help="Worker threads or processes [LEADHUB_WORKERS].")
@click.option(
    "--worker-type", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
    help="Threads suit I/O-bound syncs; processes use every core.",
)
@click.option(
    "--periodic/--no-periodic", default=True, show_default=True,
    help="Run the periodic sync scheduler here (several workers may; due-checks keep it from piling up).",
)
@click.option("--health-interval", default=10.0, show_default=True, help="Seconds between checks that restart dead workers.")
@with_appcontext
def worker(workers: int | None, worker_type: str, periodic: bool, health_interval: float) -> None:
    """Run background tasks (syncs, webhooks …) from the queue until stopped (SIGINT: graceful)."""
    from webapp.worker import make_worker_consumer

    app = current_app._get_current_object()
    count = workers or app.config["LEADHUB"]["WORKERS"]
    click.echo(f"leadhub worker: {count} {worker_type}(s), periodic scheduler {'on' if periodic else 'off'}")
    consumer = make_worker_consumer(app, count, worker_type, periodic, health_interval)
    freeze_startup_heap()
    consumer.run()


def _register_extra_commands() -> None:
    from webapp.demo import demo_command

    cli.add_command(demo_command)


_register_extra_commands()

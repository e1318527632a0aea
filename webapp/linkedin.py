"""LinkedIn in the web app: import of the rep's data export, the install page for the extension and the
bookmarklet (with the rep's personal token), and "Sign in with LinkedIn" (OpenID Connect) for reps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, render_template, request
from flask_login import current_user, login_required

from connectors.linkedin.export import (
    ExportError,
    ExportLine,
    SkipReport,
    connection_records,
    message_records,
)
from core.importer import ImportSummary, import_stream
from core.ingest import IngestOptions
from webapp.db import get_engine

bp = Blueprint("linkedin", __name__, url_prefix="/linkedin")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


# --------------------------------------------------------------------------- export import


@dataclass
class ExportImportReport:
    connections: ImportSummary | None = None
    messages: ImportSummary | None = None
    skipped: SkipReport = field(default_factory=SkipReport)
    owner_profile: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"owner_profile": self.owner_profile, "not_imported": dict(self.skipped.reasons)}
        for name in ("connections", "messages"):
            summary = getattr(self, name)
            out[name] = summary.as_dict() if summary is not None else None
        return out

    def lines(self) -> list[str]:
        """The summary as a rep reads it: what was created, merged, skipped and why."""
        out: list[str] = []
        for label, summary in (("Connections.csv", self.connections), ("messages.csv", self.messages)):
            if summary is None:
                continue
            d = summary.as_dict()
            noun = "contacts" if label == "Connections.csv" else "messages"
            out.append(
                f"{label}: {d['records']} rows imported — {d['created']} new {noun}, {d['updated']} leads updated, "
                f"{d['already_known']} already in leadhub, {d['merged_contacts']} leads merged, "
                f"{d['suppressed']} erased people left out; {d['skipped']} rows skipped"
            )
            out.extend(f"  {label} line {e['line']}: {e['error']}" for e in d["errors"][:50])
        for reason, count in sorted(self.skipped.reasons.items()):
            out.append(f"not imported: {count} × {reason}")
        if self.owner_profile:
            out.append(f"your profile (decides direction): {self.owner_profile}")
        return out


def _parsed(lines: Iterable[ExportLine]) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    return ((line.line, line.data, line.error) for line in lines)


def import_linkedin_export(
    engine: sa.Engine,
    *,
    connections: BinaryIO,
    messages: BinaryIO | None = None,
    owner_id: int | None,
    owner_profile: str | None = None,
    options: IngestOptions,
) -> ExportImportReport:
    """Parse both files, then store through the one import loop (`core.importer.import_stream` → ingest).

    Raises ExportError when a whole file cannot be read (nothing of that file is stored then)."""
    report = ExportImportReport()
    connection_lines, url_by_name = connection_records(connections, owner_id=owner_id, skipped=report.skipped)
    message_lines: list[ExportLine] | None = None
    if messages is not None:
        # Parse both before storing anything, so a file we cannot read at all stores nothing.
        message_lines, report.owner_profile = message_records(
            messages, owner_id=owner_id, owner_profile=owner_profile, url_by_name=url_by_name, skipped=report.skipped
        )
    report.connections = import_stream(engine, _parsed(connection_lines), options=options)
    if message_lines is not None:
        report.messages = import_stream(engine, _parsed(sorted(message_lines, key=lambda x: x.line)), options=options)
    return report


def _settings() -> dict[str, Any]:
    return current_app.config["LEADHUB"]


def _options(actor: str) -> IngestOptions:
    return IngestOptions(default_phone_region=_settings()["DEFAULT_PHONE_REGION"], actor=actor)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def upload():  # noqa: ANN201
    report_lines: list[str] = []
    status = 200
    if request.method == "POST":
        connections = request.files.get("connections")
        messages = request.files.get("messages")
        if connections is None or not connections.filename:
            flash("Choose your Connections.csv file.", "error")
            return render_template("linkedin/import.html", report_lines=[]), 400
        try:
            report = import_linkedin_export(
                get_engine(),
                connections=connections.stream,
                messages=messages.stream if messages is not None and messages.filename else None,
                owner_id=current_user.id,
                owner_profile=(request.form.get("owner_profile") or "").strip() or None,
                options=_options(f"linkedin-export:{current_user.email}"),
            )
        except ExportError as exc:
            flash(str(exc), "error")
            return render_template("linkedin/import.html", report_lines=[]), 400
        report_lines = report.lines()
        flash("Import finished.", "info")
    return render_template("linkedin/import.html", report_lines=report_lines), status

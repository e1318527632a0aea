"""Mail merge: templates with merge fields, rendered per lead, and the recipient list of a mass send.

Templates are Jinja text rendered in a sandbox (no attribute access to Python objects, no imports), without
HTML escaping because the mail is plain text. Every merge field is always defined ("" when unknown), so
`{{ first_name or "there" }}` is how a template says "a fallback". Unknown fields and syntax errors are found
when the template is saved, not when 500 mails go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session, col, select

from core.models import Contact, Identity, Stage, User

MERGE_FIELDS: dict[str, str] = {
    "name": "the lead's full name",
    "first_name": "the first word of the name",
    "last_name": "the rest of the name",
    "company": "the lead's company",
    "title": "the lead's job title",
    "email": "the address the mail goes to",
    "owner_name": "the lead's owner (the rep)",
    "owner_email": "the owner's email",
    "sender_email": "the mailbox the mail is sent from",
}
MAX_TEMPLATE_CHARS = 20_000
MAX_SUBJECT_CHARS = 300

_env = SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class TemplateError(ValueError):
    """The template cannot be used; `fields` says where (subject / body)."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def check_template(subject: str, body: str) -> None:
    """Raise TemplateError for syntax errors, unknown merge fields and sizes; return None when it is usable."""
    errors: dict[str, str] = {}
    for part, text, limit in (("subject", subject, MAX_SUBJECT_CHARS), ("body", body, MAX_TEMPLATE_CHARS)):
        if not text.strip():
            errors[part] = "is empty"
            continue
        if len(text) > limit:
            errors[part] = f"is longer than {limit} characters"
            continue
        try:
            unknown = sorted(meta.find_undeclared_variables(_env.parse(text)) - MERGE_FIELDS.keys())
        except jinja2.TemplateSyntaxError as exc:
            errors[part] = f"line {exc.lineno}: {exc.message}"
            continue
        if unknown:
            errors[part] = "unknown merge field " + ", ".join("{{ " + u + " }}" for u in unknown)
    if errors:
        raise TemplateError(errors)


def split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    return (parts[0], " ".join(parts[1:])) if parts else ("", "")


def merge_values(contact: Contact, *, email: str, owner: User | None, sender_email: str) -> dict[str, str]:
    first, last = split_name(contact.display_name or "")
    return {
        "name": contact.display_name or "",
        "first_name": first,
        "last_name": last,
        "company": contact.company or "",
        "title": contact.title or "",
        "email": email,
        "owner_name": owner.name if owner else "",
        "owner_email": owner.email if owner else "",
        "sender_email": sender_email,
    }


@lru_cache(maxsize=64)
def _compiled(text: str) -> jinja2.Template:
    return _env.from_string(text)


def render(text: str, values: dict[str, Any]) -> str:
    """Render one template part; raises TemplateError for what check_template would have refused."""
    try:
        return _compiled(text).render(**{name: values.get(name, "") for name in MERGE_FIELDS})
    except jinja2.TemplateError as exc:
        raise TemplateError({"template": str(exc)}) from exc


@dataclass
class PlannedRecipient:
    contact_id: int
    name: str
    email: str
    subject: str = ""
    body: str = ""
    skipped: str = ""  # why this lead gets no mail ("" = it does)


def plan_recipients(
    session: Session, contact_ids: Iterable[int], *, subject: str, body: str, sender_email: str
) -> list[PlannedRecipient]:
    """The mail each chosen lead would get, in the order chosen, or the reason it gets none: merged away,
    no email address, non-target, or an address already on the list (one mail per address)."""
    check_template(subject, body)
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    contacts = {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(ids)))} if ids else {}
    emails: dict[int, str] = {}
    if ids:
        # kind checked here: in SQL it makes SQLite scan every e-mail identity (see core.identity._person_views)
        rows = session.exec(
            select(Identity.contact_id, Identity.kind, Identity.value)
            .where(col(Identity.contact_id).in_(ids))
            .order_by(col(Identity.is_weak), col(Identity.id))  # a personal address before info@ / biuro@
        ).all()
        for contact_id, kind, value in rows:
            if kind == "email":
                emails.setdefault(contact_id, value)
    owner_ids = {c.owner_id for c in contacts.values() if c.owner_id}
    owners = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))} if owner_ids else {}
    planned: list[PlannedRecipient] = []
    seen: set[str] = set()
    for contact_id in ids:
        contact = contacts.get(contact_id)
        if contact is None:
            continue
        row = PlannedRecipient(contact_id=contact_id, name=contact.display_name or "", email=emails.get(contact_id, ""))
        if contact.merged_into is not None:
            row.skipped = f"merged into lead #{contact.merged_into}"
        elif contact.stage == Stage.non_target.value:
            row.skipped = "non-target lead"
        elif not row.email:
            row.skipped = "no email address"
        elif row.email in seen:
            row.skipped = "address already on this send"
        else:
            seen.add(row.email)
            values = merge_values(contact, email=row.email, owner=owners.get(contact.owner_id), sender_email=sender_email)
            # A subject is one line: merged values with line breaks must not inject headers.
            row.subject = " ".join(render(subject, values).split())[:MAX_SUBJECT_CHARS]
            row.body = render(body, values)
        planned.append(row)
    return planned

"""Every table that can hold a lead's data is classified for the privacy-law duties (core.personal_data): a table
added later with a contact column, or a column named like personal data, fails here until someone decides whether
export and erase must reach it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import core.models  # noqa: F401 - registers the tables on SQLModel.metadata
from core.personal_data import EXEMPT, EXPORTED_AND_ERASED

# Column names that may hold a person's data: identifiers, names, free text, and JSON that may copy any of them.
PERSONAL_COLUMN = re.compile(
    r"email|phone|name|alias|payload|record|snapshot|meta|text|body|html|subject|sender|^to$|address|"
    r"value|raw|detail|note|reason|search|args|arguments|data|state|excerpt|linkedin|ip"
)


def _refers_to_contacts(column: sa.Column) -> bool:
    return any(fk.column.table.name == "contacts" for fk in column.foreign_keys)


def _needs_classifying(table: sa.Table) -> list[str]:
    return [c.name for c in table.columns if _refers_to_contacts(c) or PERSONAL_COLUMN.search(c.name)]


def test_every_table_holding_personal_data_is_classified() -> None:
    unclassified = {
        table.name: columns
        for table in SQLModel.metadata.sorted_tables
        if (columns := _needs_classifying(table)) and table.name not in EXPORTED_AND_ERASED and table.name not in EXEMPT
    }
    assert unclassified == {}, (
        "classify these in core/personal_data.py (exported and erased, or exempt with the reason): "
        f"{unclassified}"
    )


def test_classification_names_only_real_tables_once() -> None:
    tables = set(SQLModel.metadata.tables)
    assert set(EXPORTED_AND_ERASED) <= tables
    assert set(EXEMPT) <= tables
    assert not set(EXPORTED_AND_ERASED) & set(EXEMPT)
    assert all(reason.strip() for reason in EXEMPT.values())


@pytest.mark.parametrize(
    ("columns", "flagged"),
    [
        ([sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"))], ["contact_id"]),
        ([sa.Column("recipient_email", sa.String)], ["recipient_email"]),
        ([sa.Column("job_args", sa.JSON)], ["job_args"]),
        ([sa.Column("cursor_state", sa.JSON)], ["cursor_state"]),
        ([sa.Column("count", sa.Integer)], []),
    ],
)
def test_a_new_table_is_caught(columns: list[sa.Column], flagged: list[str]) -> None:
    metadata = sa.MetaData()
    sa.Table("contacts", metadata, sa.Column("id", sa.Integer, primary_key=True))
    table = sa.Table("future_table", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)
    assert _needs_classifying(table) == flagged

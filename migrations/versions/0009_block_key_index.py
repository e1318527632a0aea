"""block keys indexed on (key, contact_id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Duplicate search reads the newest members of a block off this index instead of sorting the whole block.
    op.create_index("ix_contact_block_keys_key_contact", "contact_block_keys", ["key", "contact_id"])
    op.drop_index("ix_contact_block_keys_key", table_name="contact_block_keys")


def downgrade() -> None:
    op.create_index("ix_contact_block_keys_key", "contact_block_keys", ["key"])
    op.drop_index("ix_contact_block_keys_key_contact", table_name="contact_block_keys")

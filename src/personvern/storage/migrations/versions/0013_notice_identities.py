"""notice identities: what a webhook's Art. 19 notice must send, kept on the notice until
it is delivered (the request's sealed details cannot hold it once an erasure destroyed the
person's key)

Revision ID: 0013
Revises: 0012
Created: 2026-12-07 03:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('recipient_notices') as batch:
        batch.add_column(sa.Column('identities', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('recipient_notices') as batch:
        batch.drop_column('identities')

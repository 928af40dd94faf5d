"""site door tokens: the random token behind each site's QR code, one current token per site

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 01:00:00.000000

Kept apart from `sites`: rotating a token is not an edit of the register (no new version, nothing in the change
feed), and the token must never appear where the register is read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_door_tokens",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_door_tokens_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_door_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_site_door_tokens_token")),
    )


def downgrade() -> None:
    op.drop_table("site_door_tokens")

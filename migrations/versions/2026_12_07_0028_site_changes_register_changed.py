"""site changes: whether an entry changed the register record (register_changed), stored, and indexed for the
register's state

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 04:55:00.000000

The change feed also carries entries that say a site's workers' rating or star level changed while its register
record stood (before and after the same). The register's state that coverage keeps its answers for (the last
change's id) must not move with them: an anonymous rating at any door would drop the kept map shading of every
region. The flag is the feed's `register_changed`, and the state's maximum is read from a partial index of the
entries that have it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE site_changes ADD COLUMN register_changed boolean NOT NULL "
        "GENERATED ALWAYS AS (before IS DISTINCT FROM after) STORED"
    )
    op.execute("CREATE INDEX ix_site_changes_register_changed ON site_changes (id) WHERE register_changed")


def downgrade() -> None:
    op.execute("DROP INDEX ix_site_changes_register_changed")
    op.execute("ALTER TABLE site_changes DROP COLUMN register_changed")

"""targets per region and kind with their history, months published, and the `plan` scope of API keys

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 01:20:00.000000

A planner's key (scope `plan`, limited to its region as `write` is) sets targets: a count of active sites or a
covered share to reach by a date. Every change is kept in target_changes by the service that makes it (targets
have one write path, app.targets.service). Closing a month keeps the figures then published in published_months,
which later corrections of the register do not rewrite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPES_BEFORE = "ARRAY['read', 'write', 'admin']"
SCOPES_AFTER = "ARRAY['read', 'write', 'plan', 'admin']"


def _scopes(known: str) -> None:
    op.drop_constraint(op.f("ck_api_keys_scopes_known"), "api_keys", type_="check")
    op.create_check_constraint(
        op.f("ck_api_keys_scopes_known"), "api_keys", f"scopes <@ {known}::text[] AND cardinality(scopes) > 0"
    )


def upgrade() -> None:
    _scopes(SCOPES_AFTER)
    op.create_table(
        "targets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("start_value", sa.Double(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "measure IN ('count', 'area_share', 'population_share')", name=op.f("ck_targets_measure_known")
        ),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name=op.f("ck_targets_status_known")),
        sa.CheckConstraint(
            "value >= 0 AND start_value >= 0 AND (measure = 'count' OR (value <= 1 AND start_value <= 1))",
            name=op.f("ck_targets_value_in_range"),
        ),
        sa.CheckConstraint("due_on > starts_on", name=op.f("ck_targets_due_after_start")),
        sa.ForeignKeyConstraint(
            ["region_adcode"], ["regions.adcode"], name=op.f("fk_targets_region_adcode_regions"), onupdate="CASCADE"
        ),
        sa.ForeignKeyConstraint(["kind"], ["site_kinds.code"], name=op.f("fk_targets_kind_site_kinds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
    )
    op.create_index("ix_targets_region_adcode_kind", "targets", ["region_adcode", "kind"])
    op.create_table(
        "target_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_target_changes_target_id_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_changes")),
    )
    op.create_index(op.f("ix_target_changes_target_id"), "target_changes", ["target_id"])
    op.create_table(
        "published_months",
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("site_count", sa.Integer(), nullable=False),
        sa.Column("covered_area_share", sa.Double(), nullable=True),
        sa.Column("covered_population_share", sa.Double(), nullable=True),
        sa.Column("closed_for", sa.String(length=6), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.CheckConstraint("extract(day FROM month) = 1", name=op.f("ck_published_months_month_first_day")),
        sa.ForeignKeyConstraint(
            ["region_adcode"],
            ["regions.adcode"],
            name=op.f("fk_published_months_region_adcode_regions"),
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(["kind"], ["site_kinds.code"], name=op.f("fk_published_months_kind_site_kinds")),
        sa.PrimaryKeyConstraint("region_adcode", "kind", "month", name=op.f("pk_published_months")),
    )


def downgrade() -> None:
    op.drop_table("published_months")
    op.drop_index(op.f("ix_target_changes_target_id"), table_name="target_changes")
    op.drop_table("target_changes")
    op.drop_index("ix_targets_region_adcode_kind", table_name="targets")
    op.drop_table("targets")
    # A planner's key keeps what else it may do; one that could only plan may then only read.
    op.execute(
        "UPDATE api_keys SET scopes = coalesce(nullif(array_remove(scopes, 'plan'), '{}'), ARRAY['read']) "
        "WHERE 'plan' = ANY(scopes)"
    )
    _scopes(SCOPES_BEFORE)

"""site ratings: workers' stars, tags and comments from the door (one per client and site per 30 days), each site's
running totals, and the call-backs a bad rating opens for the operator

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAGS = (
    "tags <@ ARRAY['clean', 'water', 'charging', 'warm', 'cool', 'friendly_keeper', 'locked', 'dirty', 'no_water', "
    "'broken_equipment', 'crowded']::text[]"
)


def upgrade() -> None:
    op.create_table(
        "site_ratings",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("client", postgresql.BYTEA(), nullable=False),
        sa.Column("stars", sa.SmallInteger(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("comment_hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment_hidden_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_site_ratings_stars_range")),
        sa.CheckConstraint(TAGS, name=op.f("ck_site_ratings_tags_known")),
        sa.CheckConstraint("char_length(comment) <= 500", name=op.f("ck_site_ratings_comment_length")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_ratings_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_ratings")),
    )
    op.create_index(
        "ix_site_ratings_current_site_client",
        "site_ratings",
        ["site_id", "client"],
        postgresql_where=sa.text("replaced_at IS NULL"),
    )
    op.create_table(
        "site_rating_totals",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.CheckConstraint("ratings >= 0 AND stars >= 0", name=op.f("ck_site_rating_totals_not_negative")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_rating_totals_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_rating_totals")),
    )
    op.create_table(
        "rating_salts",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("salt", postgresql.BYTEA(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_rating_salts")),
    )
    op.create_table(
        "site_callbacks",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("rating_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.CheckConstraint("reason IN ('low_stars', 'locked')", name=op.f("ck_site_callbacks_reason_known")),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_site_callbacks_status_known")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_callbacks_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["site_ratings.id"],
            name=op.f("fk_site_callbacks_rating_id_site_ratings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_callbacks")),
    )
    op.create_index(
        "ix_site_callbacks_open_due",
        "site_callbacks",
        ["due_on", "site_id"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_site_callbacks_site", "site_callbacks", ["site_id"])


def downgrade() -> None:
    op.drop_table("site_callbacks")
    op.drop_table("rating_salts")
    op.drop_table("site_rating_totals")
    op.drop_table("site_ratings")

"""region replacements: a region whose code is retired for another's (撤县设区 with a new adcode)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:30:00.000000

A county made a district usually gets a new code (沾化县 371624 became 沾化区 371603 in 2014): the new region takes
the old one's place, and the old code is retired. `region_replacements` says which code replaced which, so an
answer for a retired code can name its successor (410 Gone, app.regions.service); the old region's row is deleted,
and its history says it was replaced, and by what (region_changes: action `replaced`, `replaced_by`), as the
trigger that keeps the history reads the replacement made in the same transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.changes.models import Xid8

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = ("created", "updated", "deleted", "replaced")
ACTIONS_BEFORE = ("created", "updated", "deleted")


RECORD_CHANGE = """
CREATE OR REPLACE FUNCTION regions_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    outline_changed boolean := false;
    successor varchar(6);
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;  -- nothing anyone could see changed (regions_count_version)
        END IF;
        outline_changed := ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary);
    ELSIF TG_OP = 'DELETE' THEN
        SELECT replaced_by INTO successor FROM region_replacements
        WHERE adcode = OLD.adcode AND txid = pg_current_xact_id();
    END IF;
    INSERT INTO region_changes (adcode, action, version, actor, before, after, boundary_before, replaced_by)
    VALUES (
        coalesce(NEW.adcode, OLD.adcode),
        CASE WHEN successor IS NOT NULL THEN 'replaced'
             ELSE CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END END,
        coalesce(NEW.version, OLD.version),
        coalesce(nullif(current_setting('yizhan.actor', true), ''), session_user),
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE region_document(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE region_document(NEW) END,
        CASE WHEN TG_OP = 'DELETE' OR outline_changed THEN OLD.boundary END,
        successor
    );
    RETURN NULL;
END
$$
"""
# As migration 0013 made it.
RECORD_CHANGE_BEFORE = """
CREATE OR REPLACE FUNCTION regions_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    outline_changed boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;  -- nothing anyone could see changed (regions_count_version)
        END IF;
        outline_changed := ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary);
    END IF;
    INSERT INTO region_changes (adcode, action, version, actor, before, after, boundary_before)
    VALUES (
        coalesce(NEW.adcode, OLD.adcode),
        CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END,
        coalesce(NEW.version, OLD.version),
        coalesce(nullif(current_setting('yizhan.actor', true), ''), session_user),
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE region_document(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE region_document(NEW) END,
        CASE WHEN TG_OP = 'DELETE' OR outline_changed THEN OLD.boundary END
    );
    RETURN NULL;
END
$$
"""


def _actions(actions: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_region_changes_action_known"), "region_changes", type_="check")
    op.create_check_constraint(
        op.f("ck_region_changes_action_known"), "region_changes", f"action IN ({', '.join(map(repr, actions))})"
    )


def upgrade() -> None:
    op.create_table(
        "region_replacements",
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("replaced_by", sa.String(length=6), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("txid", Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.CheckConstraint("replaced_by <> adcode", name=op.f("ck_region_replacements_not_itself")),
        sa.PrimaryKeyConstraint("adcode", name=op.f("pk_region_replacements")),
    )
    op.add_column("region_changes", sa.Column("replaced_by", sa.String(length=6), nullable=True))
    _actions(ACTIONS)
    op.execute(RECORD_CHANGE)


def downgrade() -> None:
    op.execute(RECORD_CHANGE_BEFORE)
    op.execute("UPDATE region_changes SET action = 'deleted' WHERE action = 'replaced'")
    _actions(ACTIONS_BEFORE)
    op.drop_column("region_changes", "replaced_by")
    op.drop_table("region_replacements")

"""road networks: pgRouting, OpenStreetMap road networks and their edges with a travel cost per mode

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00.000000

An edge runs between two OSM nodes where ways meet (or end), in the direction its way is drawn. Each mode has a
cost (seconds) along it and against it; a negative cost is pgRouting's "no way through" (a one-way street for
modes that keep to it, a road the mode may not use). app/roads/modes.py says how each cost is made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("walk", "ebike", "car")


def upgrade() -> None:
    available = op.get_bind().execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'"))
    if available.scalar() is None:
        raise RuntimeError(
            "pgRouting is not installed on the database server: install the postgresql-<major>-pgrouting package "
            "(Debian/Ubuntu; `scripts/localdb.sh install` does it for the local cluster), then migrate again"
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table(
        "road_networks",
        sa.Column("id", sa.Integer(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("extract_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("edges", sa.Integer(), nullable=False),
        sa.Column("hull", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_road_networks_name")),
    )
    op.create_index("ix_road_networks_hull", "road_networks", ["hull"], postgresql_using="gist")
    op.create_table(
        "road_edges",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=False),
        sa.Column("highway", sa.Text(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        *[sa.Column(f"{mode}{way}_s", sa.Float(), nullable=False) for mode in MODES for way in ("", "_reverse")],
        sa.Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_networks.id"],
            name=op.f("fk_road_edges_network_id_road_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edges")),
    )
    op.create_index("ix_road_edges_geom", "road_edges", ["geom"], postgresql_using="gist")
    op.create_index("ix_road_edges_network_id", "road_edges", ["network_id"])


def downgrade() -> None:
    op.drop_table("road_edges")
    op.drop_table("road_networks")
    op.execute("DROP EXTENSION IF EXISTS pgrouting")

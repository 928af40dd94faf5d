"""The database's part of `yizhan regions import` (app.regions.importer reads the file): the features staged in a
temporary table, checked against each other and the loaded regions, then written, all in one savepoint.

What follows a write is the schema's own: sites take their region from the boundaries by trigger
(regions_rederive_sites: region_of, the rule every site write uses), every change is kept in region_changes by
trigger, and each region's `version` goes up, which is what the coverage answers kept for it are keyed by. A
region whose outline or people changed gets its population surface built again here.

A feature that `replaces` a loaded region (a county made a district under a new code, 撤县设区: 沾化县 371624 became
沾化区 371603) is a new region taking the old one's place: it inherits the old one's seat, census figure (unless
the census file gives one), population cells (the model's urban share, rebuilt on its outline) and own coverage
rules; the old code is recorded as replaced (region_replacements: questions about it answer 410 naming the new
one), a key limited to it is limited to the new one, and the old region is deleted, which its history records as
`replaced`. Only these two regions change: the sites in them take the new code, and no other region's row does,
so no other region's kept coverage figures are computed again.
"""

import shapely
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import String

from app.coverage import repository as coverage
from app.coverage.population import CensusSeatDecayModel, RegionForModel
from app.keys import repository as keys
from app.regions.importer import (
    OUTSIDE_PARENT_SHARE,
    OVERLAP_SHARE,
    REPAIR_AREA_CHANGE,
    Feature,
    Imported,
    ImportRefused,
    Population,
    is_urban_district,
    looks_shifted,
)
from app.vocabularies.closed import RegionLevel

LEVELS = [level.value for level in RegionLevel]

STAGE = """
CREATE TEMPORARY TABLE region_import (
    number integer NOT NULL,
    adcode varchar(6) PRIMARY KEY,
    name text NOT NULL,
    level text NOT NULL,
    parent_adcode varchar(6),
    boundary geometry NOT NULL,
    replaces varchar(6),
    seat geometry,
    refused boolean NOT NULL DEFAULT false,
    is_urban_district boolean,
    population bigint,
    population_source text
) ON COMMIT DROP
"""

# Each invalid outline with its repair's areal part and how much the repair changes its area.
INVALID = """
SELECT number, adcode, reason, CASE WHEN greatest(area, repaired_area) = 0 THEN 1
                                    ELSE abs(repaired_area - area) / greatest(area, repaired_area) END AS change
FROM (
    SELECT number, adcode, ST_IsValidReason(boundary) AS reason, abs(ST_Area(boundary)) AS area,
           ST_Area(ST_CollectionExtract(ST_MakeValid(boundary), 3)) AS repaired_area
    FROM region_import WHERE NOT ST_IsValid(boundary)
) invalid
ORDER BY number
"""
REPAIR = """
UPDATE region_import SET boundary = ST_Multi(ST_CollectionExtract(ST_MakeValid(boundary), 3))
WHERE adcode = ANY(:adcodes)
"""

# A feature without a parent takes the nearest of its city's, its province's and the country's codes that is in
# the file or loaded.
INFER_PARENTS = """
UPDATE region_import i SET parent_adcode = (
    SELECT c.adcode FROM unnest(ARRAY[left(i.adcode, 4) || '00', left(i.adcode, 2) || '0000', '100000'])
                         WITH ORDINALITY AS c(adcode, n)
    WHERE c.adcode <> i.adcode
      AND (EXISTS (SELECT 1 FROM region_import f WHERE f.adcode = c.adcode)
           OR EXISTS (SELECT 1 FROM regions r WHERE r.adcode = c.adcode))
    ORDER BY c.n LIMIT 1
)
WHERE i.parent_adcode IS NULL AND i.level <> :top
"""

# Each feature's parent as the import would leave it: the file's, else the loaded one (a replaced region is gone).
PARENTS = """
WITH after AS (
    SELECT adcode, level, boundary, refused FROM region_import
    UNION ALL
    SELECT adcode, level, boundary, false FROM regions r
    WHERE NOT EXISTS (SELECT 1 FROM region_import i WHERE r.adcode IN (i.adcode, i.replaces))
)
SELECT i.number, i.adcode, i.parent_adcode AS parent, p.level AS parent_level, i.level,
       CASE WHEN p.refused OR i.refused OR p.boundary IS NULL OR ST_CoveredBy(i.boundary, p.boundary) THEN 0
            ELSE ST_Area(ST_Difference(i.boundary, p.boundary)::geography) / ST_Area(i.boundary::geography)
       END AS outside_share
FROM region_import i LEFT JOIN after p ON p.adcode = i.parent_adcode
WHERE i.parent_adcode IS NOT NULL
ORDER BY i.number
"""

# Pairs of siblings (the file's, and the loaded ones the file neither draws nor replaces) of which the file draws
# at least one, that overlap by more than the tolerance.
OVERLAPS = """
WITH outlines AS (
    SELECT number, adcode, parent_adcode, boundary FROM region_import WHERE NOT refused
    UNION ALL
    SELECT NULL, r.adcode, r.parent_adcode, r.boundary FROM regions r
    WHERE NOT EXISTS (SELECT 1 FROM region_import i WHERE r.adcode IN (i.adcode, i.replaces))
      AND EXISTS (SELECT 1 FROM region_import i WHERE i.parent_adcode IS NOT DISTINCT FROM r.parent_adcode)
),
pairs AS (
    SELECT a.number, a.adcode, b.number AS other_number, b.adcode AS other,
           ST_Area(ST_Intersection(a.boundary, b.boundary)::geography) AS overlap_m2,
           least(ST_Area(a.boundary::geography), ST_Area(b.boundary::geography)) AS smaller_m2
    FROM outlines a JOIN outlines b
      ON a.parent_adcode IS NOT DISTINCT FROM b.parent_adcode AND a.boundary && b.boundary
     AND (a.number < b.number OR (b.number IS NULL AND a.number IS NOT NULL))
    WHERE ST_Intersects(a.boundary, b.boundary) AND NOT ST_Touches(a.boundary, b.boundary)
)
SELECT * FROM pairs WHERE overlap_m2 > :share * smaller_m2 ORDER BY number, other
"""

CENTROIDS = """
SELECT i.number, i.adcode, ST_X(ST_Centroid(i.boundary)) AS lon, ST_Y(ST_Centroid(i.boundary)) AS lat,
       ST_X(ST_Centroid(r.boundary)) AS loaded_lon, ST_Y(ST_Centroid(r.boundary)) AS loaded_lat
FROM region_import i JOIN regions r ON r.adcode = coalesce(i.replaces, i.adcode)
ORDER BY i.number
"""

# Each replacement with what decides whether it may be made: the old region loaded, the new code not (a new
# region takes the old one's place), the old one not in the file too, and no region left under it; or made already
# (importing the same file again).
REPLACEMENTS = """
SELECT i.number, i.adcode, i.replaces,
       EXISTS (SELECT 1 FROM regions r WHERE r.adcode = i.replaces) AS old_loaded,
       EXISTS (SELECT 1 FROM regions r WHERE r.adcode = i.adcode) AS new_loaded,
       (SELECT x.replaced_by FROM region_replacements x WHERE x.adcode = i.replaces) AS replaced_by,
       (SELECT f.number FROM region_import f WHERE f.adcode = i.replaces) AS in_file,
       (SELECT string_agg(c.adcode, ', ' ORDER BY c.adcode) FROM regions c
        WHERE c.parent_adcode = i.replaces
          AND NOT EXISTS (SELECT 1 FROM region_import f
                          WHERE f.adcode = c.adcode AND f.parent_adcode IS DISTINCT FROM i.replaces)) AS children
FROM region_import i
WHERE i.replaces IS NOT NULL
ORDER BY i.number
"""
# What a new region takes of the one it replaces, besides what the file gives.
INHERIT = """
UPDATE region_import i
SET seat = r.seat, population = coalesce(i.population, r.population),
    population_source = CASE WHEN i.population IS NULL THEN r.population_source ELSE i.population_source END
FROM regions r WHERE r.adcode = i.replaces
"""
# The old regions retired, after the new ones are written: their population cells, own rules and an operator's
# word on whether it is an urban district move to the new region (as a reload keeps that word), the replacement is
# recorded (which the history trigger reads) and the old row deleted (its sites then take the new code, by trigger).
RETIRE = (
    "UPDATE population_cells p SET region_adcode = i.adcode FROM region_import i WHERE p.region_adcode = i.replaces",
    "UPDATE coverage_rules c SET region_adcode = i.adcode FROM region_import i WHERE c.region_adcode = i.replaces",
    """
    UPDATE regions n SET urban_district_override = o.urban_district_override,
                         is_urban_district = o.urban_district_override
    FROM region_import i JOIN regions o ON o.adcode = i.replaces
    WHERE n.adcode = i.adcode AND o.urban_district_override IS NOT NULL
    """,
    """
    INSERT INTO region_replacements (adcode, replaced_by)
    SELECT replaces, adcode FROM region_import WHERE replaces IS NOT NULL
    ON CONFLICT (adcode) DO UPDATE
    SET replaced_by = excluded.replaced_by, replaced_at = now(), txid = pg_current_xact_id()
    """,
    "DELETE FROM regions r USING region_import i WHERE r.adcode = i.replaces",
)

# The urban-district flag follows the name when the file names a region anew (a county renamed 区 is 撤县设区); an
# outline alone leaves it, and any operator's choice, as it is.
LOADED = "SELECT adcode, name, is_urban_district FROM regions WHERE adcode = ANY(:adcodes)"
SET_STAGED = """
UPDATE region_import SET is_urban_district = :urban, population = :population, population_source = :source
WHERE adcode = :adcode
"""

WRITE = """
INSERT INTO regions AS r (adcode, name, level, parent_adcode, is_urban_district, boundary, seat, population,
                          population_source)
SELECT adcode, name, level, parent_adcode, is_urban_district, ST_Multi(boundary), seat, population,
       population_source
FROM region_import WHERE level = :level
ON CONFLICT (adcode) DO UPDATE SET
    name = excluded.name, level = excluded.level, parent_adcode = excluded.parent_adcode,
    is_urban_district = excluded.is_urban_district, boundary = excluded.boundary,
    population = coalesce(excluded.population, r.population),
    population_source = CASE WHEN excluded.population IS NULL THEN r.population_source
                             ELSE excluded.population_source END
WHERE (r.name, r.level, r.parent_adcode, r.is_urban_district, ST_AsBinary(r.boundary),
       coalesce(excluded.population, r.population))
      IS DISTINCT FROM
      (excluded.name, excluded.level, excluded.parent_adcode, excluded.is_urban_district,
       ST_AsBinary(excluded.boundary), r.population)
RETURNING r.adcode, r.xmax = 0 AS created
"""
SET_POPULATION = """
UPDATE regions SET population = :population, population_source = :source WHERE adcode = :adcode
"""

# What this transaction changed, read from the histories the triggers wrote.
OUTLINES_OR_PEOPLE_CHANGED = """
SELECT DISTINCT adcode FROM region_changes
WHERE txid = pg_current_xact_id()
  AND (action = 'created' OR boundary_before IS NOT NULL
       OR before -> 'population' IS DISTINCT FROM after -> 'population')
"""
SITES_REASSIGNED = """
SELECT count(DISTINCT site_id) FROM site_changes
WHERE txid = pg_current_xact_id() AND before IS NOT NULL
  AND before ->> 'region_adcode' IS DISTINCT FROM after ->> 'region_adcode'
"""

# What the population model needs of a leaf region. The urban share, when the census file gives none, is the one
# its current surface was made with: the model spreads the rural people evenly, so the sparsest cell's density
# times the area is the rural people.
MODEL_INPUTS = """
SELECT r.adcode, ST_AsBinary(r.boundary) AS boundary, ST_X(r.seat) AS seat_lon, ST_Y(r.seat) AS seat_lat,
       r.population,
       (SELECT greatest(0, least(1, 1 - min(p.population / nullif(ST_Area(p.cell::geography), 0))
                                    * sum(ST_Area(p.cell::geography)) / nullif(sum(p.population), 0)))
        FROM population_cells p WHERE p.region_adcode = r.adcode) AS urban_share
FROM regions r
WHERE r.adcode = ANY(:adcodes) AND NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_adcode = r.adcode)
ORDER BY r.adcode
"""


async def import_regions(
    conn: AsyncConnection,
    features: list[Feature],
    population: list[Population],
    *,
    check_datum: bool,
    dry_run: bool,
) -> Imported:
    """Check and write `features` (and the census `population`) in one savepoint of the caller's transaction,
    rolled back for a dry run. ImportRefused, with nothing written, naming every bad feature. `check_datum`: warn
    about outlines that look like GCJ-02 read as WGS-84 (a file said to be WGS-84)."""
    savepoint = await conn.begin_nested()
    try:
        done = await _import(conn, features, population, check_datum)
    except BaseException:
        await savepoint.rollback()
        raise
    await conn.execute(text("DROP TABLE region_import"))
    if dry_run:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    return done


async def _import(
    conn: AsyncConnection, features: list[Feature], population: list[Population], check_datum: bool
) -> Imported:
    await conn.execute(text(STAGE))
    await conn.execute(
        text(
            "INSERT INTO region_import (number, adcode, name, level, parent_adcode, boundary, replaces) "
            "VALUES (:number, :adcode, :name, :level, :parent, ST_GeomFromWKB(:wkb, 4326), :replaces)"
        ),
        [
            {
                "number": f.number,
                "adcode": f.adcode,
                "name": f.name,
                "level": f.level,
                "parent": f.parent,
                "wkb": shapely.to_wkb(f.boundary),
                "replaces": f.replaces,
            }
            for f in features
        ],
    )
    by_adcode = {f.adcode: f for f in features}
    problems: list[str] = []
    done = Imported()
    await _check_validity(conn, problems, done)
    await conn.execute(text(INFER_PARENTS), {"top": LEVELS[0]})
    await _check_replacements(conn, by_adcode, problems, done)
    await _check_parents(conn, by_adcode, problems)
    await _check_overlaps(conn, by_adcode, problems)
    people = await _check_population(conn, population, by_adcode, problems)
    if check_datum:
        await _check_datum(conn, by_adcode, done)
    if problems:
        raise ImportRefused(problems, done.warnings)
    await _stage_attributes(conn, features, people)
    await conn.execute(text(INHERIT))
    for level in LEVELS:
        for row in (await conn.execute(text(WRITE), {"level": level})).mappings():
            (done.created if row["created"] else done.updated).append(row["adcode"])
    if done.replaced:
        for statement in RETIRE:
            await conn.execute(text(statement))
        for old, new in done.replaced.items():
            for key in await keys.move_region(conn, old, new):
                done.warnings.append(f"{old}: the key {key}, limited to it, is now limited to {new}")
    for adcode, figure in people.items():
        if adcode not in by_adcode:
            await conn.execute(
                text(SET_POPULATION), {"adcode": adcode, "population": figure.population, "source": figure.source}
            )
    written = set(done.created) | set(done.updated)
    done.unchanged = [a for a in by_adcode if a not in written]
    done.sites_reassigned = int((await conn.execute(text(SITES_REASSIGNED))).scalar_one())
    changed = {row[0] for row in await conn.execute(text(OUTLINES_OR_PEOPLE_CHANGED))}
    given_shares = {a for a, p in people.items() if p.urban_share is not None}
    done.surfaces_rebuilt = await _rebuild_surfaces(conn, sorted(changed | given_shares), people, done)
    return done


async def _check_validity(conn: AsyncConnection, problems: list[str], done: Imported) -> None:
    repaired, refused = [], []
    for row in (await conn.execute(text(INVALID))).mappings():
        label = f"feature {row['number']} ({row['adcode']}): geometry"
        if row["change"] <= REPAIR_AREA_CHANGE:
            repaired.append(row["adcode"])
            done.warnings.append(f"{label}: invalid ({row['reason']}), repaired (area changed {row['change']:.2%})")
        else:
            refused.append(row["adcode"])
            problems.append(
                f"{label}: invalid ({row['reason']}); repairing it would change its area by {row['change']:.0%}"
            )
    if repaired:
        await conn.execute(text(REPAIR), {"adcodes": repaired})
    if refused:
        await conn.execute(text("UPDATE region_import SET refused = true WHERE adcode = ANY(:a)"), {"a": refused})


async def _check_replacements(
    conn: AsyncConnection, by_adcode: dict[str, Feature], problems: list[str], done: Imported
) -> None:
    """The replacements the import makes (done.replaced), each checked; one made already (the same file imported
    again) is an ordinary update of the new region."""
    replacing: dict[str, str] = {}
    for row in (await conn.execute(text(REPLACEMENTS))).mappings():
        label, old = by_adcode[row["adcode"]].label(), row["replaces"]
        where = f"{label}: replaces"
        if old in replacing:
            problems.append(f"{where}: {old} is replaced by {by_adcode[replacing[old]].label()} too")
        elif row["in_file"] is not None:
            problems.append(f"{where}: {old} is feature {row['in_file']} too: a region is either drawn or replaced")
        elif not row["old_loaded"]:
            if row["replaced_by"] == row["adcode"]:
                await conn.execute(
                    text("UPDATE region_import SET replaces = NULL WHERE adcode = :adcode"), {"adcode": row["adcode"]}
                )
                continue  # replaced by this file before
            problems.append(f"{where}: {old} is not loaded")
        elif row["new_loaded"]:
            problems.append(
                f"{label}: adcode: {row['adcode']} is loaded already; a region replaces another under a new code"
            )
        elif row["children"]:
            problems.append(f"{where}: {old} has regions under it the file does not move ({row['children']})")
        replacing[old] = row["adcode"]
    done.replaced = replacing


async def _check_parents(conn: AsyncConnection, by_adcode: dict[str, Feature], problems: list[str]) -> None:
    for row in (await conn.execute(text(PARENTS))).mappings():
        where = f"{by_adcode[row['adcode']].label()}: parent"
        if row["parent_level"] is None:
            problems.append(f"{where}: {row['parent']} is neither in the file nor loaded")
        elif LEVELS.index(row["parent_level"]) >= LEVELS.index(row["level"]):
            problems.append(f"{where}: {row['parent']} is a {row['parent_level']}, not above a {row['level']}")
        elif row["outside_share"] > OUTSIDE_PARENT_SHARE:
            problems.append(
                f"{by_adcode[row['adcode']].label()}: geometry: {row['outside_share']:.1%} of it lies outside its "
                f"parent {row['parent']} (at most {OUTSIDE_PARENT_SHARE:.0%})"
            )


async def _check_overlaps(conn: AsyncConnection, by_adcode: dict[str, Feature], problems: list[str]) -> None:
    for row in (await conn.execute(text(OVERLAPS), {"share": OVERLAP_SHARE})).mappings():
        other = f"feature {row['other_number']} ({row['other']})" if row["other_number"] else f"loaded {row['other']}"
        problems.append(
            f"{by_adcode[row['adcode']].label()}: geometry: overlaps its sibling {other} by "
            f"{row['overlap_m2'] / 1e6:.2f} km² ({row['overlap_m2'] / row['smaller_m2']:.1%} of the smaller; at most "
            f"{OVERLAP_SHARE:.0%})"
        )


async def _check_population(
    conn: AsyncConnection, population: list[Population], by_adcode: dict[str, Feature], problems: list[str]
) -> dict[str, Population]:
    people: dict[str, Population] = {}
    loaded = {
        row[0]
        for row in await conn.execute(
            text("SELECT adcode FROM regions WHERE adcode = ANY(:a)"), {"a": [p.adcode for p in population]}
        )
    }
    for figure in population:
        where = f"{figure.source} row {figure.row} ({figure.adcode}): adcode"
        if figure.adcode in people:
            problems.append(f"{where}: given twice (row {people[figure.adcode].row})")
        elif figure.adcode not in by_adcode and figure.adcode not in loaded:
            problems.append(f"{where}: no such region in the file or loaded")
        else:
            people[figure.adcode] = figure
    return people


async def _check_datum(conn: AsyncConnection, by_adcode: dict[str, Feature], done: Imported) -> None:
    rows = list((await conn.execute(text(CENTROIDS))).mappings())
    shifted = []
    for row in rows:
        found = looks_shifted((row["lon"], row["lat"]), (row["loaded_lon"], row["loaded_lat"]))
        if found is not None:
            shifted.append(row["adcode"])
            done.warnings.append(
                f"{by_adcode[row['adcode']].label()}: geometry: {found[0]:.0f} m from the loaded outline, "
                f"{found[1]:.0f} m from where it lies read as GCJ-02: an outline from Amap or DataV read as WGS-84?"
            )
    if shifted:
        done.warnings.append(
            f"{len(shifted)} of {len(rows)} outlines already loaded look shifted by the GCJ-02 datum: if this file "
            "comes from Amap, Tencent or DataV, import it again with --coordsys gcj02"
        )


async def _stage_attributes(conn: AsyncConnection, features: list[Feature], people: dict[str, Population]) -> None:
    loaded = {
        row["adcode"]: row
        for row in (await conn.execute(text(LOADED), {"adcodes": [f.adcode for f in features]})).mappings()
    }
    await conn.execute(
        text(SET_STAGED),
        [
            {
                "adcode": f.adcode,
                "urban": (
                    loaded[f.adcode]["is_urban_district"]
                    if f.adcode in loaded and loaded[f.adcode]["name"] == f.name
                    else is_urban_district(f)
                ),
                "population": people[f.adcode].population if f.adcode in people else None,
                "source": people[f.adcode].source if f.adcode in people else None,
            }
            for f in features
        ],
    )


async def _rebuild_surfaces(
    conn: AsyncConnection, adcodes: list[str], people: dict[str, Population], done: Imported
) -> list[str]:
    """Population surfaces of the leaf regions whose outline or people changed, made again by the model."""
    model = CensusSeatDecayModel()
    rebuilt = []
    query = text(MODEL_INPUTS).bindparams(bindparam("adcodes", type_=ARRAY(String)))
    for row in (await conn.execute(query, {"adcodes": adcodes})).mappings():
        given = people.get(row["adcode"])
        share = given.urban_share if given is not None and given.urban_share is not None else row["urban_share"]
        if row["seat_lon"] is None or row["population"] is None or share is None:
            missing = "a seat" if row["seat_lon"] is None else "a population" if row["population"] is None else None
            done.warnings.append(
                f"{row['adcode']}: no population surface: it has no {missing}"
                if missing
                else f"{row['adcode']}: no population surface: give its urban_share in --population"
            )
            continue
        region = RegionForModel(
            adcode=row["adcode"],
            boundary=shapely.from_wkb(row["boundary"]),
            seat=(row["seat_lon"], row["seat_lat"]),
            population=int(row["population"]),
            urban_share=float(share),
        )
        await coverage.replace_population(conn, row["adcode"], model.source, list(model.cells(region)))
        rebuilt.append(row["adcode"])
    return rebuilt

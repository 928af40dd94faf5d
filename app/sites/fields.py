"""The site's fields, declared once: for each, its column and type, its vocabulary, its default, who writes it and
the Chinese headers a spreadsheet gives it (the English header is its name).

The table (app.sites.models), the request and answer shapes (app.sites.schemas), the repository's column lists,
the bulk import's staging table, headers and defaults, the export's columns and the OGC properties are made from
FIELDS, so that a new field is an entry here and its migration.
"""

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from types import GenericAlias
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from app import geo
from app.api.parameters import Instant, IsoDate
from app.database.orm import one_of
from app.formats import text
from app.sites import hours
from app.vocabularies.closed import AccessMode, Labelled, SiteStatus, VerificationMethod

_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]

# --- what a write may hold -----------------------------------------------------------------------------------

# Text as the register stores it: trimmed, bounded, and visible (app.formats.text: no control, bidi or zero-width
# characters).
MAX_LIST = 50  # amenities, services, worker groups, photos: a site has a handful
OneLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), text.ONE_LINE]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), text.ONE_LINE]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), text.ONE_LINE]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), text.URL]
OpeningHours = Annotated[OneLine, AfterValidator(hours.validate)]
INTEGER_MAX = 2**31 - 1  # PostgreSQL's integer


def matching_key(value: str) -> str:
    """A source or an external id as the register matches it: NFKC, so that the full-width ＤＵＰ a Chinese input
    method types and DUP are one id, and trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


Source = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    text.ONE_LINE,
    AfterValidator(matching_key),
]
ExternalId = Annotated[Name, AfterValidator(matching_key)]


def _a_whole_number(value: Any) -> Any:
    # pydantic would read true as 1 and "12" as 12: in a JSON body a count is a JSON number (a bulk import reads a
    # spreadsheet's cells of a numeric field as numbers first).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole number")
    return value


Count = Annotated[int, BeforeValidator(_a_whole_number), Field(ge=0, le=INTEGER_MAX)]


Codes = Annotated[list[str], Field(max_length=MAX_LIST)]
Texts = Annotated[list[OneLine], Field(max_length=MAX_LIST)]
Urls = Annotated[list[Url], Field(max_length=MAX_LIST)]


# --- the declaration -----------------------------------------------------------------------------------------


class WrittenBy(Enum):
    partner = "partner"  # any write: POST and PATCH /v1/sites, a bulk row, an accepted report
    creator = "creator"  # the natural key: given when the site is created (POST, a bulk row), never changed
    register = "register"  # the register's own: made or kept by the database


@dataclass(frozen=True, slots=True)
class Check:
    """A CHECK constraint of one field, named ck_sites_<name> by the metadata's naming convention."""

    name: str
    condition: str
    problem: str  # what a write that breaks it is told, naming the field


@dataclass(frozen=True, slots=True)
class SiteField:
    name: str  # also its English header in exports and imports
    column_type: TypeEngine[Any]  # as stored (lat and lon: as read from the location)
    headers_zh: tuple[str, ...]  # the Chinese headers an import reads it under
    written_by: WrittenBy
    write_as: Any = None  # what a write's value is validated as (default: the vocabulary)
    nullable: bool = True
    # What a write that leaves the field out gives it (the column's default; for the natural key, the request's).
    default: Any = None
    vocabulary: type[Labelled] | None = None
    description: str | None = None
    in_summary: bool = False  # in every answer about a site (SiteSummary), the nearest search's too
    read_as: str | None = None  # SQL over the row `s`, for a field that is not a column of its own
    check: Check | None = None
    primary_key: bool = False
    references: str | None = None  # the column a foreign key points at
    on_delete: str | None = None
    indexed: bool = False

    @property
    def stored(self) -> bool:
        """A column of its own (lat and lon are read from the location)."""
        return self.read_as is None

    @property
    def selected(self) -> str:
        """The field in a SELECT over `sites s`."""
        return f"s.{self.name}" if self.read_as is None else f"{self.read_as} AS {self.name}"

    @property
    def sql_type(self) -> str:
        return str(self.column_type.compile(dialect=_POSTGRESQL))

    @property
    def required(self) -> bool:
        """A new site must be given it."""
        return not self.nullable and self.default is None and self.written_by is not WrittenBy.register

    @property
    def is_list(self) -> bool:
        return isinstance(self.column_type, ARRAY)

    @property
    def python_type(self) -> Any:
        """The type of its value in an answer."""
        if self.vocabulary is not None:
            found: Any = self.vocabulary
        elif isinstance(self.column_type, ARRAY):
            found = GenericAlias(list, self.column_type.item_type.python_type)
        else:
            found = self.column_type.python_type
        return found | None if self.nullable else found

    @property
    def write_type(self) -> Any:
        return self.write_as if self.write_as is not None else self.vocabulary

    def column(self) -> Column[Any]:
        references = [ForeignKey(self.references, ondelete=self.on_delete)] if self.references else []
        return Column(
            self.name,
            self.column_type,
            *references,
            primary_key=self.primary_key,
            nullable=self.nullable,
            server_default=_column_default(self),
            index=self.indexed,
        )

    def check_constraints(self) -> Iterator[CheckConstraint]:
        if self.vocabulary is not None:
            known = one_of(self.name, self.vocabulary)
            condition = f"{self.name} IS NULL OR {known}" if self.nullable else known
            yield CheckConstraint(condition, name=f"{self.name}_known")
        if self.check is not None:
            yield CheckConstraint(self.check.condition, name=self.check.name)

    def constraint_problems(self) -> dict[str, tuple[str, str]]:
        """What each of its CHECK constraints (named by the metadata's convention) tells a write that breaks it."""
        problems = {}
        if self.vocabulary is not None:
            problems[f"ck_sites_{self.name}_known"] = (self.name, f"not one of {', '.join(self.vocabulary)}")
        if self.check is not None:
            problems[f"ck_sites_{self.check.name}"] = (self.name, self.check.problem)
        return problems


def _column_default(field: SiteField) -> str | ColumnElement[Any] | None:
    # The natural key is always written by whoever creates the site (a request without a source says "api"): its
    # column has no default of its own.
    if field.default is None or field.written_by is WrittenBy.creator:
        return None
    if isinstance(field.default, ColumnElement):
        return field.default
    if isinstance(field.default, list):
        return "{}"  # a list field's default is empty
    return str(field.default)


# In the order answers give them.
FIELDS: tuple[SiteField, ...] = (
    SiteField("id", BigInteger(), ("站点ID",), WrittenBy.register, nullable=False, in_summary=True, primary_key=True),
    SiteField(
        "kind",
        Text(),
        ("类型",),
        WrittenBy.partner,
        str,
        nullable=False,
        in_summary=True,
        references="site_kinds.code",
        indexed=True,
    ),
    SiteField(
        "name",
        Text(),
        ("名称", "站点名称"),
        WrittenBy.partner,
        Name,
        nullable=False,
        in_summary=True,
        check=Check("name_not_blank", "btrim(name) <> ''", "must not be blank"),
    ),
    SiteField("address", Text(), ("地址",), WrittenBy.partner, OneLine, in_summary=True),
    SiteField(
        "lat",
        Double(),
        ("纬度",),
        WrittenBy.partner,
        geo.Latitude,
        nullable=False,
        in_summary=True,
        read_as="ST_Y(s.geom)",
    ),
    SiteField(
        "lon",
        Double(),
        ("经度",),
        WrittenBy.partner,
        geo.Longitude,
        nullable=False,
        in_summary=True,
        read_as="ST_X(s.geom)",
    ),
    SiteField(
        "region_adcode",
        String(6),
        ("行政区划代码",),
        WrittenBy.register,
        description="Derived from the location by the region boundaries",
        references="regions.adcode",
        on_delete="SET NULL",
    ),
    SiteField("operator", Text(), ("运营单位", "主办单位"), WrittenBy.partner, OneLine),
    SiteField("phone", Text(), ("电话", "联系电话"), WrittenBy.partner, Phone),
    SiteField("keeper", Text(), ("管理员", "负责人"), WrittenBy.partner, OneLine),
    SiteField(
        "opening_hours",
        Text(),
        ("开放时间",),
        WrittenBy.partner,
        OpeningHours,
        description="OpenStreetMap opening_hours syntax, e.g. 'Mo-Fr 08:30-17:30; PH off'",
    ),
    SiteField(
        "access",
        Text(),
        ("进入方式",),
        WrittenBy.partner,
        nullable=False,
        default=AccessMode.open,
        vocabulary=AccessMode,
    ),
    SiteField("access_note", Text(), ("进入说明",), WrittenBy.partner, OneLine),
    SiteField(
        "amenities",
        ARRAY(Text()),
        ("设施", "服务设施"),
        WrittenBy.partner,
        Codes,
        nullable=False,
        default=[],
        in_summary=True,
    ),
    SiteField("services", ARRAY(Text()), ("服务项目",), WrittenBy.partner, Texts, nullable=False, default=[]),
    SiteField("worker_groups", ARRAY(Text()), ("服务对象",), WrittenBy.partner, Texts, nullable=False, default=[]),
    SiteField(
        "seats",
        Integer(),
        ("座位数",),
        WrittenBy.partner,
        Count,
        description="How many people the site can seat; null when unknown",
        check=Check("seats_not_negative", "seats >= 0", "must not be negative"),
    ),
    SiteField(
        "status", Text(), ("状态",), WrittenBy.partner, nullable=False, default=SiteStatus.active, vocabulary=SiteStatus
    ),
    SiteField("opened_on", Date(), ("启用日期",), WrittenBy.partner, IsoDate),
    SiteField(
        "closed_on",
        Date(),
        ("停用日期",),
        WrittenBy.partner,
        IsoDate,
        check=Check(
            "closed_after_opened",
            "closed_on IS NULL OR opened_on IS NULL OR closed_on >= opened_on",
            "closed_on is before opened_on",
        ),
    ),
    SiteField("rating", Text(), ("评级",), WrittenBy.partner, OneLine),
    SiteField("photos", ARRAY(Text()), ("照片",), WrittenBy.partner, Urls, nullable=False, default=[]),
    SiteField("source", Text(), ("来源",), WrittenBy.creator, Source, nullable=False, default="api"),
    SiteField("external_id", Text(), ("外部编号", "编号"), WrittenBy.creator, ExternalId),
    SiteField("last_verified_at", DateTime(timezone=True), ("最近核实时间",), WrittenBy.partner, Instant),
    SiteField("verified_by", Text(), ("核实方式",), WrittenBy.partner, vocabulary=VerificationMethod),
    SiteField(
        "created_at", DateTime(timezone=True), ("创建时间",), WrittenBy.register, nullable=False, default=func.now()
    ),
    SiteField(
        "updated_at",
        DateTime(timezone=True),
        ("更新时间",),
        WrittenBy.register,
        nullable=False,
        default=func.now(),
        indexed=True,
    ),
    SiteField(
        "version",
        Integer(),
        ("版本",),
        WrittenBy.register,
        nullable=False,
        default=1,
        check=Check("version_positive", "version >= 1", "must be 1 or more"),
    ),
)


def written_by(*writers: WrittenBy) -> tuple[SiteField, ...]:
    return tuple(f for f in FIELDS if f.written_by in writers)


def names(found: tuple[SiteField, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in found)


PARTNER = written_by(WrittenBy.partner)
NATURAL_KEY = written_by(WrittenBy.creator)
WRITTEN = written_by(WrittenBy.partner, WrittenBy.creator)  # what a bulk row holds
REGISTER = written_by(WrittenBy.register)
# Fields every site has: a write may change them, never clear them (null).
NOT_NULL = names(tuple(f for f in PARTNER if not f.nullable))
# Every optional field a partner writes, and what it is when a write leaves it out.
DEFAULTS: dict[str, Any] = {f.name: f.default for f in PARTNER if not f.required}
# The Chinese headers of spreadsheets → the field.
HEADERS_ZH = {header: f.name for f in FIELDS for header in f.headers_zh}

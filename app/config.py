"""Typed settings, read once from the environment (and an optional .env file)."""

from functools import cached_property

from pydantic import AnyHttpUrl, Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.geo import CoordSys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql://postgres@127.0.0.1:54329/yizhan"),
        description="Primary (writes). Default: the project-local cluster started by `make run`.",
    )
    database_read_url: PostgresDsn | None = Field(
        default=None,
        description="A streaming standby for request-time reads (while it keeps up); the primary when unset",
    )
    database_read_max_lag_s: float = Field(
        default=5.0,
        gt=0,
        description="Reads go to the primary while the standby's replay is further behind than this (seconds)",
    )
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(
        default=24,
        ge=1,
        description="Connections of the read pool (the write pool keeps half as many). A coverage table sends a "
        "city's counties' statements to the connection that has their planes ready, and PostGIS keeps 128 planes per "
        "connection: 24 hold all of China's 2,891 counties, so a national table does not push a province's out",
    )
    db_pool_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="The longest a write waits for a connection of the write pool; past it the write is answered "
        "503 with Retry-After (every connection busy)",
    )
    request_body_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="The longest the service waits for the next part of a request body; a client silent longer is "
        "answered 408 and its connection closed",
    )
    request_head_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="`yizhan serve`: the longest a connection may take to send a request's head (request line and "
        "header fields) from its first byte, or from connecting; past it the answer is 408 and the connection closed",
    )
    redis_url: str | None = Field(
        default=None, description="Shared rate-limit counters for all workers and instances; in-process when unset"
    )
    rate_limit_reads_per_minute: int = Field(default=600, ge=0, description="Per key or client address; 0: off")
    rate_limit_writes_per_minute: int = Field(default=120, ge=0, description="Per key; 0: off")
    rate_limit_coverage_per_minute: int = Field(
        default=60,
        ge=0,
        description="Coverage and siting (/v1/coverage/…), a budget of their own: each is a hundred times a "
        "nearest query's work; per key or client address; 0: off",
    )
    rate_limit_prefix: str = "yizhan:rl"
    public_base_url: AnyHttpUrl | None = Field(
        default=None,
        description="How clients reach the service (https://yizhan.example.cn, with a path prefix if a proxy adds "
        "one): the base of every absolute link it hands out (TileJSON, OGC API). Unset: the address and port the "
        "connection came in on, with the scheme a trusted proxy (FORWARDED_ALLOW_IPS) reports; never the Host header",
    )
    map_base_url: str | None = Field(
        default=None,
        description="An online raster base map for /map, a {z}/{x}/{y} Web Mercator template (OpenStreetMap, "
        "Tianditu, Amap …); none: the boundaries are the base layer (works offline)",
    )
    map_base_coordsys: CoordSys = Field(
        default=CoordSys.wgs84,
        description="The base map's datum: gcj02 for Amap and Tencent, whose maps are shifted; the page then draws "
        "everything in GCJ-02",
    )
    map_base_attribution: str | None = Field(default=None, description="Shown under the map with the base map")
    request_record_seconds: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="How often request lines are written and request metrics counted, a batch at a time (waking "
        "for every request would cost the requests more); other workers' figures in a scrape are this old at most",
    )
    observe_requests: bool = Field(
        default=True,
        description="Give every request an id (X-Request-ID, and `instance` in problem+json), a JSON log line and "
        "its request metrics (app.observability); off where a proxy in front does all three, or to measure what they "
        "cost (make bench-observer)",
    )
    request_budget_s: float = Field(
        default=30.0,
        gt=0,
        description="A request still working after this long is stopped and answered 503 with Retry-After "
        "(app.api.budget); its database query and its worker process are stopped with it",
    )
    import_budget_s: float = Field(default=600.0, gt=0, description="The same for bulk imports, upload included")
    compute_workers: int | None = Field(
        default=None,
        ge=1,
        description="Worker processes for CPU-heavy steps (overlays, siting, spreadsheets) per server process; "
        "default one per core",
    )
    visits_retention_months: int = Field(
        default=13,
        ge=1,
        description="Raw visits are kept this many whole months besides the current one; the daily counts for good",
    )
    visits_retention_on_schedule: bool = Field(
        default=True,
        description="Run the visits' retention (and make next month's partition) in the service, at start and "
        "daily; off where cron runs `yizhan visits prune` instead",
    )
    telemetry: bool = Field(
        default=False,
        description="FastAPI's OpenTelemetry spans, metrics and logs, for the OTel providers the deployment sets up",
    )

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The primary's URL with SQLAlchemy's asyncpg driver name."""
        return str(self.database_url).replace("postgresql://", "postgresql+asyncpg://", 1)

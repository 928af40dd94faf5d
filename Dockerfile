# Production image: the API only; PostgreSQL + PostGIS run elsewhere (see compose.yaml).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/yizhan
# Pango and a CJK font: WeasyPrint lays out the monthly report and the door posters with them.
RUN apt-get update -q && apt-get install -y -q --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 fonts-noto-cjk && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY app ./app
COPY alembic.ini ./
COPY migrations ./migrations
COPY seed ./seed
# Editable, so the app finds alembic.ini, migrations/ and seed/ beside it (the readiness probe compares the
# database's schema revision with the migrations shipped here).
RUN pip install -e .

RUN useradd --system --uid 10001 yizhan
USER yizhan
EXPOSE 8000
# Settings come from the environment: DATABASE_URL (required), DATABASE_READ_URL, DB_POOL_MAX, REDIS_URL,
# MAP_BASE_URL (app/config.py lists them all).
# `yizhan serve` runs uvicorn as production needs it (app/api/server.py): no access log (the service logs one JSON line
# per request itself), problem+json for unparsable requests, X-Forwarded-For believed only from FORWARDED_ALLOW_IPS
# (unset: from nobody; anyone could otherwise name any address and slip past the per-address rate limit).
CMD ["yizhan", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

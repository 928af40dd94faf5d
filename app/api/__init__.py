"""The HTTP API's plumbing that every domain's router shares: responses, query and parameter parsing, the routes'
dependencies (readers, transactions, keys), rate limits, time budgets, health probes, and how uvicorn serves it.

Two measured shortcuts of the nearest-site hot path live here under their own names: `query.LeanRoute` (a route
without FastAPI's dependency resolution) and the read pool it reads through (app.database.read_pool)."""

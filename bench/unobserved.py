"""The service without its request observer (app.observability.RequestObserver: the request id, the JSON log line
and the request metrics), for bench/nearest.py to measure what watching costs in the same run."""

from fastapi import FastAPI

from app.main import create_app
from app.observability import RequestObserver


def app() -> FastAPI:
    """Factory for `uvicorn --factory bench.unobserved:app`."""
    application = create_app()
    application.user_middleware = [m for m in application.user_middleware if m.cls is not RequestObserver]
    return application

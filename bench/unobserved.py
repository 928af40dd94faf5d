"""The service without its request observer (app.observability.requests.RequestObserver: the request id, the JSON
log line and the request metrics), for bench/nearest.py to measure what watching costs in the same run."""

from app.main import Service, create_app


def app() -> Service:
    """Factory for `uvicorn --factory bench.unobserved:app`."""
    application = create_app()
    application.observed = False
    return application

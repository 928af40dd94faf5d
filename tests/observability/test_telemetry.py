"""TELEMETRY=true hands requests to FastAPI's OpenTelemetry; by default nothing is recorded (and nothing is paid)."""

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.config import Settings
from app.main import create_app

SPANS = InMemorySpanExporter()


def setup_module() -> None:
    # The process-wide provider a deployment would configure (OpenTelemetry lets it be set once).
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)


async def _spans_of_one_request(settings: Settings) -> list[str]:
    SPANS.clear()
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://yizhan.test") as http:
        assert (await http.get("/healthz")).status_code == 200
    return [span.name for span in SPANS.get_finished_spans()]


async def test_requests_are_traced_only_when_telemetry_is_on(settings: Settings) -> None:
    assert settings.telemetry is False
    assert await _spans_of_one_request(settings) == []
    names = await _spans_of_one_request(settings.model_copy(update={"telemetry": True}))
    assert "GET /healthz" in names, names

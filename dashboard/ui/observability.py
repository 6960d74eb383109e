"""The console process's telemetry: set up once (asgi.py) and the Prometheus ``/metrics`` route.

The console serves /metrics on its own HTTP port (8501), next to Streamlit's routes, through
st.App's ``routes``; the worker serves it on ``ORCA_METRICS_PORT``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboard import telemetry


def start() -> None:
    """Logging and the OpenTelemetry providers for this console process (idempotent)."""
    telemetry.configure_logging()
    telemetry.setup("console")


async def metrics(request: Request) -> Response:
    body, content_type = telemetry.prometheus_text()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


METRICS_ROUTE = Route("/metrics", metrics, methods=["GET"])

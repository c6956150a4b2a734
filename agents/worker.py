"""Run one worker process: the Faust app with its agents, plus ``/metrics``.

Why a function and not ``faust -A``: configuration is validated before anything
starts (a bad variable stops the worker with its name), and the Prometheus endpoint
is started beside Faust's own web server (unless ``ECOM_METRICS_ENABLED=false``).
"""

from __future__ import annotations

import faust
from prometheus_client import start_http_server

from agents import metrics
from agents.app import create_app
from agents.config import Settings
from agents.monitoring import install_monitoring
from agents.pipeline import install_pipeline


def build(settings: Settings) -> tuple[faust.App, object]:
    """The app with every agent, table and view installed, and its monitoring."""
    metrics.set_enabled(settings.metrics_enabled)
    app = create_app(settings)
    pipeline = install_pipeline(app, settings)
    install_monitoring(app, pipeline)
    return app, pipeline


def run_worker(settings: Settings) -> None:
    """Block running the worker until SIGINT/SIGTERM."""
    app, _ = build(settings)
    if settings.metrics_port and settings.metrics_enabled:
        start_http_server(settings.metrics_port, registry=metrics.REGISTRY)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()

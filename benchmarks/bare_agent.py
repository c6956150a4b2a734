"""A Faust worker whose agent does nothing per event: the framework's own ceiling.

Why: the pipeline's throughput only means something next to what Faust itself can do
on the same machine, broker and topics. This app is built by the project's
:func:`agents.app.create_app` (same broker, buffer, commit and session settings) with its
own app id, and subscribes to the same input topics as :mod:`agents.pipeline`, but its
agent only counts what it receives. Two shapes:

- ``batch`` (default): ``stream.take_events(batch_max, within)``, as the pipeline's
  agent takes its input, so the difference to the pipeline is the pipeline's own work;
- ``event``: ``async for _ in stream``, the textbook per-event agent.

The count is served as JSON on ``/count`` of Faust's web server, with the wall-clock
times of the first and latest event, so the benchmark can watch it from outside.

Run as ``python -m benchmarks.bare_agent {batch|event}``, configured like the worker by
``ECOM_*`` / ``KAFKA_*`` environment variables.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import faust

from agents.app import create_app
from agents.config import INPUT_TOPICS, Settings

MODES = ("batch", "event")


def build(settings: Settings, mode: str) -> faust.App:
    """The configured app with one counting agent on every input topic."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    app = create_app(settings)
    inputs = app.topic(
        *[settings.topic(t) for t in INPUT_TOPICS], settings.topic("rekeyed"),
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        partitions=settings.partitions,
    )
    state: dict[str, Any] = {"count": 0, "first": None, "last": None, "mode": mode}

    def seen(n: int) -> None:
        now = time.time()
        if state["first"] is None:
            state["first"] = now
        state["count"] += n
        state["last"] = now

    async def bare(stream: faust.StreamT) -> None:
        if mode == "batch":
            async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
                seen(len(events))
        else:
            async for _value in stream:
                seen(1)

    app.agent(inputs, name="bare")(bare)

    @app.page("/count")
    async def count(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return web.json(state)

    return app


def main(argv: list[str]) -> None:
    """Run the worker until SIGTERM/SIGINT."""
    mode = argv[0] if argv else "batch"
    settings = Settings.from_env()
    app = build(settings, mode)
    faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])

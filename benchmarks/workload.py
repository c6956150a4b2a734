"""The events the benchmark sends: the traffic simulator's mix, stamped with the wall clock.

Why the simulator: throughput depends on the mix (message sizes, how many users share a
batch, how often an order or payment comes by), so the benchmark sends what the demo and
the evaluations send. Its ``ts`` is replaced by the wall clock at generation (or send)
time, because the worker rejects events too far from its clock (``ts_out_of_range``).
If :mod:`streams.simulation` cannot be imported, a small synthetic mix of valid
``page_view``/``view_item``/``add_to_cart``/``purchase``/``payment_authorized`` events
stands in, so the benchmark still runs.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from agents.config import Settings
from schemas.validation import Rejection, decode_event

#: ``(logical topic, event)`` pairs, as :class:`streams.simulation.TrafficSimulator` yields.
EventStream = Iterator[tuple[str, dict]]


def event_stream(seed: int) -> tuple[str, EventStream]:
    """A description of the source and an endless stream of contract-valid events."""
    try:
        from streams.simulation import SimulationConfig, TrafficSimulator
    except ImportError as exc:
        return f"synthetic mix (streams.simulation not importable: {exc})", synthetic(seed)
    return (f"TrafficSimulator(seed={seed}, n_users=2000)",
            iter(TrafficSimulator(SimulationConfig(seed=seed))))


def synthetic(seed: int, n_users: int = 2000) -> EventStream:
    """A simple valid mix: browsing, carting, and now and then a paid order."""
    rng = random.Random(seed)
    n = 0
    while True:
        user = f"u{min(int(rng.paretovariate(1.2)), n_users)}-{rng.randrange(n_users)}"
        session = f"s{seed}-{n}"
        base = {"user_id": user, "session_id": session}
        item = {"item_id": f"i{rng.randrange(5000)}", "category": "books", "price": 12.5}
        steps: list[tuple[str, str, dict]] = [("clickstream", "page_view", {"page": "/"})]
        steps += [("clickstream", "view_item", item)] * rng.randrange(1, 6)
        if rng.random() < 0.3:
            steps.append(("clickstream", "add_to_cart", item | {"quantity": 1}))
            if rng.random() < 0.3:
                steps.append(("orders", "purchase", {"order_id": f"o{seed}-{n}",
                                                     "items": [item | {"quantity": 1}],
                                                     "total": 12.5}))
                steps.append(("payments", "payment_authorized", {
                    "payment_id": f"p{seed}-{n}", "amount": 12.5, "method": "card"}))
        for topic, event_type, extra in steps:
            n += 1
            yield topic, {"event_id": f"e{seed}-{n}", "event_type": event_type, "ts": 0,
                          **base, **extra}


@dataclass
class Workload:
    """Pre-serialised messages: ``(physical topic, key, value)``."""

    source: str
    messages: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    per_topic: Counter = field(default_factory=Counter)
    users: int = 0
    mean_bytes: float = 0.0
    rejected: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def build_workload(settings: Settings, n: int, seed: int) -> Workload:
    """``n`` events stamped with the wall clock now, keyed by user id, checked valid."""
    started = time.perf_counter()
    source, stream = event_stream(seed)
    out = Workload(source)
    users: set[str] = set()
    size = 0
    for _, (topic, event) in zip(range(n), stream, strict=False):
        event = {**event, "ts": int(time.time() * 1000)}  # the simulator may still hold it
        value = orjson.dumps(event)
        decoded = decode_event(topic, value)
        if isinstance(decoded, Rejection):
            out.rejected[decoded.error_code] += 1
        user = event["user_id"]
        users.add(user)
        size += len(value)
        out.per_topic[topic] += 1
        out.messages.append((settings.topic(topic), user.encode(), value))
    out.users = len(users)
    out.mean_bytes = size / max(1, len(out.messages))
    out.seconds = time.perf_counter() - started
    return out

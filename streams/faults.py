"""Realistic bad input, for the demo and for tests.

Why: a production stream carries truncated JSON, wrong types, retries and clients on
old versions. The generator mixes a small share of such messages in, so the demo shows
the dead-letter path working, not just the happy path.
"""

from __future__ import annotations

from random import Random

import orjson

#: Kinds of damage, each ending in a known dead-letter code (or a dropped duplicate).
FAULTS: tuple[str, ...] = (
    "truncated", "not_utf8", "array", "missing_user", "string_price", "negative_amount",
    "unknown_type", "ancient_ts",
)


def corrupt(event: dict, rng: Random) -> bytes:
    """The JSON of ``event``, damaged in one randomly chosen way.

    >>> from schemas.validation import decode_event
    >>> event = {"event_id": "e1", "event_type": "search", "user_id": "u1", "ts": 5,
    ...          "session_id": "s", "query": "shoes"}
    >>> decode_event("clickstream", corrupt(event, Random(3))).error_code
    'missing_field'
    """
    kind = rng.choice(FAULTS)
    damaged = dict(event)
    if kind == "truncated":
        raw = orjson.dumps(event)
        return raw[: max(1, len(raw) // 2)]
    if kind == "not_utf8":
        return b"\xff\xfe" + orjson.dumps(event)
    if kind == "array":
        return orjson.dumps([event])
    if kind == "missing_user":
        damaged.pop("user_id", None)
    elif kind == "string_price":
        damaged["price" if "price" in event else "ts"] = "12,99"
    elif kind == "negative_amount" and "amount" in event:
        damaged["amount"] = -1
    elif kind in ("negative_amount", "unknown_type"):
        damaged["event_type"] = "teleport"
    elif kind == "ancient_ts":
        damaged["ts"] = 86_400_000  # 1970-01-02
    return orjson.dumps(damaged)

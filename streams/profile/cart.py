"""The cart, and cart abandonment detected by event time.

Why event time and a sweep: "no purchase within 60 minutes" is a statement about event
time. Wall-clock timers would fire differently on a replay and on live traffic; instead
the wiring calls :func:`due_triggers` with the partition's event-time watermark, for the
users whose :func:`next_due_ms` it has passed. The trigger's content and ``ts`` depend only
on the user's events, so a replay publishes the same message with the same id.

Definitions:

- *Cart lines*: ``item_id -> quantity, last unit price, category``. ``add_to_cart`` adds
  ``quantity`` (default 1); ``remove_from_cart`` subtracts it (the line goes at 0; an
  unknown item is ignored); a ``purchase`` subtracts its lines' quantities. At most
  ``max_cart_items`` lines: adding one more drops the oldest-added line. *Cart value*:
  sum of quantity x price, in the ``currency`` of the last ``add_to_cart``.
- *A cart* (the unit "at most one trigger per cart" refers to) opens with an
  ``add_to_cart`` while none is open (``carts_started``) and closes exactly once, as:
  *converted*: a ``purchase`` at or after its start and before it is due; *emptied*: a
  removal leaves no lines; or *abandoned*: it is due, i.e. no purchase came within
  ``abandon_after_ms`` of its last change (``due_ms = last change + abandon_after_ms``).
  A *change* is an ``add_to_cart`` or ``remove_from_cart``; ``begin_checkout`` is not.
- Abandonment is decided in event time: by :func:`due_triggers` once the watermark reaches
  ``due_ms``, or by ``apply_event`` when a later event of the user (at ``ts >= due_ms``)
  arrives first; either way the cart is closed with the same message, queued until the
  sweep. Lines left after a close stay in the cart; the next ``add_to_cart`` opens a new
  cart containing them.
- A purchase whose event arrives after the watermark passed ``due_ms`` cannot recall the
  trigger (it is out of order by more than the watermark's lateness allowance).

``cart_abandoned`` message (topic ``marketing-triggers``, key ``user_id``)::

    {"trigger_id": "cart_abandoned:<cart_id>", "trigger_type": "cart_abandoned",
     "schema_version": 1, "user_id": str, "ts": due_ms, "event_ts": last change ts,
     "cart_id": 16 hex chars, "cart_started_ms": int, "item_count": total quantity,
     "line_count": distinct items, "value": float (2 decimals), "currency": str,
     "items": [{"item_id", "category", "price", "quantity"}]}  # top lines by value

``cart_id`` = BLAKE2b-64 of ``user_id``, the user's cart sequence number and the cart's
start time: deterministic, so a replay re-publishes the same id (consumers de-duplicate on
``trigger_id``). No personal data is in the message. When the user has turned
personalisation off the trigger is not published (but the cart is counted as abandoned).
"""

from __future__ import annotations

import hashlib
from typing import Any

from streams.profile.config import ProfileConfig
from streams.profile.consent import personalization_allowed
from streams.profile.kpis import Kpis


def new_cart() -> dict[str, Any]:
    return {
        "cart": {
            "items": {},
            "currency": None,
            "open": False,
            "seq": 0,
            "started_ms": None,
            "changed_ms": None,
            "due_ms": None,
        },
        "carts": {"started": 0, "converted": 0, "emptied": 0, "abandoned": 0, "suppressed": 0},
        "pending_triggers": [],
    }


def _close_if_due(profile: dict[str, Any], ts: int, cfg: ProfileConfig) -> None:
    cart = profile["cart"]
    if cart["open"] and ts >= cart["due_ms"]:
        _abandon(profile, cart, cfg)


def _abandon(profile: dict[str, Any], cart: dict[str, Any], cfg: ProfileConfig) -> None:
    lines = sorted(cart["items"].items(), key=lambda kv: -kv[1][0] * kv[1][1])
    pending = profile["pending_triggers"]
    pending.append(
        {
            "seq": cart["seq"],
            "started_ms": cart["started_ms"],
            "changed_ms": cart["changed_ms"],
            "due_ms": cart["due_ms"],
            "line_count": len(lines),
            "item_count": sum(q for q, _, _ in cart["items"].values()),
            "value": cart_value(cart),
            "currency": cart["currency"],
            "items": [
                {"item_id": i, "category": c, "price": p, "quantity": q}
                for i, (q, p, c) in lines[: cfg.trigger_max_items]
            ],
        }
    )
    if len(pending) > cfg.max_pending_triggers:
        del pending[0]
    cart["open"] = False
    profile["carts"]["abandoned"] += 1


def _changed(cart: dict[str, Any], ts: int, cfg: ProfileConfig) -> None:
    if cart["changed_ms"] is None or ts > cart["changed_ms"]:
        cart["changed_ms"] = ts
        cart["due_ms"] = ts + cfg.abandon_after_ms


def add(
    profile: dict[str, Any], event: dict[str, Any], ts: int, cfg: ProfileConfig, kpis: Kpis
) -> None:
    """Apply an ``add_to_cart``."""
    _close_if_due(profile, ts, cfg)
    cart = profile["cart"]
    items = cart["items"]
    item_id = event["item_id"]
    qty = event.get("quantity") or 1
    line = items.get(item_id)
    if line is None:
        items[item_id] = [qty, event.get("price") or 0.0, event.get("category")]
        if len(items) > cfg.max_cart_items:
            del items[next(iter(items))]
    else:
        line[0] += qty
        line[1] = event.get("price") or line[1]
    cart["currency"] = event.get("currency") or "USD"
    if not cart["open"]:
        cart["open"] = True
        cart["seq"] += 1
        cart["started_ms"] = ts
        cart["changed_ms"] = None
        profile["carts"]["started"] += 1
        kpis.carts_started += 1
    _changed(cart, ts, cfg)


def remove(
    profile: dict[str, Any], event: dict[str, Any], ts: int, cfg: ProfileConfig, kpis: Kpis
) -> None:
    """Apply a ``remove_from_cart``."""
    _close_if_due(profile, ts, cfg)
    cart = profile["cart"]
    items = cart["items"]
    line = items.get(event["item_id"])
    if line is None:
        return
    line[0] -= event.get("quantity") or 1
    if line[0] <= 0:
        del items[event["item_id"]]
    if cart["open"]:
        if items:
            _changed(cart, ts, cfg)
        else:
            cart["open"] = False
            profile["carts"]["emptied"] += 1
            kpis.carts_emptied += 1


def purchased(
    profile: dict[str, Any], lines: list[dict[str, Any]], ts: int, cfg: ProfileConfig, kpis: Kpis
) -> None:
    """Apply a ``purchase`` with order ``lines``: they leave the cart; the open cart converts."""
    _close_if_due(profile, ts, cfg)
    cart = profile["cart"]
    items = cart["items"]
    for ln in lines:
        line = items.get(ln.get("item_id"))
        if line is not None:
            line[0] -= ln.get("quantity") or 1
            if line[0] <= 0:
                del items[ln["item_id"]]
    if cart["open"] and ts >= cart["started_ms"]:
        cart["open"] = False
        profile["carts"]["converted"] += 1
        kpis.carts_converted += 1


def cart_value(cart: dict[str, Any]) -> float:
    return round(sum(q * p for q, p, _ in cart["items"].values()), 2)


def cart_id(user_id: str, seq: int, started_ms: int) -> str:
    """Deterministic id of a user's ``seq``-th cart, started at ``started_ms``.

    >>> cart_id("u1", 1, 1000) == cart_id("u1", 1, 1000) != cart_id("u1", 2, 1000)
    True
    """
    raw = f"{user_id}\x1f{seq}\x1f{started_ms}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def next_due_ms(profile: dict[str, Any]) -> int | None:
    """Event time at which :func:`due_triggers` has something to do, or ``None``."""
    due = [p["due_ms"] for p in profile["pending_triggers"]]
    cart = profile["cart"]
    if cart["open"]:
        due.append(cart["due_ms"])
    return min(due) if due else None


def due_triggers(
    profile: dict[str, Any],
    user_id: str,
    watermark_ms: int,
    cfg: ProfileConfig,
    kpis: Kpis | None = None,
) -> list[dict[str, Any]]:
    """Marketing triggers due at ``watermark_ms``; they are removed from the profile (sent).

    Every abandoned cart handed out here adds 1 to ``kpis.carts_abandoned``, including
    the ones not published because the user turned personalisation off.

    >>> from streams.profile.config import MINUTE_MS
    >>> p, cfg = new_cart() | {"consent": None}, ProfileConfig()
    >>> ev = {"item_id": "i1", "category": "books", "price": 12.5, "quantity": 2}
    >>> add(p, ev, 0, cfg, Kpis())
    >>> next_due_ms(p) == 60 * MINUTE_MS, due_triggers(p, "u1", 59 * MINUTE_MS, cfg)
    (True, [])
    >>> [msg] = due_triggers(p, "u1", 60 * MINUTE_MS, cfg)
    >>> msg["trigger_type"], msg["item_count"], msg["value"], msg["event_ts"], msg["ts"]
    ('cart_abandoned', 2, 25.0, 0, 3600000)
    >>> due_triggers(p, "u1", 10**12, cfg), next_due_ms(p)     # at most one per cart
    ([], None)
    """
    cart = profile["cart"]
    if cart["open"] and watermark_ms >= cart["due_ms"]:
        _abandon(profile, cart, cfg)
    pending = profile["pending_triggers"]
    if not pending:
        return []
    out = []
    keep = []
    allowed = personalization_allowed(profile)
    for p in pending:
        if p["due_ms"] > watermark_ms:
            keep.append(p)
            continue
        if kpis is not None:
            kpis.carts_abandoned += 1
        if not allowed:
            profile["carts"]["suppressed"] += 1
            continue
        cid = cart_id(user_id, p["seq"], p["started_ms"])
        out.append(
            {
                "trigger_id": f"cart_abandoned:{cid}",
                "trigger_type": "cart_abandoned",
                "schema_version": 1,
                "user_id": user_id,
                "ts": p["due_ms"],
                "event_ts": p["changed_ms"],
                "cart_id": cid,
                "cart_started_ms": p["started_ms"],
                "item_count": p["item_count"],
                "line_count": p["line_count"],
                "value": p["value"],
                "currency": p["currency"],
                "items": p["items"],
            }
        )
    profile["pending_triggers"] = keep
    return out


def summary(profile: dict[str, Any]) -> dict[str, Any]:
    """The cart fields of the snapshot."""
    cart = profile["cart"]
    c = profile["carts"]
    return {
        "line_count": len(cart["items"]),
        "item_count": sum(q for q, _, _ in cart["items"].values()),
        "value": cart_value(cart),
        "currency": cart["currency"],
        "open": cart["open"],
        "started_ms": cart["started_ms"] if cart["open"] else None,
        "last_change_ms": cart["changed_ms"],
        "due_ms": cart["due_ms"] if cart["open"] else None,
        "carts_started": c["started"],
        "carts_converted": c["converted"],
        "carts_abandoned": c["abandoned"],
        "carts_emptied": c["emptied"],
        "abandonment_rate": round(c["abandoned"] / c["started"], 4) if c["started"] else None,
    }

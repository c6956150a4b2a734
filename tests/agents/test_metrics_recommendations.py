"""The share of users served non-personalised recommendations, and the metrics switch.

``ecom_recommendation_users_nonpersonalized_ratio`` is defined in docs/observability.md;
the agent test drives the real intake agent under Faust's ``test_context()`` (no broker)
and reads the gauge from the registry Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from agents import metrics
from agents.app import create_app
from agents.config import Settings
from agents.pipeline import ORIGIN_HEADER, install_pipeline

RATIO = "ecom_recommendation_users_nonpersonalized_ratio"
value = metrics.REGISTRY.get_sample_value


# ------------------------------------------------------------------------- ServedUsers
def test_share_counts_each_user_once_by_their_latest_message():
    served = metrics.ServedUsers(metrics.USERS_NONPERSONALIZED_RATIO)
    assert served.refresh(0.0) == 0.0  # nobody served: 0, not NaN
    served.served("a", False, 1.0)
    served.served("b", True, 1.0)
    served.served("b", True, 2.0)  # a second message: still one user
    served.served("c", True, 2.0)
    assert served.refresh(2.0) == pytest.approx(2 / 3)
    assert value(RATIO) == pytest.approx(2 / 3)
    served.served("c", False, 3.0)  # c consented since: their latest message counts
    assert served.refresh(3.0) == pytest.approx(1 / 3)


def test_share_forgets_users_outside_the_window_and_over_the_cap():
    served = metrics.ServedUsers(metrics.USERS_NONPERSONALIZED_RATIO, window_s=10.0,
                                 max_users=2)
    served.served("old", True, 0.0)
    served.served("new", False, 8.0)
    assert served.refresh(8.0) == 0.5
    assert served.refresh(10.5) == 0.0  # "old" served 10.5 s ago: out of the window
    served.served("x", True, 11.0)
    served.served("y", True, 11.0)  # three users, cap 2: "new" (the oldest) goes
    assert served.refresh(11.0) == 1.0


# ---------------------------------------------------------------------- the real agent
@pytest.fixture
def pipeline(monkeypatch):
    settings = Settings(bootstrap_servers="127.0.0.1:1", app_id="ratio-test",
                        recommend_interval_s=0)
    app = create_app(settings)
    pipeline = install_pipeline(app, settings)
    app.finalize()
    published: list[dict] = []

    async def record(key=None, value=None, **_):
        if value is not None:
            published.append(orjson.loads(value))

    async def drop(*_, **__):
        return None

    for name, topic in pipeline.keyed_outputs.items():
        monkeypatch.setattr(topic, "send", record if name == "recommendation-features"
                            else drop)
    for topic in (pipeline.dead_letters, pipeline.rekeyed, pipeline.recommender.pairs_topic):
        monkeypatch.setattr(topic, "send", drop)
    monkeypatch.setattr(pipeline.users, "send_changelog", lambda *a, **k: _Fut())
    # A fresh window, so that other tests' publications do not count.
    monkeypatch.setattr(metrics, "USERS_SERVED",
                        metrics.ServedUsers(metrics.USERS_NONPERSONALIZED_RATIO))
    pipeline.published = published
    return pipeline


class _Fut:
    class message:
        partition = 0


def _view(n: int, user: str, item: str) -> dict:
    return {"event_id": f"v{n}", "event_type": "view_item", "user_id": user,
            "ts": int(time.time() * 1000), "session_id": f"s-{user}", "item_id": item,
            "category": "shoes", "price": 50.0}


def _consent(user: str, personalization: bool) -> dict:
    return {"event_id": f"c-{user}", "event_type": "consent", "user_id": user,
            "ts": int(time.time() * 1000), "personalization": personalization}


def test_ratio_moves_when_a_user_without_consent_gets_recommendations(pipeline):
    async def send(agent, topic: str, event: dict, published: int) -> None:
        await agent.put(orjson.dumps(event), key=event["user_id"].encode(),
                        headers=[(ORIGIN_HEADER, topic.encode())])
        for _ in range(200):
            if len(pipeline.published) >= published:
                return
            await asyncio.sleep(0.01)

    async def scenario() -> list[float]:
        seen = []
        async with pipeline.agent.test_context() as agent:
            await send(agent, "clickstream", _view(1, "alice", "boot-1"), 1)
            await send(agent, "clickstream", _view(2, "alice", "boot-2"), 2)
            seen.append(value(RATIO))  # alice only, with her own recent items
            await send(agent, "privacy-requests", _consent("bob", False), 2)
            await send(agent, "clickstream", _view(3, "bob", "boot-1"), 3)
            seen.append(value(RATIO))  # alice personalised, bob not
        return seen

    before, after = asyncio.run(scenario())
    by_user = {m["user_id"]: m for m in pipeline.published}
    assert by_user["alice"]["personalized"] is True
    assert by_user["bob"]["personalized"] is False
    assert before == 0.0
    assert after == 0.5


# ----------------------------------------------------------------------------- the switch
def test_disabled_metrics_record_nothing_and_come_back(monkeypatch):
    consumed = metrics.EVENTS_CONSUMED
    before = value("ecom_events_consumed_total", {"topic": "orders", "event_type": "purchase"})
    kpi_before = value("ecom_kpi_orders_total")
    try:
        metrics.set_enabled(False)
        assert not metrics.enabled()
        assert metrics.EVENTS_CONSUMED is metrics.NULL and metrics.KPIS["orders"] is metrics.NULL
        metrics.EVENTS_CONSUMED.labels("orders", "purchase").inc(5)
        metrics.add(metrics.EVENTS_CONSUMED, {("orders", "purchase"): 3})
        metrics.observe_many(metrics.APPEND_LATENCY, [0.1, 0.2])
        metrics.USERS_SERVED.served("u1", True, 1.0)
        metrics.USERS_SERVED.refresh(1.0)
        metrics.CONSUMER_LAG.remove("orders", "0")
        metrics.TABLE_KEYS.labels("users").set_to_current_time()  # a rarer method too
        assert value("ecom_events_consumed_total",
                     {"topic": "orders", "event_type": "purchase"}) == before
    finally:
        metrics.set_enabled(True)
    assert metrics.enabled() and metrics.EVENTS_CONSUMED is consumed
    metrics.KPIS["orders"].inc()
    assert value("ecom_kpi_orders_total") == (kpi_before or 0) + 1


def test_disabled_metrics_install_no_monitoring_wrapper():
    from agents.monitoring import install_monitoring

    settings = Settings(bootstrap_servers="127.0.0.1:1", app_id="switch-test",
                        metrics_enabled=False)
    app = create_app(settings)
    pipeline = install_pipeline(app, settings)
    handle, classify = pipeline.handle, pipeline.intake.classify
    try:
        metrics.set_enabled(False)
        install_monitoring(app, pipeline)
    finally:
        metrics.set_enabled(True)
    assert pipeline.handle == handle and pipeline.intake.classify == classify  # no wrapper

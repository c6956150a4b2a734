"""The demo's live view: parsing real /metrics text and drawing the screen."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from agents.demo import ViewState, parse_metrics, render


def test_parse_metrics_reads_what_the_worker_exports():
    registry = CollectorRegistry()
    consumed = Counter("ecom_events_consumed", "", ["topic", "event_type"], registry=registry)
    dead = Counter("ecom_dead_letters", "", ["topic", "reason"], registry=registry)
    consumed.labels("orders", "purchase").inc(3)
    dead.labels("orders", "bad_type").inc(2)
    dead.labels("clickstream", "bad_type").inc(1)
    by_type, by_reason, duplicates = parse_metrics(generate_latest(registry).decode())
    assert by_type == {("orders", "purchase"): 3.0}
    assert by_reason == {"bad_type": 3.0}
    assert duplicates == 0.0


def test_render_shows_rates_dead_letters_and_placeholders():
    view = ViewState(consumed={("orders", "purchase"): 30}, rates={("orders", "purchase"): 2.5},
                     dead_letters={"invalid_json": 4})
    screen = render(view, metrics_url="http://x/metrics", elapsed=10)
    assert "purchase" in screen and "2.5/s" in screen
    assert "invalid_json" in screen
    assert "none yet" in screen  # no alerts or recommendations published yet
    view.alerts.append("user u1 score 0.97 critical velocity")
    assert "score 0.97" in render(view, metrics_url="http://x/metrics", elapsed=11)

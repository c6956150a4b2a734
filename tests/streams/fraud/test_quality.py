"""Metrics against scikit-learn (a test-only dependency) and the handbook's definitions."""

from __future__ import annotations

import random

import pytest

from streams.fraud.quality import (
    QualityMonitor,
    average_precision,
    card_precision_at_k,
    roc_auc,
)

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _sample(seed: int, n: int, ties: bool) -> tuple[list[float], list[int]]:
    rng = random.Random(seed)
    labels = [1 if rng.random() < 0.1 else 0 for _ in range(n)]
    labels[0], labels[1] = 1, 0
    scores = [
        (round(rng.random() + 0.3 * y, 1) if ties else rng.random() + 0.3 * y) for y in labels
    ]
    return scores, labels


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_auc_and_ap_match_sklearn(seed: int, ties: bool) -> None:
    scores, labels = _sample(seed, 500, ties)
    assert roc_auc(scores, labels) == pytest.approx(
        sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12
    )
    assert average_precision(scores, labels) == pytest.approx(
        sklearn_metrics.average_precision_score(labels, scores), abs=1e-12
    )


def test_undefined_metrics_are_none() -> None:
    assert roc_auc([0.1, 0.2], [0, 0]) is None
    assert roc_auc([0.1, 0.2], [1, 1]) is None
    assert average_precision([0.1, 0.2], [0, 0]) is None


def _reference_card_precision(rows, k, caught):
    """The handbook's card_precision_top_k_day, written out with plain dicts."""
    grouped: dict[str, list[float]] = {}
    for card, score, label in rows:
        if card in caught:
            continue
        g = grouped.setdefault(card, [score, label])
        g[0], g[1] = max(g[0], score), max(g[1], label)
    top = sorted(grouped.items(), key=lambda kv: -kv[1][0])[:k]
    hits = [c for c, (_, lab) in top if lab]
    return len(hits) / k, hits


def test_card_precision_matches_reference_and_drops_caught_cards() -> None:
    rng = random.Random(3)
    rows = [(f"c{rng.randrange(300)}", rng.random(), int(rng.random() < 0.05)) for _ in range(2000)]
    got, caught = card_precision_at_k(rows, 100, set())
    want, want_caught = _reference_card_precision(rows, 100, set())
    assert got == pytest.approx(want)
    assert set(caught) == set(want_caught)
    again, caught2 = card_precision_at_k(rows, 100, set(caught))
    assert not set(caught2) & set(caught)
    assert again <= got + 1e-12 or caught  # caught cards are gone from the second day


def test_monitor_is_bounded_and_reports_budget_precision() -> None:
    q = QualityMonitor(window=50, min_labels=5)
    for i in range(200):
        fraud = i % 10 == 0
        q.update(0.9 if fraud else 0.1, fraud, alerted=fraud or i % 7 == 0)
    snap = q.snapshot()
    assert snap["window_labels"] == 50
    assert snap["labels_total"] == 200
    assert snap["roc_auc"] == 1.0
    assert snap["recall_at_budget"] == 1.0
    assert 0.0 < snap["precision_at_budget"] < 1.0


def test_monitor_needs_enough_labels() -> None:
    q = QualityMonitor(min_labels=10)
    q.update(0.5, True, alerted=True)
    assert q.snapshot()["roc_auc"] is None

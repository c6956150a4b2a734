"""The per-partition model: scores from the first event, learns from labels, restores."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from streams.fraud.config import FraudConfig, ModelSettings
from streams.fraud.features import FEATURE_NAMES, FEATURES
from streams.fraud.model import INPUT_NAMES, INPUTS, FraudModel, squash
from streams.fraud.quality import roc_auc

CFG = FraudConfig(model=ModelSettings(supervised_full_after_frauds=10))


def _event(rng: random.Random, fraud: bool) -> dict[str, float]:
    f = dict.fromkeys(FEATURE_NAMES, 0.0)
    f["amount"] = rng.lognormvariate(5.5 if fraud else 3.5, 0.5)
    f["amount_to_median_30d"] = rng.lognormvariate(1.2 if fraud else 0.0, 0.4)
    f["new_device"] = float(rng.random() < (0.7 if fraud else 0.05))
    f["pay_count_30d"] = float(rng.randrange(20))
    return f


def test_squash_maps_every_kind_into_the_unit_interval() -> None:
    for spec in FEATURES:
        for x in (-1e9, -3.0, 0.0, 0.5, 1.0, 7.0, 1e12):
            assert 0.0 <= squash(spec, x) <= 1.0, (spec.name, x)


def test_scores_from_the_first_event_with_the_anomaly_part_only() -> None:
    model = FraudModel(CFG)
    out = model.score(_event(random.Random(0), False))
    assert 0.0 <= out.risk <= 1.0
    assert out.blend == 0.0 and out.risk == out.anomaly
    assert len(out.vector) == len(INPUTS) and INPUT_NAMES[-1] == "anomaly_score"
    assert model.model_version == "lrb-hst-0"


def test_learns_a_separable_signal_and_blends_to_supervised() -> None:
    rng = random.Random(1)
    model = FraudModel(CFG)
    queue = []
    for _ in range(3000):
        fraud = rng.random() < 0.05
        out = model.score(_event(rng, fraud))
        queue.append((out.vector, fraud))
        if len(queue) > 200:  # labels arrive later
            vec, y = queue.pop(0)
            assert model.learn(vec, y, schema=model.schema)
    assert model.n_learned == 2800 and model.model_version == "lrb-hst-2800"
    scores, labels = [], []
    for _ in range(1000):
        fraud = rng.random() < 0.1
        out = model.score(_event(rng, fraud))
        scores.append(out.risk)
        labels.append(fraud)
    assert out.blend == 1.0
    assert roc_auc(scores, labels) > 0.95


def test_restored_model_scores_identically() -> None:
    rng = random.Random(2)
    model = FraudModel(CFG)
    for _ in range(500):
        fraud = rng.random() < 0.1
        out = model.score(_event(rng, fraud))
        model.learn(out.vector, fraud, schema=model.schema)
    clone = FraudModel.from_bytes(model.to_bytes())
    assert clone.model_version == model.model_version
    for _ in range(300):
        fraud = rng.random() < 0.1
        event = _event(rng, fraud)
        a, b = model.score(event), clone.score(event)
        assert (a.risk, a.anomaly, a.supervised, a.vector) == (b.risk, b.anomaly, b.supervised,
                                                               b.vector)
        model.learn(a.vector, fraud, schema=model.schema)
        clone.learn(b.vector, fraud, schema=clone.schema)
    assert model.policy.thresholds() == clone.policy.thresholds()


def test_contributions_add_up_to_the_logit() -> None:
    rng = random.Random(3)
    model = FraudModel(CFG)
    for _ in range(400):
        fraud = rng.random() < 0.2
        out = model.score(_event(rng, fraud))
        model.learn(out.vector, fraud, schema=model.schema)
    out = model.score(_event(rng, True))
    assert out.blend == 1.0
    total = sum(c for _, _, c in model.contributions(out)) + model._avg_intercept
    assert total == pytest.approx(math.log(out.supervised / (1 - out.supervised)), abs=1e-6)
    names = [n for n, _, _ in model.contributions(out)]
    assert names == list(INPUT_NAMES)


def test_anomaly_contributions_before_labels() -> None:
    model = FraudModel(CFG)
    rng = random.Random(4)
    for _ in range(50):
        model.score(_event(rng, False))
    out = model.score(_event(rng, True))
    contrib = model.contributions(out)
    assert sum(c for _, _, c in contrib) == pytest.approx(out.anomaly)
    assert all(c >= 0 for _, _, c in contrib)


def test_incompatible_vectors_are_not_learned() -> None:
    model = FraudModel(CFG)
    out = model.score(_event(random.Random(5), False))
    assert not model.learn(out.vector, True, schema="other")
    assert not model.learn(out.vector[:-1], True, schema=model.schema)
    assert model.n_learned == 0 and model.n_schema_mismatch == 2


def test_configure_and_bad_checkpoint() -> None:
    model = FraudModel(CFG)
    model.configure(FraudConfig(alert_rate=0.1))
    assert model.policy.alert_rate == 0.1
    with pytest.raises(TypeError):
        FraudModel.from_bytes(pickle.dumps({"not": "a model"}))

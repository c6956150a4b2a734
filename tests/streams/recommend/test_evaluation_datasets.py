"""A reduced evaluation on the real datasets: the system must beat both baselines.

Skips when the shared datasets are absent (they are not shipped with the project); the
path comes from ``ECOM_DATASETS`` or defaults to ``<repo>/../shared/datasets``.
"""

from __future__ import annotations

import pytest

from agents.evaluate import load_events
from streams.recommend.evaluation import evaluate

CASES = [
    # (kind, path under the datasets folder, rows kept per file)
    ("taobao", "taobao/userbehavior_96k.csv", 20_000),
    ("taobao", "taobao/userbehavior_dense_10k.csv", 3_000),
    ("yoochoose", "yoochoose", 4_000),
]


@pytest.mark.parametrize(("kind", "relative", "limit"), CASES, ids=[c[1] for c in CASES])
def test_system_beats_both_baselines_on_hit_rate_at_20(dataset_dir, kind, relative, limit):
    path = dataset_dir / relative
    if not path.exists():
        pytest.skip(f"{path} not found")
    report = evaluate(load_events(kind, path, limit=limit), dataset=relative)
    hr20 = {method: m.as_dict()["hr20"] for method, m in report.all.items()}
    assert report.all["system"].n > 500
    assert hr20["system"] > 1.5 * hr20["most_popular"], hr20
    assert hr20["system"] > 1.5 * hr20["recent_popular"], hr20

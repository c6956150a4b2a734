"""Config validation and KPI arithmetic."""

from __future__ import annotations

import pytest

from streams.profile import Kpis, ProfileConfig


@pytest.mark.parametrize(
    "bad",
    [
        {"session_gap_ms": 0},
        {"abandon_after_ms": -1},
        {"max_cart_items": 0},
        {"top_categories": 30, "tracked_categories": 20},
        {"activity_horizons": ()},
        {"interest_half_life_ms": 0},
        {"price_tier_cuts": (0.7, 0.3)},
    ],
)
def test_invalid_configs_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError):
        ProfileConfig(**bad)


def test_configs_compare_by_value_and_cache_derived_constants() -> None:
    a, b = ProfileConfig(), ProfileConfig()
    assert a == b and a.inv_horizons == (1 / 3_600_000, 1 / 86_400_000, 1 / 604_800_000)
    assert a.weights["purchase"] == 5.0


def test_kpis_accumulate_and_export() -> None:
    total = Kpis()
    total.add(Kpis(sessions_started=2, revenue=1.5))
    total.add(Kpis(sessions_started=1, carts_abandoned=1))
    d = total.as_dict()
    assert d["sessions_started"] == 3 and d["revenue"] == 1.5 and d["carts_abandoned"] == 1
    assert total and not Kpis()

"""State that belongs to a partition rather than to one user.

Why: some knowledge is about many users at once: quantiles over all buyers for RFM
scores, each category's price distribution, the online models. It lives with the
partition (checkpointed with it, moving with it on a rebalance), so that a worker that
takes a partition over resumes what the previous owner knew. Each domain adds its part
here; the wiring stores the whole as bytes under the partition number.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from streams.fraud.model import FraudModel
from streams.profile import PartitionStats
from streams.recommend.trending import Trending


@dataclass
class PartitionState:
    """Everything kept per partition, serialised as one value."""

    profile_stats: PartitionStats = field(default_factory=PartitionStats)
    trending: Trending = field(default_factory=Trending)
    fraud_model: FraudModel = field(default_factory=FraudModel)

    def to_bytes(self) -> bytes:
        return pickle.dumps({"profile_stats": self.profile_stats.to_bytes(),
                             "trending": self.trending.to_bytes(),
                             "fraud_model": self.fraud_model.to_bytes()}, protocol=5)

    @classmethod
    def from_bytes(cls, data: bytes) -> PartitionState:
        """Restore a checkpoint; parts missing from older checkpoints start empty.

        >>> part = PartitionState()
        >>> part.profile_stats.observe_price("books", 10.0)
        >>> PartitionState.from_bytes(part.to_bytes()).profile_stats.price_percentile("books", 10)
        0.5
        """
        parts = pickle.loads(data)
        state = cls()
        if "profile_stats" in parts:
            state.profile_stats = PartitionStats.from_bytes(parts["profile_stats"])
        if "trending" in parts:
            state.trending = Trending.from_bytes(parts["trending"])
        if "fraud_model" in parts:
            state.fraud_model = FraudModel.from_bytes(parts["fraud_model"])
        return state

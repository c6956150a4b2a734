"""Faust wiring of live recommendation features.

Why a second agent: co-visitation is knowledge about *items*, so it is keyed by item.
The user side sends pair updates to the internal topic ``item-pairs``, on the partition
of the first item (a repartition, one message per partition per batch); the
``item_pairs`` agent owns that item's state and, when
its top neighbours change materially, writes them to the ``item-neighbours`` global
table. Faust replicates a global table's changelog (a compacted topic) to every worker,
so the user side reads any item's neighbours locally. Trending lists are per user
partition and reach every worker the same way, through the ``trending`` global table.

Tables:
- ``items`` (partitioned by item): co-visitation state per item.
- ``item-neighbours`` (global): item id -> published neighbour list.
- ``trending`` (global): ``p<partition>`` -> that partition's trending snapshot.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust
import orjson

from agents import metrics
from agents.config import Settings
from streams.personalisation import recommendation_message
from streams.recommend.covisitation import CovisParams, PairUpdate, apply_pairs, new_item_state
from streams.recommend.features import nonpersonalized
from streams.recommend.trending import TrendingView
from streams.throttle import Throttle

if TYPE_CHECKING:
    from agents.pipeline import Pipeline
    from streams.batch import BatchResult


@dataclass
class Recommender:
    """The recommendation side of a worker: topics, tables, throttle, the item agent."""

    pipeline: Pipeline
    pairs_topic: faust.TopicT
    items: faust.Table
    neighbours: faust.GlobalTable
    trending: faust.GlobalTable
    throttle: Throttle
    covis: CovisParams = field(default_factory=CovisParams)
    _view: TrendingView | None = None
    _view_at: float = 0.0

    async def after_batch(self, result: BatchResult, on_partition: dict, now_ms: int) -> None:
        """Send the batch's pairs, refresh trending, publish due recommendation features."""
        from agents.pipeline import as_current

        # One message per item partition per batch: a Faust send costs far more than the
        # pair itself. The item side keys its state by item, on partition_of(item).
        by_partition: dict[int, list[PairUpdate]] = defaultdict(list)
        for pair in result.effects.pairs:
            by_partition[self.pipeline.partition_of(pair.item_a.encode())].append(pair)
        for partition, pairs in by_partition.items():
            await self.pairs_topic.send(value=orjson.dumps([list(p) for p in pairs]),
                                        partition=partition)
        for partition in result.partitions:
            watermark = self.pipeline.intake.watermark(partition)
            trend = self.pipeline.partition_state(partition).trending
            if watermark is not None and trend.snapshot_due(watermark):
                with as_current(on_partition[partition]):
                    self.trending[f"p{partition}"] = trend.snapshot(watermark)
                self._view = None
        ready = [u for u in result.effects.recommend if self.throttle.offer(u, now_ms)]
        await self.publish(ready, now_ms)

    async def publish(self, user_ids: Iterable[str], now_ms: int) -> None:
        """Publish ``recommendation-features`` for users (tombstoned ones are skipped)."""
        topic = self.pipeline.keyed_outputs["recommendation-features"]
        for user_id in user_ids:
            msg = self.message_for(user_id)
            if msg is None:
                continue
            await topic.send(key=user_id.encode(), value=orjson.dumps(msg))
            metrics.RECOMMENDATIONS.labels(str(msg["personalized"]).lower()).inc()
            metrics.RECOMMENDATION_FRESHNESS.observe(max(0.0, (now_ms - msg["ts"]) / 1000))
            metrics.USERS_SERVED.served(user_id, nonpersonalized(msg), now_ms / 1000)
        metrics.USERS_SERVED.refresh(now_ms / 1000)  # the flush timer calls this too

    async def flush(self) -> None:
        """Publish users held back by the throttle (called by a timer)."""
        now_ms = int(time.time() * 1000)
        await self.publish(self.throttle.flush(now_ms), now_ms)

    def message_for(self, user_id: str) -> dict | None:
        """The user's current features message; None if the user is unknown here."""
        pipeline = self.pipeline
        state = pipeline.users.get(user_id)
        if state is None:
            return None
        partition = pipeline.partition_of(user_id.encode())
        as_of = max(pipeline.intake.watermark(partition) or 0, state["last_seen_ms"] or 0)
        return recommendation_message(
            user_id, state, self.neighbours, self.view(),
            pipeline.partition_state(partition).profile_stats,
            as_of_ms=as_of, profile_cfg=pipeline.cfg.profile,
        )

    def view(self) -> TrendingView:
        """All partitions' trending snapshots merged (rebuilt at most once a second)."""
        if self._view is None or time.monotonic() - self._view_at > 1.0:
            self._view = TrendingView(list(self.trending.values()))
            self._view_at = time.monotonic()
        return self._view

    async def handle_pairs(self, events: Iterable[faust.EventT]) -> None:
        """Item side: apply a batch of pair updates, one write per item."""
        from agents.pipeline import as_current

        by_item: dict[str, list[PairUpdate]] = defaultdict(list)
        event_of: dict[str, faust.EventT] = {}
        for event in events:
            try:
                pairs = [PairUpdate(*row) for row in orjson.loads(event.message.value)]
            except (TypeError, orjson.JSONDecodeError):
                continue  # internal topic: only this agent's own messages are expected
            for pair in pairs:
                by_item[pair.item_a].append(pair)
                event_of[pair.item_a] = event
        for item, updates in by_item.items():
            state = self.items.get(item) or new_item_state()
            published = apply_pairs(state, updates, self.covis)
            with as_current(event_of[item]):
                self.items[item] = state
                if published is not None:
                    self.neighbours[item] = published
        metrics.ITEM_PAIRS.inc(sum(len(u) for u in by_item.values()))


def install_recommendations(app: faust.App, settings: Settings, pipeline: Pipeline,
                            table_factory: Any) -> Recommender:
    """Declare the item agent, its tables and topics, the flush timer."""
    pairs_topic = app.topic(settings.topic("item-pairs"), key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw",
                            partitions=settings.partitions)
    rec = Recommender(
        pipeline=pipeline,
        pairs_topic=pairs_topic,
        items=table_factory(app, "items", settings),
        neighbours=app.GlobalTable("item-neighbours", default=None,
                                   partitions=settings.partitions),
        trending=app.GlobalTable("trending", default=None, partitions=settings.partitions),
        throttle=Throttle(int(settings.recommend_interval_s * 1000)),
    )

    async def item_pairs(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            try:
                await rec.handle_pairs(events)
            except Exception:
                pipeline.on_batch_failure()

    app.agent(pairs_topic, name="item_pairs")(item_pairs)

    @app.timer(interval=max(0.2, settings.recommend_interval_s / 2))
    async def flush_recommendations() -> None:
        await rec.flush()

    return rec

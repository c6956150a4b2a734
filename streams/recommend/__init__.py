"""Live recommendation features (issue 5): the pure domain part.

Why a package: the work splits along where state lives, and each part has its own
owner in the wiring (``agents/``):

- user partition, per-user section (:mod:`~streams.recommend.user_history`): recent
  items, recently bought items, session; turns each interaction
  (:mod:`~streams.recommend.interactions`) into co-visitation pair updates;
- item partition, per-item state (:mod:`~streams.recommend.covisitation`): applies pair
  updates, says when an item's top-K neighbours changed materially, for the compacted
  ``item-neighbours`` topic read back as a global table;
- user partition, per-partition object (:mod:`~streams.recommend.trending`): decayed
  trending overall and per category, snapshots merged across partitions;
- on publish (throttled by :mod:`streams.throttle`): candidates
  (:mod:`~streams.recommend.candidates`) and the contract message
  (:mod:`~streams.recommend.features`).

:mod:`~streams.recommend.evaluation` replays real datasets through the same functions.
Nothing here reads a clock, a file (except the evaluation's readers) or the network;
time is always an event's ``ts``. docs/recommendations.md has the wiring recipe, the
formulas, the settings, the evaluation table and the cost figures.
"""

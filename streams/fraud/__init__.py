"""Real-time fraud risk (issue 4): pure domain code, no Faust, no Kafka, no I/O.

Modules, in the order an event meets them:

- :mod:`~streams.fraud.config`: :class:`FraudConfig`, every knob in one value.
- :mod:`~streams.fraud.history`: the user's risk history (a JSON section of the user's
  state) and its personal-data-free :func:`summary` for the profile.
- :mod:`~streams.fraud.entities`: second-key state per hashed device, hashed card and
  terminal / merchant (distinct accounts, delayed fraud ratios).
- :mod:`~streams.fraud.features`: the documented feature vector.
- :mod:`~streams.fraud.model`: the per-partition :class:`FraudModel` (Half-Space Trees +
  logistic regression on binned features, threshold policy, online quality).
- :mod:`~streams.fraud.rules`: declarative rules and the shipped ``default_rules.json``.
- :mod:`~streams.fraud.threshold`, :mod:`~streams.fraud.explain`,
  :mod:`~streams.fraud.labels`, :mod:`~streams.fraud.quality`.
- :mod:`~streams.fraud.scoring`: :func:`score` and :func:`on_label`, what the wiring calls.
- :mod:`~streams.fraud.evaluation`: the fraud-handbook protocol and the per-pattern report
  on the simulator's traffic, through the same :func:`score` path.

See ``docs/fraud.md``.
"""

from streams.fraud.config import FraudConfig, ModelSettings
from streams.fraud.entities import apply_update, erasure_updates, new_entity
from streams.fraud.history import identities, new_history, summary, update_history
from streams.fraud.model import FraudModel
from streams.fraud.rules import RulesError, RuleSet, load_default_rules
from streams.fraud.scoring import (
    LabelResult,
    ScoreResult,
    entity_keys_of,
    is_scorable,
    on_label,
    score,
)

__all__ = [
    "FraudConfig",
    "FraudModel",
    "LabelResult",
    "ModelSettings",
    "RuleSet",
    "RulesError",
    "ScoreResult",
    "apply_update",
    "entity_keys_of",
    "erasure_updates",
    "identities",
    "is_scorable",
    "load_default_rules",
    "new_entity",
    "new_history",
    "on_label",
    "score",
    "summary",
    "update_history",
]

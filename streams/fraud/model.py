"""The per-partition fraud model: anomaly detector, supervised learner, policy, quality.

Why these parts (measurements in docs/fraud.md, "Model choice"):

- **An anomaly score from the first event.** Without labels the model can only say "this
  is unusual". The anomaly score is the mean of two unsupervised parts: River
  ``HalfSpaceTrees`` (joint structure: an unusual *combination* of values) and a
  *distance* ``1 - exp(-m / 3)``, ``m`` the mean of the five largest |z| of the
  standardised inputs (an extreme single value). Measured alone, the distance beat every
  Half-Space-Trees setting tried on both the handbook and the simulator; the mean keeps
  most of its quality and adds HST's view. HST scores 0 until its first window
  (``hst_window`` events) is full, so until then the distance stands alone. HST needs its
  inputs in a known box: instead of a ``MinMaxScaler`` (warm-up pass, ruined by one
  outlier) each feature is mapped into ``[0, 1]`` by a fixed function of its kind
  (:func:`squash`): ``x / (x + s)`` for counts, amounts, durations, days and multiples
  (``s`` the feature's typical scale), identity for flags and ratios,
  ``(1 + tanh(x / s)) / 2`` for z-scores. No statistics, no warm-up, the same everywhere.
- **A supervised score from arrived labels.** River ``LogisticRegression`` (plain SGD)
  learns only in :meth:`FraudModel.learn`, which :func:`streams.fraud.scoring.on_label`
  calls with the vector that was scored for a payment, when and only when its label
  arrives. Its input is *additive and piecewise*: each input gives a standardised linear
  term (log first when heavy-tailed; running mean and variance of the scored events, so no
  warm-up pass) and a one-hot *bin* (a fixed log grid for amounts and multiples, finer for
  the event amount; octave halves for counts and durations; whole days for day counts;
  tenths for ratios; half units for z-scores). The bins let a linear model bend ("above
  about 220 is fraud", "a fraud run four weeks old is over") as a tree would, for a few
  dict entries per event. An active bin has the value ``bin_value`` (2): SGD then moves the
  sparse bin weights four times faster than the dense ones, so rare but telling bins are
  learned in time. Forests (River ARF, AMF) measured worse and 10-30x dearer.
- **Averaged weights.** Predictions use an exponential moving average of the SGD weights
  (rate ``weight_averaging``), which removes most of the noise of single rare-class updates
  (average precision +0.04 on the handbook). The average is kept lazily per weight: between
  two updates an SGD weight is constant, so its average catches up in closed form.
- **Stacking and blending.** The anomaly score is also an input of the regression, which
  learns what it is worth. The risk is ``w * p + (1 - w) * a`` with ``w`` the share of
  ``supervised_full_after_frauds`` fraud labels learned (capped at 1): the anomaly score
  alone at first, the supervised probability once it has learned from enough fraud.

The object also holds the partition's :class:`~streams.fraud.threshold.ThresholdPolicy`
and :class:`~streams.fraud.quality.QualityMonitor`, so one checkpoint (:meth:`to_bytes`)
restores everything the partition decides with. :attr:`model_version` is
``"<name>-<labels learned>"``: it changes with every label learned, so an alert names the
model state that raised it.

>>> from streams.fraud.config import FraudConfig
>>> from streams.fraud.features import FEATURE_NAMES
>>> m = FraudModel(FraudConfig())
>>> out = m.score(dict.fromkeys(FEATURE_NAMES, 0.0) | {"amount": 30.0})
>>> 0.0 <= out.risk <= 1.0, m.model_version
(True, 'lrb-hst-0')
>>> m.learn(out.vector, True, schema=m.schema)
True
>>> FraudModel.from_bytes(m.to_bytes()).model_version
'lrb-hst-1'
"""

from __future__ import annotations

import heapq
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from river import anomaly, linear_model, optim

from streams.fraud.config import FraudConfig, ModelSettings
from streams.fraud.features import FEATURE_SCHEMA, FEATURES, FeatureSpec
from streams.fraud.quality import QualityMonitor
from streams.fraud.threshold import ThresholdPolicy

__all__ = ["INPUTS", "FraudModel", "ModelOutput", "squash"]

#: Model inputs: the features, then the stacked anomaly score. ``amount`` must stay first
#: (it gets the finer bins).
INPUTS: tuple[FeatureSpec, ...] = (
    *FEATURES,
    FeatureSpec(
        "anomaly_score", "ratio", 0.5,
        "unsupervised score: mean of Half-Space Trees and the distance from the running means",
    ),
)
INPUT_NAMES: tuple[str, ...] = tuple(s.name for s in INPUTS)
_HEAVY = frozenset({"count", "amount", "duration", "multiple"})
_SQUASHED = _HEAVY | {"days"}
_PICKLE_PROTOCOL = 5
# How each input is encoded (precomputed once: the encoder is the hot loop).
_LIN_IDENTITY, _LIN_LOG, _LIN_CLIP = 0, 1, 2
_BIN_NONE, _BIN_LOG10, _BIN_LOG2, _BIN_DAYS, _BIN_TENTHS, _BIN_HALVES = 0, 1, 2, 3, 4, 5
_SQ_IDENTITY, _SQ_RATIO, _SQ_TANH, _SQ_CYCLIC = 0, 1, 2, 3


def _squash_code(spec: FeatureSpec) -> int:
    kind = spec.kind
    if kind in _SQUASHED:
        return _SQ_RATIO
    if kind == "signed":
        return _SQ_TANH
    if kind == "cyclic":
        return _SQ_CYCLIC
    return _SQ_IDENTITY


def squash(spec: FeatureSpec, x: float) -> float:
    """Map a raw feature value into ``[0, 1]`` with no data-dependent statistics.

    >>> squash(FEATURES[0], 100.0)   # amount, typical scale 100
    0.5
    """
    kind = spec.kind
    if kind in _SQUASHED:
        x = x if x > 0.0 else 0.0
        return x / (x + spec.scale)
    if kind == "signed":
        return 0.5 + 0.5 * math.tanh(x / spec.scale)
    if kind == "cyclic":
        x = 0.5 + 0.5 * x
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _plan(spec: FeatureSpec, per_decade: int) -> tuple[int, int, float]:
    """(linear code, bin code, bin factor) of an input."""
    kind = spec.kind
    lin = _LIN_LOG if kind in _HEAVY else _LIN_CLIP if kind == "signed" else _LIN_IDENTITY
    if kind in ("amount", "multiple"):
        return lin, _BIN_LOG10, per_decade / math.log(10.0)
    if kind in ("count", "duration"):
        return lin, _BIN_LOG2, 2.0 / math.log(2.0)
    if kind == "days":
        return lin, _BIN_DAYS, 1.0
    if kind == "ratio":
        return lin, _BIN_TENTHS, 10.0
    if kind == "signed":
        return lin, _BIN_HALVES, 2.0
    return lin, _BIN_NONE, 0.0


#: Per input, bin index -> ``"<input>#<bin>"`` (formatting strings is a visible cost).
_BIN_KEY_MEMO: list[dict[int, str]] = [{} for _ in INPUTS]


def _bin_key(i: int, b: int) -> str:
    """The regression key of bin ``b`` of input ``i``, memoised."""
    keys = _BIN_KEY_MEMO[i]
    key = keys.get(b)
    if key is None:
        key = keys[b] = f"{INPUT_NAMES[i]}#{b}"
    return key


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What the model says about one event."""

    risk: float
    """Combined risk in [0, 1]."""
    anomaly: float
    supervised: float
    blend: float
    """Weight of the supervised probability in ``risk`` (0 .. 1)."""
    vector: list[float]
    """Raw input values in :data:`INPUT_NAMES` order (what :mod:`labels` stores)."""
    z: list[float]
    """Standardised linear terms, for explanations."""
    bins: list[int | None]
    x: dict[str, float]
    """The regression's input (linear terms, active bins), for explanations."""


class FraudModel:
    """Per-partition model state; see the module docstring."""

    def __init__(self, cfg: FraudConfig | None = None) -> None:
        cfg = cfg or FraudConfig()
        s: ModelSettings = cfg.model
        self.settings = s
        self.schema = FEATURE_SCHEMA
        self.hst = anomaly.HalfSpaceTrees(
            n_trees=s.hst_trees,
            height=s.hst_height,
            window_size=s.hst_window,
            limits={spec.name: (0.0, 1.0) for spec in FEATURES},
            seed=s.seed,
        )
        self.lr = linear_model.LogisticRegression(
            optimizer=optim.SGD(s.lr_learning_rate),
            l2=0.0,
            intercept_lr=s.lr_learning_rate,
        )
        n = len(INPUTS) + 1  # the last slot standardises the raw amount
        self._plan = [
            (spec.name, *_plan(spec, s.amount_bins_per_decade if i == 0 else s.bins_per_decade))
            for i, spec in enumerate(INPUTS)
        ]
        self._squash = [
            (spec.name, _squash_code(spec), spec.scale) for spec in FEATURES
        ]
        self._count = 0
        self._mean = [0.0] * n
        self._m2 = [0.0] * n
        # Lazily averaged weights: key -> [average, step of last refresh].
        self._avg: dict[str, list[float]] = {}
        self._avg_intercept = 0.0
        self.n_scored = 0
        self.n_learned = 0
        self.n_frauds_learned = 0
        self.n_schema_mismatch = 0
        self.policy = ThresholdPolicy(
            alert_rate=cfg.alert_rate,
            band_fractions=cfg.band_fractions,
            window=cfg.quantile_window,
            warmup=cfg.warmup_scored,
        )
        self.quality = QualityMonitor(window=cfg.quantile_window)
        self._policy_key = self._key(cfg)

    # ------------------------------------------------------------------------------ state
    @staticmethod
    def _key(cfg: FraudConfig) -> tuple[Any, ...]:
        return (cfg.alert_rate, cfg.band_fractions, cfg.quantile_window, cfg.warmup_scored)

    def configure(self, cfg: FraudConfig) -> None:
        """Apply a changed policy configuration to a restored model (cheap when unchanged)."""
        key = self._key(cfg)
        if key != self._policy_key:
            self.policy.configure(
                alert_rate=cfg.alert_rate,
                band_fractions=cfg.band_fractions,
                window=cfg.quantile_window,
                warmup=cfg.warmup_scored,
            )
            self._policy_key = key

    @property
    def model_version(self) -> str:
        """``<name>-<labels learned>``: changes whenever the supervised part learns."""
        return f"{self.settings.name}-{self.n_learned}"

    def to_bytes(self) -> bytes:
        """The whole partition model (checkpoint)."""
        return pickle.dumps(self, protocol=_PICKLE_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> FraudModel:
        """Restore a checkpoint made by :meth:`to_bytes`."""
        obj = pickle.loads(data)
        if not isinstance(obj, cls):
            raise TypeError(f"not a {cls.__name__} checkpoint")
        return obj

    # ---------------------------------------------------------------------------- encoding
    def _encode(
        self, vector: list[float], *, update_scaler: bool, hst_score: float | None = None
    ) -> tuple[dict[str, float], list[float], list[int | None]]:
        """Regression input of a raw vector: standardised linear terms and one-hot bins.

        Linear term: ``log1p`` for heavy-tailed kinds, clipped for z-scores, else as is;
        then standardised with the running mean and variance (Welford), clipped to
        ``scaler_clip``. Bin term: one key ``"<input>#<bin>"`` with value ``bin_value``.

        When scoring, ``vector`` holds the features only: the anomaly score is computed
        here, once the features' z are known, and appended (see :meth:`score`).
        """
        plan = self._plan
        last = len(plan) - 1
        scoring = len(vector) == last
        clip = self.settings.scaler_clip
        one = self.settings.bin_value
        if update_scaler:
            self._count += 1
        count = self._count
        mean, m2 = self._mean, self._m2
        log1p, log, floor, sqrt = math.log1p, math.log, math.floor, math.sqrt
        memo = _BIN_KEY_MEMO
        x: dict[str, float] = {}
        zs: list[float] = [0.0] * len(plan)
        bins: list[int | None] = [None] * len(plan)
        for i, (name, lin, bin_code, factor) in enumerate(plan):
            if i == last and scoring:
                top = heapq.nlargest(5, map(abs, zs[:last]))
                distance = 1.0 - math.exp(-sum(top) / (3.0 * len(top))) if top else 0.0
                vector.append(distance if hst_score is None else 0.5 * (hst_score + distance))
            raw = vector[i]
            if lin == _LIN_LOG:
                v = log1p(raw) if raw > 0.0 else 0.0
            elif lin == _LIN_CLIP:
                v = -10.0 if raw < -10.0 else 10.0 if raw > 10.0 else raw
            else:
                v = raw
            mu = mean[i]
            if update_scaler:
                delta = v - mu
                mu += delta / count
                mean[i] = mu
                m2[i] += delta * (v - mu)
            var = m2[i] / (count - 1) if count > 1 else 0.0
            if var > 1e-12:
                z = (v - mu) / sqrt(var)
                z = -clip if z < -clip else clip if z > clip else z
                if z != 0.0:
                    x[name] = z
                    zs[i] = z
            if bin_code == _BIN_NONE:
                continue
            if bin_code == _BIN_LOG10:
                b = int(floor(log(raw if raw > 0.01 else 0.01) * factor))
            elif bin_code == _BIN_LOG2:
                b = int(floor(log1p(raw if raw > 0.0 else 0.0) * factor))
            elif bin_code == _BIN_DAYS:
                b = int(raw if 0.0 < raw < 60.0 else 0.0 if raw <= 0.0 else 60.0)
            elif bin_code == _BIN_TENTHS:
                b = int((raw if 0.0 < raw < 1.0 else 0.0 if raw <= 0.0 else 1.0) * 10.0)
            else:
                b = int(floor((raw if -10.0 < raw < 10.0 else -10.0 if raw <= -10 else 10.0) * 2.0))
            bins[i] = b
            keys = memo[i]
            key = keys.get(b)
            if key is None:
                key = keys[b] = f"{name}#{b}"
            x[key] = one
        if self.settings.raw_amount_term:
            k = len(plan)
            v = vector[0]
            mu = mean[k]
            if update_scaler:
                delta = v - mu
                mu += delta / count
                mean[k] = mu
                m2[k] += delta * (v - mu)
            var = m2[k] / (count - 1) if count > 1 else 0.0
            if var > 1e-12:
                z = (v - mu) / sqrt(var)
                x["amount_raw"] = -clip if z < -clip else clip if z > clip else z
        return x, zs, bins

    def _averaged(self, key: str, current: float) -> float:
        entry = self._avg.get(key)
        if entry is None:
            return 0.0
        # Between two updates of a weight its SGD value is constant, so its EMA decays
        # geometrically towards that value: catch up in closed form (exact once the rate
        # has settled at ``weight_averaging``, close before).
        steps = self.n_learned - entry[1]
        if steps <= 0:
            return entry[0]
        return current + (entry[0] - current) * (1.0 - self._beta()) ** steps

    def _beta(self) -> float:
        return max(self.settings.weight_averaging, 1.0 / max(self.n_learned, 1))

    def _supervised(self, x: Mapping[str, float]) -> float:
        weights = self.lr._weights
        avg = self._avg
        n = self.n_learned
        keep1 = 1.0 - self._beta()
        s = self._avg_intercept
        for key, value in x.items():
            entry = avg.get(key)
            if entry is not None:
                steps = n - entry[1]
                if steps <= 0:
                    s += entry[0] * value
                else:
                    cur = weights[key]
                    s += (cur + (entry[0] - cur) * keep1**steps) * value
        s = -35.0 if s < -35.0 else 35.0 if s > 35.0 else s
        return 1.0 / (1.0 + math.exp(-s))

    # ----------------------------------------------------------------------------- scoring
    def score(self, features: Mapping[str, float]) -> ModelOutput:
        """Score one event (and let the anomaly detector and scaler learn from it)."""
        vector = [float(features.get(name, 0.0)) for name, _, _ in self._squash]
        squashed = {}
        tanh = math.tanh
        for (name, code, scale), x in zip(self._squash, vector, strict=True):
            if code == _SQ_RATIO:
                x = x if x > 0.0 else 0.0
                squashed[name] = x / (x + scale)
            elif code == _SQ_TANH:
                squashed[name] = 0.5 + 0.5 * tanh(x / scale)
            elif code == _SQ_CYCLIC:
                x = 0.5 + 0.5 * x
                squashed[name] = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
            else:
                squashed[name] = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
        # Half-Space Trees score 0 during their first window (no reference mass yet): until
        # then the distance part stands alone.
        hst = (
            float(self.hst.score_one(squashed))
            if self.n_scored >= self.settings.hst_window
            else None
        )
        self.hst.learn_one(squashed)
        x, zs, bins = self._encode(vector, update_scaler=True, hst_score=hst)
        a = vector[-1]
        p = self._supervised(x) if self.n_learned else 0.0
        full = self.settings.supervised_full_after_frauds
        w = min(1.0, self.n_frauds_learned / full) if full > 0 else 1.0
        risk = w * p + (1.0 - w) * a
        self.n_scored += 1
        return ModelOutput(
            risk=min(1.0, max(0.0, risk)), anomaly=a, supervised=p, blend=w, vector=vector,
            z=zs, bins=bins, x=x,
        )  # fmt: skip

    def learn(self, vector: Sequence[float], is_fraud: bool, *, schema: str) -> bool:
        """Learn one *arrived* label for the vector scored earlier; False if incompatible."""
        if schema != self.schema or len(vector) != len(INPUTS):
            self.n_schema_mismatch += 1
            return False
        x, _, _ = self._encode(list(vector), update_scaler=False)
        weights = self.lr._weights
        avg = self._avg
        n = self.n_learned
        keep1 = 1.0 - self._beta()
        # Bring the averages of the weights about to move up to date first.
        for key in x:
            entry = avg.get(key)
            if entry is None:
                avg[key] = [weights.get(key, 0.0), n]
            elif entry[1] < n:
                cur = weights[key]
                entry[0] = cur + (entry[0] - cur) * keep1 ** (n - entry[1])
                entry[1] = n
        s = self.settings
        self.lr.learn_one(x, bool(is_fraud), w=s.fraud_weight if is_fraud else 1.0)
        self.n_learned = n = n + 1
        self.n_frauds_learned += 1 if is_fraud else 0
        beta = self._beta()
        for key in x:
            entry = avg[key]
            entry[0] += beta * (weights[key] - entry[0])
            entry[1] = n
        self._avg_intercept += beta * (self.lr.intercept - self._avg_intercept)
        return True

    # ------------------------------------------------------------------------ explanation
    def contributions(self, out: ModelOutput) -> list[tuple[str, float, float]]:
        """``(input name, raw value, contribution)`` for every input, in input order.

        Supervised part (weight ``blend``): for each input, averaged weight x value of each
        of its regression terms (the standardised linear term, the active bin, and for
        ``amount`` the optional raw linear term), in log-odds: with the intercept they add
        up to the logit of the supervised probability. Anomaly part (weight
        ``1 - blend``): the anomaly score shared out in proportion to each input's |z|,
        i.e. to how far it is from the scored population's mean in standard deviations
        (Half-Space Trees have no additive attribution of their own).
        """
        weights = self.lr._weights
        w = out.blend
        x = out.x
        total_z = sum(abs(z) for z in out.z[:-1]) or 1.0  # the anomaly input itself aside
        result = []
        for i, spec in enumerate(INPUTS):
            name = spec.name
            c = 0.0
            if w > 0.0:
                keys = [name]
                b = out.bins[i]
                if b is not None:
                    keys.append(_bin_key(i, b))
                if i == 0:
                    keys.append("amount_raw")
                for key in keys:
                    if key in x and key in self._avg:
                        c += self._averaged(key, weights[key]) * x[key]
                c *= w
            if w < 1.0 and name != "anomaly_score":
                c += (1.0 - w) * out.anomaly * abs(out.z[i]) / total_z
            result.append((name, out.vector[i], c))
        return result

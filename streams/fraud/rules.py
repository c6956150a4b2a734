"""Declarative fraud rules: velocity, amount limits, hashed blocklists, country mismatches.

Why rules next to a model: a fraud team must be able to act *now* on something it knows
(a card on a blocklist, a burst of declines, a limit the business sets) without waiting for
labels or a retrained model, and must be able to say exactly why a payment was stopped. A
rule never changes the model's score ranking; it adds a reason, can raise the severity,
can force a decision, and (for blocklists) can lift the score to a floor.

The document is JSON (or YAML when PyYAML is installed); the wiring reads
``default_rules.json`` at start and hot-reloads newer documents from the compacted
``fraud-rules`` topic. :meth:`RuleSet.from_document` validates everything first and raises
:class:`RulesError` on any mistake, so a bad document is refused whole and the running
rules stay in place::

    {"version": "2026-11-21",
     "lists": {"blocked_cards": ["<pseudonymised card>", ...]},
     "rules": [{"id": "card_testing", "topics": ["payments"],
                "when": {"feature": "decline_count_1h", "op": ">=", "value": 3},
                "severity": "high", "decision": "review", "score_floor": null,
                "detail": "burst of declined payments"}]}

Conditions: ``{"feature": <name in FEATURES>, "op": ">|>=|<|<=|==|!=", "value": <number>}``;
``{"field": <identity or event field>, "in_list": <list name>}`` or ``"in": [values]`` or
``"op": "==|!=", "value": <string>``; and ``{"all": [...]}``, ``{"any": [...]}``,
``{"not": {...}}``. Fields are :data:`FIELDS` (hashes, never clear personal data: a
blocklist holds values pseudonymised with the system's secret). A hit reports the value of
the first condition that made it true.

>>> rules = RuleSet.from_document('''{"version": "t", "rules": [{"id": "big",
...     "when": {"feature": "amount", "op": ">=", "value": 1000}, "severity": "medium"}]}''')
>>> [(h.rule_id, h.value, h.severity) for h in rules.evaluate({"amount": 1500.0}, {}, "orders")]
[('big', 1500.0, 'medium')]
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from streams.fraud.features import FEATURE_NAMES

__all__ = ["FIELDS", "RULES_KEY", "RuleHit", "RuleSet", "RulesError", "load_default_rules",
           "rules_from_record"]

#: Key of the ``fraud-rules`` record that holds the rule set in force. Other keys (drafts,
#: other deployments' sets) are kept in the topic and ignored by the workers.
RULES_KEY = "active"

#: Fields a rule may test (besides features), as built by :func:`streams.fraud.scoring`.
FIELDS: frozenset[str] = frozenset(
    {
        "topic", "event_type", "method", "currency", "card_bin", "card_country",
        "ip_country", "shipping_country", "billing_country", "merchant_id", "terminal_id",
        "channel", "coupon_code", "device_hash", "ip_hash", "card_hash", "user_hash",
    }
)  # fmt: skip
_NUM_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_SEVERITIES = ("low", "medium", "high", "critical")
_DECISIONS = ("approve", "review", "block")
_TOPICS = ("payments", "orders")

# A compiled condition: (features, fields) -> (matched, triggering name, triggering value)
Cond = Callable[[Mapping[str, float], Mapping[str, Any]], tuple[bool, str, Any]]


class RulesError(ValueError):
    """The rules document is invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired on an event."""

    rule_id: str
    code: str
    detail: str
    value: Any
    severity: str | None
    decision: str | None
    score_floor: float | None


@dataclass(frozen=True, slots=True)
class _Rule:
    rule_id: str
    code: str
    detail: str
    topics: frozenset[str]
    cond: Cond
    severity: str | None
    decision: str | None
    score_floor: float | None


def _compile(node: Any, lists: Mapping[str, frozenset[str]], where: str) -> Cond:
    if not isinstance(node, dict) or not node:
        raise RulesError(f"{where}: a condition must be a non-empty object")
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        parts = node[key]
        if not isinstance(parts, list) or not parts:
            raise RulesError(f"{where}.{key}: needs a non-empty list")
        subs = [_compile(p, lists, f"{where}.{key}[{i}]") for i, p in enumerate(parts)]
        if key == "all":

            def all_of(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
                first: tuple[bool, str, Any] | None = None
                for sub in subs:
                    res = sub(f, e)
                    if not res[0]:
                        return res
                    first = first or res
                return first  # type: ignore[return-value]

            return all_of

        def any_of(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
            res: tuple[bool, str, Any] = (False, "", None)
            for sub in subs:
                res = sub(f, e)
                if res[0]:
                    return res
            return res

        return any_of
    if "not" in node:
        sub = _compile(node["not"], lists, f"{where}.not")

        def negate(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
            ok, name, value = sub(f, e)
            return (not ok, name, value)

        return negate
    if "feature" in node:
        name = node["feature"]
        if name not in FEATURE_NAMES and name != "anomaly_score":
            raise RulesError(f"{where}: unknown feature {name!r}")
        op = _NUM_OPS.get(node.get("op", ""))
        value = node.get("value")
        if op is None:
            raise RulesError(f"{where}: op must be one of {', '.join(_NUM_OPS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulesError(f"{where}: value must be a number")
        limit = float(value)

        def feature(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
            x = f.get(name, 0.0)
            return (op(x, limit), name, x)

        return feature
    if "field" in node:
        name = node["field"]
        if name not in FIELDS:
            raise RulesError(f"{where}: unknown field {name!r} (one of {sorted(FIELDS)})")
        if "in_list" in node:
            list_name = node["in_list"]
            if list_name not in lists:
                raise RulesError(f"{where}: unknown list {list_name!r}")
            members = lists[list_name]
        elif "in" in node:
            if not isinstance(node["in"], list):
                raise RulesError(f"{where}: 'in' needs a list")
            members = frozenset(str(v) for v in node["in"])
        elif node.get("op") in ("==", "!="):
            members = frozenset({str(node.get("value"))})
            if node["op"] == "!=":

                def field_ne(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
                    x = e.get(name)
                    return (x is not None and x not in members, name, x)

                return field_ne
        else:
            raise RulesError(f"{where}: a field condition needs in_list, in, or op ==/!=")

        def field_in(f: Mapping[str, float], e: Mapping[str, Any]) -> tuple[bool, str, Any]:
            x = e.get(name)
            return (x is not None and x in members, name, x)

        return field_in
    raise RulesError(f"{where}: expected feature, field, all, any or not")


def _describe(rule_id: str, detail: str, name: str, value: Any) -> str:
    shown = round(value, 4) if isinstance(value, float) else value
    return f"{detail} ({name} = {shown})" if detail else f"{rule_id}: {name} = {shown}"


class RuleSet:
    """A validated, compiled rules document. Immutable; reload by building a new one."""

    def __init__(self, version: str, rules: list[_Rule]) -> None:
        self.version = version
        self._rules = tuple(rules)

    def __len__(self) -> int:
        return len(self._rules)

    @classmethod
    def empty(cls) -> RuleSet:
        """No rules (the model alone decides)."""
        return cls("empty", [])

    @classmethod
    def from_document(cls, document: str | bytes | Mapping[str, Any]) -> RuleSet:
        """Parse and validate a rules document (JSON text, YAML text, or a dict)."""
        doc = _parse(document) if isinstance(document, str | bytes) else document
        if not isinstance(doc, Mapping):
            raise RulesError("the rules document must be an object")
        raw_lists = doc.get("lists") or {}
        if not isinstance(raw_lists, Mapping):
            raise RulesError("lists must be an object of name -> list of strings")
        lists: dict[str, frozenset[str]] = {}
        for name, values in raw_lists.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise RulesError(f"lists.{name} must be a list of strings")
            lists[name] = frozenset(values)
        raw_rules = doc.get("rules")
        if not isinstance(raw_rules, list):
            raise RulesError("rules must be a list")
        rules: list[_Rule] = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_rules):
            where = f"rules[{i}]"
            if not isinstance(raw, Mapping):
                raise RulesError(f"{where} must be an object")
            rule_id = raw.get("id")
            if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
                raise RulesError(f"{where}.id must be a unique non-empty string")
            seen.add(rule_id)
            if raw.get("enabled", True) is False:
                continue
            severity = raw.get("severity")
            decision = raw.get("decision")
            floor = raw.get("score_floor")
            topics = raw.get("topics", list(_TOPICS))
            if severity is not None and severity not in _SEVERITIES:
                raise RulesError(f"{where}.severity must be one of {_SEVERITIES}")
            if decision is not None and decision not in _DECISIONS:
                raise RulesError(f"{where}.decision must be one of {_DECISIONS}")
            if floor is not None and (
                isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= 1
            ):
                raise RulesError(f"{where}.score_floor must be a number in [0, 1]")
            if not isinstance(topics, list) or not set(topics) <= set(_TOPICS) or not topics:
                raise RulesError(f"{where}.topics must be a non-empty subset of {_TOPICS}")
            rules.append(
                _Rule(
                    rule_id=rule_id,
                    code=str(raw.get("code") or rule_id),
                    detail=str(raw.get("detail") or ""),
                    topics=frozenset(topics),
                    cond=_compile(raw.get("when"), lists, f"{where}.when"),
                    severity=severity,
                    decision=decision,
                    score_floor=None if floor is None else float(floor),
                )
            )
        return cls(str(doc.get("version", "")), rules)

    def evaluate(
        self, features: Mapping[str, float], fields: Mapping[str, Any], topic: str
    ) -> list[RuleHit]:
        """The rules that fire on an event, in document order."""
        hits: list[RuleHit] = []
        for rule in self._rules:
            if topic not in rule.topics:
                continue
            ok, name, value = rule.cond(features, fields)
            if ok:
                hits.append(
                    RuleHit(
                        rule_id=rule.rule_id,
                        code=rule.code,
                        detail=_describe(rule.rule_id, rule.detail, name, value),
                        value=value,
                        severity=rule.severity,
                        decision=rule.decision,
                        score_floor=rule.score_floor,
                    )
                )
        return hits


def _parse(document: str | bytes) -> Any:
    text = document.decode("utf-8") if isinstance(document, bytes) else document
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            import yaml  # optional: PyYAML is not a product dependency
        except ImportError:
            raise RulesError(f"not valid JSON: {json_error}") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            raise RulesError(f"neither valid JSON nor YAML: {yaml_error}") from None


def load_default_rules() -> RuleSet:
    """The rules shipped with the package (``streams/fraud/default_rules.json``)."""
    text = resources.files("streams.fraud").joinpath("default_rules.json").read_text("utf-8")
    return RuleSet.from_document(text)


def rules_from_record(key: bytes | str | None, value: bytes | str | None) -> RuleSet | None:
    """The rule set a ``fraud-rules`` record puts in force, or None if it is not for us.

    Key :data:`RULES_KEY` with a JSON (or YAML) document: that document. The same key
    with no value (a tombstone, which also lets compaction drop it): the shipped rules
    again. Any other key: None. A document that does not parse or validate raises
    :class:`RulesError`, whatever went wrong inside, so the caller keeps what it runs.

    >>> rules_from_record(b"active", b'{"version": "v2", "rules": []}').version
    'v2'
    >>> rules_from_record(b"draft", b"{}") is None
    True
    >>> rules_from_record(b"active", None).version
    'default-1'
    """
    name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    if name != RULES_KEY:
        return None
    if value is None:
        return load_default_rules()
    try:
        return RuleSet.from_document(value)
    except RulesError:
        raise
    except Exception as exc:  # e.g. invalid UTF-8, a list where a name was expected
        raise RulesError(f"unreadable document ({type(exc).__name__})") from None

"""JSON Schema (Draft 2020-12) files for the input topics, generated from the field table.

Producers the project does not own validate against ``schemas/json/<topic>.schema.json``;
generating those files from :mod:`schemas.fields` keeps them identical in meaning to
:func:`schemas.validation.decode_event` (a test checks both agree). Run
``python -m schemas.jsonschema_export`` after editing the table to rewrite the files.

Layout of one schema: topic-level ``properties`` type every known field (optional ones may
be ``null``, meaning absent); ``allOf`` holds one ``if``/``then`` per event type that
makes its fields required and non-null. RFC 3339 strings use a ``pattern`` (not
``format``, which validators may ignore). What a schema cannot say: the 1 MiB size limit,
the 7-day / 5-minute ``ts`` window, and that an RFC 3339 string must fall within
``[0, MAX_TS_MS]`` after applying its zone (only at 1970-01-01 and 9999-12-31).
Python's ``re`` lets ``$`` match before a final newline, so ``jsonschema`` for Python
accepts ``ts`` strings ending in ``\\n`` that the validator refuses.

>>> schema = build_schema("fraud-labels")
>>> schema["properties"]["label"]["enum"]
['fraud', 'legit', None]
>>> schema["allOf"][0]["then"]["required"]
['label', 'source']
>>> load_json_schema("orders") == build_schema("orders")
True
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from schemas.fields import (
    COMMON_REQUIRED,
    DEFAULT_CURRENCY,
    FIELDS,
    MAX_TS_MS,
    RFC3339_PATTERN,
    SUPPORTED_SCHEMA_VERSION,
    TOPICS,
    Boolean,
    Choice,
    FieldSpec,
    Integer,
    Number,
    ObjectList,
    Text,
    Timestamp,
)

__all__ = ["build_schema", "load_json_schema", "render", "schema_path", "write_all"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NOT_NULL: dict[str, Any] = {"not": {"type": "null"}}


def _number(value: float) -> int | float:
    """Integral bounds as JSON integers (``0`` rather than ``0.0``)."""
    return int(value) if float(value).is_integer() else value


def _type_schema(spec: FieldSpec, *, nullable: bool) -> dict[str, Any]:
    """The schema of one field; ``nullable`` adds ``null`` (an absent optional field)."""
    t = spec.type
    out: dict[str, Any] = {"description": spec.description} if spec.description else {}
    null = ["null"] if nullable else []
    match t:
        case Text():
            out["type"] = ["string", *null] if null else "string"
            out["minLength"] = t.min_length
            out["maxLength"] = t.max_length
            if t.pattern:
                out["pattern"] = t.pattern
        case Choice():
            out["enum"] = [*t.values, *([None] if nullable else [])]
        case Integer():
            out["type"] = ["integer", *null] if null else "integer"
            out["minimum"] = t.minimum
            out["maximum"] = t.maximum
        case Number():
            out["type"] = ["number", *null] if null else "number"
            out["minimum"] = _number(t.minimum)
            out["maximum"] = _number(t.maximum)
        case Boolean():
            out["type"] = ["boolean", *null] if null else "boolean"
        case Timestamp():
            out["anyOf"] = [
                {"type": "integer", "minimum": 0, "maximum": MAX_TS_MS},
                {"type": "string", "pattern": RFC3339_PATTERN},
                *([{"type": "null"}] if nullable else []),
            ]
        case ObjectList():
            out["type"] = ["array", *null] if null else "array"
            out["minItems"] = t.min_items
            out["maxItems"] = t.max_items
            out["items"] = {
                "type": "object",
                "required": [f.name for f in t.fields],
                "properties": {f.name: _type_schema(f, nullable=False) for f in t.fields},
                "additionalProperties": True,
            }
    return out


def build_schema(topic: str) -> dict[str, Any]:
    """The JSON Schema of one logical input topic, as a dict."""
    spec = TOPICS[topic]
    properties: dict[str, Any] = {}
    for name in spec.field_names:
        if name == "event_type":
            properties[name] = {
                "description": FIELDS[name].description,
                "enum": list(spec.events),
            }
            continue
        prop = _type_schema(FIELDS[name], nullable=name not in COMMON_REQUIRED)
        if name == "schema_version":
            prop["default"] = SUPPORTED_SCHEMA_VERSION
        elif name == "currency":
            prop["default"] = DEFAULT_CURRENCY
        properties[name] = prop

    branches: list[dict[str, Any]] = []
    for event_type, event in spec.events.items():
        then: dict[str, Any] = {}
        if event.required:
            then["required"] = list(event.required)
            then["properties"] = {name: _NOT_NULL for name in event.required}
        if event.one_of:
            then["anyOf"] = [
                {"required": [name], "properties": {name: _NOT_NULL}} for name in event.one_of
            ]
        if then:
            branches.append(
                {
                    "if": {"properties": {"event_type": {"const": event_type}}},
                    "then": then,
                }
            )

    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:ecomstream:schema:{topic}:v{SUPPORTED_SCHEMA_VERSION}",
        "title": f"{topic} event",
        "description": spec.description,
        "type": "object",
        "required": list(COMMON_REQUIRED),
        "properties": properties,
        "additionalProperties": True,
    }
    if branches:
        schema["allOf"] = branches
    return schema


def render(topic: str) -> str:
    """The exact text of a shipped schema file (2-space indent, trailing newline)."""
    return json.dumps(build_schema(topic), indent=2, ensure_ascii=False) + "\n"


def schema_path(topic: str) -> Path:
    """Where the topic's schema file lives in the source tree."""
    return Path(__file__).with_name("json") / f"{topic}.schema.json"


def load_json_schema(topic: str) -> dict[str, Any]:
    """The shipped schema file of a topic (from the installed package data)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown input topic {topic!r}")
    text = resources.files("schemas").joinpath("json").joinpath(f"{topic}.schema.json")
    text = text.read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write_all() -> list[Path]:
    """Rewrite every topic's schema file; returns the paths written."""
    written = []
    for topic in TOPICS:
        path = schema_path(topic)
        path.parent.mkdir(exist_ok=True)
        path.write_text(render(topic), encoding="utf-8")
        written.append(path)
    return written


def main() -> int:
    """Entry point of ``python -m schemas.jsonschema_export``."""
    for path in write_all():
        print(path, file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

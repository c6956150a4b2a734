"""Tests of schemas.codec: the orjson codec registered with Faust."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from faust.serializers import codecs

from schemas.codec import CODEC_NAME, OrjsonCodec, register_orjson_codec
from schemas.records import Candidate, RecommendationFeatures, RiskScore


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_orjson_codec()


def test_registration_is_idempotent() -> None:
    first = codecs.get_codec(CODEC_NAME)
    register_orjson_codec()
    assert codecs.get_codec(CODEC_NAME) is first
    assert isinstance(first, OrjsonCodec)


@pytest.mark.parametrize(
    "value",
    [
        {"event_id": "e1", "ts": 1_795_256_130_250, "price": 59.9, "ok": True, "none": None},
        {"nested": {"list": [1, 2.5, "x", None, {"deep": []}]}},
        {"unicode": "Grüße, 你好, 🚀"},
        [1, 2, 3],
        "text",
        18_446_744_073_709_551_615,
    ],
)
def test_round_trip(value: Any) -> None:
    encoded = codecs.dumps(CODEC_NAME, value)
    assert isinstance(encoded, bytes)
    assert codecs.loads(CODEC_NAME, encoded) == value


def test_output_is_compact_utf8_json() -> None:
    encoded = codecs.dumps(CODEC_NAME, {"a": "é"})
    assert encoded == '{"a":"é"}'.encode()


def test_records_are_written_with_to_dict() -> None:
    score = RiskScore(
        score_id="score-1",
        user_id="u1",
        ts=2,
        event_ts=1,
        trigger_topic="payments",
        trigger_event_id="e1",
        risk_score=0.5,
        decision="review",
        model_version="m",
        warming_up=False,
    )
    assert codecs.loads(CODEC_NAME, codecs.dumps(CODEC_NAME, score)) == score.to_dict()
    features = RecommendationFeatures(
        user_id="u1", ts=1, personalized=True, candidates=(Candidate("sku", 0.1, "trending"),)
    )
    decoded = codecs.loads(CODEC_NAME, codecs.dumps(CODEC_NAME, {"value": features}))
    assert decoded == {"value": features.to_dict()}


def test_sets_become_lists() -> None:
    assert codecs.loads(CODEC_NAME, codecs.dumps(CODEC_NAME, {"s": {1}})) == {"s": [1]}


def test_unserialisable_objects_raise_type_error() -> None:
    with pytest.raises(TypeError):
        codecs.dumps(CODEC_NAME, {"x": object()})


def test_bad_bytes_raise_on_load() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        codecs.loads(CODEC_NAME, b"{")


def test_codec_can_be_chained_with_faust_codecs() -> None:
    chained = OrjsonCodec() | codecs.get_codec("binary")
    assert chained.loads(chained.dumps({"a": 1})) == {"a": 1}


def test_plain_dataclasses_are_written_as_dicts() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    assert codecs.loads(CODEC_NAME, codecs.dumps(CODEC_NAME, Point(1, 2))) == {"x": 1, "y": 2}


def test_importing_schemas_does_not_import_faust() -> None:
    code = "import sys, schemas, schemas.records; print('faust' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"

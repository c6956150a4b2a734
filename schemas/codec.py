"""The ``orjson`` codec for Faust: the only module of :mod:`schemas` that imports Faust.

Faust's built-in ``json`` codec goes through the standard library, several times slower
than orjson on both ends, and cannot serialise our record dataclasses the way the
contract wants them (``to_dict``: ``None`` optionals dropped, ``extra`` merged back).
Agents call :func:`register_orjson_codec` once at start-up and then use
``value_serializer="orjson"`` on their topics.

>>> register_orjson_codec()
>>> from faust.serializers import codecs
>>> codecs.loads("orjson", codecs.dumps("orjson", {"a": [1, 2.5, None]}))
{'a': [1, 2.5, None]}
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from faust.serializers import codecs

__all__ = ["CODEC_NAME", "OrjsonCodec", "register_orjson_codec"]

CODEC_NAME = "orjson"
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    """Objects orjson does not write by itself: our records (``to_dict``), other
    dataclasses, Faust records (``to_representation``), sets and frozensets (as lists)."""
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    to_representation = getattr(obj, "to_representation", None)
    if to_representation is not None:
        return to_representation()
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} as JSON")


class OrjsonCodec(codecs.Codec):
    """Faust codec: objects to UTF-8 JSON bytes and back, with orjson."""

    def _dumps(self, s: Any) -> bytes:
        return orjson.dumps(s, default=_default, option=_OPTIONS)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register_orjson_codec() -> None:
    """Register :class:`OrjsonCodec` under the name ``"orjson"`` (idempotent)."""
    if not isinstance(codecs.codecs.get(CODEC_NAME), OrjsonCodec):
        codecs.register(CODEC_NAME, OrjsonCodec())

"""The wire contract (``CONTRACT.md``) in code.

- :mod:`schemas.fields`: the input topics' event types and fields, declared once;
- :mod:`schemas.validation`: :func:`decode_event` and :func:`check_event_time`, the hot path
  that turns a raw Kafka value into a normalised event or a :class:`Rejection`;
- :mod:`schemas.records`: typed records for every message, and :func:`make_dead_letter`;
- :mod:`schemas.jsonschema_export`: the JSON Schema files in ``schemas/json/``;
- :mod:`schemas.codec`: the ``orjson`` Faust codec (the only module importing Faust, so it
  is not imported here).

>>> from schemas import decode_event
>>> decode_event("privacy-requests", b'{"event_id": "e", "event_type": "erasure",'
...     b' "user_id": "u", "ts": 0}')
{'event_id': 'e', 'event_type': 'erasure', 'user_id': 'u', 'ts': 0, 'schema_version': 1}
"""

from schemas.jsonschema_export import load_json_schema
from schemas.records import make_dead_letter
from schemas.validation import ERROR_CODES, Rejection, check_event_time, decode_event

__all__ = [
    "ERROR_CODES",
    "Rejection",
    "check_event_time",
    "decode_event",
    "load_json_schema",
    "make_dead_letter",
]

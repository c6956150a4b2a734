"""The intake agent under Faust's ``test_context()``: no broker involved."""

from __future__ import annotations

import time

import orjson
import pytest

from agents.app import create_app
from agents.config import Settings
from agents.pipeline import ORIGIN_HEADER, install_pipeline


@pytest.fixture
def pipeline(monkeypatch):
    # A kafka:// URL that is never contacted (DESIGN.md); memory store.
    settings = Settings(bootstrap_servers="127.0.0.1:1", app_id="agent-test")
    app = create_app(settings)
    pipeline = install_pipeline(app, settings)
    app.finalize()
    sent: list[tuple] = []

    async def capture(key=None, value=None, **_):
        sent.append((key, value))

    # Output topics are the only stand-ins: the agent, intake and table are real.
    monkeypatch.setattr(pipeline.dead_letters, "send", capture)
    pipeline.dead_letters_sent = sent
    tombstones: list[tuple] = []
    for name, topic in pipeline.keyed_outputs.items():
        async def record(key=None, value=None, _name=name, **_):
            tombstones.append((_name, key, value))

        monkeypatch.setattr(topic, "send", record)
    pipeline.tombstones = tombstones
    monkeypatch.setattr(pipeline.users, "send_changelog", lambda *a, **k: _Fut())
    return pipeline


class _Fut:
    class message:
        partition = 0


def _event(n: int, user: str = "u1") -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "event_type": "page_view", "user_id": user,
                         "ts": int(time.time() * 1000), "session_id": "s"})


async def _put(agent, value: bytes, key: bytes = b"u1", topic: str = "clickstream"):
    # Under test_context the message topic is "<internal>", so the logical topic travels
    # in the same header that re-keyed messages carry.
    await agent.put(value, key=key, headers=[(ORIGIN_HEADER, topic.encode())])


def test_agent_applies_valid_dedups_and_dead_letters(pipeline):
    import asyncio

    async def scenario():
        async with pipeline.agent.test_context() as agent:
            await _put(agent, _event(1))
            await _put(agent, _event(1))  # duplicate
            await _put(agent, _event(2, "u2"), key=b"u2")
            await _put(agent, b"{broken")
            await _put(agent, orjson.dumps([1]))
            for _ in range(100):
                if pipeline.users.get("u2") is not None and len(pipeline.dead_letters_sent) == 2:
                    break
                await asyncio.sleep(0.02)

    asyncio.run(scenario())
    assert pipeline.processed_counts() == {"clickstream/page_view": 2}
    assert pipeline.users["u1"]["counts"] == {"clickstream/page_view": 1}
    codes = [value["error_code"] for _, value in pipeline.dead_letters_sent]
    assert codes == ["invalid_json", "not_an_object"]


def test_erasure_deletes_the_user_and_tombstones_every_keyed_output(pipeline):
    import asyncio

    erase = orjson.dumps({"event_id": "x1", "event_type": "erasure", "user_id": "u1",
                          "ts": int(time.time() * 1000)})

    async def scenario():
        async with pipeline.agent.test_context() as agent:
            await _put(agent, _event(1))
            await _put(agent, _event(2, "u2"), key=b"u2")
            for _ in range(100):
                if pipeline.users.get("u2") is not None:
                    break
                await asyncio.sleep(0.02)
            await _put(agent, erase, topic="privacy-requests")
            for _ in range(100):
                if any(v is None for *_, v in pipeline.tombstones):
                    break
                await asyncio.sleep(0.02)

    asyncio.run(scenario())
    assert "u1" not in pipeline.users and "u2" in pipeline.users
    published = [(n, k) for n, k, v in pipeline.tombstones if v is not None]
    tombstones = [(n, k) for n, k, v in pipeline.tombstones if v is None]
    assert ("user-profiles", b"u1") in published  # profiles flowed before the erasure
    assert sorted(name for name, _ in tombstones) == sorted(pipeline.keyed_outputs)
    assert {key for _, key in tombstones} == {b"u1"}

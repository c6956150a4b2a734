"""``ecomstream demo`` end to end: live view with real numbers, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.harness import ROOT

pytestmark = pytest.mark.integration


def _processes_with(marker: str) -> list[int]:
    """PIDs whose environment contains ``marker`` (children inherit the environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_demo_shows_live_traffic_and_ctrl_c_stops_everything(tmp_path):
    marker = f"demo-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "ECOM_"))}
    env |= {"ECOM_APP_ID": marker, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    out_path = tmp_path / "screen.txt"
    with open(out_path, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "agents.cli", "demo", "--rate", "200"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and demo.poll() is None:
                screen = out_path.read_text(errors="replace")
                last = screen.rsplit("ecomstream demo", 1)[-1]
                if "page_view" in last and "/s" in last and "segment" in last:
                    break
                time.sleep(1)
            assert demo.poll() is None, out_path.read_text()
            assert len(_processes_with(marker)) >= 3  # demo + broker + worker + generator
            demo.send_signal(signal.SIGINT)
            demo.wait(60)
        finally:
            if demo.poll() is None:
                demo.kill()
    screen = out_path.read_text(errors="replace")
    assert "page_view" in screen, screen[-3000:]
    assert "dead letters by reason" in screen
    assert "latest profile updates" in screen and "top category" in screen
    assert "stopped: generator, worker, broker" in screen
    time.sleep(1)
    assert _processes_with(marker) == [], "orphan processes left behind"

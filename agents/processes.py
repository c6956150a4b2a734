"""Child processes that cannot outlive the command that started them.

Why: ``ecomstream demo`` starts a broker, a worker and a traffic generator. A Ctrl-C,
a crash or a ``kill`` of the demo must not leave any of them running. On Linux each
child asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), and
:func:`stop` ends a child politely, then firmly.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """Start ``args`` as a child that receives SIGTERM if this process dies."""
    if sys.platform.startswith("linux"):
        kwargs.setdefault("preexec_fn", _die_with_parent)
    return subprocess.Popen(list(args), **kwargs)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """Terminate ``proc`` (SIGTERM, then SIGKILL after ``timeout``) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode

"""Preemption: SIGTERM or SIGINT stops training after the current step.

Cloud TPU VMs and most clusters send SIGTERM some seconds before taking a
machine away. Inside `handle_signals()`, the first SIGTERM or SIGINT only
records the request; the training loop asks `requested()` after every step,
saves a checkpoint and returns, so the rerun resumes with no step lost. A
second SIGINT (Ctrl-C twice) interrupts at once.
"""
from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_requested: list[str] = []


def requested() -> str | None:
  """The name of the signal that asked the run to stop, or None."""
  return _requested[0] if _requested else None


def _on_signal(signum: int, frame) -> None:
  del frame
  name = signal.Signals(signum).name
  if _requested and signum == signal.SIGINT:
    raise KeyboardInterrupt
  if not _requested:
    _requested.append(name)
  print(f"{name} received: stopping after the current step with a "
        f"checkpoint (send SIGINT again to stop at once)", file=sys.stderr,
        flush=True)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
  """Records SIGTERM/SIGINT for `requested()` while the body runs (main
  thread only); the previous handlers come back afterwards."""
  previous = {s: signal.signal(s, _on_signal) for s in _SIGNALS}
  _requested.clear()
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)

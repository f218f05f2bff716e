"""Preemption: SIGTERM or SIGINT stops training after the current step.

Cloud TPU VMs and most clusters send SIGTERM some seconds before taking a
machine away. Inside `handle_signals()`, the first SIGTERM or SIGINT only
records the request; the training loop asks `stop_check(...)(step)` after
every step, saves a checkpoint and returns, so the rerun resumes with no
step lost. A second SIGINT (Ctrl-C twice) interrupts at once.

With several processes (jax.distributed) a signal reaches one host, or the
hosts at different steps, but the checkpoint is a collective save: every
process must stop at the same step. There JAX's preemption service (which
jax.distributed.initialize starts; it catches SIGTERM itself) spreads the
notice and agrees on a step (the largest step any process has reached,
+1); `stop_check` asks it after every step, a host-side check that costs
nothing until a notice arrives. SIGINT is passed on to it as a SIGTERM.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Callable, Iterator

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


def _pass_on_to_jax(signum: int, frame) -> None:
  """SIGINT with several processes: a SIGTERM for JAX's preemption service
  (the first time); a second one interrupts at once."""
  if _requested:
    raise KeyboardInterrupt
  _on_signal(signum, frame)
  os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def handle_signals(num_processes: int = 1) -> Iterator[None]:
  """Records SIGTERM/SIGINT for `requested()` while the body runs (main
  thread only); the previous handlers come back afterwards. With several
  processes SIGTERM stays with JAX's preemption service and SIGINT is
  passed on to it."""
  if num_processes > 1:
    handlers = {signal.SIGINT: _pass_on_to_jax}
  else:
    handlers = {s: _on_signal for s in _SIGNALS}
  previous = {s: signal.signal(s, h) for s, h in handlers.items()}
  _requested.clear()
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def stop_check(num_processes: int) -> Callable[[int], bool]:
  """`check(step)`: whether to stop after `step`. One process: it was asked
  (`requested()`). Several: every process must call it after every step
  (from the same first step); all of them get True at the same step once
  any of them got SIGTERM (JAX's preemption sync point)."""
  if num_processes == 1:
    return lambda step: bool(_requested)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return multihost_utils.reached_preemption_sync_point

"""Summing a `jax.profiler` perfetto trace per XLA thunk (the library part
of `python -m benchmarks.profile_step`, which says what the tables mean)."""
from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import time
from typing import Any, Sequence

import jax

# Trace events that are not XLA thunks (Python, the runtime's own spans).
_NOT_THUNKS = re.compile(r"^\$|::|^Pjit|^end: |^ParseArguments$"
                         r"|^Handle inputs$|^AllocateOutputBuffers")


def thunk_times(events: Sequence[dict[str, Any]]) -> dict[str, float]:
  """Summed duration in ms per thunk name of a perfetto trace's events."""
  total: collections.Counter = collections.Counter()
  for event in events:
    if event.get("ph") == "X" and not _NOT_THUNKS.search(event["name"]):
      total[event["name"]] += event.get("dur", 0) / 1e3
  return dict(total)


def by_kind(times: dict[str, float]) -> dict[str, tuple[float, int]]:
  """(ms, count) per thunk kind: the name less its `.N` suffix."""
  kinds: dict[str, tuple[float, int]] = {}
  for name, ms in times.items():
    kind = re.sub(r"\.\d+$", "", name)
    total, count = kinds.get(kind, (0.0, 0))
    kinds[kind] = (total + ms, count + 1)
  return kinds


def profile(run: Any, out_dir: str) -> tuple[dict[str, float], float]:
  """Thunk times of one call of `run` (already compiled), and its wall s."""
  jax.block_until_ready(run())
  start = time.perf_counter()
  with jax.profiler.trace(out_dir, create_perfetto_trace=True):
    jax.block_until_ready(run())
  wall = time.perf_counter() - start
  paths = glob.glob(os.path.join(out_dir, "**", "*.trace.json.gz"),
                    recursive=True)
  if not paths:
    raise RuntimeError(f"jax.profiler wrote no perfetto trace under {out_dir}")
  with gzip.open(paths[0]) as f:
    trace = json.load(f)
  events = trace["traceEvents"] if isinstance(trace, dict) else trace
  return thunk_times(events), wall

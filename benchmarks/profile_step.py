"""Where a model's jitted step spends its time, per XLA thunk, on this machine.

  python -m benchmarks.profile_step --model r3d_18 --shape 16,112,112 \\
      --batch 4 [--task train|forward] [--top 20]

Builds the step the suite times (`benchmarks.jax_side.setup`: forward, or
SGD-momentum with BN updates), runs it once under `jax.profiler.trace` with
a perfetto trace, and sums the trace's event durations per XLA thunk and
per kind of thunk (its name less the `.N` suffix: `transpose_copy_fusion`,
`ynn_fusion`, `convolution`, ...). On XLA:CPU each fusion, dot or library
call is one event; Eigen's convolutions show only their dispatch (they run
on the intra-op pool), so the table is exact for the work *around* the
convs, which is what it is for: this is how the dkernel transposes and the
max-pool reduce_windows of docs/conv_speed.md were found. Thunks may run
side by side, so the sum can exceed the step's wall time.
"""
from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time
from typing import Any, Sequence

from absl import flags
import jax

from benchmarks import jax_side
from video_flax import errors
from video_flax.tools import flops

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


def define_flags() -> None:
  """Flags of the command (defined only when run as a program)."""
  flags.DEFINE_string("model", "r3d_18", "Registered model name.")
  flags.DEFINE_string("shape", "16,112,112", "Clip size T,H,W.")
  flags.DEFINE_integer("batch", 1, "Clips per step.", lower_bound=1)
  flags.DEFINE_enum("task", "train", ["train", "forward"], "Step to profile.")
  flags.DEFINE_integer("top", 20, "Rows of each table.", lower_bound=1)


def main(argv: Sequence[str]) -> None:
  del argv
  args = flags.FLAGS
  shape = flops.parse_shape(args.shape)
  run = jax_side.setup(args.model, shape, args.batch, "float32", args.task)
  with tempfile.TemporaryDirectory() as out_dir:
    times, wall = profile(run, out_dir)
  print(f"{args.model} {args.task} b{args.batch} "
        f"{'x'.join(map(str, shape))}: one step {wall:.3f} s (traced); "
        f"thunks {sum(times.values()) / 1e3:.3f} s")
  print(f"\n{'ms':>9s} {'count':>6s}  kind")
  kinds = sorted(by_kind(times).items(), key=lambda kv: -kv[1][0])
  for kind, (ms, count) in kinds[:args.top]:
    print(f"{ms:9.1f} {count:6d}  {kind}")
  print(f"\n{'ms':>9s}  thunk")
  for name, ms in sorted(times.items(), key=lambda kv: -kv[1])[:args.top]:
    print(f"{ms:9.1f}  {name}")


if __name__ == "__main__":
  define_flags()
  errors.run(main)

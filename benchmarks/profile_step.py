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

import tempfile
from typing import Sequence

from absl import flags

from benchmarks import jax_side
from benchmarks.thunk_profile import by_kind, profile
from video_flax import errors

_MODEL = flags.DEFINE_string("model", "r3d_18", "A registered model.")
_SHAPE = flags.DEFINE_list("shape", ["16", "112", "112"], "Clip T,H,W.")
_BATCH = flags.DEFINE_integer("batch", 1, "Clips per step.")
_TASK = flags.DEFINE_enum("task", "train", ["train", "forward"], "Step.")
_TOP = flags.DEFINE_integer("top", 20, "Rows of each table.")


def main(argv: Sequence[str]) -> None:
  del argv
  shape = tuple(int(s) for s in _SHAPE.value)
  if len(shape) != 3:
    raise errors.UsageError(f"--shape={','.join(_SHAPE.value)}: give T,H,W")
  run = jax_side.setup(_MODEL.value, shape, _BATCH.value, "float32",
                       _TASK.value)
  with tempfile.TemporaryDirectory() as out_dir:
    times, wall = profile(run, out_dir)
  print(f"{_MODEL.value} {_TASK.value} b{_BATCH.value} "
        f"{'x'.join(map(str, shape))}: one step {wall:.3f} s (traced); "
        f"thunks {sum(times.values()) / 1e3:.3f} s")
  print(f"\n{'ms':>9s} {'count':>6s}  kind")
  kinds = sorted(by_kind(times).items(), key=lambda kv: -kv[1][0])
  for kind, (ms, count) in kinds[:_TOP.value]:
    print(f"{ms:9.1f} {count:6d}  {kind}")
  print(f"\n{'ms':>9s}  thunk")
  for name, ms in sorted(times.items(), key=lambda kv: -kv[1])[:_TOP.value]:
    print(f"{ms:9.1f}  {name}")


if __name__ == "__main__":
  errors.run(main)

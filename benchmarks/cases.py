"""What the suite times: models, clip sizes, batches, dtypes, tasks."""
from __future__ import annotations

import dataclasses
from typing import Sequence

# The models both frameworks have: torchvision's video models, and ir-CSN-152
# against benchmarks/torch_csn.py.
SHARED_MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "ir_csn_152")
# --quick: the same code paths at small shapes (ir_csn_26: the depthwise
# bottleneck of ir_csn_152 with 2 blocks per stage).
QUICK_MODELS = ("r3d_18", "ir_csn_26")
QUICK_SHAPE = (4, 32, 32)
# Every model the torch side can build (torchvision's, benchmarks/torch_csn.py's).
COMPARABLE_MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "ir_csn_26",
                     "ir_csn_50", "ir_csn_101", "ir_csn_152")
DTYPES = ("float32", "bfloat16")
TASKS = ("forward", "train")

# Throughput batch by backend and clip area: 16x112^2 clips / 224^2 clips
# (the GPU ones as in docs/gpu_speed.md; on CPU what 2 cores finish).
THROUGHPUT_BATCH = {"cpu": {112: 4, 224: 2}, "gpu": {112: 32, 224: 8}}


@dataclasses.dataclass(frozen=True)
class Case:
  """One timed configuration, run by both frameworks."""
  model: str
  shape: tuple[int, int, int]  # T, H, W
  batch: int
  dtype: str  # float32 | bfloat16
  task: str  # forward | train

  def request(self) -> dict:
    return dataclasses.asdict(self)


def throughput_batch(backend: str, shape: Sequence[int], override: int) -> int:
  """`override` when > 0, else the table's batch for the clip's size."""
  if override > 0:
    return override
  table = THROUGHPUT_BATCH["cpu" if backend == "cpu" else "gpu"]
  return table[112] if shape[1] <= 112 else table[224]


def cases(shapes: dict[str, tuple[int, int, int]], backend: str,
          dtypes: Sequence[str], batch_override: int, quick: bool
          ) -> list[Case]:
  """Every (model, batch, dtype, task), models in the order of `shapes`."""
  result = []
  for model, shape in shapes.items():
    big = throughput_batch(backend, shape, batch_override)
    if quick:
      big = min(big, 2)
    for batch in sorted({1, big}):
      for dtype in dtypes:
        result += [Case(model, tuple(shape), batch, dtype, task)
                   for task in TASKS]
  return result

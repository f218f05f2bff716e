"""Prints the parameter column of Quo Vadis Table 1 next to this project's.

    python -m video_flax.tools.table1

Each model is built with 400 classes on its training input (Table 1) and
counted with `jax.eval_shape` (no weights are allocated). Counts are
trainable parameters; batch-norm running statistics are not parameters.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import jax
import jax.numpy as jnp

from video_flax import models
from video_flax.models import model_size

NUM_CLASSES = 400

# (Table 1 row, registry name, input shapes per batch key, paper's count,
# why the two differ where they do).
TABLE1 = (
    ("ConvNet+LSTM", "convnet_lstm", {"video": (25, 224, 224, 3)}, "9M",
     "Inception-V1 without logits 5.6M + LSTM(1024->512) 3.1M + fc 0.2M"),
    ("3D-ConvNet", "c3d_bn", {"video": (16, 112, 112, 3)}, "79M",
     "'SAME' pools give fc6 1x4x4x512 inputs; 79.6M (C3D's 1x3x3 gives 64.9M)"),
    ("Two-Stream", "two_stream_late_fusion",
     {"video": (1, 224, 224, 3), "flow": (10, 224, 224, 2)}, "12M",
     "RGB Inception-V1 6.0M + flow Inception-V1 (20 input channels) 6.0M"),
    ("3D-Fused", "two_stream_3d_fused",
     {"video": (5, 224, 224, 3), "flow": (50, 224, 224, 2)}, "39M",
     "two backbones 11.2M + fusion conv 3x3x3x2048x512 28.3M + fc 0.2M"),
    ("Two-Stream I3D", "two_stream_i3d",
     {"video": (64, 224, 224, 3), "flow": (64, 224, 224, 2)}, "25M",
     "RGB I3D 12,689,984 + flow I3D 12,668,032 (public release)"),
)


def count_params(name: str, inputs: Mapping[str, Sequence[int]],
                 num_classes: int = NUM_CLASSES) -> int:
  """Parameters of registry model `name` on per-example input shapes."""
  model = models.build_model(name, num_classes)
  batch = {k: jax.ShapeDtypeStruct((1, *shape), jnp.float32)
           for k, shape in inputs.items()}
  x = batch["video"] if tuple(inputs) == ("video",) else batch
  abstract = model_size.abstract_variables(model, x)
  return sum(leaf.size for leaf in jax.tree.leaves(abstract["params"]))


def main() -> None:
  print(f"Quo Vadis Table 1, parameters ({NUM_CLASSES} classes)")
  print(f"{'model':<16} {'ours':>12} {'paper':>6}  note")
  for label, name, inputs, paper, note in TABLE1:
    ours = count_params(name, inputs)
    print(f"{label:<16} {ours:>12,} {paper:>6}  {note}")


if __name__ == "__main__":
  main()

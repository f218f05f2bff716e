"""Multiply-accumulates (MACs) of any registered model at any clip size.

  python -m video_flax.tools.flops --model ir_csn_152 --shape 32,224,224
  python -m video_flax.tools.flops --model r3d_18 --shape 16,112,112 --per_layer
  python -m video_flax.tools.flops --model ir_csn_tiny --shape 8,32,32 --xla

How MACs are counted (analytically, from the traced forward pass, padding
taps included, elementwise work left out): video_flax/models/model_size.py.
FLOPs = 2 x MACs. `--xla` also prints XLA's own count for the compiled
forward pass (reference conv forms), which leaves out kernel taps on zero
padding and adds the elementwise work.
"""
from __future__ import annotations

from typing import Sequence

from absl import flags

from video_flax import errors
from video_flax import models
from video_flax.models import model_size


def parse_shape(text: str) -> tuple[int, int, int]:
  """'32,224,224' -> (32, 224, 224)."""
  try:
    shape = tuple(int(v) for v in text.split(","))
  except ValueError:
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise ValueError(
        f"--shape must be T,H,W (three positive ints), got {text!r}")
  return shape  # type: ignore[return-value]


def define_flags() -> None:
  """Flags of the command (defined only when run as a program)."""
  flags.DEFINE_string("model", "ir_csn_152", "Registered model name.")
  flags.DEFINE_string("shape", "32,224,224", "Clip size T,H,W.")
  flags.DEFINE_integer("batch_size", 1, "Clips per forward pass.")
  flags.DEFINE_integer("num_classes", 400, "Classifier outputs.")
  flags.DEFINE_bool("per_layer", False, "Print MACs per module.")
  flags.DEFINE_bool("xla", False,
                    "Also compile the forward pass and print XLA's FLOPs.")


def main(argv: Sequence[str]) -> None:
  del argv
  args = flags.FLAGS
  shape = parse_shape(args.shape)
  model = models.build_model(args.model, args.num_classes)
  counts = model_size.count_ops(model, shape, args.batch_size)
  macs = sum(op.macs for op in counts)
  if args.per_layer:
    for name, layer_macs in model_size.per_layer(counts).items():
      print(f"{layer_macs / 1e6:12.3f} MMACs  {name}")
  clip = "x".join(str(s) for s in shape)
  print(f"{args.model}: {args.batch_size} clip(s) of {clip}, "
        f"{model_size.count_params(model, shape):,} params")
  print(f"MACs:  {macs / 1e9:.3f} G  ({macs:,})")
  print(f"FLOPs: {2 * macs / 1e9:.3f} G  (2 x MACs)")
  if args.xla:
    with model_size.reference_conv_forms():
      xla = model_size.xla_flops(model, shape, args.batch_size)
    print(f"XLA cost analysis FLOPs: {xla / 1e9:.3f} G "
          "(compiled forward, elementwise work included)")


if __name__ == "__main__":
  define_flags()
  errors.run(main)

"""Memory per device of a training step, from XLA's compiled memory analysis.

  python -m video_flax.tools.memory_table            # the README's table
  python -m video_flax.tools.memory_table --cases=ip_csn_152:32x224x224 \
      --spatial=1,2 --clips=8

Each case compiles the real step (`train.train_step`: SGD momentum, BN
statistics updates, the state donated) on a mesh of data=1 x spatial=S
devices (fake CPU devices: the command sets
--xla_force_host_platform_device_count itself) with `--clips` clips per
data replica, with and without `train.remat`, and reports per device
argument + output + temp - alias bytes. The data axis does not change a
device's share (it holds the replicated state and its replica's clips), so
data=1 stands for any data size. Convs are traced as `lax.conv_general_dilated`
(the TPU/GPU path); XLA:CPU's buffer assignment is an estimate of, not equal
to, the TPU/GPU one. Compiling a full-size model on CPU takes minutes.

XLA:CPU's schedule does not show what remat saves (it runs the recomputed
forward ops early, beside the saved ones), so the table also reports, from
the traced program alone (no backend), the activations the backward pass
keeps: the residuals of `jax.vjp` of the training forward, per device with
every activation split `spatial` ways. That column is where remat shows.
"""
from __future__ import annotations

import functools
import os
import sys
from typing import Any, Sequence

from absl import app
from absl import flags

if __name__ == "__main__" and "jax" not in sys.modules:
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_force_host_platform_device_count=4")

import flax.linen as nn  # noqa: E402  (after XLA_FLAGS)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import optax  # noqa: E402

from video_flax import errors  # noqa: E402
from video_flax import models  # noqa: E402
from video_flax import sharding  # noqa: E402
from video_flax import train  # noqa: E402
from video_flax.models import cpu_compile  # noqa: E402
from video_flax.models import model_size  # noqa: E402

GIB = 2 ** 30
DEFAULT_CASES = "ip_csn_152:32x224x224,i3d_rgb:64x224x224"


def step_memory(name: str, clip: Sequence[int], clips: int, spatial: int,
                remat: bool, num_classes: int = 400) -> dict[str, float]:
  """Bytes per device of one compiled train step of model `name` on
  `clips` clips [T, H, W] per data replica, H split over `spatial` devices."""
  model = models.build_model(name, num_classes)
  model = model.clone(remat=True) if remat else model
  mesh = sharding.make_mesh(ml_collections.ConfigDict(
      {"data": 1, "spatial": spatial}), jax.devices()[:spatial])
  tx = optax.sgd(0.1, momentum=0.9)
  inputs = model_size.example_inputs(model, clip, clips)
  variables = model_size.abstract_variables(model, inputs)
  state = jax.eval_shape(lambda v: train.TrainState(
      step=jnp.zeros((), jnp.int32), params=v["params"],
      batch_stats=v.get("batch_stats", {}), opt_state=tx.init(v["params"])),
                         variables)
  state = jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(
      s.shape, s.dtype, sharding=sh), state,
                       sharding.state_shardings(mesh, state))
  batch = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=(
      sharding.input_sharding(mesh, 5))) for k, v in (
          inputs.items() if isinstance(inputs, dict) else [("video", inputs)])}
  batch["label"] = jax.ShapeDtypeStruct((clips,), jnp.int32, sharding=(
      sharding.input_sharding(mesh, 1)))
  step = cpu_compile.jit(functools.partial(
      train.train_step, model=model, tx=tx, num_classes=num_classes,
      label_smoothing=0.0), donate_argnums=(0,))
  with model_size.reference_conv_forms(), sharding.activation_rules(mesh):
    stats = step.lower(state, batch, jax.random.key(0)).compile(
    ).memory_analysis()
  total = (stats.argument_size_in_bytes + stats.output_size_in_bytes +
           stats.temp_size_in_bytes - stats.alias_size_in_bytes)
  return {"total": total, "temp": stats.temp_size_in_bytes,
          "arguments": stats.argument_size_in_bytes,
          "saved": saved_for_backward(model, inputs, variables, clips) / spatial}


def saved_for_backward(model: nn.Module, inputs: Any, variables: Any,
                       clips: int) -> int:
  """Bytes of activations the backward pass of one training forward keeps
  (the residuals of `jax.vjp`, those with the batch as leading axis), from
  shapes only; with `model.remat` only each block's inputs are kept."""

  def residuals(params, batch_stats, x):
    def forward(p):
      logits, _ = model.apply({"params": p, "batch_stats": batch_stats}, x,
                              train=True, mutable=["batch_stats"],
                              rngs={"dropout": jax.random.key(0)})
      return jnp.mean(logits)
    return jax.vjp(forward, params)[1]

  with model_size.reference_conv_forms():
    kept = jax.eval_shape(residuals, variables["params"],
                          variables.get("batch_stats", {}), inputs)
  return sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(kept)
             if leaf.ndim >= 2 and leaf.shape[0] == clips)


def define_flags() -> None:
  """Flags of the command (defined only when run as a program)."""
  flags.DEFINE_string("cases", DEFAULT_CASES, "model:TxHxW, comma separated.")
  flags.DEFINE_string("spatial", "1,2,4", "Sizes of the spatial axis.")
  flags.DEFINE_integer("clips", 8, "Clips per data replica.")
  flags.DEFINE_bool("header", True, "Print the table's header.")
  flags.DEFINE_list("remat", ["no", "yes"], "Without and/or with remat.")


def parse_case(case: str) -> tuple[str, tuple[int, ...]]:
  """'ip_csn_152:32x224x224' -> (name, (T, H, W)); UsageError naming a bad one."""
  name, _, clip = case.partition(":")
  try:
    shape = tuple(int(s) for s in clip.split("x"))
  except ValueError:
    shape = ()
  if len(shape) != 3 or name not in models.MODELS:
    raise app.UsageError(
        f"--cases: {case!r} is not MODEL:TxHxW with a registered model "
        "(e.g. ip_csn_152:32x224x224)")
  return name, shape


def main(argv: Sequence[str]) -> None:
  del argv
  args = flags.FLAGS
  cases = [parse_case(case) for case in args.cases.split(",")]
  if args.header:
    print("| model | clip | clips/replica | mesh.spatial | remat | "
          "GiB per device (temp) | saved for backward, GiB per device |\n"
          "|---|---|---|---|---|---|---|", flush=True)
  for name, shape in cases:
    clip = "x".join(map(str, shape))
    for spatial in (int(s) for s in args.spatial.split(",")):
      for remat in (r == "yes" for r in args.remat):
        m = step_memory(name, shape, args.clips, spatial, remat)
        print(f"| {name} | {clip} | {args.clips} | {spatial} | "
              f"{'yes' if remat else 'no'} | {m['total'] / GIB:.2f} "
              f"({m['temp'] / GIB:.2f}) | {m['saved'] / GIB:.2f} |", flush=True)


if __name__ == "__main__":
  define_flags()
  errors.run(main)

"""Speed of a registered model: forward and training-step clips/s, GFLOP/s.

  python -m video_flax.tools.benchmark --model ir_csn_tiny --batch_size 16 \
      --shape 8,32,32

Forward = the jitted eval-mode pass; train step = forward + backward + an
SGD-momentum update of the parameters and the BN running statistics. The
achieved GFLOP/s use the model's analytic count (models/model_size.py):
2 x MACs per clip forward and 3 x that for a training step (the backward
pass costs about twice the forward). Each timing is the median of `--iters`
runs after one warm-up (compile) run.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import time
from typing import Any, Callable, Sequence

from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from video_flax import errors
from video_flax import models
from video_flax import variable_init
from video_flax.models import cpu_compile
from video_flax.models import model_size
from video_flax.tools import flops

BACKWARD_FACTOR = 3  # a training step ~ forward + 2 x forward in FLOPs


@dataclasses.dataclass(frozen=True)
class Timing:
  """Seconds of one call, median over runs, and the compile (first) call."""
  seconds: float
  compile_seconds: float


def random_inputs(model: nn.Module, shape: Sequence[int], batch_size: int,
            key: jax.Array) -> Any:
  specs = model_size.example_inputs(model, shape, batch_size)
  return jax.tree.map(lambda s: jax.random.normal(key, s.shape, s.dtype), specs)


def time_call(fn: Callable[[], Any], iters: int) -> Timing:
  """Runs `fn` once to compile, then `iters` times; blocks on results."""
  start = time.perf_counter()
  jax.block_until_ready(fn())
  compile_seconds = time.perf_counter() - start
  runs = []
  for _ in range(iters):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    runs.append(time.perf_counter() - start)
  return Timing(statistics.median(runs), compile_seconds)


def forward_runner(model: nn.Module, variables: Any, inputs: Any
                   ) -> Callable[[], Any]:
  """A call of the jitted eval-mode forward pass on `inputs`."""
  forward = cpu_compile.jit(lambda v, x: model.apply(v, x, train=False))
  return lambda: forward(variables, inputs)


def time_forward(model: nn.Module, variables: Any, inputs: Any,
                 iters: int) -> Timing:
  return time_call(forward_runner(model, variables, inputs), iters)


def train_step_runner(model: nn.Module, variables: Any, inputs: Any,
                      num_classes: int) -> Callable[[], Any]:
  """A call of one SGD-momentum step with BN statistics updates; the state
  is donated and carried from call to call."""
  tx = optax.sgd(0.01, momentum=0.9)
  batch_size = jax.tree.leaves(inputs)[0].shape[0]
  labels = jnp.arange(batch_size) % num_classes

  def step(params, batch_stats, opt_state, x):
    def loss_fn(p):
      logits, updates = model.apply(
          {"params": p, "batch_stats": batch_stats}, x, train=True,
          mutable=["batch_stats"], rngs={"dropout": jax.random.key(0)})
      logits = logits.astype(jnp.float32)
      # Per-step or per-stream logits [B, S, K]: every one gets the label,
      # as in loss.cross_entropy.
      targets = (labels if logits.ndim == 2 else
                 jnp.broadcast_to(labels[:, None], logits.shape[:2]))
      loss = optax.softmax_cross_entropy_with_integer_labels(
          logits, targets).mean()
      return loss, updates["batch_stats"]
    (_, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_stats, opt_state

  step = cpu_compile.jit(step, donate_argnums=(0, 1, 2))
  state = [variables["params"], variables.get("batch_stats", {}),
           tx.init(variables["params"])]

  def run():
    state[:] = step(*state, inputs)
    return state

  return run


def time_train_step(model: nn.Module, variables: Any, inputs: Any,
                    num_classes: int, iters: int) -> Timing:
  """One SGD-momentum step with BN statistics updates (state is donated)."""
  return time_call(train_step_runner(model, variables, inputs, num_classes),
                   iters)


def benchmark(name: str, shape: Sequence[int], batch_size: int,
              num_classes: int = 400, iters: int = 5, train: bool = True,
              macs: float | None = None, dtype: str = "float32"
              ) -> dict[str, float]:
  """Clips/s and GFLOP/s of `name` on random clips [B, T, H, W, C].

  `macs` per clip, when already known, saves tracing the model once more.
  `dtype` is the compute dtype (`config.model.dtype`); parameters, inputs
  and the loss stay float32.
  """
  if macs is None:
    macs = model_size.count_macs(models.build_model(name, num_classes), shape,
                            batch_size=1)
  model = models.build_model(name, num_classes, dtype=jnp.dtype(dtype))
  inputs = random_inputs(model, shape, batch_size, jax.random.key(1))
  variables = variable_init.random_variables(model, inputs)
  forward = time_forward(model, variables, inputs, iters)
  result = {
      "gmacs_per_clip": macs / 1e9,
      "forward_clips_per_s": batch_size / forward.seconds,
      "forward_gflops_per_s": 2 * macs * batch_size / forward.seconds / 1e9,
      "forward_compile_s": forward.compile_seconds,
  }
  if train:
    step = time_train_step(model, variables, inputs, num_classes, iters)
    result.update({
        "train_clips_per_s": batch_size / step.seconds,
        "train_gflops_per_s": (BACKWARD_FACTOR * 2 * macs * batch_size
                               / step.seconds / 1e9),
        "train_compile_s": step.compile_seconds,
    })
  return result


def define_flags() -> None:
  """Flags of the command (defined only when run as a program)."""
  flags.DEFINE_string("model", "ir_csn_tiny", "Registered model name.")
  flags.DEFINE_string("shape", "8,32,32", "Clip size T,H,W.")
  flags.DEFINE_integer("batch_size", 16, "Clips per batch.")
  flags.DEFINE_integer("num_classes", 400, "Classifier outputs.")
  flags.DEFINE_integer("iters", 5, "Timed runs (median reported).")
  flags.DEFINE_bool("train", True, "Also time a training step.")
  flags.DEFINE_bool("json", False, "Print the results as one JSON line.")
  flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16", "float16"],
                    "Compute dtype (as config.model.dtype).")


def main(argv: Sequence[str]) -> None:
  del argv
  args = flags.FLAGS
  shape = flops.parse_shape(args.shape)
  r = benchmark(args.model, shape, args.batch_size, args.num_classes,
                args.iters, args.train, dtype=args.dtype)
  if args.json:
    print(json.dumps(r))
    return
  clip = "x".join(str(s) for s in shape)
  print(f"{args.model}: batch {args.batch_size} of {clip}, "
        f"{r['gmacs_per_clip']:.3f} GMACs/clip, {args.dtype}, "
        f"backend {jax.default_backend()}")
  print(f"forward:    {r['forward_clips_per_s']:9.2f} clips/s  "
        f"{r['forward_gflops_per_s']:8.1f} GFLOP/s  "
        f"(compile {r['forward_compile_s']:.1f} s)")
  if args.train:
    print(f"train step: {r['train_clips_per_s']:9.2f} clips/s  "
          f"{r['train_gflops_per_s']:8.1f} GFLOP/s  "
          f"(compile {r['train_compile_s']:.1f} s; FLOPs = 3 x forward)")


if __name__ == "__main__":
  define_flags()
  errors.run(main)

"""Per-layer side by side: video_flax's conv3d against torch's nn.Conv3d.

  python -m benchmarks.layers [--batch 1] [--rounds 3] [--cases r3d_conv2,...]
                             [--dtype bfloat16]

The convs of r3d_18 at 16x112x112 (and mc3_18's and r2plus1d_18's that
differ from them) and the depthwise / 1x1x1 pair of
ir-CSN-152 at 32x224x224, each timed forward and forward+backward
(gradients wrt input and kernel) in both frameworks, interleaved call by
call, best of `--rounds`; GFLOP/s from MACs (2x forward, 6x fwd+bwd) and
as % of the matmul roofline measured in the same run (the faster
framework's 2048^3 f32 matmul). Shows which layers hold a model back, and
what a FLOP costs in a depthwise conv against a 1x1x1 one. With `--dtype
bfloat16` ours runs on bf16 inputs and kernel, torch under autocast (as in
the suite) and the roofline is the faster bf16 matmul.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Sequence

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import torch

from benchmarks import jax_side
from benchmarks import torch_side
from video_flax import errors
from video_flax.models import cpu_compile
from video_flax.models import layers

_BATCH = flags.DEFINE_integer("batch", 1, "Clips per call.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Timed calls per framework (best).")
_CASES = flags.DEFINE_list("cases", [], "Case names (default: all).")
_DTYPE = flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"],
                           "Compute dtype (torch: autocast).")


@dataclasses.dataclass(frozen=True)
class Conv:
  """x [B, *clip, c_in] -> [B, *out, c_out]; depthwise when groups = c_in."""
  name: str
  clip: tuple[int, int, int]
  c_in: int
  c_out: int
  kernel: tuple[int, int, int] = (3, 3, 3)
  strides: tuple[int, int, int] = (1, 1, 1)
  groups: int = 1

  def out(self) -> list[int]:
    """Output T, H, W with symmetric (k - 1) // 2 padding."""
    return [(n + 2 * ((k - 1) // 2) - k) // s + 1
            for n, k, s in zip(self.clip, self.kernel, self.strides)]

  def macs(self, batch: int) -> int:
    return (batch * math.prod(self.out()) * self.c_out
            * math.prod(self.kernel) * self.c_in // self.groups)


S2 = (2, 2, 2)
CASES = (
    Conv("r3d_stem", (16, 112, 112), 3, 64, (3, 7, 7), (1, 2, 2)),
    Conv("r3d_conv2", (16, 56, 56), 64, 64),
    Conv("r3d_conv3_1", (16, 56, 56), 64, 128, strides=S2),
    Conv("r3d_conv3", (8, 28, 28), 128, 128),
    Conv("r3d_conv4_1", (8, 28, 28), 128, 256, strides=S2),
    Conv("r3d_conv4", (4, 14, 14), 256, 256),
    Conv("r3d_conv5_1", (4, 14, 14), 256, 512, strides=S2),
    Conv("r3d_conv5", (2, 7, 7), 512, 512),
    # mc3_18: 1x3x3 convs from conv3 on, T kept at 16.
    Conv("mc3_conv3", (16, 28, 28), 128, 128, (1, 3, 3)),
    Conv("mc3_conv4", (16, 14, 14), 256, 256, (1, 3, 3)),
    Conv("mc3_conv5", (16, 7, 7), 512, 512, (1, 3, 3)),
    # r2plus1d_18's conv2 pair (144 mid channels) and its widest one.
    Conv("r21d_conv2_s", (16, 56, 56), 64, 144, (1, 3, 3)),
    Conv("r21d_conv2_t", (16, 56, 56), 144, 64, (3, 1, 1)),
    Conv("r21d_conv5_s", (2, 7, 7), 512, 1152, (1, 3, 3)),
    Conv("r21d_conv5_t", (2, 7, 7), 1152, 512, (3, 1, 1)),
    Conv("csn_dw_64", (32, 56, 56), 64, 64, groups=64),
    Conv("csn_pw_256_64", (32, 56, 56), 256, 64, (1, 1, 1)),
    Conv("csn_dw_256", (8, 14, 14), 256, 256, groups=256),
    Conv("csn_pw_1024_256", (8, 14, 14), 1024, 256, (1, 1, 1)),
)


def _jax_calls(conv: Conv, batch: int, dtype: str = "float32"
               ) -> dict[str, Callable[[], Any]]:
  """Forward and forward+backward (dx, dkernel) of layers.conv3d, jitted."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((batch, *conv.clip, conv.c_in),
                                      np.float32), dtype)
  k = jnp.asarray(rng.standard_normal(
      (*conv.kernel, conv.c_in // conv.groups, conv.c_out), np.float32) * 0.05,
      dtype)
  dy = jnp.ones((batch, *conv.out(), conv.c_out), dtype)

  def f(x, k):
    return layers.conv3d(x, k, conv.strides, None, conv.groups)

  forward = cpu_compile.jit(f)
  backward = cpu_compile.jit(lambda x, k: jax.vjp(f, x, k)[1](dy))
  return {"forward": lambda: jax.block_until_ready(forward(x, k)),
          "fwd+bwd": lambda: jax.block_until_ready(backward(x, k))}


def _torch_calls(conv: Conv, batch: int, dtype: str = "float32"
                 ) -> dict[str, Callable[[], Any]]:
  module = torch.nn.Conv3d(conv.c_in, conv.c_out, conv.kernel, conv.strides,
                           tuple((k - 1) // 2 for k in conv.kernel),
                           groups=conv.groups, bias=False)
  x = torch.randn(batch, conv.c_in, *conv.clip, requires_grad=True)

  def forward():
    with torch.inference_mode(), torch_side.autocast(dtype):
      module(x)

  def backward():
    module.zero_grad(set_to_none=True)
    x.grad = None
    with torch_side.autocast(dtype):
      y = module(x)
    y.float().sum().backward()
  return {"forward": forward, "fwd+bwd": backward}


def _best(calls: Sequence[dict[str, Callable[[], Any]]], task: str,
          rounds: int) -> list[float]:
  """Fastest seconds per framework, taking turns call by call (after one
  warm-up call each)."""
  best = [math.inf] * len(calls)
  for r in range(rounds + 1):
    order = range(len(calls)) if r % 2 == 0 else reversed(range(len(calls)))
    for i in order:
      start = time.perf_counter()
      calls[i][task]()
      if r:
        best[i] = min(best[i], time.perf_counter() - start)
  return best


def _roofline(rounds: int, dtype: str = "float32") -> float:
  """GFLOP/s of the faster 2048^3 matmul in `dtype` (both frameworks, this
  run)."""
  n = 2048
  seconds = min(torch_side.roofline(dtype, n, rounds),
                jax_side.roofline(dtype, n, rounds))
  return 2 * n**3 / seconds / 1e9


def main(argv: Sequence[str]) -> None:
  del argv
  unknown = sorted(set(_CASES.value) - {c.name for c in CASES})
  if unknown:
    raise app.UsageError(f"--cases: unknown {unknown}; known: "
                         f"{', '.join(c.name for c in CASES)}")
  torch_side.info()  # sets torch's threads to this process's cores
  dtype = _DTYPE.value
  roof = _roofline(_ROUNDS.value, dtype)
  print(f"matmul roofline {roof:.1f} GFLOP/s; batch {_BATCH.value}, {dtype}, "
        f"best of {_ROUNDS.value}; GFLOP/s (% roof), ours / torch time ratio")
  print("| layer | clip | conv | task | ours ms | torch ms | ours/torch | "
        "ours GFLOP/s | torch GFLOP/s |\n|---|---|---|---|---|---|---|---|---|")
  cases = [c for c in CASES if not _CASES.value or c.name in _CASES.value]
  for conv in cases:
    calls = [_jax_calls(conv, _BATCH.value, dtype),
             _torch_calls(conv, _BATCH.value, dtype)]
    for task, factor in (("forward", 2), ("fwd+bwd", 6)):
      ours, theirs = _best(calls, task, _ROUNDS.value)
      flop = factor * conv.macs(_BATCH.value) / 1e9
      kind = "dw" if conv.groups > 1 else "x".join(map(str, conv.kernel))
      print(f"| {conv.name} | {'x'.join(map(str, conv.clip))} | {kind} "
            f"{conv.c_in}->{conv.c_out} | {task} | {ours * 1e3:.1f} | "
            f"{theirs * 1e3:.1f} | {theirs / ours:.2f}x | "
            f"{flop / ours:.1f} ({100 * flop / ours / roof:.0f}%) | "
            f"{flop / theirs:.1f} ({100 * flop / theirs / roof:.0f}%) |",
            flush=True)


if __name__ == "__main__":
  errors.run(main)

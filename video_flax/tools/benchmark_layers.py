"""Speed of the conv forms: fast XLA:CPU forms vs lax.conv_general_dilated.

    python -m video_flax.tools.benchmark_layers [--cases dw_32,stem_tiny] \\
        [--reps 5] [--budget_s 4] [--model ir_csn_tiny --batch 16 \\
        --clip 8,32,32]

For each case (the layer shapes of the tiny CSN and the ones quoted in
docs/conv_speed.md) it times, in one process, `layers.conv3d` traced with
the fast forms and with the reference form (`conv_forms.FORM`), and for
depthwise cases also the plain shifted-slice sum differentiated by autodiff.
Per form: forward ms, forward+backward ms (gradients wrt x and kernel, or
kernel only for a stem, whose input is data), compile s of the fwd+bwd, the
GFLOP/s they reach (useful FLOPs: 2 * MACs forward, 3x that fwd+bwd, 2x
without dx) and
the speedup over the reference. Times are the minimum over --reps calls
(fewer once one form has used --budget_s), which filters out most of the
noise of a shared machine; the per-call CPU time is printed as well.
With --model it then times one training step (loss, gradients and batch
statistics of that registered model on a random clip batch) in both forms.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from video_flax import errors
from video_flax.models import build_model
from video_flax.models import conv_forms
from video_flax.models import cpu_compile
from video_flax.models import layers

_CASES = flags.DEFINE_list("cases", [], "case names to run (default: all)")
_REPS = flags.DEFINE_integer("reps", 5, "timed calls per form (minimum kept)")
_BUDGET_S = flags.DEFINE_float(
    "budget_s", 4.0, "stop repeating a form once its calls took this long")
_MODEL = flags.DEFINE_string("model", "", "also time a train step of this "
                             "registered model (e.g. ir_csn_tiny)")
_BATCH = flags.DEFINE_integer("batch", 16, "clips per --model step")
_CLIP = flags.DEFINE_list("clip", ["8", "32", "32"], "--model clip T,H,W")


@dataclasses.dataclass(frozen=True)
class Case:
  """One conv: x [B, T, H, W, C_in], kernel [kt, kh, kw, C_in/groups, C_out]."""
  name: str
  x_shape: tuple[int, ...]
  kernel_size: tuple[int, int, int]
  c_out: int
  strides: tuple[int, int, int] = (1, 1, 1)
  groups: int = 1
  grad_x: bool = True  # False for a stem: its input needs no gradient

  @property
  def kernel_shape(self) -> tuple[int, ...]:
    return (*self.kernel_size, self.x_shape[-1] // self.groups, self.c_out)

  def forward_flops(self) -> float:
    out = [conv_forms.output_size(n, k, s, ((k - 1) // 2, (k - 1) // 2))
           for n, k, s in zip(self.x_shape[1:4], self.kernel_size,
                              self.strides)]
    return 2.0 * self.x_shape[0] * math.prod(out) * self.c_out * math.prod(
        self.kernel_shape[:4])


CASES = [
    Case("dw_32", (8, 8, 32, 32, 32), (3, 3, 3), 32, groups=32),
    Case("dw_32_b32", (32, 8, 32, 32, 32), (3, 3, 3), 32, groups=32),
    Case("dw_16_tiny", (16, 8, 16, 16, 16), (3, 3, 3), 16, groups=16),
    Case("dw_64_s2", (16, 8, 16, 16, 64), (3, 3, 3), 64, (2, 2, 2),
         groups=64),
    Case("stem_tiny", (16, 8, 32, 32, 3), (3, 7, 7), 24, (1, 2, 2),
         grad_x=False),
    Case("stem_64", (8, 8, 64, 64, 3), (3, 7, 7), 64, (1, 2, 2),
         grad_x=False),
    Case("pw_64_256", (16, 8, 16, 16, 64), (1, 1, 1), 256),
    Case("pw_64_128_s2", (16, 8, 16, 16, 64), (1, 1, 1), 128, (1, 2, 2)),
    Case("dense_32", (8, 8, 32, 32, 32), (3, 3, 3), 32),
    Case("dense_64_s2", (8, 8, 16, 16, 64), (3, 3, 3), 64, (2, 2, 2)),
    Case("t311_64", (8, 8, 16, 16, 64), (3, 1, 1), 64),
    Case("group8_64", (8, 8, 16, 16, 64), (3, 3, 3), 64, groups=8),
]


def _conv_fn(case: Case, form: str) -> Callable:
  """conv(x, kernel) of `case` in `form` (fast, reference or autodiff)."""
  if form == "autodiff":
    padding = tuple(((k - 1) // 2, (k - 1) // 2) for k in case.kernel_size)
    def conv(x, kernel):
      out = tuple(conv_forms.output_size(n, k, s, p) for n, k, s, p in
                  zip(x.shape[1:4], case.kernel_size, case.strides, padding))
      # pylint: disable=protected-access
      xp = conv_forms._pad_spatial(x, padding)
      return conv_forms._depthwise_sum(xp, kernel, case.strides, out,
                                       x.dtype)
    return conv
  return lambda x, kernel: layers.conv3d(x, kernel, case.strides, None,
                                         case.groups)


def _time(fn: Callable, args: tuple) -> tuple[float, float]:
  """(min wall s, min CPU s) per call over --reps calls or --budget_s."""
  best_wall = best_cpu = math.inf
  spent = 0.0
  for _ in range(_REPS.value):
    cpu, wall = time.process_time(), time.perf_counter()
    jax.block_until_ready(fn(*args))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    spent += wall
    if spent > _BUDGET_S.value:
      break
  return best_wall, best_cpu


def measure(case: Case, form: str) -> dict[str, float]:
  """Forward and forward+backward times of one case in one form."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal(case.x_shape), jnp.float32)
  kernel = jnp.asarray(rng.standard_normal(case.kernel_shape) * 0.1,
                       jnp.float32)
  conv = _conv_fn(case, form)
  conv_forms.FORM = "reference" if form == "reference" else "fast"
  try:
    forward = cpu_compile.jit(conv)
    y = jax.block_until_ready(forward(x, kernel))
    dy = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
    argnums = (0, 1) if case.grad_x else (1,)

    def forward_backward(x, kernel, dy):  # y is returned: no pruning of fwd
      y, vjp = jax.vjp(conv, x, kernel)
      grads = vjp(dy)
      return y, [grads[i] for i in argnums]

    backward = cpu_compile.jit(forward_backward)
    start = time.perf_counter()
    jax.block_until_ready(backward(x, kernel, dy))
    compile_s = time.perf_counter() - start
  finally:
    conv_forms.FORM = None
  fwd, fwd_cpu = _time(forward, (x, kernel))
  fwd_bwd, fwd_bwd_cpu = _time(backward, (x, kernel, dy))
  return dict(fwd=fwd, fwd_cpu=fwd_cpu, fwd_bwd=fwd_bwd,
              fwd_bwd_cpu=fwd_bwd_cpu, compile=compile_s)


def measure_model(name: str, batch: int, clip: tuple[int, ...],
                  form: str) -> dict[str, float]:
  """Compile s and step time of gradients + BN stats of model `name`."""
  model = build_model(name, num_classes=10)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((batch, *clip, 3)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, 10, batch))
  conv_forms.FORM = form
  try:
    variables = cpu_compile.jit(lambda key: model.init(key, x, train=False))(
        jax.random.key(0))

    def loss(params, batch_stats):
      logits, updates = model.apply(
          {"params": params, "batch_stats": batch_stats}, x, train=True,
          mutable=["batch_stats"], rngs={"dropout": jax.random.key(1)})
      log_p = jax.nn.log_softmax(logits)
      return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], 1)), updates

    step = cpu_compile.jit(jax.value_and_grad(loss, has_aux=True))
    args = (variables["params"], variables["batch_stats"])
    start = time.perf_counter()
    jax.block_until_ready(step(*args))
    compile_s = time.perf_counter() - start
  finally:
    conv_forms.FORM = None
  wall, cpu = _time(step, args)
  return dict(step=wall, step_cpu=cpu, compile=compile_s)


def main(argv: list[str]) -> None:
  del argv
  known = {c.name: c for c in CASES}
  unknown = set(_CASES.value) - set(known)
  if unknown:
    raise app.UsageError(f"unknown cases {sorted(unknown)}; known: "
                         f"{', '.join(known)}")
  cases = [known[n] for n in _CASES.value] if _CASES.value else CASES
  print(f"backend {jax.default_backend()}, {jax.device_count()} device(s); "
        f"times: min of {_REPS.value} calls, ms (CPU ms per call in [])")
  header = (f"{'case':13s} {'x shape':>19s} {'kernel':>15s} {'form':>9s} "
            f"{'fwd ms':>15s} {'fwd+bwd ms':>17s} {'compile s':>9s} "
            f"{'GFLOP/s f':>9s} {'f+b':>6s} {'speedup f':>9s} {'f+b':>6s}")
  print(header)
  print("-" * len(header))
  for case in cases:
    depthwise = case.groups == case.x_shape[-1] == case.c_out
    forms = ("fast", "autodiff", "reference") if depthwise else (
        "fast", "reference")
    results = {form: measure(case, form) for form in forms}
    ref = results["reference"]
    flops = case.forward_flops()
    bwd_factor = 3 if case.grad_x else 2  # + dx and dkernel, each ~ fwd
    kernel = "x".join(map(str, case.kernel_shape))
    for form, r in results.items():
      print(f"{case.name:13s} {str(list(case.x_shape)):>19s} {kernel:>15s} "
            f"{form:>9s} {r['fwd'] * 1e3:7.1f} [{r['fwd_cpu'] * 1e3:5.0f}] "
            f"{r['fwd_bwd'] * 1e3:8.1f} [{r['fwd_bwd_cpu'] * 1e3:6.0f}] "
            f"{r['compile']:9.1f} {flops / r['fwd'] / 1e9:9.1f} "
            f"{bwd_factor * flops / r['fwd_bwd'] / 1e9:6.1f} "
            f"{ref['fwd'] / r['fwd']:9.1f} "
            f"{ref['fwd_bwd'] / r['fwd_bwd']:6.1f}",
            flush=True)

  if _MODEL.value:
    clip = tuple(int(n) for n in _CLIP.value)
    steps = {form: measure_model(_MODEL.value, _BATCH.value, clip, form)
             for form in ("fast", "reference")}
    print(f"\n{_MODEL.value} train step, batch {_BATCH.value} x "
          f"{'x'.join(map(str, clip))}:")
    for form, r in steps.items():
      print(f"  {form:>9s}: {r['step'] * 1e3:8.1f} ms [CPU "
            f"{r['step_cpu'] * 1e3:6.0f}], compile+first {r['compile']:5.1f} s,"
            f" speedup {steps['reference']['step'] / r['step']:5.1f}")


if __name__ == "__main__":
  errors.run(main)

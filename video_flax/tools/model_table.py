"""Writes docs/models.md: every registered model, its size, cost and CPU speed.

  python -m video_flax.tools.model_table                     # all models
  python -m video_flax.tools.model_table --measure 'csn_tiny|r3d_18'
  python -m video_flax.tools.model_table --nospeed           # params, GMACs

Params are counted with 400 classes; GMACs (models/model_size.py) at the model's
reference clip size (its registry entry's `reference_shape`). CPU speed is
the forward pass at batch 1 on the reference clip (median of a few runs
after compiling),
and for `*_tiny` models (the ones trained on CPU) also a training step at
batch 16. Only models matching `--measure` are timed; the others keep the
speeds of the existing table, so one family can be re-measured at a time.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Sequence

from absl import flags
import jax

from video_flax import errors
from video_flax import models
from video_flax.models import model_size

TINY_TRAIN_BATCH = 16
TIMEOUT_S = 900  # per model and measurement
_DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "docs", "models.md")
_COLUMNS = ("model", "module", "params", "clip T×H×W", "GMACs",
            "CPU fwd clips/s (batch 1)",
            f"CPU train clips/s (batch {TINY_TRAIN_BATCH})")


def reference_shape(name: str) -> tuple[int, int, int]:
  """The clip size (T, H, W) `name` is registered with."""
  return models.MODELS[name].reference_shape


def _module_of(name: str) -> str:
  ctor = models.MODELS[name].constructor
  cls = getattr(ctor, "func", ctor)
  return cls.__module__.rsplit(".", 1)[-1]


def existing_rows(path: str) -> dict[str, list[str]]:
  """model -> cells of an existing table's rows, if any."""
  if not os.path.exists(path):
    return {}
  rows = {}
  with open(path) as f:
    for line in f:
      cells = [c.strip() for c in line.strip().strip("|").split("|")]
      if len(cells) == len(_COLUMNS) and cells[0].startswith("`"):
        rows[cells[0].strip("`")] = cells
  return rows


def measure(name: str, shape: Sequence[int], batch_size: int, iters: int,
            train: bool) -> dict[str, float] | str:
  """tools/benchmark.py's results in a fresh process (a crash or the memory
  of one model cannot take the table down), or why there are none."""
  command = [sys.executable, "-m", "video_flax.tools.benchmark",
             f"--model={name}", "--shape=" + ",".join(map(str, shape)),
             f"--batch_size={batch_size}", f"--iters={iters}",
             "--train" if train else "--notrain", "--json"]
  try:
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
  except subprocess.TimeoutExpired:
    return f"over {TIMEOUT_S} s"
  if result.returncode != 0:
    print(result.stderr[-2000:], flush=True)
    code = result.returncode
    return f"crashed (signal {-code})" if code < 0 else f"failed (exit {code})"
  return json.loads(result.stdout.strip().splitlines()[-1])


def table_row(name: str, timed: bool, old: tuple[str, str]) -> list[str]:
  model = models.build_model(name, 400)
  shape = reference_shape(name)
  params = model_size.count_params(model, shape)
  gmacs = model_size.count_macs(model, shape) / 1e9
  forward, train = old
  if timed:
    r = measure(name, shape, 1, 3 if gmacs < 20 else 1, train=False)
    forward = r if isinstance(r, str) else f"{r['forward_clips_per_s']:.3g}"
    train = "-"
    if name.endswith("_tiny"):
      r = measure(name, shape, TINY_TRAIN_BATCH, 3, train=True)
      train = r if isinstance(r, str) else f"{r['train_clips_per_s']:.3g}"
  clip = "×".join(str(s) for s in shape)
  return [f"`{name}`", _module_of(name), f"{params:,}", clip, f"{gmacs:.3f}",
          forward, train]


_NAMES = """\
## Names of the 3D ResNet family (`models/resnet3d.py`)

One class, `ResNet3D`; a name fixes its depth, block, conv kind and layout.

- Depths: 18 and 34 use simple blocks (two 3x3x3), 26/50/101/152
  bottlenecks (1x1x1, 3x3x3, 1x1x1 with expansion 4); stages 18 (2,2,2,2),
  26 (2,2,2,2), 34/50 (3,4,6,3), 101 (3,4,23,3), 152 (3,8,36,3).
- CSN layout (everything not listed under torchvision below): 3x7x7 stem
  stride 1x2x2, pool1 1x3x3 stride 1x2x2, 2x2x2 stride on the first block of
  conv3/4/5 (its 3x3x3 conv and projection shortcut), BN epsilon 1e-3.
  - `ir_csn_D`: 3x3x3 -> depthwise 3x3x3; `ip_csn_D`: 1x1x1 + BN + depthwise
    3x3x3. In simple blocks the first conv of each block keeps a 1x1x1 conv in
    both (it mixes channels and may change their number).
  - `r3d_D` (`r3d_18_csn` at depth 18): full 3x3x3 convs.
  - `gc_r3d_D`: 3x3x3 with 8 groups (override `groups=`); `resnext3d_D_32x4d`:
    32 groups, bottleneck width 128 at conv2, expansion 2.
  - `r2plus1d_D` (50/101/152): (2+1)D convs and stem, paper mid channels.
  - `p3d_{a,b,c}_D`: P3D cascaded / parallel / cascaded-with-skip S and T convs.
    P3D-A has the same convs as the S3D separable conv `s3d_sep_D`; they
    differ only in where the temporal stride goes.
  - `*_tiny`: one bottleneck per stage, widths 16/32/64/128, 24-channel stem,
    no pool1: for 8x32x32 clips on CPU.
- torchvision / R(2+1)D-paper layout (no pool1, BN epsilon 1e-5, 16x112x112):
  `r3d_18`, `mc3_18`, `r2plus1d_18` (torchvision's mid channels) match
  torchvision's models; `r2plus1d_18_paper` and `r2plus1d_34` use the paper's
  mid-channel rule; `mcX_18` has 2D (1x3x3) convs from conv_X up, `rmcX_18`
  2D convs below conv_X (stem included); `f_r2d_18` is 2D on every frame;
  `r2d_18` folds the T frames into the stem's channels.
- `frame2d_tiny` (`models/frame2d.py`): a 2D net that sees only the middle
  frame; the motion-blind baseline.
"""


def render(rows: Sequence[Sequence[str]]) -> str:
  header = [
      "# Model zoo",
      "",
      "Generated by `python -m video_flax.tools.model_table`; do not edit by",
      "hand. Params with 400 classes (BN scale and offset counted, running",
      "statistics not). GMACs of conv and matmul layers for one clip at the",
      "listed size (2 FLOPs per MAC), as `python -m video_flax.tools.flops`",
      "prints them. CPU speeds: jitted forward at batch 1 and, for the tiny",
      f"models, an SGD training step at batch {TINY_TRAIN_BATCH}; measured on",
      f"{os.cpu_count()} CPU cores shared with other work (jax "
      f"{jax.__version__}), so indicative only.",
      "",
      "| " + " | ".join(_COLUMNS) + " |",
      "|" + "|".join("---" for _ in _COLUMNS) + "|",
  ]
  table = "\n".join(header + ["| " + " | ".join(r) + " |" for r in rows])
  return table + "\n\n" + _NAMES


def define_flags() -> None:
  """Flags of the command (defined only when run as a program)."""
  flags.DEFINE_string(
      "measure", ".*", "Regex of model names to time; others keep old speeds.")
  flags.DEFINE_bool("speed", True, "Time models at all.")
  flags.DEFINE_string("output", _DOCS, "Markdown file to write.")


def main(argv: Sequence[str]) -> None:
  del argv
  args = flags.FLAGS
  pattern = re.compile(args.measure)
  old = existing_rows(args.output)
  done: dict[str, list[str]] = {}
  names = sorted(models.MODELS)
  for name in names:
    timed = args.speed and bool(pattern.search(name))
    print(f"{name}{' (timing)' if timed else ''}", flush=True)
    speeds = tuple(old[name][5:7]) if name in old else ("-", "-")
    try:
      done[name] = table_row(name, timed, speeds)
    except Exception as e:  # pylint: disable=broad-except
      # One broken model must not stop the table; the row says what failed.
      print(f"  failed: {type(e).__name__}: {e}", flush=True)
      done[name] = [f"`{name}`", _module_of(name)] + [
          f"failed: {type(e).__name__}"] + ["-"] * 4
    # Written after every model: an interrupted run loses nothing measured.
    rows = [done.get(n) or old[n] for n in names if n in done or n in old]
    with open(args.output, "w") as f:
      f.write(render(rows))
  print(f"wrote {args.output}")


if __name__ == "__main__":
  define_flags()
  errors.run(main)

"""video_flax against torchvision, side by side, in one run.

  pip install -e ".[torch]"
  python -m benchmarks.suite                 # writes docs/benchmarks.{json,md}
  python -m benchmarks.suite --quick --out_dir=/tmp/bench   # small shapes

One worker process per framework (benchmarks/worker.py) stays up for the
whole run. For every case (model at its paper clip size, batch 1 and a
throughput batch, f32 and bf16, forward and training step) both build and
warm up, then take turns, one timed call each, for `--rounds` rounds, in
alternating order; each reports its fastest call (best-of-N: on a shared
machine the fastest run is the one least disturbed). A square matmul in
both frameworks, interleaved the same way, gives the machine's roofline;
achieved GFLOP/s are 2 x MACs per clip forward and 3 x that per training
step, from video_flax's analytic count (the same architectures).
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

from absl import app
from absl import flags

from benchmarks import cases as cases_lib
from benchmarks import machine
from benchmarks import report
from benchmarks.protocol import Worker
from video_flax import errors

_OUT_DIR = flags.DEFINE_string("out_dir", "docs",
                               "Writes benchmarks.json and benchmarks.md here.")
_MODELS = flags.DEFINE_list("models", None,
                            "Models to time (default: all shared ones).")
_DTYPES = flags.DEFINE_list("dtypes", ["float32", "bfloat16"],
                            "Compute dtypes (bf16: torch autocast).")
_BATCH = flags.DEFINE_integer("throughput_batch", 0,
                              "Throughput batch; 0 = by backend and clip size.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Timed calls per framework (best).")
_QUICK = flags.DEFINE_bool("quick", False,
                           f"Small shapes {cases_lib.QUICK_SHAPE}, quick models.")


def _interleaved(workers: Sequence[Worker], rounds: int, cmd: str,
                 **kwargs: Any) -> dict[str, float]:
  """Fastest seconds of `cmd` per framework, taking turns call by call."""
  best: dict[str, float] = {}
  for r in range(rounds):
    for w in (workers if r % 2 == 0 else workers[::-1]):
      seconds = w.call(cmd, calls=1, **kwargs)
      best[w.framework] = min(best.get(w.framework, seconds), seconds)
  return best


def _rooflines(workers: Sequence[Worker], dtypes: Sequence[str], size: int,
               rounds: int) -> dict[str, dict[str, float]]:
  """GFLOP/s of a [size, size] matmul per dtype and framework."""
  result = {}
  for dtype in dtypes:
    seconds = _interleaved(workers, rounds, "roofline", dtype=dtype, size=size)
    result[dtype] = {f: 2 * size**3 / s / 1e9 for f, s in seconds.items()}
  return result


def _time_case(workers: Sequence[Worker], case: cases_lib.Case,
               rounds: int) -> dict[str, float]:
  for w in workers:
    w.call("setup", **case.request())
  seconds = _interleaved(workers, rounds, "time")
  for w in workers:
    w.call("release")
  return seconds


def write(record: dict[str, Any], out_dir: str) -> None:
  """benchmarks.json and benchmarks.md of the rows timed so far."""
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, "benchmarks.json"), "w") as f:
    json.dump(record, f, indent=1)
  with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
    f.write(report.markdown(record))


def run_suite(models: Sequence[str], dtypes: Sequence[str], batch: int,
              rounds: int, quick: bool, out_dir: str) -> dict[str, Any]:
  """Times every case, rewriting the outputs after each (a long run that
  is stopped keeps its rows); returns the JSON record (see report.py)."""
  workers = [Worker("jax"), Worker("torch")]
  try:
    info = {w.framework: w.call("info") for w in workers}
    backend = info["jax"]["backend"]
    described = {m: workers[0].call(
        "describe", model=m, shape=cases_lib.QUICK_SHAPE if quick else None)
                 for m in models}
    size = 512 if quick else (2048 if backend == "cpu" else 8192)
    record = {"command": " ".join(["python -m benchmarks.suite", *sys.argv[1:]]),
              "machine": machine.describe(info), "rounds": rounds,
              "roofline_size": size,
              "roofline_gflops": _rooflines(workers, dtypes, size, rounds),
              "rows": []}
    todo = cases_lib.cases({m: d["shape"] for m, d in described.items()},
                           backend, dtypes, batch, quick)
    for i, case in enumerate(todo):
      seconds = _time_case(workers, case, rounds)
      record["rows"].append({**case.request(), "seconds": seconds,
                             "macs": described[case.model]["macs"]})
      print(f"[{i + 1}/{len(todo)}] {report.row_line(record['rows'][-1])}",
            flush=True)
      write(record, out_dir)
    return record
  finally:
    for w in workers:
      w.close()


def main(argv: Sequence[str]) -> None:
  del argv
  models = _MODELS.value or (cases_lib.QUICK_MODELS if _QUICK.value
                             else cases_lib.SHARED_MODELS)
  for flag, given, known in (("--models", models, cases_lib.COMPARABLE_MODELS),
                             ("--dtypes", _DTYPES.value, cases_lib.DTYPES)):
    if set(given) - set(known):
      raise app.UsageError(f"{flag}: unknown {sorted(set(given) - set(known))}"
                           f"; known: {', '.join(known)}")
  record = run_suite(models, _DTYPES.value, _BATCH.value, _ROUNDS.value,
                     _QUICK.value, _OUT_DIR.value)
  print(report.markdown(record))


if __name__ == "__main__":
  errors.run(main)

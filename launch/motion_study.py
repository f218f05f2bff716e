"""Which Quo Vadis models see motion: each tiny model trained on the
synthetic set, whose classes differ only in how a shape moves.

  python -m launch.motion_study --out=DIR            # every model, ~25 min
  python -m launch.motion_study --out=DIR --models=i3d_flow_tiny,inception_v1_2d_tiny

Every model of Table 1 of "Quo Vadis, Action Recognition?" (and its I3D
streams, S3D-G and the 2D Inception-V1 that I3D inflates) is trained with
its tiny preset (configs/i3d.py, configs/quo_vadis.py) for the same steps on
synthetic/default, reading RGB, the set's exact optical flow, or both. The
paper's story predicts the result: a model that sees one frame at a time
cannot tell the classes apart (chance, 1/12), one that sees flow or
several frames in order can. Runs go to DIR/<model>/ (a finished run, with
results.json, is skipped; an unfinished one resumes), and DIR/table.md and
DIR/results.csv are rewritten after each. docs/quo_vadis.md ("Learning
motion") has the table of a full run.
"""
from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import shlex
import sys
import time

from absl import app
from absl import flags
import ml_collections

from video_flax import config_validation
from video_flax import metrics_logging
from video_flax import train
from video_flax.data import synthetic

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "configs")


@dataclasses.dataclass(frozen=True)
class Entry:
  """One model of the study: its preset and what it sees."""
  model: str
  config_file: str  # in configs/
  sees: str  # the model's input, in words
  motion_blind: bool  # sees no frame order and no flow


ENTRIES = (
    Entry("inception_v1_2d_tiny", "i3d.py",
          "RGB frames one at a time (scores averaged)", True),
    Entry("convnet_lstm_tiny", "quo_vadis.py",
          "RGB frames one at a time, in order (LSTM)", False),
    Entry("two_stream_late_fusion_tiny", "quo_vadis.py",
          "1 RGB frame + 4 flow frames per snippet", False),
    Entry("two_stream_3d_fused_tiny", "quo_vadis.py",
          "RGB frames + flow snippets, fused by a 3D conv", False),
    Entry("c3d_bn_tiny", "quo_vadis.py", "RGB clip (3D convs)", False),
    Entry("i3d_rgb_tiny", "i3d.py", "RGB clip (inflated 3D convs)", False),
    Entry("i3d_flow_tiny", "i3d.py", "flow clip (inflated 3D convs)", False),
    Entry("two_stream_i3d_tiny", "i3d.py", "RGB clip + flow clip", False),
    Entry("s3d_g_tiny", "i3d.py", "RGB clip (separable 3D, gating)", False),
)
BY_MODEL = {e.model: e for e in ENTRIES}
CSV_COLUMNS = ("model", "sees", "motion_blind", "top1", "top5",
               "mean_class_acc", "chance", "steps", "wall_s")

_OUT = flags.DEFINE_string("out", None, "Output directory of the study.")
_MODELS = flags.DEFINE_list("models", list(BY_MODEL),
                            f"Models to train; known: {', '.join(BY_MODEL)}")
_STEPS = flags.DEFINE_integer("steps", 2000, "Training steps of every model "
                              "(the default config's).")
_VARIANT = flags.DEFINE_string("variant", "default", "Synthetic variant "
                               "('tiny' for a smoke run).")


def load_preset(config_file: str, preset: str) -> ml_collections.ConfigDict:
  """get_config(preset) of configs/<config_file>."""
  path = os.path.join(CONFIG_DIR, config_file)
  spec = importlib.util.spec_from_file_location(
      f"video_flax_configs_{config_file[:-3]}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(preset)


def entry_config(entry: Entry, steps: int, variant: str = "default"
                 ) -> ml_collections.ConfigDict:
  """The tiny preset of `entry` on synthetic/`variant`, trained `steps`
  (warmup cut to `steps` for short smoke runs)."""
  config = load_preset(entry.config_file, entry.model)
  if config.dataset.name != "synthetic":
    raise config_validation.ConfigError(
        f"{entry.config_file}:{entry.model} trains on "
        f"{config.dataset.name!r}, not the synthetic set")
  config.dataset.variant = variant
  config.train.num_steps = steps
  config.train.warmup_steps = min(config.train.warmup_steps, steps)
  config.train.checkpoint_every_steps = steps
  return config


def read_row(entry: Entry, out: str) -> dict[str, object] | None:
  """The finished run of `entry` as a CSV row; None if it has not finished."""
  workdir = os.path.join(out, entry.model)
  try:
    with open(os.path.join(workdir, "results.json")) as f:
      results = json.load(f)
    with open(os.path.join(workdir, "motion_study.json")) as f:
      run = json.load(f)
  except FileNotFoundError:
    return None
  return {"model": entry.model, "sees": entry.sees,
          "motion_blind": entry.motion_blind, "top1": results["top1"],
          "top5": results["top5"],
          "mean_class_acc": results["mean_class_accuracy"],
          "chance": run["chance"], "steps": run["steps"],
          "wall_s": run["wall_s"]}


def write_outputs(rows: list[dict[str, object]], out: str,
                  command: str) -> None:
  """results.csv and table.md (accuracies in %) of the finished runs."""
  with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
  lines = [
      f"Test accuracy on the synthetic set (classes differ only in motion; "
      f"chance {100 * rows[0]['chance']:.1f}%), written by `{command}`.",
      "", "| model | sees | motion-blind | top-1 % | top-5 % | "
      "mean class % | steps | wall s |", "|---|---|---|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(
        f"| {r['model']} | {r['sees']} | {'yes' if r['motion_blind'] else 'no'}"
        f" | {100 * r['top1']:.1f} | {100 * r['top5']:.1f} | "
        f"{100 * r['mean_class_acc']:.1f} | {r['steps']} | {r['wall_s']:.0f} |")
  with open(os.path.join(out, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")


def run_study(models: list[str], steps: int, out: str, command: str = "",
              variant: str = "default") -> list[dict[str, object]]:
  """Trains every unfinished model of `models` under `out`; returns rows.

  Every config is built and validated before the first model trains.
  """
  unknown = [m for m in models if m not in BY_MODEL]
  if unknown:
    raise config_validation.ConfigError(
        f"--models: unknown {unknown}; known: {', '.join(BY_MODEL)}")
  out = os.path.abspath(out)
  entries = [BY_MODEL[m] for m in models]
  configs = {e.model: entry_config(e, steps, variant) for e in entries}
  for config in configs.values():
    config_validation.validate(config)
  os.makedirs(out, exist_ok=True)
  start = time.time()
  for i, entry in enumerate(entries, 1):
    workdir = os.path.join(out, entry.model)
    if read_row(entry, out) is not None:
      print(f"[{i}/{len(entries)}] skip {entry.model}: finished", flush=True)
      continue
    print(f"[{i}/{len(entries)}] train {entry.model} ({entry.sees})",
          flush=True)
    run_start = time.time()
    train.train_and_evaluate(configs[entry.model], workdir)
    variant = synthetic.get_variant(configs[entry.model].dataset.variant)
    with open(os.path.join(workdir, "motion_study.json"), "w") as f:
      json.dump({"steps": steps, "wall_s": time.time() - run_start,
                 "chance": 1 / len(variant.classes)}, f)
    rows = [r for e in entries if (r := read_row(e, out)) is not None]
    write_outputs(rows, out, command)
  rows = [r for e in entries if (r := read_row(e, out)) is not None]
  write_outputs(rows, out, command)
  print(f"Study done in {time.time() - start:.0f}s: "
        f"{os.path.join(out, 'table.md')}", flush=True)
  return rows


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  metrics_logging.quiet_absl_logging()
  command = "python -m launch.motion_study " + " ".join(
      shlex.quote(a) for a in sys.argv[1:])
  try:
    run_study(_MODELS.value, _STEPS.value, _OUT.value, command,
              _VARIANT.value)
  except config_validation.ConfigError as e:
    sys.exit(str(e))


if __name__ == "__main__":
  flags.mark_flags_as_required(["out"])
  app.run(main)

"""Which Quo Vadis models see motion: each tiny model trained on the
synthetic set, whose classes differ only in how a shape moves.

  python -m launch.motion_study --out=DIR            # every model, ~25 min
  python -m launch.motion_study --out=DIR --models=i3d_flow_tiny,inception_v1_2d_tiny

Every model of Table 1 of "Quo Vadis, Action Recognition?" (and its I3D
streams, S3D-G and the 2D Inception-V1 that I3D inflates) is trained with
its tiny preset (configs/i3d.py, configs/quo_vadis.py PRESETS) for the same
steps on synthetic/default, reading RGB, the set's exact optical flow, or
both. The paper's story predicts the result: a model that sees one frame at
a time cannot tell the classes apart (chance, 1/12), one that sees flow or
several frames in order can. Each model is a transfer-study cell in its
pretrain stage, run by the transfer study's loop (launch/study_runner.py):
runs go to DIR/<model>/pretrain/ (a finished run, with results.json, is
skipped; an unfinished one resumes), and DIR/table.md and DIR/results.csv
are rewritten after each. docs/quo_vadis.md ("Learning
motion") has the table of a full run.
"""
from __future__ import annotations

import dataclasses
import os
import sys

from absl import app
from absl import flags
import ml_collections

from configs import i3d
from configs import quo_vadis
from launch import study_plan
from launch import study_report
from launch import study_runner
from video_flax import base_config
from video_flax import config_validation
from video_flax import metrics_logging


@dataclasses.dataclass(frozen=True)
class Entry:
  """One model of the study: its tiny preset and what it sees."""
  preset: base_config.Preset
  sees: str  # the model's input, in words
  motion_blind: bool  # sees no frame order and no flow

  @property
  def model(self) -> str:
    return self.preset.model

  @property
  def cell(self) -> study_plan.Cell:
    return study_plan.Cell(self.model, study_plan.PRETRAIN,
                           study_plan.PRETRAIN)


ENTRIES = (
    Entry(i3d.PRESETS["inception_v1_2d_tiny"],
          sees="RGB frames one at a time (scores averaged)",
          motion_blind=True),
    Entry(quo_vadis.PRESETS["convnet_lstm_tiny"],
          sees="RGB frames one at a time, in order (LSTM)",
          motion_blind=False),
    Entry(quo_vadis.PRESETS["two_stream_late_fusion_tiny"],
          sees="1 RGB frame + 4 flow frames per snippet", motion_blind=False),
    Entry(quo_vadis.PRESETS["two_stream_3d_fused_tiny"],
          sees="RGB frames + flow snippets, fused by a 3D conv",
          motion_blind=False),
    Entry(quo_vadis.PRESETS["c3d_bn_tiny"], sees="RGB clip (3D convs)",
          motion_blind=False),
    Entry(i3d.PRESETS["i3d_rgb_tiny"], sees="RGB clip (inflated 3D convs)",
          motion_blind=False),
    Entry(i3d.PRESETS["i3d_flow_tiny"], sees="flow clip (inflated 3D convs)",
          motion_blind=False),
    Entry(i3d.PRESETS["two_stream_i3d_tiny"], sees="RGB clip + flow clip",
          motion_blind=False),
    Entry(i3d.PRESETS["s3d_g_tiny"], sees="RGB clip (separable 3D, gating)",
          motion_blind=False),
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


def entry_config(entry: Entry, steps: int, variant: str = "default"
                 ) -> ml_collections.ConfigDict:
  """The tiny preset of `entry` on synthetic/`variant`, trained `steps`
  (warmup cut to `steps` for short smoke runs); validated."""
  config = base_config.preset_config(entry.preset)
  if config.dataset.name != "synthetic":
    raise config_validation.ConfigError(
        f"preset {entry.model} trains on {config.dataset.name!r}, not the "
        "synthetic set")
  config.dataset.variant = variant
  config.train.num_steps = steps
  config.train.warmup_steps = min(config.train.warmup_steps, steps)
  config.train.checkpoint_every_steps = steps
  config_validation.validate(config)
  return config


def motion_row(row: study_report.Row) -> dict[str, object]:
  """A finished run as a results.csv record."""
  entry = BY_MODEL[row.arch]
  return {"model": entry.model, "sees": entry.sees,
          "motion_blind": entry.motion_blind, "top1": row.top1,
          "top5": row.top5, "mean_class_acc": row.mean_class_acc,
          "chance": 1 / row.num_classes, "steps": row.steps,
          "wall_s": row.wall_s}


def write_outputs(rows: list[study_report.Row], out: str, command: str
                  ) -> list[dict[str, object]]:
  """results.csv and table.md (accuracies in %) of the finished runs."""
  records = [motion_row(r) for r in rows]
  study_report.write_csv(records, os.path.join(out, "results.csv"),
                         CSV_COLUMNS)
  lines = [
      f"Test accuracy on the synthetic set (classes differ only in motion; "
      f"chance {100 * records[0]['chance']:.1f}%), written by `{command}`.",
      "", "| model | sees | motion-blind | top-1 % | top-5 % | "
      "mean class % | steps | wall s |", "|---|---|---|---:|---:|---:|---:|---:|"]
  for r in records:
    wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
    lines.append(
        f"| {r['model']} | {r['sees']} | {'yes' if r['motion_blind'] else 'no'}"
        f" | {100 * r['top1']:.1f} | {100 * r['top5']:.1f} | "
        f"{100 * r['mean_class_acc']:.1f} | {r['steps']} | {wall} |")
  with open(os.path.join(out, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  return records


def run_study(models: list[str], steps: int, out: str, command: str = "",
              variant: str = "default") -> list[dict[str, object]]:
  """Trains every unfinished model of `models` under `out`; returns the
  results.csv records. Every config is validated before the first trains."""
  unknown = [m for m in models if m not in BY_MODEL]
  if unknown:
    raise config_validation.ConfigError(
        f"--models: unknown {unknown}; known: {', '.join(BY_MODEL)}")
  out = os.path.abspath(out)
  cells = [BY_MODEL[m].cell for m in models]
  configs = {BY_MODEL[m].cell: entry_config(BY_MODEL[m], steps, variant)
             for m in models}
  os.makedirs(out, exist_ok=True)
  records = study_runner.run_cells(
      cells, configs, out, lambda: write_outputs(
          study_runner.read_rows(cells, out, configs), out, command))
  print(f"Table: {os.path.join(out, 'table.md')}", flush=True)
  return records


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  metrics_logging.quiet_absl_logging()
  try:
    run_study(_MODELS.value, _STEPS.value, _OUT.value,
              study_runner.command_line("launch.motion_study"),
              _VARIANT.value)
  except config_validation.ConfigError as e:
    sys.exit(str(e))


if __name__ == "__main__":
  flags.mark_flags_as_required(["out"])
  app.run(main)

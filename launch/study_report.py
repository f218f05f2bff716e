"""Results of a transfer study: results.csv, table.md (Quo Vadis Table 4's
shape) and table.png (grouped bars).

Rows come from each finished cell's `results.json` (written by the trainer;
its per-video `video` metrics where the test set has several views per
video) and `study_cell.json` (steps and wall time, written by the launcher).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from launch import study_plan

CELL_FILE = "study_cell.json"
RESULTS_FILE = "results.json"
CSV_COLUMNS = ("arch", "target", "stage", "fold", "top1", "top5",
               "mean_class_acc", "steps", "wall_s", "num_classes")
# The paper's names for the stages, for captions.
PAPER_NAMES = {"scratch": "Original", "fixed": "Fixed", "finetune": "Full-FT"}


@dataclasses.dataclass(frozen=True)
class Row:
  """One finished cell; accuracies are fractions in [0, 1]."""
  arch: str
  target: str
  stage: str
  fold: int | None
  top1: float
  top5: float
  mean_class_acc: float
  steps: int
  wall_s: float | None
  num_classes: int


def write_cell_file(workdir: str, steps: int, wall_s: float) -> None:
  """Records what the launcher knows of a finished cell."""
  with open(os.path.join(workdir, CELL_FILE), "w") as f:
    json.dump({"steps": steps, "wall_s": round(wall_s, 1)}, f)


def read_row(cell: study_plan.Cell, out: str, planned_steps: int
             ) -> Row | None:
  """The row of `cell`, or None when it has not finished. A cell whose
  study_cell.json is missing (killed right after training) reports the
  planned steps and no wall time."""
  workdir = cell.workdir(out)
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    results = json.load(f)
  # Multi-view test sets (real videos): the per-video metrics, as in papers.
  metrics = results.get("video", results)
  info = {"steps": planned_steps, "wall_s": None}
  if os.path.exists(os.path.join(workdir, CELL_FILE)):
    with open(os.path.join(workdir, CELL_FILE)) as f:
      info.update(json.load(f))
  return Row(cell.arch, cell.target, cell.stage, cell.fold,
             top1=metrics["top1"], top5=metrics["top5"],
             mean_class_acc=metrics["mean_class_accuracy"],
             steps=info["steps"], wall_s=info["wall_s"],
             num_classes=len(metrics["per_class_accuracy"]))


def write_csv(records: Sequence[Mapping[str, object]], path: str,
              columns: Sequence[str] = CSV_COLUMNS) -> None:
  """One line per record (a finished cell); None is written empty."""
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    for values in records:
      writer.writerow(["" if values[c] is None else values[c]
                       for c in columns])


def _mean_top1(rows: Sequence[Row], arch: str, target: str, stage: str
               ) -> tuple[float | None, int]:
  """Mean test top-1 (%) over the finished folds of a cell, and their count."""
  values = [r.top1 for r in rows
            if (r.arch, r.target, r.stage) == (arch, target, stage)]
  return (100 * float(np.mean(values)) if values else None), len(values)


def markdown_table(rows: Sequence[Row], architectures: Sequence[str],
                   targets: Sequence[str], stages: Sequence[str],
                   folds: dict[str, tuple[int, ...]]) -> str:
  """Table 4's shape: a row per architecture, a column group per target.

  folds: target -> the planned folds (() without folds); a cell with fewer
  finished folds shows how many, e.g. '61.2 (2/3)'; an unfinished one '-'.
  """
  header = ["architecture"] + [f"{t} {s}" for t in targets for s in stages]
  lines = ["| " + " | ".join(header) + " |",
           "|---|" + "---:|" * (len(header) - 1)]
  for arch in architectures:
    cells = []
    for target in targets:
      planned = len(folds[target]) or 1
      for stage in stages:
        value, done = _mean_top1(rows, arch, target, stage)
        text = "-" if value is None else f"{value:.1f}"
        if value is not None and done < planned:
          text += f" ({done}/{planned})"
        cells.append(text)
    lines.append("| " + " | ".join([arch] + cells) + " |")
  return "\n".join(lines)


def table_notes(rows: Sequence[Row], architectures: Sequence[str],
                targets: Sequence[str], folds: dict[str, tuple[int, ...]]
                ) -> str:
  """Pretraining accuracy, chance levels and fold averaging, as text."""
  notes = []
  pretrain = [f"{a} {100 * r.top1:.1f}" for a in architectures for r in rows
              if (r.arch, r.stage) == (a, study_plan.PRETRAIN)]
  if pretrain:
    notes.append("Pretraining test top-1 (%): " + ", ".join(pretrain) + ".")
  chance = {r.target: 100 / r.num_classes for r in rows if r.target in targets}
  if chance:
    notes.append("Chance (%): " + ", ".join(
        f"{t} {c:.1f}" for t, c in chance.items()) + ".")
  for target in targets:
    if len(folds[target]) > 1:
      notes.append(f"{target}: mean over folds "
                   f"{', '.join(map(str, folds[target]))}.")
  return "\n".join(notes)


def write_table(rows: Sequence[Row], path: str, architectures: Sequence[str],
                targets: Sequence[str], stages: Sequence[str],
                folds: dict[str, tuple[int, ...]], command: str) -> None:
  """table.md: caption, the table, notes and the command that made it."""
  names = ", ".join(f"{s} = the paper's {PAPER_NAMES[s]}" for s in stages)
  text = [f"Test top-1 accuracy (%) of each target after each stage ({names}).",
          "", markdown_table(rows, architectures, targets, stages, folds), "",
          table_notes(rows, architectures, targets, folds), "",
          f"Made by: `{command}`", ""]
  with open(path, "w") as f:
    f.write("\n".join(text))


def write_plot(rows: Sequence[Row], path: str, architectures: Sequence[str],
               targets: Sequence[str], stages: Sequence[str]) -> None:
  """table.png: a panel per target, a bar group per architecture, a bar per
  stage (mean test top-1 over folds), chance as a dashed line."""
  # Imported here: selecting the file backend must not affect importers.
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  panel_width = 1.0 + 1.6 * len(architectures)
  fig, axes = plt.subplots(1, len(targets), squeeze=False, sharey=True,
                           figsize=(0.5 + panel_width * len(targets), 3.8))
  width = 0.8 / len(stages)
  x = np.arange(len(architectures))
  for ax, target in zip(axes[0], targets):
    for i, stage in enumerate(stages):
      values = [_mean_top1(rows, a, target, stage)[0] for a in architectures]
      heights = [0.0 if v is None else v for v in values]
      bars = ax.bar(x + (i - (len(stages) - 1) / 2) * width, heights, width,
                    label=f"{stage} ({PAPER_NAMES[stage]})")
      ax.bar_label(bars, labels=["-" if v is None else f"{v:.0f}"
                                 for v in values], fontsize=7)
    classes = {r.num_classes for r in rows if r.target == target}
    if len(classes) == 1:
      ax.axhline(100 / classes.pop(), color="gray", linestyle="--",
                 linewidth=1, label="chance")
    ax.set_title(target)
    ax.set_xticks(x, architectures, fontsize=8)
    ax.set_ylim(0, 105)
  axes[0][0].set_ylabel("test top-1 (%)")
  handles, labels = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="upper center", ncol=len(labels),
             fontsize=7, frameon=False)
  fig.tight_layout(rect=(0, 0, 1, 0.9))
  fig.savefig(path, dpi=120)
  plt.close(fig)

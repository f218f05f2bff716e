"""The transfer study (Quo Vadis Table 4) in one command.

  python -m launch.transfer_study --config=configs/transfer_study.py:miniature --out=DIR

For each architecture: pretrain once (DIR/<arch>/pretrain), then for each
target (and fold) x stage train a run in DIR/<arch>/<target>/<stage>[/fold<k>]
with video_flax.train, in this process. A cell whose results.json exists is
skipped; an unfinished one resumes from its last checkpoint. After every
cell DIR gets results.csv, table.md and table.png (docs/transfer_study.md).
"""
from __future__ import annotations

import os
import shlex
import sys
import time

from absl import app
from absl import flags
import jax
import ml_collections
from ml_collections import config_flags

from launch import study_plan
from launch import study_report
from video_flax import config_validation
from video_flax import metrics_logging
from video_flax import train

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Study config: configs/transfer_study.py:miniature",
    lock_config=True)
_OUT = flags.DEFINE_string("out", None, "Output directory of the study.")
_COMPILATION_CACHE = flags.DEFINE_string(
    "compilation_cache_dir", None, "JAX persistent compilation cache (runs of "
    "the same shapes compile once); default DIR/jax_cache, '' = off.")


def write_outputs(study: ml_collections.ConfigDict,
                  cells: list[study_plan.Cell], out: str, command: str
                  ) -> list[study_report.Row]:
  """results.csv, table.md and table.png from every finished cell."""
  rows = [row for cell in cells if (row := study_report.read_row(
      cell, out, study.schedules[cell.stage].num_steps)) is not None]
  folds = {t: tuple(study.datasets[t].folds) for t in study.targets}
  layout = (list(study.architectures), list(study.targets), list(study.stages))
  study_report.write_csv(rows, os.path.join(out, "results.csv"))
  study_report.write_table(rows, os.path.join(out, "table.md"), *layout,
                           folds=folds, command=command)
  study_report.write_plot(rows, os.path.join(out, "table.png"), *layout)
  return rows


def run_study(study: ml_collections.ConfigDict, out: str, command: str = ""
              ) -> list[study_report.Row]:
  """Runs every unfinished cell of `study` under `out`; returns the rows.

  Every cell's config is derived and validated before the first one trains.
  """
  out = os.path.abspath(out)
  cells = study_plan.plan_cells(study)
  configs = {cell: study_plan.cell_config(study, cell, out) for cell in cells}
  start = time.time()
  for i, cell in enumerate(cells, 1):
    workdir = cell.workdir(out)
    if os.path.exists(os.path.join(workdir, study_report.RESULTS_FILE)):
      print(f"[{i}/{len(cells)}] skip {cell.relative_dir}: results.json "
            "exists", flush=True)
      continue
    print(f"[{i}/{len(cells)}] run {cell.relative_dir}", flush=True)
    cell_start = time.time()
    train.train_and_evaluate(configs[cell], workdir)
    study_report.write_cell_file(workdir, configs[cell].train.num_steps,
                                 time.time() - cell_start)
    write_outputs(study, cells, out, command)
  rows = write_outputs(study, cells, out, command)
  print(f"Study done in {time.time() - start:.0f}s: {len(rows)} cells in "
        f"{os.path.join(out, 'results.csv')}, table.md, table.png", flush=True)
  return rows


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  metrics_logging.quiet_absl_logging()
  cache = _COMPILATION_CACHE.value
  if cache is None:
    cache = os.path.join(_OUT.value, "jax_cache")
  if cache:
    jax.config.update("jax_compilation_cache_dir", cache)
  command = "python -m launch.transfer_study " + " ".join(
      shlex.quote(a) for a in sys.argv[1:])
  try:
    run_study(_CONFIG.value, _OUT.value, command)
  except config_validation.ConfigError as e:
    sys.exit(str(e))


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "out"])
  app.run(main)

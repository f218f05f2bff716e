"""The transfer study (Quo Vadis Table 4) in one command.

  python -m launch.transfer_study --config=configs/transfer_study.py:miniature --out=DIR

For each architecture: pretrain once (DIR/<arch>/pretrain), then for each
target (and fold) x stage train a run in DIR/<arch>/<target>/<stage>[/fold<k>]
with video_flax.train, in this process. A cell whose results.json exists is
skipped; an unfinished one resumes from its last checkpoint. After every
cell DIR gets results.csv, table.md and table.png (docs/transfer_study.md).
"""
from __future__ import annotations

import dataclasses
import os
import sys

from absl import app
from absl import flags
import jax
import ml_collections
from ml_collections import config_flags

from launch import study_plan
from launch import study_report
from launch import study_runner
from video_flax import config_validation
from video_flax import metrics_logging

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Study config: configs/transfer_study.py:miniature",
    lock_config=True)
_OUT = flags.DEFINE_string("out", None, "Output directory of the study.")
_COMPILATION_CACHE = flags.DEFINE_string(
    "compilation_cache_dir", None, "JAX persistent compilation cache (runs of "
    "the same shapes compile once); default DIR/jax_cache, '' = off.")


def write_outputs(study: ml_collections.ConfigDict,
                  rows: list[study_report.Row], out: str, command: str
                  ) -> list[study_report.Row]:
  """results.csv, table.md and table.png from the finished cells' rows."""
  folds = {t: tuple(study.datasets[t].folds) for t in study.targets}
  layout = (list(study.architectures), list(study.targets), list(study.stages))
  study_report.write_csv([dataclasses.asdict(r) for r in rows],
                         os.path.join(out, "results.csv"))
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
  rows = study_runner.run_cells(
      cells, configs, out, lambda: write_outputs(
          study, study_runner.read_rows(cells, out, configs), out, command))
  print(f"{len(rows)} cells in {os.path.join(out, 'results.csv')}, "
        "table.md, table.png", flush=True)
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
  try:
    run_study(_CONFIG.value, _OUT.value,
              study_runner.command_line("launch.transfer_study"))
  except config_validation.ConfigError as e:
    sys.exit(str(e))


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "out"])
  app.run(main)

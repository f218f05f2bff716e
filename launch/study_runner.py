"""The skip / run / tabulate loop every study launcher shares.

A study is a list of cells (study_plan.Cell), each with a validated trainer
config. A cell whose results.json exists is skipped; an unfinished one
resumes from its last checkpoint. After every trained cell the launcher's
`write_outputs` rewrites its tables from the finished cells.
"""
from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import ml_collections

from launch import study_plan
from launch import study_report
from video_flax import train

Rows = TypeVar("Rows")


def run_cells(cells: Sequence[study_plan.Cell],
              configs: Mapping[study_plan.Cell, ml_collections.ConfigDict],
              out: str, write_outputs: Callable[[], Rows]) -> Rows:
  """Trains every unfinished cell under `out` in order (study_cell.json
  records its steps and wall time); returns the last `write_outputs()`."""
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
    write_outputs()
  rows = write_outputs()
  print(f"Study done in {time.time() - start:.0f}s", flush=True)
  return rows


def read_rows(cells: Sequence[study_plan.Cell], out: str,
              configs: Mapping[study_plan.Cell, ml_collections.ConfigDict]
              ) -> list[study_report.Row]:
  """The rows of the finished cells, in order."""
  return [row for cell in cells if (row := study_report.read_row(
      cell, out, configs[cell].train.num_steps)) is not None]


def command_line(module: str) -> str:
  """How this process was started, for the tables' captions."""
  return f"python -m {module} " + " ".join(
      shlex.quote(a) for a in sys.argv[1:])

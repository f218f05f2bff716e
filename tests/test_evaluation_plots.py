"""Confusion-matrix and per-class-accuracy PNGs of an evaluation."""
from __future__ import annotations

import numpy as np

from video_flax import evaluate
from video_flax import evaluation_plots

PNG = b"\x89PNG\r\n\x1a\n"


def _results(num_classes: int, seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  confusion = np.diag(rng.integers(5, 10, num_classes))
  confusion[3, 7] = 50  # the worst confusion
  confusion[8, 2] = 40
  totals = {"loss_sum": 1.0, "top1": 1.0, "top5": 1.0, "count": 10.0,
            "confusion": confusion}
  results = evaluate.summarize(totals)
  results["class_names"] = [f"action number {i}" for i in range(num_classes)]
  return results


def test_most_confused_classes_come_from_the_largest_cells():
  confusion = _results(400)["confusion"]
  chosen = evaluation_plots.most_confused_classes(np.asarray(confusion), 4)
  assert chosen.tolist() == [2, 3, 7, 8]
  # Fewer confused pairs than the limit: filled with the largest classes.
  assert len(evaluation_plots.most_confused_classes(
      np.asarray(confusion), 40)) == 40


def test_plots_written_for_few_and_many_classes(tmp_path):
  for num_classes in (12, 60):  # full matrix; the most-confused subset
    directory = tmp_path / str(num_classes)
    directory.mkdir()
    results = _results(num_classes)
    results["video"] = {"per_class_accuracy": results["per_class_accuracy"]}
    results["per_class_accuracy"][0] = float("nan")
    paths = evaluation_plots.write_plots(str(directory), results)
    assert [p.split("/")[-1] for p in paths] == [
        "confusion_matrix.png", "per_class_accuracy.png"]
    for path in paths:
      with open(path, "rb") as f:
        assert f.read(8) == PNG

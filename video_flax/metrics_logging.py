"""Progress to stdout (step, loss, lr, clips/s, ETA) and TensorBoard events."""
from __future__ import annotations

import os
import time
from typing import Any

from absl import flags
from absl import logging
import jax


def quiet_absl_logging() -> None:
  """absl logs WARNING and up unless --verbosity was given: progress goes to
  stdout, and orbax's per-save INFO lines would bury it (`--verbosity=0`
  brings them back)."""
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def eval_scalars(metrics: dict[str, Any], prefix: str = "eval") -> dict[str, float]:
  """The scalar entries of an evaluation result, prefixed for TensorBoard;
  video-level metrics (multi-view testing) as `<prefix>/video_<name>`."""
  scalars = {f"{prefix}/{k}": v for k, v in metrics.items()
             if isinstance(v, (int, float))}
  for k, v in metrics.get("video", {}).items():
    if isinstance(v, (int, float)):
      scalars[f"{prefix}/video_{k}"] = v
  return scalars


class MetricsWriter:
  """TensorBoard event files in `<workdir>/tensorboard` (process 0 only)."""

  def __init__(self, workdir: str):
    self._writer = None
    if jax.process_index() == 0:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._writer = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write_scalars(self, step: int, scalars: dict[str, float]) -> None:
    if self._writer is not None:
      for name, value in scalars.items():
        self._writer.add_scalar(name, value, step)
      self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


def _duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class ProgressLogger:
  """Prints one line per logging interval (the first includes compilation)."""

  def __init__(self, num_steps: int, batch_size: int):
    self._num_steps, self._batch_size = num_steps, batch_size
    self._last_time, self._last_step = time.time(), None
    self._start = self._last_time

  def log(self, step: int, metrics: dict[str, float]) -> None:
    if jax.process_index() != 0:
      return
    now = time.time()
    if self._last_step is None:  # first interval includes compilation
      self._last_step = 0
    steps = step - self._last_step
    rate = steps / max(now - self._last_time, 1e-9)
    eta = (self._num_steps - step) / max(rate, 1e-9)
    self._last_time, self._last_step = now, step
    print(f"step {step:>6}/{self._num_steps} | loss {metrics['loss']:.4f} | "
          f"acc {metrics['accuracy']:.3f} | lr {metrics['learning_rate']:.5f} | "
          f"{rate * self._batch_size:7.1f} clips/s | "
          f"elapsed {_duration(now - self._start)} | ETA {_duration(eta)}",
          flush=True)

  def log_eval(self, step: int, metrics: dict[str, Any]) -> None:
    if jax.process_index() == 0:
      print(f"eval at step {step}: top-1 {metrics['top1']:.4f} | "
            f"top-5 {metrics['top5']:.4f} | mean class acc "
            f"{metrics['mean_class_accuracy']:.4f}", flush=True)

  def log_final(self, metrics: dict[str, Any]) -> None:
    if jax.process_index() != 0:
      return
    names = metrics.get("class_names") or []
    per_class = metrics["per_class_accuracy"]
    print("per-class accuracy: " + ", ".join(
        f"{names[i] if i < len(names) else i}={a:.2f}"
        for i, a in enumerate(per_class)), flush=True)
    if "video" in metrics:
      video = metrics["video"]
      print(f"Videos ({video['num_videos']}, views averaged): top-5 "
            f"{video['top5']:.4f} | mean class acc "
            f"{video['mean_class_accuracy']:.4f} | top-1 {video['top1']:.4f}",
            flush=True)
    print(f"Finished in {_duration(time.time() - self._start)}. Test "
          f"({metrics['num_examples']} clips): loss {metrics['loss']:.4f} | "
          f"top-5 {metrics['top5']:.4f} | mean class acc "
          f"{metrics['mean_class_accuracy']:.4f} | top-1 {metrics['top1']:.4f}",
          flush=True)

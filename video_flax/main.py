"""Entry point: `python -m video_flax.main --config=configs/csn.py --workdir=DIR`.

Overrides: `--config.train.batch_size=16`; presets: `configs/csn.py:ir_csn_152`.
Unknown keys and unusable values, a dataset that cannot be read and a
workdir that cannot be written are rejected before any compute, in one line
(`--debug` shows the traceback; video_flax/errors.py). One run per workdir
(workdir_lock.py); SIGTERM/SIGINT stop after the current step with a
checkpoint (preemption.py).
"""
from __future__ import annotations

from absl import app
from absl import flags
from ml_collections import config_flags

from video_flax import errors

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, optionally with a preset: configs/csn.py:tiny",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", "/tmp/video_flax", "Checkpoints, TensorBoard events, results.")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize() first: on TPU pods "
    "and SLURM/Kubernetes clusters it finds its peers; elsewhere give the "
    "three flags below.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (with --multihost).")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Number of processes (with --multihost).")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "This process's index (with --multihost).")


def _config():
  """The parsed config; a config file that failed to load is a UsageError."""
  try:
    config = _CONFIG.value
    config.get("model")  # a config file that failed to load raises here
    return config
  except OSError as e:
    raise errors.UsageError(f"--config: {errors.one_line(e)}") from e


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from video_flax import metrics_logging  # pylint: disable=g-import-not-at-top
  metrics_logging.quiet_absl_logging()
  import jax  # pylint: disable=g-import-not-at-top
  from video_flax.models import conv_forms, cpu_compile  # pylint: disable=g-import-not-at-top
  try:  # the environment's choices, before any compute
    conv_forms.chosen_form()
    cpu_compile.choice()
  except ValueError as e:
    raise errors.UsageError(str(e)) from e
  if _MULTIHOST.value:
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                               num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value)
  from video_flax import preemption, train  # pylint: disable=g-import-not-at-top
  config = _config()
  with preemption.handle_signals(jax.process_count()):
    train.train_and_evaluate(config, _WORKDIR.value)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  app.run(errors.guarded(main),
          flags_parser=errors.parse_flags)

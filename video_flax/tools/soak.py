"""Release soak: many kills, fuzzed videos and fuzzed configs; prints counts.

    python -m video_flax.tools.soak --kills=20 --fuzz=200 [--scratch=DIR]

--kills: tiny training runs SIGKILLed (alternately at a random moment and
during a checkpoint write) and rerun, each compared bit for bit with an
uninterrupted run; plus --kills // 4 preparations killed and rerun,
compared file by file. --fuzz: fuzzed video files through decode, a fuzzed
UCF-101 tree through prepare, the same video files through
`video_flax.predict` (tiny random weights), and --fuzz // 10 random
`--config.*` overrides through `video_flax.main`. Exit code 1 if anything was lost or
any case ended outside CLEAN_OUTCOMES.
"""
from __future__ import annotations

import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from absl import flags
import numpy as np

from video_flax import base_config
from video_flax import errors
from video_flax import metrics_logging
from video_flax import fault_injection as fi
from video_flax import fuzz_videos
from video_flax import variable_init
from video_flax import weights
from video_flax.weights import format as weights_format

_KILLS = flags.DEFINE_integer("kills", 10, "Training runs to kill and rerun.")
_FUZZ = flags.DEFINE_integer("fuzz", 100, "Fuzzed video files.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of every random choice.")
_SCRATCH = flags.DEFINE_string("scratch", None, "Scratch folder (default: a "
                               "new temporary one, removed at the end).")

CLEAN_OUTCOMES = ("ran (exit 0)", "refused (exit 2, one line)",
                  "failed (exit 1, one line)")
_VALUES = ("-1", "0", "1", "3", "100000", "1e9", "-1e-9", "nan", "inf", "abc",
           "", "None", "True", "()", "(1,", "[1, 2]", "'x'", "é" * 3,
           "x" * 300, "0.5")
_STEPS, _EVERY = 12, 4
_CONFIG_TIMEOUT_S = 600


def _config_keys() -> list[str]:
  config = base_config.get_base_config()
  return [f"{section}.{key}" for section in config.keys()
          if hasattr(config[section], "keys") for key in config[section].keys()]


def config_case(rng: random.Random) -> list[str]:
  """A tiny run's flags with one random override (or a random preset)."""
  short = ["--config.train.num_steps=2", "--config.train.warmup_steps=0",
           "--config.eval.precise_bn_batches=0"]  # a valid case runs 2 steps
  if rng.random() < 0.1:
    family = rng.choice(["csn", "i3d", "resnet3d", "nope"])
    return [f"--config=configs/{family}.py:{rng.choice(['tiny', 'x', ''])}",
            *short]
  key = rng.choice(_config_keys() + ["train.nope", "nope.x", "model"])
  return [*fi.TINY_FLAGS, *short, f"--config.{key}={rng.choice(_VALUES)}"]


def config_outcome(command: list[str], workdir: str) -> str:
  """How `video_flax.main` ended on `command`: one of CLEAN_OUTCOMES, or what
  went wrong (a traceback, several lines, a hang, another exit code)."""
  try:
    proc = subprocess.run([sys.executable, "-m", "video_flax.main", *command,
                           f"--workdir={workdir}"], cwd=fi.REPO_ROOT,
                          capture_output=True, text=True,
                          timeout=_CONFIG_TIMEOUT_S,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
  except subprocess.TimeoutExpired:
    return "hang"
  lines = proc.stderr.strip().splitlines()
  if proc.returncode == 0:
    return CLEAN_OUTCOMES[0]
  if "Traceback" in proc.stderr:
    return "traceback"
  if len(lines) != 1:
    return f"{len(lines)} lines"
  return {2: CLEAN_OUTCOMES[1], 1: CLEAN_OUTCOMES[2]}.get(
      proc.returncode, f"exit {proc.returncode}")


def fuzz_configs(rng: random.Random, n: int, scratch: str
                 ) -> collections.Counter:
  counts = collections.Counter()
  for i in range(n):
    command = config_case(rng)
    outcome = config_outcome(command, os.path.join(scratch, f"config{i}"))
    counts[outcome] += 1
    if outcome not in CLEAN_OUTCOMES:
      own = [a for a in command if a not in fi.TINY_FLAGS]
      print(f"config case {' '.join(own)}: {outcome}", flush=True)
  return counts


def soak_kills(rng: random.Random, n: int, scratch: str
               ) -> collections.Counter:
  """Kill-and-rerun cycles of tiny training runs; counts by outcome."""
  reference = fi.reference_state(os.path.join(scratch, "reference"),
                                 os.path.join(scratch, "reference.log"),
                                 num_steps=_STEPS, checkpoint_every=_EVERY)
  counts = collections.Counter()
  for i in range(n):
    workdir = os.path.join(scratch, f"kill{i}")
    outcome = fi.kill_and_rerun(
        workdir, reference, workdir + ".log",
        after_step=rng.randrange(0, _STEPS, 2), delay_s=rng.uniform(0, 1),
        during_save=i % 2 == 0, num_steps=_STEPS, checkpoint_every=_EVERY)
    counts[f"killed {outcome.hit}"] += 1
    counts["checkpoints verified"] += outcome.checkpoints_verified
    lost = outcome.rerun_exit != 0 or outcome.differing
    counts["LOST (rerun failed or state differs)" if lost
           else "kills survived (state bit-identical)"] += 1
    if lost:
      print(f"kill {i}: {outcome}", flush=True)
  return counts


def soak_prepare(rng: random.Random, kills: int, videos: int, scratch: str
                 ) -> collections.Counter:
  """A fuzzed UCF-101 tree prepared once, then killed and rerun `kills`
  times; counts of its videos by outcome and of the kills."""
  root, out = os.path.join(scratch, "tree"), os.path.join(scratch, "prepared")
  per_class = max(videos // 2, 3)
  fuzz_videos.write_ucf101_tree(root, np.random.default_rng(rng.randrange(
      2**32)), per_class=per_class)
  counts = collections.Counter()
  if fi.run(fi.prepare_command(root, out), out + ".log") != 0:
    counts["prepare FAILED"] += 1
    return counts
  reference = fi.prepared_files(out)
  counts["prepare: videos written"] += json.loads(reference["info.json"])[
      "num_records"]
  for skip in json.loads(reference["skipped.json"]):
    counts[f"prepare: skipped as {skip['reason']}"] += 1
  for i in range(kills):
    hit, code, differing = fi.kill_prepare_and_rerun(
        root, os.path.join(scratch, f"prepare{i}"), reference,
        os.path.join(scratch, f"prepare{i}.log"), delay_s=rng.uniform(1, 8))
    counts[f"prepare killed {hit}"] += 1
    counts["prepare kills: LOST" if code or differing
           else "prepare kills survived (same files)"] += 1
  return counts


def soak_videos(rng: random.Random, n: int, scratch: str
                ) -> collections.Counter:
  """`n` fuzzed files through decode (with and without resizing)."""
  counts = collections.Counter()
  gen = np.random.default_rng(rng.randrange(2**32))
  os.makedirs(os.path.join(scratch, "videos"), exist_ok=True)
  for i in range(n):
    kind = fuzz_videos.KINDS[i % len(fuzz_videos.KINDS)]
    path = fuzz_videos.write_case(kind, os.path.join(scratch, "videos",
                                                     str(i)), gen)
    outcome, detail = fuzz_videos.decode_outcome(
        path, short_side=rng.choice([None, 24]))
    counts[f"decode: {outcome}" + (f" as {detail}" if outcome == "skipped"
                                   else "")] += 1
    if outcome == "failed":
      print(f"decode {kind} {path}: {detail}", flush=True)
  return counts


def _tiny_weights(path: str) -> None:
  """Random ir_csn_tiny weights taking two 4x16x16 clips per video."""
  info = weights.WeightsInfo(
      model="ir_csn_tiny", num_classes=3, class_names=("a", "b", "c"),
      preprocessing=weights.Preprocessing(
          num_frames=4, resize_short_side=20, crop_size=16, mean=(0.45,) * 3,
          std=(0.225,) * 3, eval_num_clips=2))
  model = info.build_model()
  weights.save(path, info, variable_init.random_variables(
      model, weights_format.dummy_inputs(model, info.preprocessing)))


def soak_predict(videos: str, scratch: str) -> collections.Counter:
  """Every file in `videos` through one `video_flax.predict --json`: each
  must end predicted (2 clips x 1 crop) or in one line naming it."""
  os.makedirs(scratch, exist_ok=True)
  _tiny_weights(os.path.join(scratch, "weights"))
  paths = sorted(os.path.join(videos, n) for n in os.listdir(videos))
  proc = subprocess.run(
      [sys.executable, "-m", "video_flax.predict", "--json",
       f"--weights={os.path.join(scratch, 'weights')}", *paths],
      cwd=fi.REPO_ROOT, capture_output=True, text=True,
      env=dict(os.environ, JAX_PLATFORMS="cpu"))
  counts = collections.Counter()
  try:
    out = json.loads(proc.stdout)
  except ValueError:
    counts[f"predict FAILED (exit {proc.returncode}, no JSON)"] += 1
    return counts
  named = [line for line in proc.stderr.splitlines()
           if line.startswith("error: ")]
  for error in out["errors"]:
    clean = any(line.startswith(f"error: {error['video']}: ") for line in named)
    counts["predict: one line naming the file" if clean
           else "predict FAILED (error not named)"] += 1
  for result in out["videos"]:
    counts["predict: predicted" if (result["clips"], result["crops"]) == (2, 1)
           else "predict FAILED (views of a wrong shape)"] += 1
  if len(out["errors"]) + len(out["videos"]) != len(paths):
    counts["predict FAILED (videos missing from the output)"] += 1
  if "Traceback" in proc.stderr or proc.returncode not in (0, 1):
    counts[f"predict FAILED (exit {proc.returncode} or a traceback)"] += 1
  return counts


def _report(title: str, counts: collections.Counter) -> None:
  print(f"== {title}")
  for key, value in sorted(counts.items()):
    print(f"  {value:>6}  {key}")


def main(argv: list[str]) -> None:
  del argv
  metrics_logging.quiet_absl_logging()
  rng = random.Random(_SEED.value)
  scratch = _SCRATCH.value or tempfile.mkdtemp(prefix="video_flax_soak_")
  os.makedirs(scratch, exist_ok=True)
  kills, fuzz = _KILLS.value, _FUZZ.value
  decode_dir = os.path.join(scratch, "decode")
  steps = {
      "training killed and rerun": lambda: soak_kills(
          rng, kills, os.path.join(scratch, "train")),
      "prepare": lambda: soak_prepare(
          rng, max(kills // 4, 1), max(fuzz // 4, 6),
          os.path.join(scratch, "prepare")),
      "video files fuzzed": lambda: soak_videos(rng, fuzz, decode_dir),
      "the same files through predict": lambda: soak_predict(
          os.path.join(decode_dir, "videos"),
          os.path.join(scratch, "predict")),
      "config overrides fuzzed": lambda: fuzz_configs(
          rng, max(fuzz // 10, 1), os.path.join(scratch, "configs")),
  }
  sections = {}
  for i, (title, run) in enumerate(steps.items(), 1):
    print(f"[{i}/{len(steps)}] {title} ...", flush=True)
    sections[title] = run()
  bad = 0
  for title, counts in sections.items():
    _report(title, counts)
    bad += sum(v for k, v in counts.items() if "LOST" in k or "FAILED" in k
               or "decode: failed" in k or (title.startswith("config") and
                                            k not in CLEAN_OUTCOMES))
  print(f"== {'nothing lost' if not bad else f'{bad} cases LOST or FAILED'}")
  if not _SCRATCH.value:
    shutil.rmtree(scratch, ignore_errors=True)
  sys.exit(1 if bad else 0)


if __name__ == "__main__":
  errors.run(main)

"""Decode + augment throughput of the real-video input pipeline.

    python -m video_flax.tools.benchmark_data [--videos 8] [--seconds 10] \\
        [--workers 0,2] [--batch 8] [--min_seconds 5] [--presets ...]

First, per paper clip-sampling preset (--presets), the CPU cost of one
training clip, clips/s per core, and what a 16-core host delivers against
the GPU training rates of the preset's model in the docs
(pipeline_presets.py).

Generates 320x240 30 fps h264 videos (moving textures) in a UCF-101 layout,
prepares them (JPEG frames, the stored format every real dataset uses), and
measures training clips/s for CSN-style 32x2 clips (scale jitter 256-320,
224 crop, flip) and I3D-style 64-frame clips (224 random crop, flip):
single-threaded per call, and through the grain pipeline with each
--workers count. As a reference it also times decoding the same clips
straight from the video files with PyAV (seek + decode). Besides wall-clock
clips/s it prints the CPU time per clip of the single-threaded paths, which
does not depend on how busy a shared machine is. Last, the training-step
clips/s of the matching model (--models) on the same machine, and the ratio
of what the pipeline delivers to what the model consumes.
"""
from __future__ import annotations

import os
import tempfile
import time
from typing import Callable, Sequence

from absl import app
from absl import flags
import cv2
import numpy as np

from video_flax import base_config
from video_flax import errors
from video_flax import models
from video_flax.data import clip_sampling
from video_flax.data import pipeline
from video_flax.data import real_video
from video_flax.data.prepare import decode
from video_flax.data.prepare import encode
from video_flax.data.prepare import shards
from video_flax.data.prepare import video_writer
from video_flax.tools import benchmark as model_benchmark
from video_flax.tools import pipeline_presets

_VIDEOS = flags.DEFINE_integer("videos", 8, "videos to generate")
_SECONDS = flags.DEFINE_float("seconds", 10.0, "length of each video")
_WORKERS = flags.DEFINE_list("workers", ["0", "2"],
                             "grain worker counts to time (0 = in-process)")
_BATCH = flags.DEFINE_integer("batch", 8, "pipeline batch size")
_MIN_SECONDS = flags.DEFINE_float("min_seconds", 5.0, "time per measurement")
_MODELS = flags.DEFINE_list(
    "models", ["csn_32x2=ir_csn_152", "i3d=i3d_rgb"],
    "clips=model pairs: the model's training clips/s on this machine is "
    "printed beside the pipeline's, with their ratio; empty to skip")
_PRESETS = flags.DEFINE_list(
    "presets", list(pipeline_presets.PRESET_CLIPS),
    "paper presets of the per-core table; empty to skip it")
_MODEL_BATCH = flags.DEFINE_integer("model_batch", 2,
                                    "batch of the model training-step timing")

CLIP_SETTINGS = {
    "csn_32x2": {"clip_sampling": "csn_32x2", "scale_jitter": (256, 320)},
    "i3d": {"clip_sampling": "i3d", "scale_jitter": ()},
}


def moving_texture(num_frames: int, seed: int, height: int = 240,
                   width: int = 320) -> np.ndarray:
  """uint8 [T, H, W, 3]: a blurred random texture panning 3 px per frame."""
  rng = np.random.default_rng(seed)
  big = rng.integers(0, 256, (height // 8, (width + 3 * num_frames) // 8 + 1,
                              3), dtype=np.uint8)
  big = cv2.resize(big, (big.shape[1] * 8, big.shape[0] * 8),
                   interpolation=cv2.INTER_CUBIC)
  return np.stack([big[:, 3 * i:3 * i + width] for i in range(num_frames)])


def write_videos(root: str, num_videos: int, seconds: float) -> None:
  """A UCF-101 style tree of num_videos 320x240 30 fps h264 videos."""
  classes = ("ClassA", "ClassB")
  lists = os.path.join(root, "ucfTrainTestlist")
  os.makedirs(lists)
  with open(os.path.join(lists, "classInd.txt"), "w") as f:
    f.writelines(f"{i + 1} {c}\n" for i, c in enumerate(classes))
  lines = []
  for v in range(num_videos):
    c = classes[v % 2]
    os.makedirs(os.path.join(root, "videos", c), exist_ok=True)
    name = f"v_{c}_g{v:02d}_c01.mp4"
    video_writer.write_video(os.path.join(root, "videos", c, name),
                             moving_texture(int(seconds * 30), v), 30, "h264")
    lines.append(f"{c}/{name} {v % 2 + 1}\n")
  for kind in ("train", "test"):
    with open(os.path.join(lists, f"{kind}list01.txt"), "w") as f:
      f.writelines(lines)


def dataset_config(out: str, preset: str, workers: int):
  cfg = base_config.get_base_config().dataset
  cfg.name, cfg.data_dir, cfg.crop_size = "ucf101", out, 224
  cfg.train_split, cfg.eval_split, cfg.worker_count = "train", "test", workers
  cfg.fold = 1
  cfg.streams = "rgb"
  cfg.short_video = "loop"
  cfg.flip = True
  cfg.normalization = "minus_one_one"
  cfg.eval_num_clips = 0
  cfg.eval_crop = "three"
  cfg.update(CLIP_SETTINGS.get(preset, {"clip_sampling": preset}))
  return cfg


def rate(fn: Callable[[], int], min_seconds: float) -> tuple[float, float]:
  """(items per wall second, CPU ms of this process per item) of repeated
  fn(), which returns the items it did."""
  fn()  # warm-up (file handles, worker start-up)
  done, start, cpu = 0, time.perf_counter(), time.process_time()
  while time.perf_counter() - start < min_seconds:
    done += fn()
  return (done / (time.perf_counter() - start),
          1e3 * (time.process_time() - cpu) / done)


def _report(preset: str, label: str, r: tuple[float, float]) -> None:
  print(f"{preset:9s} {label:42s} {r[0]:8.1f} {r[1]:12.1f}", flush=True)


def _write_and_prepare(root: str, out: str) -> None:
  """Writes the videos and prepares them (frames as decoded), printing the
  rates."""
  num_videos, seconds = _VIDEOS.value, _SECONDS.value
  start = time.perf_counter()
  write_videos(root, num_videos, seconds)
  print(f"wrote {num_videos} videos of 320x240, {seconds:g} s at 30 fps "
        f"in {time.perf_counter() - start:.1f}s ({os.path.dirname(root)})")
  start = time.perf_counter()
  shards.prepare_dataset(
      "ucf101", root, out, encode.PrepareOptions(fps=30, short_side=None),
      num_workers=os.cpu_count() or 1, progress=False)
  elapsed = time.perf_counter() - start
  size = sum(os.path.getsize(os.path.join(d, f))
             for d, _, fs in os.walk(os.path.join(out, "shards")) for f in fs)
  print(f"prepare: {num_videos / elapsed:.2f} videos/s "
        f"({num_videos * seconds * 30 / elapsed:.0f} frames/s, "
        f"{os.cpu_count()} workers); {size / num_videos / 1e6:.1f} MB/video")


def _clip_maker(cfg) -> Callable[[], int]:
  """A function making the next training clip of cfg's train split (seed i
  for the i-th clip, videos in turn); it returns 1, the clips it made."""
  source = real_video.source(cfg, "train")
  counter = iter(range(10**9))

  def one_clip():
    i = next(counter)
    real_video.train_example(cfg, source[i % len(source)],
                             np.random.default_rng(i))
    return 1

  return one_clip


def _time_single_thread(preset: str, out: str, videos: list[str],
                        rng: np.random.Generator) -> None:
  """train_example on prepared records vs PyAV straight from the videos."""
  cfg = dataset_config(out, preset, 0)
  _report(preset, "train_example (decode + augment), 1 thread",
          rate(_clip_maker(cfg), _MIN_SECONDS.value))
  options = real_video.clip_options(cfg)

  def straight_from_video():
    video = videos[int(rng.integers(len(videos)))]
    info = decode.probe(video)
    clip = clip_sampling.random_clip(options.train_clip, info.num_frames,
                                     info.fps, rng)
    decode.read_frames(video, clip.rgb.tolist())
    return 1

  _report(preset, "reference: PyAV seek + decode of the .mp4",
          rate(straight_from_video, _MIN_SECONDS.value))


def _time_pipeline(preset: str, out: str) -> float:
  """Clips/s of the grain pipeline per --workers count; returns the best."""
  best = 0.0
  for workers in (int(w) for w in _WORKERS.value):
    batches = pipeline.make_train_iterator(
        dataset_config(out, preset, workers), global_batch_size=_BATCH.value,
        seed=0)
    label = (f"grain pipeline, {workers} worker processes" if workers else
             f"grain pipeline, in-process, {pipeline.READ_THREADS} threads")
    r = rate(lambda: len(next(batches)["label"]), _MIN_SECONDS.value)
    _report(preset, label, (r[0], float("nan")) if workers else r)
    best = max(best, r[0])
  return best


def _compare_with_model(preset: str, name: str, out: str,
                        pipeline_rate: float) -> None:
  cfg = dataset_config(out, preset, 0)
  shape = real_video.train_example(cfg, real_video.source(cfg, "train")[0],
                                   np.random.default_rng(0))["video"].shape[:3]
  result = model_benchmark.benchmark(name, shape, _MODEL_BATCH.value, iters=1)
  consumed = result["train_clips_per_s"]
  step = f"{name} training step, {'x'.join(map(str, shape))}"
  print(f"{preset:9s} {step:42s} {consumed:8.2f}   -> pipeline / model = "
        f"{pipeline_rate / consumed:.1f}x", flush=True)


def _time_presets(prepared: dict[str, str]) -> None:
  """The per-preset table; `prepared` maps PresetClip.stored to a folder."""
  print(f"{'preset':10s} {'CPU ms':>9s} {'clips/s':>9s} {'clips/s':>9s}\n"
        f"{'':10s} {'/clip':>9s} {'/core':>9s} "
        f"{f'x{pipeline_presets.HOST_CORES} cores':>9s}")
  threads = cv2.getNumThreads()
  cv2.setNumThreads(1)  # one core's cost
  for preset in _PRESETS.value:
    clip = pipeline_presets.PRESET_CLIPS[preset]
    cfg = dataset_config(prepared[clip.stored], preset, 0)
    cfg.crop_size, cfg.streams = clip.crop_size, clip.streams
    cfg.scale_jitter = clip.scale_jitter
    pipeline_presets.report(preset,
                            rate(_clip_maker(cfg), _MIN_SECONDS.value)[1])
  cv2.setNumThreads(threads)


def _prepare_preset_copies(root: str, out: str) -> dict[str, str]:
  """The prepared folders of the presets' stored frames (see PresetClip)."""
  stored = {pipeline_presets.PRESET_CLIPS[p].stored for p in _PRESETS.value}
  prepared = {"native": out}
  if "short128" in stored:
    prepared["short128"] = out + "_128"
    shards.prepare_dataset(
        "ucf101", root, prepared["short128"],
        encode.PrepareOptions(fps=30, short_side=128),
        num_workers=os.cpu_count() or 1, progress=False)
  if "flow" in stored:
    prepared["flow"] = out + "_flow"
    pipeline_presets.copy_with_flow(out, prepared["flow"])
  return prepared


def check_flags(presets: Sequence[str], model_pairs: Sequence[str]) -> None:
  """app.UsageError naming an unknown preset or model before any work."""
  unknown = [p for p in presets if p not in pipeline_presets.PRESET_CLIPS]
  if unknown:
    raise app.UsageError(f"--presets: unknown {unknown}; known: "
                         f"{', '.join(pipeline_presets.PRESET_CLIPS)}")
  for pair in model_pairs:
    clips, _, name = pair.partition("=")
    if clips not in CLIP_SETTINGS or name not in models.MODELS:
      raise app.UsageError(
          f"--models: {pair!r} is not CLIPS=MODEL with CLIPS one of "
          f"{', '.join(CLIP_SETTINGS)} and a registered model")


def main(argv) -> None:
  del argv
  check_flags(_PRESETS.value, _MODELS.value)
  tmp = tempfile.mkdtemp(prefix="video_flax_bench_")
  root, out = os.path.join(tmp, "raw"), os.path.join(tmp, "prepared")
  _write_and_prepare(root, out)
  videos = sorted(os.path.join(d, f) for d, _, fs in os.walk(root)
                  for f in fs if f.endswith(".mp4"))
  _time_presets(_prepare_preset_copies(root, out))
  rng = np.random.default_rng(0)
  print(f"{'clips':9s} {'path':42s} {'clips/s':>8s} {'CPU ms/clip':>12s}")
  pipeline_rates = {}
  for preset in CLIP_SETTINGS:
    _time_single_thread(preset, out, videos, rng)
    pipeline_rates[preset] = _time_pipeline(preset, out)
  for preset, name in dict(p.split("=") for p in _MODELS.value).items():
    _compare_with_model(preset, name, out, pipeline_rates[preset])


if __name__ == "__main__":
  errors.run(main)

"""Synthetic dataset, TFDS storage and the grain pipeline."""
from __future__ import annotations

import dataclasses
import functools
import json

import ml_collections
import numpy as np
import pytest

from conftest import run_python
from video_flax import base_config
from video_flax.data import augment
from video_flax.data import clip_sampling
from video_flax.data import dataset_api
from video_flax.data import pipeline
from video_flax.data.synthetic import dataset as synthetic_dataset
from video_flax.data.synthetic import motions
from video_flax.data.synthetic import render

TINY = motions.get_variant("tiny")


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  cfg = base_config.get_base_config().dataset
  cfg.variant = "tiny"
  cfg.update(overrides)
  return cfg


def take(iterator, n: int) -> list[dict[str, np.ndarray]]:
  return [next(iterator) for _ in range(n)]


def assert_batches_equal(a, b) -> None:
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for k in x:
      np.testing.assert_array_equal(x[k], y[k], err_msg=k)


# Generator ---------------------------------------------------------------


def test_generator_is_deterministic_in_its_seed():
  videos, labels = render.generate_split(TINY, "test")
  again, again_labels = render.generate_split(TINY, "test")
  assert videos.dtype == np.uint8
  assert videos.shape == (TINY.num_clips("test"), TINY.num_frames,
                          TINY.frame_size, TINY.frame_size, 3)
  assert videos.tobytes() == again.tobytes()
  np.testing.assert_array_equal(labels, again_labels)
  other, _ = render.generate_split(dataclasses.replace(TINY, seed=99), "test")
  assert np.mean(other != videos) > 0.5
  train, _ = render.generate_split(TINY, "train")
  assert np.mean(train[:len(videos)] != videos) > 0.5


def test_splits_are_balanced():
  for split in motions.SPLITS:
    _, labels = render.generate_split(TINY, split)
    per_class = np.bincount(labels, minlength=len(TINY.classes))
    assert (per_class == TINY.num_clips(split) // len(TINY.classes)).all()


def test_every_variant_is_well_formed():
  for variant in motions.VARIANTS.values():
    names = variant.class_names
    assert len(set(names)) == len(names), variant.name
    assert all(n.replace("_", "").isalnum() for n in names), names
  assert len(motions.VARIANTS["default"].classes) >= 10
  assert motions.VARIANTS["default"].num_frames >= 8
  pretrain = set(motions.VARIANTS["pretrain"].classes)
  for target in ("target_a", "target_b"):
    classes = motions.VARIANTS[target].classes
    assert len(classes) < len(pretrain)
    assert not pretrain & set(classes), f"{target} reuses pretrain motions"


def _appearance(n: int, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  return render._draw_appearance(rng, n, TINY.frame_size)  # pylint: disable=protected-access


def test_first_frame_is_identical_across_classes_and_motion_follows():
  n, classes = 16, TINY.classes
  appearance = _appearance(n)
  clips = np.stack([
      render.render(np.full(n, k), appearance, classes, TINY.num_frames,
                       TINY.frame_size) for k in range(len(classes))])
  # Same appearance, any label: frame 0 is bit-identical.
  assert (clips[:, :, 0] == clips[:1, :, 0]).all()
  # Later frames differ between every pair of classes.
  later = clips[:, :, 1:].astype(np.float32)
  for a in range(len(classes)):
    for b in range(a):
      diff = np.abs(later[a] - later[b]).mean(axis=(1, 2, 3, 4))
      assert np.median(diff) > 1.0, (classes[a].name, classes[b].name, diff)


def _unwrapped_steps(centres: np.ndarray, size: int) -> np.ndarray:
  steps = np.diff(centres, axis=1)
  return np.mod(steps + size / 2, size) - size / 2


def test_trajectories_match_class_names():
  n, size, frames = 32, TINY.frame_size, TINY.num_frames
  appearance = _appearance(n, seed=1)
  by_name = {m.name: i for i, m in enumerate(TINY.classes)}

  def track(name):
    return render.trajectories(np.full(n, by_name[name]), appearance,
                                  TINY.classes, frames, size)

  for name, axis, sign in (("right", 0, 1), ("left", 0, -1), ("up", 1, -1),
                           ("down", 1, 1)):
    steps = _unwrapped_steps(track(name)[0], size)
    assert (np.sign(steps[..., axis]) == sign).all(), name
    np.testing.assert_allclose(steps[..., 1 - axis], 0, atol=1e-9)
  for sense, sign in (("cw", 1), ("ccw", -1)):
    # Image y points down: a positive cross product turns clockwise on screen.
    steps = _unwrapped_steps(track(f"circle_{sense}")[0], size)
    cross = steps[:, :-1, 0] * steps[:, 1:, 1] - steps[:, :-1, 1] * steps[:, 1:, 0]
    assert (np.sign(cross) == sign).all(), sense
    assert (np.sign(np.diff(track(f"spin_{sense}")[1], axis=1)) == sign).all()
  steps = _unwrapped_steps(track("oscillate_horizontal")[0], size)
  np.testing.assert_allclose(steps[..., 1], 0, atol=1e-9)
  assert (np.sign(steps[:, 1:, 0]) != np.sign(steps[:, :-1, 0])).any(axis=1).all()
  steps = _unwrapped_steps(track("zigzag_right")[0], size)
  assert (steps[..., 0] > 0).all()
  assert (np.sign(steps[:, 1:, 1]) != np.sign(steps[:, :-1, 1])).any(axis=1).all()


def _warp_error(video: np.ndarray, flow: np.ndarray, region: str,
                true_flow: np.ndarray) -> float:
  """Mean |frame t+1 sampled at p + flow(p) - frame t at p| over the shape's
  interior ('shape') or the background far from it ('background'), both
  found from `true_flow`: the brightness-constancy residual, from rendered
  pixels and OpenCV alone."""
  cv2 = pytest.importorskip("cv2")
  size = video.shape[-2]
  gx, gy = np.meshgrid(np.arange(size, dtype=np.float32),
                       np.arange(size, dtype=np.float32))
  kernel = np.ones((5, 5), np.uint8)
  errors = []
  for clip, clip_flow, clip_true in zip(video, flow, true_flow):
    for t in range(len(clip) - 1):
      f, true = clip_flow[t].astype(np.float32), clip_true[t]
      # Most pixels are background, and all of those move with its drift.
      drift = np.median(true.reshape(-1, 2), axis=0)
      moving_with_background = np.abs(true - drift).sum(-1) < 1e-5
      mask = (moving_with_background if region == "background"
              else ~moving_with_background).astype(np.uint8)
      mask = cv2.erode(mask, kernel) > 0
      if not mask.any():
        continue
      warped = cv2.remap(clip[t + 1].astype(np.float32), gx + f[..., 0],
                         gy + f[..., 1], cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_WRAP)
      errors.append(np.abs(warped - clip[t]).mean(-1)[mask].mean())
  return float(np.mean(errors))


def _rotate(flow: np.ndarray, angle: float) -> np.ndarray:
  c, s = np.cos(angle), np.sin(angle)
  return np.stack([c * flow[..., 0] - s * flow[..., 1],
                   s * flow[..., 0] + c * flow[..., 1]], -1)


# Region -> (most of zero flow's error, most of a slightly wrong flow's) the
# true flow may leave. The faint background's residual is mostly uint8
# rounding, so its margins are smaller.
@pytest.mark.parametrize("region,zero,wrong", [("shape", 0.25, 0.5),
                                               ("background", 0.5, 0.9)])
def test_stored_flow_is_the_motion_of_the_pixels(region, zero, wrong):
  """Warping frame t+1 back by the generator's flow reproduces frame t far
  better than no flow, and better than the flow scaled or turned by a little:
  the flow's size, direction and sense (spins included) are right."""
  chunk = next(render.generate_chunks(motions.get_variant("default"),
                                         "test"))
  video, flow = chunk["video"][:24], chunk["flow"][:24]
  assert flow.shape == (*video.shape[:-1], 2) and flow.dtype == np.float32
  error = functools.partial(_warp_error, video, region=region, true_flow=flow)
  true = error(flow)
  assert true < zero * error(0 * flow)
  for bad in (0.8 * flow, 1.25 * flow, _rotate(flow, 0.25),
              _rotate(flow, -0.25)):
    assert true < wrong * error(bad)


def test_flow_of_spins_and_translations():
  """Spins: zero flow at the centre, growing with the distance to it, turning
  the right way; translations: the velocity over the whole shape."""
  n, size = 8, TINY.frame_size
  appearance = _appearance(n, seed=3)
  by_name = {m.name: i for i, m in enumerate(TINY.classes)}
  appearance["bg_velocity"][:] = 0
  centres, _ = render.trajectories(np.zeros(n, int), appearance,
                                      TINY.classes, TINY.num_frames, size)
  for sense, sign in (("cw", 1), ("ccw", -1)):
    flow = render.render_flow(np.full(n, by_name[f"spin_{sense}"]),
                                 appearance, TINY.classes, TINY.num_frames,
                                 size)
    for i in range(n):
      cx, cy = centres[i, 0]
      x, y = int(cx), int(cy)  # the pixel holding the centre
      f = flow[i, 0]
      assert np.hypot(*f[y, x]) < 0.6
      # A point right of the centre moves down when turning clockwise.
      assert sign * f[y, (x + 3) % size, 1] > 0.5
      assert sign * f[(y + 3) % size, x, 0] < -0.5
  right = render.render_flow(np.full(n, by_name["right"]), appearance,
                                TINY.classes, TINY.num_frames, size)
  # Inside: the shape's velocity (speed x the clip's pace); at its edge a
  # blend with the still background; y is 0 everywhere.
  velocity = TINY.classes[by_name["right"]].velocity[0] * appearance["pace"]
  np.testing.assert_allclose(right[..., 0].max(axis=(1, 2, 3)), velocity,
                             rtol=1e-5)
  assert right[..., 0].min() >= 0
  full = np.isclose(right[..., 0], velocity[:, None, None, None], rtol=1e-5)
  assert (full.mean(axis=(1, 2, 3)) > 0.04).all()
  np.testing.assert_allclose(right[..., 1], 0, atol=1e-6)


def _frame_features(frames: np.ndarray) -> np.ndarray:
  """Per-frame statistics [N, F]: colour moments, a coarse layout, edges."""
  x = frames.astype(np.float32) / 255
  n, h, w, _ = x.shape
  grey = x.mean(-1)
  blocks = grey.reshape(n, 4, h // 4, 4, w // 4).mean(axis=(2, 4)).reshape(n, -1)
  edges = np.abs(np.diff(grey, axis=1)).mean((1, 2))[:, None]
  return np.concatenate([x.mean((1, 2)), x.std((1, 2)), blocks, edges], 1)


def _probe_accuracy(train_x, train_y, test_x, test_y, num_classes) -> float:
  """Test accuracy of a softmax regression fitted by gradient descent."""
  mean, std = train_x.mean(0), train_x.std(0) + 1e-6
  add_bias = lambda x: np.concatenate([(x - mean) / std, np.ones((len(x), 1))], 1)  # noqa: E731
  train_x, test_x = add_bias(train_x), add_bias(test_x)
  w = np.zeros((train_x.shape[1], num_classes))
  onehot = np.eye(num_classes)[train_y]
  for _ in range(300):
    logits = train_x @ w
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w -= 0.5 * train_x.T @ (p - onehot) / len(train_x)
  return float(np.mean((test_x @ w).argmax(1) == test_y))


def test_a_single_frame_carries_no_label_information():
  variant = dataclasses.replace(motions.get_variant("default"),
                                train_per_class=40, test_per_class=30, seed=7)
  k = len(variant.classes)
  train_v, train_y = render.generate_split(variant, "train")
  test_v, test_y = render.generate_split(variant, "test")
  middle = variant.num_frames // 2

  def probe(frame_of):
    return _probe_accuracy(_frame_features(frame_of(train_v, train_y)), train_y,
                           _frame_features(frame_of(test_v, test_y)), test_y, k)

  chance = 1 / k
  assert probe(lambda v, y: v[:, middle]) < chance + 0.05
  # Positive control: the probe sees a planted cue of 8 grey levels per class.
  leaky = probe(lambda v, y: np.clip(
      v[:, middle].astype(np.int32) + 8 * y[:, None, None, None], 0, 255))
  assert leaky > chance + 0.08


# TFDS storage ------------------------------------------------------------


def test_tfds_writes_and_reads_array_record_without_tensorflow(tmp_path):
  code = f"""
import sys
import numpy as np
from video_flax.data.synthetic import motions, render, tfds_builder
builder = tfds_builder.load_builder({str(tmp_path)!r}, "tiny")
assert builder.info.file_format.value == "array_record", builder.info.file_format
variant = motions.get_variant("tiny")
for split in motions.SPLITS:
  source = builder.as_data_source(split)
  videos, labels = render.generate_split(variant, split)
  assert len(source) == len(labels)
  for i in (0, len(labels) - 1):
    assert source[i]["video"].tobytes() == videos[i].tobytes()
    assert source[i]["label"] == labels[i]
assert builder.info.features["label"].names == list(variant.class_names)
again = tfds_builder.VideoFlaxSynthetic(config="tiny",
                                        data_dir={str(tmp_path)!r})
assert again.is_prepared()
assert "tensorflow" not in sys.modules, "tensorflow was imported"
print("ok")
"""
  result = run_python(code, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Generating synthetic/tiny" in result.stdout
  assert list(tmp_path.rglob("*.array_record*"))


def test_stored_records_match_the_generator():
  # Catches a generator change without a VERSION bump in a cached data_dir.
  cfg = tiny_config()
  source = pipeline.get_dataset("synthetic").source(cfg, "test")
  videos, labels = render.generate_split(TINY, "test")
  flows = np.concatenate([c["flow"] for c in render.generate_chunks(
      TINY, "test")])
  for i in range(len(source)):
    assert source[i]["video"].tobytes() == videos[i].tobytes(), i
    assert source[i]["label"] == labels[i]
    # Flow in pixels / 20, rounded to uint8 steps of 1 / 127.5.
    stored = source[i]["flow"].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(stored * 20, flows[i], atol=20 / 255 + 1e-5)


def test_dataset_info():
  info = pipeline.dataset_info(tiny_config())
  assert info == pipeline.DatasetInfo(
      num_classes=len(TINY.classes), num_train=TINY.num_clips("train"),
      num_eval=TINY.num_clips("test"), class_names=TINY.class_names)


# Train pipeline ----------------------------------------------------------


def test_train_batches_shapes_and_determinism():
  cfg = tiny_config()
  first = take(pipeline.make_train_iterator(cfg, global_batch_size=8, seed=3), 3)
  batch = first[0]
  assert batch["video"].shape == (8, 8, 32, 32, 3)
  assert batch["video"].dtype == np.float32
  assert batch["label"].dtype == np.int32 and batch["label"].shape == (8,)
  assert -1 <= batch["video"].min() and batch["video"].max() <= 1
  again = take(pipeline.make_train_iterator(cfg, global_batch_size=8, seed=3), 3)
  assert_batches_equal(first, again)
  other = next(pipeline.make_train_iterator(cfg, global_batch_size=8, seed=4))
  assert not np.array_equal(other["video"], batch["video"])


def _window_of(stored: list[np.ndarray], clip: np.ndarray, stride: int
               ) -> list[tuple[int, int, int, int]]:
  """(record, first frame, top, left) of every window of `stored` uint8
  clips equal to the normalised `clip` [T, S, S, C]."""
  raw = np.rint((clip + 1) * 127.5).astype(np.uint8)
  frames, size = clip.shape[0], clip.shape[1]
  span = (frames - 1) * stride + 1
  return [(i, t, y, x) for i, s in enumerate(stored)
          for t in range(s.shape[0] - span + 1)
          for y in range(s.shape[1] - size + 1)
          for x in range(s.shape[2] - size + 1)
          if np.array_equal(s[t:t + span:stride, y:y + size, x:x + size], raw)]


@pytest.mark.parametrize("streams", ["flow", "rgb+flow"])
def test_flow_batches_are_cut_like_the_video(streams):
  """Train batches carry 'flow' [b, T, S, S, 2], a window and crop of the
  stored flow: the same as the video's (found by search in the records)."""
  cfg = tiny_config(streams=streams, frame_stride=2, num_frames=3,
                    crop_size=24)
  source = pipeline.get_dataset("synthetic").source(cfg, "train")
  records = [source[i] for i in range(len(source))]
  batch = next(pipeline.make_train_iterator(cfg, global_batch_size=4, seed=0))
  assert set(batch) == {*dataset_api.stream_keys(cfg), "label"}
  assert batch["flow"].shape == (4, 3, 24, 24, 2)
  assert batch["flow"].dtype == np.float32
  if streams == "rgb+flow":
    for j, flow in enumerate(batch["flow"]):
      found = _window_of([r["flow"] for r in records], flow, stride=2)
      assert found, "flow is not a window of a stored clip"
      assert set(found) & set(_window_of([r["video"] for r in records],
                                         batch["video"][j], stride=2))
  evals = next(pipeline.make_eval_iterator(cfg, global_batch_size=4))
  assert evals["flow"].shape == (4, 3, 24, 24, 2)


def _record_ids(videos: np.ndarray, stored: np.ndarray) -> list[int]:
  """Which stored clip each normalised, uncropped video is."""
  lookup = {clip.tobytes(): i for i, clip in enumerate(stored)}
  raw = np.rint((videos + 1) * 127.5).astype(np.uint8)
  return [lookup[v.tobytes()] for v in raw]


def test_each_epoch_is_a_new_permutation_of_the_split():
  cfg = tiny_config(crop_size=TINY.frame_size)  # no crop: clips identifiable
  stored, _ = render.generate_split(TINY, "train")
  n = len(stored)
  batches = take(pipeline.make_train_iterator(cfg, global_batch_size=n // 3,
                                              seed=0), 6)
  ids = _record_ids(np.concatenate([b["video"] for b in batches]), stored)
  epoch1, epoch2 = ids[:n], ids[n:]
  assert sorted(epoch1) == list(range(n)) == sorted(epoch2)
  assert epoch1 != epoch2 and epoch1 != list(range(n))


def test_random_crops_vary_and_stay_inside_the_frame():
  cfg = tiny_config(num_frames=4, frame_stride=2)
  record = pipeline.get_dataset("synthetic").source(cfg, "train")[0]
  stored = record["video"]
  offsets = set()
  for seed in range(30):
    example = synthetic_dataset.train_example(cfg, record,
                                              np.random.default_rng(seed))
    assert example["video"].shape == (4, 32, 32, 3)
    video = np.rint((example["video"] + 1) * 127.5).astype(np.uint8)
    found = [(t, y, x) for t in range(2) for y in range(9) for x in range(9)
             if np.array_equal(stored[t:t + 8:2, y:y + 32, x:x + 32], video)]
    assert found, seed
    offsets.add(found[0])
  assert len(offsets) > 15


def test_state_round_trip_resumes_on_the_next_batch():
  cfg = tiny_config()
  it = pipeline.make_train_iterator(cfg, global_batch_size=8, seed=1)
  take(it, 13)  # past one epoch (9 batches), mid-way through the second
  state = json.loads(json.dumps(it.get_state()))
  expected = take(it, 4)
  resumed = pipeline.make_train_iterator(cfg, global_batch_size=8, seed=1)
  resumed.set_state(state)
  assert_batches_equal(take(resumed, 4), expected)


def test_orbax_checkpoint_of_the_iterator(tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  cfg = tiny_config()
  it = pipeline.make_train_iterator(cfg, global_batch_size=8, seed=2)
  take(it, 5)
  manager = ocp.CheckpointManager(
      str(tmp_path), item_names=("state", "data_iter"),
      options=ocp.CheckpointManagerOptions(enable_async_checkpointing=False))
  state = {"step": np.array(5, np.int32)}
  manager.save(5, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      data_iter=pipeline.checkpoint_save_args(it)))
  manager.wait_until_finished()
  expected = take(it, 2)
  fresh = pipeline.make_train_iterator(cfg, global_batch_size=8, seed=2)
  restored = manager.restore(5, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(state),
      data_iter=pipeline.checkpoint_restore_args(fresh)))
  assert int(restored["state"]["step"]) == 5
  assert_batches_equal(take(fresh, 2), expected)


def test_processes_split_each_global_batch():
  cfg = tiny_config()
  whole = take(pipeline.make_train_iterator(cfg, global_batch_size=8, seed=5), 10)
  shards = [take(pipeline.make_train_iterator(
      cfg, global_batch_size=8, seed=5, process_index=p, process_count=2), 10)
            for p in range(2)]
  for step, batch in enumerate(whole):
    for p in range(2):
      assert shards[p][step]["video"].shape[0] == 4
      # Process p holds elements p, p + 2, ... of the single-process batch.
      for key in batch:
        np.testing.assert_array_equal(shards[p][step][key], batch[key][p::2])


@pytest.mark.slow  # starts a worker process (~10 s)
def test_worker_processes_give_the_same_batches():
  cfg = tiny_config()
  expected = take(pipeline.make_train_iterator(cfg, global_batch_size=8,
                                               seed=6), 3)
  it = pipeline.make_train_iterator(tiny_config(worker_count=1),
                                    global_batch_size=8, seed=6)
  try:
    assert_batches_equal(take(it, 3), expected)
  finally:
    it.close()


# Eval pipeline -----------------------------------------------------------


def test_eval_counts_every_clip_once_across_processes():
  cfg = tiny_config()
  n = TINY.num_clips("test")  # 36: not a multiple of the global batch
  stored, labels = render.generate_split(TINY, "test")
  seen = []
  for p in range(2):
    batches = list(pipeline.make_eval_iterator(
        cfg, global_batch_size=16, process_index=p, process_count=2))
    assert len(batches) == 3
    for b in batches:
      assert b["video"].shape == (8, 8, 32, 32, 3)
      assert b["mask"].dtype == np.float32 and b["index"].dtype == np.int32
      real = b["mask"] == 1
      assert (b["index"][~real] == -1).all() and (b["mask"][~real] == 0).all()
      seen.extend(b["index"][real])
      np.testing.assert_array_equal(b["label"][real], labels[b["index"][real]])
      # Centre crop: frames [4, 36) of the stored 40x40 clip.
      expected = stored[b["index"][real], :, 4:36, 4:36] / 127.5 - 1
      np.testing.assert_allclose(b["video"][real], expected, atol=1e-6)
  assert sorted(seen) == list(range(n))


def test_eval_iterator_is_deterministic_and_takes_a_split():
  cfg = tiny_config()
  a = list(pipeline.make_eval_iterator(cfg, global_batch_size=12))
  b = list(pipeline.make_eval_iterator(cfg, global_batch_size=12))
  assert_batches_equal(a, b)
  train = list(pipeline.make_eval_iterator(cfg, split="train",
                                           global_batch_size=12))
  assert sum(x["mask"].sum() for x in train) == TINY.num_clips("train")


# Errors ------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    ({"name": "nope"}, "known: .*synthetic"),
    ({"variant": "nope"}, "known: default, pretrain"),
    ({"num_frames": 9}, "num_frames=9"),
    ({"crop_size": 48}, "crop_size=48"),
    ({"worker_count": -1}, "worker_count=-1"),
    ({"train_split": "validation"}, "no split 'validation'"),
])
def test_bad_dataset_config_is_named(overrides, message):
  with pytest.raises(ValueError, match=message):
    next(pipeline.make_train_iterator(tiny_config(**overrides),
                                      global_batch_size=8, seed=0))


def test_bad_batch_and_process_arguments_are_named():
  with pytest.raises(ValueError, match="divisible by process_count=3"):
    pipeline.make_train_iterator(tiny_config(), global_batch_size=8, seed=0,
                                 process_count=3)
  with pytest.raises(ValueError, match="process_index=2"):
    pipeline.make_eval_iterator(tiny_config(), global_batch_size=8,
                                process_index=2, process_count=2)


# Augmentation --------------------------------------------------------------


def test_window_crop_and_normalisation():
  video = np.arange(6 * 5 * 7 * 3, dtype=np.uint8).reshape(6, 5, 7, 3)
  np.testing.assert_array_equal(
      clip_sampling.window_indices(6, 2, 2, None), [1, 3])
  box = augment.center_crop_box(5, 7, 3)
  np.testing.assert_array_equal(augment.crop_resize(video, box, (3, 3)),
                                video[:, 1:4, 2:5])
  ends = np.array([0, 255], np.uint8).reshape(1, 1, 2, 1)
  np.testing.assert_array_equal(
      augment.normalize(ends, augment.BYTES_TO_UNIT)[0, 0, :, 0], [-1, 1])
  with pytest.raises(ValueError, match="spans 7 frames"):
    clip_sampling.window_indices(6, 4, 2, None)
  with pytest.raises(ValueError, match="crop_size=6"):
    augment.center_crop_box(5, 7, 6)


def test_bytes_to_unit_is_minus_one_one_up_to_rounding():
  """The synthetic set's byte mapping (float32 arithmetic) and the real
  sets' 'minus_one_one' table (float64) agree to float32 rounding at 1
  (2**-23), and the first is exactly x * (1 / 127.5) - 1 in float32 on any
  number of channels."""
  v = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
  exact = v.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)
  for channels in (1, 2, 3):
    out = augment.normalize(np.repeat(v, channels, -1), augment.BYTES_TO_UNIT)
    np.testing.assert_array_equal(out, np.repeat(exact, channels, -1))
  rgb = np.repeat(v, 3, -1)
  np.testing.assert_allclose(augment.normalize(rgb, augment.BYTES_TO_UNIT),
                             augment.normalize(rgb, "minus_one_one"),
                             rtol=0, atol=2**-23)


def test_video_and_flow_get_the_same_window_and_flip():
  """cut_clip cuts video and flow alike; a flip mirrors both and negates
  the flow's x (a rightward motion becomes a leftward one)."""
  rng = np.random.default_rng(0)
  video = rng.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
  # The flow of each pixel encodes its (t, y, x) position, to find the window.
  t, y, x = np.meshgrid(np.arange(2), np.arange(9), np.arange(11),
                        indexing="ij")
  flow = np.stack([x * 20 + t, y * 20 + t], -1).astype(np.uint8)
  video[..., 0] = flow[..., 0]  # the same marks in the video's red channel
  flow = augment.normalize(flow, augment.BYTES_TO_UNIT)
  flips = set()
  for seed in range(30):
    seeded = np.random.default_rng(seed)
    box = augment.random_crop_box(9, 11, 5, None, seeded)
    flip = bool(seeded.integers(0, 2))
    out = augment.cut_clip(box, (5, 5), flip=flip,
                           normalization=augment.BYTES_TO_UNIT, video=video,
                           flow=flow)
    assert out["video"].shape == (2, 5, 5, 3) and out["flow"].shape == (
        2, 5, 5, 2)
    red = out["video"][..., 0]
    flipped = bool(red[0, 0, 0] > red[0, 0, -1])
    assert flipped == flip
    flips.add(flipped)
    if flipped:  # decoded x is negated: -(x / 127.5 - 1)
      np.testing.assert_allclose(out["flow"][..., 0], -red, atol=1e-6)
    else:
      np.testing.assert_allclose(out["flow"][..., 0], red, atol=1e-6)
    # y is never negated and rows come from the same window.
    assert np.all(np.diff(out["flow"][..., 1], axis=1) > 0)
  assert flips == {True, False}

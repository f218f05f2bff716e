"""Real datasets end to end on tiny trees of real video files: official
layouts -> prepare (parallel, resumable, skip report) -> grain batches ->
multi-view test views, for UCF-101, HMDB-51 (with TV-L1 flow) and Kinetics."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import real_video_trees as trees
from video_flax import base_config
from video_flax import train
from video_flax.data import pipeline
from video_flax.data import real_video
from video_flax.data import video_records
from video_flax.data.prepare import encode
from video_flax.data.prepare import shards

SMALL = encode.PrepareOptions(fps=25, short_side=32, shard_size=4)


def real_config(name: str, data_dir: str, **overrides):
  """config.dataset for a prepared real dataset (tiny clips)."""
  cfg = base_config.get_base_config().dataset
  cfg.name, cfg.data_dir = name, data_dir
  cfg.train_split, cfg.eval_split = "train", "test"
  cfg.num_frames, cfg.frame_stride, cfg.crop_size = 4, 2, 24
  cfg.fold = 1
  cfg.clip_sampling = ""
  cfg.streams = "rgb"
  cfg.short_video = "loop"
  cfg.scale_jitter = (28, 36)
  cfg.flip = True
  cfg.normalization = "minus_one_one"
  cfg.eval_num_clips = 2
  cfg.eval_crop = "three"
  cfg.update(overrides)
  return cfg


def skipped_reasons(out: str) -> dict[str, str]:
  with open(os.path.join(out, "skipped.json")) as f:
    from_json = {r["video_id"]: r["reason"] for r in json.load(f)}
  with open(os.path.join(out, "skipped.csv")) as f:
    from_csv = {r["video_id"]: r["reason"] for r in csv.DictReader(f)}
  assert from_json == from_csv
  return from_json


@pytest.fixture(scope="module")
def ucf101(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("UCF101"))
  bad = trees.write_ucf101(root)
  out = os.path.join(str(tmp_path_factory.mktemp("prepared")), "ucf101")
  info = shards.prepare_dataset("ucf101", root, out, SMALL, num_workers=2,
                                progress=False)
  return root, out, info, bad


def test_listings_follow_the_official_files(tmp_path):
  root = str(tmp_path / "ucf")
  trees.write_ucf101(root)
  ucf = shards.LISTERS["ucf101"](root)
  assert ucf.class_names == ("ApplyEyeMakeup", "Basketball", "CliffDiving")
  assert {k: len(v) for k, v in ucf.splits.items()} == {"train1": 9, "test1": 3}
  by_id = {e.video_id: e for e in ucf.entries}
  assert by_id["v_CliffDiving_g01_c01"].label == 2
  assert by_id["v_Basketball_g12_c01"].path is None  # listed, not on disk
  hmdb_root = str(tmp_path / "hmdb")
  trees.write_hmdb51(hmdb_root)
  hmdb = shards.LISTERS["hmdb51"](hmdb_root)
  assert hmdb.class_names == ("brush_hair", "cartwheel")
  # Per class 2 train (code 1) + 1 test (code 2); code 0 is in no split.
  assert {k: len(v) for k, v in hmdb.splits.items()} == {"train1": 5, "test1": 2}
  assert all("_3_f_" not in e.video_id for e in hmdb.entries)
  kin_root = str(tmp_path / "kinetics")
  trees.write_kinetics(kin_root)
  kin = shards.LISTERS["kinetics"](kin_root)
  assert kin.class_names == ("abseiling", "air drumming", "zumba")
  assert {k: len(v) for k, v in kin.splits.items()} == {"train": 6, "val": 7}
  untrimmed = next(e for e in kin.entries if e.video_id.startswith("untrimmed"))
  assert (untrimmed.start_s, untrimmed.end_s) == (1.0, 2.0)
  assert untrimmed.path.endswith("untrimmedAA.mp4")


def test_ucf101_prepare_reports_bad_videos(ucf101):
  _, out, info, bad = ucf101
  assert skipped_reasons(out) == bad
  assert info.split_sizes == {"train1": 6, "test1": 3}
  assert info.skipped == {"truncated": 1, "zero_length": 1, "missing": 1}
  assert len(info.shards) == 3  # 12 listed videos, 4 per shard


def test_ucf101_batches_through_the_pipeline(ucf101):
  _, out, _, _ = ucf101
  cfg = real_config("ucf101", out)
  info = pipeline.dataset_info(cfg)
  assert (info.num_classes, info.num_train, info.num_eval) == (3, 6, 3)
  batches = pipeline.make_train_iterator(cfg, global_batch_size=4, seed=3)
  first = next(batches)
  assert first["video"].shape == (4, 4, 24, 24, 3)
  assert first["video"].dtype == np.float32
  assert -1 <= first["video"].min() and first["video"].max() <= 1
  assert set(first["label"]) <= {0, 1, 2}
  again = next(pipeline.make_train_iterator(cfg, global_batch_size=4, seed=3))
  other = next(pipeline.make_train_iterator(cfg, global_batch_size=4, seed=4))
  np.testing.assert_array_equal(first["video"], again["video"])
  assert not np.array_equal(first["video"], other["video"])


def test_ucf101_multi_view_eval(ucf101):
  _, out, _, _ = ucf101
  cfg = real_config("ucf101", out)
  assert real_video.num_views(cfg) == 6  # 2 clips x 3 crops
  views = list(pipeline.make_eval_iterator(cfg, global_batch_size=8))
  video_index = np.concatenate([b["video_index"] for b in views])
  mask = np.concatenate([b["mask"] for b in views])
  labels = np.concatenate([b["label"] for b in views])
  assert views[0]["video"].shape == (8, 4, 24, 24, 3)
  np.testing.assert_array_equal(video_index[mask > 0], np.repeat(np.arange(3), 6))
  np.testing.assert_array_equal(labels[mask > 0], np.repeat([0, 1, 2], 6))
  # The three crops of a clip differ; the same view decodes identically.
  first = views[0]["video"]
  assert not np.array_equal(first[0], first[1])
  replay = list(pipeline.make_eval_iterator(cfg, global_batch_size=8))
  np.testing.assert_array_equal(replay[0]["video"], first)


def test_prepare_command_line(ucf101):
  """`python -m video_flax.data.prepare` (absl flags) on a prepared folder:
  the same options find every shard done and report the same splits; a
  wrong option is named."""
  root, out, info, _ = ucf101
  command = [sys.executable, "-m", "video_flax.data.prepare",
             "--dataset=ucf101", f"--root={root}", f"--out={out}",
             "--fps=25", "--short_side=32", "--shard_size=4",
             "--num_workers=1", "--noprogress"]
  done = subprocess.run(command, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert f"{info.num_records} videos in {len(info.shards)} shards" in (
      done.stderr)
  other = subprocess.run(command[:-3] + ["--shard_size=5"],
                         capture_output=True, text=True, timeout=300)
  assert other.returncode != 0 and "different options" in other.stderr
  bad = subprocess.run(command[:3] + ["--dataset=nope"], capture_output=True,
                       text=True, timeout=300)
  assert bad.returncode != 0 and "--dataset" in bad.stderr
  backend = subprocess.run(command + ["--flow", "--flow_backend=torch"],
                           capture_output=True, text=True, timeout=300)
  assert backend.returncode != 0 and "--flow_backend" in backend.stderr


def test_prepare_resumes_after_an_interruption(ucf101, tmp_path):
  root, out, info, _ = ucf101
  shard_dir = os.path.join(out, video_records.SHARD_DIR)
  before = {s: os.path.getmtime(os.path.join(shard_dir, s)) for s in info.shards}
  with open(os.path.join(shard_dir, info.shards[1]), "rb") as f:
    original = f.read()
  # Interrupted while writing shard 1: no marker, a half-written file.
  os.remove(os.path.join(shard_dir, info.shards[1] + ".done.json"))
  with open(os.path.join(shard_dir, info.shards[1]), "wb") as f:
    f.write(original[:100])
  resumed = shards.prepare_dataset("ucf101", root, out, SMALL, progress=False)
  assert resumed == info
  after = {s: os.path.getmtime(os.path.join(shard_dir, s)) for s in info.shards}
  assert [before[s] == after[s] for s in info.shards] == [True, False, True]
  with open(os.path.join(shard_dir, info.shards[1]), "rb") as f:
    assert f.read() == original
  other = encode.PrepareOptions(fps=30, short_side=32, shard_size=4)
  with pytest.raises(ValueError, match="different options"):
    shards.prepare_dataset("ucf101", root, out, other, progress=False)


def test_kinetics_layouts_segments_and_bad_files(tmp_path):
  root = str(tmp_path / "kinetics")
  bad = trees.write_kinetics(root)
  out = str(tmp_path / "prepared")
  info = shards.prepare_dataset("kinetics", root, out, SMALL, progress=False)
  assert skipped_reasons(out) == bad
  assert info.split_sizes == {"train": 6, "val": 4}
  dataset = real_video.load(real_config("kinetics", out))
  source = dataset.source("val")
  records = [video_records.decode_record(source[i]) for i in range(len(source))]
  untrimmed = next(r for r in records if r["video_id"].startswith("untrimmed"))
  frames = video_records.decode_frames(untrimmed, range(untrimmed["num_frames"]))
  # The CSV's [1 s, 2 s) of a 25 fps video: source frames 25..49.
  assert [trees.frame_number(f) for f in frames] == list(range(25, 50))
  # The 30 fps val clips were resampled to 25 fps: 30 frames -> 25.
  assert sorted(r["num_frames"] for r in records) == [25, 25, 25, 25]
  cfg = real_config("kinetics", out, eval_split="val", eval_crop="full")
  views = next(pipeline.make_eval_iterator(cfg, global_batch_size=2))
  assert views["video"].shape == (2, 4, 24, 32, 3)


def test_hmdb51_with_optical_flow(tmp_path):
  root = str(tmp_path / "hmdb")
  bad = trees.write_hmdb51(root)
  out = str(tmp_path / "prepared")
  options = encode.PrepareOptions(fps=10, short_side=24, flow=True,
                                  min_frames=4)
  info = shards.prepare_dataset("hmdb51", root, out, options, progress=False)
  assert skipped_reasons(out) == bad
  assert info.flow and info.split_sizes == {"train1": 4, "test1": 2}
  cfg = real_config("hmdb51", out, streams="rgb+flow", crop_size=16,
                    scale_jitter=())
  batch = next(pipeline.make_train_iterator(cfg, global_batch_size=4, seed=0))
  assert batch["video"].shape == (4, 4, 16, 16, 3)
  assert batch["flow"].shape == (4, 4, 16, 16, 2)
  # The texture moves right (x flow > 0). A flipped clip is the unflipped
  # one (same seed, so same window and crop) mirrored, with x flow negated.
  record = real_video.source(cfg, "train")[0]
  unflipped_cfg = real_config("hmdb51", out, streams="rgb+flow", crop_size=16,
                              scale_jitter=(), flip=False)
  flipped = []
  for seed in range(8):
    a = real_video.train_example(cfg, record, np.random.default_rng(seed))
    b = real_video.train_example(unflipped_cfg, record,
                                 np.random.default_rng(seed))
    assert np.median(b["flow"][..., 0]) > 0.02
    if np.array_equal(a["video"], b["video"]):
      np.testing.assert_array_equal(a["flow"], b["flow"])
      flipped.append(False)
    else:
      np.testing.assert_array_equal(a["video"], b["video"][:, :, ::-1])
      np.testing.assert_array_equal(a["flow"][..., 0], -b["flow"][:, :, ::-1, 0])
      np.testing.assert_array_equal(a["flow"][..., 1], b["flow"][:, :, ::-1, 1])
      flipped.append(True)
  assert set(flipped) == {False, True}
  with pytest.raises(ValueError, match="without --flow"):
    hmdb_no_flow = str(tmp_path / "no_flow")
    shards.prepare_dataset("hmdb51", root, hmdb_no_flow,
                           encode.PrepareOptions(fps=10, short_side=24,
                                                 min_frames=4),
                           progress=False)
    real_video.load(real_config("hmdb51", hmdb_no_flow, streams="flow"))


@pytest.mark.slow
def test_train_steps_and_multi_view_eval_on_ucf101(ucf101, tmp_path):
  _, out, _, _ = ucf101
  config = base_config.get_base_config()
  config.dataset = real_config("ucf101", out)
  config.model.name = "ir_csn_tiny"
  config.train.batch_size = 4
  config.train.num_steps = 2
  config.train.warmup_steps = 1
  config.train.log_every_steps = 1
  config.eval.batch_size = 6
  config.eval.precise_bn_batches = 1
  results = train.train_and_evaluate(config, str(tmp_path / "run"))
  assert results["num_examples"] == 18  # 3 test videos x 6 views
  assert 0.0 <= results["top1"] <= 1.0
  assert results["video"]["num_videos"] == 3


def test_bad_real_video_configs_are_named(ucf101):
  _, out, _, _ = ucf101
  with pytest.raises(ValueError, match="eval_crop='four'"):
    pipeline.dataset_info(real_config("ucf101", out, eval_crop="four",
                                      streams="rgb"))
  with pytest.raises(ValueError, match="split 'val' .* available: test1, train1"):
    pipeline.dataset_info(real_config("ucf101", out, eval_split="val"))
  with pytest.raises(ValueError, match="holds prepared 'ucf101'"):
    pipeline.dataset_info(real_config("hmdb51", out))
  with pytest.raises(ValueError, match="clip sampling preset 'i3d_v2'"):
    pipeline.dataset_info(real_config("ucf101", out, clip_sampling="i3d_v2"))
  partial = real_config("ucf101", out)
  del partial["fold"], partial["clip_sampling"]
  with pytest.raises(ValueError, match="lacks fold, clip_sampling"):
    pipeline.dataset_info(partial)

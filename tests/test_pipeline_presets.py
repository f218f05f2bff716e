"""benchmark_data's per-preset table: the flow copy it times the flow
presets on, and the per-core arithmetic it prints."""
import os

from array_record.python import array_record_module
import numpy as np

from video_flax.data import clip_sampling
from video_flax.data import video_records
from video_flax.data import video_source
from video_flax.tools import pipeline_presets
from tests import real_video_trees


def write_prepared(out):
  """A prepared ucf101 folder of two 12-frame videos, without flow."""
  os.makedirs(os.path.join(out, video_records.SHARD_DIR))
  name = "videos-00000-of-00001.array_record"
  writer = array_record_module.ArrayRecordWriter(
      os.path.join(out, video_records.SHARD_DIR, name), "group_size:1")
  for v in range(2):
    writer.write(video_records.encode_record(
        video_id=f"v{v}", label=v, fps=25.0, jpeg_quality=90, flow=None,
        frames=real_video_trees.counter_frames(12, seed=v)))
  writer.close()
  video_records.write_json(os.path.join(out, video_records.SPLITS_FILE),
                           {"train1": [0, 1], "test1": [0, 1]})
  video_records.PreparedInfo(
      dataset="ucf101", class_names=("a", "b"), fps=25.0, short_side=None,
      flow=False, shards=(name,), num_records=2,
      split_sizes={"train1": 2, "test1": 2}, skipped={}).save(out)


def test_flow_copy_feeds_the_two_stream_preset(tmp_path, capsys):
  plain, flow = str(tmp_path / "plain"), str(tmp_path / "flow")
  write_prepared(plain)
  pipeline_presets.copy_with_flow(plain, flow)
  preset = clip_sampling.PRESETS["two_stream"]
  options = video_source.ClipOptions(
      train_clip=preset.train, test_clip=preset.test, num_test_clips=1,
      crop_size=32, keys=("video", "flow"))
  record = video_source.PreparedDataset(flow).source("train")[1]
  example = video_source.train_example(record, options,
                                       np.random.default_rng(0))
  assert example["video"].shape == (1, 32, 32, 3) and example["label"] == 1
  assert example["flow"].shape == (10, 32, 32, 2)
  # The stand-in field: x around +-0.15 (sign by the flip), y around 0.
  assert 0.1 < abs(np.median(example["flow"][..., 0])) < 0.2
  assert abs(np.median(example["flow"][..., 1])) < 0.06
  pipeline_presets.report("fused_3d", 25.0)
  lines = capsys.readouterr().out.splitlines()
  # 40 clips/s per core, 640 on 16 cores, / 252 clips/s on the GPU.
  assert lines[0].split() == ["fused_3d", "25.0", "40.0", "640"]
  assert lines[1].endswith("252 clips/s -> 2.5x")

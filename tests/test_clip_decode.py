"""The training clip path (decode straight to RGB, cut to the box while
decoding, flow converted to float after the crop, fused flip +
normalisation) against the plain computation: BGR decode of whole frames,
BGR -> RGB, crop, resize, mirror, float64 ((x / 255) - mean) / std; whole
flow frames to float, crop, resize, scale, mirror."""
import cv2
import numpy as np
import pytest

from video_flax.data import augment
from video_flax.data import clip_sampling
from video_flax.data import flow_codec
from video_flax.data import video_records
from video_flax.data import video_source
from tests import real_video_trees


def plain_resize(cut, size):
  if cut.shape[1] == size:
    return cut
  interp = cv2.INTER_AREA if cut.shape[1] > size else cv2.INTER_LINEAR
  return np.stack([cv2.resize(np.ascontiguousarray(f), (size, size),
                              interpolation=interp) for f in cut]
                  ).reshape(len(cut), size, size, -1)


def plain_flow(record, indices, box, size, flip):
  """Whole flow frames to float, then crop, resize (vectors scaled), mirror."""
  packed = np.stack([cv2.imdecode(np.frombuffer(record["flow"][i], np.uint8),
                                  cv2.IMREAD_GRAYSCALE) for i in indices])
  flow = flow_codec.dequantize_flow(packed)
  cut = flow[:, box.top:box.top + box.height, box.left:box.left + box.width]
  flow = plain_resize(cut, size)
  if size != box.height:
    flow = np.clip(flow * (size / box.height), -1, 1)
  if flip:
    flow = flow[:, :, ::-1] * np.array([-1, 1], np.float32)
  return flow


def plain_clip(record, options, seed):
  """(clip, flip): the same draws as video_source.train_example, computed
  the plain way."""
  rng = np.random.default_rng(seed)
  clip = clip_sampling.random_clip(options.train_clip, record["num_frames"],
                                   record["fps"], rng, options.short_video)
  box = augment.random_crop_box(record["height"], record["width"],
                                options.crop_size, options.scale_jitter, rng)
  flip = options.flip and bool(rng.integers(0, 2))
  frames = np.stack([
      cv2.imdecode(np.frombuffer(record["frames"][i], np.uint8),
                   cv2.IMREAD_COLOR)[..., ::-1] for i in clip.rgb])
  cut = frames[:, box.top:box.top + box.height, box.left:box.left + box.width]
  size = options.crop_size
  flow = plain_flow(record, clip.flow, box, size, flip)
  cut = plain_resize(cut, size)
  if flip:
    cut = cut[:, :, ::-1]
  mean, std = (np.asarray(v) for v in
               augment.NORMALIZATIONS[options.normalization])
  return (cut / 255 - mean) / std, flow, flip


@pytest.mark.parametrize("jitter,normalization", [
    (None, "minus_one_one"), ((40, 70), "kinetics")])
def test_train_clip_matches_the_plain_computation(jitter, normalization):
  frames = real_video_trees.counter_frames(20, height=60, width=80)
  # A smooth flow field with some texture, in [-1, 1].
  flow = (frames[..., :2].astype(np.float32) / 255 - 0.5) * 0.8
  data = video_records.encode_record(video_id="v", label=3, fps=25.0,
                                     frames=frames, flow=flow, jpeg_quality=90)
  record = video_records.decode_record(data)
  spec = clip_sampling.ClipSpec(3, 4, flow_per_frame=2)
  options = video_source.ClipOptions(
      train_clip=spec, test_clip=spec, num_test_clips=1, crop_size=32,
      keys=("video", "flow"), scale_jitter=jitter,
      normalization=normalization)
  flips = set()
  for seed in range(6):
    got = video_source.train_example(data, options, np.random.default_rng(seed))
    expected, expected_flow, flip = plain_clip(record, options, seed)
    assert got["video"].dtype == np.float32 and got["label"] == 3
    # Same decoder and same resize: equal up to the float32 rounding of the
    # normalisation table.
    np.testing.assert_allclose(got["video"], expected, rtol=0, atol=1e-5)
    # Float conversion moved after the crop: the same float32 values.
    assert got["flow"].dtype == np.float32
    np.testing.assert_allclose(got["flow"], expected_flow, rtol=0, atol=1e-6)
    flips.add(flip)
  assert flips == {False, True}  # mirrored and plain clips were both checked

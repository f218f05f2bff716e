"""Test views of one video file, as converted weights expect them.

A video is decoded once (PyAV, at `preprocessing.fps`, short side resized),
`eval_num_clips` clips are spread uniformly over it (data/clip_sampling.py)
and each is cut into the `eval_crop` crops (data/augment.py): clips x
crops views, normalised as the weights' `Preprocessing` says. Used by
`predict` and `extract_features`.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from video_flax.data import augment
from video_flax.data import clip_sampling
from video_flax.data import flow_codec
from video_flax.data.prepare import decode as video_decode
from video_flax.data.prepare import flow as optical_flow
from video_flax.weights import Preprocessing


@dataclasses.dataclass(frozen=True)
class Views:
  """inputs: {input key: float32 [V, T, h, w, C]} model inputs;
  frames: uint8 RGB [V, T, h, w, 3], the same views before normalisation;
  clips: how many of the V views are distinct clips (V = clips x crops)."""
  inputs: dict[str, np.ndarray]
  frames: np.ndarray
  clips: int


def normalize(frames: np.ndarray, pre: Preprocessing) -> np.ndarray:
  """uint8 RGB [..., H, W, 3] -> float32: channels put in channel_order,
  then (v / 255 - mean) / std per channel, then mapped linearly from [0, 1]
  to value_range."""
  if pre.channel_order == "BGR":
    frames = frames[..., ::-1]
  lo, hi = pre.value_range
  values = np.arange(256, dtype=np.float64)[:, None] / 255
  table = (values - np.asarray(pre.mean)) / np.asarray(pre.std)
  table = (lo + (hi - lo) * table).astype(np.float32)[None]  # [1, 256, 3]
  shape = frames.shape  # one LUT call on the views as one tall image
  flat = np.ascontiguousarray(frames).reshape(-1, shape[-2], shape[-1])
  return cv2.LUT(flat, table).reshape(shape)


def scale_flow(flow: np.ndarray, pre: Preprocessing) -> np.ndarray:
  """TV-L1 flow in [-1, 1] (= +-20 px) -> pre.flow_scale's clip and range."""
  scale = pre.flow_scale or {}
  clip_px = float(scale.get("clip_px", flow_codec.FLOW_BOUND))
  lo, hi = scale.get("range", (-1.0, 1.0))
  if clip_px > flow_codec.FLOW_BOUND:
    raise ValueError(f"flow_scale clip_px={clip_px} exceeds the "
                     f"{flow_codec.FLOW_BOUND} px this project's TV-L1 "
                     "flow is clipped to")
  unit = np.clip(flow * flow_codec.FLOW_BOUND, -clip_px, clip_px) / clip_px
  return (lo + (hi - lo) * (unit + 1) / 2).astype(np.float32)


def _clip_flow(frames: np.ndarray, rgb: np.ndarray) -> np.ndarray:
  """Flow from each clip frame to the next stored frame: [T, H, W, 2]."""
  nxt = np.minimum(rgb + 1, len(frames) - 1)
  return np.stack([optical_flow.tvl1_flow(frames[[i, j]])[0]
                   for i, j in zip(rgb, nxt)])


def sample_views(path: str, pre: Preprocessing) -> Views:
  """Decodes `path` and cuts its test views.

  Raises:
    data.prepare.decode.VideoDecodeError naming the file and the reason.
  """
  video_decode.check_extension(path)
  decoded = video_decode.decode_video(path, fps=pre.fps,
                                      short_side=pre.resize_short_side)
  frames = decoded.frames
  spec = clip_sampling.ClipSpec(pre.num_frames, pre.frame_stride)
  clips = clip_sampling.view_clips(spec, len(frames), decoded.fps,
                                   pre.eval_num_clips)
  boxes = augment.view_crop_boxes(*frames.shape[1:3], pre.eval_crop)
  size = augment.eval_output_size(pre.crop_size, pre.eval_crop)
  rgb = np.stack([augment.crop_resize(frames[c.rgb], box, size)
                  for c in clips for box in boxes])
  inputs = {}
  if "video" in pre.input_keys:
    inputs["video"] = normalize(rgb, pre)
  if "flow" in pre.input_keys:
    flows = [_clip_flow(frames, c.rgb) for c in clips]
    inputs["flow"] = scale_flow(np.stack(
        [augment.crop_resize_flow(f, box, size)
         for f in flows for box in boxes]), pre)
  return Views(inputs=inputs, frames=rgb, clips=len(clips))

"""The augmentation stack of every dataset (synthetic and real clips):
crop boxes, crop + resize, horizontal flips and normalisation.

A crop is a box in stored-frame pixels, the same for every frame and every
stream of a clip: random (optionally scale-jittered) for training, centred,
or 1 or 3 squares (or the full frame) for testing. Resizing the box to the
output size is where scale jitter happens, so only the pixels that are used
are resized. Flow vectors are rescaled with the frame and their x component
negated by a horizontal flip. `cut_clip` applies one box and one flip to a
clip's streams. Which frames a clip uses is clip_sampling.py's concern.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

# (mean, std) of pixel values in [0, 1]; 'minus_one_one' maps to [-1, 1] (I3D).
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "minus_one_one": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "kinetics": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}
# x / 127.5 - 1 in float32 arithmetic, for any number of channels: how the
# synthetic set's clips and stored flow bytes map to [-1, 1]. The same as
# 'minus_one_one' up to float32 rounding (2**-23; that one is computed in
# float64 and rounded once).
BYTES_TO_UNIT = "bytes_to_unit"
EVAL_CROPS = ("center", "three", "full")
FULL_FRAME_ASPECT = 4 / 3  # 'full' frames are resized to crop x crop*4/3


@dataclasses.dataclass(frozen=True)
class Box:
  top: int
  left: int
  height: int
  width: int


def random_crop_box(height: int, width: int, crop_size: int,
                    scale_jitter: tuple[int, int] | None,
                    rng: np.random.Generator) -> Box:
  """A random square box; with scale_jitter (lo, hi) it is the box that a
  crop_size crop covers after resizing the short side to U[lo, hi] pixels."""
  short = min(height, width)
  if scale_jitter:
    target_short = int(rng.integers(scale_jitter[0], scale_jitter[1] + 1))
    side = int(round(crop_size * short / target_short))
  else:
    side = crop_size
  side = max(1, min(side, short))
  top = int(rng.integers(0, height - side + 1))
  left = int(rng.integers(0, width - side + 1))
  return Box(top, left, side, side)


def center_crop_box(height: int, width: int, crop_size: int) -> Box:
  """The centred crop_size square; ValueError when the frame is smaller."""
  if crop_size > min(height, width):
    raise ValueError(f"crop_size={crop_size} is larger than the "
                     f"{height}x{width} frames")
  return Box((height - crop_size) // 2, (width - crop_size) // 2, crop_size,
             crop_size)


def view_crop_boxes(height: int, width: int, eval_crop: str) -> list[Box]:
  """Test boxes: 'center' (1 square), 'three' (squares at the start, middle
  and end of the long side), 'full' (the whole frame)."""
  short = min(height, width)
  if eval_crop == "full":
    return [Box(0, 0, height, width)]
  if eval_crop not in ("center", "three"):
    raise ValueError(f"eval_crop must be one of {EVAL_CROPS}, got "
                     f"{eval_crop!r}")
  room = max(height, width) - short
  offsets = [room // 2] if eval_crop == "center" else [0, room // 2, room]
  if height >= width:
    return [Box(o, 0, short, short) for o in offsets]
  return [Box(0, o, short, short) for o in offsets]


def eval_output_size(crop_size: int, eval_crop: str) -> tuple[int, int]:
  """(height, width) of test views."""
  if eval_crop == "full":
    return crop_size, int(round(crop_size * FULL_FRAME_ASPECT))
  return crop_size, crop_size


def box_window(box: Box) -> tuple[slice, slice]:
  """(rows, columns) slices of `box`."""
  return (slice(box.top, box.top + box.height),
          slice(box.left, box.left + box.width))


def crop_resize(frames: np.ndarray, box: Box, size: tuple[int, int]
                ) -> np.ndarray:
  """[T, H, W, C] -> [T, size[0], size[1], C] (box cut out, then resized)."""
  rows, cols = box_window(box)
  cut = frames[:, rows, cols]
  if cut.shape[1:3] == tuple(size):
    return np.ascontiguousarray(cut)
  shrink = box.height > size[0]
  interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
  out = [cv2.resize(f, (size[1], size[0]), interpolation=interp) for f in cut]
  return np.stack(out).reshape(len(cut), size[0], size[1], frames.shape[-1])


def crop_resize_flow(flow: np.ndarray, box: Box, size: tuple[int, int]
                     ) -> np.ndarray:
  """Like crop_resize for float flow [T, H, W, 2] in [-1, 1]; the vectors are
  scaled with the image (a 2x enlargement doubles the displacement)."""
  out = crop_resize(flow, box, size)
  scale = np.array([size[1] / box.width, size[0] / box.height], np.float32)
  if np.all(scale == 1.0):
    return out
  return np.clip(out * scale, -1.0, 1.0)


def flip_flow(flow: np.ndarray) -> np.ndarray:
  """Mirror [..., H, W, 2] flow left-right: reverse W and negate x (OpenCV
  on the frames viewed as one tall image: ~3x numpy's strided copy)."""
  flat = np.ascontiguousarray(flow).reshape(-1, flow.shape[-2], 2)
  return cv2.multiply(cv2.flip(flat, 1), (-1.0, 1.0, 0.0, 0.0)
                      ).reshape(flow.shape)


@functools.lru_cache(maxsize=None)
def _normalization_table(normalization: str) -> np.ndarray:
  """float32 [1, 256, 3]: ((v / 255) - mean) / std for every byte v
  ([1, 256, 1], the same for every channel, for BYTES_TO_UNIT)."""
  if normalization == BYTES_TO_UNIT:
    values = np.arange(256).astype(np.float32)
    return (values * np.float32(1 / 127.5) - np.float32(1.0))[None, :, None]
  if normalization not in NORMALIZATIONS:
    raise ValueError(f"Unknown normalization {normalization!r}; known: "
                     f"{', '.join(NORMALIZATIONS)}")
  mean, std = (np.asarray(v, np.float64) for v in NORMALIZATIONS[normalization])
  table = (np.arange(256, dtype=np.float64)[:, None] / 255 - mean) / std
  return table.astype(np.float32)[None]


def normalize(frames: np.ndarray, normalization: str, *, flip: bool = False
              ) -> np.ndarray:
  """uint8 [T, H, W, C] -> float32 RGB ((x / 255) - mean) / std.

  Args:
    normalization: a NORMALIZATIONS name (C = 3) or BYTES_TO_UNIT (any C).
    flip: mirror left-right as well.

  One table lookup per byte (cv2.LUT) on the frames viewed as one tall
  image: ~7x faster than numpy's per-channel broadcasting, which is the
  costliest step of a clip otherwise.
  """
  t, h, w, c = frames.shape
  flat = np.ascontiguousarray(frames).reshape(t * h, w, c)
  if flip:
    flat = cv2.flip(flat, 1)  # each row of the tall image = a row of a frame
  return cv2.LUT(flat, _normalization_table(normalization)).reshape(t, h, w, c)


def cut_clip(box: Box, size: tuple[int, int], *, flip: bool,
             normalization: str, video: np.ndarray | None = None,
             flow: np.ndarray | None = None) -> dict[str, np.ndarray]:
  """One box and one flip applied to the streams of a clip.

  Args:
    box, size: the crop box and the (height, width) it is resized to.
    flip: mirror left-right (flow x negated).
    normalization: of the video (see `normalize`).
    video: uint8 [T, H, W, 3] RGB frames, or None.
    flow: float [T', H, W, 2] in [-1, 1], or None.

  Returns:
    'video' float32 [T, size, 3] and/or 'flow' float32 [T', size, 2], for
    the streams given.
  """
  out = {}
  if video is not None:
    out["video"] = normalize(crop_resize(video, box, size), normalization,
                             flip=flip)
  if flow is not None:
    flow = crop_resize_flow(flow, box, size)
    out["flow"] = (flip_flow(flow) if flip else flow).astype(np.float32,
                                                             copy=False)
  return out

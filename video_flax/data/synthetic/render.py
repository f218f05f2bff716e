"""Procedural video clips whose class is defined only by motion.

Each clip shows one bright, striped shape of a random hue over a darker
textured background that drifts in a random direction. Appearance (shape,
size, colours, textures, background, background motion) and the start
state (position, orientation, phase) are drawn independently of the label;
the label only chooses how the shape moves (motions.py).

Why a single frame carries no label information: the scene is a torus (the
shape and the background wrap around the frame edges), the start position
and orientation are uniform, so the position and orientation at any frame
are uniform whatever the motion; everything else is drawn without looking at
the label. Frame 0 is even bit-identical across classes for the same seed
(trajectories are measured from the start point), which the tests check.

The generator also knows each clip's exact optical flow (`render_flow`):
the shape's step and turn inside it, the background's drift outside.

`generate_split` is deterministic in (variant seed, split): clips are made in
fixed-size chunks, each from its own seeded generator.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from video_flax.data.synthetic import motions

SHAPES = ("disc", "ellipse", "square", "triangle", "cross")
CHUNK_SIZE = 64  # clips drawn per generator; fixed so output never depends on it

def _wave(u: np.ndarray, kind: np.ndarray) -> np.ndarray:
  """Sine (kind 0) or triangle (kind 1) wave of period 1, range [-1, 1]."""
  triangle = 1.0 - 4.0 * np.abs(np.mod(u - 0.25, 1.0) - 0.5)
  return np.where(kind == 1, triangle, np.sin(2 * np.pi * u))


def _motion_table(classes: Sequence[motions.Motion]) -> dict[str, np.ndarray]:
  """Per-class motion parameters as arrays indexed by label."""
  return {
      "velocity": np.array([m.velocity for m in classes], np.float64),
      "orbit": np.array([m.orbit for m in classes], np.float64),
      "lag": np.array([m.lag for m in classes], np.float64),
      "period": np.array([m.period for m in classes], np.float64),
      "wave": np.array([motions.WAVES.index(m.wave) for m in classes]),
      "spin": np.array([m.spin for m in classes], np.float64),
  }


def _draw_appearance(rng: np.random.Generator, n: int, size: int
                     ) -> dict[str, np.ndarray]:
  """Everything about n clips except the label's motion; label-independent."""
  bg_dir = rng.uniform(0, 2 * np.pi, n)
  # A bright shape (random hue, darker stripes of the same hue) over a dark
  # background: the shape must stand out for a small net to find its motion
  # in minutes; random colours on both sides (either polarity, any contrast)
  # left the default run at chance after 1000 steps.
  colour = rng.uniform(0.55, 1.0, (n, 3))
  stripes = colour * rng.uniform(0.55, 0.9, (n, 1))
  return {
      "start": rng.uniform(0, 1, (n, 2)),  # fraction of the frame size
      "angle": rng.uniform(0, 2 * np.pi, n),
      "phase": rng.uniform(0, 1, n),
      "pace": rng.uniform(0.85, 1.15, n),  # jitters speed, spin and orbit size
      "shape": rng.integers(0, len(SHAPES), n),
      "radius": rng.uniform(0.14, 0.22, n),  # fraction of the frame size
      "colours": np.stack([colour, stripes], 1),
      "grating_angle": rng.uniform(0, np.pi, (n, 2)),
      # Coarse stripes: finer ones alias at these speeds.
      "grating_freq": rng.uniform(0.05, 0.12, (n, 2)),  # cycles per pixel
      "grating_phase": rng.uniform(0, 2 * np.pi, (n, 2)),
      "grating_weight": rng.uniform(0, 1, n),
      "bg_white": rng.standard_normal((n, size, size)),
      "bg_slope": rng.uniform(1.5, 2.5, n),
      "bg_mean": rng.uniform(0.05, 0.35, (n, 3)),
      "bg_colour": rng.normal(0, 1, (n, 3)),
      "bg_contrast": rng.uniform(0.04, 0.1, n),
      "bg_velocity": (rng.uniform(0, 1.0, n)[:, None]
                      * np.stack([np.cos(bg_dir), np.sin(bg_dir)], -1)),
  }


def trajectories(labels: np.ndarray, appearance: dict[str, np.ndarray],
                 classes: Sequence[motions.Motion], num_frames: int, size: int
                 ) -> tuple[np.ndarray, np.ndarray]:
  """Centres [N, T, 2] (x, y in pixels, wrapped to [0, size)) and angles [N, T]."""
  table = {k: v[labels] for k, v in _motion_table(classes).items()}
  t = np.arange(num_frames, dtype=np.float64)[None, :]
  pace = appearance["pace"][:, None]
  u = appearance["phase"][:, None] + t / table["period"][:, None]
  lagged = u - table["lag"][:, None]
  wave = table["wave"][:, None]
  orbit_x = table["orbit"][:, :1] * (_wave(u, wave) - _wave(u[:, :1], wave))
  orbit_y = table["orbit"][:, 1:] * (_wave(lagged, wave)
                                     - _wave(lagged[:, :1], wave))
  offset = np.stack([table["velocity"][:, :1] * t + orbit_x,
                     table["velocity"][:, 1:] * t + orbit_y], -1)
  centres = np.mod(appearance["start"][:, None] * size
                   + pace[..., None] * offset, size)
  angles = appearance["angle"][:, None] + pace * table["spin"][:, None] * t
  return centres, angles


def _box(u: np.ndarray, v: np.ndarray, hu: float | np.ndarray,
         hv: float | np.ndarray) -> np.ndarray:
  return np.maximum(np.abs(u) - hu, np.abs(v) - hv)


def _signed_distance(shape: int, u: np.ndarray, v: np.ndarray,
                     r: np.ndarray) -> np.ndarray:
  """Signed distance (px, < 0 inside) to a shape of size r at the origin."""
  if shape == 0:
    return np.hypot(u, v) - r
  if shape == 1:
    return (np.hypot(u / r, v / (0.6 * r)) - 1.0) * 0.6 * r
  if shape == 2:
    return _box(u, v, 0.85 * r, 0.85 * r)
  if shape == 3:
    sides = [np.cos(a) * u + np.sin(a) * v for a in (0, 2 * np.pi / 3,
                                                     4 * np.pi / 3)]
    return np.maximum(np.maximum(sides[0], sides[1]), sides[2]) - 0.55 * r
  return np.minimum(_box(u, v, r, 0.4 * r), _box(u, v, 0.4 * r, r))


def _torus_offsets(centres: np.ndarray, size: int
                   ) -> tuple[np.ndarray, np.ndarray]:
  """Offsets of every pixel centre to each shape centre on the torus:
  dx [N, T, 1, S], dy [N, T, S, 1], in [-size / 2, size / 2)."""
  grid = np.arange(size, dtype=np.float32) + 0.5
  cx = np.asarray(centres[..., 0, None, None], np.float32)
  cy = np.asarray(centres[..., 1, None, None], np.float32)
  dx = np.mod(grid - cx + size / 2, size) - size / 2
  dy = np.mod(grid[:, None] - cy + size / 2, size) - size / 2
  return dx, dy


def _coverage(app: dict[str, np.ndarray], u: np.ndarray, v: np.ndarray,
              size: int) -> np.ndarray:
  """Anti-aliased coverage alpha [N, T, S, S] of each shape, from the
  offsets (u, v) in the shape's own (rotated) frame."""
  radius = np.asarray(app["radius"] * size, np.float32)[:, None, None, None]
  distance = np.empty_like(u)
  for shape in range(len(SHAPES)):
    idx = np.flatnonzero(app["shape"] == shape)
    if idx.size:
      distance[idx] = _signed_distance(shape, u[idx], v[idx], radius[idx])
  return np.clip(0.5 - distance, 0.0, 1.0)


def _render_shape(app: dict[str, np.ndarray], centres: np.ndarray,
                  angles: np.ndarray, size: int
                  ) -> tuple[np.ndarray, np.ndarray]:
  """Coverage alpha [N, T, S, S] and colour [N, T, S, S, 3] of each shape."""
  f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
  dx, dy = _torus_offsets(centres, size)
  cos, sin = f32(np.cos(angles)[..., None, None]), f32(np.sin(angles)[..., None, None])
  # (u, v): the offsets in the shape's own (rotated) frame.
  u = cos * dx + sin * dy
  v = cos * dy - sin * dx
  alpha = _coverage(app, u, v, size)
  # Two gratings fixed to the shape; their phase a*u + b*v + c splits into an
  # x part and a y part, so sin/cos run on [N, T, S] rows, not full frames.
  pattern = np.zeros_like(u)
  weights = np.stack([app["grating_weight"], 1 - app["grating_weight"]], -1)
  for k in range(2):
    wave = 2 * np.pi * app["grating_freq"][:, k, None, None, None]
    a = wave * np.cos(app["grating_angle"][:, k, None, None, None])
    b = wave * np.sin(app["grating_angle"][:, k, None, None, None])
    px = f32((a * cos - b * sin) * dx + app["grating_phase"][:, k, None, None, None])
    py = f32((a * sin + b * cos) * dy)
    w = f32(weights[:, k, None, None, None])
    pattern += (w * np.sin(px)) * np.cos(py) + (w * np.cos(px)) * np.sin(py)
  level = 0.5 + 0.5 * np.tanh(3.0 * pattern)
  c0 = f32(app["colours"][:, 0, None, None, None, :])
  c1 = f32(app["colours"][:, 1, None, None, None, :])
  return alpha, c0 + (c1 - c0) * level[..., None]


def _render_background(app: dict[str, np.ndarray], num_frames: int,
                       size: int) -> np.ndarray:
  """Drifting periodic 1/f^slope noise, [N, T, S, S, 3] in about [0, 1]."""
  fy = np.fft.fftfreq(size)[:, None]
  fx = np.fft.rfftfreq(size)[None, :]
  freq = np.hypot(fx, fy)
  # Zero DC and the Nyquist row/column so sub-pixel shifts stay real.
  keep = (freq > 0) & (np.abs(fx) < 0.5) & (np.abs(fy) < 0.5)
  amplitude = np.where(keep, np.maximum(freq, 1e-6), 1.0)[None] ** (
      -app["bg_slope"][:, None, None] / 2) * keep
  spectrum = (np.fft.rfft2(app["bg_white"]) * amplitude).astype(np.complex64)
  # A shift by t * velocity multiplies the spectrum by a separable phase.
  t = np.arange(num_frames)[None, :, None, None]
  shift = app["bg_velocity"][:, None, None, None, :]
  phase_x = np.exp(-2j * np.pi * t * fx * shift[..., 0]).astype(np.complex64)
  phase_y = np.exp(-2j * np.pi * t * fy * shift[..., 1]).astype(np.complex64)
  noise = np.fft.irfft2(spectrum[:, None] * phase_y * phase_x, s=(size, size))
  noise /= noise[:, :1].std(axis=(2, 3), keepdims=True) + 1e-8
  colour = app["bg_colour"] / np.linalg.norm(app["bg_colour"], axis=-1,
                                             keepdims=True)
  scale = (app["bg_contrast"][:, None] * colour)[:, None, None, None, :]
  background = noise[..., None] * scale.astype(np.float32)
  background += app["bg_mean"][:, None, None, None, :].astype(np.float32)
  return background


def render(labels: np.ndarray, appearance: dict[str, np.ndarray],
           classes: Sequence[motions.Motion], num_frames: int, size: int
           ) -> np.ndarray:
  """Clips of `labels` with `appearance`, uint8 [N, T, size, size, 3]."""
  centres, angles = trajectories(labels, appearance, classes, num_frames, size)
  alpha, frames = _render_shape(appearance, centres, angles, size)
  background = _render_background(appearance, num_frames, size)
  # In place: frames = 255 * (background + alpha * (colour - background)).
  frames -= background
  frames *= alpha[..., None]
  frames += background
  frames *= 255
  np.clip(frames, 0, 255, out=frames)
  return np.rint(frames, out=frames).astype(np.uint8)


def render_flow(labels: np.ndarray, appearance: dict[str, np.ndarray],
                classes: Sequence[motions.Motion], num_frames: int, size: int
                ) -> np.ndarray:
  """The exact optical flow of `render`'s clips, float32 [N, T, S, S, 2].

  Flow frame t is the displacement (x, y) in pixels of the content at each
  pixel of frame t between frames t and t + 1 (so a clip and its flow share
  indices, as in flow_codec.py; the last frame's is the motion on to frame
  T, which the generator knows). Inside a shape: its centre's step plus the
  turn about the centre, step + (R(turn) - I) d with d the pixel's offset to
  the centre; outside: the background's drift. Edge pixels blend the two by
  coverage, as the colours are blended.
  """
  centres, angles = trajectories(labels, appearance, classes, num_frames + 1,
                                 size)
  # Unwrapped steps: centres wrap around the torus.
  step = np.mod(np.diff(centres, axis=1) + size / 2, size) - size / 2
  turn = np.diff(angles, axis=1)[..., None, None]
  centres, angles = centres[:, :-1], angles[:, :-1]
  dx, dy = _torus_offsets(centres, size)
  cos, sin = np.cos(angles)[..., None, None], np.sin(angles)[..., None, None]
  alpha = _coverage(appearance, cos * dx + sin * dy, cos * dy - sin * dx,
                    size)
  c, s = np.cos(turn) - 1, np.sin(turn)
  shape_x = step[..., 0, None, None] + c * dx - s * dy
  shape_y = step[..., 1, None, None] + s * dx + c * dy
  background = appearance["bg_velocity"][:, None, None, None, :]
  shape = np.stack([shape_x, shape_y], -1)
  return (background + alpha[..., None] * (shape - background)).astype(
      np.float32)


def _split_labels(variant: motions.Variant, split: str) -> np.ndarray:
  """Balanced labels of a split in a seeded random order."""
  per_class = variant.num_clips(split) // len(variant.classes)
  labels = np.repeat(np.arange(len(variant.classes)), per_class)
  split_index = motions.SPLITS.index(split)
  rng = np.random.default_rng([variant.seed, split_index, 1])
  return rng.permutation(labels).astype(np.int32)


def generate_chunks(variant: motions.Variant, split: str
                    ) -> Iterator[dict[str, np.ndarray]]:
  """Yields chunks of a split, CHUNK_SIZE clips each (the last may be
  shorter), deterministic: {'video': uint8 [n, T, S, S, 3], 'flow': float32
  [n, T, S, S, 2] (pixels per frame, see render_flow), 'label': int32 [n]}."""
  labels = _split_labels(variant, split)
  split_index = motions.SPLITS.index(split)
  for chunk, start in enumerate(range(0, labels.size, CHUNK_SIZE)):
    chunk_labels = labels[start:start + CHUNK_SIZE]
    rng = np.random.default_rng([variant.seed, split_index, 0, chunk])
    appearance = _draw_appearance(rng, chunk_labels.size, variant.frame_size)
    args = (chunk_labels, appearance, variant.classes, variant.num_frames,
            variant.frame_size)
    yield {"video": render(*args), "flow": render_flow(*args),
           "label": chunk_labels}


def generate_split(variant: motions.Variant, split: str
                   ) -> tuple[np.ndarray, np.ndarray]:
  """All clips of a split: video uint8 [N, T, S, S, 3], label int32 [N]."""
  chunks = list(generate_chunks(variant, split))
  return (np.concatenate([c["video"] for c in chunks]),
          np.concatenate([c["label"] for c in chunks]))

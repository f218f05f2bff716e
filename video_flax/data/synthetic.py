"""Procedural video clips whose class is defined only by motion.

Each clip shows one bright, striped shape of a random hue over a darker
textured background that drifts in a random direction. Appearance (shape,
size, colours, textures, background, background motion) and the start
state (position, orientation, phase) are drawn independently of the label;
the label only chooses how the shape moves (`Motion`: direction, speed,
spin, orbit, oscillation, zigzag).

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

import dataclasses
import math
from collections.abc import Iterator, Sequence

import numpy as np

WAVES = ("sine", "triangle")
SHAPES = ("disc", "ellipse", "square", "triangle", "cross")
CHUNK_SIZE = 64  # clips drawn per generator; fixed so output never depends on it
SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class Motion:
  """How the shape of one class moves (pixels and radians per frame).

  Position at frame t: start + velocity * t + orbit(t) - orbit(0), with
  orbit(t) = (ax * w(phase + t / period), ay * w(phase + t / period - lag))
  and w a sine or triangle wave of period 1; orientation: start + spin * t.
  Image axes: x to the right, y down, so lag = +0.25 orbits clockwise and a
  positive spin turns clockwise on screen.
  """
  name: str
  velocity: tuple[float, float] = (0.0, 0.0)
  orbit: tuple[float, float] = (0.0, 0.0)
  lag: float = 0.0
  period: float = 8.0
  wave: str = "sine"
  spin: float = 0.0

  def __post_init__(self):
    if self.wave not in WAVES:
      raise ValueError(f"Motion {self.name!r}: wave={self.wave!r}; known: {WAVES}")
    if self.period <= 0:
      raise ValueError(f"Motion {self.name!r}: period={self.period} must be > 0")


@dataclasses.dataclass(frozen=True)
class Variant:
  """A preset: its classes, clips per class per split, and clip geometry."""
  name: str
  description: str
  classes: tuple[Motion, ...]
  train_per_class: int
  test_per_class: int
  num_frames: int = 8
  frame_size: int = 40
  seed: int = 0

  @property
  def class_names(self) -> tuple[str, ...]:
    return tuple(m.name for m in self.classes)

  def num_clips(self, split: str) -> int:
    per_class = {"train": self.train_per_class, "test": self.test_per_class}
    if split not in per_class:
      raise ValueError(f"Unknown split {split!r} of synthetic/{self.name}; "
                       f"known: {SPLITS}")
    return per_class[split] * len(self.classes)


_DIRECTIONS = {
    "right": (1.0, 0.0), "left": (-1.0, 0.0), "up": (0.0, -1.0),
    "down": (0.0, 1.0), "up_right": (1.0, -1.0), "up_left": (-1.0, -1.0),
    "down_right": (1.0, 1.0), "down_left": (-1.0, 1.0)}


def _velocity(direction: str, speed: float) -> tuple[float, float]:
  dx, dy = _DIRECTIONS[direction]
  norm = math.hypot(dx, dy)
  return (speed * dx / norm, speed * dy / norm)


def translate(direction: str, speed: float, name: str | None = None) -> Motion:
  """Straight-line motion at `speed` px/frame towards `direction`."""
  return Motion(name or direction, velocity=_velocity(direction, speed))


def spin(sense: str, rate: float, name: str | None = None) -> Motion:
  """Rotation in place; sense 'cw' or 'ccw', `rate` rad/frame."""
  return Motion(name or f"spin_{sense}", spin=rate if sense == "cw" else -rate)


def circle(sense: str, radius: float, period: float,
           name: str | None = None) -> Motion:
  """A circular orbit of `radius` px, one turn per `period` frames."""
  return Motion(name or f"circle_{sense}", orbit=(radius, radius),
                lag=0.25 if sense == "cw" else -0.25, period=period)


def oscillate(axis: tuple[float, float], amplitude: float, period: float,
              name: str) -> Motion:
  """Back and forth (sine) along `axis` (dx, dy), `amplitude` px."""
  norm = math.hypot(*axis)
  return Motion(name, orbit=(amplitude * axis[0] / norm,
                             amplitude * axis[1] / norm), period=period)


def zigzag(direction: str, speed: float, amplitude: float, period: float,
           name: str | None = None) -> Motion:
  """Straight motion plus a perpendicular triangle wave."""
  vx, vy = _velocity(direction, 1.0)
  return Motion(name or f"zigzag_{direction}",
                velocity=(speed * vx, speed * vy),
                orbit=(-amplitude * vy, amplitude * vx), period=period,
                wave="triangle")


_DEFAULT_CLASSES = (
    translate("right", 1.5), translate("left", 1.5),
    translate("up", 1.5), translate("down", 1.5),
    circle("cw", 4.0, 8.0), circle("ccw", 4.0, 8.0),
    spin("cw", 0.6), spin("ccw", 0.6),
    oscillate((1, 0), 4.0, 6.0, "oscillate_horizontal"),
    oscillate((0, 1), 4.0, 6.0, "oscillate_vertical"),
    zigzag("right", 1.5, 3.0, 4.0), zigzag("left", 1.5, 3.0, 4.0))

_PRETRAIN_CLASSES = (
    *(translate(d, s, f"{d}_{n}") for n, s in (("slow", 1.0), ("fast", 2.5))
      for d in _DIRECTIONS),
    *(spin(c, r, f"spin_{c}_{n}") for n, r in (("slow", 0.3), ("fast", 0.6))
      for c in ("cw", "ccw")),
    *(circle(c, r, p, f"circle_{c}_{n}")
      for n, r, p in (("small", 3.0, 6.0), ("large", 6.0, 10.0))
      for c in ("cw", "ccw")),
    oscillate((1, 0), 4.0, 6.0, "oscillate_horizontal"),
    oscillate((0, 1), 4.0, 6.0, "oscillate_vertical"),
    oscillate((1, 1), 4.0, 6.0, "oscillate_diagonal"),
    oscillate((1, -1), 4.0, 6.0, "oscillate_antidiagonal"),
    *(zigzag(d, 1.5, 3.0, 4.0) for d in ("right", "left", "up", "down")))

# UCF-101's role: new speeds of pretrain's directions and spins.
_TARGET_A_CLASSES = (
    *(translate(d, 1.75, f"{d}_medium") for d in _DIRECTIONS),
    spin("cw", 0.45, "spin_cw_medium"), spin("ccw", 0.45, "spin_ccw_medium"))

# HMDB-51's role: compositions of pretrain's motions, a faster oscillation.
_TARGET_B_CLASSES = (
    *(dataclasses.replace(translate(d, 1.5), name=f"{d}_spin_{c}",
                          spin=0.5 if c == "cw" else -0.5)
      for d in ("right", "left") for c in ("cw", "ccw")),
    zigzag("up_right", 1.5, 3.0, 4.0), zigzag("down_left", 1.5, 3.0, 4.0),
    dataclasses.replace(circle("cw", 4.0, 8.0), name="circle_cw_drift_right",
                        velocity=(1.0, 0.0)),
    dataclasses.replace(circle("ccw", 4.0, 8.0), name="circle_ccw_drift_right",
                        velocity=(1.0, 0.0)),
    oscillate((1, 0), 3.0, 3.0, "oscillate_horizontal_fast"),
    oscillate((0, 1), 3.0, 3.0, "oscillate_vertical_fast"))

VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("default", "12 motion classes; the newcomer's first run",
            _DEFAULT_CLASSES, train_per_class=250, test_per_class=100, seed=1),
    Variant("pretrain", "32 motion classes, many clips (Kinetics' role)",
            _PRETRAIN_CLASSES, train_per_class=250, test_per_class=40, seed=2),
    Variant("target_a", "10 new-speed classes, few clips (UCF-101's role)",
            _TARGET_A_CLASSES, train_per_class=30, test_per_class=20, seed=3),
    Variant("target_b", "10 composed-motion classes, fewer clips "
            "(HMDB-51's role)", _TARGET_B_CLASSES, train_per_class=20,
            test_per_class=20, seed=4),
    Variant("tiny", "the default classes, a few clips each (tests)",
            _DEFAULT_CLASSES, train_per_class=6, test_per_class=3, seed=5),
)}


def get_variant(name: str) -> Variant:
  if name not in VARIANTS:
    raise ValueError(f"Unknown synthetic variant {name!r}; known: "
                     f"{', '.join(VARIANTS)}")
  return VARIANTS[name]


def _wave(u: np.ndarray, kind: np.ndarray) -> np.ndarray:
  """Sine (kind 0) or triangle (kind 1) wave of period 1, range [-1, 1]."""
  triangle = 1.0 - 4.0 * np.abs(np.mod(u - 0.25, 1.0) - 0.5)
  return np.where(kind == 1, triangle, np.sin(2 * np.pi * u))


def _motion_table(classes: Sequence[Motion]) -> dict[str, np.ndarray]:
  """Per-class motion parameters as arrays indexed by label."""
  return {
      "velocity": np.array([m.velocity for m in classes], np.float64),
      "orbit": np.array([m.orbit for m in classes], np.float64),
      "lag": np.array([m.lag for m in classes], np.float64),
      "period": np.array([m.period for m in classes], np.float64),
      "wave": np.array([WAVES.index(m.wave) for m in classes]),
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
                 classes: Sequence[Motion], num_frames: int, size: int
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
           classes: Sequence[Motion], num_frames: int, size: int) -> np.ndarray:
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
                classes: Sequence[Motion], num_frames: int, size: int
                ) -> np.ndarray:
  """The exact optical flow of `render`'s clips, float32 [N, T, S, S, 2].

  Flow frame t is the displacement (x, y) in pixels of the content at each
  pixel of frame t between frames t and t + 1 (so a clip and its flow share
  indices, as in optical_flow.py; the last frame's is the motion on to frame
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


def _split_labels(variant: Variant, split: str) -> np.ndarray:
  """Balanced labels of a split in a seeded random order."""
  per_class = variant.num_clips(split) // len(variant.classes)
  labels = np.repeat(np.arange(len(variant.classes)), per_class)
  rng = np.random.default_rng([variant.seed, SPLITS.index(split), 1])
  return rng.permutation(labels).astype(np.int32)


def generate_chunks(variant: Variant, split: str
                    ) -> Iterator[dict[str, np.ndarray]]:
  """Yields chunks of a split, CHUNK_SIZE clips each (the last may be
  shorter), deterministic: {'video': uint8 [n, T, S, S, 3], 'flow': float32
  [n, T, S, S, 2] (pixels per frame, see render_flow), 'label': int32 [n]}."""
  labels = _split_labels(variant, split)
  for chunk, start in enumerate(range(0, labels.size, CHUNK_SIZE)):
    chunk_labels = labels[start:start + CHUNK_SIZE]
    rng = np.random.default_rng([variant.seed, SPLITS.index(split), 0, chunk])
    appearance = _draw_appearance(rng, chunk_labels.size, variant.frame_size)
    args = (chunk_labels, appearance, variant.classes, variant.num_frames,
            variant.frame_size)
    yield {"video": render(*args), "flow": render_flow(*args),
           "label": chunk_labels}


def generate_split(variant: Variant, split: str
                   ) -> tuple[np.ndarray, np.ndarray]:
  """All clips of a split: video uint8 [N, T, S, S, 3], label int32 [N]."""
  chunks = list(generate_chunks(variant, split))
  return (np.concatenate([c["video"] for c in chunks]),
          np.concatenate([c["label"] for c in chunks]))

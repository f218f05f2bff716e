"""The synthetic set's classes: how the shape of each class moves, and the
presets (`VARIANTS`) that group classes, clip counts and clip geometry.

A class is only a motion (`Motion`: direction, speed, spin, orbit,
oscillation, zigzag); everything else about a clip is drawn independently
of the label by render.py, so a single frame carries no label information.
"""
from __future__ import annotations

import dataclasses
import math

WAVES = ("sine", "triangle")
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

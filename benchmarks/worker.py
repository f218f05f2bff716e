"""`python -m benchmarks.worker jax|torch`: serves the suite's requests."""
from __future__ import annotations

import importlib
import sys

from benchmarks import protocol

if __name__ == "__main__":
  if len(sys.argv) != 2 or sys.argv[1] not in ("jax", "torch"):
    sys.exit("usage: python -m benchmarks.worker jax|torch")
  side = importlib.import_module(f"benchmarks.{sys.argv[1]}_side")
  protocol.serve(side.HANDLERS, side.best)

"""The machine a suite run was measured on: CPU, cores, memory, devices."""
from __future__ import annotations

import os
import platform
from typing import Any


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo (else platform's guess)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def memory_gib() -> float:
  """Physical memory in GiB (0 where sysconf cannot tell)."""
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
  except (ValueError, OSError):
    return 0.0


def describe(worker_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
  """Host facts plus each worker's backend, devices and library versions."""
  versions: dict[str, str] = {}
  for info in worker_info.values():
    versions.update(info["versions"])
  return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
          "usable_cpus": len(os.sched_getaffinity(0)),
          "memory_gib": round(memory_gib(), 1), "os": platform.platform(),
          "backends": {f: i["backend"] for f, i in worker_info.items()},
          "devices": {f: i["devices"] for f, i in worker_info.items()},
          "torch_threads": worker_info["torch"]["threads"],
          "versions": versions}

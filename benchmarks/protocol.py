"""One long-lived worker process per framework, driven by JSON lines.

The suite (`benchmarks/suite.py`) starts `python -m benchmarks.worker jax`
and `... torch` once each and sends them requests, one JSON object per
line on stdin; each answers one JSON line on its own copy of stdout
(library prints are sent to stderr so they cannot corrupt the stream).
Keeping both processes alive lets the suite interleave the frameworks call
by call on the same machine state.

Requests (`cmd`): info; roofline (dtype, size); setup (model, shape,
batch, dtype, task = forward | train); time (calls: timed calls, the
fastest returned); release.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import traceback
from typing import Any, Callable

Handler = Callable[..., Any]


def best_seconds(run: Callable[[], None], calls: int) -> float:
  """The fastest of `calls` timed calls of `run` (which blocks on results)."""
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return min(times)


def serve(handlers: dict[str, Handler],
          best: Callable[[Callable[[], Any], int], float]) -> None:
  """Answers requests from stdin until EOF; errors become {"error": ...}.

  `handlers["setup"]` returns the task's call (already warmed up), which
  `time` runs through `best(call, calls)` and `release` drops.
  """
  task: dict[str, Callable[[], Any]] = {}

  def setup(**kwargs: Any) -> None:
    release()
    task["run"] = handlers["setup"](**kwargs)

  def release() -> None:
    task.clear()
    gc.collect()

  commands = {**handlers, "setup": setup, "release": release,
              "time": lambda calls: best(task["run"], calls)}
  answers = os.fdopen(os.dup(1), "w")
  os.dup2(2, 1)
  for line in sys.stdin:
    request = json.loads(line)
    cmd = request.pop("cmd")
    try:
      reply = {"result": commands[cmd](**request)}
    except Exception as e:  # reported to the suite, which stops with it
      traceback.print_exc()
      reply = {"error": f"{type(e).__name__}: {e}"}
    answers.write(json.dumps(reply) + "\n")
    answers.flush()


class Worker:
  """Client side: a worker process for one framework."""

  def __init__(self, framework: str, env: dict[str, str] | None = None):
    self.framework = framework
    self._process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", framework],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=env)

  def call(self, cmd: str, **kwargs: Any) -> Any:
    """Sends one request and returns its result; raises on a worker error."""
    self._process.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
    self._process.stdin.flush()
    line = self._process.stdout.readline()
    if not line:
      raise RuntimeError(f"the {self.framework} worker exited "
                         f"(code {self._process.wait()}); see its stderr")
    reply = json.loads(line)
    if "error" in reply:
      raise RuntimeError(f"{self.framework} worker, {cmd} {kwargs}: "
                         f"{reply['error']}")
    return reply["result"]

  def close(self) -> None:
    self._process.stdin.close()
    self._process.wait()

"""One run per workdir: a second run on the same workdir refuses to start.

The lock is `<workdir>/workdir.lock`, held with flock (released by the kernel
when the holder dies, however it dies) and naming its holder: pid, host,
the process's start time (so a reused pid is not mistaken for the holder),
the command and a heartbeat (the file's mtime, touched every
HEARTBEAT_S). A run that finds the file unlocked but naming a live process
on this host, or another host's holder whose heartbeat is fresh (flock is
not shared across hosts on every network filesystem), refuses too;
anything else is stale and taken over, with a line saying so. A finished
run empties the file rather than removing it: a run that opened the path just
before a removal would otherwise lock a deleted file beside a new one.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from typing import Any, Iterator

LOCK_FILE = "workdir.lock"
HEARTBEAT_S = 30.0
STALE_AFTER_S = 5 * HEARTBEAT_S


class WorkdirBusy(RuntimeError):
  """Another live run holds the workdir."""


def _start_ticks(pid: int) -> int | None:
  """The process's start time in clock ticks since boot (Linux), else None."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return int(f.read().rsplit(")", 1)[1].split()[19])
  except (OSError, IndexError, ValueError):
    return None


def _me() -> dict[str, Any]:
  return {"pid": os.getpid(), "host": socket.gethostname(),
          "start_ticks": _start_ticks(os.getpid()),
          "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
          "command": " ".join(sys.argv)}


def _alive_here(holder: dict[str, Any]) -> bool:
  """Whether `holder` (on this host) is a running process."""
  try:
    os.kill(int(holder["pid"]), 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # exists, owned by another user
  ticks = holder.get("start_ticks")
  return ticks is None or _start_ticks(int(holder["pid"])) == ticks


def _describe(holder: dict[str, Any]) -> str:
  return (f"pid {holder.get('pid')} on {holder.get('host')}, started "
          f"{holder.get('started')} ({holder.get('command')})")


def _holder_problem(fd: int, holder: dict[str, Any] | None) -> str | None:
  """Why the (flock-free) lock file still names a live run, else None."""
  if not holder:
    return None
  if holder.get("host") == socket.gethostname():
    return "running" if _alive_here(holder) else None
  age = time.time() - os.fstat(fd).st_mtime
  return f"heartbeat {age:.0f} s ago" if age < STALE_AFTER_S else None


def _read(fd: int) -> dict[str, Any] | None:
  os.lseek(fd, 0, os.SEEK_SET)
  try:
    return json.loads(os.read(fd, 1 << 16).decode() or "null")
  except (ValueError, UnicodeDecodeError):
    return None  # a half-written lock: its writer died before finishing


def _heartbeat(path: str, stop: threading.Event) -> None:
  while not stop.wait(HEARTBEAT_S):
    with contextlib.suppress(OSError):
      os.utime(path)


@contextlib.contextmanager
def hold(workdir: str) -> Iterator[None]:
  """Holds the workdir's lock for the `with` body; WorkdirBusy names the
  live run holding it."""
  path = os.path.join(workdir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = _read(fd) or {}
      raise WorkdirBusy(f"workdir {workdir} is in use by another run: "
                        f"{_describe(holder)}; wait for it to finish, stop "
                        f"it, or use another --workdir") from None
    holder = _read(fd)
    problem = _holder_problem(fd, holder)
    if problem:
      raise WorkdirBusy(f"workdir {workdir} is in use by another run "
                        f"({problem}): {_describe(holder)}; wait for it, stop "
                        f"it, or use another --workdir (or delete {path} if "
                        f"that run is gone)")
    if holder:
      print(f"Taking over the stale lock of {_describe(holder)}", flush=True)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(_me()).encode(), 0)
    os.fsync(fd)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(path, stop), daemon=True).start()
    try:
      yield
    finally:
      stop.set()
      os.ftruncate(fd, 0)
  finally:
    os.close(fd)

"""Downloads published checkpoints with a progress line and a hash check.

torchvision (and moabitcoin's IG-65M R(2+1)D files that VMZ links) name
their files `<name>-<first 8 hex digits of the SHA-256>.pth` and
torch.hub checks that prefix; this is the only published hash for them, so
it is what is checked here, and the full SHA-256 computed on download is
recorded in weights_info.json. VMZ's CSN files (`..._f126851907.pth`, a job
id) and kinetics-i3d's checkpoints publish no hash: their SHA-256 is
recorded, and the fetch says it could not be verified.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from video_flax import file_digest

CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "video_flax")
CHUNK = 1 << 20
TIMEOUT_S = 30


class OfflineError(RuntimeError):
  """The publisher's server could not be reached."""


def published_hash_prefix(url: str) -> str | None:
  """'.../r3d_18-b3b3357e.pth' -> 'b3b3357e' (torch.hub's convention)."""
  match = re.search(r"-([a-f0-9]{8,64})\.[a-z]+$", url)
  return match[1] if match else None


def check_published_hash(url: str, sha256: str) -> str:
  """Returns `sha256`; ValueError if it contradicts the file name's hash."""
  prefix = published_hash_prefix(url)
  if prefix is not None and not sha256.startswith(prefix):
    raise ValueError(f"{url.rsplit('/', 1)[-1]}: SHA-256 {sha256} does not "
                     f"start with the published {prefix}; the file is corrupt")
  return sha256


def _progress(name: str, done: int, total: int | None) -> None:
  size = f"{done / 1e6:.1f} MB"
  if total:
    size += f" / {total / 1e6:.1f} MB ({100 * done // total}%)"
  sys.stderr.write(f"\rdownloading {name}: {size}")
  sys.stderr.flush()


def download(url: str, path: str, progress: bool = True) -> str:
  """Downloads `url` to `path` (atomically) and returns its SHA-256.

  Raises OfflineError when the server cannot be reached, ValueError when
  the file does not match the hash prefix its name publishes.
  """
  name = url.rsplit("/", 1)[-1]
  digest = hashlib.sha256()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                             prefix=".download_")
  try:
    with os.fdopen(fd, "wb") as out:
      try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
      except (urllib.error.URLError, OSError) as e:
        host = urllib.parse.urlparse(url).netloc
        raise OfflineError(f"cannot reach {host} to download {name} "
                           f"({getattr(e, 'reason', e)})") from None
      with response:
        total = int(response.headers.get("Content-Length") or 0) or None
        done = 0
        while chunk := response.read(CHUNK):
          out.write(chunk)
          digest.update(chunk)
          done += len(chunk)
          if progress:
            _progress(name, done, total)
    if progress:
      sys.stderr.write("\n")
    sha256 = check_published_hash(url, digest.hexdigest())
    os.replace(tmp, path)
    return sha256
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


def cached_download(url: str, progress: bool = True) -> tuple[str, str]:
  """(local path, SHA-256) of `url`, downloaded once into the cache."""
  path = os.path.join(CACHE_DIR, "downloads",
                      urllib.parse.urlparse(url).path.lstrip("/"))
  if not os.path.isfile(path):
    return path, download(url, path, progress)
  return path, check_published_hash(url, file_digest.sha256_of_file(path))

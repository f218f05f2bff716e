"""Reads PyTorch checkpoints (`torch.save` files) without torch and without
running anything from the file.

A `.pth` is a pickle, and unpickling calls whatever globals the file names.
`SafeUnpickler` admits only the globals a state_dict needs: the tensor
rebuild functions of `torch._utils`, the typed storage classes (`torch.
FloatStorage`, ...) and `collections.OrderedDict`, each replaced by a local
function that builds numpy arrays. Any other global (`os.system`,
`builtins.exec`, `subprocess.Popen`, a class with a crafted `__reduce__`) is
refused with an `UnsafeCheckpointError` naming it, before it is looked up, so
its code never runs.

Two layouts are read:
  zip (torch >= 1.6): `<prefix>/data.pkl` holds the pickle, each storage is
    the record `<prefix>/data/<key>`, `<prefix>/byteorder` the byte order;
  legacy (torch < 1.6): a sequence of pickles (magic number, protocol,
    system info, the object, the storage keys) followed by every storage as
    an 8-byte element count and its raw bytes.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from typing import Any, BinaryIO, Callable

import ml_dtypes
import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class UnsafeCheckpointError(pickle.UnpicklingError):
  """The pickle names a global outside the admitted set."""


class StorageType:
  """Stands for `torch.<Name>Storage` in the pickle: only its dtype."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: Any) -> np.ndarray:
  """The elements `storage[offset + sum(i_k * stride_k)]`, as a new array."""
  size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
  if len(size) != len(stride) or any(s < 0 for s in size + stride):
    raise pickle.UnpicklingError(
        f"bad tensor geometry: size {size}, stride {stride}")
  if 0 in size:
    return np.zeros(size, storage.dtype)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if offset < 0 or last >= storage.size:
    raise pickle.UnpicklingError(
        f"tensor (offset {offset}, size {size}, stride {stride}) reads past "
        f"its storage of {storage.size} elements")
  view = np.lib.stride_tricks.as_strided(
      storage[offset:], size, tuple(s * storage.itemsize for s in stride),
      writeable=False)
  return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
  return data


ADMITTED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class SafeUnpickler(pickle.Unpickler):
  """Unpickler that resolves only `ADMITTED_GLOBALS` and reads storages
  through `load_storage(dtype, key, numel) -> 1-D array`."""

  def __init__(self, file: BinaryIO,
               load_storage: Callable[[np.dtype, str, int], np.ndarray]):
    super().__init__(file)
    self._load_storage = load_storage
    self._storages: dict[str, np.ndarray] = {}

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) not in ADMITTED_GLOBALS:
      raise UnsafeCheckpointError(
          f"refusing to load the global {module}.{name} from the checkpoint: "
          f"only tensors, storages and OrderedDict are admitted (a PyTorch "
          f"state_dict needs nothing else; this file may run code)")
    return ADMITTED_GLOBALS[(module, name)]

  def persistent_load(self, pid: Any) -> np.ndarray:
    if (not isinstance(pid, tuple) or len(pid) not in (5, 6)
        or _ascii(pid[0]) != "storage" or not isinstance(pid[1], StorageType)):
      raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
    storage_type, key, numel = pid[1], _ascii(pid[2]), int(pid[4])
    if key not in self._storages:
      self._storages[key] = self._load_storage(storage_type.dtype, key, numel)
    if len(pid) == 6 and pid[5] is not None:  # Legacy view of a storage.
      _, view_offset, view_size = pid[5]
      return self._storages[key][view_offset:view_offset + view_size]
    return self._storages[key]


def _ascii(value: str | bytes) -> str:
  return value.decode("ascii") if isinstance(value, bytes) else value


def _from_bytes(data: bytes, dtype: np.dtype, big_endian: bool,
                what: str, numel: int) -> np.ndarray:
  if len(data) != numel * dtype.itemsize:
    raise pickle.UnpicklingError(
        f"{what}: {len(data)} bytes for {numel} x {dtype} elements")
  array = np.frombuffer(data, dtype.newbyteorder(">" if big_endian else "<"))
  return array.astype(dtype)


def _load_zip(path: str) -> Any:
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")
               or n == "data.pkl"]
    if len(pickles) != 1:
      raise ValueError(f"{path}: a zip file but not a torch.save archive "
                       f"(expected one data.pkl, found {len(pickles)})")
    prefix = pickles[0][:-len("data.pkl")]
    names = set(archive.namelist())
    order = (archive.read(prefix + "byteorder").decode()
             if prefix + "byteorder" in names else "little")

    def load_storage(dtype: np.dtype, key: str, numel: int) -> np.ndarray:
      record = f"{prefix}data/{key}"
      if record not in names:
        raise pickle.UnpicklingError(f"{path}: storage record {record} missing")
      return _from_bytes(archive.read(record), dtype, order == "big", record,
                         numel)

    with archive.open(pickles[0]) as f:
      return SafeUnpickler(io.BytesIO(f.read()), load_storage).load()


def _load_legacy(path: str) -> Any:
  """torch < 1.6: pickles of magic, protocol, sys info, object, keys, then
  each storage as an int64 element count and its bytes, in key order.

  The storages follow the object, so the object pickle is read twice: once
  to learn each storage's dtype and size, once with the storages filled.
  """
  with open(path, "rb") as f:
    header = _legacy_header(f, path)
    big_endian = not header.get("little_endian", True)
    object_start = f.tell()
    shapes: dict[str, tuple[np.dtype, int]] = {}

    def note_storage(dtype: np.dtype, key: str, numel: int) -> np.ndarray:
      if not 0 <= numel * dtype.itemsize <= os.path.getsize(path):
        raise pickle.UnpicklingError(
            f"{path}: storage {key} of {numel} elements is larger than the "
            f"file")
      shapes[key] = (dtype, numel)
      return np.zeros(numel, dtype)

    SafeUnpickler(f, note_storage).load()
    storages = {}
    for key in (_ascii(k) for k in SafeUnpickler(f, _no_storage).load()):
      if key not in shapes:
        raise pickle.UnpicklingError(f"{path}: data for unknown storage {key}")
      dtype, numel = shapes[key]
      count = int.from_bytes(f.read(8), "big" if big_endian else "little")
      storages[key] = _from_bytes(f.read(count * dtype.itemsize), dtype,
                                  big_endian, f"{path}: storage {key}", numel)
    f.seek(object_start)
    return SafeUnpickler(f, lambda dtype, key, numel: storages[key]).load()


def _legacy_header(f: BinaryIO, path: str) -> dict:
  """Reads the magic number, protocol version and system info pickles."""
  not_torch = ValueError(f"{path}: not a PyTorch checkpoint (neither a zip "
                         f"archive nor the legacy format's magic number)")
  try:
    values = [SafeUnpickler(f, _no_storage).load() for _ in range(3)]
  except UnsafeCheckpointError:
    raise
  except (EOFError, pickle.UnpicklingError, IndexError):
    raise not_torch from None
  if (values[0] != LEGACY_MAGIC_NUMBER or values[1] != LEGACY_PROTOCOL_VERSION
      or not isinstance(values[2], dict)):
    raise not_torch
  return values[2]


def _no_storage(dtype: np.dtype, key: str, numel: int) -> np.ndarray:
  raise pickle.UnpicklingError("storage reference outside the object pickle")


def load(path: str) -> Any:
  """The object `torch.save` wrote to `path`, tensors as numpy arrays.

  Raises:
    UnsafeCheckpointError: the pickle names a global outside the admitted set.
    ValueError: not a PyTorch checkpoint.
  """
  if zipfile.is_zipfile(path):
    return _load_zip(path)
  return _load_legacy(path)

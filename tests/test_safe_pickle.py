"""The torch-free checkpoint readers: crafted pickles are refused before
their code runs; real torch.save files (zip and legacy) and safetensors
files read back exactly."""
from __future__ import annotations

import builtins
import collections
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np
import pytest

from video_flax.weights import safetensors_file, torch_pickle
from weights_convert_helpers import safetensors_bytes


class _Reduce:
  """Pickles as a call of `func(*args)`."""

  def __init__(self, func, *args):
    self.func, self.args = func, args

  def __reduce__(self):
    return self.func, self.args


def _attacks(marker: str) -> dict[str, tuple[object, str]]:
  """name -> (object whose unpickling writes `marker`, the global named)."""
  write = f"open({marker!r}, 'w').write('pwned')"
  return {
      "os.system": (_Reduce(os.system, f"touch {marker}"), "system"),
      "builtins.exec": (_Reduce(builtins.exec, write), "exec"),
      "builtins.eval": (_Reduce(builtins.eval, write), "eval"),
      "subprocess.Popen": (_Reduce(subprocess.Popen, ["touch", marker]),
                           "Popen"),
      # The payload hidden inside a state_dict, as a value of a real key.
      "inside OrderedDict": (collections.OrderedDict(
          w=_Reduce(os.system, f"touch {marker}")), "system"),
  }


def _torch_zip(path: str, payload: bytes) -> None:
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", payload)
    archive.writestr("archive/version", "3\n")
    archive.writestr("archive/byteorder", "little")


def _legacy(path: str, payload: bytes) -> None:
  with open(path, "wb") as f:
    for header in (torch_pickle.LEGACY_MAGIC_NUMBER,
                   torch_pickle.LEGACY_PROTOCOL_VERSION,
                   {"little_endian": True}):
      pickle.dump(header, f, protocol=2)
    f.write(payload)


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("attack", sorted(_attacks("x")))
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, layout, attack):
  marker = str(tmp_path / "pwned")
  obj, global_name = _attacks(marker)[attack]
  path = str(tmp_path / "evil.pth")
  (_torch_zip if layout == "zip" else _legacy)(path, pickle.dumps(obj, 2))
  with pytest.raises(torch_pickle.UnsafeCheckpointError,
                     match=rf"refusing to load the global \S*\.{global_name} "):
    torch_pickle.load(path)
  assert not os.path.exists(marker)


def test_the_same_pickle_does_run_with_the_plain_unpickler(tmp_path):
  # The attack is real: pickle.loads would execute it.
  marker = str(tmp_path / "pwned")
  pickle.loads(pickle.dumps(_attacks(marker)["builtins.exec"][0], 2))
  assert os.path.exists(marker)


def _rebuild_pickle(offset: int, size: int) -> bytes:
  """A hand-written protocol-2 pickle, as torch.save writes it, of
  _rebuild_tensor_v2(<storage '0' of 4 floats>, offset, (size,), (1,),
  False, OrderedDict())."""
  text = lambda s: b"X" + struct.pack("<I", len(s)) + s.encode()
  return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(("
          + text("storage") + b"ctorch\nFloatStorage\n" + text("0")
          + text("cpu") + b"K\x04tQ" + b"K" + bytes([offset])
          + b"K" + bytes([size]) + b"\x85K\x01\x85\x89"
          + b"ccollections\nOrderedDict\n)RtR.")


@pytest.mark.parametrize("offset,size,error", [(1, 3, None),
                                               (2, 3, "reads past")])
def test_tensor_geometry_is_checked_against_its_storage(tmp_path, offset,
                                                        size, error):
  path = str(tmp_path / "t.pth")
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", _rebuild_pickle(offset, size))
    archive.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
  if error is None:
    np.testing.assert_array_equal(torch_pickle.load(path),
                                  np.arange(4, dtype="f4")[offset:])
  else:
    with pytest.raises(pickle.UnpicklingError, match=error):
      torch_pickle.load(path)


@pytest.mark.parametrize("legacy", [False, True])
def test_torch_save_files_read_back_exactly(tmp_path, legacy):
  torch = pytest.importorskip("torch")
  base = torch.randn(20)
  state = collections.OrderedDict(
      conv=torch.randn(4, 3, 1, 3, 3), transposed=torch.randn(5, 6).t(),
      view=base[3:9].view(2, 3), whole=base, half=torch.randn(7).half(),
      bf16=torch.randn(3).bfloat16(), count=torch.tensor(12),
      empty=torch.zeros(0, 3))
  path = str(tmp_path / "state.pth")
  torch.save(state, path, _use_new_zipfile_serialization=not legacy)
  loaded = torch_pickle.load(path)
  assert list(loaded) == list(state)
  for name, tensor in state.items():
    want = tensor.float().numpy() if name == "bf16" else tensor.numpy()
    got = loaded[name].astype(np.float32) if name == "bf16" else loaded[name]
    assert got.shape == want.shape and got.dtype == want.dtype, name
    np.testing.assert_array_equal(got, want, err_msg=name)


def test_a_whole_pickled_module_is_refused(tmp_path):
  torch = pytest.importorskip("torch")
  path = str(tmp_path / "model.pth")
  torch.save(torch.nn.Linear(2, 3), path)
  with pytest.raises(torch_pickle.UnsafeCheckpointError,
                     match="torch.nn.modules.linear.Linear"):
    torch_pickle.load(path)


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
  path = tmp_path / "notes.pth"
  path.write_bytes(pickle.dumps({"a": 1}, 2))
  with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
    torch_pickle.load(str(path))


def test_safetensors_read_back_exactly_and_bad_offsets_fail(tmp_path):
  rng = np.random.default_rng(0)
  tensors = {"a.weight": rng.standard_normal((2, 3, 1, 1, 1)).astype("f4"),
             "b": rng.standard_normal(5).astype("f2"),
             "n": np.array(3, np.int64)}
  path = tmp_path / "w.safetensors"
  path.write_bytes(safetensors_bytes(tensors))
  loaded = safetensors_file.load(str(path))
  for name, array in tensors.items():
    assert loaded[name].dtype == array.dtype
    np.testing.assert_array_equal(loaded[name], array)
  path.write_bytes(safetensors_bytes(tensors)[:-8])
  with pytest.raises(ValueError, match="bad data_offsets"):
    safetensors_file.load(str(path))

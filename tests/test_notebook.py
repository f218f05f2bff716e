"""notebooks/quickstart.ipynb executes top to bottom (tiny config, 4 steps).

Slow: starting a kernel and training takes over a minute on 2 CPU cores.
Part 2 (converted weights) runs only where WEIGHTS_DIR and VIDEO are set.
"""
from __future__ import annotations

import os
import re

import pytest

from conftest import REPO_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, monkeypatch):
  monkeypatch.setenv("VIDEO_FLAX_QUICKSTART_STEPS", "4")
  monkeypatch.setenv("VIDEO_FLAX_QUICKSTART_VARIANT", "tiny")
  monkeypatch.setenv("VIDEO_FLAX_QUICKSTART_WORKDIR", str(tmp_path / "run"))
  monkeypatch.setenv("PYTHONPATH", REPO_ROOT + os.pathsep +
                     os.environ.get("PYTHONPATH", ""))
  monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline one
  notebook = nbformat.read(os.path.join(REPO_ROOT, "notebooks",
                                        "quickstart.ipynb"), as_version=4)
  nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}
                          ).execute()
  outputs = "".join(o.get("text", "") for cell in notebook.cells
                    for o in cell.get("outputs", []))
  assert re.search(r"step\s+4/4 \| loss", outputs), outputs[-2000:]
  assert "top-1" in outputs
  images = [o for cell in notebook.cells for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]
  assert len(images) == 2  # the curves and the confusion matrix

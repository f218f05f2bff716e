"""The house rule of docs/architecture.md, checked: no function in video_flax/
or launch/ longer than 60 lines, no file longer than 400."""
from __future__ import annotations

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400


def _sources() -> list[pathlib.Path]:
  return sorted(p for root in ("video_flax", "launch")
                for p in (REPO / root).rglob("*.py"))


def _too_long(path: pathlib.Path, base: pathlib.Path = REPO) -> list[str]:
  source = path.read_text()
  problems = []
  if len(source.splitlines()) > MAX_FILE_LINES:
    problems.append(f"{path.relative_to(base)}: "
                    f"{len(source.splitlines())} lines")
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      length = node.end_lineno - node.lineno + 1
      if length > MAX_FUNCTION_LINES:
        problems.append(f"{path.relative_to(base)}:{node.lineno} "
                        f"{node.name}: {length} lines")
  return problems


def test_no_long_functions_or_files():
  problems = [p for path in _sources() for p in _too_long(path)]
  assert not problems, "\n".join(problems)


def test_checker_catches_a_long_function(tmp_path):
  long_function = "def f():\n" + "  x = 1\n" * MAX_FUNCTION_LINES
  path = tmp_path / "probe.py"
  path.write_text(long_function)
  assert _too_long(path, tmp_path) == [
      f"probe.py:1 f: {MAX_FUNCTION_LINES + 1} lines"]

"""The command lines' error boundary: one line naming the problem.

Every CLI (training, prepare, the tools) ends a failure with one line on
stderr and exit code 2 (the command or config is wrong) or 1 (something
failed while running), never a traceback; `--debug` shows the traceback.
"""
from __future__ import annotations

import errno
import sys
import traceback
from typing import Callable, NoReturn

from absl import app
from absl import flags

USAGE_EXIT = 2
FAILURE_EXIT = 1
DEBUG = flags.DEFINE_bool(
    "debug", False, "Show the traceback of an error, not only its one line.")


class UsageError(ValueError):
  """A command, config or input that cannot work; exit code 2."""


def one_line(error: BaseException) -> str:
  """The informative line of `error`: its last non-blank line (config_flags
  and absl wrap the cause in several lines), or the type name if empty."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  lines = [line for line in lines if not line.startswith("Pass --help")]
  if not lines:
    return type(error).__name__
  if isinstance(error, OSError) and error.errno == errno.ENOSPC:
    return "no space left on device" + (f": {error.filename}"
                                        if error.filename else "")
  return lines[-1]


def joined(error: BaseException) -> str:
  """A heading line and one line per problem (ConfigError's layout) as one
  line: 'Invalid config: a; b'."""
  head, *problems = [line.strip() for line in str(error).splitlines()
                     if line.strip()] or [type(error).__name__]
  return f"{head} {'; '.join(problems)}" if problems else head


def exit_code(error: BaseException) -> int:
  from video_flax import config_validation  # pylint: disable=g-import-not-at-top
  usage = (UsageError, config_validation.ConfigError, flags.Error,
           app.UsageError)
  return USAGE_EXIT if isinstance(error, usage) else FAILURE_EXIT


def fail(error: BaseException, *, debug: bool, prefix: str = "error") -> NoReturn:
  """Prints `error` (one line, or the traceback with `debug`) and exits."""
  if debug:
    traceback.print_exception(error)
  message = joined(error) if _is_config_error(error) else one_line(error)
  usage = exit_code(error) == USAGE_EXIT
  hint = "" if debug or usage else " (--debug shows the traceback)"
  print(f"{prefix}: {message}{hint}", file=sys.stderr, flush=True)
  sys.exit(exit_code(error))


def _is_config_error(error: BaseException) -> bool:
  from video_flax import config_validation  # pylint: disable=g-import-not-at-top
  return isinstance(error, config_validation.ConfigError)


def guarded(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
  """`main` with every exception turned into `fail` (KeyboardInterrupt: 130);
  --debug (DEBUG) adds the traceback."""

  def wrapped(argv: list[str]) -> None:
    try:
      main(argv)
    except KeyboardInterrupt:
      print("interrupted", file=sys.stderr)
      sys.exit(130)
    except Exception as e:  # pylint: disable=broad-except
      fail(e, debug=DEBUG.value)

  return wrapped


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with errors (including config files that fail to
  load or unknown `--config.*` keys) as one line and exit code 2."""
  try:
    return flags.FLAGS(argv)
  except (KeyError, AttributeError) as e:  # an unknown --config.a.b key
    key = str(e.args[0] if e.args else e).strip("'\"")
    named = [a.split("=")[0] for a in argv[1:] if f".{key}" in a.split("=")[0]]
    fail(UsageError(f"{named[0] if named else key}: unknown config key "
                    f"{key!r}"), debug="--debug" in argv)
  except Exception as e:  # pylint: disable=broad-except
    fail(e if isinstance(e, flags.Error) else UsageError(one_line(e)),
         debug="--debug" in argv)


def run(main: Callable[[list[str]], None]) -> None:
  """absl's app.run inside this boundary: flag errors, usage errors and
  failures each end in one line (`guarded`, `parse_flags`)."""
  app.run(guarded(main), flags_parser=parse_flags)

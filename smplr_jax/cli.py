"""Command lines: a user's mistake ends in one `error: ...` line.

Launchers end with `cli.run(main)` in place of absl's `app.run(main)`:

  * a `--config` file (ml_collections' `DEFINE_config_file`) that does not
    exist, or a `--config.field=value` naming no field, is reported before
    `main` runs (so no workdir is made), with the closest valid names;
  * other flag errors (a missing required flag, a malformed value, an
    `app.UsageError`) are one line too;
  * a ValueError or FileNotFoundError out of `main` (the library's errors for
    missing or malformed files and inputs) prints `error: <message>`, and a
    `--workdir` this run created but wrote no file into is removed;
  * absl, orbax, TFDS and jax log at WARNING unless --verbosity is given.

Exit status 2 for flag errors, 1 for the others. With the environment
variable SMPLR_JAX_TRACEBACK=1 errors are re-raised, traceback included.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import pathlib
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from absl import app, flags, logging

TRACEBACK_ENV = 'SMPLR_JAX_TRACEBACK'
# What `main` raises for a user's mistake (MissingFilesError is a
# FileNotFoundError); anything else keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError)
_NAMES_SHOWN = 12


def fail(message: str, status: int = 1) -> NoReturn:
  """Prints `error: message` on stderr and exits with `status`."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(status)


def run(main: Callable[[list[str]], Any]) -> None:
  """`app.run(main)` with one-line errors (see the module docstring)."""
  app.run(guard(main), flags_parser=parse_flags)


def _traceback_wanted() -> bool:
  return bool(os.environ.get(TRACEBACK_ENV))


def guard(main: Callable[[list[str]], Any],
          flag_values: flags.FlagValues | None = None):
  """`main` with quiet logs, and a user's error as one line (after parsing).

  Args:
    main: the launcher's main(argv).
    flag_values: parsed flags (default absl's global FLAGS); --verbosity and
      --workdir are read from them when defined.
  """
  flag_values = flags.FLAGS if flag_values is None else flag_values

  def guarded(argv):
    if 'verbosity' in flag_values and not flag_values['verbosity'].present:
      logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    workdir = (flag_values['workdir'].value if 'workdir' in flag_values
               else None)
    made_here = bool(workdir) and not os.path.exists(workdir)
    try:
      return main(argv)
    except (*USER_ERRORS, app.UsageError) as error:
      if _traceback_wanted():
        raise
      if made_here:
        remove_if_no_files(workdir)
      status = 2 if isinstance(error, app.UsageError) else 1
      fail(str(error) or type(error).__name__, status)
  return guarded


def remove_if_no_files(folder: str | os.PathLike[str]) -> bool:
  """Removes `folder` when no file lies anywhere under it; True if removed."""
  if not os.path.isdir(folder):
    return False
  for _, _, files in os.walk(folder):
    if files:
      return False
  shutil.rmtree(folder)
  return True


# ----------------------------------------------------------------------------
# Flags.


def parse_flags(argv: Sequence[str],
                flag_values: flags.FlagValues | None = None) -> list[str]:
  """absl's flag parsing with one-line errors for config files and fields.

  Args:
    argv: the command line, program name first.
    flag_values: the flags to parse (default absl's global FLAGS).

  Returns:
    The arguments left after the flags, program name first.
  """
  argv = list(argv)
  flag_values = flags.FLAGS if flag_values is None else flag_values
  # `DEFINE_config_file` flags (ml_collections does not export the class).
  names = [name for name in flag_values if type(
      flag_values[name].parser).__name__ == 'ConfigFileFlagParser']
  for name in names:
    value = _flag_value(argv, name)
    if value is not None:
      message = missing_config_file(name, value)
      if message:
        fail(message, 2)
  try:
    return flag_values(argv)
  except flags.Error as error:
    if _traceback_wanted():
      raise
    fail(f'{error} (--helpshort lists the flags)', 2)
  except (AttributeError, KeyError):  # ml_collections: an unknown field
    for name in names:
      message = unknown_override(argv, name)
      if message and not _traceback_wanted():
        fail(message, 2)
    raise


def _flag_value(argv: Sequence[str], name: str) -> str | None:
  """The last value given to --name (absl's rule) in `argv`, or None."""
  value = None
  for i, arg in enumerate(argv[1:], start=1):
    if arg == '--':
      break
    match = re.fullmatch(rf'--?{re.escape(name)}(=(.*))?', arg, re.DOTALL)
    if match:
      value = match.group(2) if match.group(1) else (
          argv[i + 1] if i + 1 < len(argv) else None)
  return value


def _display(path: pathlib.Path) -> str:
  try:
    return str(path.resolve().relative_to(pathlib.Path.cwd()))
  except ValueError:
    return str(path)


def _configs_near_main() -> pathlib.Path | None:
  """The launcher's `configs/` folder (experiments/<name>/configs)."""
  main_file = getattr(sys.modules.get('__main__'), '__file__', None)
  if main_file:
    folder = pathlib.Path(main_file).resolve().parent / 'configs'
    if folder.is_dir():
      return folder
  return None


def _config_files(folder: pathlib.Path | None) -> list[str]:
  if folder is None or not folder.is_dir():
    return []
  return sorted(p.name for p in folder.glob('*.py') if p.name != '__init__.py')


def missing_config_file(name: str, value: str) -> str | None:
  """The message for a --name config path that is not a file, else None:
  the closest config files of its folder, or of the launcher's `configs/`."""
  path = pathlib.Path(value.split(':', 1)[0])
  if path.is_file():
    return None
  folder = path.parent
  configs = _config_files(folder)
  if not configs:
    folder = _configs_near_main()
    configs = _config_files(folder)
  if not configs:
    return f'--{name}={value}: no such config file.'
  stems = [c[:-len('.py')] for c in configs]  # '.py' would match anything
  close = [c + '.py' for c in difflib.get_close_matches(
      path.stem, stems, n=4, cutoff=0.6)]
  shown = ', '.join(_display(folder / c) for c in close or configs)
  return (f'--{name}={value}: no such config file; '
          f'{"closest" if close else "configs"}: {shown}')


def _load_config(path: str, args: Sequence[str]):
  spec = importlib.util.spec_from_file_location('_cli_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(*args)


def unknown_override(argv: Sequence[str], name: str) -> str | None:
  """The message for the first --name.field override naming no field."""
  value = _flag_value(argv, name)
  if value is None:
    return None
  path, *args = value.split(':', 1)
  try:
    config = _load_config(path, args)
  except Exception:  # noqa: BLE001  absl's own error then stands
    return None
  for arg in argv[1:]:
    match = re.match(rf'--?(?:no)?{re.escape(name)}\.([^=]+)', arg)
    if match:
      problem = missing_field(config, match.group(1))
      if problem:
        return f'--{name}.{match.group(1)}: {problem} (in {path}).'
  return None


def missing_field(config: Any, field: str) -> str | None:
  """What is wrong with a dotted field of a ConfigDict, or None if it is
  there: the unknown name and the closest valid ones."""
  node, parts = config, field.split('.')
  for depth, part in enumerate(parts):
    parent = '.'.join(parts[:depth])
    if not hasattr(node, 'keys'):
      return f'{parent} is a value ({node!r}), not a group of fields'
    keys = sorted(str(k) for k in node)
    if part not in keys:
      close = difflib.get_close_matches(part, keys, n=4, cutoff=0.6)
      shown = [f'{parent}.{k}' if parent else k for k in close or keys]
      more = len(shown) - _NAMES_SHOWN
      listing = ', '.join(shown[:_NAMES_SHOWN]) + (
          f', ... ({more} more)' if more > 0 else '')
      return (f'no field {(parent + "." if parent else "") + part!r}; '
              f'{"closest" if close else "valid"}: {listing}')
    node = node[part]
  return None

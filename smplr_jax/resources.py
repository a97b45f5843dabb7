"""Where the package's data lives: the embedded default body model and the
shipped weights (`third_party/` in the repository, installed with the
package as `smplr_jax.third_party`); and where compiled programs are kept
between runs (`use_compilation_cache`).

Found through `importlib.resources`, so the same code works from a wheel, a
`pip install .`, an editable checkout and any working directory.
"""

from __future__ import annotations

import importlib.resources
import os
import pathlib

_DATA_PACKAGE = 'smplr_jax.third_party'


def data_dir() -> pathlib.Path:
  """The installed `third_party/` folder.

  Raises:
    FileNotFoundError: the package was installed without its data (a wheel
      built without package data), with what to do.
  """
  try:
    root = pathlib.Path(str(importlib.resources.files(_DATA_PACKAGE)))
  except ModuleNotFoundError as error:
    raise FileNotFoundError(
        f'smplr_jax was installed without its data package ({_DATA_PACKAGE}):'
        ' reinstall it with `pip install smplr_jax` from a wheel or '
        '`pip install .` from a checkout.') from error
  return root


def body_models_dir() -> pathlib.Path:
  """Folder of the embedded body models (`third_party/body_models`)."""
  return data_dir() / 'body_models'


def weights_dir() -> pathlib.Path:
  """Folder of the shipped weights (`third_party/weights`), one sub-folder a
  stage, each with its model card."""
  return data_dir() / 'weights'


def use_compilation_cache(min_compile_time_secs: float) -> None:
  """Compiled programs persist across runs and processes (the photo path's
  fits compile for seconds on a laptop CPU): in $SMPLR_JAX_CACHE or
  ~/.cache/smplr_jax/xla, unless a cache folder is set already.

  Args:
    min_compile_time_secs: programs that compiled faster are not kept.
  """
  import jax  # pylint: disable=g-import-not-at-top
  if not jax.config.jax_compilation_cache_dir:
    jax.config.update('jax_compilation_cache_dir', os.environ.get(
        'SMPLR_JAX_CACHE', os.path.join(
            os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')),
            'smplr_jax', 'xla')))
    jax.config.update('jax_persistent_cache_min_compile_time_secs',
                      min_compile_time_secs)

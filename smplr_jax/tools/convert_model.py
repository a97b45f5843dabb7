r"""Converts an official SMPL `.pkl` into an smplx-style `.npz` (no chumpy).

    python -m smplr_jax.tools.convert_model SRC.pkl DST.npz

The file is validated first (same checks as `load_body_model`); the `.npz`
holds the official keys as dense float32 arrays (the sparse `J_regressor`
made dense), the kinematic tree, the faces and the SMPLR landmark ids.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from smplr_jax.body import body_model as bm


def convert(src: str | pathlib.Path, dst: str | pathlib.Path) -> dict:
  """Reads, validates and writes a model; returns the arrays written."""
  raw = bm.read_model_arrays(src)
  model = bm.body_model_from_arrays(raw, str(src))  # raises on a bad file
  arrays = {}
  for key in ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights'):
    value = raw[key].toarray() if hasattr(raw[key], 'toarray') else raw[key]
    arrays[key] = np.asarray(value, dtype=np.float32)
  arrays['kintree_table'] = np.asarray(raw['kintree_table'], dtype=np.int64)
  arrays['f'] = np.asarray(raw['f'], dtype=np.int64)
  arrays['landmark_vertex_ids'] = np.asarray(model.landmark_vertex_ids)
  bm.save_body_model_npz(arrays, dst)
  return arrays


def main(argv: list[str]) -> int:
  """`convert_model SRC.pkl DST.npz`; returns the exit status."""
  if len(argv) == 2 and argv[1] in ('-h', '--help', '-help'):
    print(__doc__.strip())  # asked for: stdout, success
    return 0
  if len(argv) != 3:
    print(__doc__.strip(), file=sys.stderr)
    return 2
  try:
    arrays = convert(argv[1], argv[2])
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  size = pathlib.Path(argv[2]).stat().st_size / 2**20
  print(f'wrote {argv[2]} ({size:.1f} MiB): V={arrays["v_template"].shape[0]}'
        f', J={arrays["J_regressor"].shape[0]}, '
        f'betas={arrays["shapedirs"].shape[2]}')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))

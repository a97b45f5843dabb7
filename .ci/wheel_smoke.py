"""Run from outside the checkout, in a fresh environment holding only the
built wheel: the package finds its body model and weights as package data,
the SMPL forward runs, and `smplr-jax demo` turns a photo into a body.

    python wheel_smoke.py SMPLR_JAX_CONSOLE_SCRIPT WORKDIR
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image

import smplr_jax
from smplr_jax.body import gendered
from smplr_jax.data import synthetic


def main(console: str, workdir: str) -> None:
  workdir = pathlib.Path(workdir)
  package = pathlib.Path(smplr_jax.__file__).parent
  assert 'site-packages' in package.parts, f'not the installed wheel: {package}'
  # The SMPL forward on the embedded default body model.
  model = smplr_jax.load_body_model()
  pose = np.zeros((2, 24, 3), np.float32)
  pose[1, 18] = (0.0, 0.0, 1.0)  # a bent elbow
  out = smplr_jax.smpl_forward(model, smplr_jax.axis_angle_to_matrix(pose),
                               np.zeros((2, 10), np.float32))
  assert out.vertices.shape == (2, 13718, 3), out.vertices.shape
  height = float(out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min())
  assert 1.4 < height < 2.1, height
  moved = np.abs(np.asarray(out.vertices[1] - out.vertices[0])).max()
  assert moved > 0.05, moved
  # A photo of a rendered person, its box from the true joints.
  record = next(synthetic.render_examples(
      gendered.load_gendered_models(), 1, seed=0, start=33_281,
      config={'batch_size': 1}))
  photo = workdir / 'photo.png'
  Image.fromarray(record['image']).save(photo)
  jl = record['jl_cam']
  uv = jl[:, :2] / jl[:, 2:] * record['focal'] + record['principal']
  box = ','.join(f'{v:.1f}' for v in (*uv.min(0), *uv.max(0)))
  result = subprocess.run(
      [console, 'demo', f'--image={photo}', f'--box={box}',
       f'--output={workdir / "out"}'], capture_output=True, text=True,
      check=False)
  print(result.stdout, result.stderr)
  assert result.returncode == 0, result.returncode
  body = json.loads((workdir / 'out' / 'body.json').read_text())
  assert len(body['pose_axis_angle']) == 24 and len(body['betas']) == 10
  obj = (workdir / 'out' / 'mesh.obj').read_text().split('\n')
  assert sum(line.startswith('v ') for line in obj) == 13718
  with Image.open(workdir / 'out' / 'overlay.png') as overlay:
    assert overlay.size[0] > 100
  # A wrong file is one line, exit status 1.
  bad = subprocess.run([console, 'demo', f'--image={workdir / "none.png"}',
                        '--box=1,1,9,9', f'--output={workdir / "bad"}'],
                       capture_output=True, text=True, check=False)
  assert bad.returncode == 1 and bad.stderr.startswith('error: '), bad
  print(f'wheel smoke: SMPL forward (height {height:.2f} m) and '
        f'smplr-jax demo from {package}: ok')


if __name__ == '__main__':
  main(*sys.argv[1:])

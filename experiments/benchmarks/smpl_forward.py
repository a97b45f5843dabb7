r"""Benchmark: the jitted JAX SMPL forward vs smplx (PyTorch), same model data.

    python -m experiments.benchmarks.smpl_forward
    python -m experiments.benchmarks.smpl_forward --model=default --batch_sizes=64

Prints bodies/s of both implementations at each batch size, forward and
forward+backward (gradient of a scalar loss on the vertices w.r.t. pose and
betas), their ratio, the machine's measured float32 matmul peak and the
fraction of it that our forward achieves (SMPL FLOPs counted analytically).
torch gets the same number of threads as XLA has cores (`--threads`).

The model is a random SMPL-layout model with SMPL's sizes (6890 vertices,
10 betas, non-zero 207 pose correctives) by default, so that the comparison
has the cost of a real SMPL file; `--model=default` uses the embedded model.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from experiments.benchmarks import timing

_THREADS = flags.DEFINE_integer(
    'threads', os.cpu_count(), 'CPU threads for both torch and XLA.')
_BATCH_SIZES = flags.DEFINE_list('batch_sizes', ['1', '64', '512'],
                                 'Batch sizes to time.')
_MODEL = flags.DEFINE_enum('model', 'smpl_sized', ['smpl_sized', 'default'],
                           'Model data to time both implementations on.')
_MIN_TIME = flags.DEFINE_float('min_time', 1.0,
                               'Seconds of timed calls per measurement.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')


def smpl_flops(num_vertices: int, num_joints: int, num_betas: int,
               num_pose_dirs: int) -> int:
  """Analytic FLOPs of one body's forward (multiply-adds count 2).

  Counts the blend-shape product, rest joints, kinematic chain, skinning
  transforms and their application; Rodrigues and bookkeeping are negligible.
  """
  blend = 2 * (num_betas + num_pose_dirs) * 3 * num_vertices
  joints = 2 * num_betas * 3 * num_joints
  chain = num_joints * (2 * 27 + 2 * 9 + 2 * 9)
  skin_weights = 2 * num_joints * 12 * num_vertices
  apply = 2 * 12 * num_vertices
  return blend + joints + chain + skin_weights + apply


def main(argv):
  del argv
  threads = _THREADS.value
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import smplx  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from smplx.utils import Struct  # pylint: disable=g-import-not-at-top

  from smplr_jax import testing  # pylint: disable=g-import-not-at-top
  from smplr_jax.body import body_model as bm  # pylint: disable=g-import-not-at-top
  from smplr_jax.body import smpl  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(threads)
  if _MODEL.value == 'default':
    path = bm.default_body_model_dir() / 'SMPL_NEUTRAL.npz'
    arrays = bm.read_model_arrays(path)
  else:
    arrays = testing.random_smpl_arrays(seed=0)
  model = bm.body_model_from_arrays(arrays, _MODEL.value)
  num_betas = model.num_betas
  reference = smplx.SMPL(model_path='unused', data_struct=Struct(**arrays),
                         num_betas=num_betas)

  fwd = jax.jit(smpl.smpl_forward)

  def loss(pose, betas):
    return jnp.sum(smpl.smpl_forward(model, pose, betas).vertices**2)

  fwd_bwd = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))

  flops_per_body = smpl_flops(model.num_vertices, model.num_joints, num_betas,
                              model.num_pose_dirs)
  peak = timing.matmul_peak_gflops(_MIN_TIME.value)
  print(f'devices: {jax.devices()} | torch threads {torch.get_num_threads()}'
        f' | model {_MODEL.value}: V={model.num_vertices}, S={num_betas}, '
        f'pose correctives={"yes" if model.num_pose_dirs else "no"}')
  print(f'measured f32 matmul peak (2048^3, XLA): {peak:.1f} GFLOP/s; '
        f'SMPL forward = {flops_per_body / 1e6:.2f} MFLOP/body')
  print()
  print('| B | pass | smplx bodies/s | smplr_jax bodies/s | speed-up | '
        'smplr_jax GFLOP/s | % of peak |')
  print('|---|---|---|---|---|---|---|')
  rows = []
  rng = np.random.default_rng(0)
  for batch in [int(b) for b in _BATCH_SIZES.value]:
    pose = rng.normal(0.0, 0.4, (batch, 24, 3)).astype(np.float32)
    betas = rng.normal(0.0, 1.0, (batch, num_betas)).astype(np.float32)
    pose_j, betas_j = jnp.asarray(pose), jnp.asarray(betas)
    pose_t = torch.from_numpy(pose.reshape(batch, -1))
    betas_t = torch.from_numpy(betas)

    def torch_fwd():
      with torch.no_grad():
        reference(global_orient=pose_t[:, :3], body_pose=pose_t[:, 3:],
                  betas=betas_t)

    def torch_fwd_bwd():
      p = pose_t.clone().requires_grad_(True)
      b = betas_t.clone().requires_grad_(True)
      out = reference(global_orient=p[:, :3], body_pose=p[:, 3:], betas=b)
      (out.vertices**2).sum().backward()

    timings = {
        'forward': (
            timing.median_seconds(lambda _: torch_fwd(), _MIN_TIME.value),
            timing.median_seconds(lambda _: fwd(model, pose_j, betas_j).vertices.
                       block_until_ready(), _MIN_TIME.value)),
        'fwd+bwd': (
            timing.median_seconds(lambda _: torch_fwd_bwd(), _MIN_TIME.value),
            timing.median_seconds(lambda _: jax.block_until_ready(
                fwd_bwd(pose_j, betas_j)), _MIN_TIME.value)),
    }
    for name, (t_ref, t_ours) in timings.items():
      flops = flops_per_body * batch * (1 if name == 'forward' else 3)
      gflops = flops / t_ours / 1e9
      row = dict(batch=batch, pass_=name, smplx=batch / t_ref,
                 ours=batch / t_ours, speedup=t_ref / t_ours, gflops=gflops,
                 peak_fraction=gflops / peak)
      rows.append(row)
      print(f'| {batch} | {name} | {row["smplx"]:,.0f} | {row["ours"]:,.0f} | '
            f'{row["speedup"]:.2f}x | {gflops:.1f} | '
            f'{100 * row["peak_fraction"]:.0f}% |', flush=True)
  print('\n(fwd+bwd FLOPs counted as 3x the forward.)')
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump(dict(peak_gflops=peak, threads=threads, model=_MODEL.value,
                     rows=rows), f, indent=2)


if __name__ == '__main__':
  app.run(main)

r"""Benchmark: SMPLR training-step throughput and its fraction of matmul peak.

    python -m experiments.benchmarks.train_step [--batch_sizes=256,1024]

For the Psi, Omega and Omega_smpl configs, times the jitted data-parallel
train step (batch generation on device + forward + backward + Adam) and, for
reference, the networks alone on a fixed batch. FLOPs come from XLA's cost
analysis of the compiled step; the peak is a 2048^3 float32 matmul measured
in the same run.
"""

from __future__ import annotations

import jax
from absl import app, flags

from experiments.benchmarks import timing
from experiments.smplr.configs import omega, omega_smpl, psi
from smplr_jax.body import gendered
from smplr_jax.training import parallel, train
from smplr_jax.training.tasks import smplr as smplr_task

_BATCH_SIZES = flags.DEFINE_list('batch_sizes', ['256', '1024'],
                                 'Global batch sizes.')
_MIN_TIME = flags.DEFINE_float('min_time', 3.0, 'Seconds per measurement.')


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float(analysis.get('flops', float('nan')))


def main(argv):
  del argv
  peak = timing.matmul_peak_gflops(_MIN_TIME.value)
  print(f'devices: {jax.devices()}; f32 matmul peak {peak:.1f} GFLOP/s\n')
  print('| config | batch | what | steps/s | samples/s | GFLOP/step | '
        'GFLOP/s | % of peak |')
  print('|---|---|---|---|---|---|---|---|')
  body = gendered.GenderedModels.load()
  mesh = parallel.make_mesh()
  for name, module in (('psi', psi), ('omega', omega),
                       ('omega_smpl', omega_smpl)):
    for batch_size in [int(b) for b in _BATCH_SIZES.value]:
      config = module.get_config()
      config.batch_size = batch_size
      task = smplr_task.SMPLRTask(config, body)
      tx = train.make_optimizer(config)
      state = train.create_train_state(
          task.init_variables(jax.random.PRNGKey(0)), tx)
      step = train.make_train_step(task, tx, mesh, batch_size)
      key = jax.random.PRNGKey(1)
      compiled = step.lower(state, key).compile()
      holder = [state]

      def run_step():
        holder[0], metrics = compiled(holder[0], key)
        jax.block_until_ready(metrics)

      seconds = timing.median_seconds(lambda _: run_step(), _MIN_TIME.value)
      flops = _flops(compiled)
      # The networks alone (forward + backward on a fixed batch, no data).
      batch = jax.jit(task.sample_batch, static_argnums=1)(key, batch_size)
      grad = jax.jit(jax.grad(lambda p, s, b: task.loss(
          p, s, b, key, False)[0]))
      params, stats = holder[0].params, holder[0].batch_stats
      grad_compiled = grad.lower(params, stats, batch).compile()
      grad_seconds = timing.median_seconds(
          lambda _: jax.block_until_ready(grad_compiled(params, stats, batch)),
          _MIN_TIME.value)
      grad_flops = _flops(grad_compiled)
      for what, secs, fl in (('train step', seconds, flops),
                             ('networks fwd+bwd', grad_seconds, grad_flops)):
        rate = fl / secs / 1e9
        print(f'| {name} | {batch_size} | {what} | {1 / secs:.1f} | '
              f'{batch_size / secs:,.0f} | {fl / 1e9:.2f} | {rate:.1f} | '
              f'{100 * rate / peak:.0f}% |', flush=True)


if __name__ == '__main__':
  app.run(main)

r"""Trains one SMPLR experiment: a thin launcher around `train_and_evaluate`.

    python -m experiments.smplr.main --config=experiments/smplr/configs/psi.py \
        --workdir=workdirs/psi [--config.num_steps=...]
"""

from experiments import launch
from smplr_jax import cli
from smplr_jax.evaluation import metrics


def main(argv):
  del argv
  results = launch.train_from_flags()
  for variant in ('clean', 'noisy'):
    row = {k.split('/', 1)[1]: v for k, v in results.items()
           if k.startswith(variant + '/')}
    print(f'\n{launch.WORKDIR.value}, held-out set, input = {variant} JL '
          '(mm):')
    print(metrics.format_table({launch.WORKDIR.value: row}))


if __name__ == '__main__':
  cli.run(main)

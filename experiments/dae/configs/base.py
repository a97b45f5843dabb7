"""Shared defaults of the DAE experiments; not run directly.

Each runnable config starts from `base_config()` and overrides a few fields:
`gaussian.py`, `uniform.py`, `structured.py`, `structured_nodropout.py`,
`dae2d.py` (synthetic noise) and `paired.py` (a real network's outputs);
their docstrings give the command, runtime and measured result. All
synthetic runs, then DAE + SMPLR when a trained SMPLR exists:

    bash experiments/dae/run_all.sh

14 minutes on the README's 2-core x86_64 CPU machine (AMD EPYC, no GPU),
measured with `time`.

Architecture and optimiser follow the paper (Sec. 3.4, 4.1) and the authors'
code (docs/paper_facts.md, Sections 4-6): encoder 1024-1024-512, decoder
1024-1024 with skips, dropout 0.2 (keep probability 0.8), ELU + BatchNorm,
Adam at 1e-3 (cosine decay to 1e-5 here), batch 256, L1 on JL + L1 on B.
Runs are sized for that 2-core machine: a 4,000-step run, its before/after
evaluation included, took 2.3-2.5 minutes in the measured `run_all.sh`
(workdir creation to results.json; DAE2d's 6,000 steps 3.6 minutes).
The held-out set (size 4096, seed 2) and its noise seed are those of the
SMPLR experiments, so DAE and SMPLR numbers are on the same bodies.
"""

import ml_collections

from experiments import common_config


def base_config() -> ml_collections.ConfigDict:
  config = common_config.training_config('dae', num_steps=4_000,
                                         eval_every=1_000)

  config.dae = ml_collections.ConfigDict()
  config.dae.encoder = (1024, 1024, 512)
  config.dae.decoder = (1024, 1024)
  config.dae.dropout_rate = 0.2  # the authors' keep probability 0.8
  config.dae.activation = 'elu'
  config.dae.zero_depth = False  # True: DAE2d (2D -> 3D lifting)

  # Training input: synthetic bodies + a noise model of smplr_jax.data.noise, or
  # (prediction, ground truth) pairs of a real network (data='paired').
  config.data = 'synthetic'
  config.noise = ml_collections.ConfigDict()
  config.noise.kind = 'structured'  # 'gaussian' | 'uniform' | 'structured'
  config.noise.scale = 1.0
  # Keyword parameters of the noise function (empty = its defaults).
  config.noise.params = ml_collections.ConfigDict()
  config.paired = ml_collections.ConfigDict()
  config.paired.path = ''  # .npz with pred_jl, gt_jl [N, 42, 3] (metres)
  config.paired.held_out_fraction = 0.1

  config.loss_weights = ml_collections.ConfigDict(dict(jl=1.0, bones=1.0))
  # Noise models of the held-out evaluation (before / after the DAE).
  config.eval_noises = ('gaussian', 'uniform', 'structured')
  return config

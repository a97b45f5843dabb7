"""Shared defaults of the DAE experiments (each config file overrides a few).

Architecture and optimiser follow the paper (Sec. 3.4, 4.1) and the authors'
code (../shared/docs/PAPER_FACTS.md): encoder 1024-1024-512, decoder
1024-1024 with skips, dropout 0.2 (keep probability 0.8), ELU + BatchNorm,
Adam at 1e-3 (cosine decay to 1e-5 here), batch 256, L1 on JL + L1 on B.
Runs are sized for a 2-core CPU (4000 steps at ~25 ms/step, ~2 minutes).
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

  # Training input: synthetic bodies + a noise model of smplr_jax.noise, or
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
  config.test_noise_seed = 1234
  return config

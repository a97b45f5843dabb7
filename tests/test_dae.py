"""The denoising autoencoder: module structure, noise models, paired data,
the task end to end and the stitched DAE + SMPLR evaluation."""

import json

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.dae.configs import structured as structured_config
from smplr_jax import dae
from smplr_jax import jl as jl_lib
from smplr_jax import metrics
from smplr_jax import noise
from smplr_jax import sampler
from smplr_jax import smplr
from smplr_jax import train

SMALL = dict(encoder=(16, 12, 8), decoder=(12, 16))


@pytest.fixture(scope='module')
def body():
  return smplr.BodyModels.load()


@pytest.fixture(scope='module')
def bodies_jl(body):
  """[1024, 42, 3] held-out JL of sampled bodies (metres)."""
  return jnp.asarray(sampler.make_test_set(body.gendered, size=1024,
                                           seed=3)['jl'])


def _random_jl(key, batch):
  return jax.random.normal(key, (batch, 42, 3)).at[:, 0].set(0.0) * 0.3


def _randomised(variables, seed=0):
  """Every parameter and BatchNorm statistic random (variance positive)."""
  leaves, tree = jax.tree.flatten_with_path(variables)
  rng = np.random.default_rng(seed)
  out = []
  for path, x in leaves:
    value = rng.normal(0.0, 0.3, x.shape).astype(np.float32)
    if 'var' in jax.tree_util.keystr(path):
      value = np.abs(value) + 0.5
    out.append(jnp.asarray(value))
  return jax.tree.unflatten(tree, out)


# --- module -------------------------------------------------------------------


@pytest.mark.parametrize('batch', [1, 5])
def test_shapes_and_root(batch):
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), batch)
  variables = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))
  out = net.apply(variables, jl, train=False)
  assert out.shape == (batch, 42, 3)
  np.testing.assert_array_equal(out[:, 0], 0.0)
  with pytest.raises(ValueError, match=r'jl must be \[B, 42, 3\]'):
    net.apply(variables, jl[:, 1:], train=False)


def test_mismatched_skip_widths_raise():
  with pytest.raises(ValueError, match='must match the encoder layers'):
    dae.DAE(encoder=(16, 12, 8), decoder=(16, 12)).init(
        jax.random.PRNGKey(0), jnp.zeros((2, 42, 3)), train=False)


@pytest.mark.parametrize('train_mode', [False, True])
def test_fresh_dae_is_the_identity(train_mode):
  net = dae.DAE()
  jl = _random_jl(jax.random.PRNGKey(0), 4)
  variables = net.init(jax.random.PRNGKey(1), jl, train=False)
  np.testing.assert_array_equal(variables['params']['residual']['kernel'], 0)
  if train_mode:
    out, _ = net.apply(variables, jl, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.PRNGKey(2)})
  else:
    out = net.apply(variables, jl, train=False)
  np.testing.assert_array_equal(out, jl)


def test_matches_a_reference_forward_with_skips():
  """Eval-mode forward written out by hand: decoder 1 adds encoder 2,
  decoder 2 adds encoder 1, the output adds the input."""
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 3)
  v = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))
  p, s = v['params'], v['batch_stats']

  def layer(h, name):
    z = h @ np.asarray(p[f'{name}_dense']['kernel'])
    stats, bn = s[f'{name}_bn'], p[f'{name}_bn']
    z = (z - stats['mean']) / np.sqrt(stats['var'] + 1e-5)
    z = z * bn['scale'] + bn['bias']
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))  # ELU

  x = np.asarray(jl[:, 1:]).reshape(3, 123)
  e1 = layer(x, 'encoder1')
  e2 = layer(e1, 'encoder2')
  e3 = layer(e2, 'encoder3')
  d1 = layer(e3, 'decoder1') + e2
  d2 = layer(d1, 'decoder2') + e1
  out = x + d2 @ p['residual']['kernel'] + p['residual']['bias']
  np.testing.assert_allclose(net.apply(v, jl, train=False)[:, 1:],
                             out.reshape(3, 41, 3), atol=1e-4, rtol=1e-4)


def test_parameter_count_is_the_authors():
  net = dae.DAE()
  shapes = jax.eval_shape(
      lambda key: net.init(key, jnp.zeros((2, 42, 3)), train=False),
      jax.random.PRNGKey(0))
  count = dae.count_parameters(shapes['params'])
  # Dense kernels (no bias before BatchNorm) + BN scale/bias + output layer.
  widths = [123, 1024, 1024, 512, 1024, 1024]
  expected = sum(a * b + 2 * b for a, b in zip(widths[:-1], widths[1:]))
  expected += 1024 * 123 + 123
  assert count == expected == 3_406_971
  assert count == pytest.approx(3.41e6, rel=0.005)  # authors: ~3.41 M


def test_dropout_in_training_only():
  net = dae.DAE(**SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 8)
  v = _randomised(net.init(jax.random.PRNGKey(1), jl, train=False))

  def train_out(seed):
    out, _ = net.apply(v, jl, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.PRNGKey(seed)})
    return np.asarray(out)

  assert not np.allclose(train_out(0), train_out(1))
  np.testing.assert_array_equal(train_out(0), train_out(0))
  # Evaluation needs no dropout key and is deterministic.
  np.testing.assert_array_equal(net.apply(v, jl, train=False),
                                net.apply(v, jl, train=False))
  with pytest.raises(flax.errors.InvalidRngError):
    net.apply(v, jl, train=True, mutable=['batch_stats'])


def test_dae2d_ignores_depth():
  net = dae.DAE(zero_depth=True, **SMALL)
  jl = _random_jl(jax.random.PRNGKey(0), 4)
  fresh = net.init(jax.random.PRNGKey(1), jl, train=False)
  out = net.apply(fresh, jl, train=False)
  np.testing.assert_array_equal(out[..., 2], 0.0)  # identity of the 2D input
  np.testing.assert_array_equal(out[..., :2], jl[..., :2])
  v = _randomised(fresh)
  other_depth = jl.at[..., 2].set(jax.random.normal(jax.random.PRNGKey(5),
                                                    jl.shape[:2]))
  np.testing.assert_array_equal(net.apply(v, jl, train=False),
                                net.apply(v, other_depth, train=False))
  assert np.abs(net.apply(v, jl, train=False)[:, 1:, 2]).min() > 0


# --- noise models -------------------------------------------------------------


@pytest.mark.parametrize('kind', ['uniform', 'gaussian', 'structured'])
def test_noise_is_deterministic_per_key_and_keeps_the_root(kind, bodies_jl):
  jl = bodies_jl[:64]
  a = noise.add_noise(jax.random.PRNGKey(0), jl, kind)
  b = noise.add_noise(jax.random.PRNGKey(0), jl, kind)
  c = noise.add_noise(jax.random.PRNGKey(1), jl, kind)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)
  np.testing.assert_allclose(a[:, 0], 0.0, atol=1e-7)
  assert a.shape == jl.shape


def test_unknown_noise_model():
  with pytest.raises(ValueError, match="unknown noise model 'salt'"):
    noise.add_noise(jax.random.PRNGKey(0), jnp.zeros((1, 42, 3)), 'salt')


def test_gaussian_noise_sigmas(bodies_jl):
  delta = np.asarray(noise.gaussian_point_noise(
      jax.random.PRNGKey(0), bodies_jl, scale=2.0) - bodies_jl)
  std = delta.std(axis=0)  # [42, 3]
  expected = 2.0 * noise.GAUSSIAN_SIGMAS[:, None] * np.asarray(
      [1.0, 1.0, noise.DEPTH_FACTOR])
  np.testing.assert_allclose(std[1:], expected[1:], rtol=0.12)
  assert np.all(delta[:, 0] == 0)


def _group_errors(noisy, jl):
  return metrics.finalize(metrics.accumulate(
      None, metrics.jl_metrics(noisy, jl)))


def test_structured_noise_looks_like_a_cnn(bodies_jl):
  noisy = noise.structured_point_noise(jax.random.PRNGKey(0), bodies_jl)
  errors = _group_errors(noisy, bodies_jl)
  # Distal joints err most: wrists, elbows and feet more than the spine/hips.
  for distal in ('Wt', 'Ew', 'Ft'):
    assert errors[distal] > 2 * errors['Ts'] > errors['Hp']
  assert errors['Wt'] > errors['Ew'] > errors['Sr']
  # The paper's hourglass on SURREAL: 61.9 mm joints (we calibrate near it).
  assert 45 < errors['mpjpe'] < 80
  # Errors mostly along the camera depth axis.
  delta = np.abs(np.asarray(noisy - bodies_jl))[:, 1:].mean(axis=(0, 1))
  assert delta[2] > 1.3 * delta[0] and delta[2] > 1.3 * delta[1]
  # Correlated along limbs: bones err far less than points.
  assert errors['bones'] < 0.3 * errors['mpjpe']


def _only(**params):
  off = dict(angle_sigmas=np.zeros(42), jitter_sigmas=np.zeros(42),
             depth_scale_sigma=0.0, swap_probability=0.0,
             occlusion_probability=0.0)
  off.update(params)
  return off


def test_structured_swaps(bodies_jl):
  p = 0.3
  noisy = np.asarray(noise.structured_point_noise(
      jax.random.PRNGKey(0), bodies_jl, **_only(swap_probability=p)))
  jl = np.asarray(bodies_jl)
  mirrored = jl[:, list(jl_lib.LEFT_RIGHT_PERMUTATION)]
  for ids in noise.SWAP_GROUPS.values():
    ids = list(ids)
    # (Recomposing the body from its bones rounds at the 1e-7 m level.)
    swapped = np.all(np.isclose(noisy[:, ids], mirrored[:, ids], atol=1e-5),
                     axis=(1, 2))
    kept = np.all(np.isclose(noisy[:, ids], jl[:, ids], atol=1e-5),
                  axis=(1, 2))
    assert np.all(swapped | kept)
    assert swapped.mean() == pytest.approx(p, abs=0.05)
  others = [i for i in range(42)
            if all(i not in g for g in noise.SWAP_GROUPS.values())]
  np.testing.assert_allclose(noisy[:, others], jl[:, others], atol=1e-5)


def test_structured_occlusion_pulls_toward_the_parent(bodies_jl):
  noisy = np.asarray(noise.structured_point_noise(
      jax.random.PRNGKey(0), bodies_jl[:64],
      **_only(occlusion_probability=1.0, occlusion_pull=(0.2, 0.6))))
  jl = np.asarray(bodies_jl[:64])
  # Every point moved along its bone toward the (also moved) parent: in the
  # original body, the noisy point lies on the segment parent -> child.
  parents = list(jl_lib.JL_PARENTS[1:])
  bone = jl[:, 1:] - jl[:, parents]
  moved = noisy[:, 1:] - jl[:, 1:]
  t = -np.sum(moved * bone, -1) / np.maximum(np.sum(bone * bone, -1), 1e-12)
  long_bones = np.linalg.norm(bone, axis=-1) > 0.02
  assert np.all((t[long_bones] > 0.2 - 1e-3) & (t[long_bones] < 0.6 + 1e-3))
  np.testing.assert_allclose(moved, -t[..., None] * bone, atol=1e-5)


def test_structured_tilts_keep_bone_lengths(bodies_jl):
  jl = bodies_jl[:64]
  noisy = noise.structured_point_noise(
      jax.random.PRNGKey(0), jl,
      **_only(angle_sigmas=noise.STRUCTURED_ANGLE_SIGMAS))
  np.testing.assert_allclose(jl_lib.bone_lengths(noisy),
                             jl_lib.bone_lengths(jl), atol=1e-5)
  assert np.abs(np.asarray(noisy - jl)).max() > 0.05
  # Scale 0 without swaps/occlusions: no noise at all.
  clean = noise.structured_point_noise(
      jax.random.PRNGKey(0), jl, scale=0.0, swap_probability=0.0,
      occlusion_probability=0.0)
  np.testing.assert_allclose(clean, jl, atol=1e-6)


# --- paired data ---------------------------------------------------------------


def _write_pairs(path, n=40, **overrides):
  rng = np.random.default_rng(0)
  gt = rng.normal(0.0, 0.3, (n, 42, 3)).astype(np.float32) + 1.0
  arrays = dict(pred_jl=gt + rng.normal(0.0, 0.03, gt.shape), gt_jl=gt)
  arrays.update(overrides)
  np.savez(path, **arrays)
  return arrays


def test_paired_dataset_loads_root_relative(tmp_path):
  arrays = _write_pairs(tmp_path / 'pairs.npz')
  data = dae.PairedJLDataset.load(tmp_path / 'pairs.npz')
  assert len(data) == 40 and data.pred_jl.dtype == np.float32
  np.testing.assert_array_equal(data.gt_jl[:, 0], 0.0)
  np.testing.assert_allclose(data.gt_jl,
                             arrays['gt_jl'] - arrays['gt_jl'][:, :1],
                             atol=1e-6)
  train_part, held = data.split(0.25)
  assert (len(train_part), len(held)) == (30, 10)
  np.testing.assert_array_equal(held.pred_jl, data.pred_jl[30:])


@pytest.mark.parametrize('overrides, message', [
    (dict(gt_jl=np.zeros((40, 24, 3), np.float32)),
     r'gt_jl must be \[N, 42, 3\]'),
    (dict(pred_jl=np.zeros((39, 42, 3), np.float32)), 'must be pairs'),
    (dict(pred_jl=np.full((40, 42, 3), np.nan, np.float32)),
     'pred_jl has NaN/Inf values in 40 of 40'),
    (dict(gt_jl=np.zeros((40, 42, 3), np.int32)), 'floating point'),
])
def test_paired_dataset_errors(tmp_path, overrides, message):
  _write_pairs(tmp_path / 'bad.npz', **overrides)
  with pytest.raises(ValueError, match=message):
    dae.PairedJLDataset.load(tmp_path / 'bad.npz')


def test_paired_dataset_missing_file_or_key(tmp_path):
  with pytest.raises(ValueError, match='not found; expected an .npz'):
    dae.PairedJLDataset.load(tmp_path / 'nope.npz')
  np.savez(tmp_path / 'one.npz', pred_jl=np.zeros((2, 42, 3)))
  with pytest.raises(ValueError, match=r"missing arrays \['gt_jl'\]"):
    dae.PairedJLDataset.load(tmp_path / 'one.npz')


# --- the task end to end -------------------------------------------------------


def _tiny_config(**overrides):
  config = structured_config.get_config()
  config.dae.encoder, config.dae.decoder = SMALL['encoder'], SMALL['decoder']
  config.update(dict(num_steps=6, batch_size=32, log_every=3, eval_every=6,
                     validation_size=32, test_set_size=32, eval_batch_size=32,
                     progress_bar=False, num_devices=2))
  config.update(overrides)
  return config


def test_tiny_training_end_to_end(tmp_path):
  results = train.train_and_evaluate(
      _tiny_config(eval_noises=('uniform', 'structured')), tmp_path)
  log = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').open()]
  assert [row['step'] for row in log] == [3, 6]
  assert all(np.isfinite(row[k]) for row in log
             for k in ('loss', 'loss_jl', 'loss_bones'))
  for kind in ('uniform', 'structured'):
    for stage in ('before', 'after'):
      for metric in ('mpjpe', 'pa_mpjpe', 'landmarks', 'bones', 'Wt'):
        assert np.isfinite(results[f'{kind}/{stage}/{metric}'])
  # Structured noise is the largest of the three (before the DAE).
  assert (results['structured/before/mpjpe'] >
          results['uniform/before/mpjpe'] > 10)
  saved = json.loads((tmp_path / 'results.json').read_text())
  assert saved['uniform/after/mpjpe'] == results['uniform/after/mpjpe']


def test_paired_training_samples_from_the_file(tmp_path):
  _write_pairs(tmp_path / 'pairs.npz', n=80)
  config = _tiny_config(data='paired', num_devices=1, eval_batch_size=8)
  config.paired.path = str(tmp_path / 'pairs.npz')
  task = dae.DAETask(config)
  batch = task.sample_batch(jax.random.PRNGKey(0), 16)
  pairs = task.train_pairs
  for pred, gt in zip(np.asarray(batch['jl_in']), np.asarray(batch['jl'])):
    index = np.flatnonzero(np.all(pairs.gt_jl == gt, axis=(1, 2)))
    assert index.size == 1
    np.testing.assert_array_equal(pairs.pred_jl[index[0]], pred)
  results = train.train_and_evaluate(config, tmp_path / 'run', task)
  assert set(results) >= {'paired/before/mpjpe', 'paired/after/mpjpe'}
  assert results['paired/before/mpjpe'] > 0


def test_paired_mode_needs_a_path():
  with pytest.raises(ValueError, match='needs --config.paired.path'):
    dae.DAETask(_tiny_config(data='paired'))


def test_stitched_identity_dae_changes_nothing(body):
  """A fresh DAE is the identity: DAE + SMPLR equals SMPLR alone."""
  net = dae.DAE(**SMALL)
  dae_vars = net.init(jax.random.PRNGKey(0), jnp.zeros((2, 42, 3)),
                      train=False)
  smplr_config = ml_collections.ConfigDict(dict(
      parts=('shape', 'pose'), shape_inputs='joints_landmarks',
      rotation='6d', activation='elu', num_betas=10))
  smplr_net = smplr.SMPLR(smplr_config)
  smplr_vars = smplr_net.init(jax.random.PRNGKey(1))
  test_set = sampler.make_test_set(body.gendered, size=8, seed=4)
  rows = dae.evaluate_stitched(net, dae_vars, smplr_net, smplr_vars, body,
                               test_set, 'structured', noise_seed=0,
                               batch_size=8)
  assert set(rows) == {'input', 'dae', 'smplr', 'dae+smplr'}
  for key, value in rows['input'].items():
    assert rows['dae'][key] == pytest.approx(value, rel=1e-5, abs=1e-4)
  for key, value in rows['smplr'].items():
    assert rows['dae+smplr'][key] == pytest.approx(value, rel=1e-5, abs=1e-4)
  assert 'surface' in rows['smplr'] and 'gender_acc' in rows['smplr']

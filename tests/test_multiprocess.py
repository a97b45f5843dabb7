"""Multi-process training (jax.distributed on CPU processes over localhost):
two processes train one model whose parameters match a single process with
the same global number of devices, and a checkpoint written by two
processes resumes in one.

Each run is a fresh `python tests/train_worker.py` (or the SMPLR launcher
with its --coordinator_address/--num_processes/--process_id flags). These
runs compile the real tasks in every process, so they are `slow`; an
explicit `pytest -k multiprocess` runs them (see conftest.py).
"""

import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import pytest
import test_tasks_image_net
import test_tasks_smplr
import train_worker

from smplr_jax.nets import weights_io
from smplr_jax.training.tasks import image_net as image_net_task

REPO = pathlib.Path(__file__).resolve().parents[1]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def run_processes(commands, timeout=1500, env=None):
  """Runs commands concurrently; fails with the output of the first that
  fails (the others, waiting for it at a barrier, are then killed)."""
  env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
  with contextlib.ExitStack() as stack:
    logs = [stack.enter_context(tempfile.TemporaryFile('w+'))
            for _ in commands]
    procs = [subprocess.Popen(c, stdout=log, stderr=subprocess.STDOUT,
                              cwd=REPO, env=env)
             for c, log in zip(commands, logs)]
    deadline = time.time() + timeout
    try:
      while any(p.poll() is None for p in procs):
        if (any(p.returncode not in (None, 0) for p in procs) or
            time.time() > deadline):
          break
        time.sleep(0.5)
    finally:
      for p in procs:  # only the processes started here
        if p.poll() is None:
          p.kill()
          p.wait()
    outputs = []
    for log in logs:
      log.seek(0)
      outputs.append(log.read())
  for i, p in enumerate(procs):
    assert p.returncode == 0, f'process {i} exited {p.returncode}:\n' + (
        outputs[i][-4000:])
  return outputs


def worker(tmp_path, name, config, workdir, devices, process=None):
  return train_worker.write_spec(tmp_path / f'{name}.json', config, workdir,
                                 devices=devices, process=process)


def group(tmp_path, name, config, workdir, processes, devices):
  """Commands of a run of `processes` workers of `devices` CPUs each."""
  if processes == 1:
    return [worker(tmp_path, name, config, workdir, devices)]
  address = f'localhost:{_free_port()}'
  return [worker(tmp_path, f'{name}_{i}', config, workdir, devices,
                 (address, processes, i)) for i in range(processes)]


def max_difference(a_workdir, b_workdir, step):
  _, a, _ = weights_io.load_trained_variables(a_workdir, step)
  _, b, _ = weights_io.load_trained_variables(b_workdir, step)
  return max(float(np.max(np.abs(x - y))) for x, y in zip(
      jax.tree.leaves(a), jax.tree.leaves(b)))


def log(workdir):
  return {row['step']: row for row in map(
      json.loads, (workdir / 'metrics.jsonl').read_text().splitlines())}


def assert_written_once(workdir, steps):
  """Process 0 alone wrote the files: one row per logging step, one
  TensorBoard file."""
  assert list(log(workdir)) == steps
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert len(lines) == len(steps)
  assert len(list(workdir.glob('events.out.tfevents.*'))) == 1
  assert json.loads((workdir / 'results.json').read_text())


def _smplr_config():
  return test_tasks_smplr._tiny_config(  # pylint: disable=protected-access
      num_steps=8, log_every=2, eval_every=4, test_set_size=32,
      validation_size=32, num_devices=0)


def _launcher(config, workdir, address, processes, index):
  """The SMPLR launcher's command with the multi-process flags."""
  overrides = {k: config[k] for k in (
      'num_steps', 'batch_size', 'learning_rate', 'log_every', 'eval_every',
      'test_set_size', 'validation_size', 'eval_batch_size', 'progress_bar',
      'num_devices')}
  return [sys.executable, '-m', 'experiments.smplr.main',
          '--config=experiments/smplr/configs/smplr.py',
          f'--workdir={workdir}', f'--coordinator_address={address}',
          f'--num_processes={processes}', f'--process_id={index}'] + [
              f'--config.{k}={v}' for k, v in overrides.items()]


def check_layouts(tmp_path, config, devices, logged, multi, commands,
                  env=None):
  """Runs `commands`, 2 processes x `devices` CPUs training in `multi`, and
  compares them with a single process of the same global device count and,
  with 2 devices per process, with 4 processes of 1 device.

  The means over devices (gradients, BatchNorm statistics, metrics) are
  all-reduces whose summation order is that of the collective: 2 devices
  sum a + b either way, so 2 x 1 and 1 x 2 agree exactly; 4 devices in one
  process sum in device order, while across processes gloo sums in ring
  order, the same for 2 x 2 and 4 x 1 (these agree exactly). Between 1 x 4
  and 2 x 2 the rounding differs in the last bit, and Adam, which divides
  by sqrt(v), turns that into up to a full step (lr) on parameters whose
  gradient is ~0: there the bound is `num_steps * learning_rate`, and the
  losses agree to 1e-4.

  Returns:
    {layout: max |parameter difference| to `multi`} (printed).
  """
  steps = logged[-1]
  single = tmp_path / 'single'
  run_processes(
      commands + group(tmp_path, 'single', config, single, 1, 2 * devices),
      env=env)
  differences = {f'1x{2 * devices}': max_difference(multi, single, steps)}
  if devices == 2:
    four = tmp_path / 'four'
    run_processes(group(tmp_path, 'four', config, four, 4, 1))
    differences['4x1'] = max_difference(multi, four, steps)
    assert differences['4x1'] <= 1e-5
    bound, rtol = config.num_steps * config.learning_rate, 1e-4
  else:
    bound, rtol = 1e-5, 1e-5
  print(f'{config.task} 2x{devices}: max |param diff| {differences}')
  assert differences[f'1x{2 * devices}'] <= bound
  for step in logged:
    np.testing.assert_allclose(log(multi)[step]['loss'],
                               log(single)[step]['loss'], rtol=rtol)
  assert_written_once(multi, logged)
  return differences


@pytest.mark.slow
@pytest.mark.parametrize('devices', [1, 2])
def test_multiprocess_smplr_matches_one_process(tmp_path, devices):
  """2 processes x `devices` CPUs started by the launcher's flags, against
  one process (`check_layouts`); with 1 device each, the 2 processes'
  step-4 checkpoint also resumes in 1 process to the same step 8."""
  config = _smplr_config()
  address = f'localhost:{_free_port()}'
  multi = tmp_path / 'multi'
  check_layouts(
      tmp_path, config, devices, [2, 4, 6, 8], multi,
      [_launcher(config, multi, address, 2, i) for i in range(2)],
      env={'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}'})
  if devices == 1:
    shutil.copytree(multi, tmp_path / 'resumed')
    shutil.rmtree(tmp_path / 'resumed' / 'checkpoints' / '8')
    run_processes(group(tmp_path, 'resumed', config, tmp_path / 'resumed',
                        1, 2))
    difference = max_difference(multi, tmp_path / 'resumed', 8)
    print(f'SMPLR resumed in 1 process: max |param diff| {difference:.3g}')
    assert difference <= 1e-5


@pytest.fixture(scope='module')
def hourglass_data(tmp_path_factory):
  """The tiny smplr_synthetic set of test_tasks_image_net, built once."""
  tmp_path = tmp_path_factory.mktemp('hourglass_data')
  # pylint: disable-next=protected-access
  config = test_tasks_image_net._tiny_config(
      tmp_path, num_steps=6, log_every=2, eval_every=6, num_devices=0)
  image_net_task.load_sources(config)  # builds it
  config.data.build = False
  return config


@pytest.mark.slow
@pytest.mark.parametrize('devices', [1, 2])
def test_multiprocess_hourglass_matches_one_process(tmp_path, hourglass_data,
                                                    devices):
  """Host-fed image batches, one share per process: 2 processes x `devices`
  CPUs against one process (`check_layouts`)."""
  config = hourglass_data
  multi = tmp_path / 'multi'
  check_layouts(tmp_path, config, devices, [2, 4, 6], multi,
                group(tmp_path, 'multi', config, multi, 2, devices))
  predictions = [np.load(w / 'predictions.npz')['pred_jl']
                 for w in (multi, tmp_path / 'single')]
  np.testing.assert_allclose(*predictions,
                             atol=1e-5 if devices == 1 else 1e-2)

"""The training library: one data-parallel loop for every network we train.

A *task* (`Task`, e.g. `smplr_jax.training.tasks.smplr.SMPLRTask`) says what is
trained: how to initialise its variables, how to draw a batch from a PRNG key
(or stream one from the host), its loss and its evaluation. The launcher
builds the task and passes it to `train_and_evaluate`; this module knows only
the `Task` interface and does the rest, the same way for all of them:

  * one device mesh with a `data` axis; the per-device step is written
    pmap-style (explicit `lax.pmean` of gradients and metrics; BatchNorm
    averages its batch statistics over the same axis) and mapped with
    `jax.shard_map` inside `jax.jit`, the train state donated;
  * the same code runs as several processes (one per host or GPU, joined by
    `parallel.initialize_distributed` in the launcher): the mesh spans every
    process's devices, host-fed batches are read as one share per process
    and assembled into global arrays, checkpoints are written collectively,
    and only process 0 writes logs and files;
  * batches are generated on device from `fold_in(data_key, step)`, so a run
    is a deterministic function of its config and resumes exactly;
  * metrics stay on device as running sums, fetched only on logging steps;
  * a non-finite loss or gradient leaves the state untouched and raises a flag
    that the host reads on logging/checkpoint steps (no per-step sync); the
    run then stops with `NonFiniteLossError`, its last good checkpoint intact;
  * orbax `CheckpointManager` keeps the last N checkpoints and the best one
    (lowest validation loss); a run restarted on its workdir resumes from
    its newest usable checkpoint (a killed write leaves none half-made; an
    unreadable one is reported and skipped; a failed write, e.g. a full
    disk, stops the run with `checkpoints.CheckpointWriteError`), and
    metrics.jsonl is cut back to that step (`smplr_jax.training.checkpoints`); the
    mesh and batch placement come from `smplr_jax.training.parallel`;
  * progress bar (tqdm) and metrics (absl log, TensorBoard events, jsonl).
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm
from absl import logging
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from smplr_jax.nets import weights_io
from smplr_jax.training import checkpoints, metric_writers, parallel
from smplr_jax.training.parallel import DATA_AXIS

PyTree = Any


class NonFiniteLossError(RuntimeError):
  """Raised when the loss or a gradient became NaN/Inf during training."""


class Task(Protocol):
  """What a network trained by `train_and_evaluate` must provide."""

  def init_variables(self, rng: jax.Array) -> dict[str, PyTree]:
    """{'params': ..., 'batch_stats': ...} of the networks being trained."""

  def sample_batch(self, rng: jax.Array, batch_size: int) -> PyTree:
    """A global training batch (jit-able; leading axis = batch).

    Tasks whose data come from files (images) instead define
    `train_batches(start_step, batch_size) -> Iterator[host batch]`: the
    batches of steps start_step, start_step + 1, ... (the same batch for a
    step whether or not the run was resumed), fed to the step from the host.
    With several processes each yields its share of every global batch
    (`parallel.process_share`: batch_size / process_count rows).
    """

  def loss(self, params: PyTree, batch_stats: PyTree, batch: PyTree,
           rng: jax.Array, train: bool):
    """(loss, (metrics dict of scalars, new batch_stats)) on one device."""

  def validation_batches(self) -> list[PyTree]:
    """Fixed held-out batches (host arrays) for the validation loss."""

  def evaluate(self, variables: dict[str, PyTree]) -> dict[str, float]:
    """Final metrics of trained variables (host floats, reporting units).

    Tasks whose evaluation also produces per-example arrays (the image network's
    predictions) instead define `evaluate_with_predictions(variables) ->
    (metrics, {name: array})`; `train_and_evaluate` then writes the arrays
    to `workdir/predictions.npz`.
    """


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue; a pytree, checkpointed whole.

  Attributes:
    step: number of optimizer steps taken.
    params: network parameters.
    batch_stats: BatchNorm running statistics.
    opt_state: optimizer state.
    nonfinite_step: -1, or the first step whose loss/gradient was not finite
      (that update was skipped).
  """
  step: jax.Array
  params: PyTree
  batch_stats: PyTree
  opt_state: PyTree
  nonfinite_step: jax.Array


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam with the learning-rate schedule named in the config.

  'constant', 'cosine' (to `final_learning_rate`), or 'sigmoid' (the authors':
  lr * (1 - sigmoid(epoch / 12.5 - 4)) + final_lr, over 200 "epochs" spread
  across `num_steps`). The cosine may start with a linear warm-up from 0 over
  `warmup_steps` (a run that starts from trained weights with a fresh Adam).
  """
  lr, final = config.learning_rate, config.get('final_learning_rate', 0.0)
  kind = config.get('schedule', 'cosine')
  warmup = config.get('warmup_steps', 0)
  if warmup and kind != 'cosine':
    raise ValueError(f'warmup_steps is for the cosine schedule, not {kind!r}.')
  if kind == 'constant':
    schedule = lr
  elif kind == 'cosine' and warmup:
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, lr, warmup, config.num_steps, end_value=final)
  elif kind == 'cosine':
    schedule = optax.cosine_decay_schedule(
        lr, config.num_steps, alpha=final / lr if lr else 0.0)
  elif kind == 'sigmoid':
    def schedule(step):
      epoch = 200.0 * step / config.num_steps
      return lr * (1.0 - jax.nn.sigmoid(epoch / 12.5 - 4.0)) + final
  else:
    raise ValueError(f'unknown schedule {kind!r}')
  tx = optax.adam(schedule)
  if config.get('grad_clip_norm'):
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), tx)
  return tx


def sampled_batches(sample_batch: Callable[[jax.Array, int], PyTree],
                    seed: int, num_examples: int,
                    batch_size: int) -> list[PyTree]:
  """Fixed held-out batches of a task that samples on device: batch i is
  `sample_batch(fold_in(PRNGKey(seed), i), batch_size)`, fetched to the host;
  `num_examples // batch_size` of them (at least one)."""
  key = jax.random.PRNGKey(seed)
  sample = jax.jit(sample_batch, static_argnums=1)
  return [jax.device_get(sample(jax.random.fold_in(key, i), batch_size))
          for i in range(max(1, num_examples // batch_size))]


def run_keys(seed: int) -> tuple[jax.Array, jax.Array]:
  """(init_key, data_key) of a run: its variables are
  `task.init_variables(init_key)`, its batches come from `data_key`."""
  init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
  return init_key, data_key


def create_train_state(variables: Mapping[str, PyTree],
                       tx: optax.GradientTransformation) -> TrainState:
  params = variables['params']
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      batch_stats=variables.get('batch_stats', {}),
      opt_state=tx.init(params),
      nonfinite_step=jnp.full((), -1, jnp.int32))


def _all_finite(tree: PyTree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def make_train_step(task: Task, tx: optax.GradientTransformation, mesh: Mesh,
                    batch_size: int, host_batches: bool = False) -> Callable:
  """Builds `train_step(state, data_key[, batch]) -> (state, metrics)`.

  The global batch is drawn on device from `fold_in(data_key, state.step)`,
  or, with `host_batches`, passed in (leading axis `batch_size`); it is
  sharded along the mesh's `data` axis, and each device runs
  `per_device_step` on its shard. `state` is donated.
  """
  num_devices = mesh.devices.size
  if batch_size % num_devices:
    raise ValueError(f'batch size {batch_size} is not divisible by the '
                     f'{num_devices} devices of the mesh')
  batch_sharding = parallel.batch_sharding(mesh)

  def per_device_step(state: TrainState, batch: PyTree, rng: jax.Array):
    rng = jax.random.fold_in(rng, jax.lax.axis_index(DATA_AXIS))
    grad_fn = jax.value_and_grad(task.loss, has_aux=True)
    (loss, (metrics, batch_stats)), grads = grad_fn(
        state.params, state.batch_stats, batch, rng, True)
    grads = jax.lax.pmean(grads, DATA_AXIS)
    metrics = jax.lax.pmean(dict(metrics, loss=loss), DATA_AXIS)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    finite = jnp.isfinite(metrics['loss']) & _all_finite(grads)
    keep = functools.partial(jax.tree.map,
                             lambda new, old: jnp.where(finite, new, old))
    first_bad = jnp.where((state.nonfinite_step < 0) & ~finite, state.step,
                          state.nonfinite_step)
    new_state = TrainState(
        step=state.step + 1,
        params=keep(params, state.params),
        batch_stats=keep(batch_stats, state.batch_stats),
        opt_state=keep(opt_state, state.opt_state),
        nonfinite_step=first_bad)
    return new_state, metrics

  # check_vma=False gives pmap semantics: gradients w.r.t. the replicated
  # parameters are per-device, and the explicit pmean above averages them
  # (with it on, autodiff would already psum them over the axis).
  mapped = jax.shard_map(per_device_step, mesh=mesh,
                         in_specs=(P(), P(DATA_AXIS), P()),
                         out_specs=(P(), P()), check_vma=False)

  @functools.partial(jax.jit, donate_argnums=0)
  def train_step(state: TrainState, data_key: jax.Array,
                 batch: PyTree | None = None):
    step_key = jax.random.fold_in(data_key, state.step)
    batch_key, loss_key = jax.random.split(step_key)
    if batch is None:
      batch = task.sample_batch(batch_key, batch_size)
    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    return mapped(state, batch, loss_key)

  if host_batches:
    process_index, process_count = parallel.process_share()
    share = batch_size // process_count

    def host_train_step(state, data_key, batch):
      sizes = {x.shape[0] for x in jax.tree.leaves(batch)}
      if sizes != {share}:
        of = (f' (process {process_index}\'s share of {process_count})'
              if process_count > 1 else '')
        raise ValueError(f'a training batch has leading sizes {sorted(sizes)}; '
                         f'expected {share}{of} (config.batch_size).')
      return train_step(state, data_key,
                        parallel.shard_batch(batch, mesh))
    return host_train_step

  return train_step


def make_eval_loss(task: Task, mesh: Mesh):
  """Builds `eval_loss(state, batch) -> loss` (inference mode, data
  parallel)."""

  def per_device(state, batch):
    loss, _ = task.loss(state.params, state.batch_stats, batch,
                        jax.random.PRNGKey(0), False)
    return jax.lax.pmean(loss, DATA_AXIS)

  return jax.jit(jax.shard_map(per_device, mesh=mesh,
                               in_specs=(P(), P(DATA_AXIS)), out_specs=P(),
                               check_vma=False))


@jax.jit
def _accumulate(totals: PyTree, metrics: PyTree) -> PyTree:
  return jax.tree.map(jnp.add, totals, metrics)


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str | pathlib.Path,
                       task: Task) -> dict[str, float]:
  """Trains `config`'s task in `workdir` (resuming if it holds a checkpoint).

  Args:
    config: experiment config; needs `seed`, `batch_size`, `num_steps`,
      `learning_rate`, `log_every`, `eval_every`, `keep_checkpoints` and what
      the task reads. `num_devices` (0 = all) picks the mesh size.
    workdir: run folder: config.json, checkpoints/, TensorBoard events,
      metrics.jsonl (one line per logging step), results.json, and
      predictions.npz for tasks with `evaluate_with_predictions`.
    task: the task (the launcher builds it, e.g. `smplr_jax.training.tasks.make_task`).

  Returns:
    The task's final evaluation metrics (also written to results.json).

  With several processes (`parallel.initialize_distributed`), every process
  calls this with the same config and workdir (a shared file system); they
  train one model on one mesh, and process 0 writes the files.

  Raises:
    NonFiniteLossError: when the loss became NaN/Inf; checkpoints written
      before that step are kept.
    checkpoints.CheckpointWriteError: a checkpoint could not be written (a
      full disk); the earlier ones are intact.
  """
  workdir = pathlib.Path(workdir).resolve()
  workdir.mkdir(parents=True, exist_ok=True)
  main = parallel.is_main_process()
  if main:
    checkpoints.save_config(config, workdir)

  mesh = parallel.make_mesh(config.get('num_devices', 0))
  tx = make_optimizer(config)
  init_key, data_key = run_keys(config.seed)
  replicated = parallel.replicated(mesh)
  state = jax.device_put(create_train_state(task.init_variables(init_key), tx),
                         replicated)

  manager, restored = checkpoints.open_for_training(
      workdir, config.keep_checkpoints, state)
  if restored is not None:
    state = jax.device_put(restored, replicated)
    logging.info('Resumed %s at step %d.', workdir, int(state.step))
  if main:  # the rows of steps after the checkpoint are logged again
    _truncate_log(workdir / 'metrics.jsonl', int(state.step))

  # Image tasks stream batches from the host; the others sample on device.
  make_batches = getattr(task, 'train_batches', None)
  train_step = make_train_step(task, tx, mesh, config.batch_size,
                               host_batches=make_batches is not None)
  eval_loss = make_eval_loss(task, mesh)
  validation = [jax.device_put(b, parallel.batch_sharding(mesh))
                for b in task.validation_batches()]
  writer = metric_writers.create_writer(workdir, active=main)

  def check_finite(state):
    bad = int(state.nonfinite_step)
    if bad >= 0:
      good = manager.latest_step()
      manager.wait_until_finished()
      raise NonFiniteLossError(
          f'The loss or its gradient became NaN/Inf at step {bad}; the run '
          f'stopped (that update was not applied). Last good checkpoint: '
          f'{"none" if good is None else f"step {good}"} in '
          f'{manager.directory}. Lower the learning rate or check the data.')

  start = int(state.step)
  batches = (make_batches(start, config.batch_size)
             if make_batches is not None else None)

  def next_batch(step):
    try:
      return (next(batches),)
    except StopIteration:
      raise ValueError(f'the training data ran out at step {step}; the task\'s '
                       'train_batches must yield num_steps batches.') from None

  totals, count, tick = None, 0, time.perf_counter()
  try:
    with tqdm.trange(start, config.num_steps, initial=start,
                     total=config.num_steps, desc=workdir.name,
                     # Fewer redraws when logging to a file (CI, nohup).
                     mininterval=0.1 if sys.stderr.isatty() else 30.0,
                     disable=not (main and config.get('progress_bar', True))
                     ) as bar:
      for step_index in bar:
        batch = () if batches is None else next_batch(step_index)
        state, metrics = train_step(state, data_key, *batch)
        totals = metrics if totals is None else _accumulate(totals, metrics)
        count += 1
        step = step_index + 1  # optimizer steps taken, as in state.step
        if step % config.log_every == 0 or step == config.num_steps:
          check_finite(state)
          means = {k: float(v) / count
                   for k, v in jax.device_get(totals).items()}
          elapsed = time.perf_counter() - tick
          means['steps_per_second'] = count / elapsed
          means['examples_per_second'] = count * config.batch_size / elapsed
          writer.write_scalars(step,
                               {f'train/{k}': v for k, v in means.items()})
          if main:
            with open(workdir / 'metrics.jsonl', 'a') as f:
              f.write(json.dumps(dict(step=step, **means)) + '\n')
          bar.set_postfix(loss=f'{means["loss"]:.4g}')
          totals, count, tick = None, 0, time.perf_counter()
        if step % config.eval_every == 0 or step == config.num_steps:
          check_finite(state)
          val_loss = float(np.mean([float(eval_loss(state, b))
                                    for b in validation]))
          writer.write_scalars(step, {'val/loss': val_loss})
          checkpoints.save_state(manager, step, state, val_loss)
  except BaseException:
    writer.close()  # what was logged reaches the events file
    raise
  finally:
    if batches is not None and hasattr(batches, 'close'):
      batches.close()  # stops the loader's worker threads
  manager.wait_until_finished()

  best = weights_io.best_or_latest_step(manager)
  if best is not None and best != int(state.step):
    state = checkpoints.restore_state(manager, best, state)
  # Every process evaluates a copy on one device (host-side loops, no
  # collectives); process 0 writes.
  variables = parallel.to_local({'params': state.params,
                                 'batch_stats': state.batch_stats})
  evaluate_with_predictions = getattr(task, 'evaluate_with_predictions', None)
  if evaluate_with_predictions is not None:
    results, predictions = evaluate_with_predictions(variables)
    if main:
      np.savez(workdir / 'predictions.npz', **predictions)
  else:
    results = task.evaluate(variables)
  results['checkpoint_step'] = int(best if best is not None else state.step)
  writer.write_scalars(int(state.step),
                       {f'test/{k}': v for k, v in results.items()})
  writer.close()
  if main:
    (workdir / 'results.json').write_text(json.dumps(results, indent=2))
  manager.close()
  return results


def _truncate_log(path: pathlib.Path, step: int) -> None:
  """Drops the rows of steps after `step` from a metrics.jsonl (a resumed
  run logs them again)."""
  if not path.exists():
    return
  lines = path.read_text().splitlines(keepends=True)
  kept = [line for line in lines
          if line.strip() and json.loads(line)['step'] <= step]
  if len(kept) != len(lines):
    path.write_text(''.join(kept))

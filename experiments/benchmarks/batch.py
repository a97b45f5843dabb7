r"""Benchmark: `smplr-jax batch` against a plain loop, and a killed run.

    pip install -e ".[detector,beam]"
    python -m experiments.benchmarks.batch [--num_photos=60] [--repeats=2] \
        [--parts=throughput,kill,clip] [--workdir=/tmp/smplr_batch_bench] \
        [--json_out=batch.json]

On `num_photos` held-out renders (`renders.render_set`, 512 x 512, written
once as PNGs), each variant runs in a fresh process over the same photos,
after one untimed pass that fills a shared XLA compilation cache (so that
every variant reads its programs from disk alike), `repeats` times in
turn (a shared machine's load falls on all):

  * plain: `load_pipeline()` once, then per photo `load_photo`,
    `predict_people`, `write_photo_outputs` (XLA's thread pool);
  * plain, 1 thread: the same with one XLA thread (what each of several
    workers gets);
  * batch 1 worker: `batch.run_batch` in-process (DirectRunner);
  * batch 2 workers (XLA pools): two worker processes, each with XLA's
    thread pool (the default of --workers=2);
  * batch 2 workers, 1 XLA thread each: the same with one XLA thread in
    each (what a cluster's workers get).

Per variant: the whole run's wall time and items/s (start-up, loading,
cached compilation and every photo), the steady rate ((N - 1) / the time
between the first and the last item finished), the median item's ms, and
the CPU ms per item between those two moments (the process tree's, sampled
from /proc: the machine's other load moves it far less than wall times);
for one worker also the time between items that no item spent in (the
runner's own overhead, apart from load);
for the plain loops also the CPU ms per photo (all threads: what a vCPU
is billed for) and the peak memory. Two worker processes start some 10 s
later than one in-process worker, so over a whole run they gain only past
a few dozen photos: hence 60. Targets (issue 37): batch with 1 worker
costs at most 10% more per item than the plain loop (steady rates); 2
workers beat 1.

Then a run killed with SIGKILL halfway (once N / 2 items are committed) is
resumed, and its folders are compared file by file with the uninterrupted
1-worker run's: items committed before the kill (left untouched), items
run after it, files byte-identical (item.json: all but its ms), files
only numerically equal (largest difference), files missing or extra.

Last, the shipped clip (walk.mp4, 60 frames) in a one-thread process: CPU
and wall ms per frame of `predict_video`, of writing the track files, and
of writing them with overlay.mp4 (docs/scale.md costs its plans from
these).
"""

from __future__ import annotations

import filecmp
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

_NUM_PHOTOS = flags.DEFINE_integer('num_photos', 60, 'Renders run.')
_SEED = flags.DEFINE_integer('seed', 2024, 'Render seed.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Timed runs of each variant.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/smplr_batch_bench',
                               'Photos, outputs and the XLA cache.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')
# Internal: one variant's run, in its own process.
_PARTS = flags.DEFINE_list('parts', ['throughput', 'kill', 'clip'],
                          'What to measure (driver).')
_ROLE = flags.DEFINE_enum('role', 'driver',
                          ['driver', 'plain', 'batch', 'clip'],
                          'driver: the whole benchmark; plain / batch: one '
                          'run (started by the driver).')
_PHOTOS = flags.DEFINE_string('photos', None, 'plain / batch: the folder '
                               'of photos.')
_OUTPUT = flags.DEFINE_string('output', None, 'plain / batch: the folder.')
_WORKERS = flags.DEFINE_integer('workers', 1, 'batch: worker processes.')
_SINGLE_THREAD = flags.DEFINE_boolean('single_thread', False,
                                      'batch: one XLA thread per worker.')

# (label, role, workers, one XLA thread)
VARIANTS = (('plain', 'plain', 1, False),
            ('plain, 1 thread', 'plain', 1, True),
            ('batch 1 worker', 'batch', 1, False),
            ('batch 2 workers (XLA pools)', 'batch', 2, False),
            ('batch 2 workers, 1 XLA thread each', 'batch', 2, True))
_NUMBER = re.compile(rb'-?\d+\.\d+(?:e-?\d+)?')


def _photos(workdir: pathlib.Path, num: int, seed: int) -> list[str]:
  """The renders as PNG files (made once)."""
  folder = workdir / f'photos_{num}_{seed}'
  if not folder.is_dir():
    from PIL import Image  # pylint: disable=g-import-not-at-top
    from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
    staging = workdir / 'photos.partial'
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for i, record in enumerate(renders.render_set(num, seed)):
      Image.fromarray(np.asarray(record['image'])).save(
          staging / f'render_{i:04d}.png')
    staging.rename(folder)
  return sorted(str(p) for p in folder.glob('*.png'))


def _plain(photos: list[str], output: str) -> None:
  """The plain loop; writes the finish time of every item to times.json."""
  from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import read, write  # pylint: disable=g-import-not-at-top
  batch.use_compilation_cache()  # the same cache as the batch runs
  predictor = predictor_lib.load_pipeline(front_end='blazepose')
  ms, cpu_ms, finished = [], [], []
  for i, path in enumerate(photos):
    start, cpu = time.perf_counter(), time.process_time()
    photo = read.load_photo(path)
    people = predictor.predict_people(photo)
    if people:
      write.write_photo_outputs(people, photo,
                                os.path.join(output, f'{i}.partial'))
    # One folder per photo, renamed in when done: what the sampler counts.
    os.makedirs(os.path.join(output, f'{i}.partial'), exist_ok=True)
    os.rename(os.path.join(output, f'{i}.partial'),
              os.path.join(output, str(i)))
    ms.append(1000 * (time.perf_counter() - start))
    cpu_ms.append(1000 * (time.process_time() - cpu))
    finished.append(time.time())
  with open(os.path.join(output, 'times.json'), 'w') as f:
    json.dump({'ms': ms, 'cpu_ms': cpu_ms, 'finished': finished,
               'max_rss_mb': _max_rss_mb()}, f)


def _max_rss_mb() -> float:
  import resource  # pylint: disable=g-import-not-at-top
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clip(output: str) -> None:
  """The shipped example clip through `predict_video` and
  `write_clip_outputs`, twice (the first compiles); the second's process
  CPU seconds (all threads) and wall seconds to clip.json."""
  from smplr_jax.app import service  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import read, write  # pylint: disable=g-import-not-at-top
  batch.use_compilation_cache()
  predictor = predictor_lib.load_pipeline(front_end='blazepose')
  clip = str(service.example_path('walk.mp4'))
  costs = {}
  for _ in range(2):
    wall, cpu = time.perf_counter(), time.process_time()
    result = predictor.predict_video(read.open_video(clip))
    costs['predict'] = (time.process_time() - cpu,
                        time.perf_counter() - wall)
    for overlay in (False, True):
      folder = os.path.join(output, f'overlay_{overlay}')
      shutil.rmtree(folder, ignore_errors=True)
      wall, cpu = time.perf_counter(), time.process_time()
      write.write_clip_outputs(result, clip, folder, predictor.body,
                               predictor.track_vertices, overlay=overlay)
      costs[f'write_overlay_{overlay}'] = (time.process_time() - cpu,
                                           time.perf_counter() - wall)
  with open(os.path.join(output, 'clip.json'), 'w') as f:
    json.dump({'frames': result['num_frames'], 'costs': costs,
               'max_rss_mb': _max_rss_mb()}, f)


def _child(role: str, photos_dir: str, output: str, workers: int = 1,
           single_thread: bool = False) -> list[str]:
  return [sys.executable, '-m', 'experiments.benchmarks.batch',
          f'--role={role}', f'--output={output}', f'--workers={workers}',
          f'--single_thread={single_thread}', f'--photos={photos_dir}']


def _environment(cache: pathlib.Path, single_thread: bool,
                 role: str) -> dict[str, str]:
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['SMPLR_JAX_CACHE'] = str(cache)
  if single_thread and role == 'plain':  # batch sets it per worker itself
    from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top
    env['XLA_FLAGS'] = batch.SINGLE_THREAD_XLA_FLAGS
  return env


def _finish_times(output: pathlib.Path, role: str) -> tuple[list, list]:
  """(each item's ms, each item's finish time) of a finished run."""
  if role == 'plain':
    times = json.loads((output / 'times.json').read_text())
    return times['ms'], times['finished']
  records = sorted(output.glob('*/item.json'))
  return ([json.loads(p.read_text())['ms'] for p in records],
          [p.stat().st_mtime for p in records])


def _tree_cpu_seconds(root: int) -> float:
  """User + system CPU seconds of a process and all its descendants
  (/proc), that are alive now."""
  parents, cpu = {}, {}
  tick = os.sysconf('SC_CLK_TCK')
  for entry in os.listdir('/proc'):
    if not entry.isdigit():
      continue
    try:
      with open(f'/proc/{entry}/stat', 'rb') as f:
        fields = f.read().rsplit(b')', 1)[1].split()
    except OSError:  # gone meanwhile
      continue
    parents[int(entry)] = int(fields[1])
    cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
  total = 0.0
  for pid, seconds in cpu.items():
    ancestor = pid
    while ancestor not in (root, 0, 1) and ancestor in parents:
      ancestor = parents[ancestor]
    if ancestor == root:
      total += seconds
  return total


def _committed_count(output: pathlib.Path, role: str) -> int:
  if role == 'plain':  # its finished folders: 0, 1, ... (not N.partial)
    return sum(p.name.isdigit() for p in output.iterdir())
  return len(list(output.glob('*/item.json')))


def _run_variant(label, role, workers, single_thread, photos_dir, output,
                 cache) -> dict:
  """One run in a fresh process. Besides wall times, the CPU seconds of
  the process tree are sampled against the items committed: CPU ms per
  item between the first and the last commit, which the machine's other
  load barely moves (wall times do)."""
  shutil.rmtree(output, ignore_errors=True)
  output.mkdir(parents=True)
  start = time.time()
  run = subprocess.Popen(_child(role, photos_dir, str(output), workers,
                                single_thread),
                         env=_environment(cache, single_thread, role),
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
  samples = []  # (items committed, CPU seconds)
  while run.poll() is None:
    samples.append((_committed_count(output, role),
                    _tree_cpu_seconds(run.pid)))
    time.sleep(0.05)
  if run.returncode:
    raise RuntimeError(f'{label}: exit status {run.returncode}')
  wall = time.time() - start
  ms, finished = (np.asarray(a) for a in _finish_times(output, role))
  order = np.argsort(finished)
  ms, finished = ms[order], finished[order]
  first = next(s for s in samples if s[0] >= 1)
  last = max(samples)
  span = finished[-1] - finished[0]
  out = {'variant': label, 'wall_s': wall, 'items': len(ms),
         'items_per_s': len(ms) / wall,
         'steady_items_per_s': (len(ms) - 1) / span,
         'median_item_ms': float(np.median(ms)),
         'steady_cpu_ms_per_item': 1000 * (last[1] - first[1]) / max(
             1, last[0] - first[0])}
  if workers == 1:  # time between items that no item spent in: overhead
    out['between_items_ms'] = (1000 * span - ms[1:].sum()) / (len(ms) - 1)
  if role == 'plain':  # CPU seconds (all threads): what a vCPU is billed
    times = json.loads((output / 'times.json').read_text())
    out['median_item_cpu_ms'] = float(np.median(times['cpu_ms']))
    out['max_rss_mb'] = times['max_rss_mb']
  return out


def _max_number_difference(a: pathlib.Path, b: pathlib.Path) -> float | None:
  """The largest difference of the decimal numbers of two text files with
  the same words between them; None when they differ otherwise."""
  text_a, text_b = a.read_bytes(), b.read_bytes()
  if _NUMBER.sub(b'#', text_a) != _NUMBER.sub(b'#', text_b):
    return None
  numbers_a = np.array([float(x) for x in _NUMBER.findall(text_a)])
  numbers_b = np.array([float(x) for x in _NUMBER.findall(text_b)])
  return float(np.max(np.abs(numbers_a - numbers_b), initial=0.0))


def _kill_and_resume(photos_dir: str, reference: pathlib.Path,
                     output: pathlib.Path, cache: pathlib.Path,
                     num: int) -> dict:
  """SIGKILL once half the items are committed, resume, compare."""
  shutil.rmtree(output, ignore_errors=True)
  env = _environment(cache, False, 'batch')
  run = subprocess.Popen(_child('batch', photos_dir, str(output)), env=env,
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
  try:
    while (len(list(output.glob('*/item.json'))) < num // 2 and
           run.poll() is None):
      time.sleep(0.01)
  finally:
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
  before = {p.parent.name: p.stat().st_mtime_ns
            for p in output.glob('*/item.json')}
  half_written = [p.name for p in output.iterdir() if p.is_dir() and
                  not p.name.startswith('.') and p.name not in before]
  staged = len(list((output / '.staging').glob('*')))
  subprocess.run(_child('batch', photos_dir, str(output)), env=env,
                 check=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
  untouched = sum(
      (output / name / 'item.json').stat().st_mtime_ns == stamp
      for name, stamp in before.items())
  identical, numeric, different, missing, extra = 0, 0, 0, 0, 0
  largest = 0.0
  names = sorted(p.name for p in reference.iterdir() if p.is_dir() and
                 not p.name.startswith('.'))
  for name in names:
    ours = {p.name for p in (output / name).iterdir()} if (
        output / name).is_dir() else set()
    theirs = {p.name for p in (reference / name).iterdir()}
    missing += len(theirs - ours)
    extra += len(ours - theirs)
    for file in sorted(ours & theirs):
      a, b = output / name / file, reference / name / file
      if filecmp.cmp(a, b, shallow=False):
        identical += 1
        continue
      if file == 'item.json':  # its ms differ by nature: the rest
        records = [json.loads(p.read_text()) for p in (a, b)]
        for record in records:
          del record['ms']
        identical += records[0] == records[1]
        different += records[0] != records[1]
        continue
      difference = (_max_number_difference(a, b)
                    if file.endswith(('.json', '.obj')) else None)
      if difference is None:
        different += 1
      else:
        numeric += 1
        largest = max(largest, difference)
  extra_folders = sorted({p.name for p in output.iterdir() if p.is_dir() and
                          not p.name.startswith('.')} - set(names))
  return {'items': len(names), 'committed_before_kill': len(before),
          'half_written_folders_after_kill': len(half_written),
          'staged_after_kill': staged,
          'untouched_by_resume': untouched,
          'run_after_resume': len(names) - len(before),
          'files_identical': identical,
          'files_numerically_equal': numeric,
          'largest_number_difference': largest,
          'files_different': different, 'files_missing': missing,
          'files_extra': extra, 'folders_extra': len(extra_folders),
          'staging_left': (output / '.staging').exists()}


def _throughput(photos_dir: str, workdir: pathlib.Path,
                cache: pathlib.Path, num: int) -> dict:
  """Every variant `repeats` times, in turn; prints the table."""
  # Untimed: both thread settings' programs into the cache (the batch runs
  # compile the same programs as the plain loop).
  for _, role, workers, single in VARIANTS[:2]:
    _run_variant('warm-up', role, workers, single, photos_dir,
                 workdir / 'warm', cache)
  results = {label: [] for label, *_ in VARIANTS}
  for repeat in range(_REPEATS.value):
    for label, role, workers, single in VARIANTS:
      out = _run_variant(label, role, workers, single, photos_dir,
                         workdir / f'out_{role}_{workers}_{int(single)}',
                         cache)
      results[label].append(out)
      print(f'  [{repeat}] {label}: {out["wall_s"]:.1f} s, steady '
            f'{out["steady_items_per_s"]:.2f} items/s', flush=True)
  rows = {label: {key: float(np.median([r[key] for r in runs]))
                  for key in runs[0] if key != 'variant'}
          for label, runs in results.items()}
  plain = rows['plain']
  print(f'\n{num} photos, median of {_REPEATS.value} runs each (wall: the '
        'whole process, start-up and cached compilation included; steady: '
        'between the first and the last item):')
  print('| variant | wall s | items/s | steady items/s | median item ms '
        '| steady s/item vs plain | steady CPU ms/item |')
  print('|---|---:|---:|---:|---:|---:|---:|')
  for label, row in rows.items():
    print(f'| {label} | {row["wall_s"]:.1f} | {row["items_per_s"]:.2f} | '
          f'{row["steady_items_per_s"]:.2f} | {row["median_item_ms"]:.0f} | '
          f'{plain["steady_items_per_s"] / row["steady_items_per_s"]:.2f}x '
          f'| {row["steady_cpu_ms_per_item"]:.0f} |')
  one, two = rows['batch 1 worker'], rows['batch 2 workers (XLA pools)']
  cpu_ratio = (one['steady_cpu_ms_per_item'] /
               plain['steady_cpu_ms_per_item'])
  print(f'batch 1 worker per item / plain: wall '
        f'{plain["steady_items_per_s"] / one["steady_items_per_s"]:.3f}, '
        f'CPU {cpu_ratio:.3f} (target <= 1.10)')
  print(f'time between items that no item spent in: batch 1 worker '
        f'{one["between_items_ms"]:.1f} ms, plain '
        f'{plain["between_items_ms"]:.1f} ms (each item\'s own ms are '
        'the rest)')
  print(f'2 workers / 1 worker: whole run '
        f'{two["items_per_s"] / one["items_per_s"]:.2f}x, steady '
        f'{two["steady_items_per_s"] / one["steady_items_per_s"]:.2f}x '
        '(target > 1)')
  single = rows['plain, 1 thread']
  print(f'one photo on one thread: {single["median_item_cpu_ms"]:.0f} CPU ms '
        f'(median; all threads: {plain["median_item_cpu_ms"]:.0f}); peak '
        f'memory {single["max_rss_mb"]:.0f} MB a process')
  return {'runs': results, 'medians': rows}


def _clip_costs(workdir: pathlib.Path, cache: pathlib.Path) -> dict:
  """The clip role in a one-thread process; prints ms per frame."""
  output = workdir / 'clip'
  shutil.rmtree(output, ignore_errors=True)
  output.mkdir(parents=True)
  subprocess.run(_child('clip', '', str(output)),
                 env=_environment(cache, True, 'plain'), check=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  clip = json.loads((output / 'clip.json').read_text())
  frames = clip['frames']
  print(f'\nclip ({frames} frames of the shipped walk.mp4, one XLA thread, '
        'compiled): CPU ms per frame (wall ms)')
  for part, (cpu, wall) in clip['costs'].items():
    print(f'  {part}: {1000 * cpu / frames:.0f} ({1000 * wall / frames:.0f})')
  print(f'  peak memory {clip["max_rss_mb"]:.0f} MB')
  return clip


def _driver() -> None:
  workdir = pathlib.Path(_WORKDIR.value)
  workdir.mkdir(parents=True, exist_ok=True)
  photos = _photos(workdir, _NUM_PHOTOS.value, _SEED.value)
  photos_dir = str(pathlib.Path(photos[0]).parent)
  cache = workdir / 'xla_cache'
  print(f'{len(photos)} photos; load average before: '
        f'{os.getloadavg()[0]:.2f}', flush=True)
  results = {}
  if 'throughput' in _PARTS.value:
    results.update(_throughput(photos_dir, workdir, cache, len(photos)))
  if 'kill' in _PARTS.value:
    reference = workdir / 'out_batch_1_0'
    if not reference.is_dir():  # the uninterrupted run to compare with
      _run_variant('reference', 'batch', 1, False, photos_dir, reference,
                   cache)
    killed = _kill_and_resume(photos_dir, reference, workdir / 'killed',
                              cache, len(photos))
    print('\nkilled (SIGKILL) once half the items were committed, then '
          'resumed; against the uninterrupted 1-worker run, file by file:')
    for key, value in killed.items():
      print(f'  {key}: {value}')
    results['killed'] = killed
  if 'clip' in _PARTS.value:
    results['clip'] = _clip_costs(workdir, cache)
  load = os.getloadavg()
  print(f'load average after: {load[0]:.2f} (1 min), {load[1]:.2f} '
        f'(5 min), {load[2]:.2f} (15 min)')
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, 'w') as f:
      json.dump(results, f, indent=2)


def main(argv):
  del argv
  if _ROLE.value == 'driver':
    _driver()
    return
  photos = sorted(str(p) for p in pathlib.Path(_PHOTOS.value).glob('*.png'))
  if _ROLE.value == 'plain':
    _plain(photos, _OUTPUT.value)
  elif _ROLE.value == 'clip':
    _clip(_OUTPUT.value)
  else:
    from smplr_jax.predict import batch  # pylint: disable=g-import-not-at-top
    batch.run_batch(photos, _OUTPUT.value, workers=_WORKERS.value,
                    single_thread=_SINGLE_THREAD.value, progress=False)


if __name__ == '__main__':
  app.run(main)

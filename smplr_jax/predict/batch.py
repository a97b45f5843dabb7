"""Photos and clips in bulk, on Apache Beam: `smplr-jax batch`.

    run_batch('photos/*.jpg', 'out')                      # in-process
    run_batch('photos/*.jpg', 'out', workers=2)           # two processes
    run_batch('gs://b/in/*.jpg', 'gs://b/out', runner='DataflowRunner',
              beam_options=['--project=p', '--region=europe-west4'])

Each input is an item: a photo (everyone in it: `Predictor.predict_people`,
then `write.write_photo_outputs`) or a clip (by its file type:
`Predictor.predict_video`, then `write.write_clip_outputs`). The items go
through Beam's RunInference with `PredictorHandler`, which loads the
pipeline once per worker process. The output folder holds:

    DIR/<name>/          one folder per item; <name> is the input's file
                         name and a hash of its full path (`item_name`), so
                         two `person.jpg` in different folders do not meet
    DIR/<name>/item.json its record: input, kind, status (ok | failed),
                         people, ms, error (one line), files
    DIR/summary.tsv      one line per input, rebuilt from the records at
                         the end of every run (`write_summary`)
    DIR/.staging/        items being written, and the run's list of
                         items to do (local output; an object store's
                         list is in DIR/.manifests/, removed after)

Commit and resume: an item's files and its record are written to
`DIR/.staging/` and the folder is renamed to `DIR/<name>` (one atomic
rename on a local or network file system); on an object store (gs://,
s3://), which has no rename, the files are copied in and item.json last.
Either way an item is finished exactly when `DIR/<name>/item.json` exists.
A run lists those first and sends only the others through the pipeline,
so a run killed at any moment (SIGKILL included) resumes where it stopped:
nothing finished is redone, nothing half-written is kept, and a second
commit of the same item (a retried bundle) is dropped.

Failures: a file that cannot be read, holds no person, or breaks a step
of the prediction is recorded as status 'failed' with its one-line error,
and the run goes on. A broken environment (a missing extra) or an output
that cannot be written stops the run instead; the rerun resumes.

Threads: local workers keep XLA's thread pool. A photo is mostly
single-threaded work (BlazePose, Python, PNG encoding) with bursts of XLA,
and a pool lets one worker's burst use the core the other leaves idle: on
2 cores shared with other jobs, 2 workers with pools ran 2.67 photos/s
against 2.17 with one XLA thread each; on the idle machine the two were
within noise (4.28 and 4.39; experiments/benchmarks/batch.py,
docs/scale.md). On a cluster runner, which starts one SDK process per
core, each worker runs XLA on one thread (`SINGLE_THREAD_XLA_FLAGS`).

One run at a time per output folder (a local folder is locked).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import glob
import hashlib
import json
import os
import posixpath
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference import base as inference
from apache_beam.options.pipeline_options import PipelineOptions

from smplr_jax import resources
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import read, write

RECORD = 'item.json'
SUMMARY = 'summary.tsv'
STAGING = '.staging'
MANIFESTS = '.manifests'
SUMMARY_COLUMNS = ('input', 'folder', 'status', 'people', 'ms', 'skipped',
                   'error')
# One XLA CPU thread per worker process (as tests/conftest.py does for the
# test workers): N processes each with an N-thread pool oversubscribe N
# cores.
SINGLE_THREAD_XLA_FLAGS = ('--xla_cpu_multi_thread_eigen=false '
                           'intra_op_parallelism_threads=1')
# Inputs read as clips (PyAV); anything else is read as a photo (PIL). A
# fixed list: the system's MIME table differs between machines.
CLIP_SUFFIXES = ('.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm', '.mpg',
                 '.mpeg', '.wmv', '.flv', '.3gp', '.ts', '.mts')
_LOCAL_RUNNERS = ('DirectRunner', 'direct')


class Item(NamedTuple):
  """One input of a run.

  Attributes:
    path: the input: an absolute local path, or a URL Beam's FileSystems
      reads (gs://, s3://, hdfs://).
    name: its output folder's name under DIR (`item_name`).
    kind: 'photo' or 'clip'.
  """
  path: str
  name: str
  kind: str


@dataclasses.dataclass(frozen=True)
class BatchResult:
  """What a run did.

  Attributes:
    records: one record (item.json's dict, with 'skipped') per input, in
      the order of the inputs; an item without a record (the run stopped
      before it) has status 'pending'.
    summary: the summary.tsv written.
  """
  records: list[dict[str, Any]]
  summary: str

  def count(self, status: str) -> int:
    """Items of this status ('ok', 'failed', 'pending') or, for 'skipped',
    those finished by an earlier run."""
    if status == 'skipped':
      return sum(bool(r['skipped']) for r in self.records)
    return sum(r['status'] == status and not r['skipped']
               for r in self.records)


def _is_local(path: str) -> bool:
  return FileSystems.get_scheme(path) is None


def _join(base: str, *parts: str) -> str:
  return os.path.join(base, *parts) if _is_local(base) else FileSystems.join(
      base, *parts)


def item_kind(path: str) -> str:
  """'clip' for a video file (`CLIP_SUFFIXES`, any case), else 'photo'
  (a file that is neither fails as an unreadable photo)."""
  suffix = posixpath.splitext(path)[1].lower()
  return 'clip' if suffix in CLIP_SUFFIXES else 'photo'


def item_name(path: str) -> str:
  """The output folder's name of an input: its file name (characters
  outside [A-Za-z0-9._-] replaced) and 16 hex digits of the SHA-256 of its
  full path, e.g. 'person.jpg-3f9a0c1b2d4e5f60'. Stable across runs and
  machines for the same path; distinct for equal file names in different
  folders (64 bits: a million 'frame.jpg' collide with odds of 3e-8)."""
  base = posixpath.basename(path.rstrip('/')) or 'item'
  stem = re.sub(r'[^A-Za-z0-9._-]+', '_', base)[:60].lstrip('.') or 'item'
  digest = hashlib.sha256(path.encode('utf-8')).hexdigest()[:16]
  return f'{stem}-{digest}'


def _glob(pattern: str) -> list[str]:
  if _is_local(pattern):
    return sorted(p for p in glob.glob(os.path.expanduser(pattern),
                                       recursive=True) if os.path.isfile(p))
  return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def expand_inputs(spec: str) -> list[str]:
  """The input paths of `--inputs`, in order, without repeats.

  Args:
    spec: a glob ('photos/**/*.jpg'), a folder (its files), a comma list
      of these, or '@LIST' (a file of paths, one a line; blank lines and
      '#' comments skipped). Local paths are made absolute; a URL
      (gs://...) is kept as it is.

  Returns:
    the paths. A listed file that does not exist is kept: the run records
    it as failed.

  Raises:
    ValueError: nothing given, a list file that cannot be read, or a glob
      or folder with no file.
  """
  spec = spec.strip()
  if spec.startswith('@'):
    try:
      with open(os.path.expanduser(spec[1:]), encoding='utf-8') as f:
        entries = [line.strip() for line in f]
    except OSError as e:
      raise ValueError(f'cannot read the input list {spec[1:]}: '
                       f'{e.strerror or e}.') from e
    entries = [e for e in entries if e and not e.startswith('#')]
  else:
    entries = [e.strip() for e in spec.split(',') if e.strip()]
  if not entries:
    raise ValueError(f'no inputs in {spec!r}: pass a glob, a folder, a '
                     'comma list or @LIST.')
  paths = []
  for entry in entries:
    if any(c in entry for c in '*?['):
      found = _glob(entry)
      if not found:
        raise ValueError(f'no file matches {entry!r}.')
    elif _is_local(entry) and os.path.isdir(os.path.expanduser(entry)):
      folder = os.path.expanduser(entry)
      found = sorted(os.path.join(folder, n) for n in os.listdir(folder)
                     if not n.startswith('.') and
                     os.path.isfile(os.path.join(folder, n)))
      if not found:
        raise ValueError(f'the folder {entry} holds no file.')
    else:
      found = [entry]
    paths += [os.path.abspath(os.path.expanduser(p)) if _is_local(p) else p
              for p in found]
  return list(dict.fromkeys(paths))


def make_items(paths: Sequence[str]) -> list[Item]:
  """Paths -> items (their folder names and kinds)."""
  return [Item(p, item_name(p), item_kind(p)) for p in paths]


def finished_names(output: str) -> set[str]:
  """The names of the items committed in `output` (those with a record):
  one listing of the folder, not one look-up per item."""
  if _is_local(output):
    return {os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(glob.escape(output), '*',
                                            RECORD))}
  try:
    matches = FileSystems.match([_join(output, '*', RECORD)])[0]
  except OSError:  # an object store's empty prefix
    return set()
  return {posixpath.basename(posixpath.dirname(m.path))
          for m in matches.metadata_list}


def read_record(output: str, name: str) -> dict[str, Any] | None:
  """An item's record (item.json), or None when it has not finished."""
  path = _join(output, name, RECORD)
  try:
    if _is_local(path):
      with open(path, encoding='utf-8') as f:
        return json.load(f)
    with FileSystems.open(path) as f:
      return json.loads(f.read().decode('utf-8'))
  except FileNotFoundError:
    return None
  except OSError:
    if not _is_local(path) and not FileSystems.exists(path):
      return None
    raise


def one_line(error: BaseException) -> str:
  """An error as one line: its message's first line (a type name for an
  error that is not a ValueError, whose message may not say what broke)."""
  text = (str(error).strip().splitlines() or [''])[0].replace('\t', ' ')
  if isinstance(error, ValueError):
    return text or type(error).__name__
  return f'{type(error).__name__}: {text}' if text else type(error).__name__


@contextlib.contextmanager
def _local_copy(path: str) -> Iterator[str]:
  """The input as a local file (a URL's bytes copied to a temporary file
  of the same extension: PIL and PyAV read local files)."""
  if _is_local(path):
    yield path
    return
  suffix = posixpath.splitext(path)[1]
  handle, local = tempfile.mkstemp(suffix=suffix, prefix='smplr-batch-')
  try:
    with os.fdopen(handle, 'wb') as out, FileSystems.open(path) as source:
      shutil.copyfileobj(source, out)
    yield local
  finally:
    os.remove(local)


def _predict(predictor, item: Item, local: str, *, focal: float | None,
             gender: str | None) -> tuple[int, Callable[[str], list[str]]]:
  """Reads one item (`local`: its file here) and predicts everyone in it.

  Returns:
    (people, write): `write(folder)` writes their files into `folder` and
    returns the names written.

  Raises:
    ValueError: an unreadable file, or nobody found.
  """
  if item.kind == 'clip':
    result = predictor.predict_video(read.open_video(local), focal=focal,
                                     gender=gender)
    if not result['tracks']:
      raise ValueError(f'no person found in any of the '
                       f'{result["num_frames"]} frames.')
    return len(result['tracks']), lambda folder: sorted(
        write.write_clip_outputs(result, local, folder, predictor.body,
                                 predictor.track_vertices))
  photo = read.load_photo(local)
  people = predictor.predict_people(photo, focal=focal, gender=gender)
  if not people:
    raise ValueError('no person found in the photo.')
  return len(people), lambda folder: sorted(
      p.name for p in write.write_photo_outputs(people, photo,
                                                folder).values())


def _commit_local(staged: str, folder: str) -> bool:
  """Renames the staged item folder to its place; False when another
  attempt committed it first (the staged copy is dropped)."""
  try:
    os.rename(staged, folder)
    return True
  except OSError:
    if not os.path.exists(os.path.join(folder, RECORD)):
      raise
    shutil.rmtree(staged, ignore_errors=True)
    return False


def _commit_copy(staged: str, folder: str) -> bool:
  """Copies the staged files to `folder` (an object store's prefix, where
  there is no rename), item.json last: it is the commit. Leftovers of an
  attempt killed before its item.json are replaced."""
  if FileSystems.exists(_join(folder, RECORD)):
    return False
  leftovers = FileSystems.match([_join(folder, '*')])[0].metadata_list
  if leftovers:
    FileSystems.delete([m.path for m in leftovers])
  names = sorted(os.listdir(staged), key=lambda n: n == RECORD)
  for name in names:
    with open(os.path.join(staged, name), 'rb') as source, \
        FileSystems.create(_join(folder, name)) as out:
      shutil.copyfileobj(source, out)
  return True


def process_item(predictor, item: Item, output: str, *,
                 focal: float | None = None,
                 gender: str | None = None) -> dict[str, Any]:
  """One item -> its files and record, committed in `output`/item.name
  (see the module docstring). An item that cannot be read or predicted is
  committed as 'failed' with its one-line error.

  Args:
    predictor: a `predictor.Predictor` with the photo path.
    item: the input.
    output: the run's folder (local path or URL).
    focal: focal length in pixels (None: a 55 degree field of view).
    gender: 'female', 'male', 'neutral' or None (estimated).

  Returns:
    the record: input, name, kind, status ('ok' | 'failed'), people, ms,
    error (None when ok), files (the names written beside item.json).
    When another attempt committed the item first, that attempt's record.

  Raises:
    ImportError, MemoryError: a broken environment (not the item's fault).
    OSError: the output cannot be written.
  """
  start = time.perf_counter()
  local_output = _is_local(output)
  if local_output:
    staging_root = os.path.join(output, STAGING)
    os.makedirs(staging_root, exist_ok=True)
    staged = os.path.join(staging_root, f'{item.name}.{uuid.uuid4().hex}')
  else:
    staged = tempfile.mkdtemp(prefix='smplr-batch-')
  try:
    status, error, people, files = 'ok', None, 0, []
    local = item.path
    with contextlib.ExitStack() as stack:
      try:
        local = stack.enter_context(_local_copy(item.path))
        people, write_to = _predict(predictor, item, local, focal=focal,
                                    gender=gender)
      except (ImportError, MemoryError):
        raise
      except Exception as e:  # pylint: disable=broad-except
        # One bad input must not stop a million: its error is recorded
        # (the traceback on stderr when it is not a plain ValueError).
        if not isinstance(e, ValueError):
          traceback.print_exc(file=sys.stderr)
        # A URL's messages name it, not its temporary copy.
        status, error = 'failed', one_line(e).replace(local, item.path)
        people = 0
      else:  # a writing error (a full disk) stops the run: not the item's
        files = write_to(staged)
    os.makedirs(staged, exist_ok=True)
    record = {'input': item.path, 'name': item.name, 'kind': item.kind,
              'status': status, 'people': people,
              'ms': round(1000 * (time.perf_counter() - start)),
              'error': error, 'files': files}
    with open(os.path.join(staged, RECORD), 'w', encoding='utf-8') as f:
      json.dump(record, f, indent=1)
    folder = _join(output, item.name)
    committed = (_commit_local(staged, folder) if local_output else
                 _commit_copy(staged, folder))
    return record if committed else read_record(output, item.name)
  finally:
    if os.path.isdir(staged):
      shutil.rmtree(staged, ignore_errors=True)


def progress_line(record: dict[str, Any]) -> str:
  """One line per finished item: status, people, ms, input (and error)."""
  line = (f'{record["status"]:6} {record["people"]:2d} people '
          f'{record["ms"]:7d} ms  {record["input"]}')
  return f'{line}: {record["error"]}' if record['error'] else line


def use_compilation_cache() -> None:
  """The package's compilation cache (`resources.use_compilation_cache`,
  the folder `smplr-jax app` uses), every program kept, the small ones
  too: a resumed run or a second worker reads them (a one-photo run with a
  warm cache took 13.5 s against 23.3 s with a 1 s floor, 2 loaded
  cores)."""
  resources.use_compilation_cache(min_compile_time_secs=0.0)


@dataclasses.dataclass
class _Loaded:
  """A worker's pipeline, and a lock: a cluster's SDK harness runs several
  bundle threads in one process, and the detector and the fit take one
  item at a time."""
  predictor: Any
  lock: threading.Lock


class PredictorHandler(inference.ModelHandler[Item, dict, _Loaded]):
  """RunInference's model handler: `load_model` loads the pipeline once per
  worker process; `run_inference` runs `process_item` on each item (one
  item a batch: photos differ in size) and returns the records."""

  def __init__(self, output: str, *, weights: str | None = None,
               focal: float | None = None, gender: str | None = None,
               single_thread: bool = False, progress: bool = True):
    """Args:
      output: the run's folder.
      weights: a pipeline folder (None: the shipped weights).
      focal, gender: as in `process_item`.
      single_thread: run XLA on one thread in each worker (XLA_FLAGS, set
        in `load_model`: it takes effect where the worker's JAX has not
        started yet, as in a worker process).
      progress: print `progress_line` on stderr per item.
    """
    super().__init__()
    self._output = output
    self._weights = weights
    self._focal = focal
    self._gender = gender
    self._single_thread = single_thread
    self._progress = progress

  def load_model(self) -> _Loaded:
    if self._single_thread:  # before this worker's XLA backend starts
      flags = os.environ.get('XLA_FLAGS', '')
      if 'xla_cpu_multi_thread_eigen' not in flags:
        os.environ['XLA_FLAGS'] = f'{flags} {SINGLE_THREAD_XLA_FLAGS}'.strip()
    use_compilation_cache()
    from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
    predictor = predictor_lib.load_pipeline(self._weights,
                                            front_end='blazepose')
    # A missing [detector] extra stops the worker here, not item by item.
    predictor.check_photo_path()
    return _Loaded(predictor, threading.Lock())

  def run_inference(self, batch: Sequence[Sequence[str]], model: _Loaded,
                    inference_args: dict[str, Any] | None = None
                    ) -> Iterable[dict[str, Any]]:
    del inference_args
    records = []
    for item in batch:
      with model.lock:
        record = process_item(model.predictor, Item(*item), self._output,
                              focal=self._focal, gender=self._gender)
      if self._progress:
        print(progress_line(record), file=sys.stderr, flush=True)
      records.append(record)
    return records

  def batch_elements_kwargs(self) -> dict[str, int]:
    return {'min_batch_size': 1, 'max_batch_size': 1}

  def get_metrics_namespace(self) -> str:
    return 'smplr_jax_batch'


def pipeline_options(runner: str = 'DirectRunner', workers: int = 1,
                     beam_options: Sequence[str] | str = ()
                     ) -> PipelineOptions:
  """The run's Beam options: the runner, the local runner's worker
  processes, and any other Beam flags as they are (a list, or one string
  split as a shell would).

  Raises:
    ValueError: workers < 1, or workers > 1 with a runner that is not
      local (a cluster's runner has its own flag: --num_workers on
      Dataflow, --parallelism on Flink).
  """
  if isinstance(beam_options, str):
    beam_options = shlex.split(beam_options)
  if workers < 1:
    raise ValueError(f'--workers must be at least 1, got {workers}.')
  flags = [f'--runner={runner}']
  if workers > 1:
    if runner not in _LOCAL_RUNNERS:
      raise ValueError(f'--workers is for the local runner; with {runner} '
                       "pass its own option in --beam_options (Dataflow: "
                       '--num_workers, Flink: --parallelism).')
    # The worker processes print start-up chatter (INFO, WARNING) here.
    flags += [f'--direct_num_workers={workers}',
              '--direct_running_mode=multi_processing',
              '--default_sdk_harness_log_level=ERROR']
  return PipelineOptions(flags + list(beam_options))


def write_summary(output: str, items: Sequence[Item],
                  skipped: set[str]) -> BatchResult:
  """summary.tsv (`SUMMARY_COLUMNS`, one line per item, in input order)
  from the items' records as they are now: the same file however many
  runs it took. `skipped`: the names finished before this run."""
  # Many reads at once: an object store answers each in tens of ms.
  with concurrent.futures.ThreadPoolExecutor(32) as pool:
    found = pool.map(lambda item: read_record(output, item.name), items)
    records = []
    for item, record in zip(items, found):
      record = record or {
          'input': item.path, 'name': item.name, 'kind': item.kind,
          'status': 'pending', 'people': 0, 'ms': 0, 'error': None,
          'files': []}
      records.append(dict(record, skipped=item.name in skipped))
  lines = ['\t'.join(SUMMARY_COLUMNS)]
  for r in records:
    lines.append('\t'.join([r['input'], r['name'], r['status'],
                            str(r['people']), str(r['ms']),
                            'yes' if r['skipped'] else 'no',
                            r['error'] or '']))
  text = '\n'.join(lines) + '\n'
  path = _join(output, SUMMARY)
  if _is_local(output):  # replaced whole: a reader never sees half of it
    temporary = f'{path}.{uuid.uuid4().hex}'
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(temporary, path)
  else:
    with FileSystems.create(path) as f:
      f.write(text.encode('utf-8'))
  return BatchResult(records, path)


def _write_manifest(output: str, items: Sequence[Item]) -> str:
  """The items to run, one JSON list a line, in the output folder (where
  every worker reads): a pipeline reads a file of any length, while a
  million items in a Create would be inlined in the job's graph."""
  text = ''.join(json.dumps(list(item)) + '\n' for item in items)
  name = f'todo-{uuid.uuid4().hex}.jsonl'
  if _is_local(output):
    os.makedirs(os.path.join(output, STAGING), exist_ok=True)
    path = os.path.join(output, STAGING, name)
    with open(path, 'w', encoding='utf-8') as f:
      f.write(text)
    return path
  path = _join(output, MANIFESTS, name)
  with FileSystems.create(path) as f:
    f.write(text.encode('utf-8'))
  return path


@contextlib.contextmanager
def _one_run_at_a_time(output: str) -> Iterator[None]:
  """Holds DIR/.lock for the run (local output), and clears the staging
  folder (a killed run's leftovers) before and after. The lock dies with
  its process, SIGKILL included: nothing stale to remove by hand."""
  if not _is_local(output):
    yield
    return
  os.makedirs(output, exist_ok=True)
  with open(os.path.join(output, '.lock'), 'w', encoding='utf-8') as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
      raise ValueError(f'another smplr-jax batch is writing to {output}; '
                       'wait for it or pass another --output.') from e
    staging = os.path.join(output, STAGING)
    shutil.rmtree(staging, ignore_errors=True)
    try:
      yield
    finally:  # what is left there was never committed
      shutil.rmtree(staging, ignore_errors=True)


def run_batch(inputs: str | Sequence[str], output: str, *,
              runner: str = 'DirectRunner', workers: int = 1,
              beam_options: Sequence[str] | str = (),
              focal: float | None = None, gender: str | None = None,
              weights: str | None = None,
              single_thread: bool | None = None,
              progress: bool = True) -> BatchResult:
  """Every unfinished input -> its files in `output`, through Beam; then
  summary.tsv (see the module docstring).

  Args:
    inputs: `expand_inputs`'s spec, or a list of paths.
    output: the run's folder (local path, or gs:// etc. for a cluster).
    runner: Beam's runner ('DirectRunner', 'FlinkRunner', 'SparkRunner',
      'DataflowRunner', ...).
    workers: the local runner's worker processes.
    beam_options: more Beam flags (`pipeline_options`).
    focal: focal length in pixels for every item (None: a 55 degree field
      of view).
    gender: 'female', 'male', 'neutral', or None / 'auto' (estimated).
    weights: a pipeline folder (None: the shipped weights).
    single_thread: one XLA thread per worker; None: no on the local
      runner, yes on a cluster's (module docstring).
    progress: print a line per item, and the run's start and end.

  Returns:
    the `BatchResult` (every input's record, and the summary's path).

  Raises:
    ValueError: bad inputs, options or gender; clips without the [video]
      extra; another run holding `output`.
  """
  gender = gender_lib.check_stated(gender)
  options = pipeline_options(runner, workers, beam_options)
  paths = (expand_inputs(inputs) if isinstance(inputs, str) else
           [os.path.abspath(p) if _is_local(p) else p for p in inputs])
  items = make_items(list(dict.fromkeys(paths)))
  if not items:
    raise ValueError('no inputs.')
  if len({i.name for i in items}) < len(items):  # would skip one silently
    raise ValueError('two inputs share an output folder name; rename one.')
  if any(i.kind == 'clip' for i in items):
    try:
      import av  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError as e:
      raise ValueError('clips need PyAV: pip install -e ".[video]"') from e
  if single_thread is None:
    single_thread = runner not in _LOCAL_RUNNERS
  with _one_run_at_a_time(output):
    done = finished_names(output)
    todo = [i for i in items if i.name not in done]
    skipped = {i.name for i in items} & done
    if progress:
      print(f'{len(items)} inputs: {len(skipped)} finished by an earlier '
            f'run, {len(todo)} to run ({runner}, {workers} worker'
            f'{"s" if workers > 1 else ""})', file=sys.stderr, flush=True)
    manifest = _write_manifest(output, todo) if todo else None
    try:
      if todo:
        handler = PredictorHandler(output, weights=weights, focal=focal,
                                   gender=gender,
                                   single_thread=single_thread,
                                   progress=progress)
        with beam.Pipeline(options=options) as pipeline:
          _ = (pipeline
               | 'Items' >> beam.io.ReadFromText(manifest)
               | 'Parse' >> beam.Map(json.loads)
               | 'Spread' >> beam.Reshuffle()  # over every worker
               | 'Predict' >> inference.RunInference(handler))
    finally:  # also after a failed run: what is finished, what is not
      if manifest and not _is_local(output):  # (local: in the staging)
        FileSystems.delete([manifest])
      result = write_summary(output, items, skipped)
  if progress:
    print(f'{result.count("ok")} ok, {result.count("failed")} failed, '
          f'{result.count("skipped")} skipped (finished earlier)'
          + (f', {result.count("pending")} pending'
             if result.count('pending') else '')
          + f'; {result.summary}', file=sys.stderr, flush=True)
  return result

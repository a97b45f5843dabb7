r"""Benchmark: the web app's live webcam mode, as a user sees it, and what
its missing look-ahead costs.

    pip install -e ".[app,detector,test]"   # + Debian's chromium, chromium-driver
    python -m experiments.benchmarks.live [--seconds=30] [--clip_seed=7] \
        [--nobrowser] [--accuracy] [--num_clips=3] [--num_frames=150] \
        [--json_out=live_benchmark.json]

The browser run: a rendered clip (`renders.render_motion_clip`, 360 px,
letterboxed to a 480 x 360 webcam frame, played forward and back at 30
frames/s) becomes Chromium's fake camera (`--use-file-for-fake-video-
capture`, a .y4m). `smplr-jax app` runs in its own process (it compiles
the live mode before it serves); headless Chromium opens the page, starts
the live stream and watches it for `--seconds` after the first body. Every
frame the page sends carries its capture time in its pixels
(`harness.LIVE_PROBE_JS`); the body's picture comes back drawn over that
very frame, so latency = the picture reaching the page - the capture of
its frame, both by the browser's clock: upload, the wait for the server,
the work, the stream's delay (none by default) and the way back. It
prints frames/s (new bodies reaching the page a second), latency median
and p90, the server's own status line, and the load average (the machine
is shared: the browser, the app and anything else run on the same cores).

`--accuracy`: the stream's look-ahead against none, on rendered clips
(`--num_clips` x `--num_frames` at 30 frames/s, every third frame: the 10
frames/s the live mode reaches), through `stream.VideoStream` with the
live mode's settings and with the default causal look-ahead (4/30 s: one
frame at 10 frames/s, a delay of three): P1-23, P2-24 and the acceleration
error (mm / frame^2 at 10 frames/s) on the frames both give a body.

Targets (issue 36): >= 8 frames/s and <= 0.3 s latency on 2 cores.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np
from absl import app, flags

_SECONDS = flags.DEFINE_float('seconds', 30.0, 'Seconds watched after the '
                              'first body.')
_SETTLE = flags.DEFINE_float('settle', 5.0, 'Seconds skipped after the '
                             'first body (a new stream fills its windows).')
_CLIP_SEED = flags.DEFINE_integer('clip_seed', 7, 'Seed of the camera clip.')
_CLIP_FRAMES = flags.DEFINE_integer('clip_frames', 30, 'Frames rendered '
                                    'for the camera (played forward and '
                                    'back).')
_BROWSER = flags.DEFINE_bool('browser', True, 'Run the browser measurement '
                             '(--nobrowser: --accuracy only).')
_ACCURACY = flags.DEFINE_bool('accuracy', False, 'Also measure the '
                              "look-ahead's accuracy (renders clips).")
_NUM_CLIPS = flags.DEFINE_integer('num_clips', 3, 'Clips for --accuracy.')
_NUM_FRAMES = flags.DEFINE_integer('num_frames', 150, 'Frames at 30 '
                                   'frames/s per --accuracy clip.')
_SEED = flags.DEFINE_integer('seed', 2024, 'Seed of the --accuracy clips.')
_JSON_OUT = flags.DEFINE_string('json_out', None,
                                'Optional path for the results as JSON.')

STEP = 3  # --accuracy: 30 frames/s -> the live mode's 10


def _uptime() -> str:
  return subprocess.run(['uptime'], capture_output=True, text=True,
                        check=False).stdout.strip()


def browser_run(workdir: pathlib.Path) -> dict:
  """The live mode in headless Chromium fed by the rendered clip."""
  from smplr_jax.app import harness  # pylint: disable=g-import-not-at-top
  from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
  reason = harness.browser_availability()
  if reason:
    raise SystemExit(f'needs a headless browser: {reason}')
  records = renders.render_motion_clip(_CLIP_SEED.value, _CLIP_FRAMES.value,
                                       360)
  y4m = harness.write_y4m(workdir / 'camera.y4m', harness.live_clip(
      [r['image'] for r in records]), fps=30)
  del records
  log = workdir / 'app.log'
  with harness.running_app(log=log, timeout=600) as (url, _):
    page = harness.Page(url, flags=harness.fake_camera_flags(y4m),
                        scripts=(harness.LIVE_PROBE_JS,))
    try:
      start = time.perf_counter()
      page.start_live()
      first_body_s = time.perf_counter() - start
      time.sleep(_SETTLE.value)
      load_before = _uptime()
      result = harness.measure_live(page, _SECONDS.value)
      load_after = _uptime()
    finally:
      page.close()
  result.update(first_body_s=first_body_s, load_before=load_before,
                load_after=load_after, seconds=_SECONDS.value)
  return result


def _stream_joints(path, frames, lag_s: float, fps: float) -> np.ndarray:
  """[T, 24, 3] a stream's joints (NaN where no body), `lag_s` ahead."""
  from smplr_jax.app import service  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import stream as stream_lib  # pylint: disable=g-import-not-at-top
  settings = service.LiveSettings(fps=fps, causal_lag_s=lag_s)
  out = np.full((len(frames), 24, 3), np.nan)
  with stream_lib.VideoStream(path, fps=fps,
                              settings=settings.video_settings()) as stream:
    bodies = [b for frame in frames for b in stream.push(frame)]
    bodies += stream.finish()
  for body in bodies:
    out[body['frame']] = body['joints']
  return out


def accuracy_run() -> dict:
  """Look-ahead (the default causal one at 10 frames/s) against none."""
  from smplr_jax.app import service  # pylint: disable=g-import-not-at-top
  from smplr_jax.evaluation import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.evaluation import renders  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  from smplr_jax.predict import settings as settings_lib  # pylint: disable=g-import-not-at-top
  pipeline = predictor_lib.load_pipeline(front_end='blazepose')
  live = service.LiveSettings()
  looks = {'none (live mode)': live.causal_lag_s,
           'causal default (4/30 s)':
               settings_lib.VideoSettings.causal_lag_s}
  rows: dict[str, list] = {name: [] for name in looks}
  for clip in range(_NUM_CLIPS.value):
    records = renders.render_motion_clip(_SEED.value + clip,
                                         _NUM_FRAMES.value)[::STEP]
    frames = [r['image'] for r in records]
    truth = renders.ground_truth(records, pipeline.body)['joints']
    joints = {name: _stream_joints(pipeline.photo_path, frames, lag_s,
                                   live.fps)
              for name, lag_s in looks.items()}
    valid = np.all([~np.isnan(j[:, 0, 0]) for j in joints.values()], axis=0)
    idx = np.flatnonzero(valid)
    parts = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
    for name, pred in joints.items():
      for part in parts:
        if len(part) < 3:
          continue
        rows[name].append({
            'frames': len(part),
            'p1': 1000 * float(metrics_lib.mpjpe(
                pred[part], truth[part],
                joints=renders.P1_JOINTS).mean()),
            'p2': 1000 * float(metrics_lib.pa_mpjpe(
                pred[part], truth[part],
                joints=renders.P2_JOINTS).mean()),
            'accel_error': 1000 * float(metrics_lib.acceleration_error(
                pred[part], truth[part],
                joints=metrics_lib.JOINTS_24).mean())})
    print(f'clip {clip}: {len(idx)} of {len(frames)} frames with a body in '
          'both', flush=True)
  summary = {}
  for name, parts in rows.items():
    weights = np.asarray([p['frames'] for p in parts], float)
    summary[name] = {k: float(np.average([p[k] for p in parts],
                                         weights=weights))
                     for k in ('p1', 'p2', 'accel_error')}
    summary[name]['frames'] = int(weights.sum())
    summary[name]['delay_frames'] = 3 * settings_lib.VideoSettings(
        causal_lag_s=looks[name]).causal_window(live.fps)[1]
  return summary


def main(argv):
  del argv
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  results = {}
  if _BROWSER.value:
    with tempfile.TemporaryDirectory(prefix='live-bench-') as workdir:
      browser = browser_run(pathlib.Path(workdir))
    latencies = browser.pop('latencies')
    results['browser'] = browser
    print(f"live mode in Chromium, {browser['seconds']:g} s watched "
          f"({browser['bodies']} bodies, {browser['pictures']} pictures, "
          f"{browser['unreadable']} unreadable stamps; the first body "
          f"{browser['first_body_s']:.1f} s after the start):")
    print(f"  frames/s {browser['frames_per_s']:.1f} (target >= 8); "
          f"latency median {browser['latency_median_s']:.3f} s, p90 "
          f"{browser['latency_p90_s']:.3f} s, max {max(latencies):.3f} s "
          '(target <= 0.3)')
    print(f"  server: {browser['status']}")
    print(f"  load before: {browser['load_before']}")
    print(f"  load after:  {browser['load_after']}")
  if _ACCURACY.value:
    results['accuracy'] = accuracy_run()
    print(f'\nlook-ahead at 10 frames/s ({_NUM_CLIPS.value} clips x '
          f'{_NUM_FRAMES.value // STEP} frames, seed {_SEED.value}, 512 px; '
          'mm):')
    print('| look-ahead | delay (frames) | P1-23 | P2-24 | accel error '
          '(mm/frame^2) |')
    print('|---|---:|---:|---:|---:|')
    for name, row in results['accuracy'].items():
      print(f"| {name} | {row['delay_frames']} | {row['p1']:.1f} | "
            f"{row['p2']:.1f} | {row['accel_error']:.1f} |")
  if _JSON_OUT.value:
    pathlib.Path(_JSON_OUT.value).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  app.run(main)

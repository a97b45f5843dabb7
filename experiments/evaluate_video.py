r"""Video: jitter and accuracy of each mode on rendered motion clips.

    python -m experiments.evaluate_video [--num_clips=4] [--num_frames=90] \
        [--seed=2024] [--output=results.json]

Needs the detector extra. Renders `--num_clips` clips of one clothed person
moving smoothly (`motion.smooth_motion`: keyframe poses eased into each
other, the body turning slowly; `synthetic.render_clip` in the unseen style,
512 x 512, 30 frames/s) and runs, on the same frames:

  * per-frame: the photo path on every frame alone (the detection, adapter,
    SMPLR and fit; `hypotheses=('detected',)`);
  * per-frame + Gaussian: its joints filtered over time (sigma 2 frames),
    the one-line baseline;
  * BlazePose video mode: the detector's own tracking and smoothing
    (`static_image_mode=False`, `smooth_landmarks=True`), its landmarks
    through the adapter, DAE and SMPLR: the peer;
  * the per-frame fit of the tracked detections (`predict_video`'s
    per_frame_joints: one shape per track, no temporal fit);
  * ours, causal and offline (`video.predict_video`: tracking, one shape
    per track, the temporal fit; causal looks ahead a fixed delay,
    `VideoSettings.causal_window`);
  * ours, live: `stream.VideoStream`, frames pushed one at a time (the
    causal bodies; its frames/s is the stream's, its delay stated).

It prints per mode (every metric through `metrics`, which names its joint
set): P1-23 (mm: the 23 joints below the root, root-relative, camera
frame), P2-24 (mm: all 24 joints after Procrustes), the acceleration error
over the 24 joints (mm / frame^2: the mean distance between the predicted
and true joints' second differences) beside the ground truth's own
acceleration, and frames per second on this machine (detector included,
after compilation). Frames are compared where every mode has a body. A
second table gives P1 per clip.
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
import numpy as np
from absl import app, flags, logging

from smplr_jax.evaluation import metrics as metrics_lib
from smplr_jax.evaluation import renders
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import keypoint_predictor, photo_path, stream, video
from smplr_jax.predict import settings as settings_lib

_NUM_CLIPS = flags.DEFINE_integer('num_clips', 4, 'Clips.')
_NUM_FRAMES = flags.DEFINE_integer('num_frames', 90, 'Frames per clip.')
_SEED = flags.DEFINE_integer('seed', 2024, 'Seed of the clips.')
_IMAGE_SIZE = flags.DEFINE_integer('image_size', 512, 'Frame side (px).')
_OUTPUT = flags.DEFINE_string('output', None, 'Write the results as JSON.')

FPS = 30.0
# The joint set of each column: P1-23, P2-24 (`renders.body_errors`' sets),
# and the acceleration error over all 24 joints.
P1_JOINTS = renders.P1_JOINTS
P2_JOINTS = renders.P2_JOINTS
ACCEL_JOINTS = metrics_lib.JOINTS_24


def errors(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
  """P1-23, P2-24 and the acceleration error over 24 joints (mm) of
  [T, 24, 3] joint sequences (frames in order)."""
  return {
      'p1': 1000 * float(metrics_lib.mpjpe(pred, truth,
                                           joints=P1_JOINTS).mean()),
      'p2': 1000 * float(metrics_lib.pa_mpjpe(pred, truth,
                                              joints=P2_JOINTS).mean()),
      'accel_error': 1000 * float(metrics_lib.acceleration_error(
          pred, truth, joints=ACCEL_JOINTS).mean()),
  }


def _per_frame(predictor, frames):
  """Per-frame joints [T, 24, 3] (NaN where nobody is found), seconds."""
  out = np.full((len(frames), 24, 3), np.nan)
  start = time.perf_counter()
  for t, frame in enumerate(frames):
    try:
      out[t] = predictor.predict_image(frame)['joints']
    except detector_lib.NoPersonError:
      pass
  return out, time.perf_counter() - start


def _detector_video_mode(keypoints, frames):
  """The peer: BlazePose's own video smoothing -> adapter -> SMPLR."""
  detector = detector_lib.BlazePoseDetector(video_mode=True,
                                            smooth_landmarks=True)
  out = np.full((len(frames), 24, 3), np.nan)
  start = time.perf_counter()
  for t, frame in enumerate(frames):
    try:
      world = detector(frame).keypoints_3d
    except detector_lib.NoPersonError:
      continue
    out[t] = keypoints(world[None])['joints'][0]
  seconds = time.perf_counter() - start
  detector.close()
  return out, seconds


def _ours(path, frames, mode):
  """Joints [T, 24, 3] of the clip's person (NaN where none), the
  per-frame fit's, seconds."""
  out = np.full((len(frames), 24, 3), np.nan)
  per_frame = np.full((len(frames), 24, 3), np.nan)
  start = time.perf_counter()
  result = video.predict_video(path, frames, fps=FPS,
                               settings=settings_lib.VideoSettings(mode=mode))
  seconds = time.perf_counter() - start
  if result['tracks']:  # the longest track is the clip's person
    track = max(result['tracks'], key=lambda t: len(t['frames']))
    out[track['frames']] = track['joints']
    per_frame[track['frames']] = track['per_frame_joints']
  return out, per_frame, seconds


def _live(path, frames):
  """`VideoStream`: joints [T, 24, 3] of the longest track, seconds, the
  delay in frames."""
  live = stream.VideoStream(path, fps=FPS)
  bodies = []
  start = time.perf_counter()
  for frame in frames:
    bodies += live.push(frame)
  bodies += live.finish()
  seconds = time.perf_counter() - start
  live.close()
  out = np.full((len(frames), 24, 3), np.nan)
  if bodies:
    tracks = [b['track'] for b in bodies]
    longest = max(set(tracks), key=tracks.count)
    for body in bodies:
      if body['track'] == longest:
        out[body['frame']] = body['joints']
  return out, seconds, live.delay


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  jax.config.update('jax_platforms', 'cpu')
  keypoints = keypoint_predictor.load_keypoint_predictor('blazepose33_3d',
                                                         use_dae=True)
  detector = detector_lib.BlazePoseDetector()
  per_frame_path = photo_path.PhotoPath(
      detector, keypoints, settings=settings_lib.PhotoSettings(
          hypotheses=('detected',)))
  sums: dict[str, list] = {}
  per_clip: dict[str, list[float]] = {}
  truth_accel = []
  for clip in range(_NUM_CLIPS.value):
    records = renders.render_motion_clip(_SEED.value + clip, _NUM_FRAMES.value,
                        _IMAGE_SIZE.value)
    frames = [r['image'] for r in records]
    truth = renders.ground_truth(records, keypoints.body)
    true_joints = truth['joints']
    if clip == 0:  # compile every path once, outside the timings
      _per_frame(per_frame_path, frames[:3])
      _ours(per_frame_path, frames[:5], 'offline')
      _live(per_frame_path, frames[:15])
    outputs = {}
    outputs['per-frame'], per_frame_s = _per_frame(per_frame_path, frames)
    outputs['per-frame + Gaussian (sigma 2)'] = video.smooth(
        outputs['per-frame'], 2.0)
    outputs['BlazePose video mode -> adapter -> SMPLR'], peer_s = (
        _detector_video_mode(keypoints, frames))
    outputs['ours, causal'], _, causal_s = _ours(per_frame_path, frames,
                                                 'causal')
    (outputs['ours, offline'], outputs['per-frame fit, tracked'],
     offline_s) = _ours(per_frame_path, frames, 'offline')
    outputs['ours, live (VideoStream)'], live_s, delay = _live(
        per_frame_path, frames)
    seconds = {'per-frame': per_frame_s,
               'per-frame + Gaussian (sigma 2)': per_frame_s,
               'BlazePose video mode -> adapter -> SMPLR': peer_s,
               'per-frame fit, tracked': offline_s,
               'ours, causal': causal_s, 'ours, offline': offline_s,
               'ours, live (VideoStream)': live_s}
    # Frames where every mode has a body, and runs of three for the
    # acceleration.
    valid = np.all([~np.isnan(o[:, 0, 0]) for o in outputs.values()],
                   axis=0)
    for name, joints in outputs.items():
      idx = np.flatnonzero(valid)
      per_clip.setdefault(name, []).append(
          errors(joints[idx], true_joints[idx])['p1'])
      segment_starts = np.flatnonzero(np.diff(idx) != 1) + 1
      for part in np.split(idx, segment_starts):
        if len(part) < 3:
          continue
        row = errors(joints[part], true_joints[part])
        row['frames'] = len(part)
        row['fps'] = len(frames) / seconds[name]
        sums.setdefault(name, []).append(row)
      if name == 'ours, offline':
        for part in np.split(idx, segment_starts):
          if len(part) >= 3:
            truth_accel.append(1000 * float(np.linalg.norm(
                metrics_lib.acceleration(true_joints[part]),
                axis=-1).mean()))
    print(f'clip {clip}: {int(valid.sum())} of {len(frames)} frames with a '
          'body in every mode', flush=True)
  rows = {}
  for name, parts in sums.items():
    weights = np.asarray([p['frames'] for p in parts], float)
    rows[name] = {k: float(np.average([p[k] for p in parts],
                                      weights=weights))
                  for k in ('p1', 'p2', 'accel_error', 'fps')}
  own = float(np.mean(truth_accel)) if truth_accel else float('nan')
  print(f'\n{_NUM_CLIPS.value} clips x {_NUM_FRAMES.value} frames '
        f'(seed {_SEED.value}, {_IMAGE_SIZE.value} px, {FPS:.0f} frames/s); '
        f"mm; the ground truth's own acceleration: {own:.1f} mm/frame^2")
  p1 = metrics_lib.metric_name('P1', P1_JOINTS)
  p2 = metrics_lib.metric_name('P2', P2_JOINTS)
  print(f'| mode | {p1} (mm) | {p2} (mm) | accel error ({len(ACCEL_JOINTS)} '
        "joints, mm/frame^2) | accel error / truth's | frames/s |")
  print('|---|---:|---:|---:|---:|---:|')
  for name, row in rows.items():
    print(f"| {name} | {row['p1']:.1f} | {row['p2']:.1f} | "
          f"{row['accel_error']:.1f} | {row['accel_error'] / own:.1f}x | "
          f"{row['fps']:.1f} |")
  print(f'\nlive: each body {delay} frames ({delay / FPS:.2f} s) after its '
        'frame; causal mode the same bodies')
  print(f'\n{p1} (mm) per clip, seeds {_SEED.value}..'
        f'{_SEED.value + _NUM_CLIPS.value - 1}:')
  print('| mode | ' + ' | '.join(str(_SEED.value + c)
                                 for c in range(_NUM_CLIPS.value)) + ' |')
  print('|---|' + '---:|' * _NUM_CLIPS.value)
  for name, values in per_clip.items():
    print(f'| {name} | ' + ' | '.join(f'{v:.1f}' for v in values) + ' |')
  if _OUTPUT.value:
    pathlib.Path(_OUTPUT.value).write_text(json.dumps(
        {'rows': rows, 'truth_acceleration': own, 'per_clip_p1': per_clip,
         'live_delay_frames': delay}, indent=1))


if __name__ == '__main__':
  app.run(main)

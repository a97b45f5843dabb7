"""Every tuned setting of prediction, typed, with where it came from.

Three frozen dataclasses, one default per setting everywhere:

  * `PhotoSettings`: the photo path (detector -> adapter -> SMPLR -> fit);
  * `VideoSettings`: tracking, one shape per track, the temporal fit;
  * `AppLimits`: what one request to the web app may ask for.

"Tuned on" names the data a value was chosen on; no value was chosen on
the held-out sets the README reports (seeds 0-2 of the render sets). The
measurements behind each choice are in docs/photo_path.md, docs/video.md
and docs/app.md.
"""

from __future__ import annotations

import ast
import dataclasses

from smplr_jax import fitting
from smplr_jax.predict import gender as gender_lib
from smplr_jax.predict import hypotheses


@dataclasses.dataclass(frozen=True)
class PhotoSettings:
  """The photo path's settings (`photo_path.PhotoPath`).

  Attributes:
    fit: the fit's `fitting.FitOptions`. BlazePose's world landmarks are
      metric but noisy (point_sigma 3 cm), its pixels sharp (1 cm at the
      body's depth); SMPLR's pose is a firm prior (0.15 rad). Tuned on the
      renders of seed 7 and on simulated detections
      (`python -m experiments.evaluate_photo_path --seed=7`): the best, or
      within 1 mm of it, on both.
    hypotheses: the readings of each detection that are fitted
      (`hypotheses.ALL`): the detection and, when it is ambiguous
      (`second_pass_cost`), the detector's reading of the mirrored photo.
      Tuned on seed 7: the one-pass readings lost there.
    hypothesis_margin: another reading replaces the detected one only when
      its fit costs less than this fraction of the detected reading's
      (mirrored and swapped bodies explain the same pixels about as well,
      and the detector's own reading is right more often). Tuned on seed 7
      (with 1.0: more switches and a worse P1).
    min_point_weight: a landmark's weight in the fit is min_point_weight +
      (1 - min_point_weight) x BlazePose's visibility (occluded points are
      guessed, still informative). Tuned on seed 7.
    use_dae: run the DAE between the adapter and SMPLR (under 1 mm either
      way on BlazePose's outputs; on by default, as for the crop path).
    min_image_side: smallest photo side (pixels) accepted: BlazePose needs a
      person of roughly 100 px (mediapipe's documentation; not tuned).
    box_margin: margin around the landmarks' extent for the person box
      (fraction of the box's longer side; for display and tracking).
    retry_border: a photo where nothing is found is tried again inside a
      grey border of this fraction of its longer side (a person filling
      the frame is often missed; not tuned).
    max_detector_side: photos with a longer side above this are shrunk to
      it for the detector (BlazePose reads 256-pixel inputs; not tuned).
    max_people: people looked for by `predict_people` (groups in photos
      are often 5-8; each person found costs one fit).
    min_detection_confidence: BlazePose's detection threshold (mediapipe's
      default).
    extra_looks: when the whole photo is not enough, look again
      (`detector.BlazePoseDetector`): seeds from mediapipe's face detector
      and person segmentation, overlapping halves and a downscaled copy,
      a contrast-stretched copy, then small overlapping tiles. Off: the
      whole photo and its grey border only. Measured on compositions of
      our renders (`python -m experiments.evaluate_people`).
    min_look_score: a person found by an extra look is kept only when the
      mean visibility of its 33 landmarks is at least this (the whole
      photo's are all kept). Chosen on `experiments.evaluate_people`
      (seed 5): without the confirmation (confirm_side) the looks' false
      people in 50 empty photos scored 0.17-0.79, the people they found
      0.57-0.98; with it (2.0 square) none were left at any threshold, and
      0.5 stays a guard below the people found.
    face_body_scale: a face box of height h proposes a square body crop of
      side face_body_scale x h, its top face_top_margin x h above the
      face (a standing person is ~8 face boxes tall; not tuned: our
      renders have no facial features for the face detector).
    face_top_margin: see face_body_scale.
    small_tile_fraction: the last look's tiles are squares of this
      fraction of the photo's shorter side, overlapping by half (people
      ~90 px tall in 1280 x 720; tuned on `evaluate_people`'s small_90px).
    max_look_side: each look's crop is resized to at most this longer side
      before BlazePose (it reads 224-256 pixels; not tuned).
    merge_distance: two detections are one person when the smaller box
      lies more than merge_overlap inside the other, or their landmarks
      lie within merge_distance x the smaller box's longer side (median
      over the landmarks; not tuned).
    merge_overlap: see merge_distance.
    confirm_side: a person found by an extra look is kept only when
      BlazePose finds them again, at the same place (merge_distance), on
      the square of confirm_side x their box's longer side around them.
      Tuned on `evaluate_people` (seed 5): 1.5, 2.0 and 2.5 left 1, 0 and
      1 false people in 50 empty photos; 2.0 kept the most people found.
    everyone_looks: the looks `detect_people` runs after the whole photo
      even when it found people (the others run, once someone is found,
      only after a look that added someone; not tuned: what the halves
      cost a one-person photo, docs/photo_path.md).
    blank: how a found person is painted out before the photo is read
      again: 'body' (their torso, head and seen limbs from the landmarks,
      `detector.blank_person`) or 'box' (their whole box). On the wild
      set's tuning seed (8), 10 photos a category (`python -m
      experiments.evaluate_people --num_renders=0 --wild=10
      --before='blank="box"'`): 'box' -> 'body' found 12 -> 15 of 19 in
      pairs, 15 -> 18 of 36 in groups, 12 -> 15 of 18 on phone photos,
      the other categories unchanged; false people 6 -> 4 in all.
    look_rounds: a look that finds someone runs again with them painted
      out, at most this many times (people behind people; not tuned).
    confirm_below: a first reading of the whole photo whose score is under
      this is kept only when BlazePose finds it again on the photo inside
      a grey border (`confirm_borders`): BlazePose reads balls and
      textures as people with visibility 0.4-0.7; real people score
      0.8-0.97 on our renders, close-ups and people cut by the frame 0.45
      and up. On the tuning seed (`evaluate_people --num_renders=0
      --wild=10 --before=confirm_below=0.0`): false people in 50 empty
      photos 4 -> 1, no one less found.
    confirm_borders: the borders (fraction of the photo's longer side)
      tried in turn for that check. Same command with
      --before='confirm_borders=(0.25,)': head-and-shoulders close-ups
      found 7 -> 8 of 10, nothing else changed.
    photo_fit_iterations: LM iterations of a photo's fit (`fit`'s
      num_iterations stays the clips' per-frame and temporal fits'). Tuned
      on seeds 7 and 8: 8 iterations give the detected reading 1.3 mm
      better P1-23 than 15 and the default path 0.6 mm worse, at half the
      fit's time.
    second_pass_cost: the mirrored photo (a second detector pass, when
      'mirrored_photo' is among the hypotheses) is read only when the
      detected reading's fit cost is at least this (whitened units of
      `fit`; an ambiguous reading). Tuned on the renders of seeds 7 (112)
      and 8 (150) (docs/photo_path.md): the pass ran on 18% of those
      photos and kept what running it on every photo gained.
    fuse_readings: when the mirrored photo was read and does not win
      outright (`hypothesis_margin`), fit the mean of the detected and
      mirrored readings (`hypotheses.fuse`) instead of the detected one.
      Tuned on seeds 7 and 8 (with the gate at 380: P1-23 / P2-24 176.1 /
      119.6 mm against 176.7 / 120.4 reading the mirrored photo on every
      photo and keeping one reading).
    outside_point_weight: a landmark whose pixel lies outside the photo
      counts this fraction of its weight in the fit (its place comes from
      SMPLR's pose, the prior; `PhotoPath.point_weights`). Measured with
      adapter_skips_outside on the seed-7 renders cropped to their top
      half / 60% (`python -m experiments.evaluate_photo_path --seed=7
      --num_renders=112 --simulated_bodies=0 --crop=0.5,0.6`): P1-23 287.7
      -> 281.0 / 235.4 -> 233.8 mm (joints outside the photo 443.0 -> 424.7
      / 416.0 -> 404.6), joints inside within 1.2 mm (docs/photo_path.md).
    adapter_skips_outside: the adapter reads the landmarks outside the
      photo as missing (it learnt to infer dropped points), so that SMPLR's
      start, the fit's prior, does not follow BlazePose's guesses there
      either. Each half measured alone on the top-half crops: the weight
      282.6 -> 278.3 mm, the adapter's mask then 273.5.
    gender: the calibration of Psi's probability of male and the band
      where the gender is 'unknown' (`gender.GenderSettings`: tuned on
      renders of seed 7, `python -m experiments.calibrate_gender`).
  """
  fit: fitting.FitOptions = fitting.FitOptions(
      num_iterations=15, point_sigma=0.03, robust_scale=0.15,
      point_sigma_2d=0.01, robust_scale_2d=0.1, pose_sigma=0.15)
  hypotheses: tuple[str, ...] = hypotheses.DEFAULT
  hypothesis_margin: float = 0.8
  min_point_weight: float = 0.25
  use_dae: bool = True
  min_image_side: int = 64
  box_margin: float = 0.1
  retry_border: float = 0.25
  max_detector_side: int = 1920
  max_people: int = 8
  min_detection_confidence: float = 0.5
  # Extra looks (detector.py): one block.
  extra_looks: bool = True
  min_look_score: float = 0.5
  face_body_scale: float = 9.0
  face_top_margin: float = 1.0
  small_tile_fraction: float = 0.5
  max_look_side: int = 640
  merge_distance: float = 0.1
  merge_overlap: float = 0.7
  confirm_side: float = 2.0
  everyone_looks: tuple[str, ...] = ('seeds', 'halves')
  blank: str = 'body'
  look_rounds: int = 3
  confirm_below: float = 0.75
  confirm_borders: tuple[float, ...] = (0.25, 0.1, 0.05)
  gender: gender_lib.GenderSettings = gender_lib.GenderSettings()
  # The second pass, fusion and truncated bodies (photo_path.py): one block.
  photo_fit_iterations: int = 8
  second_pass_cost: float = 380.0
  fuse_readings: bool = True
  outside_point_weight: float = 0.0
  adapter_skips_outside: bool = True

  def __post_init__(self):
    if self.blank not in ('body', 'box'):
      raise ValueError(f"blank must be 'body' or 'box', got {self.blank!r}.")
    if self.max_people < 1 or self.look_rounds < 1:
      raise ValueError('max_people and look_rounds must be at least 1, got '
                       f'{self.max_people} and {self.look_rounds}.')
    if not self.confirm_borders:
      raise ValueError('confirm_borders needs at least one border.')


@dataclasses.dataclass(frozen=True)
class VideoSettings:
  """How `predict_video` tracks, fits and smooths (`video`).

  Tuned on rendered clips of seeds 7 and 8 (`python -m
  experiments.evaluate_video --seed=7`); the README reports other seeds.

  Attributes:
    mode: 'offline' (the whole clip is seen) or 'causal' (live: frame t's
      body is final once frame t + 3 lag is read, `causal_window`).
    sigma: the offline smoothing window's std, in frames.
    smooth_pose_sigma: the temporal fit's prior: radians a joint may turn
      away from the smoothed pose.
    beta_sigma: how far a frame's betas may leave the track's.
    max_people: people per frame (1 uses the detector once per frame in its
      video mode; more blank each found person and detect again).
    data_scale: the temporal fit's data terms count 1 / data_scale^2 as
      much as the per-frame fit's (BlazePose's landmarks jitter from frame
      to frame; the smoothed pose holds what they share).
    final_smoothing: smooth the temporal fit's rotations once more.
    max_turn_deg: a frame whose body orientation is this far from its
      neighbours' (a flipped reading) is left out of the smoothing.
    causal_sigma_s: causal mode's smoothing window's std, in seconds.
    causal_lag_s: how far causal mode looks ahead at each of its three
      steps (leaving flipped readings out, smoothing, smoothing the
      refit), in seconds: 4 frames at 30 frames/s, a delay of 12 frames
      (0.4 s). Chosen on clips of seeds 7-9: a look-ahead of 0, 1, 2 and
      4 frames a step (sigma 3-4 frames) gave P1-23 264, 245, 241 and 233
      mm (offline 222).
    min_iou: a detection joins a track whose last box it overlaps at least
      this much (not tuned: the usual IoU-tracker threshold).
    max_gap: frames a track may miss and still be continued (half a second
      at 30 frames/s; not tuned).
  """
  mode: str = 'offline'
  sigma: float = 6.0
  smooth_pose_sigma: float = 0.05
  beta_sigma: float = 0.01
  max_people: int = 1
  data_scale: float = 3.0
  final_smoothing: bool = True
  max_turn_deg: float = 30.0
  causal_sigma_s: float = 4 / 30
  causal_lag_s: float = 4 / 30
  min_iou: float = 0.3
  max_gap: int = 15

  def __post_init__(self):
    if self.mode not in ('offline', 'causal'):
      raise ValueError(f"mode must be 'offline' or 'causal', got "
                       f'{self.mode!r}.')
    if self.max_people < 1:
      raise ValueError(f'max_people must be at least 1, got '
                       f'{self.max_people}.')
    if self.causal_sigma_s <= 0 or self.causal_lag_s < 0:
      raise ValueError('causal_sigma_s must be positive and causal_lag_s '
                       f'not negative, got {self.causal_sigma_s} and '
                       f'{self.causal_lag_s}.')

  def causal_window(self, fps: float | None) -> tuple[float, int]:
    """Causal mode's (sigma, lag) in frames at `fps` (30 when unknown):
    the same time span at any frame rate."""
    fps = 30.0 if not fps else float(fps)
    return self.causal_sigma_s * fps, int(round(self.causal_lag_s * fps))


@dataclasses.dataclass(frozen=True)
class AppLimits:
  """What one request to the web app may ask for (safety caps, not tuned:
  sized so that the largest request answers within a minute on 2 cores,
  docs/app.md).

  Attributes:
    max_upload_mb: largest upload (the framework refuses larger ones while
      receiving; checked again by the service).
    max_image_pixels: largest photo, width x height, read from the header
      (a 4000 x 3000 phone photo is 12 MP).
    max_clip_frames: longest clip, frames (from the container).
    max_clip_pixels: largest clip frame, width x height (1080p).
    min_image_side: smallest photo side: the photo path's
      (`PhotoSettings.min_image_side`).
  """
  max_upload_mb: float = 50.0
  max_image_pixels: int = 40_000_000
  max_clip_frames: int = 600
  max_clip_pixels: int = 1920 * 1080
  min_image_side: int = PhotoSettings.min_image_side


def from_strings(settings_class, items, **values):
  """A settings dataclass (e.g. `PhotoSettings`) with fields set from
  'name=value' strings (values are Python literals: quote strings), on top
  of values; for evaluation flags such as `evaluate_people --before`.

  Raises:
    ValueError: an unknown field, or a value that is not a literal.
  """
  fields = {f.name for f in dataclasses.fields(settings_class)}
  values = dict(values)
  for item in items:
    name, _, text = item.partition('=')
    if name not in fields:
      raise ValueError(f'{name!r} is not a {settings_class.__name__} field; '
                       f'known: {sorted(fields)}.')
    try:
      values[name] = ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
      raise ValueError(f'{item!r}: the value must be a Python literal '
                       '(quote strings).') from e
  return settings_class(**values)

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

import dataclasses

from smplr_jax import fitting
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
      (`hypotheses.ALL`): the detection and the detector's reading of the
      mirrored photo. Tuned on seed 7: the one-pass readings lost there.
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
    max_people: people looked for by `predict_people`.
    min_detection_confidence: BlazePose's detection threshold (mediapipe's
      default).
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
  max_people: int = 4
  min_detection_confidence: float = 0.5


@dataclasses.dataclass(frozen=True)
class VideoSettings:
  """How `predict_video` tracks, fits and smooths (`video`).

  Tuned on rendered clips of seeds 7 and 8 (`python -m
  experiments.evaluate_video --seed=7`); the README reports other seeds.

  Attributes:
    mode: 'offline' (the whole clip is seen) or 'causal' (frame t uses
      frames <= t only: for live streams).
    sigma: the smoothing window's std, in frames.
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
  min_iou: float = 0.3
  max_gap: int = 15

  def __post_init__(self):
    if self.mode not in ('offline', 'causal'):
      raise ValueError(f"mode must be 'offline' or 'causal', got "
                       f'{self.mode!r}.')
    if self.max_people < 1:
      raise ValueError(f'max_people must be at least 1, got '
                       f'{self.max_people}.')


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

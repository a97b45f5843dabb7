r"""Finding people: a whole photo -> BlazePose's landmarks and a box.

The optional extra `pip install -e ".[detector]"` installs mediapipe 0.10.14,
whose wheel ships the legacy pose solution: BlazePose's person detector and
its GHUM 'full' landmark model (`pose_landmark_full.tflite`), free and
offline. `BlazePoseDetector` runs it on a photo and returns 33 landmarks
(`keypoints.BLAZEPOSE33` order) as pixels and as 3D world landmarks, and a
person box. What becomes of a detection (adapter, SMPLR, fit) is
`photo_path.PhotoPath`'s work.

Frames. The world landmarks are metres with their origin at the hip
midpoint and, as measured on our renders (Procrustes rotation to the true
keypoints close to the identity when the body is found the right way
round), the camera's axes: x right, y down, z away from the camera, our
camera frame. The 2D landmarks are normalised to the image (x / width,
y / height); here they are pixels.

Looks. The legacy solution finds one person: the detector's most
confident one, and keys on the head. The whole photo is read first (and,
when nothing is found, inside a grey border: a person filling the frame
is often missed); a photo whose person is found there costs what it cost
before the other looks existed (one BlazePose run, ~60-200 ms on 2 shared
CPU cores). Only when that is not enough (`__call__`: nothing found;
`detect_people`: always, stopping early) come the other looks (`LOOKS`),
each BlazePose crop mapped back to photo pixels:

  * 'seeds': mediapipe's face detectors (short- and full-range models)
    and person segmentation (selfie segmentation), from the same wheel:
    each face proposes a body square (`PhotoSettings.face_body_scale`),
    each segmented blob its own square, larger than the blob and reaching
    above it (the segmenter often misses a small person's head); a face
    holding a found person's head is skipped, and the blobs are of the
    pixels not painted out (the people not found yet);
  * 'halves': two overlapping halves, the centre square, a half-size copy
    inside a grey border;
  * 'contrast': the photo with its luminance stretched (grey, dark and
    washed-out photos);
  * 'tiles': small overlapping squares (people ~90 px tall).

A person found by an extra look is kept only when its landmarks' mean
visibility (`Detection.score`) reaches `min_look_score` and BlazePose
finds it again on a square around its own box (`confirm_side`): without
that check the many crops found 8 people in 50 empty photos, with it
none. A later reading of the whole photo (people painted out) must reach
`min_look_score` too and, with the extra looks on, be found again on the
photo inside a grey border; so must the first reading when its score is
under `confirm_below` (BlazePose reads a ball as a head). Duplicates
(one person seen by two looks) are merged (`same_person`), the higher
score kept. `detect_people` paints each found
person out (`blank_person`: their torso, head and seen limbs in grey, not
their box, which hides the person beside or behind them) and reads
again; after the whole photo it always runs the seeds and the halves
(`PhotoSettings.everyone_looks`), the later looks only after a look that
added someone (or while nobody is found); a look that adds someone runs
again (`look_rounds`).

Measured (`python -m experiments.evaluate_people`: compositions of
unseen-style renders of seed 5, docs/photo_path.md): people found before
-> after: two people side by side 16 -> 16 of 16, two people from the
waist up in 1280 x 720 8 -> 9 of 16, groups of three 23 -> 24 of 24,
people 90 px tall 0 -> 9 of 16, grayscale 4 -> 6 of 8, washed-out 6 -> 7
of 8, a 4000 x 3000 photo 1 -> 2 of 2; false people on 50 empty photos 0
-> 0, on the others 1 -> 3 (misreadings beside or inside a real person).
On the wild set (`evaluation.wild`, seed 8): groups of 3-5 3 -> 5 of 12
findable people, its 50 empty photos 4 -> 4 false people (all from the
whole photo). `detect_people` costs 1.5-5x what it did. What is still
missed: people seen from behind, lying down or bent over (the detector
keys on the face), and people mostly hidden by a nearer one (BlazePose
often misses them even on a crop centred on them).
Like every monocular pose model BlazePose sometimes mirrors a body (left
and right swapped with depth); the adapter cannot undo that.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib
import os
import sys
import warnings
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from smplr_jax import checks
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.predict import settings as settings_lib

# The mediapipe release whose wheel ships the legacy pose solution's models.
MEDIAPIPE_VERSION = '0.10.14'
INSTALL_HINT = ('pip install -e ".[detector]" (mediapipe==' +
                MEDIAPIPE_VERSION + ')')
NUM_LANDMARKS = kp_lib.BLAZEPOSE33.num_keypoints  # 33


_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def _native_stderr_silenced():
  """Silences what mediapipe's C++ core writes straight to file descriptor 2
  (TFLite's 'Created TensorFlow Lite XNNPACK delegate',
  absl's pre-initialisation notice, 'Feedback manager requires a model with
  a single signature'): start-up chatter, not warnings a user can act on.
  Python exceptions are unaffected."""
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
      yield
  finally:
    # C's stderr may be buffered (once other native libraries have run):
    # flush it while it still points at /dev/null.
    _LIBC.fflush(None)
    os.dup2(saved, 2)
    os.close(saved)


class NoPersonError(ValueError):
  """The detector found no person in the photo."""


def import_mediapipe():
  """The mediapipe module, or an ImportError saying how to install it."""
  try:
    return importlib.import_module('mediapipe')
  except ImportError as e:
    raise ImportError('The BlazePose front end needs mediapipe: '
                      f'{INSTALL_HINT}.') from e


def availability() -> str | None:
  """None when the BlazePose front end can run here, else why not (for
  tests and tools that skip without it)."""
  try:
    BlazePoseDetector().close()
  except ImportError as e:
    return str(e)
  return None


def check_photo(image: Any, min_side: int = (
    settings_lib.PhotoSettings.min_image_side)) -> np.ndarray:
  """A photo as uint8 [H, W, 3] for the detector.

  Grayscale is replicated to RGB and RGBA loses its alpha
  (`checks.as_rgb`), as for the crop predictor.

  Raises:
    ValueError: not an image, or smaller than `min_side` pixels.
  """
  image = checks.as_rgb(image)
  height, width = image.shape[:2]
  if min(height, width) < min_side:
    raise ValueError(
        f'the image is {width} x {height} pixels; the BlazePose front end '
        f'needs at least {min_side} pixels on the shorter side (a '
        'person about 100 pixels tall).')
  return np.ascontiguousarray(image)


@dataclasses.dataclass(frozen=True)
class Detection:
  """One person found by BlazePose.

  Attributes:
    keypoints_2d: [33, 2] landmarks in pixels (`keypoints.BLAZEPOSE33`).
    keypoints_3d: [33, 3] world landmarks: metres, origin at the hip
      midpoint, camera axes (x right, y down, z forward).
    visibility: [33] BlazePose's probability that a landmark is visible.
    box: [4] (x0, y0, x1, y1) person box in pixels: the landmarks' extent
      plus `PhotoSettings.box_margin`, clipped to the photo.
    score: the mean of `visibility`: how much of the body BlazePose sees
      (the legacy solution reports no detection score); people are ranked
      by it.
    look: which look found the person (`LOOKS`): 'whole' (the photo, or
      it inside a grey border), 'face' / 'segment' (a crop proposed by
      mediapipe's face detector / person segmentation), 'halves' (an
      overlapping half, the centre square or a downscaled copy),
      'contrast' (the photo contrast-stretched), 'tiles' (small
      overlapping tiles) or 'mirrored' (`read_mirrored`).
  """
  keypoints_2d: np.ndarray
  keypoints_3d: np.ndarray
  visibility: np.ndarray
  box: np.ndarray
  score: float = 0.0
  look: str = 'whole'


# The looks after the whole photo, in the order they are tried.
LOOKS = ('whole', 'seeds', 'halves', 'contrast', 'tiles')
GREY = 128


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
  """Intersection over union of two (x0, y0, x1, y1) boxes."""
  inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) -
                          np.maximum(a[:2], b[:2]), 0, None))
  union = np.prod(np.subtract(a[2:], a[:2])) + np.prod(
      np.subtract(b[2:], b[:2])) - inter
  return float(inter / union) if union > 0 else 0.0


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
  """The share of the smaller of two (x0, y0, x1, y1) boxes inside the
  other."""
  inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) -
                          np.maximum(a[:2], b[:2]), 0, None))
  smaller = min(np.prod(np.subtract(a[2:], a[:2])),
                np.prod(np.subtract(b[2:], b[:2])))
  return float(inter / smaller) if smaller > 0 else 0.0


def same_person(a: Detection, b: Detection, max_overlap: float,
                max_distance: float) -> bool:
  """Whether two detections are one person: the smaller box lying more
  than max_overlap inside the other, or the median distance of their
  landmarks under max_distance x the smaller box's longer side."""
  if box_overlap(a.box, b.box) > max_overlap:
    return True
  size = min(np.max(a.box[2:] - a.box[:2]), np.max(b.box[2:] - b.box[:2]))
  distance = np.median(np.linalg.norm(a.keypoints_2d - b.keypoints_2d,
                                      axis=-1))
  return bool(distance < max_distance * max(size, 1.0))


def merge(found: list[Detection], new: Detection, max_overlap: float,
          max_distance: float) -> bool:
  """Adds new to found (in place) unless it is someone found already, in
  which case the one with the higher score stays; True when new is a new
  person."""
  for i, old in enumerate(found):
    if same_person(old, new, max_overlap, max_distance):
      if new.score > old.score:
        found[i] = new
      return False
  found.append(new)
  return True


# BlazePose's limbs (landmark pairs) drawn when a found person is blanked.
_LIMBS = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27),
          (24, 26), (26, 28), (27, 31), (28, 32), (15, 19), (16, 20))
_TORSO = (11, 12, 24, 23)


def blank_person(image: np.ndarray, pixels: np.ndarray,
                 visibility: np.ndarray, min_visibility: float = 0.5
                 ) -> np.ndarray:
  """A copy of uint8 [H, W, 3] image with one person painted grey: the
  torso's quadrilateral, the head's disc and the limbs seen by BlazePose
  (visibility >= min_visibility) as thick lines, sized from the torso.
  Unlike the person's box this leaves a neighbour standing beside or
  behind them visible for the next read.

  Args:
    pixels: [33, 2] the person's landmarks in the image's pixels.
    visibility: [33] their visibility.
  """
  shoulders, hips = pixels[[11, 12]].mean(0), pixels[[23, 24]].mean(0)
  torso = max(float(np.linalg.norm(shoulders - hips)), 4.0)
  canvas = Image.fromarray(image)
  draw = ImageDraw.Draw(canvas)
  grey = (GREY,) * 3
  draw.polygon([tuple(pixels[i]) for i in _TORSO], fill=grey)
  limb_width = max(int(round(0.45 * torso)), 2)
  for a, b in _LIMBS + ((11, 12), (23, 24), (11, 23), (12, 24)):
    if min(visibility[a], visibility[b]) >= min_visibility or (
        a in _TORSO and b in _TORSO):
      draw.line([tuple(pixels[a]), tuple(pixels[b])], fill=grey,
                width=limb_width)
      for point in (pixels[a], pixels[b]):
        r = limb_width / 2
        draw.ellipse([point[0] - r, point[1] - r, point[0] + r,
                      point[1] + r], fill=grey)
  head = pixels[:11].mean(0)
  r = 0.45 * torso
  draw.ellipse([head[0] - r, head[1] - r, head[0] + r, head[1] + r],
               fill=grey)
  # The neck: from the head to the shoulders' midpoint.
  draw.line([tuple(head), tuple(shoulders)], fill=grey, width=limb_width)
  return np.asarray(canvas)


def autocontrast(image: np.ndarray, cut: float = 1.0) -> np.ndarray:
  """uint8 [H, W, 3] with its luminance's cut..100-cut percentiles
  stretched to 0..255 (all channels alike: hues kept)."""
  luminance = image.mean(axis=-1)
  low, high = np.percentile(luminance, [cut, 100 - cut])
  if high - low < 1:
    return image
  out = (image.astype(np.float32) - low) * (255.0 / (high - low))
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


@dataclasses.dataclass(frozen=True)
class _View:
  """One crop of a look. region: (x0, y0, x1, y1) the crop in the
  working photo's pixels (may leave the photo: grey there); look: the
  `Detection.look` of the people found in it."""
  region: tuple[float, float, float, float]
  look: str


def _square(cx: float, cy: float, side: float) -> tuple:
  return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _bordered(shape, fraction: float) -> tuple:
  """The region of an image of `shape` inside a grey border of `fraction`
  of its longer side (`_cut` fills it)."""
  height, width = shape[:2]
  border = fraction * max(height, width)
  return (-border, -border, width + border, height + border)


def _cut(image: np.ndarray, region, max_side: int):
  """(crop uint8, scale) the image inside region, grey outside it,
  resized to at most max_side on its longer side (scale: crop pixels per
  photo pixel)."""
  x0, y0, x1, y1 = region
  scale = min(1.0, max_side / max(x1 - x0, y1 - y0))
  size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
  height, width = image.shape[:2]
  inside = (x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height and
            scale == 1.0 and float(x0).is_integer() and
            float(y0).is_integer())
  if inside:
    return np.ascontiguousarray(image[int(y0):int(y0) + size[1],
                                      int(x0):int(x0) + size[0]]), 1.0
  crop = Image.fromarray(image).transform(
      size, Image.AFFINE, (1 / scale, 0, x0, 0, 1 / scale, y0),
      Image.BILINEAR, fillcolor=(GREY,) * 3)
  return np.asarray(crop), scale


class BlazePoseDetector:
  """mediapipe's legacy pose solution on single photos (static mode), with
  more looks at a photo when the whole of it is not enough.

  Raises (on construction):
    ImportError: mediapipe is missing, or installed but unable to start the
      pose solution (e.g. next to a protobuf it was not built for).
  """

  def __init__(self, settings: settings_lib.PhotoSettings = (
      settings_lib.PhotoSettings()), video_mode: bool = False,
               smooth_landmarks: bool = False):
    """settings: the detector's (min_detection_confidence, min_image_side,
    box_margin, retry_border, max_detector_side, and the extra looks':
    extra_looks ... confirm_side); video_mode: frames of one clip, in order:
    BlazePose tracks the person from frame to frame instead of detecting
    it in every frame (faster; no extra looks); smooth_landmarks: its own
    temporal filter (video mode)."""
    mediapipe = import_mediapipe()
    self._mediapipe = mediapipe
    self.settings = settings
    self.video_mode = video_mode
    # The face detectors and the segmenter start on first use (only
    # photos that need the extra looks pay for them).
    self._seeders = None
    min_side = settings.min_image_side
    try:
      with _native_stderr_silenced():
        self._pose = mediapipe.solutions.pose.Pose(
            static_image_mode=not video_mode, model_complexity=1,
            smooth_landmarks=smooth_landmarks and video_mode,
            enable_segmentation=False,
            min_detection_confidence=settings.min_detection_confidence)
        # The graph opens its models on threads that print start-up
        # chatter; one run on a blank frame waits for them, still silenced.
        self._pose.process(np.zeros((min_side, min_side, 3), np.uint8))
    except Exception as e:  # any failure inside mediapipe: say what to do
      version = getattr(mediapipe, '__version__', '?')
      raise ImportError(
          f'mediapipe {version} is installed but its pose solution does not '
          f'start ({type(e).__name__}: {e}); the extra pins versions that '
          f'work: {INSTALL_HINT}.') from e

  def close(self) -> None:
    self._pose.close()
    for seeder in self._seeders or ():
      seeder.close()
    self._seeders = None

  @property
  def _extra(self) -> bool:
    return self.settings.extra_looks and not self.video_mode

  def __call__(self, image: Any) -> Detection:
    """The most confident person of a photo.

    The whole photo first (and, when nothing is found there, inside a grey
    border of `PhotoSettings.retry_border` of its longer side: a person
    filling the frame is often missed); a person found there costs one or
    two BlazePose runs, as without the extra looks. When nothing is found
    and `PhotoSettings.extra_looks` is on, the other looks (`LOOKS`) are
    tried in turn until one finds someone: the most confident person of
    that look is returned.

    Args:
      image: uint8 [H, W, 3] photo (grayscale and RGBA are converted).

    Raises:
      NoPersonError: no person found.
      ValueError: not an image, or too small.
    """
    image = check_photo(image, self.settings.min_image_side)
    work, scale = self._working(image)
    found = self._whole(work, scale, image.shape, max_people=1)
    if not found and self._extra:
      for look in LOOKS[1:]:
        found = self._look(look, work, scale, image.shape, [])
        if found:
          break
    if not found:
      height, width = image.shape[:2]
      raise NoPersonError(
          f'no person found in the {width} x {height} image (BlazePose keys '
          'on the head: people seen from behind, lying down or under ~100 '
          'pixels tall are often missed).')
    return max(found, key=lambda d: d.score)

  def read_crop(self, image: Any, region, look: str = 'crop'
                ) -> Detection | None:
    """BlazePose once on the crop of a photo inside region (x0, y0, x1,
    y1) in its pixels (grey where the region leaves the photo), the person
    in photo pixels; None when it finds no one. No looks, no checks: what
    BlazePose reads of one crop (e.g. centred on a known person, for the
    detector's ceiling in `experiments.evaluate_people`)."""
    image = check_photo(image, self.settings.min_image_side)
    work, scale = self._working(image)
    found = self._read(work, tuple(np.asarray(region, np.float64) * scale),
                       1)
    if not found:
      return None
    pixels, world, visibility = found[0]
    return self._detection(pixels / scale, world, visibility, image.shape,
                           look)

  def read_mirrored(self, image: Any, box: np.ndarray) -> Detection | None:
    """The person in `box` read again on the photo mirrored left to right
    (the photo path's second pass): BlazePose on the whole mirrored photo,
    then on the square of `confirm_side` x the box's longer side around
    the person, then on the photo inside a grey border of `retry_border`,
    until a reading lands on that person (box IoU >= 0.3: not another
    person of the photo); no extra looks, no checks. Its pixels are the
    mirrored photo's (`hypotheses.unmirror` maps them back); None when no
    reading lands there.

    Args:
      image: uint8 [H, W, 3] the photo (not mirrored).
      box: [4] (x0, y0, x1, y1) the person's box in the photo's pixels.
    """
    image = check_photo(image, self.settings.min_image_side)
    width = image.shape[1]
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    target = np.asarray([width - 1 - x1, y0, width - 1 - x0, y1])
    work, scale = self._working(image[:, ::-1])
    side = self.settings.confirm_side * max(np.max(target[2:] - target[:2]),
                                            32.0)
    regions = (_bordered(work.shape, 0.0),
               _square(*((target[:2] + target[2:]) / 2 * scale),
                       side * scale),
               _bordered(work.shape, self.settings.retry_border))
    for region in regions:
      # At the working photo's resolution, as the first reading was.
      for pixels, world, visibility in self._read(
          work, region, 1, max_side=self.settings.max_detector_side):
        detection = self._detection(pixels / scale, world, visibility,
                                    image.shape, 'mirrored')
        if box_iou(detection.box, target) >= 0.3:
          return detection
    return None

  def detect_people(self, image: Any, max_people: int = 8
                    ) -> list[Detection]:
    """Every person found (at most max_people), most confident first; []
    when there is none.

    The whole photo, each found person painted out (`PhotoSettings.blank`)
    and the photo read again, as long as someone new is found. Then, with
    `PhotoSettings.extra_looks`, the other looks in turn (`LOOKS`; people
    found already painted out), each person they find merged with those
    found (`same_person`), a look that adds someone again (`look_rounds`),
    until max_people are found; once someone is found, a look not in
    `PhotoSettings.everyone_looks` runs only when the look before it added
    someone: a photo whose whole finds everyone pays for the everyone_looks
    only.

    Raises:
      ValueError: not an image, or too small.
    """
    image = check_photo(image, self.settings.min_image_side)
    work, scale = self._working(image)
    found = self._whole(work, scale, image.shape, max_people)
    if self._extra:
      added = True
      for look in LOOKS[1:]:
        if len(found) >= max_people or (
            found and not added and
            look not in self.settings.everyone_looks):
          break
        added = False
        # A look that finds someone runs again with them painted out
        # (people behind people), at most `look_rounds` times.
        for _ in range(self.settings.look_rounds):
          new = sum(self._merge(found, d) for d in
                    self._look(look, work, scale, image.shape, found))
          added = added or new > 0
          if not new or len(found) >= max_people:
            break
    found.sort(key=lambda d: -d.score)
    return found[:max_people]

  # --- looks -----------------------------------------------------------------

  def _working(self, image: np.ndarray) -> tuple[np.ndarray, float]:
    """(the photo shrunk to `max_detector_side`, scale): BlazePose reads
    256-pixel inputs, a huge photo costs nothing in accuracy shrunk."""
    height, width = image.shape[:2]
    scale = min(1.0, self.settings.max_detector_side / max(height, width))
    if scale < 1.0:
      image = np.asarray(Image.fromarray(image).resize(
          (max(1, round(width * scale)), max(1, round(height * scale))),
          Image.BILINEAR))
    return image, scale

  def _same(self, a: Detection, b: Detection) -> bool:
    return same_person(a, b, self.settings.merge_overlap,
                       self.settings.merge_distance)

  def _merge(self, found: list[Detection], new: Detection) -> bool:
    return merge(found, new, self.settings.merge_overlap,
                 self.settings.merge_distance)

  def _whole(self, work, scale, shape, max_people) -> list[Detection]:
    """The whole photo, and inside a grey border when nothing is found
    there (not in video mode); each person found is blanked and the photo
    read again (at most max_people)."""
    found = []
    for _ in range(max_people):
      result = self._process(work)
      if (result is None and self.settings.retry_border > 0 and
          not self.video_mode):
        border = int(round(self.settings.retry_border * max(work.shape[:2])))
        padded = np.pad(work, ((border, border), (border, border), (0, 0)),
                        constant_values=GREY)
        result = self._process(padded)
        if result is not None:
          result = (result[0] - border,) + result[1:]
      if result is None:
        break
      pixels, world, visibility = result
      detection = self._detection(pixels / scale, world, visibility, shape,
                                  'whole')
      # Read again with people painted out, the grey shape left behind (or
      # a part of the person not painted over) may be read as a person:
      # later readings must score like an extra look's, be someone new and
      # (with the extra looks: photos, not clips, whose tracker drops
      # one-frame people) be found again on the photo inside a grey border.
      if found and (detection.score < self.settings.min_look_score or
                    any(self._same(old, detection) for old in found) or
                    (self._extra and not self._confirmed(
                        detection, work, scale, whole=True))):
        break
      # A first reading BlazePose is unsure of (a ball read as a head, a
      # texture as limbs) must be found again the same way.
      if (not found and not self.video_mode and
          detection.score < self.settings.confirm_below and
          not self._confirmed(detection, work, scale, whole=True)):
        break
      found.append(detection)
      if len(found) < max_people:
        work = self._blank(work, pixels, visibility)
    return found

  def _read(self, image, region, max_people, max_side=None):
    """BlazePose on the crop of image inside region, blanking each person
    found and reading again (at most max_people): [(pixels in image
    coordinates, world, visibility)]."""
    crop, crop_scale = _cut(image, region,
                            max_side or self.settings.max_look_side)
    found = []
    for _ in range(max_people):
      result = self._process(crop)
      if result is None:
        break
      pixels, world, visibility = result
      found.append((pixels / crop_scale + np.asarray(region[:2]), world,
                    visibility))
      if len(found) < max_people:
        crop = self._blank(crop, pixels, visibility)
    return found

  def _blank(self, image, pixels, visibility) -> np.ndarray:
    """image with a found person painted grey (`PhotoSettings.blank`:
    'body' their body's outline from the landmarks, 'box' their box)."""
    if self.settings.blank == 'body':
      return blank_person(image, pixels, visibility)
    x0, y0, x1, y1 = self._box(pixels, image.shape).round().astype(int)
    image = image.copy()
    image[y0:y1 + 1, x0:x1 + 1] = GREY
    return image

  def _box(self, pixels: np.ndarray, shape) -> np.ndarray:
    """[4] the landmarks' extent plus `box_margin`, clipped to shape."""
    height, width = shape[:2]
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    margin = self.settings.box_margin * float(np.max(high - low))
    return np.concatenate([np.maximum(low - margin, 0.0),
                           np.minimum(high + margin,
                                      [width - 1, height - 1])])

  def _detection(self, pixels, world, visibility, shape, look) -> Detection:
    return Detection(keypoints_2d=pixels, keypoints_3d=world,
                     visibility=visibility, box=self._box(pixels, shape),
                     score=float(np.mean(visibility)), look=look)

  def _look(self, look: str, work: np.ndarray, scale: float, shape,
            found: list[Detection]) -> list[Detection]:
    """The people one look finds (photo pixels), those of found blanked
    first. Each must score `min_look_score` or more and be found again, at
    the same place, by BlazePose on a square crop around its own box
    (`_confirmed`): the extra looks' many small crops let BlazePose see
    people in textures otherwise."""
    settings = self.settings
    photo = work
    for detection in found:
      work = self._blank(work, detection.keypoints_2d * scale,
                         detection.visibility)
    if look == 'contrast':
      stretched = autocontrast(work)
      if np.array_equal(stretched, work):
        return []
      people = [dataclasses.replace(d, look='contrast') for d in
                self._whole(stretched, scale, shape, max_people=8)]
      work = stretched
    else:
      people = []
      for view in self._views(look, work, found, scale, photo):
        for pixels, world, visibility in self._read(work, view.region, 2):
          people.append(self._detection(pixels / scale, world, visibility,
                                        shape, view.look))
    merged = []
    for detection in sorted(people, key=lambda d: -d.score):
      if detection.score >= settings.min_look_score:
        self._merge(merged, detection)
    return [d for d in merged if self._confirmed(d, work, scale)]

  def _confirmed(self, detection: Detection, work: np.ndarray,
                 scale: float, whole: bool = False) -> bool:
    """Whether BlazePose finds the person again on the square of
    `confirm_side` x its box's longer side around it (whole: on the
    photo inside a grey border, each of `confirm_borders` in turn until
    one finds them: a close-up's box is the whole photo)."""
    if whole:
      regions = [_bordered(work.shape, fraction)
                 for fraction in self.settings.confirm_borders]
    else:
      box = detection.box * scale
      side = self.settings.confirm_side * max(np.max(box[2:] - box[:2]),
                                              32.0)
      regions = [_square((box[0] + box[2]) / 2, (box[1] + box[3]) / 2,
                         side)]
    for region in regions:
      again = self._read(work, region, 1)
      if not again:
        continue
      pixels, _, _ = again[0]
      other = dataclasses.replace(
          detection, keypoints_2d=pixels / scale,
          box=self._box(pixels / scale, (np.inf, np.inf)))
      if self._same(detection, other):
        return True
    return False

  def _views(self, look: str, work: np.ndarray, found, scale,
             photo: np.ndarray) -> list[_View]:
    """The crops (working-photo pixels) of one look; work is photo with
    the people found painted out."""
    height, width = work.shape[:2]
    short, long_ = min(height, width), max(height, width)
    views = []
    if look == 'seeds':
      heads = [d.keypoints_2d[:11].mean(0) * scale for d in found]
      for region, kind, seed_box in self._seeds(work, photo):
        if kind == 'face':
          # A face is someone found already when their head is in it (a
          # face inside a found person's box may be a neighbour's).
          x0, y0, x1, y1 = seed_box
          pad = 0.25 * (x1 - x0)
          if any(x0 - pad <= h[0] <= x1 + pad and y0 - pad <= h[1] <= y1 + pad
                 for h in heads):
            continue
        views.append(_View(region, kind))
    elif look == 'halves':
      # Two halves overlapping by a fifth, along the longer side; the
      # centre square; the photo at half size in a grey border.
      half = 0.6 * long_
      for start in (0.0, long_ - half):
        views.append(_View((start, 0, start + half, height) if width >= height
                           else (0, start, width, start + half), 'halves'))
      if long_ > 1.2 * short:
        cx, cy = width / 2, height / 2
        views.append(_View(_square(cx, cy, short), 'halves'))
      views.append(_View(_square(width / 2, height / 2, 2 * long_),
                         'halves'))
    elif look == 'tiles':
      side = self.settings.small_tile_fraction * short
      step = side / 2
      xs = np.arange(0, max(width - side, 0) + step / 2, step)
      ys = np.arange(0, max(height - side, 0) + step / 2, step)
      for y in ys:
        for x in xs:
          views.append(_View((x, y, x + side, y + side), 'tiles'))
    return views

  def _seeds(self, work: np.ndarray, photo: np.ndarray
             ) -> list[tuple[tuple, str, tuple]]:
    """(square body crop region, 'face' | 'segment', the face's or blob's
    box) from mediapipe's face detectors (short- and full-range models)
    and person segmentation; work is photo with the people found painted
    out (the blobs are of the pixels left as they were)."""
    settings = self.settings
    if self._seeders is None:
      solutions = self._mediapipe.solutions
      with _native_stderr_silenced():
        self._seeders = (
            solutions.face_detection.FaceDetection(model_selection=0),
            solutions.face_detection.FaceDetection(model_selection=1),
            solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=0))
    height, width = work.shape[:2]
    regions = []
    with warnings.catch_warnings(), _native_stderr_silenced():
      warnings.filterwarnings('ignore', message='.*GetPrototype.*')
      faces = []
      for face_detector in self._seeders[:2]:
        results = face_detector.process(work)
        faces += list(results.detections or ())
      # A painted-out person is still a person's shape to the segmenter:
      # its pixels are taken out of the mask.
      mask = self._seeders[2].process(work).segmentation_mask
    face_boxes = []
    for face in faces:
      box = face.location_data.relative_bounding_box
      x0, y0 = box.xmin * width, box.ymin * height
      w, h = box.width * width, box.height * height
      if any(box_iou(np.asarray([x0, y0, x0 + w, y0 + h]), b) > 0.5
             for b in face_boxes):
        continue  # both models found this face
      face_boxes.append(np.asarray([x0, y0, x0 + w, y0 + h]))
      side = settings.face_body_scale * h
      top = y0 - settings.face_top_margin * h
      regions.append(((x0 + w / 2 - side / 2, top, x0 + w / 2 + side / 2,
                       top + side), 'face', (x0, y0, x0 + w, y0 + h)))
    if mask is not None:
      unfound = (mask > 0.5) & np.all(work == photo, axis=-1)
      labels, _ = ndimage.label(ndimage.binary_opening(unfound,
                                                       iterations=2))
      for index, blob in enumerate(ndimage.find_objects(labels)):
        area = np.sum(labels[blob] == index + 1)
        if area < 0.005 * height * width:
          continue
        y0, y1 = blob[0].start, blob[0].stop
        x0, x1 = blob[1].start, blob[1].stop
        # The segmenter often misses a small person's head: the square is
        # larger than the blob and reaches above it.
        side = 1.5 * max(x1 - x0, y1 - y0)
        regions.append((_square((x0 + x1) / 2, (y0 + y1) / 2 - 0.15 * (
            y1 - y0), side), 'segment', (x0, y0, x1, y1)))
    return regions

  def _process(self, image: np.ndarray):
    """(pixels [33, 2], world [33, 3], visibility [33]) or None."""
    height, width = image.shape[:2]
    with warnings.catch_warnings():
      # protobuf >= 4 warns on every call of mediapipe 0.10.14's graph
      # runner ('GetPrototype() is deprecated'); the call itself is fine.
      warnings.filterwarnings('ignore', message='.*GetPrototype.*')
      # The models' first runs print start-up chatter from C++ threads
      # (which run may vary): every run is silenced.
      with _native_stderr_silenced():
        results = self._pose.process(np.ascontiguousarray(image))
    if results.pose_landmarks is None or results.pose_world_landmarks is None:
      return None
    image_points = np.asarray([(p.x * width, p.y * height, p.visibility)
                               for p in results.pose_landmarks.landmark])
    world = np.asarray([(p.x, p.y, p.z)
                        for p in results.pose_world_landmarks.landmark])
    return image_points[:, :2], world, image_points[:, 2]

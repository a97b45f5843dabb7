"""Reading what a user hands us: a photo file, a clip, a typed person box.

* `load_photo`: a photo file -> uint8 [H, W, 3], upright and in the colours
  a person sees it (EXIF orientation; CMYK, LAB, YCbCr, palette, 16-bit
  converted); photos over `DEFAULT_MAX_PIXELS` shrunk.
* `open_video` / `VideoFrames`: a clip's frames, decoded one at a time
  (PyAV, the [video] extra); `VideoError` when the file is not a clip.
* `parse_box`: the one parser of a typed person box, for the command line
  and the web app alike.

Every mistake is a ValueError whose message says what was expected.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import pathlib
import warnings
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from smplr_jax import checks

# The largest photo `load_photo` decodes at full size (width x height): a
# 4000 x 3000 phone photo is 12 MP; the web app's cap
# (`settings.AppLimits.max_image_pixels`).
DEFAULT_MAX_PIXELS = 40_000_000

BOX_FORM = 'four numbers x0, y0, x1, y1 (pixels)'


class VideoError(ValueError):
  """A video that cannot be read (missing, not a video, no frames)."""


# Modes whose pixels are already what a viewer shows (after `as_rgb`: gray
# replicated, alpha dropped); 16-bit grayscale is scaled here, not by PIL
# (whose conversion clips it at 255).
_DIRECT_MODES = ('RGB', 'RGBA', 'L')
_SIXTEEN_BIT_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I')


def _viewer_rgb(image: Image.Image) -> np.ndarray:
  """A PIL image in any mode -> uint8 [H, W, 3] as an image viewer shows it.

  CMYK (print and stock photos), LAB, YCbCr, HSV, palette, 1-bit and
  grayscale-with-alpha go through PIL's own conversion to RGB (a CMYK JPEG
  handed on channel by channel would show as a negative); a CMYK image
  with an embedded colour profile (press profiles differ widely) is converted through it to sRGB
  (littlecms), as colour-managed viewers do. 16-bit grayscale is scaled to
  8 bits (65535 -> 255); 32-bit float images are read as [0, 1].
  """
  mode = image.mode
  if mode in _DIRECT_MODES:
    return checks.as_rgb(np.asarray(image))
  if mode in _SIXTEEN_BIT_MODES:
    pixels = np.asarray(image)
    return checks.as_rgb(np.clip(pixels, 0, 65535).astype(np.uint16))
  if mode == 'F':
    return checks.as_rgb(np.clip(np.asarray(image, np.float32), 0.0, 1.0))
  profile = image.info.get('icc_profile')
  if profile and mode == 'CMYK':
    managed = _through_profile(image, profile)
    if managed is not None:
      return managed
  if mode in ('PA', 'P') and 'transparency' in image.info:
    image = image.convert('RGBA')
  try:
    return checks.as_rgb(np.asarray(image.convert('RGB')))
  except ValueError as e:  # a mode PIL reads but cannot convert
    raise ValueError(f'images of mode {mode!r} cannot be converted to RGB '
                     f'({e}); save the photo as an RGB JPEG or PNG.') from e


def _through_profile(image: Image.Image, profile: bytes) -> np.ndarray | None:
  """The image converted to sRGB through its embedded colour profile, or
  None when the profile cannot be used (then PIL's plain conversion)."""
  try:
    from PIL import ImageCms  # pylint: disable=g-import-not-at-top
  except ImportError:  # Pillow built without littlecms
    return None
  try:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return checks.as_rgb(np.asarray(ImageCms.profileToProfile(
        image, source, ImageCms.createProfile('sRGB'), outputMode='RGB')))
  except (OSError, ValueError, ImageCms.PyCMSError):
    return None


def load_photo(path: str | pathlib.Path | None,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """A photo file as uint8 [H, W, 3], upright and in the colours a person
  sees in an image viewer: the EXIF orientation of phone photos applied,
  every mode PIL reads (CMYK, LAB, YCbCr, palette, 16-bit, grayscale with
  alpha) converted to RGB (`_viewer_rgb`).

  Args:
    path: the photo file.
    max_pixels: a photo of more pixels (width x height) is shrunk, keeping
      its aspect, to at most this many, with a warning: the pixel outputs
      (boxes, keypoints) then refer to the shrunk photo. None keeps every
      size. Files past PIL's decompression-bomb limit are refused.

  Raises:
    ValueError: no path, a missing file, a file PIL cannot read, or one too
      large to decode safely.
  """
  if not path:
    raise ValueError('no photo given.')
  try:
    with warnings.catch_warnings():
      # Past PIL's bomb-warning size the photo is shrunk below: no warning.
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      with Image.open(path) as image:
        width, height = image.size
        too_large = bool(max_pixels) and width * height > max_pixels
        if too_large:  # a JPEG decodes at a reduced size: less memory
          scale = math.sqrt(max_pixels / (width * height))
          image.draft(image.mode, (int(width * scale), int(height * scale)))
        pixels = _viewer_rgb(ImageOps.exif_transpose(image))
    if too_large:
      rows, columns = pixels.shape[:2]
      scale = min(1.0, math.sqrt(max_pixels / (rows * columns)))
      size = (max(1, int(columns * scale)), max(1, int(rows * scale)))
      if size != (columns, rows):
        pixels = np.asarray(Image.fromarray(pixels).resize(size,
                                                           Image.BILINEAR))
      logging.warning(
          '%s is %d x %d pixels; shrunk to %d x %d (the cap is %g '
          'megapixels): pixel outputs refer to the shrunk photo.', path,
          width, height, pixels.shape[1], pixels.shape[0], max_pixels / 1e6)
    return pixels
  except FileNotFoundError as e:
    raise ValueError(f'{path} does not exist.') from e
  except Image.DecompressionBombError as e:
    raise ValueError(f'{path} is too large to decode safely ({e}); shrink '
                     'it first.') from e
  except (UnidentifiedImageError, OSError) as e:
    raise ValueError(f'{path} is not an image PIL can read.') from e


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
  """A typed person box -> (x0, y0, x1, y1) pixels; empty text -> None.

  Four finite numbers separated by ',' or ';' (spaces allowed); two
  opposite corners in any order (they are reordered, so that x0 < x1 when
  the box has width).

  Raises:
    ValueError: not four finite numbers (the message names the form).
  """
  if text is None or not text.strip():
    return None
  try:
    box = tuple(float(v) for v in text.replace(';', ',').split(','))
  except ValueError:
    box = ()
  if len(box) != 4 or not all(math.isfinite(v) for v in box):
    raise ValueError(f'the box must be {BOX_FORM}, got {text!r}.')
  x0, y0, x1, y1 = box
  return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


@dataclasses.dataclass
class VideoFrames:
  """Decoded frames of a file, streamed.

  Attributes:
    path: the file.
    fps: frames per second (the stream's average rate; None if unknown).
    skipped: frames that failed to decode (counted while iterating).
    times: each decoded frame's time in seconds, from its timestamp
      (filled while iterating; a variable frame rate keeps its real
      times).
  """
  path: pathlib.Path
  fps: float | None
  skipped: int = 0
  times: list[float] = dataclasses.field(default_factory=list)

  def __iter__(self) -> Iterator[np.ndarray]:
    import av  # pylint: disable=g-import-not-at-top
    self.skipped, self.times = 0, []
    with av.open(str(self.path)) as container:
      stream = container.streams.video[0]
      packets = container.demux(stream)
      while True:
        try:
          packet = next(packets)
        except StopIteration:
          return
        except av.error.FFmpegError:  # a truncated file ends the clip
          self.skipped += 1
          return
        try:
          frames = packet.decode()
        except av.error.FFmpegError:  # one broken frame: skip, count
          self.skipped += 1
          continue
        for frame in frames:
          # No timestamp: one frame at the average rate after the last.
          self.times.append(
              float(frame.time) if frame.time is not None else
              (self.times[-1] + 1.0 / (self.fps or 30.0) if self.times
               else 0.0))
          yield frame.to_ndarray(format='rgb24')


def open_video(path: str | pathlib.Path) -> VideoFrames:
  """A video file's frames (PyAV, which ships its own ffmpeg).

  Raises:
    VideoError: the file is missing or holds no video stream.
    ImportError: PyAV is not installed (`pip install -e ".[video]"`).
  """
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError('reading video needs PyAV: pip install -e '
                      '".[video]"') from e
  path = pathlib.Path(path)
  if not path.is_file():
    raise VideoError(f'{path} does not exist.')
  try:
    with av.open(str(path)) as container:
      if not container.streams.video:
        raise VideoError(f'{path} has no video stream.')
      rate = container.streams.video[0].average_rate
  except av.error.FFmpegError as e:
    raise VideoError(f'{path} is not a video ffmpeg can read ({e}).') from e
  return VideoFrames(path, float(rate) if rate else None)

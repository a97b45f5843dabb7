"""Reading what a user hands us: a photo file, a clip, a typed person box.

* `load_photo`: a photo file -> uint8 [H, W, 3], upright as a person sees
  it (EXIF orientation), 16-bit and palette images converted.
* `open_video` / `VideoFrames`: a clip's frames, decoded one at a time
  (PyAV, the [video] extra); `VideoError` when the file is not a clip.
* `parse_box`: the one parser of a typed person box, for the command line
  and the web app alike.

Every mistake is a ValueError whose message says what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from smplr_jax import checks

BOX_FORM = 'four numbers x0, y0, x1, y1 (pixels)'


class VideoError(ValueError):
  """A video that cannot be read (missing, not a video, no frames)."""


def load_photo(path: str | pathlib.Path | None) -> np.ndarray:
  """A photo file as uint8 [H, W, 3], upright as a person sees it (the
  EXIF orientation of phone photos applied), 16-bit and palette images
  converted.

  Raises:
    ValueError: no path, a missing file, or a file PIL cannot read.
  """
  if not path:
    raise ValueError('no photo given.')
  try:
    with Image.open(path) as image:
      image = ImageOps.exif_transpose(image)
      if image.mode == 'P':
        image = image.convert('RGBA')
      pixels = np.asarray(image)
      if image.mode.startswith('I'):  # 16-bit grayscale ('I;16', 'I')
        pixels = np.clip(pixels, 0, 65535).astype(np.uint16)
      return checks.as_rgb(pixels)
  except FileNotFoundError as e:
    raise ValueError(f'{path} does not exist.') from e
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
  """
  path: pathlib.Path
  fps: float | None
  skipped: int = 0

  def __iter__(self) -> Iterator[np.ndarray]:
    import av  # pylint: disable=g-import-not-at-top
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

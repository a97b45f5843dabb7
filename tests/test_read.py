"""Reading photos as a viewer shows them: every mode PIL reads, and the
size caps (`predict.read.load_photo`)."""

import numpy as np
import pytest
from PIL import Image

from smplr_jax.predict import read


def _photo(width=48, height=32):
  """A colourful RGB test photo: gradients plus a saturated red block."""
  columns = np.linspace(0, 255, width)[None, :, None]
  rows = np.linspace(0, 255, height)[:, None, None]
  pixels = np.concatenate([np.broadcast_to(columns, (height, width, 1)),
                           np.broadcast_to(rows, (height, width, 1)),
                           np.full((height, width, 1), 90.0)], axis=-1)
  pixels[4:12, 4:16] = (220, 30, 25)
  return Image.fromarray(pixels.astype(np.uint8))


# (mode, file suffix): every mode a photo commonly arrives in.
_MODES = [('CMYK', '.jpg'), ('CMYK', '.tif'), ('LAB', '.tif'),
          ('YCbCr', '.tif'), ('P', '.png'), ('P', '.gif'), ('LA', '.png'),
          ('L', '.png'), ('1', '.png'), ('RGBA', '.png'), ('RGB', '.jpg')]


@pytest.mark.parametrize('mode,suffix', _MODES)
def test_every_mode_reads_as_pils_own_rgb(tmp_path, mode, suffix):
  path = tmp_path / f'photo{suffix}'
  _photo().convert(mode).save(path)
  with Image.open(path) as image:
    assert image.mode == mode  # the file really holds this mode
    want = np.asarray(image.convert('RGB'))
  got = read.load_photo(path)
  assert got.dtype == np.uint8 and got.shape == (32, 48, 3)
  np.testing.assert_array_equal(got, want)


def test_palette_with_transparency_reads_as_pils_rgb(tmp_path):
  path = tmp_path / 'sticker.png'
  image = _photo().convert('P')
  image.save(path, transparency=0)
  with Image.open(path) as opened:
    assert 'transparency' in opened.info
    want = np.asarray(opened.convert('RGBA').convert('RGB'))
  np.testing.assert_array_equal(read.load_photo(path), want)


def test_cmyk_jpeg_is_not_a_negative(tmp_path):
  """Print and stock photos: C, M, Y handed on as R, G, B showed the
  negative (the red block came out cyan)."""
  original = np.asarray(_photo())
  path = tmp_path / 'stock.jpg'
  _photo().convert('CMYK').save(path, quality=95)
  got = read.load_photo(path).astype(float)
  red_block = got[5:11, 5:15].mean(axis=(0, 1))
  assert red_block[0] > 180 and red_block[1] < 80 and red_block[2] < 80
  assert np.abs(got - original).mean() < 6  # JPEG's loss only


def test_sixteen_bit_is_scaled_as_a_viewer_shows_it(tmp_path):
  """PIL's own conversion clips 16-bit gray at 255 (a white photo); a
  viewer scales 65535 to 255."""
  deep = (np.linspace(0, 65535, 48)[None, :] * np.ones((32, 1))).astype(
      np.uint16)
  path = tmp_path / 'deep.png'
  Image.fromarray(deep).save(path)
  got = read.load_photo(path)
  np.testing.assert_array_equal(got[..., 0], np.round(deep / 257.0))
  np.testing.assert_array_equal(got[..., 0], got[..., 2])


def test_a_photo_over_the_cap_is_shrunk_keeping_its_aspect(tmp_path):
  path = tmp_path / 'big.png'
  _photo(400, 300).save(path)
  got = read.load_photo(path, max_pixels=30_000)
  height, width = got.shape[:2]
  assert height * width <= 30_000 and height * width > 25_000
  assert abs(width / height - 4 / 3) < 0.02
  assert read.load_photo(path, max_pixels=None).shape == (300, 400, 3)


def test_a_10000_by_10000_photo_is_shrunk_not_a_crash(tmp_path):
  path = tmp_path / 'huge.jpg'
  _photo(100, 100).resize((10_000, 10_000)).save(path, quality=70)
  got = read.load_photo(path)
  assert got.shape[0] == got.shape[1]
  assert got.shape[0] * got.shape[1] <= read.DEFAULT_MAX_PIXELS
  assert got.shape[0] >= 2500  # shrunk to the cap, not to a thumbnail
  # The red block survives where it was (top-left, 4-12 % / 4-16 %).
  side = got.shape[0]
  block = got[int(0.06 * side):int(0.1 * side), int(0.06 * side):
              int(0.14 * side)].astype(float).mean(axis=(0, 1))
  assert block[0] > 180 and block[1] < 80


def test_unreadable_files_name_the_problem(tmp_path):
  with pytest.raises(ValueError, match='does not exist'):
    read.load_photo(tmp_path / 'none.png')
  (tmp_path / 'notes.png').write_text('not an image')
  with pytest.raises(ValueError, match='not an image PIL can read'):
    read.load_photo(tmp_path / 'notes.png')

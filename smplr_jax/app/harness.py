"""Driving the running app from outside, as its users do: the app in its
own process, a headless Chromium page (selenium and Debian's `chromium` +
`chromium-driver`), and many concurrent API clients (`gradio_client`).

Used by `tests/test_app_browser.py`, `experiments/app_check.py` (the
screenshot in docs/ and the load test) and `experiments/benchmarks/live.py`
(the live mode, fed by Chromium's fake camera: `write_y4m`,
`fake_camera_flags`, `Page.start_live`, `Page.live_samples`).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
# Headless on a machine with no network and no GPU: no background
# connections (refused here), software WebGL for the 3D view.
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--use-angle=swiftshader', '--enable-unsafe-swiftshader')


# The capture stamp: every canvas picture the page encodes as a JPEG (the
# webcam's frames) carries its capture time, ms since the epoch, as
# STAMP_BITS black or white STAMP_BLOCK px squares from its top-left
# corner, STAMP_ROW to a row; it survives two JPEG encodings and comes
# back in the live view's picture (the body's own frame).
STAMP_BITS, STAMP_BLOCK, STAMP_ROW = 44, 16, 22
# Run before the page's own scripts (`Page(scripts=...)`): the stamp, and
# a log of each new live picture (the time it reached the page, its frame
# index, whether it drew a new body, its source) in window.__shown.
LIVE_PROBE_JS = f"""
(() => {{
  const encode = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function(...args) {{
    if (this.width >= {STAMP_ROW * STAMP_BLOCK} &&
        this.height >= {2 * STAMP_BLOCK}) {{
      const now = Date.now();
      const context = this.getContext('2d');
      context.save();
      context.setTransform(1, 0, 0, 1, 0, 0);
      for (let bit = 0; bit < {STAMP_BITS}; bit++) {{
        context.fillStyle = Math.floor(now / 2 ** bit) % 2 ? '#fff' : '#000';
        context.fillRect((bit % {STAMP_ROW}) * {STAMP_BLOCK},
                         Math.floor(bit / {STAMP_ROW}) * {STAMP_BLOCK},
                         {STAMP_BLOCK}, {STAMP_BLOCK});
      }}
      context.restore();
      window.__captures = (window.__captures || 0) + 1;
    }}
    return encode.apply(this, args);
  }};
  window.__shown = [];
  new MutationObserver(() => {{
    const frame = document.querySelector('#live-frame');
    const image = frame && frame.querySelector('img');
    if (image && image.src !== window.__lastSource) {{
      window.__lastSource = image.src;
      window.__shown.push([Date.now(), frame.dataset.frame,
                           frame.dataset.drew, image.src]);
    }}
  }}).observe(document, {{subtree: true, childList: true,
                          attributes: true}});
}})();
"""


def write_y4m(path: str | os.PathLike, frames: Iterable[np.ndarray],
              fps: int = 30) -> pathlib.Path:
  """RGB frames (uint8 [H, W, 3], even sides) -> a YUV4MPEG2 file (4:2:0,
  BT.601 studio range), the format of Chromium's
  --use-file-for-fake-video-capture (played in a loop at `fps`)."""
  path = pathlib.Path(path)
  with open(path, 'wb') as out:
    for number, frame in enumerate(frames):
      rgb = np.asarray(frame, np.float32)
      height, width = rgb.shape[:2]
      if number == 0:
        out.write(f'YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 '
                  'C420mpeg2\n'.encode())
      r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
      y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
      u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
      v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

      def half(plane):  # 2 x 2 means
        return plane.reshape(height // 2, 2, width // 2, 2).mean((1, 3))

      out.write(b'FRAME\n')
      for plane in (y, half(u), half(v)):
        out.write(np.clip(np.round(plane), 0, 255).astype(np.uint8)
                  .tobytes())
  return path


def fake_camera_flags(y4m: str | os.PathLike) -> tuple[str, ...]:
  """Chromium flags for a camera that plays a .y4m, allowed without a
  prompt."""
  return ('--use-fake-ui-for-media-stream',
          '--use-fake-device-for-media-stream',
          f'--use-file-for-fake-video-capture={y4m}')


def read_stamp(image: np.ndarray, scale: float = 1.0) -> int:
  """The capture time (ms since the epoch) stamped on a frame by
  `LIVE_PROBE_JS`; `scale` = the picture's width / the captured frame's."""
  gray = np.asarray(image, np.float32).mean(-1)
  value = 0
  for bit in range(STAMP_BITS):
    row = int((bit // STAMP_ROW + 0.5) * STAMP_BLOCK * scale)
    column = int((bit % STAMP_ROW + 0.5) * STAMP_BLOCK * scale)
    value |= int(gray[row, column] > 128) << bit
  return value


def live_clip(frames: list[np.ndarray], size: tuple[int, int] = (480, 360)
              ) -> list[np.ndarray]:
  """A clip as a webcam would see it: each frame letterboxed to `size`
  (width, height), then played forward and backward (a loop without a
  jump)."""
  from smplr_jax.app import service  # pylint: disable=g-import-not-at-top
  boxed = [service.letterbox(frame, size) for frame in frames]
  return boxed + boxed[-2:0:-1]


def measure_live(page: 'Page', seconds: float,
                 scale: float = 1.0) -> dict[str, Any]:
  """The live view as its user sees it, over the next `seconds`.

  Args:
    page: a `Page` opened with `LIVE_PROBE_JS`, its live stream started.
    seconds: how long to watch.
    scale: the live picture's width / the camera's (the app shrinks
      frames wider than `LiveSettings.max_side`).

  Returns:
    frames_per_s (new bodies reaching the page a second),
    latency_median_s and latency_p90_s (a frame's capture in the page ->
    its body reaching the page, both by the browser's clock), latencies
    (each, seconds), bodies, pictures (bodies and frames without one),
    unreadable (stamps out of range), status (the live status line at the
    end).
  """
  first = page.live_count()
  time.sleep(seconds)
  samples = page.live_samples(first)
  bodies = [(when, image) for when, _, drew, image in samples if drew]
  latencies, unreadable = [], 0
  for when, image in bodies:
    latency = when - read_stamp(image, scale) / 1000
    if 0 <= latency < 30:
      latencies.append(latency)
    else:
      unreadable += 1
  span = bodies[-1][0] - bodies[0][0] if len(bodies) >= 2 else 0.0
  median, p90 = (np.percentile(latencies, [50, 90]) if latencies else
                 (float('nan'),) * 2)
  return {'frames_per_s': (len(bodies) - 1) / span if span else 0.0,
          'latency_median_s': float(median), 'latency_p90_s': float(p90),
          'latencies': latencies, 'bodies': len(bodies),
          'pictures': len(samples), 'unreadable': unreadable,
          'status': page.live_status()}


def browser_availability() -> str | None:
  """None when selenium and Debian's Chromium and ChromeDriver are here,
  else what is missing (a skip reason naming the [browser] requirement)."""
  if importlib.util.find_spec('selenium') is None:
    return '[browser] selenium is not installed (the [test] extra has it).'
  for path in (CHROMIUM, CHROMEDRIVER):
    if not os.access(path, os.X_OK):
      return (f'[browser] {path} is missing: apt-get install chromium '
              'chromium-driver.')
  return None


def free_port() -> int:
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
  """A process's resident memory (VmRSS), MB."""
  for line in pathlib.Path(f'/proc/{pid}/status').read_text().splitlines():
    if line.startswith('VmRSS:'):
      return int(line.split()[1]) / 1024
  raise RuntimeError(f'no VmRSS for process {pid}.')


@contextlib.contextmanager
def running_app(port: int | None = None, args: tuple[str, ...] = (),
                timeout: float = 300.0,
                log: pathlib.Path | None = None) -> Iterator[tuple[str, Any]]:
  """`smplr-jax app` in its own process, until the block ends.

  Yields:
    (the page's URL, the `subprocess.Popen`).

  Raises:
    RuntimeError: the app exited or did not answer within `timeout` (its
      log's tail in the message).
  """
  port = port or free_port()
  url = f'http://127.0.0.1:{port}/'
  log_file = open(log or os.devnull, 'w')  # pylint: disable=consider-using-with
  process = subprocess.Popen(
      [sys.executable, '-m', 'smplr_jax.console', 'app', '--port',
       str(port), *args], stdout=log_file, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + timeout
    while True:
      if process.poll() is not None:
        tail = log.read_text()[-2000:] if log else ''
        raise RuntimeError(f'the app exited ({process.returncode}): {tail}')
      try:
        with urllib.request.urlopen(url, timeout=5) as response:
          if response.status == 200:
            break
      except OSError:
        pass
      if time.monotonic() > deadline:
        raise RuntimeError(f'the app did not answer within {timeout:g} s.')
      time.sleep(1.0)
    yield url, process
  finally:
    process.terminate()
    try:
      process.wait(30)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
    log_file.close()


class Page:
  """The app's page in headless Chromium."""

  def __init__(self, url: str, width: int = 1400, height: int = 1800,
               flags: tuple[str, ...] = (), scripts: tuple[str, ...] = ()):
    """Opens the page.

    Args:
      url: the app's.
      width, height: the window's size.
      flags: more Chromium flags (e.g. `fake_camera_flags`).
      scripts: JavaScript run in the page before its own scripts (e.g.
        `LIVE_PROBE_JS`).
    """
    from selenium import webdriver  # pylint: disable=g-import-not-at-top
    from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f'--window-size={width},{height}',) + \
        tuple(flags):
      options.add_argument(flag)
    self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                   options=options)
    for script in scripts:
      self.driver.execute_cdp_cmd('Page.addScriptToEvaluateOnNewDocument',
                                  {'source': script})
    self.url = url
    self.driver.get(url)
    self._wait(lambda d: self._find('#upload input[type=file]'), 60)

  def close(self) -> None:
    self.driver.quit()

  def _find(self, selector: str):
    from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
    return self.driver.find_elements(By.CSS_SELECTOR, selector)

  def _wait(self, condition, timeout: float):
    from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top
    return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
        condition)

  def status(self) -> str:
    found = self._find('#status')
    return found[0].text if found else ''

  def upload(self, path: str | os.PathLike, timeout: float = 30.0) -> str:
    """Sets the upload field; returns the status line once the file is
    checked."""
    before = self.status()
    self._find('#upload input[type=file]')[0].send_keys(str(path))
    self._wait(lambda d: self.status() not in (before, '') and
               'processing' not in self.status(), timeout)
    return self.status()

  def use_example(self, name: str, timeout: float = 30.0) -> str:
    """Clicks a shipped example; returns the status once it is checked."""
    from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
    before = self.status()
    button = self.driver.find_element(
        By.XPATH, f'//button[normalize-space()="{name}"]')
    button.click()
    self._wait(lambda d: self.status() not in (before, '') and
               'processing' not in self.status(), timeout)
    return self.status()

  def click_preview(self, x: float, y: float) -> None:
    """Clicks the preview at (x, y), fractions of the shown photo's width
    and height from its top-left corner."""
    from selenium.webdriver import ActionChains  # pylint: disable=g-import-not-at-top
    image = self._wait(lambda d: self._find('#preview img'), 30)[0]
    size = image.size
    ActionChains(self.driver).move_to_element_with_offset(
        image, round((x - 0.5) * size['width']),
        round((y - 0.5) * size['height'])).click().perform()

  def box(self) -> str:
    return self._find('#box textarea, #box input')[0].get_attribute('value')

  def wait_box(self, condition, timeout: float = 10.0) -> str:
    self._wait(lambda d: condition(self.box()), timeout)
    return self.box()

  def clear_upload(self) -> None:
    buttons = self._find('#upload button[aria-label="Clear"]')
    if buttons:
      buttons[0].click()

  def recover(self, timeout: float = 120.0) -> tuple[str, float]:
    """Presses the button; (the final status line, seconds to it). The
    progress texts shown meanwhile are kept in `progress_texts`."""
    self.progress_texts: list[str] = []
    start = time.perf_counter()
    self._find('#run')[0].click()

    def finished(_) -> bool:
      for element in self._find('.progress-text, .progress-level-inner'):
        try:
          text = element.text.strip()
        except Exception:  # pylint: disable=broad-except
          continue  # replaced while reading
        if text and text not in self.progress_texts:
          self.progress_texts.append(text)
      status = self.status()
      return 'path:' in status or '⚠' in status

    self._wait(finished, timeout)
    return self.status(), time.perf_counter() - start

  def download_links(self) -> list[str]:
    return [a.get_attribute('href') for a in self._find('#downloads a')
            if a.get_attribute('href')]

  def model_png(self, settle: float = 2.0) -> bytes:
    """The 3D view's canvas as a PNG (after `settle` seconds)."""
    time.sleep(settle)
    return self._find('#model canvas')[0].screenshot_as_png

  def drag_model(self, dx: int = 120) -> None:
    """Turns the body: a mouse drag across the 3D view."""
    from selenium.webdriver import ActionChains  # pylint: disable=g-import-not-at-top
    canvas = self._find('#model canvas')[0]
    ActionChains(self.driver).move_to_element(canvas).click_and_hold() \
        .move_by_offset(dx, 0).release().perform()

  def overlay_video_source(self) -> str:
    videos = self._find('#overlay-clip video')
    return videos[0].get_attribute('src') if videos else ''

  def overlay_video_decoded(self, timeout: float = 30.0) -> dict:
    """Waits until the browser has decoded the overlay clip's first frame;
    its width, height and duration (an unplayable codec raises)."""
    script = ('const v = document.querySelector("#overlay-clip video");'
              'return v && {ready: v.readyState, error: v.error && '
              'v.error.code, width: v.videoWidth, height: v.videoHeight, '
              'duration: v.duration};')

    def decoded(_):
      state = self.driver.execute_script(script)
      if state and state['error']:
        raise RuntimeError(f'the browser cannot play the clip: {state}')
      return state if state and state['ready'] >= 2 else False

    return self._wait(decoded, timeout)

  def live_status(self) -> str:
    found = self._find('#live-status')
    return found[0].text if found else ''

  def start_live(self, timeout: float = 120.0) -> str:
    """Opens the live section, starts the camera's stream and waits for
    the first body drawn; returns the live status line then."""
    self._wait(lambda d: self._find('#live .label-wrap'), 30)[0].click()
    self._wait(lambda d: any(e.is_displayed()
                             for e in self._find('#live-camera')), 30)
    # "Click to access webcam" (the fake UI grants it), then the
    # stream's start button.
    for title in ('grant webcam access', 'start recording'):
      self._click_titled(title, 60)
    self._wait(lambda d: self.driver.execute_script(
        'return window.__shown.some(s => s[2] === "1")'), timeout)
    return self.live_status()

  def live_samples(self, since: int = 0) -> list[tuple[float, int, bool,
                                                       np.ndarray]]:
    """The live pictures shown from the `since`-th on (`LIVE_PROBE_JS`'s
    log): (seconds since the epoch when it reached the page, its frame
    index, whether it drew a new body, the picture uint8 [h, w, 3])."""
    from PIL import Image  # pylint: disable=g-import-not-at-top
    shown = self.driver.execute_script(
        f'return window.__shown.slice({int(since)})')
    samples = []
    for when, frame, drew, source in shown:
      data = base64.b64decode(source.split(',', 1)[1])
      samples.append((when / 1000, int(frame), drew == '1', np.asarray(
          Image.open(io.BytesIO(data)).convert('RGB'))))
    return samples

  def live_count(self) -> int:
    """Live pictures shown so far."""
    return self.driver.execute_script('return window.__shown.length')

  def stop_live(self) -> None:
    """Stops the camera's stream (its button again)."""
    self._click_titled('stop recording', 10)

  def _click_titled(self, title: str, timeout: float) -> None:
    """Clicks the live camera's element titled so (a button, or the icon
    inside one: the click reaches its button), once it is shown."""
    from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top

    def clicked(_):
      for element in self._find(f'#live-camera [title="{title}"]'):
        if element.is_displayed():
          target = (element.find_elements(By.CSS_SELECTOR, 'button') or
                    [element])[0]
          self.driver.execute_script('arguments[0].click();', target)
          return True
      return False

    self._wait(clicked, timeout)

  def screenshot(self, path: str | os.PathLike) -> None:
    """The page as a PNG, or a JPEG when `path` ends in .jpg."""
    path = pathlib.Path(path)
    if path.suffix.lower() in ('.jpg', '.jpeg'):
      from PIL import Image  # pylint: disable=g-import-not-at-top
      Image.open(io.BytesIO(self.driver.get_screenshot_as_png())).convert(
          'RGB').save(path, quality=85)
    else:
      self.driver.save_screenshot(str(path))


def fetch(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
  """(HTTP status, body) of a GET."""
  import urllib.error  # pylint: disable=g-import-not-at-top
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response:
      return response.status, response.read()
  except urllib.error.HTTPError as e:
    return e.code, e.read()


def request_photo(client, path: str | os.PathLike, box: str = '',
                  everyone: bool = False) -> tuple[str, dict]:
  """One photo through the app's API (`gradio_client.Client`): (status
  line, the SMPL parameters shown)."""
  from gradio_client import handle_file  # pylint: disable=g-import-not-at-top
  out = client.predict(handle_file(str(path)), None, box, everyone,
                       'offline', 1, api_name='/recover')
  return out[0], out[4]

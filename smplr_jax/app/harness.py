"""Driving the running app from outside, as its users do: the app in its
own process, a headless Chromium page (selenium and Debian's `chromium` +
`chromium-driver`), and many concurrent API clients (`gradio_client`).

Used by `tests/test_app_browser.py` and `experiments/app_check.py` (the
screenshot in docs/ and the load test).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
# Headless on a machine with no network and no GPU: no background
# connections (refused here), software WebGL for the 3D view.
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--use-angle=swiftshader', '--enable-unsafe-swiftshader')


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

  def __init__(self, url: str, width: int = 1400, height: int = 1800):
    from selenium import webdriver  # pylint: disable=g-import-not-at-top
    from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f'--window-size={width},{height}',):
      options.add_argument(flag)
    self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                   options=options)
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

  def screenshot(self, path: str | os.PathLike) -> None:
    """The page as a PNG, or a JPEG when `path` ends in .jpg."""
    path = pathlib.Path(path)
    if path.suffix.lower() in ('.jpg', '.jpeg'):
      import io  # pylint: disable=g-import-not-at-top

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

"""A real headless browser for the HTML report's tests: Debian's chromium through chromedriver and Selenium, offline.

Without selenium, chromium or chromedriver the tests that need it skip, naming what is missing; with
SCALER_REQUIRE_BROWSER=1 (CI sets it) they fail instead. Networking is off twice over: Chromium's offline network
emulation, and a proxy to a closed port with every host name unresolvable, so any request off the machine fails.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REQUIRE_ENV = "SCALER_REQUIRE_BROWSER"
INSTALL_HINT = "apt-get install -y chromium chromium-driver && pip install selenium"
# A proxy on a closed port (loopback included), and no host name resolves.
OFFLINE_ARGS = ("--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# Every <img>, every outermost <svg> and every <figure>: its box, and for an <img> whether it decoded.
_FIGURES_JS = """
const out = [];
for (const el of document.querySelectorAll('img, svg, figure')) {
  if (el.localName === 'svg' && el.parentElement && el.parentElement.closest('svg')) continue;
  const r = el.getBoundingClientRect(), img = el.localName === 'img';
  const src = (el.getAttribute('src') || '').replace(/^(data:[^,]*,).*/s, '$1...');
  const label = el.id || el.getAttribute('alt') || el.getAttribute('aria-label') || src;
  out.push({kind: el.localName, label: label.slice(0, 80), width: r.width, height: r.height,
            natural_width: img ? el.naturalWidth : null, complete: img ? el.complete : null});
}
return out;
"""


@dataclass
class Figure:
    kind: str  # "img", "svg" or "figure"
    label: str  # id, alt, aria-label or the start of src
    width: float  # getBoundingClientRect(), CSS pixels
    height: float
    natural_width: int | None = None  # <img> only: 0 when it did not load or decode
    complete: bool | None = None  # <img> only

    @property
    def broken(self) -> bool:
        return self.kind == "img" and not (self.complete and self.natural_width)


@dataclass
class Page:
    url: str
    title: str
    figures: list[Figure]
    external_requests: list[str]  # resources the page asked for that are neither file: nor data: (nor blob:/about:)
    console_errors: list[str] | None = field(default=None)  # SEVERE browser log lines; None where not available

    def problems(self) -> list[str]:
        """What is wrong with the page as a self-contained report, one line each; empty when nothing is."""
        out = [f"{f.kind} {f.label!r} has an empty box ({f.width}x{f.height})" for f in self.figures
               if not (f.width > 0 and f.height > 0)]
        out += [f"img {f.label!r} did not load" for f in self.figures if f.broken]
        out += [f"requested {url}" for url in self.external_requests]
        return out + [f"console: {line}" for line in self.console_errors or []]


def missing() -> list[str]:
    """What of selenium, chromium and chromedriver this machine lacks (empty when it has all three)."""
    out = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        out.append("the Python package selenium")
    out += [f"the {name} executable" for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return out


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it under SCALER_REQUIRE_BROWSER=1 (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this fails rather than skips)", pytrace=False)
    pytest.skip(reason)


def browser_or_skip(width: int = 1280, height: int = 900) -> WebDriver:
    """A headless chromium with networking off, driven by Debian's chromedriver (never Selenium Manager's
    downloads); the caller quits it. Skips (or fails, see ``skip_or_fail``) when something is missing."""
    if lacking := missing():
        skip_or_fail(f"needs a real browser, and this machine lacks {', '.join(lacking)}: {INSTALL_HINT}")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--force-device-scale-factor=1",
                f"--window-size={width},{height}", *OFFLINE_ARGS):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=str(shutil.which("chromedriver"))))
    except WebDriverException as e:
        skip_or_fail(f"chromium did not start under chromedriver: {e.msg}")
    try:
        driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(10)
    except BaseException:
        driver.quit()
        raise
    return driver


@contextlib.contextmanager
def offline_browser(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """``browser_or_skip()``, quit on the way out: ``with offline_browser() as driver: ...``."""
    driver = browser_or_skip(width, height)
    try:
        yield driver
    finally:
        driver.quit()


# Lazy images load now rather than when scrolled to; wait until every image has decoded (or failed to), then for
# two animation frames, for scripts that draw.
_SETTLE_JS = """
const done = arguments[arguments.length - 1];
for (const img of document.images) if (img.loading === 'lazy') img.loading = 'eager';
Promise.all(Array.from(document.images, img => img.decode().catch(() => null)))
  .then(() => requestAnimationFrame(() => requestAnimationFrame(done)));
"""


def _load(driver: WebDriver, path: Path) -> None:
    """Open ``path``, wait for it to finish loading, then let it settle (``_SETTLE_JS``)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    driver.execute_async_script(_SETTLE_JS)


def _console_errors(driver: WebDriver) -> list[str] | None:
    """The SEVERE lines of the browser's log since it was last read; None where the driver keeps no log."""
    try:
        return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    except Exception:
        return None


def open_offline(driver: WebDriver, html_path: Path, tmp_dir: Path) -> Page:
    """Copy ``html_path`` alone into the empty folder ``tmp_dir/alone``, open the copy, and report on it."""
    alone = tmp_dir / "alone"
    alone.mkdir(parents=True)
    copy = alone / Path(html_path).name
    shutil.copyfile(html_path, copy)
    _console_errors(driver)  # drop what an earlier page logged
    _load(driver, copy)
    figures = [Figure(**f) for f in driver.execute_script(_FIGURES_JS)]
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    external = [name for name in names if not name.startswith(LOCAL_SCHEMES)]
    return Page(driver.current_url, driver.title, figures, external, _console_errors(driver))


def screenshot(html_path: Path, png_path: Path, width: int = 1280, height: int | None = None,
               driver: WebDriver | None = None) -> tuple[int, int]:
    """A PNG of ``html_path`` ``width`` CSS pixels wide (at scale 1) and ``height`` tall, by default the whole page
    (at least 900); returns its size. Uses ``driver`` if given, else an offline browser of its own."""
    if driver is None:
        with offline_browser(width) as own:
            return screenshot(html_path, png_path, width, height, own)
    metrics = {"width": width, "height": height or 900, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        _load(driver, Path(html_path))
        if height is None:
            height = math.ceil(driver.execute_script("return document.documentElement.scrollHeight"))
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                      {"format": "png", "captureBeyondViewport": True, "clip": clip})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    Path(png_path).write_bytes(base64.b64decode(shot["data"]))
    return width, height


if __name__ == "__main__":  # the README's screenshot: python tests/_browser.py REPORT.html OUT.png [HEIGHT]
    import sys

    size = screenshot(Path(sys.argv[1]), Path(sys.argv[2]), height=int(sys.argv[3]) if len(sys.argv) > 3 else None)
    print(f"{sys.argv[2]}: {size[0]} x {size[1]} px")

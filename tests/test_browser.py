"""The headless-browser harness (tests/_browser.py) on hand-written pages: it sees figures drawn from inline data, and
it catches what a self-contained report must not do (fetch from the network, lean on files beside it).

Skipped without selenium, chromium or chromedriver, unless SCALER_REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import Figure, Page, browser_or_skip, open_offline, screenshot
from PIL import Image

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
       '<rect width="120" height="80" fill="teal"/></svg>')


def _page(tmp_path: Path, body: str, name: str = "report.html") -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Report</title></head>"
                    f"<body>{body}</body></html>", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def driver() -> Iterator:
    browser = browser_or_skip()
    yield browser
    browser.quit()


def test_inline_figures_have_boxes_and_need_no_network(driver, tmp_path):
    data = base64.b64encode(SVG.encode()).decode()
    html = _page(tmp_path, f'<figure id="f1">{SVG}</figure><div style="height: 3000px"></div>'  # far below the fold,
                           f'<figure id="f2"><img alt="inline" loading="lazy" src="data:image/svg+xml;base64,{data}">'
                           '</figure>')  # ...and lazy: loaded anyway
    page = open_offline(driver, html, tmp_path)
    assert page.title == "Report"
    assert page.url.startswith("file://") and "/alone/" in page.url
    assert sorted(f.kind for f in page.figures) == ["figure", "figure", "img", "svg"]
    img = next(f for f in page.figures if f.kind == "img")
    assert (img.width, img.height, img.natural_width, img.broken) == (120, 80, 120, False)
    assert page.problems() == []


def test_an_external_image_is_caught(driver, tmp_path):
    html = _page(tmp_path, '<figure><img alt="remote" src="https://example.com/x.png"></figure>')
    page = open_offline(driver, html, tmp_path)
    (img,) = (f for f in page.figures if f.kind == "img")
    assert img.broken and img.natural_width == 0
    assert page.external_requests == ["https://example.com/x.png"]
    problems = page.problems()
    assert "img 'remote' did not load" in problems and "requested https://example.com/x.png" in problems
    if page.console_errors is not None:  # and the browser says why: no network at all
        assert any("example.com" in line for line in page.console_errors)


def test_a_file_beside_the_report_is_missing_once_the_report_is_copied_alone(driver, tmp_path):
    html = _page(tmp_path, '<img alt="sibling" src="fig.png">')
    Image.new("RGB", (40, 30), "red").save(html.parent / "fig.png")
    driver.get(html.as_uri())  # the control: opened where it was written, the picture beside it loads
    assert driver.execute_script("return document.images[0].naturalWidth") == 40
    page = open_offline(driver, html, tmp_path)
    assert page.figures[0].broken
    assert page.problems() == ["img 'sibling' did not load"] + [f"console: {e}" for e in page.console_errors or []]


def test_screenshot_is_a_png_of_the_asked_size(driver, tmp_path):
    html = _page(tmp_path, f'<div style="height: 2000px">{SVG}</div>')
    assert screenshot(html, tmp_path / "a.png", width=800, height=600, driver=driver) == (800, 600)
    assert screenshot(html, tmp_path / "full.png", width=640, driver=driver) == (640, 2016)  # 8px body margins
    for name, size in (("a.png", (800, 600)), ("full.png", (640, 2016))):
        with Image.open(tmp_path / name) as im:
            assert (im.format, im.size) == ("PNG", size)
            assert im.convert("RGB").getpixel((20, 20)) == (0, 128, 128)  # the teal rectangle, at 8+12 px


def test_a_missing_browser_skips_naming_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setitem(sys.modules, "selenium", None)  # `import selenium` now raises ImportError
    monkeypatch.delenv("SCALER_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        browser_or_skip()
    message = str(skipped.value)
    for what in ("selenium", "chromium executable", "chromedriver executable", "apt-get install -y chromium"):
        assert what in message
    monkeypatch.setenv("SCALER_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SCALER_REQUIRE_BROWSER=1"):
        browser_or_skip()


def test_problems_lists_every_kind_of_fault():
    page = Page("file:///a.html", "t", [Figure("svg", "s", 0, 10), Figure("img", "i", 5, 5, 0, True)],
                ["https://cdn.example/x.js"], ["boom"])
    assert page.problems() == ["svg 's' has an empty box (0x10)", "img 'i' did not load",
                               "requested https://cdn.example/x.js", "console: boom"]

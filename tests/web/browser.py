"""A real headless Chromium for the web view's tests, driven through Selenium.

Debian's `chromium` and `chromium-driver` are used, never a downloaded
browser: the driver's path is given, so Selenium's own manager never runs.
Without them the browser tests are skipped, except in CI (`CI` set), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
ROOT = Path(__file__).resolve().parents[2]


def _first(paths: tuple[str, ...], name: str) -> str | None:
    for path in paths:
        if os.path.exists(path):
            return path
    return shutil.which(name)


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if _first(CHROMIUM, "chromium") is None:
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if _first(CHROMEDRIVER, "chromedriver") is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def require() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI: {reason}")
    pytest.skip(reason)


def start(width: int = 1280, height: int = 900):
    """A headless Chromium of the given window size (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _first(CHROMIUM, "chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--hide-scrollbars", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking", "--lang=en-US"):
        options.add_argument(argument)
    service = Service(executable_path=_first(CHROMEDRIVER, "chromedriver"))
    return webdriver.Chrome(service=service, options=options)


def output_folder() -> Path:
    """Where screenshots go: $MREG_TEST_OUTPUT, else test-output/ at the project's root (gitignored)."""
    folder = Path(os.environ.get("MREG_TEST_OUTPUT") or ROOT / "test-output") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver, name: str, width: int) -> Path:
    """The whole page at `width` px wide, as PNG."""
    driver.set_window_size(width, 900)
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 400)")
    driver.set_window_size(width, min(int(height) + 140, 5000))  # the window's frame takes some of it
    path = output_folder() / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    return path

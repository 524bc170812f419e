"""The web view in a real headless Chromium: clicking through, the charts, the filter, hostile text that never runs.

Screenshots of each page at 1280 and 390 px wide go to test-output/screenshots/
(or $MREG_TEST_OUTPUT/screenshots/) for a person to look at.
"""

from __future__ import annotations

import pytest

from tests.web import browser
from tests.web.conftest import ACCURACY, F1, HOSTILE_DESCRIPTION
from tests.web.test_server import Ui


@pytest.fixture(scope="module")
def driver():
    browser.require()
    chromium = browser.start()
    chromium.set_page_load_timeout(30)
    yield chromium
    chromium.quit()


def wait_for(driver, script: str, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def nothing_ran(driver) -> None:
    """No injected markup ran: it would have set window.__pwned or the title."""
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert "pwned" not in driver.title


def click(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, text).click()


def empty(field) -> None:
    """Clear a field as a person does (selenium's clear() sends no input event)."""
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)


def walk(driver, start: str, shots: str) -> None:
    """Index → model → version → compare (a neighbour), then any two versions through the picker."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(start)
    assert driver.title == "Models · mreg"
    nothing_ran(driver)
    for width in (1280, 390):
        browser.screenshot(driver, f"{shots}-index", width)
    driver.set_window_size(1280, 900)

    # the search box filters the table as one types
    rows = driver.find_elements(By.CSS_SELECTOR, "#models tbody tr")
    assert len(rows) == 2 and all(r.is_displayed() for r in rows)
    search = driver.find_element(By.ID, "filter")
    search.send_keys("segm")
    assert [r.is_displayed() for r in rows] == [False, True]
    assert driver.find_element(By.ID, "shown").text == "1 of 2 shown"
    empty(search)
    search.send_keys("champion")  # an alias finds its model
    assert [r.is_displayed() for r in rows] == [True, False]
    search.send_keys(" nothing-like-it")
    assert not any(r.is_displayed() for r in rows) and driver.find_element(By.ID, "none").is_displayed()
    empty(search)
    assert all(r.is_displayed() for r in rows)

    click(driver, "sentiment")
    assert driver.title == "sentiment · mreg"
    nothing_ran(driver)
    charts = {svg.get_attribute("data-metric"): svg for svg in driver.find_elements(By.CSS_SELECTOR, "svg.chart")}
    assert sorted(charts) == ["accuracy", "f1"]
    for metric, values in (("accuracy", ACCURACY), ("f1", F1)):
        points = charts[metric].find_elements(By.CSS_SELECTOR, "circle.point")
        assert len(points) == len(values)
        assert all(p.is_displayed() and p.size["width"] > 0 for p in points)
        # higher values are drawn higher (smaller y)
        ys = dict(driver.execute_script(
            "return Array.from(arguments[0].querySelectorAll('circle.point'))"
            ".map(c => [c.textContent.split(':')[0], c.cy.baseVal.value])", charts[metric]))
        assert sorted(ys) == sorted(values)
        best, worst = max(values, key=values.get), min(values, key=values.get)
        assert ys[best] < ys[worst]
    for width in (1280, 390):
        browser.screenshot(driver, f"{shots}-model", width)
    driver.set_window_size(1280, 900)

    click(driver, "1.0.3")
    assert driver.title == "sentiment@1.0.3 · mreg"
    nothing_ran(driver)
    assert driver.find_element(By.CSS_SELECTOR, "p.description").text == HOSTILE_DESCRIPTION
    assert driver.find_element(By.ID, "get-command").get_attribute("value") == "mreg get sentiment@1.0.3 -o ./bundle"
    files = driver.find_elements(By.CSS_SELECTOR, "table.files tbody tr")
    assert [f.find_element(By.TAG_NAME, "code").text for f in files] == ["config.json", "weights.bin"]
    for width in (1280, 390):
        browser.screenshot(driver, f"{shots}-version", width)
    driver.set_window_size(1280, 900)

    click(driver, "Compare with 1.0.2")
    assert driver.title == "sentiment@1.0.2 vs 1.0.3 · mreg"
    nothing_ran(driver)
    metrics = driver.find_element(By.ID, "diff-metrics").find_element(By.XPATH, "..").text
    assert "+0.06" in metrics and "+0.09" in metrics
    for width in (1280, 390):
        browser.screenshot(driver, f"{shots}-compare", width)
    driver.set_window_size(1280, 900)

    # any two versions: the model page's picker, compared in the browser
    click(driver, "sentiment")
    Select(driver.find_element(By.NAME, "a")).select_by_visible_text("1.0.0")
    Select(driver.find_element(By.NAME, "b")).select_by_visible_text("1.0.3")
    driver.find_element(By.CSS_SELECTOR, "form.picker button").click()
    wait_for(driver, "return document.querySelector('#comparison #diff-metrics') !== null")
    assert driver.title == "sentiment@1.0.0 vs 1.0.3 · mreg"
    nothing_ran(driver)
    text = driver.find_element(By.ID, "comparison").text
    assert "Compare sentiment@1.0.0 with sentiment@1.0.3" in text
    assert "+0.09" in text  # accuracy 0.81 → 0.9, as mreg diff computes it
    assert "added" in text  # f1, absent from 1.0.0
    for width in (1280, 390):
        browser.screenshot(driver, f"{shots}-picked", width)
    driver.set_window_size(1280, 900)

    # the lineage graph links the version it came from
    driver.get(start.replace("index.html", "") + "models/team/segmenter/_v/1.0.0.html" if start.endswith(".html")
               else start + "models/team/segmenter/_v/1.0.0.html")
    graph = driver.find_element(By.CSS_SELECTOR, "svg.lineage")
    assert graph.find_elements(By.CSS_SELECTOR, "a.node")
    graph.find_element(By.CSS_SELECTOR, "a.node").click()
    assert driver.title == "sentiment@1.0.2 · mreg"


def test_the_static_site_from_the_file_system(driver, gallery_site):
    walk(driver, (gallery_site / "index.html").as_uri(), "site")
    nothing_ran(driver)


def test_the_ui_server(driver, gallery, gallery_env):
    server = Ui(gallery, gallery_env)
    try:
        walk(driver, server.url, "ui")
    finally:
        server.stop()


def tables(driver) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [[row.text for row in table.find_elements(By.TAG_NAME, "tr")]
            for table in driver.find_elements(By.CSS_SELECTOR, "main table")]


@pytest.mark.parametrize("left, right", [("1.0.2", "1.0.3"), ("1.0.0", "1.0.1"), ("1.0.3", "1.0.3")])
def test_the_browser_compares_as_the_generator_does(driver, gallery, gallery_env, gallery_site, left, right):
    # Any pair is compared in the browser; a pair of neighbours also has its page made by the
    # generator (and mreg ui makes the page of any pair): both must say the same.
    from selenium.webdriver.common.by import By

    server = Ui(gallery, gallery_env)
    try:
        driver.get(f"{server.url}models/sentiment/_compare/{left}..{right}.html")
        made = tables(driver)
        heading = driver.find_element(By.TAG_NAME, "h1").text
    finally:
        server.stop()
    driver.get((gallery_site / "models/sentiment/_compare.html").as_uri() + f"?a={left}&b={right}")
    wait_for(driver, "return document.querySelector('#comparison #fields') !== null")
    nothing_ran(driver)
    assert driver.find_element(By.TAG_NAME, "h1").text == heading
    assert tables(driver) == made and len(made) >= (1 if left == right else 3)


def test_the_copy_button(driver, gallery_site):
    from selenium.webdriver.common.by import By

    driver.get((gallery_site / "models/sentiment/_v/1.0.1.html").as_uri())
    button = driver.find_element(By.CSS_SELECTOR, "button.copy")
    button.click()
    wait_for(driver, "return document.querySelector('button.copy').textContent === 'Copied'")

"""The page, end to end in headless Chromium: paste or load text, press Check, read the highlights.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``)
and the ``selenium`` package; skipped with that reason when they are missing.
"""

from __future__ import annotations

import os
import shutil

import pytest
from serverkit import live_server

from mtcheck.config import Config
from mtcheck.server.service import CheckService

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTICLE = (
    "Fans cheered 🎉 as the mayor opened the bridge on Friday. . Residents welcomed it.\n\n"
    "Farmers said the the harvest was late. A sign read <img src=x onerror=\"window.pwned=1\"> "
    "and <script>window.pwned=2</script> nobody minded.\n"
)


@pytest.fixture(scope="module")
def server():
    with live_server(CheckService(Config(lm=False))) as live:
        yield live


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1100", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(browser, server):
    browser.get(server.url + "/")
    WebDriverWait(browser, 10).until(lambda d: "Server" in d.find_element(By.ID, "health").text)


def paste_and_check(browser, text: str) -> None:
    area = browser.find_element(By.ID, "text")
    area.clear()
    # Set the value the way a paste does (send_keys cannot type characters beyond the BMP).
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", area, text)
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "Check failed")))


def shown_text(browser) -> str:
    """The rendered text without the numbered badges (which are markers, not article text)."""
    return browser.execute_script(
        "const copy = document.getElementById('rendered').cloneNode(true);"
        "copy.querySelectorAll('sup.badge').forEach((b) => b.remove()); return copy.textContent;")


def test_check_highlights_spans_in_place(browser, server, tmp_path):
    open_page(browser, server)
    assert not browser.find_element(By.ID, "lm").is_enabled()  # the server runs without the model
    paste_and_check(browser, ARTICLE)

    marks = browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")
    flagged = {(m.get_attribute("class"), m.text) for m in marks}
    assert ("flag sev-warning", ".") in {(c, t.strip()) for c, t in flagged}
    assert any(t.strip() == "the" for _, t in flagged)
    # Offsets beyond the BMP (the emoji) are mapped to the right characters: the page text is the article.
    assert shown_text(browser) == ARTICLE.replace("\r\n", "\n")
    # Markup in the article stays text.
    assert browser.find_elements(By.CSS_SELECTOR, "#rendered img, #rendered script") == []
    assert browser.execute_script("return window.pwned === undefined")
    assert '<script>window.pwned=2</script>' in browser.find_element(By.ID, "rendered").text

    items = browser.find_elements(By.CSS_SELECTOR, "#findings li.finding")
    anchored = [i for m in marks for i in (m.get_attribute("data-first") or "").split()]
    assert sorted(anchored, key=int) == [str(i) for i in range(len(items))]  # every finding has one anchor
    assert "warning" in items[0].text and "P001" in items[0].text and "Suggestion: delete “.”" in items[0].text
    assert "finding" in browser.find_element(By.ID, "summary").text

    screenshot = tmp_path / "serve-page.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 140, 4000))  # the whole page, results included
    first = browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")[0]
    ActionChains(browser).move_to_element(first).perform()  # with a tooltip showing
    browser.save_screenshot(str(screenshot))
    browser.set_window_size(1280, 1100)
    assert screenshot.stat().st_size > 10_000
    keep = os.environ.get("MTCHECK_SCREENSHOT")
    if keep:
        shutil.copyfile(screenshot, keep)


def test_tooltip_on_focus_and_hover_and_keyboard_jump(browser, server):
    open_page(browser, server)
    paste_and_check(browser, ARTICLE)
    tip = browser.find_element(By.ID, "tip")
    assert not tip.is_displayed()

    # Keyboard: "Show in text" on the second finding focuses its span and shows why it was flagged.
    jump = browser.find_elements(By.CSS_SELECTOR, "#findings li.finding button.jump")[1]
    jump.send_keys(Keys.ENTER)
    focused = browser.switch_to.active_element
    assert focused.tag_name == "mark" and focused.text.strip() == "the"
    WebDriverWait(browser, 5).until(lambda d: tip.is_displayed())
    assert "R003" in tip.text and "Suggestion: delete “the”" in tip.text
    focused.send_keys(Keys.ESCAPE)
    assert not tip.is_displayed()

    # Pointer: hovering the first span shows its own message.
    first = browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")[0]
    ActionChains(browser).move_to_element(first).perform()
    WebDriverWait(browser, 5).until(lambda d: tip.is_displayed() and "P001" in tip.text)
    assert first.get_attribute("aria-describedby").startswith("finding-")


def test_ctrl_enter_checks_and_clean_text_says_so(browser, server):
    open_page(browser, server)
    area = browser.find_element(By.ID, "text")
    area.send_keys("The market reopened on Monday after a week of repairs.")
    area.send_keys(Keys.CONTROL, Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "status").text.startswith("Done"))
    assert browser.find_element(By.ID, "status").text == "Done: no findings."
    assert browser.find_elements(By.CSS_SELECTOR, "#rendered mark") == []
    assert browser.find_element(By.ID, "findings").text == "No findings."


def test_file_is_read_in_the_browser_and_checked(browser, server, tmp_path):
    story = tmp_path / "bridge.txt"
    story.write_text("The bridge opened on Friday. . Crowds gathered.\n", encoding="utf-8")
    open_page(browser, server)
    browser.find_element(By.ID, "file").send_keys(str(story))
    WebDriverWait(browser, 5).until(lambda d: "Loaded bridge.txt" in d.find_element(By.ID, "status").text)
    assert browser.find_element(By.ID, "text").get_attribute("value") == story.read_text(encoding="utf-8")
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#rendered mark.flag")))
    assert browser.find_element(By.CSS_SELECTOR, "#rendered mark.flag").text.strip() == "."


def test_server_errors_are_shown(browser, server):
    open_page(browser, server)
    browser.find_element(By.ID, "ignore").send_keys("NOPE")
    paste_and_check(browser, "Anything at all.")
    status = browser.find_element(By.ID, "status")
    assert status.text.startswith("Check failed") and "NOPE" in status.text
    assert "error" in status.get_attribute("class")


def test_overlapping_and_zero_width_spans_render_in_order(browser, server):
    # A canned answer (made up) with two overlapping findings and an insertion point.
    text = "Alpha beta gamma delta.\n"
    finding = {"line": 1, "end_line": 1, "suggestion": None, "score": None, "slug": "made-up"}
    findings = [
        {**finding, "code": "R001", "severity": "warning", "start": 0, "end": 10, "column": 1, "end_column": 11,
         "text": "Alpha beta", "message": "First."},
        {**finding, "code": "Q001", "severity": "error", "start": 6, "end": 16, "column": 7, "end_column": 17,
         "text": "beta gamma", "message": "Second."},
        {**finding, "code": "P002", "severity": "info", "start": 16, "end": 16, "column": 17, "end_column": 17,
         "text": "", "message": "Third.", "suggestion": ","},
    ]
    report = {"version": 1, "documents": [{"source": "-", "findings": findings, "sentences": [], "fluency": None}],
              "summary": {"documents": 1, "sentences": 1, "findings": 3,
                          "by_severity": {"info": 1, "warning": 1, "error": 1}, "by_code": {}}}
    open_page(browser, server)
    browser.execute_script(
        "const canned = arguments[0];"
        "window.fetch = async () => new Response(JSON.stringify(canned), "
        "{status: 200, headers: {'Content-Type': 'application/json'}});", report)
    paste_and_check(browser, text)
    pieces = [(m.text.strip(), m.get_attribute("class"), m.get_attribute("data-findings"))
              for m in browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")]
    assert pieces == [
        ("Alpha", "flag sev-warning", "0"),
        ("beta", "flag sev-error", "0 1"),
        ("gamma", "flag sev-error", "1"),
        ("‸", "flag sev-info insert", "2"),
    ]
    without_markers = browser.execute_script(
        "const copy = document.getElementById('rendered').cloneNode(true);"
        "copy.querySelectorAll('sup.badge, mark.insert').forEach((b) => b.remove()); return copy.textContent;")
    assert without_markers == text
    # The shared piece describes both findings.
    shared = browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")[1]
    shared.click()
    tip = browser.find_element(By.ID, "tip")
    WebDriverWait(browser, 5).until(lambda d: tip.is_displayed())
    assert "First." in tip.text and "Second." in tip.text
    assert "Suggestion: insert “,”" in browser.find_element(By.ID, "finding-2").text


def test_repeated_findings_of_one_rule_on_one_word_are_one_entry(browser, server):
    open_page(browser, server)
    paste_and_check(browser, "China said President Xi met Putin in Moscow on Friday. Later, officials said XI "
                             "was pleased. Reporters said XI flew home.")
    items = browser.find_elements(By.CSS_SELECTOR, "#findings li.finding")
    marks = browser.find_elements(By.CSS_SELECTOR, "#rendered mark.flag")
    assert len(marks) == 2 and len(items) == 1  # two places, one entry
    assert "2 places" in items[0].text and "C001" in items[0].text
    places = items[0].find_elements(By.CSS_SELECTOR, "button.jump")
    assert [p.text for p in places] == ["1:78", "1:109"]
    places[1].click()
    assert browser.switch_to.active_element == marks[1]
    # Both marks are described by the one entry.
    assert {m.get_attribute("aria-describedby") for m in marks} == {items[0].get_attribute("id")}


def test_copy_corrected_text_applies_every_suggestion(browser, server):
    open_page(browser, server)
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    paste_and_check(browser, "Fans 🎉 said the the harvest was late. . Prices rose.\n\nNo fix here.")
    button = browser.find_element(By.ID, "copy-corrected")
    assert button.is_displayed() and button.text == "Copy corrected text (2 suggestions applied)"
    button.click()
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "copy-status").text)
    assert browser.find_element(By.ID, "copy-status").text == "Copied."
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('error: ' + e));")
    assert copied == "Fans 🎉 said the harvest was late. Prices rose.\n\nNo fix here."
    paste_and_check(browser, "Nothing to fix here.")
    assert not browser.find_element(By.ID, "copy-corrected").is_displayed()

"""Screenshots of the HTML report and the page, for docs/screenshots/ (headless Chromium, as the tests use).

    python scripts/screenshots.py [--out docs/screenshots]

For the garbled sample article and a clean one (samples/clean-article.txt), with the language
model: `mtcheck check --format html` rendered in Chromium, and the page of `mtcheck serve` after
pasting the text and pressing Check. Needs Debian's chromium and chromium-driver (install.sh).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = {"sample": Path("samples/000_0664a0eb5d459460.txt"), "clean": Path("samples/clean-article.txt")}  # from ROOT


def browser(width: int = 1280, height: int = 1400) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
                 "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    mtcheck = [sys.executable, "-m", "mtcheck"]
    driver = browser()
    try:
        with tempfile.TemporaryDirectory() as work:
            for name, article in ARTICLES.items():
                report = Path(work) / f"{name}.html"
                subprocess.run([*mtcheck, "check", str(article), "--format", "html", "-o", str(report)], cwd=ROOT)
                driver.get(report.as_uri())
                time.sleep(0.5)
                driver.save_screenshot(str(out / f"report-{name}.png"))
                print(f"wrote {out / f'report-{name}.png'}")
        port = free_port()
        server = subprocess.Popen([*mtcheck, "serve", "--port", str(port)], cwd=ROOT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            for name, article in ARTICLES.items():
                driver.get(url + "/")
                WebDriverWait(driver, 30).until(lambda d: "Server" in d.find_element(By.ID, "health").text)
                area = driver.find_element(By.ID, "text")
                driver.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
                                      area, (ROOT / article).read_text(encoding="utf-8"))
                box = driver.find_element(By.ID, "lm")
                if box.is_enabled() and not box.is_selected():
                    box.click()
                driver.find_element(By.ID, "check").click()
                WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "Check failed")))
                results = driver.find_element(By.ID, "results")
                driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", results)
                # the pointer rests on the title, not on a flagged span (whose tooltip would cover the text)
                ActionChains(driver).move_to_element(driver.find_element(By.ID, "results-title")).perform()
                time.sleep(0.3)
                driver.save_screenshot(str(out / f"page-{name}.png"))
                print(f"wrote {out / f'page-{name}.png'}")
        finally:
            server.terminate()
            server.wait(30)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

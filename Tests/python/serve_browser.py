"""Drives headless Chromium (Selenium, Debian's chromium-driver) against `evolve serve`.

    serve_browser.py URL SCREENSHOT

Opens the study page at URL, marks the window, prints "ready" and waits for a line on
standard input (the test completes a candidate in the store meanwhile). Then waits until the
page shows one more completed candidate, checks that it was not reloaded (the mark survives)
and that every plot is laid out at its declared size, takes a screenshot of the page and of a
blank one, and prints one line of JSON with what it saw.
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = next(p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p))
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=800,1400"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))


def completed(driver):
    return int(driver.execute_script("return document.getElementById('completed').textContent"))


def layout(driver):
    return driver.execute_script("""
        return [...document.querySelectorAll('svg.plot')].map(s => {
            const r = s.getBoundingClientRect();
            return [Math.round(r.width), Math.round(r.height), Number(s.getAttribute('width')), Number(s.getAttribute('height')),
                    s.querySelectorAll('circle.point').length];
        });""")


def main(url, screenshot):
    driver = browser()
    try:
        driver.get(url)
        before = completed(driver)
        driver.execute_script("window.evolveMark = 'not reloaded';")
        # The live script is connected once it has said so.
        deadline = time.time() + 60   # generous: the suite's other tests load the machine
        while driver.execute_script("return document.getElementById('live').textContent") != "live" and time.time() < deadline:
            time.sleep(0.1)
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.time() + 60
        while completed(driver) == before and time.time() < deadline:
            time.sleep(0.1)
        after = completed(driver)
        result = {
            "before": before, "after": after,
            "reloaded": driver.execute_script("return window.evolveMark") != "not reloaded",
            "updates": int(driver.execute_script("return document.body.dataset.updates || '0'")),
            "plots": layout(driver),
            "latest": driver.execute_script("return document.querySelector('table.latest tr:nth-child(2) td').textContent"),
        }
        driver.save_screenshot(screenshot)
        driver.get("about:blank")
        driver.save_screenshot(screenshot + ".blank.png")
        print(json.dumps(result), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

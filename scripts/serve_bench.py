"""Times pages of `evolve serve` fully drawn in headless Chromium (Selenium, Debian's
chromium-driver): from navigation start to the load event, then to the next painted frame.

    serve_bench.py URL [ROUNDS]

Each round asks for the page under a query the server has not seen (`?round=N`), so the
server draws it afresh rather than from its cache. Prints one line per round and a last
line `drawn_ms_median= first_byte_ms_median= bytes= points=`.
"""
import os
import statistics
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main(url, rounds):
    options = webdriver.ChromeOptions()
    options.binary_location = next(p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p))
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=800,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    drawn, first = [], []
    try:
        for r in range(rounds):
            driver.get(f"{url}{'&' if '?' in url else '?'}round={r}-{os.getpid()}")
            t = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                requestAnimationFrame(() => requestAnimationFrame(() => {
                    const n = performance.getEntriesByType('navigation')[0];
                    done([n.responseStart, n.loadEventEnd, performance.now(), n.transferSize || n.encodedBodySize,
                          document.querySelectorAll('circle.point').length]);
                }));""")
            first.append(t[0])
            drawn.append(t[2])
            print(f"round {r}: first byte {t[0]:.0f} ms, load {t[1]:.0f} ms, painted {t[2]:.0f} ms, {t[3]} bytes, {t[4]} points", flush=True)
    finally:
        driver.quit()
    print(f"drawn_ms_median={statistics.median(drawn):.0f} first_byte_ms_median={statistics.median(first):.0f} bytes={t[3]} points={t[4]}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)

#!/usr/bin/env python3
"""Drives the dashboard in a real Chromium (Debian's, through Playwright) and reports what it saw.

    dashboard_test.py --url http://127.0.0.1:PORT/ --key tft_… --out DIR [--chromium /usr/bin/chromium]

    [--ticker NVDA]

Runs these visits:
  1. desktop: types the key into the page's form, waits for the tables, reads the DOM
     (with the trending rows' sparklines and the closed trades' breakdowns), samples the
     chart's canvas pixels, reloads (the key must come back from localStorage), saves
     DIR/dashboard.png;
  2. phone (390 px wide, the stored key): the page must not scroll sideways; DIR/dashboard-phone.png;
  3. a wrong key: the message the page shows;
  4. an equity curve (the endpoint answered by Playwright): the chart draws it;
  5. the ticker view (with --ticker): clicks the ticker in the closed-trades table, reads
     the view and samples its canvas (candles, the entry and exit markers' colours),
     DIR/dashboard-ticker.png; then at 390 px types the ticker into the view's form,
     DIR/dashboard-phone-ticker.png.
Prints one JSON object on stdout (the Rust test tests/it/dashboard.rs asserts on it).
Exit 0 when the visits ran, 1 when the page misbehaved in a way checked here (timeouts,
script errors), 2 when Playwright or Chromium is missing (with how to install them).
"""

import argparse
import json
import os
import sys

INSTALL = (
    "install them with `infra/test-env.sh` (it apt-installs chromium and pip-installs the pinned "
    "playwright of infra/requirements-tools.txt into the tools venv), or by hand: "
    "`apt-get install -y chromium` and `pip install -r infra/requirements-tools.txt`"
)

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Pixels of the chart's canvases that are clearly coloured (the series), not the greys and
# whites of the background, grid and labels.
CHART_PIXELS = """() => {
  let coloured = 0, total = 0;
  for (const canvas of document.querySelectorAll('#chart canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      total++;
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
    }
  }
  return { coloured, total, canvases: document.querySelectorAll('#chart canvas').length };
}"""

EQUITY = {
    "benchmark": "SPY",
    "points": [
        {"date": "2021-03-01", "equity": 100000.0, "drawdown": 0.0, "benchmark": 389.6},
        {"date": "2021-03-02", "equity": 100800.0, "drawdown": 0.0, "benchmark": 386.5},
        {"date": "2021-03-03", "equity": 99900.0, "drawdown": 0.0089, "benchmark": 381.4},
        {"date": "2021-03-04", "equity": 101500.0, "drawdown": 0.0, "benchmark": 376.7},
    ],
}

# The ticker view's canvases: coloured pixels, and those near each named colour (the
# markers have colours no series uses).
TICKER_PIXELS = """(targets) => {
  const near = Object.fromEntries(Object.keys(targets).map((k) => [k, 0]));
  let coloured = 0, total = 0;
  const canvases = document.querySelectorAll('#ticker-chart canvas');
  for (const canvas of canvases) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      total++;
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
      if (a < 200) continue;
      for (const [k, [tr, tg, tb]] of Object.entries(targets)) {
        if (Math.abs(r - tr) <= 12 && Math.abs(g - tg) <= 12 && Math.abs(b - tb) <= 12) near[k]++;
      }
    }
  }
  return { coloured, total, canvases: canvases.length, near };
}"""

# What the ticker view shows besides its canvas.
READ_TICKER = """() => {
  const box = document.getElementById('ticker-chart');
  return {
    hash: window.location.hash,
    title: document.getElementById('ticker-title').textContent,
    note: document.getElementById('ticker-note').textContent,
    chart_hidden: box.hidden,
    chart_ticker: box.dataset.ticker || '',
    markers: Number(box.dataset.markers || 0),
    trades: [...document.querySelectorAll('#ticker-trades tbody tr')].map(
      (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())),
    scroll_width: document.documentElement.scrollWidth,
    viewport_width: window.innerWidth,
  };
}"""

MARKER_COLOURS = {"candle_up": [38, 166, 154], "candle_down": [239, 83, 80],
                  "entry": [37, 99, 235], "exit": [219, 39, 119]}

READ_DOM = """() => {
  const cells = (id) => [...document.querySelectorAll(`#${id} tbody tr`)].map(
    (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()));
  const fields = {};
  for (const dd of document.querySelectorAll('#portfolio [data-field]')) fields[dd.dataset.field] = dd.textContent.trim();
  const message = document.getElementById('message');
  return {
    title: document.title,
    status: [...document.querySelectorAll('#status .pill')].map((p) => p.textContent.trim()),
    portfolio: fields,
    active: cells('active'),
    rejections: cells('rejections'),
    recent: cells('recent'),
    trending_date: document.getElementById('trending-date').textContent,
    trending: cells('trending'),
    // Per trending row: its ticker, and per sparkline the points it was given, the
    // vertices of its line and the width it takes on screen.
    sparklines: [...document.querySelectorAll('#trending tbody tr')].map((tr) => ({
      ticker: tr.querySelector('td').textContent.trim(),
      lines: [...tr.querySelectorAll('svg.spark')].map((svg) => {
        const line = svg.querySelector('polyline');
        const box = svg.getBoundingClientRect();
        return {
          points: Number(svg.dataset.points),
          vertices: line ? line.points.numberOfItems : 0,
          line_width: line ? line.getBBox().width : 0,
          width: box.width,
          height: box.height,
        };
      }),
    })),
    closed: cells('closed'),
    closed_total: document.getElementById('closed-total').textContent,
    by_exit_reason: cells('by-exit-reason'),
    by_month: cells('by-month'),
    chart_title: document.getElementById('chart-title').textContent,
    message: message.hidden ? '' : message.textContent,
    stored_key: localStorage.getItem('tft.apiKey') !== null,
  };
}"""


def fail(code, text):
    print(f"dashboard_test: {text}", file=sys.stderr)
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--out", required=True, help="directory for the screenshots")
    ap.add_argument("--chromium", default=os.environ.get("TFT_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--timeout-ms", type=int, default=20_000)
    ap.add_argument("--ticker", help="a ticker of the closed-trades table to open in the ticker view")
    a = ap.parse_args()

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        fail(2, f"Playwright is not installed for {sys.executable}; {INSTALL}")
    if not os.access(a.chromium, os.X_OK):
        fail(2, f"Chromium is not installed at {a.chromium}; {INSTALL}")
    os.makedirs(a.out, exist_ok=True)

    report = {}
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
        except PlaywrightError as e:
            fail(2, f"Chromium at {a.chromium} did not start ({e}); {INSTALL}")
        try:
            report = visit_all(browser, a)
        except PlaywrightError as e:
            fail(1, f"the page did not behave: {e}")
        finally:
            browser.close()
    print(json.dumps(report, indent=1))


def watch(page, sink):
    """Collects console errors, uncaught exceptions and failed requests of a page."""
    page.on("console", lambda m: m.type == "error" and sink.append(
        {"kind": "console", "text": m.text, "url": m.location.get("url", "")}))
    page.on("pageerror", lambda e: sink.append({"kind": "exception", "text": str(e), "url": ""}))
    page.on("requestfailed", lambda r: sink.append(
        {"kind": "requestfailed", "text": r.failure or "", "url": r.url}))
    page.on("response", lambda r: r.status >= 400 and sink.append(
        {"kind": "http", "text": str(r.status), "url": r.url}))


# (No page.wait_for_function: it evaluates strings, which the page's CSP refuses.)
def visit_all(browser, a):
    t = a.timeout_ms
    report = {}

    # 1. Desktop, the key typed into the form.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors = []
    watch(page, errors)
    page.goto(a.url, wait_until="load", timeout=t)
    # The message follows the page's /v1/health request: wait for it (a locator filter,
    # no string evaluation) rather than read it at `load`; if it never comes, the text read
    # below is what the Rust assertion reports.
    try:
        page.locator("#message", has_text="Paste an API key").wait_for(timeout=t)
    except Exception:  # playwright's TimeoutError
        pass
    report["message_without_key"] = page.locator("#message").text_content(timeout=t)
    page.fill("#key", a.key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#active tbody tr td", timeout=t)
    page.wait_for_selector("#portfolio [data-field=cash]", timeout=t)
    page.wait_for_selector("#chart canvas", timeout=t)
    page.wait_for_selector("#closed tbody tr td", timeout=t)
    page.wait_for_selector("#trending tbody tr td", timeout=t)
    page.wait_for_timeout(500)  # the chart paints on the next frames
    report["dom"] = page.evaluate(READ_DOM)
    report["chart"] = page.evaluate(CHART_PIXELS)
    shot = os.path.join(a.out, "dashboard.png")
    page.screenshot(path=shot, full_page=True)
    report["screenshot"] = shot
    # The key is kept: a reload shows the data without typing it again.
    page.reload(wait_until="load", timeout=t)
    page.wait_for_selector("#active tbody tr td", timeout=t)
    report["after_reload"] = page.evaluate(READ_DOM)
    report["errors"] = errors
    storage = ctx.storage_state()
    ctx.close()

    # 2. A phone's width, with the stored key.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                              is_mobile=True, has_touch=True, storage_state=storage)
    page = ctx.new_page()
    phone_errors = []
    watch(page, phone_errors)
    page.goto(a.url, wait_until="load", timeout=t)
    page.wait_for_selector("#active tbody tr td", timeout=t)
    page.wait_for_selector("#chart canvas", timeout=t)
    page.wait_for_timeout(500)
    report["phone"] = {
        "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
        "viewport_width": page.evaluate("window.innerWidth"),
        "chart": page.evaluate(CHART_PIXELS),
        "errors": phone_errors,
    }
    shot = os.path.join(a.out, "dashboard-phone.png")
    page.screenshot(path=shot, full_page=True)
    report["phone"]["screenshot"] = shot
    ctx.close()

    # 3. A wrong key.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    wrong_errors = []
    watch(page, wrong_errors)
    page.goto(a.url, wait_until="load", timeout=t)
    page.fill("#key", "tft_" + "0" * 64)
    page.click("#key-form button[type=submit]")
    page.locator("#message", has_text="refused").wait_for(timeout=t)
    report["wrong_key"] = {"dom": page.evaluate(READ_DOM), "errors": wrong_errors}
    ctx.close()

    # 4. The equity curve, answered here (an API without /v1/portfolio/equity says 404).
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=storage)
    page = ctx.new_page()
    equity_errors = []
    watch(page, equity_errors)
    page.route("**/v1/portfolio/equity", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(EQUITY)))
    page.goto(a.url, wait_until="load", timeout=t)
    page.locator("#chart-title", has_text="Equity").wait_for(timeout=t)
    page.wait_for_timeout(500)
    report["equity"] = {
        "chart_title": page.locator("#chart-title").text_content(),
        "chart": page.evaluate(CHART_PIXELS),
        "errors": equity_errors,
    }
    ctx.close()

    # 5. The ticker view: a click on the ticker in the closed trades, then a phone typing it.
    if a.ticker:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=storage)
        page = ctx.new_page()
        ticker_errors = []
        watch(page, ticker_errors)
        page.goto(a.url, wait_until="load", timeout=t)
        page.wait_for_selector("#closed tbody tr td", timeout=t)
        page.locator("#closed a.ticker", has_text=a.ticker).first.click(timeout=t)
        page.wait_for_selector("#ticker-chart canvas", timeout=t)
        page.locator("#ticker-trades tbody tr td").first.wait_for(timeout=t)
        page.wait_for_timeout(800)
        view = page.evaluate(READ_TICKER)
        view["pixels"] = page.evaluate(TICKER_PIXELS, MARKER_COLOURS)
        shot = os.path.join(a.out, "dashboard-ticker.png")
        page.locator("#ticker-view").screenshot(path=shot)
        view["screenshot"] = shot
        view["errors"] = ticker_errors
        report["ticker"] = view
        ctx.close()

        ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, storage_state=storage)
        page = ctx.new_page()
        phone_errors = []
        watch(page, phone_errors)
        page.goto(a.url, wait_until="load", timeout=t)
        page.wait_for_selector("#active tbody tr td", timeout=t)
        page.fill("#ticker-input", a.ticker.lower())
        page.click("#ticker-form button[type=submit]")
        page.wait_for_selector("#ticker-chart canvas", timeout=t)
        page.locator("#ticker-trades tbody tr td").first.wait_for(timeout=t)
        page.wait_for_timeout(800)
        view = page.evaluate(READ_TICKER)
        view["pixels"] = page.evaluate(TICKER_PIXELS, MARKER_COLOURS)
        shot = os.path.join(a.out, "dashboard-phone-ticker.png")
        page.screenshot(path=shot, full_page=True)
        view["screenshot"] = shot
        view["errors"] = phone_errors
        report["phone_ticker"] = view
        ctx.close()
    return report


if __name__ == "__main__":
    main()

"""How a real browser opens the boards: the Debian Chromium, its flags, and when a page is ready.

Shared by the browser tests and `benchmarks/bench_boards.py`, so the benchmark times exactly the
readiness the tests check.
"""

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download does not work offline
# python-svc machines: without the background-networking flags Chromium's calls out are refused.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Ready: the page's last element is drawn, Streamlit is not running, no element is still loading
# (skeleton), and every chart the page announced is drawn (a Vega-Lite chart draws one SVG or canvas).
READY_JS = """() => {
  const captions = document.querySelectorAll('[data-testid="stCaptionContainer"]');
  const last = captions.length ? captions[captions.length - 1].textContent : '';
  const m = last.match(/Page ready: (\\d+) charts/);
  const busy = '[data-testid="stStatusWidget"], [data-testid="stSkeleton"]';
  if (!m || document.querySelector(busy)) return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  return charts.length >= Number(m[1]) && charts.every((c) => c.querySelector('svg.marks g, canvas'));
}"""

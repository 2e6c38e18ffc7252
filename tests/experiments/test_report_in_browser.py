"""The report opens in a real browser: every figure loads and nothing on the page errors.

Uses Debian's headless Chromium (``/usr/bin/chromium``); skipped where it is not installed.
A copy of the report gets a small script that records image and script errors into the
page, and Chromium's ``--dump-dom`` prints the page after it has loaded.
"""

import re
import shutil
import subprocess

import pytest

from trainlab.experiments import reproduce

CHECKER = """
<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  var out = document.createElement('pre');
  out.id = 'browser-check';
  out.textContent = 'images=' + imgs.length + ' broken=' + broken + ' errors=' + window.__errors.length +
                    ' ' + window.__errors.join(' | ');
  document.body.appendChild(out);
});
</script>
"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _open_in_chromium(page: str, tmp_path):
    """(images, broken images, errors, messages) of ``page`` loaded in headless Chromium."""
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("<head>", "<head>" + CHECKER, 1))
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
           checked.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="browser-check">images=(\d+) broken=(\d+) errors=(\d+)([^<]*)</pre>', proc.stdout)
    assert match, f"the page did not finish loading in Chromium; stderr tail: {proc.stderr[-800:]}"
    return int(match[1]), int(match[2]), int(match[3]), match[4]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    results, report = reproduce(["optimizer-paths"], tmp_path_factory.mktemp("out"), quick=True, log=None)
    return results, report.read_text()


def test_report_renders_without_errors(report_page, tmp_path):
    results, page = report_page
    images, broken, errors, messages = _open_in_chromium(page, tmp_path)
    assert images == len(results[0].figures) >= 2
    assert broken == 0
    assert errors == 0, messages


def test_the_check_notices_a_broken_figure_and_a_script_error(report_page, tmp_path):
    """Negative control: the same check on a damaged page must report the damage."""
    results, page = report_page
    damaged = page.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
    damaged = damaged.replace("</body>", "<script>undefinedFunction();</script></body>")
    images, broken, errors, messages = _open_in_chromium(damaged, tmp_path)
    assert (images, broken) == (len(results[0].figures), 1), messages
    # The broken image fires an error event too, so two errors: the image and the script.
    assert errors == 2 and "undefinedFunction" in messages

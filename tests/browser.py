"""Open a local HTML page in a real headless Chromium: a screenshot, and what the DOM says.

Standard library only; the browser is Debian's ``chromium`` (``/usr/bin/chromium``, which
``.ci/run`` installs). No DevTools client: to learn whether every ``<img>`` loaded, a copy
of the page gets a tiny script that, on ``window.load``, appends a marker element
``<pre id="tvmf-page-check">`` holding JSON (every img's ``[src, naturalWidth, complete]``,
the number of ``#summary tbody tr`` rows, uncaught script errors); ``--dump-dom`` after
``--virtual-time-budget`` prints the DOM with that marker, and :func:`parse_check` reads it.
The copy lives in a temporary folder with a ``<base href>`` pointing at the page's own
folder, so relative image paths resolve as in the original and the page's folder is never
written to. The screenshot is of the original, uninstrumented page.

API:

- ``find_browser() -> str | None``: the browser's path ($TVMF_BROWSER, else chromium on PATH).
- ``screenshot(html_path, png_path, ...) -> Path``: one browser run, ``--screenshot``.
- ``dump_dom(html_path, ...) -> str``: one browser run, ``--dump-dom`` (the page as is).
- ``open_page(html_path, screenshot_path=None, ...) -> str``: the screenshot (if a path is
  given) and the DOM text of the instrumented copy, which contains the marker.
- ``parse_check(dom_text) -> PageCheck``: images, summary row count, script errors.
- ``check_page(html_path, screenshot_path=None, ...) -> PageCheck``: open_page + parse_check.
- ``assert_page_ok(html_path, screenshot_path, rows=None, ...) -> PageCheck``: pytest-free
  check that every image loaded, the summary has ``rows`` rows, no script error, and the
  screenshot is a real PNG; raises AssertionError saying what is wrong.
- ``require_browser() -> str``: the browser, or ``pytest.fail`` saying what to install (never
  a skip: a skipped check checks nothing).

Every browser run has a timeout (its whole process group is killed then) and a fresh
``--user-data-dir``; a failing run raises :class:`BrowserError` with the end of its stderr.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MARKER_ID = "tvmf-page-check"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# without the background-networking flags Chromium's own connections (updates, sync, safe
# browsing, ...) are refused here, many at a time; the page is local and needs none of them
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in containers; the pages are our own local files
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CHECK_SCRIPT = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || (e.target && e.target.src) || e));
  });
  window.addEventListener("load", function () {
    var imgs = Array.prototype.map.call(document.images, function (i) {
      return [i.getAttribute("src"), i.naturalWidth, i.complete];
    });
    var rows = document.querySelectorAll("#summary tbody tr").length;
    var pre = document.createElement("pre");
    pre.id = "@MARKER_ID@";
    pre.textContent = JSON.stringify({
      images: imgs,
      summary: document.getElementById("summary") ? rows : null,
      errors: errors,
      title: document.title
    });
    document.body.appendChild(pre);
  });
})();
</script>""".replace("@MARKER_ID@", MARKER_ID)


class BrowserError(RuntimeError):
    """The browser could not be started, failed, timed out, or printed no marker."""


@dataclass
class PageCheck:
    images: list[tuple[str, int, bool]] = field(default_factory=list)  # src, naturalWidth, complete
    summary_rows: int | None = None  # None: the page has no #summary element
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    title: str = ""

    @property
    def broken_images(self) -> list[str]:
        return [src for src, width, _ in self.images if not width]


def find_browser() -> str | None:
    """The headless browser to use: $TVMF_BROWSER if set, else the first of CANDIDATES on PATH."""
    env = os.environ.get("TVMF_BROWSER")
    if env:
        return env if shutil.which(env) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(args: list[str], browser: str | None, timeout: float) -> str:
    """Run the browser once with FLAGS + args and a fresh profile; its stdout."""
    browser = browser or find_browser()
    if not browser:
        raise BrowserError(f"no headless browser found (tried {', '.join(CANDIDATES)}; "
                           "install Debian's chromium: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="tvmf-browser-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace",
                                    start_new_session=True)
        except OSError as e:
            raise BrowserError(f"cannot start {browser}: {e}") from e
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            raise BrowserError(f"{browser} timed out after {timeout:g} s: {' '.join(cmd)}\n"
                               f"last lines of its stderr:\n{_tail(err)}") from None
        finally:
            _kill_group(proc)  # helpers (crashpad, zygotes) that outlive the browser
    if proc.returncode != 0:
        raise BrowserError(f"{browser} exited with {proc.returncode}: {' '.join(cmd)}\n"
                           f"last lines of its stderr:\n{_tail(err)}")
    return out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def screenshot(html_path, png_path, *, browser: str | None = None,
               window_size: tuple[int, int] = (1280, 1024), budget_ms: int = 5000,
               timeout: float = 60) -> Path:
    """Screenshot of the page (as the browser shows it after budget_ms of virtual time)."""
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    _run([f"--screenshot={png_path}", f"--window-size={window_size[0]},{window_size[1]}",
          f"--virtual-time-budget={budget_ms}", html_path.as_uri()], browser, timeout)
    if not png_path.is_file():
        raise BrowserError(f"the browser exited without writing the screenshot {png_path}")
    return png_path


def dump_dom(html_path, *, browser: str | None = None, budget_ms: int = 5000,
             timeout: float = 60) -> str:
    """The serialized DOM of the page after budget_ms of virtual time."""
    html_path = Path(html_path).resolve()
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", html_path.as_uri()],
                browser, timeout)


def instrument(page: str, base_uri: str) -> str:
    """The page's HTML with a <base href=base_uri> and the check script at the top of <head>."""
    inject = f'<base href="{html.escape(base_uri)}">{_CHECK_SCRIPT}'
    m = re.search(r"<head\b[^>]*>", page, flags=re.IGNORECASE)
    if m:
        return page[:m.end()] + inject + page[m.end():]
    m = re.search(r"<html\b[^>]*>", page, flags=re.IGNORECASE)
    if m:
        return page[:m.end()] + f"<head>{inject}</head>" + page[m.end():]
    return inject + page


def open_page(html_path, screenshot_path=None, *, browser: str | None = None,
              window_size: tuple[int, int] = (1280, 1024), budget_ms: int = 5000,
              timeout: float = 60) -> str:
    """Screenshot the page (if screenshot_path) and return the DOM of its instrumented copy.

    Two browser runs: --screenshot of the page itself, --dump-dom of a copy (in a temporary
    folder, with <base href> at the page's folder) carrying the check script; the DOM text
    returned contains the marker that parse_check reads.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(html_path)
    browser = browser or find_browser()
    if screenshot_path is not None:
        screenshot(html_path, screenshot_path, browser=browser, window_size=window_size,
                   budget_ms=budget_ms, timeout=timeout)
    base = html_path.parent.as_uri() + "/"
    page = html_path.read_text(encoding="utf-8", errors="replace")
    with tempfile.TemporaryDirectory(prefix="tvmf-page-") as tmp:
        copy = Path(tmp) / html_path.name
        copy.write_text(instrument(page, base), encoding="utf-8")
        return dump_dom(copy, browser=browser, budget_ms=budget_ms, timeout=timeout)


def parse_check(dom_text: str) -> PageCheck:
    """The marker's content in a DOM dumped by open_page."""
    m = re.search(rf'<pre id="{MARKER_ID}">(.*?)</pre>', dom_text, flags=re.DOTALL)
    if not m:
        raise BrowserError(f"no <pre id={MARKER_ID!r}> in the dumped DOM (did window.load "
                           f"fire within the virtual time budget?); its end:\n"
                           f"{dom_text[-1500:]}")
    data = json.loads(html.unescape(m.group(1)))
    return PageCheck(images=[(src, int(w), bool(c)) for src, w, c in data["images"]],
                     summary_rows=data["summary"], errors=list(data["errors"]),
                     title=data.get("title", ""))


def check_page(html_path, screenshot_path=None, **kwargs) -> PageCheck:
    """open_page + parse_check."""
    return parse_check(open_page(html_path, screenshot_path, **kwargs))


def assert_png(path, min_bytes: int = 4096) -> None:
    path = Path(path)
    assert path.is_file(), f"no screenshot at {path}"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG (starts {data[:8]!r})"
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes: a blank page?"


def assert_page_ok(html_path, screenshot_path, rows: int | None = None, *,
                   min_images: int = 1, **kwargs) -> PageCheck:
    """Open the page in the browser and check it; pytest-free (raises AssertionError).

    Every <img> loaded (naturalWidth > 0), at least min_images of them, the summary table has
    ``rows`` rows in its <tbody> (when rows is given), no uncaught script error, and the
    screenshot is a PNG of more than 4 KB. Returns the PageCheck for further assertions.
    """
    check = check_page(html_path, screenshot_path, **kwargs)
    assert len(check.images) >= min_images, (
        f"{html_path}: {len(check.images)} <img>, expected at least {min_images}")
    assert not check.broken_images, (
        f"{html_path}: images that did not load (naturalWidth 0): {check.broken_images}")
    if rows is not None:
        assert check.summary_rows is not None, f"{html_path}: no element with id 'summary'"
        assert check.summary_rows == rows, (
            f"{html_path}: #summary tbody has {check.summary_rows} rows, expected {rows}")
    assert not check.errors, f"{html_path}: script errors: {check.errors}"
    assert_png(screenshot_path)
    return check


def require_browser() -> str:
    """The browser for a test; without one the test fails, naming what to install (a skipped
    browser test would check nothing; ``.ci/run`` installs chromium)."""
    import pytest

    browser = find_browser()
    if browser:
        return browser
    pytest.fail(f"no headless browser found (tried {', '.join(CANDIDATES)}): the HTML report "
                "is checked in a real one; install Debian's chromium: apt-get install -y "
                "chromium (or set $TVMF_BROWSER to a Chromium binary)", pytrace=False)

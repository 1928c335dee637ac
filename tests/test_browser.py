"""The headless-browser helper (tests/browser.py) on a page of our own: two PNGs, a table.

Without a browser these fail, saying what to install (.ci/run installs chromium), so the check
of the HTML report can never silently vanish.
"""

import os
import shutil

import pytest

from tests import browser as br

ROWS = 3


def _write_png(path, color):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    ax.bar(["a", "b", "c"], [3, 1, 2], color=color)
    fig.savefig(path)
    plt.close(fig)


def write_page(folder, *, broken=False, rows=ROWS):
    """A report-like page: <img> with relative paths, a #summary table of `rows` rows."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    _write_png(folder / "img" / "one.png", "tab:blue")
    _write_png(folder / "two.png", "tab:orange")
    body_rows = "".join(f"<tr><td>W{i}</td><td>{i * 1.5:.1f}</td></tr>" for i in range(rows))
    extra = '<img src="missing.png" alt="missing">' if broken else ""
    page = folder / "index.html"
    page.write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>browser check</title></head>
<body><h1>browser check</h1>
<img src="img/one.png" alt="one"><img src="two.png" alt="two">{extra}
<table id="summary"><thead><tr><th>workload</th><th>ms</th></tr></thead>
<tbody>{body_rows}</tbody></table>
</body></html>
""")
    return page


@pytest.fixture
def browser():
    return br.require_browser()


def test_images_load_and_rows_are_counted(tmp_path, browser):
    page = write_page(tmp_path / "report")
    shot = tmp_path / "shot.png"
    check = br.assert_page_ok(page, shot, rows=ROWS, min_images=2, browser=browser)
    assert [src for src, _, _ in check.images] == ["img/one.png", "two.png"]
    assert all(width == 320 and complete for _, width, complete in check.images), check.images
    assert check.summary_rows == ROWS and check.title == "browser check"
    assert shot.read_bytes()[:8] == br.PNG_SIGNATURE and shot.stat().st_size > 4096
    # the page's folder is left as it was: the instrumented copy lived elsewhere
    assert sorted(p.name for p in page.parent.iterdir()) == ["img", "index.html", "two.png"]
    if os.environ.get("TVMF_BROWSER_SHOT"):  # keep a look at the page, for a human
        shutil.copy(shot, os.environ["TVMF_BROWSER_SHOT"])


def test_a_missing_image_is_reported_and_fails_the_check(tmp_path, browser):
    page = write_page(tmp_path / "report", broken=True)
    check = br.check_page(page, browser=browser)
    assert ("missing.png", 0, True) in check.images
    assert check.broken_images == ["missing.png"]
    assert sum(width > 0 for _, width, _ in check.images) == 2
    with pytest.raises(AssertionError, match="missing.png"):
        br.assert_page_ok(page, tmp_path / "shot.png", rows=ROWS, browser=browser)


def test_a_wrong_row_count_fails_the_check(tmp_path, browser):
    page = write_page(tmp_path / "report", rows=2)
    with pytest.raises(AssertionError, match="2 rows, expected 3"):
        br.assert_page_ok(page, tmp_path / "shot.png", rows=ROWS, browser=browser)


def test_a_page_without_summary_reports_none(tmp_path, browser):
    page = tmp_path / "plain.html"
    page.write_text("<p>no head, no table</p>")
    check = br.check_page(page, browser=browser)
    assert check.summary_rows is None and check.images == []


def test_a_failing_browser_raises_with_its_stderr(tmp_path):
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display: nothing here' >&2\nexit 3\n")
    fake.chmod(0o755)
    page = write_page(tmp_path / "report")
    with pytest.raises(br.BrowserError, match="(?s)exited with 3.*cannot open display"):
        br.open_page(page, tmp_path / "shot.png", browser=str(fake))


def test_a_hanging_browser_times_out(tmp_path):
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\nsleep 60\n")
    fake.chmod(0o755)
    with pytest.raises(br.BrowserError, match="timed out after 1 s"):
        br.dump_dom(write_page(tmp_path / "report"), browser=str(fake), timeout=1)


def test_without_a_browser_the_tests_fail_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("TVMF_BROWSER", str(tmp_path / "no-such-browser"))
    assert br.find_browser() is None
    for ci in ("", "1"):  # never a skip, in CI or not
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
            br.require_browser()

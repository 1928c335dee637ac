"""`tvm-fusion report`: a real tiny tuning run, then the report's numbers against the records,
and the page opened in a real headless browser."""

import json

import pytest

from tvm_fusion import cli, workloads
from tvm_fusion.tuning import tune
from tvm_fusion.tuning.records import measured
from tvm_fusion.tuning.trials import read_trials

NAMES = ("W1s", "W4s")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    results = {name: tune(workloads.graph(name), trials=4, log_dir=logs, transfer=False)[0] for name in NAMES}
    out = tmp_path_factory.mktemp("report")
    assert cli.main(["report", str(logs), "-o", str(out)]) == 0
    return logs, out, results


def _summary_rows(md_text: str) -> dict:
    lines = md_text.split("## Summary", 1)[1].strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))
            for line in lines[2:] if line.startswith("|")]
    return {r["workload"]: r for r in rows}


def test_report_numbers_are_the_records(report):
    logs, out, results = report
    rows = _summary_rows((out / "report.md").read_text())
    assert set(rows) == set(NAMES)
    for name, result in results.items():
        row = rows[name]
        best = min(seconds for seconds, _ in measured(result.folder))
        trials = read_trials(result.folder)
        assert int(row["trials"]) == len(trials) == result.trials == 4
        assert row["best us"] == f"{best * 1e6:.2f}"
        assert row["default us"] == f"{trials[0]['seconds'] * 1e6:.2f}"
        assert row["failed"] == "0" and row["% roofline"].endswith("%")
        manifest = json.loads((result.folder / "manifest.json").read_text())
        assert manifest["roofline"]["bandwidth_bytes_per_s"] > 1e9
    assert len(list(out.glob("curve_*.png"))) == len(NAMES)
    page = (out / "index.html").read_text()
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from a network
    assert page.count("<tr>") == len(NAMES) + 1


def test_report_page_in_a_real_browser(report, tmp_path):
    from tests.browser import assert_page_ok, require_browser

    _, out, _ = report
    check = assert_page_ok(out / "index.html", tmp_path / "report.png", rows=len(NAMES),
                           min_images=len(NAMES), browser=require_browser())
    assert all(width > 0 for _, width, _ in check.images)

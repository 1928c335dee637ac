"""`tvm-fusion bench` on tiny work: the real command, its real files, and its caches."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tvm_fusion import workloads
from tvm_fusion.analysis import analyze
from tvm_fusion.bench import workload_names
from tvm_fusion.bench.numerics import NumericsError, classify
from tvm_fusion.bench.report import LATENCY_COLUMNS
from tvm_fusion.bench.roofline import MODEL, Traffic, donated_traffic, roofline_seconds, traffic
from tvm_fusion.settings import num_cores
from tvm_fusion.target import host_target, target_key

ARGS = ["W1s", "P4s", "--ms-trials", "4", "--tune-trials", "4", "--repeat", "2"]
ALWAYS = ("tuned kernel", "tuned call", "default kernel", "default call", "unfused kernel",
          "unfused call", "numpy", "ort kernel", "ort call", "relax", "metaschedule")


def _bench(out) -> str:
    run = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "bench", *ARGS, "--out",
                          str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stderr


@pytest.fixture(scope="module")
def bench_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    first = _bench(out)
    results = json.loads((out / "peers.json").read_text())
    second = _bench(out)
    return out, first, second, results


def test_bench_writes_every_contestant_with_positive_medians(bench_runs):
    out, first, _, results = bench_runs
    md = (out / "peers.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| workload "))
    columns = [c.strip() for c in header.strip().strip("|").split("|")]
    assert columns == ["workload", "roofline", *LATENCY_COLUMNS]
    assert "| W1s " in md and "| P4s " in md and "| P4s donated " in md
    rows = {row["workload"]: row for row in results["rows"]}
    assert set(rows) == {"W1s", "P4s", "P4s donated"} and results["wrong"] == []
    for name in ("W1s", "P4s"):
        row = rows[name]
        assert set(ALWAYS) <= set(row["contestants"]), sorted(row["contestants"])
        assert "relaxed kernel" not in row["contestants"]  # f32 workloads: no relaxed column
        assert row["roofline_s"] > 0 and row["bytes"] > 0 and row["foreign_cores"] >= 0
        assert row["bytes_read"] + row["bytes_written"] == row["bytes"]
        assert row["roofline_s"] == pytest.approx(max(  # the model the report states
            row["bytes_read"] / row["read_bytes_per_s"],
            row["bytes_written"] / row["write_bytes_per_s"]))
        assert row["level"] == "L2"  # the s forms' data lives in L2
        for label, entry in row["contestants"].items():
            assert len(entry["samples_s"]) == 2, label
            assert all(s > 0 for s in entry["samples_s"]), label
            assert entry["median_s"] > 0 and entry["exact"], label
    assert set(rows["P4s donated"]["contestants"]) == {"default kernel", "default call"}
    assert results["threads"] >= 1 and all(b[kind]["bytes_per_s"] > 0
                                            for b in results["bandwidth"].values()
                                            for kind in ("read", "write", "copy"))
    assert f"Roofline = {MODEL}" in md and "## Roofline" in md
    assert "faster than its roofline" in md or "Above 100 % of the roofline" in md
    for name in ("W1s", "P4s"):  # progress per workload and contestant on stderr
        assert f"{name}: MetaSchedule generic ..." in first
        assert f"{name}: timing" in first


def test_bench_draws_a_png(bench_runs):
    out = bench_runs[0]
    assert (out / "peers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_second_run_reuses_records_and_metaschedule_database(bench_runs):
    out, first, second, _ = bench_runs
    assert "reusing the MetaSchedule database" not in first
    for name in ("W1s", "P4s"):
        cache = out / "metaschedule" / target_key(host_target()) / name
        assert (cache / "group0" / "bench_trials.json").exists()
        assert f"reusing the MetaSchedule database in {cache}" in second
        line = next(x for x in second.splitlines() if f"{name}: tuned records:" in x)
        assert "reused" in line and str(out / "records") in line, line
    assert "tuning 4 trials" not in second and "MetaSchedule generic search" not in second


def test_numerics_tell_skipped_f16_rounding_from_exact():
    arrays = workloads.inputs("W2s")
    expected = workloads.reference("W2s", arrays)
    assert classify("W2s", expected.copy(), expected, "self").exact
    # a + b in f32, never rounded to f16: within the loose tolerance, not exact
    unrounded = (arrays["a"].astype(np.float32) + arrays["b"].astype(np.float32)).max(-1)
    other = classify("W2s", unrounded, expected, "unrounded")
    assert not other.exact and 0 < other.max_error < 5e-2
    with pytest.raises(NumericsError, match="wrong on W2s|outside rtol"):
        classify("W2s", expected + 1, expected, "wrong")
    with pytest.raises(NumericsError, match="output shape"):
        classify("W2s", expected[:-1], expected, "short")


def test_workload_names_sizes_and_errors():
    assert workload_names(["W1", "P4"], "all") == ["W1s", "P4s", "W1", "P4", "W1l", "P4l"]
    assert workload_names([], "s")[:2] == ["W1s", "W2s"] and len(workload_names([], "s")) == 10
    assert workload_names(["W3l"], "base") == ["W3l"]
    with pytest.raises(ValueError, match="unknown workloads W9"):
        workload_names(["W9"], "base")


@pytest.mark.parametrize("name", [*workloads.BASE, *workloads.PATTERNS])
def test_bytes_read_and_written_add_up_to_the_fused_traffic(name):
    graph = workloads.graph(name + "s")
    moved, _ = traffic(graph)
    groups = analyze(graph, cores=num_cores()).groups
    assert moved.read + moved.written == moved.total == sum(g.ddr_fused for g in groups)
    outputs = sum(t.nbytes for t in graph.outputs)
    assert moved.written >= outputs and moved.read >= sum(t.nbytes for t in graph.inputs)


def test_donated_traffic_reads_k_and_positions_and_writes_the_rows():
    arrays = workloads.inputs("P4s")
    moved = donated_traffic(arrays)
    assert moved.read == arrays["k"].nbytes + arrays["positions"].nbytes
    assert moved.written == arrays["k"].nbytes


def test_roofline_overlaps_reads_and_writes():
    assert roofline_seconds(Traffic(10, 0), 5.0, 1.0) == 2.0  # a pure read: R / Br
    assert roofline_seconds(Traffic(0, 10), 1.0, 5.0) == 2.0  # a pure write: W / Bw
    assert roofline_seconds(Traffic(10, 10), 5.0, 2.0) == 5.0  # the slower side bounds
    assert "max(bytes read / read bandwidth, bytes written / write bandwidth)" in MODEL

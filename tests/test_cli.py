"""The command line: demo, analyze and explore print what they promise; bad usage exits 2."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tvm_fusion import cli, schedules

RATIO = re.compile(r"(\d+\.\d\dx|same) \[(\d+\.\d\d)-(\d+\.\d\d)\]")  # "1.23x [1.18-1.27]"


def test_demo_prints_analysis_then_a_checked_table(capsys):
    assert cli.main(["demo", "W5s", "W1s", "--repeat", "3", "--no-logs"]) == 0
    out = capsys.readouterr().out
    assert out.index("split analysis of 'W5s'") < out.index("unfused/fused")
    assert "W1s" in out and "W5s" in out and "numpy/fused" in out
    assert "FAIL" not in out and out.count(" ok ") == 2
    for line in out.splitlines():
        if line.startswith(("W1s ", "W5s ")):  # no record: fused is not compared with itself
            assert "= fused" in line and "no record" in line
            assert len(RATIO.findall(line)) == 2  # unfused/fused and numpy/fused, with spread
    assert "no record applied: untuned = fused" in out and "interleaved rounds" in out
    for ratio, low, high in RATIO.findall(out):
        assert float(low) <= float(high)
        assert ratio == "same" or float(low) <= float(ratio[:-1]) <= float(high)
        if ratio == "same":
            assert float(low) <= 1.0 <= float(high) or 0.98 <= float(low) <= 1.02


def test_demo_timed_beside_busy_processes_says_its_times_mean_nothing(capsys):
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        assert cli.main(["demo", "W1s", "--repeat", "3", "--no-logs"]) == 0
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    out = capsys.readouterr().out
    assert "NOT MEANINGFUL: other processes kept cores busy while W1s (" in out
    assert "run the demo on an idle machine" in out


def test_compile_without_records_says_so_instead_of_a_ratio(capsys):
    assert cli.main(["compile", "W4s", "--no-logs", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "check against numpy: ok" in out
    assert "no record applied: untuned = fused" in out
    assert not re.search(r"\d\.\d\dx", out)  # the default schedule is not its own speedup


def test_analyze_w5_for_8_cores(capsys):
    assert cli.main(["analyze", "W5", "--cores", "8", "--on-chip-bytes", "2097152"]) == 0
    out = capsys.readouterr().out
    assert "for 8 cores" in out and "chosen split: x.3" in out and "fits in 2.00 MiB" in out


def test_explore_prints_before_after_trace_and_timing(capsys):
    assert cli.main(["explore", "W3s", "--decision", "vector=4", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    for needle in ("--- before scheduling", "--- after scheduling", "--- trace",
                   "sample_perfect_tile", "vector=4", "check against numpy: ok", "latency:"):
        assert needle in out


def test_explore_with_a_user_template_file(tmp_path, capsys):
    path = tmp_path / "my_template.py"
    path.write_text(
        "NAME = 'mine'\n"
        "def apply(sch, ctx):\n"
        "    from tvm_fusion.schedules.base import inline_injective\n"
        "    inline_injective(sch)\n")
    assert cli.main(["explore", "W3s", "--template", str(path), "--show", "after",
                     "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "[template: mine]" in out and "check against numpy: ok" in out
    assert 'T.sblock("transpose_0")' not in out  # the user's inlining happened


TVM_FUSION = Path(sys.executable).with_name("tvm-fusion")  # the installed command


@pytest.mark.parametrize("imports", ["absolute", "relative"])
def test_a_copied_template_runs_as_documented(tmp_path, imports):
    # docs/architecture.md: copy schedules/injective.py, then explore W3 --template your copy
    source = Path(schedules.injective.__file__).read_text()
    assert "from tvm_fusion.schedules.base import" in source
    source = source.replace('NAME = "injective"', 'NAME = "my-transpose"')
    if imports == "relative":  # a copy of an older template still works
        source = source.replace("from tvm_fusion.schedules.base import", "from .base import")
    path = tmp_path / "my_template.py"
    path.write_text(source)
    result = subprocess.run([str(TVM_FUSION), "explore", "W3s", "--template", str(path),
                             "--show", "", "--repeat", "2"],
                            check=False, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[template: my-transpose]" in result.stdout
    assert "check against numpy: ok" in result.stdout


def test_a_forced_template_that_does_not_match_exits_2_with_the_reason(capsys):
    assert cli.main(["explore", "W1s", "--template", "injective", "--show", ""]) == 2
    err = capsys.readouterr().err
    assert "template 'injective' does not apply to group reduce_sum+transpose" in err
    assert "1 reduction (reduce_sum 'reduce_sum_0')" in err
    assert "the template that matches this group is 'reduction-rooted'" in err.lower()
    assert "Traceback" not in err


def test_bad_knob_and_bad_template_exit_2(capsys):
    assert cli.main(["explore", "W3s", "--decision", "vector=3", "--show", ""]) == 2
    assert "knob 'vector' = 3 is impossible" in capsys.readouterr().err
    assert cli.main(["explore", "W3s", "--template", "nope"]) == 2
    assert "known: scatter-terminated" in capsys.readouterr().err
    assert cli.main(["explore", "W3s", "--decision", "vector"]) == 2


def test_unknown_workload_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "demo", "W9"],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown workload 'W9'" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "--help"],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 0
    assert all(c in result.stdout for c in ("demo", "analyze", "explore"))

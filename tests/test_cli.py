"""The command line: demo prints the table and checks; bad usage exits with 2."""

import subprocess
import sys

from tvm_fusion import cli


def test_demo_prints_a_checked_table(capsys):
    assert cli.main(["demo", "W1s", "W5s", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "W1s" in out and "W5s" in out and "numpy / ours" in out
    assert "FAIL" not in out and out.count(" ok ") == 2


def test_unknown_workload_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "demo", "W9"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown workload 'W9'" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_demo():
    result = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout

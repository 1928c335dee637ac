"""Manifest problems are refused before any work, each naming the job and the field (exit 2);
jobs that cannot be built are shown by --dry-run (exit 1) and fail alone when run."""

import shutil
from pathlib import Path

import pytest

from tvm_fusion import cli
from tvm_fusion.batch import ManifestError, load_manifest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "batch.toml"


def _manifest(tmp_path, text: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ('output_dir = "o"\nlog_dirr = "l"\n[[jobs]]\nname = "a"\nworkload = "W1s"\n',
     "the manifest: unknown key 'log_dirr' (did you mean 'log_dir'?)"),
    ('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W1s"\ntrials = "8"\n',
     "jobs[0] (name 'a'): field 'trials': expected int, got '8' (str)"),
    ('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W1s"\ntrails = 8\n',
     "jobs[0] (name 'a'): unknown key 'trails' (did you mean 'trials'?)"),
    ('output_dir = "o"\n[[jobs]]\nname = "m"\nonnx = "missing.onnx"\n',
     "jobs[0] (name 'm'): field 'onnx': no such file"),
    (('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W1s"\n[[jobs]]\nname = "a"\n'
      'workload = "W2s"\n'), "jobs[1] (name 'a'): duplicate job name"),
    ('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W9"\n',
     "jobs[0] (name 'a'): field 'workload': unknown workload 'W9'"),
    ('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W1s"\nonnx = "x.onnx"\n',
     "give exactly one of 'workload'"),
    ('output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W1s"\nshapes = { x = [8, 0] }\n',
     "field 'shapes': input 'x' expected an array of positive integers"),
    (('output_dir = "o"\n[runner]\nkind = "rpc"\ntracker = "localhost"\n[[jobs]]\nname = "a"\n'
      'workload = "W1s"\n'), "[runner]: field 'tracker': expected \"HOST:PORT\""),
    ('[[jobs]]\nname = "a"\nworkload = "W1s"\n', "missing key 'output_dir'"),
    ('output_dir = "o"\n', "the manifest has no [[jobs]]"),
    ('output_dir = "o"\n[[jobs]]\nname = ["a"]\nworkload = "W1s"\n',
     "jobs[0]: field 'name': expected str"),
    ('output_dir = "o"\n[[jobs]\n', "not valid TOML"),
])
def test_manifest_errors_name_the_job_and_field_and_exit_2(tmp_path, capsys, text, message):
    path = _manifest(tmp_path, text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert message in str(caught.value)
    assert cli.main(["batch", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_every_problem_is_listed_at_once(tmp_path):
    path = _manifest(tmp_path, 'output_dir = "o"\n[[jobs]]\nname = "a"\nworkload = "W9"\n'
                               'trials = 0\n[[jobs]]\nname = "a b"\nonnx = "none.onnx"\n')
    with pytest.raises(ManifestError, match="4 problem"):
        load_manifest(path)


def test_dry_run_prints_the_plan_and_the_jobs_that_cannot_be_built(tmp_path, capsys):
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE.parent, folder, ignore=shutil.ignore_patterns("batch_*"))
    assert cli.main(["batch", str(folder / "batch.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "w1s: W1s, 8 trials per group" in out
    assert "group reduce_sum+transpose: template reduction-rooted" in out
    assert "w5s-onnx: " in out and "dry run: nothing tuned" in out
    assert not (folder / "batch_output").exists()
    path = _manifest(tmp_path, 'output_dir = "o"\n[[jobs]]\nname = "d"\nworkload = "W5s"\n'
                               'shapes = { x = [16, 16, 16, 64] }\n')  # slots not resized
    assert cli.main(["batch", str(path), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "d: W5s: cannot be built, will fail: GraphError: scatter_nd" in out

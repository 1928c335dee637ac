"""Untrusted files: a manifest cannot make a batch write outside its output folder, and a
loaded module is opened only from the path the user named, through a folder of their own."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.batch.manifest import ManifestError, load_manifest
from tvm_fusion.runtime.manifest import ModuleFileError


def _manifest(tmp_path, jobs: str):
    path = tmp_path / "jobs.toml"
    path.write_text(f'output_dir = "out"\n{jobs}')
    return path


@pytest.mark.parametrize("name", ["../escape", "/etc/x", "a/b", "..", ".hidden", "report",
                                  "summary.json", "a\\b"])
def test_job_names_cannot_leave_the_output_folder(tmp_path, name):
    path = _manifest(tmp_path, f'[[jobs]]\nname = "{name}"\nworkload = "W1s"\n'.replace(
        "\\", "\\\\"))
    with pytest.raises(ManifestError, match=r"jobs\[0\] .*field 'name'"):
        load_manifest(path)


def test_symbolic_links_in_the_output_folder_are_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "w1s").symlink_to(elsewhere)
    (out / "w2s").mkdir()
    (out / "w2s" / "state.json").symlink_to(elsewhere / "victim.json")
    (out / "summary.json").symlink_to(elsewhere / "summary.json")
    path = _manifest(tmp_path, '[[jobs]]\nname = "w1s"\nworkload = "W1s"\n'
                               '[[jobs]]\nname = "w2s"\nworkload = "W2s"\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    message = str(err.value)
    assert "3 problem(s)" in message
    for link in (out / "w1s", out / "w2s" / "state.json", out / "summary.json"):
        assert f"output_dir: {link} is a symbolic link" in message
    assert not any(elsewhere.iterdir())  # nothing was written through the links


def test_a_clean_output_folder_is_accepted(tmp_path):
    path = _manifest(tmp_path, '[[jobs]]\nname = "w1s.v2_a-b"\nworkload = "W1s"\n')
    assert load_manifest(path).jobs[0].name == "w1s.v2_a-b"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    g = tf.Graph("tiny")
    x = g.input("x", (7, 13), "float32")
    g.output(g.exp(x))
    return tf.export(tf.compile(g), tmp_path_factory.mktemp("module") / "tiny").library


def test_load_refuses_a_library_folder_someone_else_can_write(exported, tmp_path, monkeypatch):
    """``load`` copies the verified library into TMPDIR/tvm-fusion-modules-UID and dlopens it
    from there: a folder of that name that others can write (or a link) is refused."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"tvm-fusion-modules-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ModuleFileError, match="is writable by others .mode 777."):
        tf.load(exported)
    folder.rmdir()
    target = tmp_path / "shared"
    target.mkdir(mode=0o700)
    folder.symlink_to(target)
    with pytest.raises(ModuleFileError, match="is not a folder .a symbolic link"):
        tf.load(exported)
    folder.unlink()
    module = tf.load(exported)  # a private folder made by load itself
    x = np.linspace(-2, 2, 91, dtype=np.float32).reshape(7, 13)
    np.testing.assert_allclose(module(x=x)[0], np.exp(x), rtol=1e-6)
    assert (folder.stat().st_mode & 0o777) == 0o700

"""`schedules/` is importable as `tvm_fusion.schedules` from editable and wheel installs."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import tvm_fusion.schedules

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_maps_schedules_to_the_repository_folder():
    # the suite runs against the editable install the README sets up
    assert Path(tvm_fusion.schedules.__file__).resolve().parent == ROOT / "schedules"


def test_wheel_install_contains_and_imports_schedules(tmp_path):
    source = tmp_path / "src"  # build from a copy: setuptools leaves build/ in the source tree
    for part in ("tvm_fusion", "schedules"):
        shutil.copytree(ROOT / part, source / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True)
    (wheel,) = (tmp_path / "dist").glob("tvm_fusion-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of the source tree is in the wheel (a package missing from pyproject's
    # list would only fail on a wheel install)
    sources = {f"tvm_fusion/{p.relative_to(ROOT / 'tvm_fusion').as_posix()}"
               for p in (ROOT / "tvm_fusion").rglob("*.py")}
    sources |= {f"tvm_fusion/schedules/{p.name}" for p in (ROOT / "schedules").glob("*.py")}
    assert sources <= names, sorted(sources - names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    code = (
        "import numpy as np, tvm_fusion as tf, tvm_fusion.schedules.simple as s;"
        "print(tf.__file__); print(s.__file__);"
        "g = tf.Graph(); x = g.input('x', (5, 7), 'float32'); g.output(g.relu(x));"
        "a = np.arange(-17, 18, dtype='float32').reshape(5, 7);"
        "assert (tf.compile(g)(a)[0] == np.maximum(a, 0)).all()"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    package_file, schedule_file = result.stdout.split()
    assert Path(package_file).is_relative_to(target)
    assert Path(schedule_file).is_relative_to(target)


def test_every_public_name_resolves_to_what_it_names():
    """``import tvm_fusion`` loads its names on first use; importing a submodule must not bind
    over a function of the same name (``tf.fuse`` once became the module ``tvm_fusion.fuse``)."""
    import tvm_fusion as tf
    import tvm_fusion.compiler  # imports fusion, graph, ... as submodules

    assert callable(tf.fuse) and tf.fuse.__module__ == "tvm_fusion.fusion"
    for name in tf.__all__:
        assert getattr(tf, name) is not None, name
    assert callable(tf.compile) and callable(tf.export) and callable(tf.load)

"""TVM's thread pool gets every core: its own default halves the logical CPUs on x86."""

import os
import subprocess
import sys

from tvm_fusion.settings import num_cores


def _threads(env: dict) -> int:
    code = ("import tvm_fusion, tvm, tvm_ffi; "
            "print(tvm_ffi.get_global_func('runtime.NumThreads')())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def test_pool_uses_every_core_unless_the_user_says_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}
    assert _threads(env) == num_cores()
    assert _threads({**env, "TVM_NUM_THREADS": "1"}) == 1  # the user's setting wins

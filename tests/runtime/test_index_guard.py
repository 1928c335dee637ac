"""The scatter index check is what stands between a bad index and memory corruption.

In a fresh process, the compiled kernel of a fused scatter group is called directly (its TVM
function, as the executor would call it, minus the executor's checks) with an index past the
end and one below -rows: it writes into guard regions around the output (or the process
dies). The public call with the same arrays raises ``InputError`` naming the index, and the
guards and the output stay untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tvm_fusion as tf
    from tvm_fusion.checks import InputError

    ROWS, COLS, GUARD = 61, 16, 64 * 16  # GUARD floats on each side of the output
    SENTINEL = np.float32(-12345.0)
    g = tf.Graph("guarded")
    data = g.input("data", (ROWS, COLS), "float32")
    bias = g.input("bias", (COLS,), "float32")
    idx = g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, COLS), "float32")
    g.output(g.scatter_nd(g.add(data, bias), idx, upd, name="out"))
    fn = tf.compile(g)
    (kernel,) = fn.kernels
    arrays = {"data": np.zeros((ROWS, COLS), "float32"), "bias": np.zeros(COLS, "float32"),
              "upd": np.full((3, COLS), 7.0, "float32")}

    def guarded():
        memory = np.full(2 * GUARD + ROWS * COLS, SENTINEL, "float32")
        return memory, memory[GUARD:GUARD + ROWS * COLS].reshape(ROWS, COLS)

    def report(kind, bad, memory, out):
        lead, tail = memory[:GUARD], memory[GUARD + ROWS * COLS:]
        print(json.dumps({"kind": kind, "bad": bad,
                          "guard_written": int((lead != SENTINEL).sum()
                                               + (tail != SENTINEL).sum()),
                          "output_written": int((out != SENTINEL).sum())}), flush=True)

    for bad in (ROWS + 5, -ROWS - 9):  # past the end; below -rows (wraps to before the start)
        index = np.array([[0], [bad], [2]], "int64")
        memory, out = guarded()
        try:
            fn(**arrays, idx=index, out=(out,))
            print(json.dumps({"kind": "public", "bad": bad, "refused": None}), flush=True)
        except InputError as err:
            print(json.dumps({"kind": "public", "bad": bad, "refused": str(err)}), flush=True)
        report("after public", bad, memory, out)
    for bad in (ROWS + 5, -ROWS - 9):
        index = np.array([[0], [bad], [2]], "int64")
        memory, out = guarded()
        values = {**arrays, "idx": index, "out": out}
        kernel.function(*(values[name] for name in (*kernel.inputs, *kernel.outputs)))
        report("raw", bad, memory, out)
""")


def test_unchecked_kernel_writes_out_of_bounds_and_the_public_call_refuses():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300, check=False)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    public = [r for r in lines if r["kind"] == "public"]
    expected = ("scatter_nd 'out': index tensor 'idx' holds {} at (1, 0), expected in [-61, 60] "
                "(axis 0 of data 'add_0' has 61 entries): pass indices in that range (negative "
                "ones count from the end, as in ONNX)")
    assert [r["refused"] for r in public] == [expected.format(66), expected.format(-70)], \
        run.stderr
    for r in (r for r in lines if r["kind"] == "after public"):
        assert r["guard_written"] == 0 and r["output_written"] == 0, r  # nothing ran
    raw = [r for r in lines if r["kind"] == "raw"]
    if run.returncode != 0:  # the unchecked kernel killed its process: proof enough
        assert len(raw) < 2, (run.returncode, raw)
        return
    assert [r["bad"] for r in raw] == [66, -70], run.stdout
    for r in raw:  # the bad update's row of 16 floats lands outside the output (66 -> 5 rows
        assert r["guard_written"] == 16, r  # past its end, -70 -> -9 rows before its start)
        assert r["output_written"] == 61 * 16, r  # the copy stage wrote every element

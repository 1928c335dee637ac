"""Every peer against tvm-fusion in one run: the same as ``tvm-fusion bench``.

``python benchmarks/peers.py [W1 ... P5] [--size s|base|l|all] [--out DIR] [--repeat N]
[--tune-trials N] [--ms-trials N]`` runs ``tvm_fusion.cli.main(["bench", ...])``: the logic
lives in the installed package (``tvm_fusion/bench/``), so the command and this script time
the same contestants the same way. Writes ``DIR/peers.md``, ``peers.json`` and ``peers.png``
(default ``benchmarks/results``); see ``benchmarks/README.md``.
"""

from __future__ import annotations

import sys

from tvm_fusion.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

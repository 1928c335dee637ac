"""MetaSchedule's generic search on our fused PrimFuncs (no template), as a peer.

Each fusion group is lowered as ``compile`` lowers it (``tvm_fusion.lower.lower``: every stage
a block of one PrimFunc) and searched by ``ms.tune_tir`` with MetaSchedule's default space
(``post-order-apply`` with the default CPU schedule rules) and evolutionary search, through
our builder and runner (``tuning.measure``: in-range index arguments, no tensor-intrinsic
import per build worker). The best record is compiled (``ms.tir_integration.compile_tir``)
and timed kernel-level: inputs on the device, outputs preallocated.

Cache: ``<work_root>/<workload>/group<i>/`` (``work_root`` is ``OUT/metaschedule/<target key>``:
a search on one CPU is no answer for another) holds MetaSchedule's JSON database and
``bench_trials.json`` (the trial budget of the search that filled it); a later run with the
same or a smaller budget reuses the database instead of searching again when it holds this
kernel (the default space of a small kernel can hold fewer schedules than the budget, so the
record count alone would not say the search is done).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tvm

from ..fusion import fuse, live_nodes
from ..lower import lower
from ..ops.fp16 import native_fp16
from .peers import Peer

BATCH = 8  # trials per search round, as our tuner
BUDGET_FILE = "bench_trials.json"


def generic_database(mod, target, work_dir: Path, trials: int,
                     say: Callable[[str], None]):
    """``(database, what was done)``: MetaSchedule's database for ``mod`` after a generic
    search of ``trials`` trials (searched now, or reused from ``work_dir``)."""
    from tvm.s_tir import meta_schedule as ms

    from ..tuning.measure import make_builder, make_runner
    from ..tuning.space import cost_model, quiet_metaschedule_console

    budget_file = work_dir / BUDGET_FILE
    if budget_file.exists() and json.loads(budget_file.read_text())["trials"] >= trials:
        database = ms.database.JSONDatabase(work_dir=str(work_dir))
        if database.has_workload(mod):  # else the kernel changed since: search it anew
            records = len(database.get_all_tuning_records())
            say(f"  reusing the MetaSchedule database in {work_dir} ({records} records)")
            return database, f"reused {records} records in {work_dir}"
    say(f"  MetaSchedule generic search, {trials} trials, in {work_dir}")
    quiet_metaschedule_console()
    database = ms.tune_tir(mod, target, str(work_dir), max_trials_global=trials,
                           num_trials_per_iter=min(BATCH, trials), builder=make_builder(),
                           runner=make_runner(), cost_model=cost_model(warmup=BATCH), seed=0)
    records = len(database.get_all_tuning_records())
    budget_file.write_text(json.dumps({"trials": trials, "records": records}) + "\n")
    return database, f"searched now: {records} records in {work_dir}"


def metaschedule_peer(name: str, graph, arrays: dict[str, np.ndarray], target,
                      work_root: Path, trials: int, notes: list[str],
                      say: Callable[[str], None]) -> Peer:
    """The ``metaschedule`` peer of workload ``name``: every group's best generic schedule,
    run in order; raises when a group has no record that built and ran."""
    from tvm.s_tir import meta_schedule as ms

    device = tvm.cpu(0)
    buffers = {k: tvm.runtime.tensor(v, device) for k, v in graph.constants.items()}
    buffers |= {k: tvm.runtime.tensor(v, device) for k, v in arrays.items()}
    kernels = []
    for index, group in enumerate(fuse(graph, live_nodes(graph))):
        lowered = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
        database, done = generic_database(lowered.mod, target,
                                          work_root / name / f"group{index}", trials, say)
        notes.append(f"{name}: metaschedule {group.name}: {trials} trials requested, {done}")
        sch = ms.tir_integration.compile_tir(database, lowered.mod, target)
        if sch is None:
            raise RuntimeError(f"group {group.name}: the generic search logged no schedule "
                               f"that built and ran (see {work_root / name} logs)")
        function = tvm.compile(sch.mod, target=target)["main"]
        for output in group.outputs:
            buffers[output.name] = tvm.runtime.empty(output.shape, output.dtype, device)
        kernels.append((function, [buffers[n] for n in (*lowered.inputs, *lowered.outputs)]))

    def run():
        for function, args in kernels:
            function(*args)

    def output():
        run()
        return buffers[graph.outputs[0].name].numpy()
    return Peer("metaschedule", "kernel", run, output,
                "inputs on the device, output preallocated")

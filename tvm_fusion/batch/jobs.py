"""One batch job: tune, compile with the best records, check, export, verify the export.

Phases, each recorded in the job's state file before the next starts: ``tuning`` (records are
committed by MetaSchedule round by round, 8 trials each; a rerun continues the trial count and
the time budget where they stopped), ``exported`` (the three files, written atomically), then
``done`` once a fresh process has loaded the export and reproduced the in-process outputs.
Every phase is idempotent, so a rerun after a SIGKILL at any moment simply does the
unfinished phase again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .manifest import Job, Manifest
from .state import read_json, write_json

VERIFY = textwrap.dedent("""
    import sys
    import numpy as np
    import tvm_fusion as tf
    module = tf.load(sys.argv[1])
    with np.load(sys.argv[2]) as f:
        inputs = {k: f[k] for k in f.files}
    with np.load(sys.argv[3]) as f:
        expected = [f[f"arr_{i}"] for i in range(len(f.files))]
    outputs = module(**inputs)
    bad = [i for i, (o, e) in enumerate(zip(outputs, expected))
           if not np.array_equal(o, e, equal_nan=o.dtype.kind in "fc")]
    print("ok" if not bad and len(outputs) == len(expected) else f"outputs {bad} differ")
""")


@dataclass
class Prepared:
    """A job's graph with its inputs and the oracle's outputs."""

    graph: object
    inputs: dict
    expected: list
    half: bool  # fp16 arithmetic that the oracle may not round like us


def job_graph(job: Job):
    """The job's graph alone (shape overrides applied): what the plan and the locks need,
    without allocating inputs or running the oracle."""
    if job.workload:
        from .. import workloads

        return workloads.graph(job.workload, job.shapes)
    from ..frontends import from_onnx

    return from_onnx(str(job.onnx), shapes=job.shapes or None)


def prepare(job: Job) -> Prepared:
    """Build the job's graph (shape overrides applied), inputs and expected outputs."""
    if job.workload:
        from .. import workloads

        graph = workloads.graph(job.workload, job.shapes)
        arrays = workloads.inputs(job.workload, shapes=job.shapes)
        return Prepared(graph, arrays, [workloads.reference(job.workload, arrays)], False)
    import onnx
    from onnx.reference import ReferenceEvaluator

    from ..frontends import from_onnx
    from ..guards import index_checks
    from ..runtime.manifest import example_inputs

    model = onnx.load(str(job.onnx))
    graph = from_onnx(model, shapes=job.shapes or None)
    arrays = example_inputs(graph.inputs, index_checks(graph))
    expected = ReferenceEvaluator(model).run(None, arrays)
    half = any(t.dtype == "float16" for t in graph.tensors.values())
    return Prepared(graph, arrays, list(expected), half)


class JobFailed(RuntimeError):
    """A job could not finish; the message is recorded as its reason."""


def run_job(job: Job, manifest: Manifest, folder: Path, target, log_dir: Path, runner,
            say) -> dict:
    """Finish ``job`` from wherever its state says it stopped; its final state."""
    from ..compiler import compile as compile_graph
    from ..reference import compare
    from ..runtime.export import export
    from ..timing import interleaved, ratios
    from ..tuning import tune

    state_path = folder / "state.json"
    state = read_json(state_path)
    if state.get("status") == "done":
        return state
    start = time.time()
    state.update(status="tuning", reason=None, pid=os.getpid())
    state.setdefault("tuning_s", 0.0)
    state.setdefault("wall_s", 0.0)
    write_json(state_path, state)
    prepared = prepare(job)
    tuned_before = state["tuning_s"]
    budget = None if job.time_budget_s is None else max(job.time_budget_s - tuned_before, 0.0)
    tune_start = time.time()

    def progress(group, done, total, best, elapsed, new, stats=None):
        state["tuning_s"] = tuned_before + (time.time() - tune_start)
        state["trials"] = done
        write_json(state_path, state)  # the time budget survives a kill
        rates = "" if stats is None else (f", {stats.builds_per_minute:.0f} builds/min, "
                                          f"{stats.measurements_per_minute:.0f} "
                                          "measurements/min")
        best_text = f"{best * 1e6:.1f} us" if best else "-"
        say(f"  {job.name}: {group[:40]} {done}/{total} trials, best {best_text}{rates}")

    if budget == 0.0:  # spent by earlier runs: compile with the records they left
        say(f"  {job.name}: its time budget of {job.time_budget_s:.0f} s was spent by earlier "
            "runs; compiling with the records they committed")
        results = []
    else:
        results = tune(prepared.graph, target=target, trials=job.trials,
                       time_budget_s=budget, log_dir=log_dir, runner=runner,
                       progress=progress, inputs=prepared.inputs if job.workload else None)
    state["tuning_s"] = tuned_before + (time.time() - tune_start)
    state["trials"] = sum(r.trials for r in results) if results else state.get("trials", 0)
    counted = [r.throughput for r in results if getattr(r, "throughput", None) is not None]
    if counted:  # this run's tuning: what was built and measured, and how fast
        seconds = sum(t.elapsed_s for t in counted)
        totals = {k: sum(getattr(t, k) for t in counted) for k in
                  ("builds", "build_errors", "measurements", "measure_errors", "reruns")}
        state["throughput"] = {**totals, "tuning_s": seconds,
                               "builds_per_minute": 60 * totals["builds"] / max(seconds, 1e-9),
                               "measurements_per_minute":
                                   60 * totals["measurements"] / max(seconds, 1e-9)}
    failed_groups = [r.group for r in results if r.best_seconds is None and r.template
                     != "fallback"]
    if failed_groups:
        raise JobFailed(f"no measured record for group(s) {', '.join(failed_groups)}")
    fn = compile_graph(prepared.graph, target=target, tuning_logs=str(log_dir))
    ok, error = compare(fn(**prepared.inputs), prepared.expected, half=prepared.half)
    if not ok:
        raise JobFailed(f"the tuned result differs from the oracle (max |error| {error:.2e})")
    default = compile_graph(prepared.graph, target=target)
    tuned_t, default_t = interleaved([lambda f=f: f.benchmark(**prepared.inputs, repeat=3)
                                      for f in (fn, default)], 7)
    comparison = ratios(tuned_t, default_t)  # default / tuned: below 1, the records lose
    chosen, applied = fn, "tuned records" if fn.schedules != default.schedules else "default"
    if comparison.significant and comparison.ratio < 1 and _target_is_here(target):
        # an RPC farm's runner ranked the records, nothing here checked them against the
        # default: never ship what runs slower than the default on this very CPU
        chosen = default
        applied = (f"default schedule: the tuned records ran {ratios(default_t, tuned_t)} "
                   "slower here (measured on the farm, checked in this process)")
        say(f"  {job.name}: {applied}")
    files = export(chosen, folder / job.name, inputs=prepared.inputs)
    state.update(status="exported", export=str(files.library), notices=list(chosen.notices),
                 applied=applied)
    write_json(state_path, state)
    verdict = _verify_in_subprocess(chosen, prepared.inputs, files.library, folder)
    if verdict != "ok":
        raise JobFailed(f"the exported module, loaded in a fresh process: {verdict}")
    best = default_t if chosen is default else tuned_t
    state.update(status="done", default_s=default_t.median, best_s=best.median,
                 schedules=list(chosen.schedules),
                 wall_s=state["wall_s"] + (time.time() - start))
    write_json(state_path, state)
    return state


def _target_is_here(target) -> bool:
    """Whether this machine runs ``target``'s code as the devices do (same LLVM CPU)."""
    import tvm

    return str(target.attrs.get("mcpu", "")) == tvm.target.codegen.llvm_get_system_cpu()


def _verify_in_subprocess(fn, inputs: dict, library: Path, folder: Path) -> str:
    outputs = fn(**inputs)
    np.savez(folder / "verify_inputs.npz", **inputs)
    np.savez(folder / "verify_expected.npz", *outputs)
    run = subprocess.run([sys.executable, "-c", VERIFY, str(library),
                          str(folder / "verify_inputs.npz"), str(folder / "verify_expected.npz")],
                         capture_output=True, text=True, timeout=600, check=False)
    for name in ("verify_inputs.npz", "verify_expected.npz"):
        (folder / name).unlink(missing_ok=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return f"exit code {run.returncode}: {last}"
    return run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "no output"

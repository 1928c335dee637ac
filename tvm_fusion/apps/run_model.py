"""``tvm-fusion run model.onnx``: import, compile, run, time and optionally check a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..graph import Graph
from ..reference import compare
from ..runtime.manifest import example_inputs

SEED = 0


@dataclass(frozen=True)
class RunResult:
    output_names: tuple[str, ...]
    outputs: tuple[np.ndarray, ...]
    seconds: float
    kernels: int
    schedules: tuple[str, ...]
    checks: tuple[tuple[str, bool, float], ...]  # (oracle, ok, max |error|)
    notices: tuple[str, ...] = ()  # with tuning_logs: which record each kernel got
    compiled: object = None  # the CompiledGraph (for tvm-fusion compile model.onnx -o OUT)
    inputs: dict | None = None  # the arrays it ran on


def random_inputs(graph: Graph, seed: int = SEED) -> dict[str, np.ndarray]:
    """Inputs of the right shapes and dtypes (fixed seed); integers are 0 (always a valid
    index), booleans a fair coin, floats standard normal. A graph whose call cannot fit in
    this machine's memory is refused first (``GraphError``), before anything is allocated."""
    from ..fusion import live_nodes
    from ..guards import check_memory
    from ..settings import machine_memory

    check_memory(graph, live_nodes(graph), machine_memory())
    return example_inputs(graph.inputs, (), seed)


def load_inputs(path: str | Path, graph: Graph) -> dict[str, np.ndarray]:
    """Arrays from an ``.npz`` keyed by ONNX input name; every graph input must be there."""
    from .exported import read_npz_inputs

    return read_npz_inputs(str(path), graph.inputs)


def run_model(path: str, *, inputs: str | None = None, repeat: int = 15,
              check: bool = False, tuning_logs: str | None = None,
              cpu: str | None = None, shapes: dict | None = None) -> RunResult:
    from ..compiler import compile as compile_graph
    from ..frontends import from_onnx
    from ..frontends.onnx_files import load_model

    model = load_model(path)
    graph = from_onnx(model, shapes=shapes)
    arrays = load_inputs(inputs, graph) if inputs else random_inputs(graph)
    fn = compile_graph(graph, tuning_logs=tuning_logs, cpu=cpu)
    outputs = fn(**arrays)
    seconds = fn.benchmark(**arrays, repeat=repeat)
    names = tuple(o.name for o in model.graph.output)
    checks = oracle_checks(model, graph, outputs, arrays) if check else ()
    return RunResult(names, outputs, seconds, fn.num_kernels, fn.schedules, tuple(checks),
                     fn.notices, fn, arrays)


def oracle_checks(model, graph: Graph, outputs, arrays: dict) -> list[tuple[str, bool, float]]:
    """``outputs`` against onnx.reference and (when installed) onnxruntime on ``arrays``."""
    from onnx.reference import ReferenceEvaluator

    checks = [("onnx.reference", *compare(outputs, ReferenceEvaluator(model).run(None, arrays)))]
    try:
        import onnxruntime as ort
    except ImportError:
        return checks
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    # onnxruntime computes fp16 arithmetic in fp32 (no fp16 rounding): fp16 tolerances
    half = any(t.dtype == "float16" for t in graph.tensors.values())
    checks.append(("onnxruntime", *compare(outputs, session.run(None, arrays), half=half)))
    return checks

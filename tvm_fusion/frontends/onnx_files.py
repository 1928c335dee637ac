"""Reading an ONNX model a user names, and checking its graph's structure, with clear errors.

``load_model`` turns a path, bytes or a ``ModelProto`` into a ``ModelProto``; a file that is
missing, a folder, empty, truncated or not ONNX at all is refused with one
:class:`OnnxImportError` saying which and what to do (protobuf's own ``DecodeError`` says only
"Wire format was corrupt"). ``check_structure`` finds what ``onnx.checker`` reports in one
terse sentence (a value read but never produced, a cycle, a name defined twice) and says it
with the names of the nodes involved.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

_DEFAULT_DOMAINS = ("", "ai.onnx")
_HINT = "re-export it (torch.onnx.export, onnx.save) or download it again"


class OnnxImportError(ValueError):
    """The model uses something tvm-fusion cannot import; lists every problem at once.

    Attributes: ``unsupported`` ``[(op_type, node name)]``, ``dynamic``
    ``[(input name, axis, symbolic name)]`` and ``problems`` (every other problem, one
    sentence each).
    """

    def __init__(self, message: str, unsupported=(), dynamic=(), problems=()) -> None:
        super().__init__(message)
        self.unsupported = list(unsupported)
        self.dynamic = list(dynamic)
        self.problems = list(problems)


def load_model(model) -> onnx.ModelProto:
    """A private copy of ``model`` (a ``ModelProto``, a path or serialized bytes)."""
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)  # shapes= edits the inputs: never touch the caller's model
        return copy
    if isinstance(model, (str, os.PathLike)):
        return _load_file(Path(model))
    if isinstance(model, (bytes, bytearray)):
        return _parse(bytes(model), "the bytes given")
    raise TypeError(f"from_onnx: expected an onnx.ModelProto, a path or bytes, "
                    f"got {type(model).__name__}")


def _load_file(path: Path) -> onnx.ModelProto:
    where = f"'{path}'"
    if not path.exists():
        raise OnnxImportError(f"{where}: no such file (check the path)")
    if path.is_dir():
        raise OnnxImportError(f"{where} is a folder, not an ONNX file: name the .onnx file "
                              "inside it")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise OnnxImportError(f"{where}: cannot read it: {err.strerror}") from None
    model = _parse(data, where)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        try:
            onnx.load_external_data_for_model(model, str(path.parent))
        except (OSError, ValueError) as err:
            raise OnnxImportError(f"{where}: its weights are stored in external data files "
                                  f"that cannot be read: {err}; keep them beside the model "
                                  "(as onnx.save wrote them)") from None
    return model


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    if not data:
        raise OnnxImportError(f"{where} is empty (0 bytes), not an ONNX model: {_HINT}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except DecodeError:
        raise OnnxImportError(f"{where} is not an ONNX model: protobuf cannot parse its "
                              f"{len(data)} bytes{_looks_like(data)}; {_HINT}") from None
    if not model.ir_version or not model.HasField("graph"):
        missing = " and ".join(n for n, ok in (("an ir_version", model.ir_version),
                                                ("a graph", model.HasField("graph"))) if not ok)
        raise OnnxImportError(f"{where} is not an ONNX model: it parses as protobuf but has no "
                              f"{missing} ({len(data)} bytes{_looks_like(data)}); {_HINT}")
    return model


def _looks_like(data: bytes) -> str:
    """What the bytes look like, when that helps: text, or a truncated file."""
    head = data[:64]
    try:
        text = head.decode()
    except UnicodeDecodeError:
        return " (a truncated or corrupted file?)"
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        return f" (it looks like text: {first!r})"
    return " (a truncated or corrupted file?)"


def check_structure(model: onnx.ModelProto) -> None:
    """Names defined twice, values nobody produces, cycles: one error naming the nodes."""
    graph = model.graph
    problems = _duplicates(graph)
    defined = {v.name for v in (*graph.input, *graph.initializer)}
    defined |= {s.values.name for s in graph.sparse_initializer}
    producers = {out: node for node in graph.node for out in node.output if out}
    available = defined | set(producers)
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in available:
                problems.append(f"node {_node_name(index, node)} ({node.op_type}) reads "
                                f"'{name}', which no node, graph input or initializer "
                                "provides (a missing initializer? a cut model?)")
    for output in graph.output:
        if output.name not in available:
            problems.append(f"graph output '{output.name}' is produced by no node")
    cycle = _find_cycle(graph, producers, defined)
    if cycle:
        problems.append("the graph has a cycle: " + " -> ".join(f"'{v}'" for v in cycle)
                        + " (each value is computed from the next; ONNX graphs are acyclic)")
    if problems:
        lines = [(f"the model's graph '{graph.name}' is malformed ({len(problems)} problem"
                 f"{'s' * (len(problems) != 1)}):"), *(f"  - {p}" for p in problems),
                 f"how to fix: repair the exporter's output or {_HINT}"]
        raise OnnxImportError("\n".join(lines), problems=problems)


def _duplicates(graph) -> list[str]:
    problems, seen = [], {}
    sources = [(v.name, f"graph input #{i}") for i, v in enumerate(graph.input)]
    initializers = {t.name for t in graph.initializer}
    inputs = {v.name for v in graph.input}
    sources += [(t.name, "initializer") for t in graph.initializer]
    for index, node in enumerate(graph.node):
        sources += [(out, f"output of node {_node_name(index, node)} ({node.op_type})")
                    for out in node.output if out]
    for position, (name, what) in enumerate(sources):
        first = seen.setdefault(name, position)
        if first == position:
            continue
        earlier = sources[first][1]
        kinds = {earlier.partition(" #")[0], what}
        if kinds == {"graph input", "initializer"} and name in inputs & initializers:
            continue  # an input with a default value: allowed by ONNX
        problems.append(f"'{name}' is defined twice: as {earlier} and as {what} (ONNX names "
                        "each value once)")
    return problems


def _find_cycle(graph, producers: dict, defined: set) -> list[str]:
    """A list of values forming a cycle through the producers, or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start, node in producers.items():
        if start in state:
            continue
        path, stack = [], [(start, iter(_inputs(node, defined, producers)))]
        state[start] = 1
        path.append(start)
        while stack:
            value, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[value] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child):], child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(_inputs(producers[child], defined, producers))))
    return []


def _inputs(node, defined: set, producers: dict) -> list[str]:
    return [v for v in node.input if v and v not in defined and v in producers]


def _node_name(index: int, node) -> str:
    return f"'{node.name}'" if node.name else f"#{index} (output '{node.output[0]}')"

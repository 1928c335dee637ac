"""Import ONNX models: ``from_onnx(model_or_path) -> Graph``.

The model is checked (``onnx.checker``), its local functions are inlined and its shapes
inferred (``onnx.shape_inference``); then every node goes through the converter of its op type
(``converters.CONVERTERS``). Initializers, ``Constant`` nodes and inputs that are also
initializers become constants; shapes and axes given as inputs must be constants. Opsets 11 to
the newest the installed ``onnx`` knows are accepted.

Everything the importer cannot take (op types, dynamic input dimensions, dtypes, non-constant
shapes, bad attributes) is collected over the whole model and raised as ONE
:class:`OnnxImportError` that lists each problem and says how to cut or fix the model.

The graph's inputs are the model's (non-initializer) inputs with the same names, its outputs
are the model's outputs in the same order, named after them where a new op produces them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import onnx
import onnx.inliner
from onnx import helper, numpy_helper

from ..graph import DTYPES as GRAPH_DTYPES
from ..graph import Graph, GraphError, Tensor, format_shape
from .converters import CONVERTERS, DTYPES, STATIC_INPUTS, ConvertError, onnx_type_name
from .folding import fold_constants
from .onnx_files import OnnxImportError, check_structure, load_model

MIN_OPSET = 11
MAX_OPSET = onnx.defs.onnx_opset_version()
SUPPORTED_OPS = tuple(sorted(CONVERTERS))
_DEFAULT_DOMAINS = ("", "ai.onnx")
_SHOWN = 40  # problems listed per section of the error message


def from_onnx(model, *, shapes: dict | None = None, constants: dict | None = None,
              partial: bool = False):
    """Build a :class:`Graph` from an ONNX model (a ``ModelProto``, a path or serialized bytes).

    Parameters
    ----------
    shapes : dict, optional
        Pin input shapes, e.g. ``{"x": (8, 3, 32, 32)}``: replaces dynamic dimensions before
        shape inference.
    constants : dict, optional
        Bind graph inputs to constant arrays, e.g. a Reshape ``shape`` or reduction ``axes``
        given as a model input (:func:`static_inputs` lists the inputs that need it).
    partial : bool
        Take a model with ops tvm-fusion does not support: return its islands, the maximal
        supported subgraphs (``list[Island]``, each with ``.name``, ``.graph`` whose inputs and
        outputs are the boundary tensors, ``.onnx_ops``, ``.onnx_inputs``/``.onnx_outputs``
        for ``onnx.utils.extract_model``), in model order; every unsupported node is cut out.

    Returns
    -------
    Graph, or list of Island with ``partial=True``.

    Raises
    ------
    OnnxImportError
        Listing every unsupported op type, dynamic input dimension and other problem (with
        ``partial=True`` only the problems of the model's inputs: dynamic dimensions, dtypes).
    """
    model = _prepare(load_model(model), shapes or {})
    if partial:
        from .islands import partial_importer

        return partial_importer(_Importer)(model, constants or {}).islands()
    return _Importer(model, constants or {}).run()


def static_inputs(model) -> list[str]:
    """The model's graph inputs that give a shape or axes: bind them with ``constants=``."""
    model = load_model(model)
    initializers = {t.name for t in model.graph.initializer}
    needed = {node.input[pos] for node in model.graph.node if node.domain in _DEFAULT_DOMAINS
              for pos in STATIC_INPUTS.get(node.op_type, ()) if pos < len(node.input)}
    return [i.name for i in model.graph.input if i.name in needed - initializers]


# ----- loading -----------------------------------------------------------------------------
def _prepare(model: onnx.ModelProto, shapes: dict) -> onnx.ModelProto:
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    _pin_shapes(model, shapes)
    check_structure(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:  # its messages span lines: make them one
        raise OnnxImportError(f"the model is not valid ONNX (onnx.checker): "
                              f"{' '.join(str(err).split())}") from None
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except onnx.shape_inference.InferenceError as err:
        raise OnnxImportError(f"ONNX shape inference failed: {' '.join(str(err).split())}; the "
                              "model's shapes or types contradict each other") from None


def _pin_shapes(model: onnx.ModelProto, shapes: dict) -> None:
    inputs = {i.name: i for i in model.graph.input}
    for name, shape in shapes.items():
        if name not in inputs:
            raise OnnxImportError(f"shapes: '{name}' is not an input of the model; its inputs "
                                  f"are: {', '.join(inputs)}")
        dims = inputs[name].type.tensor_type.shape.dim
        shape = [int(d) for d in shape]
        if len(dims) and len(dims) != len(shape):
            raise OnnxImportError(f"shapes: input '{name}' has rank {len(dims)}, "
                                  f"got shape {format_shape(shape)}")
        inputs[name].type.tensor_type.shape.ClearField("dim")
        for d in shape:
            inputs[name].type.tensor_type.shape.dim.add().dim_value = d


def _attribute(attr: onnx.AttributeProto):
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    return value


def _describe(index: int, node: onnx.NodeProto) -> str:
    return f"'{node.name}'" if node.name else f"#{index} (output '{node.output[0]}')"


@dataclass
class _Context:
    """What a converter sees: the graph, the name of its result, fresh names for the rest."""

    g: Graph
    out: str
    importer: _Importer
    outputs: tuple[str, ...] = ()  # the node's ONNX output names ('' for an omitted one)

    def tmp(self, tag: str) -> str:
        return self.importer.fresh(f"{self.out}/{tag}")

    def output_name(self, index: int) -> str:
        """The name for the node's output ``index`` (a converter returning a tuple)."""
        return self.out if index == 0 else self.importer.claim(self.outputs[index])

    @property
    def opset(self) -> int:
        return self.importer.opset


def _same_since(op_type: str, opset: int) -> bool:
    """Whether ``op_type`` at ``opset`` is the definition the importer reads (opset MIN_OPSET)."""
    try:
        return (onnx.defs.get_schema(op_type, opset).since_version
                == onnx.defs.get_schema(op_type, MIN_OPSET).since_version)
    except onnx.defs.SchemaError:  # not an ONNX op (or not yet at that opset)
        return op_type not in CONVERTERS


# ----- the importer ------------------------------------------------------------------------
class _Importer:
    def __init__(self, model: onnx.ModelProto, constants: dict) -> None:
        self.graph, self.bound = model.graph, constants
        self.opset = next((o.version for o in model.opset_import
                           if o.domain in _DEFAULT_DOMAINS), None)
        self.g = Graph(self.graph.name or "onnx")
        self.values: dict[str, Tensor] = {}  # ONNX name -> tensor of self.g
        self.consts: dict[str, np.ndarray] = {}  # ONNX name -> value (a tensor once used)
        self.missing: set[str] = set()  # values not produced because of a problem
        self.unsupported: list[tuple[str, str]] = []
        self.dynamic: list[tuple[str, int | None, str]] = []
        self.problems: list[str] = []
        self.inferred = {v.name: v for v in (*self.graph.input, *self.graph.value_info,
                                             *self.graph.output)}
        self.reserved = {v for n in self.graph.node for v in (*n.input, *n.output)}
        self.reserved |= {v.name for v in (*self.graph.input, *self.graph.initializer)}
        self.producers = {out: (i, n) for i, n in enumerate(self.graph.node) for out in n.output}
        self.rename = self._output_aliases()

    def run(self) -> Graph:
        self._check_opset()
        self._sources()
        for index, node in enumerate(self.graph.node):
            self._node(index, node)
        self._outputs()
        if self.unsupported or self.dynamic or self.problems:
            raise self._error()
        return self.g

    def _check_opset(self) -> None:
        """Opsets MIN_OPSET..MAX_OPSET; an older model only if each of its ops is defined as in
        opset MIN_OPSET (e.g. And since 7, Not since 1), which is what the converters read."""
        if self.opset is not None and MIN_OPSET <= self.opset <= MAX_OPSET:
            return
        changed = sorted({n.op_type for n in self.graph.node if n.domain in _DEFAULT_DOMAINS
                          and not _same_since(n.op_type, self.opset)}) if self.opset else []
        if self.opset is not None and self.opset < MIN_OPSET and not changed:
            return
        why = (f", and {', '.join(changed)} changed after it (opset {self.opset} defines them "
               f"differently)" if changed else "")
        self.problems.append(
            f"the model imports opset {self.opset} of the default domain, expected "
            f"{MIN_OPSET}..{MAX_OPSET}{why}: convert it with "
            f"onnx.version_converter.convert_version(model, {max(MIN_OPSET, 13)})")

    # names: ONNX names are kept; names we invent never take a name the model uses
    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self.g.tensors or name in self.reserved:
            i += 1
            name = f"{base}_{i}"
        return name

    def claim(self, onnx_name: str) -> str:
        name = self.rename.get(onnx_name, onnx_name)
        return name if name not in self.g.tensors else self.fresh(name)

    def _output_aliases(self) -> dict[str, str]:
        """Values that reach a graph output only through Identity take the output's name."""
        target = {o.name: o.name for o in self.graph.output}
        sources = {v.name for v in (*self.graph.input, *self.graph.initializer)}
        for node in reversed(self.graph.node):
            if (node.op_type == "Identity" and node.domain in _DEFAULT_DOMAINS
                    and node.output[0] in target and node.input[0] not in target
                    and node.input[0] not in sources):
                target[node.input[0]] = target[node.output[0]]
        return {value: name for value, name in target.items() if value != name}

    # ----- inputs, initializers, bound constants ---------------------------------------
    def _sources(self) -> None:
        for init in self.graph.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        for sparse in self.graph.sparse_initializer:
            self.problems.append(f"sparse initializer '{sparse.values.name}' is not supported "
                                 "(store it as a dense initializer)")
            self.missing.add(sparse.values.name)
        inputs = {i.name: i for i in self.graph.input}
        for name, value in self.bound.items():
            if name not in inputs:
                self.problems.append(f"constants: '{name}' is not an input of the model; its "
                                     f"inputs are: {', '.join(inputs)}")
                continue
            elem = inputs[name].type.tensor_type.elem_type
            np_dtype = helper.tensor_dtype_to_np_dtype(elem) if elem else None
            self.consts[name] = np.asarray(value, dtype=np_dtype)
        for vi in self.graph.input:
            if vi.name not in self.consts:
                self._input(vi)

    def _input(self, vi: onnx.ValueInfoProto) -> None:
        problems, dynamic = len(self.problems), len(self.dynamic)
        kind, tensor_type = vi.type.WhichOneof("value"), vi.type.tensor_type
        if kind != "tensor_type":
            self.problems.append(f"input '{vi.name}' is a {kind}; only tensors are supported")
        elif tensor_type.elem_type not in DTYPES:
            self.problems.append(
                f"input '{vi.name}' has ONNX type {onnx_type_name(tensor_type.elem_type)}, which "
                f"tvm-fusion does not support (supported: {', '.join(DTYPES.values())})")
        if kind == "tensor_type" and not tensor_type.HasField("shape"):
            self.dynamic.append((vi.name, None, "unknown rank"))
        for axis, dim in enumerate(tensor_type.shape.dim if kind == "tensor_type" else ()):
            if not dim.HasField("dim_value"):
                self.dynamic.append((vi.name, axis, dim.dim_param or "?"))
            elif dim.dim_value < 0:
                self.problems.append(f"input '{vi.name}' axis {axis} has size {dim.dim_value}: "
                                     "a dimension is a size, 0 or more")
        if (len(self.problems), len(self.dynamic)) != (problems, dynamic):
            self.missing.add(vi.name)
        else:
            dims = tuple(d.dim_value for d in tensor_type.shape.dim)
            self.values[vi.name] = self.g.input(vi.name, dims, DTYPES[tensor_type.elem_type])

    # ----- nodes -------------------------------------------------------------------------
    def _node(self, index: int, node: onnx.NodeProto) -> None:
        op = node.op_type if node.domain in _DEFAULT_DOMAINS else f"{node.domain}:{node.op_type}"
        outputs = [o for o in node.output if o]
        folded = fold_constants(node, self.consts, self.opset)
        if folded is not None:  # shape arithmetic on constants: computed now, by onnx.reference
            self.consts.update(zip(node.output, folded))
            return
        if op not in CONVERTERS:
            self.unsupported.append((op, node.name or f"#{index} (output '{node.output[0]}')"))
            self.missing.update(outputs)
            return
        if any(name in self.missing for name in node.input if name):
            self.missing.update(outputs)  # the cause is already reported
            return
        try:
            result = self._convert(op, node)
            results = result if isinstance(result, tuple) else (result,)
            extra = [(j, o) for j, o in enumerate(node.output) if o and j >= len(results)]
            if extra:
                raise ConvertError(f"output {extra[0][0]} '{extra[0][1]}' is not supported (only "
                                   f"the first {len(results)}): cut the model before its use")
            for name, value in zip(node.output, results):
                if not name:
                    continue
                if isinstance(value, np.ndarray):
                    self.consts[name] = value
                else:
                    self.values[name] = value
                    self._check_inferred(name, value)
        except (ConvertError, GraphError) as err:
            self.problems.append(f"node {_describe(index, node)} ({op}): {err}")
            self.missing.update(outputs)

    def _convert(self, op: str, node: onnx.NodeProto):
        if op == "Identity" and node.input[0] in self.consts:
            return self.consts[node.input[0]]  # stays a constant (e.g. a shape for Reshape)
        static = STATIC_INPUTS.get(op, ())
        args = []
        for pos, name in enumerate(node.input):
            if not name:
                args.append(None)
            elif pos in static:
                args.append(self._static(op, pos, name))
            else:
                args.append(self.tensor(name))
        attrs = {a.name: _attribute(a) for a in node.attribute}
        convert = CONVERTERS[op]
        ctx = _Context(self.g, self.claim(node.output[0]), self, tuple(node.output))
        try:
            inspect.signature(convert).bind(ctx, *args, **attrs)
        except TypeError as err:
            raise ConvertError(f"unsupported inputs or attributes {sorted(attrs)}: {err}") from None
        return convert(ctx, *args, **attrs)

    def _static(self, op: str, pos: int, name: str) -> np.ndarray:
        if name in self.consts:
            return self.consts[name]
        role = {"Reshape": "shape", "Expand": "shape", "ConstantOfShape": "shape",
                "Tile": "repeats", "Range": "bounds", "Slice": "bounds",
                "Pad": "pads"}.get(op, "axes")
        if name in self.values and self.values[name] in self.g.inputs:
            source = (f"it is a graph input: bind it with from_onnx(model, "
                      f"constants={{'{name}': ...}}) or make it an initializer")
        else:
            index, producer = self.producers[name]
            source = (f"it is computed by node {_describe(index, producer)} "
                      f"({producer.op_type}); precompute it into an initializer")
        raise ConvertError(f"input {pos} '{name}' gives the {role} and must be a constant "
                           f"(an initializer or a Constant node): {source}")

    def tensor(self, name: str) -> Tensor:
        """The graph tensor of an ONNX value; a constant becomes a graph constant on first use."""
        if name in self.values:
            return self.values[name]
        value = self.consts[name]
        if str(value.dtype) not in GRAPH_DTYPES:
            try:
                kind = onnx_type_name(helper.np_dtype_to_tensor_dtype(value.dtype))
            except (KeyError, ValueError, TypeError):
                kind = str(value.dtype)
            raise ConvertError(f"constant '{name}' has ONNX type {kind}, which tvm-fusion does "
                               f"not support (supported: {', '.join(DTYPES.values())})")
        tensor = self.g.constant(value, name=self.claim(name))
        self.values[name] = tensor
        return tensor

    def _check_inferred(self, name: str, tensor: Tensor) -> None:
        vi = self.inferred.get(name)
        if vi is None or vi.type.WhichOneof("value") != "tensor_type":
            return
        tt = vi.type.tensor_type
        expected_dtype = DTYPES.get(tt.elem_type)
        if expected_dtype is not None and expected_dtype != tensor.dtype:
            raise ConvertError(f"output '{name}' has dtype {tensor.dtype}, but the model (after "
                               f"ONNX shape inference) says {expected_dtype}")
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shape = tuple(d.dim_value for d in tt.shape.dim)
            if shape != tensor.shape:
                raise ConvertError(f"output '{name}' has shape {format_shape(tensor.shape)}, but "
                                   f"the model (after ONNX shape inference) says "
                                   f"{format_shape(shape)}")

    # ----- outputs and the error ---------------------------------------------------------
    def _outputs(self) -> None:
        for vi in self.graph.output:
            if vi.name in self.missing:
                continue
            try:
                tensor = self.tensor(vi.name)
            except (ConvertError, GraphError) as err:
                self.problems.append(f"output '{vi.name}': {err}")
                continue
            if any(t is tensor for t in self.g.outputs):  # the same value twice: copy it
                tensor = self.g.reshape(tensor, tensor.shape, name=self.claim(vi.name))
            self.g.output(tensor)

    def _error(self) -> OnnxImportError:
        count = len(self.unsupported) + len(self.dynamic) + len(self.problems)
        lines = [(f"cannot import ONNX model '{self.graph.name}' (opset {self.opset}): "
                 f"{count} problem{'s' * (count != 1)}")]
        fixes = []
        if self.unsupported:
            lines.append("unsupported op types:")  # the model's first: a long list follows
            lines += _capped([f"  - {op} (node {name if name.startswith('#') else repr(name)})"
                              for op, name in self.unsupported])
            lines.append(f"  (tvm-fusion supports {', '.join(SUPPORTED_OPS)})")
            fixes.append(self._cut_hint())
        if self.dynamic:
            lines.append("dynamic input dimensions (tvm-fusion compiles static shapes only):")
            lines += _capped([f"  - input '{name}'" + (f" axis {axis}: '{sym}'" if axis is not None
                                                        else f": {sym}")
                              for name, axis, sym in self.dynamic])
            pins = {name: "[" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else
                                          f"<{d.dim_param or '?'}>" for d in
                                          self.inferred[name].type.tensor_type.shape.dim) + "]"
                    for name, axis, _ in self.dynamic if axis is not None}
            example = "{" + ", ".join(f"'{n}': {s}" for n, s in pins.items()) + "}"
            flags = " ".join(f"--shape {n}=" + s.strip("[]").replace(" ", "")
                             for n, s in pins.items())
            fixes.append(f"pin each dynamic dimension (<name>) to the size you will run: "
                         f"{flags} (tvm-fusion commands), from_onnx(model, shapes={example}) "
                         f"(Python), or save a pinned model made by "
                         f"onnx.tools.update_model_dims.update_inputs_outputs_dims(model, "
                         f"{example}, {{<outputs>}})")
        if self.problems:
            lines.append("other problems:")
            lines += _capped([f"  - {p}" for p in self.problems])
        lines.append("how to fix:")
        lines += [f"  - {fix}" for fix in fixes] or ["  - see the problems above"]
        return OnnxImportError("\n".join(lines), self.unsupported, self.dynamic, self.problems)

    def _cut_hint(self) -> str:
        """Suggest extracting the converted part that feeds the unsupported nodes."""
        frontier = []
        for node in self.graph.node:
            if node.op_type not in CONVERTERS or node.domain not in _DEFAULT_DOMAINS:
                frontier += [v for v in node.input if v in self.values and v not in frontier
                             and self.values[v].producer is not None]
        if not frontier:
            return ("replace or remove the unsupported ops, or cut a supported subgraph out with "
                    "onnx.utils.extract_model(path, 'part.onnx', input_names=[...], "
                    "output_names=[...]) and import that")
        seen, stack = set(), list(frontier)  # the graph inputs the frontier depends on
        while stack:
            value = stack.pop()
            if value not in seen:
                seen.add(value)
                if value in self.producers:
                    stack += self.producers[value][1].input
        initializers = {t.name for t in self.graph.initializer}
        inputs = [i.name for i in self.graph.input if i.name in seen - initializers]
        return (f"cut the supported part out and import that: onnx.utils.extract_model(path, "
                f"'part.onnx', input_names={inputs}, output_names={frontier}) (the values the "
                f"unsupported nodes read); run the rest elsewhere")


def _capped(lines: list[str]) -> list[str]:
    extra = len(lines) - _SHOWN
    return lines if extra <= 0 else lines[:_SHOWN] + [f"  ... and {extra} more"]

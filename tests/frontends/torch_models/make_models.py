"""Make the committed ONNX files of this folder: small PyTorch modules, both exporters, opset 18.

Run from the repository root (torch and onnxscript are NOT project dependencies; CI never runs
this script, it only reads the files it wrote)::

    pip install torch onnxscript          # into the project's venv
    python tests/frontends/torch_models/make_models.py

It rewrites, for each module in ``MODELS``:

* ``<name>.torchscript.onnx``: ``torch.onnx.export(m, args, path, dynamo=False, opset_version=18)``
* ``<name>.dynamo.onnx``: ``torch.onnx.export(m, args, dynamo=True, opset_version=18)`` then
  ``.save(path, external_data=False)`` (the default ``optimize=True``)
* ``<name>.npz``: the inputs keyed by the ONNX graph input names and PyTorch's outputs as
  ``output_0``, ``output_1``... -- or, where the two files name their inputs differently (the
  TorchScript exporter names them after the first node using them, ``onnx::Softmax_0``; the
  dynamo one after ``forward``'s arguments, ``x``), ``<name>.<exporter>.npz`` for each file.
  ``manifest.json`` says which ``.npz`` goes with which ``.onnx``.

and ``manifest.json``: per file the op types (``domain:op`` outside the default domain), the
opsets imported, the local functions and the graph inputs / outputs; plus every export that
failed, and every file whose ``onnx.reference`` output differs from PyTorch's (``wrong``): no
file is kept for those. Every shape is static (no dynamic axes); the seed is fixed
(``torch.manual_seed(SEED)`` for the weights, a generator seeded with ``SEED`` for the inputs),
so a rerun writes the same files as long as the versions below are the same.

The committed files were made with torch 2.13.0+cpu, onnxscript 0.7.2, onnx_ir 1.1.0,
onnx 1.23.2 and numpy 2.4.6 (Python 3.11) -- ``manifest.json`` records the versions used.

The modules are the ops named by the issue "Real ONNX models in: the ops and dtypes exporters
emit": softmax, layer norm, RMS norm in fp16 (``nn.RMSNorm`` and hand-written), tanh-GELU after
a bias add, masked softmax (``masked_fill`` and ``torch.where``), rotary embedding (slices and
``torch.cat``), ``index_copy`` / ``index_add`` into a KV cache, channel shuffle (reshape /
transpose / reshape). Sizes are primes or not multiples of a vector width: (3, 7, 61)...
``check_models.py`` beside this file validates them (onnx.reference, onnxruntime, tvm_fusion)
and writes the table of README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
OPSET = 18
SEED = 20260518
EXPORTERS = ("torchscript", "dynamo")


# ----- the modules -------------------------------------------------------------------------
def _param(*shape, scale=1.0, dtype=torch.float32):
    return nn.Parameter((torch.randn(*shape) * scale).to(dtype), requires_grad=False)


class Softmax(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=-1)


class LayerNorm(nn.Module):
    def __init__(self, d=61):
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.norm.weight = _param(d, scale=0.5)
        self.norm.bias = _param(d, scale=0.5)

    def forward(self, x):
        return self.norm(x)


class RMSNormFp16(nn.Module):
    """``nn.RMSNorm`` (``F.rms_norm``) on float16 input and weight."""

    def __init__(self, d=61):
        super().__init__()
        self.norm = nn.RMSNorm(d, eps=1e-6).to(torch.float16)
        self.norm.weight = _param(d, scale=0.5, dtype=torch.float16)

    def forward(self, x):
        return self.norm(x)


class RMSNormManualFp16(nn.Module):
    """The hand-written LLaMA form, all in float16: x * rsqrt(mean(x^2) + eps) * w."""

    def __init__(self, d=61, eps=1e-6):
        super().__init__()
        self.weight = _param(d, scale=0.5, dtype=torch.float16)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class BiasGeluTanh(nn.Module):
    def __init__(self, d=61):
        super().__init__()
        self.bias = _param(d, scale=0.5)

    def forward(self, x):
        return nn.functional.gelu(x + self.bias, approximate="tanh")


class MaskedSoftmaxFill(nn.Module):
    """Attention scores, a boolean mask broadcast over heads, ``masked_fill(mask, -inf)``."""

    def __init__(self, scale=0.3):
        super().__init__()
        self.scale = scale

    def forward(self, scores, mask):
        return torch.softmax((scores * self.scale).masked_fill(mask, float("-inf")), dim=-1)


class MaskedSoftmaxWhere(nn.Module):
    """The same with ``torch.where(mask, scores, -inf)`` (mask True = keep) and a float mask add."""

    def forward(self, scores, keep, bias):
        neg = torch.tensor(float("-inf"), dtype=scores.dtype)
        return torch.softmax(torch.where(keep, scores + bias, neg), dim=-1)


def rotate_half(x):
    half = x.shape[-1] // 2
    x1 = x[..., :half]
    x2 = x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


class Rotary(nn.Module):
    """``x * cos + rotate_half(x) * sin`` with cos / sin tables as constants (7 positions)."""

    def __init__(self, seq=7, dim=22, base=10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, q, k):  # (batch, heads, seq, dim)
        return q * self.cos + rotate_half(q) * self.sin, k * self.cos + rotate_half(k) * self.sin


class RotaryPartial(nn.Module):
    """Rotary on the first ``rot`` of ``dim`` channels (slice, rotate, concat back), cos / sin
    as inputs (batch, seq, rot) unsqueezed over the heads, as HF models do."""

    def __init__(self, rot=10):
        super().__init__()
        self.rot = rot

    def forward(self, x, cos, sin):
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        x_rot, x_pass = x[..., : self.rot], x[..., self.rot:]
        x_rot = x_rot * cos + rotate_half(x_rot) * sin
        return torch.cat((x_rot, x_pass), dim=-1)


class KVCacheIndexCopy(nn.Module):
    """cache (batch, heads, max_seq, dim).index_copy(2, positions, new)."""

    def forward(self, cache, new, positions):
        return cache.index_copy(2, positions, new)


class KVCacheIndexAdd(nn.Module):
    """cache.index_add(2, positions, new, alpha=alpha); a position given twice adds twice."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, cache, new, positions):
        return cache.index_add(2, positions, new, alpha=self.alpha)


class ChannelShuffle(nn.Module):
    def __init__(self, groups=3):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        x = x.reshape(n, self.groups, c // self.groups, h, w)
        return x.transpose(1, 2).reshape(n, c, h, w)


class ChannelShuffleOp(nn.Module):
    """``nn.ChannelShuffle`` (``aten::channel_shuffle``) instead of the hand-written form."""

    def __init__(self, groups=3):
        super().__init__()
        self.shuffle = nn.ChannelShuffle(groups)

    def forward(self, x):
        return self.shuffle(x)


def _distinct(n, high, g):
    return torch.randperm(high, generator=g)[:n].to(torch.int64)


def _mask(shape, g, p=0.3):
    mask = torch.rand(shape, generator=g) < p
    mask[..., 0] = False  # no row fully masked (a softmax of all -inf is NaN)
    return mask


def _models(g):
    """(name, module, example inputs); ``g`` makes the inputs."""
    r = lambda *s, dtype=torch.float32: torch.randn(*s, generator=g).to(dtype)
    return [
        ("softmax", Softmax(), (r(3, 7, 61) * 3,)),
        ("layer_norm", LayerNorm(), (r(3, 7, 61) * 2 + 0.5,)),
        ("rms_norm_fp16", RMSNormFp16(), (r(3, 7, 61, dtype=torch.float16),)),
        ("rms_norm_manual_fp16", RMSNormManualFp16(), (r(3, 7, 61, dtype=torch.float16),)),
        ("bias_gelu_tanh", BiasGeluTanh(), (r(3, 7, 61) * 2,)),
        ("masked_softmax_fill", MaskedSoftmaxFill(), (r(2, 3, 7, 11) * 3, _mask((2, 1, 7, 11), g))),
        ("masked_softmax_where", MaskedSoftmaxWhere(),
         (r(2, 3, 7, 11) * 3, ~_mask((2, 1, 7, 11), g), r(2, 1, 1, 11))),
        ("rotary", Rotary(), (r(2, 3, 7, 22), r(2, 5, 7, 22))),
        ("rotary_partial", RotaryPartial(), (r(2, 3, 7, 26), r(2, 7, 10), r(2, 7, 10))),
        ("kv_cache_index_copy", KVCacheIndexCopy(),
         (r(2, 3, 13, 10), r(2, 3, 5, 10), _distinct(5, 13, g))),
        ("kv_cache_index_add", KVCacheIndexAdd(),
         (r(2, 3, 13, 10), r(2, 3, 5, 10), _distinct(5, 13, g))),
        ("kv_cache_index_add_repeated", KVCacheIndexAdd(),  # position 4 twice: adds both
         (r(2, 3, 13, 10), r(2, 3, 5, 10), torch.tensor([4, 0, 12, 4, 7]))),
        ("kv_cache_index_add_alpha", KVCacheIndexAdd(alpha=0.5),
         (r(2, 3, 13, 10), r(2, 3, 5, 10), _distinct(5, 13, g))),
        ("channel_shuffle", ChannelShuffle(), (r(2, 15, 7, 11),)),
        ("channel_shuffle_op", ChannelShuffleOp(), (r(2, 15, 7, 11),)),
    ]


# ----- export ------------------------------------------------------------------------------
def _export(exporter, module, args, path):
    """Export to ``path``; the exporters' chatter (and warnings) is swallowed."""
    sink = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(sink), redirect_stderr(sink):
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET)
        else:
            program = torch.onnx.export(module, args, dynamo=True, opset_version=OPSET)
            program.save(str(path), external_data=False)


def describe(model: onnx.ModelProto) -> dict:
    """Op types (``domain:op`` outside the default one), opsets, functions, graph inputs/outputs."""
    def ops(nodes, acc):
        for node in nodes:
            acc.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}")
            for attr in node.attribute:
                for sub in [attr.g] * attr.HasField("g") + list(attr.graphs):
                    ops(sub.node, acc)
        return acc

    init = {t.name for t in model.graph.initializer}
    tensor = lambda v: {"name": v.name,
                        "dtype": onnx.helper.tensor_dtype_to_np_dtype(
                            v.type.tensor_type.elem_type).name,
                        "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param
                                  for d in v.type.tensor_type.shape.dim]}
    return {
        "ops": sorted(ops(model.graph.node, set())),
        "function_ops": sorted(ops([n for f in model.functions for n in f.node], set())),
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "functions": [f"{f.domain}:{f.name}" for f in model.functions],
        "inputs": [tensor(v) for v in model.graph.input if v.name not in init],
        "outputs": [tensor(v) for v in model.graph.output],
        "ir_version": model.ir_version,
    }


def _differs(model, args, outs) -> str:
    """Why ``onnx.reference`` on ``model`` does not reproduce PyTorch's outputs, or ''."""
    from onnx.reference import ReferenceEvaluator

    init = {t.name for t in model.graph.initializer}
    names = [v.name for v in model.graph.input if v.name not in init]
    got = ReferenceEvaluator(model).run(None, {n: a.numpy() for n, a in zip(names, args)})
    for k, (o, want) in enumerate(zip(got, outs)):
        want = want.numpy()
        if o.shape != want.shape or o.dtype != want.dtype:
            return f"output {k}: {o.dtype}{list(o.shape)}, PyTorch {want.dtype}{list(want.shape)}"
        tol = 1e-2 if want.dtype == np.float16 else 1e-5
        if not np.allclose(o, want, rtol=tol, atol=tol, equal_nan=True):
            err = np.nanmax(np.abs(o.astype(np.float64) - want.astype(np.float64)))
            return f"output {k}: onnx.reference differs from PyTorch by up to {err:.3g}"
    return ""


def main() -> int:
    torch.set_num_threads(1)
    for old in list(HERE.glob("*.onnx")) + list(HERE.glob("*.npz")) + list(HERE.glob("*.data")):
        old.unlink()
    manifest = {"versions": {"torch": torch.__version__,
                             "onnxscript": _version("onnxscript"), "onnx_ir": _version("onnx_ir"),
                             "onnx": onnx.__version__, "numpy": np.__version__},
                "opset": OPSET, "seed": SEED, "models": {}, "failures": {}, "wrong": {}}
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    for name, module, args in _models(g):
        module.eval()
        with torch.no_grad():
            out = module(*args)
        outs = out if isinstance(out, tuple) else (out,)
        entry = manifest["models"][name] = {"files": {}}
        inputs = {}
        for exporter in EXPORTERS:
            path = HERE / f"{name}.{exporter}.onnx"
            try:
                _export(exporter, module, args, path)
            except Exception as err:  # noqa: BLE001 -- record it, make the other file
                path.unlink(missing_ok=True)
                first = (str(err).strip().splitlines() or [""])[0]
                manifest["failures"][path.name] = f"{type(err).__name__}: {first}"[:500]
                print(f"{path.name}: FAILED {type(err).__name__}: {first[:200]}")
                continue
            model = onnx.load(str(path))
            onnx.checker.check_model(model)
            wrong = _differs(model, args, outs)
            if wrong:  # not an oracle: record it, keep no file
                path.unlink()
                manifest["wrong"][path.name] = wrong
                print(f"{path.name}: WRONG {wrong}")
                continue
            info = describe(model)
            entry["files"][exporter] = {"file": path.name, "bytes": path.stat().st_size, **info}
            inputs[exporter] = [v["name"] for v in info["inputs"]]
            if len(inputs[exporter]) != len(args):
                raise SystemExit(f"{path.name}: {len(args)} inputs but the file has "
                                 f"{inputs[exporter]}")
            print(f"{path.name}: {path.stat().st_size} bytes, opsets {info['opsets']}, "
                  f"inputs {inputs[exporter]}, ops {info['ops']}"
                  + (f", functions {info['functions']}" if info["functions"] else ""))
        # one <name>.npz when the files name their inputs alike, else <name>.<exporter>.npz
        shared = len({tuple(v) for v in inputs.values()}) == 1
        for exporter, names in inputs.items():
            arrays = {n: a.numpy() for n, a in zip(names, args)}
            arrays.update({f"output_{k}": o.numpy() for k, o in enumerate(outs)})
            npz = f"{name}.npz" if shared else f"{name}.{exporter}.npz"
            np.savez(HERE / npz, **arrays)
            entry["files"][exporter]["npz"] = npz
            entry["files"][exporter]["arrays"] = {
                k: {"dtype": v.dtype.name, "shape": list(v.shape)} for k, v in arrays.items()}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in HERE.glob("*") if p.suffix in (".onnx", ".npz"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(HERE.glob("*.onnx"))))
    print(f"{len(list(HERE.glob('*.onnx')))} ONNX files, {total} bytes with the .npz files, "
          f"sha256 of the ONNX files {digest.hexdigest()[:16]}")
    return 0


def _version(package):
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    os.chdir(HERE.parent.parent.parent)
    sys.exit(main())

"""Schedule and build lowered kernels, with a per-process cache of compiled kernels.

The cache key is the kernel's structure (ops, attributes, shapes, dtypes, how inputs are
shared, which scatters update their data in place) plus the target and schedule, so the same
op on the same shapes is built once per process whatever its tensors are called.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tvm
import tvm_ffi

from tvm_fusion import schedules

from .alignment import finalize
from .describe import kernel_signature, template_context
from .fusion import FusionGroup
from .graph import Node, Tensor
from .lower import LoweredKernel, external_inputs, lower
from .ops.fp16 import native_fp16
from .ops.relaxed import check_precision, effective_precision
from .target import num_cores, vector_bytes

__all__ = ["BuiltKernel", "build", "build_group", "kernel_signature", "schedule_group",
           "template_context"]


@dataclass(frozen=True)
class BuiltKernel:
    """A compiled kernel: its entry function and the graph tensors bound to its parameters."""

    function: tvm.runtime.Function
    executable: object  # tvm.runtime.Executable; kept alive for ``function`` and export
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]
    scheduled: tvm.IRModule
    schedule: str  # the template applied ("simple" for per-op kernels)
    notice: str | None = None  # set when the chosen template failed and the fallback ran
    trace: str = ""  # the schedule's trace (its sampling instructions are the knobs)
    knobs: tuple = ()  # schedules.base.Knob records of the decisions taken
    record: str | None = None  # with tuning_logs: which record was applied, or why none


# compiled kernels by what they compute, most recently used last; bounded: unbounded, a
# process compiling many graphs (the long fuzz run: ~16 kernels a second) grew by ~10 MB/s
# until the OOM killer took it at 24 GiB. A BuiltKernel keeps its own executable alive.
MAX_CACHED = 256
_CACHE: OrderedDict[tuple, tuple] = OrderedDict()
_LOCK = threading.Lock()
_BUILDS = [0]  # kernels compiled by this process


def donation_key(nodes: Sequence[Node], donated) -> tuple:
    """Which nodes (by position) update their data in place: part of every cache key."""
    return ("donate", tuple(j for j, n in enumerate(nodes) if n.name in donated))


def kernel_inputs(nodes: Sequence[Node], donated=()) -> tuple[str, ...]:
    """The kernel's input parameters: a donated scatter's data is its output parameter."""
    data = {id(n.inputs[0]) for n in nodes if n.name in donated}
    return tuple(t.name for t in external_inputs(nodes) if id(t) not in data)


@dataclass(frozen=True)
class Scheduled:
    mod: tvm.IRModule
    template: str
    notice: str | None
    trace: str
    knobs: tuple
    record: str | None = None


def schedule_simple(kernel: LoweredKernel, target: tvm.target.Target) -> Scheduled:
    """The per-op default schedule."""
    sch = tvm.s_tir.Schedule(kernel.mod)
    schedules.simple.apply(sch, cores=num_cores(target), vector_bytes=vector_bytes(target))
    return Scheduled(sch.mod, "simple", None, str(sch.trace), ())


def schedule_group(kernel: LoweredKernel, group: FusionGroup, target: tvm.target.Target,
                   template=None, decisions=(), donated=()) -> Scheduled:
    """Apply ``template`` (default: the first that matches); fall back loudly on failure.

    A bad user decision (``KnobError``) is raised, not fallen back from: the user asked.
    """
    ctx = template_context(group, target, decisions=decisions, donated=donated)
    if template is not None:  # forced: one that does not apply raises, it never runs silently
        schedules.check_forced(template, ctx, group.name)
    template = template or schedules.choose(ctx)
    sch = tvm.s_tir.Schedule(kernel.mod)
    try:
        template.apply(sch, ctx)
    except schedules.KnobError:
        raise
    except Exception as err:  # noqa: BLE001 - a template bug must not lose the user's kernel: say so
        name = getattr(template, "NAME", "custom")
        notice = (f"template '{name}' failed on group {group.name}: "
                  f"{str(err).splitlines()[0] if str(err) else type(err).__name__}; "
                  "using the fallback schedule")
        warnings.warn(notice, stacklevel=3)
        ctx = template_context(group, target, donated=donated)
        sch = tvm.s_tir.Schedule(kernel.mod)
        schedules.fallback.apply(sch, ctx)
        return Scheduled(sch.mod, schedules.fallback.NAME, notice, str(sch.trace), ())
    unknown = set(dict(decisions)) - {k.name for k in ctx.knobs}
    if unknown:
        raise schedules.KnobError(
            f"unknown knob(s) {', '.join(sorted(unknown))} for template "
            f"'{getattr(template, 'NAME', 'custom')}'; its knobs: "
            f"{', '.join(k.name for k in ctx.knobs) or 'none'}")
    return Scheduled(sch.mod, getattr(template, "NAME", "custom"), None, str(sch.trace),
                     tuple(ctx.knobs))


def _build(key, target, nodes, outputs, schedule, donated=(), precision="exact") -> BuiltKernel:
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is None:
        scheduled = schedule(lower(nodes, outputs, donated, precision, native_fp16(target)))
        executable = tvm.compile(finalize(scheduled.mod), target=target)
        hit = (executable["main"], executable, scheduled)
        with _LOCK:
            _CACHE[key] = hit
            _BUILDS[0] += 1
            while len(_CACHE) > MAX_CACHED:
                _CACHE.popitem(last=False)
    function, executable, s = hit
    return BuiltKernel(function, executable, kernel_inputs(nodes, donated),
                       tuple(t.name for t in outputs), tuple(n.name for n in nodes), s.mod,
                       s.template, s.notice, s.trace, s.knobs, s.record)


def build(nodes: Sequence[Node], outputs: Sequence[Tensor],
          target: tvm.target.Target, donated=(), precision="exact") -> BuiltKernel:
    """Lower, schedule (simple per-op schedule) and compile ``nodes`` (cached per process).

    ``donated``: names of the scatters that update their data input in place.
    ``precision``: "exact" or "relaxed" fp16 arithmetic (``tvm_fusion.ops.relaxed``).
    """
    precision = effective_precision(nodes, check_precision(precision))
    key = (kernel_signature(nodes, outputs), donation_key(nodes, donated), str(target),
           "simple", precision)
    return _build(key, target, nodes, outputs, lambda k: schedule_simple(k, target), donated,
                  precision)


def build_group(group: FusionGroup, target: tvm.target.Target, template=None,
                decisions=(), tuning_logs=None, donated=(), precision="exact",
                transfer: bool = True) -> BuiltKernel:
    """One kernel for a fusion group, scheduled by its template (cached per process).

    With ``tuning_logs`` (a records folder, or several: the first holding records for this
    group decides), the best record for this target and workload is applied when there
    is one (``BuiltKernel.record`` says which, or why the default schedule was used).
    ``donated``: names of the group's scatters that update their data input in place (the
    records are for the out-of-place kernel, so such a group gets the default schedule).
    ``precision="relaxed"`` kernels get the default schedule too (records are for exact ones).
    ``transfer``: without a record for this target, verify and apply the best record of
    another CPU when it is faster here (``tuning/transfer.py``; only when building for this
    machine, where it can be timed).
    """
    folder = stays = None
    donation = donation_key(group.nodes, donated)
    precision = effective_precision(group.nodes, check_precision(precision))
    if tuning_logs is not None and template is None and not decisions and not donation[1] \
            and precision == "exact":
        tuned, folder, stays = _tuned_build(group, target, tuning_logs, transfer)
        if tuned is not None:
            return tuned
    name = (template.__name__, getattr(template, "__file__", "")) if template else "auto"
    key = (kernel_signature(group.nodes, group.outputs), donation, str(target), name,
           tuple(sorted(decisions)), precision)
    built = _build(key, target, group.nodes, group.outputs,
                   lambda k: schedule_group(k, group, target, template, decisions, donated),
                   donated, precision)
    if tuning_logs is not None:
        why = stays if folder else None
        why = why or f"no tuning record for this target and workload ({folder})" if folder else \
            "a template or decisions were forced" if not donation[1] else \
            "the input is donated (records are for the out-of-place kernel)"
        if precision != "exact":
            why = f"precision={precision!r} (the tuning records are for exact kernels)"
        built = dataclasses.replace(built, record=f"{why}: default schedule")
    return built


def _tuned_build(group: FusionGroup, target, tuning_logs, transfer: bool):
    """``(kernel built from the best record, records folder, why the default stays)``; the
    kernel is ``None`` when no record applies."""
    from .tuning.records import (
        count_records,
        default_stays,
        open_database,
        record_dir,
        record_seconds,
        verdict_note,
    )

    template = schedules.choose(template_context(group, target))
    log_dirs = (tuning_logs,) if isinstance(tuning_logs, (str, Path)) else tuple(tuning_logs)
    folders = [record_dir(logs, target, group, template.NAME) for logs in log_dirs]
    folder = next((f for f in folders if count_records(f)), folders[0])  # the first with any
    count = count_records(folder)
    if count == 0:
        return (_transferred(group, target, log_dirs, folder, template.NAME) if transfer
                else (None, folder, None))
    lowered = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
    default = schedule_group(lowered, group, target).mod
    best = open_database(folder).query_schedule(lowered.mod, target, "main")
    tuned_hash = None if best is None else tvm_ffi.structural_hash(best.mod)
    stays = default_stays(folder, tvm_ffi.structural_hash(default), tuned_hash)
    if stays:  # not faster than the default here, or checked against another default
        return None, folder, stays
    note = verdict_note(folder, tuned_hash)

    def schedule(kernel: LoweredKernel) -> Scheduled:
        database = open_database(folder)
        sch = database.query_schedule(kernel.mod, target, "main")
        if sch is None:  # tuned on an older lowering of this graph: say so, run the default
            why = (f"{folder} holds {count} records but none matches this kernel as it is "
                   "lowered now (tuned by an older version): default schedule; re-tune it")
            warnings.warn(why, stacklevel=4)
            return dataclasses.replace(schedule_group(kernel, group, target), record=why)
        record = database.query_tuning_record(kernel.mod, target, "main")
        seconds = record_seconds(record.run_secs)
        return Scheduled(sch.mod, f"tuned:{template.NAME}", None, str(sch.trace), (),
                         f"best of {count} records applied ({seconds * 1e6:.1f} us "
                         f"measured when tuned) from {folder}{note}")

    key = (kernel_signature(group.nodes, group.outputs), str(target), "tuned", str(folder),
           count, note)
    return _build(key, target, group.nodes, group.outputs, schedule), folder, None


def _transferred(group: FusionGroup, target, log_dirs, folder: Path, template: str):
    """:func:`_tuned_build` for a target without records of its own: the best record of
    another CPU, when it is verified faster here (``tuning/transfer.py``)."""
    from .target import is_host
    from .tuning.transfer import group_view, verify
    from .tuning.verify import group_arguments

    if not is_host(target):  # timing here would say nothing of that CPU
        return None, folder, None
    lowered = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
    default = schedule_group(lowered, group, target)
    try:
        verdict = verify(log_dirs, target, folder.name, lowered, default.mod,
                         group_arguments(group_view(group), lowered))
    except Exception as err:  # noqa: BLE001 - checking other CPUs' records must not lose
        why = (f"checking other CPUs' records failed ({type(err).__name__}: "  # the kernel
               f"{str(err).splitlines()[0][:160] if str(err) else ''})")
        warnings.warn(f"group {group.name}: {why}", stacklevel=4)
        return None, folder, f"no tuning record for this target and workload ({folder}); {why}"
    if verdict is None:
        return None, folder, None
    none = f"no tuning record for this target and workload ({folder}); {verdict.note}"
    if verdict.mod is None:
        return None, folder, none
    scheduled = Scheduled(verdict.mod, f"tuned:{template}", None, verdict.trace, (),
                          f"no tuning record for this target; {verdict.note}")
    key = (kernel_signature(group.nodes, group.outputs), str(target), "transferred",
           verdict.note)
    return _build(key, target, group.nodes, group.outputs, lambda _: scheduled), folder, None


def cache_size() -> int:
    """Kernels held by the cache (at most ``MAX_CACHED``)."""
    return len(_CACHE)


def builds() -> int:
    """Kernels this process has compiled: what a cache hit does not add to."""
    return _BUILDS[0]

"""Records tuned on other CPUs: verified and applied here, and the seeds of tuning here.

MetaSchedule keys its database by the exact target and starts its cost model cold, so records
tuned on an icelake-server helped nothing on a znver4. Here a records folder of another CPU
(``<logs>/<other target key>/<workload key>/``: the workload key does not depend on the
target) is a source when its CPU's instruction-set features (``isa_features``: SIMD and
arithmetic extensions, not LLVM's tuning flags) are all this CPU's too. A source record is
never run as built there: its trace is replayed on this kernel and built for this target.

- :func:`verify` (``compile(tuning_logs=)`` on a CPU without records of its own): the best
  records of each source are checked against the default schedule's outputs, then timed
  against it in this process in interleaved rounds; the fastest applies only when it is
  faster beyond noise. The verdict is kept in ``transfer.json`` in the user's records folder
  (never the shipped one), keyed by the source records and today's default schedule.
- ``seeding.seed`` (``tune`` on a CPU without records of its own for a workload) starts the
  search from the same sources (:func:`candidates`, :func:`read_records`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import tvm
import tvm_ffi

from ..settings import shipped_logs
from ..target import target_key
from ..timing import BUSY_CORES, ForeignLoad, interleaved, ratios, sample_seconds
from .durable import write_atomic
from .faults import first_mismatch
from .measure import kernel_arguments
from .outputs import built, parameter_names, replay, run_once
from .records import RECORD_FILE, WORKLOAD_FILE, is_measured, record_seconds

ISA = re.compile(r"^(64bit$|adx|aes|amx|avx|bmi|cmov|crc32|cx16|cx8|evex512|f16c|fma|gfni|"
                 r"lzcnt|mmx|movbe|pclmul|popcnt|prfchw|sahf|sha|sse|ssse3|vaes|vpclmulqdq|"
                 r"x87)")
PER_SOURCE = 2  # best records taken from each other CPU's folder
MAX_CANDIDATES = 4  # records verified at compile time, at most
ROUNDS = 7  # interleaved timing rounds of the compile-time check (twice for a record that wins)
REPEATS = 5  # repeats of >= 2 ms per round and contestant; the fastest is the round's sample
MIN_GAIN = 1.05  # what a record of another CPU must gain, per round and by the medians
TRANSFER_FILE = "transfer.json"
VERDICT_RULE = 4  # part of a cached verdict's key: a verdict of an older rule is measured again


def isa_features(target: tvm.target.Target) -> frozenset[str]:
    """The instruction-set extensions LLVM enables for ``target`` (``avx512f``, ``fma``...)."""
    return frozenset(f for f in tvm.target.codegen.llvm_get_cpu_features(target)
                     if ISA.match(f))


@dataclass(frozen=True)
class Candidate:
    """A record of another CPU: ``source`` is that CPU's target key."""

    source: str
    folder: Path
    seconds: float  # its median latency as measured there
    record: object  # ms.database.TuningRecord
    line: str  # its JSON line: what the cached verdict names


def read_records(folder: Path, mod: tvm.IRModule) -> list[tuple[float, object, str]]:
    """``(seconds, record, line)`` of ``folder``'s measured records of ``mod``'s workload,
    best first, read from the files (a reader never writes into another CPU's folder; an
    unreadable line or a workload lowered otherwise is left out)."""
    from tvm.s_tir import meta_schedule as ms

    decoded = _decoded(folder)
    if decoded is None:
        return []
    workloads, lines = decoded
    matching = _matching(workloads, mod)
    found = []
    for line in lines:
        try:
            index, body = json.loads(line)
            if index not in matching or not is_measured(body[1]):
                continue
            record = ms.database.TuningRecord.from_json(body, matching[index])
        except Exception:  # noqa: BLE001, S112 - a cut or foreign line: `tune` reports those
            continue
        found.append((record_seconds(body[1]), record, line))
    return sorted(found, key=lambda item: item[0])


def _matching(workloads: list, mod: tvm.IRModule) -> dict[int, object]:
    """The workloads (by line index) that are ``mod`` as lowered now."""
    return {index: workload for index, workload in enumerate(workloads)
            if workload is not None and tvm_ffi.structural_equal(workload.mod, mod)}


def lowered_otherwise(folder: Path, mod: tvm.IRModule) -> int:
    """The record lines of ``folder`` when none of its workloads is ``mod`` as lowered now
    (records of an older tvm-fusion, or fp16 lowered for another CPU); else 0."""
    workloads, lines = _decoded(folder) or ([], [])
    return 0 if _matching(workloads, mod) else len(lines)


_DECODED: dict[tuple, tuple[list, list[str]]] = {}  # per process, keyed by the files' stats


def _decoded(folder: Path) -> tuple[list, list[str]] | None:
    """``folder``'s workloads (``None`` where this TVM cannot read one) and record lines,
    decoded once per process while the files stay as they are (every compile of a group
    without records of its own reads every other CPU's folder of it)."""
    from tvm.s_tir import meta_schedule as ms

    paths = (folder / WORKLOAD_FILE, folder / RECORD_FILE)
    try:
        stats = tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in map(os.stat, paths))
        key = (str(folder.resolve()), stats)
        if key not in _DECODED:
            workloads = []
            for line in paths[0].read_text().splitlines():
                try:
                    workloads.append(ms.database.Workload.from_json(json.loads(line)))
                except Exception:  # noqa: BLE001 - not a workload this TVM reads: no source
                    workloads.append(None)
            _DECODED[key] = (workloads, paths[1].read_text().splitlines())
    except OSError:
        return None
    return _DECODED[key]


def candidates(log_dirs, target, workload: str, mod: tvm.IRModule, per_source: int = PER_SOURCE
               ) -> tuple[list[Candidate], list[str]]:
    """The best records of ``workload`` tuned on other CPUs whose features ``target`` has
    (each source's best first, then each one's second...), and one line per source refused."""
    here, own = isa_features(target), target_key(target)
    by_source, refused = {}, []
    for logs in log_dirs:
        root = Path(logs)
        for cpu_dir in sorted(root.iterdir()) if root.is_dir() else ():
            if cpu_dir.name == own or cpu_dir.name in by_source:
                continue
            best = read_records(cpu_dir / workload, mod)[:per_source]
            if not best:
                held = lowered_otherwise(cpu_dir / workload, mod)
                if held:  # silently unused, a stale record looks like no record at all
                    refused.append(f"{cpu_dir.name} holds {held} record(s) of this workload, "
                                   "but of the kernel as another version of tvm-fusion (or "
                                   "another CPU's fp16 arithmetic) lowered it: not used")
                continue
            missing = sorted(isa_features(best[0][1].target) - here)
            if missing:
                refused.append(f"{cpu_dir.name}'s record is for a CPU with "
                               f"{', '.join(missing)}, which this CPU lacks: not applied")
                continue
            by_source[cpu_dir.name] = [Candidate(cpu_dir.name, cpu_dir / workload, s, r, line)
                                       for s, r, line in best]
    ranked = [c for rank in range(per_source) for cs in by_source.values() if rank < len(cs)
              for c in cs[rank:rank + 1]]
    return ranked, refused


def group_view(group):
    """What :func:`~tvm_fusion.tuning.verify.group_arguments` reads of a graph, for one group
    (its index inputs get unique in-range positions)."""
    tensors = {t.name: t for t in group.inputs}
    tensors.update((n.output.name, n.output) for n in group.nodes)
    return SimpleNamespace(nodes=group.nodes, tensors=tensors)


@dataclass(frozen=True)
class Verdict:
    mod: tvm.IRModule | None  # the transferred schedule to build, or None: default stays
    note: str  # for the group's notice
    trace: str = ""


def verify(log_dirs, target, workload: str, kernel, default_mod, arguments) -> Verdict | None:
    """The best transferred record for ``kernel`` (a LoweredKernel) when it is faster here
    than ``default_mod`` beyond noise; ``None`` when no other CPU holds records of it."""
    found, refused = candidates(log_dirs, target, workload, kernel.mod)
    found = found[:MAX_CANDIDATES]
    if not found:
        return Verdict(None, "; ".join(refused)) if refused else None
    cache = _cache_file(log_dirs, target, workload)
    key = hashlib.sha256(repr((VERDICT_RULE, sorted(c.line for c in found), str(target),
                               str(tvm_ffi.structural_hash(default_mod)))).encode()).hexdigest()
    cached = _read_cache(cache, key)
    if cached is None:
        cached = _measure(found, kernel, default_mod, target, arguments)
        cached["key"] = key
        if cache is not None and not cached.get("undecided"):
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cache, json.dumps(cached, indent=2) + "\n", lambda: 0)
        where = "not kept: measured again by the next compile" if cached.get("undecided") \
            else f"verdict kept in {cache}" if cache else \
            "not kept: give a records folder of your own first to keep it"
    else:
        where = f"verdict cached in {cache}, not measured again"
    line = cached.get("line")
    chosen = next((c for c in found if c.line == line), None)
    if not cached["applies"] or chosen is None:
        return Verdict(None, f"no transferred record applied: {cached['why']} ({where})")
    return Verdict(replay(chosen.record, kernel.mod),
                   f"record transferred from {chosen.source} applied: {cached['why']} "
                   f"({chosen.folder}; {where})", str(chosen.record.trace))


def _cache_file(log_dirs, target, workload: str) -> Path | None:
    first = Path(next(iter(log_dirs)))
    if first.resolve() == shipped_logs().resolve():
        return None
    return first / target_key(target) / workload / TRANSFER_FILE


def _read_cache(path: Path | None, key: str) -> dict | None:
    try:
        cached = json.loads(path.read_text()) if path is not None else None
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, dict) and cached.get("key") == key and \
        "applies" in cached else None


def _measure(found: list[Candidate], kernel, default_mod, target, arguments) -> dict:
    """Check every candidate's outputs against the default's, time the correct ones against
    it in interleaved rounds: the verdict as ``transfer.json`` holds it."""
    expected = run_once(default_mod, kernel.mod, target, arguments)
    names, correct, rejected = parameter_names(kernel.mod), [], []
    for candidate in found:
        try:
            scheduled = replay(candidate.record, kernel.mod)
            mismatch = first_mismatch(run_once(scheduled, kernel.mod, target, arguments),
                                      expected, names)
        except Exception as err:  # noqa: BLE001 - a trace that does not replay or build here
            mismatch = f"does not replay or build here ({str(err).splitlines()[0][:120]})"
        if mismatch is None:
            correct.append((candidate, scheduled))
        else:
            rejected.append(f"{candidate.source}: {mismatch}")
    if not correct:
        return {"applies": False, "why": "every candidate was rejected: " + "; ".join(rejected)}
    args = kernel_arguments(kernel.mod, arguments)
    functions = [built(m, target) for m in (default_mod, *(s for _, s in correct))]
    load = ForeignLoad()
    default, *timed = _contest(functions, args)
    best = min(range(len(timed)), key=lambda k: timed[k].median)
    candidate, (applies, verdict) = correct[best][0], _verdict(default, timed[best])
    busy = load.cores()
    if applies and (busy is None or busy <= BUSY_CORES):  # again, the two alone: noise that
        again_default, again = _contest([functions[0], functions[best + 1]], args)  # favoured
        applies, confirmed = _verdict(again_default, again)  # a record once rarely does twice
        verdict += f"; {'confirmed' if applies else 'NOT confirmed'} when timed again: " + \
            confirmed
        busy = load.cores()
    why = (f"{candidate.source}'s record {timed[best].median * 1e6:.1f} us vs default "
           f"{default.median * 1e6:.1f} us here: {verdict}; best of {len(correct)} checked")
    if busy is not None and busy > BUSY_CORES:
        return {"applies": False, "undecided": True, "rejected": rejected,
                "why": f"NOT decided: other processes kept {busy:.2f} cores busy while it was "
                       "timed, so a parallel kernel's call waited for a core (a scheduler "
                       f"slice of ~4 ms) and the times are the scheduler's ({why}); compile "
                       "again when the machine is idle"}
    return {"applies": applies, "why": why, "line": candidate.line, "source": candidate.source,
            "gain": ratios(timed[best], default).ratio, "rejected": rejected}


def _contest(functions, args) -> list:
    """Each function timed in ``ROUNDS`` interleaved rounds; a round's sample is the fastest
    of ``REPEATS`` repeats (a repeat is the least disturbed by another process on a core
    when it is fastest: such waits only add time)."""
    samplers = [lambda f=f: min(sample_seconds(lambda: f(*args), repeat=REPEATS,
                                               min_repeat_seconds=0.002)) for f in functions]
    return interleaved(samplers, ROUNDS)


def _verdict(default, timed) -> tuple[bool, str]:
    """``(True, "faster: ...")`` when ``timed`` beats ``default`` by ``MIN_GAIN`` both in the
    median per-round ratio and in the ratio of the medians, else ``(False, why not)``."""
    comparison = ratios(timed, default)
    # both must agree: on emeraldrapids P2's, P3's and W4's records won 1.03-1.04x per round,
    # P3's with medians 0.1 % apart, and timed again side by side none was faster
    overall = default.median / timed.median
    if comparison.significant and min(comparison.ratio, overall) >= MIN_GAIN:
        return True, f"faster: {comparison}"
    if not comparison.significant:
        return False, str(comparison)
    if comparison.ratio < 1:
        return False, f"slower: {ratios(default, timed)}"
    return False, (f"{comparison} per round, {overall:.3f}x by the medians: less than the "
                   f"{MIN_GAIN:.2f}x a record of another CPU must gain")

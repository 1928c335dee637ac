"""A test template whose knob ``fault`` makes candidates that crash, hang or compute wrong.

For a one-op element-wise group (``relu`` of a 2-D float32 tensor whose last extent is a
multiple of 4). ``fault`` (sampled first, default 0) picks:

0. a correct schedule: the injective template's phases (parallel rows, the vector tile
   knob ``vector`` over the last axis, vectorised);
1. ``segfault``: each 4-element tile stores through a wild pointer (address 64);
2. ``hang``: each tile sleeps in a loop of 10^9 x 1 ms before it writes;
3. ``wrong``: each tile writes its first element only (the fastest candidate, and wrong;
   a kernel that stores nothing at all crashes MetaSchedule's XGBoost feature grouping).

``PLAN`` (set by a test, ``None`` otherwise) forces the fault of each round's design space:
while it is set, tuning-mode calls without forced decisions (MetaSchedule's design space
for the round, and the trial log re-running a trace) take ``PLAN[ROUND]`` instead of
sampling ``fault``, and a test's ``progress`` callback advances ``ROUND``. A fault round's
space is then that one candidate (no decision left to mutate), a correct round's the vector
tiles: which candidate fails in which round is known, the search itself is real.

The faults are tensor intrinsics (``sch.tensorize``, a traced instruction), so a trace replays
them wherever the intrinsics are registered (importing this module registers them). ``NAME``
is the injective template's: ``compile(tuning_logs=)`` then reads this template's records as
the injective template's, as it would read records tuned elsewhere whose schedule computes
wrong numbers (apache/tvm #17947).
"""

from tvm import s_tir
from tvm.script import tirx as T
from tvm_fusion.schedules.base import (
    TemplateContext,
    categorical_knob,
    inline_injective,
    parallelize,
    tile_knob,
    writes_output,
)

NAME = "injective"
FAULTS = ("none", "segfault", "hang", "wrong")
TILE = 4  # elements per tensorized tile


def mismatch(ctx: TemplateContext) -> str | None:
    nodes = ctx.nodes
    (out,) = ctx.analysis.group.outputs
    if [n.op for n in nodes] != ["relu"] or out.ndim != 2 or out.shape[1] % TILE \
            or out.dtype != "float32":
        return f"{NAME} (faulty test template): only a float32 2-D relu, last extent % {TILE}"
    return None


def matches(ctx: TemplateContext) -> bool:
    return mismatch(ctx) is None


@T.prim_func(s_tir=True)
def _relu_desc(A: T.Buffer((TILE,), "float32", offset_factor=1, align=4),
               C: T.Buffer((TILE,), "float32", offset_factor=1, align=4)):
    with T.sblock("root"):
        T.reads(A[0:TILE])
        T.writes(C[0:TILE])
        for j in T.serial(TILE):
            with T.sblock("update"):
                vj = T.axis.remap("S", [j])
                C[vj] = T.Select(A[vj] < T.float32(0.0), T.float32(0.0), A[vj])


@T.prim_func(s_tir=True)
def _segfault(A: T.Buffer((TILE,), "float32", offset_factor=1, align=4),
              C: T.Buffer((TILE,), "float32", offset_factor=1, align=4)):
    with T.sblock("root"):
        T.reads(A[0:TILE])
        T.writes(C[0:TILE])
        wild = T.decl_buffer((1,), "float32", data=T.reinterpret("handle", T.uint64(64)))
        wild[0] = A[0]


@T.prim_func(s_tir=True)
def _hang(A: T.Buffer((TILE,), "float32", offset_factor=1, align=4),
          C: T.Buffer((TILE,), "float32", offset_factor=1, align=4)):
    with T.sblock("root"):
        T.reads(A[0:TILE])
        T.writes(C[0:TILE])
        for _ in range(1000000000):  # sleeping, not spinning: the machine's cores are shared
            T.evaluate(T.call_extern("int32", "usleep", 1000))
        for j in range(TILE):
            C[j] = T.max(A[j], T.float32(0.0))


@T.prim_func(s_tir=True)
def _wrong(A: T.Buffer((TILE,), "float32", offset_factor=1, align=4),
           C: T.Buffer((TILE,), "float32", offset_factor=1, align=4)):
    with T.sblock("root"):
        T.reads(A[0:TILE])
        T.writes(C[0:TILE])
        C[0] = T.max(A[0], T.float32(0.0))  # the tile's other elements are skipped


PLAN: list[int] | None = None  # per round: the fault of its design space (tests)
ROUND = 0

INTRINSICS = {1: "tvm_fusion_test.segfault", 2: "tvm_fusion_test.hang",
              3: "tvm_fusion_test.wrong"}
for _fault, _impl in ((1, _segfault), (2, _hang), (3, _wrong)):
    s_tir.TensorIntrin.register(INTRINSICS[_fault], _relu_desc, _impl, override=True)


def apply(sch, ctx: TemplateContext) -> None:
    # Phase 1: one block left, reading the input and writing the output
    inline_injective(sch)
    (block,) = [b for b in sch.get_child_blocks(sch.get_sblock("root")) if writes_output(sch, b)]
    rows, columns = sch.get_loops(block)
    if PLAN is not None and ctx.tuning and not ctx.replay:
        fault = PLAN[min(ROUND, len(PLAN) - 1)]
    elif PLAN is not None and ctx.tuning:  # the mutator re-running a correct round's trace
        fault = 0
    else:
        fault = categorical_knob(sch, ctx, "fault", [0, 1, 2, 3], 0, "/".join(FAULTS))
    # Phase 2 (a fault): every tile of the last axis through the faulty intrinsic
    if fault:
        _, tile = sch.split(columns, [None, TILE])
        sch.tensorize(tile, INTRINSICS[fault])
        return
    # Phase 2 (correct): parallel rows, vectorised tiles of the last axis
    _, inner = tile_knob(sch, ctx, "vector", columns, 8, 16)  # 8 tiles: 1, 2, 3, .., 16
    parallelize(sch, [rows], ctx)
    sch.vectorize(inner)

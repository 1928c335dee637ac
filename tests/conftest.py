import zlib

import numpy as np
import pytest
from hypothesis import Phase, settings

# No explain phase: after a failure it re-runs the case under a line tracer, and TVM's script
# parser under that tracer is ~100x slower (one CI run spent most of an hour there). The
# shrunk failing case and its reproduce blob are still printed.
settings.register_profile("tvm-fusion", phases=[p for p in Phase if p != Phase.explain])
settings.load_profile("tvm-fusion")
# `pytest --hypothesis-profile=long tests/fuzz`: the graph fuzzer (tests/fuzz) draws this many
# fresh examples instead of its 50 fixed ones; every other hypothesis test sets its own count.
settings.register_profile("long", parent=settings.get_profile("tvm-fusion"), max_examples=1000,
                          deadline=None)


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test id: every case is reproducible and independent."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def farm(tmp_path):
    """A tracker on 127.0.0.1 (``farm.add_servers(n)`` starts servers), killed afterwards."""
    from tests.farm import Farm

    farm = Farm(tmp_path)
    try:
        yield farm
    finally:
        farm.close()

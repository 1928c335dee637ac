import zlib

import numpy as np
import pytest
from hypothesis import settings

# `pytest --hypothesis-profile=long tests/fuzz`: the graph fuzzer (tests/fuzz) draws this many
# fresh examples instead of its 50 fixed ones; every other hypothesis test sets its own count.
settings.register_profile("long", max_examples=1000, deadline=None)


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

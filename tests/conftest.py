import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test id: every case is reproducible and independent."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))

"""The noise logic of printed ratios, on synthetic per-round samples (no timing)."""

import pytest

from tvm_fusion.timing import Timing, compare, interleaved, quartiles, ratios


def _timing(values):
    return Timing(tuple(values))


def test_a_clear_difference_prints_the_ratio_with_its_spread():
    fast = _timing([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0])
    slow = _timing([1.5, 1.62, 1.4, 1.49, 1.6, 1.41, 1.52])
    text = compare(fast, slow)
    assert text.startswith("1.50x (") and "IQR over 7 rounds" in text
    comparison = ratios(fast, slow)
    assert comparison.significant and comparison.low > 1
    assert ratios(slow, fast).ratio == pytest.approx(1 / 1.5, rel=0.02)
    assert ratios(slow, fast).significant  # slower is a difference too


def test_ratios_that_straddle_one_are_same_within_noise():
    a = _timing([1.0] * 7)
    b = _timing([0.9, 1.12, 0.95, 1.06, 1.0, 1.03, 0.97])
    assert compare(a, b).startswith("same within noise (")
    assert not ratios(a, b).significant and ratios(a, b).short().startswith("same [")


def test_a_tight_but_tiny_difference_is_same_within_noise():
    a = _timing([1.0] * 7)
    b = _timing([1.01, 1.011, 1.009, 1.01, 1.012, 1.008, 1.01])  # IQR above 1, median 1.01
    assert ratios(a, b).low > 1 and not ratios(a, b).significant


def test_per_round_ratios_not_ratio_of_medians():
    # a slow round hits both contestants: the per-round ratio stays 2x every round
    a = _timing([1.0, 3.0, 1.0, 3.0, 1.0])
    b = _timing([2.0, 6.0, 2.0, 6.0, 2.0])
    comparison = ratios(a, b)
    assert (comparison.ratio, comparison.low, comparison.high) == (2.0, 2.0, 2.0)


def test_rounds_must_match():
    with pytest.raises(ValueError, match="one interleaved"):
        ratios(_timing([1.0, 1.0]), _timing([1.0]))


def test_interleaved_alternates_contestants_and_rotates_who_goes_first():
    calls = []

    def sampler(label, value):
        return lambda: calls.append(label) or value

    a, b = interleaved([sampler("a", 1.0), sampler("b", 2.0)], rounds=3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert a.samples == (1.0,) * 3 and b.median == 2.0 and b.spread == (2.0, 2.0)


def test_quartiles():
    assert quartiles([5.0]) == (5.0, 5.0)
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)

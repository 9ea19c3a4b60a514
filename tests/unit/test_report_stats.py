"""Report statistics: Wilson intervals, exact McNemar, Newcombe paired differences, Holm."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from conftest import import_or_skip

from gateway.reports import stats
from gateway.reports.stats import Rate, holm_adjust, mcnemar_exact, paired_difference, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_known_values(k: int, n: int, lo: float, hi: float) -> None:
    got_lo, got_hi = wilson_interval(k, n)
    assert got_lo == pytest.approx(lo, abs=1e-4)
    assert got_hi == pytest.approx(hi, abs=1e-4)


def test_wilson_edges_and_errors() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 1)[0] == 0.0
    assert wilson_interval(7, 7)[1] == 1.0
    # Wider at higher confidence.
    lo95, hi95 = wilson_interval(30, 100)
    lo99, hi99 = wilson_interval(30, 100, confidence=0.99)
    assert lo99 < lo95 < 0.3 < hi95 < hi99
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n must be"):
        wilson_interval(0, -1)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


def test_rate_of() -> None:
    empty = Rate.of(0, 0)
    assert (empty.n, empty.value, empty.lo, empty.hi) == (0, None, None, None)
    r = Rate.of(1, 4)
    assert r.value == 0.25
    assert r.lo is not None
    assert r.hi is not None
    assert r.lo < 0.25 < r.hi
    assert Rate.of(4, 4).value == 1.0
    assert Rate.of(4, 4).hi == 1.0
    assert Rate.of(0, 4).value == 0.0
    assert Rate.of(0, 4).lo == 0.0


def _exact_p(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    # One comb() per i is slow at this n; one comb() and exact integer ratios downward are not.
    term = math.comb(n, k)
    total = 0
    for i in range(k, -1, -1):
        total += term
        term = term * i // (n - i + 1)
    tail = Fraction(total, 2**n)
    return float(min(Fraction(1), 2 * tail))


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),
        (1, 0, 1.0),
        (0, 5, 0.0625),
        (0, 6, 0.03125),
        (2, 10, 79 / 2048),
        (10, 2, 79 / 2048),
        (7, 7, 1.0),
    ],
)
def test_mcnemar_known_values(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_large_n_log_path_matches_exact_integers() -> None:
    # Just above the integer limit, the log-space sum must agree with exact rational arithmetic.
    b, c = 4_900, 5_200
    assert b + c > stats._EXACT_INTEGER_LIMIT
    assert mcnemar_exact(b, c) == pytest.approx(_exact_p(b, c), rel=1e-9)
    b, c = 5_040, 5_000
    assert mcnemar_exact(b, c) == pytest.approx(_exact_p(b, c), rel=1e-9)


def test_mcnemar_huge_and_errors() -> None:
    # Very lopsided, very large: underflows towards 0 without raising.
    assert 0.0 <= mcnemar_exact(100_000, 500_000) < 1e-300
    # Balanced huge n stays 1.
    assert mcnemar_exact(500_000, 500_000) == 1.0
    assert 0.05 < mcnemar_exact(500_000, 500_500) < 1.0
    with pytest.raises(ValueError, match="discordant"):
        mcnemar_exact(-1, 3)


def test_mcnemar_against_scipy_when_installed() -> None:
    scipy_stats = import_or_skip("scipy.stats")
    for b, c in [(3, 11), (0, 9), (40, 61), (6_000, 6_300)]:
        expected = scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def test_newcombe_independent_limit_matches_published_example() -> None:
    # With zero correlation the paired formula is Newcombe's hybrid score interval for independent
    # proportions; his published example 56/70 - 48/80 gives 0.0524 to 0.3339.
    p1, p2 = 56 / 70, 48 / 80
    lo, hi = stats._newcombe_limits(p1, wilson_interval(56, 70), p2, wilson_interval(48, 80), 0.0)
    assert lo == pytest.approx(0.0524, abs=1e-4)
    assert hi == pytest.approx(0.3339, abs=1e-4)


def test_paired_difference_properties() -> None:
    pd = paired_difference(36, 12, 2, 0)
    assert pd.n == 50
    assert pd.diff == pytest.approx(0.2)
    assert pd.lo is not None
    assert pd.hi is not None
    assert 0.0 < pd.lo < 0.2 < pd.hi < 1.0
    assert pd.p_value == pytest.approx(_exact_p(12, 2))
    # Swapping the arms mirrors the interval.
    swapped = paired_difference(36, 2, 12, 0)
    assert swapped.diff == pytest.approx(-0.2)
    assert swapped.lo == pytest.approx(-pd.hi)
    assert swapped.hi == pytest.approx(-pd.lo)
    # No discordant pairs: zero difference, p = 1, interval straddles 0.
    same = paired_difference(20, 0, 0, 30)
    assert same.diff == 0.0
    assert same.p_value == 1.0
    assert same.lo is not None
    assert same.hi is not None
    assert same.lo < 0.0 < same.hi
    # Extremes stay in [-1, 1].
    extreme = paired_difference(0, 25, 0, 0)
    assert extreme.diff == 1.0
    assert extreme.hi == 1.0
    assert extreme.lo is not None
    assert extreme.lo > 0.0
    empty = paired_difference(0, 0, 0, 0)
    assert (empty.diff, empty.lo, empty.hi, empty.p_value) == (None, None, None, 1.0)
    with pytest.raises(ValueError, match="count c"):
        paired_difference(1, 1, -1, 1)


def test_paired_interval_narrows_with_more_data() -> None:
    small = paired_difference(40, 12, 8, 40)
    large = paired_difference(400, 120, 80, 400)
    assert small.diff == pytest.approx(large.diff)
    assert small.lo is not None
    assert small.hi is not None
    assert large.lo is not None
    assert large.hi is not None
    assert (large.hi - large.lo) < (small.hi - small.lo)
    assert large.p_value < small.p_value


def test_holm_adjust() -> None:
    assert holm_adjust([]) == []
    got = holm_adjust([0.01, 0.04, 0.03])
    assert got == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])

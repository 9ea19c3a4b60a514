"""Small, dependency-free statistics for reports: Wilson intervals, exact McNemar, paired differences.

Everything here is pure and deterministic. The 95% normal quantile comes from the standard library
(``statistics.NormalDist``) so other confidence levels work without scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

# Below this many discordant pairs the binomial tail is summed with exact integers; above it the
# exact sum is done in log space (same terms, float rounding only), because the integers grow to
# hundreds of thousands of digits.
_EXACT_INTEGER_LIMIT = 10_000


def z_for(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.959964 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check_counts(successes: int, n: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With ``n == 0`` nothing is known and the interval is the whole range ``(0.0, 1.0)``. The ends
    are exact at the boundaries: ``successes == 0`` gives a lower end of 0, ``successes == n`` an
    upper end of 1.
    """
    _check_counts(successes, n)
    if n == 0:
        return (0.0, 1.0)
    z = z_for(confidence)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def _wilson_float(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` over a (possibly effective, non-integer) ``n``."""
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class Rate:
    """A proportion ``k / n`` with its Wilson interval. ``value``/``lo``/``hi`` are None when n is 0."""

    k: int
    n: int
    value: float | None
    lo: float | None
    hi: float | None

    @classmethod
    def clustered(cls, clusters: Sequence[tuple[int, int]], *, confidence: float = 0.95) -> Rate:
        """The rate over clusters of ``(k_c, n_c)`` (a base prompt's variants, samples and decoding
        settings), with a Wilson interval on the effective sample size ``n / deff``.

        The design effect ``deff`` is the cluster-robust variance of the ratio over the binomial one
        (Kish), at least 1 and at most the mean cluster size; when the rate is 0 or 1 it cannot be
        estimated and the mean cluster size is used (each prompt counts once). With one item per
        cluster this is exactly ``Rate.of``.
        """
        k = sum(c[0] for c in clusters)
        n = sum(c[1] for c in clusters)
        _check_counts(k, n)
        m = len(clusters)
        if n == 0:
            return cls(k=0, n=0, value=None, lo=None, hi=None)
        if n == m:
            return cls.of(k, n, confidence=confidence)
        p = k / n
        mean_size = n / m
        if m < 2 or p in (0.0, 1.0):
            deff = mean_size
        else:
            robust = m / (m - 1) * sum((kc - p * nc) ** 2 for kc, nc in clusters) / (n * n)
            deff = min(mean_size, max(1.0, robust / (p * (1 - p) / n)))
        n_eff = n / deff
        lo, hi = _wilson_float(p, n_eff, z_for(confidence))
        return cls(k=k, n=n, value=p, lo=0.0 if k == 0 else lo, hi=1.0 if k == n else hi)

    @classmethod
    def of(cls, k: int, n: int, *, confidence: float = 0.95) -> Rate:
        """The rate ``k / n`` with its Wilson interval (all None when ``n == 0``: no data, no claim)."""
        _check_counts(k, n)
        if n == 0:
            return cls(k=0, n=0, value=None, lo=None, hi=None)
        lo, hi = wilson_interval(k, n, confidence=confidence)
        return cls(k=k, n=n, value=k / n, lo=lo, hi=hi)


def _binom_half_cdf_exact(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), summed with exact integers."""
    total = 0
    term = 1  # C(n, 0)
    for i in range(k + 1):
        total += term
        term = term * (n - i) // (i + 1)
    return float(Fraction(total, 1 << n))


def _binom_half_cdf_log(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2) with k < n/2, summed in log space from the largest term down.

    Terms shrink geometrically below the mode, so the sum stops once a term no longer changes it.
    """
    log_half_n = n * math.log(0.5)

    def log_pmf(i: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + log_half_n

    top = log_pmf(k)
    acc = 0.0  # sum of exp(log_pmf(i) - top)
    ratio_term = 1.0
    for i in range(k, -1, -1):
        acc += ratio_term
        if i == 0:
            break
        # pmf(i-1) / pmf(i) = i / (n - i + 1)
        ratio_term *= i / (n - i + 1)
        if ratio_term < acc * 1e-17:
            break
    return math.exp(top + math.log(acc))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of ``b`` against ``b + c`` discordant pairs at 1/2.

    ``p = min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 when there are no
    discordant pairs. Exact for any n (integer arithmetic up to 10,000 discordant pairs, then the
    same sum in log space).
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if 2 * k >= n:
        return 1.0
    tail = _binom_half_cdf_exact(k, n) if n <= _EXACT_INTEGER_LIMIT else _binom_half_cdf_log(k, n)
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Paired comparison of two arms on the same items: both-yes ``a``, only-first ``b``,
    only-second ``c``, both-no ``d``.

    ``diff`` is (share "yes" in the first arm) minus (share "yes" in the second) = (b - c) / n, with
    Newcombe's hybrid score interval for paired data (his method 10) and the exact McNemar p-value.
    """

    a: int
    b: int
    c: int
    d: int
    diff: float | None
    lo: float | None
    hi: float | None
    p_value: float

    @property
    def n(self) -> int:
        """Number of paired items."""
        return self.a + self.b + self.c + self.d


def _newcombe_limits(
    p1: float, ci1: tuple[float, float], p2: float, ci2: tuple[float, float], phi: float
) -> tuple[float, float]:
    """Newcombe's hybrid score limits for p1 - p2 from the two Wilson intervals and correlation phi."""
    l1, u1 = ci1
    l2, u2 = ci2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    diff = p1 - p2
    return (max(-1.0, diff - dl), min(1.0, diff + du))


def paired_difference(a: int, b: int, c: int, d: int, *, confidence: float = 0.95) -> PairedDifference:
    """Difference of two paired proportions with its interval and the exact McNemar test.

    Counts are of items judged in both arms: ``a`` yes/yes, ``b`` yes/no, ``c`` no/yes, ``d`` no/no.
    With no items the difference and interval are None and p is 1.
    """
    for name, value in (("a", a), ("b", b), ("c", c), ("d", d)):
        if value < 0:
            raise ValueError(f"count {name} must be >= 0, got {value}")
    n = a + b + c + d
    p_value = mcnemar_exact(b, c)
    if n == 0:
        return PairedDifference(a, b, c, d, None, None, None, p_value)
    p1 = (a + b) / n
    p2 = (a + c) / n
    ci1 = wilson_interval(a + b, n, confidence=confidence)
    ci2 = wilson_interval(a + c, n, confidence=confidence)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(margins) if margins > 0 else 0.0
    lo, hi = _newcombe_limits(p1, ci1, p2, ci2, phi)
    return PairedDifference(a, b, c, d, (b - c) / n, lo, hi, p_value)


ClusterCounts = tuple[int, int, int, int]
"""One cluster's paired items (both yes, first only, second only, both no)."""


# Above this much work (clusters x possible sums) the exact sign-flip distribution gives way to its
# normal approximation, which is good by then (many discordant clusters).
_EXACT_SIGN_FLIP_WORK = 2_000_000


def clustered_mcnemar(clusters: Sequence[ClusterCounts]) -> float:
    """Two-sided p-value of McNemar's test for clustered matched pairs.

    Each cluster ``k`` (a base prompt with its attack variants and samples) contributes its net
    discordance ``d_k = b_k - c_k`` once. Under no difference each ``d_k`` is as likely to have
    either sign, so the p-value is the exact sign-flip (randomization) probability of a net
    discordance at least as large as ``|sum d_k|``; with one item per cluster that is exactly the
    exact McNemar test. For very large inputs the normal approximation of the same statistic,
    ``z = sum d_k / sqrt(sum d_k^2)`` (Durkalski et al., 2003), is used. 1.0 without net discordance.
    """
    d = [abs(cl[1] - cl[2]) for cl in clusters if cl[1] != cl[2]]
    observed = abs(sum(cl[1] - cl[2] for cl in clusters))
    if observed == 0:
        return 1.0
    total = sum(d)
    if len(d) * (2 * total + 1) > _EXACT_SIGN_FLIP_WORK:
        z = observed / math.sqrt(sum(x * x for x in d))
        return min(1.0, 2.0 * (1.0 - NormalDist().cdf(z)))
    dist = [0.0] * (2 * total + 1)  # P(sum of signed d's = i - total)
    dist[total] = 1.0
    reach = 0
    for x in d:
        new = [0.0] * len(dist)
        for i in range(total - reach, total + reach + 1):
            pr = dist[i]
            if pr:
                new[i + x] += 0.5 * pr
                new[i - x] += 0.5 * pr
        dist = new
        reach += x
    tail = sum(dist[: total - observed + 1]) + sum(dist[total + observed :])
    return min(1.0, tail)


def cluster_robust_interval(
    clusters: Sequence[ClusterCounts], *, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for the paired difference ``(B - C) / N`` with a cluster-robust (sandwich) variance.

    The difference is a ratio of cluster sums; its variance is estimated from the clusters'
    residuals ``(b_k - c_k) - diff * n_k`` with the small-sample factor ``K / (K - 1)``. With fewer
    than two clusters nothing is known and the interval is the whole range.
    """
    k = len(clusters)
    n = sum(sum(cl) for cl in clusters)
    if k < 2 or n == 0:
        return (-1.0, 1.0)
    diff = (sum(cl[1] for cl in clusters) - sum(cl[2] for cl in clusters)) / n
    residuals = sum(((cl[1] - cl[2]) - diff * sum(cl)) ** 2 for cl in clusters)
    half = z_for(confidence) * math.sqrt(k / (k - 1) * residuals) / n
    return (max(-1.0, diff - half), min(1.0, diff + half))


def clustered_paired_difference(
    clusters: Sequence[ClusterCounts], *, confidence: float = 0.95
) -> PairedDifference:
    """The paired difference over clusters of items (a base prompt with its variants and samples).

    With one item per cluster this is exactly ``paired_difference`` (exact McNemar, Newcombe's
    interval); with larger clusters the test is the clustered (sign-flip) McNemar test and the
    interval the cluster-robust one, so correlated items are not counted as independent evidence.
    """
    a, b, c, d = (sum(cl[i] for cl in clusters) for i in range(4))
    if all(sum(cl) <= 1 for cl in clusters):
        return paired_difference(a, b, c, d, confidence=confidence)
    n = a + b + c + d
    lo, hi = cluster_robust_interval(clusters, confidence=confidence)
    return PairedDifference(a, b, c, d, (b - c) / n, lo, hi, clustered_mcnemar(clusters))


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment for a family of tests (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted

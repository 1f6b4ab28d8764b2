"""Confidence intervals for success and stage rates (one function for every evaluator)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion successes/n (95 % by default); (0, 1) when n == 0.

    Unlike the normal approximation it stays inside [0, 1] and is not zero-width at 0/n or n/n, which matters
    at the small episode counts of a robot evaluation (0/10 successes: 0 to 27.8 %)."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    if successes == 0:
        lo = 0.0
    if successes == n:
        hi = 1.0
    return lo, hi


def format_rate(successes: int, n: int) -> str:
    """'40% [17-69%] (4/10)': rate, 95 % Wilson interval, counts."""
    lo, hi = wilson_interval(successes, n)
    rate = successes / n if n else 0.0
    return f"{rate:.0%} [{lo:.0%}-{hi:.0%}] ({successes}/{n})"


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired outcomes (the same episodes run two ways): only the discordant
    pairs count, `only_a` won by A alone and `only_b` by B alone; 1.0 when there are none."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)

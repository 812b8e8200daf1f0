"""Bootstrap intervals over patients, pure and deterministic.

A rate per patient-year is a ratio of sums (events over patient-years); its spread
comes mostly from how patients differ, so patients are drawn with replacement, the
ratio recomputed in each draw, and the 2.5th and 97.5th percentiles of the draws give
the 95 % interval. The draws are seeded and the patients put in a fixed order first,
so the same data always give the same interval (a report printed twice agrees).

One set of draws serves every rate of a cohort (``draws``), so the intervals of
before and after, and of each measure, rest on the same resampled cohorts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

SEED = 16  # the issue that asked for the intervals: any fixed number would do
RESAMPLES = 500
LEVEL = 0.95


def draws(patients: int, resamples: int = RESAMPLES, seed: int = SEED) -> list[list[int]]:
    """Per resample, how many times each patient (by position) is drawn."""
    rng = random.Random(seed)  # noqa: S311 - statistics, not secrets
    weights: list[list[int]] = []
    for _ in range(resamples if patients else 0):
        counts = [0] * patients
        for index in rng.choices(range(patients), k=patients):
            counts[index] += 1
        weights.append(counts)
    return weights


def ratio_interval(
    amounts: Sequence[float],
    years: Sequence[float],
    weights: Sequence[Sequence[int]],
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """The percentile interval of sum(amount) / sum(years) over the resamples; None
    when no resample has any patient-years."""
    used = [i for i, a in enumerate(amounts) if a]
    ratios: list[float] = []
    for counts in weights:
        denominator = math.fsum(c * y for c, y in zip(counts, years, strict=True))
        if denominator <= 0:
            continue
        ratios.append(math.fsum(counts[i] * amounts[i] for i in used) / denominator)
    if not ratios:
        return None
    ratios.sort()
    tail = (1 - level) / 2
    low = ratios[max(0, math.floor(tail * len(ratios)))]
    high = ratios[min(len(ratios) - 1, math.ceil((1 - tail) * len(ratios)) - 1)]
    return low, high


def difference_interval(
    before: tuple[Sequence[float], Sequence[float]],
    after: tuple[Sequence[float], Sequence[float]],
    weights: Sequence[Sequence[int]],
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """The percentile interval of after − before, each a ratio of sums (amount over
    patient-years), recomputed on the same resampled patients; None when no resample
    has patient-years on both sides."""
    differences: list[float] = []
    for counts in weights:
        rates = []
        for amounts, years in (before, after):
            denominator = math.fsum(c * y for c, y in zip(counts, years, strict=True))
            if denominator <= 0:
                break
            amount = math.fsum(c * a for c, a in zip(counts, amounts, strict=True))
            rates.append(amount / denominator)
        if len(rates) == 2:
            differences.append(rates[1] - rates[0])
    if not differences:
        return None
    differences.sort()
    tail = (1 - level) / 2
    low = differences[max(0, math.floor(tail * len(differences)))]
    high = differences[min(len(differences) - 1, math.ceil((1 - tail) * len(differences)) - 1)]
    return low, high

"""Verdicts over several seeds: a claim holds in k of N seeds; a book number lies inside the seeds' range or not.

Each seed's run is checked on its own (``spec.check`` and ``spec.book`` see
one seed's metrics); this module gathers the per-seed answers:

- :class:`SeedVerdict` is one claim over the seeds: ``"PASS 5/5"`` only
  when it held in every seed, else ``"FAIL 3/5"``, with the mean and the
  range of each number it was decided from (``Claim.values``);
- :class:`BookSpread` is one of the book's numbers next to the values
  measured in each seed, and whether the book's number lies inside their
  range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainlab.experiments.base import BookValue, Claim

PASS, FAIL = "PASS", "FAIL"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class Spread:
    """One number over the seeds: each seed's value, their mean and range."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __str__(self) -> str:
        if len(self.values) == 1:
            return _fmt(self.values[0])
        if self.low == self.high:
            return f"{_fmt(self.low)} (in every seed)"
        return f"{_fmt(self.mean)} ({_fmt(self.low)} to {_fmt(self.high)})"

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "min": self.low, "max": self.high, "values": list(self.values)}


@dataclass(frozen=True)
class SeedVerdict:
    """One claim decided in each of several seeds (``passes[i]`` for ``seeds[i]``).

    Reads like a :class:`~trainlab.experiments.base.Claim` (``id``,
    ``statement``, ``source``, ``evidence``, ``passed``), where ``passed``
    means it held in every seed and ``evidence`` is the first seed's.
    """

    id: str
    statement: str
    source: str
    seeds: tuple[int, ...]
    passes: tuple[bool, ...]
    evidence: str
    #: Each deciding number over the seeds that report it, by name.
    values: Mapping[str, Spread] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.passes)

    @property
    def k(self) -> int:
        return sum(self.passes)

    @property
    def passed(self) -> bool:
        return self.n > 0 and self.k == self.n

    @property
    def verdict(self) -> str:
        """``"PASS 5/5"`` when it held in every seed, otherwise ``"FAIL k/N"``."""
        return f"{PASS if self.passed else FAIL} {self.k}/{self.n}"

    @property
    def failed_seeds(self) -> list[int]:
        return [s for s, ok in zip(self.seeds, self.passes) if not ok]

    def spread_text(self) -> str:
        """The deciding numbers over the seeds: ``"SGD loss 0.15 (0.13 to 0.17); ..."`` (empty for none)."""
        return "; ".join(f"{name} {spread}" for name, spread in self.values.items())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement, "source": self.source, "verdict": self.verdict,
                "passed": self.passed, "seeds": list(self.seeds), "passes": list(self.passes),
                "evidence": self.evidence, "values": {k: v.to_dict() for k, v in self.values.items()}}


def over_seeds(seeds: Sequence[int], claims_per_seed: Sequence[Sequence[Claim]]) -> list[SeedVerdict]:
    """Gather each seed's claims (``claims_per_seed[i]`` from ``seeds[i]``) into one verdict per claim id.

    Claims keep the order of the first seed that made them; a number a seed
    does not report is left out of that seed's spread, not guessed.
    """
    if len(seeds) != len(claims_per_seed):
        raise ValueError(f"{len(seeds)} seeds but {len(claims_per_seed)} lists of claims")
    order: list[str] = []
    by_id: dict[str, list[tuple[int, Claim]]] = {}
    for seed, claims in zip(seeds, claims_per_seed):
        for claim in claims:
            if claim.id not in by_id:
                order.append(claim.id)
                by_id[claim.id] = []
            by_id[claim.id].append((seed, claim))
    out = []
    for claim_id in order:
        made = by_id[claim_id]
        first = made[0][1]
        names: list[str] = []
        for _, claim in made:
            names += [n for n in claim.values if n not in names]
        values = {n: Spread(tuple(float(c.values[n]) for _, c in made if n in c.values)) for n in names}
        out.append(SeedVerdict(claim_id, first.statement, first.source, tuple(s for s, _ in made),
                               tuple(bool(c.passed) for _, c in made), first.evidence, values))
    return out


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


@dataclass(frozen=True)
class BookSpread:
    """One of the book's numbers and the same quantity measured in each seed."""

    quantity: str
    book: float | str | None
    measured: tuple[float | str | None, ...]
    note: str = ""

    @property
    def spread(self) -> Spread | None:
        """The measured numbers' spread; None when some seed measured no number (text, or nothing)."""
        numbers = [_number(m) for m in self.measured]
        if not numbers or any(x is None for x in numbers):
            return None
        return Spread(tuple(numbers))

    @property
    def book_inside(self) -> bool | None:
        """Whether the book's number lies within the seeds' range (None when either is no number).

        For text (an order, a name) it is whether every seed measured the book's text.
        """
        book = _number(self.book)
        spread = self.spread
        if book is not None and spread is not None:
            return spread.contains(book)
        if isinstance(self.book, str) and all(isinstance(m, str) for m in self.measured) and self.measured:
            return all(m == self.book for m in self.measured)
        return None

    def measured_text(self) -> str:
        """The measured value(s): ``"0.15 (0.13 to 0.17)"``, or each distinct text with how many seeds gave it."""
        spread = self.spread
        if spread is not None:
            return str(spread)
        if len(self.measured) == 1:
            only = self.measured[0]
            return "" if only is None else (_fmt(only) if isinstance(only, float) else str(only))
        counts: dict[str, int] = {}
        for m in self.measured:
            text = "" if m is None else (_fmt(m) if isinstance(m, float) else str(m))
            counts[text] = counts.get(text, 0) + 1
        return "; ".join(f"{text} ({n} of {len(self.measured)} seeds)" for text, n in counts.items())

    def to_dict(self) -> dict[str, Any]:
        spread = self.spread
        return {"quantity": self.quantity, "book": self.book, "measured": list(self.measured), "note": self.note,
                "spread": None if spread is None else spread.to_dict(), "book_inside": self.book_inside}


def book_over_seeds(rows_per_seed: Sequence[Sequence[BookValue]]) -> list[BookSpread]:
    """Gather each seed's book rows into one row per quantity (in the first seed's order)."""
    order: list[str] = []
    by_quantity: dict[str, list[BookValue]] = {}
    for rows in rows_per_seed:
        for row in rows:
            if row.quantity not in by_quantity:
                order.append(row.quantity)
                by_quantity[row.quantity] = []
            by_quantity[row.quantity].append(row)
    return [BookSpread(q, by_quantity[q][0].book, tuple(r.measured for r in by_quantity[q]), by_quantity[q][0].note)
            for q in order]
